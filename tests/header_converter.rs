//! `header.converter` end to end: the real `sluice` binary writes the record headers
//! (`sluice.*`) with Kafka Connect's `SimpleHeaderConverter` (the default), `StringConverter` and
//! `JsonConverter` (the worker's choice, and a connector's override); the records are consumed
//! back and their header bytes compared.

mod support;

use std::time::Duration;

use support::*;

/// Runs a backfill of one 3-record object with `connector` / `worker` settings; returns the
/// consumed records.
fn headers_with(name: &str, connector: &[(&str, &str)], worker: &[(&str, &str)]) -> Vec<Got> {
    let topic = format!("h-{name}");
    let p = LocalPipeline::start(BrokerKind::Mock, name, &[&topic], connector, worker);
    std::fs::write(p.data.join("a.jsonl"), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n").unwrap();
    let out = backfill(&p.worker, &p.connector);
    assert!(out.status.success(), "{}", output_text(&out));
    let got = consume_all(&p.broker.bootstrap(), &[&topic], 3, Duration::from_secs(20));
    assert_eq!(got.len(), 3, "{got:#?}");
    got
}

#[test]
fn simple_string_and_json_header_converters() {
    for got in [
        headers_with("simple", &[], &[]),
        headers_with(
            "string",
            &[],
            &[(
                "header.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            )],
        ),
    ] {
        for g in &got {
            assert_eq!(g.headers["sluice.object.key"], "a.jsonl");
            let index: u64 = g.headers["sluice.record.index"].parse().unwrap();
            assert!(index < 3);
        }
    }
    let got = headers_with(
        "json",
        &[],
        &[(
            "header.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        )],
    );
    for g in &got {
        assert_eq!(
            g.headers["sluice.object.key"],
            r#"{"schema":{"type":"string","optional":false},"payload":"a.jsonl"}"#
        );
    }
    let mut indexes: Vec<String> = got
        .iter()
        .map(|g| g.headers["sluice.record.index"].clone())
        .collect();
    indexes.sort();
    assert_eq!(
        indexes,
        (0..3)
            .map(|i| format!(
                r#"{{"schema":{{"type":"string","optional":false}},"payload":"{i}"}}"#
            ))
            .collect::<Vec<_>>()
    );
    // A connector overrides the worker's choice, with its own settings.
    let got = headers_with(
        "override",
        &[
            ("header.converter", "JsonConverter"),
            ("header.converter.schemas.enable", "false"),
        ],
        &[(
            "header.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        )],
    );
    for g in &got {
        assert_eq!(g.headers["sluice.object.key"], "\"a.jsonl\"");
    }
}
