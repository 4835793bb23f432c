//! Converters: a record's key, value or header to the bytes written to Kafka, as Kafka Connect's
//! `Converter.fromConnectData`.
//!
//! The built-in converters (`key.converter` / `value.converter`: JSON with or without the
//! schema envelope, string, byte array, and Confluent's Avro, JSON Schema and Protobuf with a
//! Schema Registry) implement [`Converter`], and so does a converter of your own. Register it
//! with [`Registry::with_converter`](crate::config::Registry::with_converter) under a class
//! name: a connector (or the worker file) then selects it with `value.converter=<class>`,
//! `key.converter=<class>` or `header.converter=<class>`, and its keys, declared in a
//! [`KeySet`](crate::config::KeySet) whose owner is
//! [`Owner::Converter`](crate::config::Owner::Converter), are written after that prefix
//! (`value.converter.<key>`) and checked as the built-ins' are, as Connect's `ConfigDef` checks
//! a converter's `configure` settings. The constructor also learns whether the converter is
//! for record keys (Connect's `isKey`).
//!
//! ```
//! use std::sync::Arc;
//! use sluice_api::config::{key, KeySet, Kind, Owner, Settings};
//! use sluice_api::convert::Converter;
//! use sluice_api::data::{SchemaAndValue, Value};
//!
//! /// Writes string values upper-cased, with a suffix; anything else is an error naming the
//! /// topic.
//! #[derive(Debug)]
//! struct Shout {
//!     suffix: String,
//! }
//!
//! impl Converter for Shout {
//!     fn from_connect_data(
//!         &self,
//!         topic: &str,
//!         data: &SchemaAndValue,
//!     ) -> sluice_api::Result<Option<Vec<u8>>> {
//!         match &data.value {
//!             Value::Null => Ok(None),
//!             Value::String(s) => Ok(Some(format!("{}{}", s.to_uppercase(), self.suffix).into_bytes())),
//!             other => Err(sluice_api::Error::Data(format!(
//!                 "topic {topic}: Shout writes strings, not {other:?}"
//!             ))),
//!         }
//!     }
//! }
//!
//! const SHOUT: KeySet = KeySet {
//!     owner: Owner::Converter { class: "com.example.ShoutConverter", aliases: &["shout"] },
//!     doc: "String values, upper-cased.",
//!     keys: &[key("shout.suffix", Kind::String, "!", "Written after each value.")],
//!     prefixes: &[],
//!     check: None,
//! };
//!
//! let registry = sluice_api::builtin()
//!     .with_converter(SHOUT, |keys, _is_key| {
//!         Ok(Arc::new(Shout { suffix: keys.string("shout.suffix")?.unwrap_or_default() }))
//!     })
//!     .unwrap();
//! assert!(registry.converter_classes().contains(&"shout"));
//!
//! // What `value.converter=shout` builds, with its settings after `value.converter.`:
//! let c = registry.build_converter("value.converter", "shout", &Settings::new(), false).unwrap();
//! let hi = SchemaAndValue::schemaless(Value::String("hi".into()));
//! assert_eq!(c.from_connect_data("t", &hi).unwrap().as_deref(), Some(&b"HI!"[..]));
//!
//! // A misspelt key is refused with the nearest declared one, as for a built-in converter.
//! let mut typo = Settings::new();
//! typo.insert("shout.sufix".into(), "?".into());
//! let err = registry.build_converter("value.converter", "shout", &typo, false).unwrap_err();
//! assert!(err.to_string().contains("did you mean \"value.converter.shout.suffix\"?"), "{err}");
//! ```

pub use sluice_core::convert::Converter;
