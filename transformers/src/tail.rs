//! How a line format's byte stream ends: [`watch_tail`] notes whether the last line had a line
//! terminator and, when the object may still be growing, holds such a last line back (see
//! `object.partial.line.wait.ms`), so a line still being written is never read half-written.

use std::collections::VecDeque;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use sluice_core::object::{ByteStream, ObjectInput, Tail};

/// Bytes after the last line terminator held back at most; a longer unterminated tail is passed
/// on (it is not a line being appended to but one too long to hold).
const MAX_HELD: usize = 16 << 20;

struct Watch {
    input: ObjectInput,
    bytes: ByteStream,
    /// Bytes passed on so far.
    offset: u64,
    /// Holding back the bytes after the last `\n`.
    hold: bool,
    /// The bytes after the last `\n` seen (holding), in order.
    pending: Vec<Bytes>,
    pending_len: usize,
    /// Chunks ready to be passed on.
    out: VecDeque<Bytes>,
    /// Whether the last byte passed on was a `\n` (not holding).
    ends_with_newline: bool,
    seen_any: bool,
    done: bool,
}

impl Watch {
    fn emit(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.offset += chunk.len() as u64;
        self.ends_with_newline = chunk.last() == Some(&b'\n');
        self.seen_any = true;
        self.out.push_back(chunk);
    }

    fn take(&mut self, mut chunk: Bytes) {
        if !self.hold {
            self.emit(chunk);
            return;
        }
        match memchr::memrchr(b'\n', &chunk) {
            Some(i) => {
                let rest = chunk.split_off(i + 1);
                for p in std::mem::take(&mut self.pending) {
                    self.emit(p);
                }
                self.emit(chunk);
                self.pending_len = rest.len();
                if !rest.is_empty() {
                    self.pending.push(rest);
                }
            }
            None => {
                self.pending_len += chunk.len();
                self.pending.push(chunk);
                if self.pending_len > MAX_HELD {
                    self.hold = false;
                    for p in std::mem::take(&mut self.pending) {
                        self.emit(p);
                    }
                }
            }
        }
    }

    /// The end of the stream: the held tail (if any) is reported, not passed on.
    fn end(&mut self) {
        self.done = true;
        let tail = if self.pending_len > 0 {
            Tail::Held(self.offset)
        } else if self.seen_any && !self.ends_with_newline {
            Tail::Unterminated
        } else {
            Tail::Complete
        };
        self.pending.clear();
        self.input.set_tail(tail);
    }
}

/// `bytes` (an object's content, decompressed) as the line formats read it: the same bytes,
/// except that with [`ObjectInput::holds_tail`] a last line without terminator is not passed on.
/// At the end, [`ObjectInput::set_tail`] says how the last line ended. A read error is passed on
/// and ends the stream (nothing is recorded then).
pub(crate) fn watch_tail(input: &ObjectInput, bytes: ByteStream) -> ByteStream {
    let watch = Watch {
        hold: input.holds_tail(),
        input: input.clone(),
        bytes,
        offset: 0,
        pending: Vec::new(),
        pending_len: 0,
        out: VecDeque::new(),
        ends_with_newline: false,
        seen_any: false,
        done: false,
    };
    stream::unfold(watch, |mut w| async move {
        loop {
            if let Some(chunk) = w.out.pop_front() {
                return Some((Ok(chunk), w));
            }
            if w.done {
                return None;
            }
            match w.bytes.next().await {
                Some(Ok(chunk)) => w.take(chunk),
                Some(Err(e)) => {
                    w.done = true;
                    return Some((Err(e), w));
                }
                None => w.end(),
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use futures::TryStreamExt;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::ObjectMeta;
    use proptest::prelude::*;

    fn input(hold: bool) -> ObjectInput {
        let meta = ObjectMeta {
            location: Path::from("o.jsonl"),
            last_modified: chrono::Utc::now(),
            size: 0,
            e_tag: None,
            version: None,
        };
        ObjectInput::new("b", Arc::new(InMemory::new()), meta).with_hold_tail(hold)
    }

    fn chunks(data: &[u8], cuts: &[usize]) -> ByteStream {
        let mut parts = Vec::new();
        let mut at = 0;
        for &c in cuts {
            let c = c.min(data.len());
            if c > at {
                parts.push(Ok(Bytes::copy_from_slice(&data[at..c])));
                at = c;
            }
        }
        parts.push(Ok(Bytes::copy_from_slice(&data[at..])));
        stream::iter(parts).boxed()
    }

    async fn read(input: &ObjectInput, data: &[u8], cuts: &[usize]) -> Vec<u8> {
        let out: Vec<Bytes> = watch_tail(input, chunks(data, cuts))
            .try_collect()
            .await
            .unwrap();
        out.concat()
    }

    #[tokio::test]
    async fn an_unterminated_last_line_is_held_back_or_noted() {
        let held = input(true);
        assert_eq!(read(&held, b"a\nb\npar", &[3]).await, b"a\nb\n");
        assert_eq!(held.tail(), Tail::Held(4));
        let read_whole = input(false);
        assert_eq!(read(&read_whole, b"a\nb\npar", &[3]).await, b"a\nb\npar");
        assert_eq!(read_whole.tail(), Tail::Unterminated);
        for hold in [true, false] {
            let i = input(hold);
            assert_eq!(read(&i, b"a\nb\n", &[1, 2]).await, b"a\nb\n");
            assert_eq!(i.tail(), Tail::Complete);
            let empty = input(hold);
            assert_eq!(read(&empty, b"", &[]).await, b"");
            assert_eq!(empty.tail(), Tail::Complete);
        }
        let only = input(true);
        assert_eq!(read(&only, b"no newline at all", &[2, 5]).await, b"");
        assert_eq!(only.tail(), Tail::Held(0));
    }

    proptest! {
        /// Holding passes on exactly the bytes up to the last `\n`, wherever the chunks are cut,
        /// and reports where the held tail starts.
        #[test]
        fn chunking_does_not_change_what_is_held(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x')], 0..64),
            cuts in proptest::collection::vec(0usize..64, 0..6),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let i = input(true);
            let got = rt.block_on(read(&i, &data, &cuts));
            let keep = data.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            prop_assert_eq!(&got[..], &data[..keep]);
            let expected = if keep < data.len() { Tail::Held(keep as u64) } else { Tail::Complete };
            prop_assert_eq!(i.tail(), expected);
        }
    }
}
