//! The transformer conformance suite: every format × compression against files written by
//! independent implementations (pyarrow, fastavro, Python's codecs; see
//! `scripts/fixtures/generate.py`, run on demand through `scripts/fixtures/generate.sh`).
//!
//! For each case of the generator's manifest: the number of records, the mapped Connect schema
//! (as Kafka Connect's `JsonConverter` writes it), the exact payload of sample records, resuming
//! at several record indexes (exactly the records from there on, no duplicate, no gap), and for
//! corrupt inputs the errors (record index, recoverable or not, cause) and the records still read
//! around them.
//!
//! The heavy memory test (`peak_memory_stays_bounded_on_a_1_gib_object`) is ignored by default:
//! `cargo test --release -p sluice-transformers --test conformance -- --ignored --nocapture`.
// Measurements and diagnostics go to the test log.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use futures::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value as Json;
use sluice_core::config::{ConnectorConfig, Registry};
use sluice_core::convert::{Converter, JsonConverter};
use sluice_core::object::ObjectInput;
use sluice_transformers::{build, TransformerOptions};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fixtures folder, generated once per test run (the script does nothing when it is current).
fn fixtures() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("SLUICE_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("target/fixtures"));
        let status = std::process::Command::new(repo().join("scripts/fixtures/generate.sh"))
            .arg(&dir)
            .status()
            .expect("run scripts/fixtures/generate.sh (needs python3 with venv and pip)");
        assert!(status.success(), "scripts/fixtures/generate.sh failed");
        dir
    })
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    file: String,
    format: String,
    settings: BTreeMap<String, String>,
    count: Option<usize>,
    schema: Option<Option<Json>>,
    samples: BTreeMap<u64, Json>,
    resume: Vec<u64>,
    errors: Vec<ExpectedError>,
    ok_count: Option<usize>,
}

#[derive(Debug, Clone)]
struct ExpectedError {
    /// `None`: the last item.
    index: Option<u64>,
    recoverable: bool,
    contains: String,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).expect("manifest");
    let manifest: Json = serde_json::from_str(&text).expect("manifest JSON");
    manifest["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_owned(),
            file: c["file"].as_str().unwrap().to_owned(),
            format: c["format"].as_str().unwrap().to_owned(),
            settings: c["settings"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
            count: c["count"].as_u64().map(|n| n as usize),
            schema: match &c["schema"] {
                Json::String(s) if s == "any" => None,
                Json::Null => Some(None),
                other => Some(Some(other.clone())),
            },
            samples: c["samples"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.clone()))
                .collect(),
            resume: c["resume"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect(),
            errors: c["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| ExpectedError {
                    index: e["index"].as_u64(),
                    recoverable: e["recoverable"].as_bool().unwrap(),
                    contains: e["contains"].as_str().unwrap().to_owned(),
                })
                .collect(),
            ok_count: c["ok_count"].as_u64().map(|n| n as usize),
        })
        .collect()
}

/// One item read: the record's index (as the source task counts it), and its envelope or error.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    index: u64,
    result: Result<Json, (bool, String)>,
}

fn options(case: &Case) -> TransformerOptions {
    let mut settings: BTreeMap<String, String> = [
        ("name", "conformance"),
        ("connector.class", "local"),
        ("local.path", "/nonexistent"),
        ("topic", "t"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    settings.insert("input.format".into(), case.format.clone());
    settings.extend(case.settings.clone());
    let registry = Registry::new(
        sluice_core::config::CONNECTOR_SETS
            .into_iter()
            .chain(sluice_sources::keys())
            .chain(sluice_transformers::keys()),
    )
    .unwrap();
    let config = ConnectorConfig::from_settings(&registry, &settings)
        .unwrap_or_else(|e| panic!("{}: invalid settings: {e}", case.name));
    TransformerOptions::from_config(&config)
        .unwrap_or_else(|e| panic!("{}: invalid options: {e}", case.name))
}

async fn input(case: &Case) -> ObjectInput {
    let data = std::fs::read(fixtures().join(&case.file)).expect("fixture file");
    let store = Arc::new(InMemory::new());
    let path = Path::from(case.file.as_str());
    store.put(&path, data.into()).await.unwrap();
    let meta = store.head(&path).await.unwrap();
    ObjectInput::new("fixtures", store as Arc<dyn ObjectStore>, meta)
}

async fn read(case: &Case, input: &ObjectInput, skip: u64) -> Vec<Item> {
    let t = build(&case.format, &options(case)).unwrap();
    let converter = JsonConverter::default();
    let mut next = skip;
    let mut out = Vec::new();
    let mut stream = t.transform(input.clone(), skip);
    while let Some(item) = stream.next().await {
        out.push(match item {
            Ok(sv) => {
                let bytes = converter
                    .from_connect_data("t", &sv)
                    .unwrap_or_else(|e| {
                        panic!("{}: record {next} does not convert: {e}", case.name)
                    })
                    .unwrap_or_default();
                let index = next;
                next += 1;
                Item {
                    index,
                    result: Ok(serde_json::from_slice(&bytes).unwrap()),
                }
            }
            Err(sluice_core::Error::Record {
                record_index,
                recoverable,
                ref object,
                ..
            }) if object == &case.file => {
                next = record_index + 1;
                Item {
                    index: record_index,
                    result: Err((recoverable, item.unwrap_err().to_string())),
                }
            }
            Err(other) => panic!("{}: not a record error: {other}", case.name),
        });
    }
    out
}

/// JSON equality where numbers that are not both integers compare as f64 within 1e-6 (float32
/// values print differently in Java and Python).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return x == y;
            }
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0)
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Checks one case; the problems found, empty when it conforms.
async fn check(case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let input = input(case).await;
    let items = read(case, &input, 0).await;
    let oks = items.iter().filter(|i| i.result.is_ok()).count();
    if let Some(count) = case.count {
        if items.len() != count {
            problems.push(format!("{} items, expected {count}", items.len()));
        }
    }
    if let Some(ok) = case.ok_count {
        if oks != ok {
            problems.push(format!("{oks} records, expected {ok}"));
        }
    }
    // Errors: the expected ones, in order, and no other.
    let errors: Vec<&Item> = items.iter().filter(|i| i.result.is_err()).collect();
    if errors.len() != case.errors.len() {
        problems.push(format!(
            "{} errors, expected {}: {:?}",
            errors.len(),
            case.errors.len(),
            errors.iter().map(|e| &e.result).collect::<Vec<_>>()
        ));
    }
    for (expected, actual) in case.errors.iter().zip(&errors) {
        let (recoverable, message) = actual.result.clone().unwrap_err();
        let index_ok = match expected.index {
            Some(i) => actual.index == i,
            None => std::ptr::eq(*actual, items.last().unwrap()),
        };
        if !index_ok
            || recoverable != expected.recoverable
            || !message
                .to_lowercase()
                .contains(&expected.contains.to_lowercase())
            || !message.contains(&format!("record {}", actual.index))
        {
            problems.push(format!(
                "error {:?} does not match the expected {expected:?}",
                (actual.index, recoverable, &message)
            ));
        }
    }
    // Schema: the same for every record, the expected one.
    if let Some(expected) = &case.schema {
        let expected = expected.clone().unwrap_or(Json::Null);
        for item in &items {
            if let Ok(envelope) = &item.result {
                if !same(&envelope["schema"], &expected) {
                    problems.push(format!(
                        "record {} has schema\n  {}\nexpected\n  {}",
                        item.index, envelope["schema"], expected
                    ));
                    break;
                }
            }
        }
    }
    // Sample values.
    for (index, expected) in &case.samples {
        match items.iter().find(|i| i.index == *index) {
            Some(Item {
                result: Ok(envelope),
                ..
            }) => {
                if !same(&envelope["payload"], expected) {
                    problems.push(format!(
                        "record {index} is\n  {}\nexpected\n  {expected}",
                        envelope["payload"]
                    ));
                }
            }
            other => problems.push(format!("record {index}: {other:?}")),
        }
    }
    // Resume: exactly the items from the index on.
    for &skip in &case.resume {
        let resumed = read(case, &input, skip).await;
        let expected: Vec<&Item> = items.iter().filter(|i| i.index >= skip).collect();
        if resumed.len() != expected.len() || resumed.iter().zip(&expected).any(|(a, b)| a != *b) {
            problems.push(format!(
                "resuming at {skip}: {} items (first {:?}), expected {} (first {:?})",
                resumed.len(),
                resumed.first().map(|i| i.index),
                expected.len(),
                expected.first().map(|i| i.index)
            ));
        }
    }
    problems
}

async fn check_format(format: &str) {
    let cases: Vec<Case> = cases().into_iter().filter(|c| c.format == format).collect();
    assert!(!cases.is_empty(), "no {format} cases in the manifest");
    let mut failures = Vec::new();
    for case in &cases {
        let problems = check(case).await;
        if !problems.is_empty() {
            failures.push(format!(
                "{} ({}):\n    {}",
                case.name,
                case.file,
                problems.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {format} cases fail:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
    eprintln!("{format}: {} cases conform", cases.len());
}

#[tokio::test]
async fn avro_conforms() {
    check_format("avro").await;
}

#[tokio::test]
async fn parquet_conforms() {
    check_format("parquet").await;
}

#[tokio::test]
async fn jsonl_conforms() {
    check_format("jsonl").await;
}

#[tokio::test]
async fn json_conforms() {
    check_format("json").await;
}

#[tokio::test]
async fn csv_conforms() {
    check_format("csv").await;
}

#[tokio::test]
async fn text_conforms() {
    check_format("text").await;
}

#[tokio::test]
async fn bytes_conforms() {
    check_format("bytes").await;
}

/// The manifest covers what the issue asks: every streamed format with every codec, every Avro
/// and Parquet codec, empty and one-record files, the large files, the corrupt cases.
#[test]
fn the_fixtures_cover_every_format_codec_and_corrupt_case() {
    let cases = cases();
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    for format in ["jsonl", "json", "csv", "text"] {
        for codec in ["none", "gzip", "zstd", "snappy", "bzip2", "lz4", "deflate"] {
            let found = cases.iter().any(|c| {
                c.format == format
                    && c.settings
                        .get("file.compression.type")
                        .map_or("none", String::as_str)
                        == codec
            });
            assert!(found, "no {format} case with {codec}");
        }
    }
    for name in [
        "avro-null",
        "avro-deflate",
        "avro-snappy",
        "avro-zstandard",
        "avro-bzip2",
        "avro-xz",
        "parquet-none",
        "parquet-snappy",
        "parquet-gzip",
        "parquet-zstd",
        "parquet-lz4",
        "parquet-brotli",
        "avro-empty",
        "avro-one",
        "parquet-empty",
        "parquet-one",
        "jsonl-empty",
        "jsonl-one",
        "csv-empty",
        "csv-one",
        "avro-many-blocks",
        "parquet-many-row-groups",
        "jsonl-gzip-multi-member",
        "avro-bad-magic",
        "avro-truncated",
        "avro-damaged-block",
        "avro-recursive-schema",
        "parquet-bad-magic",
        "parquet-truncated",
        "parquet-damaged-row-group",
        "jsonl-corrupt-lines",
        "jsonl-truncated-gzip",
        "jsonl-snappy-bad-checksum",
        "csv-corrupt",
        "json-corrupt",
        "text-bad-utf8",
    ] {
        assert!(names.contains(&name), "missing case {name}");
    }
}

/// Peak memory while reading a 1 GiB JSONL object and a 1 GiB Parquet object (written here, into
/// a temporary folder, read through object_store's local file system): RSS may grow by less than
/// 200 MB. Heavy: run it explicitly, in release mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: writes and reads 2 GiB; run with --ignored in release mode"]
async fn peak_memory_stays_bounded_on_a_1_gib_object() {
    use object_store::local::LocalFileSystem;
    use std::io::Write;

    const GIB: u64 = 1 << 30;
    let dir = tempfile::tempdir().unwrap();
    // JSONL: about 1 GiB of records.
    let jsonl = dir.path().join("big.jsonl");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&jsonl).unwrap());
        let mut written = 0u64;
        let mut i = 0u64;
        while written < GIB {
            let line = format!(
                "{{\"id\":{i},\"name\":\"record number {i}\",\"payload\":\"{}\",\"tags\":[1,2,3]}}\n",
                "x".repeat(200)
            );
            w.write_all(line.as_bytes()).unwrap();
            written += line.len() as u64;
            i += 1;
        }
        w.flush().unwrap();
    }
    // Parquet: about 1 GiB in ~50 row groups, written batch by batch.
    let parquet = dir.path().join("big.parquet");
    {
        use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
        let file = std::fs::File::create(&parquet).unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(400_000))
            .set_dictionary_enabled(false)
            .build();
        let mut writer = None;
        let mut rows = 0i64;
        while std::fs::metadata(&parquet).map(|m| m.len()).unwrap_or(0) < GIB {
            let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(rows..rows + 50_000));
            let names: ArrayRef = Arc::new(StringArray::from_iter_values(
                (rows..rows + 50_000)
                    .map(|i| format!("{i:>12}-{}", "y".repeat(40 + (i % 7) as usize))),
            ));
            let batch = RecordBatch::try_from_iter(vec![("id", ids), ("name", names)]).unwrap();
            let w = writer.get_or_insert_with(|| {
                parquet::arrow::ArrowWriter::try_new(
                    file.try_clone().unwrap(),
                    batch.schema(),
                    Some(props.clone()),
                )
                .unwrap()
            });
            w.write(&batch).unwrap();
            w.flush().unwrap();
            rows += 50_000;
        }
        writer.unwrap().close().unwrap();
    }
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    for (name, format) in [("big.jsonl", "jsonl"), ("big.parquet", "parquet")] {
        let meta = store.head(&Path::from(name)).await.unwrap();
        let input = ObjectInput::new("tmp", store.clone(), meta.clone());
        let t = build(format, &TransformerOptions::default()).unwrap();
        let before = rss();
        let mut peak = before;
        let mut n = 0u64;
        let started = std::time::Instant::now();
        let mut records = t.transform(input, 0);
        while let Some(r) = records.next().await {
            r.unwrap();
            n += 1;
            if n % 20_000 == 0 {
                peak = peak.max(rss());
            }
        }
        peak = peak.max(rss());
        let growth = peak.saturating_sub(before);
        eprintln!(
            "{format}: {} MiB object, {n} records in {:.1} s, RSS {} MiB before, peak {} MiB, growth {} MiB",
            meta.size >> 20,
            started.elapsed().as_secs_f64(),
            before >> 20,
            peak >> 20,
            growth >> 20
        );
        assert!(meta.size >= GIB, "{format}: object too small");
        assert!(
            growth < 200 * 1000 * 1000,
            "{format}: RSS grew by {} MiB",
            growth >> 20
        );
    }
}

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
