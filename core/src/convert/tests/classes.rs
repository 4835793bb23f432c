//! The string and byte array converters, and converters built from their class names and
//! settings.

use super::*;

#[test]
fn string_converter() {
    let conv = converter_from_config(
        "org.apache.kafka.connect.storage.StringConverter",
        &settings(&[]),
        true,
    )
    .unwrap();
    let s = |schema: Option<Schema>, v: Value| {
        conv.from_connect_data("t", &SchemaAndValue { schema, value: v })
            .unwrap()
            .map(|b| String::from_utf8(b).unwrap())
    };
    assert_eq!(s(None, "héllo".into()), Some("héllo".to_owned()));
    assert_eq!(
        s(Some(Schema::string()), "a/b.txt".into()),
        Some("a/b.txt".to_owned())
    );
    assert_eq!(s(None, Value::Null), None);
    assert_eq!(s(Some(Schema::optional_string()), Value::Null), None);
    assert_eq!(s(None, 42i32.into()), Some("42".to_owned()));
    assert_eq!(s(None, 1e7f64.into()), Some("1.0E7".to_owned()));
    assert_eq!(s(None, 0.1f32.into()), Some("0.1".to_owned()));
    assert_eq!(s(None, true.into()), Some("true".to_owned()));
    let st = SchemaBuilder::struct_()
        .field("a", Schema::int32())
        .field("b", Schema::optional_string())
        .build();
    let v = Struct::new(st.clone()).unwrap().put("a", 1i32).unwrap();
    assert_eq!(s(Some(st), v.into()), Some("Struct{a=1}".to_owned()));
    for enc in ["UTF-8", "utf8", " UTF-8 "] {
        converter_from_config("string", &settings(&[("converter.encoding", enc)]), false).unwrap();
    }
    let err = config_problems(converter_from_config(
        "string",
        &settings(&[("converter.encoding", "ISO-8859-1")]),
        true,
    ));
    assert!(
        err.contains("key.converter.converter.encoding")
            && err.contains("ISO-8859-1")
            && err.contains("only"),
        "{err}"
    );
    let err = config_problems(converter_from_config(
        "string",
        &settings(&[("encoding", "UTF-8")]),
        true,
    ));
    assert!(
        err.contains("did you mean key.converter.converter.encoding"),
        "{err}"
    );
}

/// Taking the bytes gives what copying them gives, and a failure leaves the data as it was.
#[test]
fn byte_array_converter_taking_equals_copying() {
    let conv = converter_from_config("ByteArrayConverter", &settings(&[]), false).unwrap();
    let json = converter_from_config("JsonConverter", &settings(&[]), false).unwrap();
    let cases = [
        SchemaAndValue::schemaless(Value::Bytes(vec![0, 255, 7])),
        SchemaAndValue {
            schema: Some(Schema::optional_bytes()),
            value: Value::Null,
        },
        SchemaAndValue::schemaless("text".into()),
        SchemaAndValue {
            schema: Some(Schema::string()),
            value: Value::Bytes(vec![1]),
        },
    ];
    for c in [&conv, &json] {
        for data in &cases {
            let copied = c.from_connect_data("t", data).map_err(|e| e.to_string());
            let mut taken_from = data.clone();
            let taken = c
                .from_connect_data_taking("t", &mut taken_from)
                .map_err(|e| e.to_string());
            assert_eq!(taken, copied, "{c:?} {data:?}");
            if taken.is_err() {
                assert_eq!(&taken_from, data, "a failure leaves the data");
            }
        }
    }
}

#[test]
fn byte_array_converter() {
    let conv = converter_from_config("ByteArrayConverter", &settings(&[]), false).unwrap();
    let b = |schema: Option<Schema>, v: Value| {
        conv.from_connect_data("t", &SchemaAndValue { schema, value: v })
    };
    assert_eq!(
        b(None, Value::Bytes(vec![0, 255, 7])).unwrap(),
        Some(vec![0, 255, 7])
    );
    assert_eq!(
        b(Some(Schema::bytes()), Value::Bytes(vec![])).unwrap(),
        Some(vec![])
    );
    assert_eq!(
        b(Some(Schema::optional_bytes()), Value::Null).unwrap(),
        None
    );
    assert_eq!(b(None, Value::Null).unwrap(), None);
    let err = b(None, "text".into()).unwrap_err();
    assert!(matches!(err, Error::Data(_)));
    assert!(
        err.to_string().contains("ByteArrayConverter") && err.to_string().contains("string"),
        "{err}"
    );
    let err = b(Some(Schema::string()), Value::Bytes(vec![1])).unwrap_err();
    assert!(
        err.to_string().contains("bytes schema") && err.to_string().contains("string"),
        "{err}"
    );
    let err = config_problems(converter_from_config(
        "bytes",
        &settings(&[("schemas.enable", "true")]),
        false,
    ));
    assert!(
        err.contains("value.converter.schemas.enable") && err.contains("takes no settings"),
        "{err}"
    );
}

#[test]
fn every_class_name_is_accepted() {
    for (class, short) in CLASSES {
        converter_from_config(class, &settings(&[]), false).unwrap();
        assert_eq!(converter_short_name(class), Some(*short));
    }
    for (class, short) in registry::CLASSES {
        let url = settings(&[("schema.registry.url", "http://localhost:8081")]);
        converter_from_config(class, &url, false).unwrap();
        assert_eq!(converter_short_name(class), Some(*short));
    }
    assert_eq!(converter_short_name("thrift"), None);
}

#[test]
fn unknown_class_is_a_config_error_with_a_suggestion() {
    let err = config_problems(converter_from_config(
        "JsonConvertor",
        &settings(&[]),
        false,
    ));
    assert!(
        err.contains("value.converter") && err.contains("\"JsonConvertor\""),
        "{err}"
    );
    assert!(err.contains("did you mean \"JsonConverter\""), "{err}");
    assert!(
        err.contains("org.apache.kafka.connect.converters.ByteArrayConverter"),
        "{err}"
    );
    let err = config_problems(converter_from_config(
        "org.apache.kafka.connect.storage.StringConvertr",
        &settings(&[]),
        true,
    ));
    assert!(
        err.contains("key.converter")
            && err.contains("did you mean \"org.apache.kafka.connect.storage.StringConverter\""),
        "{err}"
    );
    let err = config_problems(converter_from_config("JSON", &settings(&[]), true));
    assert!(err.contains("did you mean \"json\""), "{err}");
    let err = config_problems(converter_from_config(
        "com.example.CustomConverter",
        &settings(&[]),
        true,
    ));
    assert!(err.contains("Accepted:"), "{err}");
    assert!(
        err.contains("io.confluent.connect.avro.AvroConverter"),
        "{err}"
    );
}

#[test]
fn unknown_setting_is_a_config_error_with_the_nearest_key() {
    let err = config_problems(converter_from_config(
        "json",
        &settings(&[("schema.enable", "false")]),
        false,
    ));
    assert!(err.contains("value.converter.schema.enable"), "{err}");
    assert!(
        err.contains("did you mean value.converter.schemas.enable?"),
        "{err}"
    );
}

#[test]
fn invalid_setting_values_are_config_errors() {
    let err = config_problems(converter_from_config(
        "json",
        &settings(&[
            ("schemas.enable", "maybe"),
            ("decimal.format", "HEX"),
            ("schemas.cache.size", "lots"),
            ("replace.null.with.default", "yes"),
        ]),
        false,
    ));
    for want in [
        "value.converter.schemas.enable = \"maybe\"",
        "true or false",
        "value.converter.decimal.format = \"HEX\"",
        "BASE64 or NUMERIC",
        "value.converter.schemas.cache.size = \"lots\"",
        "value.converter.replace.null.with.default = \"yes\"",
    ] {
        assert!(err.contains(want), "{want} missing from {err}");
    }
    converter_from_config("json", &settings(&[("schemas.cache.size", " 50 ")]), false).unwrap();
}

#[test]
fn settings_table_matches_the_parser() {
    for s in converter_settings() {
        let class = s.classes[0];
        let mut pairs = vec![(s.name, s.default)];
        // The registry converters need their registry's URL.
        if class == registry::AVRO || class == registry::JSON_SCHEMA || class == registry::PROTOBUF
        {
            pairs.push(("schema.registry.url", "http://localhost:8081"));
            pairs.retain(|(k, v)| *k != "schema.registry.url" || !v.is_empty());
        }
        converter_from_config(class, &settings(&pairs), false)
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert!(!s.doc.is_empty());
    }
    let json = JsonConverter::default();
    assert_eq!(*json.config(), JsonConverterConfig::default());
}
