//! Event-driven discovery end to end: the real `sluice` binary, the tansu broker, moto serving
//! both S3 and SQS (the bucket's `s3:ObjectCreated:*` notifications go to the queue, as on AWS),
//! and Azurite's Blob and Queue services (the test posts Event Grid-shaped messages). Every test
//! consumes what landed and counts it; listings are counted from the proxy's request log and the
//! queue's messages from the queue itself.
// Diagnostics go to the test log.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::queues::{AzuriteQueues, Sqs};
use support::rest::{metric_sum, read, wait_until, Api};
use support::servers::{ObjectServer, StoreKind};
use support::*;

const TOPIC: &str = "events";
const NAME: &str = "notify";
const QUEUE: &str = "sluice-events";
/// S3: where the bucket's notifications go while an object is written without one.
const ELSEWHERE: &str = "sluice-elsewhere";

/// A store with its notification queue, a broker, a worker serving `/metrics`, a connector.
struct Setup {
    server: ObjectServer,
    broker: Broker,
    dir: tempfile::TempDir,
    worker: PathBuf,
    connector: PathBuf,
    log: PathBuf,
    api: Api,
    offsets: PathBuf,
    /// S3: moto's SQS and the queue URL.
    sqs: Option<(Sqs, String)>,
    /// Azure: Azurite's Queue service.
    azure: Option<AzuriteQueues>,
}

impl Setup {
    /// `kind` (S3 or Azure) with a queue wired to the bucket, and a connector reading `in/`
    /// whose reconciliation listing runs every `reconcile_ms`.
    fn new(kind: StoreKind, reconcile_ms: u64, extra: &[(&str, &str)]) -> Setup {
        let server = ObjectServer::start(kind);
        let broker = Broker::start(BrokerKind::Tansu);
        broker.create_topic(TOPIC);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let WorkerFiles { worker, offsets } = worker_file(
            dir.path(),
            &broker,
            &[
                ("offset.flush.interval.ms", "100"),
                ("listeners", &format!("http://127.0.0.1:{port}")),
            ],
        );
        let reconcile = reconcile_ms.to_string();
        let mut settings: BTreeMap<String, String> =
            server.connector_settings().into_iter().collect();
        let (sqs, azure) = match kind {
            StoreKind::S3 => {
                let sqs = Sqs::new(server.server_addr());
                // Received messages come back 2 s after a receive unless deleted.
                let url = sqs.create_queue(QUEUE, 2);
                sqs.create_queue(ELSEWHERE, 2);
                sqs.notify_bucket(&server.bucket, QUEUE);
                settings.insert("aws.s3.prefix".into(), "in/".into());
                settings.insert("aws.s3.notifications.sqs.url".into(), url.clone());
                settings.insert(
                    "aws.s3.notifications.reconciliation.interval.ms".into(),
                    reconcile,
                );
                (Some((sqs, url)), None)
            }
            StoreKind::Azure => {
                let q = AzuriteQueues::start();
                q.create_queue(QUEUE);
                settings.insert("azure.blob.prefix".into(), "in/".into());
                settings.insert("azure.notifications.queue".into(), QUEUE.into());
                settings.insert("azure.notifications.queue.endpoint".into(), q.endpoint());
                settings.insert(
                    "azure.notifications.visibility.timeout.ms".into(),
                    "2000".into(),
                );
                settings.insert(
                    "azure.notifications.reconciliation.interval.ms".into(),
                    reconcile,
                );
                (None, Some(q))
            }
            _ => unreachable!("notifications exist for S3 and Azure"),
        };
        for (k, v) in [
            ("name", NAME),
            ("topic", TOPIC),
            ("input.format", "jsonl"),
            ("store.retry.backoff.initial.ms", "10"),
            ("store.retry.backoff.max.ms", "200"),
        ]
        .iter()
        .chain(extra)
        {
            settings.insert(k.to_string(), v.to_string());
        }
        let connector = dir.path().join("connector.properties");
        write_props_from(&connector, &settings);
        let log = dir.path().join("sluice.log");
        Setup {
            server,
            broker,
            dir,
            worker,
            connector,
            log,
            api: Api::new(port),
            offsets,
            sqs,
            azure,
        }
    }

    /// Starts `sluice run` and waits for its REST API and its first listing pass.
    fn start(&self) -> ChildGuard {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut child = ChildGuard::spawn(
            sluice()
                .env(
                    "RUST_LOG",
                    std::env::var("SLUICE_TEST_LOG").unwrap_or_else(|_| "info,rdkafka=warn".into()),
                )
                .arg("run")
                .arg(&self.worker)
                .arg(&self.connector)
                .stdout(Stdio::null())
                .stderr(log),
        );
        self.api.wait_up(&mut child, &self.log);
        wait_until("the first listing pass", &self.log, || {
            self.metric("sluice_listing_passes_total") >= 1.0
        });
        child
    }

    fn metric(&self, name: &str) -> f64 {
        metric_sum(&self.api.metrics(), name, NAME)
    }

    /// Writes `in/obj-NNN.jsonl` with `records` lines (S3: moto announces it in the queue;
    /// Azure: the test posts its Event Grid event when `announce`).
    fn put(&self, o: usize, records: usize, announce: bool) -> String {
        let key = format!("in/obj-{o:03}.jsonl");
        let body: String = (0..records).map(|r| jsonl_line(o, r) + "\n").collect();
        if let (Some((sqs, _)), false) = (&self.sqs, announce) {
            // Without notification: the bucket notifies another queue during this write.
            sqs.notify_bucket(&self.server.bucket, ELSEWHERE);
            self.server.put(&key, body.as_bytes());
            sqs.notify_bucket(&self.server.bucket, QUEUE);
        } else {
            self.server.put(&key, body.as_bytes());
        }
        if let (Some(q), true) = (&self.azure, announce) {
            self.announce(q, &key);
        }
        key
    }

    /// Posts a notification for `key` by hand (whether or not the object exists).
    fn notify(&self, key: &str) {
        match (&self.sqs, &self.azure) {
            (Some((sqs, url)), _) => sqs.send(url, &Sqs::s3_event(&self.server.bucket, key)),
            (_, Some(q)) => self.announce(q, key),
            _ => unreachable!(),
        }
    }

    fn announce(&self, q: &AzuriteQueues, key: &str) {
        q.post_base64(
            QUEUE,
            &AzuriteQueues::blob_created(&self.server.bucket, key),
        );
    }

    /// Messages in the queue, received or not.
    fn queued(&self) -> u64 {
        match (&self.sqs, &self.azure) {
            (Some((sqs, url)), _) => {
                let (visible, invisible) = sqs.counts(url);
                visible + invisible
            }
            (_, Some(q)) => q.count(QUEUE),
            _ => unreachable!(),
        }
    }

    fn consume(&self, expected: usize) -> Vec<Got> {
        consume_all(
            &self.broker.bootstrap(),
            &[TOPIC],
            expected,
            Duration::from_secs(30),
        )
    }

    /// The stored offset of `key`.
    fn offset(&self, key: &str) -> Option<serde_json::Value> {
        let field = self.server.object_field();
        std::fs::read_to_string(&self.offsets)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            // Puts append: the last line of a key is its offset.
            .rfind(|v| v["key"][1][field] == key)
            .map(|v| v["value"].clone())
    }
}

/// Every (object, index) of `objects` objects of `records` records exactly once.
fn exactly_once(got: &[Got], objects: &[usize], records: usize) {
    let mut seen: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for g in got {
        *seen.entry((g.object().to_owned(), g.index())).or_default() += 1;
    }
    let want: Vec<(String, u64)> = objects
        .iter()
        .flat_map(|o| (0..records as u64).map(move |r| (format!("in/obj-{o:03}.jsonl"), r)))
        .collect();
    assert_eq!(
        seen.keys().cloned().collect::<Vec<_>>(),
        want,
        "every record of every object"
    );
    assert!(
        seen.values().all(|n| *n == 1),
        "no duplicates: {:?}",
        seen.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
}

/// New objects are found from the queue alone: no listing after the first pass. A duplicate
/// notification of an object already read delivers nothing again, a notification of an object
/// that no longer exists is counted and skipped while the others go on, one outside the prefix is
/// passed over, and every message is deleted once its object is committed.
fn found_from_the_queue_without_listing(kind: StoreKind) {
    let s = Setup::new(kind, 3_600_000, &[]);
    let _run = s.start();
    let lists = s.server.lists().len();
    let before = Instant::now();
    for o in 0..4 {
        s.put(o, 5, true);
    }
    let got = s.consume(20);
    println!(
        "{kind:?}: 4 notified objects consumed {:?} after their upload (consumer included)",
        before.elapsed()
    );
    exactly_once(&got, &[0, 1, 2, 3], 5);
    wait_until("every message deleted", &s.log, || s.queued() == 0);
    assert_eq!(
        s.server.lists().len(),
        lists,
        "{kind:?}: the objects were found without a listing"
    );
    assert_eq!(s.metric("sluice_objects_reconciled_total"), 0.0);
    assert!(s.metric("sluice_notifications_received_total") >= 4.0);

    // A duplicate of an object read already, one of a deleted object, one outside the prefix,
    // then a new object.
    s.notify("in/obj-000.jsonl");
    s.notify("in/gone.jsonl");
    s.notify("other/x.jsonl");
    s.put(4, 5, true);
    exactly_once(&s.consume(25), &[0, 1, 2, 3, 4], 5);
    wait_until("every message deleted", &s.log, || s.queued() == 0);
    assert_eq!(s.metric("sluice_notifications_ignored_deleted_total"), 1.0);
    assert_eq!(
        s.metric("sluice_notifications_ignored_outside_prefix_total"),
        1.0
    );
    assert_eq!(s.server.gets_of("in/obj-000.jsonl"), 1, "never read twice");
    assert_eq!(s.server.lists().len(), lists, "still no listing");
    assert_eq!(s.metric("sluice_objects_reconciled_total"), 0.0);
    assert!(
        read(&s.log).contains("in/gone.jsonl"),
        "the skipped notification is logged"
    );
}

#[test]
fn s3_objects_are_found_from_sqs_without_listing() {
    found_from_the_queue_without_listing(StoreKind::S3);
}

#[test]
fn azure_blobs_are_found_from_the_storage_queue_without_listing() {
    found_from_the_queue_without_listing(StoreKind::Azure);
}

/// An object whose notification never came is found by the reconciliation listing.
fn lost_notification_is_reconciled(kind: StoreKind) {
    let s = Setup::new(kind, 1000, &[]);
    let _run = s.start();
    s.put(0, 4, true);
    s.put(1, 4, false);
    exactly_once(&s.consume(8), &[0, 1], 4);
    assert_eq!(
        s.metric("sluice_objects_reconciled_total"),
        1.0,
        "{kind:?}: the object without notification was found by a listing"
    );
    wait_until("every message deleted", &s.log, || s.queued() == 0);
}

#[test]
fn s3_a_lost_notification_is_caught_by_reconciliation() {
    lost_notification_is_reconciled(StoreKind::S3);
}

#[test]
fn azure_a_lost_notification_is_caught_by_reconciliation() {
    lost_notification_is_reconciled(StoreKind::Azure);
}

/// A message stays in the queue while its object's records are not all committed; after a
/// kill -9 it comes back, and the object is read to the end (at least once) and only then is the
/// message deleted.
fn message_outlives_a_crash(kind: StoreKind) {
    let records = 60;
    // 20 records/s: the object takes 3 s, long enough to look at the queue and kill mid-way.
    let s = Setup::new(kind, 3_600_000, &[("max.records.per.second", "20")]);
    let mut run = s.start();
    let key = s.put(0, records, true);
    wait_until("part of the object committed", &s.log, || {
        s.offset(&key).is_some_and(|o| {
            o["recordCount"].as_i64().unwrap_or(0) >= 10 && o.get("finished").is_none()
        })
    });
    assert!(
        s.queued() >= 1,
        "{kind:?}: the message is kept while the object's records are not all committed"
    );
    run.kill9();
    assert!(s.queued() >= 1, "{kind:?}: the message survives the crash");
    let _run = s.start();
    wait_until("the message delivered again", &s.log, || {
        s.metric("sluice_notifications_received_total") >= 1.0
    });
    wait_until("the object finished", &s.log, || {
        s.offset(&key).is_some_and(|o| o["finished"] == true)
    });
    wait_until("the message deleted after the commit", &s.log, || {
        s.queued() == 0
    });
    let got = s.consume(records);
    let mut indexes: Vec<u64> = got.iter().map(Got::index).collect();
    indexes.sort();
    indexes.dedup();
    assert_eq!(
        indexes,
        (0..records as u64).collect::<Vec<_>>(),
        "every record at least once"
    );
    let _ = &s.dir;
}

#[test]
fn s3_a_message_is_deleted_only_after_its_object_is_committed() {
    message_outlives_a_crash(StoreKind::S3);
}

#[test]
fn azure_a_message_is_deleted_only_after_its_object_is_committed() {
    message_outlives_a_crash(StoreKind::Azure);
}
