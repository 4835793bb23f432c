//! Splitting a byte stream into lines with bounded memory.
//!
//! [`LineReader`] pulls chunks from a [`ByteStream`] and cuts them at `\n`. A line that lies within
//! one chunk is handed out as a zero-copy slice of it; a line spanning chunks is assembled in the
//! reader's own buffer, which never grows beyond the line limit (plus one byte for a `\r`). A line
//! longer than the limit is discarded as it streams by, never held whole, and reported as
//! [`LineKind::TooLong`] so the caller can go on with the next line.

use std::io;

use bytes::Bytes;
use sluice_core::object::ByteStream;

use crate::cursor::ChunkCursor;

/// One line of the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// Byte offset in the object of the line's first byte.
    pub start: u64,
    /// The line's content, or why it was not kept.
    pub kind: LineKind,
}

/// What [`LineReader::next_line`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// The line without its `\n` and without a `\r` just before it; at most the limit long.
    Data(Bytes),
    /// The line is longer than the limit; its bytes were discarded unread.
    TooLong {
        /// Its length without the line terminator (`\n` or `\r\n`).
        len: u64,
        /// Whether it held only ASCII whitespace.
        blank: bool,
    },
}

/// Reading the stream failed; the reader yields nothing more.
#[derive(Debug)]
pub(crate) struct ReadError {
    /// Byte offset in the object of the line being read when the stream failed.
    pub start: u64,
    /// The stream's error.
    pub source: io::Error,
}

/// True when `line` holds only ASCII whitespace (or nothing).
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// What one pass over a line produced (see [`LineReader::read_line`]).
enum Read {
    Kept(Bytes),
    Discarded { len: u64, blank: bool },
}

/// Cuts a [`ByteStream`] into lines; see the module documentation.
pub(crate) struct LineReader {
    /// The object's bytes.
    bytes: ChunkCursor,
    /// The start of a line spanning chunks; at most `max_line + 1` bytes.
    pending: Vec<u8>,
    max_line: usize,
    /// The largest capacity `pending` ever had.
    #[cfg(test)]
    peak_capacity: usize,
}

impl LineReader {
    /// Lines of `stream`, each at most `max_line` bytes long (without terminator).
    pub(crate) fn new(stream: ByteStream, max_line: usize) -> Self {
        LineReader {
            bytes: ChunkCursor::new(stream),
            pending: Vec::new(),
            max_line,
            #[cfg(test)]
            peak_capacity: 0,
        }
    }

    /// The largest capacity the reader's own line buffer ever had, in bytes. It never exceeds
    /// `max_line + 1`; the only other memory the reader holds is the current chunk of the stream.
    #[cfg(test)]
    pub(crate) fn peak_buffer_capacity(&self) -> usize {
        self.peak_capacity
    }

    /// The next line; `None` at the end of the stream or after an error. A final line without a
    /// trailing `\n` is a line; an empty stream has none.
    pub(crate) async fn next_line(&mut self) -> Option<Result<Line, ReadError>> {
        let start = self.bytes.offset();
        let kind = match self.read_line(true).await? {
            Ok(Read::Kept(data)) => {
                let data = strip_cr(data);
                if data.len() > self.max_line {
                    LineKind::TooLong {
                        len: data.len() as u64,
                        blank: is_blank(&data),
                    }
                } else {
                    LineKind::Data(data)
                }
            }
            Ok(Read::Discarded { len, blank }) => LineKind::TooLong { len, blank },
            Err(e) => return Some(Err(e)),
        };
        Some(Ok(Line { start, kind }))
    }

    /// Passes over the next line without keeping any of it (no buffering whatever its length);
    /// yields whether it was blank. `None` at the end of the stream or after an error.
    pub(crate) async fn skip_line(&mut self) -> Option<Result<bool, ReadError>> {
        Some(match self.read_line(false).await? {
            Ok(Read::Kept(data)) => Ok(is_blank(&data)),
            Ok(Read::Discarded { blank, .. }) => Ok(blank),
            Err(e) => Err(e),
        })
    }

    /// Reads up to and including the next `\n` (or the end of the stream). With `keep`, the line
    /// is returned unless it grows beyond the limit; otherwise (or once beyond the limit) it is
    /// discarded, only its length and blankness being tracked.
    async fn read_line(&mut self, keep: bool) -> Option<Result<Read, ReadError>> {
        let start = self.bytes.offset();
        // Room for the longest accepted line plus the `\r` of a `\r\n`.
        let limit = self.max_line.saturating_add(1);
        let mut len: u64 = 0;
        let mut keeping = keep;
        let mut blank = true;
        let mut last_cr = false;
        loop {
            match self.bytes.fill().await {
                Ok(true) => {}
                // At the end of the stream (already reached on entry, or within a line: a line
                // has at least one byte or a `\n`, so `len == 0` means none was started).
                Ok(false) => {
                    if len == 0 {
                        return None;
                    }
                    break;
                }
                Err(source) => {
                    self.pending = Vec::new();
                    return Some(Err(ReadError { start, source }));
                }
            }

            let chunk = self.bytes.chunk();
            let (piece_len, newline) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            let piece = self.bytes.split_to(piece_len);
            if newline {
                self.bytes.advance(1);
            }
            len += piece_len as u64;
            if let Some(&last) = piece.last() {
                last_cr = last == b'\r';
            }

            if keeping {
                if newline && self.pending.is_empty() {
                    // The whole line is within this chunk (earlier pieces of a line are never
                    // empty, so they would be in `pending`): no copy.
                    return Some(Ok(Read::Kept(piece)));
                }
                if len > limit as u64 {
                    blank = is_blank(&self.pending) && is_blank(&piece);
                    self.pending = Vec::new();
                    keeping = false;
                } else {
                    self.append(&piece, limit);
                }
            } else if blank {
                blank = is_blank(&piece);
            }
            if newline {
                break;
            }
        }

        Some(Ok(if keeping {
            Read::Kept(Bytes::from(std::mem::take(&mut self.pending)))
        } else {
            Read::Discarded {
                len: len - u64::from(last_cr),
                blank,
            }
        }))
    }

    /// Appends to the line buffer, growing it geometrically but never beyond `limit`.
    fn append(&mut self, piece: &[u8], limit: usize) {
        let needed = self.pending.len() + piece.len();
        if needed > self.pending.capacity() {
            let target = self
                .pending
                .capacity()
                .saturating_mul(2)
                .max(256)
                .min(limit)
                .max(needed);
            self.pending.reserve_exact(target - self.pending.len());
        }
        self.pending.extend_from_slice(piece);
        #[cfg(test)]
        {
            self.peak_capacity = self.peak_capacity.max(self.pending.capacity());
        }
    }
}

/// `line` without a trailing `\r`.
fn strip_cr(mut line: Bytes) -> Bytes {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{chunked, failing};
    use futures::executor::block_on;
    use futures::stream::{self, StreamExt};
    use proptest::prelude::*;

    fn all_lines(mut reader: LineReader) -> Vec<Result<Line, (u64, String)>> {
        block_on(async {
            let mut out = Vec::new();
            while let Some(r) = reader.next_line().await {
                out.push(r.map_err(|e| (e.start, e.source.to_string())));
            }
            out
        })
    }

    fn all_skipped(mut reader: LineReader) -> Vec<bool> {
        block_on(async {
            let mut out = Vec::new();
            while let Some(r) = reader.skip_line().await {
                out.push(r.unwrap());
            }
            out
        })
    }

    /// The lines of `data` computed the obvious way, over the whole input at once.
    fn reference(data: &[u8], max_line: usize) -> Vec<Line> {
        let mut out = Vec::new();
        let mut start = 0usize;
        while start < data.len() {
            let end = data[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(data.len(), |i| start + i);
            let mut line = &data[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let kind = if line.len() > max_line {
                LineKind::TooLong {
                    len: line.len() as u64,
                    blank: is_blank(line),
                }
            } else {
                LineKind::Data(Bytes::copy_from_slice(line))
            };
            out.push(Line {
                start: start as u64,
                kind,
            });
            start = end + 1;
        }
        out
    }

    fn data(line: &[u8]) -> LineKind {
        LineKind::Data(Bytes::copy_from_slice(line))
    }

    #[test]
    fn splits_lines_strips_cr_and_keeps_a_final_unterminated_line() {
        let input = b"a\r\n\nbc\r\r\n  \r\nlast";
        let lines: Vec<Line> = all_lines(LineReader::new(chunked(input, &[]), 100))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            lines,
            vec![
                Line {
                    start: 0,
                    kind: data(b"a")
                },
                Line {
                    start: 3,
                    kind: data(b"")
                },
                Line {
                    start: 4,
                    kind: data(b"bc\r")
                },
                Line {
                    start: 9,
                    kind: data(b"  ")
                },
                Line {
                    start: 13,
                    kind: data(b"last")
                },
            ]
        );
    }

    #[test]
    fn empty_stream_and_trailing_newline_make_no_extra_line() {
        assert!(all_lines(LineReader::new(chunked(b"", &[]), 10)).is_empty());
        let empty_chunks = stream::iter(vec![Ok(Bytes::new()), Ok(Bytes::new())]).boxed();
        assert!(all_lines(LineReader::new(empty_chunks, 10)).is_empty());
        assert_eq!(
            all_lines(LineReader::new(chunked(b"x\n", &[1]), 10)).len(),
            1
        );
        assert_eq!(all_lines(LineReader::new(chunked(b"\n", &[]), 10)).len(), 1);
    }

    #[test]
    fn an_over_long_line_is_reported_and_the_next_one_read() {
        let input = b"ok\nxxxxxxxxxxxxxxxxxxxx\r\n   \t       \nfine";
        for cuts in [vec![], vec![5, 9, 13, 30], (0..input.len()).collect()] {
            let lines: Vec<Line> = all_lines(LineReader::new(chunked(input, &cuts), 4))
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(
                lines,
                vec![
                    Line {
                        start: 0,
                        kind: data(b"ok")
                    },
                    Line {
                        start: 3,
                        kind: LineKind::TooLong {
                            len: 20,
                            blank: false
                        }
                    },
                    Line {
                        start: 25,
                        kind: LineKind::TooLong {
                            len: 11,
                            blank: true
                        }
                    },
                    Line {
                        start: 37,
                        kind: data(b"fine")
                    },
                ],
                "cuts {cuts:?}"
            );
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_with_crlf_is_accepted() {
        let lines = all_lines(LineReader::new(chunked(b"abcd\r\nabcde\r\n", &[2, 8]), 4));
        assert_eq!(lines[0].as_ref().unwrap().kind, data(b"abcd"));
        assert_eq!(
            lines[1].as_ref().unwrap().kind,
            LineKind::TooLong {
                len: 5,
                blank: false
            }
        );
    }

    #[test]
    fn an_io_error_ends_the_lines_and_the_stream_is_not_read_again() {
        let stream = failing(&[b"one\ntw", b"o"], b"\nthree\n");
        let lines = all_lines(LineReader::new(stream, 100));
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            lines[0].as_ref().unwrap(),
            &Line {
                start: 0,
                kind: data(b"one")
            }
        );
        let (start, message) = lines[1].as_ref().unwrap_err();
        assert_eq!(*start, 4);
        assert!(message.contains("connection reset"), "{message}");
    }

    #[test]
    fn lines_within_a_chunk_are_not_copied() {
        let mut reader = LineReader::new(chunked(b"{\"a\":1}\r\nbb\n\nlast\n", &[]), 100);
        let lines = block_on(async {
            let mut n = 0;
            while let Some(line) = reader.next_line().await {
                line.unwrap();
                n += 1;
            }
            n
        });
        assert_eq!(lines, 4);
        assert_eq!(reader.peak_buffer_capacity(), 0);
    }

    #[test]
    fn skipping_does_not_buffer() {
        let long = vec![b'z'; 10_000];
        let mut reader = LineReader::new(chunked(&long, &[100, 5000, 7000]), 10);
        assert!(!block_on(reader.skip_line()).unwrap().unwrap());
        assert_eq!(reader.peak_buffer_capacity(), 0);
        assert!(block_on(reader.skip_line()).is_none());
    }

    /// Input bytes weighted towards line structure, with some invalid UTF-8.
    fn input_bytes() -> impl Strategy<Value = Vec<u8>> {
        const ALPHABET: &[u8] = b"aaaa\n\n\r  \t\xff{";
        proptest::collection::vec(0..ALPHABET.len(), 0..300)
            .prop_map(|ix| ix.into_iter().map(|i| ALPHABET[i]).collect())
    }

    proptest! {
        #[test]
        fn chunk_boundaries_do_not_change_the_lines(
            input in input_bytes(),
            cuts in proptest::collection::vec(0usize..300, 0..40),
            max_line in 1usize..24,
        ) {
            let expected = reference(&input, max_line);
            let whole: Vec<Line> = all_lines(LineReader::new(chunked(&input, &[]), max_line))
                .into_iter().map(Result::unwrap).collect();
            let split: Vec<Line> = all_lines(LineReader::new(chunked(&input, &cuts), max_line))
                .into_iter().map(Result::unwrap).collect();
            prop_assert_eq!(&whole, &expected);
            prop_assert_eq!(&split, &expected);

            let blanks: Vec<bool> = expected.iter().map(|l| match &l.kind {
                LineKind::Data(d) => is_blank(d),
                LineKind::TooLong { blank, .. } => *blank,
            }).collect();
            let skipped = all_skipped(LineReader::new(chunked(&input, &cuts), max_line));
            prop_assert_eq!(skipped, blanks);
        }
    }

    /// ~200 MB streamed lazily (the same few chunks over and over): normal lines, lines spanning
    /// chunks just under the limit, and lines far over it. The reader's buffer stays within the
    /// limit and every line is seen.
    #[test]
    fn memory_stays_bounded_on_a_huge_stream() {
        const CHUNK: usize = 64 * 1024;
        // Not a power of two, so that geometric growth would overshoot it if not capped.
        const MAX_LINE: usize = 1024 * 1024 + 100_000;
        // 64 KiB of 64-byte lines.
        let short_lines = Bytes::from(
            std::iter::repeat_n(
                b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n".as_slice(),
                CHUNK / 64,
            )
            .flatten()
            .copied()
            .collect::<Vec<u8>>(),
        );
        let no_newline = Bytes::from(vec![b'x'; CHUNK]);
        let mut line_end = vec![b'x'; CHUNK];
        line_end[CHUNK - 1] = b'\n';
        let line_end = Bytes::from(line_end);

        // One period: 16 chunks of short lines, a 1 MiB - 1 line (16 chunks, accepted), a 4 MiB
        // line (64 chunks, too long, buffered up to the limit before being discarded). 96 chunks = 6 MiB; 34 periods ≈ 200 MiB.
        let mut period: Vec<Bytes> = Vec::new();
        period.extend(std::iter::repeat_n(short_lines.clone(), 16));
        period.extend(std::iter::repeat_n(no_newline.clone(), 15));
        period.push(line_end.clone());
        period.extend(std::iter::repeat_n(no_newline.clone(), 63));
        period.push(line_end.clone());
        const PERIODS: usize = 34;
        let total_bytes = (period.len() * CHUNK * PERIODS) as u64;
        assert!(total_bytes >= 200_000_000);

        let stream = stream::iter(
            std::iter::repeat_n(period, PERIODS)
                .flatten()
                .map(Ok::<_, std::io::Error>),
        )
        .boxed();
        let mut reader = LineReader::new(stream, MAX_LINE);
        let (mut data, mut too_long, mut last_start) = (0u64, 0u64, 0);
        block_on(async {
            while let Some(line) = reader.next_line().await {
                let line = line.unwrap();
                match line.kind {
                    LineKind::Data(d) => {
                        assert!(d.len() == 63 || d.len() == 1024 * 1024 - 1, "{}", d.len());
                        data += 1;
                    }
                    LineKind::TooLong { len, blank } => {
                        assert_eq!(len, 4 * 1024 * 1024 - 1);
                        assert!(!blank);
                        too_long += 1;
                    }
                }
                last_start = line.start;
            }
        });
        assert_eq!(data, PERIODS as u64 * (16 * 1024 + 1));
        assert_eq!(too_long, PERIODS as u64);
        assert_eq!(last_start, total_bytes - 4 * 1024 * 1024);
        let max_capacity = reader.peak_buffer_capacity();
        assert!(
            max_capacity <= MAX_LINE + 1,
            "buffer grew to {max_capacity}"
        );
        assert!(
            max_capacity > 1024 * 1024,
            "the long lines were not buffered: {max_capacity}"
        );
    }
}
