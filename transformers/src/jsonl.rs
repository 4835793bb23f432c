//! The `jsonl` format: one JSON value per line.

use std::sync::Arc;

use sluice_core::data::SchemaAndValue;
use sluice_core::object::{ByteStream, ObjectInput};
use sluice_core::transformer::{RecordStream, Transformer};

use crate::json_plain::PlainJson;
use crate::lines::{is_blank, LineKind, LineReader, ReadError};
use crate::{
    json_value, open_then, record_error, record_stream, Compression, Error, ReadRecords,
    TransformerOptions,
};
use sluice_core::config::{KeySet, Owner};

/// The keys of the `jsonl` format, declared beside its code.
pub(crate) const KEYS: KeySet = KeySet {
    owner: Owner::Format("jsonl"),
    doc: "One JSON value per line (see docs/formats.md).",
    keys: &[],
    prefixes: &[],
    check: None,
};

/// Reads JSON Lines: one record per line (`\n`, a `\r` before it is dropped); blank lines are not
/// records. Lines are read as they stream by, never the whole object.
#[derive(Debug, Clone)]
pub(crate) struct JsonlTransformer {
    max_record_size: usize,
    infer_schema: bool,
    compression: Compression,
    /// Values as the bytes of their plain JSON form ([`Transformer::plain_json`]).
    plain: bool,
}

impl JsonlTransformer {
    pub(crate) fn new(options: &TransformerOptions) -> Result<Self, Error> {
        if options.max_record_size == 0 {
            return Err(Error::Config {
                key: "transformer.max.record.size",
                message: "must be a positive number of bytes".into(),
            });
        }
        Ok(JsonlTransformer {
            max_record_size: options.max_record_size,
            infer_schema: options.infer_schema,
            compression: options.compression,
            plain: false,
        })
    }

    /// The records of the object `key` whose bytes are `bytes`, skipping the first `skip`.
    pub(crate) fn records(&self, key: String, bytes: ByteStream, skip: u64) -> RecordStream {
        let run = Run {
            reader: LineReader::new(bytes, self.max_record_size),
            key,
            index: 0,
            skip,
            max_record_size: self.max_record_size,
            infer_schema: self.infer_schema,
            plain: self.plain.then(PlainJson::new),
        };
        record_stream(run)
    }
}

impl Transformer for JsonlTransformer {
    fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
        open_then(
            self,
            input,
            self.compression,
            (true, true),
            skip,
            Self::records,
        )
    }

    fn name(&self) -> &'static str {
        "jsonl"
    }

    /// Schemaless values only: with an inferred schema the converter writes what the schema
    /// says.
    fn plain_json(&self) -> Option<Arc<dyn Transformer>> {
        (!self.infer_schema).then(|| {
            Arc::new(JsonlTransformer {
                plain: true,
                ..self.clone()
            }) as Arc<dyn Transformer>
        })
    }
}

/// The reading of one object.
struct Run {
    reader: LineReader,
    key: String,
    /// Index of the next record (non-blank line).
    index: u64,
    skip: u64,
    max_record_size: usize,
    infer_schema: bool,
    /// Values in their plain JSON form.
    plain: Option<PlainJson>,
}

impl ReadRecords for Run {
    async fn next(&mut self) -> Option<sluice_core::Result<SchemaAndValue>> {
        // Resume: count the first `skip` records without parsing (or even keeping) them.
        while self.index < self.skip {
            match self.reader.skip_line().await? {
                Ok(blank) => self.index += u64::from(!blank),
                Err(e) => return Some(Err(self.read_failed(e))),
            }
        }
        loop {
            let line = match self.reader.next_line().await? {
                Ok(line) => line,
                Err(e) => return Some(Err(self.read_failed(e))),
            };
            let index = self.index;
            match line.kind {
                LineKind::Data(bytes) => {
                    if is_blank(&bytes) {
                        continue;
                    }
                    self.index += 1;
                    return Some(self.parse(&bytes).map_err(|e| {
                        record_error(&self.key, index, line.start, true, Some(&bytes), e)
                    }));
                }
                LineKind::TooLong { len, blank } => {
                    if blank {
                        continue;
                    }
                    self.index += 1;
                    let e = Error::RecordTooLarge {
                        size: len,
                        limit: self.max_record_size,
                    };
                    return Some(Err(record_error(
                        &self.key, index, line.start, true, None, e,
                    )));
                }
            }
        }
    }
}

impl Run {
    fn parse(&self, line: &[u8]) -> Result<SchemaAndValue, Error> {
        let text = std::str::from_utf8(line).map_err(|source| Error::InvalidUtf8 { source })?;
        match &self.plain {
            Some(plain) => plain.record(text),
            None => json_value::parse_record(text, self.infer_schema),
        }
    }

    /// The unrecoverable error for a failed read (the reader yields nothing after it).
    fn read_failed(&self, e: ReadError) -> sluice_core::Error {
        record_error(
            &self.key,
            self.index,
            e.start,
            false,
            None,
            Error::Io { source: e.source },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{chunked, failing};
    use futures::executor::block_on;
    use futures::StreamExt;
    use proptest::prelude::*;
    use sluice_core::data::{Schema, SchemaBuilder, Struct, Value};

    /// A comparable view of a record error.
    #[derive(Debug, Clone, PartialEq)]
    struct RecordErr {
        index: u64,
        offset: Option<u64>,
        recoverable: bool,
        raw: Option<Vec<u8>>,
        message: String,
    }

    type Item = Result<SchemaAndValue, RecordErr>;

    fn collect(stream: RecordStream) -> Vec<Item> {
        block_on(stream.collect::<Vec<_>>())
            .into_iter()
            .map(|r| {
                r.map_err(|e| match e {
                    sluice_core::Error::Record {
                        object,
                        record_index,
                        byte_offset,
                        recoverable,
                        raw,
                        source,
                    } => {
                        assert_eq!(object, "dir/obj.jsonl");
                        RecordErr {
                            index: record_index,
                            offset: byte_offset,
                            recoverable,
                            raw: raw.map(|r| r.to_vec()),
                            message: source.to_string(),
                        }
                    }
                    other => panic!("not a record error: {other:?}"),
                })
            })
            .collect()
    }

    fn transformer(max_record_size: usize, infer_schema: bool) -> JsonlTransformer {
        JsonlTransformer::new(&TransformerOptions {
            max_record_size,
            infer_schema,
            ..Default::default()
        })
        .unwrap()
    }

    fn run(input: &[u8], cuts: &[usize], skip: u64) -> Vec<Item> {
        run_with(&transformer(64, false), input, cuts, skip)
    }

    fn run_with(t: &JsonlTransformer, input: &[u8], cuts: &[usize], skip: u64) -> Vec<Item> {
        collect(t.records("dir/obj.jsonl".into(), chunked(input, cuts), skip))
    }

    fn ok(v: Value) -> Item {
        Ok(SchemaAndValue::schemaless(v))
    }

    fn one(key: &str, v: Value) -> Value {
        Value::Map(vec![(Value::from(key), v)])
    }

    #[test]
    fn reads_lines_with_crlf_blank_lines_and_no_trailing_newline() {
        let input = b"{\"a\":1}\r\n\n   \r\n\t\n[1,\"x\"]\n  \"s\"  \r\nnull\n{\"b\":{\"c\":2.5}}";
        let expected = vec![
            ok(one("a", Value::Int64(1))),
            ok(Value::Array(vec![Value::Int64(1), Value::from("x")])),
            ok(Value::from("s")),
            ok(Value::Null),
            ok(one("b", one("c", Value::Float64(2.5)))),
        ];
        assert_eq!(run(input, &[], 0), expected);
        assert_eq!(run(input, &[1, 2, 3, 8, 9, 10, 20, 33], 0), expected);
        assert!(run(b"", &[], 0).is_empty());
        assert!(run(b"\n \n\r\n", &[], 0).is_empty());
    }

    #[test]
    fn invalid_utf8_is_recoverable_with_index_offset_and_raw_bytes() {
        let input = b"1\n\n\xff\xfe\n2\n";
        let items = run(input, &[3], 0);
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(items[0], ok(Value::Int64(1)));
        let err = items[1].clone().unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(err.offset, Some(3));
        assert!(err.recoverable);
        assert_eq!(err.raw.as_deref(), Some(b"\xff\xfe".as_slice()));
        assert!(err.message.contains("invalid UTF-8"), "{}", err.message);
        assert_eq!(items[2], ok(Value::Int64(2)));
    }

    #[test]
    fn a_line_that_is_not_json_is_recoverable() {
        let input = b"{\"a\":1}\r\n{\"a\":\r\n1 2\n{\"a\":3}";
        let items = run(input, &[], 0);
        assert_eq!(items.len(), 4, "{items:?}");
        let e1 = items[1].clone().unwrap_err();
        assert_eq!((e1.index, e1.offset, e1.recoverable), (1, Some(9), true));
        assert_eq!(e1.raw.as_deref(), Some(b"{\"a\":".as_slice()));
        assert!(e1.message.starts_with("invalid JSON: "), "{}", e1.message);
        let e2 = items[2].clone().unwrap_err();
        assert_eq!((e2.index, e2.offset), (2, Some(16)));
        assert!(e2.message.contains("trailing characters"), "{}", e2.message);
        assert_eq!(items[3], ok(one("a", Value::Int64(3))));
    }

    #[test]
    fn an_over_long_line_is_recoverable_and_skipped() {
        let long = format!("[{}]", "1,".repeat(100) + "1");
        let input = format!("1\n{long}\n2\n");
        let t = transformer(16, false);
        for cuts in [vec![], vec![5, 7, 50, 203]] {
            let items = run_with(&t, input.as_bytes(), &cuts, 0);
            assert_eq!(items.len(), 3, "{items:?}");
            let err = items[1].clone().unwrap_err();
            assert_eq!((err.index, err.offset, err.recoverable), (1, Some(2), true));
            assert_eq!(err.raw, None);
            assert!(
                err.message.contains(&format!("{} bytes long", long.len())),
                "{}",
                err.message
            );
            assert!(
                err.message.contains("transformer.max.record.size"),
                "{}",
                err.message
            );
            assert_eq!(items[2], ok(Value::Int64(2)));
        }
    }

    #[test]
    fn an_io_error_is_unrecoverable_and_ends_the_records() {
        let stream = failing(&[b"1\n\n2\n{\"a\":"], b"3}\n4\n");
        let items = collect(transformer(64, false).records("dir/obj.jsonl".into(), stream, 0));
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(items[1], ok(Value::Int64(2)));
        let err = items[2].clone().unwrap_err();
        assert_eq!(
            (err.index, err.offset, err.recoverable),
            (2, Some(5), false)
        );
        assert!(err.message.contains("connection reset"), "{}", err.message);

        // Also while skipping.
        let stream = failing(&[b"1\n\n2\n{\"a\":"], b"3}\n4\n");
        let items = collect(transformer(64, false).records("dir/obj.jsonl".into(), stream, 3));
        assert_eq!(items.len(), 1, "{items:?}");
        let err = items[0].clone().unwrap_err();
        assert_eq!(
            (err.index, err.offset, err.recoverable),
            (2, Some(5), false)
        );
    }

    #[test]
    fn infers_schemas_per_record() {
        let t = transformer(1024, true);
        let input = b"{\"a\":1,\"b\":{\"c\":[1,2.5]}}\n7\n{\"a\":[1,\"x\"]}\n{}\n";
        let items = run_with(&t, input, &[], 0);
        assert_eq!(items.len(), 4, "{items:?}");

        let c = SchemaBuilder::struct_()
            .field(
                "c",
                SchemaBuilder::array(Schema::optional_float64())
                    .optional()
                    .build(),
            )
            .optional()
            .build();
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::optional_int64())
            .field("b", c.clone())
            .build();
        let b = Struct::new(c)
            .unwrap()
            .put(
                "c",
                Value::Array(vec![Value::Float64(1.0), Value::Float64(2.5)]),
            )
            .unwrap();
        let value = Struct::new(schema.clone())
            .unwrap()
            .put("a", Value::Int64(1))
            .unwrap()
            .put("b", b)
            .unwrap();
        assert_eq!(
            items[0],
            Ok(SchemaAndValue::new(schema, Value::Struct(value)))
        );
        assert_eq!(
            items[1],
            Ok(SchemaAndValue::new(
                Schema::optional_int64(),
                Value::Int64(7)
            ))
        );
        let err = items[2].clone().unwrap_err();
        assert_eq!(
            (err.index, err.offset, err.recoverable),
            (2, Some(28), true)
        );
        assert!(err.message.contains("$.a[1] is string"), "{}", err.message);
        let empty = SchemaBuilder::struct_().build();
        assert_eq!(
            items[3],
            Ok(SchemaAndValue::new(
                empty.clone(),
                Value::Struct(Struct::new(empty).unwrap())
            ))
        );
    }

    /// Lines of several kinds, each an (encoded line, terminator) pair.
    fn line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => (any::<i64>()).prop_map(|n| format!("{{\"n\":{n},\"s\":\"x\"}}").into_bytes()),
            2 => "[ \t]{0,3}".prop_map(String::into_bytes),
            1 => Just(b"not json".to_vec()),
            1 => Just(b"\"\xff\"".to_vec()),
            1 => Just(format!("\"{}\"", "y".repeat(40)).into_bytes()),
            1 => Just(b"                                          ".to_vec()),
        ]
    }

    fn document() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec((line(), prop_oneof![Just("\n"), Just("\r\n")]), 0..12),
            any::<bool>(),
        )
            .prop_map(|(lines, trailing)| {
                let mut out = Vec::new();
                let n = lines.len();
                for (i, (line, end)) in lines.into_iter().enumerate() {
                    out.extend_from_slice(&line);
                    if i + 1 < n || trailing {
                        out.extend_from_slice(end.as_bytes());
                    }
                }
                out
            })
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_records(
            doc in document(),
            cuts in proptest::collection::vec(0usize..400, 0..30),
        ) {
            let t = transformer(32, false);
            prop_assert_eq!(run_with(&t, &doc, &cuts, 0), run_with(&t, &doc, &[], 0));
        }

        #[test]
        fn resuming_yields_exactly_the_remaining_records(
            doc in document(),
            cuts in proptest::collection::vec(0usize..400, 0..30),
            infer in any::<bool>(),
        ) {
            let t = transformer(32, infer);
            let full = run_with(&t, &doc, &[], 0);
            for (i, item) in full.iter().enumerate() {
                if let Err(e) = item {
                    prop_assert_eq!(e.index, i as u64);
                }
            }
            let n = full.len();
            for skip in [0, 1, n / 2, n.saturating_sub(1), n, n + 1, n + 10] {
                let resumed = run_with(&t, &doc, &cuts, skip as u64);
                prop_assert_eq!(&resumed[..], &full[skip.min(n)..], "skip {}", skip);
            }
        }
    }
}
