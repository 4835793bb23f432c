//! The [`Transformer`] trait: an object's bytes in, records out.

use std::fmt;

use futures::stream::BoxStream;

use crate::data::SchemaAndValue;
use crate::error::Result;
use crate::object::ObjectInput;

/// The records a transformer yields, in object order. A recoverable
/// [`Error::Record`](crate::Error::Record) is followed by the next records of the object; after an
/// unrecoverable one the stream ends.
pub type RecordStream = BoxStream<'static, Result<SchemaAndValue>>;

/// Turns one object's byte stream into records. Implementations stream: memory stays bounded
/// whatever the object's size.
pub trait Transformer: Send + Sync + fmt::Debug {
    /// The records of `input`, skipping the first `skip` records (already delivered before a
    /// restart). Record indexes in errors count skipped records too.
    fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream;

    /// The format's name as used by `input.format` (e.g. `jsonl`).
    fn name(&self) -> &'static str;

    /// This transformer in its plain JSON form, when the format has one: the same records and
    /// errors, but each value already written as Kafka Connect's `JsonConverter` with
    /// `schemas.enable=false` writes it — a schemaless [`Value::Bytes`](crate::data::Value) of
    /// exactly those bytes, or a null value where the converter writes a tombstone. A pipeline
    /// whose value converter is that converter and in which nothing else reads the value (no
    /// transforms, no record key taken from a field, no envelope) sends them with the
    /// `ByteArrayConverter` instead, and skips building each value and writing it out again
    /// (see [`Converter::writes_plain_json`](crate::convert::Converter::writes_plain_json)).
    fn plain_json(&self) -> Option<std::sync::Arc<dyn Transformer>> {
        None
    }
}
