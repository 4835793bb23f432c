//! Delivery guarantees end to end: the dead letter queue, records Kafka rejects, crash and
//! outage recovery — through the real `sluice` binary and a real Kafka-protocol broker, checked
//! by consuming and counting.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use support::*;

const TOPIC: &str = "ingest";
const DLQ: &str = "ingest-dlq";

type Env = LocalPipeline;

fn env(kind: BrokerKind, connector: &[(&str, &str)], worker: &[(&str, &str)]) -> Env {
    LocalPipeline::start(kind, "guarantees", &[TOPIC, DLQ], connector, worker)
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn hostile_objects_go_to_the_dead_letter_queue_and_good_ones_all_arrive() {
    let e = env(
        BrokerKind::Tansu,
        &[
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", DLQ),
            ("transformer.max.record.size", "4096"),
        ],
        &[],
    );
    // Good objects.
    let good = write_jsonl(&e.data, 5, 200);
    // Hostile ones, each with one bad record among good lines.
    let line = |o: usize, r: usize| jsonl_line(o, r) + "\n";
    let mut not_json = line(50, 0).into_bytes();
    not_json.extend_from_slice(b"{\"truncated\": \n");
    not_json.extend_from_slice(line(50, 2).as_bytes());
    write(&e.data.join("bad-not-json.jsonl"), &not_json);
    let mut bad_utf8 = line(51, 0).into_bytes();
    bad_utf8.extend_from_slice(b"{\"s\":\"\xff\xfe\"}\n");
    bad_utf8.extend_from_slice(line(51, 2).as_bytes());
    write(&e.data.join("bad-utf8.jsonl"), &bad_utf8);
    let mut huge = line(52, 0).into_bytes();
    huge.extend_from_slice(format!("{{\"big\":\"{}\"}}\n", "y".repeat(10_000)).as_bytes());
    huge.extend_from_slice(line(52, 2).as_bytes());
    write(&e.data.join("bad-huge-line.jsonl"), &huge);
    write(&e.data.join("empty.jsonl"), b"");
    // A truncated last line is still a record (no newline needed) but here it is cut JSON.
    let mut cut = line(53, 0).into_bytes();
    cut.extend_from_slice(b"{\"cut\":");
    write(&e.data.join("bad-truncated.jsonl"), &cut);

    let out = backfill(&e.worker, &e.connector);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("4 skipped by errors.tolerance"), "{stdout}");

    let good_count = 5 * 200 + 2 + 2 + 2 + 1;
    let got = consume_all(
        &e.broker.bootstrap(),
        &[TOPIC],
        good_count,
        Duration::from_secs(20),
    );
    assert_eq!(got.len(), good_count, "every good record delivered once");
    for k in &good {
        assert_eq!(got.iter().filter(|g| g.object() == k).count(), 200);
    }
    let dead = consume_all(&e.broker.bootstrap(), &[DLQ], 4, Duration::from_secs(20));
    assert_eq!(dead.len(), 4, "{dead:#?}");
    let by_object: HashMap<&str, &Got> = dead
        .iter()
        .map(|d| (d.key.as_deref().unwrap(), d))
        .collect();
    let expect = [
        (
            "bad-not-json.jsonl",
            "1",
            Some("{\"truncated\": "),
            "InvalidJson",
        ),
        ("bad-utf8.jsonl", "1", None, "InvalidUtf8"),
        ("bad-huge-line.jsonl", "1", None, "RecordTooLarge"),
        ("bad-truncated.jsonl", "1", Some("{\"cut\":"), "InvalidJson"),
    ];
    for (object, index, raw, class) in expect {
        let d = by_object
            .get(object)
            .unwrap_or_else(|| panic!("no dead letter for {object}: {dead:#?}"));
        let h = &d.headers;
        assert_eq!(h["__connect.errors.connector.name"], "guarantees");
        assert_eq!(h["__connect.errors.task.id"], "guarantees-0");
        assert_eq!(h["__connect.errors.stage"], "TASK_POLL");
        assert_eq!(h["__connect.errors.bucket"], e.data.to_str().unwrap());
        assert_eq!(h["__connect.errors.object"], object);
        assert_eq!(h["__connect.errors.record.index"], index);
        assert!(h["__connect.errors.byte.offset"].parse::<u64>().unwrap() > 0);
        assert!(
            h["__connect.errors.exception.class.name"].contains(class),
            "{h:?}"
        );
        assert!(
            h["__connect.errors.exception.message"].contains(object),
            "{h:?}"
        );
        if let Some(raw) = raw {
            assert_eq!(d.value.as_deref(), Some(raw));
        }
    }
    // Every hostile object is finished: nothing is retried forever.
    let offsets = std::fs::read_to_string(e.dir.path().join("offsets.jsonl")).unwrap();
    assert_eq!(
        offsets.matches("\"finished\":true").count(),
        5 + 4,
        "{offsets}"
    );
}

fn too_large_fixture(e: &Env) {
    let mut body = String::new();
    for r in 0..3 {
        body.push_str(&(jsonl_line(0, r) + "\n"));
    }
    body.push_str(&format!("{{\"big\":\"{}\"}}\n", "z".repeat(5000)));
    body.push_str(&(jsonl_line(0, 4) + "\n"));
    std::fs::write(e.data.join("obj-000.jsonl"), body).unwrap();
}

#[test]
fn a_record_too_large_for_kafka_stops_the_task_under_tolerance_none() {
    let e = env(
        BrokerKind::Tansu,
        &[],
        &[("producer.message.max.bytes", "2000")],
    );
    too_large_fixture(&e);
    let out = backfill(&e.worker, &e.connector);
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("object \"obj-000.jsonl\" record 3"), "{text}");
    assert!(
        text.contains("message.max.bytes"),
        "the error says what to do: {text}"
    );
    let got = consume_all(&e.broker.bootstrap(), &[TOPIC], 3, Duration::from_secs(10));
    assert_eq!(got.len(), 3, "records before the large one delivered");
}

#[test]
fn a_record_too_large_for_kafka_goes_to_the_dead_letter_queue_under_tolerance_all() {
    let e = env(
        BrokerKind::Tansu,
        &[
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", DLQ),
        ],
        &[("producer.message.max.bytes", "2000")],
    );
    too_large_fixture(&e);
    let out = backfill(&e.worker, &e.connector);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = consume_all(&e.broker.bootstrap(), &[TOPIC], 4, Duration::from_secs(10));
    assert_eq!(got.len(), 4);
    let dead = consume_all(&e.broker.bootstrap(), &[DLQ], 1, Duration::from_secs(10));
    assert_eq!(dead.len(), 1);
    let h = &dead[0].headers;
    assert_eq!(h["__connect.errors.stage"], "KAFKA_PRODUCE");
    assert_eq!(h["__connect.errors.object"], "obj-000.jsonl");
    assert_eq!(h["__connect.errors.record.index"], "3");
    assert!(
        h["__connect.errors.exception.message"].contains("MessageSizeTooLarge")
            || h["__connect.errors.exception.message"].contains("too large"),
        "{h:?}"
    );
}

/// `text` as UTF-16 with its byte order mark (little- or big-endian).
fn utf16(text: &str, little_endian: bool) -> Vec<u8> {
    let mut out = if little_endian {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for unit in text.encode_utf16() {
        out.extend_from_slice(&if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    out
}

/// `data` gzip-compressed by the system's `gzip` (the test package has no compressor of its own).
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Spreadsheet and Windows exports: jsonl and csv objects starting with a UTF-8 byte order
/// mark (one gzip-compressed), UTF-16 ones (both byte orders), and a broken UTF-16 object.
/// Every record arrives with its first one intact, nothing good reaches the dead letter queue,
/// and the broken object is reported there by name, after its good record.
#[test]
fn byte_order_marks_are_read_and_broken_utf16_is_reported() {
    let e = env(
        BrokerKind::Tansu,
        &[
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", DLQ),
            ("file.compression.type", "auto"),
        ],
        &[],
    );
    let bom = |text: &str| [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat();
    let jsonl = "{\"name\":\"ä\",\"n\":1}\r\n{\"name\":\"😀\",\"n\":2}\n";
    write(&e.data.join("a-utf8.jsonl"), &bom(jsonl));
    write(&e.data.join("b-utf8.jsonl.gz"), &gzip(&bom(jsonl)));
    write(&e.data.join("c-utf16le.jsonl"), &utf16(jsonl, true));
    write(&e.data.join("d-utf16be.jsonl"), &utf16(jsonl, false));
    let mut broken = utf16("{\"name\":\"ok\",\"n\":1}\n", true);
    broken.extend_from_slice(&0xDC00u16.to_le_bytes());
    write(&e.data.join("e-broken.jsonl"), &broken);
    let out = backfill(&e.worker, &e.connector);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");

    // The same objects as csv, read by a second connector from another folder.
    let csv_data = e.dir.path().join("csv");
    std::fs::create_dir(&csv_data).unwrap();
    let csv = "name,n\r\nä,1\r\n😀,2\r\n";
    write(&csv_data.join("a-utf8.csv"), &bom(csv));
    write(&csv_data.join("b-utf16le.csv"), &utf16(csv, true));
    let csv_connector = e.dir.path().join("csv.properties");
    let mut props = std::fs::read_to_string(&e.connector).unwrap();
    props.push_str(&format!(
        "name=csv\nlocal.path={}\ninput.format=csv\n",
        csv_data.display()
    ));
    std::fs::write(&csv_connector, props).unwrap();
    let out = backfill(&e.worker, &csv_connector);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");

    let expected = 4 * 2 + 1 + 2 * 2;
    let got = consume_all(
        &e.broker.bootstrap(),
        &[TOPIC],
        expected,
        Duration::from_secs(20),
    );
    assert_eq!(got.len(), expected, "{got:#?}");
    let value = |g: &Got| serde_json::from_str::<serde_json::Value>(g.value.as_deref().unwrap());
    for object in [
        "a-utf8.jsonl",
        "b-utf8.jsonl.gz",
        "c-utf16le.jsonl",
        "d-utf16be.jsonl",
    ] {
        let mut records: Vec<serde_json::Value> = got
            .iter()
            .filter(|g| g.object() == object)
            .map(|g| value(g).unwrap())
            .collect();
        records.sort_by_key(|v| v["n"].as_i64());
        assert_eq!(
            records,
            vec![
                serde_json::json!({"name": "ä", "n": 1}),
                serde_json::json!({"name": "😀", "n": 2})
            ],
            "{object}"
        );
    }
    for object in ["a-utf8.csv", "b-utf16le.csv"] {
        let mut records: Vec<serde_json::Value> = got
            .iter()
            .filter(|g| g.object() == object)
            .map(|g| value(g).unwrap())
            .collect();
        records.sort_by(|a, b| a["n"].as_str().cmp(&b["n"].as_str()));
        assert_eq!(
            records,
            vec![
                serde_json::json!({"name": "ä", "n": "1"}),
                serde_json::json!({"name": "😀", "n": "2"})
            ],
            "{object}: the first column is `name`, not a byte order mark and `name`"
        );
    }
    assert_eq!(
        got.iter()
            .filter(|g| g.object() == "e-broken.jsonl")
            .count(),
        1,
        "the record before the broken bytes"
    );
    let dead = consume_all(&e.broker.bootstrap(), &[DLQ], 1, Duration::from_secs(10));
    assert_eq!(dead.len(), 1, "only the broken object: {dead:#?}");
    let h = &dead[0].headers;
    assert_eq!(h["__connect.errors.object"], "e-broken.jsonl");
    let message = &h["__connect.errors.exception.message"];
    assert!(
        message.contains("e-broken.jsonl")
            && message.contains("UTF-16")
            && message.contains("convert this one to UTF-8"),
        "{message}"
    );
}
