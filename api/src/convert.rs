//! Converters: a record's key or value to the bytes written to Kafka, as Kafka Connect's
//! `Converter.fromConnectData`.
//!
//! The built-in converters (`key.converter` / `value.converter`: JSON with or without the
//! schema envelope, string, byte array, and Confluent's Avro, JSON Schema and Protobuf with a
//! Schema Registry) implement [`Converter`]:
//!
//! ```
//! use sluice_api::convert::Converter;
//! use sluice_api::data::{SchemaAndValue, Value};
//!
//! /// Writes string values upper-cased; anything else is an error naming the topic.
//! #[derive(Debug)]
//! struct Shout;
//!
//! impl Converter for Shout {
//!     fn from_connect_data(
//!         &self,
//!         topic: &str,
//!         data: &SchemaAndValue,
//!     ) -> sluice_api::Result<Option<Vec<u8>>> {
//!         match &data.value {
//!             Value::Null => Ok(None),
//!             Value::String(s) => Ok(Some(s.to_uppercase().into_bytes())),
//!             other => Err(sluice_api::Error::Data(format!(
//!                 "topic {topic}: Shout writes strings, not {other:?}"
//!             ))),
//!         }
//!     }
//! }
//!
//! let bytes = Shout
//!     .from_connect_data("t", &SchemaAndValue::schemaless(Value::String("hi".into())))
//!     .unwrap();
//! assert_eq!(bytes.as_deref(), Some(&b"HI"[..]));
//! ```

pub use sluice_core::convert::Converter;
