//! Formats: an object's bytes in, records out (`input.format`).
//!
//! A format is a [`Transformer`]: given an object ([`ObjectInput`], a resumable streamed read)
//! and the number of records already delivered before a restart, it yields the object's records
//! in order as a [`RecordStream`]. A record that cannot be parsed is an [`Error::Record`]
//! ([`record_error`]); when it is `recoverable` the stream goes on with the next record, and
//! Sluice applies `errors.tolerance` (stop the task, or log it, count it and send the raw bytes
//! to the dead letter queue) exactly as for the built-in formats. Streams must stay bounded in
//! memory whatever the object's size.
//!
//! Most vendor formats are line-oriented: [`lines`] gives the built-in line reader (bounded
//! line length `transformer.max.record.size`, `file.compression.type`, `\r\n`, a last line
//! without terminator, skipping on restart without parsing), and the format maps each line:
//!
//! ```
//! use std::sync::Arc;
//! use futures::StreamExt;
//! use sluice_api::config::{KeySet, Owner};
//! use sluice_api::data::{Schema, SchemaAndValue, Value};
//! use sluice_api::format::{record_error, ObjectInput, RecordStream, Transformer};
//!
//! /// One record per line, upper-cased; a line with a tab in it is a bad record.
//! #[derive(Debug)]
//! struct Upper {
//!     lines: Arc<dyn Transformer>,
//! }
//!
//! impl Transformer for Upper {
//!     fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
//!         let object = input.clone();
//!         let mut index = skip;
//!         self.lines
//!             .transform(input, skip)
//!             .map(move |line| {
//!                 let i = index;
//!                 index += 1;
//!                 let line = line?;
//!                 let text = line.value.as_str().unwrap_or_default();
//!                 if text.contains('\t') {
//!                     let raw = bytes::Bytes::copy_from_slice(text.as_bytes());
//!                     return Err(record_error(&object, i, Some(raw), "a tab in the line"));
//!                 }
//!                 Ok(SchemaAndValue::new(Schema::string(), Value::String(text.to_uppercase())))
//!             })
//!             .boxed()
//!     }
//!
//!     fn name(&self) -> &'static str {
//!         "upper"
//!     }
//! }
//!
//! const KEYS: KeySet = KeySet {
//!     owner: Owner::Format("upper"),
//!     doc: "Lines, upper-cased.",
//!     keys: &[],
//!     prefixes: &[],
//!     check: None,
//! };
//!
//! let registry = sluice_api::builtin()
//!     .with_format(KEYS, |keys| Ok(Arc::new(Upper { lines: sluice_api::format::lines(keys)? })))
//!     .unwrap();
//! assert!(registry.formats().contains(&"upper"));
//! ```

use std::sync::Arc;

use crate::config::Keys;
use crate::{BoxError, Error, Result};

pub use sluice_core::object::{ByteStream, ObjectInput, ReadRetry, Tail};
pub use sluice_core::transformer::{RecordStream, Transformer};

/// The built-in line reader as a transformer: one required `string` record per line (without
/// its `\n` or `\r\n`), reading the connector's `transformer.max.record.size` and
/// `file.compression.type`. Wrap it to parse each line (see the module example).
///
/// # Errors
/// [`Error::Config`] when one of those settings cannot be used.
pub fn lines(keys: &Keys<'_>) -> Result<Arc<dyn Transformer>> {
    let mut options = sluice_transformers::TransformerOptions::from_keys(keys)
        .map_err(|e| Error::config(e.to_string()))?;
    options.text = sluice_transformers::TextOptions::default();
    sluice_transformers::build("text", &options).map_err(|e| Error::config(e.to_string()))
}

/// The error of record `record_index` (counting from the object's first record, skipped ones
/// included) of `input` that could not be parsed, with its raw bytes for the dead letter queue.
/// It is recoverable: the object's next records follow.
pub fn record_error(
    input: &ObjectInput,
    record_index: u64,
    raw: Option<bytes::Bytes>,
    source: impl Into<BoxError>,
) -> Error {
    Error::Record {
        object: input.key().to_owned(),
        record_index,
        byte_offset: None,
        recoverable: true,
        raw,
        source: source.into(),
    }
}
