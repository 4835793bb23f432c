//! The fault tests' harness: a bucket of jsonl objects in a local folder, a broker, the worker
//! and connector files of a `sluice run` over them, and a consumer that counts what landed by
//! (object, record index) from the records' headers.
// What the broker does wrong goes to the test log as it is seen.
#![allow(clippy::print_stderr)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use super::*;

pub(crate) const TOPIC: &str = "ingest";

pub(crate) fn heavy() -> bool {
    std::env::var_os("SLUICE_HEAVY").is_some()
}

/// A tiny deterministic PRNG (xorshift), so a failing run can be replayed.
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// The worker settings of offsets kept in a Kafka topic, [`OFFSETS_TOPIC`] (3 partitions).
pub(crate) const OFFSETS_TOPIC_SETTINGS: [(&str, &str); 3] = [
    ("offset.storage.topic", OFFSETS_TOPIC),
    ("offset.storage.partitions", "3"),
    ("offset.storage.replication.factor", "1"),
];

/// The offsets topic of [`OFFSETS_TOPIC_SETTINGS`].
pub(crate) const OFFSETS_TOPIC: &str = "sluice-offsets";

/// On a mock cluster of two brokers on which [`TOPIC`] exists: [`TOPIC`] led by broker 1 and
/// the offsets topic [`OFFSETS_TOPIC`] (made here: the mock has no admin API) by broker 2, so
/// either can be taken down alone.
pub(crate) fn records_on_1_offsets_on_2(
    cluster: &rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
) {
    for p in 0..PARTITIONS {
        cluster
            .partition_leader(TOPIC, p, Some(1))
            .expect("lead the records' topic from broker 1");
    }
    cluster
        .create_topic(OFFSETS_TOPIC, 3, 1)
        .expect("create the offsets topic");
    for p in 0..3 {
        cluster
            .partition_leader(OFFSETS_TOPIC, p, Some(2))
            .expect("lead the offsets topic from broker 2");
    }
}

/// How an object store behind the test proxy is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreDown {
    /// Connections refused (nothing listens).
    Refused,
    /// Every request answered 503.
    Status503,
}

impl StoreDown {
    /// Takes the store behind `proxy` down this way.
    pub(crate) fn begin(self, proxy: &sluice_testkit::proxy::Proxy) {
        use sluice_testkit::proxy::{Faults, Target};
        match self {
            StoreDown::Refused => proxy.refuse_connections(),
            StoreDown::Status503 => proxy.set_faults(Faults {
                status_503_every: 1,
                reset_every: 0,
                cut_body_every: 0,
                target: Target::All,
            }),
        }
    }

    /// Brings the store behind `proxy` back.
    pub(crate) fn end(self, proxy: &sluice_testkit::proxy::Proxy) {
        match self {
            StoreDown::Refused => proxy.accept_connections(),
            StoreDown::Status503 => proxy.set_faults(sluice_testkit::proxy::Faults::NONE),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Offsets {
    File,
    Topic,
}

pub(crate) struct Harness {
    pub(crate) broker: Broker,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) worker: PathBuf,
    pub(crate) connector: PathBuf,
    /// (object, records) written.
    pub(crate) objects: Vec<(String, usize)>,
}

impl Harness {
    pub(crate) fn new(
        kind: BrokerKind,
        offsets: Offsets,
        objects: usize,
        records: usize,
        seed: u64,
    ) -> Harness {
        Harness::on(Broker::start(kind), offsets, objects, records, seed)
    }

    /// [`Harness::new`] on a broker the test started itself.
    pub(crate) fn on(
        broker: Broker,
        offsets: Offsets,
        objects: usize,
        records: usize,
        seed: u64,
    ) -> Harness {
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
        ];
        match offsets {
            Offsets::File => w.push((
                "offset.storage.file.filename",
                offsets_file.to_str().unwrap(),
            )),
            Offsets::Topic => w.extend_from_slice(&OFFSETS_TOPIC_SETTINGS),
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
                // Records stamped when sent (not with the object's time): the kill harness
                // tells from the stamps which run sent a record and when.
                ("record.timestamp", "none"),
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

    /// Adds `pairs` to the worker file.
    pub(crate) fn worker_settings(&self, pairs: &[(&str, &str)]) {
        let mut text = std::fs::read_to_string(&self.worker).unwrap();
        for (k, v) in pairs {
            text.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(&self.worker, text).unwrap();
    }

    pub(crate) fn total(&self) -> usize {
        self.objects.iter().map(|(_, n)| n).sum()
    }

    pub(crate) fn spawn(&self) -> ChildGuard {
        spawn_run(&self.worker, &self.connector)
    }

    /// Like [`spawn`](Self::spawn), with the run's log in `run-<n>.log` of the test's folder
    /// (read back when a run stalls).
    pub(crate) fn spawn_logged(&self, n: usize) -> ChildGuard {
        spawn_run_logged(&self.worker, &self.connector, &self.log(n))
    }

    pub(crate) fn log(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("run-{n}.log"))
    }
}

/// Milliseconds since the epoch (the clock librdkafka stamps records with).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Reads the topic incrementally, counting every (object, record index) it sees, and keeping
/// each record's `CreateTime` (the producing process stamps it when the record is sent).
pub(crate) struct Collector {
    pub(crate) consumer: BaseConsumer,
    pub(crate) seen: HashMap<(String, u64), u32>,
    pub(crate) records: usize,
    /// Every record read: (CreateTime ms, object, record index), in the order read.
    pub(crate) stamped: Vec<(i64, String, u64)>,
    /// Kafka positions read and the record read there, so a record the consumer reads twice
    /// (after a fetch error reset) is not taken for a duplicate that Sluice sent.
    pub(crate) positions: HashMap<(i32, i64), (String, u64)>,
    /// Records the consumer read again at a position it had read.
    pub(crate) reread: usize,
    /// Records read at a position where another record had been read (the broker gave two
    /// records one offset): counted as records, and reported.
    pub(crate) collisions: usize,
    /// Per partition, the offset after the highest read.
    pub(crate) next_offset: HashMap<i32, i64>,
    /// Offsets the consumer passed over without reading a record there and that no re-read
    /// filled since (Kafka offsets of a topic without transactions have no holes).
    pub(crate) skipped_offsets: i64,
    /// Ranges of offsets passed over, to read again (see [`Gap`]).
    gaps: Vec<Gap>,
}

/// A range of offsets the consumer passed over. tansu can serve a later batch of a partition
/// before an earlier one is visible to fetches (two producers writing one partition): the
/// earlier records are in the log, and a later fetch from their offsets returns them (a fresh
/// consumer reads them all). So the collector seeks back to a gap a few times, a second apart;
/// records read again at positions already read are recognised by their position.
#[derive(Debug)]
struct Gap {
    partition: i32,
    from: i64,
    to: i64,
    /// Seeks back so far, and when the next is due.
    tries: u32,
    due: Instant,
}

/// Seeks back to one gap at most this many times.
const GAP_TRIES: u32 = 5;

impl Collector {
    pub(crate) fn new(bootstrap: &str) -> Collector {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("crash-{}", free_port()))
            .set("enable.auto.commit", "false")
            // Never jump forward past records after an out-of-range fetch (tansu's wrong high
            // watermark can cause one); a re-read is recognised by its position.
            .set("auto.offset.reset", "earliest")
            // As Sluice's producer (the Java client's): after a broker outage the collector
            // reconnects within a second, so it measures when Sluice resumed, not its own
            // backoff (librdkafka's default goes up to 10 s).
            .set("reconnect.backoff.max.ms", "1000")
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
            stamped: Vec::new(),
            positions: HashMap::new(),
            reread: 0,
            collisions: 0,
            next_offset: HashMap::new(),
            skipped_offsets: 0,
            gaps: Vec::new(),
        }
    }

    /// Seeks back to the first gap due for another read, if any.
    fn reread_a_gap(&mut self) {
        let now = Instant::now();
        let Some(gap) = self
            .gaps
            .iter_mut()
            .find(|g| g.tries < GAP_TRIES && g.due <= now)
        else {
            return;
        };
        gap.tries += 1;
        gap.due = now + Duration::from_secs(1);
        let (partition, from) = (gap.partition, gap.from);
        // Unfilled offsets only: the lowest offset of the gap not read yet.
        let from = (from..gap.to)
            .find(|o| !self.positions.contains_key(&(partition, *o)))
            .unwrap_or(gap.to);
        if from < gap.to {
            if let Err(e) = self.consumer.seek(
                TOPIC,
                partition,
                Offset::Offset(from),
                Duration::from_secs(5),
            ) {
                eprintln!("seeking back to offset {from} of partition {partition}: {e}");
            }
        } else {
            gap.tries = GAP_TRIES;
        }
    }

    /// Polls for up to `d` (a wait for a message never outlasts it: the crash test samples the
    /// run's metrics between pumps to kill it at a chosen point).
    pub(crate) fn pump(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.reread_a_gap();
            let wait = end
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            let Some(m) = self.consumer.poll(wait) else {
                continue;
            };
            // Transport errors while a broker is down are expected; the consumer reconnects.
            let Ok(m) = m else { continue };
            let next = self.next_offset.entry(m.partition()).or_insert(0);
            if m.offset() > *next {
                self.skipped_offsets += m.offset() - *next;
                eprintln!(
                    "the consumer passed over offsets {}..{} of partition {} (it reads them again)",
                    *next,
                    m.offset(),
                    m.partition()
                );
                self.gaps.push(Gap {
                    partition: m.partition(),
                    from: *next,
                    to: m.offset(),
                    tries: 0,
                    due: Instant::now() + Duration::from_secs(1),
                });
            }
            *next = (*next).max(m.offset() + 1);
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
            let (object, index) = (object.unwrap(), index.unwrap());
            match self.positions.get(&(m.partition(), m.offset())) {
                Some(read) if *read == (object.clone(), index) => {
                    self.reread += 1;
                    continue;
                }
                Some(read) => {
                    self.collisions += 1;
                    eprintln!(
                        "the broker gave two records one position {}:{}: {read:?}, then {:?}",
                        m.partition(),
                        m.offset(),
                        (&object, index)
                    );
                }
                None => {
                    if self.gaps.iter().any(|g| {
                        g.partition == m.partition() && (g.from..g.to).contains(&m.offset())
                    }) {
                        // A passed-over offset read after all.
                        self.skipped_offsets -= 1;
                    }
                    self.positions
                        .insert((m.partition(), m.offset()), (object.clone(), index));
                }
            }
            let ts = match m.timestamp() {
                rdkafka::Timestamp::CreateTime(t) => t,
                other => panic!("expected the producer's CreateTime, got {other:?}"),
            };
            self.stamped.push((ts, object.clone(), index));
            *self.seen.entry((object, index)).or_default() += 1;
            self.records += 1;
        }
    }

    /// Records whose first copy in a Kafka partition came after a later record of the same
    /// object (by record index) in that partition: records that overtook each other.
    pub(crate) fn out_of_order(&self) -> usize {
        let mut by_position: Vec<_> = self.positions.iter().collect();
        by_position.sort();
        let mut highest: HashMap<(i32, &str), u64> = HashMap::new();
        let mut first: std::collections::HashSet<(&str, u64)> = Default::default();
        let mut out = 0;
        for ((partition, _), (object, index)) in by_position {
            if !first.insert((object.as_str(), *index)) {
                continue;
            }
            let high = highest
                .entry((*partition, object.as_str()))
                .or_insert(*index);
            if *index < *high {
                out += 1;
            }
            *high = (*high).max(*index);
        }
        out
    }

    pub(crate) fn distinct(&self) -> usize {
        self.seen.len()
    }

    /// Pumps until `total` distinct records arrived; fails after `limit`, saying who (`what`)
    /// did not deliver everything.
    pub(crate) fn wait_for(&mut self, total: usize, limit: Duration, what: &str) {
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
