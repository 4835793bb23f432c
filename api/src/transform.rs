//! Single message transforms and predicates, as Kafka Connect's `Transformation` and
//! `Predicate` (`transforms=` / `predicates=` in a connector's settings).
//!
//! ```
//! use sluice_api::data::{SchemaAndValue, Value};
//! use sluice_api::record::SourceRecord;
//! use sluice_api::transform::Transformation;
//!
//! /// Drops records whose value is null (tombstones); their offsets still advance.
//! #[derive(Debug)]
//! struct DropNulls;
//!
//! impl Transformation for DropNulls {
//!     fn apply(&self, record: SourceRecord) -> sluice_api::Result<Option<SourceRecord>> {
//!         Ok((record.value.value != Value::Null).then_some(record))
//!     }
//! }
//! # let _ = DropNulls;
//! # let _ = SchemaAndValue::null();
//! ```

pub use sluice_core::transforms::{Predicate, Transformation};
