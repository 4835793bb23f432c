//! Opening the worker's offset store.

use std::path::Path;
use std::sync::Arc;

use sluice_core::config::WorkerConfig;
use sluice_core::offsets::{
    FileOffsetStore, KafkaOffsetStore, MemoryOffsetStore, OffsetStore, TopicSettings,
};
use sluice_core::{Error, Result};

use crate::Mode;

/// Opens the worker's offset store: the Kafka topic (`offset.storage.topic`), else the file,
/// else (backfill only) memory. A missing store is created or refused per
/// `offset.storage.missing`; a corrupt one is always an error.
pub async fn open_offset_store(worker: &WorkerConfig, mode: Mode) -> Result<Arc<dyn OffsetStore>> {
    if let Some(topic) = &worker.offset_topic {
        let mut client = rdkafka::ClientConfig::new();
        client.set("bootstrap.servers", &worker.bootstrap_servers);
        for (k, v) in &worker.security.settings {
            client.set(k, v);
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
                // Expected on a first run; `offset.storage.missing=fail` makes it an error once offsets exist.
                tracing::info!(file = %path.display(), "no offset file yet (a first run): it will be created and every object is read from the beginning");
            }
            // Commits reach the file at once; its fdatasync waits up to the flush interval.
            let sync = std::time::Duration::from_millis(worker.offset_flush_interval_ms);
            Ok(Arc::new(FileOffsetStore::open(path)?.with_sync_interval(sync)))
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
