//! What `sluice backfill` prints (and writes with `--summary-json`) when a connector ends.

use sluice_core::metrics::SkipReason;
use sluice_worker::ConnectorSummary;

pub(super) fn print_summary(s: &ConnectorSummary) {
    let m = &s.metrics;
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    println!(
        "connector {}: {} objects finished, {} failed; {} records delivered, {} skipped by errors.tolerance; {:.1} MB read; {:.2} s ({:.0} records/s)",
        s.name,
        m.objects_finished,
        m.objects_failed,
        m.records_acked,
        m.records_failed,
        m.bytes_read as f64 / 1e6,
        secs,
        m.records_acked as f64 / secs
    );
    if m.objects_unrouted > 0 {
        println!(
            "  {} objects matched no rule of topic.regex.list and were not read (see the log)",
            m.objects_unrouted
        );
    }
    let skipped: u64 = m.objects_skipped.iter().sum();
    if skipped > 0 {
        let reasons: Vec<String> = SkipReason::ALL
            .iter()
            .filter(|r| m.objects_skipped[r.index()] > 0)
            .map(|r| format!("{} {r}", m.objects_skipped[r.index()]))
            .collect();
        println!(
            "  {skipped} listed objects were not read: {}",
            reasons.join(", ")
        );
    }
    if m.listings_took_nothing > 0 {
        println!(
            "  WARNING: a listing found objects but took none of them (see the log for the template and sample keys; `sluice validate --preview 20 CONNECTOR` shows what each key maps to)"
        );
    }
    if m.throttled_ms > 0 {
        println!(
            "  throttled {:.1} s by max.records.per.second / max.bytes.per.second (all tasks added)",
            m.throttled_ms as f64 / 1e3
        );
    }
    for (i, t) in s.tasks.iter().enumerate() {
        if let Err(e) = t {
            println!("  task {}-{i} FAILED: {e}", s.name);
        }
    }
}

/// A connector's summary for scripts (`sluice backfill --summary-json`).
pub(super) fn summary_json(s: &ConnectorSummary) -> serde_json::Value {
    let m = &s.metrics;
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let tasks: Vec<serde_json::Value> = s
        .tasks
        .iter()
        .enumerate()
        .map(|(id, t)| match t {
            Ok(end) => {
                serde_json::json!({"id": id, "ok": true, "end": format!("{end:?}").to_uppercase()})
            }
            Err(e) => serde_json::json!({"id": id, "ok": false, "error": e}),
        })
        .collect();
    serde_json::json!({
        "name": s.name,
        "ok": s.ok(),
        "elapsed_ms": s.elapsed.as_millis() as u64,
        "objects_finished": m.objects_finished,
        "objects_failed": m.objects_failed,
        "objects_unrouted": m.objects_unrouted,
        "objects_skipped": SkipReason::ALL
            .iter()
            .map(|r| (r.name().to_owned(), serde_json::json!(m.objects_skipped[r.index()])))
            .collect::<serde_json::Map<_, _>>(),
        "listings_took_nothing": m.listings_took_nothing,
        "records_read": m.records_read,
        "records_delivered": m.records_acked,
        "records_skipped": m.records_failed,
        "records_to_dead_letter_queue": m.dlq_records,
        "bytes_read": m.bytes_read,
        "records_per_second": (m.records_acked as f64 / secs * 10.0).round() / 10.0,
        "tasks": tasks,
    })
}
