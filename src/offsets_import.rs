//! `sluice offsets import`: the offsets a Kafka Connect worker stored for an Aiven S3 or Azure
//! source connector, written as the matching Sluice entries, so the migrated connector does not
//! deliver again what Aiven's delivered.
//!
//! Kafka Connect keeps a source connector's offsets in its offsets topic (`offset.storage.topic`
//! of the Connect worker, e.g. `connect-offsets`): key `["<connector>",{partition}]`, value
//! `{offset}`, both JSON. Aiven's S3 source (`S3OffsetManagerEntry`) uses the partition
//! `{"bucket": B, "objectKey": K}`, Aiven's Azure source (`AzureBlobOffsetManagerEntry`)
//! `{"container": C, "blobName": K}`; the offset of both is `{"recordCount": N}`, the number of
//! records of the object already delivered (Aiven skips that many when it opens the object
//! again). Sluice's partitions are `{bucket, object}` and `{container, blob}` with the same
//! `recordCount`, so each entry maps one to one.
//!
//! Aiven does not record whether an object was read to its end. An imported entry is therefore
//! "partly read, resume at record N": the migrated connector opens each such object once more,
//! skips its first N records without converting them, delivers the rest (nothing, for an
//! object Aiven finished) and then stores it as finished, after which it is never downloaded
//! again.
//!
//! The offsets topic is read with [`KafkaOffsetStore`]: to know it read every partition to the
//! end it writes one tombstone per partition under the key `["__sluice.sentinel",...]`, which
//! Kafka Connect reads as the offsets of a connector that does not exist.

use std::collections::HashSet;

use sluice_core::config::WorkerConfig;
use sluice_core::offsets::{
    canonical_partition, KafkaOffsetStore, OffsetMap, OffsetStore, OffsetValue, TopicSettings,
    RECORD_COUNT,
};
use sluice_core::{Error, Result};

/// What to import, and where from.
#[derive(Debug, Clone)]
pub struct Import<'a> {
    /// The Sluice connector the entries are written for.
    pub connector: &'a str,
    /// Kafka Connect's offsets topic.
    pub topic: &'a str,
    /// The Aiven connector's name in that topic (default: `connector`).
    pub from_connector: &'a str,
    /// Replace entries the Sluice connector already has (default: keep them).
    pub overwrite: bool,
    /// Only say what would be written.
    pub dry_run: bool,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Entries written (or that would be, with `dry_run`).
    pub written: usize,
    /// Entries not written because the Sluice connector already had one for the object.
    pub kept: usize,
    /// Where they were written.
    pub location: String,
}

/// The Sluice entry of one of Aiven's: `(partition, offset)`.
///
/// # Errors
/// [`Error::Offset`] naming the entry when it is not an Aiven S3 or Azure source offset.
pub fn convert(partition: &OffsetMap, offset: &OffsetMap) -> Result<(OffsetMap, OffsetMap)> {
    let text = |m: &OffsetMap, k: &str| m.get(k).and_then(OffsetValue::as_str).map(str::to_owned);
    let (fields, bucket, key) = if let (Some(b), Some(k)) =
        (text(partition, "bucket"), text(partition, "objectKey"))
    {
        (("bucket", "object"), b, k)
    } else if let (Some(c), Some(k)) = (text(partition, "container"), text(partition, "blobName")) {
        (("container", "blob"), c, k)
    } else {
        return Err(Error::Offset(format!(
            "offset partition {} is not an Aiven S3 source partition {{\"bucket\",\"objectKey\"}} nor an Aiven Azure one {{\"container\",\"blobName\"}}; is --from-connector the name of an Aiven source connector?",
            canonical_partition(partition)
        )));
    };
    let count = match offset.get(RECORD_COUNT) {
        Some(v) => v.as_long().filter(|n| *n >= 0).ok_or_else(|| {
            Error::Offset(format!(
                "object {key:?} of {bucket:?}: recordCount is {v:?}, not a count of records; fix the entry in the offsets topic or leave the object out"
            ))
        })?,
        // Aiven reads a missing count as 0.
        None => 0,
    };
    let mut p = OffsetMap::new();
    p.insert(fields.0.into(), OffsetValue::from(bucket.as_str()));
    p.insert(fields.1.into(), OffsetValue::from(key.as_str()));
    let mut o = OffsetMap::new();
    o.insert(RECORD_COUNT.into(), OffsetValue::Long(count));
    Ok((p, o))
}

/// Reads the Aiven connector's entries from Kafka Connect's offsets topic (with the worker's
/// bootstrap servers and security settings) and writes the converted entries into the worker's
/// offset store for `import.connector`.
///
/// # Errors
/// The topic cannot be read (it must exist: it is never created), an entry is not Aiven's
/// (named), there is none for `from_connector` (the connectors the topic has are listed), or
/// the worker's store cannot be written.
pub async fn import(worker: &WorkerConfig, import: &Import<'_>) -> Result<Imported> {
    let mut client = rdkafka::ClientConfig::new();
    client.set("bootstrap.servers", &worker.bootstrap_servers);
    for (k, v) in &worker.security.settings {
        client.set(k, v);
    }
    let settings = TopicSettings {
        partitions: 1,
        replication_factor: -1,
    };
    let source = KafkaOffsetStore::open(&client, import.topic, &settings, false).await?;
    let entries = source.list(import.from_connector).await?;
    if entries.is_empty() {
        let names = source.connectors().await?;
        return Err(Error::Offset(format!(
            "topic {:?} holds no offsets of connector {:?}; connectors with offsets there: {}",
            import.topic,
            import.from_connector,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )));
    }
    let converted = entries
        .iter()
        .map(|(p, o)| convert(p, o))
        .collect::<Result<Vec<_>>>()?;
    let store = crate::offsets_cli::store(worker).await?;
    let existing: HashSet<String> = store
        .list(import.connector)
        .await?
        .iter()
        .map(|(p, _)| canonical_partition(p))
        .collect();
    let (batch, kept): (Vec<_>, Vec<_>) = converted
        .into_iter()
        .partition(|(p, _)| import.overwrite || !existing.contains(&canonical_partition(p)));
    let written = batch.len();
    if !import.dry_run && !batch.is_empty() {
        store
            .put(
                import.connector,
                batch.into_iter().map(|(p, o)| (p, Some(o))).collect(),
            )
            .await?;
    }
    Ok(Imported {
        written,
        kept: kept.len(),
        location: store.location(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::offsets::map_from_json;

    fn map(json: &str) -> OffsetMap {
        map_from_json(&serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn aivens_s3_and_azure_entries_map_to_sluices() {
        let (p, o) = convert(
            &map(r#"{"objectKey":"data/t-0-0","bucket":"b"}"#),
            &map(r#"{"recordCount":7}"#),
        )
        .unwrap();
        assert_eq!(
            canonical_partition(&p),
            r#"{"bucket":"b","object":"data/t-0-0"}"#
        );
        assert_eq!(o.get(RECORD_COUNT), Some(&OffsetValue::Long(7)));
        let (p, _) = convert(
            &map(r#"{"container":"c","blobName":"x"}"#),
            &map(r#"{"recordCount":0}"#),
        )
        .unwrap();
        assert_eq!(canonical_partition(&p), r#"{"blob":"x","container":"c"}"#);
    }

    #[test]
    fn other_entries_are_refused_with_what_they_are() {
        let e = convert(&map(r#"{"filename":"x"}"#), &map(r#"{"position":3}"#)).unwrap_err();
        assert!(
            e.to_string().contains("not an Aiven S3 source partition"),
            "{e}"
        );
        let e = convert(
            &map(r#"{"bucket":"b","objectKey":"k"}"#),
            &map(r#"{"recordCount":"many"}"#),
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"k\""), "{e}");
    }
}
