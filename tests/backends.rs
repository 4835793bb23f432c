//! The backend conformance suite: the same scenarios against every backend — local (a folder),
//! S3 (moto server, an S3-compatible (MinIO-style) store), GCS (fake-gcs-server) and Azure
//! (Azurite) — through the real `sluice` binary and a Kafka-protocol broker (librdkafka's mock
//! cluster), checked by consuming what landed. The cloud stores sit behind a counting,
//! fault-injecting proxy (`support/proxy.rs`): "not downloaded again" is asserted on the requests
//! the store received, not on Sluice's own account.
//!
//! Where a store cannot do something, the scenario says so in a comment and still runs what it
//! can: fake-gcs-server checks no credentials (the GCS credential case is a malformed key) and
//! ignores `max-keys` (one page whatever the page size); a folder has no network to break (the
//! fault scenario runs without faults there).
// Measurements and diagnostics go to the test log.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::proxy::{Faults, Target};
use support::servers::{ObjectServer, StoreKind};
use support::*;

const TOPIC: &str = "objects";

/// A store, a broker, and the worker / connector files of one scenario.
struct Setup {
    server: ObjectServer,
    broker: Broker,
    dir: tempfile::TempDir,
    worker: PathBuf,
    connector: PathBuf,
    offsets: PathBuf,
}

impl Setup {
    fn new(kind: StoreKind, connector_extra: &[(&str, &str)]) -> Setup {
        let server = ObjectServer::start(kind);
        let broker = Broker::start(BrokerKind::Mock);
        broker.create_topic(TOPIC);
        let dir = tempfile::tempdir().unwrap();
        let WorkerFiles { worker, offsets } =
            worker_file(dir.path(), &broker, &[("offset.flush.interval.ms", "20")]);
        let connector = dir.path().join("connector.properties");
        let s = Setup {
            server,
            broker,
            dir,
            worker,
            connector,
            offsets,
        };
        s.write_connector(connector_extra);
        s
    }

    /// Rewrites the connector file: the store's settings, then `extra` (which wins).
    fn write_connector(&self, extra: &[(&str, &str)]) {
        self.write_connector_for(&self.server.connector_settings(), extra);
    }

    fn write_connector_for(&self, store: &[(String, String)], extra: &[(&str, &str)]) {
        let mut all: BTreeMap<String, String> = [
            ("name", "conformance"),
            ("topic", TOPIC),
            ("input.format", "jsonl"),
            // Fast retries: the fault scenario injects many.
            ("store.retry.backoff.initial.ms", "10"),
            ("store.retry.backoff.max.ms", "200"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        all.extend(store.iter().cloned());
        all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        write_props(&self.connector, &pairs);
    }

    fn backfill(&self) -> Output {
        sluice()
            .arg("backfill")
            .arg(&self.worker)
            .arg(&self.connector)
            .output()
            .unwrap()
    }

    fn run(&self) -> ChildGuard {
        ChildGuard::spawn(
            sluice()
                .arg("run")
                .arg(&self.worker)
                .arg(&self.connector)
                .stdout(Stdio::null())
                .stderr(Stdio::from(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(self.dir.path().join("run.log"))
                        .unwrap(),
                )),
        )
    }

    fn consume(&self, expected: usize) -> Vec<Got> {
        consume_all(
            &self.broker.bootstrap(),
            &[TOPIC],
            expected,
            Duration::from_secs(20),
        )
    }

    /// The committed offsets: object -> entry.
    fn offsets(&self) -> BTreeMap<String, Stored> {
        let Ok(text) = std::fs::read_to_string(&self.offsets) else {
            return BTreeMap::new();
        };
        let field = self.server.object_field();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                let object = v["key"][1][field].as_str()?.to_owned();
                let value = &v["value"];
                Some((
                    object,
                    Stored {
                        count: value["recordCount"].as_i64().unwrap_or(0),
                        finished: value["finished"].as_bool().unwrap_or(false),
                        deleted: value["deleted"].as_bool().unwrap_or(false),
                    },
                ))
            })
            .collect()
    }

    /// Waits until `done(offsets)` holds.
    fn wait_offsets(
        &self,
        what: &str,
        secs: u64,
        done: impl Fn(&BTreeMap<String, Stored>) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let o = self.offsets();
            if done(&o) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{:?}: {what} not reached within {secs} s; offsets: {o:?}\nlog: {}",
                self.server.kind,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("run.log")).unwrap_or_default();
        log.lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn prefix_key(&self) -> &'static str {
        match self.server.kind {
            StoreKind::Local => "local.prefix",
            StoreKind::S3 => "aws.s3.prefix",
            StoreKind::Gcs => "gcs.prefix",
            StoreKind::Azure => "azure.blob.prefix",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    count: i64,
    finished: bool,
    deleted: bool,
}

/// A jsonl object of `records` lines, each naming its object, index and `tag`, padded to about
/// `pad` bytes.
fn jsonl(key: &str, records: usize, tag: &str, pad: usize) -> Vec<u8> {
    let mut out = String::new();
    for r in 0..records {
        out.push_str(&format!(
            "{{\"object\":\"{key}\",\"r\":{r},\"tag\":\"{tag}\",\"pad\":\"{}\"}}\n",
            "p".repeat(pad)
        ));
    }
    out.into_bytes()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every expected (object, record) exactly once, nothing else; values carry `tag`.
fn check_exactly_once(kind: StoreKind, got: &[Got], expected: &BTreeMap<String, (usize, &str)>) {
    let mut seen: HashMap<(String, u64), usize> = HashMap::new();
    for g in got {
        let object = g.object().to_owned();
        let Some((records, tag)) = expected.get(&object) else {
            panic!("{kind:?}: unexpected record from {object}: {:?}", g.value);
        };
        let index = g.index();
        assert!(index < *records as u64, "{kind:?}: {object} record {index}");
        let v = g.value.as_deref().unwrap_or_default();
        assert!(
            v.contains(&format!("\"tag\":\"{tag}\"")) && v.contains(&format!("\"r\":{index},")),
            "{kind:?}: value of {object} record {index}: {v}"
        );
        *seen.entry((object, index)).or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dupes.is_empty(), "{kind:?}: duplicates {dupes:?}");
    for (k, (records, _)) in expected {
        for r in 0..*records as u64 {
            assert!(
                seen.contains_key(&(k.clone(), r)),
                "{kind:?}: missing {k} record {r}"
            );
        }
    }
}

/// GETs per object path in the proxy log.
fn gets_by_path(s: &Setup) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in s.server.requests() {
        if r.method == "GET" {
            *m.entry(r.path).or_default() += 1;
        }
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/// 1,500 small objects over many listing pages: every record once, every object downloaded once.
fn many_objects_across_pages(kind: StoreKind) {
    const N: usize = 1500;
    // Page size 100: S3 and Azure honour it (15+ pages). fake-gcs-server ignores max-keys, so
    // GCS lists in one page there; its paging is object_store's continuation-token loop.
    let page: &[(&str, &str)] = match kind {
        StoreKind::S3 => &[("aws.s3.fetch.page.size", "100")],
        StoreKind::Azure => &[("azure.blob.fetch.page.size", "100")],
        _ => &[],
    };
    let s = Setup::new(kind, page);
    let objects: Vec<(String, Vec<u8>)> = (0..N)
        .map(|i| {
            let k = format!("many/obj-{i:05}.jsonl");
            let body = jsonl(&k, 2, "v1", 10);
            (k, body)
        })
        .collect();
    let expected: BTreeMap<String, (usize, &str)> = objects
        .iter()
        .map(|(k, _)| (k.clone(), (2, "v1")))
        .collect();
    let t = Instant::now();
    s.server.put_many(objects);
    let upload = t.elapsed();
    s.server.clear_log();
    let t = Instant::now();
    let out = s.backfill();
    let took = t.elapsed();
    assert!(out.status.success(), "{kind:?}: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{N} objects finished")),
        "{}",
        text(&out)
    );
    let got = s.consume(N * 2);
    check_exactly_once(kind, &got, &expected);
    if kind != StoreKind::Local {
        let lists = s.server.lists();
        let min_pages = if kind == StoreKind::Gcs { 1 } else { N / 100 };
        assert!(
            lists.len() >= min_pages,
            "{kind:?}: {} listing requests, expected at least {min_pages}",
            lists.len()
        );
        let gets = gets_by_path(&s);
        for k in expected.keys() {
            assert_eq!(
                gets.get(&s.server.object_path(k)).copied().unwrap_or(0),
                1,
                "{kind:?}: {k} must be downloaded exactly once"
            );
        }
        println!(
            "{kind:?}: {N} objects uploaded in {upload:.2?}; backfill in {took:.2?} with {} listing requests and {} GETs",
            lists.len(),
            gets.values().sum::<usize>() - lists.len()
        );
    } else {
        println!("{kind:?}: {N} objects written in {upload:.2?}; backfill in {took:.2?}");
    }
}

/// Only keys under the prefix are read; zero-byte objects are skipped without a download.
fn prefix_and_zero_byte_objects(kind: StoreKind) {
    let probe = Setup::new(kind, &[]);
    let s = probe;
    s.write_connector(&[(s.prefix_key(), "in/")]);
    let mut objects = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 0..10 {
        let k = format!("in/a-{i:03}.jsonl");
        objects.push((k.clone(), jsonl(&k, 3, "in", 5)));
        expected.insert(k, (3, "in"));
    }
    for k in ["inbox/x.jsonl", "other/y.jsonl", "i.jsonl", "in.jsonl"] {
        objects.push((k.to_owned(), jsonl(k, 3, "decoy", 5)));
    }
    objects.push(("in/empty.jsonl".into(), Vec::new()));
    objects.push(("in/zero/marker".into(), Vec::new()));
    s.server.put_many(objects);
    s.server.clear_log();
    let out = s.backfill();
    assert!(out.status.success(), "{kind:?}: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("10 objects finished, 0 failed"),
        "{}",
        text(&out)
    );
    let got = s.consume(30);
    check_exactly_once(kind, &got, &expected);
    if kind != StoreKind::Local {
        for k in [
            "in/empty.jsonl",
            "in/zero/marker",
            "inbox/x.jsonl",
            "in.jsonl",
        ] {
            assert_eq!(
                s.server.gets_of(k),
                0,
                "{kind:?}: {k} must not be downloaded"
            );
        }
        for r in s.server.lists() {
            assert_eq!(r.param("prefix").as_deref(), Some("in/"), "{kind:?}: {r:?}");
        }
    }
}

/// An object uploaded late, with a key sorting before objects already processed, is picked up by
/// a later (full) listing; a new key after them by the next incremental one.
fn late_arrival(kind: StoreKind) {
    let s = Setup::new(kind, &[("listing.full.interval.ms", "1500")]);
    let mut expected = BTreeMap::new();
    let mut objects = Vec::new();
    for i in 0..5 {
        let k = format!("b-{i:03}.jsonl");
        objects.push((k.clone(), jsonl(&k, 3, "early", 5)));
        expected.insert(k, (3, "early"));
    }
    s.server.put_many(objects);
    let mut child = s.run();
    s.wait_offsets("the first objects finished", 60, |o| {
        o.values().filter(|e| e.finished).count() == 5
    });
    s.server
        .put("a-late.jsonl", &jsonl("a-late.jsonl", 3, "late", 5));
    s.server
        .put("c-new.jsonl", &jsonl("c-new.jsonl", 3, "late", 5));
    expected.insert("a-late.jsonl".into(), (3, "late"));
    expected.insert("c-new.jsonl".into(), (3, "late"));
    s.wait_offsets("the late objects finished", 60, |o| {
        ["a-late.jsonl", "c-new.jsonl"]
            .iter()
            .all(|k| o.get(*k).is_some_and(|e| e.finished))
    });
    let exit = child.terminate();
    assert!(exit.success(), "{kind:?}: clean stop, got {exit:?}");
    let got = s.consume(21);
    check_exactly_once(kind, &got, &expected);
    if kind != StoreKind::Local {
        let lists = s.server.lists();
        let incremental = lists
            .iter()
            .filter(|r| {
                // After the greatest key seen: b-004, or c-new once the late objects were listed.
                matches!(
                    s.server.start_after(r).as_deref(),
                    Some("b-004.jsonl" | "c-new.jsonl")
                )
            })
            .count();
        let full = lists
            .iter()
            .filter(|r| s.server.start_after(r).is_none())
            .count();
        assert!(
            incremental >= 1 && full >= 2,
            "{kind:?}: expected incremental listings (after the greatest key seen) and at least two full ones: {lists:?}"
        );
    }
}

/// `tasks.max=4`: the union of what the tasks produced is every record once, each object
/// downloaded by one task only.
fn four_tasks(kind: StoreKind) {
    let s = Setup::new(kind, &[("tasks.max", "4")]);
    let mut objects = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 0..200 {
        let k = format!("t/{i:04}.jsonl");
        objects.push((k.clone(), jsonl(&k, 5, "t", 5)));
        expected.insert(k, (5, "t"));
    }
    s.server.put_many(objects);
    s.server.clear_log();
    let out = s.backfill();
    assert!(out.status.success(), "{kind:?}: {}", text(&out));
    let got = s.consume(1000);
    check_exactly_once(kind, &got, &expected);
    if kind != StoreKind::Local {
        let gets = gets_by_path(&s);
        for k in expected.keys() {
            assert_eq!(
                gets.get(&s.server.object_path(k)).copied().unwrap_or(0),
                1,
                "{kind:?}: {k} downloaded by exactly one task, once"
            );
        }
        // One listing per task, and the backfill's census of what there is to read (the
        // progress total).
        assert_eq!(
            s.server.lists().len(),
            5,
            "{kind:?}: one listing per task and one census"
        );
    }
}

/// kill -9 in the middle of a run, restart: nothing lost; objects finished before the kill are
/// not downloaded again (asserted on the proxy's request log; for local, finished objects are
/// overwritten with poison that would show in Kafka if read), and the restarted listing starts
/// at the restart position.
fn kill_9_and_restart(kind: StoreKind) {
    const OBJECTS: usize = 60;
    const RECORDS: usize = 400;
    // Finished objects are overwritten with poison below to prove they are not read again;
    // `append` (the folder default) would rightly read a file that grew.
    let s = Setup::new(
        kind,
        &[
            ("max.poll.records", "50"),
            ("object.read.concurrency", "2"),
            ("object.overwrite.policy", "ignore"),
        ],
    );
    let mut objects = Vec::new();
    for i in 0..OBJECTS {
        let k = format!("k/{i:03}.jsonl");
        objects.push((k.clone(), jsonl(&k, RECORDS, "k", 40)));
    }
    s.server.put_many(objects);
    s.server.clear_log();
    let mut child = s.run();
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let o = s.offsets();
        if o.values().filter(|e| e.finished).count() >= 10 {
            child.kill9();
            break s.offsets();
        }
        assert!(
            Instant::now() < deadline,
            "{kind:?}: no progress: {}",
            s.log_tail()
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let finished: BTreeSet<String> = at_kill
        .iter()
        .filter(|(_, e)| e.finished)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        finished.len() < OBJECTS,
        "{kind:?}: the run ended before the kill; nothing to resume"
    );
    let first_unfinished = at_kill
        .iter()
        .filter(|(_, e)| !e.finished)
        .map(|(k, _)| k.clone())
        .min();
    let restart_at = finished
        .iter()
        .filter(|k| first_unfinished.as_ref().is_none_or(|u| *k < u))
        .max()
        .cloned();
    let committed: BTreeMap<String, i64> =
        at_kill.iter().map(|(k, e)| (k.clone(), e.count)).collect();
    let before = s.consume_quick();
    let before_positions: BTreeSet<(i32, i64)> =
        before.iter().map(|g| (g.partition, g.offset)).collect();
    if kind == StoreKind::Local {
        for k in &finished {
            std::fs::write(
                s.server.local_dir().join(k),
                "{\"poison\":true}\n".repeat(RECORDS),
            )
            .unwrap();
        }
    }
    s.server.clear_log();
    let mut child = s.run();
    s.wait_offsets("every object finished after the restart", 120, |o| {
        o.values().filter(|e| e.finished).count() == OBJECTS
    });
    let exit = child.terminate();
    assert!(exit.success(), "{kind:?}: clean stop, got {exit:?}");
    if kind != StoreKind::Local {
        for k in &finished {
            assert_eq!(
                s.server.gets_of(k),
                0,
                "{kind:?}: {k} was finished before the kill but downloaded again"
            );
        }
        let lists = s.server.lists();
        let first = lists.first().expect("the restarted run listed");
        assert_eq!(
            s.server.start_after(first),
            restart_at,
            "{kind:?}: the restarted run must list from its restart position"
        );
    }
    let all = s.consume(OBJECTS * RECORDS);
    assert!(
        all.iter()
            .all(|g| !g.value.as_deref().unwrap_or("").contains("poison")),
        "{kind:?}: a finished object was read again"
    );
    let mut seen: HashMap<(String, u64), usize> = HashMap::new();
    for g in &all {
        *seen.entry((g.object().to_owned(), g.index())).or_default() += 1;
    }
    for g in all
        .iter()
        .filter(|g| !before_positions.contains(&(g.partition, g.offset)))
    {
        assert!(
            !finished.contains(g.object()),
            "{kind:?}: finished object {} delivered again",
            g.object()
        );
        let c = committed.get(g.object()).copied().unwrap_or(0);
        assert!(
            g.index() >= c as u64,
            "{kind:?}: {} record {} was committed (recordCount {c}) but delivered again",
            g.object(),
            g.index()
        );
    }
    for i in 0..OBJECTS {
        let k = format!("k/{i:03}.jsonl");
        for r in 0..RECORDS as u64 {
            assert!(
                seen.contains_key(&(k.clone(), r)),
                "{kind:?}: lost {k} record {r}"
            );
        }
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    println!(
        "{kind:?}: killed with {} of {OBJECTS} objects finished (restart position {restart_at:?}); {} duplicates (records in flight at the kill), 0 lost",
        finished.len(),
        duplicates
    );
}

/// Faults between Sluice and the store — 503s, connections closed without an answer, bodies cut
/// in the middle — are retried; interrupted GETs resume from the byte reached; every record
/// lands exactly once (the faults are below the record level).
fn faults_are_retried(kind: StoreKind) {
    let s = Setup::new(kind, &[]);
    let mut objects = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 0..30 {
        let k = format!("f/{i:03}.jsonl");
        // ~64 KiB each, so a cut body is cut in the middle.
        objects.push((k.clone(), jsonl(&k, 800, "f", 40)));
        expected.insert(k, (800, "f"));
    }
    s.server.put_many(objects);
    s.server.clear_log();
    if let Some(p) = &s.server.proxy {
        p.set_faults(Faults {
            status_503_every: 4,
            reset_every: 7,
            cut_body_every: 3,
            target: Target::All,
        });
    } else {
        println!("{kind:?}: a folder has no network between Sluice and the store; this scenario runs without injected faults");
    }
    let out = s.backfill();
    assert!(out.status.success(), "{kind:?}: {}", text(&out));
    let got = s.consume(30 * 800);
    check_exactly_once(kind, &got, &expected);
    if let Some(p) = &s.server.proxy {
        let resumed: Vec<String> = s
            .server
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .filter_map(|r| r.range)
            .filter(|r| !r.starts_with("bytes=0-"))
            .collect();
        println!(
            "{kind:?}: {} faults injected over {} requests; {} GETs resumed mid-object ({:?}...)",
            p.injected(),
            s.server.requests().len(),
            resumed.len(),
            resumed.first()
        );
        assert!(p.injected() >= 10, "{kind:?}: only {} faults", p.injected());
        assert!(
            !resumed.is_empty(),
            "{kind:?}: a cut body must be resumed with a range from the byte reached"
        );
    }
}

/// A missing bucket and wrong credentials fail with an error naming the bucket and the cause,
/// exit non-zero, and never show a secret.
fn bad_bucket_and_credentials(kind: StoreKind) {
    let s = Setup::new(kind, &[]);
    s.server.put("x.jsonl", &jsonl("x.jsonl", 1, "x", 1));
    // Missing bucket.
    // fake-gcs-server answers a missing bucket with a 500, which is transient: listings are
    // retried for store.retry.timeout.ms before the task fails.
    s.write_connector_for(
        &s.server.connector_settings_for("no-such-bucket"),
        &[("store.retry.timeout.ms", "3000")],
    );
    let out = s.backfill();
    let msg = text(&out);
    assert!(!out.status.success(), "{kind:?}: must fail: {msg}");
    assert!(
        msg.contains("no-such-bucket"),
        "{kind:?}: names the bucket: {msg}"
    );
    println!("{kind:?}, missing bucket: {}", failure_line(&msg));
    let lower = msg.to_ascii_lowercase();
    assert!(
        // fake-gcs-server answers a missing bucket with a 500 "no bucket named ...".
        [
            "not found",
            "nosuchbucket",
            "404",
            "does not exist",
            "containernotfound",
            "cannot open the folder",
            "no bucket named"
        ]
        .iter()
        .any(|w| lower.contains(w)),
        "{kind:?}: says why: {msg}"
    );

    // Wrong credentials.
    let (secrets, settings): (Vec<&str>, Vec<(String, String)>) = match kind {
        StoreKind::S3 => {
            s.server.enforce_s3_auth();
            let mut v = s.server.connector_settings();
            for (k, val) in v.iter_mut() {
                if k == "aws.access.key.id" {
                    *val = "AKIAWRONGKEYID0001".into();
                }
                if k == "aws.secret.access.key" {
                    *val = "wrong-secret-value-xyz".into();
                }
            }
            (vec!["AKIAWRONGKEYID0001", "wrong-secret-value-xyz"], v)
        }
        StoreKind::Azure => {
            let wrong = "V3JvbmdLZXlWYWx1ZVdyb25nS2V5VmFsdWVXcm9uZ0tleQ==";
            let v = s
                .server
                .connector_settings()
                .into_iter()
                .map(|(k, val)| {
                    let val = if k == "azure.storage.connection.string" {
                        val.replace(support::servers::AZURITE_KEY, wrong)
                    } else {
                        val
                    };
                    (k, val)
                })
                .collect();
            (vec![wrong], v)
        }
        StoreKind::Gcs => {
            // fake-gcs-server accepts any (or no) credentials, so a wrong key cannot be refused
            // by the server; a malformed key must be refused by Sluice without being shown.
            let bad = r#"{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----TOPSECRETKEYMATERIAL-----END PRIVATE KEY-----","client_email":"x@y","private_key_id":"k"}"#;
            let v = s
                .server
                .connector_settings()
                .into_iter()
                .map(|(k, val)| {
                    let val = if k == "gcs.credentials.json" {
                        bad.to_owned()
                    } else {
                        val
                    };
                    (k, val)
                })
                .collect();
            (vec!["TOPSECRETKEYMATERIAL"], v)
        }
        StoreKind::Local => {
            println!("{kind:?}: a folder has no credentials; the missing-folder case above is its bad-configuration case");
            return;
        }
    };
    s.write_connector_for(&settings, &[]);
    let out = s.backfill();
    let msg = text(&out);
    assert!(
        !out.status.success(),
        "{kind:?}: wrong credentials must fail ({:?}): {msg}",
        out.status
    );
    assert!(
        msg.contains(&s.server.bucket),
        "{kind:?}: names the bucket ({:?}): {msg}",
        out.status
    );
    let lower = msg.to_ascii_lowercase();
    assert!(
        [
            "403",
            "denied",
            "invalidaccesskeyid",
            "authenticationfailed",
            "forbidden",
            "credential",
            "private key"
        ]
        .iter()
        .any(|w| lower.contains(w)),
        "{kind:?}: says why: {msg}"
    );
    for secret in secrets {
        // Also as the byte list a key parser may print.
        let bytes = format!("{:?}", &secret.as_bytes()[..8]);
        let bytes = &bytes[1..bytes.len() - 1];
        assert!(
            !msg.contains(secret) && !msg.contains(bytes),
            "{kind:?}: the output shows a secret: {msg}"
        );
    }
    println!("{kind:?}, wrong credentials: {}", failure_line(&msg));
}

/// The line of `sluice`'s output that reports the failure.
fn failure_line(msg: &str) -> &str {
    msg.lines()
        .find(|l| l.contains("FAILED") || l.starts_with("error"))
        .unwrap_or_default()
}

/// An object deleted between listing and reading is reported and skipped (not retried forever),
/// and the run goes on.
fn deleted_between_list_and_read(kind: StoreKind) {
    let victim = "d-005.jsonl";
    let extra: &[(&str, &str)] = if kind == StoreKind::Local {
        // No key: the big first object spreads over the mock broker's partitions (it keeps
        // only ~5 MiB per partition).
        &[
            ("object.read.concurrency", "1"),
            ("max.poll.records", "50"),
            ("record.key", "none"),
            // At most 50 records queued in the producer, each batch lingering 5 ms: reading
            // the big object takes seconds, not the instant a local read takes otherwise.
            ("producer.override.queue.buffering.max.messages", "50"),
        ]
    } else {
        &[]
    };
    let s = Setup::new(kind, extra);
    let mut objects = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 0..10 {
        let k = format!("d-{i:03}.jsonl");
        // Local: a big first object keeps the task busy after its (one-shot) listing, so the
        // victim can be deleted in between.
        let n = if kind == StoreKind::Local && i == 0 {
            40_000
        } else {
            5
        };
        objects.push((k.clone(), jsonl(&k, n, "d", 5)));
        if k != victim {
            expected.insert(k, (n, "d"));
        }
    }
    s.server.put_many(objects);
    s.server.clear_log();
    let out = if let Some(proxy) = &s.server.proxy {
        // The proxy deletes the object when Sluice first asks for it, then forwards the GET.
        let path = s.server.object_path(victim);
        let delete = s.server.deleter();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        proxy.set_hook(Some(Box::new(move |r| {
            if r.method == "GET" && r.path == path && !d.swap(true, Ordering::SeqCst) {
                delete(victim);
            }
        })));
        let out = s.backfill();
        proxy.set_hook(None);
        assert!(
            done.load(Ordering::SeqCst),
            "{kind:?}: the victim was never asked for"
        );
        out
    } else {
        let child = sluice()
            .arg("backfill")
            .arg(&s.worker)
            .arg(&s.connector)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        s.wait_offsets("the first object started", 60, |o| {
            o.get("d-000.jsonl")
                .is_some_and(|e| e.count > 0 && !e.finished)
        });
        s.server.delete(victim);
        child.wait_with_output().unwrap()
    };
    let msg = text(&out);
    assert!(out.status.success(), "{kind:?}: {msg}");
    assert!(
        msg.contains("deleted") && msg.contains(victim),
        "{kind:?}: the deletion is reported: {msg}"
    );
    let total: usize = expected.values().map(|(n, _)| n).sum();
    let got = s.consume(total);
    check_exactly_once(kind, &got, &expected);
    let o = s.offsets();
    assert!(
        o.get(victim).is_some_and(|e| e.finished && e.deleted),
        "{kind:?}: the victim's offset is closed: {o:?}"
    );
    if kind != StoreKind::Local {
        assert_eq!(s.server.gets_of(victim), 1, "{kind:?}: not retried");
    }
}

/// `object.overwrite.policy`: `ignore` leaves an overwritten finished object alone; `reread`
/// (after a restart) reads its new content from the first record.
fn overwrite_policy(kind: StoreKind) {
    let s = Setup::new(
        kind,
        &[
            ("listing.full.interval.ms", "300"),
            ("object.overwrite.policy", "ignore"),
        ],
    );
    let mut expected = BTreeMap::new();
    let mut objects = Vec::new();
    for i in 0..3 {
        let k = format!("w-{i:03}.jsonl");
        objects.push((k.clone(), jsonl(&k, 3, "v1", 5)));
        expected.insert(k, (3, "v1"));
    }
    s.server.put_many(objects);
    let mut child = s.run();
    s.wait_offsets("the objects finished", 60, |o| {
        o.values().filter(|e| e.finished).count() == 3
    });
    s.server
        .put("w-001.jsonl", &jsonl("w-001.jsonl", 4, "v2", 5));
    // A marker sorting before everything is found only by a full listing, which also passes over
    // the overwritten object.
    s.server
        .put("a-marker.jsonl", &jsonl("a-marker.jsonl", 1, "m", 5));
    expected.insert("a-marker.jsonl".into(), (1, "m"));
    s.wait_offsets("a full listing after the overwrite", 60, |o| {
        o.get("a-marker.jsonl").is_some_and(|e| e.finished)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.terminate().success());
    let got = s.consume(10);
    check_exactly_once(kind, &got, &expected);
    if kind != StoreKind::Local {
        assert_eq!(s.server.gets_of("w-001.jsonl"), 1, "{kind:?}: ignored");
    }

    s.write_connector(&[
        ("listing.full.interval.ms", "300"),
        ("object.overwrite.policy", "reread"),
    ]);
    let mut child = s.run();
    s.wait_offsets("the new version read", 60, |o| {
        o.get("w-001.jsonl")
            .is_some_and(|e| e.finished && e.count == 4)
    });
    assert!(child.terminate().success());
    let all = s.consume(14);
    let v2: BTreeSet<u64> = all
        .iter()
        .filter(|g| g.value.as_deref().unwrap_or("").contains("\"tag\":\"v2\""))
        .map(|g| g.index())
        .collect();
    assert_eq!(
        v2,
        (0..4).collect(),
        "{kind:?}: the new version, from its first record"
    );
    assert_eq!(
        all.len(),
        14,
        "{kind:?}: 10 records of the first run + 4 of the new version"
    );
    if kind != StoreKind::Local {
        assert_eq!(
            s.server.gets_of("w-001.jsonl"),
            2,
            "{kind:?}: read again once"
        );
    }
}

impl Setup {
    /// What the topic holds now (short wait).
    fn consume_quick(&self) -> Vec<Got> {
        consume_all(
            &self.broker.bootstrap(),
            &[TOPIC],
            usize::MAX,
            Duration::from_secs(3),
        )
    }
}

macro_rules! conformance {
    ($($backend:ident => $kind:expr),* $(,)?) => {$(
        mod $backend {
            use super::*;
            #[test]
            fn many_objects_across_pages() { super::many_objects_across_pages($kind) }
            #[test]
            fn prefix_and_zero_byte_objects() { super::prefix_and_zero_byte_objects($kind) }
            #[test]
            fn late_arrival() { super::late_arrival($kind) }
            #[test]
            fn four_tasks() { super::four_tasks($kind) }
            #[test]
            fn kill_9_and_restart() { super::kill_9_and_restart($kind) }
            #[test]
            fn faults_are_retried() { super::faults_are_retried($kind) }
            #[test]
            fn bad_bucket_and_credentials() { super::bad_bucket_and_credentials($kind) }
            #[test]
            fn deleted_between_list_and_read() { super::deleted_between_list_and_read($kind) }
            #[test]
            fn overwrite_policy() { super::overwrite_policy($kind) }
        }
    )*};
}

conformance!(
    local => StoreKind::Local,
    s3 => StoreKind::S3,
    gcs => StoreKind::Gcs,
    azure => StoreKind::Azure,
);

/// `validate` lists backend problems without ever printing a secret.
#[test]
fn validate_never_prints_secrets() {
    let dir = tempfile::tempdir().unwrap();
    // (settings, problems that must be listed, secrets that must not appear)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("connector.class", "s3"),
                ("aws.access.key.id", "AKIAVALIDATESECRET"),
                ("aws.secret.access.key", "validate-secret-value"),
                ("aws.s3.fetch.page.size", "0"),
                (
                    "object_store.aws_secret_acess_key",
                    "passthrough-secret-value",
                ),
                ("gcs.bucket.name", "wrong-family"),
            ],
            vec![
                "aws.s3.bucket.name: required",
                "aws.s3.fetch.page.size",
                "aws_secret_acess_key",
                "gcs.bucket.name: only used by connector.class=gcs",
            ],
            vec![
                "AKIAVALIDATESECRET",
                "validate-secret-value",
                "passthrough-secret-value",
            ],
        ),
        (
            vec![
                ("connector.class", "gcs"),
                ("gcs.bucket.name", "b"),
                ("gcs.credentials.json", "{not json SECRETJSONPART"),
            ],
            vec!["gcs.credentials.json: not a JSON object"],
            vec!["SECRETJSONPART"],
        ),
        (
            vec![
                ("connector.class", "azure"),
                ("azure.storage.container.name", "c"),
                (
                    "azure.storage.connection.string",
                    "AccountName=a;AccountKey=SECRETACCOUNTKEY;garbage",
                ),
                ("azure.account.key", "SECRETDIRECTKEY"),
            ],
            vec![
                "azure.storage.connection.string: part 3 is not Key=Value",
                "azure.account.key: the connection string already says",
            ],
            vec!["SECRETACCOUNTKEY", "SECRETDIRECTKEY"],
        ),
    ];
    for (i, (settings, wanted, secrets)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("c{i}.properties"));
        let mut all = vec![("name", "v"), ("topic", "t")];
        all.extend(settings);
        write_props(&path, &all);
        let out = sluice().arg("validate").arg(&path).output().unwrap();
        let msg = text(&out);
        assert!(!out.status.success(), "{msg}");
        for w in wanted {
            assert!(msg.contains(w), "{w:?} missing from:\n{msg}");
        }
        for s in secrets {
            assert!(!msg.contains(s), "secret {s:?} printed:\n{msg}");
        }
    }
}

/// Heavy (`SLUICE_HEAVY=1`): 4 objects of 64 MiB from S3 through the proxy, every second GET
/// cut in the middle and every fifth request answered 503: every record delivered, and the
/// `sluice` process's peak memory stays far below the data size (objects are streamed).
#[test]
fn heavy_s3_big_objects_with_faults_in_bounded_memory() {
    if std::env::var_os("SLUICE_HEAVY").is_none() {
        println!("heavy variant: not run (set SLUICE_HEAVY=1 to run it)");
        return;
    }
    const OBJECTS: usize = 4;
    const RECORDS: usize = 60_000; // ~1.1 KiB each: ~64 MiB per object
    let s = Setup::new(
        StoreKind::S3,
        // No key: records spread over the mock broker's partitions.
        &[("record.key", "none"), ("max.poll.records", "2000")],
    );
    let objects: Vec<(String, Vec<u8>)> = (0..OBJECTS)
        .map(|i| {
            let k = format!("big/{i}.jsonl");
            let body = jsonl(&k, RECORDS, "big", 1050);
            (k, body)
        })
        .collect();
    let bytes: usize = objects.iter().map(|(_, v)| v.len()).sum();
    s.server.put_many(objects);
    s.server.clear_log();
    let proxy = s.server.proxy.as_ref().unwrap();
    proxy.set_faults(Faults {
        status_503_every: 5,
        reset_every: 0,
        cut_body_every: 2,
        target: Target::ObjectGets,
    });
    let t = Instant::now();
    let mut child = sluice()
        .arg("backfill")
        .arg(&s.worker)
        .arg(&s.connector)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(v) = st
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(v);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = t.elapsed();
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("{} records delivered", OBJECTS * RECORDS)),
        "{stdout}"
    );
    let o = s.offsets();
    for i in 0..OBJECTS {
        let e = o[&format!("big/{i}.jsonl")];
        assert!(e.finished && e.count == RECORDS as i64, "{e:?}");
    }
    let resumed = s
        .server
        .requests()
        .iter()
        .filter(|r| {
            r.range
                .as_deref()
                .is_some_and(|r| !r.starts_with("bytes=0-"))
        })
        .count();
    println!(
        "S3 heavy: {:.0} MiB in {OBJECTS} objects in {took:.2?} ({:.0} MiB/s) with {} faults injected and {resumed} ranged resumes; sluice peak RSS {:.0} MiB",
        bytes as f64 / 1048576.0,
        bytes as f64 / 1048576.0 / took.as_secs_f64(),
        proxy.injected(),
        peak_kib as f64 / 1024.0
    );
    assert!(resumed > 0);
    assert!(
        (peak_kib as usize) * 1024 < bytes / 2,
        "peak RSS {peak_kib} KiB is not bounded (data: {bytes} bytes)"
    );
}
