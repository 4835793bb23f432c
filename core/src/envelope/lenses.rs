//! Lenses' sinks (stream-reactor S3, GCS, Azure) with `store.envelope=true`: one record per
//! envelope `{"key": …, "value": …, "headers": {name: value, …}, "metadata": {"timestamp": ms,
//! "topic": …, "partition": n, "offset": n}}`.
//!
//! In JSON, bytes are Base64 text and the envelope says so with `"keyIsArray": true` /
//! `"valueIsArray": true`; other strings stay strings, objects stay objects (schemaless). Header
//! values are primitives: a string's bytes are its UTF-8 (a header holding bytes was written as
//! Base64 text without a marker, and comes back as that text). In Avro and Parquet, bytes are
//! bytes and headers and metadata are records.

use crate::config::{EnvelopeSettings, FieldEncoding};
use crate::data::Value;
use crate::error::BoxError;
use crate::record::Header;

use super::{data, field, fields, header_bytes, timestamp, Restored};

/// Restores one Lenses envelope.
pub fn restore(settings: &EnvelopeSettings, envelope: Value) -> Result<Restored, BoxError> {
    let Some(f) = fields(&envelope) else {
        return Err(format!(
            "a Lenses envelope is an object (json) or a record (avro, parquet) with fields key, value, headers, metadata; this record is a {:?}",
            envelope.inferred_type()
        )
        .into());
    };
    let is_array = |name: &str| match field(&f, name) {
        Some(Value::Boolean(b)) => *b,
        Some(_) => true,
        None => false,
    };
    let encoding = |array: bool| {
        if array {
            FieldEncoding::Base64
        } else {
            FieldEncoding::None
        }
    };
    let mut headers = Vec::new();
    if let Some(h) = field(&f, "headers") {
        let h = fields(h).ok_or("the Lenses envelope's headers are not an object or a record")?;
        for (name, value) in h {
            headers.push(Header {
                key: name.to_owned(),
                value: header_bytes(value, FieldEncoding::None, name)?,
            });
        }
    }
    let metadata = match field(&f, "metadata") {
        Some(m) => {
            fields(m).ok_or("the Lenses envelope's metadata is not an object or a record")?
        }
        None => Vec::new(),
    };
    let partition = if settings.restore_partition {
        match field(&metadata, "partition") {
            Some(Value::Int32(p)) => Some(*p),
            Some(Value::Int64(p)) => Some(i32::try_from(*p).map_err(|_| format!("metadata.partition {p} is not a partition number"))?),
            Some(other) => return Err(format!("metadata.partition is a {:?}, not a number", other.inferred_type()).into()),
            None => return Err("input.envelope.restore.partition=true but the Lenses envelope has no metadata.partition".into()),
        }
    } else {
        None
    };
    Ok(Restored {
        key: data(
            field(&f, "key"),
            encoding(is_array("keyIsArray")),
            "the key",
        )?,
        value: data(
            field(&f, "value"),
            encoding(is_array("valueIsArray")),
            "the value",
        )?,
        headers,
        timestamp: timestamp(field(&metadata, "timestamp"))?,
        partition,
    })
}
