//! The throughput cases: every contender over the same data set, timed, with the records counted
//! back from the topic.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::bench::{number_after, number_before, slug, Bench, TOPIC};
use crate::cases::{Backend, Case, Contender, CHUNK};
use crate::data::Dataset;
use crate::kafka::{self, Broker, BrokerKind, ConsumeOpts, Consumed};
use crate::measure::{self, RunOpts};
use crate::results::{CaseResult, ContenderResult, RunResult};

impl Bench {
    pub(crate) fn throughput(
        &mut self,
        case: &Case,
        ds: &Dataset,
        dir: &Path,
        cfile: &Path,
        result: &mut CaseResult,
    ) -> anyhow::Result<()> {
        let mut slots: Vec<ContenderResult> = Vec::new();
        for &c in &case.contenders {
            let reused = match c {
                Contender::Sluice => None,
                _ => self.reuse.get(&Self::reuse_key(case, c)).cloned(),
            };
            let mut slot = ContenderResult {
                contender: c,
                runs: Vec::new(),
                skipped: None,
                reused_from: None,
            };
            if let Some((from, r)) = reused {
                slot = r;
                slot.reused_from = Some(from);
            } else if matches!(c, Contender::PyParse | Contender::PyPass) && self.python.is_none() {
                slot.skipped = Some("python venv with confluent-kafka not found".into());
            }
            slots.push(slot);
        }
        let samples = dir.join("samples.bin");
        // Mock cluster: it keeps ~5 MiB per partition, so the check consumes while the contender
        // runs, in an extra (untimed) run. tansu keeps everything: the first timed run is
        // counted after it ends.
        let concurrent_check = case.broker == BrokerKind::Mock;
        let mut runs_needed: Vec<(usize, bool)> = Vec::new(); // (rep, check)
        if concurrent_check {
            runs_needed.push((0, true));
            for rep in 0..self.reps {
                runs_needed.push((rep + 1, false));
            }
        } else {
            for rep in 0..self.reps {
                runs_needed.push((rep, rep == 0));
            }
        }
        for &(rep, check) in &runs_needed {
            for slot in slots.iter_mut() {
                if slot.skipped.is_some() || slot.reused_from.is_some() {
                    continue;
                }
                let c = slot.contender;
                if c == Contender::RawRead && check && concurrent_check {
                    continue; // nothing to check: no broker
                }
                if c == Contender::RawProduce && !samples.exists() {
                    slot.skipped = Some("no payload samples (the Sluice run failed)".into());
                    continue;
                }
                let label = format!("{}-{rep}", slug(c.name(case.format)));
                eprintln!(
                    "  {} run {}{}",
                    c.name(case.format),
                    rep + usize::from(!concurrent_check),
                    if check && concurrent_check {
                        " (count check, untimed)"
                    } else {
                        ""
                    }
                );
                let run = self.run_contender(case, ds, c, dir, cfile, &label, check, &samples)?;
                eprintln!(
                    "    {:.2} s, {:.2} CPU s, {:.0} MB RSS{}{}{}",
                    run.wall,
                    run.cpu,
                    run.rss as f64 / 1e6,
                    if run.curve.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (RSS curve: {} samples, last {:.0} MB)",
                            run.curve.len(),
                            run.curve.last().map_or(0.0, |x| x.1 as f64 / 1e6)
                        )
                    },
                    run.counted
                        .map(|(n, d)| format!(", counted {n} ({d} distinct)"))
                        .unwrap_or_default(),
                    if run.ok {
                        String::new()
                    } else {
                        format!(" FAILED: {}", run.note)
                    }
                );
                if check && concurrent_check {
                    // The untimed count check: keep only its verdict.
                    slot.runs.push(RunResult {
                        untimed: true,
                        ..run
                    });
                } else {
                    slot.runs.push(run);
                }
            }
        }
        // Drop the untimed count-check runs from the timings, keeping their counts.
        if concurrent_check {
            for slot in slots.iter_mut() {
                if slot.reused_from.is_some() {
                    continue;
                }
                if let Some(pos) = slot.runs.iter().position(|r| r.untimed && r.ok) {
                    let check = slot.runs.remove(pos);
                    if let Some(first) = slot.runs.first_mut() {
                        first.counted = check.counted;
                        first.remark = check.remark;
                    }
                }
            }
        }
        for slot in &slots {
            if slot.reused_from.is_none() && slot.contender != Contender::Sluice && slot.ok() {
                self.reuse.insert(
                    Self::reuse_key(case, slot.contender),
                    (case.id.clone(), slot.clone()),
                );
            }
        }
        result.contenders = slots;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn run_contender(
        &mut self,
        case: &Case,
        ds: &Dataset,
        c: Contender,
        dir: &Path,
        cfile: &Path,
        label: &str,
        check: bool,
        samples: &Path,
    ) -> anyhow::Result<RunResult> {
        let expected = ds.records(case.format.chunk());
        let rdir = dir.join(label);
        std::fs::create_dir_all(&rdir)?;
        if c == Contender::RawRead {
            let conc = case.tasks as usize * 4;
            let mut cmd = Command::new(&self.me);
            cmd.arg("raw-read")
                .arg("--connector")
                .arg(cfile)
                .arg("--concurrency")
                .arg(conc.to_string());
            let m = measure::run(&mut cmd, &rdir, "raw-read", &RunOpts::default())?;
            let bytes = number_after(&m.stdout, "read ");
            let ok = m.ok() && bytes == Some(ds.bytes());
            return Ok(RunResult {
                wall: m.usage.wall.as_secs_f64(),
                cpu: m.usage.cpu.as_secs_f64(),
                rss: m.usage.max_rss,
                counted: None,
                ok,
                note: if ok {
                    String::new()
                } else if !m.ok() {
                    m.failure()
                } else {
                    format!("read {bytes:?} bytes, expected {}", ds.bytes())
                },
                curve: Vec::new(),
                remark: String::new(),
                untimed: false,
            });
        }
        let broker = Broker::try_start(case.broker, &self.tansu)?;
        broker.try_create_topic(TOPIC)?;
        let bootstrap = broker.bootstrap();
        let offsets = rdir.join("offsets.jsonl");
        let wfile = rdir.join("worker.properties");
        std::fs::write(&wfile, self.worker(case, &bootstrap, &offsets))?;
        let mut cmd = match c {
            Contender::Sluice => {
                let mut cmd = Command::new(&self.sluice);
                cmd.arg("backfill").arg(&wfile).arg(cfile);
                cmd
            }
            Contender::RawProduce => {
                let prefix = match case.backend {
                    Backend::Local => String::new(),
                    _ => format!("{}/", ds.name),
                };
                let manifest = rdir.join("manifest.tsv");
                std::fs::write(&manifest, ds.manifest_for(&prefix, case.format.chunk()))?;
                let mut cmd = Command::new(&self.me);
                cmd.arg("raw-produce")
                    .arg("--worker")
                    .arg(&wfile)
                    .arg("--manifest")
                    .arg(&manifest)
                    .arg("--samples")
                    .arg(samples)
                    .arg("--topic")
                    .arg(TOPIC);
                cmd
            }
            Contender::PyParse | Contender::PyPass => {
                let python = self.python.clone().context("no python")?;
                let mut cmd = Command::new(python);
                cmd.arg(self.root.join("scripts/bench/baseline.py"))
                    .arg("--format")
                    .arg(case.format.python().context("format not covered")?)
                    .arg("--mode")
                    .arg(if c == Contender::PyParse {
                        "parse"
                    } else {
                        "passthrough"
                    })
                    .arg("--bootstrap")
                    .arg(&bootstrap)
                    .arg("--topic")
                    .arg(TOPIC)
                    .arg("--chunk")
                    .arg(CHUNK.to_string());
                match case.backend {
                    Backend::Local => {
                        cmd.arg("--local").arg(&ds.root);
                    }
                    Backend::S3 => {
                        let moto = self.moto.as_ref().context("moto")?;
                        cmd.arg("--s3-endpoint")
                            .arg(&moto.endpoint)
                            .arg("--bucket")
                            .arg(&moto.bucket)
                            .arg("--prefix")
                            .arg(format!("{}/{}", ds.name, case.subset));
                    }
                    _ => bail!("no baseline for {:?}", case.backend),
                }
                cmd
            }
            Contender::RawRead => unreachable!(),
        };
        cmd.env("RUST_LOG", "info,rdkafka=warn");
        let concurrent = check && case.broker == BrokerKind::Mock;
        let done = Arc::new(AtomicBool::new(false));
        let sample_bytes = if c == Contender::Sluice { 4 << 20 } else { 0 };
        let consumer = concurrent.then(|| {
            let bootstrap = bootstrap.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                kafka::consume(
                    &bootstrap,
                    TOPIC,
                    ConsumeOpts {
                        expected,
                        settle: Duration::from_millis(1500),
                        idle: Duration::from_secs(10),
                        producer_done: Some(done),
                        sample_bytes,
                    },
                )
            })
        });
        let opts = RunOpts {
            sample_every: (c == Contender::Sluice).then_some(Duration::from_millis(250)),
            ..Default::default()
        };
        let m = measure::run(&mut cmd, &rdir, &slug(c.name(case.format)), &opts)?;
        done.store(true, Ordering::Relaxed);
        let counted: Option<Consumed> = if let Some(h) = consumer {
            Some(
                h.join()
                    .map_err(|_| anyhow::anyhow!("consumer panicked"))??,
            )
        } else if check {
            Some(kafka::consume(
                &bootstrap,
                TOPIC,
                ConsumeOpts {
                    expected,
                    settle: Duration::from_millis(1000),
                    idle: Duration::from_secs(10),
                    producer_done: None,
                    sample_bytes,
                },
            )?)
        } else {
            None
        };
        drop(broker);
        let ok_run = m.ok() && number_before(&m.stdout, "records delivered") == Some(expected);
        if c == Contender::Sluice
            && ok_run
            && case.dataset == "jsonl-100k"
            && case.subset.is_empty()
            && case.tasks == 1
        {
            // The restart case starts from these offsets: every object finished.
            self.finished_offsets
                .insert((case.backend, case.dataset), offsets.clone());
        }
        if let Some(cn) = &counted {
            if c == Contender::Sluice && !cn.samples.is_empty() && !samples.exists() {
                kafka::write_samples(samples, &cn.samples)?;
            }
        }
        let reported = match c {
            Contender::Sluice => number_before(&m.stdout, "records delivered"),
            Contender::RawProduce => number_after(&m.stdout, "delivered "),
            _ => number_after(&m.stdout, "delivered "),
        };
        let mut notes = Vec::new();
        if !m.ok() {
            notes.push(m.failure());
        }
        if reported != Some(expected) {
            notes.push(format!(
                "reported {reported:?} records, expected {expected}"
            ));
        }
        let mut remark = String::new();
        if let Some(cn) = &counted {
            if cn.count != expected || cn.distinct != expected {
                let text = format!(
                    "consumed {} records ({} distinct), expected {expected}",
                    cn.count, cn.distinct
                );
                if case.broker == BrokerKind::Mock
                    && cn.count == cn.distinct
                    && cn.count < expected
                    && reported == Some(expected)
                {
                    // The mock cluster keeps ~5 MiB per partition: a consumer that falls behind
                    // loses the oldest records. No duplicates, and every record acknowledged.
                    remark = format!("{text}: the rest aged out of the mock cluster's 5 MiB per partition before the consumer read it; all {expected} acknowledged");
                } else {
                    notes.push(text);
                }
            }
        }
        Ok(RunResult {
            wall: m.usage.wall.as_secs_f64(),
            cpu: m.usage.cpu.as_secs_f64(),
            rss: m.usage.max_rss,
            counted: counted.map(|c| (c.count, c.distinct)),
            ok: notes.is_empty(),
            note: notes.join("; "),
            curve: m.usage.samples,
            remark,
            untimed: false,
        })
    }
}
