//! Connect schemas and values to JSON Schema and JSON, as Confluent's
//! `JsonSchemaData.fromConnectSchema` / `fromConnectData` do:
//!
//! * integers are `{"type":"integer","connect.type":"int8|int16|int32|int64"}`, floats
//!   `{"type":"number","connect.type":"float32|float64"}`, bytes (Decimal too, unless
//!   `decimal.format=NUMERIC`) `{"type":"string","connect.type":"bytes"}` written in base64;
//! * a struct is `{"type":"object","properties":{...}}` (with `"additionalProperties": false`
//!   when `object.additional.properties=false`), each property carrying `connect.index`, its
//!   position;
//! * a map with string keys is an object with `additionalProperties` and `connect.type` `map`;
//!   any other map an array of `{"key","value"}` objects;
//! * an optional schema is `{"oneOf":[{"type":"null"}, T]}`; Confluent's union struct
//!   (`io.confluent.connect.json.OneOf`) is a `oneOf` of its fields' schemas;
//! * the Connect name is the `title`, the doc the `description`, and `connect.version`,
//!   `connect.parameters` and `default` carry the rest.
//!
//! The payload is the value as compact JSON, numbers and strings written as Jackson writes them.

use std::borrow::Cow;

use serde_json::{json, Map as JsonMap, Value as Sj};

use super::super::json::{base64_of, map_json, Json};
use super::super::number::big_decimal_to_string;
use super::super::DecimalFormat;
use super::avro::non_optional;
use crate::data::logical::minimal_twos_complement;
use crate::data::logical::{DATE_NAME, DECIMAL_NAME, DECIMAL_SCALE, TIMESTAMP_NAME, TIME_NAME};
use crate::data::{Schema, Type, Value};
use crate::error::{Error, Result};

/// The Connect name of Confluent's JSON union struct.
const ONE_OF_NAME: &str = "io.confluent.connect.json.OneOf";
/// Parameters under this prefix are JsonSchemaData's own and are not written.
const NAMESPACE: &str = "io.confluent.connect.json";

/// How JsonSchemaData is configured (`JsonSchemaDataConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonSchemaOptions {
    /// `object.additional.properties`.
    pub(crate) additional_properties: bool,
    /// `decimal.format`.
    pub(crate) decimal_format: DecimalFormat,
}

/// The JSON Schema of a Connect schema, ready to be registered and to write values with.
#[derive(Debug)]
pub(crate) struct JsonSchemaPlan {
    /// The schema as JSON text (what is registered).
    pub(crate) text: String,
    /// The schema's `title` (`RecordNameStrategy`), when it has one.
    pub(crate) record_name: Option<String>,
    options: JsonSchemaOptions,
}

impl JsonSchemaPlan {
    /// JsonSchemaData's `fromConnectSchema`.
    pub(crate) fn new(schema: &Schema, options: JsonSchemaOptions) -> Result<JsonSchemaPlan> {
        let g = Gen { options };
        let j = g.schema(schema, None, false)?;
        let record_name = j.get("title").and_then(Sj::as_str).map(str::to_owned);
        Ok(JsonSchemaPlan {
            text: j.to_string(),
            record_name,
            options,
        })
    }

    /// `value` (of `schema`) as compact JSON, appended to `out`.
    pub(crate) fn write(&self, schema: &Schema, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        self.value(schema, value)?.write(out);
        Ok(())
    }

    /// JsonSchemaData's `fromConnectData`.
    fn value<'a>(&self, schema: &'a Schema, value: &'a Value) -> Result<Json<'a>> {
        if *value == Value::Null {
            if let Some(d) = schema.default_value() {
                return self.value(schema, d);
            }
            return Ok(Json::Null);
        }
        let mismatch = || {
            Error::Data(format!(
                "{} value for a {} schema",
                value.inferred_type().map_or("null", Type::name),
                schema.type_()
            ))
        };
        match (schema.name(), value) {
            (Some(DECIMAL_NAME), Value::Bytes(b)) => {
                return Ok(match self.options.decimal_format {
                    DecimalFormat::Base64 => {
                        Json::Str(base64_of(minimal_twos_complement(b)).into())
                    }
                    DecimalFormat::Numeric => {
                        let scale = schema
                            .parameters()
                            .get(DECIMAL_SCALE)
                            .and_then(|s| s.trim().parse::<i32>().ok())
                            .ok_or_else(|| {
                                Error::Data("Decimal schema without an integer scale".into())
                            })?;
                        Json::Number(big_decimal_to_string(b, scale))
                    }
                })
            }
            (Some(DATE_NAME | TIME_NAME), Value::Int32(v)) => return Ok(Json::Int((*v).into())),
            (Some(TIMESTAMP_NAME), Value::Int64(v)) => return Ok(Json::Int(*v)),
            _ => {}
        }
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
                let es = inner(schema.value_schema())?;
                Json::Array(
                    items
                        .iter()
                        .map(|i| self.value(es, i))
                        .collect::<Result<_>>()?,
                )
            }
            (Type::Map, Value::Map(entries)) => {
                let ks = inner(schema.key_schema())?;
                let vs = inner(schema.value_schema())?;
                map_json(
                    entries,
                    ks.type_() == Type::String && !ks.is_optional(),
                    |k, v| Ok((self.value(ks, k)?, self.value(vs, v)?)),
                    |k, v| Json::Object(vec![(Cow::from("key"), k), (Cow::from("value"), v)]),
                )?
            }
            (Type::Struct, Value::Struct(s)) if schema.name() == Some(ONE_OF_NAME) => {
                for (f, v) in schema.fields().iter().zip(s.values()) {
                    let v = match (v, f.schema().default_value()) {
                        (Value::Null, Some(d)) => d,
                        _ => v,
                    };
                    if *v != Value::Null {
                        return self.value(f.schema(), v);
                    }
                }
                Json::Null
            }
            (Type::Struct, Value::Struct(s)) => {
                let mut obj = Vec::with_capacity(schema.fields().len());
                for (f, v) in schema.fields().iter().zip(s.values()) {
                    let json = self.value(f.schema(), v).map_err(|e| match e {
                        Error::Data(m) => Error::Data(format!("field {:?}: {m}", f.name())),
                        e => e,
                    })?;
                    obj.push((Cow::from(f.name()), json));
                }
                Json::Object(obj)
            }
            _ => return Err(mismatch()),
        })
    }
}

struct Gen {
    options: JsonSchemaOptions,
}

impl Gen {
    fn schema(&self, schema: &Schema, index: Option<usize>, ignore_optional: bool) -> Result<Sj> {
        let mut props = JsonMap::new();
        let number = |integer: bool, t: &str, props: &mut JsonMap<String, Sj>| {
            props.insert("connect.type".into(), json!(t));
            json!({"type": if integer { "integer" } else { "number" }})
        };
        let combined = |branches: Vec<Sj>| json!({ "oneOf": branches });
        let mut base = match schema.type_() {
            Type::Int8 => number(true, "int8", &mut props),
            Type::Int16 => number(true, "int16", &mut props),
            Type::Int32 => number(true, "int32", &mut props),
            Type::Int64 => number(true, "int64", &mut props),
            Type::Float32 => number(false, "float32", &mut props),
            Type::Float64 => number(false, "float64", &mut props),
            Type::Boolean => json!({"type": "boolean"}),
            Type::String => json!({"type": "string"}),
            Type::Bytes => {
                props.insert("connect.type".into(), json!("bytes"));
                if schema.name() == Some(DECIMAL_NAME)
                    && self.options.decimal_format == DecimalFormat::Numeric
                {
                    json!({"type": "number"})
                } else {
                    json!({"type": "string"})
                }
            }
            Type::Array => {
                let items = self.schema(inner(schema.value_schema())?, None, false)?;
                json!({"type": "array", "items": items})
            }
            Type::Map => {
                let ks = inner(schema.key_schema())?;
                let vs = inner(schema.value_schema())?;
                props.insert("connect.type".into(), json!("map"));
                if ks.type_() == Type::String && !ks.is_optional() {
                    json!({"type": "object", "additionalProperties": self.schema(vs, None, false)?})
                } else {
                    let entry = json!({"type": "object", "properties": {
                        "key": self.schema(ks, Some(0), false)?,
                        "value": self.schema(vs, Some(1), false)?,
                    }});
                    json!({"type": "array", "items": entry})
                }
            }
            Type::Struct if schema.name() == Some(ONE_OF_NAME) => {
                let mut branches = Vec::new();
                if schema.is_optional() {
                    branches.push(json!({"type": "null"}));
                }
                for f in schema.fields() {
                    branches.push(self.schema(&non_optional(f.schema()), Some(f.index()), true)?);
                }
                return Ok(with_index(combined(branches), index));
            }
            Type::Struct if schema.is_optional() => {
                let required = self.schema(&non_optional(schema), None, true)?;
                return Ok(with_index(
                    combined(vec![json!({"type": "null"}), required]),
                    index,
                ));
            }
            Type::Struct => {
                let mut properties = JsonMap::new();
                for f in schema.fields() {
                    properties.insert(
                        f.name().to_owned(),
                        self.schema(f.schema(), Some(f.index()), false)?,
                    );
                }
                let mut o = json!({"type": "object", "properties": properties});
                if !self.options.additional_properties {
                    o["additionalProperties"] = json!(false);
                }
                o
            }
        };
        let Sj::Object(obj) = &mut base else {
            unreachable!("every base schema is an object")
        };
        if let Some(n) = schema.name() {
            obj.insert("title".into(), json!(n));
        }
        if let Some(v) = schema.version() {
            props.insert("connect.version".into(), json!(v));
        }
        if let Some(d) = schema.doc() {
            obj.insert("description".into(), json!(d));
        }
        let params: JsonMap<String, Sj> = schema
            .parameters()
            .iter()
            .filter(|(k, _)| !k.starts_with(NAMESPACE))
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        if !params.is_empty() {
            props.insert("connect.parameters".into(), Sj::Object(params));
        }
        if let Some(d) = schema.default_value() {
            let plan = JsonSchemaPlan {
                text: String::new(),
                record_name: None,
                options: self.options,
            };
            let mut text = Vec::new();
            plan.value(schema, d)?.write(&mut text);
            let v: Sj = serde_json::from_slice(&text)
                .map_err(|e| Error::Data(format!("default value as JSON: {e}")))?;
            obj.insert("default".into(), v);
        }
        if !ignore_optional && schema.is_optional() {
            obj.extend(props);
            return Ok(with_index(
                combined(vec![json!({"type": "null"}), base]),
                index,
            ));
        }
        obj.extend(props);
        Ok(with_index(base, index))
    }
}

fn with_index(mut j: Sj, index: Option<usize>) -> Sj {
    if let (Some(i), Sj::Object(o)) = (index, &mut j) {
        o.insert("connect.index".into(), json!(i));
    }
    j
}

fn inner(s: Option<&Schema>) -> Result<&Schema> {
    s.ok_or_else(|| Error::Data("array or map schema without its element schema".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{logical, SchemaBuilder, Struct};

    fn options() -> JsonSchemaOptions {
        JsonSchemaOptions {
            additional_properties: true,
            decimal_format: DecimalFormat::Base64,
        }
    }

    #[test]
    fn structs_are_objects_with_indexed_properties() {
        let s = SchemaBuilder::struct_()
            .name("com.example.Order")
            .field("id", Schema::int64())
            .field("note", Schema::optional_string())
            .field("amount", logical::decimal(2).build())
            .build();
        let p = JsonSchemaPlan::new(&s, options()).unwrap();
        let j: Sj = serde_json::from_str(&p.text).unwrap();
        assert_eq!(p.record_name.as_deref(), Some("com.example.Order"));
        assert_eq!(
            j,
            json!({"type":"object","properties":{
                "id":{"type":"integer","connect.type":"int64","connect.index":0},
                "note":{"oneOf":[{"type":"null"},{"type":"string"}],"connect.index":1},
                "amount":{"type":"string","title":"org.apache.kafka.connect.data.Decimal",
                    "connect.type":"bytes","connect.version":1,
                    "connect.parameters":{"scale":"2"},"connect.index":2}
              },"title":"com.example.Order"})
        );
        let v = Value::Struct(
            Struct::new(s.clone())
                .unwrap()
                .put("id", 7i64)
                .unwrap()
                .put("amount", logical::decimal_value(1050))
                .unwrap(),
        );
        let mut out = Vec::new();
        p.write(&s, &v, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"id":7,"note":null,"amount":"BBo="}"#
        );
    }

    #[test]
    fn optional_structs_are_one_of_null_and_the_object() {
        let inner = SchemaBuilder::struct_()
            .field("x", Schema::int32())
            .optional()
            .build();
        let s = SchemaBuilder::struct_().field("inner", inner).build();
        let p = JsonSchemaPlan::new(&s, options()).unwrap();
        let j: Sj = serde_json::from_str(&p.text).unwrap();
        assert_eq!(
            j["properties"]["inner"],
            json!({"oneOf":[{"type":"null"},{"type":"object","properties":{
                "x":{"type":"integer","connect.type":"int32","connect.index":0}}}],
                "connect.index":0})
        );
    }

    #[test]
    fn maps_with_other_keys_are_arrays_of_entries() {
        let s = SchemaBuilder::map(Schema::int32(), Schema::float32()).build();
        let p = JsonSchemaPlan::new(&s, options()).unwrap();
        let mut out = Vec::new();
        p.write(
            &s,
            &Value::Map(vec![(Value::Int32(1), Value::Float32(1e10))]),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"key":1,"value":1.0E10}]"#
        );
    }
}
