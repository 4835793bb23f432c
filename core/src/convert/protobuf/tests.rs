//! Schema text and bytes of each type.
//!
//! The expected texts follow Confluent's `ProtobufData` and `ProtobufSchemaUtils` rules; the
//! expected bytes were checked with Python's `protobuf` 7.36.2: each case's text compiled by
//! `grpcio-tools` 1.85.1 (protoc), the bytes parsed into the generated class and serialized
//! again to the same bytes (`SLUICE_PROTOBUF_DUMP=dir` writes the cases for that check, see
//! `scripts/sr/protobuf_check.py`).

use super::*;
use crate::data::logical::{self, decimal_value};
use crate::data::{SchemaBuilder, Struct};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn plan(schema: &Schema, options: ProtobufOptions) -> ProtobufPlan {
    ProtobufPlan::new(schema, options).unwrap()
}

/// The payload (message indexes and message) of `value`, in hex; also dumped for the Python
/// check when `SLUICE_PROTOBUF_DUMP` is set.
fn bytes(case: &str, schema: &Schema, value: Struct, options: ProtobufOptions) -> String {
    let p = plan(schema, options);
    let mut out = Vec::new();
    p.write(schema, &Value::Struct(value), &mut out).unwrap();
    assert_eq!(out[0], 0, "message indexes [0]");
    if let Ok(dir) = std::env::var("SLUICE_PROTOBUF_DUMP") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{case}.proto")), &p.text).unwrap();
        std::fs::write(dir.join(format!("{case}.bin")), &out[1..]).unwrap();
    }
    hex(&out[1..])
}

fn st(schema: &Schema) -> Struct {
    Struct::new(schema.clone()).unwrap()
}

fn person() -> Schema {
    SchemaBuilder::struct_()
        .name("com.example.Person")
        .field("name", Schema::string())
        .field("age", Schema::optional_int32())
        .field("tiny", Schema::int8())
        .field("small", Schema::optional_int16())
        .field("big", Schema::int64())
        .field("ratio", Schema::float32())
        .field("score", Schema::float64())
        .field("ok", Schema::boolean())
        .field("data", Schema::optional_bytes())
        .field("nums", SchemaBuilder::array(Schema::int32()).build())
        .field(
            "words",
            SchemaBuilder::array(Schema::string()).optional().build(),
        )
        .build()
}

const PERSON_TEXT: &str = r#"syntax = "proto3";
package com.example;

message Person {
  string name = 1;
  int32 age = 2;
  int32 tiny = 3 [(confluent.field_meta) = {
    params: [
      {
        key: "connect.type",
        value: "int8"
      }
    ]
  }];
  int32 small = 4 [(confluent.field_meta) = {
    params: [
      {
        key: "connect.type",
        value: "int16"
      }
    ]
  }];
  int64 big = 5;
  float ratio = 6;
  double score = 7;
  bool ok = 8;
  bytes data = 9;
  repeated int32 nums = 10;
  repeated string words = 11;
}
"#;

#[test]
fn primitives_text() {
    let p = plan(&person(), ProtobufOptions::default());
    assert_eq!(p.text, PERSON_TEXT);
    assert_eq!(p.record_name, "com.example.Person");
    assert!(p.imports.is_empty());
}

#[test]
fn primitives_bytes() {
    let s = person();
    let v = st(&s)
        .put("name", "ann")
        .unwrap()
        .put("age", 42i32)
        .unwrap()
        .put("tiny", -1i8)
        .unwrap()
        .put("small", 300i16)
        .unwrap()
        .put("big", 1i64 << 40)
        .unwrap()
        .put("ratio", 1.5f32)
        .unwrap()
        .put("score", -0.25f64)
        .unwrap()
        .put("ok", true)
        .unwrap()
        .put("data", vec![0u8, 255])
        .unwrap()
        .put(
            "nums",
            Value::Array(vec![Value::Int32(1), Value::Int32(0), Value::Int32(-2)]),
        )
        .unwrap()
        .put("words", Value::Array(vec!["a".into(), "".into()]))
        .unwrap();
    assert_eq!(
        bytes("primitives", &s, v, ProtobufOptions::default()),
        concat!(
            "0a03616e6e",                   // 1: "ann"
            "102a",                         // 2: 42
            "18ffffffffffffffffff01",       // 3: -1 as a 10-byte varint
            "20ac02",                       // 4: 300
            "28808080808020",               // 5: 2^40
            "350000c03f",                   // 6: 1.5f
            "39000000000000d0bf",           // 7: -0.25
            "4001",                         // 8: true
            "4a0200ff",                     // 9: 00 ff
            "520c0100feffffffffffffffff01", // 10: packed [1, 0, -2]
            "5a01615a00",                   // 11: "a", "" (repeated keeps defaults)
        )
    );
}

#[test]
fn proto3_defaults_are_left_out() {
    let s = person();
    let v = st(&s)
        .put("name", "")
        .unwrap()
        .put("tiny", 0i8)
        .unwrap()
        .put("big", 0i64)
        .unwrap()
        .put("ratio", -0.0f32)
        .unwrap()
        .put("score", 0.0f64)
        .unwrap()
        .put("ok", false)
        .unwrap()
        .put("nums", Value::Array(vec![]))
        .unwrap();
    // Only -0.0 (not proto3's default +0.0) is written.
    assert_eq!(
        bytes("defaults", &s, v, ProtobufOptions::default()),
        "3500000080"
    );
}

fn nested() -> Schema {
    let point = SchemaBuilder::struct_()
        .field("x", Schema::int32())
        .field("y", Schema::int32())
        .build();
    let tagged = SchemaBuilder::struct_()
        .name("com.example.tag")
        .field("label", Schema::string())
        .build();
    SchemaBuilder::struct_()
        .field("id", Schema::int64())
        .field("where", point.clone())
        .field("path", SchemaBuilder::array(point).build())
        .field(
            "counts",
            SchemaBuilder::map(Schema::string(), Schema::int64()).build(),
        )
        .field(
            "named_map",
            SchemaBuilder::map(Schema::string(), tagged.clone())
                .name("my_entry_map")
                .build(),
        )
        .field("tag", tagged)
        .build()
}

const NESTED_TEXT: &str = r#"syntax = "proto3";

message ConnectDefault1 {
  int64 id = 1;
  ConnectDefault2 where = 2;
  repeated ConnectDefault3 path = 3;
  repeated ConnectDefault4Entry counts = 4;
  repeated MyEntryMapEntry named_map = 5;
  tagMessage tag = 6;

  message ConnectDefault2 {
    int32 x = 1;
    int32 y = 2;
  }
  message ConnectDefault3 {
    int32 x = 1;
    int32 y = 2;
  }
  message ConnectDefault4Entry {
    string key = 1;
    int64 value = 2;
  }
  message MyEntryMapEntry {
    string key = 1;
    tag value = 2;
  
    message tag {
      string label = 1;
    }
  }
  message tagMessage {
    string label = 1;
  }
}
"#;

#[test]
fn nested_structs_arrays_and_maps_text() {
    let p = plan(&nested(), ProtobufOptions::default());
    assert_eq!(p.text, NESTED_TEXT);
    assert_eq!(p.record_name, "ConnectDefault1");
}

#[test]
fn nested_structs_arrays_and_maps_bytes() {
    let s = nested();
    let point = s.field("where").unwrap().schema().clone();
    let tagged = s.field("tag").unwrap().schema().clone();
    let pt = |x: i32, y: i32| Value::Struct(st(&point).put("x", x).unwrap().put("y", y).unwrap());
    let tag = |l: &str| Value::Struct(st(&tagged).put("label", l).unwrap());
    let v = st(&s)
        .put("id", 7i64)
        .unwrap()
        .put("where", pt(0, 0))
        .unwrap()
        .put("path", Value::Array(vec![pt(1, 2), pt(0, 3)]))
        .unwrap()
        .put(
            "counts",
            Value::Map(vec![
                ("a".into(), Value::Int64(1)),
                ("".into(), Value::Int64(0)),
            ]),
        )
        .unwrap()
        .put("named_map", Value::Map(vec![("k".into(), tag("v"))]))
        .unwrap()
        .put("tag", tag(""))
        .unwrap();
    assert_eq!(
        bytes("nested", &s, v, ProtobufOptions::default()),
        concat!(
            "0807", // id
            "1200", // where: an empty message is still written
            "1a0408011002",
            "1a021003", // path
            "22050a01611001",
            "2200", // counts: {a: 1}, {"": 0} with both defaults left out
            "2a080a016b1203",
            "0a0176", // named_map
            "3200",   // tag
        )
    );
}

fn logical_schema() -> Schema {
    SchemaBuilder::struct_()
        .name("shop.Order")
        .field("price", logical::decimal(2).build())
        .field(
            "exact",
            logical::decimal(9)
                .parameter("connect.decimal.precision", "38")
                .optional()
                .build(),
        )
        .field("day", logical::date().build())
        .field("at", logical::time().build())
        .field("ts", logical::timestamp().optional().build())
        .field(
            "days",
            SchemaBuilder::array(logical::date().build()).build(),
        )
        .build()
}

const LOGICAL_TEXT: &str = r#"syntax = "proto3";
package shop;

import "confluent/type/decimal.proto";
import "google/type/date.proto";
import "google/type/timeofday.proto";
import "google/protobuf/timestamp.proto";

message Order {
  confluent.type.Decimal price = 1 [(confluent.field_meta) = {
    params: [
      {
        value: "2",
        key: "scale"
      }
    ]
  }];
  confluent.type.Decimal exact = 2 [(confluent.field_meta) = {
    params: [
      {
        value: "38",
        key: "precision"
      },
      {
        value: "9",
        key: "scale"
      }
    ]
  }];
  google.type.Date day = 3;
  google.type.TimeOfDay at = 4;
  google.protobuf.Timestamp ts = 5;
  repeated google.type.Date days = 6;
}
"#;

#[test]
fn logical_types_text() {
    let p = plan(&logical_schema(), ProtobufOptions::default());
    assert_eq!(p.text, LOGICAL_TEXT);
    assert_eq!(
        p.imports,
        [
            "confluent/type/decimal.proto",
            "google/type/date.proto",
            "google/type/timeofday.proto",
            "google/protobuf/timestamp.proto"
        ]
    );
}

#[test]
fn logical_types_bytes() {
    let s = logical_schema();
    let v = st(&s)
        .put("price", decimal_value(-12345)) // -123.45
        .unwrap()
        .put("exact", decimal_value(0))
        .unwrap()
        .put("day", logical::date_value(19_723)) // 2024-01-01
        .unwrap()
        .put("at", logical::time_value(45_296_789)) // 12:34:56.789
        .unwrap()
        .put("ts", logical::timestamp_value(-1)) // 1969-12-31T23:59:59.999Z
        .unwrap()
        .put(
            "days",
            Value::Array(vec![logical::date_value(0), logical::date_value(-141_428)]),
        )
        .unwrap();
    assert_eq!(
        bytes("logical", &s, v, ProtobufOptions::default()),
        concat!(
            "0a08",
            "0a02cfc7",
            "1005",
            "1802", // price: value cfc7, precision 5, scale 2
            "1207",
            "0a0100",
            "1001",
            "1809", // exact: value 00, precision 1, scale 9
            "1a07",
            "08e80f",
            "1001",
            "1801", // day: 2024-01-01
            "220c",
            "080c",
            "1022",
            "1838",
            "20c0de9cf802", // at: 12:34:56.789
            "2a11",
            "08ffffffffffffffffff01",
            "10c08faedc03", // ts: -1 s + 999000000 ns
            "3207",
            "08b20f",
            "1001",
            "1801", // days[0]: 1970-01-01
            "3207",
            "08ae0c",
            "100a",
            "1804", // days[1]: 1582-10-04 (Julian, as Java)
        )
    );
}

#[test]
fn wrapper_and_optional_for_nullables() {
    let s = SchemaBuilder::struct_()
        .name("W")
        .field("a", Schema::optional_int32())
        .field("b", Schema::optional_string())
        .field("c", Schema::int32())
        .field("d", Schema::optional_int8())
        .build();
    let wrap = ProtobufOptions {
        wrapper_for_nullables: true,
        ..Default::default()
    };
    let p = plan(&s, wrap);
    assert_eq!(
        p.text,
        r#"syntax = "proto3";

import "google/protobuf/wrappers.proto";

message W {
  google.protobuf.Int32Value a = 1;
  google.protobuf.StringValue b = 2;
  int32 c = 3;
  google.protobuf.Int32Value d = 4 [(confluent.field_meta) = {
    params: [
      {
        key: "connect.type",
        value: "int8"
      }
    ]
  }];
}
"#
    );
    let v = st(&s)
        .put("a", 0i32)
        .unwrap()
        .put("c", 0i32)
        .unwrap()
        .put("d", 5i8)
        .unwrap();
    // a: an empty Int32Value (its 0 left out), b: null, c: default, d: Int32Value{5}.
    assert_eq!(
        bytes("wrapper", &s, v, wrap),
        "0a00".to_owned() + "22020805"
    );

    let opt = ProtobufOptions {
        optional_for_nullables: true,
        ..Default::default()
    };
    let p = plan(&s, opt);
    assert!(
        p.text
            .contains("\n  optional int32 a = 1;\n  optional string b = 2;\n  int32 c = 3;\n"),
        "{}",
        p.text
    );
    let v = st(&s)
        .put("a", 0i32)
        .unwrap()
        .put("b", "")
        .unwrap()
        .put("c", 0i32)
        .unwrap();
    // Proto3 optional fields keep their defaults; c does not.
    assert_eq!(bytes("optional", &s, v, opt), "08001200");
}

#[test]
fn defaults_fill_null_fields_unless_ignored() {
    let s = SchemaBuilder::struct_()
        .field(
            "n",
            SchemaBuilder::new(crate::data::Type::Int32)
                .optional()
                .default_value(Value::Int32(7))
                .build(),
        )
        .build();
    assert_eq!(
        bytes("default", &s, st(&s), ProtobufOptions::default()),
        "0807"
    );
    let ignore = ProtobufOptions {
        ignore_default_for_nullables: true,
        ..Default::default()
    };
    assert_eq!(bytes("default-ignored", &s, st(&s), ignore), "");
}

#[test]
fn tags_and_scrubbed_names() {
    let s = SchemaBuilder::struct_()
        .name("my-ns.1st record")
        .field(
            "b",
            SchemaBuilder::new(crate::data::Type::String)
                .parameter(schema::TAG_PARAM, "7")
                .build(),
        )
        .field("a-b", Schema::int32())
        .field("_x", Schema::int32())
        .build();
    let scrub = ProtobufOptions {
        scrub_invalid_names: true,
        ..Default::default()
    };
    let p = plan(&s, scrub);
    assert_eq!(
        p.text,
        "syntax = \"proto3\";\npackage my_ns;\n\nmessage x1st_record {\n  string b = 7;\n  int32 a_b = 1;\n  int32 x_x = 2;\n}\n"
    );
    assert_eq!(p.record_name, "my_ns.x1st_record");
    let v = st(&s)
        .put("b", "z")
        .unwrap()
        .put("a-b", 1i32)
        .unwrap()
        .put("_x", 2i32)
        .unwrap();
    // Fields in number order: a_b (1), x_x (2), b (7).
    assert_eq!(bytes("tags", &s, v, scrub), "080110023a017a");
    assert_eq!(schema::scrub_name("é"), "_C3_A9");
    assert_eq!(schema::scrub_name("ok_1"), "ok_1");
}

#[test]
fn refusals_name_the_field() {
    let nested_arrays = SchemaBuilder::struct_()
        .field(
            "grid",
            SchemaBuilder::array(SchemaBuilder::array(Schema::int32()).build()).build(),
        )
        .build();
    let e = ProtobufPlan::new(&nested_arrays, ProtobufOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"grid\"") && e.contains("array of arrays"),
        "{e}"
    );

    let top = Schema::string();
    let e = ProtobufPlan::new(&top, ProtobufOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("top-level string schema") && e.contains("StringConverter"),
        "{e}"
    );

    let s = SchemaBuilder::struct_()
        .field("xs", SchemaBuilder::array(Schema::optional_int32()).build())
        .build();
    let p = plan(&s, ProtobufOptions::default());
    let v = st(&s)
        .put("xs", Value::Array(vec![Value::Int32(1), Value::Null]))
        .unwrap();
    let e = p
        .write(&s, &Value::Struct(v), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"xs\"") && e.contains("null element"), "{e}");
}

#[test]
fn settings_match_the_docs() {
    let docs = include_str!("../../../../docs/kafka.md");
    let start = docs
        .find("## Schema Registry: the Protobuf converter")
        .expect("docs/kafka.md has the Protobuf section");
    let section = docs[start + 3..].split("\n## ").next().unwrap();
    let table: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
    for s in SETTINGS {
        assert!(
            table.iter().any(|l| l
                .split(" | ")
                .next()
                .unwrap()
                .contains(&format!("`{}`", s.name))),
            "{} is not in the docs' table",
            s.name
        );
    }
    for line in table {
        let cell = line.split(" | ").next().unwrap();
        for name in cell.split('`').skip(1).step_by(2) {
            assert!(
                SETTINGS.iter().any(|s| s.name == name),
                "the docs list {name}, which the converter does not take"
            );
        }
    }
}

mod registry {
    use std::collections::BTreeMap;

    use sluice_testkit::registry::TestRegistry;

    use super::*;
    use crate::convert::{converter_from_config, Converter};
    use crate::data::SchemaAndValue;

    const CLASS: &str = "io.confluent.connect.protobuf.ProtobufConverter";

    fn settings(url: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut s = BTreeMap::new();
        s.insert("schema.registry.url".to_owned(), url.to_owned());
        for (k, v) in extra {
            s.insert((*k).to_owned(), (*v).to_owned());
        }
        s
    }

    async fn convert(c: &dyn Converter, topic: &str, data: &SchemaAndValue) -> Vec<u8> {
        if let Some(wait) = c.prepare(topic, data) {
            wait.await.unwrap();
        }
        c.from_connect_data(topic, data).unwrap().expect("bytes")
    }

    #[tokio::test]
    async fn registers_the_text_once_and_writes_the_wire_format() {
        let reg = TestRegistry::start();
        let c = converter_from_config(CLASS, &settings(&reg.url(), &[]), false).unwrap();
        let schema = logical_schema();
        let p = plan(&schema, ProtobufOptions::default());
        let mut ids = Vec::new();
        for i in 0..50i32 {
            let v = st(&schema)
                .put("price", decimal_value(i128::from(i) * 101))
                .unwrap()
                .put("day", logical::date_value(i))
                .unwrap()
                .put("at", logical::time_value(i * 1000))
                .unwrap()
                .put("days", Value::Array(vec![]))
                .unwrap();
            let data = SchemaAndValue::new(schema.clone(), Value::Struct(v.clone()));
            let bytes = convert(c.as_ref(), "orders", &data).await;
            assert_eq!(bytes[0], 0, "magic byte");
            let id = u32::from_be_bytes(bytes[1..5].try_into().unwrap());
            ids.push(id);
            let mut want = Vec::new();
            p.write(&schema, &Value::Struct(v), &mut want).unwrap();
            assert_eq!(bytes[5..], want[..], "message indexes [0] then the message");
        }
        assert!(ids.iter().all(|id| *id == ids[0]));
        let stored = reg.schema(ids[0]).unwrap();
        assert_eq!(stored.schema_type, "PROTOBUF");
        assert_eq!(stored.schema, LOGICAL_TEXT);
        assert_eq!(reg.subjects(), ["orders-value"]);
        assert_eq!(reg.requests(), 1, "one registration for 50 records");
    }

    #[tokio::test]
    async fn record_name_strategy_uses_the_message_full_name() {
        let reg = TestRegistry::start();
        let s = settings(
            &reg.url(),
            &[
                ("value.subject.name.strategy", "RecordNameStrategy"),
                ("scrub.invalid.names", "true"),
            ],
        );
        let c = converter_from_config(CLASS, &s, false).unwrap();
        let schema = SchemaBuilder::struct_()
            .name("my-ns.Thing")
            .field("n", Schema::int32())
            .build();
        let v = st(&schema).put("n", 3i32).unwrap();
        let bytes = convert(
            c.as_ref(),
            "t",
            &SchemaAndValue::new(schema, Value::Struct(v)),
        )
        .await;
        assert_eq!(hex(&bytes[5..]), "000803");
        assert_eq!(reg.subjects(), ["my_ns.Thing"]);
    }

    #[test]
    fn settings_are_checked() {
        let s = settings(
            "http://localhost:8081",
            &[
                ("skip.known.types", "false"),
                ("wrapper.for.nullables", "maybe"),
                ("int.for.enums", "true"),
            ],
        );
        let e = converter_from_config(CLASS, &s, true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("key.converter.skip.known.types = false is not supported"),
            "{e}"
        );
        assert!(
            e.contains("key.converter.wrapper.for.nullables = \"maybe\""),
            "{e}"
        );
        assert!(!e.contains("int.for.enums"), "{e}");
        let e = converter_from_config(
            CLASS,
            &settings("http://localhost:8081", &[("wrapper.for.nulables", "true")]),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("did you mean value.converter.wrapper.for.nullables"),
            "{e}"
        );
    }
}
