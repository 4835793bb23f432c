//! Distributed mode's scale figures, measured (SLUICE_HEAVY=1; docs/distributed.md, "Scale on
//! paper"): in this first version every task start opens its own offset store, which reads the
//! whole offsets topic; this measures how long that takes for a topic of N objects' offsets on
//! tansu, and the topic's bytes per object.
//!
//! `SLUICE_SCALE_OFFSETS` sets N (default 300000).

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use sluice_core::config::{Settings, WorkerConfig};
use sluice_worker::{open_offset_store, Mode};
use support::*;

#[test]
fn offsets_topic_read_at_task_start() {
    if std::env::var("SLUICE_HEAVY").is_err() {
        eprintln!("skipped: set SLUICE_HEAVY=1 to measure");
        return;
    }
    let n: usize = std::env::var("SLUICE_SCALE_OFFSETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let broker = Broker::start(BrokerKind::Tansu);
    let settings: Settings = [
        ("bootstrap.servers", broker.bootstrap().as_str()),
        ("offset.storage.topic", "sluice-offsets"),
        ("offset.storage.partitions", "4"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let worker = WorkerConfig::from_settings(&settings).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Creates the topic.
        drop(open_offset_store(&worker, Mode::Continuous).await.unwrap());
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .set("linger.ms", "20")
            .set("queue.buffering.max.messages", "200000")
            .create()
            .unwrap();
        let mut bytes = 0usize;
        let written = Instant::now();
        for chunk in (0..n).collect::<Vec<_>>().chunks(20_000) {
            let records: Vec<(String, String)> = chunk
                .iter()
                .map(|i| {
                    (
                        format!(
                            r#"["orders",{{"bucket":"exports","object":"2026/12/03/orders-{i:09}.jsonl.gz"}}]"#
                        ),
                        r#"{"etag":"\"9b2cf535f27731c974343645a3985328\"","finished":true,"recordCount":20000,"size":1048576}"#.to_owned(),
                    )
                })
                .collect();
            let sends = records.iter().map(|(k, v)| {
                bytes += k.len() + v.len();
                producer.send(
                    FutureRecord::to("sluice-offsets").key(k).payload(v),
                    Duration::from_secs(60),
                )
            });
            for r in futures::future::join_all(sends).await {
                r.map_err(|(e, _)| e).unwrap();
            }
        }
        let write_time = written.elapsed();
        let started = Instant::now();
        let store = open_offset_store(&worker, Mode::Continuous).await.unwrap();
        let read = started.elapsed();
        let listed = store.list("orders").await.unwrap().len();
        assert_eq!(listed, n, "every object's offset read back");
        println!(
            "offsets topic: {n} objects, {bytes} bytes of keys and values ({} per object), written in {write_time:.1?}; a task start reads it in {read:.1?} ({:.0} objects/s)",
            bytes / n,
            n as f64 / read.as_secs_f64()
        );
    });
}
