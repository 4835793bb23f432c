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
        continuous_commits: true,
        shutdown_timeout: Duration::from_secs(30),
        max_poll_records: 100,
        max_objects_in_flight: 0,
        tolerance: ErrorsTolerance::None,
        errors_log: true,
        errors_log_messages: false,
        dead_letter_queue: None,
        exactly_once: None,
        post_read: None,
        commit_listener: None,
        offset_manager: None,
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

mod at_least_once;
mod exactly_once;
