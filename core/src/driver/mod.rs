//! The source task driver (Kafka Connect's `AbstractSourceTask` / `WorkerSourceTask` roles).
//!
//! A [`SourceTask`] yields records; [`run_task`] runs it in its own tokio task that converts each
//! record to bytes and hands it over a bounded queue (`max.poll.records`) to the producing side,
//! which keeps many records in flight, tracks acknowledgements in
//! [`SubmittedRecords`](crate::offsets::SubmittedRecords) and commits offsets only for a
//! contiguous acknowledged prefix of each source partition. When the source has nothing new the
//! reading side sleeps with [`IdleBackoff`](crate::backoff::IdleBackoff).
//!
//! Records that cannot be delivered as they are ([`Poll::Failed`](crate::contract::Poll),
//! transform and converter failures, and records Kafka rejects as such, e.g. too large) are, under
//! `errors.tolerance=all`, logged, counted and sent to the dead letter queue when one is
//! configured; their offsets advance only once the dead letter record is acknowledged, so nothing
//! is skipped silently or lost. A record a transform drops (`Filter`) advances its offset like a
//! delivered one.
//!
//! The parts:
//! - `read`: the reading side (polls the source, applies the transforms, converts, hands
//!   batches over);
//! - `convert`: a record to the bytes Kafka takes;
//! - `produce`: sending, delivery reports, waiting out a full producer queue;
//! - `failure`: tolerated failures: logs, counters, dead letter records and their headers;
//! - `commit`: the one place where delivery guarantees differ, a `Committer` with two
//!   implementations: at-least-once (the acknowledged prefix to the offset store, continuously,
//!   one coalesced write in flight at a time: `writer`) and
//!   transactional (exactly-once: records and offsets in one Kafka transaction per
//!   [`TransactionBoundary`]);
//! - this file: the configuration and the task's lifecycle.

mod commit;
mod convert;
mod failure;
mod produce;
mod read;
#[cfg(test)]
mod tests;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn, Instrument as _};

use crate::config::{ErrorsTolerance, TransactionBoundary};
use crate::contract::SourceTask;
use crate::convert::Converter;
use crate::error::{Error, Result};
use crate::kafka::{DeliveryTag, Sent, TaskProducer};
use crate::metrics::Metrics;
use crate::offsets::{OffsetMap, OffsetStore, SubmittedId, FINISHED};
use crate::postread::{PostReadConfig, PostReader};
use crate::transforms::TransformChain;
use commit::{AtLeastOnce, Boundary, Committer, Transactional};
use produce::{record_to, Output};
use read::{Item, HAND_OVER_BATCH};

/// The dead letter queue of a connector.
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    /// `errors.deadletterqueue.topic.name`.
    pub topic: String,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub context_headers: bool,
}

/// Exactly-once delivery: records and their offsets in one Kafka transaction.
#[derive(Debug, Clone)]
pub struct ExactlyOnce {
    /// When to commit.
    pub boundary: TransactionBoundary,
    /// The commit interval under [`TransactionBoundary::Interval`]
    /// (`transaction.boundary.interval.ms`); unused otherwise.
    pub interval: Duration,
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
    pub producer: Arc<TaskProducer>,
    /// Key converter.
    pub key_converter: Arc<dyn Converter>,
    /// Value converter.
    pub value_converter: Arc<dyn Converter>,
    /// Header converter (`header.converter`).
    pub header_converter: crate::convert::HeaderConverter,
    /// The connector's single message transforms, applied before the converters.
    pub transforms: TransformChain,
    /// Where offsets are committed.
    pub offset_store: Arc<dyn OffsetStore>,
    /// `offset.flush.interval.ms`.
    pub flush_interval: Duration,
    /// `offset.flush.continuous`: at-least-once offsets are written as they are acknowledged,
    /// not only every `flush_interval`.
    pub continuous_commits: bool,
    /// `task.shutdown.graceful.timeout.ms`.
    pub shutdown_timeout: Duration,
    /// `max.poll.records`: capacity of the queue between reading and producing.
    pub max_poll_records: usize,
    /// `object.in.flight.max`: at-least-once tasks take no more from the reading side while
    /// they hold this many objects with records sent and offsets not yet committed (0: no
    /// bound).
    pub max_objects_in_flight: usize,
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
    /// `object.post.read`, when it is not `none`.
    pub post_read: Option<PostReadConfig>,
    /// Told about every committed offset (the source's notification queue, which deletes a
    /// message once the objects it announced are committed).
    pub commit_listener: Option<Arc<dyn crate::contract::CommitListener>>,
    /// The connector's offset manager: once an offset write is done, its cached copies of the
    /// finished offsets written are dropped ([`OffsetManager::forget_stored`](crate::offsets::OffsetManager::forget_stored)).
    pub offset_manager: Option<Arc<crate::offsets::OffsetManager>>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The connector's rate limits, shared by its tasks (`None`: unlimited).
    pub rate_limits: Option<Arc<crate::ratelimit::RateLimits>>,
    /// `topic.creation.*`: topics are created before the task's first record (or dead letter
    /// record) goes to them (`None`: topic creation is not used).
    pub topic_creation: Option<Arc<crate::kafka::topics::TopicCreator>>,
}

impl DriverConfig {
    /// `e` as the error that stopped this task.
    fn task_error(&self, e: Error) -> Error {
        Error::Task {
            task: self.task_name.clone(),
            source: Box::new(e),
        }
    }
}

/// How a task run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    /// The source said [`Poll::Done`](crate::contract::Poll::Done) and everything was delivered
    /// and committed.
    Completed,
    /// Stopped on request; what was read was delivered and committed.
    Stopped,
}

/// Runs one task until the source is done, `stop` turns true, or a failure. Offsets of every
/// acknowledged record are committed before it returns, also on failure (exactly-once: the
/// open transaction is aborted on failure).
pub async fn run_task<S: SourceTask>(
    source: S,
    cfg: DriverConfig,
    stop: watch::Receiver<bool>,
) -> Result<TaskEnd> {
    // The one fork between the delivery guarantees; everything after is generic over it.
    match cfg.exactly_once.clone() {
        None => drive(source, &cfg, AtLeastOnce::default(), stop).await,
        Some(eo) => drive(source, &cfg, Transactional::new(eo), stop).await,
    }
}

async fn drive<S: SourceTask, C: Committer>(
    mut source: S,
    cfg: &DriverConfig,
    committer: C,
    stop: watch::Receiver<bool>,
) -> Result<TaskEnd> {
    source.configure().await.map_err(|e| cfg.task_error(e))?;
    let (tx, mut rx) =
        mpsc::channel::<Vec<Result<Item>>>(cfg.max_poll_records.div_ceil(HAND_OVER_BATCH).max(1));
    // The reading side logs in the task's span (connector, task) too.
    let reader =
        tokio::spawn(read::read_loop(source, cfg.clone(), tx, stop.clone()).in_current_span());

    let mut d = Driver {
        committer,
        out: Output::new(cfg, cfg.producer.deliveries.lock().await),
    };
    d.committer
        .start(cfg)
        .await
        .map_err(|e| cfg.task_error(e))?;
    d.out.post_read = cfg.post_read.clone().map(|p| {
        PostReader::start(
            p,
            cfg.connector.clone(),
            cfg.task_name.clone(),
            cfg.offset_store.clone(),
            cfg.metrics.clone(),
        )
    });
    let flush_every = d.committer.flush_interval(cfg);
    let mut flush = tokio::time::interval(flush_every.unwrap_or(cfg.flush_interval));
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.tick().await;

    while d.out.failure.is_none() {
        let stall = d.out.stall_deadline();
        tokio::select! {
            _ = d.out.deliveries.recv_many(&mut d.out.received, 1024), if d.out.in_flight > 0 => {
                d.out.settle_received(&mut d.committer).await;
                d.commit_at(Boundary::Acked).await;
            }
            () = produce::stalled_at(stall) => d.out.warn_stalled(),
            event = d.committer.event() => {
                if let Err(e) = d.committer.on_event(event, &mut d.out).await {
                    d.out.fail(e);
                } else if !d.takes_items() {
                    // At `object.in.flight.max`, the next write starts as this one ends.
                    d.commit().await;
                }
            }
            _ = flush.tick(), if flush_every.is_some() => d.commit().await,
            batch = rx.recv(), if d.takes_items() => match batch {
                None => break,
                Some(items) => {
                    for item in items {
                        d.handle(item).await;
                        if d.out.failure.is_some() {
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
        while d.out.in_flight > 0 {
            d.out.settle_next(&mut d.committer).await;
        }
    })
    .await;
    if drained.is_err() {
        warn!(task = %cfg.task_name, timeout = ?cfg.shutdown_timeout,
            "in-flight records were not acknowledged in time; their offsets are not committed and they will be read again");
    }
    let committed = d
        .committer
        .close(&mut d.out)
        .await
        .map_err(|e| cfg.task_error(e));
    let done = reader.await.unwrap_or(false);
    if let Some(post_read) = d.out.post_read.take() {
        post_read.finish(cfg.shutdown_timeout, &cfg.task_name).await;
    }
    if let Some(e) = d.out.failure.take() {
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

/// The producing side of a running task: what goes to Kafka, and how it is committed.
struct Driver<'a, C> {
    committer: C,
    out: Output<'a>,
}

impl<C: Committer> Driver<'_, C> {
    /// Whether to take more from the reading side: not while the task holds
    /// `object.in.flight.max` objects (their acks and the offset writer free room; a batch
    /// taken may go past the bound by its own objects).
    fn takes_items(&self) -> bool {
        let max = self.out.cfg.max_objects_in_flight;
        !C::BOUNDS_OBJECTS_IN_FLIGHT || max == 0 || self.out.submitted.partitions() < max
    }

    /// Registers a record (or progress) with its offset, with the committer too.
    fn submit(&mut self, partition: OffsetMap, offset: OffsetMap) -> SubmittedId {
        self.committer.submitted(&partition, &offset);
        self.out.submitted.submit(partition, offset)
    }

    /// Commits now; a failure stops the task.
    async fn commit(&mut self) {
        if let Err(e) = self.committer.commit(&mut self.out).await {
            self.out.failure = Some(self.out.cfg.task_error(e));
        }
    }

    /// Commits if the committer's boundary is reached `at` this point, or if the task holds
    /// `object.in.flight.max` objects (also with `offset.flush.continuous=false`: waiting for
    /// the timer would stall reading).
    async fn commit_at(&mut self, at: Boundary) {
        if self.committer.due(at, self.out.cfg) || !self.takes_items() {
            self.commit().await;
        }
    }

    /// Produces or records one item of the reading side.
    async fn handle(&mut self, item: Result<Item>) {
        match item {
            Err(e) => self.out.failure = Some(e),
            Ok(Item::PollEnd) => self.commit_at(Boundary::PollEnd).await,
            Ok(Item::Progress(part, off)) => {
                let finished = off.get(FINISHED).and_then(|v| v.as_bool()) == Some(true);
                let id = self.submit(part, off);
                self.out.submitted.ack(id);
                if finished {
                    self.commit_at(Boundary::ObjectEnd).await;
                }
            }
            Ok(Item::Failed(part, off, failure)) => {
                let whole = failure.whole_object;
                let id = self.submit(part, off);
                self.out.failed(&mut self.committer, id, *failure).await;
                if whole {
                    self.commit_at(Boundary::ObjectEnd).await;
                }
            }
            Ok(Item::Record(r)) => {
                let id = self.submit(r.partition, r.offset);
                let tag = DeliveryTag::new(
                    id,
                    Sent::Record {
                        origin: r.origin,
                        topic: r.topic.clone(),
                        at: std::time::Instant::now(),
                    },
                );
                let mut record = record_to(&r.topic, tag);
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
                if let Some(h) = self.committer.headers(r.headers) {
                    record = record.headers(h);
                }
                self.out.send(&mut self.committer, record).await;
            }
        }
        if self.out.failure.is_none() {
            self.commit_at(Boundary::Item).await;
        }
    }
}
