//! The `http-listing` backend end to end, through this crate's own binary (Sluice plus the
//! backend, built on `sluice-api` only), a real `python3 -m http.server` and the real tansu
//! broker: every line of every file below the prefix lands once, in two tasks; a second backfill
//! finds every file finished and delivers nothing again.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sluice_testkit::{
    consume_all, free_port, output_text, wait_port, worker_file, write_props, Broker, BrokerKind,
    ChildGuard,
};

const TOPIC: &str = "http";

/// Serves `dir` with python's http.server on a free loopback port; stopped on drop.
fn serve(dir: &Path) -> (ChildGuard, String) {
    let port = free_port();
    let server = ChildGuard::spawn(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let addr = format!("127.0.0.1:{port}");
    wait_port(&addr, Duration::from_secs(20)).expect("python3 -m http.server starts");
    (server, format!("http://{addr}/"))
}

fn line(file: &str, n: usize) -> String {
    format!("{{\"file\":\"{file}\",\"n\":{n}}}")
}

fn write(dir: &Path, key: &str, lines: usize) -> usize {
    let path = dir.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text: String = (0..lines).map(|n| line(key, n) + "\n").collect();
    std::fs::write(path, text).unwrap();
    lines
}

#[test]
fn every_file_below_the_prefix_lands_once_and_a_rerun_reads_nothing_again() {
    let broker = Broker::start(BrokerKind::Tansu);
    broker.create_topic(TOPIC);
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let mut expected = 0;
    for (key, lines) in [
        ("exports/2026/a.jsonl", 30),
        ("exports/2026/b c&d.jsonl", 25),
        ("exports/2027/deep/er/c.jsonl", 12),
        ("exports/top.jsonl", 7),
    ] {
        expected += write(&site, key, lines);
    }
    // Outside the prefix: never read.
    write(&site, "elsewhere/x.jsonl", 5);
    let (_server, url) = serve(&site);

    let worker = worker_file(dir.path(), &broker, &[]).worker;
    let connector = dir.path().join("connector.properties");
    write_props(
        &connector,
        &[
            ("name", "web"),
            (
                "connector.class",
                "com.example.sluice.HttpListingSourceConnector",
            ),
            ("http.listing.url", &url),
            ("http.listing.prefix", "exports/"),
            ("topic", TOPIC),
            ("input.format", "jsonl"),
            ("tasks.max", "2"),
        ],
    );
    let backfill = || {
        Command::new(env!("CARGO_BIN_EXE_http-listing-sluice"))
            .env("RUST_LOG", "warn")
            .arg("backfill")
            .arg(&worker)
            .arg(&connector)
            .output()
            .unwrap()
    };
    let out = backfill();
    assert!(out.status.success(), "{}", output_text(&out));

    let got = consume_all(
        &broker.bootstrap(),
        &[TOPIC],
        expected,
        Duration::from_secs(30),
    );
    assert_eq!(got.len(), expected, "records in {TOPIC}");
    let mut seen = std::collections::BTreeSet::new();
    for g in &got {
        let v: Value = serde_json::from_str(g.value.as_deref().unwrap()).unwrap();
        let file = v["file"].as_str().unwrap().to_owned();
        assert!(file.starts_with("exports/"), "{v}");
        let n = v["n"].as_u64().unwrap() as usize;
        assert_eq!(g.value.as_deref(), Some(line(&file, n).as_str()));
        assert!(seen.insert((file, n)), "duplicate {v}");
    }

    // Every object is finished in the offsets: a second pass delivers nothing.
    let out = backfill();
    assert!(out.status.success(), "{}", output_text(&out));
    let again = consume_all(
        &broker.bootstrap(),
        &[TOPIC],
        expected + 1,
        Duration::from_secs(8),
    );
    assert_eq!(again.len(), expected, "a rerun delivered records again");
}

#[test]
fn a_wrong_url_or_a_misspelt_key_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let connector = dir.path().join("c.properties");
    write_props(
        &connector,
        &[
            ("name", "web"),
            ("connector.class", "http-listing"),
            ("http.listing.url", "ftp://example.invalid/"),
            ("http.listing.prefx", "x/"),
            ("topic", "t"),
            ("input.format", "jsonl"),
        ],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_http-listing-sluice"))
        .arg("validate")
        .arg(&connector)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("http.listing.url: scheme \"ftp\" is not http or https"),
        "{text}"
    );
    assert!(
        text.contains("did you mean \"http.listing.prefix\""),
        "{text}"
    );
}
