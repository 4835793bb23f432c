//! The complete example of docs/testing-your-pipeline.md (a test checks that the doc shows
//! this file as it is).

use std::time::Duration;

use sluice_api::config::Settings;
use sluice_testkit::s3::S3Store;
use sluice_testkit::{consume_all, Broker, BrokerKind};

fn settings(pairs: Vec<(String, String)>) -> Settings {
    pairs.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_land_in_kafka_once_each() {
    // An S3-compatible store (moto here; yours with SLUICE_TESTKIT_S3_URL) and a real broker.
    let store = S3Store::start().await.unwrap();
    let broker = Broker::start(BrokerKind::Tansu);
    broker.create_topic("orders");

    // Fixtures: two objects of JSON lines.
    store
        .put("orders/day-1.jsonl", "{\"id\":1}\n{\"id\":2}\n")
        .await
        .unwrap();
    store
        .put("orders/day-2.jsonl", "{\"id\":3}\n")
        .await
        .unwrap();

    // The worker and the connector, as in their .properties files.
    let offsets = tempfile::tempdir().unwrap();
    let worker = settings(vec![
        ("bootstrap.servers".into(), broker.bootstrap()),
        (
            "offset.storage.file.filename".into(),
            offsets.path().join("offsets.jsonl").display().to_string(),
        ),
        ("value.converter.schemas.enable".into(), "false".into()),
    ]);
    let mut connector = store.connector_settings();
    connector.extend([
        ("name".into(), "orders".into()),
        ("topic".into(), "orders".into()),
        ("input.format".into(), "jsonl".into()),
    ]);

    // One pass over the bucket, in this process.
    let summary = sluice_api::run::backfill(&worker, &settings(connector))
        .await
        .unwrap();
    assert!(summary.ok(), "{:?}", summary.tasks);
    assert_eq!(summary.metrics.records_acked, 3);

    // Read everything back and check it: each order once.
    let got = consume_all(&broker.bootstrap(), &["orders"], 3, Duration::from_secs(20));
    let mut values: Vec<String> = got.into_iter().filter_map(|g| g.value).collect();
    values.sort();
    assert_eq!(values, [r#"{"id":1}"#, r#"{"id":2}"#, r#"{"id":3}"#]);
}
