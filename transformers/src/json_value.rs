//! Parsed JSON to Connect data: schemaless, as Kafka Connect's `JsonConverter` with
//! `schemas.enable=false` reads it, or with a schema inferred from the value.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value as Json;
use sluice_core::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};

use crate::Error;

/// `json` as a schemaless value: object → map with string keys in document order, array → array,
/// string → string, boolean → boolean, integer → int64, other number → float64, null → null.
///
/// An integer beyond the int64 range must have been rejected before (see [`parse_record`]).
#[cfg(test)] // the reference `parse_schemaless` is tested against
pub(crate) fn schemaless(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(b),
        Json::Number(n) => number(&n, false),
        Json::String(s) => Value::String(s),
        Json::Array(items) => Value::Array(items.into_iter().map(schemaless).collect()),
        Json::Object(map) => Value::Map(
            map.into_iter()
                .map(|(k, v)| (Value::String(k), schemaless(v)))
                .collect(),
        ),
    }
}

/// Parses one JSON record (a `jsonl` line, a `json` document or array element): schemaless, or
/// with an inferred schema. An integer beyond Connect's int64 is an
/// [`Error::IntegerOutOfRange`], never a rounded float.
pub(crate) fn parse_record(text: &str, infer_schema: bool) -> Result<SchemaAndValue, Error> {
    BIG_NUMBER.set(false);
    let parsed = if infer_schema {
        serde_json::from_str::<Json>(text)
            .map_err(|source| Error::InvalidJson { source })
            .and_then(|value| {
                mark_big_numbers(&value);
                with_inferred_schema(value)
            })
    } else {
        parse_schemaless(text)
            .map(SchemaAndValue::schemaless)
            .map_err(|source| Error::InvalidJson { source })
    };
    // Rare: a number that may be an integer too large for int64 was seen; the text tells.
    if BIG_NUMBER.replace(false) {
        if let Some(literal) = oversized_integer(text) {
            return Err(Error::IntegerOutOfRange { literal });
        }
    }
    parsed
}

thread_local! {
    /// Set while parsing when a number was seen that may be an integer beyond int64: an
    /// unsigned one above `i64::MAX`, or an integral float of magnitude 2^63 or more (how the
    /// parser gives integers beyond u64).
    static BIG_NUMBER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// 2^63 as a float: integral floats at or beyond it may come from oversized integer literals.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

fn maybe_big(v: f64) -> bool {
    v.abs() >= TWO_POW_63 && v.fract() == 0.0
}

fn mark_big_numbers(json: &Json) {
    match json {
        Json::Number(n)
            if n.as_i64().is_none() && (n.is_u64() || n.as_f64().is_some_and(maybe_big)) =>
        {
            BIG_NUMBER.set(true);
        }
        Json::Array(items) => items.iter().for_each(mark_big_numbers),
        Json::Object(map) => map.values().for_each(mark_big_numbers),
        _ => {}
    }
}

/// The first integer literal of `text` (outside strings; no fraction, no exponent) that does
/// not fit in an i64.
fn oversized_integer(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if c == b'-' || c.is_ascii_digit() {
            let start = i;
            i += 1;
            while i < b.len() && matches!(b[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                i += 1;
            }
            let token = &text[start..i];
            if !token.contains(['.', 'e', 'E']) && token.parse::<i64>().is_err() {
                return Some(token.to_owned());
            }
            continue;
        }
        i += 1;
    }
    None
}

/// Parses `text` straight into a schemaless value, exactly as [`schemaless`] of the parsed
/// [`Json`] would give (a repeated object key keeps its first position and takes the last
/// value, as `serde_json`'s order-preserving map does), without building the `Json` tree first.
pub(crate) fn parse_schemaless(text: &str) -> Result<Value, serde_json::Error> {
    let Schemaless(value) = serde_json::from_str(text)?;
    Ok(value)
}

/// A schemaless [`Value`] deserialized directly (see [`parse_schemaless`]).
struct Schemaless(Value);

impl<'de> serde::Deserialize<'de> for Schemaless {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SchemalessVisitor).map(Schemaless)
    }
}

struct SchemalessVisitor;

/// Above this many members an object's repeated keys are found through a hash map.
const LINEAR_KEY_SCAN: usize = 32;

impl<'de> serde::de::Visitor<'de> for SchemalessVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        if v > i64::MAX as u64 {
            BIG_NUMBER.set(true);
        }
        // Beyond int64 a number is a float64, as `schemaless` makes it.
        Ok(i64::try_from(v).map_or(Value::Float64(v as f64), Value::Int64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        if maybe_big(v) {
            BIG_NUMBER.set(true);
        }
        Ok(Value::Float64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Schemaless(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(Value, Value)> = Vec::new();
        let mut index: Option<HashMap<String, usize>> = None;
        while let Some(key) = map.next_key::<String>()? {
            let Schemaless(value) = map.next_value()?;
            let existing = match &mut index {
                Some(index) => index.get(&key).copied(),
                None => entries
                    .iter()
                    .position(|(k, _)| k.as_str() == Some(key.as_str())),
            };
            match existing {
                Some(i) => entries[i].1 = value,
                None => {
                    if let Some(index) = &mut index {
                        index.insert(key.clone(), entries.len());
                    }
                    entries.push((Value::String(key), value));
                    if index.is_none() && entries.len() > LINEAR_KEY_SCAN {
                        index = Some(
                            entries
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (k.as_str().unwrap_or_default().to_owned(), i))
                                .collect(),
                        );
                    }
                }
            }
        }
        Ok(Value::Map(entries))
    }
}

fn number(n: &serde_json::Number, as_float: bool) -> Value {
    match n.as_i64() {
        Some(i) if !as_float => Value::Int64(i),
        // Without serde_json's `arbitrary_precision`, every number has an f64 form.
        _ => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// `json` with a schema inferred from it.
///
/// An object becomes a struct (fields in document order, each optional; the top-level struct is
/// required, nested ones optional); integers are optional int64, other numbers optional float64,
/// strings optional string, booleans optional boolean and null an optional string holding null.
/// An array's element schema is the one all its elements share, where null fits any schema,
/// int64 widens to float64 when mixed with floats (also inside nested arrays and structs) and
/// structs match when they have the same field names (in any order, the first element's order
/// being kept); an empty array is an array of optional strings. Elements that do not agree are a
/// [`Error::SchemaInference`] naming the JSON path.
pub(crate) fn with_inferred_schema(json: Json) -> Result<SchemaAndValue, Error> {
    let shape = Shape::of(&json, &mut String::from("$"))?;
    let schema = match &shape {
        Shape::Struct(fields) => struct_schema(fields, false)?,
        other => other.schema()?,
    };
    let value = build(json, &schema)?;
    Ok(SchemaAndValue::new(schema, value))
}

/// The type inferred for a JSON value, before it is turned into a [`Schema`].
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Null,
    Boolean,
    Int,
    Float,
    String,
    Array(Box<Shape>),
    Struct(Vec<(String, Shape)>),
}

impl Shape {
    /// The shape of `json`; `path` is its JSON path, extended while descending.
    fn of(json: &Json, path: &mut String) -> Result<Shape, Error> {
        Ok(match json {
            Json::Null => Shape::Null,
            Json::Bool(_) => Shape::Boolean,
            Json::Number(n) if n.is_i64() => Shape::Int,
            Json::Number(_) => Shape::Float,
            Json::String(_) => Shape::String,
            Json::Array(items) => {
                let mut element = Shape::Null;
                let base = path.len();
                for (i, item) in items.iter().enumerate() {
                    use fmt::Write;
                    let _ = write!(path, "[{i}]");
                    let shape = Shape::of(item, path)?;
                    element = match unify(element, shape) {
                        Ok(s) => s,
                        Err((earlier, this)) => {
                            return Err(Error::SchemaInference {
                                message: format!(
                                "{path} is {this} but the earlier elements of {} are {earlier}; \
                                     all elements of an array must have the same type",
                                &path[..base]
                            ),
                            })
                        }
                    };
                    path.truncate(base);
                }
                Shape::Array(Box::new(element))
            }
            Json::Object(map) => {
                let base = path.len();
                let mut fields = Vec::with_capacity(map.len());
                for (name, value) in map {
                    push_field(path, name);
                    fields.push((name.clone(), Shape::of(value, path)?));
                    path.truncate(base);
                }
                Shape::Struct(fields)
            }
        })
    }

    /// The optional schema of this shape.
    fn schema(&self) -> Result<Schema, Error> {
        Ok(match self {
            Shape::Null | Shape::String => Schema::optional_string(),
            Shape::Boolean => Schema::optional_boolean(),
            Shape::Int => Schema::optional_int64(),
            Shape::Float => Schema::optional_float64(),
            Shape::Array(element) => SchemaBuilder::array(element.schema()?).optional().build(),
            Shape::Struct(fields) => struct_schema(fields, true)?,
        })
    }
}

/// A struct schema with one optional field per entry of `fields`.
fn struct_schema(fields: &[(String, Shape)], optional: bool) -> Result<Schema, Error> {
    let mut builder = SchemaBuilder::struct_();
    for (name, shape) in fields {
        builder = builder.field(name.clone(), shape.schema()?);
    }
    if optional {
        builder = builder.optional();
    }
    builder.try_build().map_err(internal)
}

/// `path` extended with the member `name`, as `.name` or, when it is not a plain identifier,
/// `["name"]`.
fn push_field(path: &mut String, name: &str) {
    let plain = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        path.push('.');
        path.push_str(name);
    } else {
        path.push('[');
        path.push_str(&serde_json::to_string(name).unwrap_or_default());
        path.push(']');
    }
}

/// The shape both `a` and `b` fit, or both back when there is none.
fn unify(a: Shape, b: Shape) -> Result<Shape, (Shape, Shape)> {
    match (a, b) {
        (Shape::Null, x) | (x, Shape::Null) => Ok(x),
        (Shape::Int, Shape::Float) | (Shape::Float, Shape::Int) => Ok(Shape::Float),
        (Shape::Array(x), Shape::Array(y)) => match unify(*x, *y) {
            Ok(e) => Ok(Shape::Array(Box::new(e))),
            Err((x, y)) => Err((Shape::Array(Box::new(x)), Shape::Array(Box::new(y)))),
        },
        (Shape::Struct(fa), Shape::Struct(fb)) => unify_structs(fa, fb),
        (a, b) if a == b => Ok(a),
        (a, b) => Err((a, b)),
    }
}

fn unify_structs(
    fa: Vec<(String, Shape)>,
    fb: Vec<(String, Shape)>,
) -> Result<Shape, (Shape, Shape)> {
    let same_names = fa.len() == fb.len()
        && if fa.iter().zip(&fb).all(|((a, _), (b, _))| a == b) {
            true
        } else {
            let names: HashMap<&str, ()> = fa.iter().map(|(n, _)| (n.as_str(), ())).collect();
            fb.iter().all(|(n, _)| names.contains_key(n.as_str()))
        };
    if !same_names {
        return Err((Shape::Struct(fa), Shape::Struct(fb)));
    }
    // Unify field by field, keeping both sides whole to report a mismatch.
    let mut by_name: HashMap<String, Shape> = fb.iter().cloned().collect();
    let mut out = Vec::with_capacity(fa.len());
    for (name, a) in &fa {
        let b = by_name.remove(name).unwrap_or(Shape::Null);
        match unify(a.clone(), b) {
            Ok(s) => out.push((name.clone(), s)),
            Err(_) => return Err((Shape::Struct(fa), Shape::Struct(fb))),
        }
    }
    Ok(Shape::Struct(out))
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Null => f.write_str("null"),
            Shape::Boolean => f.write_str("boolean"),
            Shape::Int => f.write_str("int64"),
            Shape::Float => f.write_str("float64"),
            Shape::String => f.write_str("string"),
            Shape::Array(e) => write!(f, "array<{e}>"),
            Shape::Struct(fields) => {
                f.write_str("struct{")?;
                for (i, (name, shape)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}: {shape}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// `json` as a value of `schema` (inferred from it, so it fits).
fn build(json: Json, schema: &Schema) -> Result<Value, Error> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(b),
        Json::Number(n) => number(&n, schema.type_() == Type::Float64),
        Json::String(s) => Value::String(s),
        Json::Array(items) => {
            let element = schema
                .value_schema()
                .ok_or_else(|| internal_msg("array schema without an element schema"))?;
            Value::Array(
                items
                    .into_iter()
                    .map(|item| build(item, element))
                    .collect::<Result<_, _>>()?,
            )
        }
        Json::Object(map) => {
            let mut s = Struct::new(schema.clone()).map_err(internal)?;
            for (name, value) in map {
                let field_schema = schema
                    .field(&name)
                    .ok_or_else(|| internal_msg(&format!("no field {name:?} in the schema")))?
                    .schema();
                let value = build(value, field_schema)?;
                s.set(&name, value).map_err(internal)?;
            }
            Value::Struct(s)
        }
    })
}

fn internal(e: sluice_core::Error) -> Error {
    internal_msg(&e.to_string())
}

fn internal_msg(message: &str) -> Error {
    Error::SchemaInference {
        message: format!("internal error: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::String(k.into()), v))
                .collect(),
        )
    }

    /// Arbitrary JSON text: nested values, repeated keys, escapes, numbers at the int64 edges.
    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("null".to_owned()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|u| u.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:e}")),
            Just("18446744073709551616".to_owned()),
            "[a-c\\\\\"\u{e9}\n]{0,4}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(("[a-c]{0,2}", inner), 0..40).prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn direct_parse_equals_schemaless_of_the_tree(text in json_text()) {
            let tree: Json = serde_json::from_str(&text).unwrap();
            proptest::prop_assert_eq!(parse_schemaless(&text).unwrap(), schemaless(tree));
        }
    }

    #[test]
    fn direct_parse_keeps_first_position_of_repeated_keys_and_rejects_bad_json() {
        let many: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        let text = format!("{{\"a\":1,{many}\"b\":2,\"a\":3,\"k39\":\"x\"}}");
        let Value::Map(entries) = parse_schemaless(&text).unwrap() else {
            panic!("not a map")
        };
        assert_eq!(entries.len(), 42);
        assert_eq!(entries[0], (Value::from("a"), Value::Int64(3)));
        assert_eq!(entries[40], (Value::from("k39"), Value::from("x")));
        assert_eq!(entries[41], (Value::from("b"), Value::Int64(2)));
        assert!(parse_schemaless("{\"a\":}").is_err());
        assert!(parse_schemaless("[1,2] 3").is_err());
    }

    #[test]
    fn schemaless_follows_json_converter() {
        let json: Json = serde_json::from_str(
            r#"{"z":1,"a":[true,null,"s"],"f":1.5,"e":1e2,"big":18446744073709551615,"neg":-7,"o":{}}"#,
        )
        .unwrap();
        assert_eq!(
            schemaless(json),
            map(vec![
                ("z", Value::Int64(1)),
                (
                    "a",
                    Value::Array(vec![Value::Boolean(true), Value::Null, Value::from("s")])
                ),
                ("f", Value::Float64(1.5)),
                ("e", Value::Float64(100.0)),
                ("big", Value::Float64(18446744073709551615.0)),
                ("neg", Value::Int64(-7)),
                ("o", map(vec![])),
            ])
        );
        assert_eq!(schemaless(json!(null)), Value::Null);
        assert_eq!(schemaless(json!("x")), Value::from("x"));
        assert_eq!(schemaless(json!(i64::MIN)), Value::Int64(i64::MIN));
    }

    #[test]
    fn infers_nested_structs_and_arrays() {
        let json = json!({
            "id": 7,
            "name": "ann",
            "score": 1.5,
            "ok": true,
            "none": null,
            "tags": ["a", "b"],
            "empty": [],
            "nums": [1, 2.5, null, 3],
            "address": {"city": "Oslo", "geo": {"lat": 59.9, "lon": 10}},
            "items": [{"sku": "x", "qty": 1}, {"qty": 2.5, "sku": null}],
            "matrix": [[1], [], [2.5, null]]
        });
        let sv = with_inferred_schema(json).unwrap();
        let schema = sv.schema.clone().unwrap();

        let geo = SchemaBuilder::struct_()
            .field("lat", Schema::optional_float64())
            .field("lon", Schema::optional_int64())
            .optional()
            .build();
        let address = SchemaBuilder::struct_()
            .field("city", Schema::optional_string())
            .field("geo", geo.clone())
            .optional()
            .build();
        let item = SchemaBuilder::struct_()
            .field("sku", Schema::optional_string())
            .field("qty", Schema::optional_float64())
            .optional()
            .build();
        let expected = SchemaBuilder::struct_()
            .field("id", Schema::optional_int64())
            .field("name", Schema::optional_string())
            .field("score", Schema::optional_float64())
            .field("ok", Schema::optional_boolean())
            .field("none", Schema::optional_string())
            .field(
                "tags",
                SchemaBuilder::array(Schema::optional_string())
                    .optional()
                    .build(),
            )
            .field(
                "empty",
                SchemaBuilder::array(Schema::optional_string())
                    .optional()
                    .build(),
            )
            .field(
                "nums",
                SchemaBuilder::array(Schema::optional_float64())
                    .optional()
                    .build(),
            )
            .field("address", address.clone())
            .field(
                "items",
                SchemaBuilder::array(item.clone()).optional().build(),
            )
            .field(
                "matrix",
                SchemaBuilder::array(
                    SchemaBuilder::array(Schema::optional_float64())
                        .optional()
                        .build(),
                )
                .optional()
                .build(),
            )
            .build();
        assert_eq!(schema, expected);
        assert!(!schema.is_optional());

        let Value::Struct(s) = &sv.value else {
            panic!("{:?}", sv.value)
        };
        s.validate().unwrap();
        schema.validate_value(&sv.value).unwrap();
        assert_eq!(s.get("id"), Some(&Value::Int64(7)));
        assert_eq!(s.get("none"), Some(&Value::Null));
        assert_eq!(
            s.get("nums"),
            Some(&Value::Array(vec![
                Value::Float64(1.0),
                Value::Float64(2.5),
                Value::Null,
                Value::Float64(3.0)
            ]))
        );
        let Some(Value::Struct(addr)) = s.get("address") else {
            panic!()
        };
        let Some(Value::Struct(g)) = addr.get("geo") else {
            panic!()
        };
        assert_eq!(g.get("lon"), Some(&Value::Int64(10)));
        let Some(Value::Array(items)) = s.get("items") else {
            panic!()
        };
        let Value::Struct(second) = &items[1] else {
            panic!()
        };
        // Field order comes from the first element; values are matched by name.
        assert_eq!(second.schema(), &item);
        assert_eq!(second.get("qty"), Some(&Value::Float64(2.5)));
        assert_eq!(second.get("sku"), Some(&Value::Null));
        assert_eq!(
            s.get("matrix"),
            Some(&Value::Array(vec![
                Value::Array(vec![Value::Float64(1.0)]),
                Value::Array(vec![]),
                Value::Array(vec![Value::Float64(2.5), Value::Null]),
            ]))
        );
    }

    #[test]
    fn non_object_top_level_values_get_primitive_schemas() {
        let cases = [
            (json!(5), Schema::optional_int64(), Value::Int64(5)),
            (
                json!(0.25),
                Schema::optional_float64(),
                Value::Float64(0.25),
            ),
            (json!("s"), Schema::optional_string(), Value::from("s")),
            (
                json!(false),
                Schema::optional_boolean(),
                Value::Boolean(false),
            ),
            (json!(null), Schema::optional_string(), Value::Null),
            (
                json!([1, 2]),
                SchemaBuilder::array(Schema::optional_int64())
                    .optional()
                    .build(),
                Value::Array(vec![Value::Int64(1), Value::Int64(2)]),
            ),
        ];
        for (json, schema, value) in cases {
            let sv = with_inferred_schema(json.clone()).unwrap();
            assert_eq!(sv, SchemaAndValue::new(schema, value), "{json}");
        }
    }

    #[test]
    fn disagreeing_array_elements_name_the_path() {
        let cases = [
            (
                json!({"a": {"b": [1, "x"]}}),
                "$.a.b[1] is string but the earlier elements of $.a.b are int64",
            ),
            (
                json!([[1], ["x"]]),
                "$[1] is array<string> but the earlier elements of $ are array<int64>",
            ),
            (
                json!({"odd key": [{"a": 1}, {"b": 1}]}),
                "$[\"odd key\"][1] is struct{b: int64}",
            ),
            (
                json!({"x": [true, {"a": 1}]}),
                "$.x[1] is struct{a: int64} but the earlier elements of $.x are boolean",
            ),
            (
                json!({"x": [{"a": 1}, {"a": "s"}]}),
                "$.x[1] is struct{a: string}",
            ),
        ];
        for (json, expected) in cases {
            let err = with_inferred_schema(json.clone()).unwrap_err();
            assert!(matches!(err, Error::SchemaInference { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains(expected), "{json}: {msg}");
            assert!(msg.contains("transformer.json.infer.schema"), "{msg}");
        }
    }

    #[test]
    fn huge_integers_are_inferred_as_floats() {
        let sv = with_inferred_schema(json!({"n": 18446744073709551615u64})).unwrap();
        let Value::Struct(s) = sv.value else { panic!() };
        assert_eq!(
            s.schema().field("n").unwrap().schema(),
            &Schema::optional_float64()
        );
        assert_eq!(s.get("n"), Some(&Value::Float64(18446744073709551615.0)));
    }

    #[test]
    fn integers_beyond_int64_are_errors_never_rounded() {
        for infer in [false, true] {
            for (text, literal) in [
                (r#"{"id":12345678901234567890}"#, "12345678901234567890"),
                (
                    r#"{"a":"9999999999999999999999","id":-9223372036854775809}"#,
                    "-9223372036854775809",
                ),
                (
                    r#"[1,123456789012345678901234567890]"#,
                    "123456789012345678901234567890",
                ),
            ] {
                match parse_record(text, infer) {
                    Err(Error::IntegerOutOfRange { literal: l }) => {
                        assert_eq!(l, literal, "{text}")
                    }
                    other => panic!("{text} (infer {infer}): {other:?}"),
                }
            }
            // Exact int64 limits, big floats and big digits inside strings are fine.
            let ok = parse_record(
                r#"{"max":9223372036854775807,"min":-9223372036854775808,"f":1e30,"g":12345678901234567890.0,"s":"12345678901234567890"}"#,
                infer,
            )
            .unwrap();
            let text = format!("{:?}", ok.value);
            assert!(
                text.contains("9223372036854775807") && text.contains("1e30"),
                "{text}"
            );
            // The flag of a failed record does not leak into the next one.
            assert!(parse_record(r#"{"n":1e19}"#, infer).is_ok());
        }
    }
}
