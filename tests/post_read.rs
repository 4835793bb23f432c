//! Post-read actions (`object.post.read=delete|move`) end to end: the real `sluice` binary, the
//! tansu broker, a folder, moto's S3 server and Azurite (fake-gcs-server cannot take
//! object_store's writes, so GCS is not run here). Each test consumes what landed and lists what
//! the bucket holds afterwards; the crash test aborts the process between an object's commit and
//! its action (the `SLUICE_TEST_CRASH_BEFORE_POST_READ` test hook) and checks that the restart
//! finishes the action without delivering the object again.
// Diagnostics go to the test log.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use support::servers::{ObjectServer, StoreKind};
use support::*;

const TOPIC: &str = "post-read";

struct Setup {
    server: ObjectServer,
    broker: Broker,
    _dir: tempfile::TempDir,
    worker: PathBuf,
    connector: PathBuf,
    offsets: PathBuf,
}

impl Setup {
    /// A store of `kind` with `objects` jsonl objects of `records` lines under `in/`, a broker,
    /// and a connector reading `in/` with `extra` settings.
    fn new(kind: StoreKind, objects: usize, records: usize, extra: &[(&str, &str)]) -> Setup {
        let server = ObjectServer::start(kind);
        let broker = Broker::start(BrokerKind::Tansu);
        broker.create_topic(TOPIC);
        let dir = tempfile::tempdir().unwrap();
        let WorkerFiles { worker, offsets } =
            worker_file(dir.path(), &broker, &[("offset.flush.interval.ms", "50")]);
        server.put_many(
            (0..objects)
                .map(|o| {
                    let body: String = (0..records).map(|r| jsonl_line(o, r) + "\n").collect();
                    (format!("in/obj-{o:03}.jsonl"), body.into_bytes())
                })
                .collect(),
        );
        let connector = dir.path().join("connector.properties");
        let s = Setup {
            server,
            broker,
            _dir: dir,
            worker,
            connector,
            offsets,
        };
        s.write_connector(extra);
        s
    }

    fn prefix_key(&self) -> &'static str {
        match self.server.kind {
            StoreKind::Local => "local.prefix",
            StoreKind::S3 => "aws.s3.prefix",
            StoreKind::Gcs => "gcs.prefix",
            StoreKind::Azure => "azure.blob.prefix",
        }
    }

    fn write_connector(&self, extra: &[(&str, &str)]) {
        let mut all: BTreeMap<String, String> = [
            ("name", "post-read"),
            ("topic", TOPIC),
            ("input.format", "jsonl"),
            ("store.retry.backoff.initial.ms", "10"),
            ("store.retry.backoff.max.ms", "200"),
            (self.prefix_key(), "in/"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        all.extend(self.server.connector_settings());
        all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        write_props(&self.connector, &pairs);
    }

    fn backfill(&self, env: &[(&str, &str)]) -> Output {
        let mut c = sluice();
        c.arg("backfill").arg(&self.worker).arg(&self.connector);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    fn consume(&self, expected: usize) -> Vec<Got> {
        consume_all(
            &self.broker.bootstrap(),
            &[TOPIC],
            expected,
            Duration::from_secs(20),
        )
    }

    /// The stored offsets: object -> its offset JSON.
    fn offsets(&self) -> BTreeMap<String, serde_json::Value> {
        let field = self.server.object_field();
        std::fs::read_to_string(&self.offsets)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                Some((v["key"][1][field].as_str()?.to_owned(), v["value"].clone()))
            })
            .collect()
    }
}

fn ok(out: &Output) {
    assert!(out.status.success(), "sluice failed:\n{}", output_text(out));
}

/// Every (object, index) exactly once.
fn exactly_once(got: &[Got], objects: usize, records: usize) {
    let mut seen: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for g in got {
        *seen.entry((g.object().to_owned(), g.index())).or_default() += 1;
    }
    assert_eq!(got.len(), objects * records, "records consumed");
    assert_eq!(seen.len(), objects * records, "distinct records");
    assert!(seen.values().all(|n| *n == 1));
}

/// `objects` objects of `records` lines each: enough objects that actions done one offset write
/// at a time would not finish within the stop's grace period.
fn delete_after_commit(kind: StoreKind, objects: usize, records: usize) {
    let s = Setup::new(kind, objects, records, &[("object.post.read", "delete")]);
    let out = s.backfill(&[]);
    ok(&out);
    exactly_once(&s.consume(objects * records), objects, records);
    assert_eq!(
        s.server.keys(),
        Vec::<String>::new(),
        "{kind:?}: every object deleted"
    );
    let offsets = s.offsets();
    assert_eq!(offsets.len(), objects);
    for (object, o) in &offsets {
        assert_eq!(o["finished"], true, "{object}: {o}");
        assert_eq!(o["postRead"], "done", "{object}: {o}");
    }
    // A second pass finds nothing and delivers nothing again.
    ok(&s.backfill(&[]));
    assert_eq!(s.consume(objects * records).len(), objects * records);
}

fn move_after_commit(kind: StoreKind) {
    let (objects, records) = (3, 40);
    let s = Setup::new(
        kind,
        objects,
        records,
        &[
            ("object.post.read", "move"),
            ("object.post.read.move.prefix", "done/"),
        ],
    );
    ok(&s.backfill(&[]));
    exactly_once(&s.consume(objects * records), objects, records);
    let expected: Vec<String> = (0..objects)
        .map(|o| format!("done/in/obj-{o:03}.jsonl"))
        .collect();
    assert_eq!(s.server.keys(), expected, "{kind:?}: moved under done/");
    assert!(s.offsets().values().all(|o| o["postRead"] == "done"));
    // The moved objects are outside the listing prefix: never read again as new.
    ok(&s.backfill(&[]));
    assert_eq!(s.consume(objects * records).len(), objects * records);
    assert_eq!(s.server.keys(), expected);
}

#[test]
fn local_delete_after_commit() {
    delete_after_commit(StoreKind::Local, 400, 5);
}

#[test]
fn local_move_after_commit() {
    move_after_commit(StoreKind::Local);
}

#[test]
fn s3_delete_after_commit() {
    delete_after_commit(StoreKind::S3, 60, 10);
}

#[test]
fn s3_move_after_commit() {
    move_after_commit(StoreKind::S3);
}

/// The process aborts after the object's offsets were committed and before its action (test
/// hook): the object is still there, its offset finished without `postRead`; the restart moves
/// it and delivers none of its records again.
#[test]
fn a_crash_between_commit_and_action_is_finished_on_restart() {
    let records = 30;
    let s = Setup::new(
        StoreKind::Local,
        1,
        records,
        &[
            ("object.post.read", "move"),
            ("object.post.read.move.prefix", "archive/"),
        ],
    );
    let out = s.backfill(&[("SLUICE_TEST_CRASH_BEFORE_POST_READ", "1")]);
    assert!(
        !out.status.success(),
        "the test hook aborts the process:\n{}",
        output_text(&out)
    );
    assert!(
        output_text(&out).contains("test hook"),
        "{}",
        output_text(&out)
    );
    assert_eq!(s.server.keys(), ["in/obj-000.jsonl"], "not moved yet");
    let o = &s.offsets()["in/obj-000.jsonl"];
    assert_eq!(o["finished"], true, "{o}");
    assert!(o.get("postRead").is_none(), "{o}");
    exactly_once(&s.consume(records), 1, records);

    let out = s.backfill(&[]);
    ok(&out);
    assert!(
        output_text(&out).contains("post-read actions left pending"),
        "{}",
        output_text(&out)
    );
    assert_eq!(s.server.keys(), ["archive/in/obj-000.jsonl"]);
    assert_eq!(s.offsets()["in/obj-000.jsonl"]["postRead"], "done");
    exactly_once(&s.consume(records), 1, records);
}

/// Exactly-once: the action follows the commit of the transaction holding the object's offsets.
#[test]
fn exactly_once_deletes_after_the_transaction_commits() {
    let (objects, records) = (3, 20);
    let s = Setup::new(
        StoreKind::Local,
        objects,
        records,
        &[
            ("object.post.read", "delete"),
            ("exactly.once.support", "required"),
            ("transaction.boundary", "object"),
        ],
    );
    s.broker.create_topic("sluice-offsets");
    write_props(
        &s.worker,
        &[
            ("bootstrap.servers", s.broker.bootstrap().as_str()),
            ("offset.storage.topic", "sluice-offsets"),
            ("offset.storage.partitions", "4"),
            ("offset.storage.replication.factor", "1"),
            ("value.converter.schemas.enable", "false"),
        ],
    );
    let out = s.backfill(&[]);
    ok(&out);
    let log = output_text(&out);
    assert_eq!(
        log.matches("transaction committed").count(),
        objects,
        "{log}"
    );
    let got = s.consume(objects * records);
    exactly_once(&got, objects, records);
    assert_eq!(s.server.keys(), Vec::<String>::new());
    // Restarted: the offsets topic says every action is done; nothing is delivered again.
    ok(&s.backfill(&[]));
    assert_eq!(s.consume(objects * records).len(), objects * records);
}

/// Config time: a move prefix under the listing prefix (a loop), no move prefix, and `tag` are
/// refused with what to do.
#[test]
fn loops_and_tags_are_refused_at_config_time() {
    let s = Setup::new(StoreKind::Local, 0, 0, &[]);
    let validate = |extra: &[(&str, &str)]| {
        s.write_connector(extra);
        let out = sluice()
            .arg("validate")
            .arg("--worker")
            .arg(&s.worker)
            .arg(&s.connector)
            .output()
            .unwrap();
        (out.status.success(), output_text(&out))
    };
    let (good, text) = validate(&[
        ("object.post.read", "move"),
        ("object.post.read.move.prefix", "in/done/"),
    ]);
    assert!(!good, "{text}");
    assert!(
        text.contains("object.post.read.move.prefix") && text.contains("listed again"),
        "{text}"
    );
    let (good, text) = validate(&[("object.post.read", "move")]);
    assert!(
        !good && text.contains("required with object.post.read=move"),
        "{text}"
    );
    let (good, text) = validate(&[("object.post.read", "tag")]);
    assert!(!good && text.contains("in place"), "{text}");
    let (good, text) = validate(&[
        ("object.post.read", "move"),
        ("object.post.read.move.prefix", "done/"),
    ]);
    assert!(good, "{text}");
}

#[test]
fn azure_delete_after_commit() {
    delete_after_commit(StoreKind::Azure, 30, 10);
}

#[test]
fn azure_move_after_commit() {
    move_after_commit(StoreKind::Azure);
}
