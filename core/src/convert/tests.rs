//! Byte-for-byte checks against the output of Kafka Connect's converters: the JSON converter
//! here, the string and byte array converters and building converters from their class names
//! and settings in [`classes`].

use std::collections::BTreeMap;

use super::*;
use crate::data::logical::{self, decimal_value};
use crate::data::{Schema, SchemaBuilder, Struct, Type, Value};

mod classes;

fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn json_with(pairs: &[(&str, &str)]) -> Arc<dyn Converter> {
    converter_from_config("json", &settings(pairs), false).unwrap()
}

fn out(conv: &dyn Converter, data: SchemaAndValue) -> String {
    let bytes = conv
        .from_connect_data("topic", &data)
        .unwrap()
        .expect("non-null result");
    String::from_utf8(bytes).unwrap()
}

/// The JSON converter's output with default settings (`schemas.enable=true`).
fn json(schema: Schema, value: Value) -> String {
    out(&*json_with(&[]), SchemaAndValue::new(schema, value))
}

/// The expected envelope for a schema JSON and a payload JSON.
fn env(schema: &str, payload: &str) -> String {
    format!("{{\"schema\":{schema},\"payload\":{payload}}}")
}

fn config_problems(r: Result<Arc<dyn Converter>>) -> String {
    match r {
        Err(e @ Error::Config { .. }) => e.to_string(),
        Err(e) => panic!("not a config error: {e}"),
        Ok(c) => panic!("expected a config error, got {c:?}"),
    }
}

#[test]
fn primitives_with_schemas() {
    let cases: Vec<(Schema, Value, &str, &str)> = vec![
        (
            Schema::int8(),
            Value::Int8(-5),
            r#"{"type":"int8","optional":false}"#,
            "-5",
        ),
        (
            Schema::int16(),
            Value::Int16(300),
            r#"{"type":"int16","optional":false}"#,
            "300",
        ),
        (
            Schema::int32(),
            Value::Int32(-70000),
            r#"{"type":"int32","optional":false}"#,
            "-70000",
        ),
        (
            Schema::int64(),
            Value::Int64(9_007_199_254_740_993),
            r#"{"type":"int64","optional":false}"#,
            "9007199254740993",
        ),
        (
            Schema::float32(),
            Value::Float32(0.1),
            r#"{"type":"float32","optional":false}"#,
            "0.1",
        ),
        (
            Schema::float32(),
            Value::Float32(1.5e10),
            r#"{"type":"float32","optional":false}"#,
            "1.5E10",
        ),
        (
            Schema::float64(),
            Value::Float64(0.1),
            r#"{"type":"float64","optional":false}"#,
            "0.1",
        ),
        (
            Schema::float64(),
            Value::Float64(100.0),
            r#"{"type":"float64","optional":false}"#,
            "100.0",
        ),
        (
            Schema::float64(),
            Value::Float64(1e7),
            r#"{"type":"float64","optional":false}"#,
            "1.0E7",
        ),
        (
            Schema::float64(),
            Value::Float64(-0.0),
            r#"{"type":"float64","optional":false}"#,
            "-0.0",
        ),
        (
            Schema::float64(),
            Value::Float64(f64::NAN),
            r#"{"type":"float64","optional":false}"#,
            r#""NaN""#,
        ),
        (
            Schema::float64(),
            Value::Float64(f64::NEG_INFINITY),
            r#"{"type":"float64","optional":false}"#,
            r#""-Infinity""#,
        ),
        (
            Schema::float32(),
            Value::Float32(f32::INFINITY),
            r#"{"type":"float32","optional":false}"#,
            r#""Infinity""#,
        ),
        (
            Schema::boolean(),
            Value::Boolean(true),
            r#"{"type":"boolean","optional":false}"#,
            "true",
        ),
        (
            Schema::string(),
            Value::from("héllo"),
            r#"{"type":"string","optional":false}"#,
            r#""héllo""#,
        ),
        (
            Schema::bytes(),
            Value::Bytes(vec![0, 1, 2, 255]),
            r#"{"type":"bytes","optional":false}"#,
            r#""AAEC/w==""#,
        ),
        (
            Schema::bytes(),
            Value::Bytes(vec![]),
            r#"{"type":"bytes","optional":false}"#,
            r#""""#,
        ),
    ];
    for (schema, value, schema_json, payload) in cases {
        assert_eq!(json(schema, value), env(schema_json, payload));
    }
}

#[test]
fn optional_primitives() {
    let cases: Vec<(Schema, &str)> = vec![
        (Schema::optional_int8(), "int8"),
        (Schema::optional_int16(), "int16"),
        (Schema::optional_int32(), "int32"),
        (Schema::optional_int64(), "int64"),
        (Schema::optional_float32(), "float32"),
        (Schema::optional_float64(), "float64"),
        (Schema::optional_boolean(), "boolean"),
        (Schema::optional_string(), "string"),
        (Schema::optional_bytes(), "bytes"),
    ];
    for (schema, name) in cases {
        let schema_json = format!(r#"{{"type":"{name}","optional":true}}"#);
        assert_eq!(json(schema.clone(), Value::Null), env(&schema_json, "null"));
        // Without the envelope a null with a schema is the JSON literal null, not a tombstone.
        let conv = json_with(&[("schemas.enable", "false")]);
        assert_eq!(
            out(&*conv, SchemaAndValue::new(schema, Value::Null)),
            "null"
        );
    }
    assert_eq!(
        json(Schema::optional_int32(), Value::Int32(7)),
        env(r#"{"type":"int32","optional":true}"#, "7")
    );
}

#[test]
fn strings_are_escaped_as_jackson_does() {
    let s = "q\"b\\s/\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}é€😀\u{2028}";
    assert_eq!(
        json(Schema::string(), Value::from(s)),
        env(
            r#"{"type":"string","optional":false}"#,
            "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0000\\u001F\u{7f}é€😀\u{2028}\""
        )
    );
}

#[test]
fn arrays() {
    let schema = SchemaBuilder::array(Schema::int32()).build();
    assert_eq!(
        json(schema, Value::Array(vec![1.into(), 2.into(), 3.into()])),
        env(
            r#"{"type":"array","items":{"type":"int32","optional":false},"optional":false}"#,
            "[1,2,3]"
        )
    );
    let schema = SchemaBuilder::array(Schema::optional_string())
        .optional()
        .build();
    assert_eq!(
        json(schema.clone(), Value::Array(vec!["a".into(), Value::Null])),
        env(
            r#"{"type":"array","items":{"type":"string","optional":true},"optional":true}"#,
            r#"["a",null]"#
        )
    );
    assert_eq!(
        json(schema, Value::Array(vec![])),
        env(
            r#"{"type":"array","items":{"type":"string","optional":true},"optional":true}"#,
            "[]"
        )
    );
}

#[test]
fn map_with_string_keys_is_an_object() {
    let schema = SchemaBuilder::map(Schema::string(), Schema::optional_int32()).build();
    let value = Value::Map(vec![
        ("b".into(), 2.into()),
        ("a".into(), 1.into()),
        ("n".into(), Value::Null),
    ]);
    assert_eq!(
        json(schema, value),
        env(
            r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":true},"optional":false}"#,
            r#"{"b":2,"a":1,"n":null}"#
        )
    );
}

#[test]
fn map_with_int_keys_is_an_array_of_pairs() {
    let schema = SchemaBuilder::map(Schema::int32(), Schema::string()).build();
    let value = Value::Map(vec![(1.into(), "a".into()), (2.into(), "b".into())]);
    assert_eq!(
        json(schema, value),
        env(
            r#"{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"string","optional":false},"optional":false}"#,
            r#"[[1,"a"],[2,"b"]]"#
        )
    );
}

#[test]
fn struct_example_from_connect() {
    let schema = SchemaBuilder::struct_()
        .name("com.example.User")
        .field("id", Schema::int32())
        .field("name", Schema::optional_string())
        .build();
    let value = Struct::new(schema.clone())
        .unwrap()
        .put("id", 1i32)
        .unwrap();
    assert_eq!(
        json(schema, value.into()),
        r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"}],"optional":false,"name":"com.example.User"},"payload":{"id":1,"name":null}}"#
    );
}

#[test]
fn nested_structs() {
    let address = SchemaBuilder::struct_()
        .name("com.example.Address")
        .optional()
        .field("city", Schema::string())
        .field(
            "lines",
            SchemaBuilder::array(Schema::string()).optional().build(),
        )
        .build();
    let order = SchemaBuilder::struct_()
        .name("com.example.Order")
        .version(2)
        .field("id", Schema::int64())
        .field("address", address.clone())
        .field(
            "amounts",
            SchemaBuilder::map(Schema::string(), Schema::float64()).build(),
        )
        .build();
    let addr = Struct::new(address)
        .unwrap()
        .put("city", "Oslo")
        .unwrap()
        .put("lines", Value::Array(vec!["Main St 1".into()]))
        .unwrap();
    let value = Struct::new(order.clone())
        .unwrap()
        .put("id", 42i64)
        .unwrap()
        .put("address", addr)
        .unwrap()
        .put("amounts", Value::Map(vec![("x".into(), 1.25f64.into())]))
        .unwrap();
    let schema_json = concat!(
        r#"{"type":"struct","fields":["#,
        r#"{"type":"int64","optional":false,"field":"id"},"#,
        r#"{"type":"struct","fields":[{"type":"string","optional":false,"field":"city"},"#,
        r#"{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"lines"}],"#,
        r#""optional":true,"name":"com.example.Address","field":"address"},"#,
        r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"float64","optional":false},"optional":false,"field":"amounts"}],"#,
        r#""optional":false,"name":"com.example.Order","version":2}"#
    );
    assert_eq!(
        json(order.clone(), value.into()),
        env(
            schema_json,
            r#"{"id":42,"address":{"city":"Oslo","lines":["Main St 1"]},"amounts":{"x":1.25}}"#
        )
    );
    // A null optional nested struct.
    let value = Struct::new(order.clone())
        .unwrap()
        .put("id", 1i64)
        .unwrap()
        .put("amounts", Value::Map(vec![]))
        .unwrap();
    assert_eq!(
        json(order, value.into()),
        env(schema_json, r#"{"id":1,"address":null,"amounts":{}}"#)
    );
}

fn defaults_schema() -> Schema {
    SchemaBuilder::struct_()
        .field(
            "count",
            SchemaBuilder::new(Type::Int32)
                .default_value(Value::Int32(0))
                .build(),
        )
        .field(
            "note",
            SchemaBuilder::new(Type::String)
                .optional()
                .default_value("n/a".into())
                .build(),
        )
        .field("extra", Schema::optional_float32())
        .build()
}

const DEFAULTS_SCHEMA_JSON: &str = concat!(
    r#"{"type":"struct","fields":["#,
    r#"{"type":"int32","optional":false,"default":0,"field":"count"},"#,
    r#"{"type":"string","optional":true,"default":"n/a","field":"note"},"#,
    r#"{"type":"float32","optional":true,"field":"extra"}],"optional":false}"#
);

#[test]
fn struct_with_optional_and_default_fields() {
    let schema = defaults_schema();
    let empty = Struct::new(schema.clone()).unwrap();
    assert_eq!(
        json(schema.clone(), empty.clone().into()),
        env(
            DEFAULTS_SCHEMA_JSON,
            r#"{"count":0,"note":"n/a","extra":null}"#
        )
    );
    let set = empty
        .clone()
        .put("count", 5i32)
        .unwrap()
        .put("note", "hi")
        .unwrap()
        .put("extra", 2.5f32)
        .unwrap();
    assert_eq!(
        json(schema.clone(), set.into()),
        env(
            DEFAULTS_SCHEMA_JSON,
            r#"{"count":5,"note":"hi","extra":2.5}"#
        )
    );

    // replace.null.with.default=false: an optional field stays null; a required one cannot.
    let conv = json_with(&[("replace.null.with.default", "false")]);
    let partial = empty.put("count", 3i32).unwrap();
    assert_eq!(
        out(&*conv, SchemaAndValue::new(schema.clone(), partial.into())),
        env(
            DEFAULTS_SCHEMA_JSON,
            r#"{"count":3,"note":null,"extra":null}"#
        )
    );
    let err = conv
        .from_connect_data(
            "t",
            &SchemaAndValue::new(schema.clone(), Struct::new(schema).unwrap().into()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"count\"") && err.contains("no default"),
        "{err}"
    );
}

#[test]
fn top_level_null_with_a_default_writes_the_default() {
    let schema = SchemaBuilder::new(Type::Int64)
        .default_value(Value::Int64(-1))
        .build();
    assert_eq!(
        json(schema, Value::Null),
        env(r#"{"type":"int64","optional":false,"default":-1}"#, "-1")
    );
}

#[test]
fn named_schema_with_version_doc_and_parameters() {
    let schema = SchemaBuilder::new(Type::String)
        .name("com.example.Code")
        .version(3)
        .doc("A \"code\"")
        .parameter("b", "2")
        .parameter("a", "1")
        .optional()
        .default_value("X".into())
        .build();
    assert_eq!(
        json(schema, "Y".into()),
        env(
            r#"{"type":"string","optional":true,"name":"com.example.Code","version":3,"doc":"A \"code\"","parameters":{"a":"1","b":"2"},"default":"X"}"#,
            r#""Y""#
        )
    );
}

const DECIMAL_SCHEMA: &str = r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}}"#;

#[test]
fn decimal_base64() {
    let schema = logical::decimal(2).build();
    // 12345 = 0x3039, -12345 = 0xCFC7
    assert_eq!(
        json(schema.clone(), decimal_value(12345)),
        env(DECIMAL_SCHEMA, r#""MDk=""#)
    );
    assert_eq!(
        json(schema.clone(), decimal_value(-12345)),
        env(DECIMAL_SCHEMA, r#""z8c=""#)
    );
    // BigInteger.toByteArray never writes redundant sign bytes.
    assert_eq!(
        json(schema.clone(), Value::Bytes(vec![0, 0, 0x30, 0x39])),
        env(DECIMAL_SCHEMA, r#""MDk=""#)
    );
    let conv = json_with(&[("decimal.format", "BASE64"), ("schemas.enable", "false")]);
    assert_eq!(
        out(&*conv, SchemaAndValue::new(schema, decimal_value(0))),
        r#""AA==""#
    );
}

#[test]
fn decimal_numeric() {
    let conv = json_with(&[("decimal.format", "NUMERIC")]);
    let schema = logical::decimal(2).build();
    let d = |v| {
        out(
            &*conv,
            SchemaAndValue::new(schema.clone(), decimal_value(v)),
        )
    };
    assert_eq!(d(12345), env(DECIMAL_SCHEMA, "123.45"));
    assert_eq!(d(-12345), env(DECIMAL_SCHEMA, "-123.45"));
    assert_eq!(d(5), env(DECIMAL_SCHEMA, "0.05"));
    assert_eq!(d(0), env(DECIMAL_SCHEMA, "0.00"));
    // The default is written in the same format.
    let schema = logical::decimal(0)
        .optional()
        .default_value(decimal_value(7))
        .build();
    let conv = json_with(&[("decimal.format", "numeric")]);
    assert_eq!(
        out(&*conv, SchemaAndValue::new(schema, Value::Null)),
        env(
            r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"0"},"default":7}"#,
            "7"
        )
    );
}

#[test]
fn date_time_timestamp() {
    assert_eq!(
        json(logical::date().build(), logical::date_value(19_000)),
        env(
            r#"{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1}"#,
            "19000"
        )
    );
    assert_eq!(
        json(logical::time().build(), logical::time_value(3_600_000)),
        env(
            r#"{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1}"#,
            "3600000"
        )
    );
    assert_eq!(
        json(
            logical::timestamp().optional().build(),
            logical::timestamp_value(1_700_000_000_123)
        ),
        env(
            r#"{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1}"#,
            "1700000000123"
        )
    );
}

#[test]
fn schemas_disabled_writes_the_payload_only() {
    let conv = json_with(&[("schemas.enable", "false")]);
    let schema = SchemaBuilder::struct_()
        .name("com.example.User")
        .field("id", Schema::int32())
        .field("score", Schema::float64())
        .build();
    let value = Struct::new(schema.clone())
        .unwrap()
        .put("id", 1i32)
        .unwrap()
        .put("score", 1.0e-5f64)
        .unwrap();
    assert_eq!(
        out(&*conv, SchemaAndValue::new(schema, value.into())),
        r#"{"id":1,"score":1.0E-5}"#
    );
    assert_eq!(
        out(&*conv, SchemaAndValue::schemaless("x".into())),
        r#""x""#
    );
    let conv = json_with(&[("schemas.enable", " FALSE ")]);
    assert_eq!(out(&*conv, SchemaAndValue::schemaless(1i32.into())), "1");
}

#[test]
fn schemaless_values() {
    let conv = json_with(&[]);
    let s = |v: Value| out(&*conv, SchemaAndValue::schemaless(v));
    assert_eq!(
        s(Value::Map(vec![
            ("a".into(), 1i32.into()),
            ("b".into(), "x".into()),
            ("c".into(), Value::Null),
            ("d".into(), Value::Array(vec![1.5f64.into(), true.into()])),
            ("e".into(), Value::Bytes(vec![1])),
        ])),
        r#"{"schema":null,"payload":{"a":1,"b":"x","c":null,"d":[1.5,true],"e":"AQ=="}}"#
    );
    assert_eq!(
        s(Value::Map(vec![
            ("a".into(), 1i32.into()),
            (2i64.into(), 2i32.into())
        ])),
        r#"{"schema":null,"payload":[["a",1],[2,2]]}"#
    );
    assert_eq!(s(Value::Map(vec![])), r#"{"schema":null,"payload":{}}"#);
    assert_eq!(s(Value::Float32(0.1)), r#"{"schema":null,"payload":0.1}"#);
    assert_eq!(s(Value::Int64(-3)), r#"{"schema":null,"payload":-3}"#);
    // A repeated key keeps its first position and takes the last value, as in Jackson.
    assert_eq!(
        s(Value::Map(vec![
            ("k".into(), 1i32.into()),
            ("j".into(), 2i32.into()),
            ("k".into(), 3i32.into())
        ])),
        r#"{"schema":null,"payload":{"k":3,"j":2}}"#
    );
    // Null without a schema is a tombstone.
    assert_eq!(
        conv.from_connect_data("t", &SchemaAndValue::null())
            .unwrap(),
        None
    );
    // A struct needs its schema.
    let st = SchemaBuilder::struct_().field("a", Schema::int8()).build();
    let v = Struct::new(st).unwrap().put("a", 1i8).unwrap();
    assert!(conv
        .from_connect_data("t", &SchemaAndValue::schemaless(v.into()))
        .is_err());
}

#[test]
fn values_are_validated_against_the_schema() {
    let schema = SchemaBuilder::struct_()
        .field("id", Schema::int32())
        .build();
    let conv = json_with(&[]);
    let err = conv
        .from_connect_data(
            "t",
            &SchemaAndValue::new(schema.clone(), Struct::new(schema).unwrap().into()),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Data(_)), "{err}");
    assert!(err.to_string().contains("\"id\""), "{err}");
    let err = conv
        .from_connect_data("t", &SchemaAndValue::new(Schema::int32(), "x".into()))
        .unwrap_err();
    assert!(
        err.to_string().contains("string value for a int32 schema"),
        "{err}"
    );
    assert!(conv
        .from_connect_data("t", &SchemaAndValue::new(Schema::int32(), Value::Null))
        .is_err());
}
