//! [`ObjectSource`]: the [`SourceTask`] shared by every object-store backend.
//!
//! It lists the bucket in key order, keeps the objects whose whole key matches
//! `file.name.template` and that this task owns under the distribution strategy, skips objects
//! the offsets say are finished, resumes a partly read object at its stored record count, and turns
//! each object's records into [`SourceRecord`]s.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};
use tracing::{debug, info};

use crate::config::{ErrorsTolerance, RecordKey, RecordTimestamp};
use crate::data::{Schema, SchemaAndValue, Value};
use crate::distribution::Distribution;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::object::ObjectInput;
use crate::offsets::{
    ObjectOffsetEntry, OffsetManager, OffsetMap, OffsetValue, ETAG, FINISHED, RECORD_COUNT,
};
use crate::record::{Header, SourceRecord};
use crate::task::{Failure, Poll, SourceTask, Stage};
use crate::template::{FileNameTemplate, TemplateMatch};
use crate::transformer::{RecordStream, Transformer};

/// Header naming the bucket (container, folder) of the object a record came from.
pub const HEADER_BUCKET: &str = "sluice.bucket";
/// Header naming the object key.
pub const HEADER_OBJECT: &str = "sluice.object.key";
/// Header carrying the object's ETag, when the store has one.
pub const HEADER_ETAG: &str = "sluice.object.etag";
/// Header carrying the record's zero-based index within its object.
pub const HEADER_INDEX: &str = "sluice.record.index";

/// One object-store backend: a thin layer over `object_store` (see the `sluice-sources` crate).
pub trait ObjectBackend: Send + Sync + fmt::Debug + 'static {
    /// The bucket (container, folder), as users name it.
    fn bucket(&self) -> &str;
    /// The store.
    fn store(&self) -> &Arc<dyn ObjectStore>;
    /// Only keys under this prefix are read.
    fn prefix(&self) -> Option<&Path>;
    /// Names of the source partition fields: `("bucket", "object")` for S3 and GCS,
    /// `("container", "blob")` for Azure.
    fn partition_fields(&self) -> (&'static str, &'static str) {
        ("bucket", "object")
    }
    /// Lists objects in key order. The default uses the store's `list`.
    fn list(&self) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.store().list(self.prefix())
    }
}

/// Settings of an [`ObjectSource`] (from the connector configuration).
#[derive(Debug, Clone)]
pub struct ObjectSourceConfig {
    /// `topic`.
    pub topic: Option<String>,
    /// `file.name.template`.
    pub template: Option<FileNameTemplate>,
    /// This task's share.
    pub distribution: Distribution,
    /// `errors.tolerance`.
    pub tolerance: ErrorsTolerance,
    /// `record.key`.
    pub record_key: RecordKey,
    /// `record.timestamp`.
    pub record_timestamp: RecordTimestamp,
    /// `record.headers.enable`.
    pub headers: bool,
    /// One pass over what is there now, then [`Poll::Done`] (backfill) instead of relisting forever.
    pub once: bool,
    /// Task name for logs.
    pub task_name: String,
}

struct Current {
    input: ObjectInput,
    partition: OffsetMap,
    matched: Option<TemplateMatch>,
    records: RecordStream,
    /// Records of the object consumed so far (delivered, skipped on resume, or failed).
    count: u64,
    key: Option<Vec<u8>>,
}

/// The object-store [`SourceTask`].
pub struct ObjectSource {
    backend: Arc<dyn ObjectBackend>,
    transformer: Arc<dyn Transformer>,
    offsets: Arc<OffsetManager>,
    cfg: ObjectSourceConfig,
    metrics: Arc<Metrics>,
    listing: Option<BoxStream<'static, object_store::Result<ObjectMeta>>>,
    current: Option<Current>,
    /// Objects abandoned in this run after an unrecoverable error (tolerance `all`).
    abandoned: HashSet<Path>,
}

impl fmt::Debug for ObjectSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectSource")
            .field("backend", &self.backend)
            .field("task", &self.cfg.task_name)
            .finish()
    }
}

impl ObjectSource {
    /// A source over `backend`, reading objects with `transformer`.
    pub fn new(
        backend: Arc<dyn ObjectBackend>,
        transformer: Arc<dyn Transformer>,
        offsets: Arc<OffsetManager>,
        cfg: ObjectSourceConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        ObjectSource {
            backend,
            transformer,
            offsets,
            cfg,
            metrics,
            listing: None,
            current: None,
            abandoned: HashSet::new(),
        }
    }

    fn partition_of(&self, key: &str) -> OffsetMap {
        let (bf, of) = self.backend.partition_fields();
        ObjectOffsetEntry::new(bf, self.backend.bucket(), of, key).manager_key()
    }

    /// Decides whether `meta` is an object to read now; returns the template match and the
    /// number of records already delivered.
    fn accept(&self, meta: &ObjectMeta) -> Option<(Option<TemplateMatch>, u64)> {
        let key = meta.location.as_ref();
        if meta.size == 0 || self.abandoned.contains(&meta.location) {
            return None;
        }
        let matched = match &self.cfg.template {
            Some(t) => Some(t.matches(key)?),
            None => None,
        };
        if !self.cfg.distribution.owns(key, matched.as_ref()) {
            return None;
        }
        let stored = self.offsets.cached(&self.partition_of(key));
        let skip = match stored {
            Some(data) => {
                if data.get(FINISHED).and_then(OffsetValue::as_bool) == Some(true) {
                    return None;
                }
                data.get(RECORD_COUNT)
                    .and_then(OffsetValue::as_long)
                    .unwrap_or(0)
                    .max(0) as u64
            }
            None => 0,
        };
        Some((matched, skip))
    }

    fn open(&self, meta: ObjectMeta, matched: Option<TemplateMatch>, skip: u64) -> Current {
        let key = meta.location.to_string();
        if skip > 0 {
            info!(task = %self.cfg.task_name, object = %key, skip, "resuming object");
        } else {
            debug!(task = %self.cfg.task_name, object = %key, "reading object");
        }
        Metrics::add(&self.metrics.bytes_read, meta.size);
        let input = ObjectInput::new(self.backend.bucket(), self.backend.store().clone(), meta);
        let records = self.transformer.transform(input.clone(), skip);
        let key_bytes =
            (self.cfg.record_key == RecordKey::ObjectKey).then(|| key.clone().into_bytes());
        Current {
            partition: self.partition_of(&key),
            input,
            matched,
            records,
            count: skip,
            key: key_bytes,
        }
    }

    fn record(&self, cur: &Current, index: u64, value: SchemaAndValue) -> SourceRecord {
        let topic = cur
            .matched
            .as_ref()
            .and_then(|m| m.topic.clone())
            .or_else(|| self.cfg.topic.clone())
            .unwrap_or_default();
        let key = match &cur.key {
            Some(k) => SchemaAndValue::new(
                Schema::string(),
                Value::String(String::from_utf8_lossy(k).into_owned()),
            ),
            None => SchemaAndValue::null(),
        };
        let meta = cur.input.meta();
        let mut headers = Vec::new();
        if self.cfg.headers {
            headers.push(Header::string(HEADER_BUCKET, self.backend.bucket()));
            headers.push(Header::string(HEADER_OBJECT, cur.input.key()));
            if let Some(etag) = &meta.e_tag {
                headers.push(Header::string(HEADER_ETAG, etag));
            }
            headers.push(Header::string(HEADER_INDEX, index.to_string()));
        }
        let mut offset = OffsetMap::new();
        offset.insert(RECORD_COUNT.into(), OffsetValue::Long(index as i64 + 1));
        SourceRecord {
            source_partition: cur.partition.clone(),
            source_offset: offset,
            topic,
            kafka_partition: cur.matched.as_ref().and_then(|m| m.partition),
            key,
            value,
            timestamp: match self.cfg.record_timestamp {
                RecordTimestamp::ObjectLastModified => Some(meta.last_modified.timestamp_millis()),
                RecordTimestamp::None => None,
            },
            headers,
        }
    }

    fn finished(&self, cur: &Current) -> Poll {
        let (bf, of) = self.backend.partition_fields();
        let mut entry = ObjectOffsetEntry::new(bf, self.backend.bucket(), of, cur.input.key());
        entry.set_property(RECORD_COUNT, OffsetValue::Long(cur.count as i64));
        entry.set_property(FINISHED, OffsetValue::Bool(true));
        if let Some(etag) = &cur.input.meta().e_tag {
            entry.set_property(ETAG, OffsetValue::String(etag.clone()));
        }
        self.offsets.add_entry(&entry);
        Metrics::add(&self.metrics.objects_finished, 1);
        debug!(task = %self.cfg.task_name, object = %cur.input.key(), records = cur.count, "object finished");
        Poll::Progress {
            partition: entry.manager_key(),
            offset: entry.properties(),
        }
    }
}

use crate::offsets::OffsetManagerEntry as _;

#[async_trait]
impl SourceTask for ObjectSource {
    async fn configure(&mut self) -> Result<()> {
        let n = self.offsets.populate_all().await?;
        info!(task = %self.cfg.task_name, bucket = %self.backend.bucket(), stored_offsets = n, "task configured");
        Ok(())
    }

    async fn poll(&mut self) -> Result<Poll> {
        loop {
            if let Some(cur) = self.current.as_mut() {
                match cur.records.next().await {
                    Some(Ok(value)) => {
                        let index = cur.count;
                        cur.count += 1;
                        Metrics::add(&self.metrics.records_read, 1);
                        let cur = self.current.as_ref().expect("current object");
                        return Ok(Poll::Record(self.record(cur, index, value)));
                    }
                    Some(Err(e)) => {
                        let (recoverable, index) = match &e {
                            Error::Record {
                                recoverable,
                                record_index,
                                ..
                            } => (*recoverable, Some(*record_index)),
                            _ => (false, None),
                        };
                        if self.cfg.tolerance == ErrorsTolerance::None {
                            return Err(e);
                        }
                        let mut failure = Failure::new(
                            Stage::TaskPoll,
                            self.backend.bucket(),
                            cur.input.key(),
                            e,
                        );
                        if recoverable {
                            cur.count = index.map_or(cur.count + 1, |i| i + 1).max(cur.count);
                        } else {
                            // Not finished: retried after a restart from its last committed record.
                            failure.whole_object = true;
                            self.abandoned.insert(cur.input.meta().location.clone());
                        }
                        let mut offset = OffsetMap::new();
                        offset.insert(RECORD_COUNT.into(), OffsetValue::Long(cur.count as i64));
                        let partition = cur.partition.clone();
                        if !recoverable {
                            self.current = None;
                        }
                        return Ok(Poll::Failed {
                            partition,
                            offset,
                            failure: Box::new(failure),
                        });
                    }
                    None => {
                        let cur = self.current.take().expect("current object");
                        return Ok(self.finished(&cur));
                    }
                }
            }
            if self.listing.is_none() {
                self.listing = Some(self.backend.list());
            }
            let next = self.listing.as_mut().expect("listing").next().await;
            match next {
                Some(Ok(meta)) => {
                    if let Some((matched, skip)) = self.accept(&meta) {
                        self.current = Some(self.open(meta, matched, skip));
                    }
                }
                Some(Err(e)) => {
                    self.listing = None;
                    return Err(Error::Store {
                        bucket: self.backend.bucket().to_owned(),
                        object: None,
                        source: Box::new(e),
                    });
                }
                None => {
                    self.listing = None;
                    return Ok(if self.cfg.once {
                        Poll::Done
                    } else {
                        Poll::Idle
                    });
                }
            }
        }
    }

    async fn close_resources(&mut self) {
        self.current = None;
        self.listing = None;
    }
}
