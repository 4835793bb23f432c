//! The restart case: Sluice started again over objects it has already finished, plus one new
//! object, measuring how soon the new records arrive and how many finished objects it reads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::bench::{number_before, slug, Bench, NEW_KEY, NEW_RECORDS, TOPIC};
use crate::cases::{Backend, Case, Contender};
use crate::data::{self, Dataset};
use crate::kafka::{self, Broker, ConsumeOpts};
use crate::measure::{self, RunOpts};
use crate::results::{CaseResult, ContenderResult, RunResult};

impl Bench {
    /// Runs sluice backfill over the 100k objects once, so that all are finished.
    fn finished_offsets(
        &mut self,
        case: &Case,
        ds: &Dataset,
        cfile: &Path,
    ) -> anyhow::Result<PathBuf> {
        if let Some(p) = self.finished_offsets.get(&(case.backend, case.dataset)) {
            return Ok(p.clone());
        }
        if case.dataset == "jsonl-1m" && case.backend == Backend::Local {
            let offsets = self.written_offsets(ds)?;
            self.finished_offsets
                .insert((case.backend, case.dataset), offsets.clone());
            return Ok(offsets);
        }
        eprintln!(
            "  preparing: one backfill of the {} objects",
            ds.objects.len()
        );
        let dir = self
            .mode_dir()
            .join("runs")
            .join(format!("restart-prep-{}", slug(case.backend.name())));
        std::fs::create_dir_all(&dir)?;
        let broker = Broker::try_start(case.broker, &self.tansu)?;
        broker.try_create_topic(TOPIC)?;
        let offsets = dir.join("offsets.jsonl");
        let _ = std::fs::remove_file(&offsets);
        let wfile = dir.join("worker.properties");
        std::fs::write(&wfile, self.worker(case, &broker.bootstrap(), &offsets))?;
        let mut cmd = Command::new(&self.sluice);
        cmd.arg("backfill").arg(&wfile).arg(cfile);
        let m = measure::run(&mut cmd, &dir, "prep", &RunOpts::default())?;
        if !m.ok() || number_before(&m.stdout, "records delivered") != Some(ds.records(None)) {
            bail!(
                "the preparing backfill failed: {} {}",
                m.failure(),
                m.stdout.trim()
            );
        }
        self.finished_offsets
            .insert((case.backend, case.dataset), offsets.clone());
        Ok(offsets)
    }

    /// The offset file a finished backfill of the local dataset `ds` leaves (connector `bench`,
    /// every object `{etag, finished, recordCount, size}` as listed), written directly: a
    /// backfill of a million objects would take most of an hour here.
    fn written_offsets(&mut self, ds: &Dataset) -> anyhow::Result<PathBuf> {
        use futures::TryStreamExt;
        use object_store::ObjectStore;
        eprintln!(
            "  preparing: the offsets of {} finished objects",
            ds.objects.len()
        );
        let dir = self.mode_dir().join("runs").join("restart-prep-1m");
        std::fs::create_dir_all(&dir)?;
        let offsets = dir.join("offsets.jsonl");
        let records: HashMap<&str, u64> = ds
            .objects
            .iter()
            .map(|o| (o.key.as_str(), o.records))
            .collect();
        let store = object_store::local::LocalFileSystem::new_with_prefix(&ds.root)?;
        let mut listed: Vec<object_store::ObjectMeta> =
            self.rt.block_on(store.list(None).try_collect())?;
        listed.sort_by(|a, b| a.location.cmp(&b.location));
        let bucket = ds.root.display().to_string();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&offsets)?);
        for meta in &listed {
            let key = meta.location.as_ref();
            let Some(count) = records.get(key) else {
                continue;
            };
            let line = serde_json::json!({
                "key": ["bench", {"bucket": bucket, "object": key}],
                "value": {"etag": meta.e_tag, "finished": true, "recordCount": count, "size": meta.size},
            });
            use std::io::Write as _;
            writeln!(out, "{line}")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(offsets)
    }

    pub(crate) fn restart(
        &mut self,
        case: &Case,
        ds: &Dataset,
        dir: &Path,
        cfile: &Path,
        result: &mut CaseResult,
    ) -> anyhow::Result<()> {
        let finished = self.finished_offsets(case, ds, cfile)?;
        result.records = NEW_RECORDS;
        result.objects = ds.objects.len() as u64;
        result.bytes = ds.bytes();
        // The new object sorts after every finished one.
        let body = data::new_object_bytes(NEW_RECORDS);
        let local_new = ds.root.join(NEW_KEY);
        match case.backend {
            Backend::Local => {
                std::fs::create_dir_all(local_new.parent().expect("parent"))?;
                std::fs::write(&local_new, &body)?;
            }
            Backend::S3 => {
                let store = self.moto.as_ref().context("moto")?.store()?;
                use object_store::ObjectStoreExt;
                self.rt.block_on(store.put(
                    &object_store::path::Path::from(format!("{}/{NEW_KEY}", ds.name)),
                    body.clone().into(),
                ))?;
            }
            _ => bail!("restart case on {:?}", case.backend),
        }
        let out = self.restart_runs(case, ds, dir, cfile, &finished, result);
        // Leave the dataset as it was.
        match case.backend {
            Backend::Local => {
                let _ = std::fs::remove_dir_all(local_new.parent().expect("parent"));
            }
            Backend::S3 => {
                if let Some(m) = &self.moto {
                    let store = m.store()?;
                    use object_store::ObjectStoreExt;
                    let _ = self
                        .rt
                        .block_on(store.delete(&object_store::path::Path::from(format!(
                            "{}/{NEW_KEY}",
                            ds.name
                        ))));
                }
            }
            _ => {}
        }
        out
    }

    fn restart_runs(
        &mut self,
        case: &Case,
        ds: &Dataset,
        dir: &Path,
        cfile: &Path,
        finished: &Path,
        result: &mut CaseResult,
    ) -> anyhow::Result<()> {
        let mut slot = ContenderResult {
            contender: Contender::Sluice,
            runs: Vec::new(),
            skipped: None,
            reused_from: None,
        };
        for rep in 0..self.reps {
            eprintln!("  sluice restart run {}", rep + 1);
            let rdir = dir.join(format!("sluice-{rep}"));
            std::fs::create_dir_all(&rdir)?;
            let broker = Broker::try_start(case.broker, &self.tansu)?;
            broker.try_create_topic(TOPIC)?;
            let bootstrap = broker.bootstrap();
            let offsets = rdir.join("offsets.jsonl");
            std::fs::copy(finished, &offsets)?;
            let wfile = rdir.join("worker.properties");
            std::fs::write(&wfile, self.worker(case, &bootstrap, &offsets))?;
            let done = Arc::new(AtomicBool::new(false));
            let consumer = {
                let bootstrap = bootstrap.clone();
                let done = done.clone();
                std::thread::spawn(move || {
                    kafka::consume(
                        &bootstrap,
                        TOPIC,
                        ConsumeOpts {
                            expected: NEW_RECORDS,
                            settle: Duration::from_millis(1000),
                            idle: Duration::from_secs(5),
                            producer_done: Some(done),
                            sample_bytes: 0,
                        },
                    )
                })
            };
            // Let the consumer join before the clock starts.
            std::thread::sleep(Duration::from_millis(500));
            let mark = (case.backend == Backend::S3)
                .then(|| self.moto.as_ref().map(|m| m.log_mark()))
                .flatten();
            let mut cmd = Command::new(&self.sluice);
            cmd.arg("backfill")
                .arg(&wfile)
                .arg(cfile)
                .env("RUST_LOG", "info,rdkafka=warn");
            let m = measure::run(&mut cmd, &rdir, "sluice", &RunOpts::default())?;
            done.store(true, Ordering::Relaxed);
            let consumed = consumer
                .join()
                .map_err(|_| anyhow::anyhow!("consumer panicked"))??;
            drop(broker);
            let first = consumed
                .first_at
                .map(|t| t.saturating_duration_since(m.started).as_secs_f64());
            if let Some(f) = first {
                result.extra.first_record.push(f);
            }
            if let (Some(mark), Some(moto)) = (mark, self.moto.as_ref()) {
                let (gets, lists) = moto.requests_since(mark, &format!("{}/", ds.name));
                let new_key = format!("/{}/{}/{NEW_KEY}", moto.bucket, ds.name);
                let finished_gets = gets.iter().filter(|g| !g.starts_with(&new_key)).count() as u64;
                result.extra.total_gets = Some(gets.len() as u64);
                result.extra.finished_gets =
                    Some(result.extra.finished_gets.unwrap_or(0).max(finished_gets));
                result.extra.lists = Some(lists);
            }
            let reported = number_before(&m.stdout, "records delivered");
            let mut notes = Vec::new();
            if !m.ok() {
                notes.push(m.failure());
            }
            if reported != Some(NEW_RECORDS) || consumed.count != NEW_RECORDS {
                notes.push(format!(
                    "reported {reported:?}, consumed {} records, expected {NEW_RECORDS}",
                    consumed.count
                ));
            }
            eprintln!(
                "    {:.2} s, first new record after {}, {:.0} MB RSS",
                m.usage.wall.as_secs_f64(),
                first.map(|f| format!("{f:.2} s")).unwrap_or("-".into()),
                m.usage.max_rss as f64 / 1e6
            );
            slot.runs.push(RunResult {
                wall: m.usage.wall.as_secs_f64(),
                cpu: m.usage.cpu.as_secs_f64(),
                rss: m.usage.max_rss,
                counted: Some((consumed.count, consumed.distinct)),
                ok: notes.is_empty(),
                note: notes.join("; "),
                curve: Vec::new(),
                remark: String::new(),
                untimed: false,
            });
        }
        // Local folder: count the object files opened, under strace, in one extra run.
        if case.backend == Backend::Local {
            result.extra.finished_gets = self.count_local_opens(case, ds, dir, cfile, finished)?;
        }
        result.contenders.push(slot);
        Ok(())
    }

    fn count_local_opens(
        &mut self,
        case: &Case,
        ds: &Dataset,
        dir: &Path,
        cfile: &Path,
        finished: &Path,
    ) -> anyhow::Result<Option<u64>> {
        if Command::new("strace").arg("-V").output().is_err() {
            return Ok(None);
        }
        eprintln!("  counting opened objects under strace (untimed)");
        let rdir = dir.join("strace");
        std::fs::create_dir_all(&rdir)?;
        let broker = Broker::try_start(case.broker, &self.tansu)?;
        broker.try_create_topic(TOPIC)?;
        let offsets = rdir.join("offsets.jsonl");
        std::fs::copy(finished, &offsets)?;
        let wfile = rdir.join("worker.properties");
        std::fs::write(&wfile, self.worker(case, &broker.bootstrap(), &offsets))?;
        let trace = rdir.join("openat.trace");
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-qq", "-e", "trace=openat,open", "-o"])
            .arg(&trace)
            .arg(&self.sluice)
            .arg("backfill")
            .arg(&wfile)
            .arg(cfile);
        let m = measure::run(&mut cmd, &rdir, "strace", &RunOpts::default())?;
        drop(broker);
        if !m.ok() {
            bail!("sluice under strace: {}", m.failure());
        }
        let text = std::fs::read_to_string(&trace)?;
        let root = ds.root.display().to_string();
        let opened = text
            .lines()
            .filter(|l| l.contains(&root) && !l.contains("O_DIRECTORY") && !l.contains(NEW_KEY))
            .filter(|l| !l.contains("ENOENT"))
            .count();
        Ok(Some(opened as u64))
    }
}
