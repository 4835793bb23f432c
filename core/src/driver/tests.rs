//! The driver against librdkafka's in-process mock cluster: a fake [`SourceTask`] yields scripted
//! records, the driver produces them, and each test proves its point by consuming what reached
//! the cluster and reading the offsets the driver committed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, ThreadedProducer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaErrorCode, RDKafkaRespErr};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::{watch, Notify};

use super::failure::header;
use super::*;
use crate::config::Settings;
use crate::contract::Poll;
use crate::convert::StringConverter;
use crate::data::{Schema, SchemaAndValue, Value};
use crate::kafka::{create_producer, producer_config};
use crate::offsets::{
    KafkaOffsetStore, MemoryOffsetStore, OffsetValue, TopicSettings, FINISHED, RECORD_COUNT,
};
use crate::record::{RecordOrigin, SourceObject, SourceRecord};

const TOPIC: &str = "t";
const DLQ: &str = "dlq";
const OFFSETS: &str = "offsets";
const BUCKET: &str = "b";
const CONNECTOR: &str = "c";

type Mock = MockCluster<'static, DefaultProducerContext>;

/// One step of the fake source.
#[allow(clippy::large_enum_variant, reason = "a test script")]
enum Step {
    Yield(Poll),
    /// Waits until the test says go on.
    Gate(Arc<Notify>),
}

/// A [`SourceTask`] that yields its script, then `Poll::Done` (or `Poll::Idle` forever).
struct FakeSource {
    steps: VecDeque<Step>,
    idle_at_end: bool,
}

impl FakeSource {
    fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        FakeSource {
            steps: steps.into_iter().collect(),
            idle_at_end: false,
        }
    }

    fn then_idle(mut self) -> Self {
        self.idle_at_end = true;
        self
    }
}

#[async_trait]
impl SourceTask for FakeSource {
    async fn configure(&mut self) -> Result<()> {
        Ok(())
    }

    async fn poll(&mut self) -> Result<Poll> {
        loop {
            match self.steps.pop_front() {
                Some(Step::Yield(p)) => return Ok(p),
                Some(Step::Gate(gate)) => gate.notified().await,
                None if self.idle_at_end => return Ok(Poll::Idle),
                None => return Ok(Poll::Done),
            }
        }
    }

    fn has_ready(&self) -> bool {
        matches!(self.steps.front(), Some(Step::Yield(_)))
    }

    async fn close_resources(&mut self) {}
}

fn partition(object: &str) -> OffsetMap {
    OffsetMap::from([
        ("bucket".into(), OffsetValue::String(BUCKET.into())),
        ("object".into(), OffsetValue::String(object.into())),
    ])
}

/// Record `index` of `object`, `size` bytes of value, to Kafka partition `kafka_partition`.
fn record(
    object: &Arc<SourceObject>,
    index: u64,
    size: usize,
    kafka_partition: Option<i32>,
) -> Step {
    let mut value = format!("{}:{index}:", object.key);
    value.extend(std::iter::repeat_n('x', size.saturating_sub(value.len())));
    Step::Yield(Poll::Record(SourceRecord {
        source_partition: partition(&object.key),
        source_offset: OffsetMap::from([(
            RECORD_COUNT.into(),
            OffsetValue::Long(index as i64 + 1),
        )]),
        topic: TOPIC.into(),
        kafka_partition,
        key: SchemaAndValue::new(Schema::string(), Value::String(object.key.clone())),
        value: SchemaAndValue::new(Schema::string(), Value::String(value)),
        timestamp: None,
        headers: Vec::new(),
        origin: Some(RecordOrigin {
            object: object.clone(),
            index,
        }),
    }))
}

/// The object finished after `count` records.
fn finished(object: &str, count: i64) -> Step {
    Step::Yield(Poll::Progress {
        partition: partition(object),
        offset: OffsetMap::from([
            (RECORD_COUNT.into(), OffsetValue::Long(count)),
            (FINISHED.into(), OffsetValue::Bool(true)),
        ]),
    })
}

fn source_object(key: &str) -> Arc<SourceObject> {
    Arc::new(SourceObject {
        bucket: BUCKET.into(),
        key: key.into(),
    })
}

/// `n` records of `key` (small, to Kafka partition 0), then its end.
fn object(key: &str, n: u64) -> Vec<Step> {
    let o = source_object(key);
    let mut steps: Vec<Step> = (0..n).map(|i| record(&o, i, 16, Some(0))).collect();
    steps.push(finished(key, n as i64));
    steps
}

fn offset(count: i64, finished: bool) -> OffsetMap {
    let mut o = OffsetMap::from([(RECORD_COUNT.into(), OffsetValue::Long(count))]);
    if finished {
        o.insert(FINISHED.into(), OffsetValue::Bool(true));
    }
    o
}

/// A mock cluster of `brokers` with the test topics (one partition each unless said).
fn cluster(brokers: i32, topic_partitions: i32) -> Mock {
    let mock = MockCluster::new(brokers).unwrap();
    mock.create_topic(TOPIC, topic_partitions, 1).unwrap();
    mock.create_topic(DLQ, 1, 1).unwrap();
    mock.create_topic(OFFSETS, 1, 1).unwrap();
    mock
}

/// A task producer with Sluice's defaults plus `extra`.
fn producer(mock: &Mock, extra: &[(&str, &str)]) -> Arc<TaskProducer> {
    let mut c = producer_config(
        &mock.bootstrap_servers(),
        &Settings::new(),
        &Settings::new(),
    );
    for (k, v) in extra {
        c.set(*k, *v);
    }
    create_producer(&c).unwrap()
}

fn driver_config(producer: Arc<TaskProducer>, store: Arc<MemoryOffsetStore>) -> DriverConfig {
    DriverConfig {
        task_name: "c-0".into(),
        connector: CONNECTOR.into(),
        producer,
        key_converter: Arc::new(StringConverter),
        value_converter: Arc::new(StringConverter),
        header_converter: Default::default(),
        transforms: Default::default(),
        offset_store: store,
        flush_interval: Duration::from_millis(50),
        shutdown_timeout: Duration::from_secs(30),
        max_poll_records: 100,
        tolerance: ErrorsTolerance::None,
        errors_log: true,
        errors_log_messages: false,
        dead_letter_queue: None,
        exactly_once: None,
        post_read: None,
        commit_listener: None,
        metrics: Arc::new(Metrics::default()),
        topic_creation: None,
        rate_limits: None,
    }
}

/// Runs `source` to its end (the stop signal is never sent).
async fn run(source: FakeSource, cfg: &DriverConfig) -> Result<TaskEnd> {
    let (_stop_tx, stop) = watch::channel(false);
    run_task(source, cfg.clone(), stop).await
}

async fn stored(store: &dyn OffsetStore, object: &str) -> Option<OffsetMap> {
    store.get(CONNECTOR, &[partition(object)]).await.unwrap()[0].clone()
}

/// A record read back from the cluster.
#[derive(Debug)]
struct Consumed {
    key: String,
    value: Option<Vec<u8>>,
    headers: BTreeMap<String, String>,
}

impl Consumed {
    /// `(object, index)` of a record written by [`record`].
    fn id(&self) -> (String, u64) {
        let value = String::from_utf8_lossy(self.value.as_deref().unwrap_or_default());
        let mut parts = value.split(':');
        let object = parts.next().unwrap().to_owned();
        (object, parts.next().unwrap().parse().unwrap())
    }
}

/// Everything in `topic`, from the beginning of each of its `partitions`: reads until
/// `expected` records arrived (then a little longer, to see any extra) or 20 s passed.
fn consume(mock: &Mock, topic: &str, partitions: i32, expected: usize) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", mock.bootstrap_servers())
        .set("group.id", "driver-tests")
        .set("enable.auto.commit", "false")
        // The mock cluster has no transaction markers: read everything, aborted or not.
        .set("isolation.level", "read_uncommitted")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut quiet_until = None;
    loop {
        if got.len() >= expected {
            quiet_until.get_or_insert(Instant::now() + Duration::from_millis(300));
        }
        if Instant::now() > deadline || quiet_until.is_some_and(|q| Instant::now() >= q) {
            break;
        }
        let Some(m) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let m = m.unwrap();
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        got.push(Consumed {
            key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
            value: m.payload().map(<[u8]>::to_vec),
            headers,
        });
    }
    got
}

/// How many records partition 0 of `topic` holds (the mock cluster's watermarks are right).
fn records_in(mock: &Mock, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", mock.bootstrap_servers())
        .create()
        .unwrap();
    let (low, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap();
    high - low
}

/// Waits up to 30 s for `cond`.
async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_every_record_in_order_and_commits_each_objects_end() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let cfg = driver_config(producer(&mock, &[]), store.clone());
    let steps = object("a", 300).into_iter().chain(object("b", 200));
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "a").await, Some(offset(300, true)));
    assert_eq!(stored(&*store, "b").await, Some(offset(200, true)));
    assert_eq!(cfg.metrics.records_acked.load(Ordering::Relaxed), 500);
    let got = consume(&mock, TOPIC, 1, 500);
    let ids: Vec<(String, u64)> = got.iter().map(Consumed::id).collect();
    let expected: Vec<(String, u64)> = (0..300)
        .map(|i| ("a".to_owned(), i))
        .chain((0..200).map(|i| ("b".to_owned(), i)))
        .collect();
    assert_eq!(ids, expected, "every record once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_out_of_order_commit_only_the_contiguous_prefix() {
    // Partition 0's leader (broker 1) is down: its records wait, partition 1's are acknowledged.
    let mock = cluster(2, 2);
    mock.partition_leader(TOPIC, 0, Some(1)).unwrap();
    mock.partition_leader(TOPIC, 1, Some(2)).unwrap();
    mock.broker_down(1).unwrap();
    let store = Arc::new(MemoryOffsetStore::new());
    let cfg = driver_config(
        producer(&mock, &[("reconnect.backoff.max.ms", "200")]),
        store.clone(),
    );
    // Object "o": record 1 goes to the stuck partition, the nine others are acknowledged.
    let o = source_object("o");
    let mut steps: Vec<Step> = (0..10)
        .map(|i| record(&o, i, 16, Some(if i == 1 { 0 } else { 1 })))
        .collect();
    steps.push(finished("o", 10));
    // Object "p" is all on the healthy partition.
    let p = source_object("p");
    steps.extend((0..5).map(|i| record(&p, i, 16, Some(1))));
    steps.push(finished("p", 5));
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(
        FakeSource::new(steps).then_idle(),
        cfg.clone(),
        stop,
    ));

    eventually("the healthy partition's acks", async || {
        cfg.metrics.records_acked.load(Ordering::Relaxed) == 14
    })
    .await;
    eventually("object p committed", async || {
        stored(&*store, "p").await == Some(offset(5, true))
    })
    .await;
    // Several flushes later "o" is still at its prefix: record 0 only.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored(&*store, "o").await, Some(offset(1, false)));

    mock.broker_up(1).unwrap();
    eventually(
        "object o committed once record 1 is acknowledged",
        async || stored(&*store, "o").await == Some(offset(10, true)),
    )
    .await;
    stop_tx.send(true).unwrap();
    assert_eq!(task.await.unwrap().unwrap(), TaskEnd::Stopped);
    let mut ids: Vec<(String, u64)> = consume(&mock, TOPIC, 2, 15)
        .iter()
        .map(Consumed::id)
        .collect();
    ids.sort();
    let expected: Vec<(String, u64)> = (0..10)
        .map(|i| ("o".to_owned(), i))
        .chain((0..5).map(|i| ("p".to_owned(), i)))
        .collect();
    assert_eq!(ids, expected);
}

/// An offset store that takes `delay` per write and counts writes and how many overlap.
#[derive(Debug)]
struct SlowStore {
    inner: MemoryOffsetStore,
    delay: Duration,
    active: std::sync::atomic::AtomicUsize,
    most_active: std::sync::atomic::AtomicUsize,
    puts: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl OffsetStore for SlowStore {
    async fn get(
        &self,
        connector: &str,
        partitions: &[OffsetMap],
    ) -> Result<Vec<Option<OffsetMap>>> {
        self.inner.get(connector, partitions).await
    }
    async fn list(&self, connector: &str) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        self.inner.list(connector).await
    }
    async fn connectors(&self) -> Result<Vec<String>> {
        self.inner.connectors().await
    }
    async fn put(&self, connector: &str, batch: Vec<(OffsetMap, Option<OffsetMap>)>) -> Result<()> {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_active.fetch_max(now, Ordering::SeqCst);
        self.puts.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let r = self.inner.put(connector, batch).await;
        self.active.fetch_sub(1, Ordering::SeqCst);
        r
    }
    fn location(&self) -> String {
        "slow memory".into()
    }
}

/// With `offset.flush.interval.ms` at an hour, offsets still reach the store while the task
/// runs (continuous commits), one write at a time however fast the acks come, and each write
/// carries what was acknowledged meanwhile (far fewer writes than records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_committed_continuously_one_write_at_a_time() {
    let mock = cluster(1, 1);
    let store = Arc::new(SlowStore {
        inner: MemoryOffsetStore::new(),
        delay: Duration::from_millis(30),
        active: Default::default(),
        most_active: Default::default(),
        puts: Default::default(),
    });
    let mut cfg = driver_config(producer(&mock, &[]), Arc::new(MemoryOffsetStore::new()));
    cfg.offset_store = store.clone();
    cfg.flush_interval = Duration::from_secs(3600);
    let gate = Arc::new(Notify::new());
    let mut steps: Vec<Step> = Vec::new();
    for o in 0..8 {
        steps.extend(object(&format!("o{o}"), 500));
    }
    let last = source_object("last");
    steps.extend((0..10).map(|i| record(&last, i, 16, Some(0))));
    // The task waits here, alive, until the test has seen the offsets.
    steps.push(Step::Gate(gate.clone()));
    steps.push(finished("last", 10));
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(
        FakeSource::new(steps).then_idle(),
        cfg.clone(),
        stop,
    ));
    for o in 0..8 {
        let object = format!("o{o}");
        eventually(
            &format!("{object} committed while the task runs"),
            async || stored(&*store, &object).await == Some(offset(500, true)),
        )
        .await;
    }
    eventually(
        "the acknowledged records of the open object committed",
        async || stored(&*store, "last").await == Some(offset(10, false)),
    )
    .await;
    assert!(!task.is_finished());
    gate.notify_one();
    eventually("the last object committed", async || {
        stored(&*store, "last").await == Some(offset(10, true))
    })
    .await;
    stop_tx.send(true).unwrap();
    assert_eq!(task.await.unwrap().unwrap(), TaskEnd::Stopped);
    let puts = store.puts.load(Ordering::SeqCst);
    assert_eq!(
        store.most_active.load(Ordering::SeqCst),
        1,
        "writes overlapped"
    );
    assert!(puts >= 2, "{puts} writes");
    assert!(
        puts < 4010 / 10,
        "{puts} writes for 4,010 records: not coalesced"
    );
    assert_eq!(cfg.metrics.records_acked.load(Ordering::Relaxed), 4010);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_producer_queue_is_waited_out_and_nothing_is_lost() {
    let mock = cluster(1, 1);
    let tiny = [("queue.buffering.max.messages", "4"), ("linger.ms", "0")];
    // The setting does make librdkafka refuse records while four are queued.
    let probe: ThreadedProducer<DefaultProducerContext> = producer_config(
        &mock.bootstrap_servers(),
        &Settings::new(),
        &Settings::new(),
    )
    .set(tiny[0].0, tiny[0].1)
    .create()
    .unwrap();
    let full = (0..100)
        .filter(|_| {
            matches!(
                probe.send(BaseRecord::<(), [u8]>::to(DLQ).payload(b"probe")),
                Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull)
            )
        })
        .count();
    assert!(full > 0, "the queue never filled up");
    drop(probe);

    let store = Arc::new(MemoryOffsetStore::new());
    let cfg = driver_config(producer(&mock, &tiny), store.clone());
    let steps = object("a", 1000).into_iter().chain(object("b", 1000));
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "a").await, Some(offset(1000, true)));
    assert_eq!(stored(&*store, "b").await, Some(offset(1000, true)));
    let ids: Vec<(String, u64)> = consume(&mock, TOPIC, 1, 2000)
        .iter()
        .map(Consumed::id)
        .collect();
    let expected: Vec<(String, u64)> = (0..1000)
        .map(|i| ("a".to_owned(), i))
        .chain((0..1000).map(|i| ("b".to_owned(), i)))
        .collect();
    assert_eq!(ids, expected, "every record once, in order");
}

/// Object "o": six records, the fourth (index 3) larger than the producer's
/// `message.max.bytes`.
fn with_a_record_too_large() -> (Vec<Step>, [(&'static str, &'static str); 1]) {
    let o = source_object("o");
    let mut steps: Vec<Step> = (0..6)
        .map(|i| record(&o, i, if i == 3 { 5000 } else { 16 }, Some(0)))
        .collect();
    steps.push(finished("o", 6));
    (steps, [("message.max.bytes", "2000")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_goes_to_the_dead_letter_queue_under_tolerance_all() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let (steps, settings) = with_a_record_too_large();
    let mut cfg = driver_config(producer(&mock, &settings), store.clone());
    cfg.tolerance = ErrorsTolerance::All;
    cfg.dead_letter_queue = Some(DeadLetterQueue {
        topic: DLQ.into(),
        context_headers: true,
    });
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "o").await, Some(offset(6, true)));
    assert_eq!(cfg.metrics.records_failed.load(Ordering::Relaxed), 1);
    let ids: Vec<u64> = consume(&mock, TOPIC, 1, 5)
        .iter()
        .map(|c| c.id().1)
        .collect();
    assert_eq!(ids, [0, 1, 2, 4, 5]);
    let dead = consume(&mock, DLQ, 1, 1);
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(d.key, "o");
    assert_eq!(d.value, None, "Kafka's rejection has no raw bytes");
    let h = &d.headers;
    assert_eq!(h[header::CONNECTOR], CONNECTOR);
    assert_eq!(h[header::TASK], "c-0");
    assert_eq!(h[header::STAGE], "KAFKA_PRODUCE");
    assert_eq!(h[header::BUCKET], BUCKET);
    assert_eq!(h[header::OBJECT], "o");
    assert_eq!(h[header::RECORD_INDEX], "3");
    assert_eq!(h[header::CLASS], "Kafka");
    assert!(
        h[header::MESSAGE].contains("MessageSizeTooLarge")
            || h[header::MESSAGE].contains("too large"),
        "{h:?}"
    );
    assert!(!h.contains_key(header::BYTE_OFFSET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_is_skipped_and_counted_without_a_dead_letter_queue() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let (steps, settings) = with_a_record_too_large();
    let mut cfg = driver_config(producer(&mock, &settings), store.clone());
    cfg.tolerance = ErrorsTolerance::All;
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "o").await, Some(offset(6, true)));
    assert_eq!(cfg.metrics.records_failed.load(Ordering::Relaxed), 1);
    assert_eq!(cfg.metrics.records_acked.load(Ordering::Relaxed), 5);
    let ids: Vec<u64> = consume(&mock, TOPIC, 1, 5)
        .iter()
        .map(|c| c.id().1)
        .collect();
    assert_eq!(ids, [0, 1, 2, 4, 5]);
    assert_eq!(records_in(&mock, DLQ), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_stops_the_task_under_tolerance_none() {
    for with_dlq in [false, true] {
        let mock = cluster(1, 1);
        let store = Arc::new(MemoryOffsetStore::new());
        let (steps, settings) = with_a_record_too_large();
        let mut cfg = driver_config(producer(&mock, &settings), store.clone());
        // A dead letter queue does not matter under tolerance none.
        cfg.dead_letter_queue = with_dlq.then(|| DeadLetterQueue {
            topic: DLQ.into(),
            context_headers: true,
        });
        let err = run(FakeSource::new(steps), &cfg).await.unwrap_err();
        let message = crate::error_chain(&err);
        assert!(
            message.contains("object \"o\" record 3 to topic \"t\"")
                && message.contains("raise producer.message.max.bytes"),
            "{message}"
        );
        // What was acknowledged before it is committed, nothing after.
        assert_eq!(stored(&*store, "o").await, Some(offset(3, false)));
        let ids: Vec<u64> = consume(&mock, TOPIC, 1, 3)
            .iter()
            .map(|c| c.id().1)
            .collect();
        assert_eq!(ids, [0, 1, 2]);
        assert_eq!(records_in(&mock, DLQ), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_broker_rejects_go_to_the_dead_letter_queue_and_none_is_lost() {
    // The broker refuses the first produce request as too large: each record of that request
    // fails in its delivery report (not when sent).
    let mock = cluster(1, 1);
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let store = Arc::new(MemoryOffsetStore::new());
    let mut cfg = driver_config(producer(&mock, &[]), store.clone());
    cfg.tolerance = ErrorsTolerance::All;
    cfg.dead_letter_queue = Some(DeadLetterQueue {
        topic: DLQ.into(),
        context_headers: true,
    });
    assert_eq!(
        run(FakeSource::new(object("o", 50)), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "o").await, Some(offset(50, true)));
    let failed = cfg.metrics.records_failed.load(Ordering::Relaxed) as usize;
    assert!(failed > 0, "the injected error failed no record");
    let delivered = consume(&mock, TOPIC, 1, 50 - failed);
    let dead = consume(&mock, DLQ, 1, failed);
    assert_eq!(dead.len(), failed);
    let mut indexes: Vec<u64> = delivered.iter().map(|c| c.id().1).collect();
    indexes.extend(
        dead.iter()
            .map(|d| d.headers[header::RECORD_INDEX].parse::<u64>().unwrap()),
    );
    indexes.sort();
    assert_eq!(indexes, (0..50).collect::<Vec<_>>(), "each record once");
}

/// Exactly-once: the task's transactional producer and the offsets topic.
async fn transactional(
    mock: &Mock,
    store: &Arc<MemoryOffsetStore>,
    offsets: &Arc<KafkaOffsetStore>,
) -> DriverConfig {
    let p = producer(mock, &[("transactional.id", "c-0")]);
    let mut cfg = driver_config(p, store.clone());
    cfg.exactly_once = Some(ExactlyOnce {
        boundary: TransactionBoundary::Object,
        interval: Duration::from_secs(60),
        offsets: offsets.clone(),
        transactional_id: "c-0".into(),
    });
    cfg
}

async fn offsets_topic(mock: &Mock) -> Arc<KafkaOffsetStore> {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", mock.bootstrap_servers());
    let settings = TopicSettings {
        partitions: 1,
        replication_factor: 1,
    };
    Arc::new(
        KafkaOffsetStore::open(&client, OFFSETS, &settings, false)
            .await
            .unwrap(),
    )
}

/// `(session, transaction number)` of a record's `sluice.transaction` header.
fn transaction_of(c: &Consumed) -> (String, u64) {
    let (session, n) = c.headers[commit::HEADER_TRANSACTION]
        .rsplit_once('/')
        .unwrap();
    (session.to_owned(), n.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retriable_commit_error_is_retried_and_the_transaction_commits() {
    let mock = cluster(1, 1);
    mock.request_errors(
        RDKafkaApiKey::EndTxn,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        ],
    );
    let store = Arc::new(MemoryOffsetStore::new());
    let offsets = offsets_topic(&mock).await;
    let cfg = transactional(&mock, &store, &offsets).await;
    let steps = object("a", 30).into_iter().chain(object("b", 20));
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(cfg.metrics.offset_commits.load(Ordering::Relaxed), 2);
    assert_eq!(stored(&*offsets, "a").await, Some(offset(30, true)));
    assert_eq!(stored(&*offsets, "b").await, Some(offset(20, true)));
    assert!(
        store.list(CONNECTOR).await.unwrap().is_empty(),
        "exactly-once offsets go to the offsets topic only"
    );
    let got = consume(&mock, TOPIC, 1, 50);
    assert_eq!(got.len(), 50);
    for c in &got {
        let (object, _) = c.id();
        let (_, n) = transaction_of(c);
        assert_eq!(
            n,
            if object == "a" { 1 } else { 2 },
            "one transaction per object"
        );
    }
    // The offsets went to the offsets topic, one record per object.
    let written: Vec<(String, String)> = consume(&mock, OFFSETS, 1, 3)
        .into_iter()
        .filter(|c| !c.key.contains("__sluice.sentinel"))
        .map(|c| (c.key, String::from_utf8(c.value.unwrap()).unwrap()))
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(written[0].0.contains("\"a\"") && written[0].1.contains("\"finished\":true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_aborts_the_transaction_and_a_restart_delivers_it_again() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let offsets = offsets_topic(&mock).await;
    let cfg = transactional(&mock, &store, &offsets).await;
    let gate = Arc::new(Notify::new());
    let steps = object("a", 30)
        .into_iter()
        .chain([Step::Gate(gate.clone())])
        .chain(object("b", 20));
    let (_stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(FakeSource::new(steps), cfg.clone(), stop));
    eventually("the first transaction", async || {
        cfg.metrics.offset_commits.load(Ordering::Relaxed) == 1
    })
    .await;
    // The next commit fails with an error librdkafka does not retry: the transaction aborts
    // and the task stops.
    mock.request_errors(
        RDKafkaApiKey::EndTxn,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_REQUEST],
    );
    gate.notify_one();
    let err = task.await.unwrap().unwrap_err();
    let message = crate::error_chain(&err);
    assert!(message.contains("committing the transaction"), "{message}");
    assert_eq!(cfg.metrics.offset_commits.load(Ordering::Relaxed), 1);
    assert_eq!(stored(&*offsets, "a").await, Some(offset(30, true)));
    assert_eq!(
        stored(&*offsets, "b").await,
        None,
        "b's offsets were aborted"
    );

    // The restarted task (same transactional.id, new producer) reads "b" again, as its
    // offsets say, and commits it.
    let restarted = transactional(&mock, &store, &offsets).await;
    assert_eq!(
        run(FakeSource::new(object("b", 20)), &restarted)
            .await
            .unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*offsets, "b").await, Some(offset(20, true)));

    // The mock cluster keeps aborted records visible: match records to the transactions that
    // committed, through their `sluice.transaction` header.
    let got = consume(&mock, TOPIC, 1, 70);
    assert_eq!(got.len(), 70, "a, the aborted b, and b again");
    let first = transaction_of(&got[0]).0;
    let (mut committed, mut aborted) = (Vec::new(), Vec::new());
    for c in &got {
        match transaction_of(c) {
            (s, 2) if s == first => aborted.push(c.id()),
            (s, 1) => committed.push((s == first, c.id())),
            other => panic!("unexpected transaction {other:?}"),
        }
    }
    assert_eq!(
        aborted,
        (0..20).map(|i| ("b".to_owned(), i)).collect::<Vec<_>>(),
        "the aborted transaction held b"
    );
    let expected: Vec<(bool, (String, u64))> = (0..30)
        .map(|i| (true, ("a".to_owned(), i)))
        .chain((0..20).map(|i| (false, ("b".to_owned(), i))))
        .collect();
    assert_eq!(
        committed, expected,
        "committed: a in the first session, b in the second, each record once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_task_stops_says_so_and_commits_nothing_more() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let offsets = offsets_topic(&mock).await;
    let cfg = transactional(&mock, &store, &offsets).await;
    let gate = Arc::new(Notify::new());
    let steps = object("a", 30)
        .into_iter()
        .chain([Step::Gate(gate.clone())])
        .chain(object("b", 20));
    let (_stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(FakeSource::new(steps), cfg.clone(), stop));
    eventually("the first transaction", async || {
        cfg.metrics.offset_commits.load(Ordering::Relaxed) == 1
    })
    .await;
    // A newer instance of the task took over the transactional.id. (The mock cluster gives
    // every producer its own producer id, so a second producer does not fence the first: the
    // coordinator's answer to a fenced producer is injected instead.)
    mock.request_errors(
        RDKafkaApiKey::EndTxn,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_PRODUCER_FENCED],
    );
    gate.notify_one();
    let err = task.await.unwrap().unwrap_err();
    let message = crate::error_chain(&err);
    assert!(
        message.contains("committing the transaction: this task was fenced"),
        "{message}"
    );
    assert_eq!(cfg.metrics.offset_commits.load(Ordering::Relaxed), 1);
    assert_eq!(stored(&*offsets, "a").await, Some(offset(30, true)));
    assert_eq!(stored(&*offsets, "b").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_transaction_a_rejected_record_is_never_skipped() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let offsets = offsets_topic(&mock).await;
    let (steps, settings) = with_a_record_too_large();
    let mut cfg = transactional(&mock, &store, &offsets).await;
    cfg.producer = producer(&mock, &[("transactional.id", "c-0"), settings[0]]);
    // Even under tolerance all with a dead letter queue: skipping it would commit the
    // transaction without it.
    cfg.tolerance = ErrorsTolerance::All;
    cfg.dead_letter_queue = Some(DeadLetterQueue {
        topic: DLQ.into(),
        context_headers: true,
    });
    let err = run(FakeSource::new(steps), &cfg).await.unwrap_err();
    let message = crate::error_chain(&err);
    assert!(message.contains("object \"o\" record 3"), "{message}");
    assert_eq!(cfg.metrics.offset_commits.load(Ordering::Relaxed), 0);
    assert_eq!(cfg.metrics.records_failed.load(Ordering::Relaxed), 0);
    assert_eq!(stored(&*offsets, "o").await, None);
    assert_eq!(records_in(&mock, DLQ), 0);
}

/// Five records of object `o`: record 1 marked `drop`, record 3 marked `bad`; a chain that
/// drops the first and fails on the second (a string cast to int32).
fn with_transforms() -> (Vec<Step>, crate::transforms::TransformChain) {
    let mut steps = object("o", 5);
    for (i, mark) in [(1, "drop"), (3, "bad")] {
        if let Step::Yield(Poll::Record(r)) = &mut steps[i] {
            r.headers.push(crate::record::Header::string(mark, "1"));
        }
    }
    let settings: BTreeMap<String, String> = [
        ("transforms", "dropMarked,castBad"),
        ("transforms.dropMarked.type", "Filter"),
        ("transforms.dropMarked.predicate", "drop"),
        ("transforms.castBad.type", "Cast$Value"),
        ("transforms.castBad.spec", "int32"),
        ("transforms.castBad.predicate", "bad"),
        ("predicates", "drop,bad"),
        ("predicates.drop.type", "HasHeaderKey"),
        ("predicates.drop.name", "drop"),
        ("predicates.bad.type", "HasHeaderKey"),
        ("predicates.bad.name", "bad"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let chain = crate::transforms::TransformChain::from_settings(&settings).unwrap();
    (steps, chain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transform_goes_to_the_dead_letter_queue_under_tolerance_all() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let (steps, chain) = with_transforms();
    let mut cfg = driver_config(producer(&mock, &[]), store.clone());
    cfg.transforms = chain;
    cfg.tolerance = ErrorsTolerance::All;
    cfg.dead_letter_queue = Some(DeadLetterQueue {
        topic: DLQ.into(),
        context_headers: true,
    });
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    let ids: Vec<u64> = consume(&mock, TOPIC, 1, 3)
        .iter()
        .map(|c| c.id().1)
        .collect();
    assert_eq!(ids, [0, 2, 4], "record 1 dropped, record 3 failed");
    let dead = consume(&mock, DLQ, 1, 1);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key, "o");
    assert_eq!(dead[0].headers[header::STAGE], "TRANSFORMATION");
    assert_eq!(dead[0].headers[header::RECORD_INDEX], "3");
    let message = &dead[0].headers[header::MESSAGE];
    assert!(
        message.contains("transform \"castBad\" (Cast$Value) failed"),
        "{message}"
    );
    assert_eq!(cfg.metrics.records_failed.load(Ordering::Relaxed), 1);
    // Dropped and failed records alike let the object finish.
    assert_eq!(stored(&*store, "o").await, Some(offset(5, true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transform_stops_the_task_under_tolerance_none() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let (steps, chain) = with_transforms();
    let mut cfg = driver_config(producer(&mock, &[]), store.clone());
    cfg.transforms = chain;
    let err = run(FakeSource::new(steps), &cfg).await.unwrap_err();
    let message = crate::error_chain(&err);
    assert!(
        message.contains("object \"o\", record 3: transform \"castBad\" (Cast$Value) failed")
            && message.contains("cannot be cast to int32"),
        "{message}"
    );
    // Everything before it (record 1 dropped) is committed, nothing after.
    assert_eq!(stored(&*store, "o").await, Some(offset(3, false)));
    let ids: Vec<u64> = consume(&mock, TOPIC, 1, 2)
        .iter()
        .map(|c| c.id().1)
        .collect();
    assert_eq!(ids, [0, 2]);
}

/// A string converter whose records from index `from` on wait for something that never comes
/// (a Schema Registry that does not answer).
#[derive(Debug)]
struct NeverReady {
    from: u64,
}

impl crate::convert::Converter for NeverReady {
    fn from_connect_data(&self, topic: &str, data: &SchemaAndValue) -> Result<Option<Vec<u8>>> {
        StringConverter.from_connect_data(topic, data)
    }

    fn prepare<'a>(
        &'a self,
        _topic: &'a str,
        data: &'a SchemaAndValue,
    ) -> Option<futures::future::BoxFuture<'a, Result<()>>> {
        let index: u64 = data.value.as_str()?.split(':').nth(1)?.parse().ok()?;
        (index >= self.from).then(|| {
            Box::pin(futures::future::pending()) as futures::future::BoxFuture<'a, Result<()>>
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_waiting_for_its_converter_holds_back_the_rest_and_a_stop_ends_the_wait() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let mut cfg = driver_config(producer(&mock, &[]), store.clone());
    cfg.value_converter = Arc::new(NeverReady { from: 100 });
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(
        FakeSource::new(object("a", 300)),
        cfg.clone(),
        stop,
    ));
    eventually("the first 100 records acknowledged", async || {
        cfg.metrics.records_acked.load(Ordering::Relaxed) == 100
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cfg.metrics.records_acked.load(Ordering::Relaxed), 100);
    stop_tx.send(true).unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the stop ends the wait")
        .unwrap()
        .unwrap();
    assert_eq!(end, TaskEnd::Stopped);
    // The waiting record was not sent and its offset not committed: it is read again next run.
    assert_eq!(stored(&*store, "a").await, Some(offset(100, false)));
    let ids: Vec<(String, u64)> = consume(&mock, TOPIC, 1, 100)
        .iter()
        .map(Consumed::id)
        .collect();
    let expected: Vec<(String, u64)> = (0..100).map(|i| ("a".to_owned(), i)).collect();
    assert_eq!(ids, expected);
}
