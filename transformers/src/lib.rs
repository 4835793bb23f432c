//! Sluice transformers: turn an object's bytes into Kafka Connect records.
//!
//! This is an implementation crate with no stability promise: its items change whenever Sluice
//! needs them to. Programs built on Sluice (their own backend, format, converter or transform)
//! use `sluice-api`, the one documented, stable surface, which re-exports what they need.
//!
//! A transformer is chosen by the connector's `input.format` through [`build`] (or
//! [`build_from_config`]), one module per format:
//!
//! * `avro` — Avro object container files, read block by block; every Avro type maps to a
//!   Connect schema.
//! * `parquet` — Parquet files read with range requests: the footer, then only the row groups
//!   needed, never the whole object.
//! * `jsonl` — one JSON value per line (JSON Lines). Values are schemaless by default, exactly as
//!   Kafka Connect's `JsonConverter` with `schemas.enable=false` reads them; with
//!   [`TransformerOptions::infer_schema`] a Connect schema is inferred for each record instead.
//! * `json` — one JSON document per object, or a top-level array streamed element by element.
//! * `csv` — delimited text with a header row or configured column names, typed columns.
//! * `text` — one record per line, per line matching a regex, or per text between markers.
//! * `bytes` — the object cut into fixed-size chunks of [`TransformerOptions::max_buffer_size`]
//!   bytes, or the whole object as one record.
//!
//! Every format but `parquet` reads the object as one byte stream, decompressed on the way
//! ([`Compression`], `file.compression.type`). Every transformer streams: memory stays bounded
//! by one record (at most [`TransformerOptions::max_record_size`]), one Avro block or one Parquet
//! row group, plus a few chunks of the store's byte stream, whatever the object's size. Resuming
//! with `skip` records does not build the skipped records (Avro skips whole blocks, Parquet whole
//! row groups).
//!
//! A bad record is reported as a [`sluice_core::Error::Record`] whose source is this crate's
//! [`Error`]; a recoverable one is followed by the next records of the object.
//!
//! See `docs/formats.md` for each format's options, schema mapping and limits.
#![warn(missing_docs)]

use std::future::Future;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use sluice_core::config::defs::{self, key};
use sluice_core::config::{ConnectorConfig, KeySet, Keys, Owner, Registry, Settings};
use sluice_core::data::SchemaAndValue;
use sluice_core::object::{ByteStream, ObjectInput};
use sluice_core::transformer::{RecordStream, Transformer};

mod avro;
mod bytes;
mod compression;
mod csv;
mod cursor;
mod encoding;
mod error;
mod json;
mod json_plain;
mod json_value;
mod jsonl;
mod lines;
mod parquet;
mod tail;
mod text;

pub use compression::Compression;
pub use csv::{ColumnType, CsvOptions, CsvSettings};
pub use error::Error;
pub use text::{TextMode, TextOptions, TextSettings};

/// The keys several formats read (record size, compression, JSON schema inference).
const SHARED_KEYS: KeySet = KeySet {
    owner: Owner::Formats,
    doc: "Keys read by several formats.",
    keys: &[
        key(
            "file.compression.type",
            defs::Kind::Enum(Compression::NAMES),
            "none",
            "Compression of the objects, undone while streaming: `none`, `gzip` (multi-member too), `zstd`, `snappy` (framing format), `bzip2`, `lz4` (frame format), `deflate` (zlib or raw), or `auto` (per object: from the key's extension, else from its `Content-Encoding`, else from the magic number, else none). Not used by `parquet`, whose pages carry their own compression.",
        ),
        key(
            "transformer.max.record.size",
            defs::POSITIVE,
            "16777216",
            "Largest record in bytes: a `jsonl` line, a `json` document or array element, a `csv` row, a `text` record, an `avro` block, or the whole object for `bytes` with `transformer.bytes.mode=object`. A longer one is a record error (see `errors.tolerance`), skipped without being held in memory.",
        ),
        key(
            "transformer.json.infer.schema",
            defs::Kind::Bool,
            "false",
            "`jsonl` and `json` formats: infer a Connect schema for each record (objects become structs) instead of schemaless values.",
        ),
    ],
    prefixes: &[],
    check: None,
};

/// The keys of every format of this crate, each declared in its own module: the one
/// registration point of a format (with its constructor in [`build`]).
pub fn keys() -> Vec<KeySet> {
    vec![
        SHARED_KEYS,
        jsonl::KEYS,
        bytes::KEYS,
        json::KEYS,
        csv::KEYS,
        text::KEYS,
        avro::KEYS,
        parquet::KEYS,
    ]
}

/// The formats [`build`] knows, as spelled in `input.format`.
pub fn formats() -> Vec<&'static str> {
    keys()
        .iter()
        .filter_map(|s| match s.owner {
            Owner::Format(name) => Some(name),
            _ => None,
        })
        .collect()
}

/// At most this many bytes of a bad record are kept in [`sluice_core::Error::Record`]'s `raw`
/// (for the dead letter queue): 1 MiB.
pub const MAX_RAW_BYTES: usize = 1024 * 1024;

/// `bytes` format: how an object is cut into records (`transformer.bytes.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BytesMode {
    /// Records of [`TransformerOptions::max_buffer_size`] bytes (`chunks`).
    #[default]
    Chunks,
    /// The whole object as one record, at most [`TransformerOptions::max_record_size`] bytes
    /// (`object`).
    Object,
}

/// Settings shared by the transformers; each format reads the ones it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformerOptions {
    /// `bytes` format: chunk size in bytes (`transformer.max.buffer.size`, default 4096).
    /// Must be positive.
    pub max_buffer_size: usize,
    /// Largest record in bytes (`transformer.max.record.size`, default 16 MiB): a `jsonl` line (without its terminator), a `json` document or
    /// array element, a `csv` row, a `text` record, an `avro` block, a whole object for `bytes`
    /// in [`BytesMode::Object`]. A longer one is a record error and is skipped without being held
    /// in memory. Must be positive.
    pub max_record_size: usize,
    /// `jsonl` and `json` formats: infer a Connect schema for each record instead of emitting
    /// schemaless values (`transformer.json.infer.schema`, default false).
    pub infer_schema: bool,
    /// How objects are compressed (`file.compression.type`, default none). Not used by
    /// `parquet`.
    pub compression: Compression,
    /// `json` format: stream a top-level array element by element (`transformer.json.split.array`,
    /// default true).
    pub json_split_array: bool,
    /// `bytes` format: chunks or whole objects (`transformer.bytes.mode`).
    pub bytes_mode: BytesMode,
    /// `csv` format settings (`csv.*`).
    pub csv: CsvOptions,
    /// `text` format settings (`read.text.*`).
    pub text: TextOptions,
}

impl Default for TransformerOptions {
    /// The defaults the keys declare (defined once, in the key declarations).
    fn default() -> Self {
        Self::from_settings(&Settings::new())
            .expect("the declared defaults are valid options (tested)")
    }
}

impl TransformerOptions {
    /// The options a validated connector configuration asks for.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key when a format setting cannot be used (a CSV character or
    /// column type that does not parse, a text mode without its markers, ...).
    pub fn from_config(config: &ConnectorConfig) -> Result<Self, Error> {
        Self::from_settings(&config.settings)
    }

    /// The options `settings` ask for, read with this crate's key declarations.
    ///
    /// # Errors
    /// As [`TransformerOptions::from_config`].
    pub fn from_settings(settings: &Settings) -> Result<Self, Error> {
        let registry = Registry::new(keys())?;
        Self::from_keys(&Keys::new(&registry, settings))
    }

    /// The options the format keys of `r` ask for.
    ///
    /// # Errors
    /// As [`TransformerOptions::from_config`], and [`Error::Settings`] when `r`'s registry lacks
    /// a format key.
    pub fn from_keys(r: &Keys<'_>) -> Result<Self, Error> {
        let bytes_mode = r.string("transformer.bytes.mode")?.unwrap_or_default();
        Ok(TransformerOptions {
            max_buffer_size: r.int("transformer.max.buffer.size")? as usize,
            max_record_size: r.int("transformer.max.record.size")? as usize,
            infer_schema: r.bool("transformer.json.infer.schema")?,
            compression: Compression::parse(r.raw("file.compression.type")?.unwrap_or("none"))?,
            json_split_array: r.bool("transformer.json.split.array")?,
            bytes_mode: match bytes_mode.as_str() {
                "object" => BytesMode::Object,
                "chunks" => BytesMode::Chunks,
                other => {
                    return Err(Error::Config {
                        key: "transformer.bytes.mode",
                        message: format!("{other:?} is not one of chunks, object"),
                    })
                }
            },
            csv: CsvOptions::from_settings(&CsvSettings::read(r)?)?,
            text: TextOptions::from_settings(&TextSettings::read(r)?)?,
        })
    }
}

/// The transformer `config` asks for (`input.format` and the format's settings).
///
/// # Errors
/// As [`TransformerOptions::from_config`] and [`build`].
pub fn build_from_config(config: &ConnectorConfig) -> Result<Arc<dyn Transformer>, Error> {
    build(
        &config.input_format,
        &TransformerOptions::from_config(config)?,
    )
}

/// The transformer for `format` (a value of `input.format`, one of [`formats`]).
///
/// # Errors
/// [`Error::Config`] when `format` is unknown (the message lists the supported formats and
/// suggests the nearest one) or when an option the format uses is out of range.
pub fn build(format: &str, options: &TransformerOptions) -> Result<Arc<dyn Transformer>, Error> {
    match format {
        "jsonl" => Ok(Arc::new(jsonl::JsonlTransformer::new(options)?)),
        "bytes" => Ok(Arc::new(bytes::BytesTransformer::new(options)?)),
        "json" => Ok(Arc::new(json::JsonTransformer::new(options)?)),
        "csv" => Ok(Arc::new(csv::CsvTransformer::new(options)?)),
        "text" => Ok(Arc::new(text::TextTransformer::new(options)?)),
        "avro" => Ok(Arc::new(avro::AvroTransformer::new(options)?)),
        "parquet" => Ok(Arc::new(parquet::ParquetTransformer::new(options)?)),
        _ => Err(unknown_format(format)),
    }
}

/// The message of a caught panic (a decoder's, on corrupt data), for the error that replaces it.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message")
}

fn unknown_format(format: &str) -> Error {
    let wanted = format.trim().to_ascii_lowercase();
    let formats = formats();
    let nearest = formats
        .iter()
        .map(|f| (strsim::levenshtein(&wanted, f), *f))
        .min()
        .filter(|(distance, f)| *distance <= (f.len() / 2).max(1));
    let mut message = format!(
        "unknown format {format:?}; supported formats: {}",
        formats.join(", ")
    );
    if let Some((_, f)) = nearest {
        message.push_str(&format!(". Did you mean {f:?}?"));
    }
    Error::Config {
        key: "input.format",
        message,
    }
}

/// Checks that `size` (the value of `key`) is positive.
fn positive(key: &'static str, size: usize, what: &str) -> Result<(), Error> {
    if size == 0 {
        return Err(Error::Config {
            key,
            message: format!("must be a positive number of bytes ({what})"),
        });
    }
    Ok(())
}

/// [`Transformer::transform`] for the formats read from the object's byte stream: opens
/// `input`'s byte stream and decompresses it, then yields the records
/// `records(format, key, stream, skip)` makes of it. A failure to open the object is yielded as
/// is (a store error) and ends the stream. A `text` format's stream goes through
/// [`encoding::text_stream`] (byte order marks: UTF-8 skipped, UTF-16 decoded). A format reading
/// `lines` gets the stream through [`tail::watch_tail`]: how its last line ended is noted, and a
/// last line without terminator is held back when the input says so.
fn open_then<T>(
    format: &T,
    input: ObjectInput,
    compression: Compression,
    (text, lines): (bool, bool),
    skip: u64,
    records: fn(&T, String, ByteStream, u64) -> RecordStream,
) -> RecordStream
where
    T: Clone + Send + 'static,
{
    let format = format.clone();
    stream::once(async move {
        let opened = input.stream().await;
        match opened {
            Ok(bytes) => {
                let key = input.key().to_owned();
                let compression = match compression {
                    Compression::Auto if Compression::from_extension(&key).is_none() => {
                        compression::from_content_encoding(&input).await
                    }
                    other => other,
                };
                let mut bytes = compression::decompress(&key, compression, bytes).await;
                if text {
                    bytes = encoding::text_stream(&key, bytes);
                }
                if lines {
                    bytes = tail::watch_tail(&input, bytes);
                }
                records(&format, key, bytes, skip)
            }
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    })
    .flatten()
    .boxed()
}

/// The reading of one object, record by record.
trait ReadRecords: Send + 'static {
    /// The next record; `None` once the object is done.
    fn next(&mut self) -> impl Future<Output = Option<sluice_core::Result<SchemaAndValue>>> + Send;
}

/// The records `run` reads, as a stream.
fn record_stream<R: ReadRecords>(run: R) -> RecordStream {
    stream::unfold(run, |mut run| async move {
        let item = run.next().await?;
        Some((item, run))
    })
    .boxed()
}

/// A [`sluice_core::Error::Record`] for record `record_index` of `object`, keeping at most
/// [`MAX_RAW_BYTES`] of `raw`.
fn record_error(
    object: &str,
    record_index: u64,
    byte_offset: u64,
    recoverable: bool,
    raw: Option<&[u8]>,
    source: Error,
) -> sluice_core::Error {
    record_error_at(
        object,
        record_index,
        Some(byte_offset),
        recoverable,
        raw,
        source,
    )
}

/// [`record_error`] when the byte offset may be unknown (Parquet records have none).
fn record_error_at(
    object: &str,
    record_index: u64,
    byte_offset: Option<u64>,
    recoverable: bool,
    raw: Option<&[u8]>,
    source: Error,
) -> sluice_core::Error {
    sluice_core::Error::Record {
        object: object.to_owned(),
        record_index,
        byte_offset,
        recoverable,
        raw: raw.map(|r| ::bytes::Bytes::copy_from_slice(&r[..r.len().min(MAX_RAW_BYTES)])),
        source: Box::new(source),
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Helpers shared by the unit tests.

    use ::bytes::Bytes;
    use futures::stream::{self, StreamExt};
    use sluice_core::object::ByteStream;

    /// `data` cut at `cuts` (positions, any order, out-of-range ones ignored) into a byte stream.
    pub(crate) fn chunked(data: &[u8], cuts: &[usize]) -> ByteStream {
        let mut cuts: Vec<usize> = cuts.iter().copied().filter(|&c| c <= data.len()).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        cuts.dedup();
        let chunks: Vec<std::io::Result<Bytes>> = cuts
            .windows(2)
            .map(|w| Ok(Bytes::copy_from_slice(&data[w[0]..w[1]])))
            .collect();
        stream::iter(chunks).boxed()
    }

    /// `chunks` followed by an I/O error, then by `after` (which must never be read).
    pub(crate) fn failing(chunks: &[&[u8]], after: &[u8]) -> ByteStream {
        let mut items: Vec<std::io::Result<Bytes>> = chunks
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        items.push(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        )));
        items.push(Ok(Bytes::copy_from_slice(after)));
        stream::iter(items).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_every_listed_format() {
        for format in formats() {
            let t = build(format, &TransformerOptions::default()).unwrap();
            assert_eq!(t.name(), format);
        }
    }

    #[test]
    fn unknown_format_lists_formats_and_suggests_the_nearest() {
        let err = build("jsnl", &TransformerOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                Error::Config {
                    key: "input.format",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(msg.contains("\"jsnl\""), "{msg}");
        assert!(msg.contains("jsonl, bytes, json"), "{msg}");
        assert!(msg.contains("Did you mean \"jsonl\""), "{msg}");

        let msg = build("BYTES", &TransformerOptions::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("Did you mean \"bytes\""), "{msg}");

        let msg = build("orc", &TransformerOptions::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("supported formats: jsonl, bytes"), "{msg}");
        assert!(!msg.contains("Did you mean"), "{msg}");
    }

    #[test]
    fn zero_sizes_are_config_errors() {
        let options = TransformerOptions {
            max_buffer_size: 0,
            ..Default::default()
        };
        let err = build("bytes", &options).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Config {
                    key: "transformer.max.buffer.size",
                    ..
                }
            ),
            "{err:?}"
        );
        // jsonl does not use the chunk size.
        build("jsonl", &options).unwrap();

        let options = TransformerOptions {
            max_record_size: 0,
            ..Default::default()
        };
        let err = build("jsonl", &options).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Config {
                    key: "transformer.max.record.size",
                    ..
                }
            ),
            "{err:?}"
        );
        build("bytes", &options).unwrap();
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn registry() -> Registry {
        Registry::new(
            sluice_core::config::CONNECTOR_SETS
                .into_iter()
                .chain(sluice_sources::keys())
                .chain(keys()),
        )
        .unwrap()
    }

    fn problems(r: sluice_core::Result<ConnectorConfig>) -> Vec<String> {
        match r {
            Err(sluice_core::Error::Config { problems, .. }) => problems,
            other => panic!("expected config problems, got {other:?}"),
        }
    }

    #[test]
    fn format_settings_are_typed_and_checked() {
        let base = [
            ("name", "c"),
            ("connector.class", "local"),
            ("local.path", "/tmp"),
            ("topic", "t"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut s = settings(&base);
            s.extend(settings(extra));
            s
        };
        let registry = registry();
        let s = with(&[
            ("input.format", "csv"),
            ("file.compression.type", "auto"),
            ("csv.column.names", "a, b,,c"),
            ("csv.column.types", "a:decimal(10,2),b:int64"),
            ("read.text.mode", "startEndLine"),
            ("read.text.start.line", "BEGIN"),
        ]);
        let c = ConnectorConfig::from_settings(&registry, &s).unwrap();
        assert_eq!(c.input_format, "csv");
        let r = Keys::new(&registry, &c.settings);
        let csv = CsvSettings::read(&r).unwrap();
        assert_eq!(
            csv.column_names,
            Some(vec!["a".to_string(), "b".into(), "c".into()])
        );
        assert_eq!(csv.column_types.as_deref(), Some("a:decimal(10,2),b:int64"));
        assert_eq!(csv.separator_char, ",");
        assert!(csv.first_row_as_header);
        assert_eq!(TextSettings::read(&r).unwrap().end_line, None);
        let o = TransformerOptions::from_config(&c).unwrap();
        assert_eq!(o.compression, Compression::Auto);
        assert!(o.json_split_array);
        assert_eq!(o.bytes_mode, BytesMode::Chunks);

        let p = problems(ConnectorConfig::from_settings(
            &registry,
            &with(&[
                ("input.format", "parquet"),
                ("file.compression.type", "gzip"),
                ("read.text.mode", "regex"),
            ]),
        ));
        assert!(
            p.iter()
                .any(|p| p.starts_with("file.compression.type: parquet")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|p| p.starts_with("read.text.regex: required")),
            "{p:?}"
        );
        let p = problems(ConnectorConfig::from_settings(
            &registry,
            &with(&[
                ("read.text.mode", "regex"),
                ("read.text.regex", "(unclosed"),
                ("input.format", "xml"),
                ("file.compression.type", "lzma"),
            ]),
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p.iter().any(|p| p.starts_with("input.format")), "{p:?}");
        assert!(
            p.iter().any(|p| p.starts_with("file.compression.type")),
            "{p:?}"
        );
    }

    #[test]
    fn options_read_without_the_format_keys_are_an_error_not_a_panic() {
        let registry = Registry::new([defs::CONNECTOR]).unwrap();
        let s = Settings::new();
        let err = TransformerOptions::from_keys(&Keys::new(&registry, &s)).unwrap_err();
        assert!(matches!(err, Error::Settings { .. }), "{err:?}");
        assert!(
            std::error::Error::source(&err).is_some(),
            "the cause is kept"
        );
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let o = TransformerOptions::default();
        assert_eq!(o.max_buffer_size, 4096);
        assert_eq!(o.max_record_size, 16 * 1024 * 1024);
        assert!(!o.infer_schema);
    }

    #[test]
    fn raw_bytes_are_capped() {
        let raw = vec![b'x'; MAX_RAW_BYTES + 10];
        let e = record_error(
            "k",
            3,
            7,
            true,
            Some(&raw),
            Error::RecordTooLarge {
                size: raw.len() as u64,
                limit: 1,
            },
        );
        match e {
            sluice_core::Error::Record {
                raw: Some(r),
                record_index: 3,
                byte_offset: Some(7),
                ..
            } => assert_eq!(r.len(), MAX_RAW_BYTES),
            other => panic!("{other:?}"),
        }
    }
}
