//! The end-to-end tests' support: everything shared with the benchmark lives in
//! `sluice-testkit`; here only what needs this package's `sluice` binary.
#![allow(dead_code)]

pub(crate) use sluice_testkit::*;

pub(crate) mod cluster;
pub(crate) mod harness;
pub(crate) mod rest;
pub(crate) mod tls;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `sluice` binary under test.
pub(crate) fn sluice() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.env("RUST_LOG", "info,rdkafka=warn");
    c
}

/// Runs `sluice backfill <worker> <connector>` to the end.
pub(crate) fn backfill(worker: &Path, connector: &Path) -> std::process::Output {
    sluice()
        .arg("backfill")
        .arg(worker)
        .arg(connector)
        .output()
        .expect("run sluice backfill")
}

/// Spawns `sluice run <worker> <connector>`, its output discarded.
pub(crate) fn spawn_run(worker: &Path, connector: &Path) -> ChildGuard {
    spawn_run_to(worker, connector, Stdio::null())
}

/// Spawns `sluice run <worker> <connector>` with its log (stderr) in `log`.
pub(crate) fn spawn_run_logged(worker: &Path, connector: &Path, log: &Path) -> ChildGuard {
    let file = std::fs::File::create(log)
        .unwrap_or_else(|e| panic!("create the run's log {}: {e}", log.display()));
    spawn_run_to(worker, connector, file.into())
}

/// Spawns `sluice run <worker> <connector>` with its stderr to `stderr`, stdout discarded.
fn spawn_run_to(worker: &Path, connector: &Path, stderr: Stdio) -> ChildGuard {
    ChildGuard::spawn(
        sluice()
            .arg("run")
            .arg(worker)
            .arg(connector)
            .stdout(Stdio::null())
            .stderr(stderr),
    )
}

/// A broker, a folder used as a bucket and the `.properties` files of a worker and one
/// local-folder connector reading it: what most end-to-end tests start from.
pub(crate) struct LocalPipeline {
    /// The broker (its topics created).
    pub broker: Broker,
    /// Holds everything below; removed on drop.
    pub dir: tempfile::TempDir,
    /// The connector's folder (`local.path`).
    pub data: PathBuf,
    /// `worker.properties`.
    pub worker: PathBuf,
    /// `connector.properties`.
    pub connector: PathBuf,
    /// The worker's offsets file.
    pub offsets: PathBuf,
}

impl LocalPipeline {
    /// Starts a broker of `kind` with `topics` (the first is the connector's `topic`) and writes
    /// a worker (file offsets, schemaless JSON values) and a connector `name` reading jsonl from
    /// an empty folder at once (the tests write whole files, so no settling time). `connector`
    /// and `worker` add settings or override these (a later key wins, as in Java properties).
    pub(crate) fn start(
        kind: BrokerKind,
        name: &str,
        topics: &[&str],
        connector: &[(&str, &str)],
        worker: &[(&str, &str)],
    ) -> LocalPipeline {
        let broker = Broker::start(kind);
        for t in topics {
            broker.create_topic(t);
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("bucket");
        std::fs::create_dir(&data).unwrap();
        let WorkerFiles {
            worker: worker_path,
            offsets,
        } = worker_file(dir.path(), &broker, worker);
        let mut c = vec![
            ("name", name),
            ("connector.class", "local"),
            ("local.path", data.to_str().unwrap()),
            ("local.file.min.age.ms", "0"),
            ("object.partial.line.wait.ms", "0"),
            ("topic", topics[0]),
            ("input.format", "jsonl"),
        ];
        c.extend_from_slice(connector);
        let connector_path = dir.path().join("connector.properties");
        write_props(&connector_path, &c);
        LocalPipeline {
            broker,
            dir,
            data,
            worker: worker_path,
            connector: connector_path,
            offsets,
        }
    }
}
