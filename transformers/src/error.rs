//! The crate's one public error type.

/// Why a transformer could not be built or a record could not be read. Record errors reach the
/// caller boxed as the `source` of a [`sluice_core::Error::Record`], which names the object, the
/// record index and the byte offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line (`jsonl`) or a document or array element (`json`) is not one complete JSON value.
    #[error("invalid JSON: {source}. Each line of a `jsonl` object must hold exactly one JSON value; a `json` object one JSON document")]
    InvalidJson {
        /// The parser's error (its line/column are within the record).
        source: serde_json::Error,
    },

    /// A JSON integer does not fit in Connect's int64; it is not rounded to a float.
    #[error("the integer {literal} does not fit in a 64-bit signed integer (Connect's int64), and Sluice does not round it to a float. Quote it in the source data to keep its digits as a string, or set errors.tolerance=all to skip such records")]
    IntegerOutOfRange {
        /// The integer as written.
        literal: String,
    },

    /// A line is not valid UTF-8.
    #[error(
        "invalid UTF-8: {source}. `jsonl`, `json`, `csv` and `text` objects must be UTF-8 encoded"
    )]
    InvalidUtf8 {
        /// Where the first invalid byte is, within the record.
        source: std::str::Utf8Error,
    },

    /// A record is longer than the configured limit; it was skipped without being read into
    /// memory.
    #[error("the record is {size} bytes long, more than the limit of {limit} bytes. Raise transformer.max.record.size if records this large are expected")]
    RecordTooLarge {
        /// The record's length in bytes.
        size: u64,
        /// The limit (`transformer.max.record.size`).
        limit: usize,
    },

    /// Reading the object's bytes failed; the rest of the object cannot be read.
    #[error("reading the object failed: {source}")]
    Io {
        /// The store's or the network's error.
        source: std::io::Error,
    },

    /// No Connect schema fits the record (with `transformer.json.infer.schema=true`).
    #[error("cannot infer a schema: {message}. Make the values agree in type, or set transformer.json.infer.schema=false to read the records schemaless")]
    SchemaInference {
        /// What does not fit, naming the JSON path (e.g. `$.items[2]`).
        message: String,
    },

    /// The whole object is larger than the limit of `bytes` in `object` mode; it was not read
    /// further.
    #[error("the object is more than {limit} bytes long. Raise transformer.max.record.size to read objects this large as one record, or use transformer.bytes.mode=chunks")]
    ObjectTooLarge {
        /// The limit (`transformer.max.record.size`).
        limit: usize,
    },

    /// The object's structure is broken where the format cannot resynchronise: JSON that is
    /// not well nested, a truncated Avro file, bad magic bytes, a sync marker that does not match.
    #[error("{format}: {message}")]
    Malformed {
        /// The format (`json`, `avro`, `parquet`, ...).
        format: &'static str,
        /// What is wrong, with where when it helps.
        message: String,
    },

    /// A CSV row does not have as many fields as there are columns.
    #[error("the row has {found} fields but there are {expected} columns. Every row needs one field per column (check csv.separator.char and the quoting)")]
    RaggedRow {
        /// The number of columns.
        expected: usize,
        /// The number of fields in the row.
        found: usize,
    },

    /// A CSV field does not hold a value of its column's type.
    #[error("column {column:?}: {value:?} is not a valid {type_}")]
    InvalidField {
        /// The column's name.
        column: String,
        /// The column's type, as in `csv.column.types`.
        type_: String,
        /// The field's text.
        value: String,
    },

    /// The object's schema has no Connect equivalent (e.g. a recursive Avro record).
    #[error("cannot map the schema to a Connect schema: {message}")]
    UnmappableSchema {
        /// What cannot be mapped, naming the field.
        message: String,
    },

    /// A value does not fit the schema it was mapped to (e.g. an unsigned 64-bit value beyond
    /// int64).
    #[error("cannot map a value: {message}")]
    UnmappableValue {
        /// Which value, naming the field.
        message: String,
    },

    /// The Avro library rejected a block or a record.
    #[error("invalid Avro data: {source}")]
    Avro {
        /// The library's error.
        source: Box<apache_avro::Error>,
    },

    /// The Parquet library failed to read the file or a row group.
    #[error("invalid Parquet data: {source}")]
    Parquet {
        /// The library's error.
        source: ::parquet::errors::ParquetError,
    },

    /// The connector's settings could not be read (a key declared by no registered component).
    #[error("cannot read the format settings: {source}")]
    Settings {
        /// The configuration error.
        #[source]
        source: Box<sluice_core::Error>,
    },

    /// A setting is invalid.
    #[error("invalid {key}: {message}")]
    Config {
        /// The configuration key (e.g. `input.format`).
        key: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
}

impl From<sluice_core::Error> for Error {
    fn from(e: sluice_core::Error) -> Self {
        Error::Settings {
            source: Box::new(e),
        }
    }
}
