//! Progress of `sluice backfill`: one live line per connector on a terminal (indicatif), a
//! log line per connector every 10 s otherwise (a file, a pipe, a CI log).
//!
//! Each line says what the connector did so far: objects finished and failed, records delivered
//! and their rate, megabytes read. The total of objects to read is not known while the
//! listing streams, so there is no percentage or ETA yet.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_core::metrics::MetricsSnapshot;
use sluice_worker::Worker;
use tokio::sync::watch;

/// How often a log line is written when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// How often the terminal lines are redrawn.
const DRAW_EVERY: Duration = Duration::from_millis(200);

/// One connector's progress as text: `12 objects finished (1 failed), 34000 records delivered
/// (5100/s), 12.3 MB read`, then, when there are any, `; 2 objects unrouted` (no
/// `topic.regex.list` rule) and `; throttled 1.5 s` (time the tasks waited for the rate
/// limits, all tasks added).
pub fn describe(m: &MetricsSnapshot, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let failed = if m.objects_failed > 0 {
        format!(" ({} failed)", m.objects_failed)
    } else {
        String::new()
    };
    let mut out = format!(
        "{} objects finished{failed}, {} records delivered ({:.0}/s), {:.1} MB read",
        m.objects_finished,
        m.records_acked,
        m.records_acked as f64 / secs,
        m.bytes_read as f64 / 1e6
    );
    if m.objects_unrouted > 0 {
        out.push_str(&format!("; {} objects unrouted", m.objects_unrouted));
    }
    if m.throttled_ms > 0 {
        out.push_str(&format!("; throttled {:.1} s", m.throttled_ms as f64 / 1e3));
    }
    out
}

/// Shows progress until [`finish`](Self::finish).
#[derive(Debug)]
pub struct Progress {
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts showing the progress of every connector of `worker`: live lines when stderr is a
    /// terminal, periodic log lines otherwise.
    pub fn start(worker: Arc<Worker>) -> Progress {
        let (stop, mut stop_rx) = watch::channel(false);
        let started = Instant::now();
        let join = if std::io::stderr().is_terminal() {
            tokio::spawn(async move {
                let bars = indicatif::MultiProgress::new();
                let style = indicatif::ProgressStyle::with_template(
                    "{spinner} {prefix:.bold} {wide_msg} {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
                let lines: Vec<(String, indicatif::ProgressBar)> = worker
                    .names()
                    .into_iter()
                    .map(|name| {
                        let bar = bars.add(indicatif::ProgressBar::new_spinner());
                        bar.set_style(style.clone());
                        bar.set_prefix(name.clone());
                        (name, bar)
                    })
                    .collect();
                loop {
                    for (name, bar) in &lines {
                        if let Ok(m) = worker.metrics(name) {
                            bar.set_message(describe(&m, started.elapsed()));
                            bar.tick();
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(DRAW_EVERY) => {}
                        _ = stop_rx.wait_for(|s| *s) => break,
                    }
                }
                // The final summary is printed after; the live lines go.
                for (_, bar) in &lines {
                    bar.finish_and_clear();
                }
            })
        } else {
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(LOG_EVERY) => {}
                        _ = stop_rx.wait_for(|s| *s) => break,
                    }
                    for name in worker.names() {
                        if let Ok(m) = worker.metrics(&name) {
                            tracing::info!(connector = %name, "progress: {}", describe(&m, started.elapsed()));
                        }
                    }
                }
            })
        };
        Progress { stop, join }
    }

    /// Stops showing progress (the terminal lines are cleared).
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_counts_and_rate() {
        let m = MetricsSnapshot {
            objects_finished: 12,
            objects_failed: 1,
            records_acked: 5000,
            bytes_read: 2_500_000,
            ..Default::default()
        };
        assert_eq!(
            describe(&m, Duration::from_secs(2)),
            "12 objects finished (1 failed), 5000 records delivered (2500/s), 2.5 MB read"
        );
        let m = MetricsSnapshot {
            objects_unrouted: 2,
            throttled_ms: 1500,
            ..m
        };
        assert_eq!(
            describe(&m, Duration::from_secs(2)),
            "12 objects finished (1 failed), 5000 records delivered (2500/s), 2.5 MB read; 2 objects unrouted; throttled 1.5 s"
        );
        let m = MetricsSnapshot::default();
        assert_eq!(
            describe(&m, Duration::ZERO),
            "0 objects finished, 0 records delivered (0/s), 0.0 MB read"
        );
    }
}
