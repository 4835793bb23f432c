//! Confluent's Protobuf format (`io.confluent.connect.protobuf.ProtobufConverter`): a Connect
//! schema translated as Confluent's `ProtobufData.fromConnectSchema` does, printed as the
//! `.proto` text its serializer registers, and values written as Java's `DynamicMessage` writes
//! them, behind Confluent's wire header (magic byte 0, the 4-byte schema id, the message
//! indexes).
//!
//! The translation (see `schema.rs`):
//!
//! * proto3; the struct's name gives the package (its namespace) and the message name; an
//!   unnamed struct or map is `ConnectDefault1`, `ConnectDefault2`, ... in the order Confluent
//!   meets them (depth first, the top-level struct first);
//! * fields numbered 1, 2, ... in order, or by their `io.confluent.connect.protobuf.Tag`
//!   parameter;
//! * int8 and int16 as `int32` with a `connect.type` field option; arrays `repeated`; maps
//!   `repeated XxxEntry` messages with `key` = 1 and `value` = 2; structs as nested messages;
//! * Decimal as `confluent.type.Decimal` (with `precision` / `scale` options), Date as
//!   `google.type.Date`, Time as `google.type.TimeOfDay`, Timestamp as
//!   `google.protobuf.Timestamp`, each with its import;
//! * optional primitives plain, or `google.protobuf.*Value` wrappers with
//!   `wrapper.for.nullables`, or proto3 `optional` with `optional.for.nullables`.

mod encode;
mod schema;
#[cfg(test)]
mod tests;

use crate::data::{Schema, Value};
use crate::error::{Error, Result};

/// ProtobufData's settings that change the written schema or bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProtobufOptions {
    /// `scrub.invalid.names`: rewrite names Protobuf does not accept.
    pub(crate) scrub_invalid_names: bool,
    /// `wrapper.for.nullables`: optional primitives as `google.protobuf.*Value` messages.
    pub(crate) wrapper_for_nullables: bool,
    /// `optional.for.nullables`: optional fields as proto3 `optional` (written even when they
    /// hold their type's default).
    pub(crate) optional_for_nullables: bool,
    /// `ignore.default.for.nullables`: a null field is written as null, not as its default.
    pub(crate) ignore_default_for_nullables: bool,
}

/// A Connect struct schema translated to Protobuf: its `.proto` text and how to write values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProtobufPlan {
    /// The `.proto` text, as Confluent's serializer registers it.
    pub(crate) text: String,
    /// The top-level message's full name (`package.Message`): the record name of
    /// `RecordNameStrategy` and `TopicRecordNameStrategy`.
    pub(crate) record_name: String,
    /// The files the text imports (`confluent/type/decimal.proto`, ...), in order.
    pub(crate) imports: Vec<&'static str>,
    options: ProtobufOptions,
}

impl ProtobufPlan {
    /// Translates `schema` (a struct schema).
    ///
    /// # Errors
    /// [`Error::Schema`] for a schema Confluent's converter cannot write either (an array of
    /// arrays, a non-struct top level, enum and union parameters, a bad field number), naming
    /// the field.
    pub(crate) fn new(schema: &Schema, options: ProtobufOptions) -> Result<Self> {
        let file = schema::translate(schema, &options)?;
        Ok(ProtobufPlan {
            text: schema::print(&file),
            record_name: file.full_name(),
            imports: file.imports,
            options,
        })
    }

    /// Appends the message indexes and the Protobuf binary of `value` (the wire format's part
    /// after the schema id) to `out`. The top-level message is the file's first, so its
    /// indexes are `[0]`, written as the single byte 0.
    ///
    /// # Errors
    /// [`Error::Data`] when the value does not fit the schema or Protobuf cannot hold it (a
    /// null array element, a Timestamp outside years 1 to 9999), naming the field.
    pub(crate) fn write(&self, schema: &Schema, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let Value::Struct(s) = value else {
            return Err(Error::Data(format!(
                "{} value for a struct schema",
                value.inferred_type().map_or("null", |t| t.name())
            )));
        };
        out.push(0);
        encode::Encoder {
            options: &self.options,
        }
        .write_struct(schema, s, out)
    }
}
