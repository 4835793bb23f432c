//! Kafka Connect's single message transforms end to end: the real `sluice` binary reads jsonl
//! objects from a folder, runs a chain of transforms with predicates, and a real Kafka-protocol
//! broker gets the reshaped records; a failing transform under `errors.tolerance=all` sends its
//! record to the dead letter queue with headers naming the transform; `sluice validate` reports a
//! bad transform configuration.

mod support;

use std::time::Duration;

use support::*;

const TOPIC: &str = "smt";
const ROUTED: &str = "smt-shaped";
const DLQ: &str = "smt-dlq";

type Setup = LocalPipeline;

fn setup(connector_extra: &[(&str, &str)]) -> Setup {
    LocalPipeline::start(
        BrokerKind::Tansu,
        "smt",
        &[TOPIC, ROUTED, DLQ],
        connector_extra,
        &[],
    )
}

fn run_backfill(s: &Setup) -> String {
    let out = backfill(&s.worker, &s.connector);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_chain_of_transforms_with_predicates_reshapes_every_record() {
    let s = setup(&[
        ("transforms", "dropNulls,insert,mask,route"),
        (
            "transforms.dropNulls.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.dropNulls.predicate", "isTombstone"),
        (
            "transforms.insert.type",
            "org.apache.kafka.connect.transforms.InsertField$Value",
        ),
        ("transforms.insert.static.field", "origin"),
        ("transforms.insert.static.value", "sluice"),
        ("transforms.insert.topic.field", "from_topic"),
        (
            "transforms.mask.type",
            "org.apache.kafka.connect.transforms.MaskField$Value",
        ),
        ("transforms.mask.fields", "card"),
        (
            "transforms.route.type",
            "org.apache.kafka.connect.transforms.RegexRouter",
        ),
        ("transforms.route.regex", "(s.t)"),
        ("transforms.route.replacement", "$1-shaped"),
        ("transforms.route.predicate", "isSmt"),
        ("predicates", "isTombstone,isSmt"),
        (
            "predicates.isTombstone.type",
            "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
        ),
        (
            "predicates.isSmt.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.isSmt.pattern", "smt"),
    ]);
    // 30 lines; every tenth is a JSON null (a tombstone), which the chain drops.
    let body: String = (0..30)
        .map(|i| {
            if i % 10 == 9 {
                "null\n".to_owned()
            } else {
                format!("{{\"id\":{i},\"card\":\"4111-{i:04}\",\"note\":\"n{i}\"}}\n")
            }
        })
        .collect();
    std::fs::write(s.data.join("orders.jsonl"), body).unwrap();
    run_backfill(&s);

    let got = consume_all(
        &s.broker.bootstrap(),
        &[TOPIC, ROUTED],
        27,
        Duration::from_secs(20),
    );
    assert_eq!(got.len(), 27, "27 records, the 3 nulls dropped: {got:#?}");
    let mut indexes: Vec<u64> = Vec::new();
    for g in &got {
        assert_eq!(g.topic, ROUTED, "every record routed");
        assert_eq!(g.object(), "orders.jsonl");
        let i = g.index();
        assert_ne!(i % 10, 9, "a null line came through: {g:?}");
        assert_eq!(
            g.value.as_deref(),
            Some(
                format!(
                    r#"{{"id":{i},"card":"","note":"n{i}","from_topic":"smt","origin":"sluice"}}"#
                )
                .as_str()
            ),
            "record {i}"
        );
        indexes.push(i);
    }
    indexes.sort_unstable();
    let expected: Vec<u64> = (0..30).filter(|i| i % 10 != 9).collect();
    assert_eq!(indexes, expected, "each kept record once");

    // Everything, dropped records included, was committed: a second backfill sends nothing.
    let stdout = run_backfill(&s);
    let again = consume_all(
        &s.broker.bootstrap(),
        &[TOPIC, ROUTED],
        27,
        Duration::from_secs(5),
    );
    assert_eq!(again.len(), 27, "nothing resent: {stdout}");
}

#[test]
fn transforms_reshape_structs_with_their_schemas() {
    // With an inferred schema every record is a struct: Cast, ReplaceField and InsertField
    // change its schema, and the JSON converter writes the struct's fields in schema order.
    let s = setup(&[
        ("transformer.json.infer.schema", "true"),
        ("transforms", "cast,rename,insert"),
        (
            "transforms.cast.type",
            "org.apache.kafka.connect.transforms.Cast$Value",
        ),
        ("transforms.cast.spec", "id:string"),
        (
            "transforms.rename.type",
            "org.apache.kafka.connect.transforms.ReplaceField$Value",
        ),
        ("transforms.rename.exclude", "card"),
        ("transforms.rename.renames", "id:record_id"),
        (
            "transforms.insert.type",
            "org.apache.kafka.connect.transforms.InsertField$Value",
        ),
        ("transforms.insert.static.field", "origin"),
        ("transforms.insert.static.value", "sluice"),
    ]);
    let body: String = (0..10)
        .map(|i| format!("{{\"id\":{i},\"card\":\"4111-{i:04}\",\"note\":\"n{i}\"}}\n"))
        .collect();
    std::fs::write(s.data.join("structs.jsonl"), body).unwrap();
    run_backfill(&s);
    let got = consume_all(&s.broker.bootstrap(), &[TOPIC], 10, Duration::from_secs(20));
    assert_eq!(got.len(), 10, "{got:#?}");
    for g in &got {
        let i = g.index();
        assert_eq!(
            g.value.as_deref(),
            Some(format!(r#"{{"record_id":"{i}","note":"n{i}","origin":"sluice"}}"#).as_str()),
            "record {i}"
        );
    }
}

#[test]
fn a_failing_transform_sends_its_record_to_the_dead_letter_queue_naming_the_transform() {
    let s = setup(&[
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", DLQ),
        ("transforms", "pickId"),
        (
            "transforms.pickId.type",
            "org.apache.kafka.connect.transforms.ExtractField$Value",
        ),
        ("transforms.pickId.field", "id"),
    ]);
    let body: String = (0..10)
        .map(|i| {
            if i == 4 {
                "\"just text\"\n".to_owned()
            } else {
                format!("{{\"id\":{i}}}\n")
            }
        })
        .collect();
    std::fs::write(s.data.join("ids.jsonl"), body).unwrap();
    let stdout = run_backfill(&s);
    assert!(stdout.contains("1 skipped by errors.tolerance"), "{stdout}");

    let got = consume_all(&s.broker.bootstrap(), &[TOPIC], 9, Duration::from_secs(20));
    let mut values: Vec<String> = got
        .iter()
        .map(|g| g.value.clone().unwrap_or_default())
        .collect();
    values.sort();
    let mut expected: Vec<String> = (0..10).filter(|i| *i != 4).map(|i| i.to_string()).collect();
    expected.sort();
    assert_eq!(values, expected);

    let dead = consume_all(&s.broker.bootstrap(), &[DLQ], 1, Duration::from_secs(20));
    assert_eq!(dead.len(), 1, "{dead:#?}");
    let h = &dead[0].headers;
    assert_eq!(h["__connect.errors.stage"], "TRANSFORMATION");
    assert_eq!(h["__connect.errors.object"], "ids.jsonl");
    assert_eq!(h["__connect.errors.record.index"], "4");
    assert_eq!(h["__connect.errors.connector.name"], "smt");
    let message = &h["__connect.errors.exception.message"];
    assert!(
        message.contains("transform \"pickId\" (ExtractField$Value) failed")
            && message.contains("found: string"),
        "{message}"
    );
    assert_eq!(dead[0].key.as_deref(), Some("ids.jsonl"));
}

#[test]
fn validate_lists_every_transform_problem() {
    let dir = tempfile::tempdir().unwrap();
    let connector = dir.path().join("c.properties");
    write_props(
        &connector,
        &[
            ("name", "bad"),
            ("connector.class", "local"),
            ("local.path", dir.path().to_str().unwrap()),
            ("topic", "t"),
            ("input.format", "jsonl"),
            ("transforms", "a,b"),
            (
                "transforms.a.type",
                "org.apache.kafka.connect.transforms.InsertField$Valu",
            ),
            (
                "transforms.b.type",
                "org.apache.kafka.connect.transforms.MaskField$Value",
            ),
            ("transforms.b.field", "x"),
            ("transforms.b.predicate", "p"),
        ],
    );
    let out = sluice().arg("validate").arg(&connector).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    for expected in [
        "transforms.a.type: \"org.apache.kafka.connect.transforms.InsertField$Valu\" is not a supported transform; did you mean \"org.apache.kafka.connect.transforms.InsertField$Value\"?",
        "transforms.b.fields: required",
        "transforms.b.field: unknown option; did you mean \"fields\"?",
        "transforms.b.predicate: \"p\" is not a defined predicate",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
