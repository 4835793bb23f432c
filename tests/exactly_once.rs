//! Exactly-once delivery (records and offsets in one Kafka transaction).
//!
//! Neither test broker hides uncommitted or aborted records from a `read_committed` consumer
//! (shared/TESTBED.md), so these tests consume EVERYTHING and match each record, through its
//! `sluice.transaction` header, against the transactions `sluice` reports as committed. What
//! needs a real Apache Kafka is listed in docs/guarantees.md.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;

const TOPIC: &str = "ingest";

struct Env {
    broker: Broker,
    _dir: tempfile::TempDir,
    worker: PathBuf,
    connector: PathBuf,
    objects: Vec<(String, usize)>,
}

fn env(kind: BrokerKind, boundary: &str, objects: usize, records: usize) -> Env {
    let broker = Broker::start(kind);
    broker.create_topic(TOPIC);
    broker.create_topic("sluice-offsets");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bucket");
    std::fs::create_dir(&data).unwrap();
    let keys = write_jsonl(&data, objects, records);
    let bootstrap = broker.bootstrap();
    let worker = dir.path().join("worker.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", &bootstrap),
            ("offset.storage.topic", "sluice-offsets"),
            ("offset.storage.partitions", "4"),
            ("offset.storage.replication.factor", "1"),
            ("value.converter.schemas.enable", "false"),
            ("exactly.once.source.support", "enabled"),
            ("offset.flush.interval.ms", "200"),
        ],
    );
    let connector = dir.path().join("connector.properties");
    write_props(
        &connector,
        &[
            ("name", "eos"),
            ("connector.class", "local"),
            ("local.path", data.to_str().unwrap()),
            // The test writes whole files before the connector looks: no need to wait for them to settle.
            ("local.file.min.age.ms", "0"),
            ("object.partial.line.wait.ms", "0"),
            ("topic", TOPIC),
            ("input.format", "jsonl"),
            ("tasks.max", "2"),
            ("exactly.once.support", "required"),
            ("transaction.boundary", boundary),
            ("max.poll.records", "200"),
        ],
    );
    Env {
        broker,
        _dir: dir,
        worker,
        connector,
        objects: keys.into_iter().map(|k| (k, records)).collect(),
    }
}

/// Transaction names from `transaction committed` log lines.
fn committed_in(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("transaction committed"))
        .filter_map(|l| l.split("transaction=").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        .collect()
}

fn strip_ansi(s: &str) -> String {
    let re = regex::Regex::new("\u{1b}\\[[0-9;]*m").unwrap();
    re.replace_all(s, "").into_owned()
}

#[test]
fn exactly_once_object_boundary_commits_each_object_with_its_offsets() {
    let e = env(BrokerKind::Mock, "object", 8, 300);
    let out = backfill(&e.worker, &e.connector);
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    let committed = committed_in(&stderr);
    // One commit at the end of each object (a task reads several objects at once, so a
    // transaction may also hold the beginning of the next objects).
    assert_eq!(
        committed.len(),
        8,
        "one transaction per object end: {committed:?}"
    );
    let got = consume_all(
        &e.broker.bootstrap(),
        &[TOPIC],
        8 * 300,
        Duration::from_secs(20),
    );
    assert_eq!(got.len(), 8 * 300);
    let mut seen = HashSet::new();
    for g in &got {
        let t = &g.headers["sluice.transaction"];
        assert!(
            committed.contains(t),
            "record in an uncommitted transaction {t}"
        );
        assert!(seen.insert((g.object().to_owned(), g.index())), "duplicate");
    }
    // A second run reads nothing again: the offsets committed with the records are loaded.
    let out = backfill(&e.worker, &e.connector);
    assert!(out.status.success());
    let again = consume_all(
        &e.broker.bootstrap(),
        &[TOPIC],
        8 * 300,
        Duration::from_secs(10),
    );
    assert_eq!(again.len(), 8 * 300, "nothing delivered twice");
}

/// Spawns `sluice run`, collecting its log lines.
fn spawn_logged(e: &Env) -> (ChildGuard, Arc<Mutex<String>>) {
    let mut child = ChildGuard::spawn(
        sluice()
            .arg("run")
            .arg(&e.worker)
            .arg(&e.connector)
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.0.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let mut l = sink.lock().unwrap();
            l.push_str(&strip_ansi(&line));
            l.push('\n');
        }
    });
    (child, log)
}

#[test]
fn exactly_once_survives_kill_9_without_loss_or_duplicates_among_committed_data() {
    let kills = if std::env::var_os("SLUICE_HEAVY").is_some() {
        30
    } else {
        8
    };
    let e = env(BrokerKind::Mock, "poll", 20, 2000);
    let total: usize = e.objects.iter().map(|(_, n)| n).sum();
    let mut logs = Vec::new();
    let started = Instant::now();
    for i in 0..kills {
        let (mut child, log) = spawn_logged(&e);
        // Kill once this run committed a few transactions, a few ms later: mid-transaction.
        let wanted = 1 + i % 3;
        let deadline = Instant::now() + Duration::from_secs(60);
        while committed_in(&log.lock().unwrap()).len() < wanted {
            assert!(
                Instant::now() < deadline,
                "no transaction committed before kill {i}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(i as u64 * 7 % 40));
        child.kill9();
        std::thread::sleep(Duration::from_millis(100));
        logs.push(log.lock().unwrap().clone());
    }
    let (mut child, log) = spawn_logged(&e);
    // Wait until every record is in a committed transaction.
    let deadline = Instant::now() + Duration::from_secs(180);
    let analysis = loop {
        let got = consume_all(
            &e.broker.bootstrap(),
            &[TOPIC],
            usize::MAX,
            Duration::from_millis(1500),
        );
        let mut all_logs = logs.clone();
        all_logs.push(log.lock().unwrap().clone());
        let a = analyze(&got, &all_logs, &e.objects);
        if a.lost == 0 {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "not everything committed: {} records missing",
            a.lost
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let status = child.terminate();
    assert!(status.success(), "{status:?}");
    println!(
        "exactly-once kill -9: kills={kills} records={total} consumed={} committed-transactions={} ambiguous-last-transactions={} (counted as committed: {}) records-in-uncommitted-transactions={} duplicates-among-committed={} lost={} time={:.1?}",
        analysis.consumed,
        analysis.committed,
        analysis.ambiguous,
        analysis.ambiguous_used,
        analysis.uncommitted_records,
        analysis.duplicates,
        analysis.lost,
        started.elapsed()
    );
    assert!(
        analysis.stray.is_empty(),
        "records in transactions neither committed nor last of a killed run: {:?}",
        analysis.stray
    );
    let (lost, duplicates) = (analysis.lost, analysis.duplicates);
    assert_eq!(lost, 0);
    assert_eq!(duplicates, 0);
}

struct Analysis {
    consumed: usize,
    committed: usize,
    ambiguous: usize,
    ambiguous_used: usize,
    uncommitted_records: usize,
    duplicates: u32,
    lost: usize,
    stray: Vec<String>,
}

/// Matches every consumed record to its transaction. Committed transactions are those `sluice`
/// logged; the last transaction of each producer session that is not logged is ambiguous (it may
/// have committed just before a kill, before its log line); each of its records counts as
/// committed only when no committed transaction holds it.
fn analyze(got: &[Got], logs: &[String], objects: &[(String, usize)]) -> Analysis {
    let committed: HashSet<String> = logs.iter().flat_map(|l| committed_in(l)).collect();
    let mut by_txn: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for g in got {
        by_txn
            .entry(g.headers["sluice.transaction"].clone())
            .or_default()
            .push((g.object().to_owned(), g.index()));
    }
    let mut last_of_session: HashMap<String, (u64, String)> = HashMap::new();
    for t in by_txn.keys().chain(committed.iter()) {
        let (session, seq) = t.rsplit_once('/').unwrap();
        let seq: u64 = seq.parse().unwrap();
        let e = last_of_session
            .entry(session.to_owned())
            .or_insert((seq, t.clone()));
        if seq > e.0 {
            *e = (seq, t.clone());
        }
    }
    let ambiguous: HashSet<String> = last_of_session
        .values()
        .map(|(_, t)| t.clone())
        .filter(|t| !committed.contains(t))
        .collect();
    let stray: Vec<String> = by_txn
        .keys()
        .filter(|t| !committed.contains(*t) && !ambiguous.contains(*t))
        .cloned()
        .collect();
    let mut count: HashMap<(String, u64), u32> = HashMap::new();
    for (t, recs) in &by_txn {
        if committed.contains(t) {
            for r in recs {
                *count.entry(r.clone()).or_default() += 1;
            }
        }
    }
    // Record by record: on these brokers a kill can leave part of a transaction's offset records
    // visible (one offsets partition written, another not), so the restart re-delivers some of
    // its objects and not others. A real broker would hide all of them.
    let mut ambiguous_used = 0;
    for t in &ambiguous {
        let Some(recs) = by_txn.get(t) else { continue };
        let unseen: Vec<_> = recs
            .iter()
            .filter(|r| !count.contains_key(*r))
            .cloned()
            .collect();
        if !unseen.is_empty() {
            ambiguous_used += 1;
        }
        for r in unseen {
            *count.entry(r).or_default() += 1;
        }
    }
    let counted: usize = count.values().map(|n| *n as usize).sum();
    Analysis {
        consumed: got.len(),
        committed: committed.len(),
        ambiguous: ambiguous.len(),
        ambiguous_used,
        uncommitted_records: got.len() - counted,
        duplicates: count.values().map(|n| n - 1).sum(),
        lost: objects
            .iter()
            .flat_map(|(k, n)| (0..*n as u64).map(move |r| (k.clone(), r)))
            .filter(|r| !count.contains_key(r))
            .count(),
        stray,
    }
}
