//! Standalone runtime: runs connectors in this process until they finish (backfill) or are
//! stopped (run).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::Producer;
use sluice_core::config::{ConnectorConfig, ConverterConfig, WorkerConfig};
use sluice_core::convert::{converter_from_config, Converter};
use sluice_core::distribution::Distribution;
use sluice_core::driver::{run_task, DeadLetterQueue, DriverConfig, ExactlyOnce, TaskEnd};
use sluice_core::metrics::{Metrics, MetricsSnapshot};
use sluice_core::object::ReadRetry;
use sluice_core::offsets::{
    FileOffsetStore, KafkaOffsetStore, MemoryOffsetStore, OffsetManager, OffsetStore, TopicSettings,
};
use sluice_core::source::{ObjectSource, ObjectSourceConfig};
use sluice_core::{Error, Result};
use tokio::sync::watch;
use tracing::info;

/// Continuous (`run`) or one pass (`backfill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tail the bucket forever, relisting with backoff when idle.
    Continuous,
    /// One pass over what is in the bucket now, then stop.
    Backfill,
}

/// What a connector did.
#[derive(Debug, Clone)]
pub struct ConnectorSummary {
    /// Connector name.
    pub name: String,
    /// Final counters.
    pub metrics: MetricsSnapshot,
    /// How each task ended (`Err` carries the task's error message).
    pub tasks: Vec<std::result::Result<TaskEnd, String>>,
    /// Wall time.
    pub elapsed: Duration,
}

impl ConnectorSummary {
    /// True when every task ended without an error.
    pub fn ok(&self) -> bool {
        self.tasks.iter().all(|t| t.is_ok())
    }
}

/// Builds a converter from the connector's override or the worker's choice.
fn converter(
    own: &Option<ConverterConfig>,
    worker: &ConverterConfig,
    is_key: bool,
) -> Result<Arc<dyn Converter>> {
    let c = own.as_ref().unwrap_or(worker);
    converter_from_config(&c.class, &c.settings, is_key)
}

/// Opens the worker's offset store: the Kafka topic (`offset.storage.topic`), else the file,
/// else (backfill only) memory. A missing store is created or refused per
/// `offset.storage.missing`; a corrupt one is always an error.
pub async fn open_offset_store(worker: &WorkerConfig, mode: Mode) -> Result<Arc<dyn OffsetStore>> {
    if let Some(topic) = &worker.offset_topic {
        let mut client = rdkafka::ClientConfig::new();
        client.set("bootstrap.servers", &worker.bootstrap_servers);
        for (k, v) in &worker.producer {
            if k == "security.protocol" || k.starts_with("ssl.") || k.starts_with("sasl.") {
                client.set(k, v);
            }
        }
        let settings = TopicSettings {
            partitions: worker.offset_topic_partitions,
            replication_factor: worker.offset_topic_replication,
        };
        let store =
            KafkaOffsetStore::open(&client, topic, &settings, worker.offset_create_missing).await?;
        return Ok(Arc::new(store));
    }
    match (&worker.offset_file, mode) {
        (Some(path), _) => {
            let path = Path::new(path);
            if !path.exists() {
                if !worker.offset_create_missing {
                    return Err(Error::OffsetStore {
                        location: format!("file {}", path.display()),
                        message: "the offset file does not exist and offset.storage.missing=fail: if it was deleted, restore it (or use `sluice offsets set`); to start from the beginning of every object, set offset.storage.missing=create".into(),
                        source: None,
                    });
                }
                tracing::warn!(file = %path.display(), "no offset file yet: it will be created and every object is read from the beginning");
            }
            Ok(Arc::new(FileOffsetStore::open(path)?))
        }
        (None, Mode::Backfill) => {
            tracing::warn!("neither offset.storage.topic nor offset.storage.file.filename is set: offsets are kept in memory and a restarted backfill starts from the beginning");
            Ok(Arc::new(MemoryOffsetStore::new()))
        }
        (None, Mode::Continuous) => Err(Error::config(
            "offset.storage.file.filename or offset.storage.topic: one is required by `sluice run` (offsets must survive a restart)",
        )),
    }
}

/// Checks that Kafka answers, so a wrong `bootstrap.servers` fails fast with a clear message.
pub async fn check_kafka(
    producer: &std::sync::Arc<sluice_core::kafka::TaskProducer>,
    bootstrap: &str,
) -> Result<()> {
    let p = producer.clone();
    tokio::task::spawn_blocking(move || {
        p.producer
            .client()
            .fetch_metadata(None, Duration::from_secs(15))
            .map(|_| ())
    })
    .await
    .map_err(|e| Error::config(format!("metadata check failed: {e}")))?
    .map_err(|e| Error::Kafka {
        context: format!(
            "cannot reach Kafka at {bootstrap:?} within 15 s (check bootstrap.servers and the security settings)"
        ),
        source: e,
    })
}

/// Runs one connector: `tasks.max` tasks, each with its own producer, over the shared offset
/// store.
pub async fn run_connector(
    worker: &WorkerConfig,
    config: &ConnectorConfig,
    offset_store: Arc<dyn OffsetStore>,
    mode: Mode,
    stop: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) -> Result<ConnectorSummary> {
    let started = Instant::now();
    let producer = sluice_core::kafka::create_producer(&sluice_core::kafka::producer_config(
        &worker.bootstrap_servers,
        &worker.producer,
        &config.producer_overrides,
    ))?;
    check_kafka(&producer, &worker.bootstrap_servers).await?;
    let key_converter = converter(&config.key_converter, &worker.key_converter, true)?;
    let value_converter = converter(&config.value_converter, &worker.value_converter, false)?;
    let transformer =
        sluice_transformers::build_from_config(config).map_err(|e| Error::config(e.to_string()))?;
    let backend = sluice_sources::build_backend(config).map_err(|e| Error::Store {
        bucket: sluice_sources::bucket_name(config),
        object: None,
        source: Box::new(e),
    })?;
    let offsets = Arc::new(OffsetManager::new(&config.name, offset_store.clone()));
    let exactly_once = config.exactly_once_required || worker.exactly_once_enabled;
    let transactional_offsets = if exactly_once {
        Some(offset_store.clone().kafka().ok_or_else(|| {
            Error::config(format!(
                "connector {:?}: exactly-once delivery writes offsets inside Kafka transactions, so it needs offset.storage.topic in the worker file",
                config.name
            ))
        })?)
    } else {
        None
    };
    let boundary = config.transaction_boundary;
    let interval = Duration::from_millis(
        config
            .transaction_boundary_interval_ms
            .unwrap_or(worker.offset_flush_interval_ms),
    );

    let mut handles = Vec::new();
    for task_id in 0..config.tasks_max {
        let task_name = format!("{}-{task_id}", config.name);
        let source = ObjectSource::new(
            backend.clone(),
            transformer.clone(),
            offsets.clone(),
            ObjectSourceConfig {
                topic: config.topic.clone(),
                template: config.file_name_template.clone(),
                distribution: Distribution::new(
                    config.distribution_type,
                    task_id,
                    config.tasks_max,
                )?,
                tolerance: config.errors_tolerance,
                record_key: config.record_key,
                record_timestamp: config.record_timestamp,
                headers: config.record_headers,
                once: mode == Mode::Backfill,
                task_name: task_name.clone(),
                concurrency: config.store.read_concurrency,
                overwrite: config.store.overwrite_policy,
                full_listing_interval: Duration::from_millis(config.store.listing_full_interval_ms),
                read_retry: ReadRetry {
                    max_retries: config.store.retry.max_retries,
                    initial_backoff: Duration::from_millis(config.store.retry.backoff_initial_ms),
                    max_backoff: Duration::from_millis(config.store.retry.backoff_max_ms),
                },
            },
            metrics.clone(),
        );
        // Exactly-once: each task has its own transactional producer whose id is stable, so a
        // restarted task fences a zombie of itself.
        let (task_producer, eo) = match &transactional_offsets {
            Some(offsets) => {
                let transactional_id = format!("sluice-{}-{task_id}", config.name);
                let mut pc = sluice_core::kafka::producer_config(
                    &worker.bootstrap_servers,
                    &worker.producer,
                    &config.producer_overrides,
                );
                pc.set("transactional.id", &transactional_id);
                if pc.get("transaction.timeout.ms").is_none() {
                    pc.set("transaction.timeout.ms", "900000");
                }
                let p = sluice_core::kafka::create_producer(&pc)?;
                (
                    p,
                    Some(ExactlyOnce {
                        boundary,
                        interval,
                        offsets: offsets.clone(),
                        transactional_id,
                    }),
                )
            }
            // Like Kafka Connect, one producer per task: a single librdkafka producer tops out
            // well below what two tasks can read and convert.
            None if task_id == 0 => (producer.clone(), None),
            None => (
                sluice_core::kafka::create_producer(&sluice_core::kafka::producer_config(
                    &worker.bootstrap_servers,
                    &worker.producer,
                    &config.producer_overrides,
                ))?,
                None,
            ),
        };
        let driver = DriverConfig {
            task_name,
            connector: config.name.clone(),
            producer: task_producer,
            exactly_once: eo,
            key_converter: key_converter.clone(),
            value_converter: value_converter.clone(),
            offset_store: offset_store.clone(),
            flush_interval: Duration::from_millis(worker.offset_flush_interval_ms),
            shutdown_timeout: Duration::from_millis(worker.shutdown_timeout_ms),
            max_poll_records: config.max_poll_records,
            tolerance: config.errors_tolerance,
            errors_log: config.errors_log_enable,
            errors_log_messages: config.errors_log_include_messages,
            dead_letter_queue: config.dlq_topic.clone().map(|topic| DeadLetterQueue {
                topic,
                context_headers: config.dlq_context_headers,
            }),
            metrics: metrics.clone(),
        };
        handles.push(tokio::spawn(run_task(source, driver, stop.clone())));
    }
    let mut tasks = Vec::new();
    for h in handles {
        tasks.push(match h.await {
            Ok(Ok(end)) => Ok(end),
            Ok(Err(e)) => Err(error_chain(&e)),
            Err(e) => Err(format!("task panicked: {e}")),
        });
    }
    let summary = ConnectorSummary {
        name: config.name.clone(),
        metrics: metrics.snapshot(),
        tasks,
        elapsed: started.elapsed(),
    };
    info!(connector = %config.name, ?summary.metrics, "connector ended");
    Ok(summary)
}

pub use sluice_core::error_chain;
