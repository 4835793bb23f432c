//! How a task commits what Kafka acknowledged: the one place where the delivery guarantees
//! differ. A [`Committer`] has two implementations:
//!
//! - [`AtLeastOnce`]: continuously (one coalesced write in flight at a time, see
//!   [`super::writer`]; `offset.flush.interval.ms` is an upper bound), or only on that timer
//!   with `offset.flush.continuous=false`, and at the end, the offset
//!   of the contiguous acknowledged prefix of each source partition goes to the offset store. A
//!   crash re-delivers what was sent and not yet committed: the records in flight and those
//!   acknowledged during the last write or two (milliseconds to a few hundred, not a flush
//!   interval).
//! - [`Transactional`] (exactly-once): records go out inside a Kafka transaction; at each
//!   [`TransactionBoundary`] the latest offset of every source partition in it is written to the
//!   offsets topic inside the same transaction, which then commits. A failed commit aborts the
//!   transaction and stops the task (its restart reads again from the last committed offsets);
//!   a task fenced by a newer instance of itself says so and stops. Each record carries the
//!   `sluice.transaction` header naming its transaction.
//!
//! The driver is generic over the committer, so the per-record hooks cost nothing for
//! at-least-once delivery.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{Producer as _, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use tracing::{info, warn};

use super::produce::{record_to, Output};
use super::writer::{store_batch, Destination, OffsetWriter, WriterEvent, Written};
use super::{DriverConfig, ExactlyOnce};
use crate::config::TransactionBoundary;
use crate::error::{Error, Result};
use crate::kafka::{DeliveryRouter, DeliveryTag, Sent, TaskProducer};
use crate::offsets::{canonical_partition, KafkaOffsetStore, OffsetMap};

/// The header naming the transaction a record was sent in: `<session>/<n>`, the task's
/// producer session and the number of the transaction in it (so a reader of a broker without
/// `read_committed` can match records to the transactions that committed).
pub(super) const HEADER_TRANSACTION: &str = "sluice.transaction";

/// Points of the producing side where a commit may be due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Boundary {
    /// The source had nothing more right now (the end of a Kafka Connect "poll").
    PollEnd,
    /// An object ended (finished, or abandoned after an error).
    ObjectEnd,
    /// Any item was handled.
    Item,
    /// Delivery reports were settled.
    Acked,
}

/// How offsets of acknowledged records are committed.
pub(super) trait Committer: Send {
    /// Whether a record Kafka rejects as such (e.g. too large) may be tolerated under
    /// `errors.tolerance=all`; inside a transaction it never is (the transaction must abort).
    const TOLERATES_REJECTED_RECORDS: bool;

    /// Whether the driver may stop taking items from the reading side while the task holds
    /// `object.in.flight.max` objects: only when commits come without more items (acks, the
    /// offset writer, the timer); a transaction that ends after a number of records or at an
    /// object's end would wait for items that never come.
    const BOUNDS_OBJECTS_IN_FLIGHT: bool;

    /// Prepares the producer before the first record.
    fn start(&mut self, cfg: &DriverConfig) -> impl Future<Output = Result<()>> + Send;

    /// How often the driver calls [`commit`](Self::commit) on a timer (`None`: never).
    fn flush_interval(&self, cfg: &DriverConfig) -> Option<Duration>;

    /// A record (or progress, or failure) of `partition` reaching `offset` was submitted.
    fn submitted(&mut self, partition: &OffsetMap, offset: &OffsetMap);

    /// Called before each record is sent.
    fn ready(&mut self, cfg: &DriverConfig) -> impl Future<Output = Result<()>> + Send;

    /// The Kafka headers of a source record, with what the committer adds.
    fn headers(&self, headers: Option<OwnedHeaders>) -> Option<OwnedHeaders>;

    /// Whether to commit at this point (besides the timer).
    fn due(&self, at: Boundary, cfg: &DriverConfig) -> bool;

    /// Commits what can be committed.
    fn commit(&mut self, out: &mut Output<'_>) -> impl Future<Output = Result<()>> + Send;

    /// What the committer does in the background reports to the driver.
    type Event: Send;

    /// Resolves when something done in the background needs the driver (never, when nothing
    /// runs in the background). Cancel-safe.
    fn event(&mut self) -> impl Future<Output = Self::Event> + Send;

    /// Handles what [`event`](Self::event) reported; an error stops the task.
    fn on_event(
        &mut self,
        event: Self::Event,
        out: &mut Output<'_>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The task ends (`out.failure` says whether it failed), after in-flight records were
    /// settled.
    fn close(&mut self, out: &mut Output<'_>) -> impl Future<Output = Result<()>> + Send;
}

/// At-least-once delivery: the acknowledged prefix goes to the offset store continuously, one
/// coalesced write in flight at a time ([`OffsetWriter`]); `offset.flush.interval.ms` stays as
/// an upper bound. `offset.flush.continuous=false`: only the flush timer (and the end) writes.
#[derive(Default)]
pub(super) struct AtLeastOnce {
    writer: OffsetWriter,
}

impl AtLeastOnce {
    /// A write ended: a failure stops the task; else the finished objects' post-read actions
    /// may run.
    fn written(out: &mut Output<'_>, w: Written) -> Result<()> {
        w.result?;
        let cfg = out.cfg;
        if out.post_read.is_some() || cfg.commit_listener.is_some() {
            // Only now that the store holds them may the finished objects' actions run (the
            // post-reader takes the pending ones) and their notifications be deleted.
            out.committed(&w.batch);
        }
        cfg.metrics
            .offsets_committed(&cfg.task_name, w.count, w.took);
        Ok(())
    }
}

impl Committer for AtLeastOnce {
    const TOLERATES_REJECTED_RECORDS: bool = true;

    const BOUNDS_OBJECTS_IN_FLIGHT: bool = true;

    type Event = WriterEvent;

    async fn start(&mut self, _cfg: &DriverConfig) -> Result<()> {
        Ok(())
    }

    fn flush_interval(&self, cfg: &DriverConfig) -> Option<Duration> {
        Some(cfg.flush_interval)
    }

    fn submitted(&mut self, _partition: &OffsetMap, _offset: &OffsetMap) {}

    async fn ready(&mut self, _cfg: &DriverConfig) -> Result<()> {
        Ok(())
    }

    fn headers(&self, headers: Option<OwnedHeaders>) -> Option<OwnedHeaders> {
        headers
    }

    /// Always when continuous (a commit only starts a background write when none is in
    /// flight); else only the flush timer commits.
    fn due(&self, _at: Boundary, cfg: &DriverConfig) -> bool {
        cfg.continuous_commits
    }

    /// Starts a write of the offset of each source partition's newly acknowledged prefix,
    /// unless one is in flight (the next carries it). Never waits for the store.
    async fn commit(&mut self, out: &mut Output<'_>) -> Result<()> {
        self.writer.kick(out.cfg, &mut out.submitted);
        Ok(())
    }

    fn event(&mut self) -> impl Future<Output = WriterEvent> + Send {
        self.writer.event()
    }

    /// A write ended (continuous: the next one starts if something new was acknowledged), or
    /// a paced write became due.
    async fn on_event(&mut self, event: WriterEvent, out: &mut Output<'_>) -> Result<()> {
        match event {
            WriterEvent::Written(w) => {
                Self::written(out, w)?;
                if out.cfg.continuous_commits {
                    self.commit(out).await?;
                }
                Ok(())
            }
            WriterEvent::Due => self.commit(out).await,
        }
    }

    /// Waits for the write in flight, then writes what is left, also when the task failed.
    async fn close(&mut self, out: &mut Output<'_>) -> Result<()> {
        let in_flight = match self.writer.wait().await {
            Some(w) => Self::written(out, w),
            None => Ok(()),
        };
        let batch = out.submitted.committable();
        if !batch.is_empty() {
            let cfg = out.cfg;
            let started = Instant::now();
            let (batch, result) = store_batch(Destination::of(cfg), batch, true).await;
            Self::written(
                out,
                Written {
                    count: batch.len(),
                    batch,
                    result,
                    took: started.elapsed(),
                },
            )?;
        }
        in_flight
    }
}

/// Exactly-once delivery: records and their offsets in one Kafka transaction.
pub(super) struct Transactional {
    eo: ExactlyOnce,
    /// `<transactional.id>/<pid>-<start ms>`: names this producer session in the
    /// `sluice.transaction` header and the commit log line.
    session: String,
    /// A transaction was begun and not yet committed or aborted.
    open: bool,
    /// Latest offset per source partition of what the open transaction holds.
    offsets: HashMap<String, (OffsetMap, OffsetMap)>,
    /// Items submitted in the open transaction.
    records: usize,
    /// Transactions committed in this session.
    committed: u64,
}

impl Transactional {
    pub(super) fn new(eo: ExactlyOnce) -> Self {
        let session = format!(
            "{}/{}-{}",
            eo.transactional_id,
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        Transactional {
            eo,
            session,
            open: false,
            offsets: HashMap::new(),
            records: 0,
            committed: 0,
        }
    }

    /// Begins a transaction unless one is open.
    async fn ensure_open(&mut self, producer: &Arc<TaskProducer>) -> Result<()> {
        if !self.open {
            txn_call(producer, "beginning a transaction", |p| {
                p.begin_transaction()
            })
            .await?;
            self.open = true;
        }
        Ok(())
    }

    /// Aborts the open transaction (best effort: the task stops anyway).
    async fn abort(&mut self, producer: &Arc<TaskProducer>) {
        let _ = txn_call(producer, "aborting the transaction", |p| {
            p.abort_transaction(Duration::from_secs(30))
        })
        .await;
        self.open = false;
    }
}

impl Committer for Transactional {
    const TOLERATES_REJECTED_RECORDS: bool = false;

    /// A transaction bounds what the task holds instead.
    const BOUNDS_OBJECTS_IN_FLIGHT: bool = false;

    /// Nothing runs in the background: a transaction commits in line.
    type Event = std::convert::Infallible;

    fn event(&mut self) -> impl Future<Output = Self::Event> + Send {
        std::future::pending()
    }

    async fn on_event(&mut self, event: Self::Event, _out: &mut Output<'_>) -> Result<()> {
        match event {}
    }

    async fn start(&mut self, cfg: &DriverConfig) -> Result<()> {
        txn_call(&cfg.producer, "initialising transactions", |p| {
            p.init_transactions(Duration::from_secs(60))
        })
        .await?;
        info!(task = %cfg.task_name, transactional_id = %self.eo.transactional_id, boundary = ?self.eo.boundary, "exactly-once delivery: transactions initialised");
        Ok(())
    }

    fn flush_interval(&self, _cfg: &DriverConfig) -> Option<Duration> {
        (self.eo.boundary == TransactionBoundary::Interval).then_some(self.eo.interval)
    }

    fn submitted(&mut self, partition: &OffsetMap, offset: &OffsetMap) {
        self.offsets.insert(
            canonical_partition(partition),
            (partition.clone(), offset.clone()),
        );
        self.records += 1;
    }

    async fn ready(&mut self, cfg: &DriverConfig) -> Result<()> {
        self.ensure_open(&cfg.producer).await
    }

    fn headers(&self, headers: Option<OwnedHeaders>) -> Option<OwnedHeaders> {
        let txn = format!("{}/{}", self.session, self.committed + 1);
        Some(headers.unwrap_or_default().insert(KafkaHeader {
            key: HEADER_TRANSACTION,
            value: Some(txn.as_bytes()),
        }))
    }

    fn due(&self, at: Boundary, cfg: &DriverConfig) -> bool {
        match (self.eo.boundary, at) {
            (TransactionBoundary::Poll, Boundary::PollEnd) => self.records > 0,
            // A full poll's worth of records (`max.poll.records`) also commits.
            (TransactionBoundary::Poll, Boundary::Item) => self.records >= cfg.max_poll_records,
            (TransactionBoundary::Object, Boundary::ObjectEnd) => true,
            _ => false,
        }
    }

    /// Writes the transaction's offsets into the offsets topic inside the transaction, commits
    /// it, and only then tells the offset store. A failed commit aborts the transaction.
    async fn commit(&mut self, out: &mut Output<'_>) -> Result<()> {
        if self.offsets.is_empty() && !self.open {
            return Ok(());
        }
        let cfg = out.cfg;
        self.ensure_open(&cfg.producer).await?;
        let batch: Vec<(OffsetMap, OffsetMap)> = self.offsets.drain().map(|(_, v)| v).collect();
        let store = self.eo.offsets.clone();
        let topic: Arc<str> = store.topic().into();
        let started = Instant::now();
        for (p, o) in &batch {
            let (key, value) = KafkaOffsetStore::encode(&cfg.connector, p, Some(o));
            let value = value.expect("an offset");
            let tag = DeliveryTag::new(
                out.submitted.submit(p.clone(), o.clone()),
                Sent::Offset {
                    topic: topic.clone(),
                },
            );
            let record = record_to(store.topic(), tag)
                .key(key.as_bytes())
                .payload(value.as_bytes());
            out.send(self, record).await;
        }
        let commit = txn_call(&cfg.producer, "committing the transaction", |p| {
            p.commit_transaction(Duration::from_secs(60))
        })
        .await;
        // Every delivery of the transaction is reported once the commit returns.
        while out.in_flight > 0 {
            out.settle_next(self).await;
        }
        if let Err(e) = commit {
            self.abort(&cfg.producer).await;
            return Err(e);
        }
        if let Some(e) = out.failure.take() {
            return Err(e);
        }
        let records = std::mem::take(&mut self.records);
        self.open = false;
        self.committed += 1;
        // Everything submitted is in the committed transaction: forget it.
        out.submitted.committable();
        // Post-read actions only once the transaction holding the offsets committed.
        out.committed(&batch);
        store.remember(&cfg.connector, batch);
        cfg.metrics.transaction_committed(
            &cfg.task_name,
            &format!("{}/{}", self.session, self.committed),
            records,
            started.elapsed(),
        );
        Ok(())
    }

    /// A failed task aborts its open transaction; otherwise the last one commits.
    async fn close(&mut self, out: &mut Output<'_>) -> Result<()> {
        if out.failure.is_none() {
            return self.commit(out).await;
        }
        if self.open {
            warn!(task = %out.cfg.task_name, "aborting the open transaction");
            self.abort(&out.cfg.producer).await;
        }
        Ok(())
    }
}

/// Runs a blocking transactional call of the producer off the async threads. A fenced
/// producer (a newer instance of the task with the same `transactional.id` took over) is said
/// so in the error.
async fn txn_call<F>(producer: &Arc<TaskProducer>, what: &str, f: F) -> Result<()>
where
    F: FnOnce(&ThreadedProducer<DeliveryRouter>) -> std::result::Result<(), KafkaError>
        + Send
        + 'static,
{
    let p = producer.clone();
    let result = match tokio::task::spawn_blocking(move || f(&p.producer)).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => return Err(Error::io(what, join.into())),
    };
    result.map_err(|e| {
        let fenced = matches!(
            e.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::Fenced
                    | RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
            )
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
