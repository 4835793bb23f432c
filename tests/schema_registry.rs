//! The Schema Registry converters end to end: objects → `sluice` (the real binary) with
//! Confluent's `AvroConverter` / `JsonSchemaConverter` → tansu → Confluent's own Python
//! deserializers (confluent-kafka's `AvroDeserializer` / `JSONDeserializer`, against the test
//! registry of `sluice-testkit`), each decoded record compared with the source record as an
//! independent library reads it (fastavro, pyarrow, Python's json and csv modules; see
//! `scripts/sr/`). Also: a registry outage mid-run (nothing lost, nothing duplicated, order kept)
//! and an incompatible schema (a task error naming the subject and the registry's message, or
//! the dead letter queue under `errors.tolerance=all`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_testkit::registry::TestRegistry;
use support::*;

const TOPIC: &str = "sr";
const AVRO: &str = "io.confluent.connect.avro.AvroConverter";
const JSON: &str = "io.confluent.connect.json.JsonSchemaConverter";

fn venv_python(venv: &str, what: &str) -> PathBuf {
    let p = workspace_root()
        .join(".test-servers")
        .join(venv)
        .join("bin/python");
    assert!(
        p.exists(),
        "{} is missing ({what}): run scripts/install-test-servers.sh and scripts/fixtures/generate.sh",
        p.display()
    );
    p
}

fn fixture(rel: &str) -> PathBuf {
    let p = workspace_root().join("target/fixtures").join(rel);
    assert!(
        p.exists(),
        "fixture {} is missing: run scripts/fixtures/generate.sh",
        p.display()
    );
    p
}

fn json_lines(out: std::process::Output, what: &str) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        output_text(&out)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The records of a source file as an independent library reads them.
fn source(format: &str, file: &Path, csv_types: Option<&str>) -> Vec<Value> {
    let mut c = Command::new(venv_python("fixtures-venv", "pyarrow and fastavro"));
    c.arg(workspace_root().join("scripts/sr/source_dump.py"))
        .arg(format)
        .arg(file);
    if let Some(t) = csv_types {
        c.args(["--csv-types", t]);
    }
    json_lines(c.output().unwrap(), "source_dump.py")
}

/// The topic's records decoded by confluent-kafka's deserializer `fmt` (`avro` or `json`).
fn consume(bootstrap: &str, registry: &str, fmt: &str, count: usize) -> Vec<Value> {
    let out = Command::new(venv_python("sr-venv", "confluent-kafka"))
        .arg(workspace_root().join("scripts/sr/consume_check.py"))
        .args([bootstrap, TOPIC, registry, fmt, &count.to_string(), "90"])
        .output()
        .unwrap();
    json_lines(out, "consume_check.py")
}

/// Whether `got` (decoded from Kafka) is `want` (the source record): equal, numbers within
/// float32 precision (a float32 written as JSON text), and the JSON Schema converter's text forms
/// of bytes (base64) and decimals (`decimal.format=NUMERIC`) read back.
fn same(got: &Value, want: &Value) -> bool {
    use base64::Engine as _;
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
        }
        (Value::Object(a), Value::Object(b)) => {
            if let (Some(Value::String(x)), Some(Value::String(y))) =
                (a.get("decimal"), b.get("decimal"))
            {
                return x == y || x.parse::<f64>().ok() == y.parse::<f64>().ok();
            }
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Number(n), Value::Object(o)) if o.contains_key("decimal") => {
            let d: f64 = o["decimal"].as_str().unwrap().parse().unwrap();
            (n.as_f64().unwrap() - d).abs() <= 1e-9 * d.abs().max(1.0)
        }
        (Value::String(s), Value::Object(o)) if o.contains_key("bytes") => {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .is_ok_and(|b| {
                    b.iter().map(|x| format!("{x:02x}")).collect::<String>() == o["bytes"]
                })
        }
        _ => got == want,
    }
}

/// Every record decoded, in the order of its object, equal to its source record.
fn check(got: &[Value], expected: &BTreeMap<String, Vec<Value>>) {
    let total: usize = expected.values().map(Vec::len).sum();
    let mut seen = BTreeSet::new();
    let mut last: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    for g in got {
        let object = g["headers"]["sluice.object.key"]
            .as_str()
            .unwrap()
            .to_owned();
        let index: u64 = g["headers"]["sluice.record.index"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            seen.insert((object.clone(), index)),
            "{object} record {index} twice"
        );
        let want = &expected[&object][index as usize];
        assert!(
            same(&g["value"], want),
            "{object} record {index}:\n  decoded {}\n   source {want}",
            g["value"]
        );
        // One object's records are in one partition, in order.
        let offset = g["offset"].as_i64().unwrap();
        if let Some((o, i)) = last.insert(object.clone(), (offset, index)) {
            assert!(
                o < offset && i < index,
                "{object}: record {index} after {i}"
            );
        }
    }
    assert_eq!(seen.len(), total, "every record once");
}

struct Case {
    format: &'static str,
    file: &'static str,
    settings: &'static [(&'static str, &'static str)],
    csv_types: Option<&'static str>,
}

const CSV_TYPES: &str =
    "id:int64,score:float64,ok:boolean,day:date,ts:timestamp,price:decimal(9,2)";

const CASES: &[Case] = &[
    Case {
        format: "avro",
        file: "avro/everything.null.avro",
        settings: &[],
        csv_types: None,
    },
    Case {
        format: "parquet",
        file: "parquet/types.none.parquet",
        settings: &[],
        csv_types: None,
    },
    Case {
        format: "jsonl",
        file: "jsonl/records.jsonl",
        settings: &[("transformer.json.infer.schema", "true")],
        csv_types: None,
    },
    Case {
        format: "csv",
        file: "csv/table.csv",
        settings: &[("csv.column.types", CSV_TYPES)],
        csv_types: Some(CSV_TYPES),
    },
];

/// Each case through `class`, read back with confluent-kafka's `fmt` deserializer.
fn round_trips(class: &str, fmt: &str, converter: &[(&str, &str)], cases: &[&Case]) {
    for case in cases {
        let reg = TestRegistry::start();
        let url = reg.url();
        let mut settings = vec![
            ("input.format", case.format),
            ("value.converter", class),
            ("value.converter.schema.registry.url", url.as_str()),
        ];
        settings.extend_from_slice(case.settings);
        settings.extend_from_slice(converter);
        let p = LocalPipeline::start(BrokerKind::Tansu, "sr", &[TOPIC], &settings, &[]);
        let src = fixture(case.file);
        let name = Path::new(case.file)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        std::fs::copy(&src, p.data.join(&name)).unwrap();
        let out = backfill(&p.worker, &p.connector);
        assert!(out.status.success(), "{}: {}", case.file, output_text(&out));
        // One registration for the whole object (its records share one schema).
        let registrations = reg.requests();
        let expected = BTreeMap::from([(name, source(case.format, &src, case.csv_types))]);
        let n = expected.values().next().unwrap().len();
        assert!(n > 0);
        let got = consume(&p.broker.bootstrap(), &url, fmt, n);
        println!(
            "{} via {fmt}: {} records decoded, {registrations} registry request(s)",
            case.file,
            got.len()
        );
        assert_eq!(
            registrations, 1,
            "{}: the schema is registered once",
            case.file
        );
        check(&got, &expected);
        let ids: BTreeSet<u64> = got
            .iter()
            .map(|g| g["schema_id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids.len(), 1);
        assert_eq!(reg.subjects(), vec![format!("{TOPIC}-value")]);
    }
}

#[test]
fn avro_converter_bytes_decode_with_confluents_avro_deserializer() {
    round_trips(AVRO, "avro", &[], &CASES.iter().collect::<Vec<_>>());
}

#[test]
fn json_schema_converter_bytes_decode_with_confluents_json_deserializer() {
    let cases: Vec<&Case> = CASES.iter().filter(|c| c.format != "avro").collect();
    round_trips(
        JSON,
        "json",
        &[("value.converter.decimal.format", "NUMERIC")],
        &cases,
    );
}

/// Object `o`'s line `r`: every object has a field of its own (`x<o>`), so each object brings a
/// new schema, registered when its first record is converted.
fn line(o: usize, r: usize) -> String {
    format!(
        "{{\"o\":{o},\"r\":{r},\"id\":\"{o}-{r}\",\"x{o}\":{}}}",
        r * 10
    )
}

fn write_objects(
    dir: &Path,
    objects: std::ops::Range<usize>,
    records: usize,
) -> BTreeMap<String, Vec<Value>> {
    objects
        .map(|o| {
            let key = format!("obj-{o:03}.jsonl");
            let lines: Vec<String> = (0..records).map(|r| line(o, r)).collect();
            std::fs::write(dir.join(&key), lines.join("\n") + "\n").unwrap();
            let values = lines
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            (key, values)
        })
        .collect()
}

/// Records on the topic, counted with the Rust consumer (no registry needed).
fn count(bootstrap: &str, idle: Duration) -> usize {
    consume_all(bootstrap, &[TOPIC], usize::MAX, idle).len()
}

#[test]
fn a_registry_outage_mid_run_loses_nothing_and_keeps_order() {
    const RECORDS: usize = 300;
    let mut reg = TestRegistry::start();
    let url = reg.url();
    let p = LocalPipeline::start(
        BrokerKind::Tansu,
        "sr-outage",
        &[TOPIC],
        &[
            ("value.converter", AVRO),
            ("value.converter.schema.registry.url", url.as_str()),
            ("transformer.json.infer.schema", "true"),
        ],
        &[],
    );
    let mut expected = write_objects(&p.data, 0..3, RECORDS);
    let mut run = spawn_run(&p.worker, &p.connector);
    let bootstrap = p.broker.bootstrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while consume_all(&bootstrap, &[TOPIC], 3 * RECORDS, Duration::from_secs(3)).len() < 3 * RECORDS
    {
        assert!(Instant::now() < deadline, "the first objects never arrived");
    }
    // The registry goes away; new objects bring new schemas that need it.
    reg.stop();
    expected.extend(write_objects(&p.data, 3..6, RECORDS));
    std::thread::sleep(Duration::from_secs(10));
    let during = count(&bootstrap, Duration::from_secs(2));
    assert_eq!(
        during,
        3 * RECORDS,
        "no record of a new schema is sent without its id"
    );
    reg.restart();
    let got = consume(&bootstrap, &url, "avro", 6 * RECORDS);
    run.terminate();
    println!("after the outage: {} records decoded", got.len());
    check(&got, &expected);
    assert_eq!(reg.versions(&format!("{TOPIC}-value")).len(), 6);
}

#[test]
fn an_incompatible_schema_is_a_task_error_naming_the_subject_or_goes_to_the_dead_letter_queue() {
    // The subject already holds a schema whose `o` is a string; the inferred one has a long.
    let incompatible = r#"{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro","fields":[{"name":"o","type":["null","string"],"default":null}]}"#;
    for tolerance in ["none", "all"] {
        let reg = TestRegistry::start();
        reg.register(&format!("{TOPIC}-value"), "AVRO", incompatible)
            .unwrap();
        let url = reg.url();
        let mut settings = vec![
            ("value.converter", AVRO),
            ("value.converter.schema.registry.url", url.as_str()),
            ("transformer.json.infer.schema", "true"),
            ("errors.tolerance", tolerance),
        ];
        if tolerance == "all" {
            settings.push(("errors.deadletterqueue.topic.name", "dlq"));
        }
        let p = LocalPipeline::start(BrokerKind::Tansu, "sr-409", &[TOPIC, "dlq"], &settings, &[]);
        write_objects(&p.data, 0..2, 50);
        let out = backfill(&p.worker, &p.connector);
        let text = output_text(&out);
        let bootstrap = p.broker.bootstrap();
        if tolerance == "none" {
            assert!(!out.status.success(), "{text}");
            assert!(
                text.contains("\"sr-value\""),
                "the subject is named: {text}"
            );
            assert!(
                text.contains("Schema being registered is incompatible with an earlier schema"),
                "the registry's message: {text}"
            );
            assert_eq!(count(&bootstrap, Duration::from_secs(3)), 0);
        } else {
            assert!(out.status.success(), "{text}");
            let dlq = consume_all(&bootstrap, &["dlq"], 100, Duration::from_secs(10));
            assert_eq!(dlq.len(), 100, "every record in the dead letter queue");
            assert_eq!(count(&bootstrap, Duration::from_secs(2)), 0);
        }
        assert_eq!(reg.versions(&format!("{TOPIC}-value")).len(), 1);
    }
}

/// The connector example of docs/kafka.md's Schema Registry section passes `sluice validate`
/// (its worker examples are checked with the others by tests/kafka_security.rs).
#[test]
fn the_schema_registry_connector_example_validates() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/kafka.md")).unwrap();
    let section = doc
        .split("## Schema Registry")
        .nth(1)
        .and_then(|s| s.split("## What the tests prove").next())
        .expect("a Schema Registry section");
    let blocks: Vec<&str> = section
        .split("```properties\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    assert_eq!(blocks.len(), 3, "{blocks:?}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("exports")).unwrap();
    let connectors: Vec<&&str> = blocks
        .iter()
        .filter(|b| b.contains("connector.class="))
        .collect();
    assert_eq!(connectors.len(), 1);
    for (i, block) in connectors.iter().enumerate() {
        let path = dir.path().join(format!("connector-{i}.properties"));
        std::fs::write(
            &path,
            block.replace("/var/lib/sluice/", &format!("{}/", dir.path().display())),
        )
        .unwrap();
        let out = sluice().arg("validate").arg(&path).output().unwrap();
        assert!(out.status.success(), "{block}\n{}", output_text(&out));
        // A wrong setting is named with the nearest right one.
        std::fs::write(
            &path,
            block
                .replace("/var/lib/sluice/", &format!("{}/", dir.path().display()))
                .replace("use.latest.version", "use.latest.versions"),
        )
        .unwrap();
        let out = sluice().arg("validate").arg(&path).output().unwrap();
        let text = output_text(&out);
        assert!(!out.status.success());
        assert!(
            text.contains("did you mean value.converter.use.latest.version"),
            "{text}"
        );
    }
}
