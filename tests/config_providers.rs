//! Config providers in every connector value, as Kafka Connect resolves them: an S3 connector
//! created over the REST API of a real `sluice run` worker takes its bucket and access key id
//! from `${env:...}` and its secret key and topic from `${file:...}` (the worker declares the
//! providers); it delivers every record (consumed and counted from tansu), and the REST API and
//! the worker's connector file show the references as written, never the values.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use support::rest::*;
use support::servers::{ObjectServer, StoreKind};
use support::*;

const SECRET: &str = "s3cr3t-from-file";
const KEY_ID: &str = "AKIAFROMENV";

#[test]
fn every_connector_value_may_reference_the_workers_providers() {
    let store = ObjectServer::start(StoreKind::S3);
    let objects: Vec<(String, Vec<u8>)> = (0..2)
        .map(|o| {
            let body: String = (0..5).map(|r| format!("{}\n", jsonl_line(o, r))).collect();
            (format!("obj-{o}.jsonl"), body.into_bytes())
        })
        .collect();
    store.put_many(objects);
    let (broker, dir, _data, worker_file, log, port) = worker_setup("providers");
    let secrets = dir.path().join("secrets.properties");
    std::fs::write(&secrets, format!("s3.secret={SECRET}\ntopic=providers\n")).unwrap();
    // The worker declares the providers (appended to the shared setup's worker file).
    let mut props = std::fs::read_to_string(&worker_file).unwrap();
    props.push_str(concat!(
        "config.providers=file,env\n",
        "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider\n",
        "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n",
    ));
    std::fs::write(&worker_file, props).unwrap();
    let log_file = std::fs::File::create(&log).unwrap();
    let mut worker = ChildGuard::spawn(
        sluice()
            .arg("run")
            .arg(&worker_file)
            .env("SLUICE_TEST_BUCKET", &store.bucket)
            .env("SLUICE_TEST_KEY_ID", KEY_ID)
            .stdout(Stdio::null())
            .stderr(log_file),
    );
    let api = Api::new(port);
    api.wait_up(&mut worker, &log);

    let secret_ref = format!("${{file:{}:s3.secret}}", secrets.display());
    let topic_ref = format!("${{file:{}:topic}}", secrets.display());
    let mut config = serde_json::Map::new();
    for (k, v) in store.connector_settings() {
        config.insert(k, json!(v));
    }
    config.insert(
        "aws.s3.bucket.name".into(),
        json!("${env:SLUICE_TEST_BUCKET}"),
    );
    config.insert(
        "aws.access.key.id".into(),
        json!("${env:SLUICE_TEST_KEY_ID}"),
    );
    config.insert("aws.secret.access.key".into(), json!(secret_ref));
    config.insert("topic".into(), json!(topic_ref));
    config.insert("input.format".into(), json!("jsonl"));
    let body = json!({"name": "refs", "config": config}).to_string();
    let (code, created) = api.call("POST", "/connectors", Some(&body));
    assert_eq!(code, 201, "{created}\n{}", read(&log));

    let got = consume_all(
        &broker.bootstrap(),
        &["providers"],
        10,
        Duration::from_secs(30),
    );
    assert_eq!(got.len(), 10, "{}", read(&log));

    let (code, shown) = api.get("/connectors/refs/config");
    assert_eq!(code, 200);
    assert_eq!(shown["aws.secret.access.key"], json!(secret_ref));
    assert_eq!(shown["aws.access.key.id"], "${env:SLUICE_TEST_KEY_ID}");
    assert_eq!(shown["aws.s3.bucket.name"], "${env:SLUICE_TEST_BUCKET}");
    assert_eq!(shown["topic"], json!(topic_ref));
    for path in [
        "/connectors/refs/config",
        "/connectors/refs",
        "/connectors?expand=info",
    ] {
        let (_, v) = api.get(path);
        let text = v.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains(KEY_ID),
            "{path}: {text}"
        );
    }
    let stored = read(&dir.path().join("offsets.jsonl.connectors.json"));
    assert!(stored.contains("${env:SLUICE_TEST_KEY_ID}"), "{stored}");
    assert!(
        !stored.contains(SECRET) && !stored.contains(KEY_ID),
        "{stored}"
    );
    assert!(!read(&log).contains(SECRET), "{}", read(&log));

    // A reference nobody can resolve is refused, naming the key.
    config.insert("topic".into(), json!("${env:SLUICE_TEST_UNSET_VARIABLE}"));
    let body = json!({"name": "bad", "config": config}).to_string();
    let (code, refused) = api.call("POST", "/connectors", Some(&body));
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("topic: ${env:SLUICE_TEST_UNSET_VARIABLE}"),
        "{refused}"
    );
}

/// Literal secrets in a connector's configuration (a password key, a Kafka client secret under
/// `producer.override.`) never appear in REST responses or the log; a client that GETs the
/// configuration and PUTs it back keeps the stored secrets (the stored file has them, not the
/// mask).
#[test]
fn literal_secrets_are_hidden_from_rest_and_survive_a_round_trip() {
    const S3_SECRET: &str = "s3-literal-secret";
    const KEY_PASSWORD: &str = "literal-key-pass";
    let store = ObjectServer::start(StoreKind::S3);
    store.put(
        "a.jsonl",
        format!("{}\n{}\n", jsonl_line(0, 0), jsonl_line(0, 1)).as_bytes(),
    );
    let (broker, dir, _data, worker_file, log, port) = worker_setup("literal");
    let mut worker = spawn_worker(&worker_file, &log);
    let api = Api::new(port);
    api.wait_up(&mut worker, &log);
    let mut config = serde_json::Map::new();
    for (k, v) in store.connector_settings() {
        config.insert(k, json!(v));
    }
    config.insert("aws.secret.access.key".into(), json!(S3_SECRET));
    config.insert(
        "producer.override.ssl.key.password".into(),
        json!(KEY_PASSWORD),
    );
    config.insert("topic".into(), json!("literal"));
    config.insert("input.format".into(), json!("jsonl"));
    let body = json!({"name": "lit", "config": config}).to_string();
    let (code, created) = api.call("POST", "/connectors", Some(&body));
    assert_eq!(code, 201, "{created}\n{}", read(&log));
    assert_eq!(
        consume_all(
            &broker.bootstrap(),
            &["literal"],
            2,
            Duration::from_secs(30)
        )
        .len(),
        2,
        "{}",
        read(&log)
    );
    let leaks = |text: &str| text.contains(S3_SECRET) || text.contains(KEY_PASSWORD);
    for path in [
        "/connectors/lit/config",
        "/connectors/lit",
        "/connectors?expand=info",
        "/connectors/lit/tasks",
    ] {
        let (code, v) = api.get(path);
        assert_eq!(code, 200, "{path}: {v}");
        assert!(!leaks(&v.to_string()), "{path}: {v}");
        assert!(v.to_string().contains("[hidden]"), "{path}: {v}");
    }
    let (code, v) = api.call(
        "PUT",
        "/connector-plugins/s3/config/validate",
        Some(&serde_json::Value::Object(config.clone()).to_string()),
    );
    assert_eq!(code, 200, "{v}");
    assert!(!leaks(&v.to_string()), "{v}");

    // GET, change a setting, PUT back: the mask keeps the stored secrets.
    let (_, mut shown) = api.get("/connectors/lit/config");
    assert_eq!(shown["aws.secret.access.key"], "[hidden]");
    shown["max.poll.records"] = json!("100");
    let (code, v) = api.call("PUT", "/connectors/lit/config", Some(&shown.to_string()));
    assert_eq!(code, 200, "{v}");
    assert!(!leaks(&v.to_string()), "{v}");
    let stored = read(&dir.path().join("offsets.jsonl.connectors.json"));
    assert!(
        stored.contains(S3_SECRET) && stored.contains(KEY_PASSWORD) && !stored.contains("[hidden]"),
        "{stored}"
    );
    store.put("b.jsonl", format!("{}\n", jsonl_line(1, 0)).as_bytes());
    assert_eq!(
        consume_all(
            &broker.bootstrap(),
            &["literal"],
            3,
            Duration::from_secs(30)
        )
        .len(),
        3,
        "{}",
        read(&log)
    );
    // The mask for a secret never stored is refused.
    let mut masked_new = config.clone();
    masked_new.insert("aws.secret.access.key".into(), json!("[hidden]"));
    let body = json!({"name": "masked", "config": masked_new}).to_string();
    let (code, refused) = api.call("POST", "/connectors", Some(&body));
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused.to_string().contains("aws.secret.access.key"),
        "{refused}"
    );
    assert!(!leaks(&read(&log)), "{}", read(&log));
}
