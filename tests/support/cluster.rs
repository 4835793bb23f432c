//! The distributed-mode tests' harness (`tests/distributed.rs`, `tests/distributed_rest.rs`):
//! several `sluice worker` processes on one tansu broker, two connectors with three tasks each
//! over local folders, and checks by consuming and counting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use super::rest::{read, Api};
use super::*;

pub(crate) const OBJECTS: usize = 150;
pub(crate) const RECORDS: usize = 20;
/// `tasks.max` of each connector.
pub(crate) const TASKS: u32 = 3;
pub(crate) const CONNECTORS: [&str; 2] = ["alpha", "beta"];

/// Tasks RUNNING, by worker id.
pub(crate) type Assignment = BTreeMap<String, BTreeSet<(String, u64)>>;

pub(crate) struct Node {
    pub(crate) child: ChildGuard,
    pub(crate) api: Api,
    pub(crate) log: PathBuf,
    pub(crate) id: String,
}

pub(crate) struct Cluster {
    pub(crate) broker: Broker,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) nodes: Vec<Option<Node>>,
    /// Worker settings added to every worker's file.
    pub(crate) extra: Vec<(String, String)>,
}

impl Cluster {
    /// A broker with the connectors' topics, and `workers` workers of one group.
    pub(crate) fn start(workers: usize) -> Cluster {
        Cluster::start_with(workers, &[])
    }

    /// [`Cluster::start`] with more worker settings.
    pub(crate) fn start_with(workers: usize, extra: &[(&str, &str)]) -> Cluster {
        let broker = Broker::start(BrokerKind::Tansu);
        for c in CONNECTORS {
            broker.create_topic(&format!("out-{c}"));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut cluster = Cluster {
            broker,
            dir,
            nodes: Vec::new(),
            extra: extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
    }

    pub(crate) fn add_worker(&mut self) -> usize {
        let i = self.nodes.len();
        let port = free_port();
        let bootstrap = self.broker.bootstrap();
        let listener = format!("http://127.0.0.1:{port}");
        let file = self.dir.path().join(format!("worker-{i}.properties"));
        let mut props: Vec<(&str, &str)> = vec![
            ("bootstrap.servers", &bootstrap),
            ("group.id", "sluice-cluster"),
            ("config.storage.topic", "sluice-configs"),
            ("status.storage.topic", "sluice-status"),
            ("offset.storage.topic", "sluice-offsets"),
            ("offset.storage.partitions", "4"),
            ("status.storage.partitions", "2"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "1000"),
            ("rebalance.timeout.ms", "30000"),
            ("listeners", &listener),
            ("value.converter.schemas.enable", "false"),
        ];
        props.extend(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        write_props(&file, &props);
        let log = self.dir.path().join(format!("worker-{i}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut child = ChildGuard::spawn(
            sluice()
                .env("RUST_LOG", "info,rdkafka=warn")
                .arg("worker")
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(out),
        );
        let api = Api::new(port);
        api.wait_up(&mut child, &log);
        self.nodes.push(Some(Node {
            child,
            api,
            log,
            id: format!("127.0.0.1:{port}"),
        }));
        i
    }

    pub(crate) fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("a live worker")
    }

    pub(crate) fn logs(&self) -> String {
        self.nodes
            .iter()
            .flatten()
            .map(|n| format!("==== {} ====\n{}", n.id, tail(&read(&n.log), 60)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Writes each connector's objects and creates it through worker `via` (a different
    /// worker per connector when `via` has several). Returns the object keys (the same for
    /// every connector).
    pub(crate) fn create_connectors(&self, via: &[usize], extra: &[(&str, &str)]) -> Vec<String> {
        let mut keys = Vec::new();
        for (k, c) in CONNECTORS.iter().enumerate() {
            let data = self.dir.path().join(c);
            std::fs::create_dir_all(&data).unwrap();
            keys = write_jsonl(&data, OBJECTS, RECORDS);
            let mut config = json!({
                "connector.class": "local",
                "local.path": data.to_str().unwrap(),
                "local.file.min.age.ms": "0",
                "object.partial.line.wait.ms": "0",
                "topic": format!("out-{c}"),
                "input.format": "jsonl",
                "tasks.max": TASKS.to_string(),
                "distribution.type": "object_hash",
            });
            for (key, v) in extra {
                config[*key] = json!(v);
            }
            let api = &self.node(via[k % via.len()]).api;
            let (status, body) = api.call(
                "POST",
                "/connectors",
                Some(&json!({"name": c, "config": config}).to_string()),
            );
            assert_eq!(status, 201, "create {c}: {body}\n{}", self.logs());
        }
        keys
    }

    /// Tasks RUNNING per worker id, as worker `via` reports the cluster.
    pub(crate) fn running(&self, via: usize) -> Assignment {
        let mut out: BTreeMap<String, BTreeSet<(String, u64)>> = BTreeMap::new();
        for c in CONNECTORS {
            let path = format!("/connectors/{c}/status");
            let (_, st) = self
                .node(via)
                .api
                .try_call("GET", &path, None)
                .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
            for t in st["tasks"].as_array().cloned().unwrap_or_default() {
                if t["state"] == "RUNNING" {
                    out.entry(t["worker_id"].as_str().unwrap_or_default().to_owned())
                        .or_default()
                        .insert((c.to_owned(), t["id"].as_u64().unwrap()));
                }
            }
        }
        out
    }

    /// Waits (up to `within`) until the 6 tasks run, `per` on each of the live workers, as
    /// every live worker reports it; returns the assignment.
    pub(crate) fn wait_balanced(&self, per: usize, within: Duration) -> Assignment {
        self.wait_assignment(&format!("{per} tasks on each live worker"), within, |a| {
            a.values().all(|t| t.len() == per)
        })
    }

    /// Waits (up to `within`) until every live worker reports the same assignment of the 6
    /// tasks, over exactly the live workers, and it satisfies `ok`.
    pub(crate) fn wait_assignment(
        &self,
        what: &str,
        within: Duration,
        ok: impl Fn(&Assignment) -> bool,
    ) -> Assignment {
        let live: BTreeSet<String> = self.nodes.iter().flatten().map(|n| n.id.clone()).collect();
        let deadline = Instant::now() + within;
        loop {
            let views: Vec<_> = (0..self.nodes.len())
                .filter(|i| self.nodes[*i].is_some())
                .map(|i| self.running(i))
                .collect();
            let first = &views[0];
            let settled = first.keys().cloned().collect::<BTreeSet<_>>() == live
                && first.values().map(BTreeSet::len).sum::<usize>() == 6
                && views.iter().all(|v| v == first);
            if settled && ok(first) {
                return first.clone();
            }
            assert!(
                Instant::now() < deadline,
                "tasks not assigned as wanted ({what}, over {live:?}) within {within:?}: {views:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// For each live worker, by (connector, task): (starts on it, records it delivered).
    pub(crate) fn local_tasks(&self) -> BTreeMap<(String, String, u64), (u64, u64)> {
        let mut out = BTreeMap::new();
        for n in self.nodes.iter().flatten() {
            for c in CONNECTORS {
                let (_, m) = n.api.get(&format!("/connectors/{c}/metrics"));
                for t in m["tasks"].as_array().cloned().unwrap_or_default() {
                    out.insert(
                        (n.id.clone(), c.to_owned(), t["id"].as_u64().unwrap()),
                        (
                            t["starts"].as_u64().unwrap(),
                            t["records_acked"].as_u64().unwrap(),
                        ),
                    );
                }
            }
        }
        out
    }

    /// Consumes both topics until every distinct record came (duplicates do not count
    /// towards `expected`) or two minutes passed: (records per (topic, object, index)) and
    /// the total consumed.
    pub(crate) fn consume(
        &self,
        expected: usize,
    ) -> (BTreeMap<(String, String, u64), usize>, usize) {
        let topics: Vec<String> = CONNECTORS.iter().map(|c| format!("out-{c}")).collect();
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let got = consume_all(
                &self.broker.bootstrap(),
                &refs,
                expected,
                Duration::from_secs(20),
            );
            let mut seen = BTreeMap::new();
            for g in &got {
                *seen
                    .entry((g.topic.clone(), g.object().to_owned(), g.index()))
                    .or_insert(0) += 1;
            }
            if seen.len() >= expected || Instant::now() > deadline {
                return (seen, got.len());
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Every record of both connectors arrived at least once; returns the duplicates.
pub(crate) fn check_complete(seen: &BTreeMap<(String, String, u64), usize>, total: usize) -> usize {
    let expected = CONNECTORS.len() * OBJECTS * RECORDS;
    let mut missing = Vec::new();
    for c in CONNECTORS {
        for o in 0..OBJECTS {
            for r in 0..RECORDS {
                let key = (format!("out-{c}"), format!("obj-{o:03}.jsonl"), r as u64);
                if !seen.contains_key(&key) {
                    missing.push(key);
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {expected} records never arrived, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(seen.len(), expected, "records nobody wrote arrived");
    total - expected
}

pub(crate) fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

/// Consumes `topic` from its beginning until `expected` records came (duplicates count) and
/// no more came for a moment, trying again for up to two minutes: how many times each
/// (object, record) came.
pub(crate) fn counts(
    cluster: &Cluster,
    topic: &str,
    expected: usize,
) -> BTreeMap<(String, u64), usize> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = consume_all(
            &cluster.broker.bootstrap(),
            &[topic],
            expected,
            Duration::from_secs(20),
        );
        if got.len() >= expected || Instant::now() > deadline {
            let mut seen = BTreeMap::new();
            for g in &got {
                *seen.entry((g.object().to_owned(), g.index())).or_insert(0) += 1;
            }
            return seen;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Polls `cond` every 200 ms for up to `within`; fails with `what` and the workers' logs.
pub(crate) fn wait_for(
    cluster: &Cluster,
    what: &str,
    within: Duration,
    mut cond: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out ({within:?}) waiting for {what}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
