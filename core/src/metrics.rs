//! Counters a running task updates and a CLI, the worker's `/metrics` or a test reads.

use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Objects no rule of `topic.regex.list` matches, not read (each version once per run).
    pub objects_unrouted: AtomicU64,
    /// Milliseconds spent waiting for the connector's rate limits.
    pub throttled_ms: AtomicU64,
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
    /// See [`Metrics::objects_unrouted`].
    pub objects_unrouted: u64,
    /// See [`Metrics::throttled_ms`].
    pub throttled_ms: u64,
}

impl std::ops::AddAssign for MetricsSnapshot {
    /// Adds every counter of `other` (a connector's totals are the sum of its tasks').
    fn add_assign(&mut self, other: Self) {
        self.objects_finished += other.objects_finished;
        self.objects_failed += other.objects_failed;
        self.bytes_read += other.bytes_read;
        self.records_read += other.records_read;
        self.records_acked += other.records_acked;
        self.records_failed += other.records_failed;
        self.offset_commits += other.offset_commits;
        self.objects_changed += other.objects_changed;
        self.objects_unrouted += other.objects_unrouted;
        self.throttled_ms += other.throttled_ms;
    }
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
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
            objects_unrouted: g(&self.objects_unrouted),
            throttled_ms: g(&self.throttled_ms),
        }
    }
}
