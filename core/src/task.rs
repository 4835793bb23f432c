//! The source task driver (Kafka Connect's `AbstractSourceTask` / `WorkerSourceTask` roles).
//!
//! A [`SourceTask`] yields records; the driver runs it in its own tokio task that converts each
//! record to bytes and hands it over a bounded queue (`max.poll.records`) to the producing side,
//! which keeps many records in flight, tracks acknowledgements in [`SubmittedRecords`] and
//! commits offsets only for a contiguous acknowledged prefix of each source partition, on a timer
//! and on stop. When the source has nothing new the reading side sleeps with [`IdleBackoff`].
//!
//! Records that cannot be delivered as they are ([`Poll::Failed`], converter failures, and
//! records Kafka rejects as such, e.g. too large) are, under `errors.tolerance=all`, logged,
//! counted and sent to the dead letter queue when one is configured; their offsets advance only
//! once the dead letter record is acknowledged, so nothing is skipped silently or lost.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::backoff::IdleBackoff;
use crate::config::ErrorsTolerance;
use crate::convert::Converter;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::offsets::{OffsetMap, OffsetStore, SubmittedId, SubmittedRecords, RECORD_COUNT};
use crate::record::SourceRecord;

/// Where in the pipeline a record failed (the values of Kafka Connect's
/// `__connect.errors.stage` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading or parsing the object.
    TaskPoll,
    /// The key converter.
    KeyConverter,
    /// The value converter.
    ValueConverter,
    /// Kafka rejected the record itself (e.g. too large).
    KafkaProduce,
}

impl Stage {
    /// Kafka Connect's name of the stage.
    pub fn name(self) -> &'static str {
        match self {
            Stage::TaskPoll => "TASK_POLL",
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
        }
    }
}

/// A record (or a whole object) that cannot be delivered as it is.
#[derive(Debug)]
pub struct Failure {
    /// Where it failed.
    pub stage: Stage,
    /// The bucket (container, folder).
    pub bucket: String,
    /// The object key.
    pub object: String,
    /// Zero-based index of the record in the object, when known.
    pub record_index: Option<u64>,
    /// Byte offset of the record in the (decompressed) object, when known.
    pub byte_offset: Option<u64>,
    /// True when the rest of the object could not be read.
    pub whole_object: bool,
    /// The raw bytes of the record, when available.
    pub raw: Option<Bytes>,
    /// The error.
    pub error: Error,
}

impl Failure {
    /// A failure at `stage` described by `error`; index, byte offset and raw bytes are taken
    /// from an [`Error::Record`].
    pub fn new(stage: Stage, bucket: &str, object: &str, error: Error) -> Self {
        let (record_index, byte_offset, raw, whole_object) = match &error {
            Error::Record {
                record_index,
                byte_offset,
                raw,
                recoverable,
                ..
            } => (
                Some(*record_index),
                *byte_offset,
                raw.clone(),
                !*recoverable,
            ),
            _ => (None, None, None, false),
        };
        Failure {
            stage,
            bucket: bucket.to_owned(),
            object: object.to_owned(),
            record_index,
            byte_offset,
            whole_object,
            raw,
            error,
        }
    }

    /// A short name of the error's kind, e.g. `Record/InvalidJson` (for
    /// `__connect.errors.exception.class.name`).
    pub fn class_name(&self) -> String {
        fn head(debug: String) -> String {
            debug
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default()
                .to_owned()
        }
        match &self.error {
            Error::Record { source, .. } | Error::Convert { source, .. } => format!(
                "{}/{}",
                head(format!("{:?}", self.error)),
                head(format!("{source:?}"))
            ),
            other => head(format!("{other:?}")),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed for object {:?}",
            self.stage.name(),
            self.object
        )?;
        if let Some(i) = self.record_index {
            write!(f, ", record {i}")?;
        }
        if let Some(o) = self.byte_offset {
            write!(f, " (byte offset {o})")?;
        }
        write!(f, ": {}", crate::error_chain(&self.error))
    }
}

/// What a [`SourceTask`] has for the driver.
#[derive(Debug)]
pub enum Poll {
    /// A record to produce.
    Record(SourceRecord),
    /// Progress without a record (an object finished): the offset is committed once every
    /// earlier record of the partition is acknowledged.
    Progress {
        /// The source partition.
        partition: OffsetMap,
        /// Its new offset.
        offset: OffsetMap,
    },
    /// A record or object that could not be read, under `errors.tolerance=all`: logged,
    /// counted, sent to the dead letter queue if configured, then its offset committed.
    Failed {
        /// The source partition.
        partition: OffsetMap,
        /// Its offset after the failed record.
        offset: OffsetMap,
        /// What failed.
        failure: Box<Failure>,
    },
    /// Nothing new right now; the driver backs off and polls again.
    Idle,
    /// The source is exhausted for good (a backfill's single pass is over).
    Done,
}

/// A source of records, driven by [`run_task`].
#[async_trait]
pub trait SourceTask: Send + 'static {
    /// Prepares the task (connects, loads offsets). Called once before the first poll.
    async fn configure(&mut self) -> Result<()>;
    /// The next record or state. Errors stop the task (tolerated errors come as
    /// [`Poll::Failed`]).
    async fn poll(&mut self) -> Result<Poll>;
    /// Whether the next [`poll`](Self::poll) has a record at hand without waiting. The driver
    /// hands records on in batches while this holds, and at once when it does not.
    fn has_ready(&self) -> bool {
        false
    }
    /// Releases resources; called once after the last poll.
    async fn close_resources(&mut self);
}

/// The dead letter queue of a connector.
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    /// `errors.deadletterqueue.topic.name`.
    pub topic: String,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub context_headers: bool,
}

/// `transaction.boundary`: when an exactly-once task commits its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBoundary {
    /// After every batch the task polled (when the queue runs dry, or `max.poll.records`).
    Poll,
    /// At the end of every object (an object's records and its finished offset commit
    /// together).
    Object,
    /// Every `transaction.boundary.interval.ms`.
    Interval(Duration),
}

/// Exactly-once delivery: records and their offsets in one Kafka transaction.
#[derive(Debug, Clone)]
pub struct ExactlyOnce {
    /// When to commit.
    pub boundary: TransactionBoundary,
    /// The offsets topic the offsets are written to, inside the transaction.
    pub offsets: Arc<crate::offsets::KafkaOffsetStore>,
    /// The producer's `transactional.id` (stable per task, so a restarted task fences its
    /// zombie).
    pub transactional_id: String,
}

/// Everything the driver needs besides the source.
#[derive(Clone)]
pub struct DriverConfig {
    /// Task name for logs and errors (`connector-N`).
    pub task_name: String,
    /// Connector name, the namespace of stored offsets.
    pub connector: String,
    /// The task's producer.
    pub producer: Arc<crate::kafka::TaskProducer>,
    /// Key converter.
    pub key_converter: Arc<dyn Converter>,
    /// Value converter.
    pub value_converter: Arc<dyn Converter>,
    /// Where offsets are committed.
    pub offset_store: Arc<dyn OffsetStore>,
    /// `offset.flush.interval.ms`.
    pub flush_interval: Duration,
    /// `task.shutdown.graceful.timeout.ms`.
    pub shutdown_timeout: Duration,
    /// `max.poll.records`: capacity of the queue between reading and producing.
    pub max_poll_records: usize,
    /// `errors.tolerance`.
    pub tolerance: ErrorsTolerance,
    /// `errors.log.enable`.
    pub errors_log: bool,
    /// `errors.log.include.messages`.
    pub errors_log_messages: bool,
    /// The dead letter queue, if any.
    pub dead_letter_queue: Option<DeadLetterQueue>,
    /// Exactly-once delivery; `producer` is then this task's own transactional producer.
    pub exactly_once: Option<ExactlyOnce>,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// A record converted to bytes, ready to send.
struct Prepared {
    partition: OffsetMap,
    offset: OffsetMap,
    topic: String,
    kafka_partition: Option<i32>,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Option<OwnedHeaders>,
    timestamp: Option<i64>,
    names: Names,
}

/// Bucket, object and topic of a record, shared by every record of the same object (they only
/// serve error messages, so they must cost nothing per record).
#[derive(Clone)]
struct Names {
    bucket: Arc<str>,
    object: Arc<str>,
    topic: Arc<str>,
}

impl Names {
    /// The names of `r`, reusing `last` when they are the same.
    fn of(r: &SourceRecord, last: &mut Option<Names>) -> Names {
        let (bucket, object) = match (
            header_str(r, crate::source::HEADER_BUCKET),
            header_str(r, crate::source::HEADER_OBJECT),
        ) {
            (Some(b), Some(o)) => (String::from_utf8_lossy(b), String::from_utf8_lossy(o)),
            _ => {
                let (b, o) = partition_object(&r.source_partition);
                (b.into(), o.into())
            }
        };
        if let Some(l) = last {
            if *l.bucket == *bucket && *l.object == *object && *l.topic == *r.topic {
                return l.clone();
            }
        }
        let names = Names {
            bucket: bucket.into(),
            object: object.into(),
            topic: r.topic.as_str().into(),
        };
        *last = Some(names.clone());
        names
    }
}

enum Item {
    /// The source has nothing more right now (the end of a Kafka Connect "poll").
    PollEnd,
    Record(Prepared),
    Progress(OffsetMap, OffsetMap),
    Failed(OffsetMap, OffsetMap, Box<Failure>),
}

/// How a task run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    /// The source said [`Poll::Done`] and everything was delivered and committed.
    Completed,
    /// Stopped on request; what was read was delivered and committed.
    Stopped,
}

fn record_index(offset: &OffsetMap) -> Option<u64> {
    offset
        .get(RECORD_COUNT)
        .and_then(|v| v.as_long())
        .map(|n| (n - 1).max(0) as u64)
}

fn header_str<'a>(r: &'a SourceRecord, key: &str) -> Option<&'a [u8]> {
    r.headers
        .iter()
        .find(|h| h.key == key)
        .map(|h| h.value.as_slice())
}

fn partition_object(partition: &OffsetMap) -> (String, String) {
    let mut values = partition.values().filter_map(|v| v.as_str());
    // Backends name the fields ({bucket, object}, {container, blob}); sorted, the bucket-like
    // field comes first in every current backend.
    let first = values.next().unwrap_or_default().to_owned();
    let second = values.next().unwrap_or_default().to_owned();
    (first, second)
}

fn convert(
    cfg: &DriverConfig,
    r: SourceRecord,
    last: &mut Option<Names>,
) -> std::result::Result<Prepared, Box<(SourceRecord, Stage, Error)>> {
    let key = match cfg.key_converter.from_connect_data(&r.topic, &r.key) {
        Ok(k) => k,
        Err(e) => {
            let err = Error::Convert {
                part: "key",
                topic: r.topic.clone(),
                source: Box::new(e),
            };
            return Err(Box::new((r, Stage::KeyConverter, err)));
        }
    };
    let value = match cfg.value_converter.from_connect_data(&r.topic, &r.value) {
        Ok(v) => v,
        Err(e) => {
            let err = Error::Convert {
                part: "value",
                topic: r.topic.clone(),
                source: Box::new(e),
            };
            return Err(Box::new((r, Stage::ValueConverter, err)));
        }
    };
    let headers = (!r.headers.is_empty()).then(|| {
        r.headers
            .iter()
            .fold(OwnedHeaders::new_with_capacity(r.headers.len()), |h, x| {
                h.insert(KafkaHeader {
                    key: &x.key,
                    value: Some(&x.value),
                })
            })
    });
    let names = Names::of(&r, last);
    Ok(Prepared {
        partition: r.source_partition,
        offset: r.source_offset,
        topic: r.topic,
        kafka_partition: r.kafka_partition,
        key,
        value,
        headers,
        timestamp: r.timestamp,
        names,
    })
}

/// The most items the reading side hands to the producing side at once.
const HAND_OVER_BATCH: usize = 64;

/// The reading side: polls the source, converts, queues. Ends when stopped, done, or failed.
async fn read_loop<S: SourceTask>(
    mut source: S,
    cfg: DriverConfig,
    tx: mpsc::Sender<Vec<Result<Item>>>,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let mut backoff = IdleBackoff::default();
    let mut done = false;
    let mut names = None;
    // Items go over in batches while the source has more at hand, so the producing side wakes
    // once per batch; an item is never held back waiting for the source.
    let mut batch: Vec<Result<Item>> = Vec::with_capacity(HAND_OVER_BATCH);
    loop {
        if *stop.borrow() {
            break;
        }
        let item = match source.poll().await {
            Ok(Poll::Record(r)) => {
                backoff.reset();
                match convert(&cfg, r, &mut names) {
                    Ok(p) => Ok(Item::Record(p)),
                    Err(failed) => {
                        let (r, stage, err) = *failed;
                        let (bucket, object) = partition_object(&r.source_partition);
                        let mut failure = Failure::new(stage, &bucket, &object, err);
                        failure.record_index = record_index(&r.source_offset);
                        if cfg.tolerance == ErrorsTolerance::All {
                            Ok(Item::Failed(
                                r.source_partition,
                                r.source_offset,
                                Box::new(failure),
                            ))
                        } else {
                            Err(Error::Task {
                                task: cfg.task_name.clone(),
                                source: Box::new(Error::Record {
                                    object,
                                    record_index: failure.record_index.unwrap_or(0),
                                    byte_offset: None,
                                    recoverable: true,
                                    raw: None,
                                    source: Box::new(failure.error),
                                }),
                            })
                        }
                    }
                }
            }
            Ok(Poll::Progress { partition, offset }) => {
                backoff.reset();
                Ok(Item::Progress(partition, offset))
            }
            Ok(Poll::Failed {
                partition,
                offset,
                failure,
            }) => {
                backoff.reset();
                Ok(Item::Failed(partition, offset, failure))
            }
            Ok(Poll::Idle) => {
                batch.push(Ok(Item::PollEnd));
                if tx.send(std::mem::take(&mut batch)).await.is_err() {
                    break;
                }
                let delay = backoff.next_delay();
                debug!(task = %cfg.task_name, ?delay, "nothing new; backing off");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            Ok(Poll::Done) => {
                done = true;
                break;
            }
            Err(e) => Err(Error::Task {
                task: cfg.task_name.clone(),
                source: Box::new(e),
            }),
        };
        let failed = item.is_err();
        batch.push(item);
        if failed || batch.len() >= HAND_OVER_BATCH || !source.has_ready() {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(HAND_OVER_BATCH));
            if tx.send(full).await.is_err() || failed {
                break;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    source.close_resources().await;
    done
}

/// What a record sent to Kafka is about, handed back with its delivery report.
pub struct DeliveryTag(Context);

/// A record as the producer takes it.
type Record<'a> = BaseRecord<'a, [u8], [u8], Box<DeliveryTag>>;

/// A record to `topic` about `ctx`.
fn record_to(topic: &str, ctx: Context) -> Record<'_> {
    BaseRecord::with_opaque_to(topic, Box::new(DeliveryTag(ctx)))
}

/// What an in-flight delivery is about, for acks, errors and the dead letter queue.
struct Context {
    id: SubmittedId,
    about: About,
    dead_letter: bool,
}

/// What a delivery carries, described only when it fails.
enum About {
    /// A record of an object (its rejection by Kafka may be tolerated).
    Record { names: Names, index: Option<u64> },
    /// Anything else (dead letter records, offsets), already described.
    Other(String),
}

impl About {
    fn what(&self) -> String {
        match self {
            About::Record { names, index } => format!(
                "object {:?} record {} to topic {:?}",
                names.object,
                index.map_or("?".into(), |i| i.to_string()),
                names.topic
            ),
            About::Other(what) => what.clone(),
        }
    }
}

/// Kafka errors that concern the record itself (not the cluster): tolerated under
/// `errors.tolerance=all`.
fn record_specific(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::InvalidMessage
        )
    )
}

struct Producing<'a> {
    cfg: &'a DriverConfig,
    submitted: SubmittedRecords,
    /// The producer's delivery reports (held for the whole run).
    deliveries: tokio::sync::MutexGuard<'a, mpsc::UnboundedReceiver<crate::kafka::Delivery>>,
    /// Reports received and not yet settled.
    received: Vec<crate::kafka::Delivery>,
    /// Records sent whose report has not been settled.
    in_flight: usize,
    failure: Option<Error>,
    txn: Transaction,
}

/// The open transaction of an exactly-once task.
#[derive(Default)]
struct Transaction {
    /// `<transactional.id>/<pid>-<start ms>`: names this producer session in the
    /// `sluice.transaction` header and the commit log line.
    session: String,
    open: bool,
    /// Latest offset per source partition of what the transaction holds.
    offsets: std::collections::HashMap<String, (OffsetMap, OffsetMap)>,
    records: usize,
    committed: u64,
}

/// Runs a blocking transactional call of the producer off the async threads.
async fn txn_call<F>(producer: &Arc<crate::kafka::TaskProducer>, what: &str, f: F) -> Result<()>
where
    F: FnOnce(
            &ThreadedProducer<crate::kafka::DeliveryRouter>,
        ) -> std::result::Result<(), KafkaError>
        + Send
        + 'static,
{
    let p = producer.clone();
    tokio::task::spawn_blocking(move || f(&p.producer))
        .await
        .map_err(|e| Error::config(format!("{what}: {e}")))?
        .map_err(|e| {
            let fenced = matches!(
                e.rdkafka_error_code(),
                Some(RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch)
            );
            Error::Kafka {
                context: if fenced {
                    format!("{what}: this task was fenced by a newer instance with the same transactional.id (a zombie task stops here)")
                } else {
                    what.to_owned()
                },
                source: e,
            }
        })
}

impl Producing<'_> {
    /// Registers a record (or progress) with its offset; in exactly-once mode also with the
    /// open transaction.
    fn submit(&mut self, partition: OffsetMap, offset: OffsetMap) -> SubmittedId {
        if self.cfg.exactly_once.is_some() {
            let key = crate::offsets::canonical_partition(&partition);
            self.txn
                .offsets
                .insert(key, (partition.clone(), offset.clone()));
            self.txn.records += 1;
        }
        self.submitted.submit(partition, offset)
    }

    /// Opens a transaction if none is open (exactly-once mode).
    async fn ensure_txn(&mut self) -> Result<()> {
        if self.cfg.exactly_once.is_some() && !self.txn.open {
            txn_call(&self.cfg.producer, "beginning a transaction", |p| {
                rdkafka::producer::Producer::begin_transaction(p)
            })
            .await?;
            self.txn.open = true;
        }
        Ok(())
    }

    /// Exactly-once: writes the transaction's offsets into the offsets topic inside the
    /// transaction, commits it, and only then tells the offset store.
    async fn commit_transaction(&mut self) -> Result<()> {
        let eo = self.cfg.exactly_once.clone().expect("exactly-once mode");
        if self.txn.offsets.is_empty() && !self.txn.open {
            return Ok(());
        }
        self.ensure_txn().await?;
        let batch: Vec<(OffsetMap, OffsetMap)> = self.txn.offsets.drain().map(|(_, v)| v).collect();
        for (p, o) in &batch {
            let (key, value) =
                crate::offsets::KafkaOffsetStore::encode(&self.cfg.connector, p, Some(o));
            let value = value.expect("an offset");
            let ctx = Context {
                id: self.submitted.submit(p.clone(), o.clone()),
                about: About::Other(format!("offsets to {:?}", eo.offsets.topic())),
                dead_letter: true,
            };
            let record = record_to(eo.offsets.topic(), ctx)
                .key(key.as_bytes())
                .payload(value.as_bytes());
            self.send(record).await;
        }
        let commit = txn_call(&self.cfg.producer, "committing the transaction", |p| {
            rdkafka::producer::Producer::commit_transaction(p, Duration::from_secs(60))
        })
        .await;
        // Every delivery of the transaction is reported once the commit returns.
        while self.in_flight > 0 {
            self.settle_next().await;
        }
        if let Err(e) = commit {
            let _ = txn_call(&self.cfg.producer, "aborting the transaction", |p| {
                rdkafka::producer::Producer::abort_transaction(p, Duration::from_secs(30))
            })
            .await;
            self.txn.open = false;
            return Err(e);
        }
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        let records = std::mem::take(&mut self.txn.records);
        self.txn.open = false;
        self.txn.committed += 1;
        self.submitted.committable();
        eo.offsets.remember(&self.cfg.connector, batch);
        Metrics::add(&self.cfg.metrics.offset_commits, 1);
        info!(task = %self.cfg.task_name, transaction = %format!("{}/{}", self.txn.session, self.txn.committed), records, "transaction committed");
        Ok(())
    }

    fn fail(&mut self, e: Error) {
        if self.failure.is_none() {
            self.failure = Some(Error::Task {
                task: self.cfg.task_name.clone(),
                source: Box::new(e),
            });
        }
    }

    /// Sends one record, waiting for room when librdkafka's queue is full.
    async fn send(&mut self, mut record: Record<'_>) {
        if let Err(e) = self.ensure_txn().await {
            self.fail(e);
            return;
        }
        loop {
            match self.cfg.producer.producer.send(record) {
                Ok(()) => {
                    self.in_flight += 1;
                    return;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    if self.in_flight > 0 {
                        self.settle_next().await;
                    } else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                Err((e, r)) => {
                    // Rejected before leaving the process (e.g. larger than message.max.bytes).
                    self.on_delivery((r.delivery_opaque.0, Err(e))).await;
                    return;
                }
            }
        }
    }

    /// Waits for at least one delivery report, then settles what arrived.
    async fn settle_next(&mut self) {
        self.deliveries.recv_many(&mut self.received, 1024).await;
        self.settle_received().await;
    }

    /// Settles the reports received.
    async fn settle_received(&mut self) {
        let mut batch = std::mem::take(&mut self.received);
        for (tag, res) in batch.drain(..) {
            let DeliveryTag(ctx) = *tag;
            if !self.submitted.owns(ctx.id) {
                // Sent by an earlier run over the same producer.
                continue;
            }
            self.in_flight -= 1;
            self.on_delivery((ctx, res)).await;
        }
        self.received = batch;
    }

    fn on_delivery(
        &mut self,
        (ctx, res): (Context, std::result::Result<(), KafkaError>),
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            match res {
                Ok(()) => {
                    self.submitted.ack(ctx.id);
                    if !ctx.dead_letter {
                        Metrics::add(&self.cfg.metrics.records_acked, 1);
                    }
                }
                Err(e)
                    if self.cfg.tolerance == ErrorsTolerance::All
                        && self.cfg.exactly_once.is_none()
                        && !ctx.dead_letter
                        && record_specific(&e)
                        && matches!(ctx.about, About::Record { .. }) =>
                {
                    let About::Record { names, index } = &ctx.about else {
                        unreachable!("checked by the guard")
                    };
                    let mut failure = Failure::new(
                        Stage::KafkaProduce,
                        &names.bucket,
                        &names.object,
                        Error::Kafka {
                            context: format!("delivering {}", ctx.about.what()),
                            source: e,
                        },
                    );
                    failure.record_index = *index;
                    self.failed(ctx.id, failure).await;
                }
                Err(e) => {
                    let hint = if record_specific(&e) {
                        " (the record itself was rejected: raise producer.message.max.bytes and the topic's max.message.bytes, or set errors.tolerance=all, ideally with errors.deadletterqueue.topic.name)"
                    } else {
                        ""
                    };
                    self.fail(Error::Kafka {
                        context: format!(
                            "delivering {}{}{hint}",
                            if ctx.dead_letter {
                                "the dead letter record for "
                            } else {
                                ""
                            },
                            ctx.about.what()
                        ),
                        source: e,
                    });
                }
            }
        })
    }

    /// A tolerated failure: log, count, dead-letter, then let its offset be committed.
    async fn failed(&mut self, id: SubmittedId, failure: Failure) {
        let cfg = self.cfg;
        if failure.whole_object {
            Metrics::add(&cfg.metrics.objects_failed, 1);
        } else {
            Metrics::add(&cfg.metrics.records_failed, 1);
        }
        if cfg.errors_log {
            let raw = if cfg.errors_log_messages {
                failure
                    .raw
                    .as_ref()
                    .map(|r| String::from_utf8_lossy(&r[..r.len().min(1024)]).into_owned())
            } else {
                None
            };
            if failure.whole_object {
                warn!(task = %cfg.task_name, raw, "{failure}; the rest of the object is skipped for this run and retried after a restart (errors.tolerance=all)");
            } else {
                warn!(task = %cfg.task_name, raw, "{failure}; record skipped (errors.tolerance=all)");
            }
        }
        let Some(dlq) = &cfg.dead_letter_queue else {
            self.submitted.ack(id);
            return;
        };
        let mut headers = OwnedHeaders::new();
        if dlq.context_headers {
            let index = failure.record_index.map(|i| i.to_string());
            let offset = failure.byte_offset.map(|o| o.to_string());
            let class = failure.class_name();
            let message = crate::error_chain(&failure.error);
            let pairs: [(&str, Option<&str>); 9] = [
                ("__connect.errors.connector.name", Some(&cfg.connector)),
                ("__connect.errors.task.id", Some(&cfg.task_name)),
                ("__connect.errors.stage", Some(failure.stage.name())),
                ("__connect.errors.exception.class.name", Some(&class)),
                ("__connect.errors.exception.message", Some(&message)),
                ("__connect.errors.bucket", Some(&failure.bucket)),
                ("__connect.errors.object", Some(&failure.object)),
                ("__connect.errors.record.index", index.as_deref()),
                ("__connect.errors.byte.offset", offset.as_deref()),
            ];
            for (k, v) in pairs {
                if let Some(v) = v {
                    headers = headers.insert(KafkaHeader {
                        key: k,
                        value: Some(v.as_bytes()),
                    });
                }
            }
        }
        let what = format!(
            "object {:?} record {:?}",
            failure.object, failure.record_index
        );
        let ctx = Context {
            id,
            about: About::Other(what),
            dead_letter: true,
        };
        let mut record = record_to(&dlq.topic, ctx)
            .key(failure.object.as_bytes())
            .headers(headers);
        if let Some(raw) = &failure.raw {
            record = record.payload(raw);
        }
        self.send(record).await;
    }

    /// Produces or records one item of the reading side.
    async fn handle(&mut self, item: Result<Item>, boundary: Option<TransactionBoundary>) {
        match item {
            Err(e) => self.failure = Some(e),
            Ok(Item::PollEnd) => {
                if boundary == Some(TransactionBoundary::Poll) && self.txn.records > 0 {
                    if let Err(e) = self.commit().await {
                        self.failure = Some(e);
                    }
                }
            }
            Ok(Item::Progress(part, off)) => {
                let finished =
                    off.get(crate::offsets::FINISHED).and_then(|v| v.as_bool()) == Some(true);
                let id = self.submit(part, off);
                self.submitted.ack(id);
                if finished && boundary == Some(TransactionBoundary::Object) {
                    if let Err(e) = self.commit().await {
                        self.failure = Some(e);
                    }
                }
            }
            Ok(Item::Failed(part, off, failure)) => {
                let whole = failure.whole_object;
                let id = self.submit(part, off);
                self.failed(id, *failure).await;
                if whole && boundary == Some(TransactionBoundary::Object) {
                    if let Err(e) = self.commit().await {
                        self.failure = Some(e);
                    }
                }
            }
            Ok(Item::Record(r)) => {
                let index = record_index(&r.offset);
                let id = self.submit(r.partition, r.offset);
                let ctx = Context {
                    id,
                    about: About::Record {
                        names: r.names,
                        index,
                    },
                    dead_letter: false,
                };
                let mut record = record_to(&r.topic, ctx);
                if let Some(k) = &r.key {
                    record = record.key(k.as_slice());
                }
                if let Some(v) = &r.value {
                    record = record.payload(v.as_slice());
                }
                if let Some(part) = r.kafka_partition {
                    record = record.partition(part);
                }
                if let Some(ts) = r.timestamp {
                    record = record.timestamp(ts);
                }
                let mut headers = r.headers;
                if self.cfg.exactly_once.is_some() {
                    // Which transaction the record is in, so a reader of a broker without
                    // read_committed can match records to committed transactions.
                    let txn = format!("{}/{}", self.txn.session, self.txn.committed + 1);
                    headers = Some(headers.unwrap_or_default().insert(KafkaHeader {
                        key: "sluice.transaction",
                        value: Some(txn.as_bytes()),
                    }));
                }
                if let Some(h) = headers {
                    record = record.headers(h);
                }
                self.send(record).await;
            }
        }
        // Poll boundary: a full poll's worth of records (`max.poll.records`) also commits.
        if boundary == Some(TransactionBoundary::Poll)
            && self.failure.is_none()
            && self.txn.records >= self.cfg.max_poll_records
        {
            if let Err(e) = self.commit().await {
                self.failure = Some(e);
            }
        }
    }

    async fn commit(&mut self) -> Result<()> {
        if self.cfg.exactly_once.is_some() {
            return self.commit_transaction().await.map_err(|e| Error::Task {
                task: self.cfg.task_name.clone(),
                source: Box::new(e),
            });
        }
        let batch = self.submitted.committable();
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len();
        self.cfg
            .offset_store
            .put(
                &self.cfg.connector,
                batch.into_iter().map(|(p, o)| (p, Some(o))).collect(),
            )
            .await
            .map_err(|e| Error::Task {
                task: self.cfg.task_name.clone(),
                source: Box::new(e),
            })?;
        Metrics::add(&self.cfg.metrics.offset_commits, 1);
        debug!(task = %self.cfg.task_name, partitions = n, "offsets committed");
        Ok(())
    }
}

/// Runs one task until the source is done, `stop` turns true, or a failure. Offsets of every
/// acknowledged record are committed before it returns, also on failure.
pub async fn run_task<S: SourceTask>(
    mut source: S,
    cfg: DriverConfig,
    stop: watch::Receiver<bool>,
) -> Result<TaskEnd> {
    source.configure().await.map_err(|e| Error::Task {
        task: cfg.task_name.clone(),
        source: Box::new(e),
    })?;
    let (tx, mut rx) =
        mpsc::channel::<Vec<Result<Item>>>(cfg.max_poll_records.div_ceil(HAND_OVER_BATCH).max(1));
    let reader = tokio::spawn(read_loop(source, cfg.clone(), tx, stop.clone()));

    if let Some(eo) = &cfg.exactly_once {
        txn_call(&cfg.producer, "initialising transactions", |p| {
            rdkafka::producer::Producer::init_transactions(p, Duration::from_secs(60))
        })
        .await
        .map_err(|e| Error::Task {
            task: cfg.task_name.clone(),
            source: Box::new(e),
        })?;
        info!(task = %cfg.task_name, transactional_id = %eo.transactional_id, boundary = ?eo.boundary, "exactly-once delivery: transactions initialised");
    }
    let mut p = Producing {
        cfg: &cfg,
        submitted: SubmittedRecords::new(),
        deliveries: cfg.producer.deliveries.lock().await,
        received: Vec::new(),
        in_flight: 0,
        failure: None,
        txn: Transaction {
            session: cfg
                .exactly_once
                .as_ref()
                .map(|eo| {
                    format!(
                        "{}/{}-{}",
                        eo.transactional_id,
                        std::process::id(),
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis())
                    )
                })
                .unwrap_or_default(),
            ..Transaction::default()
        },
    };
    let boundary = cfg.exactly_once.as_ref().map(|e| e.boundary);
    let flush_every = match boundary {
        Some(TransactionBoundary::Interval(d)) => d,
        _ => cfg.flush_interval,
    };
    let mut flush = tokio::time::interval(flush_every);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.tick().await;

    while p.failure.is_none() {
        tokio::select! {
            _ = p.deliveries.recv_many(&mut p.received, 1024), if p.in_flight > 0 => {
                p.settle_received().await;
            }
            _ = flush.tick(), if matches!(boundary, None | Some(TransactionBoundary::Interval(_))) => {
                if let Err(e) = p.commit().await {
                    p.failure = Some(e);
                }
            }
            batch = rx.recv() => match batch {
                None => break,
                Some(items) => {
                    for item in items {
                        p.handle(item, boundary).await;
                        if p.failure.is_some() {
                            break;
                        }
                    }
                }
            },
        }
    }

    // Drain: deliver what is in flight (bounded by the shutdown timeout), then commit.
    drop(rx);
    let stopping = *stop.borrow();
    let drained = tokio::time::timeout(cfg.shutdown_timeout, async {
        while p.in_flight > 0 {
            p.settle_next().await;
        }
    })
    .await;
    if drained.is_err() {
        warn!(task = %cfg.task_name, timeout = ?cfg.shutdown_timeout,
            "in-flight records were not acknowledged in time; their offsets are not committed and they will be read again");
    }
    let committed = if cfg.exactly_once.is_some() && p.failure.is_some() {
        if p.txn.open {
            warn!(task = %cfg.task_name, "aborting the open transaction");
            let _ = txn_call(&cfg.producer, "aborting the transaction", |pr| {
                rdkafka::producer::Producer::abort_transaction(pr, Duration::from_secs(30))
            })
            .await;
        }
        Ok(())
    } else {
        p.commit().await
    };
    let done = reader.await.unwrap_or(false);
    if let Some(e) = p.failure.take() {
        error!(task = %cfg.task_name, error = %crate::error_chain(&e), "task failed");
        return Err(e);
    }
    committed?;
    let end = if done && !stopping {
        TaskEnd::Completed
    } else {
        TaskEnd::Stopped
    };
    info!(task = %cfg.task_name, ?end, "task ended");
    Ok(end)
}
