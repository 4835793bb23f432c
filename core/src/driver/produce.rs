//! Sending records and settling their delivery reports: many records in flight, acks in any
//! order, a full producer queue waited out, and records Kafka rejects tolerated or not.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::producer::BaseRecord;
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::{mpsc, MutexGuard};
use tracing::{info, warn};

use super::commit::Committer;
use super::DriverConfig;
use crate::config::ErrorsTolerance;
use crate::contract::{Failure, Stage};
use crate::error::Error;
use crate::kafka::{Delivery, DeliveryTag, Sent};
use crate::metrics::Metrics;
use crate::offsets::{OffsetMap, SubmittedRecords};
use crate::postread::PostReader;

/// A record as the producer takes it.
pub(super) type Record<'a> = BaseRecord<'a, [u8], [u8], Box<DeliveryTag>>;

/// A record to `topic`, tagged with what it is about.
pub(super) fn record_to(topic: &str, tag: DeliveryTag) -> Record<'_> {
    BaseRecord::with_opaque_to(topic, Box::new(tag))
}

/// What the task sent and has not settled yet.
pub(super) struct Output<'a> {
    pub(super) cfg: &'a DriverConfig,
    /// Offsets of what was sent, committable once acknowledged in order.
    pub(super) submitted: SubmittedRecords,
    /// The producer's delivery reports (held for the whole run).
    pub(super) deliveries: MutexGuard<'a, mpsc::UnboundedReceiver<Delivery>>,
    /// Reports received and not yet settled.
    pub(super) received: Vec<Delivery>,
    /// Records sent whose report has not been settled.
    pub(super) in_flight: usize,
    /// The topic of the last record acknowledged (a new one is added to the task's topics).
    last_topic: Option<std::sync::Arc<str>>,
    /// The error that stops the task.
    pub(super) failure: Option<Error>,
    /// Runs `object.post.read` on objects whose finishing offset was committed.
    pub(super) post_read: Option<PostReader>,
    /// Topics this task made sure exist (`topic.creation.*`).
    ensured_topics: std::collections::HashSet<String>,
    /// When the last delivery report came, or the first record after none was in flight was
    /// sent: the task warns once records in flight have had no report for the producer's
    /// [`stall_warning`](crate::kafka::TaskProducer::stall_warning).
    last_report: Instant,
    /// Whether the present stall was warned about (once per stall).
    stall_warned: bool,
}

impl<'a> Output<'a> {
    pub(super) fn new(
        cfg: &'a DriverConfig,
        deliveries: MutexGuard<'a, mpsc::UnboundedReceiver<Delivery>>,
    ) -> Self {
        Output {
            cfg,
            submitted: SubmittedRecords::new(),
            deliveries,
            received: Vec::new(),
            in_flight: 0,
            last_topic: None,
            failure: None,
            post_read: None,
            ensured_topics: Default::default(),
            last_report: Instant::now(),
            stall_warned: false,
        }
    }

    /// When to warn that the records in flight have had no delivery report for the delivery
    /// timeout set: none when no timeout is set, nothing is in flight, or this stall was warned
    /// about already.
    pub(super) fn stall_deadline(&self) -> Option<tokio::time::Instant> {
        let after = self.cfg.producer.stall_warning?;
        (self.in_flight > 0 && !self.stall_warned).then(|| (self.last_report + after).into())
    }

    /// Warns that the records in flight have waited past the delivery timeout set. They are
    /// neither dropped nor failed: the producer has no timeout of its own and keeps sending
    /// them, in order, until the broker takes them.
    pub(super) fn warn_stalled(&mut self) {
        self.stall_warned = true;
        warn!(task = %self.cfg.task_name, in_flight = self.in_flight,
            waited = ?self.last_report.elapsed(), "{STALLED}");
    }

    /// Hands the objects that the just `committed` offsets finish to the post-read actions, and
    /// every committed offset to the commit listener.
    pub(super) fn committed(&self, committed: &[(OffsetMap, OffsetMap)]) {
        if let Some(post_read) = &self.post_read {
            post_read.committed(committed);
        }
        if let Some(listener) = &self.cfg.commit_listener {
            listener.committed(committed);
        }
    }

    /// Stops the task on `e` (the first failure wins).
    pub(super) fn fail(&mut self, e: Error) {
        if self.failure.is_none() {
            self.failure = Some(self.cfg.task_error(e));
        }
    }

    /// Sends one record once the committer is ready for it, waiting for room when librdkafka's
    /// queue is full.
    pub(super) async fn send<C: Committer>(&mut self, committer: &mut C, record: Record<'_>) {
        if let Err(e) = committer.ready(self.cfg).await {
            self.fail(e);
            return;
        }
        if let Some(creator) = &self.cfg.topic_creation {
            // Records and dead letter records; the offsets topic is the worker's own.
            let is_offset = matches!(record.delivery_opaque.sent, Sent::Offset { .. });
            if !is_offset && !self.ensured_topics.contains(record.topic) {
                if let Err(e) = creator.ensure(record.topic).await {
                    self.fail(e);
                    return;
                }
                self.ensured_topics.insert(record.topic.to_owned());
            }
        }
        self.produce(committer, record).await;
    }

    /// Hands `record` to the producer, waiting for room when librdkafka's queue is full.
    async fn produce<C: Committer>(&mut self, committer: &mut C, mut record: Record<'_>) {
        loop {
            match self.cfg.producer.producer.send(record) {
                Ok(()) => {
                    if self.in_flight == 0 {
                        self.last_report = Instant::now();
                    }
                    self.in_flight += 1;
                    Metrics::set(&self.cfg.metrics.producer_in_flight, self.in_flight as u64);
                    return;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    if self.in_flight > 0 {
                        self.settle_next(committer).await;
                    } else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                Err((e, r)) => {
                    // Rejected before leaving the process (e.g. larger than message.max.bytes).
                    self.rejected(committer, *r.delivery_opaque, e).await;
                    return;
                }
            }
        }
    }

    /// Waits for at least one delivery report (warning when none comes for the delivery
    /// timeout set), then settles what arrived.
    pub(super) async fn settle_next<C: Committer>(&mut self, committer: &mut C) {
        loop {
            let deadline = self.stall_deadline();
            tokio::select! {
                _ = self.deliveries.recv_many(&mut self.received, 1024) => break,
                () = stalled_at(deadline) => self.warn_stalled(),
            }
        }
        self.settle_received(committer).await;
    }

    /// Settles the reports received.
    pub(super) async fn settle_received<C: Committer>(&mut self, committer: &mut C) {
        if !self.received.is_empty() {
            self.last_report = Instant::now();
            if std::mem::take(&mut self.stall_warned) {
                info!(task = %self.cfg.task_name, "{RESUMED}");
            }
        }
        let mut batch = std::mem::take(&mut self.received);
        for (tag, res) in batch.drain(..) {
            if !self.submitted.owns(tag.id) {
                // Sent by an earlier run over the same producer.
                continue;
            }
            self.in_flight -= 1;
            match res {
                Ok(()) => {
                    self.submitted.ack(tag.id);
                    if let Sent::Record { at, topic, .. } = tag.sent {
                        Metrics::add(&self.cfg.metrics.records_acked, 1);
                        self.cfg.metrics.delivery_latency.observe(at.elapsed());
                        if self.last_topic.as_deref() != Some(&*topic) {
                            self.cfg.metrics.wrote_to(&topic);
                            self.last_topic = Some(topic);
                        }
                    }
                }
                Err(e) => self.rejected(committer, *tag, e).await,
            }
        }
        self.received = batch;
        Metrics::set(&self.cfg.metrics.producer_in_flight, self.in_flight as u64);
    }

    /// A record Kafka did not take: tolerated when it is the record's own fault, the committer
    /// allows it and `errors.tolerance=all`; else the task stops. (Boxed: settling a dead letter
    /// record's send may settle other reports.)
    fn rejected<'s, C: Committer>(
        &'s mut self,
        committer: &'s mut C,
        tag: DeliveryTag,
        e: KafkaError,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 's>> {
        Box::pin(async move {
            let tolerated = C::TOLERATES_REJECTED_RECORDS
                && self.cfg.tolerance == ErrorsTolerance::All
                && record_specific(&e);
            match tag.sent {
                Sent::Record { origin, topic, .. } if tolerated => {
                    let (bucket, object) = origin.as_ref().map_or(("", ""), |o| {
                        (o.object.bucket.as_str(), o.object.key.as_str())
                    });
                    let what = record_what(object, origin.as_ref().map(|o| o.index), &topic);
                    let mut failure = Failure::new(
                        Stage::KafkaProduce,
                        bucket,
                        object,
                        Error::Kafka {
                            context: format!("delivering {what}"),
                            source: e,
                        },
                    );
                    failure.record_index = origin.map(|o| o.index);
                    self.failed(committer, tag.id, failure).await;
                }
                sent => {
                    let hint = if record_specific(&e) {
                        " (the record itself was rejected: raise producer.message.max.bytes and the topic's max.message.bytes, or set errors.tolerance=all, ideally with errors.deadletterqueue.topic.name)"
                    } else {
                        ""
                    };
                    let what = match &sent {
                        Sent::Record { origin, topic, .. } => record_what(
                            origin.as_ref().map_or("", |o| o.object.key.as_str()),
                            origin.as_ref().map(|o| o.index),
                            topic,
                        ),
                        Sent::DeadLetter(what) => format!("the dead letter record for {what}"),
                        Sent::Offset { topic } => format!("offsets to {topic:?}"),
                    };
                    self.fail(Error::Kafka {
                        context: format!("delivering {what}{hint}"),
                        source: e,
                    });
                }
            }
        })
    }
}

/// The warning when records in flight had no delivery report for the delivery timeout set.
const STALLED: &str = "no delivery report for longer than the delivery timeout set (message.timeout.ms / delivery.timeout.ms; is the broker down?): the records in flight are kept, not failed, and the producer sends them again, in order, until the broker takes them";

/// Said once delivery reports come again after [`STALLED`].
const RESUMED: &str =
    "delivery reports again after a stall: the records kept in flight are being acknowledged";

/// Completes at `deadline`; never without one.
pub(super) async fn stalled_at(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// How a record is named in errors.
fn record_what(object: &str, index: Option<u64>, topic: &str) -> String {
    format!(
        "object {object:?} record {} to topic {topic:?}",
        index.map_or("?".into(), |i| i.to_string()),
    )
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
