//! Connect schema → Protobuf schema, as Confluent's `ProtobufData.fromConnectSchema` builds it,
//! printed as the `.proto` text Confluent's `ProtobufSchema.canonicalString()` gives (the text its
//! serializer registers).

use std::borrow::Cow;
use std::collections::HashSet;

use super::ProtobufOptions;
use crate::data::logical::{DATE_NAME, DECIMAL_NAME, DECIMAL_SCALE, TIMESTAMP_NAME, TIME_NAME};
use crate::data::{Schema, Type};
use crate::error::{Error, Result};

/// The parameter that gives a field its number (`io.confluent.connect.protobuf.Tag`).
pub(super) const TAG_PARAM: &str = "io.confluent.connect.protobuf.Tag";
/// The Decimal precision parameter Connect's Avro and Protobuf converters set.
const PRECISION_PARAM: &str = "connect.decimal.precision";
/// Parameters of schemas read from Protobuf enums and oneofs (or Connect's generalized sum
/// types), which Confluent writes as Protobuf enums and oneofs; this writer does not. (Avro's
/// enum parameters are ignored by Confluent too: an Avro enum is written as a string.)
const UNSUPPORTED_PARAMS: &[&str] = &[
    "io.confluent.connect.protobuf.Enum",
    "io.confluent.connect.protobuf.Union",
    "io.confluent.connect.protobuf.Type",
    "org.apache.kafka.connect.data.Enum",
    "org.apache.kafka.connect.data.Union",
];

/// The name Confluent gives unnamed structs and maps: `ConnectDefault1`, `ConnectDefault2`, ...
const DEFAULT_NAME: &str = "ConnectDefault";

pub(super) const DECIMAL_TYPE: &str = "confluent.type.Decimal";
pub(super) const DATE_TYPE: &str = "google.type.Date";
pub(super) const TIME_TYPE: &str = "google.type.TimeOfDay";
pub(super) const TIMESTAMP_TYPE: &str = "google.protobuf.Timestamp";

/// Where each imported type lives (the import path Confluent writes and registers).
const IMPORTS: &[(&str, &str)] = &[
    (DECIMAL_TYPE, "confluent/type/decimal.proto"),
    (DATE_TYPE, "google/type/date.proto"),
    (TIME_TYPE, "google/type/timeofday.proto"),
    (TIMESTAMP_TYPE, "google/protobuf/timestamp.proto"),
    ("google.protobuf.DoubleValue", WRAPPERS),
    ("google.protobuf.FloatValue", WRAPPERS),
    ("google.protobuf.Int64Value", WRAPPERS),
    ("google.protobuf.Int32Value", WRAPPERS),
    ("google.protobuf.BoolValue", WRAPPERS),
    ("google.protobuf.StringValue", WRAPPERS),
    ("google.protobuf.BytesValue", WRAPPERS),
];
const WRAPPERS: &str = "google/protobuf/wrappers.proto";

/// One field of a message.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ProtoField {
    /// `repeated`, `optional` (proto3 optional) or none.
    pub(super) label: Option<&'static str>,
    /// The type as written (`int32`, `ConnectDefault2`, `google.protobuf.Timestamp`, ...).
    pub(super) type_name: String,
    pub(super) name: String,
    pub(super) number: i32,
    /// The `confluent.field_meta` params, in Confluent's order.
    pub(super) params: Vec<(&'static str, String)>,
}

/// One message, with the messages defined inside it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ProtoMessage {
    pub(super) name: String,
    pub(super) fields: Vec<ProtoField>,
    pub(super) nested: Vec<ProtoMessage>,
}

/// A translated schema: one `.proto` file with one top-level message.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ProtoFile {
    pub(super) package: Option<String>,
    /// Import paths, in the order Confluent adds them (first use).
    pub(super) imports: Vec<&'static str>,
    pub(super) message: ProtoMessage,
}

impl ProtoFile {
    /// The top-level message's full name (`package.Name`), the record name of the subject name
    /// strategies.
    pub(super) fn full_name(&self) -> String {
        match &self.package {
            Some(p) => format!("{p}.{}", self.message.name),
            None => self.message.name.clone(),
        }
    }
}

/// Translates a struct schema (the caller handles the other top-level types).
pub(super) fn translate(schema: &Schema, options: &ProtobufOptions) -> Result<ProtoFile> {
    if schema.type_() != Type::Struct {
        return Err(Error::Schema(format!(
            "a top-level {} schema: Confluent's ProtobufConverter writes it as a \
             google.protobuf wrapper message, which this ProtobufConverter does not; it writes \
             struct schemas only (for string or bytes keys keep key.converter=StringConverter or \
             ByteArrayConverter, or wrap the value in a struct with a transform)",
            schema.type_()
        )));
    }
    let mut ctx = Ctx {
        options,
        counter: 0,
        imports: Vec::new(),
    };
    let full = ctx.name_or_default(schema.name());
    let mut parts: Vec<&str> = full.split('.').collect();
    // Java's String.split drops trailing empty strings.
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    let parts: Vec<String> = parts.iter().map(|p| ctx.scrub(p).into_owned()).collect();
    let (package, name) = match parts.split_last() {
        Some((name, [])) => (None, name.clone()),
        Some((name, pkg)) => (Some(pkg.join(".")), name.clone()),
        None => unreachable!("split yields at least one part"),
    };
    if name.is_empty() {
        return Err(Error::Schema(format!(
            "the struct schema name {full:?} has no message name after its last dot"
        )));
    }
    let message = ctx.message(name, schema)?;
    Ok(ProtoFile {
        package,
        imports: ctx.imports,
        message,
    })
}

struct Ctx<'o> {
    options: &'o ProtobufOptions,
    counter: u32,
    imports: Vec<&'static str>,
}

impl Ctx<'_> {
    fn name_or_default(&mut self, name: Option<&str>) -> String {
        match name {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => {
                self.counter += 1;
                format!("{DEFAULT_NAME}{}", self.counter)
            }
        }
    }

    fn scrub<'a>(&self, name: &'a str) -> Cow<'a, str> {
        if self.options.scrub_invalid_names {
            scrub_name(name)
        } else {
            Cow::Borrowed(name)
        }
    }

    /// The name without its namespace (a default name when there is none), scrubbed.
    fn unqualified(&mut self, name: Option<&str>) -> String {
        let full = self.name_or_default(name);
        let last = full.rsplit('.').next().unwrap_or(&full);
        self.scrub(last).into_owned()
    }

    fn message(&mut self, name: String, schema: &Schema) -> Result<ProtoMessage> {
        let mut msg = ProtoMessage {
            name,
            fields: Vec::with_capacity(schema.fields().len()),
            nested: Vec::new(),
        };
        let mut children = HashSet::new();
        let mut index = 1;
        for field in schema.fields() {
            let number =
                field_number(field.schema(), &mut index).map_err(|e| at(field.name(), e))?;
            let name = self.scrub(field.name()).into_owned();
            let f = self
                .field(&mut msg, &mut children, field.schema(), name, number, false)
                .map_err(|e| at(field.name(), e))?;
            msg.fields.push(f);
        }
        Ok(msg)
    }

    /// A map's entry message: `key = 1`, `value = 2`.
    fn map_entry(&mut self, name: String, schema: &Schema) -> Result<ProtoMessage> {
        let mut msg = ProtoMessage {
            name,
            fields: Vec::with_capacity(2),
            nested: Vec::new(),
        };
        let mut children = HashSet::new();
        let (Some(ks), Some(vs)) = (schema.key_schema(), schema.value_schema()) else {
            return Err(Error::Schema(
                "map schema without key or value schema".into(),
            ));
        };
        let key = self.field(&mut msg, &mut children, ks, "key".into(), 1, true)?;
        msg.fields.push(key);
        let value = self.field(&mut msg, &mut children, vs, "value".into(), 2, true)?;
        msg.fields.push(value);
        Ok(msg)
    }

    /// Confluent's `fieldDefinitionFromConnectSchema`; `in_entry` for a map entry's key and
    /// value (an `optional` label there is dropped, as Confluent's descriptor drops it).
    fn field(
        &mut self,
        msg: &mut ProtoMessage,
        children: &mut HashSet<String>,
        schema: &Schema,
        name: String,
        number: i32,
        in_entry: bool,
    ) -> Result<ProtoField> {
        let label = label(schema, self.options, in_entry);
        let target = if schema.type_() == Type::Array {
            element(schema)?
        } else {
            schema
        };
        check_params(target)?;
        let mut params = Vec::new();
        let type_name = self.data_type(target, &name, &mut params)?;
        match target.type_() {
            Type::Struct => {
                if msg.name != type_name && !children.contains(&type_name) {
                    children.insert(type_name.clone());
                    let nested = self.message(type_name.clone(), target)?;
                    msg.nested.push(nested);
                }
            }
            Type::Map => {
                let entry = self.map_entry(type_name.clone(), target)?;
                msg.nested.push(entry);
            }
            _ => {
                if let Some((_, path)) = IMPORTS.iter().find(|(t, _)| *t == type_name) {
                    if !self.imports.contains(path) {
                        self.imports.push(path);
                    }
                }
            }
        }
        Ok(ProtoField {
            label,
            type_name,
            name,
            number,
            params,
        })
    }

    /// Confluent's `dataTypeFromConnectSchema`.
    fn data_type(
        &mut self,
        schema: &Schema,
        field_name: &str,
        params: &mut Vec<(&'static str, String)>,
    ) -> Result<String> {
        match schema.name() {
            Some(DECIMAL_NAME) => {
                // Confluent's HashMap iterates precision before scale.
                if let Some(p) = schema.parameters().get(PRECISION_PARAM) {
                    params.push(("precision", p.clone()));
                }
                if let Some(s) = schema.parameters().get(DECIMAL_SCALE) {
                    params.push(("scale", s.clone()));
                }
                return Ok(DECIMAL_TYPE.into());
            }
            Some(DATE_NAME) => return Ok(DATE_TYPE.into()),
            Some(TIME_NAME) => return Ok(TIME_TYPE.into()),
            Some(TIMESTAMP_NAME) => return Ok(TIMESTAMP_TYPE.into()),
            _ => {}
        }
        let wrap = wrapped(schema, self.options);
        let pick = |wrapper: &str, plain: &str| {
            if wrap {
                format!("google.protobuf.{wrapper}")
            } else {
                plain.to_owned()
            }
        };
        Ok(match schema.type_() {
            Type::Int8 => {
                params.push(("connect.type", "int8".into()));
                pick("Int32Value", "int32")
            }
            Type::Int16 => {
                params.push(("connect.type", "int16".into()));
                pick("Int32Value", "int32")
            }
            Type::Int32 => pick("Int32Value", "int32"),
            Type::Int64 => pick("Int64Value", "int64"),
            Type::Float32 => pick("FloatValue", "float"),
            Type::Float64 => pick("DoubleValue", "double"),
            Type::Boolean => pick("BoolValue", "bool"),
            Type::String => pick("StringValue", "string"),
            Type::Bytes => pick("BytesValue", "bytes"),
            Type::Array => {
                return Err(Error::Schema(
                    "an array of arrays cannot be written as Protobuf (Confluent's ProtobufData \
                     refuses nested arrays): wrap the inner array in a struct"
                        .into(),
                ))
            }
            Type::Map => to_map_entry(&self.unqualified(schema.name())),
            Type::Struct => {
                let name = self.unqualified(schema.name());
                if name == field_name {
                    // A nested type may not share its field's name.
                    format!("{name}Message")
                } else {
                    name
                }
            }
        })
    }
}

/// The number of a field: its `io.confluent.connect.protobuf.Tag` parameter, else the next of
/// 1, 2, ... (fields with a tag do not use one up).
pub(super) fn field_number(schema: &Schema, next: &mut i32) -> Result<i32> {
    match schema.parameters().get(TAG_PARAM) {
        Some(t) => t.trim().parse::<i32>().map_err(|_| {
            Error::Schema(format!(
                "parameter {TAG_PARAM} = {t:?} is not a field number (an integer)"
            ))
        }),
        None => {
            let n = *next;
            *next += 1;
            Ok(n)
        }
    }
}

/// Whether the value is written in a `google.protobuf.*Value` wrapper (`wrapper.for.nullables`).
pub(super) fn wrapped(schema: &Schema, options: &ProtobufOptions) -> bool {
    options.wrapper_for_nullables
        && schema.is_optional()
        && schema.type_().is_primitive()
        && !matches!(
            schema.name(),
            Some(DECIMAL_NAME | DATE_NAME | TIME_NAME | TIMESTAMP_NAME)
        )
}

/// Confluent's `getLabel`.
fn label(schema: &Schema, options: &ProtobufOptions, in_entry: bool) -> Option<&'static str> {
    match schema.type_() {
        Type::Array | Type::Map => Some("repeated"),
        _ if has_presence(schema, options, in_entry) => Some("optional"),
        _ => None,
    }
}

/// Whether a field is proto3 `optional` (written even when it holds its type's default).
pub(super) fn has_presence(schema: &Schema, options: &ProtobufOptions, in_entry: bool) -> bool {
    !in_entry
        && options.optional_for_nullables
        && schema.is_optional()
        && !matches!(schema.type_(), Type::Array | Type::Map)
}

pub(super) fn element(schema: &Schema) -> Result<&Schema> {
    schema
        .value_schema()
        .ok_or_else(|| Error::Schema("array schema without an element schema".into()))
}

fn check_params(schema: &Schema) -> Result<()> {
    if let Some(p) = UNSUPPORTED_PARAMS
        .iter()
        .find(|p| schema.parameters().contains_key(**p))
    {
        return Err(Error::Schema(format!(
            "a schema with parameter {p} (an enum or union read from Avro or Protobuf) cannot be \
             written by this ProtobufConverter; convert the field to a string or struct with a \
             transform first"
        )));
    }
    Ok(())
}

fn at(field: &str, e: Error) -> Error {
    match e {
        Error::Schema(m) => Error::Schema(format!("field {field:?}: {m}")),
        e => e,
    }
}

/// The entry message name of a map (`ProtobufSchema.toMapEntry`): `lower_underscore` names in
/// UpperCamel, then `Entry`.
fn to_map_entry(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 5);
    if name.contains('_') {
        for word in name.split('_') {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars.map(|c| c.to_ascii_lowercase()));
            }
        }
    } else {
        out.push_str(name);
    }
    out.push_str("Entry");
    out
}

/// Confluent's `scrub.invalid.names`: a name that is not `[A-Za-z][A-Za-z0-9_]*` is URL-encoded
/// (UTF-8), prefixed with `x` when it starts with a digit or `_`, and every character other than
/// letters, digits and `_` becomes `_`.
pub(super) fn scrub_name(name: &str) -> Cow<'_, str> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let first = name.chars().next();
    let ok = name.chars().all(valid) && first.is_some_and(|c| !c.is_ascii_digit() && c != '_');
    if name.is_empty() || ok {
        return Cow::Borrowed(name);
    }
    // java.net.URLEncoder with UTF-8: letters, digits and .-*_ stay, space is +, the rest %XX.
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                encoded.push(b as char)
            }
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    if encoded.starts_with(|c: char| c.is_ascii_digit() || c == '_') {
        encoded.insert(0, 'x');
    }
    Cow::Owned(
        encoded
            .chars()
            .map(|c| if valid(c) { c } else { '_' })
            .collect(),
    )
}

/// The `.proto` text, formatted as Confluent's `ProtobufSchemaUtils.toString` formats it.
pub(super) fn print(file: &ProtoFile) -> String {
    let mut sb = String::with_capacity(256);
    sb.push_str("syntax = \"proto3\";\n");
    if let Some(p) = &file.package {
        sb.push_str("package ");
        sb.push_str(p);
        sb.push_str(";\n");
    }
    if !file.imports.is_empty() {
        sb.push('\n');
        for i in &file.imports {
            sb.push_str("import \"");
            sb.push_str(i);
            sb.push_str("\";\n");
        }
    }
    sb.push('\n');
    sb.push_str(&print_message(&file.message));
    sb
}

fn print_message(m: &ProtoMessage) -> String {
    let mut sb = format!("message {} {{", m.name);
    if !m.fields.is_empty() {
        sb.push('\n');
        for f in &m.fields {
            append_indented(&mut sb, &print_field(f));
        }
    }
    if !m.nested.is_empty() {
        sb.push('\n');
        for n in &m.nested {
            append_indented(&mut sb, &print_message(n));
        }
    }
    sb.push_str("}\n");
    sb
}

fn print_field(f: &ProtoField) -> String {
    let mut sb = String::new();
    if let Some(l) = f.label {
        sb.push_str(l);
        sb.push(' ');
    }
    sb.push_str(&f.type_name);
    sb.push(' ');
    sb.push_str(&f.name);
    sb.push_str(" = ");
    sb.push_str(&f.number.to_string());
    if !f.params.is_empty() {
        // [(confluent.field_meta) = { params: [ {key, value}, ... ] }]; Confluent writes the
        // value first for precision and scale.
        let mut items = String::from("[\n");
        for (i, (k, v)) in f.params.iter().enumerate() {
            let key = format!("key: \"{}\"", escape(k));
            let value = format!("value: \"{}\"", escape(v));
            let (a, b) = if matches!(*k, "precision" | "scale") {
                (value, key)
            } else {
                (key, value)
            };
            let mut entry = String::from("{\n");
            append_indented(&mut entry, &format!("{a},"));
            append_indented(&mut entry, &b);
            entry.push('}');
            let endl = if i + 1 < f.params.len() { "," } else { "" };
            append_indented(&mut items, &format!("{entry}{endl}"));
        }
        items.push(']');
        let mut option = String::from("(confluent.field_meta) = {\n");
        append_indented(&mut option, &format!("params: {items}"));
        option.push('}');
        sb.push_str(" [");
        sb.push_str(&option);
        sb.push(']');
    }
    sb.push_str(";\n");
    sb
}

/// Java's `value.split("\n")` (trailing empty lines dropped), each line indented by two spaces.
fn append_indented(sb: &mut String, value: &str) {
    let mut lines: Vec<&str> = value.split('\n').collect();
    while lines.last() == Some(&"") {
        lines.pop();
    }
    for line in lines {
        sb.push_str("  ");
        sb.push_str(line);
        sb.push('\n');
    }
}

/// Confluent's `escapeChars`.
fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| {
        matches!(
            c,
            '\x07' | '\x08' | '\x0c' | '\n' | '\r' | '\t' | '\x0b' | '\\' | '\'' | '"'
        )
    }) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}
