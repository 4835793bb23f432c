//! The one place a validated [`ConnectorConfig`] becomes running parts: producers, converters,
//! the backend, the transformer, the offset manager, and per task an [`ObjectSource`] with its
//! [`DriverConfig`].

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use sluice_core::config::{ConnectorConfig, ConverterConfig, PostRead, Registry, WorkerConfig};
use sluice_core::contract::ObjectBackend;
use sluice_core::convert::{ByteArrayConverter, Converter, HeaderConverter};
use sluice_core::distribution::Distribution;
use sluice_core::driver::{DeadLetterQueue, DriverConfig, ExactlyOnce};
use sluice_core::envelope::Envelope;
use sluice_core::kafka::probe::check_connection;
use sluice_core::kafka::topics::TopicCreator;
use sluice_core::kafka::{create_producer, producer_config, TaskProducer};
use sluice_core::metrics::InstrumentedBackend;
use sluice_core::object::ReadRetry;
use sluice_core::offsets::{KafkaOffsetStore, OffsetManager, OffsetStore};
use sluice_core::postread::PostReadConfig;
use sluice_core::ratelimit::RateLimits;
use sluice_core::routing::RecordKey;
use sluice_core::source::{ObjectSource, ObjectSourceConfig};
use sluice_core::transformer::Transformer;
use sluice_core::{Error, Result};

use crate::metrics::ConnectorMetrics;
use crate::Mode;

/// What every connector of a worker shares.
#[derive(Clone)]
pub struct BuildContext {
    /// The worker's configuration.
    pub worker: WorkerConfig,
    /// Where offsets are stored.
    pub offset_store: Arc<dyn OffsetStore>,
    /// Continuous (`run`) or one pass (`backfill`).
    pub mode: Mode,
}

/// A connector's parts shared by its tasks; [`ConnectorParts::task`] makes each task.
pub struct ConnectorParts {
    ctx: BuildContext,
    config: ConnectorConfig,
    /// The producer that checked Kafka at build time, handed to the first task made.
    first_producer: Option<Arc<TaskProducer>>,
    key_converter: Arc<dyn Converter>,
    value_converter: Arc<dyn Converter>,
    header_converter: HeaderConverter,
    transformer: Arc<dyn Transformer>,
    backend: Arc<dyn ObjectBackend>,
    offsets: Arc<OffsetManager>,
    transactional_offsets: Option<Arc<KafkaOffsetStore>>,
    metrics: Arc<ConnectorMetrics>,
    /// `max.records.per.second` / `max.bytes.per.second`: one set of buckets for all tasks.
    rate_limits: Option<Arc<RateLimits>>,
    /// `topic.creation.*` while the worker's `topic.creation.enable` is true.
    topic_creation: Option<Arc<TopicCreator>>,
}

/// One task ready to run.
pub struct TaskParts {
    /// The source it polls.
    pub source: ObjectSource,
    /// How the driver converts, produces and commits.
    pub driver: DriverConfig,
}

/// Builds the converter from the connector's override or the worker's choice: a built-in or a
/// registered one.
fn converter(
    registry: &Registry,
    own: &Option<ConverterConfig>,
    worker: &ConverterConfig,
    is_key: bool,
) -> Result<Arc<dyn Converter>> {
    let c = own.as_ref().unwrap_or(worker);
    let which = if is_key {
        "key.converter"
    } else {
        "value.converter"
    };
    registry.build_converter(which, &c.class, &c.settings, is_key)
}

/// Checks that Kafka answers with the client settings `cfg`, so a wrong `bootstrap.servers`,
/// certificate or password fails fast with the reason named (DNS, TCP, TLS handshake, SASL
/// authentication); no secret of `worker` shows in the message.
pub async fn check_kafka(cfg: &ClientConfig, worker: &WorkerConfig) -> Result<()> {
    let cfg = cfg.clone();
    let secrets = worker.security.secrets.clone();
    tokio::task::spawn_blocking(move || {
        check_connection(&cfg, &[], Duration::from_secs(15), &secrets)
    })
    .await
    .map_err(|e| Error::config(format!("the Kafka connection check did not run: {e}")))?
}

/// The `transactional.id` of a task under exactly-once: the same wherever the task runs, so a
/// new producer of it fences the old one.
pub(crate) fn transactional_id(connector: &str, task: u32) -> String {
    format!("sluice-{connector}-{task}")
}

/// True when `config` writes in Kafka transactions on `worker`.
pub(crate) fn exactly_once(config: &ConnectorConfig, worker: &WorkerConfig) -> bool {
    config.exactly_once_required || worker.exactly_once_enabled
}

impl ConnectorParts {
    /// Builds everything `config` needs before its tasks start, reporting the first problem:
    /// Kafka unreachable, a converter, the transformer or the backend that cannot be built,
    /// exactly-once without an offsets topic.
    pub async fn build(
        ctx: &BuildContext,
        config: &ConnectorConfig,
        metrics: Arc<ConnectorMetrics>,
    ) -> Result<Self> {
        for notice in sluice_core::config::aiven::notices(&config.settings) {
            tracing::warn!(connector = %config.name, "{notice}");
        }
        let worker = &ctx.worker;
        // Config provider references are read again whenever the connector is built, so a
        // restart picks up a rotated secret.
        let fresh;
        let config = if config.raw != config.settings {
            fresh = ConnectorConfig::from_settings_resolved(
                &crate::registry::current(),
                &config.raw,
                Some(worker),
            )?;
            &fresh
        } else {
            config
        };
        let client = producer_config(
            &worker.bootstrap_servers,
            &worker.producer,
            &worker.producer_overrides(&config.producer_overrides)?,
        );
        let producer = create_producer(&client)?;
        check_kafka(&client, worker).await?;
        let topic_creation = match &config.topic_creation {
            Some(rules) if worker.topic_creation_enable => Some(Arc::new(TopicCreator::new(
                &config.name,
                &client,
                rules.clone(),
            )?)),
            Some(_) => {
                tracing::warn!(connector = %config.name, "the connector's topic.creation.* keys are ignored: the worker's topic.creation.enable is false");
                None
            }
            None => None,
        };
        let registry = crate::registry::current();
        let key_converter = converter(
            &registry,
            &config.key_converter,
            &worker.key_converter,
            true,
        )?;
        let value_converter = converter(
            &registry,
            &config.value_converter,
            &worker.value_converter,
            false,
        )?;
        let header = config
            .header_converter
            .as_ref()
            .unwrap_or(&worker.header_converter);
        let header_converter = registry.build_header_converter(&header.class, &header.settings)?;
        let transformer = crate::registry::build_transformer(&registry, config)
            .map_err(|e| Error::config(e.to_string()))?;
        let (transformer, value_converter) = plain_json(config, transformer, value_converter);
        let backend =
            crate::registry::build_backend(&registry, config).map_err(|source| Error::Store {
                bucket: sluice_sources::bucket_name(config),
                object: None,
                source,
            })?;
        let backend: Arc<dyn ObjectBackend> =
            Arc::new(InstrumentedBackend::new(backend, metrics.store()));
        let offsets = Arc::new(OffsetManager::new(&config.name, ctx.offset_store.clone()));
        let exactly_once = exactly_once(config, worker);
        let transactional_offsets = if exactly_once {
            Some(ctx.offset_store.clone().kafka().ok_or_else(|| {
                Error::config(format!(
                    "connector {:?}: exactly-once delivery writes offsets inside Kafka transactions, so it needs offset.storage.topic in the worker file",
                    config.name
                ))
            })?)
        } else {
            None
        };
        Ok(ConnectorParts {
            ctx: ctx.clone(),
            config: config.clone(),
            first_producer: Some(producer),
            key_converter,
            value_converter,
            header_converter,
            transformer,
            backend,
            offsets,
            transactional_offsets,
            rate_limits: config.rate_limits.build().map(Arc::new),
            metrics,
            topic_creation,
        })
    }

    /// The connector's configuration.
    pub fn config(&self) -> &ConnectorConfig {
        &self.config
    }

    /// Makes task `task_id` (of `tasks.max`): its source over the shared backend and offsets, and
    /// its driver settings. Like Kafka Connect, every task has its own producer (one librdkafka
    /// producer tops out well below what two tasks read); under exactly-once it is a
    /// transactional producer whose `transactional.id` is stable per task, so a restarted task
    /// fences a zombie of itself.
    pub fn task(&mut self, task_id: u32) -> Result<TaskParts> {
        let config = &self.config;
        let worker = &self.ctx.worker;
        let task_name = format!("{}-{task_id}", config.name);
        let metrics = self.metrics.task(task_id);
        let source = ObjectSource::new(
            self.backend.clone(),
            self.transformer.clone(),
            self.offsets.clone(),
            ObjectSourceConfig {
                topic: config.topic.clone(),
                template: config.file_name_template.clone(),
                template_match: config.template_match,
                start_after_key: config.native_start_key.clone(),
                distribution: Distribution::new(
                    config.distribution_type,
                    task_id,
                    config.tasks_max,
                )?,
                tolerance: config.errors_tolerance,
                routing: config.routing.clone(),
                record_timestamp: config.record_timestamp,
                headers: config.record_headers,
                once: self.ctx.mode == Mode::Backfill,
                task_name: task_name.clone(),
                concurrency: config.store.read_concurrency,
                overwrite: config.store.overwrite_policy,
                min_age: Duration::from_millis(config.store.min_age_ms),
                partial_line_wait: Duration::from_millis(config.store.partial_line_wait_ms),
                full_listing_interval: Duration::from_millis(config.store.listing_full_interval_ms),
                read_retry: ReadRetry {
                    max_retries: config.store.retry.max_retries,
                    initial_backoff: Duration::from_millis(config.store.retry.backoff_initial_ms),
                    max_backoff: Duration::from_millis(config.store.retry.backoff_max_ms),
                    give_up_after: Duration::from_millis(config.store.retry.timeout_ms),
                },
                envelope: Envelope::new(&config.envelope),
                post_read: config.store.post_read.action != PostRead::None,
            },
            metrics.clone(),
        );
        let overrides = worker.producer_overrides(&config.producer_overrides)?;
        let base = || producer_config(&worker.bootstrap_servers, &worker.producer, &overrides);
        let (producer, exactly_once) = match &self.transactional_offsets {
            Some(offsets) => {
                let transactional_id = transactional_id(&config.name, task_id);
                let mut pc = base();
                pc.set("transactional.id", &transactional_id);
                sluice_core::kafka::for_transactions(&mut pc);
                if pc.get("transaction.timeout.ms").is_none() {
                    pc.set("transaction.timeout.ms", "900000");
                }
                (
                    create_producer(&pc)?,
                    Some(ExactlyOnce {
                        boundary: config.transaction_boundary,
                        interval: Duration::from_millis(
                            config
                                .transaction_boundary_interval_ms
                                .unwrap_or(worker.offset_flush_interval_ms),
                        ),
                        offsets: offsets.clone(),
                        transactional_id,
                    }),
                )
            }
            None => match self.first_producer.take() {
                Some(p) => (p, None),
                None => (create_producer(&base())?, None),
            },
        };
        let driver = DriverConfig {
            task_name,
            connector: config.name.clone(),
            producer,
            exactly_once,
            key_converter: self.key_converter.clone(),
            value_converter: self.value_converter.clone(),
            header_converter: self.header_converter.clone(),
            transforms: config.transforms.clone(),
            offset_store: self.ctx.offset_store.clone(),
            flush_interval: Duration::from_millis(worker.offset_flush_interval_ms),
            continuous_commits: worker.offset_flush_continuous,
            shutdown_timeout: Duration::from_millis(worker.shutdown_timeout_ms),
            max_poll_records: config.max_poll_records,
            max_objects_in_flight: config.max_objects_in_flight,
            tolerance: config.errors_tolerance,
            errors_log: config.errors_log_enable,
            errors_log_messages: config.errors_log_include_messages,
            dead_letter_queue: config.dlq_topic.clone().map(|topic| DeadLetterQueue {
                topic,
                context_headers: config.dlq_context_headers,
            }),
            post_read: (config.store.post_read.action != PostRead::None).then(|| PostReadConfig {
                settings: config.store.post_read.clone(),
                backend: self.backend.clone(),
                backoff_initial: Duration::from_millis(config.store.retry.backoff_initial_ms),
                backoff_max: Duration::from_millis(config.store.retry.backoff_max_ms),
            }),
            commit_listener: source.commit_listener(),
            offset_manager: Some(self.offsets.clone()),
            metrics,
            rate_limits: self.rate_limits.clone(),
            topic_creation: self.topic_creation.clone(),
        };
        Ok(TaskParts { source, driver })
    }
}

/// The JSON fast path: when the value converter writes schemaless values as plain JSON and
/// nothing between the transformer and it reads a value (no transforms, no key from a field, no
/// envelope), a transformer with a plain JSON form hands over each value already written, and
/// the `ByteArrayConverter` sends those bytes as they are. The records on the wire are the same
/// (the transformers' property tests hold the two paths equal); the values are not built and
/// written out again.
fn plain_json(
    config: &ConnectorConfig,
    transformer: Arc<dyn Transformer>,
    value_converter: Arc<dyn Converter>,
) -> (Arc<dyn Transformer>, Arc<dyn Converter>) {
    let value_unread = config.transforms.is_empty()
        && !matches!(config.routing.key, RecordKey::Field(_))
        && Envelope::new(&config.envelope).is_none();
    if !(value_unread && value_converter.writes_plain_json()) {
        return (transformer, value_converter);
    }
    match transformer.plain_json() {
        Some(plain) => {
            tracing::debug!(connector = %config.name, format = plain.name(), "values pass through as the converter's plain JSON");
            (plain, Arc::new(ByteArrayConverter::new()))
        }
        None => (transformer, value_converter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::config::Settings;
    use sluice_core::convert::{JsonConverter, JsonConverterConfig, StringConverter};

    fn config(extra: &[(&str, &str)]) -> ConnectorConfig {
        let s: Settings = [
            ("name", "c"),
            ("connector.class", "local"),
            ("local.path", "/tmp"),
            ("topic", "t"),
            ("input.format", "jsonl"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        ConnectorConfig::from_settings(&crate::registry::builtin(), &s).unwrap()
    }

    fn json(schemas_enable: bool) -> Arc<dyn Converter> {
        Arc::new(JsonConverter::new(JsonConverterConfig {
            schemas_enable,
            ..JsonConverterConfig::default()
        }))
    }

    /// Whether the fast path is chosen for `extra` settings and `converter`.
    fn plain(extra: &[(&str, &str)], converter: Arc<dyn Converter>) -> bool {
        let config = config(extra);
        let transformer =
            crate::registry::build_transformer(&crate::registry::builtin(), &config).unwrap();
        let before = Arc::as_ptr(&transformer);
        let (t, _) = plain_json(&config, transformer, converter);
        !std::ptr::addr_eq(Arc::as_ptr(&t), before)
    }

    #[test]
    fn the_json_fast_path_is_taken_only_where_nothing_reads_the_value() {
        assert!(plain(&[], json(false)));
        // The converter would write something else.
        assert!(!plain(&[], json(true)));
        assert!(!plain(&[], Arc::new(StringConverter)));
        // Something reads the value, or the format has no plain form, or values have a schema.
        let transforms = [
            ("transforms", "f"),
            (
                "transforms.f.type",
                "org.apache.kafka.connect.transforms.Flatten$Value",
            ),
        ];
        assert!(!plain(&transforms, json(false)));
        let key = [("record.key", "field"), ("record.key.field", "id")];
        assert!(!plain(&key, json(false)));
        assert!(!plain(&[("input.envelope", "aiven")], json(false)));
        assert!(!plain(&[("input.format", "csv")], json(false)));
        assert!(!plain(
            &[("transformer.json.infer.schema", "true")],
            json(false)
        ));
    }
}
