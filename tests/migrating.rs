//! Migrating from Kafka Connect: an Aiven S3 or Azure source connector file loads and runs
//! unchanged (every key of Aiven's source configurations accepted, templates written for
//! Aiven's matching), objects not taken are never dropped silently, and Aiven's stored offsets
//! import (`sluice offsets import`). Checked through the real `sluice` binary against moto
//! (S3) and a broker, by consuming what landed.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use sluice_core::config::{aiven, ConnectorConfig, Settings};
use support::servers::{ObjectServer, StoreKind};
use support::*;

/// (source, key, value, how) lines of `tests/data/aiven-source-keys.txt`.
fn aiven_keys() -> Vec<(String, String, String, String)> {
    let text = include_str!("data/aiven-source-keys.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "4 tab-separated fields: {l:?}");
            (f[0].into(), f[1].into(), f[2].into(), f[3].into())
        })
        .collect()
}

fn base(source: &str) -> Settings {
    let pairs: &[(&str, &str)] = match source {
        "s3" => &[
            (
                "connector.class",
                "io.aiven.kafka.connect.s3.source.S3SourceConnector",
            ),
            ("aws.s3.bucket.name", "my-bucket"),
        ],
        _ => &[
            (
                "connector.class",
                "io.aiven.kafka.connect.azure.source.AzureBlobSourceConnector",
            ),
            ("azure.storage.container.name", "my-container"),
            (
                "azure.storage.connection.string",
                "UseDevelopmentStorage=true",
            ),
        ],
    };
    let mut s: Settings = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    s.insert("name".into(), "aiven".into());
    s.insert("topic".into(), "orders".into());
    s
}

#[test]
fn every_key_of_aivens_s3_and_azure_sources_is_accepted_with_its_meaning() {
    let registry = sluice_worker::registry::builtin();
    let keys = aiven_keys();
    assert!(keys.len() >= 50, "{} keys", keys.len());
    for source in ["s3", "azure"] {
        let mine: Vec<_> = keys
            .iter()
            .filter(|(s, ..)| s == source || s == "both")
            .collect();
        // One at a time, then all together.
        for (_, key, value, how) in &mine {
            let mut s = base(source);
            s.insert(key.clone(), value.clone());
            // Sluice refuses half a key pair (Aiven falls back to its default chain silently;
            // docs/migrating.md says so): the pair is given together.
            for pair in [["aws.access.key.id", "aws.secret.access.key"]] {
                if pair.contains(&key.as_str()) {
                    for k in pair {
                        s.insert(k.into(), value.clone());
                    }
                }
            }
            if let Err(e) = ConnectorConfig::from_settings(&registry, &s) {
                panic!("{source}: {key}={value} rejected: {e}");
            }
            let notices = aiven::notices(&s);
            let named = notices.iter().any(|n| n.starts_with(&format!("{key}:")));
            match how.as_str() {
                "notice" => assert!(named, "{key}: a notice expected, got {notices:?}"),
                "mapped" => assert!(
                    !named || key.contains('_'),
                    "{key} is mapped, yet noticed: {notices:?}"
                ),
                other => panic!("{key}: unknown kind {other}"),
            }
        }
        let mut all = base(source);
        for (_, key, value, _) in &mine {
            all.insert(key.clone(), value.clone());
        }
        if let Err(e) = ConnectorConfig::from_settings(&registry, &all) {
            panic!("{source}: all Aiven keys together rejected: {e}");
        }
    }
}

#[test]
fn aivens_names_of_settings_sluice_has_are_read_as_them() {
    let registry = sluice_worker::registry::builtin();
    let mut s = base("s3");
    s.remove("aws.s3.bucket.name");
    for (k, v) in [
        ("aws_s3_bucket", "old-bucket"),
        ("aws_s3_prefix", "in/"),
        ("aws.s3.backoff.delay.ms", "250"),
        ("aws.s3.backoff.max.delay.ms", "9000"),
        ("aws.s3.backoff.max.retries", "7"),
        ("native.start.key", "in/b"),
    ] {
        s.insert(k.into(), v.into());
    }
    let c = ConnectorConfig::from_settings(&registry, &s).unwrap();
    assert_eq!(c.settings["aws.s3.bucket.name"], "old-bucket");
    assert_eq!(c.settings["aws.s3.prefix"], "in/");
    assert_eq!(c.store.retry.backoff_initial_ms, 250);
    assert_eq!(c.store.retry.backoff_max_ms, 9000);
    assert_eq!(c.store.retry.max_retries, 7);
    assert_eq!(c.native_start_key.as_deref(), Some("in/b"));
    // Sluice's own key wins over Aiven's name.
    s.insert("store.retry.max.retries".into(), "2".into());
    let c = ConnectorConfig::from_settings(&registry, &s).unwrap();
    assert_eq!(c.store.retry.max_retries, 2);

    let mut a = base("azure");
    a.insert("azure.retry.backoff.max.attempts".into(), "4".into());
    a.insert("azure.retry.backoff.initial.delay.ms".into(), "0".into());
    let c = ConnectorConfig::from_settings(&registry, &a).unwrap();
    assert_eq!(c.store.retry.max_retries, 4);
    assert_eq!(
        c.store.retry.backoff_initial_ms, 1,
        "0 ms becomes the smallest Sluice takes"
    );
}

/// Three jsonl objects under `data/`, named as Aiven's sink names them (with an extension):
/// (key, records).
const OBJECTS: [(&str, usize); 3] = [
    ("data/orders-0-0.jsonl", 3),
    ("data/orders-0-3.jsonl", 3),
    ("data/orders-1-0.jsonl", 3),
];

/// moto with [`OBJECTS`] (and an unrelated file), a broker with topic `orders`, a worker file.
struct Aiven {
    server: ObjectServer,
    broker: Broker,
    dir: tempfile::TempDir,
    worker: PathBuf,
}

impl Aiven {
    fn start() -> Aiven {
        let server = ObjectServer::start(StoreKind::S3);
        for (key, n) in OBJECTS {
            let body: String = (0..n)
                .map(|r| format!("{{\"object\":\"{key}\",\"r\":{r}}}\n"))
                .collect();
            server.put(key, body.as_bytes());
        }
        let broker = Broker::start(BrokerKind::Mock);
        broker.create_topic("orders");
        let dir = tempfile::tempdir().unwrap();
        let worker = dir.path().join("worker.properties");
        let offsets = dir.path().join("offsets.jsonl");
        write_props(
            &worker,
            &[
                ("bootstrap.servers", broker.bootstrap().as_str()),
                ("offset.storage.file.filename", offsets.to_str().unwrap()),
                ("offset.flush.interval.ms", "20"),
                ("value.converter.schemas.enable", "false"),
            ],
        );
        Aiven {
            server,
            broker,
            dir,
            worker,
        }
    }

    /// A connector file as Aiven's documentation writes one (`name`, then `extra`).
    fn connector(&self, name: &str, extra: &[(&str, &str)]) -> PathBuf {
        let settings = self.server.connector_settings();
        let get = |k: &str| {
            settings
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let (bucket, endpoint) = (get("aws.s3.bucket.name"), get("aws.s3.endpoint"));
        let mut pairs: Vec<(&str, &str)> = vec![
            ("name", name),
            (
                "connector.class",
                "io.aiven.kafka.connect.s3.source.S3SourceConnector",
            ),
            ("tasks.max", "1"),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            ("aws.access.key.id", "test"),
            ("aws.secret.access.key", "test"),
            ("aws.s3.region", "us-east-1"),
            ("aws.s3.bucket.name", bucket.as_str()),
            ("aws.s3.endpoint", endpoint.as_str()),
            ("aws.s3.prefix", "data/"),
            (
                "file.name.template",
                "{{topic}}-{{partition}}-{{start_offset}}",
            ),
            ("input.format", "jsonl"),
            ("errors.tolerance", "none"),
            ("aws.s3.fetch.buffer.size", "1000"),
        ];
        pairs.extend_from_slice(extra);
        let path = self.dir.path().join(format!("{name}.properties"));
        let mut dedup: Vec<(&str, &str)> = Vec::new();
        for (k, v) in pairs {
            dedup.retain(|(key, _)| *key != k);
            dedup.push((k, v));
        }
        write_props(&path, &dedup);
        path
    }

    fn consume(&self, expected: usize) -> Vec<Got> {
        consume_all(
            &self.broker.bootstrap(),
            &["orders"],
            expected,
            Duration::from_secs(15),
        )
    }
}

/// (object, record) of each consumed value.
fn records(got: &[Got]) -> BTreeSet<(String, u64)> {
    got.iter()
        .map(|g| {
            let v: serde_json::Value = serde_json::from_str(g.value.as_deref().unwrap()).unwrap();
            (
                v["object"].as_str().unwrap().to_owned(),
                v["r"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_aiven_connector_file_runs_unchanged_and_delivers_every_record() {
    let a = Aiven::start();
    let connector = a.connector("aiven-s3", &[]);
    let out = backfill(&a.worker, &connector);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let got = a.consume(9);
    assert_eq!(got.len(), 9, "{text}");
    let expected: BTreeSet<(String, u64)> = OBJECTS
        .iter()
        .flat_map(|(k, n)| (0..*n as u64).map(move |r| (k.to_string(), r)))
        .collect();
    assert_eq!(records(&got), expected);
    // {{partition}} of each key is the Kafka partition, as with Aiven's connector.
    for g in &got {
        let want = if g.object().contains("orders-1-") {
            1
        } else {
            0
        };
        assert_eq!(g.partition, want, "{}", g.object());
    }
    // The keys carry an extension the template does not spell: read the way Aiven reads them,
    // and said so.
    assert!(
        text.contains("Aiven's connector would find the template inside it"),
        "{text}"
    );
    // aws.s3.fetch.buffer.size gets its one notice.
    assert!(
        text.contains("aws.s3.fetch.buffer.size: accepted for Aiven's connector files"),
        "{text}"
    );
}

#[test]
fn a_config_that_takes_no_object_says_so_loudly() {
    let a = Aiven::start();
    let connector = a.connector(
        "wrong-template",
        &[(
            "file.name.template",
            "{{topic}}/{{partition}}/{{start_offset}}.jsonl",
        )],
    );
    let out = backfill(&a.worker, &connector);
    let text = output_text(&out);
    assert!(
        text.contains("3 listed objects were not read: 3 matched no file.name.template"),
        "{text}"
    );
    assert!(
        text.contains("WARNING: a listing found objects but took none"),
        "{text}"
    );
    assert!(
        text.contains("took none of them") && text.contains("data/orders-0-0.jsonl"),
        "the log names the template and sample keys: {text}"
    );
    assert!(a.consume(0).is_empty());

    // validate --preview says what each key maps to, or why it is not read.
    let out = sluice()
        .args(["validate", "--preview", "10"])
        .arg(&connector)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(
        text.contains("data/orders-0-0.jsonl -> not read: matched no file.name.template"),
        "{text}"
    );
    let good = a.connector("good", &[]);
    let out = sluice()
        .args(["validate", "--preview", "2"])
        .arg(&good)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("data/orders-0-0.jsonl -> topic orders, partition 0, start_offset 0, task 0"),
        "{text}"
    );
    assert!(text.contains("2 keys shown under \"data/\""), "{text}");
}

/// Writes `entries` (key JSON, value JSON) to `topic` exactly as a Kafka Connect worker stores
/// source offsets: the literal JSON bytes, from this test's own producer.
fn write_connect_offsets(bootstrap: &str, topic: &str, entries: &[(&str, &str)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (key, value) in entries {
        producer
            .send(BaseRecord::to(topic).key(*key).payload(*value))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

#[test]
fn aivens_stored_offsets_import_and_only_the_remainder_arrives() {
    let a = Aiven::start();
    let bucket = a.server.bucket.clone();
    a.broker.create_topic("connect-offsets");
    // Aiven read orders-0-0 to its end (3 records) and 1 record of orders-0-3; nothing of
    // orders-1-0. Keys as Kafka Connect writes them (Java's map order: objectKey first).
    let k = |key: &str| format!(r#"["aiven-s3",{{"objectKey":"{key}","bucket":"{bucket}"}}]"#);
    let entries = [
        (
            k("data/orders-0-0.jsonl"),
            r#"{"recordCount":3}"#.to_owned(),
        ),
        (
            k("data/orders-0-3.jsonl"),
            r#"{"recordCount":1}"#.to_owned(),
        ),
    ];
    let refs: Vec<(&str, &str)> = entries
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    write_connect_offsets(&a.broker.bootstrap(), "connect-offsets", &refs);

    let out = import_aiven_offsets(&a.worker);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("imported 2 offsets"), "{text}");

    let connector = a.connector("migrated", &[]);
    let out = backfill(&a.worker, &connector);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let got = a.consume(5);
    let expected: BTreeSet<(String, u64)> = [
        ("data/orders-0-3.jsonl", 1),
        ("data/orders-0-3.jsonl", 2),
        ("data/orders-1-0.jsonl", 0),
        ("data/orders-1-0.jsonl", 1),
        ("data/orders-1-0.jsonl", 2),
    ]
    .iter()
    .map(|(k, r)| (k.to_string(), *r))
    .collect();
    assert_eq!(got.len(), 5, "{text}");
    assert_eq!(records(&got), expected);

    // Importing again keeps what Sluice stored since.
    let out = import_aiven_offsets(&a.worker);
    let text = output_text(&out);
    assert!(
        text.contains("imported 0 offsets")
            && text.contains("2 objects already had Sluice offsets"),
        "{text}"
    );
}

#[test]
fn every_example_of_docs_migrating_md_loads_or_is_refused_as_it_says() {
    let doc = include_str!("../docs/migrating.md");
    let registry = sluice_worker::registry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (i, block) in doc.split("```properties\n").skip(1).enumerate() {
        let body = block.split("```").next().unwrap();
        let path = dir.path().join(format!("example-{i}.properties"));
        std::fs::write(&path, body).unwrap();
        let settings = sluice_core::config::load_file(&path).unwrap();
        let result = ConnectorConfig::from_settings(&registry, &settings);
        match body
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# refused: "))
        {
            Some(expected) => {
                let e = result.expect_err(body).to_string();
                assert!(e.contains(expected), "{e}");
            }
            None => {
                if let Err(e) = result {
                    panic!("example {i} of docs/migrating.md: {e}\n{body}");
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn the_lenses_example_reads_as_its_kcql_says() {
    let doc = include_str!("../docs/migrating.md");
    let body = doc
        .split("```properties\n")
        .find(|b| b.starts_with("name=lenses-s3"))
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lenses.properties");
    std::fs::write(&path, body).unwrap();
    let settings = sluice_core::config::load_file(&path).unwrap();
    let c = ConnectorConfig::from_settings(&sluice_worker::registry::builtin(), &settings).unwrap();
    assert_eq!(c.topic.as_deref(), Some("orders"));
    assert_eq!(c.input_format, "jsonl");
    assert_eq!(c.store.backend, "s3");
    for (k, v) in [
        ("aws.s3.bucket.name", "my-bucket"),
        ("aws.s3.prefix", "data/"),
        ("aws.s3.region", "eu-west-1"),
        ("aws.access.key.id", "AKIAEXAMPLE"),
        ("input.envelope", "lenses"),
    ] {
        assert_eq!(c.settings.get(k).map(String::as_str), Some(v), "{k}");
    }
}

#[test]
fn a_lenses_connector_file_runs_as_written() {
    let a = Aiven::start();
    let settings = a.server.connector_settings();
    let get = |k: &str| {
        settings
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let kcql = format!(
        "INSERT INTO orders SELECT * FROM {}:data/ STOREAS `JSON`",
        get("aws.s3.bucket.name")
    );
    let endpoint = get("aws.s3.endpoint");
    let path = a.dir.path().join("lenses.properties");
    write_props(
        &path,
        &[
            ("name", "lenses-s3"),
            (
                "connector.class",
                "io.lenses.streamreactor.connect.aws.s3.source.S3SourceConnector",
            ),
            ("tasks.max", "1"),
            ("connect.s3.aws.auth.mode", "Credentials"),
            ("connect.s3.aws.access.key", "test"),
            ("connect.s3.aws.secret.key", "test"),
            ("connect.s3.aws.region", "us-east-1"),
            ("connect.s3.custom.endpoint", endpoint.as_str()),
            ("connect.s3.kcql", kcql.as_str()),
        ],
    );
    let out = backfill(&a.worker, &path);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let got = a.consume(9);
    assert_eq!(got.len(), 9, "{text}");
    let expected: BTreeSet<(String, u64)> = OBJECTS
        .iter()
        .flat_map(|(k, n)| (0..*n as u64).map(move |r| (k.to_string(), r)))
        .collect();
    assert_eq!(records(&got), expected);

    // A clause Sluice does not support is refused with its name.
    write_props(
        &path,
        &[
            ("name", "lenses-s3"),
            (
                "connector.class",
                "io.lenses.streamreactor.connect.aws.s3.source.S3SourceConnector",
            ),
            (
                "connect.s3.kcql",
                "INSERT INTO orders SELECT * FROM b:data/ PARTITIONBY _key",
            ),
        ],
    );
    let out = sluice().arg("validate").arg(&path).output().unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("the clause PARTITIONBY is not supported"),
        "{text}"
    );
}

/// `sluice offsets import` of the `aiven-s3` connector's offsets in `connect-offsets` into the
/// connector `migrated`.
fn import_aiven_offsets(worker: &std::path::Path) -> std::process::Output {
    sluice()
        .args(["offsets", "import"])
        .arg(worker)
        .args([
            "--connector",
            "migrated",
            "--from-topic",
            "connect-offsets",
            "--from-connector",
            "aiven-s3",
        ])
        .output()
        .unwrap()
}
