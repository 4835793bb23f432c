//! Aiven's sinks (S3, GCS, Azure) with `format.output.fields=key,value,offset,timestamp,headers`:
//! one record per envelope.
//!
//! - json / jsonl: an object `{"key": …, "value": …, "offset": 12, "timestamp":
//!   "2024-05-01T10:00:00.123Z", "headers": [{"key": "h", "value": …}, …]}`. Keys, values and
//!   header values are what Kafka Connect's `JsonConverter` (schemas off) made of them: bytes
//!   become Base64 text (`input.envelope.*.encoding=base64`, the default for text formats),
//!   strings stay strings (`none`), structs and maps become objects.
//! - avro / parquet: a record `connector_records` with the same field names; `timestamp` is
//!   epoch milliseconds and `headers` a map from header name to value (null when the record had
//!   none); bytes are bytes.
//!
//! `offset` is not restored (Kafka gives the restored record its own); the envelope has no
//! partition: `{{partition}}` in `file.name.template` gives it from the object name.

use crate::config::EnvelopeSettings;
use crate::data::Value;
use crate::error::BoxError;
use crate::record::Header;

use super::{data, field, fields, header_bytes, timestamp, Restored};

/// Restores one Aiven envelope.
pub fn restore(settings: &EnvelopeSettings, envelope: Value) -> Result<Restored, BoxError> {
    let Some(f) = fields(&envelope) else {
        return Err(format!(
            "an Aiven envelope is an object (json) or a record (avro, parquet) with fields key, value, offset, timestamp, headers; this record is a {:?}",
            envelope.inferred_type()
        )
        .into());
    };
    if !f.iter().any(|(k, _)| *k == "key" || *k == "value") {
        return Err(
            "the Aiven envelope has neither a key nor a value field (the sink's format.output.fields must include them)"
                .into(),
        );
    }
    let mut headers = Vec::new();
    match field(&f, "headers") {
        None => {}
        // json: [{"key": name, "value": v}, ...]
        Some(Value::Array(items)) => {
            for item in items {
                let h = fields(item).ok_or("a header of the Aiven envelope is not an object")?;
                let name = field(&h, "key")
                    .and_then(Value::as_str)
                    .ok_or("a header of the Aiven envelope has no key")?;
                let value = field(&h, "value").unwrap_or(&Value::Null);
                headers.push(Header {
                    key: name.to_owned(),
                    value: header_bytes(value, settings.headers_encoding, name)?,
                });
            }
        }
        // avro / parquet: a map from name to value.
        Some(map @ (Value::Map(_) | Value::Struct(_))) => {
            for (name, value) in fields(map).unwrap_or_default() {
                headers.push(Header {
                    key: name.to_owned(),
                    value: header_bytes(value, settings.headers_encoding, name)?,
                });
            }
        }
        Some(other) => {
            return Err(format!(
                "the Aiven envelope's headers are a {:?}, not a list of key/value objects or a map",
                other.inferred_type()
            )
            .into())
        }
    }
    Ok(Restored {
        key: data(field(&f, "key"), settings.key_encoding, "the key")?,
        value: data(field(&f, "value"), settings.value_encoding, "the value")?,
        headers,
        timestamp: timestamp(field(&f, "timestamp"))?,
        partition: None,
    })
}
