//! The `json` format: one JSON document per object, or a top-level array streamed element by
//! element.
//!
//! A small scanner finds where each value ends (tracking nesting, strings and escapes) as the
//! bytes stream by; only one value at a time is held, then parsed by `serde_json`. So a top-level
//! array of any length is never in memory whole, an element that is not valid JSON is a
//! recoverable error (the scanner already knows where the next one starts), and resuming skips
//! elements without keeping or parsing them. Several top-level values one after the other
//! (`{..} {..}`) are read as consecutive records.

use sluice_core::data::SchemaAndValue;
use sluice_core::object::{ByteStream, ObjectInput};
use sluice_core::transformer::{RecordStream, Transformer};

use crate::cursor::ChunkCursor;
use crate::{
    json_value, open_then, positive, record_error, record_stream, Compression, Error, ReadRecords,
    TransformerOptions,
};
use sluice_core::config::defs::{self, key};
use sluice_core::config::{KeySet, Owner};

/// The keys of the `json` format, declared beside its code.
pub(crate) const KEYS: KeySet = KeySet {
    owner: Owner::Format("json"),
    doc: "One JSON document per object, or a top-level array read element by element (see docs/formats.md).",
    keys: &[
        key(
            "transformer.json.split.array",
            defs::Kind::Bool,
            "true",
            "`json` format: a top-level array is streamed element by element, one record each (never held whole); false: the array is one record.",
        ),
    ],
    prefixes: &[],
    check: None,
};

/// Reads `json` objects; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct JsonTransformer {
    max_record_size: usize,
    infer_schema: bool,
    split_array: bool,
    compression: Compression,
}

impl JsonTransformer {
    pub(crate) fn new(options: &TransformerOptions) -> Result<Self, Error> {
        positive(
            "transformer.max.record.size",
            options.max_record_size,
            "the largest JSON document or array element",
        )?;
        Ok(JsonTransformer {
            max_record_size: options.max_record_size,
            infer_schema: options.infer_schema,
            split_array: options.json_split_array,
            compression: options.compression,
        })
    }

    /// The records of the object `key` whose bytes are `bytes`, skipping the first `skip`.
    pub(crate) fn records(&self, key: String, bytes: ByteStream, skip: u64) -> RecordStream {
        let run = Run {
            bytes: ChunkCursor::new(bytes),
            key,
            index: 0,
            skip,
            state: State::TopLevel,
            max_record_size: self.max_record_size,
            infer_schema: self.infer_schema,
            split_array: self.split_array,
            done: false,
        };
        record_stream(run)
    }
}

impl Transformer for JsonTransformer {
    fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
        open_then(
            self,
            input,
            self.compression,
            (true, false),
            skip,
            Self::records,
        )
    }

    fn name(&self) -> &'static str {
        "json"
    }
}

/// Where the scanner is in the object's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between top-level values.
    TopLevel,
    /// Inside a top-level array, before its first element (or `]`).
    ArrayStart,
    /// Inside a top-level array, after an element: `,` or `]` comes next.
    ArrayNext,
}

/// What scanning one value found.
enum Scanned {
    /// The value's bytes (or none when not kept) and its length.
    Value(Option<Vec<u8>>),
    /// The value is longer than the limit; it was passed over.
    TooLong(u64),
}

/// Skips whitespace (and a UTF-8 byte order mark at the very start); the next byte, if any.
async fn peek_token(bytes: &mut ChunkCursor) -> std::io::Result<Option<u8>> {
    loop {
        if !bytes.fill().await? {
            return Ok(None);
        }
        if bytes.offset() == 0 && bytes.chunk().starts_with(b"\xef\xbb\xbf") {
            bytes.advance(3);
            continue;
        }
        let ws = bytes
            .chunk()
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        match ws {
            Some(i) => {
                bytes.advance(i);
                return Ok(Some(bytes.chunk()[0]));
            }
            None => bytes.advance(bytes.chunk().len()),
        }
    }
}

/// Scans the value starting at the current (non-whitespace) byte up to its end, keeping its
/// bytes when `keep` and it is at most `limit` long. `Err(Some(message))` when the object
/// ends inside the value.
async fn scan_value(
    bytes: &mut ChunkCursor,
    keep: bool,
    limit: usize,
) -> Result<Scanned, ScanError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut keeping = keep;
    let mut len: u64 = 0;
    let mut depth: u32 = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut started = false;
    let mut scalar = false;
    loop {
        if !bytes.fill().await.map_err(ScanError::Io)? {
            if in_string || depth > 0 {
                return Err(ScanError::Malformed(format!(
                    "the object ends inside a JSON value ({} bytes in): it is truncated",
                    len
                )));
            }
            break;
        }
        let mut end = None;
        let chunk = bytes.chunk();
        for (i, &b) in chunk.iter().enumerate() {
            if !started {
                started = true;
                match b {
                    b'{' | b'[' => depth = 1,
                    b'"' => in_string = true,
                    _ => scalar = true,
                }
                continue;
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        end = Some(i + 1);
                        break;
                    }
                }
                continue;
            }
            if scalar {
                if matches!(
                    b,
                    b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}' | b'[' | b'{' | b'"'
                ) {
                    end = Some(i);
                    break;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        let n = end.unwrap_or(chunk.len());
        len += n as u64;
        if keeping {
            if len > limit as u64 {
                keeping = false;
                buf = Vec::new();
            } else {
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        bytes.advance(n);
        if end.is_some() {
            break;
        }
    }
    if keep && !keeping {
        return Ok(Scanned::TooLong(len));
    }
    Ok(Scanned::Value(keep.then_some(buf)))
}

enum ScanError {
    Io(std::io::Error),
    Malformed(String),
}

/// The reading of one object.
struct Run {
    /// The object's bytes.
    bytes: ChunkCursor,
    key: String,
    /// Index of the next record.
    index: u64,
    skip: u64,
    state: State,
    max_record_size: usize,
    infer_schema: bool,
    split_array: bool,
    /// An unrecoverable error was yielded, or the end reached.
    done: bool,
}

impl ReadRecords for Run {
    async fn next(&mut self) -> Option<sluice_core::Result<SchemaAndValue>> {
        if self.done {
            return None;
        }
        loop {
            let token = match peek_token(&mut self.bytes).await {
                Ok(t) => t,
                Err(e) => {
                    let offset = self.bytes.offset();
                    return Some(Err(self.fail(offset, Error::Io { source: e })));
                }
            };
            let start = self.bytes.offset();
            match (self.state, token) {
                (State::TopLevel, None) => {
                    self.done = true;
                    return None;
                }
                (State::TopLevel, Some(b'[')) if self.split_array => {
                    self.bytes.advance(1);
                    self.state = State::ArrayStart;
                    continue;
                }
                (State::ArrayStart, Some(b']')) | (State::ArrayNext, Some(b']')) => {
                    self.bytes.advance(1);
                    self.state = State::TopLevel;
                    continue;
                }
                (State::ArrayNext, Some(b',')) => {
                    self.bytes.advance(1);
                    self.state = State::ArrayStart;
                    continue;
                }
                (State::ArrayStart | State::ArrayNext, None) => {
                    return Some(Err(self.fail(
                        start,
                        Error::Malformed {
                            format: "json",
                            message: "the object ends inside the top-level array (no closing `]`): it is truncated".into(),
                        },
                    )));
                }
                (State::ArrayNext, Some(b)) => {
                    return Some(Err(self.fail(
                        start,
                        Error::Malformed {
                            format: "json",
                            message: format!(
                                "expected `,` or `]` after an array element, found {:?}",
                                char::from(b)
                            ),
                        },
                    )));
                }
                (State::ArrayStart, Some(b',')) => {
                    return Some(Err(self.fail(
                        start,
                        Error::Malformed {
                            format: "json",
                            message: "expected an array element, found `,`".into(),
                        },
                    )));
                }
                (State::TopLevel | State::ArrayStart, Some(_)) => {}
            }
            let in_array = self.state == State::ArrayStart;
            let index = self.index;
            let keep = index >= self.skip;
            let scanned = match scan_value(&mut self.bytes, keep, self.max_record_size).await {
                Ok(s) => s,
                Err(ScanError::Io(e)) => {
                    return Some(Err(self.fail(start, Error::Io { source: e })))
                }
                Err(ScanError::Malformed(message)) => {
                    return Some(Err(self.fail(
                        start,
                        Error::Malformed {
                            format: "json",
                            message,
                        },
                    )))
                }
            };
            if in_array {
                self.state = State::ArrayNext;
            }
            self.index += 1;
            if !keep {
                continue;
            }
            return Some(match scanned {
                Scanned::Value(Some(bytes)) => self
                    .parse(&bytes)
                    .map_err(|e| record_error(&self.key, index, start, true, Some(&bytes), e)),
                Scanned::Value(None) => unreachable!("kept values have bytes"),
                Scanned::TooLong(size) => Err(record_error(
                    &self.key,
                    index,
                    start,
                    true,
                    None,
                    Error::RecordTooLarge {
                        size,
                        limit: self.max_record_size,
                    },
                )),
            });
        }
    }
}

impl Run {
    fn parse(&self, bytes: &[u8]) -> Result<SchemaAndValue, Error> {
        let text = std::str::from_utf8(bytes).map_err(|source| Error::InvalidUtf8 { source })?;
        json_value::parse_record(text, self.infer_schema)
    }

    /// The unrecoverable error for the record being read at `offset`; nothing follows it.
    fn fail(&mut self, offset: u64, source: Error) -> sluice_core::Error {
        self.done = true;
        record_error(&self.key, self.index, offset, false, None, source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{chunked, failing};
    use futures::executor::block_on;
    use futures::StreamExt;
    use proptest::prelude::*;
    use sluice_core::data::Value;

    type Item = Result<Value, (u64, Option<u64>, bool, String)>;

    fn run(input: &[u8], cuts: &[usize], skip: u64, split: bool, limit: usize) -> Vec<Item> {
        let t = JsonTransformer::new(&TransformerOptions {
            json_split_array: split,
            max_record_size: limit,
            ..Default::default()
        })
        .unwrap();
        block_on(
            t.records("o.json".into(), chunked(input, cuts), skip)
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .map(|r| match r {
            Ok(sv) => Ok(sv.value),
            Err(sluice_core::Error::Record {
                record_index,
                byte_offset,
                recoverable,
                source,
                ..
            }) => Err((record_index, byte_offset, recoverable, source.to_string())),
            Err(other) => panic!("{other:?}"),
        })
        .collect()
    }

    fn values(input: &str) -> Vec<Item> {
        run(input.as_bytes(), &[], 0, true, 1000)
    }

    #[test]
    fn a_document_is_one_record_and_an_array_is_split() {
        assert_eq!(
            values(" {\"a\": [1, {\"b\": \"]}\\\"\"}]} "),
            vec![Ok(Value::Map(vec![(
                Value::from("a"),
                Value::Array(vec![
                    Value::Int64(1),
                    Value::Map(vec![(Value::from("b"), Value::from("]}\""))])
                ])
            )]))]
        );
        assert_eq!(
            values("\u{feff}[1, \"x\" ,null,true,[2],{}, -1.5e3]\n"),
            vec![
                Ok(Value::Int64(1)),
                Ok(Value::from("x")),
                Ok(Value::Null),
                Ok(Value::Boolean(true)),
                Ok(Value::Array(vec![Value::Int64(2)])),
                Ok(Value::Map(vec![])),
                Ok(Value::Float64(-1500.0)),
            ]
        );
        assert!(values("").is_empty());
        assert!(values(" [ ] ").is_empty());
        assert_eq!(values("7"), vec![Ok(Value::Int64(7))]);
        assert_eq!(
            values("1 2"),
            vec![Ok(Value::Int64(1)), Ok(Value::Int64(2))]
        );
        let whole = run(b"[1,2]", &[], 0, false, 100);
        assert_eq!(
            whole,
            vec![Ok(Value::Array(vec![Value::Int64(1), Value::Int64(2)]))]
        );
    }

    #[test]
    fn a_bad_element_is_recoverable_and_the_next_ones_are_read() {
        let items = values("[1, {\"a\": tru}, \"\\xff\", 3]");
        assert_eq!(items.len(), 4, "{items:?}");
        let (i, off, rec, msg) = items[1].clone().unwrap_err();
        assert_eq!((i, off, rec), (1, Some(4), true));
        assert!(msg.contains("invalid JSON"), "{msg}");
        assert!(items[2].is_err());
        assert_eq!(items[3], Ok(Value::Int64(3)));
        let items = run(b"[\"\xff\", 2]", &[], 0, true, 100);
        assert!(items[0].clone().unwrap_err().3.contains("UTF-8"));
        assert_eq!(items[1], Ok(Value::Int64(2)));
    }

    #[test]
    fn broken_structure_and_truncation_are_unrecoverable() {
        let items = values("[1, 2");
        assert_eq!(items.len(), 3, "{items:?}");
        let (i, _, rec, msg) = items[2].clone().unwrap_err();
        assert_eq!((i, rec), (2, false));
        assert!(msg.contains("truncated"), "{msg}");
        let items = values("[1, {\"a\": [2, 3]");
        let (i, off, rec, msg) = items[1].clone().unwrap_err();
        assert_eq!((i, off, rec), (1, Some(4), false));
        assert!(msg.contains("truncated"), "{msg}");
        let items = values("[1 2]");
        let (i, _, rec, msg) = items[1].clone().unwrap_err();
        assert_eq!((i, rec), (1, false));
        assert!(msg.contains("expected `,` or `]`"), "{msg}");
        let items = values("[,1]");
        assert!(items[0].clone().unwrap_err().3.contains("found `,`"));
    }

    #[test]
    fn an_over_long_element_is_skipped_without_being_kept() {
        let long = format!("\"{}\"", "x".repeat(100));
        let input = format!("[1,{long},2]");
        let items = run(input.as_bytes(), &[5, 50], 0, true, 50);
        assert_eq!(items.len(), 3);
        let (i, off, rec, msg) = items[1].clone().unwrap_err();
        assert_eq!((i, off, rec), (1, Some(3), true));
        assert!(msg.contains("102 bytes long"), "{msg}");
        assert_eq!(items[2], Ok(Value::Int64(2)));
    }

    #[test]
    fn an_io_error_ends_the_records() {
        let t = JsonTransformer::new(&TransformerOptions::default()).unwrap();
        let items = block_on(
            t.records("o.json".into(), failing(&[b"[1,2,"], b"3]"), 0)
                .collect::<Vec<_>>(),
        );
        assert_eq!(items.len(), 3);
        assert!(items[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("connection reset"));
    }

    fn element() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i32>().prop_map(|n| n.to_string()),
            "[a-z\\\\\"\\]\\[{},]{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just("{\"k\": [1, {\"z\": null}], \"s\": \"}\"}".to_string()),
            Just("notjson".to_string()),
            Just("[]".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn chunking_and_resuming_never_change_the_records(
            elements in proptest::collection::vec(element(), 0..10),
            cuts in proptest::collection::vec(0usize..300, 0..20),
        ) {
            let doc = format!("[{}]", elements.join(" ,\n"));
            let full = run(doc.as_bytes(), &[], 0, true, 1000);
            prop_assert_eq!(full.len(), elements.len());
            prop_assert_eq!(&run(doc.as_bytes(), &cuts, 0, true, 1000), &full);
            let n = full.len();
            for skip in [0, 1, n / 2, n.saturating_sub(1), n, n + 3] {
                let resumed = run(doc.as_bytes(), &cuts, skip as u64, true, 1000);
                prop_assert_eq!(&resumed[..], &full[skip.min(n)..], "skip {}", skip);
            }
        }
    }
}
