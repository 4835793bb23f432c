//! Creating the topics a connector writes to (Kafka Connect's KIP-158, `AbstractWorkerSourceTask`
//! `maybeCreateTopic`): before a task's first record goes to a topic, the topic is created
//! through the admin API with the settings of its topic creation group
//! ([`TopicCreationSettings`]); a topic that exists is left as it is. Each task asks once per
//! topic (its own cache, as Connect's `TopicCreation`), so topics chosen at run time (routing,
//! transforms) and the dead letter queue's are created too.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::config::{TopicCreationGroup, TopicCreationSettings};
use crate::error::{Error, Result};

/// How long one CreateTopics request may take.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);

/// How a topic came to be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// Created now, with its group's settings.
    Created,
    /// It existed already; left as it is.
    Existed,
}

/// A connector's topic creation: its rules and an admin client (shared by its tasks; each task
/// keeps its own record of the topics it has ensured).
pub struct TopicCreator {
    admin: Arc<AdminClient<DefaultClientContext>>,
    settings: TopicCreationSettings,
    connector: String,
}

impl std::fmt::Debug for TopicCreator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicCreator")
            .field("connector", &self.connector)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A short description of what `group` creates, for logs and errors.
fn describe(group: &TopicCreationGroup) -> String {
    let n = |v: i32| {
        if v < 0 {
            "the broker's default".to_owned()
        } else {
            v.to_string()
        }
    };
    let configs = if group.configs.is_empty() {
        String::new()
    } else {
        format!(
            ", configs {}",
            group
                .configs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "topic creation group {:?}: partitions {}, replication factor {}{configs}",
        group.name,
        n(group.partitions),
        n(group.replication_factor)
    )
}

impl TopicCreator {
    /// An admin client with the connector's client settings (`client`: bootstrap servers,
    /// security, the producer's settings) and `settings`' rules.
    ///
    /// # Errors
    /// [`Error::Kafka`] when librdkafka refuses the settings.
    pub fn new(
        connector: &str,
        client: &ClientConfig,
        settings: TopicCreationSettings,
    ) -> Result<Self> {
        let admin = client.create().map_err(|e| Error::Kafka {
            context: format!("connector {connector:?}: creating the admin client that creates topics (topic.creation.*)"),
            source: e,
        })?;
        Ok(TopicCreator {
            admin: Arc::new(admin),
            settings,
            connector: connector.to_owned(),
        })
    }

    /// The rules.
    pub fn settings(&self) -> &TopicCreationSettings {
        &self.settings
    }

    /// Creates `topic` with its group's settings unless it exists.
    ///
    /// # Errors
    /// [`Error::Kafka`] naming the topic, its group and the broker's reason, when the topic
    /// neither exists nor could be created.
    pub async fn ensure(&self, topic: &str) -> Result<Ensured> {
        let group = self.settings.group_for(topic);
        let mut new = NewTopic::new(
            topic,
            group.partitions,
            TopicReplication::Fixed(group.replication_factor),
        );
        for (k, v) in &group.configs {
            new = new.set(k, v);
        }
        let options = AdminOptions::new()
            .operation_timeout(Some(CREATE_TIMEOUT))
            .request_timeout(Some(CREATE_TIMEOUT));
        let failed = |source: KafkaError| {
            Error::Kafka {
            context: format!(
                "connector {:?}: cannot create topic {topic:?} ({}); make sure this client may create topics (CREATE on the topic or the cluster) and the settings suit the cluster, or create the topic yourself, then restart the task",
                self.connector,
                describe(group)
            ),
            source,
        }
        };
        let result = self
            .admin
            .create_topics([&new], &options)
            .await
            .map_err(failed)?;
        let code = match result.into_iter().next() {
            Some(Ok(_)) => None,
            Some(Err((_, code))) => Some(code),
            None => Some(RDKafkaErrorCode::Unknown),
        };
        match code {
            None => {
                tracing::info!(connector = %self.connector, topic, "created topic ({})", describe(group));
                Ok(Ensured::Created)
            }
            Some(RDKafkaErrorCode::TopicAlreadyExists) => {
                tracing::info!(connector = %self.connector, topic, "topic exists; left as it is");
                Ok(Ensured::Existed)
            }
            // A client that may write to a topic but not create it: fine when it exists (Connect
            // looks before it creates).
            Some(
                code @ (RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed),
            ) if self.exists(topic).await => {
                tracing::info!(connector = %self.connector, topic, %code, "topic exists (this client may not create topics); left as it is");
                Ok(Ensured::Existed)
            }
            Some(code) => Err(failed(KafkaError::AdminOp(code))),
        }
    }

    /// True when the cluster's metadata lists `topic` with partitions.
    async fn exists(&self, topic: &str) -> bool {
        let admin = self.admin.clone();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            admin
                .inner()
                .fetch_metadata(Some(&topic), Duration::from_secs(10))
                .is_ok_and(|m| {
                    m.topics().iter().any(|t| {
                        t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                    })
                })
        })
        .await
        .unwrap_or(false)
    }
}
