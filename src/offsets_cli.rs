//! `sluice offsets list|reset|set`: inspect and rewind a connector's stored offsets (in the
//! spirit of Kafka Connect's KIP-875 offsets API). Stop the connector first: a running one
//! overwrites what this changes at its next flush.

use sluice_core::config::WorkerConfig;
use sluice_core::offsets::{OffsetMap, OffsetStore, OffsetValue, FINISHED, RECORD_COUNT};
use sluice_core::{Error, Result};

use sluice_worker::{open_offset_store, Mode};

/// The object key of a source partition (`object` for S3/GCS/local, `blob` for Azure).
fn object_of(partition: &OffsetMap) -> Option<&str> {
    partition
        .get("object")
        .or_else(|| partition.get("blob"))
        .and_then(OffsetValue::as_str)
}

/// The worker's offset store, opened for managing offsets (never creating an offsets topic).
pub(crate) async fn store(worker: &WorkerConfig) -> Result<std::sync::Arc<dyn OffsetStore>> {
    let mut worker = worker.clone();
    // Managing offsets never creates an offsets topic (a missing one is reported). A missing
    // offsets file reads as empty: opening creates nothing, and `set` writes the first entry.
    worker.offset_create_missing = worker.offset_topic.is_none();
    open_offset_store(&worker, Mode::Continuous).await
}

fn matching(
    entries: Vec<(OffsetMap, OffsetMap)>,
    prefix: Option<&str>,
) -> Vec<(OffsetMap, OffsetMap)> {
    let mut v: Vec<_> = entries
        .into_iter()
        .filter(|(p, _)| prefix.is_none_or(|pre| object_of(p).is_some_and(|o| o.starts_with(pre))))
        .collect();
    v.sort_by(|a, b| object_of(&a.0).cmp(&object_of(&b.0)));
    v
}

/// Prints the connector's offsets, one object per line: `object  recordCount  finished  offset-json`.
pub async fn list(worker: &WorkerConfig, connector: &str, prefix: Option<&str>) -> Result<String> {
    let store = store(worker).await?;
    let entries = matching(store.list(connector).await?, prefix);
    let mut out = String::new();
    for (p, o) in &entries {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            object_of(p).unwrap_or("?"),
            o.get(RECORD_COUNT)
                .and_then(OffsetValue::as_long)
                .unwrap_or(0),
            if o.get(FINISHED).and_then(OffsetValue::as_bool) == Some(true) {
                "finished"
            } else {
                "partial"
            },
            sluice_core::offsets::connect_offset_key(connector, p)
        ));
    }
    out.push_str(&format!(
        "{} objects with stored offsets in {}\n",
        entries.len(),
        store.location()
    ));
    if entries.is_empty() {
        out.push_str(&no_offsets_hint(store.as_ref(), connector).await?);
    }
    Ok(out)
}

/// Why a connector may have no offsets: the names that do have some.
async fn no_offsets_hint(store: &dyn OffsetStore, connector: &str) -> Result<String> {
    let names: Vec<String> = store
        .connectors()
        .await?
        .into_iter()
        .filter(|n| n != connector)
        .collect();
    Ok(if names.is_empty() {
        format!(
            "no connector has stored offsets in {} yet\n",
            store.location()
        )
    } else {
        format!(
            "connector {connector:?} has no stored offsets; connectors with offsets there: {}\n",
            names.join(", ")
        )
    })
}

/// Deletes the offsets of every object (or those under `prefix`), so they are read again.
pub async fn reset(worker: &WorkerConfig, connector: &str, prefix: Option<&str>) -> Result<usize> {
    let store = store(worker).await?;
    let entries = matching(store.list(connector).await?, prefix);
    let n = entries.len();
    store
        .put(
            connector,
            entries.into_iter().map(|(p, _)| (p, None)).collect(),
        )
        .await?;
    Ok(n)
}

/// Sets one object's offset to `record_count` records delivered (not finished): the next run
/// resumes it at that record. The partition is taken from a stored entry of the object, or
/// built from `bucket`.
pub async fn set(
    worker: &WorkerConfig,
    connector: &str,
    object: &str,
    record_count: i64,
    bucket: Option<&str>,
) -> Result<()> {
    if record_count < 0 {
        return Err(Error::config("--record-count must be ≥ 0"));
    }
    let store = store(worker).await?;
    let existing = store
        .list(connector)
        .await?
        .into_iter()
        .find(|(p, _)| object_of(p) == Some(object))
        .map(|(p, _)| p);
    let partition = match (existing, bucket) {
        (Some(p), _) => p,
        (None, Some(b)) => {
            let mut p = OffsetMap::new();
            p.insert("bucket".into(), OffsetValue::from(b));
            p.insert("object".into(), OffsetValue::from(object));
            p
        }
        (None, None) => {
            return Err(Error::config(format!(
                "connector {connector:?} has no stored offset for object {object:?}; give --bucket to create one"
            )))
        }
    };
    let mut offset = OffsetMap::new();
    offset.insert(RECORD_COUNT.into(), OffsetValue::Long(record_count));
    store.put(connector, vec![(partition, Some(offset))]).await
}
