//! The worker's metrics in Prometheus' text format (`GET /metrics`), with `prometheus-client`.
//!
//! Every series is labelled by `connector` and, for task metrics, `task`. Counter values are
//! the tasks' live counters ([`ConnectorMetrics`](crate::ConnectorMetrics)) read at scrape
//! time; they add up across task restarts and start from zero when the worker starts. The
//! names follow Kafka Connect's source task metrics in Prometheus' naming
//! (`source-record-poll-total` becomes `sluice_source_record_poll_total`); `docs/operations.md`
//! lists them with their meanings.

use std::sync::{Mutex, PoisonError};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};
use sluice_core::metrics::{
    HistogramSnapshot, IgnoreReason, MetricsSnapshot, SkipReason, StoreStatsSnapshot,
};

use crate::Worker;

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The states a task or connector status gauge has one series for.
pub const STATES: [&str; 6] = [
    "unassigned",
    "running",
    "paused",
    "stopped",
    "completed",
    "failed",
];

type Labels = Vec<(String, String)>;

/// One counter family: its name (without `_total`), help, and which snapshot field it reads.
type Field = (&'static str, &'static str, fn(&MetricsSnapshot) -> u64);

const COUNTERS: &[Field] = &[
    (
        "source_record_poll",
        "Records read from objects by the task (Kafka Connect's source-record-poll-total)",
        |m| m.records_read,
    ),
    (
        "source_record_write",
        "Records the task wrote to Kafka and Kafka acknowledged (Kafka Connect's source-record-write-total)",
        |m| m.records_acked,
    ),
    (
        "records_skipped",
        "Records skipped because they could not be read or converted, with errors.tolerance=all (Kafka Connect's total-records-skipped)",
        |m| m.records_failed,
    ),
    (
        "objects_finished",
        "Objects read to their end and committed",
        |m| m.objects_finished,
    ),
    (
        "objects_failed",
        "Objects abandoned after an error (errors.tolerance=all)",
        |m| m.objects_failed,
    ),
    (
        "objects_changed",
        "Finished objects found changed in the store and not read again (object.overwrite.policy), each version counted once",
        |m| m.objects_changed,
    ),
    (
        "post_read_actions",
        "Post-read actions (object.post.read delete or move) done after an object's offsets were committed",
        |m| m.post_read_actions,
    ),
    (
        "post_read_failures",
        "Post-read action attempts that failed (each retry counts; the action is finished at the next start)",
        |m| m.post_read_failures,
    ),
    (
        "objects_unrouted",
        "Objects no rule of topic.regex.list matches, not read (each version counted once per run)",
        |m| m.objects_unrouted,
    ),
    (
        "objects_skipped_no_template_match",
        "Listed objects file.name.template does not take, not read (every listing pass counts them)",
        |m| m.objects_skipped[SkipReason::NoTemplateMatch.index()],
    ),
    (
        "objects_skipped_empty",
        "Listed objects of zero bytes, not read (every listing pass counts them)",
        |m| m.objects_skipped[SkipReason::Empty.index()],
    ),
    (
        "objects_skipped_filtered",
        "Listed objects filtered out by a setting (input.envelope side files), not read as objects (every listing pass counts them)",
        |m| m.objects_skipped[SkipReason::Filtered.index()],
    ),
    (
        "objects_skipped_other_task",
        "Listed objects another task of the connector reads (every listing pass counts them)",
        |m| m.objects_skipped[SkipReason::OtherTask.index()],
    ),
    (
        "notifications_received",
        "Messages received from the notification queue (aws.s3.notifications.sqs.url, azure.notifications.queue), every delivery",
        |m| m.notifications_received,
    ),
    (
        "notifications_ignored_test_event",
        "Notification events passed over: S3 test events (s3:TestEvent)",
        |m| m.notifications_ignored[IgnoreReason::TestEvent.index()],
    ),
    (
        "notifications_ignored_other_event",
        "Notification events passed over: events of another kind than object created",
        |m| m.notifications_ignored[IgnoreReason::OtherEvent.index()],
    ),
    (
        "notifications_ignored_malformed",
        "Notification events passed over: messages Sluice could not understand (logged)",
        |m| m.notifications_ignored[IgnoreReason::Malformed.index()],
    ),
    (
        "notifications_ignored_other_bucket",
        "Notification events passed over: events about another bucket or container",
        |m| m.notifications_ignored[IgnoreReason::OtherBucket.index()],
    ),
    (
        "notifications_ignored_outside_prefix",
        "Notification events passed over: events about a key outside the prefix",
        |m| m.notifications_ignored[IgnoreReason::OutsidePrefix.index()],
    ),
    (
        "notifications_ignored_deleted",
        "Notification events passed over: events about an object already deleted (logged)",
        |m| m.notifications_ignored[IgnoreReason::Deleted.index()],
    ),
    (
        "objects_reconciled",
        "Objects a listing found and read that no notification had announced (with a notification queue)",
        |m| m.objects_reconciled,
    ),
    (
        "listings_took_nothing",
        "Listing passes that found objects and took none of them (warned about in the log)",
        |m| m.listings_took_nothing,
    ),
    (
        "throttled_ms",
        "Milliseconds the task waited for the connector's max.records.per.second / max.bytes.per.second",
        |m| m.throttled_ms,
    ),
    (
        "bytes_read",
        "Bytes of objects read from the store",
        |m| m.bytes_read,
    ),
    (
        "offset_commit",
        "Offset commits written to the offset store (Kafka Connect's offset-commit-* family)",
        |m| m.offset_commits,
    ),
    (
        "objects_listed",
        "Objects the listings returned under the prefix, every pass (finished objects and objects other tasks own included)",
        |m| m.objects_listed,
    ),
    (
        "listing_passes",
        "Listing passes ended",
        |m| m.listing_passes,
    ),
    (
        "deadletterqueue_produce_records",
        "Records sent to the dead letter queue (Kafka Connect's deadletterqueue-produce-requests)",
        |m| m.dlq_records,
    ),
];

/// One gauge family read from a task's snapshot.
type GaugeField = (&'static str, &'static str, fn(&MetricsSnapshot) -> i64);

const GAUGES: &[GaugeField] = &[
    (
        "objects_in_progress",
        "Objects being read now",
        |m| m.objects_in_progress as i64,
    ),
    (
        "objects_deferred",
        "Objects the last listing pass found too young to read yet (object.min.age.ms, local.file.min.age.ms)",
        |m| m.objects_deferred as i64,
    ),
    (
        "producer_in_flight_records",
        "Records handed to the producer whose delivery Kafka has not acknowledged yet (the producer queue)",
        |m| m.producer_in_flight as i64,
    ),
];

/// One histogram family read from a task's snapshot (durations, in seconds).
type HistogramField = (
    &'static str,
    &'static str,
    fn(&MetricsSnapshot) -> HistogramSnapshot,
);

const HISTOGRAMS: &[HistogramField] = &[
    (
        "poll_batch",
        "Time to poll one batch of records from the objects (Kafka Connect's poll-batch-avg/max-time-ms)",
        |m| m.poll_batch,
    ),
    (
        "listing",
        "Duration of listing passes",
        |m| m.listing_duration,
    ),
    (
        "delivery_latency",
        "From handing a record to the producer to Kafka's acknowledgement",
        |m| m.delivery_latency,
    ),
    (
        "offset_commit_duration",
        "Time to write one offset commit (offset store write, or Kafka transaction commit)",
        |m| m.offset_commit_latency,
    ),
];

/// A histogram whose counts come from a [`HistogramSnapshot`] read at scrape time.
#[derive(Debug, Default)]
struct SnapshotHistogram(Mutex<HistogramSnapshot>);

impl SnapshotHistogram {
    fn set(&self, s: HistogramSnapshot) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = s;
    }
}

impl TypedMetric for SnapshotHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for SnapshotHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let s = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // The encoder takes per-bucket counts and adds them up itself.
        let mut buckets = Vec::with_capacity(s.le.len() + 1);
        let mut below = 0;
        for (bound, cumulative) in s.buckets() {
            buckets.push((bound, cumulative - below));
            below = cumulative;
        }
        buckets.push((f64::INFINITY, s.count - below));
        encoder.encode_histogram::<NoLabelSet>(s.sum_secs(), s.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What [`render_views`] shows of one connector.
#[derive(Debug, Clone, Default)]
pub struct ConnectorView {
    /// The connector's name.
    pub name: String,
    /// Its state, as the REST API names it (`RUNNING`, `PAUSED`, ...).
    pub state: String,
    /// Its tasks' states, by task id (one entry per task of the connector).
    pub task_states: Vec<String>,
    /// The counters of the tasks this process ran, by task id.
    pub tasks: Vec<(u32, MetricsSnapshot)>,
    /// Its object store's request counts, when this process has them.
    pub store: Option<StoreStatsSnapshot>,
}

/// Renders every connector's and task's metrics in Prometheus' text (OpenMetrics) format.
pub fn render(worker: &Worker) -> String {
    let views = worker.names().into_iter().filter_map(|name| {
        // A connector deleted while this scrape ran is left out.
        let (Ok(status), Ok(per_task)) = (worker.status(&name), worker.task_metrics(&name)) else {
            return None;
        };
        Some(ConnectorView {
            state: status.state.name().to_owned(),
            task_states: status
                .tasks
                .iter()
                .map(|t| t.state.name().to_owned())
                .collect(),
            tasks: per_task
                .into_iter()
                .enumerate()
                .map(|(id, m)| (id as u32, m))
                .collect(),
            store: worker.store_metrics(&name).ok(),
            name,
        })
    });
    render_views(views)
}

/// Renders connectors described by `views` (distributed mode: states from the status topic,
/// counters of this worker's tasks).
pub fn render_views(views: impl IntoIterator<Item = ConnectorView>) -> String {
    let mut registry = Registry::with_prefix("sluice");
    let counters: Vec<Family<Labels, Counter>> =
        COUNTERS.iter().map(|_| Family::default()).collect();
    let active: Family<Labels, Gauge> = Family::default();
    let gauges: Vec<Family<Labels, Gauge>> = GAUGES.iter().map(|_| Family::default()).collect();
    let histograms: Vec<Family<Labels, SnapshotHistogram>> =
        HISTOGRAMS.iter().map(|_| Family::default()).collect();
    let poll_avg: Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>> = Family::default();
    let lag: Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>> = Family::default();
    let store_requests: Family<Labels, Counter> = Family::default();
    let now = std::time::SystemTime::now();
    let task_status: Family<Labels, Gauge> = Family::default();
    let connector_status: Family<Labels, Gauge> = Family::default();
    let task_count: Family<Labels, Gauge> = Family::default();

    for view in views {
        let name = view.name;
        let connector_state = view.state.to_ascii_lowercase();
        for state in STATES {
            let value = i64::from(connector_state == state);
            connector_status
                .get_or_create(&labels(&[("connector", &name), ("status", state)]))
                .set(value);
        }
        task_count
            .get_or_create(&labels(&[("connector", &name)]))
            .set(view.task_states.len() as i64);
        for (id, task_state) in view.task_states.iter().enumerate() {
            let id = id.to_string();
            let task_state = task_state.to_ascii_lowercase();
            for state in STATES {
                let value = i64::from(task_state == state);
                task_status
                    .get_or_create(&labels(&[
                        ("connector", &name),
                        ("task", &id),
                        ("status", state),
                    ]))
                    .set(value);
            }
        }
        for (id, m) in &view.tasks {
            let l = labels(&[("connector", &name), ("task", &id.to_string())]);
            for (family, (_, _, read)) in counters.iter().zip(COUNTERS) {
                family.get_or_create(&l).inc_by(read(m));
            }
            let in_flight = m
                .records_read
                .saturating_sub(m.records_acked)
                .saturating_sub(m.records_failed);
            active.get_or_create(&l).set(in_flight as i64);
            for (family, (_, _, read)) in gauges.iter().zip(GAUGES) {
                family.get_or_create(&l).set(read(m));
            }
            for (family, (_, _, read)) in histograms.iter().zip(HISTOGRAMS) {
                family.get_or_create(&l).set(read(m));
            }
            poll_avg.get_or_create(&l).set(m.poll_batch.mean_ms());
            lag.get_or_create(&l).set(m.lag_secs(now));
        }
        if let Some(store) = view.store {
            for (op, outcome, n) in store.iter() {
                store_requests
                    .get_or_create(&labels(&[
                        ("connector", &name),
                        ("op", op.as_str()),
                        ("outcome", outcome.as_str()),
                    ]))
                    .inc_by(n);
            }
        }
    }

    for (family, (name, help, _)) in counters.into_iter().zip(COUNTERS) {
        registry.register(*name, *help, family);
    }
    for (family, (name, help, _)) in gauges.into_iter().zip(GAUGES) {
        registry.register(*name, *help, family);
    }
    for (family, (name, help, _)) in histograms.into_iter().zip(HISTOGRAMS) {
        registry.register_with_unit(*name, *help, Unit::Seconds, family);
    }
    registry.register(
        "poll_batch_avg_time_ms",
        "Mean time to poll one batch of records since the task started, in milliseconds (Kafka Connect's poll-batch-avg-time-ms)",
        poll_avg,
    );
    registry.register_with_unit(
        "ingestion_lag",
        "How long ago the oldest object being read or waiting to be read was last modified; 0 when the task has caught up",
        Unit::Seconds,
        lag,
    );
    registry.register(
        "store_requests",
        "Requests to the connector's object store by operation (list, get, head, put, copy, delete) and outcome (ok, not_found, transient: retried, error)",
        store_requests,
    );
    registry.register(
        "source_record_active_count",
        "Records read by the task and not yet acknowledged by Kafka or skipped (Kafka Connect's source-record-active-count)",
        active,
    );
    registry.register(
        "task_status",
        "1 for the task's current state (unassigned, running, paused, stopped, completed, failed), 0 for the others",
        task_status,
    );
    registry.register(
        "connector_status",
        "1 for the connector's current state, 0 for the others",
        connector_status,
    );
    registry.register(
        "connector_tasks",
        "Tasks the connector has (tasks.max)",
        task_count,
    );
    let mut out = String::new();
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}
