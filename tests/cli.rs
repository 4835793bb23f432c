//! The CLI's configuration checks, through the real binary.

mod support;

use support::*;

#[test]
fn validate_lists_every_problem_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let worker = dir.path().join("worker.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.server", "localhost:9092"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConvertor",
            ),
        ],
    );
    let connector = dir.path().join("c.properties");
    write_props(
        &connector,
        &[
            ("name", "c"),
            ("connector.class", "local"),
            ("local.path", "/definitely/not/here"),
            ("topic", "t"),
            ("input.fromat", "jsonl"),
            ("tasks.max", "0"),
            ("file.name.template", "{{topic}}-{{partiton}}.jsonl"),
        ],
    );
    let out = sluice()
        .arg("validate")
        .arg("--worker")
        .arg(&worker)
        .arg(&connector)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    for needle in [
        "did you mean \"bootstrap.servers\"",
        "bootstrap.servers: required",
        "did you mean \"input.format\"",
        "tasks.max: 0 is out of range",
        "JsonConvertor",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
}

#[test]
fn validate_accepts_a_good_connect_json_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bucket");
    std::fs::create_dir(&data).unwrap();
    let connector = dir.path().join("c.json");
    std::fs::write(
        &connector,
        serde_json::json!({
            "name": "c",
            "config": {
                "connector.class": "local",
                "local.path": data.to_str().unwrap(),
                "local.file.min.age.ms": "0",
                "object.partial.line.wait.ms": "0",
                "topic": "t",
                "tasks.max": 2,
                "input.format": "jsonl",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "false"
            }
        })
        .to_string(),
    )
    .unwrap();
    let out = sluice().arg("validate").arg(&connector).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(": OK"), "{stdout}");
}

#[test]
fn a_wrong_bootstrap_server_fails_fast_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bucket");
    std::fs::create_dir(&data).unwrap();
    write_jsonl(&data, 1, 3);
    let worker = dir.path().join("w.properties");
    let port = free_port();
    write_props(
        &worker,
        &[("bootstrap.servers", &format!("127.0.0.1:{port}"))],
    );
    let connector = dir.path().join("c.properties");
    write_props(
        &connector,
        &[
            ("name", "c"),
            ("connector.class", "local"),
            ("local.path", data.to_str().unwrap()),
            // The test writes whole files before the connector looks: no need to wait for them to settle.
            ("local.file.min.age.ms", "0"),
            ("object.partial.line.wait.ms", "0"),
            ("topic", "t"),
        ],
    );
    let out = sluice()
        .arg("backfill")
        .arg(&worker)
        .arg(&connector)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "cannot connect to Kafka at \"127.0.0.1:{port}\": TCP: cannot connect to a broker"
        )),
        "{stderr}"
    );
}

#[test]
fn validate_builds_the_transformer_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bucket");
    std::fs::create_dir(&data).unwrap();
    let connector = dir.path().join("c.properties");
    write_props(
        &connector,
        &[
            ("name", "c"),
            ("connector.class", "local"),
            ("local.path", data.to_str().unwrap()),
            // The test writes whole files before the connector looks: no need to wait for them to settle.
            ("local.file.min.age.ms", "0"),
            ("object.partial.line.wait.ms", "0"),
            ("topic", "t"),
            ("input.format", "csv"),
            ("csv.separator.char", "ab"),
        ],
    );
    let out = sluice().arg("validate").arg(&connector).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("csv.separator.char") && stdout.contains("\"ab\""),
        "{stdout}"
    );
}

#[test]
fn a_backfill_logs_progress_out_of_its_census_and_writes_a_json_summary() {
    let p = LocalPipeline::start(
        BrokerKind::Tansu,
        "bf",
        &["bf"],
        // Slow enough for a progress line or two.
        &[("max.records.per.second", "200")],
        &[],
    );
    write_jsonl(&p.data, 2, 50);
    assert!(backfill(&p.worker, &p.connector).status.success());
    // Four more objects: the census of the second backfill counts them, not the two finished.
    for i in 0..4 {
        let lines: String = (0..100)
            .map(|r| format!("{{\"o\":{i},\"r\":{r}}}\n"))
            .collect();
        std::fs::write(p.data.join(format!("more-{i}.jsonl")), lines).unwrap();
    }
    let summary = p.dir.path().join("summary.json");
    let out = sluice()
        .arg("backfill")
        .arg(&p.worker)
        .arg(&p.connector)
        .args(["--progress-interval", "1", "--summary-json"])
        .arg(&summary)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let progress: Vec<&str> = stderr.lines().filter(|l| l.contains("progress:")).collect();
    assert!(!progress.is_empty(), "no progress line: {stderr}");
    assert!(
        progress.iter().all(|l| l.contains(" of 4 objects")),
        "{progress:?}"
    );
    assert!(
        progress.iter().any(|l| l.contains("% of the bytes")),
        "{progress:?}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(doc["ok"], true, "{doc}");
    let c = &doc["connectors"][0];
    assert_eq!(c["name"], "bf", "{doc}");
    assert_eq!(c["objects_finished"], 4, "{doc}");
    assert_eq!(c["records_delivered"], 400, "{doc}");
    assert_eq!(c["records_skipped"], 0, "{doc}");
    assert_eq!(c["tasks"][0]["ok"], true, "{doc}");
    assert_eq!(
        consume_all(
            &p.broker.bootstrap(),
            &["bf"],
            500,
            std::time::Duration::from_secs(10)
        )
        .len(),
        500
    );
}
