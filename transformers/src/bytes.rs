//! The `bytes` format: the object cut into fixed-size chunks, or the whole object as one record.

use futures::stream::{self, StreamExt};
use sluice_core::data::{Schema, SchemaAndValue, Value};
use sluice_core::object::{ByteStream, ObjectInput};
use sluice_core::transformer::{RecordStream, Transformer};

use crate::cursor::ChunkCursor;
use crate::{
    open_then, positive, record_error, record_stream, BytesMode, Compression, Error, ReadRecords,
    TransformerOptions,
};
use sluice_core::config::defs::{self, key};
use sluice_core::config::{KeySet, Owner};

/// The keys of the `bytes` format, declared beside its code.
pub(crate) const KEYS: KeySet = KeySet {
    owner: Owner::Format("bytes"),
    doc: "Fixed-size chunks or the whole object (see docs/formats.md).",
    keys: &[
        key(
            "transformer.max.buffer.size",
            defs::POSITIVE,
            "4096",
            "`bytes` format with `transformer.bytes.mode=chunks`: size in bytes of each chunk (record).",
        ),
        key(
            "transformer.bytes.mode",
            defs::Kind::Enum(&["chunks", "object"]),
            "chunks",
            "`bytes` format: `chunks` cuts the object into records of `transformer.max.buffer.size` bytes; `object` makes the whole object one record, up to `transformer.max.record.size` bytes (a larger object is a record error).",
        ),
    ],
    prefixes: &[],
    check: None,
};

/// Cuts an object into records of `chunk_size` bytes (the last one shorter), each a `bytes`
/// value; an empty object has no records. In [`BytesMode::Object`], the whole object is one
/// record (an empty object too), at most `max_object_size` bytes.
#[derive(Debug, Clone)]
pub(crate) struct BytesTransformer {
    chunk_size: usize,
    mode: BytesMode,
    max_object_size: usize,
    compression: Compression,
    schema: Schema,
}

impl BytesTransformer {
    pub(crate) fn new(options: &TransformerOptions) -> Result<Self, Error> {
        positive(
            "transformer.max.buffer.size",
            options.max_buffer_size,
            "the size of each record",
        )?;
        if options.bytes_mode == BytesMode::Object {
            positive(
                "transformer.max.record.size",
                options.max_record_size,
                "the largest object read whole",
            )?;
        }
        Ok(BytesTransformer {
            chunk_size: options.max_buffer_size,
            mode: options.bytes_mode,
            max_object_size: options.max_record_size,
            compression: options.compression,
            schema: Schema::bytes(),
        })
    }

    /// The records of the object `key` whose bytes are `bytes`, skipping the first `skip`.
    pub(crate) fn records(&self, key: String, bytes: ByteStream, skip: u64) -> RecordStream {
        if self.mode == BytesMode::Object {
            return self.whole(key, bytes, skip);
        }
        let run = Run {
            key,
            bytes: ChunkCursor::new(bytes),
            chunk_size: self.chunk_size,
            schema: self.schema.clone(),
            skip_bytes: skip.saturating_mul(self.chunk_size as u64),
        };
        record_stream(run)
    }
}

impl BytesTransformer {
    /// The whole object as one record (none when resuming past it).
    fn whole(&self, key: String, mut bytes: ByteStream, skip: u64) -> RecordStream {
        if skip > 0 {
            return stream::empty().boxed();
        }
        let limit = self.max_object_size;
        let schema = self.schema.clone();
        stream::once(async move {
            let mut record: Vec<u8> = Vec::new();
            while let Some(chunk) = bytes.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(source) => {
                        let offset = record.len() as u64;
                        return Err(record_error(
                            &key,
                            0,
                            offset,
                            false,
                            None,
                            Error::Io { source },
                        ));
                    }
                };
                if record.len() + chunk.len() > limit {
                    // Not read any further: the one record cannot be delivered anyway.
                    return Err(record_error(
                        &key,
                        0,
                        0,
                        true,
                        None,
                        Error::ObjectTooLarge { limit },
                    ));
                }
                record.extend_from_slice(&chunk);
            }
            Ok(SchemaAndValue::new(schema, Value::Bytes(record)))
        })
        .boxed()
    }
}

impl Transformer for BytesTransformer {
    fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
        open_then(
            self,
            input,
            self.compression,
            (false, false),
            skip,
            Self::records,
        )
    }

    fn name(&self) -> &'static str {
        "bytes"
    }
}

/// The reading of one object.
struct Run {
    key: String,
    /// The object's bytes.
    bytes: ChunkCursor,
    chunk_size: usize,
    schema: Schema,
    /// Bytes still to pass over before the first record (the skipped records).
    skip_bytes: u64,
}

impl ReadRecords for Run {
    async fn next(&mut self) -> Option<sluice_core::Result<SchemaAndValue>> {
        // Resume: pass over the skipped records' bytes without building them.
        if self.skip_bytes > 0 {
            match self.bytes.skip(self.skip_bytes).await {
                Ok(true) => self.skip_bytes = 0,
                Ok(false) => return None,
                Err(e) => return Some(Err(self.read_failed(e))),
            }
        }

        let mut record: Vec<u8> = Vec::new();
        while record.len() < self.chunk_size {
            match self.bytes.fill().await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Some(Err(self.read_failed(e))),
            }
            if record.capacity() == 0 {
                record.reserve_exact(self.chunk_size);
            }
            let chunk = self.bytes.chunk();
            let n = chunk.len().min(self.chunk_size - record.len());
            record.extend_from_slice(&chunk[..n]);
            self.bytes.advance(n);
        }
        if record.is_empty() {
            return None;
        }
        Some(Ok(SchemaAndValue::new(
            self.schema.clone(),
            Value::Bytes(record),
        )))
    }
}

impl Run {
    /// The unrecoverable error for a failed read, naming the record being read.
    fn read_failed(&self, source: std::io::Error) -> sluice_core::Error {
        let size = self.chunk_size as u64;
        let index = self.bytes.offset() / size;
        record_error(
            &self.key,
            index,
            index * size,
            false,
            None,
            Error::Io { source },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{chunked, failing};
    use ::bytes::Bytes;
    use futures::executor::block_on;
    use proptest::prelude::*;

    fn transformer(size: usize) -> BytesTransformer {
        BytesTransformer::new(&TransformerOptions {
            max_buffer_size: size,
            ..Default::default()
        })
        .unwrap()
    }

    fn chunks(size: usize, stream: ByteStream, skip: u64) -> Vec<Result<Vec<u8>, String>> {
        let records = transformer(size).records("obj.bin".into(), stream, skip);
        block_on(records.collect::<Vec<_>>())
            .into_iter()
            .map(|r| match r {
                Ok(SchemaAndValue {
                    schema: Some(schema),
                    value: Value::Bytes(b),
                }) => {
                    assert_eq!(schema, Schema::bytes());
                    Ok(b)
                }
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e.to_string()),
            })
            .collect()
    }

    #[test]
    fn cuts_fixed_size_chunks_with_a_shorter_last_one() {
        let data: Vec<u8> = (0..10).collect();
        let expected: Vec<Result<Vec<u8>, String>> =
            vec![Ok(vec![0, 1, 2, 3]), Ok(vec![4, 5, 6, 7]), Ok(vec![8, 9])];
        assert_eq!(chunks(4, chunked(&data, &[]), 0), expected);
        assert_eq!(chunks(4, chunked(&data, &[1, 2, 3, 4, 9]), 0), expected);
        assert_eq!(chunks(5, chunked(&data, &[7]), 0).len(), 2);
        assert_eq!(chunks(100, chunked(&data, &[7]), 0), vec![Ok(data.clone())]);
        assert!(chunks(4, chunked(&[], &[]), 0).is_empty());
    }

    #[test]
    fn an_io_error_names_the_record_and_ends_the_stream() {
        let items = chunks(4, failing(&[b"abcdef"], b"ghij"), 0);
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0], Ok(b"abcd".to_vec()));
        let err = items[1].clone().unwrap_err();
        assert!(err.contains("record 1 (byte offset 4)"), "{err}");
        assert!(err.contains("connection reset"), "{err}");

        let records = transformer(4).records("obj.bin".into(), failing(&[b"abcdefghi"], b""), 3);
        let items = block_on(records.collect::<Vec<_>>());
        assert_eq!(items.len(), 1);
        match &items[0] {
            Err(sluice_core::Error::Record {
                record_index: 2,
                byte_offset: Some(8),
                recoverable: false,
                raw: None,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn skipping_a_huge_object_does_not_build_records() {
        // 256 MiB streamed lazily from one shared chunk; skipping all but the last record must not
        // copy anything (it would take far longer than this test is allowed to).
        const CHUNK: usize = 1024 * 1024;
        let chunk = Bytes::from(vec![7u8; CHUNK]);
        let stream = stream::iter(std::iter::repeat_n(chunk, 256).map(Ok)).boxed();
        let size = 4096;
        let total = 256 * CHUNK as u64 / size as u64;
        let items = chunks(size, stream, total - 1);
        assert_eq!(items, vec![Ok(vec![7u8; size])]);
    }

    fn whole(limit: usize, stream: ByteStream, skip: u64) -> Vec<Result<Vec<u8>, String>> {
        let t = BytesTransformer::new(&TransformerOptions {
            bytes_mode: BytesMode::Object,
            max_record_size: limit,
            ..Default::default()
        })
        .unwrap();
        block_on(
            t.records("obj.bin".into(), stream, skip)
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .map(|r| match r {
            Ok(SchemaAndValue {
                value: Value::Bytes(b),
                ..
            }) => Ok(b),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        })
        .collect()
    }

    #[test]
    fn object_mode_makes_one_record_bounded_by_the_limit() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(
            whole(256, chunked(&data, &[10, 100]), 0),
            vec![Ok(data.clone())]
        );
        assert_eq!(whole(1, chunked(&[], &[]), 0), vec![Ok(vec![])]);
        assert!(whole(256, chunked(&data, &[10]), 1).is_empty());
        let err = whole(255, chunked(&data, &[10]), 0);
        assert_eq!(err.len(), 1);
        let e = err[0].clone().unwrap_err();
        assert!(
            e.contains("record 0") && e.contains("more than 255 bytes"),
            "{e}"
        );
        let err = whole(1000, failing(&[b"abc"], b"def"), 0);
        assert!(err[0].clone().unwrap_err().contains("connection reset"));
    }

    proptest! {
        #[test]
        fn resuming_yields_exactly_the_remaining_chunks(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..20),
            size in 1usize..40,
        ) {
            let full = chunks(size, chunked(&data, &[]), 0);
            let expected: Vec<Result<Vec<u8>, String>> =
                data.chunks(size).map(|c| Ok(c.to_vec())).collect();
            prop_assert_eq!(&full, &expected);
            let n = full.len();
            for skip in [0, 1, n / 2, n.saturating_sub(1), n, n + 1, n + 1000] {
                let resumed = chunks(size, chunked(&data, &cuts), skip as u64);
                prop_assert_eq!(&resumed[..], &full[skip.min(n)..], "skip {}", skip);
            }
            // An absurd skip does not overflow.
            prop_assert!(chunks(size, chunked(&data, &cuts), u64::MAX).is_empty());
        }
    }
}
