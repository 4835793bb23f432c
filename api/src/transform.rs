//! Single message transforms and predicates, as Kafka Connect's `Transformation` and
//! `Predicate` (`transforms=` / `predicates=` in a connector's settings).
//!
//! Connect's transforms are built in (`org.apache.kafka.connect.transforms.InsertField$Value`,
//! `RegexRouter`, `Filter`, ...). A transform of your own implements [`Transformation`] and is
//! registered with [`Registry::with_transform`](crate::config::Registry::with_transform) under
//! a class name; a connector then uses it as any other:
//!
//! ```properties
//! transforms=tag
//! transforms.tag.type=com.example.DropNulls
//! ```
//!
//! Its keys, declared in a [`KeySet`](crate::config::KeySet) whose owner is
//! [`Owner::Transform`](crate::config::Owner::Transform), follow `transforms.<alias>.` and are
//! checked as the built-in transforms' options are (an unknown key refused with the nearest
//! one, wrong types and missing required keys reported with every other problem of the
//! connector); `transforms.<alias>.predicate` and `.negate` apply to it as to any transform.
//!
//! ```
//! use std::sync::Arc;
//! use sluice_api::config::{optional, KeySet, Kind, Owner, Settings};
//! use sluice_api::data::Value;
//! use sluice_api::record::SourceRecord;
//! use sluice_api::transform::Transformation;
//!
//! /// Drops records whose value is null (tombstones); their offsets still advance.
//! #[derive(Debug)]
//! struct DropNulls {
//!     keep_on: Option<String>,
//! }
//!
//! impl Transformation for DropNulls {
//!     fn apply(&self, record: SourceRecord) -> sluice_api::Result<Option<SourceRecord>> {
//!         let keep = self.keep_on.as_deref() == Some(record.topic.as_str());
//!         Ok((keep || record.value.value != Value::Null).then_some(record))
//!     }
//! }
//!
//! const DROP_NULLS: KeySet = KeySet {
//!     owner: Owner::Transform { class: "com.example.DropNulls", aliases: &[] },
//!     doc: "Drops tombstones.",
//!     keys: &[optional("keep.topic", Kind::String, "A topic whose tombstones are kept.")],
//!     prefixes: &[],
//!     check: None,
//! };
//!
//! let registry = sluice_api::builtin()
//!     .with_transform(DROP_NULLS, |keys| {
//!         Ok(Arc::new(DropNulls { keep_on: keys.string("keep.topic")? }))
//!     })
//!     .unwrap();
//!
//! let settings = |pairs: &[(&str, &str)]| -> Settings {
//!     pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
//! };
//! let good = settings(&[("transforms", "drop"), ("transforms.drop.type", "com.example.DropNulls")]);
//! assert!(registry.transform_problems(&good).is_empty());
//!
//! let typo = settings(&[
//!     ("transforms", "drop"),
//!     ("transforms.drop.type", "com.example.DropNull"),
//! ]);
//! let problems = registry.transform_problems(&typo);
//! assert!(problems[0].contains("did you mean \"com.example.DropNulls\"?"), "{problems:?}");
//! ```

pub use sluice_core::transforms::{Predicate, Transformation};
