//! [`StringConverter`]: `org.apache.kafka.connect.storage.StringConverter`.

use super::Converter;
use crate::data::{SchemaAndValue, Value};
use crate::error::Result;

/// Writes a value's Java `toString()` as UTF-8, as Kafka Connect's `StringConverter` does; the
/// schema is ignored and null becomes a null (tombstone) result.
#[derive(Debug, Clone, Default)]
pub struct StringConverter;

impl StringConverter {
    /// A UTF-8 string converter.
    pub fn new() -> Self {
        StringConverter
    }
}

impl Converter for StringConverter {
    fn from_connect_data(&self, _topic: &str, data: &SchemaAndValue) -> Result<Option<Vec<u8>>> {
        Ok(match &data.value {
            Value::Null => None,
            Value::String(s) => Some(s.as_bytes().to_vec()),
            v => Some(v.to_string().into_bytes()),
        })
    }
}
