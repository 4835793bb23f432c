//! `MaskField$Value` / `MaskField$Key`: replaces fields with their type's empty value (0,
//! false, "", empty array or map) or a replacement.

use std::sync::Arc;

use super::options::Options;
use super::util::{
    field_value, map_get, map_put, require_struct, take_map, type_of, with_part, Part,
};
use super::Transformation;
use crate::data::{logical, Schema, SchemaAndValue, Struct, Value};
use crate::error::{Error, Result};
use crate::record::SourceRecord;

const PURPOSE: &str = "mask fields";

#[derive(Debug)]
struct MaskField {
    part: Part,
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

pub(super) fn build(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let fields = o.list("fields");
    if fields.is_empty() {
        o.problem(
            "fields",
            "required: the names of the fields to mask, comma-separated",
        );
    }
    let replacement = o.string("replacement");
    if replacement.as_deref() == Some("") {
        o.problem(
            "replacement",
            "must not be empty; remove it to mask with empty values",
        );
    }
    let replace_null_with_default = o.bool("replace.null.with.default", true);
    Some(Arc::new(MaskField {
        part,
        fields,
        replacement,
        replace_null_with_default,
    }))
}

/// `value` masked: null stays null; `schema` (when known) tells a Decimal from plain bytes.
fn masked(value: Value, schema: Option<&Schema>, replacement: Option<&str>) -> Result<Value> {
    let decimal_scale = schema
        .filter(|s| s.name() == Some(logical::DECIMAL_NAME))
        .and_then(|s| s.parameters().get(logical::DECIMAL_SCALE))
        .and_then(|s| s.parse::<u32>().ok());
    if value == Value::Null {
        return Ok(Value::Null);
    }
    let Some(rep) = replacement else {
        return Ok(match value {
            Value::Boolean(_) => Value::Boolean(false),
            Value::Int8(_) => Value::Int8(0),
            Value::Int16(_) => Value::Int16(0),
            Value::Int32(_) => Value::Int32(0),
            Value::Int64(_) => Value::Int64(0),
            Value::Float32(_) => Value::Float32(0.0),
            Value::Float64(_) => Value::Float64(0.0),
            Value::String(_) => Value::String(String::new()),
            Value::Array(_) => Value::Array(Vec::new()),
            Value::Map(_) => Value::Map(Vec::new()),
            Value::Bytes(_) if decimal_scale.is_some() => logical::decimal_value(0),
            other => {
                return Err(Error::Data(format!(
                    "cannot mask a value of type {}",
                    type_of(&other)
                )))
            }
        });
    };
    let temporal = schema.and_then(|s| s.name()).filter(|n| {
        [
            logical::DATE_NAME,
            logical::TIME_NAME,
            logical::TIMESTAMP_NAME,
        ]
        .contains(n)
    });
    if let Some(name) = temporal {
        return Err(Error::Data(format!(
            "cannot mask a {name} value with a custom replacement (only numbers and strings)"
        )));
    }
    let number = |what: &str| {
        Error::Data(format!(
            "cannot convert the replacement {rep:?} to {what} to mask a {what} field"
        ))
    };
    Ok(match value {
        Value::Int8(_) => Value::Int8(rep.trim().parse().map_err(|_| number("int8"))?),
        Value::Int16(_) => Value::Int16(rep.trim().parse().map_err(|_| number("int16"))?),
        Value::Int32(_) => Value::Int32(rep.trim().parse().map_err(|_| number("int32"))?),
        Value::Int64(_) => Value::Int64(rep.trim().parse().map_err(|_| number("int64"))?),
        Value::Float32(_) => Value::Float32(rep.trim().parse().map_err(|_| number("float32"))?),
        Value::Float64(_) => Value::Float64(rep.trim().parse().map_err(|_| number("float64"))?),
        Value::String(_) => Value::String(rep.to_owned()),
        Value::Bytes(_) if decimal_scale.is_some() => {
            let scale = decimal_scale.unwrap_or_default();
            let unscaled = parse_decimal(rep, scale).ok_or_else(|| {
                Error::Data(format!(
                    "cannot convert the replacement {rep:?} to a Decimal of scale {scale}"
                ))
            })?;
            logical::decimal_value(unscaled)
        }
        other => {
            return Err(Error::Data(format!(
            "cannot mask a value of type {} with a custom replacement (only numbers and strings)",
            type_of(&other)
        )))
        }
    })
}

/// The unscaled value of decimal text `s` at `scale` (more fraction digits than `scale` are
/// refused, fewer are padded).
fn parse_decimal(s: &str, scale: u32) -> Option<i128> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() || frac.len() > scale as usize {
        return None;
    }
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{int}{frac}{}", "0".repeat(scale as usize - frac.len()));
    let v: i128 = padded.parse().ok()?;
    Some(if neg { -v } else { v })
}

impl Transformation for MaskField {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        let rep = self.replacement.as_deref();
        let Some(schema) = self.part.get(&r).schema.clone() else {
            // Schemaless: the map is masked in place, without a copy.
            let mut entries = take_map(self.part.get_mut(&mut r), PURPOSE)?;
            for f in &self.fields {
                let v = map_get(&entries, f).cloned().unwrap_or(Value::Null);
                map_put(&mut entries, f, masked(v, None, rep)?);
            }
            self.part.get_mut(&mut r).value = Value::Map(entries);
            return Ok(Some(r));
        };
        let sv = self.part.get(&r);
        let updated = {
            let value = require_struct(&sv.value, PURPOSE)?;
            let mut out = Struct::new(value.schema().clone())?;
            for f in value.schema().fields() {
                let v = field_value(value, f.name(), self.replace_null_with_default);
                let v = if self.fields.iter().any(|m| m == f.name()) {
                    masked(v, Some(f.schema()), rep)?
                } else {
                    v
                };
                out.set(f.name(), v)?;
            }
            SchemaAndValue::new(schema, Value::Struct(out))
        };
        Ok(Some(with_part(r, self.part, updated)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, err, map, record, run, schemaless};
    use crate::data::{logical, Schema, SchemaAndValue, SchemaBuilder, Struct, Value};

    const T: &str = "org.apache.kafka.connect.transforms.MaskField$Value";

    fn all_types() -> Vec<(&'static str, Schema, Value, Value, Option<Value>)> {
        // (field, schema, value, masked, masked with replacement "123")
        vec![
            (
                "magic",
                Schema::int32(),
                Value::Int32(42),
                Value::Int32(0),
                Some(Value::Int32(123)),
            ),
            (
                "bool",
                Schema::boolean(),
                Value::Boolean(true),
                Value::Boolean(false),
                None,
            ),
            (
                "byte",
                Schema::int8(),
                Value::Int8(1),
                Value::Int8(0),
                Some(Value::Int8(123)),
            ),
            (
                "short",
                Schema::int16(),
                Value::Int16(1),
                Value::Int16(0),
                Some(Value::Int16(123)),
            ),
            (
                "long",
                Schema::int64(),
                Value::Int64(1),
                Value::Int64(0),
                Some(Value::Int64(123)),
            ),
            (
                "float",
                Schema::float32(),
                Value::Float32(1.0),
                Value::Float32(0.0),
                Some(Value::Float32(123.0)),
            ),
            (
                "double",
                Schema::float64(),
                Value::Float64(1.0),
                Value::Float64(0.0),
                Some(Value::Float64(123.0)),
            ),
            (
                "string",
                Schema::string(),
                Value::from("55.121.20.20"),
                Value::from(""),
                Some(Value::from("123")),
            ),
            (
                "date",
                logical::date().build(),
                Value::Int32(17000),
                Value::Int32(0),
                None,
            ),
            (
                "decimal",
                logical::decimal(0).build(),
                logical::decimal_value(42),
                logical::decimal_value(0),
                Some(logical::decimal_value(123)),
            ),
            (
                "array",
                SchemaBuilder::array(Schema::int32()).build(),
                Value::Array(vec![Value::Int32(1)]),
                Value::Array(vec![]),
                None,
            ),
            (
                "map",
                SchemaBuilder::map(Schema::string(), Schema::string()).build(),
                Value::Map(vec![(Value::from("a"), Value::from("b"))]),
                Value::Map(vec![]),
                None,
            ),
        ]
    }

    #[test]
    fn struct_table_masks_each_type() {
        let types = all_types();
        let schema = types
            .iter()
            .fold(SchemaBuilder::struct_(), |b, (n, s, ..)| {
                b.field(*n, s.clone())
            })
            .build();
        let value = types
            .iter()
            .fold(Struct::new(schema.clone()).unwrap(), |s, (n, _, v, ..)| {
                s.put(n, v.clone()).unwrap()
            });
        for (name, _, _, masked, replaced) in &types {
            let c = chain(&[("type", T), ("fields", name)]);
            let out = run(
                &c,
                record(SchemaAndValue::new(
                    schema.clone(),
                    Value::Struct(value.clone()),
                )),
            );
            let Value::Struct(s) = out.value.value else {
                panic!()
            };
            assert_eq!(s.get(name), Some(masked), "{name}");
            assert_eq!(
                s.get("magic"),
                Some(if *name == "magic" {
                    masked
                } else {
                    &Value::Int32(42)
                })
            );
            let c = chain(&[("type", T), ("fields", name), ("replacement", "123")]);
            let r = record(SchemaAndValue::new(
                schema.clone(),
                Value::Struct(value.clone()),
            ));
            match replaced {
                Some(expected) => {
                    let Value::Struct(s) = run(&c, r).value.value else {
                        panic!()
                    };
                    assert_eq!(s.get(name), Some(expected), "{name}");
                }
                None => {
                    let e = err(&c, r);
                    assert!(e.contains("with a custom replacement"), "{name}: {e}");
                }
            }
        }
    }

    #[test]
    fn schemaless_masks_and_adds_missing_fields_as_null() {
        let c = chain(&[("type", T), ("fields", "magic,ip,absent")]);
        let out = run(
            &c,
            record(schemaless(map(&[
                ("magic", Value::Int32(42)),
                ("ip", Value::from("1.2.3.4")),
            ]))),
        );
        assert_eq!(
            out.value,
            schemaless(map(&[
                ("magic", Value::Int32(0)),
                ("ip", Value::from("")),
                ("absent", Value::Null),
            ]))
        );
        let c = chain(&[("type", T), ("fields", "magic"), ("replacement", "abc")]);
        let e = err(&c, record(schemaless(map(&[("magic", Value::Int32(42))]))));
        assert!(
            e.contains("cannot convert the replacement \"abc\" to int32"),
            "{e}"
        );
        let e = err(
            &c,
            record(schemaless(map(&[("magic", Value::Bytes(vec![1]))]))),
        );
        assert!(e.contains("cannot mask a value of type bytes"), "{e}");
    }

    #[test]
    fn null_value_is_an_error_and_null_field_stays_null() {
        let c = chain(&[("type", T), ("fields", "a")]);
        let e = err(&c, record(SchemaAndValue::null()));
        assert!(e.contains("found: null"), "{e}");
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::optional_int32())
            .build();
        let v = Struct::new(schema.clone()).unwrap();
        let out = run(
            &c,
            record(SchemaAndValue::new(schema, Value::Struct(v.clone()))),
        );
        assert_eq!(out.value.value, Value::Struct(v));
        let e = config_err(&[("type", T)]);
        assert!(e.contains("transforms.a.fields: required"), "{e}");
    }
}
