//! The `avro` format: Avro object container files, read block by block as the bytes stream by.
//!
//! The container structure (magic, metadata, sync marker, then blocks of `count`, `size`, data,
//! sync marker) is read here, asynchronously; each block is decompressed with `apache-avro`'s
//! codec and its records decoded with `apache-avro`'s datum reader. So at most one block is held
//! (bounded by `transformer.max.record.size`), resuming skips whole blocks by their record count
//! without decompressing them, and a corrupt block (bad checksum, sync marker that does not match)
//! is reported and passed over: the next block is found by its sync marker and read.
//!
//! The Avro schema maps to a Connect schema as Confluent's `AvroData` does; see
//! `docs/formats.md`.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::schema::{Name, RecordSchema, Schema as AvroSchema, UnionSchema};
use apache_avro::types::Value as AvroValue;
use apache_avro::Codec;
use sluice_core::data::{logical, Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use sluice_core::object::{ByteStream, ObjectInput};
use sluice_core::transformer::{RecordStream, Transformer};

use crate::cursor::ChunkCursor;
use crate::{
    open_then, positive, record_error, record_stream, Compression, Error, ReadRecords,
    TransformerOptions,
};
use sluice_core::config::{KeySet, Owner};

/// The keys of the `avro` format, declared beside its code.
pub(crate) const KEYS: KeySet = KeySet {
    owner: Owner::Format("avro"),
    doc: "Avro object container files (see docs/formats.md).",
    keys: &[],
    prefixes: &[],
    check: None,
};

/// Connect schema name of a union of several non-null types (Confluent's).
pub(crate) const UNION_NAME: &str = "io.confluent.connect.avro.Union";
/// Parameter naming an enum's Avro name (Confluent's).
const ENUM_PARAM: &str = "io.confluent.connect.avro.Enum";
/// Parameter holding a record's doc (Confluent's).
const RECORD_DOC_PARAM: &str = "io.confluent.connect.avro.record.doc";
/// Prefix of the parameters holding each field's doc (Confluent's).
const FIELD_DOC_PARAM: &str = "io.confluent.connect.avro.field.doc.";
/// Parameter giving a fixed's size (Confluent's).
const FIXED_SIZE_PARAM: &str = "connect.fixed.size";
/// Parameter giving a decimal's precision (Confluent's).
const PRECISION_PARAM: &str = "connect.decimal.precision";

const MAGIC: &[u8; 4] = b"Obj\x01";

/// Largest header metadata entry accepted when blocks are limited to less: 16 MiB.
const HEADER_ENTRY_LIMIT: usize = 16 * 1024 * 1024;

/// Reads `avro` objects; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct AvroTransformer {
    max_block_size: usize,
    compression: Compression,
}

impl AvroTransformer {
    pub(crate) fn new(options: &TransformerOptions) -> Result<Self, Error> {
        positive(
            "transformer.max.record.size",
            options.max_record_size,
            "the largest Avro block",
        )?;
        Ok(AvroTransformer {
            max_block_size: options.max_record_size,
            compression: options.compression,
        })
    }

    /// The records of the object `key` whose bytes are `bytes`, skipping the first `skip`.
    pub(crate) fn records(&self, key: String, bytes: ByteStream, skip: u64) -> RecordStream {
        let run = Run::new(
            ByteReader {
                bytes: ChunkCursor::new(bytes),
            },
            key,
            self.max_block_size,
            skip,
        );
        record_stream(run)
    }
}

impl Transformer for AvroTransformer {
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
        "avro"
    }
}

/// Reads an async byte stream as the container format needs it.
struct ByteReader {
    bytes: ChunkCursor,
}

impl ByteReader {
    /// Object offset of the next unread byte.
    fn offset(&self) -> u64 {
        self.bytes.offset()
    }

    /// The next byte; `None` at the end.
    async fn byte(&mut self) -> std::io::Result<Option<u8>> {
        if !self.bytes.fill().await? {
            return Ok(None);
        }
        let b = self.bytes.chunk()[0];
        self.bytes.advance(1);
        Ok(Some(b))
    }

    /// A zig-zag varint long; `None` at the end of the stream before its first byte.
    async fn long(&mut self) -> Result<Option<i64>, ReadError> {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(b) = self.byte().await? else {
                return if shift == 0 {
                    Ok(None)
                } else {
                    Err(ReadError::Truncated)
                };
            };
            if shift >= 64 {
                return Err(ReadError::Malformed(
                    "a varint is longer than 10 bytes".into(),
                ));
            }
            value |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        Ok(Some((value >> 1) as i64 ^ -((value & 1) as i64)))
    }

    /// Exactly `n` bytes (`n` was checked against the limits by the caller).
    async fn exact(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if !self.bytes.fill().await? {
                return Err(ReadError::Truncated);
            }
            let chunk = self.bytes.chunk();
            let take = chunk.len().min(n - out.len());
            out.extend_from_slice(&chunk[..take]);
            self.bytes.advance(take);
        }
        Ok(out)
    }

    /// Passes over `n` bytes without keeping them.
    async fn skip(&mut self, n: u64) -> Result<(), ReadError> {
        if !self.bytes.skip(n).await? {
            return Err(ReadError::Truncated);
        }
        Ok(())
    }

    /// Passes over bytes up to and including the next occurrence of `marker`; false when the
    /// stream ends first.
    async fn seek_past(&mut self, marker: &[u8; 16]) -> Result<bool, ReadError> {
        Ok(self.bytes.skip_past(marker).await?)
    }
}

enum ReadError {
    Io(std::io::Error),
    Truncated,
    Malformed(String),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl ReadError {
    fn into_error(self, what: &str) -> Error {
        match self {
            ReadError::Io(source) => Error::Io { source },
            ReadError::Truncated => Error::Malformed {
                format: "avro",
                message: format!("the object ends inside {what}: it is truncated"),
            },
            ReadError::Malformed(message) => Error::Malformed {
                format: "avro",
                message: format!("{what}: {message}"),
            },
        }
    }
}

/// What the file header gives.
struct Header {
    codec: Codec,
    sync: [u8; 16],
    mapping: Arc<Mapping>,
}

/// The writer's schema with its Connect mapping.
mod mapping;
mod run;

use mapping::Mapping;
use run::Run;
#[cfg(test)]
mod tests;
