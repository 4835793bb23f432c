//! The Kafka producer: librdkafka through rdkafka, with Kafka Connect's safe defaults.

use rdkafka::producer::FutureProducer;
use rdkafka::ClientConfig;

use crate::config::Settings;
use crate::error::{Error, Result};

/// Producer settings Sluice applies before the user's: idempotent, `acks=all`, and the Java
/// client's murmur2 key hashing so records land in the partitions a Kafka Connect source's would.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("partitioner", "murmur2_random"),
    ("linger.ms", "5"),
    // At most 64 MiB queued per producer (librdkafka's default is 1 GiB): bounds memory with
    // large records and what a crash can leave unacknowledged.
    ("queue.buffering.max.kbytes", "65536"),
    ("client.id", "sluice"),
];

/// The librdkafka configuration: defaults, then the worker's settings, then the connector's
/// `producer.override.*`.
pub fn producer_config(bootstrap: &str, worker: &Settings, overrides: &Settings) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    for (k, v) in PRODUCER_DEFAULTS {
        cfg.set(*k, *v);
    }
    cfg.set("bootstrap.servers", bootstrap);
    for (k, v) in worker.iter().chain(overrides) {
        cfg.set(k, v);
    }
    cfg
}

/// Creates the producer; librdkafka rejects unknown or invalid settings here, before any
/// connection is made.
pub fn create_producer(cfg: &ClientConfig) -> Result<FutureProducer> {
    cfg.create().map_err(|e| Error::Kafka {
        context: "creating the producer (check the producer.* / producer.override.* settings)"
            .into(),
        source: e,
    })
}
