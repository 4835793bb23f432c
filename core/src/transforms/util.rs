//! What the transforms share: the part of a record they work on, Connect's `requireMap` /
//! `requireStruct` checks, and helpers for schemaless maps and struct copies.

use std::sync::Mutex;

use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::error::{Error, Result};
use crate::record::SourceRecord;

/// Which part of a record a `$Key` / `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The record key (`$Key`).
    Key,
    /// The record value (`$Value`).
    Value,
}

impl Part {
    /// The part of `r`.
    pub(crate) fn get(self, r: &SourceRecord) -> &SchemaAndValue {
        match self {
            Part::Key => &r.key,
            Part::Value => &r.value,
        }
    }

    /// The part of `r`, to replace.
    pub(crate) fn get_mut(self, r: &mut SourceRecord) -> &mut SchemaAndValue {
        match self {
            Part::Key => &mut r.key,
            Part::Value => &mut r.value,
        }
    }
}

/// The type name of `v` for messages: `null`, `string`, `struct`, ...
pub(crate) fn type_of(v: &Value) -> &'static str {
    v.inferred_type().map_or("null", |t| t.name())
}

/// The entries of a schemaless map (Connect's `Requirements.requireMap`).
pub(crate) fn require_map<'v>(v: &'v Value, purpose: &str) -> Result<&'v Vec<(Value, Value)>> {
    match v {
        Value::Map(entries) => Ok(entries),
        other => Err(Error::Data(format!(
            "only map values are supported in absence of schema for [{purpose}], found: {}",
            type_of(other)
        ))),
    }
}

/// The entries of a schemaless map, taken out of `sv` without a copy (the map is left empty);
/// as [`require_map`] otherwise.
pub(crate) fn take_map(sv: &mut SchemaAndValue, purpose: &str) -> Result<Vec<(Value, Value)>> {
    match &mut sv.value {
        Value::Map(entries) => Ok(std::mem::take(entries)),
        other => Err(Error::Data(format!(
            "only map values are supported in absence of schema for [{purpose}], found: {}",
            type_of(other)
        ))),
    }
}

/// A struct value (Connect's `Requirements.requireStruct`).
pub(crate) fn require_struct<'v>(v: &'v Value, purpose: &str) -> Result<&'v Struct> {
    match v {
        Value::Struct(s) => Ok(s),
        other => Err(Error::Data(format!(
            "only struct values are supported for [{purpose}], found: {}",
            type_of(other)
        ))),
    }
}

/// The schema of a record part that must have one (Connect's `Requirements.requireSchema`).
pub(crate) fn require_schema<'s>(s: Option<&'s Schema>, purpose: &str) -> Result<&'s Schema> {
    s.ok_or_else(|| Error::Data(format!("schema required for [{purpose}]")))
}

/// The value under string key `key` of a schemaless map.
pub(crate) fn map_get<'v>(entries: &'v [(Value, Value)], key: &str) -> Option<&'v Value> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, Value::String(s) if s == key))
        .map(|(_, v)| v)
}

/// Sets `key` to `value` in a schemaless map: in place when present, appended otherwise.
pub(crate) fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries
        .iter_mut()
        .find(|(k, _)| matches!(k, Value::String(s) if s == key))
    {
        Some(entry) => entry.1 = value,
        None => entries.push((Value::String(key.to_owned()), value)),
    }
}

/// A struct builder with the name, version, doc and parameters of `schema` (Connect's
/// `SchemaUtil.copySchemaBasics`; optionality is not copied, as in Connect).
pub(crate) fn copy_basics(schema: &Schema) -> SchemaBuilder {
    copy_basics_onto(SchemaBuilder::struct_(), schema)
}

/// `b` with the name, version, doc and parameters of `schema` added.
pub(crate) fn copy_basics_onto(mut b: SchemaBuilder, schema: &Schema) -> SchemaBuilder {
    if let Some(n) = schema.name() {
        b = b.name(n);
    }
    if let Some(v) = schema.version() {
        b = b.version(v);
    }
    if let Some(d) = schema.doc() {
        b = b.doc(d);
    }
    for (k, v) in schema.parameters() {
        b = b.parameter(k, v);
    }
    b
}

/// Field `name` of `s`: its default when null and `replace_null_with_default`, as Connect's
/// `Struct.get` / `getWithoutDefault`.
pub(crate) fn field_value(s: &Struct, name: &str, replace_null_with_default: bool) -> Value {
    if replace_null_with_default {
        s.get(name).cloned().unwrap_or(Value::Null)
    } else {
        s.schema()
            .field(name)
            .map(|f| s.values()[f.index()].clone())
            .unwrap_or(Value::Null)
    }
}

/// A schema error of a transform, e.g. a field name clash.
pub(crate) fn build_schema(b: SchemaBuilder) -> Result<Schema> {
    b.try_build()
}

/// `part` of `r` replaced by `sv`.
pub(crate) fn with_part(mut r: SourceRecord, part: Part, sv: SchemaAndValue) -> SourceRecord {
    *part.get_mut(&mut r) = sv;
    r
}

/// A Decimal's text in plain notation, as Java's `BigDecimal.toPlainString` (also what
/// `toString` gives for the scales and magnitudes records carry).
pub(crate) fn decimal_text(unscaled: i128, scale: u32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// The output schema a transform made for the last input schema it saw (Connect caches these
/// too): records of one object share their schema, so it is built once, not per record.
#[derive(Debug, Default)]
pub(crate) struct SchemaCache(Mutex<Option<(Schema, Schema)>>);

impl SchemaCache {
    /// The schema for `input`: the cached one when `input` is the last one seen, else `build`'s.
    pub(crate) fn get_or_build(
        &self,
        input: &Schema,
        build: impl FnOnce() -> Result<Schema>,
    ) -> Result<Schema> {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((i, o)) = &*last {
            if i == input {
                return Ok(o.clone());
            }
        }
        let out = build()?;
        *last = Some((input.clone(), out.clone()));
        Ok(out)
    }
}
