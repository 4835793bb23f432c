//! The worker's connector lifecycle against librdkafka's in-process mock cluster and a local
//! folder: create, status, pause (nothing produced while paused), resume, stop, restart of one
//! failed task without touching the other, reconfigure, delete. Records are checked by
//! consuming and counting.

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use sluice_core::config::{ConnectorConfig, Settings, WorkerConfig};
use sluice_worker::{Error, Mode, State, Worker};

const TOPIC: &str = "t";

fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct Env {
    _cluster: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    bootstrap: String,
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
}

fn env() -> Env {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 2, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    Env {
        _cluster: cluster,
        bootstrap,
        dir,
        data,
    }
}

fn write(dir: &Path, name: &str, records: usize, bad_at: Option<usize>) {
    let text: String = (0..records)
        .map(|i| {
            if Some(i) == bad_at {
                "{not json\n".to_owned()
            } else {
                format!("{{\"object\":\"{name}\",\"i\":{i}}}\n")
            }
        })
        .collect();
    std::fs::write(dir.join(name), text).unwrap();
}

fn worker_config(e: &Env) -> WorkerConfig {
    WorkerConfig::from_settings(&settings(&[
        ("bootstrap.servers", &e.bootstrap),
        (
            "offset.storage.file.filename",
            e.dir.path().join("offsets.jsonl").to_str().unwrap(),
        ),
        ("offset.flush.interval.ms", "200"),
        ("value.converter.schemas.enable", "false"),
    ]))
    .unwrap()
}

fn connector(e: &Env, name: &str, extra: &[(&str, &str)]) -> ConnectorConfig {
    let mut s = settings(&[
        ("name", name),
        ("connector.class", "local"),
        ("local.path", e.data.to_str().unwrap()),
        // The test writes whole files before the connector looks: no need to wait for them to settle.
        ("local.file.min.age.ms", "0"),
        ("object.partial.line.wait.ms", "0"),
        ("topic", TOPIC),
        ("input.format", "jsonl"),
    ]);
    s.extend(settings(extra));
    ConnectorConfig::from_settings(&sluice_worker::registry::builtin(), &s).unwrap()
}

/// Every record in the topic so far (reads until `expected` arrived or 3 s of silence).
fn consume(bootstrap: &str, expected: usize) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "lifecycle-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut last = Instant::now();
    while out.len() < expected || last.elapsed() < Duration::from_millis(500) {
        if last.elapsed() > Duration::from_secs(3) {
            break;
        }
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            last = Instant::now();
        }
    }
    out
}

async fn consume_async(bootstrap: &str, expected: usize) -> Vec<String> {
    let b = bootstrap.to_owned();
    tokio::task::spawn_blocking(move || consume(&b, expected))
        .await
        .unwrap()
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_completes_every_task_and_delivers_every_record() {
    let e = env();
    for i in 0..4 {
        write(&e.data, &format!("o{i}.jsonl"), 25, None);
    }
    let w = Worker::new(worker_config(&e), Mode::Backfill)
        .await
        .unwrap();
    w.create(connector(&e, "c", &[("tasks.max", "2")]))
        .await
        .unwrap();
    w.wait_idle().await;
    let status = w.status("c").unwrap();
    assert_eq!(status.state, State::Running);
    assert!(
        status.tasks.iter().all(|t| t.state == State::Completed),
        "{status:?}"
    );
    let summary = w.summary("c").unwrap();
    assert!(summary.ok());
    assert_eq!(summary.metrics.records_acked, 100);
    assert_eq!(consume_async(&e.bootstrap, 100).await.len(), 100);
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_stop_and_delete() {
    let e = env();
    write(&e.data, "a.jsonl", 30, None);
    let w = Worker::new(worker_config(&e), Mode::Continuous)
        .await
        .unwrap();
    w.create(connector(&e, "c", &[])).await.unwrap();
    assert!(matches!(
        w.create(connector(&e, "c", &[])).await,
        Err(Error::AlreadyExists(_))
    ));
    wait_for("30 records", || w.metrics("c").unwrap().records_acked == 30).await;

    w.pause("c").await.unwrap();
    let status = w.status("c").unwrap();
    assert_eq!(status.state, State::Paused);
    assert!(
        status.tasks.iter().all(|t| t.state == State::Paused),
        "{status:?}"
    );
    write(&e.data, "b.jsonl", 20, None);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        w.metrics("c").unwrap().records_acked,
        30,
        "nothing produced while paused"
    );
    assert_eq!(
        consume_async(&e.bootstrap, 30).await.len(),
        30,
        "nothing produced while paused"
    );

    w.resume("c").await.unwrap();
    wait_for("50 records", || w.metrics("c").unwrap().records_acked == 50).await;
    assert_eq!(w.status("c").unwrap().tasks[0].state, State::Running);

    w.stop("c").await.unwrap();
    let status = w.status("c").unwrap();
    assert_eq!(status.state, State::Stopped);
    assert_eq!(status.tasks[0].state, State::Stopped);

    w.delete("c").await.unwrap();
    assert!(w.names().is_empty());
    let err = w.status("c").unwrap_err().to_string();
    assert!(err.contains("\"c\" not found"), "{err}");
    // Every record exactly once: a/b delivered once each, none again after the resume.
    let got = consume_async(&e.bootstrap, 50).await;
    assert_eq!(got.len(), 50);
    let mut unique = got.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 50, "no duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_restarts_alone() {
    let e = env();
    // Two tasks with object_hash: find names owned by task 0 and task 1.
    let owner = |name: &str| {
        sluice_core::distribution::Distribution::new(
            sluice_core::distribution::DistributionType::ObjectHash,
            0,
            2,
        )
        .unwrap()
        .owns(name, None)
    };
    let names: Vec<String> = (0..20).map(|i| format!("k{i}.jsonl")).collect();
    let bad = names.iter().find(|n| owner(n)).unwrap().clone();
    let good = names.iter().find(|n| !owner(n)).unwrap().clone();
    write(&e.data, &bad, 10, Some(3));
    write(&e.data, &good, 10, None);
    let w = Worker::new(worker_config(&e), Mode::Continuous)
        .await
        .unwrap();
    w.create(connector(&e, "c", &[("tasks.max", "2")]))
        .await
        .unwrap();
    wait_for("task 0 to fail", || {
        matches!(w.status("c").unwrap().tasks[0].state, State::Failed(_))
    })
    .await;
    let status = w.status("c").unwrap();
    let trace = status.tasks[0].state.trace().unwrap().to_owned();
    assert!(
        trace.contains(&bad) && trace.contains("record 3"),
        "{trace}"
    );
    assert_eq!(status.tasks[1].state, State::Running);
    wait_for("13 records", || w.metrics("c").unwrap().records_acked == 13).await;

    // The user fixes the object and restarts the failed task only.
    write(&e.data, &bad, 10, None);
    w.restart("c", true, true).await.unwrap();
    wait_for("task 0 running", || {
        w.status("c").unwrap().tasks[0].state == State::Running
    })
    .await;
    wait_for("20 records", || w.metrics("c").unwrap().records_acked == 20).await;
    assert_eq!(w.status("c").unwrap().tasks[1].state, State::Running);
    assert_eq!(w.connector_config("c").unwrap().tasks_max, 2);
    assert!(w.restart_task("c", 7).await.is_err(), "no task 7");

    // Reconfigured while running: tasks restart with the new configuration.
    w.reconfigure(connector(&e, "c", &[("tasks.max", "1")]))
        .await
        .unwrap();
    let status = w.status("c").unwrap();
    assert_eq!(status.tasks.len(), 1);
    assert_eq!(w.status("c").unwrap().state, State::Running);
    w.shutdown().await;
    let got = consume_async(&e.bootstrap, 20).await;
    assert_eq!(
        got.len(),
        20,
        "3 before the bad line, 10 good, the 7 after the fix: {got:?}"
    );
}
