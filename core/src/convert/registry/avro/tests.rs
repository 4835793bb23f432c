use super::encode::{java_hash_map_order, java_string_hash};
use super::*;
use crate::data::{logical, SchemaBuilder, Struct};

fn plan(s: &Schema) -> AvroPlan {
    AvroPlan::new(s, AvroOptions::default()).unwrap()
}

fn bytes(s: &Schema, v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    plan(s).write(s, v, &mut out).unwrap();
    out
}

/// Our bytes read back by apache-avro with the schema we register.
fn read_back(s: &Schema, v: &Value) -> apache_avro::types::Value {
    let p = plan(s);
    let avro = apache_avro::Schema::parse_str(&p.text).unwrap();
    let mut out = Vec::new();
    p.write(s, v, &mut out).unwrap();
    apache_avro::reader::datum::GenericDatumReader::builder(&avro)
        .build()
        .unwrap()
        .read_value(&mut out.as_slice())
        .unwrap()
}

#[test]
fn unnamed_structs_are_connect_defaults_with_optional_unions() {
    let inner = SchemaBuilder::struct_()
        .field("x", Schema::int16())
        .optional()
        .build();
    let s = SchemaBuilder::struct_()
        .field("id", Schema::int64())
        .field("name", Schema::optional_string())
        .field("inner", inner)
        .build();
    let p = plan(&s);
    let j: Json = serde_json::from_str(&p.text).unwrap();
    assert_eq!(p.record_name, "io.confluent.connect.avro.ConnectDefault");
    assert_eq!(
        j,
        json!({"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro",
        "fields":[
          {"name":"id","type":"long"},
          {"name":"name","type":["null","string"],"default":null},
          {"name":"inner","type":["null",{"type":"record","name":"ConnectDefault2",
             "fields":[{"name":"x","type":{"type":"int","connect.type":"int16"}}]}],
           "default":null}
        ]})
    );
    apache_avro::Schema::parse_str(&p.text).unwrap();
}

#[test]
fn logical_types_and_metadata_follow_avro_data() {
    let s = SchemaBuilder::struct_()
        .name("com.example.Order")
        .version(3)
        .doc("an order")
        .field("amount", logical::decimal(2).build())
        .field("day", logical::date().optional().build())
        .field("at", logical::timestamp().build())
        .field("t", logical::time().build())
        .field(
            "qty",
            SchemaBuilder::new(Type::Int32)
                .default_value(Value::Int32(1))
                .build(),
        )
        .build();
    let j: Json = serde_json::from_str(&plan(&s).text).unwrap();
    assert_eq!(j["name"], "Order");
    assert_eq!(j["namespace"], "com.example");
    assert_eq!(j["connect.version"], 3);
    assert_eq!(j["connect.doc"], "an order");
    assert_eq!(j["connect.name"], "com.example.Order");
    let f = &j["fields"];
    assert_eq!(
        f[0]["type"],
        json!({"type":"bytes","scale":2,"precision":64,"connect.version":1,
                   "connect.parameters":{"scale":"2"},
                   "connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"})
    );
    assert_eq!(f[1]["type"][1]["logicalType"], "date");
    assert_eq!(f[2]["type"]["logicalType"], "timestamp-millis");
    assert_eq!(f[3]["type"]["logicalType"], "time-millis");
    assert_eq!(f[4]["default"], 1);
    assert_eq!(f[4]["type"], json!({"type":"int","connect.default":1}));
}

#[test]
fn values_read_back_with_apache_avro() {
    use apache_avro::types::Value as A;
    let s = SchemaBuilder::struct_()
        .name("ns.R")
        .field("i", Schema::int32())
        .field("s", Schema::optional_string())
        .field("b", Schema::bytes())
        .field("f", Schema::float32())
        .field("l", SchemaBuilder::array(Schema::int64()).build())
        .field(
            "m",
            SchemaBuilder::map(Schema::string(), Schema::boolean()).build(),
        )
        .field(
            "n",
            SchemaBuilder::map(Schema::int32(), Schema::string()).build(),
        )
        .field("d", logical::decimal(2).build())
        .build();
    let v = Value::Struct(
        Struct::new(s.clone())
            .unwrap()
            .put("i", -5i32)
            .unwrap()
            .put("s", Value::Null)
            .unwrap()
            .put("b", Value::Bytes(vec![1, 2]))
            .unwrap()
            .put("f", 1.5f32)
            .unwrap()
            .put("l", Value::Array(vec![Value::Int64(1), Value::Int64(300)]))
            .unwrap()
            .put(
                "m",
                Value::Map(vec![(Value::String("k".into()), Value::Boolean(true))]),
            )
            .unwrap()
            .put(
                "n",
                Value::Map(vec![(Value::Int32(7), Value::String("seven".into()))]),
            )
            .unwrap()
            .put("d", logical::decimal_value(-12345))
            .unwrap(),
    );
    let A::Record(fields) = read_back(&s, &v) else {
        panic!("a record")
    };
    assert_eq!(fields[0].1, A::Int(-5));
    assert_eq!(fields[1].1, A::Union(0, Box::new(A::Null)));
    assert_eq!(fields[2].1, A::Bytes(vec![1, 2]));
    assert_eq!(fields[3].1, A::Float(1.5));
    assert_eq!(fields[4].1, A::Array(vec![A::Long(1), A::Long(300)]));
    assert_eq!(
        fields[5].1,
        A::Map([("k".to_owned(), A::Boolean(true))].into_iter().collect())
    );
    assert_eq!(
        fields[6].1,
        A::Array(vec![A::Record(vec![
            ("key".into(), A::Int(7)),
            ("value".into(), A::String("seven".into()))
        ])])
    );
    let A::Decimal(d) = &fields[7].1 else {
        panic!("{:?}", fields[7].1)
    };
    let raw: Vec<u8> = d.try_into().unwrap();
    assert_eq!(logical::decimal_unscaled(&raw), Some(-12345));
}

#[test]
fn avro_docs_come_back_from_their_parameters() {
    let s = SchemaBuilder::struct_()
        .name("ns.Doc")
        .parameter("io.confluent.connect.avro.record.doc", "a record")
        .parameter("io.confluent.connect.avro.field.doc.a", "the a")
        .field("a", Schema::int64())
        .build();
    let j: Json = serde_json::from_str(&plan(&s).text).unwrap();
    assert_eq!(j["doc"], "a record");
    assert_eq!(j["fields"][0]["doc"], "the a");
    assert_eq!(
        j["connect.parameters"]["io.confluent.connect.avro.record.doc"],
        "a record"
    );
}

#[test]
fn a_struct_used_twice_is_defined_once() {
    let point = SchemaBuilder::struct_()
        .name("ns.Point")
        .field("x", Schema::int32())
        .build();
    let s = SchemaBuilder::struct_()
        .name("ns.Line")
        .field("a", point.clone())
        .field("b", point)
        .build();
    let j: Json = serde_json::from_str(&plan(&s).text).unwrap();
    assert_eq!(j["fields"][1]["type"], "Point");
    apache_avro::Schema::parse_str(&plan(&s).text).unwrap();
}

#[test]
fn top_level_bytes_are_raw_and_optional_primitives_are_unions() {
    assert_eq!(
        bytes(&Schema::bytes(), &Value::Bytes(vec![9, 8])),
        vec![9, 8]
    );
    assert_eq!(
        plan(&Schema::optional_string()).text,
        r#"["null","string"]"#
    );
    assert_eq!(
        bytes(&Schema::optional_string(), &Value::String("a".into())),
        vec![2, 2, b'a']
    );
}

#[test]
fn maps_iterate_in_java_hash_map_order() {
    // Java: new HashMap<>() with "b", "a", "c" put in that order iterates a, b, c
    // (hashes 98, 97, 99 land in buckets 2, 1, 3).
    let entries: Vec<(Value, Value)> = ["b", "a", "c"]
        .iter()
        .map(|k| (Value::String((*k).into()), Value::Null))
        .collect();
    let keys: Vec<&str> = java_hash_map_order(&entries)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(java_string_hash("hello"), 99162322);
    assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
}
