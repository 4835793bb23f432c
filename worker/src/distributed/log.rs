//! [`TopicLog`]: a compacted topic every worker reads from its beginning and keeps tailing
//! (Kafka Connect's `KafkaBasedLog`), with writes whose effect a writer can wait for.
//!
//! Watermarks are not trusted (some Kafka-compatible brokers report wrong ones): to read "to
//! the end", [`TopicLog::read_to_end`] writes a sentinel tombstone into every partition and
//! waits until the reader has passed it; a writer waits for its own record's offset.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::watch;

use super::topics::{ensure_topic, NewTopicSpec};
use crate::{Error, Result};

/// Key prefix of the sentinels (skipped by every reader).
pub const SENTINEL_KEY: &str = "__sluice.sentinel";

/// A record as the reader hands it over.
#[derive(Debug, Clone)]
pub struct LogRecord {
    /// The key, as text.
    pub key: String,
    /// The value, `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// The headers, values as text.
    pub headers: BTreeMap<String, String>,
}

/// What the reader does with each record, in log order per partition.
pub type Apply = Box<dyn FnMut(LogRecord) + Send>;

fn err(message: String, source: Option<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Distributed { message, source }
}

/// A tailed compacted topic.
pub struct TopicLog {
    topic: String,
    partitions: i32,
    producer: FutureProducer,
    /// The next offset to read, per partition, once the records before it are applied.
    applied: watch::Receiver<BTreeMap<i32, i64>>,
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for TopicLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicLog")
            .field("topic", &self.topic)
            .finish()
    }
}

impl TopicLog {
    /// Creates `topic` when missing (compacted), starts reading it from the beginning into
    /// `apply`, and returns once everything written before this call is applied.
    pub async fn open(
        client: &ClientConfig,
        topic: &str,
        spec: NewTopicSpec,
        apply: Apply,
    ) -> Result<Self> {
        let partitions = ensure_topic(client, topic, spec).await?;
        let mut pcfg = client.clone();
        pcfg.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0");
        let producer: FutureProducer = pcfg.create().map_err(|e| {
            err(
                format!("topic {topic:?}: cannot create a producer"),
                Some(Box::new(e)),
            )
        })?;
        let mut ccfg = client.clone();
        ccfg.set(
            "group.id",
            format!("sluice-log-reader-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "50")
        .set("isolation.level", "read_committed");
        let consumer: BaseConsumer = ccfg.create().map_err(|e| {
            err(
                format!("topic {topic:?}: cannot create a consumer"),
                Some(Box::new(e)),
            )
        })?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| err(format!("topic {topic:?}: cannot assign"), Some(Box::new(e))))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| err(format!("topic {topic:?}: cannot assign"), Some(Box::new(e))))?;
        let (tx, applied) = watch::channel(BTreeMap::new());
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            let topic = topic.to_owned();
            std::thread::Builder::new()
                .name(format!("log-{topic}"))
                .spawn(move || read_loop(consumer, topic, apply, tx, stop))
                .map_err(|e| err("cannot start a reader thread".into(), Some(Box::new(e))))?
        };
        let log = TopicLog {
            topic: topic.to_owned(),
            partitions,
            producer,
            applied,
            stop,
            reader: Some(reader),
        };
        log.read_to_end().await?;
        Ok(log)
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Waits until the reader has applied every record written to the topic before this call.
    pub async fn read_to_end(&self) -> Result<()> {
        let mut waits = Vec::new();
        for p in 0..self.partitions {
            let key = format!("{SENTINEL_KEY}-{p}");
            let (partition, offset) = self.send(&key, None, &[], Some(p)).await?;
            waits.push((partition, offset));
        }
        for (p, o) in waits {
            self.wait_applied(p, o).await?;
        }
        Ok(())
    }

    /// Writes a record (a `None` value is a tombstone) and returns where it landed, once Kafka
    /// acknowledged it.
    pub async fn send(
        &self,
        key: &str,
        value: Option<&[u8]>,
        headers: &[(&str, &str)],
        partition: Option<i32>,
    ) -> Result<(i32, i64)> {
        let mut h = OwnedHeaders::new();
        for (k, v) in headers {
            h = h.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let mut record: FutureRecord<'_, str, [u8]> =
            FutureRecord::to(&self.topic).key(key).headers(h);
        if let Some(v) = value {
            record = record.payload(v);
        }
        if let Some(p) = partition {
            record = record.partition(p);
        }
        let d = self
            .producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| {
                err(
                    format!("cannot write {key:?} to topic {:?}", self.topic),
                    Some(Box::new(e)),
                )
            })?;
        Ok((d.partition, d.offset))
    }

    /// Writes a record and waits until this worker's reader has applied it (so the state read
    /// afterwards includes it and everything before it).
    pub async fn write(
        &self,
        key: &str,
        value: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<()> {
        let (p, o) = self.send(key, value, headers, None).await?;
        self.wait_applied(p, o).await
    }

    /// Waits until the record at `offset` of `partition` is applied (60 s at most).
    pub async fn wait_applied(&self, partition: i32, offset: i64) -> Result<()> {
        let mut rx = self.applied.clone();
        let wait = async move {
            rx.wait_for(|m| m.get(&partition).is_some_and(|next| *next > offset))
                .await
                .map(|_| ())
        };
        match tokio::time::timeout(Duration::from_secs(60), wait).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(err(
                format!("the reader of topic {:?} stopped", self.topic),
                None,
            )),
            Err(_) => Err(err(
                format!(
                    "topic {:?}: partition {partition} offset {offset} was not read back within 60 s; is the broker overloaded?",
                    self.topic
                ),
                None,
            )),
        }
    }

    /// A receiver that changes whenever records were applied.
    pub fn changes(&self) -> watch::Receiver<BTreeMap<i32, i64>> {
        self.applied.clone()
    }
}

fn read_loop(
    consumer: BaseConsumer,
    topic: String,
    mut apply: Apply,
    tx: watch::Sender<BTreeMap<i32, i64>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(topic, error = %e, "reading the cluster topic failed; retrying");
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let key = msg
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        if !key.starts_with(SENTINEL_KEY) {
            let headers = msg
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            apply(LogRecord {
                key,
                value: msg.payload().map(<[u8]>::to_vec),
                headers,
            });
        }
        let (p, next) = (msg.partition(), msg.offset() + 1);
        tx.send_modify(|m| {
            m.insert(p, next);
        });
    }
}

impl Drop for TopicLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
