//! `sluice demo`: the whole pipeline with nothing installed — sample objects in a temporary
//! folder, librdkafka's in-process mock cluster as Kafka, a consumer reading the result back.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use sluice_core::config::{ConnectorConfig, Settings, WorkerConfig};
use sluice_worker::{Mode, Worker};

const TOPICS: &[&str] = &["orders", "clicks", "payments"];
const PARTITIONS: i32 = 4;

fn settings(pairs: &[(&str, String)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Writes `objects` jsonl objects named `<topic>-<partition>-<start offset>.jsonl`.
fn write_objects(dir: &std::path::Path, objects: usize, records: usize) -> anyhow::Result<u64> {
    let mut bytes = 0;
    for i in 0..objects {
        let topic = TOPICS[i % TOPICS.len()];
        let partition = (i / TOPICS.len()) as i32 % PARTITIONS;
        let start = (i / (TOPICS.len() * PARTITIONS as usize)) * records;
        let name = format!("{topic}-{partition}-{start:010}.jsonl");
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(&name))?);
        for r in 0..records {
            let line = format!(
                "{{\"id\":{},\"topic\":\"{topic}\",\"object\":\"{name}\",\"amount\":{}.{:02},\"ok\":{}}}\n",
                start + r,
                (r * 37) % 1000,
                r % 100,
                r % 7 != 0
            );
            bytes += line.len() as u64;
            f.write_all(line.as_bytes())?;
        }
        f.flush()?;
    }
    Ok(bytes)
}

/// Reads every partition of `topics` from the beginning until `expected` records arrived or
/// nothing new came for a while.
fn consume(
    bootstrap: &str,
    topics: &[&str],
    expected: u64,
) -> anyhow::Result<Vec<rdkafka::message::OwnedMessage>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "sluice-demo-reader")
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(t, p, Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl)?;
    let mut out = Vec::new();
    let mut last = Instant::now();
    while (out.len() as u64) < expected && last.elapsed() < Duration::from_secs(10) {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            out.push(m?.detach());
            last = Instant::now();
        }
    }
    Ok(out)
}

/// The folder the demo writes to: `keep` (created; it must be new or empty, since offsets from
/// an earlier run would make the backfill skip everything) or a temporary one.
enum Folder {
    Kept(std::path::PathBuf),
    Temporary(tempfile::TempDir),
}

impl Folder {
    fn new(keep: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let Some(dir) = keep else {
            return Ok(Folder::Temporary(tempfile::tempdir()?));
        };
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            anyhow::bail!(
                "--keep {}: the folder is not empty (it may hold an earlier demo's offsets, which would make this run skip every object); give a new or empty folder",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir)?;
        Ok(Folder::Kept(dir.to_owned()))
    }

    fn path(&self) -> &std::path::Path {
        match self {
            Folder::Kept(p) => p,
            Folder::Temporary(t) => t.path(),
        }
    }
}

/// The pairs as a `.properties` file's text.
fn properties(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Runs the demo and prints what landed. With `keep`, the sample objects, the offsets and the
/// worker and connector files stay in that folder.
pub async fn run(
    objects: usize,
    records: usize,
    keep: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let folder = Folder::new(keep)?;
    let root = folder.path();
    let data = root.join("objects");
    std::fs::create_dir_all(&data)?;
    let bytes = write_objects(&data, objects, records)?;
    println!(
        "wrote {objects} objects ({records} jsonl records each, {:.1} MB) to {}",
        bytes as f64 / 1e6,
        data.display()
    );
    let cluster = MockCluster::new(1)?;
    for t in TOPICS {
        cluster.create_topic(t, PARTITIONS, 1)?;
    }
    let bootstrap = cluster.bootstrap_servers();
    println!("started an in-process Kafka (librdkafka mock cluster) at {bootstrap}");

    let worker_pairs = [
        ("bootstrap.servers", bootstrap.clone()),
        (
            "offset.storage.file.filename",
            root.join("offsets.jsonl").display().to_string(),
        ),
        ("offset.flush.interval.ms", "1000".into()),
        ("value.converter.schemas.enable", "false".into()),
    ];
    let connector_pairs = [
        ("name", "demo".into()),
        ("connector.class", "local".into()),
        ("local.path", data.display().to_string()),
        // The demo writes its sample files whole before it starts, so they need not settle
        // first (a real folder keeps the default: files are read once 5 s unmodified).
        ("local.file.min.age.ms", "0".into()),
        (
            "file.name.template",
            "{{topic}}-{{partition}}-{{start_offset}}.jsonl".into(),
        ),
        ("distribution.type", "partition".into()),
        ("tasks.max", "2".into()),
        ("input.format", "jsonl".into()),
    ];
    let (worker_text, connector_text) = (properties(&worker_pairs), properties(&connector_pairs));
    match &folder {
        Folder::Kept(dir) => {
            std::fs::write(dir.join("worker.properties"), &worker_text)?;
            std::fs::write(dir.join("connector.properties"), &connector_text)?;
            println!(
                "configuration (kept in {0}/worker.properties and {0}/connector.properties; the in-process Kafka is gone after the demo, so point bootstrap.servers at a real broker to reuse them):",
                dir.display()
            );
        }
        Folder::Temporary(_) => println!(
            "configuration (the folder is removed on exit; `sluice demo --keep DIR` keeps it):"
        ),
    }
    println!("# worker.properties\n{worker_text}# connector.properties\n{connector_text}");
    let worker = WorkerConfig::from_settings(&settings(&worker_pairs))?;
    let connector = ConnectorConfig::from_settings(
        &sluice_worker::registry::current(),
        &settings(&connector_pairs),
    )?;
    let worker = Worker::new(worker, Mode::Backfill).await?;
    worker.create(connector).await?;
    worker.wait_idle().await;
    let summary = worker.summary("demo")?;
    worker.shutdown().await;
    let m = summary.metrics;
    let secs = summary.elapsed.as_secs_f64();
    println!(
        "backfill: {} objects, {} records delivered in {:.2} s ({:.0} records/s, {:.1} MB/s of input)",
        m.objects_finished,
        m.records_acked,
        secs,
        m.records_acked as f64 / secs,
        m.bytes_read as f64 / 1e6 / secs
    );
    if !summary.ok() {
        anyhow::bail!("a task failed: {:?}", summary.tasks);
    }

    let expected = (objects * records) as u64;
    let messages =
        tokio::task::spawn_blocking(move || consume(&bootstrap, TOPICS, expected)).await??;
    let mut per_topic: BTreeMap<String, u64> = BTreeMap::new();
    for m in &messages {
        *per_topic.entry(m.topic().to_owned()).or_default() += 1;
    }
    println!("read back {} records from Kafka:", messages.len());
    for (t, n) in &per_topic {
        println!("  {t:<10} {n:>8} records");
    }
    println!("a few of them:");
    for m in messages.iter().step_by((messages.len() / 3).max(1)).take(3) {
        let headers: Vec<String> = m
            .headers()
            .map(|h| {
                use rdkafka::message::Headers;
                h.iter()
                    .map(|h| {
                        format!(
                            "{}={}",
                            h.key,
                            String::from_utf8_lossy(h.value.unwrap_or_default())
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "  {}[{}]@{} key={} value={} headers={}",
            m.topic(),
            m.partition(),
            m.offset(),
            String::from_utf8_lossy(m.key().unwrap_or_default()),
            String::from_utf8_lossy(m.payload().unwrap_or_default()),
            headers.join(",")
        );
    }
    if messages.len() as u64 != expected {
        anyhow::bail!(
            "expected {expected} records in Kafka, found {}",
            messages.len()
        );
    }
    println!("all {expected} records landed where a Kafka Connect source would put them.");
    Ok(())
}
