//! Benchmark data: generated once under `target/bench-data/<quick|full>/<dataset>/objects/`
//! (skipped when a `.complete` marker with the same parameters is there), a manifest of what
//! each object holds, and the raw read limit. The storage emulators are in `stores.rs`.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;

/// How the objects of a dataset are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// One JSON object per line, ~1 KiB each.
    Jsonl,
    /// A header row, then ~1 KiB rows.
    Csv,
    /// Avro object container file (null codec).
    Avro,
    /// Parquet (snappy pages, row groups of 16384 rows).
    Parquet,
}

/// What to generate.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// Folder name.
    pub name: &'static str,
    /// Encoding.
    pub encoding: Encoding,
    /// Number of objects.
    pub objects: usize,
    /// Records per object.
    pub records: u64,
    /// Keys spread over folders of 1000 (`dNNN/obj-NNNNNN.ext`) instead of `part-NNNNN.ext`.
    pub sharded: bool,
}

/// One generated object.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    /// Key, relative to the dataset's objects folder.
    pub key: String,
    /// Records it holds (rows, lines).
    pub records: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// A generated dataset.
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    /// Name (also the S3 prefix, with a trailing `/`).
    pub name: String,
    /// The folder holding the objects (`local.path`).
    pub root: PathBuf,
    /// Its objects in key order.
    pub objects: Vec<Object>,
}

impl Dataset {
    /// Total bytes.
    pub(crate) fn bytes(&self) -> u64 {
        self.objects.iter().map(|o| o.bytes).sum()
    }

    /// Records when read as `chunk`-byte chunks (bytes format) or as records.
    pub(crate) fn records(&self, chunk: Option<u64>) -> u64 {
        self.objects
            .iter()
            .map(|o| match chunk {
                Some(c) => o.bytes.div_ceil(c),
                None => o.records,
            })
            .sum()
    }

    /// `key<TAB>records` lines for the raw producer, keys as the backend names them.
    pub(crate) fn manifest_for(&self, key_prefix: &str, chunk: Option<u64>) -> String {
        let mut s = String::new();
        for o in &self.objects {
            let n = match chunk {
                Some(c) => o.bytes.div_ceil(c),
                None => o.records,
            };
            let _ = writeln!(s, "{key_prefix}{}\t{n}", o.key);
        }
        s
    }
}

const POOL: usize = 1 << 16;

/// Alphanumeric noise (fixed seed), so payloads do not compress to nothing.
fn noise() -> Vec<u8> {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..POOL)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALNUM[(x % ALNUM.len() as u64) as usize]
        })
        .collect()
}

/// One record's fields.
struct Row<'a> {
    id: u64,
    object: u32,
    index: u64,
    ts: String,
    user: String,
    tier: &'static str,
    amount: f64,
    currency: &'static str,
    ok: bool,
    payload: &'a str,
}

const TIERS: [&str; 4] = ["free", "silver", "gold", "platinum"];
const CURRENCIES: [&str; 3] = ["EUR", "USD", "JPY"];
/// Bytes of a jsonl line (with its newline) and of a csv row.
const RECORD_SIZE: usize = 1024;

fn row<'a>(pool: &'a str, object: u32, index: u64, id: u64, payload_len: usize) -> Row<'a> {
    let ms = (id * 37) % 86_400_000;
    let off = ((id * 7919) as usize) % (POOL - 2048);
    Row {
        id,
        object,
        index,
        ts: format!(
            "2024-05-01T{:02}:{:02}:{:02}.{:03}Z",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        ),
        user: format!("user-{:06}", id % 1_000_003),
        tier: TIERS[(id % 4) as usize],
        amount: ((id * 7) % 100_000) as f64 / 100.0 + 1.0,
        currency: CURRENCIES[(id % 3) as usize],
        ok: id % 7 != 0,
        payload: &pool[off..off + payload_len],
    }
}

fn jsonl_line(out: &mut String, r: &Row<'_>) {
    let _ = write!(
        out,
        "{{\"id\":{},\"object\":{},\"index\":{},\"ts\":\"{}\",\"user\":\"{}\",\"tier\":\"{}\",\"amount\":{},\"currency\":\"{}\",\"ok\":{},\"tags\":[\"alpha\",\"beta\"],\"payload\":\"{}\"}}",
        r.id, r.object, r.index, r.ts, r.user, r.tier, ryu_like(r.amount), r.currency, r.ok, r.payload
    );
}

fn csv_line(out: &mut String, r: &Row<'_>) {
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},{},{},{}",
        r.id,
        r.object,
        r.index,
        r.ts,
        r.user,
        r.tier,
        ryu_like(r.amount),
        r.currency,
        r.ok,
        r.payload
    );
}

/// Shortest round-trip float text, as serde_json (ryu) and Python print it.
fn ryu_like(x: f64) -> String {
    let s = format!("{x}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Payload length that makes a jsonl line (with its newline) [`RECORD_SIZE`] bytes.
fn payload_len_for(encoding: Encoding, pool: &str, object: u32, index: u64, id: u64) -> usize {
    let r = row(pool, object, index, id, 0);
    let mut s = String::new();
    match encoding {
        Encoding::Csv => csv_line(&mut s, &r),
        _ => jsonl_line(&mut s, &r),
    }
    RECORD_SIZE.saturating_sub(s.len() + 1).max(16)
}

const AVRO_SCHEMA: &str = r#"{"type":"record","name":"BenchRecord","namespace":"sluice.bench","fields":[
 {"name":"id","type":"long"},{"name":"object","type":"int"},{"name":"index","type":"long"},
 {"name":"ts","type":"string"},{"name":"user","type":"string"},{"name":"tier","type":"string"},
 {"name":"amount","type":"double"},{"name":"currency","type":"string"},{"name":"ok","type":"boolean"},
 {"name":"payload","type":"string"}]}"#;

fn key_of(spec: &Spec, i: usize) -> String {
    let ext = match spec.encoding {
        Encoding::Jsonl => "jsonl",
        Encoding::Csv => "csv",
        Encoding::Avro => "avro",
        Encoding::Parquet => "parquet",
    };
    if spec.sharded {
        format!("d{:03}/obj-{i:06}.{ext}", i / 1000)
    } else {
        format!("part-{i:05}.{ext}")
    }
}

fn write_object(spec: &Spec, pool: &str, i: usize, path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::File::create(path)?;
    let base = i as u64 * spec.records;
    match spec.encoding {
        Encoding::Jsonl | Encoding::Csv => {
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let mut line = String::with_capacity(2048);
            if spec.encoding == Encoding::Csv {
                writeln!(w, "id,object,index,ts,user,tier,amount,currency,ok,payload")?;
            }
            for index in 0..spec.records {
                let id = base + index;
                let len = payload_len_for(spec.encoding, pool, i as u32, index, id);
                let r = row(pool, i as u32, index, id, len);
                line.clear();
                if spec.encoding == Encoding::Csv {
                    csv_line(&mut line, &r);
                } else {
                    jsonl_line(&mut line, &r);
                }
                line.push('\n');
                w.write_all(line.as_bytes())?;
            }
            w.flush()?;
        }
        Encoding::Avro => {
            use apache_avro::types::Value;
            let schema = apache_avro::Schema::parse_str(AVRO_SCHEMA)?;
            let mut w = apache_avro::Writer::with_codec(
                &schema,
                BufWriter::with_capacity(1 << 20, file),
                apache_avro::Codec::Null,
            )?;
            for index in 0..spec.records {
                let id = base + index;
                let len = payload_len_for(spec.encoding, pool, i as u32, index, id);
                let r = row(pool, i as u32, index, id, len);
                w.append_value(Value::Record(vec![
                    ("id".into(), Value::Long(r.id as i64)),
                    ("object".into(), Value::Int(r.object as i32)),
                    ("index".into(), Value::Long(r.index as i64)),
                    ("ts".into(), Value::String(r.ts)),
                    ("user".into(), Value::String(r.user)),
                    ("tier".into(), Value::String(r.tier.into())),
                    ("amount".into(), Value::Double(r.amount)),
                    ("currency".into(), Value::String(r.currency.into())),
                    ("ok".into(), Value::Boolean(r.ok)),
                    ("payload".into(), Value::String(r.payload.into())),
                ]))?;
            }
            w.into_inner()?.flush()?;
        }
        Encoding::Parquet => write_parquet(spec, pool, i, file)?,
    }
    Ok(())
}

fn write_parquet(spec: &Spec, pool: &str, i: usize, file: std::fs::File) -> anyhow::Result<()> {
    use arrow_array::{
        ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    };
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("object", DataType::Int32, false),
        Field::new("index", DataType::Int64, false),
        Field::new("ts", DataType::Utf8, false),
        Field::new("user", DataType::Utf8, false),
        Field::new("tier", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("ok", DataType::Boolean, false),
        Field::new("payload", DataType::Utf8, false),
    ]));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(16384))
        .build();
    let mut w = ArrowWriter::try_new(BufWriter::new(file), schema.clone(), Some(props))?;
    let base = i as u64 * spec.records;
    let mut start = 0u64;
    while start < spec.records {
        let end = (start + 8192).min(spec.records);
        let rows: Vec<Row<'_>> = (start..end)
            .map(|index| {
                let id = base + index;
                let len = payload_len_for(spec.encoding, pool, i as u32, index, id);
                row(pool, i as u32, index, id, len)
            })
            .collect();
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.id as i64),
            )),
            Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|r| r.object as i32),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.index as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.ts.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.user.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.tier))),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.amount),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.currency),
            )),
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.ok).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.payload),
            )),
        ];
        w.write(&RecordBatch::try_new(schema.clone(), cols)?)?;
        start = end;
    }
    w.close()?;
    Ok(())
}

fn read_manifest(dir: &Path) -> anyhow::Result<Vec<Object>> {
    std::fs::read_to_string(dir.join("manifest.tsv"))?
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() != 3 {
                bail!("bad manifest line {l:?}");
            }
            Ok(Object {
                key: f[0].to_owned(),
                records: f[1].parse()?,
                bytes: f[2].parse()?,
            })
        })
        .collect()
}

/// Generates `spec` under `base` unless a complete copy with the same parameters is there.
pub(crate) fn ensure(base: &Path, spec: &Spec) -> anyhow::Result<Dataset> {
    let dir = base.join(spec.name);
    let root = dir.join("objects");
    let marker = dir.join(".complete");
    let params = format!("{spec:?} v1");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(params.as_str()) {
        return Ok(Dataset {
            name: spec.name.to_owned(),
            root,
            objects: read_manifest(&dir)?,
        });
    }
    let started = Instant::now();
    eprintln!(
        "generating dataset {} ({} objects x {} records) in {}",
        spec.name,
        spec.objects,
        spec.records,
        dir.display()
    );
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&root)?;
    let pool = String::from_utf8(noise()).expect("ascii");
    let mut manifest = String::new();
    let mut objects = Vec::with_capacity(spec.objects);
    for i in 0..spec.objects {
        let key = key_of(spec, i);
        let path = root.join(&key);
        write_object(spec, &pool, i, &path)?;
        let bytes = std::fs::metadata(&path)?.len();
        let _ = writeln!(manifest, "{key}\t{}\t{bytes}", spec.records);
        objects.push(Object {
            key,
            records: spec.records,
            bytes,
        });
    }
    std::fs::write(dir.join("manifest.tsv"), manifest)?;
    std::fs::write(&marker, params)?;
    eprintln!(
        "  done in {:.1} s ({:.1} MB)",
        started.elapsed().as_secs_f64(),
        objects.iter().map(|o| o.bytes).sum::<u64>() as f64 / 1e6
    );
    Ok(Dataset {
        name: spec.name.to_owned(),
        root,
        objects,
    })
}

/// An empty folder (the idle case's bucket).
pub(crate) fn empty_dir(base: &Path) -> anyhow::Result<PathBuf> {
    let p = base.join("empty/objects");
    if p.exists() {
        std::fs::remove_dir_all(&p)?;
    }
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

/// The restart case's new object: `records` jsonl lines.
pub(crate) fn new_object_bytes(records: u64) -> Vec<u8> {
    let pool = String::from_utf8(noise()).expect("ascii");
    let mut s = String::new();
    for index in 0..records {
        let id = 9_000_000_000 + index;
        let len = payload_len_for(Encoding::Jsonl, &pool, 999_999, index, id);
        jsonl_line(&mut s, &row(&pool, 999_999, index, id, len));
        s.push('\n');
    }
    s.into_bytes()
}

/// The raw read limit: lists and reads every object the connector file's backend sees, through
/// the same `object_store` client Sluice builds, `concurrency` objects at once, and discards
/// the bytes. Prints `read N bytes from M objects`.
pub(crate) async fn raw_read(connector_file: &Path, concurrency: usize) -> anyhow::Result<()> {
    let settings = sluice_core::config::load_file(connector_file)?;
    let cfg = sluice_core::config::ConnectorConfig::from_settings(
        &sluice_worker::registry::builtin(),
        &settings,
    )?;
    let backend = sluice_sources::build_backend(&cfg)?;
    let store = backend.store().clone();
    let (objects, bytes) = backend
        .list(None)
        .map_err(anyhow::Error::from)
        .map_ok(|meta| {
            let store = store.clone();
            async move {
                let mut body = store.get(&meta.location).await?.into_stream();
                let mut n = 0u64;
                while let Some(chunk) = body.next().await {
                    n += chunk?.len() as u64;
                }
                Ok::<u64, anyhow::Error>(n)
            }
        })
        .try_buffer_unordered(concurrency.max(1))
        .try_fold((0u64, 0u64), |(o, b), n| async move { Ok((o + 1, b + n)) })
        .await?;
    println!("read {bytes} bytes from {objects} objects");
    Ok(())
}
