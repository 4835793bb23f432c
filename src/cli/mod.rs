//! The `sluice` command line as a library entry point: [`main`] is the `sluice` binary, and
//! [`main_with`] is the same program with a program's own components registered, so a binary
//! that is "Sluice plus my format" gets every command (`run` with the REST API and `/metrics`,
//! `backfill`, `validate`, `offsets`, `config-docs`) unchanged. See `docs/extending.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use sluice_core::config::{self, ConnectorConfig, WorkerConfig};
use sluice_core::error_chain;
use std::sync::Arc;

use sluice_worker::distributed::DistributedConfig;
use sluice_worker::loggers::LogLevels;
use sluice_worker::persist::{parse_target, ConfigFile};
use sluice_worker::rest::{RestConfig, RestServer};
use sluice_worker::{Mode, State, TargetState, Worker};
use tokio::sync::watch;

mod offsets;
mod summary;
mod validate;

use offsets::{offsets, OffsetsAction};
use summary::{print_summary, summary_json};
use validate::validate;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Stream objects from object stores into Kafka, the Kafka Connect way"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run connectors continuously (like connect-standalone): tail the buckets, resume where stopped.
    ///
    /// With no connector files, or with `listeners` in the worker file, the worker serves Kafka
    /// Connect's REST API and /metrics (default http://127.0.0.1:8083); connectors created or
    /// changed over it are kept in `config.storage.file.filename` and come back on restart.
    Run {
        /// Worker file: bootstrap.servers, offset.storage.file.filename, converters, producer.*,
        /// listeners.
        worker: PathBuf,
        /// Connector files (.properties, or Kafka Connect's JSON {"name":..,"config":{..}}).
        connectors: Vec<PathBuf>,
    },
    /// Join a distributed cluster (`group.id`, `config.storage.topic`, `status.storage.topic`,
    /// `offset.storage.topic` in the worker file) and serve its REST API; connectors are
    /// created through the API of any worker. See docs/distributed.md.
    Worker {
        /// Worker file (as for `run`, plus the distributed keys).
        worker: PathBuf,
    },
    /// One pass over what the buckets hold now, then exit with a summary.
    Backfill {
        /// Worker file (as for `run`).
        worker: PathBuf,
        /// Connector files.
        #[arg(required = true)]
        connectors: Vec<PathBuf>,
        /// Also write the final summary as JSON to this file (`-`: standard output, after the
        /// text summary), for scripts.
        #[arg(long, value_name = "FILE")]
        summary_json: Option<PathBuf>,
        /// When stderr is not a terminal, log each connector's progress this often (seconds).
        #[arg(long, value_name = "SECONDS", default_value_t = 10)]
        progress_interval: u64,
    },
    /// Check configuration files and list every problem; exits non-zero if there is any.
    Validate {
        /// A worker file to check too: its settings, then a connection to Kafka with them
        /// (DNS, TCP, TLS, SASL, and access to the connectors' topics), which says precisely
        /// why when it fails.
        #[arg(long)]
        worker: Option<PathBuf>,
        /// Check the worker file's settings without connecting to Kafka.
        #[arg(long)]
        offline: bool,
        /// List the first N keys under each connector's prefix and what each maps to (topic,
        /// partition, start offset, task), or why it is not read; needs access to the store.
        #[arg(long, value_name = "N")]
        preview: Option<usize>,
        /// Connector files.
        connectors: Vec<PathBuf>,
    },
    /// No servers needed: writes sample objects to a temporary folder, runs them through an
    /// in-process Kafka (librdkafka's mock cluster) and prints what landed.
    Demo {
        /// Number of objects to generate.
        #[arg(long, default_value_t = 12)]
        objects: usize,
        /// Records per object.
        #[arg(long, default_value_t = 2000)]
        records: usize,
        /// Write the sample objects, the offsets and the worker and connector files used into
        /// this folder and keep it (default: a temporary folder, removed on exit).
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
    /// Inspect or rewind a connector's stored offsets (stop the connector first).
    Offsets {
        #[command(subcommand)]
        action: OffsetsAction,
    },
    /// Print the configuration reference (docs/config.md) generated from the code.
    ConfigDocs,
}

fn load_worker(path: &Path) -> sluice_core::Result<WorkerConfig> {
    sluice_worker::registry::worker_config(&config::load_file(path)?)
        .map_err(|e| with_context(e, path))
}

/// A connector file, its `${file:...}` / `${env:...}` references resolved with the config
/// providers `worker` declares.
fn load_connector(
    path: &Path,
    worker: Option<&WorkerConfig>,
) -> sluice_core::Result<ConnectorConfig> {
    ConnectorConfig::from_settings_resolved(
        &sluice_worker::registry::current(),
        &config::load_file(path)?,
        worker,
    )
    .map_err(|e| with_context(e, path))
}

fn with_context(e: sluice_core::Error, path: &Path) -> sluice_core::Error {
    match e {
        sluice_core::Error::Config { problems, .. } => sluice_core::Error::Config {
            context: Some(path.display().to_string()),
            problems,
        },
        other => other,
    }
}

/// First signal: stop cleanly. Second: exit at once (the offset store is only ever replaced
/// atomically, so this cannot corrupt it).
fn install_signals(stop: watch::Sender<bool>) {
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                tracing::info!("stopping: delivering what was read and committing offsets (signal again to exit at once)");
                let _ = stop.send(true);
            } else {
                tracing::warn!("second signal: exiting now");
                std::process::exit(130);
            }
        }
    });
}

/// What a backfill reports besides its text summary.
struct Report<'a> {
    /// `--summary-json`.
    summary_json: Option<&'a Path>,
    /// `--progress-interval`.
    progress_every: Duration,
}

async fn run_files(
    worker: &Path,
    connectors: &[PathBuf],
    mode: Mode,
    report: Option<Report<'_>>,
) -> anyhow::Result<bool> {
    let summary_to = report.as_ref().and_then(|r| r.summary_json);
    let worker = load_worker(worker)?;
    let connectors = connectors
        .iter()
        .map(|p| load_connector(p, Some(&worker)))
        .collect::<Result<Vec<_>, _>>()?;
    let worker = std::sync::Arc::new(Worker::new(worker, mode).await?);
    let (stop_tx, mut stop_rx) = watch::channel(false);
    install_signals(stop_tx);
    crate::native_memory::spawn_trimmer();
    let mut all_ok = true;
    let creates = connectors.into_iter().map(|c| worker.create(c));
    for result in futures::future::join_all(creates).await {
        if let Err(e) = result {
            all_ok = false;
            eprintln!("error: {}", error_chain(&e));
        }
    }
    let progress = report
        .as_ref()
        .map(|r| crate::progress::Progress::start(worker.clone(), r.progress_every));
    // Until every task has ended (a backfill's pass is over, or tasks failed) or a signal.
    tokio::select! {
        _ = worker.wait_idle() => {}
        _ = stop_rx.wait_for(|stop| *stop) => {}
    }
    if let Some(p) = progress {
        p.finish().await;
    }
    let mut summaries = Vec::new();
    for summary in worker.shutdown().await {
        // A connector that could not start was reported above.
        if matches!(
            worker.status(&summary.name).map(|s| s.state),
            Ok(State::Failed(_))
        ) {
            continue;
        }
        all_ok &= summary.ok();
        print_summary(&summary);
        summaries.push(summary_json(&summary));
    }
    if let Some(to) = summary_to {
        let doc = serde_json::json!({"ok": all_ok, "connectors": summaries});
        let text = serde_json::to_string_pretty(&doc)? + "\n";
        if to == Path::new("-") {
            print!("{text}");
        } else {
            std::fs::write(to, text).map_err(|e| {
                anyhow::anyhow!("cannot write the summary to {}: {e}", to.display())
            })?;
        }
    }
    Ok(all_ok)
}

/// `sluice run` with the REST API: the connectors stored in the worker's connector file come
/// back in their target state (a connector file given on the command line wins over a stored
/// configuration of the same name, keeping its stored target state), the API serves until a
/// signal, then every connector stops cleanly.
async fn run_with_rest(
    worker_path: &Path,
    connector_files: &[PathBuf],
    loggers: Arc<LogLevels>,
) -> anyhow::Result<bool> {
    let settings = config::load_file(worker_path)?;
    let worker_cfg = sluice_worker::registry::worker_config(&settings)
        .map_err(|e| with_context(e, worker_path))?;
    let rest_cfg = RestConfig::from_settings(&settings)?;
    let files = connector_files
        .iter()
        .map(|p| load_connector(p, Some(&worker_cfg)))
        .collect::<Result<Vec<_>, _>>()?;
    let store = ConfigFile::from_settings(&settings, &worker_cfg);
    let stored = match &store {
        Some(s) => s.load()?,
        None => {
            tracing::warn!("offsets are in a Kafka topic and config.storage.file.filename is not set: connectors created over the REST API will not survive a restart");
            Vec::new()
        }
    };
    let worker = std::sync::Arc::new(Worker::new(worker_cfg, Mode::Continuous).await?);
    let (stop_tx, mut stop_rx) = watch::channel(false);
    install_signals(stop_tx);
    crate::native_memory::spawn_trimmer();
    let mut names = Vec::new();
    let mut stored_targets = std::collections::BTreeMap::new();
    for c in stored {
        let target = parse_target(&c.target_state).unwrap_or(TargetState::Running);
        if files.iter().any(|f| f.name == c.name) {
            stored_targets.insert(c.name, target);
            continue;
        }
        let path = store.as_ref().map(|s| s.path().display().to_string());
        let cfg = ConnectorConfig::from_settings_resolved(
            &sluice_worker::registry::current(),
            &c.config,
            Some(worker.config()),
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "connector {:?} stored in {}: {}
fix its configuration in that file, or remove the connector from it",
                c.name,
                path.unwrap_or_default(),
                error_chain(&e)
            )
        })?;
        names.push(cfg.name.clone());
        worker.add(cfg, target)?;
    }
    for f in files {
        let target = stored_targets
            .get(&f.name)
            .copied()
            .unwrap_or(TargetState::Running);
        names.push(f.name.clone());
        worker.add(f, target)?;
    }
    if let Some(store) = &store {
        store.save_worker(&worker)?;
        tracing::info!(file = %store.path().display(), connectors = names.len(), "connectors are kept in this file");
    }
    let server = RestServer::start(worker.clone(), &rest_cfg, store, Some(loggers)).await?;
    // A connector that cannot start is FAILED (its status says why); the worker serves on.
    futures::future::join_all(names.iter().map(|n| worker.start(n))).await;
    let _ = stop_rx.wait_for(|stop| *stop).await;
    server.shutdown().await;
    for summary in worker.shutdown().await {
        print_summary(&summary);
    }
    Ok(true)
}

/// `sluice worker` (or `sluice run` with `group.id`): a worker of a distributed cluster until
/// a signal; then its tasks deliver and commit and it leaves the group.
async fn run_distributed(
    worker_path: &Path,
    connector_files: &[PathBuf],
    loggers: Arc<LogLevels>,
) -> anyhow::Result<bool> {
    if !connector_files.is_empty() {
        anyhow::bail!(
            "{}: distributed mode (group.id is set) takes no connector files: create connectors through the REST API of any worker (POST /connectors); see docs/distributed.md",
            worker_path.display()
        );
    }
    let settings = config::load_file(worker_path)?;
    let worker_cfg = sluice_worker::registry::worker_config(&settings)
        .map_err(|e| with_context(e, worker_path))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    install_signals(stop_tx);
    crate::native_memory::spawn_trimmer();
    sluice_worker::distributed::serve(&settings, worker_cfg, Some(loggers), stop_rx).await?;
    Ok(true)
}

/// The log filter when `RUST_LOG` is not set.
const DEFAULT_LOG_FILTER: &str = "info,rdkafka=warn";

/// Installs the log subscriber: levels from `RUST_LOG` (changeable at run time through the
/// returned [`LogLevels`], which `/admin/loggers` uses), lines as text or, with `log.format=json`
/// in the worker file, as JSON objects.
fn init_logging(worker_file: Option<&Path>) -> anyhow::Result<Arc<LogLevels>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, reload, EnvFilter, Layer};

    // The worker file is read again (and checked as a whole) by the command; here only
    // log.format matters, and a file that cannot be read is reported by the command.
    let format = worker_file
        .and_then(|p| config::load_file(p).ok())
        .and_then(|s| s.get("log.format").map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| "text".into());
    let json = match format.as_str() {
        "text" | "" => false,
        "json" => true,
        other => anyhow::bail!("log.format={other:?}: expected text or json"),
    };
    let initial = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| EnvFilter::try_new(v).is_ok())
        .unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned());
    let (filter, handle) = reload::Layer::new(EnvFilter::new(&initial));
    // Colour only on a terminal (never in a file or a pipe), and never with NO_COLOR set.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let lines = fmt::layer().with_writer(std::io::stderr);
    let lines = if json {
        lines
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        lines.with_ansi(ansi).boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .init();
    Ok(Arc::new(LogLevels::new(
        &initial,
        Box::new(move |directives| {
            let filter = EnvFilter::try_new(directives).map_err(|e| e.to_string())?;
            handle.reload(filter).map_err(|e| e.to_string())
        }),
    )))
}

/// The `sluice` command line with `registry` (usually `sluice_worker::registry::builtin()` plus
/// the program's own backends, formats, converters and transforms): parses the process's
/// arguments, runs the command and returns its exit code.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     sluice::cli::main_with(sluice_worker::registry::builtin())
/// }
/// ```
pub fn main_with(registry: sluice_core::config::Registry) -> ExitCode {
    if sluice_worker::registry::install(registry).is_err() {
        eprintln!("error: a component registry was installed already in this process");
        return ExitCode::FAILURE;
    }
    main()
}

/// The `sluice` command line with the registry of this process
/// ([`sluice_worker::registry::current`]: the built-in components unless one was installed).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let worker_file = match &cli.command {
        Command::Run { worker, .. }
        | Command::Backfill { worker, .. }
        | Command::Worker { worker } => Some(worker.as_path()),
        _ => None,
    };
    let loggers = match init_logging(worker_file) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result: anyhow::Result<bool> = rt.block_on(async {
        match cli.command {
            Command::Worker { worker } => run_distributed(&worker, &[], loggers).await,
            Command::Run { worker, connectors }
                if config::load_file(&worker)
                    .is_ok_and(|s| DistributedConfig::is_configured(&s)) =>
            {
                run_distributed(&worker, &connectors, loggers).await
            }
            Command::Run { worker, connectors } => {
                let rest = connectors.is_empty()
                    || config::load_file(&worker).is_ok_and(|s| RestConfig::is_configured(&s));
                if rest {
                    run_with_rest(&worker, &connectors, loggers).await
                } else {
                    run_files(&worker, &connectors, Mode::Continuous, None).await
                }
            }
            Command::Backfill {
                worker,
                connectors,
                summary_json,
                progress_interval,
            } => {
                let report = Report {
                    summary_json: summary_json.as_deref(),
                    progress_every: Duration::from_secs(progress_interval.max(1)),
                };
                run_files(&worker, &connectors, Mode::Backfill, Some(report)).await
            }
            Command::Validate {
                worker,
                offline,
                preview,
                connectors,
            } => {
                let mut ok = validate(worker.as_deref(), &connectors, !offline);
                if let Some(n) = preview {
                    let worker_config = worker.as_deref().and_then(|w| load_worker(w).ok());
                    for c in &connectors {
                        let Ok(config) = load_connector(c, worker_config.as_ref()) else {
                            continue;
                        };
                        match crate::preview::preview(&config, n).await {
                            Ok(text) => print!("{}: preview\n{text}", c.display()),
                            Err(e) => {
                                ok = false;
                                println!(
                                    "{}: preview failed: {}",
                                    c.display(),
                                    sluice_sources::redact(&config, &error_chain(&e))
                                );
                            }
                        }
                    }
                }
                Ok(ok)
            }
            Command::Demo {
                objects,
                records,
                keep,
            } => crate::demo::run(objects, records, keep.as_deref())
                .await
                .map(|()| true),
            Command::Offsets { action } => offsets(action).await,
            Command::ConfigDocs => {
                print!("{}", sluice_worker::registry::reference_markdown());
                Ok(true)
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            match e.downcast_ref::<sluice_core::Error>() {
                Some(se) => eprintln!("error: {}", error_chain(se)),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
