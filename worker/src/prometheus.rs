//! The worker's metrics in Prometheus' text format (`GET /metrics`), with `prometheus-client`.
//!
//! Every series is labelled by `connector` and, for task metrics, `task`. Counter values are
//! the tasks' live counters ([`ConnectorMetrics`](crate::ConnectorMetrics)) read at scrape
//! time; they add up across task restarts and start from zero when the worker starts. The
//! names follow Kafka Connect's source task metrics in Prometheus' naming
//! (`source-record-poll-total` becomes `sluice_source_record_poll_total`); `docs/operations.md`
//! lists them with their meanings.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sluice_core::metrics::MetricsSnapshot;

use crate::{State, Worker};

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
        "objects_unrouted",
        "Objects no rule of topic.regex.list matches, not read (each version counted once per run)",
        |m| m.objects_unrouted,
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
];

fn state_label(s: &State) -> &'static str {
    match s {
        State::Unassigned => "unassigned",
        State::Running => "running",
        State::Paused => "paused",
        State::Stopped => "stopped",
        State::Completed => "completed",
        State::Failed(_) => "failed",
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Renders every connector's and task's metrics in Prometheus' text (OpenMetrics) format.
pub fn render(worker: &Worker) -> String {
    let mut registry = Registry::with_prefix("sluice");
    let counters: Vec<Family<Labels, Counter>> =
        COUNTERS.iter().map(|_| Family::default()).collect();
    let active: Family<Labels, Gauge> = Family::default();
    let task_status: Family<Labels, Gauge> = Family::default();
    let connector_status: Family<Labels, Gauge> = Family::default();
    let task_count: Family<Labels, Gauge> = Family::default();

    for name in worker.names() {
        let (Ok(status), Ok(per_task)) = (worker.status(&name), worker.task_metrics(&name)) else {
            // Deleted while this scrape ran.
            continue;
        };
        for state in STATES {
            let value = i64::from(state_label(&status.state) == state);
            connector_status
                .get_or_create(&labels(&[("connector", &name), ("status", state)]))
                .set(value);
        }
        task_count
            .get_or_create(&labels(&[("connector", &name)]))
            .set(status.tasks.len() as i64);
        for t in &status.tasks {
            let id = t.id.to_string();
            for state in STATES {
                let value = i64::from(state_label(&t.state) == state);
                task_status
                    .get_or_create(&labels(&[
                        ("connector", &name),
                        ("task", &id),
                        ("status", state),
                    ]))
                    .set(value);
            }
        }
        for (id, m) in per_task.iter().enumerate() {
            let l = labels(&[("connector", &name), ("task", &id.to_string())]);
            for (family, (_, _, read)) in counters.iter().zip(COUNTERS) {
                family.get_or_create(&l).inc_by(read(m));
            }
            let in_flight = m
                .records_read
                .saturating_sub(m.records_acked)
                .saturating_sub(m.records_failed);
            active.get_or_create(&l).set(in_flight as i64);
        }
    }

    for (family, (name, help, _)) in counters.into_iter().zip(COUNTERS) {
        registry.register(*name, *help, family);
    }
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
