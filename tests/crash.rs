//! Crash and fault tests: a reusable harness runs `sluice run` as a child process against a real
//! Kafka-protocol broker, breaks it (kill -9, broker outage, corrupt or missing offsets) and
//! checks what a consumer reads back. Heavy variants: `SLUICE_HEAVY=1`.
// Measurements and diagnostics go to the test log.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use support::*;

const TOPIC: &str = "ingest";

fn heavy() -> bool {
    std::env::var_os("SLUICE_HEAVY").is_some()
}

/// A tiny deterministic PRNG (xorshift), so a failing run can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Offsets {
    File,
    Topic,
}

struct Harness {
    broker: Broker,
    dir: tempfile::TempDir,
    worker: PathBuf,
    connector: PathBuf,
    /// (object, records) written.
    objects: Vec<(String, usize)>,
}

impl Harness {
    fn new(
        kind: BrokerKind,
        offsets: Offsets,
        objects: usize,
        records: usize,
        seed: u64,
    ) -> Harness {
        let broker = Broker::start(kind);
        broker.create_topic(TOPIC);
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("bucket");
        std::fs::create_dir(&data).unwrap();
        // Mixed sizes: from a handful of records to ~3x the average, summing to `records`.
        let mut rng = Rng(seed);
        let weights: Vec<u64> = (0..objects).map(|_| rng.range(1, 60)).collect();
        let total_w: u64 = weights.iter().sum();
        let mut sizes: Vec<usize> = weights
            .iter()
            .map(|w| (*w as usize * records / total_w as usize).max(1))
            .collect();
        let diff = records as i64 - sizes.iter().sum::<usize>() as i64;
        sizes[0] = (sizes[0] as i64 + diff).max(1) as usize;
        let mut objs = Vec::new();
        for (o, n) in sizes.iter().enumerate() {
            let key = format!("obj-{o:03}.jsonl");
            let body: String = (0..*n).map(|r| jsonl_line(o, r) + "\n").collect();
            std::fs::write(data.join(&key), body).unwrap();
            objs.push((key, *n));
        }
        let bootstrap = broker.bootstrap();
        let offsets_file = dir.path().join("offsets.jsonl");
        let mut w: Vec<(&str, &str)> = vec![
            ("bootstrap.servers", bootstrap.as_str()),
            ("value.converter.schemas.enable", "false"),
            ("offset.flush.interval.ms", "100"),
        ];
        match offsets {
            Offsets::File => w.push((
                "offset.storage.file.filename",
                offsets_file.to_str().unwrap(),
            )),
            Offsets::Topic => {
                w.push(("offset.storage.topic", "sluice-offsets"));
                w.push(("offset.storage.partitions", "3"));
                w.push(("offset.storage.replication.factor", "1"));
            }
        }
        let worker = dir.path().join("worker.properties");
        write_props(&worker, &w);
        let connector = dir.path().join("connector.properties");
        write_props(
            &connector,
            &[
                ("name", "crash"),
                ("connector.class", "local"),
                ("local.path", data.to_str().unwrap()),
                // The test writes whole files before the connector looks: no need to wait for them to settle.
                ("local.file.min.age.ms", "0"),
                ("object.partial.line.wait.ms", "0"),
                ("topic", TOPIC),
                ("input.format", "jsonl"),
                ("tasks.max", "2"),
            ],
        );
        Harness {
            broker,
            dir,
            worker,
            connector,
            objects: objs,
        }
    }

    fn total(&self) -> usize {
        self.objects.iter().map(|(_, n)| n).sum()
    }

    fn spawn(&self) -> ChildGuard {
        spawn_run(&self.worker, &self.connector)
    }
}

/// Reads the topic incrementally, counting every (object, record index) it sees.
struct Collector {
    consumer: BaseConsumer,
    seen: HashMap<(String, u64), u32>,
    records: usize,
}

impl Collector {
    fn new(bootstrap: &str) -> Collector {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("crash-{}", free_port()))
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        Collector {
            consumer,
            seen: HashMap::new(),
            records: 0,
        }
    }

    /// Polls for up to `d`.
    fn pump(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            let Some(m) = self.consumer.poll(Duration::from_millis(50)) else {
                continue;
            };
            // Transport errors while a broker is down are expected; the consumer reconnects.
            let Ok(m) = m else { continue };
            let h = m.headers().expect("headers");
            let mut object = None;
            let mut index = None;
            for h in h.iter() {
                match h.key {
                    "sluice.object.key" => {
                        object = Some(String::from_utf8_lossy(h.value.unwrap()).into_owned())
                    }
                    "sluice.record.index" => {
                        index = Some(
                            String::from_utf8_lossy(h.value.unwrap())
                                .parse::<u64>()
                                .unwrap(),
                        )
                    }
                    _ => {}
                }
            }
            *self
                .seen
                .entry((object.unwrap(), index.unwrap()))
                .or_default() += 1;
            self.records += 1;
        }
    }

    fn distinct(&self) -> usize {
        self.seen.len()
    }

    /// Pumps until `total` distinct records arrived; fails after `limit`, saying who (`what`)
    /// did not deliver everything.
    fn wait_for(&mut self, total: usize, limit: Duration, what: &str) {
        let deadline = Instant::now() + limit;
        while self.distinct() < total {
            assert!(
                Instant::now() < deadline,
                "{what} did not deliver everything: {} of {total}",
                self.distinct()
            );
            self.pump(Duration::from_millis(500));
        }
    }
}

/// kill -9 `kills` times at random moments, then let a last run finish; every record must be
/// there, duplicates only from records in flight or not yet committed at a kill.
fn kill_nine_case(
    kind: BrokerKind,
    offsets: Offsets,
    kills: usize,
    objects: usize,
    records: usize,
    seed: u64,
) {
    let h = Harness::new(kind, offsets, objects, records, seed);
    let total = h.total();
    let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut collector = Collector::new(&h.broker.bootstrap());
    let started = Instant::now();
    let mut progress = Vec::new();
    for i in 0..kills {
        let mut child = h.spawn();
        // Spread the kills over the whole ingest: kill i waits until about i/(kills+1) of the
        // records were delivered, then a random few milliseconds more, so it lands at a random
        // point of reading, producing and committing.
        let target = total * (i + 1) / (kills + 1);
        let deadline = Instant::now() + Duration::from_secs(60);
        while collector.distinct() < target {
            assert!(
                Instant::now() < deadline,
                "no progress towards {target} records before kill {i}"
            );
            collector.pump(Duration::from_millis(5));
        }
        collector.pump(Duration::from_millis(rng.range(0, 60)));
        child.kill9();
        progress.push(collector.distinct());
    }
    let mut child = h.spawn();
    collector.wait_for(
        total,
        Duration::from_secs(300),
        &format!("after {kills} kills the final run"),
    );
    // Let anything still in flight arrive, then stop cleanly.
    collector.pump(Duration::from_secs(2));
    let status = child.terminate();
    assert!(status.success(), "clean stop after the crashes: {status:?}");
    collector.pump(Duration::from_secs(1));

    let mut lost = 0;
    for (key, n) in &h.objects {
        for r in 0..*n as u64 {
            if !collector.seen.contains_key(&(key.clone(), r)) {
                lost += 1;
            }
        }
    }
    let duplicates: u64 = collector.seen.values().map(|n| u64::from(n - 1)).sum();
    let unknown: HashSet<&String> = collector
        .seen
        .keys()
        .map(|(k, _)| k)
        .filter(|k| !h.objects.iter().any(|(o, _)| o == *k))
        .collect();
    println!(
        "kill -9 ({kind:?}, offsets in {offsets:?}): kills={kills} objects={} records={total} consumed={} duplicates={duplicates} lost={lost} time={:.1?} distinct-after-each-kill={progress:?}",
        h.objects.len(),
        collector.records,
        started.elapsed()
    );
    assert!(
        unknown.is_empty(),
        "records from unknown objects: {unknown:?}"
    );
    assert_eq!(lost, 0, "records lost");
    assert!(
        progress.windows(2).any(|w| w[1] > w[0]),
        "the kills all happened before any progress: {progress:?}"
    );
    let mid_ingest = progress.iter().filter(|p| **p < total).count();
    assert!(
        mid_ingest >= kills / 2,
        "only {mid_ingest} of {kills} kills came before everything was delivered: {progress:?}"
    );
}

#[test]
fn kill_9_twenty_times_during_an_ingest_loses_nothing_file_offsets() {
    if heavy() {
        kill_nine_case(BrokerKind::Tansu, Offsets::File, 100, 80, 1_000_000, 7);
    } else {
        kill_nine_case(BrokerKind::Tansu, Offsets::File, 20, 50, 200_000, 42);
    }
}

#[test]
fn kill_9_twenty_times_during_an_ingest_loses_nothing_topic_offsets() {
    if heavy() {
        kill_nine_case(BrokerKind::Tansu, Offsets::Topic, 100, 80, 1_000_000, 8);
    } else {
        kill_nine_case(BrokerKind::Tansu, Offsets::Topic, 20, 50, 200_000, 43);
    }
}

#[test]
fn a_broker_outage_mid_run_loses_nothing() {
    let h = Harness::new(BrokerKind::Mock, Offsets::File, 20, 40_000, 5);
    let total = h.total();
    let Broker::Mock(cluster) = &h.broker else {
        unreachable!()
    };
    let mut collector = Collector::new(&h.broker.bootstrap());
    let mut child = h.spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while collector.distinct() < total / 10 {
        assert!(Instant::now() < deadline, "no progress before the outage");
        collector.pump(Duration::from_millis(20));
    }
    let outage = if heavy() {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(8)
    };
    cluster.broker_down(1).unwrap();
    let at_outage = collector.distinct();
    std::thread::sleep(outage);
    cluster.broker_up(1).unwrap();
    collector.wait_for(total, Duration::from_secs(180), "after the outage the run");
    collector.pump(Duration::from_secs(1));
    let status = child.terminate();
    assert!(status.success(), "{status:?}");
    let duplicates: u64 = collector.seen.values().map(|n| u64::from(n - 1)).sum();
    println!(
        "broker outage of {outage:?} after {at_outage} records: records={total} consumed={} duplicates={duplicates} lost=0",
        collector.records
    );
    assert!(
        at_outage < total,
        "the outage came after everything was delivered"
    );
}

fn run_once(h: &Harness) -> (bool, String) {
    let out = backfill(&h.worker, &h.connector);
    (out.status.success(), output_text(&out))
}

#[test]
fn a_corrupt_offset_file_is_a_clear_error_not_a_restart_from_zero() {
    let h = Harness::new(BrokerKind::Mock, Offsets::File, 3, 30, 1);
    let (ok, text) = run_once(&h);
    assert!(ok, "{text}");
    let path = h.dir.path().join("offsets.jsonl");
    let mut body = std::fs::read_to_string(&path).unwrap();
    body.insert_str(body.len() / 2, "garbage");
    std::fs::write(&path, body).unwrap();
    let (ok, text) = run_once(&h);
    assert!(!ok, "{text}");
    assert!(
        text.contains(path.to_str().unwrap()) && text.contains("line"),
        "{text}"
    );
    let got = consume_all(&h.broker.bootstrap(), &[TOPIC], 30, Duration::from_secs(5));
    assert_eq!(got.len(), 30, "nothing was read again");
}

#[test]
fn a_deleted_offset_file_is_refused_when_configured() {
    let h = Harness::new(BrokerKind::Mock, Offsets::File, 3, 30, 1);
    let (ok, text) = run_once(&h);
    assert!(ok, "{text}");
    std::fs::remove_file(h.dir.path().join("offsets.jsonl")).unwrap();
    let mut worker = std::fs::read_to_string(&h.worker).unwrap();
    worker.push_str("offset.storage.missing=fail\n");
    std::fs::write(&h.worker, worker).unwrap();
    let (ok, text) = run_once(&h);
    assert!(!ok, "{text}");
    assert!(
        text.contains("does not exist") && text.contains("offset.storage.missing"),
        "{text}"
    );
}

#[test]
fn a_corrupt_offset_topic_is_a_clear_error() {
    let h = Harness::new(BrokerKind::Tansu, Offsets::Topic, 3, 30, 1);
    let (ok, text) = run_once(&h);
    assert!(ok, "{text}");
    // Somebody writes a non-offset record into the offsets topic.
    let producer: rdkafka::producer::BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", h.broker.bootstrap())
        .create()
        .unwrap();
    producer
        .send(
            rdkafka::producer::BaseRecord::<str, str>::to("sluice-offsets")
                .key("not json")
                .payload("x")
                .partition(0),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(10)).unwrap();
    let (ok, text) = run_once(&h);
    assert!(!ok, "{text}");
    assert!(
        text.contains("sluice-offsets")
            && text.contains("partition 0")
            && text.contains("not JSON"),
        "{text}"
    );
}

#[test]
fn offsets_can_be_listed_reset_and_set() {
    let h = Harness::new(BrokerKind::Mock, Offsets::File, 3, 30, 3);
    let (ok, text) = run_once(&h);
    assert!(ok, "{text}");
    let list = |h: &Harness| {
        let out = sluice()
            .args(["offsets", "list"])
            .arg(&h.worker)
            .args(["--connector", "crash"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = list(&h);
    assert!(before.contains("3 objects with stored offsets"), "{before}");
    assert_eq!(before.matches("\tfinished\t").count(), 3, "{before}");
    // Replay one object from record 5.
    let (first, n) = h.objects[0].clone();
    let out = sluice()
        .args(["offsets", "set"])
        .arg(&h.worker)
        .args([
            "--connector",
            "crash",
            "--object",
            &first,
            "--record-count",
            "5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(list(&h).contains(&format!("{first}\t5\tpartial")));
    let (ok, text) = run_once(&h);
    assert!(ok, "{text}");
    let got = consume_all(
        &h.broker.bootstrap(),
        &[TOPIC],
        h.total() + n - 5,
        Duration::from_secs(10),
    );
    assert_eq!(
        got.len(),
        h.total() + n - 5,
        "object replayed from record 5"
    );
    // Reset everything: the whole bucket is read again.
    let out = sluice()
        .args(["offsets", "reset"])
        .arg(&h.worker)
        .args(["--connector", "crash"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("reset the offsets of 3 objects"));
    assert!(list(&h).contains("0 objects with stored offsets"));
    let (ok, text) = run_once(&h);
    assert!(ok, "{text}");
    let got = consume_all(
        &h.broker.bootstrap(),
        &[TOPIC],
        2 * h.total() + n - 5,
        Duration::from_secs(10),
    );
    assert_eq!(got.len(), 2 * h.total() + n - 5);
}

#[test]
fn a_second_signal_exits_at_once_and_leaves_the_offset_file_intact() {
    let h = Harness::new(BrokerKind::Mock, Offsets::File, 20, 100_000, 9);
    let mut child = h.spawn();
    let path: &Path = &h.dir.path().join("offsets.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.0.id().to_string();
    for _ in 0..2 {
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
    }
    let started = Instant::now();
    let status = child.0.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exited in {:?}",
        started.elapsed()
    );
    // 130 when the second signal won the race, 0 when the graceful stop had already finished.
    assert!(matches!(status.code(), Some(0) | Some(130)), "{status:?}");
    // The file parses.
    for line in std::fs::read_to_string(path).unwrap().lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("offset file intact");
    }
}
