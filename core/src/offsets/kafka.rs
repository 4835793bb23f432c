//! [`KafkaOffsetStore`]: offsets in a compacted Kafka topic, in Kafka Connect's own format.
//!
//! Each record's key is the offset key `["<connector>",{<source partition>}]` and its value the
//! source offset `{...}` as JSON (a null value deletes the partition) — exactly what Kafka
//! Connect's `KafkaOffsetBackingStore` writes, so Connect tooling and people can read and edit it.
//!
//! At open the store reads the whole topic. It does not trust end offsets (some
//! Kafka-compatible brokers report wrong high watermarks): it writes a sentinel record to every
//! partition and reads each partition until it sees its own sentinel. Sentinels are tombstones
//! under one fixed key per partition, so compaction keeps the topic small.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use crate::error::{Error, Result};

use super::entries::{value_text, Entries};
use super::finished::ObjectVersion;
use super::store::{connect_offset_key, parse_connect_offset_key, OffsetStore, PartitionKey, Peek};
use super::value::{map_from_json, map_to_json, OffsetMap};

/// Connector name used in sentinel keys; never a real connector (names cannot start with `__`
/// in Sluice).
const SENTINEL: &str = "__sluice.sentinel";
const NONCE_HEADER: &str = "sluice.sentinel.nonce";

/// Every stored entry, as the text of its key and value (see `entries/mod.rs`).
type State = Entries;

/// How to create the offsets topic when it is missing.
#[derive(Debug, Clone)]
pub struct TopicSettings {
    /// `offset.storage.partitions`.
    pub partitions: i32,
    /// `offset.storage.replication.factor` (-1: the broker's default).
    pub replication_factor: i32,
}

/// The least time between two continuous offset writes of a task to the topic. Each write is
/// a produce request with `acks=all`: at the default 20 ms (50 a second) the broker's work for
/// them made a 1 GiB jsonl backfill 11-15 % slower than writes every 5 s on the test broker;
/// at 100 ms, about 5 % (docs/benchmarks/2026-12-05-offset-sync.md). A kill still re-sends
/// only what was acknowledged in the last write's time plus this.
const TOPIC_WRITE_SPACING: Duration = Duration::from_millis(100);

/// Offsets in a compacted Kafka topic (distributed-mode style, usable standalone).
pub struct KafkaOffsetStore {
    topic: String,
    producer: FutureProducer,
    state: Mutex<State>,
    write_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KafkaOffsetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaOffsetStore")
            .field("topic", &self.topic)
            .finish()
    }
}

fn store_err(topic: &str, message: impl Into<String>, source: Option<crate::BoxError>) -> Error {
    Error::OffsetStore {
        location: format!("topic {topic:?}"),
        message: message.into(),
        source,
    }
}

impl KafkaOffsetStore {
    /// Opens the store on `topic` with the client settings in `client` (bootstrap servers and
    /// security): creates the topic (compacted) when it is missing and `create` is true, then
    /// reads it to the end.
    pub async fn open(
        client: &ClientConfig,
        topic: &str,
        settings: &TopicSettings,
        create: bool,
    ) -> Result<Self> {
        let mut pcfg = client.clone();
        pcfg.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "0");
        let producer: FutureProducer = pcfg
            .create()
            .map_err(|e| store_err(topic, "cannot create a producer", Some(Box::new(e))))?;
        let partitions = Self::ensure_topic(client, &producer, topic, settings, create).await?;
        let state = Self::load(client, &producer, topic, partitions).await?;
        Ok(KafkaOffsetStore {
            topic: topic.to_owned(),
            producer,
            state: Mutex::new(state),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The topic's partition count, creating the topic first if allowed.
    async fn ensure_topic(
        client: &ClientConfig,
        producer: &FutureProducer,
        topic: &str,
        settings: &TopicSettings,
        create: bool,
    ) -> Result<i32> {
        fn count(p: &FutureProducer, topic: &str) -> Result<i32> {
            let md = p
                .client()
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .map_err(|e| {
                    store_err(topic, "cannot read the topic's metadata", Some(Box::new(e)))
                })?;
            Ok(md
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map_or(0, |t| t.partitions().len() as i32))
        }
        let count_now = |p: FutureProducer| {
            let t = topic.to_owned();
            async move {
                tokio::task::spawn_blocking(move || count(&p, &t))
                    .await
                    .map_err(|e| Error::OffsetStore {
                        location: "offsets topic".into(),
                        message: format!("metadata task failed: {e}"),
                        source: None,
                    })?
            }
        };
        let existing = count_now(producer.clone()).await?;
        if existing > 0 {
            return Ok(existing);
        }
        if !create {
            return Err(store_err(
                topic,
                "the offsets topic does not exist and offset.storage.missing=fail: if the offsets were deleted, restore them (or `sluice offsets set`); to start from the beginning of every object, set offset.storage.missing=create",
                None,
            ));
        }
        tracing::warn!(topic, "the offsets topic does not exist: creating it (cleanup.policy=compact); every object is read from the beginning");
        let admin: AdminClient<DefaultClientContext> = client
            .create()
            .map_err(|e| store_err(topic, "cannot create an admin client", Some(Box::new(e))))?;
        let replication = if settings.replication_factor < 0 {
            TopicReplication::Fixed(-1)
        } else {
            TopicReplication::Fixed(settings.replication_factor)
        };
        let new =
            NewTopic::new(topic, settings.partitions, replication).set("cleanup.policy", "compact");
        let res = admin
            .create_topics(
                &[new],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await;
        match res {
            Ok(results) => {
                for r in results {
                    if let Err((_, code)) = r {
                        if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                            return Err(store_err(
                                topic,
                                format!("cannot create the offsets topic ({code}); create it yourself with cleanup.policy=compact"),
                                None,
                            ));
                        }
                    }
                }
            }
            Err(e) => return Err(store_err(
                topic,
                "cannot create the offsets topic; create it yourself with cleanup.policy=compact",
                Some(Box::new(e)),
            )),
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let n = count_now(producer.clone()).await?;
            if n > 0 {
                return Ok(n);
            }
            if Instant::now() > deadline {
                return Err(store_err(
                    topic,
                    "the created offsets topic did not appear within 20 s",
                    None,
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Reads every partition to the sentinel this call wrote into it.
    async fn load(
        client: &ClientConfig,
        producer: &FutureProducer,
        topic: &str,
        partitions: i32,
    ) -> Result<State> {
        let nonce = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        for p in 0..partitions {
            let key = serde_json::json!([SENTINEL, { "partition": p }]).to_string();
            let headers = OwnedHeaders::new().insert(Header {
                key: NONCE_HEADER,
                value: Some(nonce.as_bytes()),
            });
            let record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic)
                .key(key.as_str())
                .partition(p)
                .headers(headers);
            producer
                .send(record, Duration::from_secs(30))
                .await
                .map_err(|(e, _)| {
                    store_err(
                        topic,
                        format!("cannot write to partition {p}"),
                        Some(Box::new(e)),
                    )
                })?;
        }
        let mut ccfg = client.clone();
        ccfg.set("group.id", format!("sluice-offsets-reader-{nonce}"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "20")
            // Offsets written by exactly-once tasks count only once their transaction commits.
            .set("isolation.level", "read_committed");
        let consumer: BaseConsumer = ccfg
            .create()
            .map_err(|e| store_err(topic, "cannot create a consumer", Some(Box::new(e))))?;
        let topic_owned = topic.to_owned();
        tokio::task::spawn_blocking(move || -> Result<State> {
            let topic = topic_owned.as_str();
            let mut tpl = TopicPartitionList::new();
            for p in 0..partitions {
                tpl.add_partition_offset(topic, p, Offset::Beginning)
                    .map_err(|e| store_err(topic, "cannot assign", Some(Box::new(e))))?;
            }
            consumer
                .assign(&tpl)
                .map_err(|e| store_err(topic, "cannot assign", Some(Box::new(e))))?;
            let mut pending: HashSet<i32> = (0..partitions).collect();
            let mut state = State::default();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !pending.is_empty() {
                if Instant::now() > deadline {
                    return Err(store_err(
                        topic,
                        format!("could not read the offsets topic to its end within 120 s (partitions {pending:?} unfinished)"),
                        None,
                    ));
                }
                let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
                    continue;
                };
                let msg = msg.map_err(|e| store_err(topic, "cannot read", Some(Box::new(e))))?;
                let Some(key) = msg.key() else { continue };
                let at = format!("partition {} offset {}", msg.partition(), msg.offset());
                let key_json: serde_json::Value = serde_json::from_slice(key).map_err(|e| {
                    store_err(topic, format!("{at}: the key is not JSON; the offsets topic is corrupt: fix or delete that record"), Some(Box::new(e)))
                })?;
                if key_json.get(0).and_then(|v| v.as_str()) == Some(SENTINEL) {
                    let ours = msg.headers().is_some_and(|h| {
                        h.iter().any(|h| h.key == NONCE_HEADER && h.value == Some(nonce.as_bytes()))
                    });
                    if ours {
                        pending.remove(&msg.partition());
                    }
                    continue;
                }
                let (connector, partition) = parse_connect_offset_key(&key_json).map_err(|e| {
                    store_err(topic, format!("{at}: not a Kafka Connect offset key"), Some(Box::new(e)))
                })?;
                let canonical = connect_offset_key(&connector, &partition);
                match msg.payload() {
                    None => state.remove_text(&canonical),
                    Some(v) => {
                        let value: serde_json::Value = serde_json::from_slice(v).map_err(|e| {
                            store_err(topic, format!("{at}: the value is not JSON; the offsets topic is corrupt: fix or delete that record"), Some(Box::new(e)))
                        })?;
                        if value.is_null() {
                            state.remove_text(&canonical);
                        } else {
                            let offset = map_from_json(&value).map_err(|e| {
                                store_err(topic, format!("{at}: not an offset object"), Some(Box::new(e)))
                            })?;
                            state.insert_text(canonical.into_boxed_str(), value_text(&offset));
                        }
                    }
                }
            }
            Ok(state)
        })
        .await
        .map_err(|e| store_err(topic, format!("reader task failed: {e}"), None))?
    }
}

impl KafkaOffsetStore {
    /// The offsets topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The record key and value (JSON, Kafka Connect's format) of one offset; `None` value
    /// deletes the partition.
    pub fn encode(
        connector: &str,
        partition: &OffsetMap,
        offset: Option<&OffsetMap>,
    ) -> (String, Option<String>) {
        (
            connect_offset_key(connector, partition),
            offset.map(|o| map_to_json(o).to_string()),
        )
    }

    /// Records offsets that were written by someone else's transaction (exactly-once tasks
    /// write offset records with their own transactional producer, then tell the store).
    pub fn remember(&self, connector: &str, batch: Vec<(OffsetMap, OffsetMap)>) {
        let mut state = self.state.lock().expect("offset state");
        for (p, o) in batch {
            state.insert(connector, &p, &o);
        }
    }
}

#[async_trait]
impl OffsetStore for KafkaOffsetStore {
    async fn get(
        &self,
        connector: &str,
        partitions: &[OffsetMap],
    ) -> Result<Vec<Option<OffsetMap>>> {
        let state = self.state.lock().expect("offset state");
        partitions
            .iter()
            .map(|p| state.get(&connect_offset_key(connector, p)))
            .collect()
    }

    fn peek(&self, key: &PartitionKey) -> Peek {
        Peek::from(self.state.lock().expect("offset state").get(key.as_str()))
    }

    fn holds_finished(&self, key: &PartitionKey, version: &ObjectVersion<'_>) -> bool {
        self.state
            .lock()
            .expect("offset state")
            .holds_finished(key.as_str(), version)
    }

    fn peeks(&self) -> bool {
        true
    }

    async fn connectors(&self) -> Result<Vec<String>> {
        self.state.lock().expect("offset state").connectors()
    }

    async fn list(&self, connector: &str) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        self.state.lock().expect("offset state").list(connector)
    }

    async fn for_each(
        &self,
        connector: &str,
        visit: &mut (dyn FnMut(OffsetMap, OffsetMap) + Send),
    ) -> Result<()> {
        self.state
            .lock()
            .expect("offset state")
            .for_each(connector, visit)
    }

    async fn put(&self, connector: &str, batch: Vec<(OffsetMap, Option<OffsetMap>)>) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        // Last entry per partition wins within the batch.
        let mut latest: HashMap<String, (OffsetMap, Option<OffsetMap>)> = HashMap::new();
        for (p, o) in batch {
            latest.insert(connect_offset_key(connector, &p), (p, o));
        }
        let values: Vec<(&String, Option<String>)> = latest
            .iter()
            .map(|(k, (_, o))| (k, o.as_ref().map(|o| map_to_json(o).to_string())))
            .collect();
        let mut deliveries = Vec::with_capacity(values.len());
        for (key, value) in &values {
            let mut record: FutureRecord<'_, str, str> = FutureRecord::to(&self.topic).key(key);
            if let Some(v) = &value {
                record = record.payload(v);
            }
            deliveries.push(self.producer.send(record, Duration::from_secs(60)));
        }
        for d in futures::future::join_all(deliveries).await {
            d.map_err(|(e, _)| {
                store_err(&self.topic, "cannot write offsets (they will be written again at the next flush; records since the last successful flush may be delivered twice after a crash)", Some(Box::new(e)))
            })?;
        }
        let mut state = self.state.lock().expect("offset state");
        for (key, (_, o)) in latest {
            match o {
                Some(o) => state.insert_text(key.into_boxed_str(), value_text(&o)),
                None => state.remove_text(&key),
            }
        }
        Ok(())
    }

    fn location(&self) -> String {
        format!("Kafka topic {:?}", self.topic)
    }

    fn write_spacing(&self) -> Duration {
        TOPIC_WRITE_SPACING
    }

    fn kafka(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<KafkaOffsetStore>> {
        Some(self)
    }
}
