//! End to end: `sluice backfill` with Confluent's ProtobufConverter against the test Schema
//! Registry and the real tansu broker. Every record is then consumed and decoded by Python
//! (`scripts/sr/protobuf_check.py`): the registered `.proto` text compiled by protoc
//! (grpcio-tools), each record decoded by confluent_kafka's `ProtobufDeserializer` with the
//! generated class, and the records compared with the source file's (avro read by fastavro, jsonl
//! by Python's json).

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sluice_testkit::registry::TestRegistry;
use support::*;

const PROTOBUF: &str = "io.confluent.connect.protobuf.ProtobufConverter";

fn fixtures() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = workspace_root();
        let status = std::process::Command::new(root.join("scripts/fixtures/generate.sh"))
            .current_dir(&root)
            .status()
            .expect("run scripts/fixtures/generate.sh (needs python3 with venv and pip)");
        assert!(status.success(), "scripts/fixtures/generate.sh failed");
        root.join("target/fixtures")
    })
}

/// The Python of the Schema Registry checks (scripts/install-test-servers.sh installs it).
fn python() -> PathBuf {
    let p = workspace_root().join(".test-servers/sr-venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/install-test-servers.sh",
        p.display()
    );
    p
}

/// Backfills `source` (copied into the bucket as `object`) with the ProtobufConverter for values
/// and checks every record in Python; returns the check's report and the registry.
fn run(
    name: &str,
    source: &Path,
    object: &str,
    format: &str,
    count: usize,
    extra: &[(&str, &str)],
) -> (serde_json::Value, TestRegistry, LocalPipeline) {
    let registry = TestRegistry::start();
    let url = registry.url();
    let topic = format!("{name}-topic");
    let mut settings = vec![
        ("input.format", format),
        ("value.converter", PROTOBUF),
        ("value.converter.schema.registry.url", url.as_str()),
    ];
    settings.extend_from_slice(extra);
    let p = LocalPipeline::start(BrokerKind::Tansu, name, &[&topic], &settings, &[]);
    std::fs::copy(source, p.data.join(object)).unwrap();
    let out = backfill(&p.worker, &p.connector);
    assert!(out.status.success(), "{}", output_text(&out));

    let check = python_check(&url, &p.broker.bootstrap(), &topic, source, format, count);
    let stdout = String::from_utf8_lossy(&check.stdout);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        check.status.success(),
        "the Python check failed:\n{stdout}\n{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no report ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(report["consumed"], count, "{report}");
    assert_eq!(report["decoded"], count, "{report}");
    assert_eq!(report["expected"], count, "{report}");
    assert_eq!(report["equal"], true, "{report}");
    let subjects = registry.subjects();
    assert_eq!(subjects, [format!("{topic}-value")]);
    for id in registry.versions(&subjects[0]) {
        assert_eq!(registry.schema(id).unwrap().schema_type, "PROTOBUF");
    }
    (report, registry, p)
}

/// Runs `scripts/sr/protobuf_check.py e2e`.
fn python_check(
    url: &str,
    bootstrap: &str,
    topic: &str,
    source: &Path,
    format: &str,
    count: usize,
) -> std::process::Output {
    let tmp = workspace_root().join("target/tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::process::Command::new(python())
        .arg(workspace_root().join("scripts/sr/protobuf_check.py"))
        .args(["e2e", url, bootstrap, topic])
        .arg(source)
        .args([format, &count.to_string()])
        .env("TMPDIR", &tmp)
        .output()
        .expect("run scripts/sr/protobuf_check.py")
}

/// Avro with nested records, arrays, a map, a union, an enum, decimals (bytes and fixed), date,
/// time and timestamps: 400 records.
#[test]
fn avro_everything_decodes_in_python() {
    let source = fixtures().join("avro/everything.deflate.avro");
    let (report, registry, _p) = run("proto-avro", &source, "everything.avro", "avro", 400, &[]);
    assert_eq!(report["schema_ids"].as_array().unwrap().len(), 1);
    let id = registry.versions("proto-avro-topic-value")[0];
    let text = registry.schema(id).unwrap().schema;
    for want in [
        "package org.sluice.test;",
        "import \"confluent/type/decimal.proto\";",
        "import \"google/type/date.proto\";",
        "import \"google/type/timeofday.proto\";",
        "import \"google/protobuf/timestamp.proto\";",
        "message Everything {",
        "  repeated int32 arr = 10;",
        "  repeated ConnectDefault1Entry m = 11;",
        "  Union multi = 13;",
        "  Inner inner = 14;",
        "  Inner inner_opt = 15;",
        "  confluent.type.Decimal dec = 16 [(confluent.field_meta) = {",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
}

/// JSON Lines with inferred schemas (every field optional; nested objects are unnamed structs):
/// records of different shapes register different schemas under the one subject.
#[test]
fn jsonl_inferred_decodes_in_python() {
    let dir = workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("protobuf-e2e.jsonl");
    let mut lines = String::new();
    for i in 0..300i64 {
        let line = if i % 3 == 2 {
            // A second shape: more fields, nested arrays of objects.
            serde_json::json!({
                "id": i, "name": format!("n{i}"), "score": i as f64 / 4.0, "ok": i % 2 == 0,
                "tags": [format!("t{i}"), "x"], "nums": [i, -i, 0],
                "address": {"city": format!("c{i}"), "zip": i * 7},
                "items": [{"sku": format!("s{i}"), "qty": i}, {"sku": "y", "qty": 0}],
            })
        } else {
            serde_json::json!({
                "id": i, "name": if i % 5 == 0 { serde_json::Value::Null } else { format!("n{i}").into() },
                "score": -(i as f64) * 1.5, "ok": i % 2 == 1,
                "tags": [], "nums": [i],
                "address": {"city": "Oslo", "zip": i},
            })
        };
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    std::fs::write(&source, lines).unwrap();
    let (report, registry, p) = run(
        "proto-jsonl",
        &source,
        "records.jsonl",
        "jsonl",
        300,
        &[("transformer.json.infer.schema", "true")],
    );
    assert!(
        report["schema_ids"].as_array().unwrap().len() >= 2,
        "{report}"
    );
    // The comparison notices one changed value: the same topic checked against a source with
    // record 7's score changed fails, naming that record.
    let text = std::fs::read_to_string(&source).unwrap();
    let changed = source.with_extension("changed.jsonl");
    std::fs::write(
        &changed,
        text.replacen("\"score\":-10.5", "\"score\":-10.25", 1),
    )
    .unwrap();
    assert_ne!(std::fs::read_to_string(&changed).unwrap(), text);
    let out = python_check(
        &registry.url(),
        &p.broker.bootstrap(),
        "proto-jsonl-topic",
        &changed,
        "jsonl",
        300,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a changed value went unnoticed");
    assert!(stderr.contains("-10.25"), "{stderr}");
}

/// The example of docs/kafka.md's Protobuf section, in a connector, passes `sluice validate`; a
/// bad value of one of its settings is named.
#[test]
fn the_docs_example_validates() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/kafka.md")).unwrap();
    let section = doc
        .split("## Schema Registry: the Protobuf converter")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Protobuf section");
    let block = section
        .split("```properties\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an example");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connector.properties");
    let connector = format!(
        "name=proto\nconnector.class=local\nlocal.path={}\ntopic=t\ninput.format=jsonl\n{block}",
        dir.path().display()
    );
    std::fs::write(&path, &connector).unwrap();
    let out = sluice().arg("validate").arg(&path).output().unwrap();
    assert!(out.status.success(), "{connector}\n{}", output_text(&out));
    std::fs::write(
        &path,
        connector.replace("wrapper.for.nullables=true", "wrapper.for.nullables=maybe"),
    )
    .unwrap();
    let out = sluice().arg("validate").arg(&path).output().unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("value.converter.wrapper.for.nullables = \"maybe\""),
        "{text}"
    );
}

/// CSV with typed columns (int64, float64, boolean, date, timestamp, decimal(9,2), strings with
/// quotes and newlines): the expected records are what scripts/sr/source_dump.py reads from the
/// file with Python's csv module.
#[test]
fn csv_typed_decodes_in_python() {
    const TYPES: &str =
        "id:int64,score:float64,ok:boolean,day:date,ts:timestamp,price:decimal(9,2)";
    let source = fixtures().join("csv/table.csv");
    let tmp = workspace_root().join("target/tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let dump = std::process::Command::new(python())
        .arg(workspace_root().join("scripts/sr/source_dump.py"))
        .args(["csv"])
        .arg(&source)
        .args(["--csv-types", TYPES])
        .output()
        .expect("run scripts/sr/source_dump.py");
    assert!(dump.status.success(), "{}", output_text(&dump));
    let expected = tmp.join("protobuf-csv-expected.jsonl");
    std::fs::write(&expected, &dump.stdout).unwrap();
    let registry = TestRegistry::start();
    let url = registry.url();
    let topic = "proto-csv-topic";
    let settings = [
        ("input.format", "csv"),
        ("csv.column.types", TYPES),
        ("value.converter", PROTOBUF),
        ("value.converter.schema.registry.url", url.as_str()),
    ];
    let p = LocalPipeline::start(BrokerKind::Tansu, "proto-csv", &[topic], &settings, &[]);
    std::fs::copy(&source, p.data.join("table.csv")).unwrap();
    let out = backfill(&p.worker, &p.connector);
    assert!(out.status.success(), "{}", output_text(&out));
    let check = python_check(&url, &p.broker.bootstrap(), topic, &expected, "dump", 400);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "the Python check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["decoded"], 400, "{report}");
    assert_eq!(report["equal"], true, "{report}");
}
