//! What a benchmark run produces: the measured runs of each contender and each case's
//! outcome, which the report is written from.

use crate::cases::{Case, Contender};

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
