//! Creating the cluster's topics (config, status, and one per connector whose partitions are
//! its tasks) when they are missing, and the Kafka client settings every cluster client gets.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use sluice_core::config::WorkerConfig;

use crate::{Error, Result};

fn err(message: String, source: Option<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Distributed { message, source }
}

/// The bootstrap servers and security settings of the worker: the base of every cluster
/// client (config and status logs, the group member, the task topics' admin client).
pub fn client_config(worker: &WorkerConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &worker.bootstrap_servers);
    for (k, v) in &worker.security.settings {
        c.set(k, v);
    }
    c
}

/// How to create a topic that is missing.
#[derive(Debug, Clone, Copy)]
pub struct NewTopicSpec {
    /// Partitions.
    pub partitions: i32,
    /// Replication factor, -1 for the broker's default.
    pub replication: i32,
    /// `cleanup.policy=compact`.
    pub compact: bool,
}

/// The partition count of `topic`, 0 when it does not exist.
async fn partition_count(client: &ClientConfig, topic: &str) -> Result<i32> {
    let consumer: BaseConsumer = client.create().map_err(|e| {
        err(
            format!("cannot create a Kafka client to read topic {topic:?}'s metadata"),
            Some(Box::new(e)),
        )
    })?;
    let t = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let md = consumer
            .fetch_metadata(Some(&t), Duration::from_secs(10))
            .map_err(|e| {
                err(
                    format!("cannot read topic {t:?}'s metadata: is Kafka reachable?"),
                    Some(Box::new(e)),
                )
            })?;
        Ok(md
            .topics()
            .iter()
            .find(|m| m.name() == t && m.error().is_none())
            .map_or(0, |m| m.partitions().len() as i32))
    })
    .await
    .map_err(|e| err(format!("metadata task failed: {e}"), None))?
}

/// Creates `topic` per `spec` unless it exists, then waits until its metadata shows it;
/// returns its partition count (an existing topic keeps its own).
pub async fn ensure_topic(client: &ClientConfig, topic: &str, spec: NewTopicSpec) -> Result<i32> {
    let existing = partition_count(client, topic).await?;
    if existing > 0 {
        return Ok(existing);
    }
    let admin: AdminClient<DefaultClientContext> = client
        .create()
        .map_err(|e| err("cannot create an admin client".into(), Some(Box::new(e))))?;
    let mut new = NewTopic::new(
        topic,
        spec.partitions,
        TopicReplication::Fixed(spec.replication),
    );
    if spec.compact {
        new = new.set("cleanup.policy", "compact");
    }
    let results = admin
        .create_topics(
            &[new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .map_err(|e| {
            err(
                format!(
                    "cannot create topic {topic:?}; create it yourself ({} partitions{})",
                    spec.partitions,
                    if spec.compact {
                        ", cleanup.policy=compact"
                    } else {
                        ""
                    }
                ),
                Some(Box::new(e)),
            )
        })?;
    for r in results {
        if let Err((_, code)) = r {
            if code != RDKafkaErrorCode::TopicAlreadyExists {
                return Err(err(
                    format!("cannot create topic {topic:?} ({code}); create it yourself"),
                    None,
                ));
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = partition_count(client, topic).await?;
        if n > 0 {
            return Ok(n);
        }
        if Instant::now() > deadline {
            return Err(err(
                format!("the created topic {topic:?} did not appear within 20 s"),
                None,
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
