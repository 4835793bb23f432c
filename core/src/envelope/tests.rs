use super::*;
use crate::config::{EnvelopeKind, EnvelopeSettings, FieldEncoding};
use crate::data::{SchemaBuilder, Struct};

fn settings(kind: EnvelopeKind, encoding: FieldEncoding) -> EnvelopeSettings {
    EnvelopeSettings {
        kind,
        key_encoding: encoding,
        value_encoding: encoding,
        headers_encoding: encoding,
        restore_partition: true,
        confluent_keys: true,
        confluent_headers: true,
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn bytes(b: &[u8]) -> SchemaAndValue {
    SchemaAndValue::new(Schema::optional_bytes(), Value::Bytes(b.to_vec()))
}

#[test]
fn aiven_json_base64_key_value_headers_and_iso_timestamp() {
    let env = Envelope::new(&settings(EnvelopeKind::Aiven, FieldEncoding::Base64)).unwrap();
    let record = map(vec![
        ("key", s("AAE=")),
        ("value", s("aGVsbG8=")),
        ("offset", Value::Int64(7)),
        ("timestamp", s("2024-05-01T10:00:00.123Z")),
        (
            "headers",
            Value::Array(vec![
                map(vec![("key", s("h1")), ("value", s("/wA="))]),
                map(vec![("key", s("h1")), ("value", s("eA=="))]),
            ]),
        ),
    ]);
    let r = env.restore(SchemaAndValue::schemaless(record)).unwrap();
    assert_eq!(r.key, bytes(&[0, 1]));
    assert_eq!(r.value, bytes(b"hello"));
    assert_eq!(r.timestamp, Some(1_714_557_600_123));
    assert_eq!(
        r.headers,
        [
            Header {
                key: "h1".into(),
                value: vec![0xff, 0]
            },
            Header {
                key: "h1".into(),
                value: b"x".to_vec()
            }
        ]
    );
    assert_eq!(r.partition, None);
}

#[test]
fn aiven_nulls_strings_and_objects() {
    let env = Envelope::new(&settings(EnvelopeKind::Aiven, FieldEncoding::None)).unwrap();
    let record = map(vec![
        ("key", Value::Null),
        ("value", map(vec![("a", Value::Int64(1))])),
        ("headers", Value::Null),
    ]);
    let r = env.restore(SchemaAndValue::schemaless(record)).unwrap();
    assert_eq!(r.key, SchemaAndValue::null());
    assert_eq!(r.value.schema, None);
    assert!(r.headers.is_empty() && r.timestamp.is_none());
    let r = env
        .restore(SchemaAndValue::schemaless(map(vec![
            ("key", s("k")),
            ("value", Value::Null),
        ])))
        .unwrap();
    assert_eq!(
        r.key,
        SchemaAndValue::new(Schema::optional_string(), s("k"))
    );
    assert_eq!(r.value, SchemaAndValue::null(), "a tombstone");
}

#[test]
fn aiven_avro_record_with_header_map() {
    let schema = SchemaBuilder::struct_()
        .field("key", Schema::optional_bytes())
        .field("value", Schema::optional_bytes())
        .field("timestamp", Schema::int64())
        .field(
            "headers",
            SchemaBuilder::map(Schema::string(), Schema::bytes())
                .optional()
                .build(),
        )
        .build();
    let record = Struct::new(schema)
        .unwrap()
        .put("key", Value::Bytes(vec![1]))
        .unwrap()
        .put("value", Value::Bytes(vec![2]))
        .unwrap()
        .put("timestamp", Value::Int64(42))
        .unwrap()
        .put(
            "headers",
            Value::Map(vec![(s("h"), Value::Bytes(vec![0, 9]))]),
        )
        .unwrap();
    // Avro holds bytes as bytes: the encoding only concerns strings.
    let env = Envelope::new(&settings(EnvelopeKind::Aiven, FieldEncoding::Base64)).unwrap();
    let r = env
        .restore(SchemaAndValue::schemaless(Value::Struct(record)))
        .unwrap();
    assert_eq!((r.key, r.value), (bytes(&[1]), bytes(&[2])));
    assert_eq!(r.timestamp, Some(42));
    assert_eq!(r.headers[0].value, [0, 9]);
}

#[test]
fn lenses_json_arrays_headers_metadata_and_partition() {
    let env = Envelope::new(&settings(EnvelopeKind::Lenses, FieldEncoding::Base64)).unwrap();
    let record = map(vec![
        ("key", s("AAE=")),
        ("keyIsArray", Value::Boolean(true)),
        ("value", s("not base64 !")),
        (
            "headers",
            map(vec![
                ("a", s("x")),
                ("n", Value::Int64(3)),
                ("t", Value::Boolean(true)),
            ]),
        ),
        (
            "metadata",
            map(vec![
                ("timestamp", Value::Int64(99)),
                ("topic", s("t")),
                ("partition", Value::Int64(2)),
                ("offset", Value::Int64(5)),
            ]),
        ),
    ]);
    let r = env.restore(SchemaAndValue::schemaless(record)).unwrap();
    assert_eq!(r.key, bytes(&[0, 1]));
    assert_eq!(
        r.value,
        SchemaAndValue::new(Schema::optional_string(), s("not base64 !"))
    );
    let h: Vec<(&str, &[u8])> = r
        .headers
        .iter()
        .map(|h| (h.key.as_str(), h.value.as_slice()))
        .collect();
    assert_eq!(h, [("a", &b"x"[..]), ("n", b"3"), ("t", b"true")]);
    assert_eq!((r.timestamp, r.partition), (Some(99), Some(2)));
}

#[test]
fn malformed_envelopes_say_what_is_wrong() {
    let aiven = Envelope::new(&settings(EnvelopeKind::Aiven, FieldEncoding::Base64)).unwrap();
    let err = |env: &Envelope, v: Value| {
        env.restore(SchemaAndValue::schemaless(v))
            .unwrap_err()
            .to_string()
    };
    assert!(err(&aiven, s("x")).contains("Aiven envelope is an object"));
    assert!(
        err(&aiven, map(vec![("offset", Value::Int64(1))])).contains("neither a key nor a value")
    );
    let e = err(&aiven, map(vec![("value", s("%%%"))]));
    assert!(
        e.contains("the value is not Base64") && e.contains("none"),
        "{e}"
    );
    let e = err(
        &aiven,
        map(vec![("value", Value::Null), ("timestamp", s("yesterday"))]),
    );
    assert!(e.contains("ISO-8601"), "{e}");
    let lenses = Envelope::new(&settings(EnvelopeKind::Lenses, FieldEncoding::None)).unwrap();
    let e = err(&lenses, map(vec![("value", s("v"))]));
    assert!(e.contains("no metadata.partition"), "{e}");
    let e = err(
        &lenses,
        map(vec![("headers", map(vec![("h", Value::Array(vec![]))]))]),
    );
    assert!(e.contains("header \"h\""), "{e}");
}

#[test]
fn apply_replaces_and_keeps_sluice_headers_after() {
    let mut record = SourceRecord {
        source_partition: Default::default(),
        source_offset: Default::default(),
        topic: "t".into(),
        kafka_partition: Some(1),
        key: SchemaAndValue::null(),
        value: SchemaAndValue::null(),
        timestamp: Some(5),
        headers: vec![Header::string("sluice.bucket", "b")],
        origin: None,
    };
    Restored {
        key: bytes(b"k"),
        value: bytes(b"v"),
        headers: vec![Header::string("h", "x")],
        timestamp: None,
        partition: None,
    }
    .apply(&mut record);
    assert_eq!((record.key, record.value), (bytes(b"k"), bytes(b"v")));
    assert_eq!(
        (record.timestamp, record.kafka_partition),
        (Some(5), Some(1))
    );
    let names: Vec<&str> = record.headers.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(names, ["h", "sluice.bucket"]);
}
