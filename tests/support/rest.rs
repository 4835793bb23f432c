//! What the REST end-to-end tests share: a client of the worker's API, starting a worker on a
//! fresh broker and folder, reading `/metrics`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;

/// A client of the worker's API (plain HTTP on loopback).
pub(crate) struct Api {
    pub(crate) base: String,
    pub(crate) agent: ureq::Agent,
}

impl Api {
    pub(crate) fn new(port: u16) -> Api {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Api {
            base: format!("http://127.0.0.1:{port}"),
            agent,
        }
    }

    /// `method path` with an optional raw body; the status and the body (JSON, or a string).
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Api::call`], with a failed exchange (no answer, a timeout) as an error naming it.
    pub(crate) fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b),
            ("POST", None) => self.agent.post(&url).send_empty(),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("Content-Type", "application/json")
                .send(b),
            ("PUT", None) => self.agent.put(&url).send_empty(),
            ("PATCH", Some(b)) => self
                .agent
                .patch(&url)
                .header("Content-Type", "application/json")
                .send(b),
            other => panic!("unsupported call {other:?}"),
        };
        let mut resp = resp.map_err(|e| format!("{method} {} {path}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    pub(crate) fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None)
    }

    pub(crate) fn metrics(&self) -> String {
        match self.get("/metrics") {
            (200, Value::String(s)) => s,
            other => panic!("GET /metrics: {other:?}"),
        }
    }

    /// Waits until `GET /` answers (the worker is up).
    pub(crate) fn wait_up(&self, worker: &mut ChildGuard, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = worker.0.try_wait() {
                panic!("the worker exited ({status}):\n{}", read(log));
            }
            if self.agent.get(&self.base).call().is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the REST API did not come up:\n{}",
                read(log)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub(crate) fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Polls `cond` for up to 60 s.
pub(crate) fn wait_until(what: &str, log: &Path, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            read(log)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The sum over tasks of a metric family's samples for `connector`.
pub(crate) fn metric_sum(text: &str, name: &str, connector: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| l.contains(&format!("connector=\"{connector}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub(crate) fn spawn_worker(worker: &Path, log: &Path) -> ChildGuard {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    ChildGuard::spawn(
        sluice()
            .arg("run")
            .arg(worker)
            .stdout(Stdio::null())
            .stderr(log),
    )
}

/// A worker on a fresh broker and folder: (broker, dir, data folder, worker file, log, port).
pub(crate) fn worker_setup(
    topic: &str,
) -> (Broker, tempfile::TempDir, PathBuf, PathBuf, PathBuf, u16) {
    let broker = Broker::start(BrokerKind::Tansu);
    broker.create_topic(topic);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let port = free_port();
    let log = dir.path().join("sluice.log");
    let listener = format!("http://127.0.0.1:{port}");
    let worker_file = worker_file(
        dir.path(),
        &broker,
        &[
            ("offset.flush.interval.ms", "200"),
            ("listeners", listener.as_str()),
        ],
    )
    .worker;
    (broker, dir, data, worker_file, log, port)
}

pub(crate) fn state(api: &Api, name: &str) -> (String, Vec<String>) {
    let (code, s) = api.get(&format!("/connectors/{name}/status"));
    assert_eq!(code, 200, "{s}");
    let tasks = s["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap().to_owned())
        .collect();
    (s["connector"]["state"].as_str().unwrap().to_owned(), tasks)
}
