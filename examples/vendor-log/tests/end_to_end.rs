//! The `vendorlog` format and the `LevelRouter` transform end to end, through this crate's own
//! binary (Sluice plus both, built on `sluice-api` only) and the real tansu broker: every good
//! line lands as a struct with its schema, in its level's topic, every bad line in the dead
//! letter queue, nothing else.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use sluice_testkit::{consume_all, output_text, worker_file, write_props, Broker, BrokerKind};

const TOPIC: &str = "vendor";
/// Where `LevelRouter` sends the `ERROR` lines.
const ERRORS: &str = "vendor-error";
const DLQ: &str = "vendor-dlq";
const PATTERN: &str = r"(?P<ts>\S+) \[(?P<level>[A-Z]+)\] (?P<host>[\w-]+) latency_ms=(?P<latency_ms>\S+) (?P<msg>.*)";

/// Every 5th good line is an `ERROR`, the others `WARN`.
fn level(n: usize) -> &'static str {
    if n % 5 == 0 {
        "ERROR"
    } else {
        "WARN"
    }
}

fn good_line(file: usize, n: usize) -> String {
    format!(
        "2026-12-03T10:{file:02}:{n:02}Z [{}] disk-{file} latency_ms={} write {n} slow",
        level(n),
        100 + n
    )
}

/// Writes `files` logs of `lines` good lines each, every 7th line followed by two bad ones (one
/// that does not match, one whose integer field is not an integer); returns the bad lines.
fn write_logs(dir: &Path, files: usize, lines: usize) -> Vec<String> {
    let mut bad = Vec::new();
    for f in 0..files {
        let mut text = String::new();
        for n in 0..lines {
            text.push_str(&good_line(f, n));
            text.push('\n');
            if n % 7 == 3 {
                let b1 = format!("### vendor banner {f}-{n} ###");
                let b2 = format!("2026-12-03T11:00:00Z [INFO] disk-{f} latency_ms=fast {n}");
                text.push_str(&format!("{b1}\r\n{b2}\n"));
                bad.extend([b1, b2]);
            }
        }
        std::fs::write(dir.join(format!("app-{f}.log")), text).unwrap();
    }
    bad
}

fn sluice_plus_format() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vendor-log-sluice"));
    c.env("RUST_LOG", "warn");
    c
}

#[test]
fn good_lines_land_as_structs_in_their_levels_topic_and_bad_lines_in_the_dead_letter_queue() {
    let broker = Broker::start(BrokerKind::Tansu);
    broker.create_topic(TOPIC);
    broker.create_topic(ERRORS);
    broker.create_topic(DLQ);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("logs");
    std::fs::create_dir(&data).unwrap();
    let (files, lines) = (3, 40);
    let bad = write_logs(&data, files, lines);

    let worker = worker_file(
        dir.path(),
        &broker,
        &[("value.converter.schemas.enable", "true")],
    )
    .worker;
    // Kafka Connect's JSON form: the pattern's backslashes need no .properties escaping.
    let connector = dir.path().join("vendor.json");
    let config = json!({
        "name": "vendor",
        "config": {
            "connector.class": "local",
            "local.path": data.to_str().unwrap(),
            "local.file.min.age.ms": "0",
            "topic": TOPIC,
            "input.format": "vendorlog",
            "vendorlog.pattern": PATTERN,
            "vendorlog.int.fields": "latency_ms",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": DLQ,
            "transforms": "route",
            "transforms.route.type": "com.example.vendorlog.LevelRouter",
            "transforms.route.levels": "ERROR",
        }
    });
    std::fs::write(&connector, config.to_string()).unwrap();

    let out = sluice_plus_format()
        .arg("validate")
        .arg(&connector)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));

    let out = sluice_plus_format()
        .arg("backfill")
        .arg(&worker)
        .arg(&connector)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));

    let expected = files * lines;
    let errors = files * (0..lines).filter(|n| level(*n) == "ERROR").count();
    let got = consume_all(
        &broker.bootstrap(),
        &[TOPIC, ERRORS],
        expected,
        Duration::from_secs(30),
    );
    assert_eq!(got.len(), expected, "records in {TOPIC} and {ERRORS}");
    let in_errors = got.iter().filter(|g| g.topic == ERRORS).count();
    assert_eq!(in_errors, errors, "records LevelRouter sent to {ERRORS}");
    let mut seen = std::collections::BTreeSet::new();
    for g in &got {
        let v: Value = serde_json::from_str(g.value.as_deref().unwrap()).unwrap();
        assert_eq!(v["schema"]["name"], "com.example.VendorLog", "{v}");
        let types: Vec<(&str, &str)> = v["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["field"].as_str().unwrap(), f["type"].as_str().unwrap()))
            .collect();
        assert_eq!(
            types,
            [
                ("ts", "string"),
                ("level", "string"),
                ("host", "string"),
                ("latency_ms", "int64"),
                ("msg", "string")
            ]
        );
        let p = &v["payload"];
        let host = p["host"].as_str().unwrap();
        let f: usize = host.strip_prefix("disk-").unwrap().parse().unwrap();
        let n = p["latency_ms"].as_i64().unwrap() as usize - 100;
        assert_eq!(p["level"], level(n));
        let topic = if level(n) == "ERROR" { ERRORS } else { TOPIC };
        assert_eq!(g.topic, topic, "{v}");
        assert_eq!(p["msg"], format!("write {n} slow"));
        let line = format!(
            "{} [{}] {} latency_ms={} {}",
            p["ts"].as_str().unwrap(),
            p["level"].as_str().unwrap(),
            host,
            p["latency_ms"],
            p["msg"].as_str().unwrap()
        );
        assert_eq!(line, good_line(f, n));
        assert!(seen.insert((f, n)), "duplicate {line}");
    }

    let dead = consume_all(
        &broker.bootstrap(),
        &[DLQ],
        bad.len(),
        Duration::from_secs(30),
    );
    let mut dead: Vec<String> = dead.into_iter().map(|g| g.value.unwrap()).collect();
    let mut bad = bad;
    dead.sort();
    bad.sort();
    assert_eq!(
        dead, bad,
        "the dead letter queue holds exactly the bad lines, raw"
    );
}

#[test]
fn config_mistakes_are_caught_like_the_builtins() {
    let dir = tempfile::tempdir().unwrap();
    let connector = dir.path().join("c.properties");
    write_props(
        &connector,
        &[
            ("name", "v"),
            ("connector.class", "local"),
            ("local.path", dir.path().to_str().unwrap()),
            ("topic", "t"),
            ("input.format", "vendorlgo"),
            ("vendorlog.patern", "x"),
        ],
    );
    let out = sluice_plus_format()
        .arg("validate")
        .arg(&connector)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("did you mean \"vendorlog\""), "{text}");
    assert!(
        text.contains("did you mean \"vendorlog.pattern\""),
        "{text}"
    );

    // The transform's class and keys, once the keys of the connector itself are right.
    write_props(
        &connector,
        &[
            ("name", "v"),
            ("connector.class", "local"),
            ("local.path", dir.path().to_str().unwrap()),
            ("topic", "t"),
            ("input.format", "vendorlog"),
            ("vendorlog.pattern", "(?P<level>.*)"),
            ("transforms", "route,again"),
            ("transforms.route.type", "com.example.vendorlog.LevelRoutr"),
            ("transforms.again.type", "LevelRouter"),
            ("transforms.again.levls", "ERROR"),
        ],
    );
    let out = sluice_plus_format()
        .arg("validate")
        .arg(&connector)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("did you mean \"com.example.vendorlog.LevelRouter\""),
        "{text}"
    );
    assert!(
        text.contains("did you mean \"transforms.again.levels\""),
        "{text}"
    );
    assert!(text.contains("transforms.again.levels: required"), "{text}");

    let out = sluice_plus_format().arg("config-docs").output().unwrap();
    let docs = String::from_utf8_lossy(&out.stdout);
    assert!(docs.contains("## Format `vendorlog`"), "{docs}");
    assert!(docs.contains("| `vendorlog.pattern` |"), "{docs}");
    assert!(
        docs.contains("## Transform `com.example.vendorlog.LevelRouter`"),
        "{docs}"
    );
    assert!(docs.contains("| `topic.format` |"), "{docs}");
}
