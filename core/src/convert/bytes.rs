//! [`ByteArrayConverter`]: `org.apache.kafka.connect.converters.ByteArrayConverter`.

use super::Converter;
use crate::data::{SchemaAndValue, Type, Value};
use crate::error::{Error, Result};

/// Passes byte values through unchanged, as Kafka Connect's `ByteArrayConverter` does. The schema,
/// when present, must be a `bytes` schema; null becomes a null (tombstone) result.
#[derive(Debug, Clone, Default)]
pub struct ByteArrayConverter;

impl ByteArrayConverter {
    /// A byte array converter.
    pub fn new() -> Self {
        ByteArrayConverter
    }
}

impl ByteArrayConverter {
    /// Whether this converter writes `data`: `Ok`, or the reason it cannot.
    fn check(data: &SchemaAndValue) -> Result<()> {
        if let Some(schema) = &data.schema {
            if schema.type_() != Type::Bytes {
                return Err(Error::Data(format!(
                    "the ByteArrayConverter needs a bytes schema, but the schema is {}{}; use the \
                     JsonConverter or the StringConverter for other data",
                    schema.type_(),
                    schema.name().map(|n| format!(" ({n})")).unwrap_or_default()
                )));
            }
        }
        match &data.value {
            Value::Null | Value::Bytes(_) => Ok(()),
            v => Err(Error::Data(format!(
                "the ByteArrayConverter needs a bytes value, but the value is {}; use the \
                 JsonConverter or the StringConverter for other data",
                v.inferred_type().map_or("null", |t| t.name())
            ))),
        }
    }
}

impl Converter for ByteArrayConverter {
    fn from_connect_data(&self, _topic: &str, data: &SchemaAndValue) -> Result<Option<Vec<u8>>> {
        Self::check(data)?;
        match &data.value {
            Value::Bytes(b) => Ok(Some(b.clone())),
            _ => Ok(None),
        }
    }

    /// The bytes themselves, taken rather than copied.
    fn from_connect_data_taking(
        &self,
        _topic: &str,
        data: &mut SchemaAndValue,
    ) -> Result<Option<Vec<u8>>> {
        Self::check(data)?;
        match &mut data.value {
            Value::Bytes(b) => Ok(Some(std::mem::take(b))),
            _ => Ok(None),
        }
    }
}
