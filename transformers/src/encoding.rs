//! Byte order marks of text objects (`jsonl`, `json`, `csv`, `text`), read after
//! decompression and before anything cuts the bytes into records:
//!
//! - a UTF-8 byte order mark (`EF BB BF`, written by spreadsheets and Windows tools) is
//!   skipped;
//! - a UTF-16 one (`FF FE` little-endian, `FE FF` big-endian) makes the object UTF-16: it is
//!   decoded to UTF-8 while streaming (memory: one chunk); a byte sequence that is not UTF-16
//!   (an unpaired surrogate, an odd number of bytes) ends the object with an error saying so;
//! - a UTF-32 one (`FF FE 00 00`, `00 00 FE FF`) is refused with an error (not decoded, never
//!   garbled);
//! - anything else is passed on as it is (UTF-8 or ASCII; invalid UTF-8 is reported per
//!   record by the formats).
//!
//! The same object always gives the same bytes, so a resume that skips `n` records lands on
//! the same record. Byte offsets in errors are those of the decoded text (for a UTF-8 object
//! with a byte order mark, 3 less than in the object).

use std::io;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use sluice_core::object::ByteStream;

/// What the first bytes said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16 { little_endian: bool },
}

/// Decoding state of one object.
struct Decode {
    key: String,
    inner: ByteStream,
    /// The first bytes, until there are enough to recognise a byte order mark.
    head: Vec<u8>,
    encoding: Option<Encoding>,
    /// UTF-16: a byte of an unfinished code unit.
    carry: Option<u8>,
    /// UTF-16: a high surrogate waiting for its low one.
    high: Option<u16>,
    /// UTF-16: bytes of the object decoded so far (after the byte order mark).
    offset: u64,
    /// Why the object cannot be read further: yielded after the text decoded before it.
    failed: Option<io::Error>,
    done: bool,
}

/// The object's bytes as UTF-8 text with no byte order mark (see the module).
pub(crate) fn text_stream(key: &str, inner: ByteStream) -> ByteStream {
    let state = Decode {
        key: key.to_owned(),
        inner,
        head: Vec::new(),
        encoding: None,
        carry: None,
        high: None,
        offset: 0,
        failed: None,
        done: false,
    };
    stream::unfold(state, |mut s| async move {
        let item = s.next().await?;
        if item.is_err() {
            s.done = true;
        }
        Some((item, s))
    })
    .boxed()
}

impl Decode {
    /// The next non-empty chunk of output; `None` at the end.
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            if let Some(e) = self.failed.take() {
                self.done = true;
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            let chunk = match self.inner.next().await {
                Some(Ok(chunk)) => Some(chunk),
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    self.done = true;
                    None
                }
            };
            let out = match self.encoding {
                None => {
                    if let Some(chunk) = &chunk {
                        self.head.extend_from_slice(chunk);
                        if self.head.len() < 4 {
                            continue;
                        }
                    }
                    let head = std::mem::take(&mut self.head);
                    match sniff(&head) {
                        Ok((encoding, mark)) => {
                            self.encoding = Some(encoding);
                            self.decode(Bytes::from(head).slice(mark..))
                        }
                        Err(what) => {
                            self.failed = Some(self.invalid(what));
                            continue;
                        }
                    }
                }
                Some(_) => chunk.map_or_else(Bytes::new, |c| self.decode(c)),
            };
            if self.done && self.failed.is_none() {
                self.finish();
            }
            if !out.is_empty() {
                return Some(Ok(out));
            }
        }
    }

    /// Decodes one chunk (after the byte order mark); stops at the first byte that is not
    /// UTF-16, noting why in `failed`.
    fn decode(&mut self, chunk: Bytes) -> Bytes {
        let Some(Encoding::Utf16 { little_endian }) = self.encoding else {
            return chunk;
        };
        let mut out = String::with_capacity(chunk.len() + chunk.len() / 2);
        let mut bytes = chunk.iter().copied();
        loop {
            let (a, b) = match (self.carry.take(), bytes.next()) {
                (Some(a), Some(b)) => (a, b),
                (None, Some(a)) => match bytes.next() {
                    Some(b) => (a, b),
                    None => {
                        self.carry = Some(a);
                        break;
                    }
                },
                (carry, None) => {
                    self.carry = carry;
                    break;
                }
            };
            let unit = if little_endian {
                u16::from_le_bytes([a, b])
            } else {
                u16::from_be_bytes([a, b])
            };
            let at = self.offset;
            self.offset += 2;
            match (self.high.take(), unit) {
                (None, 0xD800..=0xDBFF) => self.high = Some(unit),
                (Some(high), 0xDC00..=0xDFFF) => {
                    let c =
                        0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                    out.push(char::from_u32(c).expect("a surrogate pair is a scalar value"));
                }
                (Some(_), _) => {
                    self.failed = Some(self.invalid(format!(
                        "a high surrogate is not followed by a low one at byte {} after the UTF-16 byte order mark",
                        at - 2
                    )));
                    break;
                }
                (None, 0xDC00..=0xDFFF) => {
                    self.failed = Some(self.invalid(format!(
                        "a low surrogate without a high one at byte {at} after the UTF-16 byte order mark"
                    )));
                    break;
                }
                (None, unit) => {
                    out.push(char::from_u32(u32::from(unit)).expect("not a surrogate"));
                }
            }
        }
        Bytes::from(out)
    }

    /// The end of the object: nothing may be left half-decoded.
    fn finish(&mut self) {
        if self.carry.is_some() {
            self.failed = Some(self.invalid(format!(
                "it ends with half a UTF-16 code unit (an odd number of bytes, {} after the byte order mark)",
                self.offset + 1
            )));
        } else if self.high.is_some() {
            self.failed = Some(self.invalid("it ends inside a UTF-16 surrogate pair".to_owned()));
        }
    }

    fn invalid(&self, what: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "object {:?} is not valid text: {what}. Text objects must be UTF-8, or UTF-16 with a byte order mark; convert this one to UTF-8",
                self.key
            ),
        )
    }
}

/// The encoding the first bytes announce and the length of the byte order mark, or why the
/// object cannot be read.
fn sniff(head: &[u8]) -> Result<(Encoding, usize), String> {
    match head {
        [0xFF, 0xFE, 0, 0, ..] | [0, 0, 0xFE, 0xFF, ..] => {
            Err("it starts with a UTF-32 byte order mark, and UTF-32 is not supported".to_owned())
        }
        [0xEF, 0xBB, 0xBF, ..] => Ok((Encoding::Utf8, 3)),
        [0xFF, 0xFE, ..] => Ok((
            Encoding::Utf16 {
                little_endian: true,
            },
            2,
        )),
        [0xFE, 0xFF, ..] => Ok((
            Encoding::Utf16 {
                little_endian: false,
            },
            2,
        )),
        _ => Ok((Encoding::Utf8, 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::chunked;
    use futures::executor::block_on;
    use proptest::prelude::*;

    fn decoded(data: &[u8], cuts: &[usize]) -> Result<Vec<u8>, String> {
        block_on(async {
            let mut s = text_stream("k.txt", chunked(data, cuts));
            let mut out = Vec::new();
            while let Some(chunk) = s.next().await {
                out.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
            }
            Ok(out)
        })
    }

    fn utf16(text: &str, little_endian: bool) -> Vec<u8> {
        let mut out = if little_endian {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for unit in text.encode_utf16() {
            out.extend_from_slice(&if little_endian {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            });
        }
        out
    }

    const TEXT: &str = "a,b\nä,😀\r\nlast";

    #[test]
    fn utf8_byte_order_mark_is_skipped_and_the_rest_kept() {
        let mut with = b"\xEF\xBB\xBF".to_vec();
        with.extend_from_slice(TEXT.as_bytes());
        for cuts in [&[][..], &[1], &[1, 2, 3, 4], &[3], &[5]] {
            assert_eq!(decoded(&with, cuts).unwrap(), TEXT.as_bytes(), "{cuts:?}");
            assert_eq!(decoded(TEXT.as_bytes(), cuts).unwrap(), TEXT.as_bytes());
        }
        // Short objects: only a mark, a mark and one byte, fewer bytes than a mark.
        assert_eq!(decoded(b"\xEF\xBB\xBF", &[]).unwrap(), b"");
        assert_eq!(decoded(b"\xEF\xBB\xBFx", &[1]).unwrap(), b"x");
        assert_eq!(decoded(b"\xEF\xBB", &[]).unwrap(), b"\xEF\xBB");
        assert_eq!(decoded(b"", &[]).unwrap(), b"");
        assert_eq!(decoded(b"{}", &[1]).unwrap(), b"{}");
        // A mark further in is data.
        assert_eq!(decoded(b"x\xEF\xBB\xBF", &[]).unwrap(), b"x\xEF\xBB\xBF");
    }

    #[test]
    fn utf16_is_decoded_in_both_byte_orders() {
        for le in [true, false] {
            let data = utf16(TEXT, le);
            for cuts in [&[][..], &[1], &[2], &[3], &[5, 7, 9, 11], &[13]] {
                assert_eq!(
                    decoded(&data, cuts).unwrap(),
                    TEXT.as_bytes(),
                    "{le} {cuts:?}"
                );
            }
            assert_eq!(decoded(&utf16("", le), &[]).unwrap(), b"");
        }
    }

    /// The text decoded before a broken code unit comes out, then the error.
    #[test]
    fn text_before_the_error_is_kept() {
        let mut data = utf16("ok\n", true);
        data.extend_from_slice(&0xDC00u16.to_le_bytes());
        let chunks: Vec<Result<Vec<u8>, String>> = block_on(
            text_stream("k", chunked(&data, &[]))
                .map(|c| c.map(|b| b.to_vec()).map_err(|e| e.to_string()))
                .collect(),
        );
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert_eq!(chunks[0].as_deref().unwrap(), b"ok\n");
        assert!(chunks[1].as_ref().unwrap_err().contains("low surrogate"));
    }

    #[test]
    fn broken_utf16_and_utf32_are_errors_naming_the_object() {
        let mut odd = utf16("ab", true);
        odd.push(b'c');
        let e = decoded(&odd, &[]).unwrap_err();
        assert!(
            e.contains("\"k.txt\"") && e.contains("odd number of bytes"),
            "{e}"
        );
        // A lone low surrogate, a high one followed by a letter, one at the end.
        for (units, what) in [
            (vec![0xDC00u16, 0x41], "low surrogate"),
            (vec![0xD800, 0x41], "not followed by a low one"),
            (vec![0x41, 0xD800], "surrogate pair"),
        ] {
            let mut data = vec![0xFF, 0xFE];
            for u in units {
                data.extend_from_slice(&u.to_le_bytes());
            }
            let e = decoded(&data, &[3]).unwrap_err();
            assert!(
                e.contains(what) && e.contains("convert this one to UTF-8"),
                "{e}"
            );
        }
        for data in [&b"\xFF\xFE\0\0a\0\0\0"[..], b"\0\0\xFE\xFF\0\0\0a"] {
            let e = decoded(data, &[]).unwrap_err();
            assert!(e.contains("UTF-32"), "{e}");
        }
    }

    /// Every text format through its transformer, plain and gzip-compressed: with a UTF-8 or
    /// UTF-16 byte order mark an object gives exactly the records of the same text without one
    /// (the first record included), and a resume after one record lands on the second.
    #[tokio::test]
    async fn every_text_format_reads_through_a_byte_order_mark() {
        use crate::{build, Compression, TransformerOptions};
        use object_store::memory::InMemory;
        use object_store::path::Path;
        use object_store::{ObjectStore, ObjectStoreExt};
        use sluice_core::object::ObjectInput;
        use std::io::Write;
        use std::sync::Arc;

        let cases = [
            (
                "jsonl",
                "{\"name\":\"ä\",\"n\":1}\r\n{\"name\":\"😀\",\"n\":2}\n",
            ),
            ("json", "{\"name\":\"ä\",\"n\":[1,2]}"),
            ("csv", "name,n\r\nä,1\r\n😀,2\r\n"),
            ("text", "first ä\nsecond 😀\n"),
        ];
        let store = Arc::new(InMemory::new());
        let read = async |format: &str, compression, data: Vec<u8>, skip| {
            let path = Path::from("obj");
            store.put(&path, data.into()).await.unwrap();
            let meta = store.head(&path).await.unwrap();
            let input = ObjectInput::new("b", store.clone() as Arc<dyn ObjectStore>, meta);
            let options = TransformerOptions {
                compression,
                ..Default::default()
            };
            let t = build(format, &options).unwrap();
            let records: Vec<_> = t.transform(input, skip).collect().await;
            records
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
        };
        let gzip = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        for (format, text) in cases {
            let expected = read(format, Compression::None, text.as_bytes().to_vec(), 0)
                .await
                .unwrap();
            assert!(!expected.is_empty(), "{format}");
            let marked = [
                ("UTF-8", [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat()),
                ("UTF-16LE", utf16(text, true)),
                ("UTF-16BE", utf16(text, false)),
            ];
            for (encoding, data) in marked {
                for (compression, data) in [
                    (Compression::None, data.clone()),
                    (Compression::Gzip, gzip(&data)),
                ] {
                    let what = format!("{format} {encoding} {compression:?}");
                    let got = read(format, compression, data.clone(), 0).await;
                    assert_eq!(got.as_ref(), Ok(&expected), "{what}");
                    if expected.len() > 1 {
                        let resumed = read(format, compression, data, 1).await;
                        assert_eq!(resumed.as_deref(), Ok(&expected[1..]), "{what} resumed");
                    }
                }
            }
        }
        // A broken UTF-16 object is an error naming it, after the records before the break.
        let mut broken = utf16("{\"a\":1}\n", true);
        broken.extend_from_slice(&0xDC00u16.to_le_bytes());
        let path = Path::from("broken.jsonl");
        store.put(&path, broken.into()).await.unwrap();
        let meta = store.head(&path).await.unwrap();
        let input = ObjectInput::new("b", store.clone() as Arc<dyn ObjectStore>, meta);
        let t = build("jsonl", &TransformerOptions::default()).unwrap();
        let records: Vec<_> = t.transform(input, 0).collect().await;
        assert_eq!(records.len(), 2, "{records:?}");
        assert!(records[0].is_ok());
        let e = sluice_core::error_chain(records[1].as_ref().unwrap_err());
        assert!(
            e.contains("broken.jsonl") && e.contains("low surrogate") && e.contains("UTF-8"),
            "{e}"
        );
    }

    proptest! {
        /// Any text, any byte order mark, any chunking: the decoded bytes are the text.
        #[test]
        fn any_text_any_chunks(text in "\\PC*", mark in 0usize..4, cuts in proptest::collection::vec(0usize..64, 0..8)) {
            let data = match mark {
                0 => text.as_bytes().to_vec(),
                1 => [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat(),
                2 => utf16(&text, true),
                _ => utf16(&text, false),
            };
            // Text starting with what looks like a mark is read as one (as every reader does).
            prop_assume!(mark != 0 || !text.starts_with('\u{FEFF}'));
            prop_assert_eq!(decoded(&data, &cuts).unwrap(), text.as_bytes());
        }
    }
}
