//! Counters, gauges and histograms a running task updates and a CLI, the worker's `/metrics` or
//! a test reads.
//!
//! Events that are both logged and counted are emitted by the methods of [`Metrics`]
//! ([`Metrics::object_finished`], [`Metrics::listing_ended`], ...): one place writes an event's
//! log line and moves its metric, so the two never disagree. Their lines keep the target of the
//! part they are about (`sluice_core::source`, `sluice_core::driver`), so `/admin/loggers` and
//! `RUST_LOG` select them by that name.

mod histogram;
mod ignore;
mod skip;
mod store;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::{debug, info, warn};

pub use histogram::{Histogram, HistogramSnapshot, BUCKETS};
pub use ignore::IgnoreReason;
pub use skip::SkipReason;
pub use store::{InstrumentedBackend, StoreOp, StoreOutcome, StoreStats, StoreStatsSnapshot};

/// Live counters of one task (the worker keeps one set per task and sums them per connector).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Objects read to the end.
    pub objects_finished: AtomicU64,
    /// Objects abandoned after an error (tolerance `all`).
    pub objects_failed: AtomicU64,
    /// Bytes handed to transformers.
    pub bytes_read: AtomicU64,
    /// Records read from objects.
    pub records_read: AtomicU64,
    /// Records Kafka acknowledged.
    pub records_acked: AtomicU64,
    /// Records skipped because of an error (tolerance `all`).
    pub records_failed: AtomicU64,
    /// Offset commits written to the offset store.
    pub offset_commits: AtomicU64,
    /// Versions of finished objects found changed and not read again (`object.overwrite.policy`),
    /// each counted once.
    pub objects_changed: AtomicU64,
    /// Post-read actions done (`object.post.read`).
    pub post_read_actions: AtomicU64,
    /// Post-read action attempts that failed (each retry counts).
    pub post_read_failures: AtomicU64,
    /// Objects no rule of `topic.regex.list` matches, not read (each version once per run).
    pub objects_unrouted: AtomicU64,
    /// Milliseconds spent waiting for the connector's rate limits.
    pub throttled_ms: AtomicU64,
    /// Objects the listings returned under the prefix (every pass; finished ones and ones
    /// other tasks own included).
    pub objects_listed: AtomicU64,
    /// Listing passes ended (to the end of the listing, or stopped early).
    pub listing_passes: AtomicU64,
    /// Records sent to the dead letter queue.
    pub dlq_records: AtomicU64,
    /// Objects listed and not taken, by [`SkipReason`] (indexed by [`SkipReason::index`]),
    /// every pass.
    pub objects_skipped: [AtomicU64; 4],
    /// Listing passes that listed objects and took none of them (warned about).
    pub listings_took_nothing: AtomicU64,
    /// Messages received from the notification queue (every delivery).
    pub notifications_received: AtomicU64,
    /// Notification events passed over, by [`IgnoreReason`] (indexed by
    /// [`IgnoreReason::index`]).
    pub notifications_ignored: [AtomicU64; 6],
    /// Objects a reconciliation listing found and read that no notification had announced.
    pub objects_reconciled: AtomicU64,
    /// Gauge: objects being read now.
    pub objects_in_progress: AtomicU64,
    /// Gauge: objects listed and not read yet because they are too young
    /// (`object.min.age.ms`), counted by the last pass.
    pub objects_deferred: AtomicU64,
    /// Gauge: the last-modified time (ms since the epoch) of the oldest object being read or
    /// waiting to be read; 0 when there is none. `/metrics` turns it into the ingestion lag.
    pub oldest_unread_ms: AtomicI64,
    /// Gauge: records handed to the producer whose delivery report has not been settled.
    pub producer_in_flight: AtomicU64,
    /// How long each hand-over batch of records took to poll (Kafka Connect's
    /// `poll-batch-avg-time-ms`).
    pub poll_batch: Histogram,
    /// How long listing passes took.
    pub listing_duration: Histogram,
    /// From handing a record to the producer to Kafka's acknowledgement.
    pub delivery_latency: Histogram,
    /// How long each offset commit (offset store write, or transaction commit) took.
    pub offset_commit_latency: Histogram,
    /// The topics Kafka acknowledged records of this task to (`GET /connectors/{name}/topics`).
    topics: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// A plain copy of [`Metrics`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// See [`Metrics::objects_finished`].
    pub objects_finished: u64,
    /// See [`Metrics::objects_failed`].
    pub objects_failed: u64,
    /// See [`Metrics::bytes_read`].
    pub bytes_read: u64,
    /// See [`Metrics::records_read`].
    pub records_read: u64,
    /// See [`Metrics::records_acked`].
    pub records_acked: u64,
    /// See [`Metrics::records_failed`].
    pub records_failed: u64,
    /// See [`Metrics::offset_commits`].
    pub offset_commits: u64,
    /// See [`Metrics::objects_changed`].
    pub objects_changed: u64,
    /// See [`Metrics::post_read_actions`].
    pub post_read_actions: u64,
    /// See [`Metrics::post_read_failures`].
    pub post_read_failures: u64,
    /// See [`Metrics::objects_unrouted`].
    pub objects_unrouted: u64,
    /// See [`Metrics::throttled_ms`].
    pub throttled_ms: u64,
    /// See [`Metrics::objects_listed`].
    pub objects_listed: u64,
    /// See [`Metrics::listing_passes`].
    pub listing_passes: u64,
    /// See [`Metrics::dlq_records`].
    pub dlq_records: u64,
    /// See [`Metrics::objects_skipped`].
    pub objects_skipped: [u64; 4],
    /// See [`Metrics::listings_took_nothing`].
    pub listings_took_nothing: u64,
    /// See [`Metrics::notifications_received`].
    pub notifications_received: u64,
    /// See [`Metrics::notifications_ignored`].
    pub notifications_ignored: [u64; 6],
    /// See [`Metrics::objects_reconciled`].
    pub objects_reconciled: u64,
    /// See [`Metrics::objects_in_progress`].
    pub objects_in_progress: u64,
    /// See [`Metrics::objects_deferred`].
    pub objects_deferred: u64,
    /// See [`Metrics::oldest_unread_ms`] (the oldest over the tasks once summed).
    pub oldest_unread_ms: i64,
    /// See [`Metrics::producer_in_flight`].
    pub producer_in_flight: u64,
    /// See [`Metrics::poll_batch`].
    pub poll_batch: HistogramSnapshot,
    /// See [`Metrics::listing_duration`].
    pub listing_duration: HistogramSnapshot,
    /// See [`Metrics::delivery_latency`].
    pub delivery_latency: HistogramSnapshot,
    /// See [`Metrics::offset_commit_latency`].
    pub offset_commit_latency: HistogramSnapshot,
}

impl MetricsSnapshot {
    /// Seconds since the oldest object being read or waiting was last modified (Sluice's
    /// ingestion lag), measured `now`; 0 when nothing is waiting.
    pub fn lag_secs(&self, now: SystemTime) -> f64 {
        if self.oldest_unread_ms <= 0 {
            return 0.0;
        }
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        (now_ms - self.oldest_unread_ms).max(0) as f64 / 1e3
    }
}

impl std::ops::AddAssign for MetricsSnapshot {
    /// Adds every counter of `other` (a connector's totals are the sum of its tasks'); the
    /// oldest unread object is the older of the two.
    fn add_assign(&mut self, other: Self) {
        self.objects_finished += other.objects_finished;
        self.objects_failed += other.objects_failed;
        self.bytes_read += other.bytes_read;
        self.records_read += other.records_read;
        self.records_acked += other.records_acked;
        self.records_failed += other.records_failed;
        self.offset_commits += other.offset_commits;
        self.objects_changed += other.objects_changed;
        self.post_read_actions += other.post_read_actions;
        self.post_read_failures += other.post_read_failures;
        self.objects_unrouted += other.objects_unrouted;
        self.throttled_ms += other.throttled_ms;
        self.objects_listed += other.objects_listed;
        self.listing_passes += other.listing_passes;
        self.dlq_records += other.dlq_records;
        for (a, b) in self.objects_skipped.iter_mut().zip(other.objects_skipped) {
            *a += b;
        }
        self.listings_took_nothing += other.listings_took_nothing;
        self.notifications_received += other.notifications_received;
        for (a, b) in self
            .notifications_ignored
            .iter_mut()
            .zip(other.notifications_ignored)
        {
            *a += b;
        }
        self.objects_reconciled += other.objects_reconciled;
        self.objects_in_progress += other.objects_in_progress;
        self.objects_deferred += other.objects_deferred;
        self.oldest_unread_ms = match (self.oldest_unread_ms, other.oldest_unread_ms) {
            (0, b) => b,
            (a, 0) => a,
            (a, b) => a.min(b),
        };
        self.producer_in_flight += other.producer_in_flight;
        self.poll_batch += other.poll_batch;
        self.listing_duration += other.listing_duration;
        self.delivery_latency += other.delivery_latency;
        self.offset_commit_latency += other.offset_commit_latency;
    }
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets a gauge.
    pub fn set(gauge: &AtomicU64, n: u64) {
        gauge.store(n, Ordering::Relaxed);
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            objects_finished: g(&self.objects_finished),
            objects_failed: g(&self.objects_failed),
            bytes_read: g(&self.bytes_read),
            records_read: g(&self.records_read),
            records_acked: g(&self.records_acked),
            records_failed: g(&self.records_failed),
            offset_commits: g(&self.offset_commits),
            objects_changed: g(&self.objects_changed),
            post_read_actions: g(&self.post_read_actions),
            post_read_failures: g(&self.post_read_failures),
            objects_unrouted: g(&self.objects_unrouted),
            throttled_ms: g(&self.throttled_ms),
            objects_listed: g(&self.objects_listed),
            listing_passes: g(&self.listing_passes),
            dlq_records: g(&self.dlq_records),
            objects_skipped: std::array::from_fn(|i| g(&self.objects_skipped[i])),
            listings_took_nothing: g(&self.listings_took_nothing),
            notifications_received: g(&self.notifications_received),
            notifications_ignored: std::array::from_fn(|i| g(&self.notifications_ignored[i])),
            objects_reconciled: g(&self.objects_reconciled),
            objects_in_progress: g(&self.objects_in_progress),
            objects_deferred: g(&self.objects_deferred),
            oldest_unread_ms: self.oldest_unread_ms.load(Ordering::Relaxed),
            producer_in_flight: g(&self.producer_in_flight),
            poll_batch: self.poll_batch.snapshot(),
            listing_duration: self.listing_duration.snapshot(),
            delivery_latency: self.delivery_latency.snapshot(),
            offset_commit_latency: self.offset_commit_latency.snapshot(),
        }
    }

    /// Notes that Kafka acknowledged a record to `topic` (cheap when already known).
    pub fn wrote_to(&self, topic: &str) {
        let mut t = self
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !t.contains(topic) {
            t.insert(topic.to_owned());
        }
    }

    /// The topics Kafka acknowledged records to, sorted.
    pub fn topics(&self) -> Vec<String> {
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Forgets the topics written to (`PUT /connectors/{name}/topics/reset`).
    pub fn reset_topics(&self) {
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Sets the oldest unread object's last-modified time (`None`: nothing waiting).
    pub fn set_oldest_unread(&self, modified: Option<chrono::DateTime<chrono::Utc>>) {
        let ms = modified.map_or(0, |t| t.timestamp_millis().max(1));
        self.oldest_unread_ms.store(ms, Ordering::Relaxed);
    }

    // Events: each writes its log line and moves its metrics. Text fields are written with
    // Display (`task=orders-0`, not quoted), as the rest of the code base logs them.

    /// An object read to the end.
    pub fn object_finished(&self, task: &str, object: &str, records: u64) {
        Self::add(&self.objects_finished, 1);
        debug!(target: "sluice_core::source", task = %task, object = %object, records, "object finished");
    }

    /// An object deleted or replaced while it was read: skipped, counted as failed.
    pub fn object_vanished(
        &self,
        task: &str,
        bucket: &str,
        object: &str,
        records: u64,
        error: &dyn std::fmt::Display,
    ) {
        Self::add(&self.objects_failed, 1);
        warn!(target: "sluice_core::source", task = %task, bucket = %bucket, object = %object, records, %error,
            "the object was deleted or replaced before it could be read to the end; skipping it");
    }

    /// A finished object found changed and not read again (warned once per version).
    pub fn object_changed(
        &self,
        task: &str,
        object: &str,
        was_etag: Option<&str>,
        now_etag: Option<&str>,
        now_bytes: u64,
        why: &str,
    ) {
        Self::add(&self.objects_changed, 1);
        warn!(target: "sluice_core::source", task = %task, object = %object, was_etag = ?was_etag, now_etag = ?now_etag, now_bytes,
            "object changed since it was read to the end; its new content is not read: {why}");
    }

    /// An object no rule of `topic.regex.list` matches: skipped (each version once per run).
    pub fn object_unrouted(&self, task: &str, bucket: &str, object: &str, size: u64) {
        Self::add(&self.objects_unrouted, 1);
        warn!(target: "sluice_core::source", task = %task, bucket = %bucket, object = %object, size,
            "no rule of topic.regex.list matches the object; skipping it (not read, no offset stored): add a rule for it and restart the connector to read it");
    }

    /// A notification event passed over for `reason` (`detail`: the key or the message's
    /// beginning).
    pub fn notification_ignored(&self, task: &str, reason: IgnoreReason, detail: &str) {
        Self::add(&self.notifications_ignored[reason.index()], 1);
        match reason {
            IgnoreReason::Malformed | IgnoreReason::Deleted => {
                warn!(target: "sluice_core::source", task = %task, reason = reason.name(), detail = %detail,
                    "notification passed over: {reason}")
            }
            _ => {
                debug!(target: "sluice_core::source", task = %task, reason = reason.name(), detail = %detail,
                "notification passed over: {reason}")
            }
        }
    }

    /// A reconciliation listing found an object no notification announced, and reads it.
    pub fn object_reconciled(&self, task: &str, object: &str) {
        Self::add(&self.objects_reconciled, 1);
        info!(target: "sluice_core::source", task = %task, object = %object,
            "the reconciliation listing found an object the notification queue did not announce; reading it");
    }

    /// A listed object not taken, for `reason`.
    pub fn object_skipped(&self, reason: SkipReason) {
        Self::add(&self.objects_skipped[reason.index()], 1);
    }

    /// A listing pass listed `listed` objects and took none (`reasons`: counts by reason;
    /// `samples`: a few keys with their reason).
    #[allow(clippy::too_many_arguments)]
    pub fn listing_took_nothing(
        &self,
        task: &str,
        bucket: &str,
        prefix: &str,
        template: &str,
        listed: u64,
        reasons: &str,
        samples: &str,
    ) {
        Self::add(&self.listings_took_nothing, 1);
        warn!(target: "sluice_core::source", task = %task, bucket = %bucket, prefix = %prefix, template = %template, listed, skipped = %reasons, sample_keys = %samples,
            "the listing found objects under the prefix but took none of them, so nothing is read; check file.name.template against the sample keys (it is matched anchored against the whole key or the key relative to the prefix, see docs/migrating.md) or run `sluice validate --preview 20` to see what each key maps to");
    }

    /// A listing pass ended after `took`, having returned `listed` objects, `deferred` of
    /// them too young to read yet.
    pub fn listing_ended(&self, task: &str, took: Duration, listed: u64, deferred: u64) {
        Self::add(&self.listing_passes, 1);
        Self::set(&self.objects_deferred, deferred);
        self.listing_duration.observe(took);
        if deferred > 0 {
            info!(target: "sluice_core::source",
                task = %task,
                ?took,
                listed,
                deferred,
                "listing pass ended; some objects are too young to read yet (object.min.age.ms)"
            );
        } else {
            debug!(target: "sluice_core::source", task = %task, ?took, listed, "listing pass ended");
        }
    }

    /// Offsets committed: `partitions` source partitions written in `took`.
    pub fn offsets_committed(&self, task: &str, partitions: usize, took: Duration) {
        Self::add(&self.offset_commits, 1);
        self.offset_commit_latency.observe(took);
        debug!(target: "sluice_core::driver", task = %task, partitions, ?took, "offsets committed");
    }

    /// A transaction committed (exactly-once): its records and offsets, in `took`.
    pub fn transaction_committed(
        &self,
        task: &str,
        transaction: &str,
        records: usize,
        took: Duration,
    ) {
        Self::add(&self.offset_commits, 1);
        self.offset_commit_latency.observe(took);
        info!(target: "sluice_core::driver", task = %task, transaction = %transaction, records, ?took, "transaction committed");
    }
}
