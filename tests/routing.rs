//! Record keys, partitions, topic routing and rate limits end to end: the real `sluice` binary
//! reads jsonl objects from a folder into the tansu broker, and the records are consumed back
//! and compared.
//! - `record.key=field` (a dotted path; a record without the field gets a null key);
//! - `record.key=template` over the `file.name.template` captures, with `record.partition=fixed`;
//! - `topic.regex.list`: two prefixes to two topics, an object no rule matches counted, logged
//!   and not read, and the others not held up by it;
//! - `max.records.per.second`: a backfill takes at least as long as the limit says, and every
//!   record arrives.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::*;

/// Runs a backfill to the end; returns stdout and stderr.
fn run_backfill(p: &LocalPipeline) -> (String, String) {
    let out = backfill(&p.worker, &p.connector);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn keys_from_a_nested_field() {
    let p = LocalPipeline::start(
        BrokerKind::Tansu,
        "keyfield",
        &["keyed"],
        &[("record.key", "field"), ("record.key.field", "customer.id")],
        &[],
    );
    // Every fifth record has no customer id: its key is null.
    let body: String = (0..20)
        .map(|i| {
            if i % 5 == 4 {
                format!("{{\"n\":{i},\"customer\":{{\"name\":\"x\"}}}}\n")
            } else {
                format!("{{\"n\":{i},\"customer\":{{\"id\":\"c-{}\"}}}}\n", i % 3)
            }
        })
        .collect();
    std::fs::write(p.data.join("orders.jsonl"), body).unwrap();
    run_backfill(&p);

    let got = consume_all(
        &p.broker.bootstrap(),
        &["keyed"],
        20,
        Duration::from_secs(20),
    );
    assert_eq!(got.len(), 20, "{got:#?}");
    let mut by_key: BTreeMap<Option<String>, Vec<i32>> = BTreeMap::new();
    for g in &got {
        let i = g.index();
        let want = (i % 5 != 4).then(|| format!("c-{}", i % 3));
        assert_eq!(g.key, want, "record {i}");
        by_key.entry(g.key.clone()).or_default().push(g.partition);
    }
    for (key, partitions) in by_key.iter().filter(|(k, _)| k.is_some()) {
        assert!(
            partitions.windows(2).all(|w| w[0] == w[1]),
            "records of key {key:?} share a partition (the producer hashes the key): {partitions:?}"
        );
    }
}

#[test]
fn keys_from_the_template_captures_to_a_fixed_partition() {
    let p = LocalPipeline::start(
        BrokerKind::Tansu,
        "keytemplate",
        &["tkeys"],
        &[
            (
                "file.name.template",
                "events-{{partition}}-{{timestamp}}.jsonl",
            ),
            ("record.key", "template"),
            ("record.key.template", "p{{partition}}@{{timestamp}}"),
            ("record.partition", "fixed"),
            ("record.partition.fixed", "2"),
        ],
        &[],
    );
    std::fs::write(p.data.join("events-0-1700.jsonl"), "{\"a\":1}\n{\"a\":2}\n").unwrap();
    std::fs::write(p.data.join("events-3-1800.jsonl"), "{\"a\":3}\n").unwrap();
    std::fs::write(p.data.join("ignored.jsonl"), "{\"a\":4}\n").unwrap();
    run_backfill(&p);

    let got = consume_all(
        &p.broker.bootstrap(),
        &["tkeys"],
        3,
        Duration::from_secs(20),
    );
    let mut seen: Vec<(String, Option<String>, i32)> = got
        .iter()
        .map(|g| (g.object().to_owned(), g.key.clone(), g.partition))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("events-0-1700.jsonl".into(), Some("p0@1700".into()), 2),
            ("events-0-1700.jsonl".into(), Some("p0@1700".into()), 2),
            ("events-3-1800.jsonl".into(), Some("p3@1800".into()), 2),
        ],
        "the template's key, partition 2 whatever {{{{partition}}}} says"
    );
}

#[test]
fn two_prefixes_to_two_topics_and_an_unmatched_object_counted() {
    let p = LocalPipeline::start(
        BrokerKind::Tansu,
        "router",
        &["orders", "clicks"],
        &[
            ("topic", ""),
            (
                "topic.regex.list",
                r"orders:^orders/.*\.jsonl$,clicks:^clicks/",
            ),
        ],
        &[],
    );
    let write = |key: &str, n: usize| {
        let path = p.data.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body: String = (0..n).map(|i| format!("{{\"i\":{i}}}\n")).collect();
        std::fs::write(path, body).unwrap();
    };
    write("orders/2024/a.jsonl", 5);
    write("orders/2024/b.jsonl", 4);
    write("clicks/c.jsonl", 3);
    write("orders/notes.txt", 2); // under orders/ but not .jsonl: no rule
    write("audit/d.jsonl", 6); // no rule
    let (stdout, stderr) = run_backfill(&p);
    assert!(
        stdout.contains("2 objects matched no rule of topic.regex.list"),
        "{stdout}"
    );
    for unmatched in ["orders/notes.txt", "audit/d.jsonl"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("no rule of topic.regex.list") && l.contains(unmatched)),
            "a log line names {unmatched}: {stderr}"
        );
    }

    let got = consume_all(
        &p.broker.bootstrap(),
        &["orders", "clicks"],
        12,
        Duration::from_secs(20),
    );
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for g in &got {
        *counts
            .entry((g.topic.clone(), g.object().to_owned()))
            .or_default() += 1;
    }
    let want: BTreeMap<(String, String), usize> = [
        (("clicks", "clicks/c.jsonl"), 3),
        (("orders", "orders/2024/a.jsonl"), 5),
        (("orders", "orders/2024/b.jsonl"), 4),
    ]
    .into_iter()
    .map(|((t, o), n)| ((t.to_owned(), o.to_owned()), n))
    .collect();
    assert_eq!(
        counts, want,
        "each routed record once, nothing of the unmatched objects"
    );

    // No offset was stored for the unmatched objects: a rule added later reads them.
    let offsets = std::fs::read_to_string(&p.offsets).unwrap();
    assert!(!offsets.contains("audit/d.jsonl"), "{offsets}");
    assert!(offsets.contains("orders/2024/a.jsonl"), "{offsets}");
}

#[test]
fn max_records_per_second_bounds_a_backfill_and_every_record_arrives() {
    let p = LocalPipeline::start(
        BrokerKind::Tansu,
        "limited",
        &["limited"],
        &[("max.records.per.second", "1000"), ("tasks.max", "2")],
        &[],
    );
    write_jsonl(&p.data, 4, 500);
    let start = Instant::now();
    let (stdout, _) = run_backfill(&p);
    let took = start.elapsed();
    // 2000 records at 1000/s, a tenth of a second at hand: at least 1.9 s of producing.
    assert!(
        took >= Duration::from_millis(1900),
        "took {took:?}: {stdout}"
    );
    assert!(stdout.contains("2000 records delivered"), "{stdout}");
    // The wait is reported, all tasks added: most of the run was spent waiting.
    let throttled: f64 = stdout
        .split("throttled ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no throttled time reported: {stdout}"));
    assert!(throttled >= 1.0, "throttled {throttled} s: {stdout}");
    let got = consume_all(
        &p.broker.bootstrap(),
        &["limited"],
        2000,
        Duration::from_secs(20),
    );
    assert_eq!(got.len(), 2000);
}
