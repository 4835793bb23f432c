//! The registry converters against the test Schema Registry (sluice-testkit).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sluice_testkit::registry::TestRegistry;

use crate::convert::{converter_from_config, Converter};
use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::error::Error;

fn converter(class: &str, url: &str, extra: &[(&str, &str)]) -> Arc<dyn Converter> {
    let mut s: BTreeMap<String, String> = BTreeMap::new();
    s.insert("schema.registry.url".into(), url.into());
    for (k, v) in extra {
        s.insert((*k).into(), (*v).into());
    }
    converter_from_config(class, &s, false).unwrap()
}

fn order_schema() -> Schema {
    SchemaBuilder::struct_()
        .name("com.example.Order")
        .field("id", Schema::int64())
        .field("note", Schema::optional_string())
        .build()
}

fn order(schema: &Schema, id: i64) -> SchemaAndValue {
    let v = Struct::new(schema.clone())
        .unwrap()
        .put("id", id)
        .unwrap()
        .put("note", format!("n{id}"))
        .unwrap();
    SchemaAndValue::new(schema.clone(), Value::Struct(v))
}

/// Awaits `prepare` as the driver does, then converts.
async fn convert(c: &dyn Converter, topic: &str, data: &SchemaAndValue) -> crate::Result<Vec<u8>> {
    if let Some(wait) = c.prepare(topic, data) {
        wait.await?;
    }
    Ok(c.from_connect_data(topic, data)?.expect("bytes"))
}

fn id_of(bytes: &[u8]) -> u32 {
    assert_eq!(bytes[0], 0, "magic byte");
    u32::from_be_bytes(bytes[1..5].try_into().unwrap())
}

#[tokio::test]
async fn avro_registers_once_and_writes_the_wire_format() {
    let reg = TestRegistry::start();
    let c = converter("io.confluent.connect.avro.AvroConverter", &reg.url(), &[]);
    let schema = order_schema();
    let mut ids = Vec::new();
    for i in 0..200 {
        // A new but equal schema object every other record: found by structure, not pointer.
        let s = if i % 2 == 0 {
            schema.clone()
        } else {
            order_schema()
        };
        let bytes = convert(c.as_ref(), "orders", &order(&s, i)).await.unwrap();
        ids.push(id_of(&bytes));
        let stored = reg.schema(id_of(&bytes)).unwrap();
        let avro = apache_avro::Schema::parse_str(&stored.schema).unwrap();
        let v = apache_avro::reader::datum::GenericDatumReader::builder(&avro)
            .build()
            .unwrap()
            .read_value(&mut &bytes[5..])
            .unwrap();
        let apache_avro::types::Value::Record(fields) = v else {
            panic!("{v:?}")
        };
        assert_eq!(fields[0].1, apache_avro::types::Value::Long(i));
    }
    assert!(ids.iter().all(|id| *id == ids[0]));
    assert_eq!(reg.subjects(), vec!["orders-value".to_owned()]);
    assert_eq!(reg.requests(), 1, "one registration for 200 records");
    // A null value is a tombstone, and needs no schema.
    assert_eq!(
        c.from_connect_data("orders", &SchemaAndValue::new(order_schema(), Value::Null))
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn subject_name_strategies() {
    let reg = TestRegistry::start();
    for (strategy, subject) in [
        ("RecordNameStrategy", "com.example.Order"),
        (
            "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
            "orders-com.example.Order",
        ),
    ] {
        let c = converter(
            "AvroConverter",
            &reg.url(),
            &[("value.subject.name.strategy", strategy)],
        );
        convert(c.as_ref(), "orders", &order(&order_schema(), 1))
            .await
            .unwrap();
        assert!(
            reg.subjects().contains(&subject.to_owned()),
            "{:?}",
            reg.subjects()
        );
    }
}

#[tokio::test]
async fn an_incompatible_schema_names_the_subject_and_the_registry_message() {
    let reg = TestRegistry::start();
    reg.register(
        "orders-value",
        "AVRO",
        r#"{"type":"record","name":"Order","namespace":"com.example","fields":[{"name":"id","type":"string"}]}"#,
    )
    .unwrap();
    let c = converter("AvroConverter", &reg.url(), &[]);
    let err = convert(c.as_ref(), "orders", &order(&order_schema(), 1))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Data(_)), "{err:?}");
    assert!(text.contains("\"orders-value\""), "{text}");
    assert!(text.contains("HTTP 409"), "{text}");
    assert!(
        text.contains("Schema being registered is incompatible"),
        "{text}"
    );
}

#[tokio::test]
async fn lookup_only_fails_for_an_unknown_subject_and_finds_a_registered_schema() {
    let reg = TestRegistry::start();
    let c = converter(
        "AvroConverter",
        &reg.url(),
        &[("auto.register.schemas", "false")],
    );
    let data = order(&order_schema(), 1);
    let err = convert(c.as_ref(), "orders", &data).await.unwrap_err();
    assert!(err.to_string().contains("40401"), "{err}");
    // Registered by someone else: found by lookup.
    let writer = converter("AvroConverter", &reg.url(), &[]);
    let first = convert(writer.as_ref(), "orders", &data).await.unwrap();
    let c = converter(
        "AvroConverter",
        &reg.url(),
        &[("auto.register.schemas", "false")],
    );
    assert_eq!(convert(c.as_ref(), "orders", &data).await.unwrap(), first);
}

#[tokio::test]
async fn use_latest_version_writes_with_the_subjects_latest_schema() {
    let reg = TestRegistry::start();
    // The latest version has one more field, with a default: it reads our data.
    let latest = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
        {"name":"id","type":"long"},
        {"name":"note","type":["null","string"],"default":null},
        {"name":"extra","type":"int","default":7}]}"#;
    let id = reg.register("orders-value", "AVRO", latest).unwrap();
    let c = converter(
        "AvroConverter",
        &reg.url(),
        &[
            ("auto.register.schemas", "false"),
            ("use.latest.version", "true"),
        ],
    );
    let bytes = convert(c.as_ref(), "orders", &order(&order_schema(), 5))
        .await
        .unwrap();
    assert_eq!(id_of(&bytes), id);
    let avro = apache_avro::Schema::parse_str(latest).unwrap();
    let v = apache_avro::reader::datum::GenericDatumReader::builder(&avro)
        .build()
        .unwrap()
        .read_value(&mut &bytes[5..])
        .unwrap();
    let apache_avro::types::Value::Record(fields) = v else {
        panic!("{v:?}")
    };
    assert_eq!(fields[2].1, apache_avro::types::Value::Int(7));
}

#[tokio::test]
async fn an_outage_is_waited_out_and_urls_fail_over() {
    let mut reg = TestRegistry::start();
    let url = reg.url();
    reg.stop();
    // A dead URL first: the live one answers once the registry is back.
    let dead = format!("http://127.0.0.1:{}", sluice_testkit::free_port());
    let c = converter("AvroConverter", &format!("{dead},{url}"), &[]);
    let restart = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(1500));
        reg.restart();
        reg
    });
    let started = std::time::Instant::now();
    let bytes = convert(c.as_ref(), "orders", &order(&order_schema(), 1))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1400));
    let reg = restart.await.unwrap();
    assert_eq!(reg.versions("orders-value"), vec![id_of(&bytes)]);
}

#[tokio::test]
async fn json_schema_writes_json_after_the_header() {
    let reg = TestRegistry::start();
    let c = converter(
        "io.confluent.connect.json.JsonSchemaConverter",
        &reg.url(),
        &[],
    );
    let bytes = convert(c.as_ref(), "orders", &order(&order_schema(), 3))
        .await
        .unwrap();
    assert_eq!(&bytes[5..], br#"{"id":3,"note":"n3"}"#);
    let stored = reg.schema(id_of(&bytes)).unwrap();
    assert_eq!(stored.schema_type, "JSON");
    let s: serde_json::Value = serde_json::from_str(&stored.schema).unwrap();
    assert_eq!(s["title"], "com.example.Order");
}

#[test]
fn settings_are_checked_and_secrets_never_shown() {
    let problems = |pairs: &[(&str, &str)]| {
        let s: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        match converter_from_config("AvroConverter", &s, false) {
            Err(Error::Config { problems, .. }) => problems.join("\n"),
            Ok(_) => String::new(),
            Err(e) => panic!("{e}"),
        }
    };
    assert!(problems(&[]).contains("value.converter.schema.registry.url: required"));
    let text = problems(&[
        ("schema.registry.url", "http://h:8081"),
        ("basic.auth.credentials.source", "USER_INFO"),
        ("basic.auth.user.info", "no-colon-SECRET"),
    ]);
    assert!(text.contains("expected user:password"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
    let text = problems(&[
        ("schema.registry.url", "http://h:8081"),
        ("value.subject.name.strategy", "com.acme.Custom"),
        ("auto.register.schema", "true"),
    ]);
    assert!(text.contains("custom strategy classes"), "{text}");
    assert!(
        text.contains("did you mean value.converter.auto.register.schemas"),
        "{text}"
    );
    assert!(problems(&[
        ("schema.registry.url", "https://k:s@h1:8081,https://h2:8081"),
        ("bearer.auth.credentials.source", "STATIC_TOKEN"),
        ("bearer.auth.token", "tok"),
    ])
    .is_empty());
    let c = converter(
        "AvroConverter",
        "https://key:pw-SECRET@h:8081",
        &[("bearer.auth.token", "tok-SECRET")],
    );
    assert!(!format!("{c:?}").contains("SECRET"), "{c:?}");
    assert!(super::is_secret_setting("basic.auth.user.info"));
    assert!(super::is_secret_setting(
        "schema.registry.ssl.truststore.password"
    ));
    assert!(!super::is_secret_setting("schema.registry.url"));
}
