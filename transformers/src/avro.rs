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
        let run = Run {
            reader: ByteReader {
                bytes: ChunkCursor::new(bytes),
            },
            key,
            max_block_size: self.max_block_size,
            header: None,
            block: Vec::new().into_iter(),
            index: 0,
            skip,
            done: false,
        };
        record_stream(run)
    }
}

impl Transformer for AvroTransformer {
    fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
        open_then(self, input, self.compression, false, skip, Self::records)
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
struct Mapping {
    avro: AvroSchema,
    connect: Schema,
    names: HashMap<String, AvroSchema>,
}

/// One record of a decoded block, ready to convert (or the error standing for it).
type Pending = Result<(u64, u64, AvroValue), sluice_core::Error>;

struct Run {
    reader: ByteReader,
    key: String,
    max_block_size: usize,
    header: Option<Header>,
    /// The rest of the current block's records.
    block: std::vec::IntoIter<Pending>,
    /// Index of the first record of the next block.
    index: u64,
    skip: u64,
    done: bool,
}

impl ReadRecords for Run {
    async fn next(&mut self) -> Option<sluice_core::Result<SchemaAndValue>> {
        loop {
            if let Some(item) = self.block.next() {
                return Some(match item {
                    Ok((index, offset, value)) => self.convert(index, offset, value),
                    Err(e) => Err(e),
                });
            }
            if self.done {
                return None;
            }
            if self.header.is_none() {
                match self.read_header().await {
                    Ok(h) => self.header = Some(h),
                    Err((offset, e)) => {
                        self.done = true;
                        return Some(Err(record_error(&self.key, 0, offset, false, None, e)));
                    }
                }
            }
            if let Err(e) = self.read_block().await {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

impl Run {
    async fn read_header(&mut self) -> Result<Header, (u64, Error)> {
        let at = |r: &ByteReader, e: ReadError, what: &str| (r.offset(), e.into_error(what));
        let magic = self
            .reader
            .exact(4)
            .await
            .map_err(|e| (0, e.into_error("the file header")))?;
        if magic != MAGIC {
            return Err((
                0,
                Error::Malformed {
                    format: "avro",
                    message: format!(
                        "bad magic bytes {magic:02x?}: not an Avro object container file (expected \"Obj\\x01\")"
                    ),
                },
            ));
        }
        let mut metadata: HashMap<String, Vec<u8>> = HashMap::new();
        loop {
            let count = match self.reader.long().await {
                Ok(Some(c)) => c,
                Ok(None) => return Err(at(&self.reader, ReadError::Truncated, "the file header")),
                Err(e) => return Err(at(&self.reader, e, "the file header")),
            };
            if count == 0 {
                break;
            }
            if count < 0 {
                // A block size follows a negative count.
                if let Err(e) = self.reader.long().await {
                    return Err(at(&self.reader, e, "the file header"));
                }
            }
            for _ in 0..count.unsigned_abs() {
                let key = self.bytes_field().await?;
                let value = self.bytes_field().await?;
                let r = &self.reader;
                let key = String::from_utf8(key).map_err(|_| {
                    at(
                        r,
                        ReadError::Malformed("a metadata key is not UTF-8".into()),
                        "the file header",
                    )
                })?;
                metadata.insert(key, value);
            }
        }
        let r = &mut self.reader;
        let sync: [u8; 16] = r
            .exact(16)
            .await
            .map_err(|e| at(r, e, "the file header"))?
            .try_into()
            .expect("16 bytes");
        let offset = r.offset();
        let codec_name = metadata
            .get("avro.codec")
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_else(|| "null".into());
        let codec: Codec = codec_name.parse().map_err(|_| {
            (
                offset,
                Error::Malformed {
                    format: "avro",
                    message: format!("unsupported codec {codec_name:?}: supported are null, deflate, snappy, zstandard, bzip2, xz"),
                },
            )
        })?;
        let schema_json = metadata.get("avro.schema").ok_or_else(|| {
            (
                offset,
                Error::Malformed {
                    format: "avro",
                    message: "the header has no avro.schema".into(),
                },
            )
        })?;
        let avro = AvroSchema::parse_str(&String::from_utf8_lossy(schema_json)).map_err(|e| {
            (
                offset,
                Error::Avro {
                    source: Box::new(e),
                },
            )
        })?;
        let mapping =
            Mapping::new(avro).map_err(|message| (offset, Error::UnmappableSchema { message }))?;
        Ok(Header {
            codec,
            sync,
            mapping: Arc::new(mapping),
        })
    }

    /// An Avro `bytes`/`string` in the header (bounded by the block limit).
    async fn bytes_field(&mut self) -> Result<Vec<u8>, (u64, Error)> {
        let r = &mut self.reader;
        let len = match r.long().await {
            Ok(Some(l)) => l,
            Ok(None) => {
                return Err((
                    r.offset(),
                    ReadError::Truncated.into_error("the file header"),
                ))
            }
            Err(e) => return Err((r.offset(), e.into_error("the file header"))),
        };
        // Header entries (the schema above all) may be larger than blocks.
        let limit = self.max_block_size.max(HEADER_ENTRY_LIMIT) as u64;
        if len < 0 || len as u64 > limit {
            return Err((
                r.offset(),
                ReadError::Malformed(format!("a metadata entry of {len} bytes"))
                    .into_error("the file header"),
            ));
        }
        r.exact(len as usize)
            .await
            .map_err(|e| (r.offset(), e.into_error("the file header")))
    }

    /// Reads the next block into `self.block`; at the end of the file, sets `done`. An error is
    /// unrecoverable; recoverable block errors are queued in `self.block`.
    async fn read_block(&mut self) -> sluice_core::Result<()> {
        let header = self.header.as_ref().expect("header read");
        let (codec, sync, mapping) = (header.codec, header.sync, header.mapping.clone());
        let start = self.reader.offset();
        let first = self.index;
        let fail = |offset: u64, e: ReadError, what: &str| {
            record_error(&self.key, first, offset, false, None, e.into_error(what))
        };
        let count = match self.reader.long().await {
            Ok(Some(c)) => c,
            Ok(None) => {
                self.done = true;
                return Ok(());
            }
            Err(e) => return Err(fail(start, e, "a block header")),
        };
        let size = match self.reader.long().await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(fail(start, ReadError::Truncated, "a block header")),
            Err(e) => return Err(fail(start, e, "a block header")),
        };
        if count < 0 || size < 0 {
            return self
                .resync(
                    start,
                    first,
                    &sync,
                    1,
                    "a block header with a negative count or size",
                )
                .await;
        }
        let count = count as u64;
        if size as u64 > self.max_block_size as u64 {
            // Too large to hold; passed over whole (its records are reported as one error).
            self.reader
                .skip(size as u64)
                .await
                .map_err(|e| fail(start, e, "a block"))?;
            self.check_sync(start, first, &sync).await?;
            self.index += count;
            let last = (first + count).saturating_sub(1);
            if count > 0 && last >= self.skip {
                self.block = vec![Err(record_error(
                    &self.key,
                    last,
                    start,
                    true,
                    None,
                    Error::RecordTooLarge {
                        size: size as u64,
                        limit: self.max_block_size,
                    },
                ))]
                .into_iter();
            }
            return Ok(());
        }
        // Resume: a block delivered before is skipped, neither decompressed nor decoded.
        let data = if first + count <= self.skip {
            self.reader
                .skip(size as u64)
                .await
                .map_err(|e| fail(start, e, "a block"))?;
            None
        } else {
            Some(
                self.reader
                    .exact(size as usize)
                    .await
                    .map_err(|e| fail(start, e, "a block"))?,
            )
        };
        let marker = self
            .reader
            .exact(16)
            .await
            .map_err(|e| fail(start, e, "a block's sync marker"))?;
        if marker != sync {
            // The block's bytes cannot be trusted (nor its count): find the next sync marker.
            return self
                .resync(
                    start,
                    first,
                    &sync,
                    count.max(1),
                    "the block does not end with the file's sync marker: it is corrupt",
                )
                .await;
        }
        self.index += count;
        let Some(mut data) = data else {
            return Ok(());
        };
        let last = (first + count).saturating_sub(1);
        if count == 0 {
            return Ok(());
        }
        if let Err(e) = codec.decompress(&mut data) {
            self.block = vec![Err(record_error(
                &self.key,
                last,
                start,
                true,
                None,
                Error::Malformed {
                    format: "avro",
                    message: format!(
                        "the block of records {first}..={last} cannot be decompressed ({}): {e}",
                        codec_name(codec)
                    ),
                },
            ))]
            .into_iter();
            return Ok(());
        }
        self.block = self
            .decode(&mapping, &data, first, count, start)
            .into_iter();
        Ok(())
    }

    /// Decodes the records of one block, from `max(first, skip)` on.
    fn decode(
        &self,
        mapping: &Mapping,
        data: &[u8],
        first: u64,
        count: u64,
        start: u64,
    ) -> Vec<Pending> {
        let reader =
            match apache_avro::reader::datum::GenericDatumReader::builder(&mapping.avro).build() {
                Ok(r) => r,
                Err(e) => {
                    return vec![Err(record_error(
                        &self.key,
                        first + count - 1,
                        start,
                        true,
                        None,
                        Error::Avro {
                            source: Box::new(e),
                        },
                    ))]
                }
            };
        let mut cursor = std::io::Cursor::new(data);
        let mut out = Vec::new();
        for i in 0..count {
            let index = first + i;
            match reader.read_value(&mut cursor) {
                Ok(v) => {
                    if index >= self.skip {
                        out.push(Ok((index, start, v)));
                    }
                }
                Err(e) => {
                    // Records have no delimiters: the rest of the block cannot be read.
                    let last = first + count - 1;
                    out.push(Err(record_error(
                        &self.key,
                        last,
                        start,
                        true,
                        None,
                        Error::Malformed {
                            format: "avro",
                            message: format!("record {index} of the block of records {first}..={last} cannot be decoded, nor the rest of the block: {e}"),
                        },
                    )));
                    return out;
                }
            }
        }
        out
    }

    async fn check_sync(
        &mut self,
        start: u64,
        first: u64,
        sync: &[u8; 16],
    ) -> sluice_core::Result<()> {
        let marker = self.reader.exact(16).await.map_err(|e| {
            record_error(
                &self.key,
                first,
                start,
                false,
                None,
                e.into_error("a block's sync marker"),
            )
        })?;
        if &marker[..] != sync {
            return Err(record_error(
                &self.key,
                first,
                start,
                false,
                None,
                Error::Malformed {
                    format: "avro",
                    message:
                        "a block does not end with the file's sync marker: the file is corrupt"
                            .into(),
                },
            ));
        }
        Ok(())
    }

    /// A corrupt block at `start`: reported as one error covering `count` records, then reading
    /// goes on after the next sync marker (or ends when there is none).
    async fn resync(
        &mut self,
        start: u64,
        first: u64,
        sync: &[u8; 16],
        count: u64,
        why: &str,
    ) -> sluice_core::Result<()> {
        let found = self.reader.seek_past(sync).await.map_err(|e| {
            record_error(
                &self.key,
                first,
                start,
                false,
                None,
                e.into_error("a corrupt block"),
            )
        })?;
        self.index += count;
        let last = first + count - 1;
        let error = record_error(
            &self.key,
            last,
            start,
            found,
            None,
            Error::Malformed {
                format: "avro",
                message: format!(
                    "{why}; records {first}..={last} are lost{}",
                    if found {
                        ", reading goes on at the next block"
                    } else {
                        " and no later block was found"
                    }
                ),
            },
        );
        if !found {
            self.done = true;
        }
        // Records before the resume point were handled before the restart, this error too.
        if last >= self.skip || !found {
            self.block = vec![Err(error)].into_iter();
        }
        Ok(())
    }

    /// The Connect record for `value`, record `index` of the block at `offset`.
    fn convert(
        &self,
        index: u64,
        offset: u64,
        value: AvroValue,
    ) -> sluice_core::Result<SchemaAndValue> {
        let mapping = &self.header.as_ref().expect("header read").mapping;
        mapping
            .value(&mapping.avro, &mapping.connect, value)
            .map(|v| SchemaAndValue::new(mapping.connect.clone(), v))
            .map_err(|message| {
                record_error(
                    &self.key,
                    index,
                    offset,
                    true,
                    None,
                    Error::UnmappableValue { message },
                )
            })
    }
}

fn codec_name(codec: Codec) -> &'static str {
    codec.into()
}

impl Mapping {
    fn new(avro: AvroSchema) -> Result<Self, String> {
        let mut names = HashMap::new();
        collect_names(&avro, None, &mut names);
        let mut mapping = Mapping {
            avro,
            connect: Schema::string(),
            names,
        };
        let mut stack = Vec::new();
        mapping.connect = mapping.schema(&mapping.avro, false, &mut stack, "$")?;
        Ok(mapping)
    }

    fn resolve<'a>(&'a self, s: &'a AvroSchema) -> Result<&'a AvroSchema, String> {
        match s {
            AvroSchema::Ref { name } => self
                .names
                .get(&name.fullname(None))
                .ok_or_else(|| format!("unknown type {:?}", name.fullname(None))),
            other => Ok(other),
        }
    }

    /// The Connect schema for `s` (optional when `optional`); `stack` holds the records being
    /// mapped, to refuse recursion; `path` names the field for messages.
    fn schema(
        &self,
        s: &AvroSchema,
        optional: bool,
        stack: &mut Vec<String>,
        path: &str,
    ) -> Result<Schema, String> {
        let opt = |b: SchemaBuilder| if optional { b.optional() } else { b };
        if let AvroSchema::Ref { name } = s {
            let full = name.fullname(None);
            if stack.contains(&full) {
                return Err(format!(
                    "{path}: the record {full:?} contains itself; Connect schemas cannot be recursive"
                ));
            }
        }
        let s = self.resolve(s)?;
        Ok(match s {
            AvroSchema::Null => SchemaBuilder::new(Type::String).optional().build(),
            AvroSchema::Boolean => opt(SchemaBuilder::new(Type::Boolean)).build(),
            AvroSchema::Int => opt(SchemaBuilder::new(Type::Int32)).build(),
            AvroSchema::Long => opt(SchemaBuilder::new(Type::Int64)).build(),
            AvroSchema::Float => opt(SchemaBuilder::new(Type::Float32)).build(),
            AvroSchema::Double => opt(SchemaBuilder::new(Type::Float64)).build(),
            AvroSchema::Bytes => opt(SchemaBuilder::new(Type::Bytes)).build(),
            AvroSchema::String | AvroSchema::Uuid(_) | AvroSchema::BigDecimal => {
                opt(SchemaBuilder::new(Type::String)).build()
            }
            AvroSchema::Array(a) => {
                let items = self.schema(&a.items, false, stack, &format!("{path}[]"))?;
                opt(SchemaBuilder::array(items)).build()
            }
            AvroSchema::Map(m) => {
                let values = self.schema(&m.types, false, stack, &format!("{path}{{}}"))?;
                opt(SchemaBuilder::map(Schema::string(), values)).build()
            }
            AvroSchema::Union(u) => self.union_schema(u, optional, stack, path)?,
            AvroSchema::Record(r) => {
                let full = r.name.fullname(None);
                if stack.contains(&full) {
                    return Err(format!(
                        "{path}: the record {full:?} contains itself; Connect schemas cannot be recursive"
                    ));
                }
                stack.push(full.clone());
                let mut b = SchemaBuilder::struct_().name(full);
                // The docs, where Confluent's AvroData keeps them (`connect.meta.data`), so the
                // AvroConverter writes them back.
                if let Some(doc) = &r.doc {
                    b = b.parameter(RECORD_DOC_PARAM, doc.clone());
                }
                for f in &r.fields {
                    if let Some(doc) = &f.doc {
                        b = b.parameter(format!("{FIELD_DOC_PARAM}{}", f.name), doc.clone());
                    }
                }
                for f in &r.fields {
                    let fs = self.schema(&f.schema, false, stack, &format!("{path}.{}", f.name))?;
                    b = b.field(f.name.clone(), fs);
                }
                stack.pop();
                opt(b).try_build().map_err(|e| format!("{path}: {e}"))?
            }
            AvroSchema::Enum(e) => {
                let full = e.name.fullname(None);
                let mut b = SchemaBuilder::new(Type::String)
                    .name(full.clone())
                    .parameter(ENUM_PARAM, full);
                for sym in &e.symbols {
                    b = b.parameter(format!("{ENUM_PARAM}.{sym}"), sym.clone());
                }
                opt(b).build()
            }
            AvroSchema::Fixed(f) | AvroSchema::Duration(f) => opt(SchemaBuilder::new(Type::Bytes)
                .name(f.name.fullname(None))
                .parameter(FIXED_SIZE_PARAM, f.size.to_string()))
            .build(),
            AvroSchema::Decimal(d) => opt(logical::decimal(d.scale as i32)
                .parameter(PRECISION_PARAM, d.precision.to_string()))
            .build(),
            AvroSchema::Date => opt(logical::date()).build(),
            AvroSchema::TimeMillis | AvroSchema::TimeMicros => opt(logical::time()).build(),
            AvroSchema::TimestampMillis
            | AvroSchema::TimestampMicros
            | AvroSchema::TimestampNanos
            | AvroSchema::LocalTimestampMillis
            | AvroSchema::LocalTimestampMicros
            | AvroSchema::LocalTimestampNanos => opt(logical::timestamp()).build(),
            AvroSchema::Ref { .. } => unreachable!("resolved above"),
        })
    }

    /// `[null, T]` → optional T; `[null]` → optional string (always null); other unions → a
    /// struct with one optional field per non-null branch (Confluent's union struct).
    fn union_schema(
        &self,
        u: &UnionSchema,
        optional: bool,
        stack: &mut Vec<String>,
        path: &str,
    ) -> Result<Schema, String> {
        let nullable = u.variants().iter().any(|v| matches!(v, AvroSchema::Null));
        let branches: Vec<&AvroSchema> = u
            .variants()
            .iter()
            .filter(|v| !matches!(v, AvroSchema::Null))
            .collect();
        match branches.as_slice() {
            [] => Ok(Schema::optional_string()),
            [only] => self.schema(only, nullable || optional, stack, path),
            many => {
                let mut b = SchemaBuilder::struct_().name(UNION_NAME);
                for (name, branch) in self.branch_names(many)?.into_iter().zip(many) {
                    let fs = self.schema(branch, true, stack, &format!("{path}.{name}"))?;
                    b = b.field(name, fs);
                }
                if nullable || optional {
                    b = b.optional();
                }
                b.try_build().map_err(|e| format!("{path}: {e}"))
            }
        }
    }

    /// The union struct's field names: the type name (`int`, `string`, `array`, ...) or a named
    /// type's simple name (its full name when two would be equal).
    fn branch_names(&self, branches: &[&AvroSchema]) -> Result<Vec<String>, String> {
        let simple: Vec<(String, String)> = branches
            .iter()
            .map(|b| -> Result<(String, String), String> {
                let r = self.resolve(b)?;
                Ok(match named(r) {
                    Some(n) => (n.name().to_owned(), n.fullname(None)),
                    None => {
                        let t = type_name(r).to_owned();
                        (t.clone(), t)
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(simple
            .iter()
            .map(|(s, full)| {
                if simple.iter().filter(|(o, _)| o == s).count() > 1 {
                    full.clone()
                } else {
                    s.clone()
                }
            })
            .collect())
    }

    /// The Connect value of `v`, written with schema `s` and mapped to `c`.
    fn value(&self, s: &AvroSchema, c: &Schema, v: AvroValue) -> Result<Value, String> {
        let s = self.resolve(s)?;
        if let AvroSchema::Union(u) = s {
            let AvroValue::Union(i, inner) = v else {
                return Err(format!("a {} value for a union", value_kind(&v)));
            };
            let branch = u
                .variants()
                .get(i as usize)
                .ok_or_else(|| format!("union branch {i} does not exist"))?;
            if matches!(*inner, AvroValue::Null) {
                return Ok(Value::Null);
            }
            if c.name() == Some(UNION_NAME) && c.type_() == Type::Struct {
                let branches: Vec<&AvroSchema> = u
                    .variants()
                    .iter()
                    .filter(|v| !matches!(v, AvroSchema::Null))
                    .collect();
                let pos = u.variants()[..i as usize]
                    .iter()
                    .filter(|v| !matches!(v, AvroSchema::Null))
                    .count();
                let name = self.branch_names(&branches)?.swap_remove(pos);
                let field = c.field(&name).ok_or("union field missing")?;
                let fv = self.value(branch, field.schema(), *inner)?;
                let mut st = Struct::new(c.clone()).map_err(|e| e.to_string())?;
                st.set(&name, fv).map_err(|e| e.to_string())?;
                return Ok(Value::Struct(st));
            }
            return self.value(branch, c, *inner);
        }
        Ok(match (s, v) {
            (_, AvroValue::Null) => Value::Null,
            (_, AvroValue::Boolean(b)) => Value::Boolean(b),
            (_, AvroValue::Int(i)) => Value::Int32(i),
            (_, AvroValue::Long(l)) => Value::Int64(l),
            (_, AvroValue::Float(f)) => Value::Float32(f),
            (_, AvroValue::Double(d)) => Value::Float64(d),
            (_, AvroValue::Bytes(b)) => Value::Bytes(b),
            (_, AvroValue::String(s)) => Value::String(s),
            (_, AvroValue::Fixed(_, b)) => Value::Bytes(b),
            (_, AvroValue::Enum(_, sym)) => Value::String(sym),
            (AvroSchema::Array(a), AvroValue::Array(items)) => {
                let es = c.value_schema().ok_or("array schema without items")?;
                Value::Array(
                    items
                        .into_iter()
                        .map(|i| self.value(&a.items, es, i))
                        .collect::<Result<_, _>>()?,
                )
            }
            (AvroSchema::Map(m), AvroValue::Map(entries)) => {
                let vs = c.value_schema().ok_or("map schema without values")?;
                let mut entries: Vec<(String, AvroValue)> = entries.into_iter().collect();
                // Avro maps are unordered; a stable order makes records reproducible.
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| Ok((Value::String(k), self.value(&m.types, vs, v)?)))
                        .collect::<Result<_, String>>()?,
                )
            }
            (AvroSchema::Record(r), AvroValue::Record(fields)) => {
                Value::Struct(self.record(r, c, fields)?)
            }
            (_, AvroValue::Date(d)) => Value::Int32(d),
            (_, AvroValue::TimeMillis(t)) => Value::Int32(t),
            (_, AvroValue::TimeMicros(t)) => Value::Int32(
                i32::try_from(t.div_euclid(1000))
                    .map_err(|_| format!("time-micros {t} is out of range"))?,
            ),
            (_, AvroValue::TimestampMillis(t) | AvroValue::LocalTimestampMillis(t)) => {
                Value::Int64(t)
            }
            (_, AvroValue::TimestampMicros(t) | AvroValue::LocalTimestampMicros(t)) => {
                Value::Int64(t.div_euclid(1000))
            }
            (_, AvroValue::TimestampNanos(t) | AvroValue::LocalTimestampNanos(t)) => {
                Value::Int64(t.div_euclid(1_000_000))
            }
            (_, AvroValue::Decimal(d)) => {
                let bytes: Vec<u8> = d
                    .try_into()
                    .map_err(|e: apache_avro::Error| e.to_string())?;
                Value::Bytes(minimal_twos_complement(&bytes))
            }
            (_, AvroValue::BigDecimal(d)) => Value::String(d.to_string()),
            (_, AvroValue::Uuid(u)) => Value::String(u.to_string()),
            (_, AvroValue::Duration(d)) => Value::Bytes(<[u8; 12]>::from(&d).to_vec()),
            (s, v) => {
                return Err(format!(
                    "a {} value does not match its {} schema",
                    value_kind(&v),
                    type_name(s)
                ))
            }
        })
    }

    fn record(
        &self,
        r: &RecordSchema,
        c: &Schema,
        fields: Vec<(String, AvroValue)>,
    ) -> Result<Struct, String> {
        let mut st = Struct::new(c.clone()).map_err(|e| e.to_string())?;
        for ((name, v), f) in fields.into_iter().zip(&r.fields) {
            let field = c.field(&name).ok_or_else(|| format!("no field {name:?}"))?;
            let value = self.value(&f.schema, field.schema(), v)?;
            st.set(&name, value)
                .map_err(|e| format!("field {name:?}: {e}"))?;
        }
        Ok(st)
    }
}

/// Every named type of `s`, by full name.
fn collect_names(s: &AvroSchema, _ns: Option<&str>, out: &mut HashMap<String, AvroSchema>) {
    match s {
        AvroSchema::Record(r) => {
            out.insert(r.name.fullname(None), s.clone());
            for f in &r.fields {
                collect_names(&f.schema, None, out);
            }
        }
        AvroSchema::Enum(e) => {
            out.insert(e.name.fullname(None), s.clone());
        }
        AvroSchema::Fixed(f) | AvroSchema::Duration(f) => {
            out.insert(f.name.fullname(None), s.clone());
        }
        AvroSchema::Decimal(d) => {
            if let apache_avro::schema::InnerDecimalSchema::Fixed(f) = &d.inner {
                out.insert(f.name.fullname(None), AvroSchema::Fixed(f.clone()));
            }
        }
        AvroSchema::Uuid(apache_avro::schema::UuidSchema::Fixed(f)) => {
            out.insert(f.name.fullname(None), AvroSchema::Fixed(f.clone()));
        }
        AvroSchema::Array(a) => collect_names(&a.items, None, out),
        AvroSchema::Map(m) => collect_names(&m.types, None, out),
        AvroSchema::Union(u) => {
            for v in u.variants() {
                collect_names(v, None, out);
            }
        }
        _ => {}
    }
}

fn named(s: &AvroSchema) -> Option<&Name> {
    match s {
        AvroSchema::Record(r) => Some(&r.name),
        AvroSchema::Enum(e) => Some(&e.name),
        AvroSchema::Fixed(f) | AvroSchema::Duration(f) => Some(&f.name),
        _ => None,
    }
}

fn type_name(s: &AvroSchema) -> &'static str {
    match s {
        AvroSchema::Null => "null",
        AvroSchema::Boolean => "boolean",
        AvroSchema::Int | AvroSchema::Date | AvroSchema::TimeMillis => "int",
        AvroSchema::Long
        | AvroSchema::TimeMicros
        | AvroSchema::TimestampMillis
        | AvroSchema::TimestampMicros
        | AvroSchema::TimestampNanos
        | AvroSchema::LocalTimestampMillis
        | AvroSchema::LocalTimestampMicros
        | AvroSchema::LocalTimestampNanos => "long",
        AvroSchema::Float => "float",
        AvroSchema::Double => "double",
        AvroSchema::Bytes | AvroSchema::BigDecimal => "bytes",
        AvroSchema::Decimal(d) => match d.inner {
            apache_avro::schema::InnerDecimalSchema::Bytes => "bytes",
            apache_avro::schema::InnerDecimalSchema::Fixed(_) => "fixed",
        },
        AvroSchema::String => "string",
        AvroSchema::Uuid(u) => match u {
            apache_avro::schema::UuidSchema::String => "string",
            apache_avro::schema::UuidSchema::Bytes => "bytes",
            apache_avro::schema::UuidSchema::Fixed(_) => "fixed",
        },
        AvroSchema::Array(_) => "array",
        AvroSchema::Map(_) => "map",
        AvroSchema::Union(_) => "union",
        AvroSchema::Record(_) => "record",
        AvroSchema::Enum(_) => "enum",
        AvroSchema::Fixed(_) | AvroSchema::Duration(_) => "fixed",
        AvroSchema::Ref { .. } => "reference",
    }
}

fn value_kind(v: &AvroValue) -> &'static str {
    match v {
        AvroValue::Null => "null",
        AvroValue::Boolean(_) => "boolean",
        AvroValue::Int(_) => "int",
        AvroValue::Long(_) => "long",
        AvroValue::Float(_) => "float",
        AvroValue::Double(_) => "double",
        AvroValue::Bytes(_) => "bytes",
        AvroValue::String(_) => "string",
        AvroValue::Fixed(..) => "fixed",
        AvroValue::Enum(..) => "enum",
        AvroValue::Union(..) => "union",
        AvroValue::Array(_) => "array",
        AvroValue::Map(_) => "map",
        AvroValue::Record(_) => "record",
        _ => "logical",
    }
}

/// `bytes` (big-endian two's complement) without redundant leading sign bytes, as Java's
/// `BigInteger.toByteArray` writes it (Connect's Decimal bytes).
pub(crate) fn minimal_twos_complement(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return vec![0];
    }
    let mut start = 0;
    while start + 1 < bytes.len() {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::chunked;
    use apache_avro::Writer;
    use futures::executor::block_on;
    use futures::StreamExt;

    const SCHEMA: &str = r#"{"type":"record","name":"R","namespace":"ns","fields":[
        {"name":"id","type":"long"},
        {"name":"name","type":["null","string"]},
        {"name":"u","type":["int","string","null"]},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
        {"name":"m","type":{"type":"map","values":"int"}},
        {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
        {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}}
    ]}"#;

    fn file(codec: Codec, n: i64, per_block: usize) -> Vec<u8> {
        let schema = AvroSchema::parse_str(SCHEMA).unwrap();
        let mut w = Writer::builder()
            .schema(&schema)
            .writer(Vec::new())
            .codec(codec)
            .block_size(per_block)
            .build()
            .unwrap();
        for i in 0..n {
            let mut m = HashMap::new();
            m.insert("b".to_string(), AvroValue::Int(2));
            m.insert("a".to_string(), AvroValue::Int(1));
            let rec = AvroValue::Record(vec![
                ("id".into(), AvroValue::Long(i)),
                (
                    "name".into(),
                    if i % 2 == 0 {
                        AvroValue::Union(1, Box::new(AvroValue::String(format!("n{i}"))))
                    } else {
                        AvroValue::Union(0, Box::new(AvroValue::Null))
                    },
                ),
                (
                    "u".into(),
                    AvroValue::Union(0, Box::new(AvroValue::Int(i as i32))),
                ),
                ("e".into(), AvroValue::Enum(1, "B".into())),
                ("m".into(), AvroValue::Map(m)),
                (
                    "d".into(),
                    AvroValue::Decimal(apache_avro::Decimal::from(vec![0x00, 0x00, 0x7b])),
                ),
                ("ts".into(), AvroValue::TimestampMicros(-1500)),
            ]);
            w.append_value(rec).unwrap();
        }
        w.into_inner().unwrap()
    }

    fn run(data: &[u8], cuts: &[usize], skip: u64) -> Vec<sluice_core::Result<SchemaAndValue>> {
        let t = AvroTransformer::new(&TransformerOptions::default()).unwrap();
        block_on(
            t.records("o.avro".into(), chunked(data, cuts), skip)
                .collect::<Vec<_>>(),
        )
    }

    fn ids(items: &[sluice_core::Result<SchemaAndValue>]) -> Vec<Result<i64, String>> {
        items
            .iter()
            .map(|r| match r {
                Ok(sv) => match &sv.value {
                    Value::Struct(s) => match s.get("id") {
                        Some(Value::Int64(i)) => Ok(*i),
                        other => panic!("{other:?}"),
                    },
                    other => panic!("{other:?}"),
                },
                Err(e) => Err(e.to_string()),
            })
            .collect()
    }

    #[test]
    fn record_and_field_docs_become_avro_data_parameters() {
        let schema = AvroSchema::parse_str(
            r#"{"type":"record","name":"Doc","namespace":"ns","doc":"a record",
                "fields":[{"name":"a","type":"long","doc":"the a"},{"name":"b","type":"long"}]}"#,
        )
        .unwrap();
        let mut w = Writer::builder()
            .schema(&schema)
            .writer(Vec::new())
            .build()
            .unwrap();
        w.append_value(AvroValue::Record(vec![
            ("a".into(), AvroValue::Long(1)),
            ("b".into(), AvroValue::Long(2)),
        ]))
        .unwrap();
        let data = w.into_inner().unwrap();
        let items = run(&data, &[], 0);
        let schema = items[0].as_ref().unwrap().schema.clone().unwrap();
        let params: Vec<(&str, &str)> = schema
            .parameters()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            params,
            [
                ("io.confluent.connect.avro.field.doc.a", "the a"),
                ("io.confluent.connect.avro.record.doc", "a record")
            ]
        );
    }

    #[test]
    fn maps_types_and_values() {
        let data = file(Codec::Null, 2, 100);
        let items = run(&data, &[1, 7, 30], 0);
        assert_eq!(items.len(), 2);
        let sv = items[0].as_ref().unwrap();
        let schema = sv.schema.as_ref().unwrap();
        assert_eq!(schema.name(), Some("ns.R"));
        assert_eq!(
            schema.field("name").unwrap().schema(),
            &Schema::optional_string()
        );
        let u = schema.field("u").unwrap().schema();
        assert_eq!(u.name(), Some(UNION_NAME));
        assert!(u.is_optional());
        assert_eq!(
            u.fields().iter().map(|f| f.name()).collect::<Vec<_>>(),
            ["int", "string"]
        );
        assert_eq!(schema.field("e").unwrap().schema().name(), Some("ns.E"));
        let Value::Struct(s) = &sv.value else {
            panic!()
        };
        assert_eq!(s.get("name"), Some(&Value::from("n0")));
        assert_eq!(s.get("e"), Some(&Value::from("B")));
        assert_eq!(
            s.get("m"),
            Some(&Value::Map(vec![
                (Value::from("a"), Value::Int32(1)),
                (Value::from("b"), Value::Int32(2))
            ]))
        );
        assert_eq!(s.get("d"), Some(&logical::decimal_value(123)));
        assert_eq!(s.get("ts"), Some(&Value::Int64(-2)));
        let Value::Struct(union) = s.get("u").unwrap() else {
            panic!()
        };
        assert_eq!(union.get("int"), Some(&Value::Int32(0)));
        let Value::Struct(s1) = &items[1].as_ref().unwrap().value else {
            panic!()
        };
        assert_eq!(s1.get("name"), Some(&Value::Null));
    }

    #[test]
    fn every_codec_reads_and_resumes_by_block() {
        for codec in [
            Codec::Null,
            Codec::Deflate(Default::default()),
            Codec::Snappy,
            Codec::Zstandard(Default::default()),
            Codec::Bzip2(Default::default()),
            Codec::Xz(Default::default()),
        ] {
            let data = file(codec, 300, 200);
            let all = ids(&run(&data, &[100, 101, 2000], 0));
            assert_eq!(all, (0..300).map(Ok).collect::<Vec<_>>(), "{codec:?}");
            for skip in [1u64, 17, 150, 299, 300, 301] {
                let resumed = ids(&run(&data, &[333], skip));
                assert_eq!(
                    resumed[..],
                    all[(skip as usize).min(300)..],
                    "{codec:?} skip {skip}"
                );
            }
        }
    }

    #[test]
    fn corrupt_files() {
        // Bad magic.
        let items = run(b"PAR1xxxx", &[], 0);
        let e = items[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("bad magic"), "{e}");
        assert_eq!(items.len(), 1);
        // Empty object.
        let e = run(b"", &[], 0)[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        // Truncated in a block.
        let data = file(Codec::Null, 300, 200);
        let items = run(&data[..data.len() - 100], &[], 0);
        let last = items.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(last.contains("truncated"), "{last}");
        assert!(items.len() > 1);
        // A damaged block: the next blocks are still read.
        let data = file(Codec::Snappy, 300, 200);
        let mut bad = data.clone();
        let mid = bad.len() / 2;
        for b in &mut bad[mid..mid + 8] {
            *b ^= 0xff;
        }
        let items = run(&bad, &[], 0);
        let errors: Vec<&sluice_core::Error> =
            items.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(!errors.is_empty());
        assert!(
            matches!(
                errors[0],
                sluice_core::Error::Record {
                    recoverable: true,
                    ..
                }
            ),
            "{:?}",
            errors[0]
        );
        let good = ids(&items).into_iter().filter(|r| r.is_ok()).count();
        assert!(good > 200 && good < 300, "{good}");
        // Indexes keep counting: the last record is still 299.
        assert_eq!(ids(&items).last().unwrap(), &Ok(299));
    }

    #[test]
    fn resuming_over_bad_blocks_yields_the_same_items() {
        let data = file(Codec::Snappy, 300, 200);
        let mut bad = data.clone();
        let mid = bad.len() / 2;
        for b in &mut bad[mid..mid + 40] {
            *b ^= 0xff;
        }
        let render = |items: Vec<sluice_core::Result<SchemaAndValue>>, start: u64| {
            let mut next = start;
            items
                .into_iter()
                .map(|r| match r {
                    Ok(sv) => {
                        next += 1;
                        let Value::Struct(st) = &sv.value else {
                            panic!("{sv:?}")
                        };
                        (next - 1, format!("{:?}", st.get("id")))
                    }
                    Err(sluice_core::Error::Record {
                        record_index,
                        source,
                        ..
                    }) => {
                        next = record_index + 1;
                        (record_index, source.to_string())
                    }
                    Err(e) => panic!("{e}"),
                })
                .collect::<Vec<(u64, String)>>()
        };
        let full = render(run(&bad, &[], 0), 0);
        assert!(full.iter().any(|(_, s)| !s.starts_with("Some")));
        for skip in 0..300u64 {
            let resumed = render(run(&bad, &[1000], skip), skip);
            let expected: Vec<_> = full.iter().filter(|(i, _)| *i >= skip).cloned().collect();
            assert_eq!(resumed, expected, "skip {skip}");
        }
        // Blocks over the limit: one error each, passed over.
        let t = AvroTransformer::new(&TransformerOptions {
            max_record_size: 100,
            ..Default::default()
        })
        .unwrap();
        let items = block_on(
            t.records("o.avro".into(), chunked(&data, &[]), 0)
                .collect::<Vec<_>>(),
        );
        // Nearly every block is over 100 bytes (compressed sizes vary a little with the map order).
        let errors = items.iter().filter(|r| r.is_err()).count();
        assert!(errors >= 25, "{errors} errors of {}", items.len());
        let e = items[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("more than the limit of 100 bytes"), "{e}");
    }

    #[test]
    fn recursive_schemas_cannot_be_mapped() {
        let schema = AvroSchema::parse_str(
            r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#,
        )
        .unwrap();
        let w = Writer::new(&schema, Vec::new()).unwrap();
        let data = w.into_inner().unwrap();
        let items = run(&data, &[], 0);
        let e = items[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("contains itself"), "{e}");
    }

    #[test]
    fn decimals_are_minimal() {
        assert_eq!(minimal_twos_complement(&[0xff, 0xff, 0x80]), vec![0x80]);
        assert_eq!(
            minimal_twos_complement(&[0x00, 0x00, 0x80]),
            vec![0x00, 0x80]
        );
        assert_eq!(minimal_twos_complement(&[0x00]), vec![0x00]);
    }
}
