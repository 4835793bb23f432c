//! Kafka Connect's data model: [`Schema`], [`SchemaBuilder`], [`Struct`], [`Value`] and
//! [`SchemaAndValue`].
//!
//! The shapes follow `org.apache.kafka.connect.data` so that a record built here converts to exactly
//! the bytes Kafka Connect's converters would write. Logical types (Decimal, Date, Time, Timestamp)
//! are carried, as in Connect, by a schema *name* plus parameters on top of a physical type; their
//! values are held in their physical form (see [`logical`]).

pub mod logical;
mod schema;
mod value;

pub use schema::{Field, Schema, SchemaBuilder, Type};
pub use value::{SchemaAndValue, Struct, Value};
