//! [`JsonConverter`]: byte-for-byte `org.apache.kafka.connect.json.JsonConverter` (Kafka 3.x).

use std::borrow::Cow;

use base64::Engine as _;

use super::number::{big_decimal_to_string, java_double_to_string, java_float_to_string};
use super::Converter;
use crate::data::logical::{
    minimal_twos_complement, DATE_NAME, DECIMAL_NAME, DECIMAL_SCALE, TIMESTAMP_NAME, TIME_NAME,
};
use crate::data::{Schema, SchemaAndValue, Type, Value};
use crate::error::{Error, Result};

/// How the JSON converter writes Decimal values (`decimal.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalFormat {
    /// Base64 of the unscaled value's two's complement bytes (`BASE64`, Connect's default).
    #[default]
    Base64,
    /// A JSON number, as `BigDecimal.toString` prints it (`NUMERIC`).
    Numeric,
}

/// Settings of [`JsonConverter`] (the keys of Connect's `JsonConverterConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonConverterConfig {
    /// `schemas.enable`: wrap each value in a `{"schema":...,"payload":...}` envelope.
    pub schemas_enable: bool,
    /// `decimal.format`: how Decimal values are written.
    pub decimal_format: DecimalFormat,
    /// `schemas.cache.size`: accepted for compatibility; it changes nothing here.
    pub schemas_cache_size: i32,
    /// `replace.null.with.default`: write a field's default instead of a null value.
    pub replace_null_with_default: bool,
}

impl Default for JsonConverterConfig {
    fn default() -> Self {
        JsonConverterConfig {
            schemas_enable: true,
            decimal_format: DecimalFormat::Base64,
            schemas_cache_size: 1000,
            replace_null_with_default: true,
        }
    }
}

/// Writes Connect data as JSON exactly as Kafka Connect's `JsonConverter` does: with
/// `schemas.enable=true` an envelope `{"schema":<schema>,"payload":<value>}`, otherwise the bare
/// value; compact (no whitespace), floats in Java's notation, bytes in base64.
#[derive(Debug, Clone, Default)]
pub struct JsonConverter {
    config: JsonConverterConfig,
    /// Size of the last output, to allocate the next one once (records of a stream are alike).
    last_len: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl JsonConverter {
    /// A converter with `config`.
    pub fn new(config: JsonConverterConfig) -> Self {
        JsonConverter {
            config,
            last_len: Default::default(),
        }
    }

    /// The converter's settings.
    pub fn config(&self) -> &JsonConverterConfig {
        &self.config
    }

    /// Connect's `asJsonSchema`: `type`, then `items` / `keys`,`values` / `fields`, then
    /// `optional`, `name`, `version`, `doc`, `parameters`, `default` (each only when set).
    fn schema_json<'a>(&self, schema: &'a Schema) -> Result<Json<'a>> {
        let mut obj: Vec<(Cow<'a, str>, Json<'a>)> = Vec::with_capacity(4);
        obj.push(("type".into(), Json::Str(schema.type_().name().into())));
        match schema.type_() {
            Type::Array => {
                obj.push((
                    "items".into(),
                    self.schema_json(inner(schema, "array", false)?)?,
                ));
            }
            Type::Map => {
                obj.push((
                    "keys".into(),
                    self.schema_json(inner(schema, "map", true)?)?,
                ));
                obj.push((
                    "values".into(),
                    self.schema_json(inner(schema, "map", false)?)?,
                ));
            }
            Type::Struct => {
                let mut fields = Vec::with_capacity(schema.fields().len());
                for field in schema.fields() {
                    let mut f = self.schema_json(field.schema())?;
                    if let Json::Object(entries) = &mut f {
                        entries.push(("field".into(), Json::Str(field.name().into())));
                    }
                    fields.push(f);
                }
                obj.push(("fields".into(), Json::Array(fields)));
            }
            _ => {}
        }
        obj.push(("optional".into(), Json::Bool(schema.is_optional())));
        if let Some(name) = schema.name() {
            obj.push(("name".into(), Json::Str(name.into())));
        }
        if let Some(version) = schema.version() {
            obj.push(("version".into(), Json::Int(version.into())));
        }
        if let Some(doc) = schema.doc() {
            obj.push(("doc".into(), Json::Str(doc.into())));
        }
        if !schema.parameters().is_empty() {
            let params = schema
                .parameters()
                .iter()
                .map(|(k, v)| (Cow::from(k.as_str()), Json::Str(v.as_str().into())))
                .collect();
            obj.push(("parameters".into(), Json::Object(params)));
        }
        if let Some(default) = schema.default_value() {
            obj.push(("default".into(), self.value_json(schema, default)?));
        }
        Ok(Json::Object(obj))
    }

    /// Connect's `convertToJson`.
    fn value_json<'a>(&self, schema: &'a Schema, value: &'a Value) -> Result<Json<'a>> {
        if *value == Value::Null {
            if let (Some(default), true) = (
                schema.default_value(),
                self.config.replace_null_with_default,
            ) {
                return self.value_json(schema, default);
            }
            if schema.is_optional() {
                return Ok(Json::Null);
            }
            return Err(Error::Data(format!(
                "null value for a required {} schema{} that has no default value",
                schema.type_(),
                schema.name().map(|n| format!(" ({n})")).unwrap_or_default()
            )));
        }
        if let Some(json) = self.logical_json(schema, value)? {
            return Ok(json);
        }
        let mismatch = || {
            Error::Data(format!(
                "{} value for a {} schema",
                value.inferred_type().map_or("null", Type::name),
                schema.type_()
            ))
        };
        Ok(match (schema.type_(), value) {
            (Type::Int8, Value::Int8(v)) => Json::Int((*v).into()),
            (Type::Int16, Value::Int16(v)) => Json::Int((*v).into()),
            (Type::Int32, Value::Int32(v)) => Json::Int((*v).into()),
            (Type::Int64, Value::Int64(v)) => Json::Int(*v),
            (Type::Float32, Value::Float32(v)) => Json::Float(*v),
            (Type::Float64, Value::Float64(v)) => Json::Double(*v),
            (Type::Boolean, Value::Boolean(v)) => Json::Bool(*v),
            (Type::String, Value::String(v)) => Json::Str(v.as_str().into()),
            (Type::Bytes, Value::Bytes(v)) => Json::Str(base64_of(v).into()),
            (Type::Array, Value::Array(items)) => {
                let es = inner(schema, "array", false)?;
                Json::Array(
                    items
                        .iter()
                        .map(|item| self.value_json(es, item))
                        .collect::<Result<_>>()?,
                )
            }
            (Type::Map, Value::Map(entries)) => {
                let ks = inner(schema, "map", true)?;
                let vs = inner(schema, "map", false)?;
                map_json(
                    entries,
                    ks.type_() == Type::String,
                    |k, v| Ok((self.value_json(ks, k)?, self.value_json(vs, v)?)),
                    |k, v| Json::Array(vec![k, v]),
                )?
            }
            (Type::Struct, Value::Struct(s)) => {
                if s.schema() != schema {
                    return Err(Error::Data(format!(
                        "struct value with schema {:?} for a different struct schema {:?}",
                        s.schema().name(),
                        schema.name()
                    )));
                }
                let mut obj = Vec::with_capacity(schema.fields().len());
                for (field, v) in schema.fields().iter().zip(s.values()) {
                    let json = self.value_json(field.schema(), v).map_err(|e| match e {
                        Error::Data(m) => Error::Data(format!("field {:?}: {m}", field.name())),
                        e => e,
                    })?;
                    obj.push((Cow::from(field.name()), json));
                }
                Json::Object(obj)
            }
            _ => return Err(mismatch()),
        })
    }

    /// Decimal, Date, Time and Timestamp, recognised by schema name as Connect does.
    fn logical_json<'a>(&self, schema: &'a Schema, value: &'a Value) -> Result<Option<Json<'a>>> {
        let Some(name) = schema.name() else {
            return Ok(None);
        };
        let bad = |expected: &str| {
            Error::Data(format!(
                "invalid value for {name}: expected {expected}, got {}",
                value.inferred_type().map_or("null", Type::name)
            ))
        };
        Ok(Some(match name {
            DECIMAL_NAME => {
                let Value::Bytes(bytes) = value else {
                    return Err(bad("bytes"));
                };
                if bytes.is_empty() {
                    return Err(Error::Data(format!("{name} value with no bytes")));
                }
                match self.config.decimal_format {
                    DecimalFormat::Base64 => {
                        Json::Str(base64_of(minimal_twos_complement(bytes)).into())
                    }
                    DecimalFormat::Numeric => {
                        let scale = schema
                            .parameters()
                            .get(DECIMAL_SCALE)
                            .and_then(|s| s.trim().parse::<i32>().ok())
                            .ok_or_else(|| {
                                Error::Data(format!(
                                    "{name} schema without an integer '{DECIMAL_SCALE}' parameter"
                                ))
                            })?;
                        Json::Number(big_decimal_to_string(bytes, scale))
                    }
                }
            }
            DATE_NAME | TIME_NAME => match value {
                Value::Int32(v) => Json::Int((*v).into()),
                _ => return Err(bad("int32")),
            },
            TIMESTAMP_NAME => match value {
                Value::Int64(v) => Json::Int(*v),
                _ => return Err(bad("int64")),
            },
            _ => return Ok(None),
        }))
    }
}

impl Converter for JsonConverter {
    fn from_connect_data(&self, _topic: &str, data: &SchemaAndValue) -> Result<Option<Vec<u8>>> {
        let hint = self.last_len.load(std::sync::atomic::Ordering::Relaxed);
        let mut out = Vec::with_capacity(hint + hint / 8 + 64);
        match data.schema.as_ref() {
            None if data.value == Value::Null => return Ok(None),
            // Schemaless data is written as it is walked, without building a JSON tree.
            None if self.config.schemas_enable => {
                out.extend_from_slice(br#"{"schema":null,"payload":"#);
                write_schemaless(&data.value, &mut out)?;
                out.push(b'}');
            }
            None => write_schemaless(&data.value, &mut out)?,
            Some(schema) => {
                schema.validate_value(&data.value)?;
                let payload = self.value_json(schema, &data.value)?;
                let json = if self.config.schemas_enable {
                    Json::Object(vec![
                        ("schema".into(), self.schema_json(schema)?),
                        ("payload".into(), payload),
                    ])
                } else {
                    payload
                };
                json.write(&mut out);
            }
        }
        self.last_len
            .store(out.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(Some(out))
    }

    fn writes_plain_json(&self) -> bool {
        !self.config.schemas_enable
    }
}

/// Connect's `convertToJson` without a schema (the type is inferred from the value), written
/// straight into `out`: a map with string keys is an object (a repeated key keeps its first
/// position and takes its last value, as Jackson's `ObjectNode.set` does), any other map an
/// array of `[key, value]` pairs.
fn write_schemaless(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Int8(v) => write_int(out, (*v).into()),
        Value::Int16(v) => write_int(out, (*v).into()),
        Value::Int32(v) => write_int(out, (*v).into()),
        Value::Int64(v) => write_int(out, *v),
        Value::Float32(v) => write_float(out, *v),
        Value::Float64(v) => write_double(out, *v),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::String(v) => write_str(out, v),
        Value::Bytes(v) => write_str(out, &base64_of(v)),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_schemaless(item, out)?;
            }
            out.push(b']');
        }
        Value::Map(entries) if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) => {
            let repeats = repeats_a_key(entries);
            out.push(b'{');
            let mut first = true;
            for (i, (k, v)) in entries.iter().enumerate() {
                let key = k.as_str().unwrap_or_default();
                let v = if repeats {
                    if entries[..i].iter().any(|(e, _)| e.as_str() == Some(key)) {
                        continue;
                    }
                    let last = entries.iter().rev().find(|(e, _)| e.as_str() == Some(key));
                    last.map_or(v, |(_, v)| v)
                } else {
                    v
                };
                if !first {
                    out.push(b',');
                }
                first = false;
                write_str(out, key);
                out.push(b':');
                write_schemaless(v, out)?;
            }
            out.push(b'}');
        }
        Value::Map(entries) => {
            out.push(b'[');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                write_schemaless(k, out)?;
                out.push(b',');
                write_schemaless(v, out)?;
                out.push(b']');
            }
            out.push(b']');
        }
        Value::Struct(s) => {
            return Err(Error::Data(format!(
                "a struct value ({}) needs its schema: schemaless data cannot hold a struct (Kafka \
                 Connect's JsonConverter rejects it too); pass the struct's schema with the value",
                s.schema().name().unwrap_or("unnamed struct")
            )))
        }
    }
    Ok(())
}

/// Whether two entries of a map with string keys have the same key.
fn repeats_a_key(entries: &[(Value, Value)]) -> bool {
    fn key(e: &(Value, Value)) -> &str {
        e.0.as_str().unwrap_or_default()
    }
    if entries.len() <= 32 {
        entries
            .iter()
            .enumerate()
            .any(|(i, a)| entries[..i].iter().any(|b| key(a) == key(b)))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        !entries.iter().all(|e| seen.insert(key(e)))
    }
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
}

fn write_float(out: &mut Vec<u8>, f: f32) {
    write_java_number(out, &java_float_to_string(f), f.is_finite());
}

fn write_double(out: &mut Vec<u8>, d: f64) {
    write_java_number(out, &java_double_to_string(d), d.is_finite());
}

/// Jackson quotes NaN and the infinities (QUOTE_NON_NUMERIC_NUMBERS is on by default).
fn write_java_number(out: &mut Vec<u8>, text: &str, finite: bool) {
    if finite {
        out.extend_from_slice(text.as_bytes());
    } else {
        write_str(out, text);
    }
}

fn inner<'a>(schema: &'a Schema, kind: &str, key: bool) -> Result<&'a Schema> {
    let s = if key {
        schema.key_schema()
    } else {
        schema.value_schema()
    };
    s.ok_or_else(|| {
        Error::Data(format!(
            "{kind} schema without a {} schema",
            if key { "key" } else { "value" }
        ))
    })
}

pub(super) fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A Connect map as JSON: an object when `string_keys` (each key as its text), else an array with
/// one `entry(key, value)` per entry (JsonConverter's `[k, v]`, JsonSchemaData's
/// `{"key": k, "value": v}`). `convert` gives each entry's key and value as JSON.
pub(super) fn map_json<'a>(
    entries: &'a [(Value, Value)],
    string_keys: bool,
    convert: impl Fn(&'a Value, &'a Value) -> Result<(Json<'a>, Json<'a>)>,
    entry: impl Fn(Json<'a>, Json<'a>) -> Json<'a>,
) -> Result<Json<'a>> {
    if string_keys {
        let mut obj = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let (key, value) = convert(k, v)?;
            set(&mut obj, key.into_text(), value);
        }
        Ok(Json::Object(obj))
    } else {
        entries
            .iter()
            .map(|(k, v)| convert(k, v).map(|(k, v)| entry(k, v)))
            .collect::<Result<_>>()
            .map(Json::Array)
    }
}

/// Jackson's `ObjectNode.set`: a repeated key keeps its first position and takes the new value.
pub(super) fn set<'a>(obj: &mut Vec<(Cow<'a, str>, Json<'a>)>, key: Cow<'a, str>, value: Json<'a>) {
    match obj.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => obj.push((key, value)),
    }
}

/// A JSON tree shaped like Jackson's `JsonNode`s, written exactly as Jackson writes them.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f32),
    Double(f64),
    /// A number already in its final text form (BigDecimal).
    Number(String),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Jackson's `JsonNode.asText` for the nodes used as map keys.
    pub(super) fn into_text(self) -> Cow<'a, str> {
        match self {
            Json::Str(s) => s,
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string().into(),
            Json::Int(i) => i.to_string().into(),
            Json::Float(f) => java_float_to_string(f).into(),
            Json::Double(d) => java_double_to_string(d).into(),
            Json::Number(n) => n.into(),
            Json::Array(_) | Json::Object(_) => "".into(),
        }
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(true) => out.extend_from_slice(b"true"),
            Json::Bool(false) => out.extend_from_slice(b"false"),
            Json::Int(i) => write_int(out, *i),
            Json::Float(f) => write_float(out, *f),
            Json::Double(d) => write_double(out, *d),
            Json::Number(n) => out.extend_from_slice(n.as_bytes()),
            Json::Str(s) => write_str(out, s),
            Json::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Json::Object(entries) => {
                out.push(b'{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

/// A JSON string as Jackson's `UTF8JsonGenerator` writes it: `"` and `\` backslash-escaped, the
/// control characters below 0x20 as `\b \t \n \f \r` or `\u00XX` (upper-case hex), everything else
/// (including non-ASCII, `/` and DEL) as raw UTF-8.
fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    /// Per byte: 0 when written as it is, else the letter after the backslash (`u` for `\u00XX`).
    static ESCAPE: [u8; 256] = {
        let mut table = [0u8; 256];
        let mut b = 0;
        while b < 0x20 {
            table[b] = b'u';
            b += 1;
        }
        table[0x08] = b'b';
        table[0x09] = b't';
        table[0x0A] = b'n';
        table[0x0C] = b'f';
        table[0x0D] = b'r';
        table[b'"' as usize] = b'"';
        table[b'\\' as usize] = b'\\';
        table
    };
    /// Whether any of the 8 bytes of `w` is below 0x20, `"` or `\\` (exact, no false positives).
    fn any_to_escape(w: u64) -> bool {
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
        let below_space = w.wrapping_sub(ONES * 0x20);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        ((below_space
            | quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash)
            & !w
            & HIGH)
            != 0
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none needs escaping (the common case).
        if let Some(word) = bytes.get(i..i + 8) {
            let w = u64::from_ne_bytes(word.try_into().expect("8 bytes"));
            if !any_to_escape(w) {
                i += 8;
                continue;
            }
        }
        let end = (i + 8).min(bytes.len());
        for (j, &b) in bytes[i..end].iter().enumerate() {
            let escape = ESCAPE[usize::from(b)];
            if escape == 0 {
                continue;
            }
            let at = i + j;
            out.extend_from_slice(&bytes[start..at]);
            start = at + 1;
            if escape == b'u' {
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]]);
            } else {
                out.extend_from_slice(&[b'\\', escape]);
            }
        }
        i = end;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod direct_write_tests {
    use super::*;
    use proptest::prelude::*;

    /// The tree-building writer `write_schemaless` replaced: its reference.
    fn schemaless_json(value: &Value) -> Result<Json<'_>> {
        Ok(match value {
            Value::Null => Json::Null,
            Value::Int8(v) => Json::Int((*v).into()),
            Value::Int16(v) => Json::Int((*v).into()),
            Value::Int32(v) => Json::Int((*v).into()),
            Value::Int64(v) => Json::Int(*v),
            Value::Float32(v) => Json::Float(*v),
            Value::Float64(v) => Json::Double(*v),
            Value::Boolean(v) => Json::Bool(*v),
            Value::String(v) => Json::Str(v.as_str().into()),
            Value::Bytes(v) => Json::Str(base64_of(v).into()),
            Value::Array(items) => {
                Json::Array(items.iter().map(schemaless_json).collect::<Result<_>>()?)
            }
            Value::Map(entries) => {
                if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                    let mut obj = Vec::with_capacity(entries.len());
                    for (k, v) in entries {
                        let key = k.as_str().unwrap_or_default();
                        set(&mut obj, key.into(), schemaless_json(v)?);
                    }
                    Json::Object(obj)
                } else {
                    Json::Array(
                        entries
                            .iter()
                            .map(|(k, v)| {
                                Ok(Json::Array(vec![schemaless_json(k)?, schemaless_json(v)?]))
                            })
                            .collect::<Result<_>>()?,
                    )
                }
            }
            Value::Struct(_) => unreachable!("the strategy makes no schemaless structs"),
        })
    }

    fn tree(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        schemaless_json(value).unwrap().write(&mut out);
        out
    }

    /// Schemaless values of every kind, with maps whose keys repeat or are not strings.
    fn schemaless_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i8>().prop_map(Value::Int8),
            any::<i16>().prop_map(Value::Int16),
            any::<i32>().prop_map(Value::Int32),
            any::<i64>().prop_map(Value::Int64),
            any::<f32>().prop_map(Value::Float32),
            any::<f64>().prop_map(Value::Float64),
            Just(Value::Float64(f64::NAN)),
            Just(Value::Float32(f32::NEG_INFINITY)),
            any::<bool>().prop_map(Value::Boolean),
            "[a-c\"\\\\\u{1}\u{7f}\u{e9}\n]{0,4}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(3, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec(("[ab]{0,1}", inner.clone()), 0..40).prop_map(|es| {
                    Value::Map(es.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
                }),
                proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Value::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn direct_write_equals_the_tree(value in schemaless_value()) {
            let mut direct = Vec::new();
            write_schemaless(&value, &mut direct).unwrap();
            let tree = tree(&value);
            prop_assert_eq!(String::from_utf8_lossy(&direct), String::from_utf8_lossy(&tree));
        }
    }

    /// Jackson's escaping, one byte at a time: the reference for the word-at-a-time writer.
    fn reference_str(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    proptest! {
        #[test]
        fn string_escaping_matches_the_reference(
            s in "([ -~]|[\u{0}-\u{1f}]|[\u{80}-\u{10ffff}]){0,40}"
        ) {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            prop_assert_eq!(String::from_utf8(out).unwrap(), reference_str(&s));
        }
    }

    #[test]
    fn envelope_and_repeated_keys() {
        let value = Value::Map(vec![
            (Value::from("a"), Value::Int64(1)),
            (Value::from("b"), Value::Float64(f64::INFINITY)),
            (Value::from("a"), Value::Int64(2)),
        ]);
        let data = SchemaAndValue::schemaless(value);
        let with = JsonConverter::new(JsonConverterConfig::default());
        let out = with.from_connect_data("t", &data).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"schema":null,"payload":{"a":2,"b":"Infinity"}}"#
        );
        let without = JsonConverter::new(JsonConverterConfig {
            schemas_enable: false,
            ..Default::default()
        });
        let out = without.from_connect_data("t", &data).unwrap().unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":2,"b":"Infinity"}"#);
    }
}
