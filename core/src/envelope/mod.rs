//! Envelope restore (`input.envelope`): a record a sink connector backed up with its key,
//! headers and timestamp becomes that Kafka record again.
//!
//! The transformer reads the object as usual (jsonl, json, avro, parquet); each record it yields
//! is an envelope, a map (schemaless JSON) or a struct (Avro, Parquet). [`Envelope::restore`]
//! takes it apart into the original key, value, headers, timestamp and, where the envelope has
//! one, partition ([`Restored`]), which replace what the source would otherwise send.
//!
//! - [`aiven`]: Aiven's sinks, `format.output.fields=key,value,offset,timestamp,headers`.
//! - [`lenses`]: Lenses' sinks with `store.envelope=true`.
//! - [`confluent`]: Confluent's S3 sink, values with keys and headers in side files (read
//!   together by [`confluent::records`]).
//!
//! See docs/envelopes.md for the layouts and what each keeps.

pub mod aiven;
pub mod confluent;
pub mod lenses;

use base64::Engine as _;

use crate::config::{EnvelopeKind, EnvelopeSettings, FieldEncoding};
use crate::data::{Schema, SchemaAndValue, Value};
use crate::error::BoxError;
use crate::record::{Header, SourceRecord};

/// What an envelope held: the original record's parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// The key (null when the original had none).
    pub key: SchemaAndValue,
    /// The value (null for a tombstone).
    pub value: SchemaAndValue,
    /// The headers, in the envelope's order.
    pub headers: Vec<Header>,
    /// The timestamp (ms), when the envelope has one.
    pub timestamp: Option<i64>,
    /// The partition, when the envelope has one and restoring it was asked for.
    pub partition: Option<i32>,
}

impl Restored {
    /// Puts these parts into `record`: key, value, timestamp and partition replaced when known,
    /// the restored headers first (Sluice's own `sluice.*` headers, if enabled, after them).
    pub fn apply(self, record: &mut SourceRecord) {
        record.key = self.key;
        record.value = self.value;
        if self.timestamp.is_some() {
            record.timestamp = self.timestamp;
        }
        if self.partition.is_some() {
            record.kafka_partition = self.partition;
        }
        let own = std::mem::replace(&mut record.headers, self.headers);
        record.headers.extend(own);
    }
}

/// A configured envelope layout.
#[derive(Debug, Clone)]
pub struct Envelope {
    settings: EnvelopeSettings,
}

impl Envelope {
    /// The envelope of `settings`, or `None` for `input.envelope=none`.
    pub fn new(settings: &EnvelopeSettings) -> Option<Self> {
        (settings.kind != EnvelopeKind::None).then(|| Envelope {
            settings: settings.clone(),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &EnvelopeSettings {
        &self.settings
    }

    /// True when `key` is a side file of the layout (Confluent's keys and headers files), never
    /// read as values.
    pub fn is_side_file(&self, key: &str) -> bool {
        self.settings.kind == EnvelopeKind::Confluent
            && (self.settings.confluent_keys || self.settings.confluent_headers)
            && confluent::is_side_file(key)
    }

    /// Takes one envelope apart. An error says which field is missing or malformed.
    pub fn restore(&self, envelope: SchemaAndValue) -> Result<Restored, BoxError> {
        match self.settings.kind {
            EnvelopeKind::Aiven => aiven::restore(&self.settings, envelope.value),
            EnvelopeKind::Lenses => lenses::restore(&self.settings, envelope.value),
            EnvelopeKind::Confluent => confluent::restore(&self.settings, envelope.value),
            EnvelopeKind::None => Ok(Restored {
                key: SchemaAndValue::null(),
                value: envelope,
                headers: Vec::new(),
                timestamp: None,
                partition: None,
            }),
        }
    }
}

/// The fields of a map with string keys (schemaless JSON) or of a struct (Avro, Parquet), in
/// order; `None` for anything else.
pub(crate) fn fields(v: &Value) -> Option<Vec<(&str, &Value)>> {
    match v {
        Value::Map(entries) => Some(
            entries
                .iter()
                .filter_map(|(k, v)| k.as_str().map(|k| (k, v)))
                .collect(),
        ),
        Value::Struct(s) => Some(
            s.schema()
                .fields()
                .iter()
                .map(|f| f.name())
                .zip(s.values())
                .collect(),
        ),
        _ => None,
    }
}

/// Field `name` of an envelope map or struct (absent and null are both `None`).
pub(crate) fn field<'a>(fields: &[(&str, &'a Value)], name: &str) -> Option<&'a Value> {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .filter(|v| !matches!(v, Value::Null))
}

/// A key or value: bytes stay bytes, a string is Base64-decoded to bytes under
/// [`FieldEncoding::Base64`] or stays a string, null is null, anything else (a JSON object, a
/// number, an Avro record) is kept schemaless for the converter.
pub(crate) fn data(
    v: Option<&Value>,
    encoding: FieldEncoding,
    what: &str,
) -> Result<SchemaAndValue, BoxError> {
    Ok(match v {
        None => SchemaAndValue::null(),
        Some(Value::Bytes(b)) => {
            SchemaAndValue::new(Schema::optional_bytes(), Value::Bytes(b.clone()))
        }
        Some(Value::String(s)) => match encoding {
            FieldEncoding::Base64 => SchemaAndValue::new(
                Schema::optional_bytes(),
                Value::Bytes(decode_base64(s, what)?),
            ),
            FieldEncoding::None => {
                SchemaAndValue::new(Schema::optional_string(), Value::String(s.clone()))
            }
        },
        Some(other) => SchemaAndValue::schemaless(other.clone()),
    })
}

/// The bytes of a header value: bytes as they are, a string Base64-decoded or as UTF-8, null as
/// no bytes, a boolean or number as its text.
pub(crate) fn header_bytes(
    v: &Value,
    encoding: FieldEncoding,
    name: &str,
) -> Result<Vec<u8>, BoxError> {
    Ok(match v {
        Value::Null => Vec::new(),
        Value::Bytes(b) => b.clone(),
        Value::String(s) => match encoding {
            FieldEncoding::Base64 => decode_base64(s, &format!("header {name:?}"))?,
            FieldEncoding::None => s.clone().into_bytes(),
        },
        Value::Boolean(_)
        | Value::Int8(_)
        | Value::Int16(_)
        | Value::Int32(_)
        | Value::Int64(_)
        | Value::Float32(_)
        | Value::Float64(_) => v.to_string().into_bytes(),
        other => {
            return Err(format!(
                "header {name:?} is a {:?}; only bytes, strings, numbers, booleans and null restore to header bytes",
                other.inferred_type()
            )
            .into())
        }
    })
}

fn decode_base64(s: &str, what: &str) -> Result<Vec<u8>, BoxError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("{what} is not Base64 ({e}); if it is plain text, set the envelope's encoding for it to none").into())
}

/// A timestamp field: epoch milliseconds (a number), or an ISO-8601 instant (text, as Aiven's
/// JSON writers make it).
pub(crate) fn timestamp(v: Option<&Value>) -> Result<Option<i64>, BoxError> {
    Ok(match v {
        None => None,
        Some(Value::Int64(ms)) => Some(*ms),
        Some(Value::Int32(ms)) => Some(i64::from(*ms)),
        Some(Value::String(s)) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| format!("timestamp {s:?} is not an ISO-8601 instant: {e}"))?
                .timestamp_millis(),
        ),
        Some(other) => {
            return Err(format!(
                "timestamp is a {:?}, not epoch milliseconds or an ISO-8601 text",
                other.inferred_type()
            )
            .into())
        }
    })
}

#[cfg(test)]
mod tests;
