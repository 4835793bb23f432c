//! The source task driver (Kafka Connect's `AbstractSourceTask` / `WorkerSourceTask` roles).
//!
//! A [`SourceTask`] yields records; the driver runs it in its own tokio task that converts each
//! record to bytes and hands it over a bounded queue (`max.poll.records`) to the producing side,
//! which keeps many records in flight, tracks acknowledgements in [`SubmittedRecords`] and
//! commits offsets only for a contiguous acknowledged prefix of each source partition, on a timer
//! and on stop. When the source has nothing new the reading side sleeps with [`IdleBackoff`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::backoff::IdleBackoff;
use crate::config::ErrorsTolerance;
use crate::convert::Converter;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::offsets::{OffsetMap, OffsetStore, SubmittedRecords};
use crate::record::SourceRecord;

/// What a [`SourceTask`] has for the driver.
#[derive(Debug)]
pub enum Poll {
    /// A record to produce.
    Record(SourceRecord),
    /// Progress without a record (an object finished, or a bad record skipped): the offset is
    /// committed once every earlier record of the partition is acknowledged.
    Progress {
        /// The source partition.
        partition: OffsetMap,
        /// Its new offset.
        offset: OffsetMap,
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
    /// The next record or state. Errors stop the task (tolerated errors are handled inside).
    async fn poll(&mut self) -> Result<Poll>;
    /// Releases resources; called once after the last poll.
    async fn close_resources(&mut self);
}

/// Everything the driver needs besides the source.
#[derive(Clone)]
pub struct DriverConfig {
    /// Task name for logs and errors (`connector-N`).
    pub task_name: String,
    /// Connector name, the namespace of stored offsets.
    pub connector: String,
    /// The producer (shared by the worker's tasks).
    pub producer: FutureProducer,
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
    /// `errors.tolerance` (conversion errors).
    pub tolerance: ErrorsTolerance,
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
}

enum Item {
    Record(Prepared),
    Progress(OffsetMap, OffsetMap),
}

/// How a task run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    /// The source said [`Poll::Done`] and everything was delivered and committed.
    Completed,
    /// Stopped on request; what was read was delivered and committed.
    Stopped,
}

fn describe(partition: &OffsetMap) -> String {
    partition
        .values()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join("/")
}

fn convert(cfg: &DriverConfig, r: SourceRecord) -> Result<Prepared> {
    let key = cfg
        .key_converter
        .from_connect_data(&r.topic, &r.key)
        .map_err(|e| Error::Convert {
            part: "key",
            topic: r.topic.clone(),
            source: Box::new(e),
        })?;
    let value = cfg
        .value_converter
        .from_connect_data(&r.topic, &r.value)
        .map_err(|e| Error::Convert {
            part: "value",
            topic: r.topic.clone(),
            source: Box::new(e),
        })?;
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
    Ok(Prepared {
        partition: r.source_partition,
        offset: r.source_offset,
        topic: r.topic,
        kafka_partition: r.kafka_partition,
        key,
        value,
        headers,
        timestamp: r.timestamp,
    })
}

/// The reading side: polls the source, converts, queues. Ends when stopped, done, or failed.
async fn read_loop<S: SourceTask>(
    mut source: S,
    cfg: DriverConfig,
    tx: mpsc::Sender<Result<Item>>,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let mut backoff = IdleBackoff::default();
    let mut done = false;
    loop {
        if *stop.borrow() {
            break;
        }
        let item = match source.poll().await {
            Ok(Poll::Record(r)) => {
                backoff.reset();
                let (partition, offset) = (r.source_partition.clone(), r.source_offset.clone());
                match convert(&cfg, r) {
                    Ok(p) => Ok(Item::Record(p)),
                    Err(e) if cfg.tolerance == ErrorsTolerance::All => {
                        Metrics::add(&cfg.metrics.records_failed, 1);
                        warn!(task = %cfg.task_name, object = %describe(&partition), error = %e, "skipping a record that cannot be converted (errors.tolerance=all)");
                        Ok(Item::Progress(partition, offset))
                    }
                    Err(e) => Err(Error::Task {
                        task: cfg.task_name.clone(),
                        source: Box::new(Error::Record {
                            object: describe(&partition),
                            record_index: offset
                                .get(crate::offsets::RECORD_COUNT)
                                .and_then(|v| v.as_long())
                                .map_or(0, |n| (n - 1).max(0) as u64),
                            byte_offset: None,
                            recoverable: true,
                            raw: None,
                            source: Box::new(e),
                        }),
                    }),
                }
            }
            Ok(Poll::Progress { partition, offset }) => {
                backoff.reset();
                Ok(Item::Progress(partition, offset))
            }
            Ok(Poll::Idle) => {
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
            Err(e) => Err(e),
        };
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            break;
        }
    }
    source.close_resources().await;
    done
}

type InFlight = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = (crate::offsets::SubmittedId, Result<(), KafkaError>, String),
            > + Send,
    >,
>;

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
    let (tx, mut rx) = mpsc::channel::<Result<Item>>(cfg.max_poll_records.max(1));
    let reader = tokio::spawn(read_loop(source, cfg.clone(), tx, stop.clone()));

    let mut submitted = SubmittedRecords::new();
    let mut inflight: FuturesUnordered<InFlight> = FuturesUnordered::new();
    let mut flush = tokio::time::interval(cfg.flush_interval);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.tick().await;
    let mut failure: Option<Error> = None;

    let on_ack =
        |submitted: &mut SubmittedRecords,
         failure: &mut Option<Error>,
         (id, res, what): (crate::offsets::SubmittedId, Result<(), KafkaError>, String)| {
            match res {
                Ok(()) => {
                    submitted.ack(id);
                    Metrics::add(&cfg.metrics.records_acked, 1);
                }
                Err(e) => {
                    if failure.is_none() {
                        *failure = Some(Error::Task {
                            task: cfg.task_name.clone(),
                            source: Box::new(Error::Kafka {
                                context: format!("delivering {what}"),
                                source: e,
                            }),
                        });
                    }
                }
            }
        };

    // Producing side.
    loop {
        if failure.is_some() {
            break;
        }
        tokio::select! {
            Some(done) = inflight.next(), if !inflight.is_empty() => {
                on_ack(&mut submitted, &mut failure, done);
            }
            _ = flush.tick() => {
                commit(&cfg, &mut submitted).await?;
            }
            item = rx.recv() => match item {
                None => break,
                Some(Err(e)) => { failure = Some(e); }
                Some(Ok(Item::Progress(p, o))) => {
                    let id = submitted.submit(p, o);
                    submitted.ack(id);
                }
                Some(Ok(Item::Record(p))) => {
                    let what = format!(
                        "object {:?} up to record count {} to topic {:?}",
                        describe(&p.partition),
                        p.offset.get(crate::offsets::RECORD_COUNT).and_then(|v| v.as_long()).unwrap_or(0),
                        p.topic
                    );
                    let id = submitted.submit(p.partition.clone(), p.offset.clone());
                    let mut record: FutureRecord<'_, Vec<u8>, Vec<u8>> = FutureRecord::to(&p.topic);
                    if let Some(k) = &p.key { record = record.key(k); }
                    if let Some(v) = &p.value { record = record.payload(v); }
                    if let Some(part) = p.kafka_partition { record = record.partition(part); }
                    if let Some(ts) = p.timestamp { record = record.timestamp(ts); }
                    if let Some(h) = p.headers.clone() { record = record.headers(h); }
                    loop {
                        match cfg.producer.send_result(record) {
                            Ok(delivery) => {
                                inflight.push(Box::pin(async move {
                                    let res = match delivery.await {
                                        Ok(Ok(_)) => Ok(()),
                                        Ok(Err((e, _))) => Err(e),
                                        Err(_) => Err(KafkaError::Canceled),
                                    };
                                    (id, res, what)
                                }));
                                break;
                            }
                            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                                record = r;
                                // Make room: wait for a delivery (or briefly, if none is ours).
                                match inflight.next().await {
                                    Some(done) => on_ack(&mut submitted, &mut failure, done),
                                    None => tokio::time::sleep(Duration::from_millis(5)).await,
                                }
                            }
                            Err((e, _)) => {
                                failure = Some(Error::Task {
                                    task: cfg.task_name.clone(),
                                    source: Box::new(Error::Kafka { context: format!("producing {what}"), source: e }),
                                });
                                break;
                            }
                        }
                    }
                }
            },
        }
    }

    // Drain: deliver what is in flight (bounded by the shutdown timeout), then commit.
    drop(rx);
    let stopping = *stop.borrow();
    let drain = async {
        while let Some(done) = inflight.next().await {
            on_ack(&mut submitted, &mut failure, done);
        }
    };
    if tokio::time::timeout(cfg.shutdown_timeout, drain)
        .await
        .is_err()
    {
        warn!(task = %cfg.task_name, timeout = ?cfg.shutdown_timeout,
            "in-flight records were not acknowledged in time; their offsets are not committed and they will be read again");
    }
    commit(&cfg, &mut submitted).await?;
    let done = reader.await.unwrap_or(false);
    if let Some(e) = failure {
        error!(task = %cfg.task_name, error = %e, "task failed");
        return Err(e);
    }
    let end = if done && !stopping {
        TaskEnd::Completed
    } else {
        TaskEnd::Stopped
    };
    info!(task = %cfg.task_name, ?end, "task ended");
    Ok(end)
}

async fn commit(cfg: &DriverConfig, submitted: &mut SubmittedRecords) -> Result<()> {
    let batch = submitted.committable();
    if batch.is_empty() {
        return Ok(());
    }
    let n = batch.len();
    cfg.offset_store
        .put(
            &cfg.connector,
            batch.into_iter().map(|(p, o)| (p, Some(o))).collect(),
        )
        .await
        .map_err(|e| Error::Task {
            task: cfg.task_name.clone(),
            source: Box::new(e),
        })?;
    cfg.metrics.offset_commits.fetch_add(1, Ordering::Relaxed);
    debug!(task = %cfg.task_name, partitions = n, "offsets committed");
    Ok(())
}
