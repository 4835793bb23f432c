//! Envelope restore end to end: objects written the way Aiven's, Lenses' and Confluent's sinks
//! back a topic up (`scripts/fixtures/envelopes.py`, run through `scripts/fixtures/generate.sh`) are read by
//! the real `sluice` binary into the tansu broker; every consumed record's key, value, headers,
//! timestamp and partition must equal the original record the generator wrote down, in order,
//! partition by partition — binary keys and values, null keys, tombstones, headers with byte
//! values and repeated names (Confluent's layout keeps no timestamp, nor null keys).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use support::*;

const BYTES: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

/// One Kafka record, everything a restore must reproduce.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp: i64,
}

fn fixtures() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = workspace_root();
        let status = std::process::Command::new(root.join("scripts/fixtures/generate.sh"))
            .current_dir(&root)
            .status()
            .expect("run scripts/fixtures/generate.sh (needs python3 with venv and pip)");
        assert!(status.success(), "scripts/fixtures/generate.sh failed");
        root.join("target/fixtures/envelopes")
    })
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn b64(v: &serde_json::Value) -> Option<Vec<u8>> {
    v.as_str().map(|s| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .expect("manifest base64")
    })
}

/// The manifest's records of `case`, per partition in offset order.
fn expected(case: &serde_json::Value) -> BTreeMap<i32, Vec<Rec>> {
    let mut out: BTreeMap<i32, Vec<Rec>> = BTreeMap::new();
    for r in case["records"].as_array().unwrap() {
        out.entry(r["partition"].as_i64().unwrap() as i32)
            .or_default()
            .push(Rec {
                key: b64(&r["key"]),
                value: b64(&r["value"]),
                headers: r["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| (h[0].as_str().unwrap().to_owned(), b64(&h[1]).unwrap()))
                    .collect(),
                timestamp: r["timestamp"].as_i64().unwrap(),
            });
    }
    out
}

/// Reads every partition of `topic` from the start until `expected` records came and nothing
/// more for a while (a duplicate would show), or nothing new for 20 s.
fn consume(bootstrap: &str, topic: &str, expected: usize) -> BTreeMap<i32, Vec<Rec>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("envelopes-{}", free_port()))
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out: BTreeMap<i32, Vec<Rec>> = BTreeMap::new();
    let (mut n, mut last) = (0, Instant::now());
    loop {
        let idle = last.elapsed();
        if (n >= expected && idle > Duration::from_millis(1500)) || idle > Duration::from_secs(20) {
            return out;
        }
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m.expect("consume");
        out.entry(m.partition()).or_default().push(Rec {
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers: m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                        .collect()
                })
                .unwrap_or_default(),
            timestamp: m.timestamp().to_millis().unwrap_or(-1),
        });
        n += 1;
        last = Instant::now();
    }
}

/// Restores fixture case `name` and compares every record with the original.
fn round_trip(name: &str) {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("manifest.json")).expect("the envelope manifest"),
    )
    .unwrap();
    let case = manifest["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in the manifest"));
    let topic = manifest["topic"].as_str().unwrap();
    let mut settings: Vec<(&str, &str)> = vec![
        ("key.converter", BYTES),
        ("value.converter", BYTES),
        ("record.headers.enable", "false"),
        // One object at a time in key order: each partition's records keep their order.
        ("object.read.concurrency", "1"),
    ];
    for (k, v) in case["settings"].as_object().unwrap() {
        settings.push((k.as_str(), v.as_str().unwrap()));
    }
    let p = LocalPipeline::start(BrokerKind::Tansu, name, &[topic], &settings, &[]);
    copy_dir(&fixtures().join(case["dir"].as_str().unwrap()), &p.data);
    let out = backfill(&p.worker, &p.connector);
    assert!(out.status.success(), "{}", output_text(&out));
    let mut want = expected(case);
    let total: usize = want.values().map(Vec::len).sum();
    let mut got = consume(&p.broker.bootstrap(), topic, total);
    if case["timestamps"] == false {
        // The layout keeps no timestamp (Kafka's time is used): compare everything else.
        for r in want.values_mut().chain(got.values_mut()).flatten() {
            r.timestamp = 0;
        }
    }
    assert_eq!(
        got.values().map(Vec::len).sum::<usize>(),
        total,
        "{name}: records restored"
    );
    for (partition, records) in &want {
        let restored = got.get(partition).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            restored.len(),
            records.len(),
            "{name}: partition {partition}"
        );
        for (i, (g, w)) in restored.iter().zip(records).enumerate() {
            assert_eq!(g, w, "{name}: partition {partition}, record {i}");
        }
    }
}

#[test]
fn aiven_jsonl_round_trip() {
    round_trip("aiven-jsonl");
}

#[test]
fn aiven_avro_round_trip() {
    round_trip("aiven-avro");
}

#[test]
fn aiven_parquet_round_trip() {
    round_trip("aiven-parquet");
}

#[test]
fn lenses_json_round_trip() {
    round_trip("lenses-json");
}

#[test]
fn lenses_avro_round_trip() {
    round_trip("lenses-avro");
}

#[test]
fn confluent_values_with_key_and_header_side_files_round_trip() {
    round_trip("confluent-json");
}
