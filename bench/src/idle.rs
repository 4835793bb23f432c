//! The idle case: `sluice run` on an empty bucket for a while, measuring the CPU and memory it
//! uses when there is nothing to do.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::bench::{Bench, TOPIC};
use crate::cases::{Backend, Case, Contender};
use crate::kafka::Broker;
use crate::measure::{self, RunOpts};
use crate::results::{CaseResult, ContenderResult, RunResult};

impl Bench {
    pub(crate) fn idle(
        &mut self,
        case: &Case,
        dir: &Path,
        cfile: &Path,
        result: &mut CaseResult,
    ) -> anyhow::Result<()> {
        eprintln!("  sluice run on an empty bucket for {} s", self.idle_secs);
        let rdir = dir.join("sluice-0");
        std::fs::create_dir_all(&rdir)?;
        let broker = Broker::try_start(case.broker, &self.tansu)?;
        broker.try_create_topic(TOPIC)?;
        let offsets = rdir.join("offsets.jsonl");
        let wfile = rdir.join("worker.properties");
        std::fs::write(&wfile, self.worker(case, &broker.bootstrap(), &offsets))?;
        let mark = (case.backend == Backend::S3)
            .then(|| self.moto.as_ref().map(|m| m.log_mark()))
            .flatten();
        let mut cmd = Command::new(&self.sluice);
        cmd.arg("run")
            .arg(&wfile)
            .arg(cfile)
            .env("RUST_LOG", "info,rdkafka=warn");
        let m = measure::run(
            &mut cmd,
            &rdir,
            "sluice",
            &RunOpts {
                terminate_after: Some(Duration::from_secs(self.idle_secs)),
                sample_every: Some(Duration::from_millis(500)),
                ..Default::default()
            },
        )?;
        drop(broker);
        if let (Some(mark), Some(moto)) = (mark, self.moto.as_ref()) {
            result.extra.lists = Some(moto.requests_since(mark, "empty/").1);
        }
        result.extra.idle_secs = m.usage.wall.as_secs_f64();
        let warmup = (self.idle_secs as f64 / 3.0).min(5.0);
        result.extra.idle_warmup = warmup;
        result.extra.idle_steady = m.cpu_share_after(warmup);
        let ok = m.ok();
        eprintln!(
            "    {:.3} CPU s in {:.1} s ({:.2} % of a core; {} after {warmup:.0} s), {:.0} MB RSS",
            m.usage.cpu.as_secs_f64(),
            m.usage.wall.as_secs_f64(),
            100.0 * m.usage.cpu.as_secs_f64() / m.usage.wall.as_secs_f64(),
            result
                .extra
                .idle_steady
                .map(|x| format!("{:.2} %", 100.0 * x))
                .unwrap_or("-".into()),
            m.usage.max_rss as f64 / 1e6
        );
        result.contenders.push(ContenderResult {
            contender: Contender::Sluice,
            runs: vec![RunResult {
                wall: m.usage.wall.as_secs_f64(),
                cpu: m.usage.cpu.as_secs_f64(),
                rss: m.usage.max_rss,
                counted: None,
                ok,
                note: if ok { String::new() } else { m.failure() },
                curve: Vec::new(),
                remark: String::new(),
                untimed: false,
            }],
            skipped: None,
            reused_from: None,
        });
        Ok(())
    }
}
