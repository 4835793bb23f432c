//! Progress of `sluice backfill`: one live line per connector on a terminal (indicatif), a
//! log line per connector every `--progress-interval` seconds otherwise (a file, a pipe, a CI
//! log; 10 s by default).
//!
//! Each line says what the connector did so far: objects finished and failed, records delivered
//! and their rate, megabytes read. The connector's tasks list lazily, as they read, so the total
//! is counted apart: a [`census`] lists the bucket once (metadata only) at the start, counting
//! the objects and bytes under the prefix that match `file.name.template` and that the stored
//! offsets do not already mark finished. Once it is in, the line becomes a bar of bytes read
//! out of that total, with a percentage and an ETA.

use std::hash::BuildHasher;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use sluice_core::metrics::MetricsSnapshot;
use sluice_core::offsets::{OffsetValue, PartitionKey, Peek, FINISHED};
use sluice_worker::Worker;
use tokio::sync::watch;

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
    let skipped: u64 = m.objects_skipped.iter().sum();
    if skipped > 0 {
        out.push_str(&format!("; {skipped} objects not taken"));
    }
    if m.throttled_ms > 0 {
        out.push_str(&format!("; throttled {:.1} s", m.throttled_ms as f64 / 1e3));
    }
    out
}

/// What a backfill of one connector has to read: objects and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Objects to read.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Counts what connector `name` has to read: one metadata-only listing of its bucket under the
/// prefix, keeping the objects `file.name.template` matches (and the backend does not ignore)
/// and leaving out the ones the stored offsets mark finished. `None` if it cannot be counted
/// (the listing fails: the connector's own tasks report why).
pub async fn census(worker: &Worker, name: &str) -> Option<Census> {
    let config = worker.connector_config(name).ok()?;
    let backend =
        sluice_worker::registry::build_backend(&sluice_worker::registry::current(), &config)
            .ok()?;
    let store = worker.offset_store().clone();
    let (bucket_field, object_field) = backend.partition_fields();
    // Whether a listed object is finished. A store that holds its offsets in memory (both of
    // Sluice's) is asked per key; otherwise the finished keys are collected as 64-bit hashes,
    // one stored entry at a time (a collision only makes the count one smaller). Either way a
    // million finished objects cost no copy of their offsets here.
    let hasher = std::hash::RandomState::new();
    let mut finished_hashes = std::collections::HashSet::new();
    if !store.peeks() {
        store
            .for_each(name, &mut |partition, offset| {
                if is_finished(&offset) {
                    if let Some(OffsetValue::String(k)) = partition.get(object_field) {
                        finished_hashes.insert(hasher.hash_one(k.as_str()));
                    }
                }
            })
            .await
            .ok()?;
    }
    let finished = |key: &str| {
        if !store.peeks() {
            return finished_hashes.contains(&hasher.hash_one(key));
        }
        let key = PartitionKey::object(name, (bucket_field, backend.bucket()), (object_field, key));
        matches!(store.peek(&key), Peek::Stored(offset) if is_finished(&offset))
    };
    let matcher = config
        .file_name_template
        .as_ref()
        .map(|t| sluice_core::matcher::KeyMatcher::new(t, backend.prefix(), config.template_match));
    let mut listing = backend.list(None);
    let mut c = Census::default();
    while let Some(meta) = listing.next().await {
        let meta = meta.ok()?;
        let key = meta.location.as_ref();
        if meta.size == 0
            || finished(key)
            || matcher.as_ref().is_some_and(|m| m.matches(key).is_none())
        {
            continue;
        }
        c.objects += 1;
        c.bytes += meta.size;
    }
    Some(c)
}

fn is_finished(offset: &sluice_core::offsets::OffsetMap) -> bool {
    offset.get(FINISHED).and_then(OffsetValue::as_bool) == Some(true)
}

/// The bar's text once the census is in: `3 of 12 objects; ETA` comes from indicatif.
fn of_total(m: &MetricsSnapshot, c: &Census) -> String {
    format!(
        "{} of {} objects",
        m.objects_finished + m.objects_failed,
        c.objects
    )
}

/// `, 45% of the bytes, ETA 2m 10s` from the bytes read so far at their mean rate.
fn eta(m: &MetricsSnapshot, c: &Census, elapsed: Duration) -> String {
    if c.bytes == 0 {
        return String::new();
    }
    let done = m.bytes_read.min(c.bytes);
    let pct = done as f64 * 100.0 / c.bytes as f64;
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    if done == 0 || rate <= 0.0 {
        return format!(", {pct:.0}% of the bytes");
    }
    let left = Duration::from_secs_f64((c.bytes - done) as f64 / rate);
    format!(
        ", {pct:.0}% of the bytes, ETA {}",
        indicatif::HumanDuration(left)
    )
}

/// Shows progress until [`finish`](Self::finish).
#[derive(Debug)]
pub struct Progress {
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts showing the progress of every connector of `worker`: live lines when stderr is a
    /// terminal, a log line per connector every `log_every` otherwise.
    pub fn start(worker: Arc<Worker>, log_every: Duration) -> Progress {
        let (stop, mut stop_rx) = watch::channel(false);
        let started = Instant::now();
        // The census of each connector, filled in by a background count.
        let totals: Arc<std::sync::Mutex<std::collections::HashMap<String, Census>>> =
            Arc::default();
        for name in worker.names() {
            let (worker, totals) = (worker.clone(), totals.clone());
            tokio::spawn(async move {
                if let Some(c) = census(&worker, &name).await {
                    tracing::debug!(connector = %name, objects = c.objects, bytes = c.bytes, "backfill census");
                    if let Ok(mut t) = totals.lock() {
                        t.insert(name, c);
                    }
                }
            });
        }
        let total_of = move |name: &str| totals.lock().ok().and_then(|t| t.get(name).copied());
        let join = if std::io::stderr().is_terminal() {
            tokio::spawn(async move {
                let bars = indicatif::MultiProgress::new();
                let spinner = indicatif::ProgressStyle::with_template(
                    "{spinner} {prefix:.bold} {wide_msg} {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
                let bar_style = indicatif::ProgressStyle::with_template(
                    "{prefix:.bold} [{bar:30}] {percent:>3}% {bytes}/{total_bytes} · {wide_msg} · {elapsed} ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
                let lines: Vec<(String, indicatif::ProgressBar)> = worker
                    .names()
                    .into_iter()
                    .map(|name| {
                        let bar = bars.add(indicatif::ProgressBar::new_spinner());
                        bar.set_style(spinner.clone());
                        bar.set_prefix(name.clone());
                        (name, bar)
                    })
                    .collect();
                let mut counted = std::collections::HashSet::new();
                loop {
                    for (name, bar) in &lines {
                        let Ok(m) = worker.metrics(name) else {
                            continue;
                        };
                        match total_of(name) {
                            Some(c) => {
                                if counted.insert(name.clone()) {
                                    bar.set_style(bar_style.clone());
                                    bar.set_length(c.bytes);
                                }
                                bar.set_position(m.bytes_read.min(c.bytes));
                                bar.set_message(format!(
                                    "{}; {}",
                                    of_total(&m, &c),
                                    describe(&m, started.elapsed())
                                ));
                            }
                            None => {
                                bar.set_message(describe(&m, started.elapsed()));
                                bar.tick();
                            }
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
                        _ = tokio::time::sleep(log_every) => {}
                        _ = stop_rx.wait_for(|s| *s) => break,
                    }
                    for name in worker.names() {
                        if let Ok(m) = worker.metrics(&name) {
                            let elapsed = started.elapsed();
                            match total_of(&name) {
                                Some(c) => tracing::info!(connector = %name, "progress: {}; {}{}",
                                    of_total(&m, &c), describe(&m, elapsed), eta(&m, &c, elapsed)),
                                None => {
                                    tracing::info!(connector = %name, "progress: {}", describe(&m, elapsed))
                                }
                            }
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
    use sluice_core::offsets::ObjectOffsetEntry;

    /// The census of a local folder of five objects (one empty) whose stored offsets say two
    /// are finished and one is half read, over `store`.
    async fn census_over(store: Arc<dyn sluice_core::offsets::OffsetStore>) -> Option<Census> {
        use sluice_core::config::{ConnectorConfig, Settings, WorkerConfig};
        use sluice_core::offsets::{OffsetMap, RECORD_COUNT};

        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("the data folder");
        for (name, records) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 0)] {
            std::fs::write(data.join(format!("{name}.jsonl")), "{}\n".repeat(records))
                .expect("an object");
        }
        let settings = |pairs: &[(&str, &str)]| -> Settings {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let path = data.display().to_string();
        let config = ConnectorConfig::from_settings(
            &sluice_worker::registry::current(),
            &settings(&[
                ("name", "c"),
                ("connector.class", "local"),
                ("local.path", &path),
                ("topic", "t"),
                ("input.format", "jsonl"),
                ("local.file.min.age.ms", "0"),
            ]),
        )
        .expect("the connector's settings");
        let backend =
            sluice_worker::registry::build_backend(&sluice_worker::registry::current(), &config)
                .expect("the local backend");
        let (bucket_field, object_field) = backend.partition_fields();
        let offset = |records: i64, finished: bool| -> OffsetMap {
            [
                (RECORD_COUNT.to_owned(), OffsetValue::Long(records)),
                (FINISHED.to_owned(), OffsetValue::Bool(finished)),
            ]
            .into_iter()
            .collect()
        };
        let listed: Vec<String> = backend
            .list(None)
            .map(|m| m.expect("listed").location.to_string())
            .collect()
            .await;
        let key = |name: &str| {
            let object = listed
                .iter()
                .find(|k| k.ends_with(name))
                .expect("the object is listed");
            ObjectOffsetEntry::new(bucket_field, backend.bucket(), object_field, object)
                .into_parts()
                .0
        };
        let batch = vec![
            (key("b.jsonl"), Some(offset(2, true))),
            (key("c.jsonl"), Some(offset(1, false))),
            (key("d.jsonl"), Some(offset(4, true))),
        ];
        store.put("c", batch).await.expect("offsets stored");
        let worker = Worker::with_offset_store(
            WorkerConfig::from_settings(&settings(&[("bootstrap.servers", "127.0.0.1:9")]))
                .expect("the worker's settings"),
            store,
            sluice_worker::Mode::Backfill,
        );
        worker
            .add(config, sluice_worker::TargetState::Stopped)
            .expect("the connector added");
        census(&worker, "c").await
    }

    #[tokio::test]
    async fn the_census_leaves_out_finished_objects_whether_the_store_peeks_or_not() {
        // a (3 bytes) and c (9 bytes, half read) are left; b and d are finished, e is empty.
        let expected = Census {
            objects: 2,
            bytes: 3 + 9,
        };
        use sluice_core::offsets::OffsetStore as _;
        let memory = Arc::new(sluice_core::offsets::MemoryOffsetStore::new());
        assert!(
            !memory.peeks(),
            "the memory store is the one that cannot peek"
        );
        assert_eq!(census_over(memory).await, Some(expected));
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = Arc::new(
            sluice_core::offsets::FileOffsetStore::open(dir.path().join("offsets.jsonl"))
                .expect("an offsets file"),
        );
        assert!(file.peeks(), "the file store peeks");
        assert_eq!(census_over(file).await, Some(expected));
    }

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

    #[test]
    fn the_eta_comes_from_the_bytes_left_at_the_mean_rate() {
        let c = Census {
            objects: 10,
            bytes: 1000,
        };
        let m = MetricsSnapshot {
            objects_finished: 2,
            bytes_read: 250,
            ..Default::default()
        };
        assert_eq!(of_total(&m, &c), "2 of 10 objects");
        // 250 bytes in 10 s: 750 left at 25 B/s is 30 s.
        assert_eq!(
            eta(&m, &c, Duration::from_secs(10)),
            ", 25% of the bytes, ETA 30 seconds"
        );
        assert_eq!(
            eta(&MetricsSnapshot::default(), &c, Duration::from_secs(1)),
            ", 0% of the bytes"
        );
        assert_eq!(eta(&m, &Census::default(), Duration::from_secs(1)), "");
    }
}
