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
    // The Java client's `reconnect.backoff.max.ms` (librdkafka's default is 10 s): after a
    // broker outage, delivery resumes within about a second of the broker's return instead of
    // up to 10 s later.
    ("reconnect.backoff.max.ms", "1000"),
    ("client.id", "sluice"),
];

/// The delivery timeout when neither `message.timeout.ms` nor its alias `delivery.timeout.ms`
/// is set: `0`, librdkafka's "infinite", as Kafka Connect sets `delivery.timeout.ms` to
/// `Integer.MAX_VALUE` for its source tasks: a broker outage of any length holds records back
/// instead of failing them. (A transactional producer drops it: librdkafka then bounds the
/// message timeout by `transaction.timeout.ms`.) A producer that is not transactional always
/// runs with it: a timeout the user sets only says when the task warns (see
/// [`create_producer`]).
pub const MESSAGE_TIMEOUT_DEFAULT: (&str, &str) = ("message.timeout.ms", "0");

/// The librdkafka configuration: defaults, then the worker's settings, then the connector's
/// `producer.override.*`; then [`MESSAGE_TIMEOUT_DEFAULT`] unless a delivery timeout was set.
pub fn producer_config(bootstrap: &str, worker: &Settings, overrides: &Settings) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    for (k, v) in PRODUCER_DEFAULTS {
        cfg.set(*k, *v);
    }
    cfg.set("bootstrap.servers", bootstrap);
    for (k, v) in worker.iter().chain(overrides) {
        cfg.set(k, v);
    }
    // Set only when neither spelling is: librdkafka applies a map's keys in no fixed order, so
    // a default under one name must never race the user's value under the other.
    if cfg.get("message.timeout.ms").is_none() && cfg.get("delivery.timeout.ms").is_none() {
        cfg.set(MESSAGE_TIMEOUT_DEFAULT.0, MESSAGE_TIMEOUT_DEFAULT.1);
    }
    cfg
}

/// Makes `cfg` (from [`producer_config`]) fit a transactional producer: the unbounded default
/// delivery timeout is dropped, so librdkafka sets the message timeout to
/// `transaction.timeout.ms` (a record cannot wait longer than its transaction may stay open).
pub fn for_transactions(cfg: &mut ClientConfig) {
    if cfg.get(MESSAGE_TIMEOUT_DEFAULT.0) == Some(MESSAGE_TIMEOUT_DEFAULT.1) {
        cfg.remove(MESSAGE_TIMEOUT_DEFAULT.0);
    }
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

impl DeliveryTag {
    /// The tag of submitted record `id`, which is `sent`.
    pub fn new(id: SubmittedId, sent: Sent) -> Self {
        DeliveryTag { id, sent }
    }
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
    /// The delivery timeout set for a producer that is not transactional
    /// (`message.timeout.ms` / `delivery.timeout.ms`), which librdkafka is not given: after
    /// this long without a delivery report while records are in flight, the task warns.
    pub stall_warning: Option<std::time::Duration>,
}

/// The delivery timeout set in `cfg` under either name: `Ok(None)` when none or `0`
/// (unbounded), `Err(())` when a value is not one librdkafka takes (an integer in
/// 0..=2147483647), which is then left for librdkafka to reject with its own message.
fn delivery_timeout_set(
    cfg: &ClientConfig,
) -> std::result::Result<Option<std::time::Duration>, ()> {
    let mut set = None;
    for key in ["message.timeout.ms", "delivery.timeout.ms"] {
        let Some(v) = cfg.get(key) else { continue };
        match v.trim().parse::<u32>() {
            Ok(ms) if ms <= i32::MAX as u32 => {
                if ms > 0 {
                    set = Some(std::time::Duration::from_millis(u64::from(ms)));
                }
            }
            _ => return Err(()),
        }
    }
    Ok(set)
}

/// Creates the producer; librdkafka rejects unknown or invalid settings here, before any
/// connection is made.
///
/// A producer that is not transactional gets no delivery timeout (`message.timeout.ms=0`)
/// even when one is set; the one set becomes [`TaskProducer::stall_warning`]. librdkafka keeps
/// a partition's records in order only while none times out: when some time out, it drops
/// them from the head of the partition's queue and delivers the ones behind, so records sent
/// again afterwards would land after later records of their object (a broker that came back
/// just as they timed out did exactly that in `tests/outages.rs`). Without a timeout the
/// idempotent producer retries every record, in order, until the broker takes it. A
/// transactional producer keeps its timeout (bounded by `transaction.timeout.ms`): a timeout
/// there fails the transaction and the task.
pub fn create_producer(cfg: &ClientConfig) -> Result<Arc<TaskProducer>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut cfg = cfg.clone();
    let stall_warning = match delivery_timeout_set(&cfg) {
        Ok(set) if cfg.get("transactional.id").is_none() => {
            cfg.remove("delivery.timeout.ms");
            cfg.set(MESSAGE_TIMEOUT_DEFAULT.0, MESSAGE_TIMEOUT_DEFAULT.1);
            set
        }
        _ => None,
    };
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
        stall_warning,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Unbounded by default (Kafka Connect's `delivery.timeout.ms=Integer.MAX_VALUE`); a
    /// timeout set under either name, by the worker or the connector, is the only one given to
    /// librdkafka; a transactional producer gets librdkafka's own (its transaction timeout),
    /// and librdkafka accepts each of these.
    #[test]
    fn the_delivery_timeout_is_unbounded_unless_set() {
        let none = Settings::new();
        let cfg = producer_config("127.0.0.1:1", &none, &none);
        assert_eq!(cfg.get("message.timeout.ms"), Some("0"));
        create_producer(&cfg).unwrap();
        for key in ["message.timeout.ms", "delivery.timeout.ms"] {
            let set = settings(&[(key, "5000")]);
            for (worker, over) in [(&set, &none), (&none, &set)] {
                let cfg = producer_config("127.0.0.1:1", worker, over);
                assert_eq!(cfg.get(key), Some("5000"));
                let other = if key == "message.timeout.ms" {
                    "delivery.timeout.ms"
                } else {
                    "message.timeout.ms"
                };
                assert_eq!(cfg.get(other), None, "{key} set: no default under {other}");
            }
        }
        let mut tx = producer_config("127.0.0.1:1", &none, &none);
        tx.set("transactional.id", "t");
        for_transactions(&mut tx);
        assert_eq!(tx.get("message.timeout.ms"), None);
        create_producer(&tx).unwrap();
        let mut tx = producer_config(
            "127.0.0.1:1",
            &settings(&[("message.timeout.ms", "60000")]),
            &none,
        );
        for_transactions(&mut tx);
        assert_eq!(
            tx.get("message.timeout.ms"),
            Some("60000"),
            "a set timeout stays"
        );
    }

    /// A producer that is not transactional is given no delivery timeout even when one is set
    /// (so librdkafka never drops records from a partition's head and delivers the ones
    /// behind): the set one becomes the stall warning. Against a broker that is not there, a
    /// record sent with a 100 ms timeout is still in flight, unreported, a second later.
    #[tokio::test]
    async fn a_set_delivery_timeout_is_a_warning_not_librdkafkas() {
        use rdkafka::producer::Producer as _;
        let none = Settings::new();
        for key in ["message.timeout.ms", "delivery.timeout.ms"] {
            let cfg = producer_config("127.0.0.1:1", &settings(&[(key, "100")]), &none);
            let p = create_producer(&cfg).unwrap();
            assert_eq!(p.stall_warning, Some(std::time::Duration::from_millis(100)));
            let tag = Box::new(DeliveryTag::new(
                crate::offsets::SubmittedRecords::new()
                    .submit(Default::default(), Default::default()),
                Sent::DeadLetter("a test record".into()),
            ));
            p.producer
                .send(
                    rdkafka::producer::BaseRecord::<[u8], str, _>::with_opaque_to("t", tag)
                        .payload("x"),
                )
                .map_err(|(e, _)| e)
                .unwrap();
            let mut reports = p.deliveries.lock().await;
            let waited =
                tokio::time::timeout(std::time::Duration::from_secs(1), reports.recv()).await;
            assert!(
                waited.is_err(),
                "{key}=100: a report came: {:?}",
                waited.map(|r| r.map(|r| r.1))
            );
            p.producer
                .purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
        }
        let unset = create_producer(&producer_config("127.0.0.1:1", &none, &none)).unwrap();
        assert_eq!(unset.stall_warning, None);
        for bad in ["soon", "-1", "2147483648"] {
            let cfg = producer_config(
                "127.0.0.1:1",
                &settings(&[("delivery.timeout.ms", bad)]),
                &none,
            );
            let e = create_producer(&cfg).err().expect("librdkafka rejects it");
            assert!(
                e.to_string().contains("producer"),
                "delivery.timeout.ms={bad}: {e}"
            );
        }
        let mut tx = producer_config(
            "127.0.0.1:1",
            &settings(&[("message.timeout.ms", "100")]),
            &none,
        );
        tx.set("transactional.id", "t");
        for_transactions(&mut tx);
        assert_eq!(
            create_producer(&tx).unwrap().stall_warning,
            None,
            "transactional: librdkafka's"
        );
    }

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
