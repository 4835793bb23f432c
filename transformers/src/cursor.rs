//! A cursor over an object's byte stream, for the readers that walk it chunk by chunk.
//!
//! [`ChunkCursor`] holds the unread rest of the current chunk and the object offset of its first
//! byte. A reader looks at [`ChunkCursor::chunk`], consumes some of it with
//! [`ChunkCursor::advance`] (or [`ChunkCursor::split_to`]), and calls [`ChunkCursor::fill`] when
//! it has used it all. Only the current chunk is held: the readers bound the rest of their memory
//! themselves.

use std::io;

use bytes::{Buf, Bytes};
use futures::StreamExt;
use sluice_core::object::ByteStream;

/// The unread bytes of a [`ByteStream`], one chunk at a time; see the module documentation.
pub(crate) struct ChunkCursor {
    stream: ByteStream,
    /// The unread rest of the current chunk.
    chunk: Bytes,
    /// Object offset of `chunk[0]`, i.e. of the next unread byte.
    offset: u64,
    /// The stream ended or failed: it is not polled again.
    finished: bool,
}

impl ChunkCursor {
    /// A cursor at the start of `stream` (object offset 0).
    pub(crate) fn new(stream: ByteStream) -> Self {
        ChunkCursor {
            stream,
            chunk: Bytes::new(),
            offset: 0,
            finished: false,
        }
    }

    /// Object offset of the next unread byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The unread rest of the current chunk; empty until [`ChunkCursor::fill`] is called, and once
    /// consumed.
    pub(crate) fn chunk(&self) -> &[u8] {
        &self.chunk
    }

    /// Makes the current chunk non-empty, pulling chunks (empty ones are passed over): true when
    /// it is, false at the end of the stream. After the end or an error, the stream is not polled
    /// again and this is false.
    pub(crate) async fn fill(&mut self) -> io::Result<bool> {
        while self.chunk.is_empty() {
            if self.finished {
                return Ok(false);
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => {
                    self.finished = true;
                    return Err(e);
                }
                None => {
                    self.finished = true;
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Consumes the first `n` bytes of the current chunk (at most its length).
    pub(crate) fn advance(&mut self, n: usize) {
        self.chunk.advance(n);
        self.offset += n as u64;
    }

    /// Consumes the first `n` bytes of the current chunk (at most its length) and returns them,
    /// without copying.
    pub(crate) fn split_to(&mut self, n: usize) -> Bytes {
        self.offset += n as u64;
        self.chunk.split_to(n)
    }

    /// Passes over `n` bytes without keeping them; false when the stream ends first.
    pub(crate) async fn skip(&mut self, mut n: u64) -> io::Result<bool> {
        while n > 0 {
            if !self.fill().await? {
                return Ok(false);
            }
            let take = (self.chunk.len() as u64).min(n) as usize;
            self.advance(take);
            n -= take as u64;
        }
        Ok(true)
    }

    /// Passes over bytes up to and including the next occurrence of `marker` (not empty), found
    /// across chunk boundaries; false when the stream ends first. Besides the current chunk, holds
    /// at most `marker.len() - 1` bytes.
    pub(crate) async fn skip_past(&mut self, marker: &[u8]) -> io::Result<bool> {
        // The last bytes seen that may begin the marker, then the current chunk.
        let mut window: Vec<u8> = Vec::new();
        let keep = marker.len() - 1;
        loop {
            if !self.fill().await? {
                return Ok(false);
            }
            let kept = window.len();
            window.extend_from_slice(&self.chunk);
            if let Some(i) = memchr::memmem::find(&window, marker) {
                // The marker ends `i + marker.len() - kept` bytes into this chunk.
                self.advance(i + marker.len() - kept);
                return Ok(true);
            }
            self.advance(self.chunk.len());
            if window.len() > keep {
                window.drain(..window.len() - keep);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{chunked, failing};
    use futures::executor::block_on;
    use futures::stream;

    #[test]
    fn fill_passes_over_empty_chunks_and_stops_at_the_end() {
        let chunks = vec![
            Ok(Bytes::new()),
            Ok(Bytes::from_static(b"ab")),
            Ok(Bytes::new()),
        ];
        let mut c = ChunkCursor::new(stream::iter(chunks).boxed());
        block_on(async {
            assert!(c.fill().await.unwrap());
            assert_eq!(c.chunk(), b"ab");
            assert_eq!(c.split_to(1), Bytes::from_static(b"a"));
            assert_eq!((c.chunk(), c.offset()), (&b"b"[..], 1));
            c.advance(1);
            assert!(!c.fill().await.unwrap());
            assert!(!c.fill().await.unwrap());
            assert_eq!(c.offset(), 2);
        });
    }

    #[test]
    fn an_error_is_returned_once_and_the_stream_not_read_again() {
        let mut c = ChunkCursor::new(failing(&[b"xy"], b"never"));
        block_on(async {
            assert!(c.skip(2).await.unwrap());
            assert!(c.fill().await.is_err());
            assert!(!c.fill().await.unwrap());
            assert_eq!(c.offset(), 2);
        });
    }

    #[test]
    fn skip_and_skip_past_cross_chunks() {
        let data = b"0123<mark>56789";
        for cuts in [vec![], vec![3, 5, 6, 8, 12], (0..data.len()).collect()] {
            let mut c = ChunkCursor::new(chunked(data, &cuts));
            block_on(async {
                assert!(c.skip(2).await.unwrap());
                assert!(c.skip_past(b"<mark>").await.unwrap());
                assert_eq!(c.offset(), 10);
                assert!(!c.skip_past(b"<mark>").await.unwrap());
                assert_eq!(c.offset(), data.len() as u64);
                assert!(!c.skip(1).await.unwrap());
            });
        }
    }
}
