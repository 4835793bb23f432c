//! The crate's one public error type.

/// Why a transformer could not be built or a record could not be read. Record errors reach the
/// caller boxed as the `source` of a [`sluice_core::Error::Record`], which names the object, the
/// record index and the byte offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line is not one complete JSON value.
    #[error(
        "invalid JSON: {source}. Each line of a `jsonl` object must hold exactly one JSON value"
    )]
    InvalidJson {
        /// The parser's error (its line/column are within the record).
        source: serde_json::Error,
    },

    /// A line is not valid UTF-8.
    #[error("invalid UTF-8: {source}. `jsonl` objects must be UTF-8 encoded")]
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

    /// A setting is invalid.
    #[error("invalid {key}: {message}")]
    Config {
        /// The configuration key (e.g. `input.format`).
        key: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
}
