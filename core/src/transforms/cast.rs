//! `Cast$Value` / `Cast$Key`: casts fields, or the whole key or value, to another primitive
//! type.

use std::sync::Arc;

use base64::Engine as _;

use super::java::DateFormat;
use super::options::Options;
use super::util::{
    copy_basics, decimal_text, field_value, map_put, require_struct, take_map, type_of, with_part,
    Part,
};
use super::Transformation;
use crate::convert::{java_double_to_string, java_float_to_string};
use crate::data::{logical, Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use crate::error::{Error, Result};
use crate::record::SourceRecord;

const PURPOSE: &str = "cast types";
const OUTPUT_TYPES: [Type; 8] = [
    Type::Int8,
    Type::Int16,
    Type::Int32,
    Type::Int64,
    Type::Float32,
    Type::Float64,
    Type::Boolean,
    Type::String,
];

#[derive(Debug)]
struct Cast {
    part: Part,
    /// `None` as the field: the whole value.
    casts: Vec<(Option<String>, Type)>,
    replace_null_with_default: bool,
}

fn output_type(name: &str) -> Option<Type> {
    OUTPUT_TYPES
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
}

pub(super) fn build(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let spec = o.list("spec");
    let replace_null_with_default = o.bool("replace.null.with.default", true);
    let types = OUTPUT_TYPES.map(|t| t.name()).join(", ");
    if spec.is_empty() {
        o.problem("spec", format!("required: field:type pairs (e.g. id:int64,price:float64), or one type for the whole value; types: {types}"));
        return None;
    }
    let mut casts = Vec::new();
    for mapping in &spec {
        let parts: Vec<&str> = mapping.split(':').collect();
        let (field, type_name) = match parts[..] {
            [t] => (None, t),
            [f, t] => (Some(f.trim().to_owned()), t),
            _ => {
                o.problem(
                    "spec",
                    format!(
                        "invalid cast mapping {mapping:?}; expected field:type or a single type"
                    ),
                );
                continue;
            }
        };
        match output_type(type_name) {
            Some(t) => casts.push((field, t)),
            None => o.problem(
                "spec",
                format!("cannot cast to {:?} in {mapping:?}; the types are {types} (bytes only as input)", type_name.trim()),
            ),
        }
    }
    if casts.iter().any(|(f, _)| f.is_none()) && spec.len() > 1 {
        o.problem(
            "spec",
            "a cast of the whole value must be the only cast in the spec",
        );
    }
    Some(Arc::new(Cast {
        part,
        casts,
        replace_null_with_default,
    }))
}

/// The unscaled value and scale of a Decimal.
fn decimal_parts(schema: Option<&Schema>, v: &Value) -> Option<(i128, u32)> {
    let s = schema.filter(|s| s.name() == Some(logical::DECIMAL_NAME))?;
    let scale = s.parameters().get(logical::DECIMAL_SCALE)?.parse().ok()?;
    match v {
        Value::Bytes(b) => logical::decimal_unscaled(b).map(|u| (u, scale)),
        _ => None,
    }
}

/// One value cast to `target` (Connect's `Cast.castValueToType`); `schema` is the value's
/// schema when known (logical types and Decimals depend on it).
fn cast_value(schema: Option<&Schema>, v: Value, target: Type) -> Result<Value> {
    if v == Value::Null {
        return Ok(Value::Null);
    }
    let from = schema.map_or_else(|| v.inferred_type(), |s| Some(s.type_()));
    if !matches!(from, Some(t) if t.is_primitive()) {
        return Err(Error::Data(format!(
            "cannot cast a {} value; only int8, int16, int32, int64, float32, float64, boolean, string and bytes can be cast",
            from.map_or("null", |t| t.name())
        )));
    }
    let out_of_range = |v: &dyn std::fmt::Display| {
        Error::Data(format!(
            "value {v} cannot be cast to {target}: not a valid {target}"
        ))
    };
    // Numbers as Java's Number: a Decimal is its decimal value.
    enum Num {
        I(i64),
        F(f64),
    }
    let num = match (&v, decimal_parts(schema, &v)) {
        (_, Some((u, s))) => Some(if s == 0 {
            Num::I(u as i64)
        } else {
            Num::F(u as f64 / 10f64.powi(s as i32))
        }),
        (Value::Int8(n), _) => Some(Num::I((*n).into())),
        (Value::Int16(n), _) => Some(Num::I((*n).into())),
        (Value::Int32(n), _) => Some(Num::I((*n).into())),
        (Value::Int64(n), _) => Some(Num::I(*n)),
        (Value::Float32(n), _) => Some(Num::F((*n).into())),
        (Value::Float64(n), _) => Some(Num::F(*n)),
        (Value::Boolean(b), _) => Some(Num::I(i64::from(*b))),
        _ => None,
    };
    if target == Type::String {
        let temporal = schema.and_then(|s| s.name()).and_then(|n| match n {
            logical::DATE_NAME => Some(("yyyy-MM-dd", 86_400_000)),
            logical::TIME_NAME => Some(("HH:mm:ss.SSS'Z'", 1)),
            logical::TIMESTAMP_NAME => Some(("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", 1)),
            _ => None,
        });
        let text = match (&v, temporal, decimal_parts(schema, &v)) {
            (Value::Int32(n), Some((pattern, unit)), _) => DateFormat::parse(pattern)
                .map_err(Error::Data)?
                .format(i64::from(*n) * unit),
            (Value::Int64(n), Some((pattern, unit)), _) => DateFormat::parse(pattern)
                .map_err(Error::Data)?
                .format(*n * unit),
            (_, _, Some((u, s))) => decimal_text(u, s),
            (Value::Float32(f), ..) => java_float_to_string(*f),
            (Value::Float64(f), ..) => java_double_to_string(*f),
            (Value::Bytes(b), ..) => base64::engine::general_purpose::STANDARD.encode(b),
            (other, ..) => other.to_string(),
        };
        return Ok(Value::String(text));
    }
    if let Value::String(s) = &v {
        let s = s.as_str();
        return Ok(match target {
            Type::Int8 => Value::Int8(s.parse().map_err(|_| out_of_range(&s))?),
            Type::Int16 => Value::Int16(s.parse().map_err(|_| out_of_range(&s))?),
            Type::Int32 => Value::Int32(s.parse().map_err(|_| out_of_range(&s))?),
            Type::Int64 => Value::Int64(s.parse().map_err(|_| out_of_range(&s))?),
            Type::Float32 => Value::Float32(s.trim().parse().map_err(|_| out_of_range(&s))?),
            Type::Float64 => Value::Float64(s.trim().parse().map_err(|_| out_of_range(&s))?),
            // Java's Boolean.parseBoolean: "true" in any case, anything else false.
            _ => Value::Boolean(s.eq_ignore_ascii_case("true")),
        });
    }
    let Some(num) = num else {
        return Err(Error::Data(format!(
            "cannot cast a {} value to {target}; bytes can only be cast to string",
            type_of(&v)
        )));
    };
    // Java's narrowing: floats go through int (saturating) or long, integers wrap.
    Ok(match (target, num) {
        (Type::Int8, Num::I(n)) => Value::Int8(n as i8),
        (Type::Int8, Num::F(f)) => Value::Int8(f as i32 as i8),
        (Type::Int16, Num::I(n)) => Value::Int16(n as i16),
        (Type::Int16, Num::F(f)) => Value::Int16(f as i32 as i16),
        (Type::Int32, Num::I(n)) => Value::Int32(n as i32),
        (Type::Int32, Num::F(f)) => Value::Int32(f as i32),
        (Type::Int64, Num::I(n)) => Value::Int64(n),
        (Type::Int64, Num::F(f)) => Value::Int64(f as i64),
        (Type::Float32, Num::I(n)) => Value::Float32(n as f32),
        (Type::Float32, Num::F(f)) => Value::Float32(f as f32),
        (Type::Float64, Num::I(n)) => Value::Float64(n as f64),
        (Type::Float64, Num::F(f)) => Value::Float64(f),
        (_, Num::I(n)) => Value::Boolean(n != 0),
        (_, Num::F(f)) => Value::Boolean(f as i64 != 0),
    })
}

/// The schema of a field (or whole value) cast to `target`: optionality and default kept.
fn cast_schema(schema: &Schema, target: Type, keep_basics: bool) -> Result<Schema> {
    let mut b = SchemaBuilder::new(target);
    if keep_basics {
        // Connect's copySchemaBasics on the whole value: name, version, doc, parameters.
        b = super::util::copy_basics_onto(b, schema);
    }
    if schema.is_optional() {
        b = b.optional();
    }
    if let Some(d) = schema.default_value() {
        b = b.default_value(cast_value(Some(schema), d.clone(), target)?);
    }
    b.try_build()
}

impl Transformation for Cast {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        let mut sv = std::mem::replace(self.part.get_mut(&mut r), SchemaAndValue::null());
        if sv.value == Value::Null {
            return Ok(Some(with_part(r, self.part, sv)));
        }
        let whole = self
            .casts
            .iter()
            .find(|(f, _)| f.is_none())
            .map(|(_, t)| *t);
        let updated = match (sv.schema.take(), whole) {
            (None, Some(t)) => SchemaAndValue::schemaless(cast_value(None, sv.value, t)?),
            (None, None) => {
                let mut entries = take_map(&mut sv, PURPOSE)?;
                for (f, t) in &self.casts {
                    let f = f.as_deref().unwrap_or_default();
                    // Cast where it is, without a copy of the value.
                    match entries
                        .iter_mut()
                        .find(|(k, _)| matches!(k, Value::String(s) if s == f))
                    {
                        Some(entry) => {
                            let v = std::mem::replace(&mut entry.1, Value::Null);
                            entry.1 = cast_value(None, v, *t)?;
                        }
                        None => map_put(&mut entries, f, cast_value(None, Value::Null, *t)?),
                    }
                }
                SchemaAndValue::schemaless(Value::Map(entries))
            }
            (Some(schema), Some(t)) => {
                let updated = cast_schema(&schema, t, true)?;
                SchemaAndValue::new(updated, cast_value(Some(&schema), sv.value, t)?)
            }
            (Some(_), None) => {
                let value = require_struct(&sv.value, PURPOSE)?;
                let schema = value.schema();
                let mut b = copy_basics(schema);
                for f in schema.fields() {
                    let target = self
                        .casts
                        .iter()
                        .find(|(n, _)| n.as_deref() == Some(f.name()));
                    let fs = match target {
                        Some((_, t)) => cast_schema(f.schema(), *t, false)?,
                        None => f.schema().clone(),
                    };
                    b = b.field(f.name(), fs);
                }
                if schema.is_optional() {
                    b = b.optional();
                }
                let updated = b.try_build()?;
                let mut out = Struct::new(updated.clone())?;
                for f in schema.fields() {
                    let v = field_value(value, f.name(), self.replace_null_with_default);
                    let target = self
                        .casts
                        .iter()
                        .find(|(n, _)| n.as_deref() == Some(f.name()));
                    let v = match target {
                        Some((_, t)) => cast_value(Some(f.schema()), v, *t)?,
                        None => v,
                    };
                    out.set(f.name(), v)?;
                }
                SchemaAndValue::new(updated, Value::Struct(out))
            }
        };
        Ok(Some(with_part(r, self.part, updated)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, err, map, record, run, schemaless};
    use crate::data::{logical, Schema, SchemaAndValue, SchemaBuilder, Struct, Value};

    const T: &str = "org.apache.kafka.connect.transforms.Cast$Value";

    #[test]
    fn whole_value_table() {
        // (input schema, input, spec, expected value), from Connect's CastTest.
        let cases: Vec<(Option<Schema>, Value, &str, Value)> = vec![
            (
                Some(Schema::int32()),
                Value::Int32(42),
                "int8",
                Value::Int8(42),
            ),
            (
                Some(Schema::int32()),
                Value::Int32(300),
                "int8",
                Value::Int8(44),
            ),
            (
                Some(Schema::int32()),
                Value::Int32(42),
                "float64",
                Value::Float64(42.0),
            ),
            (
                Some(Schema::float64()),
                Value::Float64(42.9),
                "int32",
                Value::Int32(42),
            ),
            (
                Some(Schema::float32()),
                Value::Float32(1e10),
                "int8",
                Value::Int8(-1),
            ),
            (
                Some(Schema::int32()),
                Value::Int32(42),
                "boolean",
                Value::Boolean(true),
            ),
            (
                Some(Schema::int32()),
                Value::Int32(0),
                "boolean",
                Value::Boolean(false),
            ),
            (
                Some(Schema::boolean()),
                Value::Boolean(true),
                "int64",
                Value::Int64(1),
            ),
            (
                Some(Schema::int32()),
                Value::Int32(42),
                "string",
                Value::from("42"),
            ),
            (
                Some(Schema::float64()),
                Value::Float64(1.0),
                "string",
                Value::from("1.0"),
            ),
            (
                Some(Schema::string()),
                Value::from("42"),
                "int16",
                Value::Int16(42),
            ),
            (
                Some(Schema::string()),
                Value::from("TRUE"),
                "boolean",
                Value::Boolean(true),
            ),
            (
                Some(Schema::string()),
                Value::from("yes"),
                "boolean",
                Value::Boolean(false),
            ),
            (
                Some(Schema::bytes()),
                Value::Bytes(b"hello".to_vec()),
                "string",
                Value::from("aGVsbG8="),
            ),
            (
                Some(logical::timestamp().build()),
                Value::Int64(1_500_000_000_123),
                "string",
                Value::from("2017-07-14T02:40:00.123Z"),
            ),
            (
                Some(logical::date().build()),
                Value::Int32(17361),
                "string",
                Value::from("2017-07-14"),
            ),
            (
                Some(logical::timestamp().build()),
                Value::Int64(1_500_000_000_123),
                "int64",
                Value::Int64(1_500_000_000_123),
            ),
            (
                Some(logical::decimal(2).build()),
                logical::decimal_value(-12345),
                "string",
                Value::from("-123.45"),
            ),
            (
                Some(logical::decimal(2).build()),
                logical::decimal_value(12345),
                "int32",
                Value::Int32(123),
            ),
            (None, Value::Int64(42), "int32", Value::Int32(42)),
            (None, Value::from("3.5"), "float32", Value::Float32(3.5)),
        ];
        for (schema, input, spec, expected) in cases {
            let c = chain(&[("type", T), ("spec", spec)]);
            let sv = SchemaAndValue {
                schema: schema.clone(),
                value: input.clone(),
            };
            let out = run(&c, record(sv)).value;
            assert_eq!(out.value, expected, "{input:?} as {spec}");
            if let Some(s) = schema {
                let os = out.schema.unwrap();
                assert_eq!(os.type_().name(), spec);
                assert_eq!(os.name(), s.name(), "the whole value keeps its schema name");
            }
        }
    }

    #[test]
    fn fields_of_structs_and_maps() {
        let schema = SchemaBuilder::struct_()
            .field("int8", Schema::optional_int8())
            .field("int32", Schema::int32())
            .field(
                "float",
                SchemaBuilder::new(crate::data::Type::Float32)
                    .default_value(Value::Float32(2.5))
                    .build(),
            )
            .field("string", Schema::string())
            .build();
        let v = Struct::new(schema.clone())
            .unwrap()
            .put("int32", 42i32)
            .unwrap()
            .put("string", "7")
            .unwrap();
        let c = chain(&[
            ("type", T),
            ("spec", "int8:int16,int32:string,float:int64,string:int32"),
        ]);
        let out = run(&c, record(SchemaAndValue::new(schema, Value::Struct(v)))).value;
        let s = out.schema.unwrap();
        assert_eq!(s.field("int8").unwrap().schema(), &Schema::optional_int16());
        assert_eq!(s.field("int32").unwrap().schema(), &Schema::string());
        assert_eq!(
            s.field("float").unwrap().schema().default_value(),
            Some(&Value::Int64(2))
        );
        let Value::Struct(o) = out.value else {
            panic!()
        };
        assert_eq!(o.get("int8"), Some(&Value::Null));
        assert_eq!(o.get("int32"), Some(&Value::from("42")));
        assert_eq!(o.get("float"), Some(&Value::Int64(2)));
        assert_eq!(o.get("string"), Some(&Value::Int32(7)));

        let c = chain(&[("type", T), ("spec", "a:int64,b:string,absent:int8")]);
        let out = run(
            &c,
            record(schemaless(map(&[
                ("a", Value::from("12")),
                ("b", Value::Boolean(false)),
            ]))),
        )
        .value;
        assert_eq!(
            out,
            schemaless(map(&[
                ("a", Value::Int64(12)),
                ("b", Value::from("false")),
                ("absent", Value::Null)
            ]))
        );
    }

    #[test]
    fn null_errors_and_config() {
        let c = chain(&[("type", T), ("spec", "int8")]);
        let r = record(SchemaAndValue::new(Schema::optional_int32(), Value::Null));
        assert_eq!(run(&c, r.clone()), r);
        let e = err(&c, record(schemaless(Value::from("300"))));
        assert!(e.contains("value 300 cannot be cast to int8"), "{e}");
        let e = err(&c, record(schemaless(Value::Bytes(vec![1]))));
        assert!(e.contains("bytes can only be cast to string"), "{e}");
        let e = err(&c, record(schemaless(Value::Array(vec![]))));
        assert!(e.contains("cannot cast a array value"), "{e}");
        let e = config_err(&[("type", T), ("spec", "a:bytes")]);
        assert!(e.contains("cannot cast to \"bytes\""), "{e}");
        let e = config_err(&[("type", T), ("spec", "int8,a:int16")]);
        assert!(e.contains("must be the only cast"), "{e}");
        let e = config_err(&[("type", T), ("spec", "a:b:c")]);
        assert!(e.contains("invalid cast mapping"), "{e}");
    }
}
