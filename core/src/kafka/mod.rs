//! The Kafka producer: librdkafka through rdkafka, with Kafka Connect's safe defaults; the
//! security settings every client gets ([`security`]).

pub mod probe;
pub mod security;
pub mod topics;

use std::sync::Arc;

use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext};
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::offsets::SubmittedId;
use crate::record::RecordOrigin;

/// Producer settings Sluice applies before the user's: idempotent, `acks=all`, and the Java
/// client's murmur2 key hashing so records land in the partitions a Kafka Connect source's would.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("partitioner", "murmur2_random"),
    ("linger.ms", "5"),
    // At most 32 MiB queued per producer, the Java producer's `buffer.memory` (librdkafka's
    // default is 1 GiB): bounds memory (librdkafka adds its own per-message overhead on top)
    // and what a crash can leave unacknowledged.
    ("queue.buffering.max.kbytes", "32768"),
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

/// What a record sent by a task is about, handed back with its delivery report: the submitted
/// record the report settles, and what to say should the delivery fail.
#[derive(Debug)]
pub struct DeliveryTag {
    /// The submitted record (or offset) the report settles.
    pub id: SubmittedId,
    /// What was sent.
    pub sent: Sent,
}

/// What a sent record carries (described only when its delivery fails).
#[derive(Debug)]
pub enum Sent {
    /// A record of the source (Kafka rejecting it may be tolerated).
    Record {
        /// Where it was read, when the source says.
        origin: Option<RecordOrigin>,
        /// Its topic.
        topic: Arc<str>,
        /// When it was handed to the producer (for the delivery latency).
        at: std::time::Instant,
    },
    /// The dead letter record of a failure, described.
    DeadLetter(String),
    /// A source offset written to the offsets topic inside a transaction.
    Offset {
        /// The offsets topic.
        topic: Arc<str>,
    },
}

/// A delivery report: the tag the record was sent with, and how its delivery went.
pub type Delivery = (Box<DeliveryTag>, std::result::Result<(), KafkaError>);

/// The producer's librdkafka context: hands each delivery report to the task that sent the
/// record, through a channel (reports come in batches, one per produce response, so the task
/// wakes once per batch; no future or one-shot channel per record).
pub struct DeliveryRouter {
    tx: mpsc::UnboundedSender<Delivery>,
}

impl ClientContext for DeliveryRouter {}

impl ProducerContext for DeliveryRouter {
    type DeliveryOpaque = Box<DeliveryTag>;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: Box<DeliveryTag>) {
        let result = match result {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(e.clone()),
        };
        // The receiver lives as long as the producer; nobody listening means nobody cares.
        let _ = self.tx.send((tag, result));
    }
}

/// A task's producer and the delivery reports of the records it sent.
pub struct TaskProducer {
    /// The librdkafka producer (its own thread serves the delivery reports).
    pub producer: ThreadedProducer<DeliveryRouter>,
    /// Delivery reports; the task driving this producer holds the lock while it runs.
    pub deliveries: tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>,
}

/// Creates the producer; librdkafka rejects unknown or invalid settings here, before any
/// connection is made.
pub fn create_producer(cfg: &ClientConfig) -> Result<Arc<TaskProducer>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let producer = cfg
        .create_with_context(DeliveryRouter { tx })
        .map_err(|e| Error::Kafka {
            context: "creating the producer (check the producer.* / producer.override.* settings)"
                .into(),
            source: e,
        })?;
    Ok(Arc::new(TaskProducer {
        producer,
        deliveries: tokio::sync::Mutex::new(rx),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This build of librdkafka has what docs/kafka.md promises: every compression codec, TLS
    /// and every SASL mechanism but Kerberos (librdkafka refuses a setting it was built
    /// without when the client is created, before any connection).
    #[test]
    fn the_build_has_tls_sasl_and_every_compression() {
        let create = |pairs: &[(&str, &str)]| {
            let mut cfg = ClientConfig::new();
            cfg.set("bootstrap.servers", "127.0.0.1:1");
            for (k, v) in pairs {
                cfg.set(*k, *v);
            }
            create_producer(&cfg).map(|_| ())
        };
        for codec in ["gzip", "snappy", "lz4", "zstd"] {
            create(&[("compression.type", codec)]).unwrap_or_else(|e| panic!("{codec}: {e}"));
        }
        for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
            create(&[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", mechanism),
                ("sasl.username", "u"),
                ("sasl.password", "p"),
            ])
            .unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        }
        // OAUTHBEARER with a token from the application (librdkafka's unsecured JWT here);
        // OIDC token endpoints need libcurl, not linked (docs/kafka.md).
        create(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "OAUTHBEARER"),
            ("sasl.oauthbearer.config", "principal=sluice"),
        ])
        .unwrap();
        let err = create(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "GSSAPI"),
        ])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(!err.is_empty(), "GSSAPI is not built in");
    }
}
