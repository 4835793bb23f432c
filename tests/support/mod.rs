//! The end-to-end tests' support: everything shared with the benchmark lives in
//! `sluice-testkit`; here only what needs this package's `sluice` binary.
#![allow(dead_code)]

pub(crate) use sluice_testkit::*;

use std::path::Path;
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
    ChildGuard::spawn(
        sluice()
            .arg("run")
            .arg(worker)
            .arg(connector)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}
