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
//!
//! The registry part (subjects, registration, the schema id cache) is the registry converters'
//! (`super::registry`), with `schemaType` `PROTOBUF`. As Confluent's serializer does with its
//! default `skip.known.types=true`, the imported types are not registered as references: the
//! registry knows them.

mod encode;
mod schema;
#[cfg(test)]
mod tests;

use super::ConverterSetting;
use crate::data::{Schema, Value};
use crate::error::{Error, Result};

/// Short name of the Protobuf converter (`io.confluent.connect.protobuf.ProtobufConverter`).
pub const PROTOBUF: &str = "protobuf";

const SCRUB: &str = "scrub.invalid.names";
const WRAPPER: &str = "wrapper.for.nullables";
const OPTIONAL: &str = "optional.for.nullables";
const IGNORE_DEFAULT: &str = "ignore.default.for.nullables";
const SKIP_KNOWN_TYPES: &str = "skip.known.types";
/// ProtobufData settings that only change how Protobuf data is read back into Connect data
/// (`toConnectData`); Sluice only writes.
const READ_ONLY: &[&str] = &[
    "enhanced.protobuf.schema.support",
    "int.for.enums",
    "optional.for.proto2",
    "wrapper.for.raw.primitives",
    "generate.struct.for.nulls",
    "generate.index.for.unions",
    "flatten.unions",
];

/// The Protobuf converter's own settings (beside the registry settings every registry converter
/// takes).
pub(crate) static SETTINGS: &[ConverterSetting] = &[
    ConverterSetting {
        classes: &[PROTOBUF],
        name: SCRUB,
        default: "false",
        doc: "Rewrite names Protobuf does not accept (Confluent's rule: URL-encode, `x` before a \
              leading digit or `_`, every other character `_`).",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: WRAPPER,
        default: "false",
        doc: "Write optional primitive fields as `google.protobuf.*Value` wrapper messages (null \
              stays distinguishable from 0 and \"\").",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: OPTIONAL,
        default: "false",
        doc: "Declare optional fields proto3 `optional` (written even when they hold 0 or \"\").",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: IGNORE_DEFAULT,
        default: "false",
        doc: "Write a null field as absent instead of as the field's default value.",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: SKIP_KNOWN_TYPES,
        default: "true",
        doc: "Only true (Confluent's default): the imported Confluent and Google types \
              (`confluent/type/decimal.proto`, `google/type/date.proto`, ...) are known to the \
              registry and not registered as references.",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: "enhanced.protobuf.schema.support",
        default: "false",
        doc: "Accepted (true or false); it changes only how Protobuf is read back into Connect \
              data, so nothing Sluice writes.",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: "int.for.enums",
        default: "false",
        doc: "Accepted (true or false); it changes only how Protobuf enums are read back into \
              Connect data, so nothing Sluice writes.",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: "optional.for.proto2",
        default: "true",
        doc: "Accepted (true or false); read side only, no effect on what Sluice writes.",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: "wrapper.for.raw.primitives",
        default: "true",
        doc: "Accepted (true or false); read side only, no effect on what Sluice writes.",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: "generate.struct.for.nulls",
        default: "false",
        doc: "Accepted (true or false); read side only, no effect on what Sluice writes.",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: "generate.index.for.unions",
        default: "true",
        doc: "Accepted (true or false); read side only, no effect on what Sluice writes.",
    },
    ConverterSetting {
        classes: &[PROTOBUF],
        name: "flatten.unions",
        default: "false",
        doc: "Accepted (true or false); read side only, no effect on what Sluice writes.",
    },
];

/// The [`ProtobufOptions`] of a converter's settings; every bad value is added to `problems`
/// (`prefix` is `key.converter` or `value.converter`).
pub(crate) fn options(
    settings: &std::collections::BTreeMap<String, String>,
    prefix: &str,
    problems: &mut Vec<String>,
) -> ProtobufOptions {
    let mut boolean = |name: &str, default: bool| match settings.get(name).map(|v| v.trim()) {
        None | Some("") => default,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            problems.push(format!(
                "{prefix}.{name} = {v:?} is not valid: expected true or false"
            ));
            default
        }
    };
    let options = ProtobufOptions {
        scrub_invalid_names: boolean(SCRUB, false),
        wrapper_for_nullables: boolean(WRAPPER, false),
        optional_for_nullables: boolean(OPTIONAL, false),
        ignore_default_for_nullables: boolean(IGNORE_DEFAULT, false),
    };
    for name in READ_ONLY {
        let _ = boolean(name, false);
    }
    if !boolean(SKIP_KNOWN_TYPES, true) {
        problems.push(format!(
            "{prefix}.{SKIP_KNOWN_TYPES} = false is not supported: the imported Confluent and \
             Google types are never registered as references (Confluent's default, true; the \
             registry knows them)"
        ));
    }
    options
}

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
