//! [`ObjectSource`]: the [`SourceTask`] shared by every object-store backend.
//!
//! It lists the bucket in key order, keeps the objects whose whole key matches
//! `file.name.template` and that this task owns under the distribution strategy, skips objects
//! the offsets say are finished, resumes a partly read object at its stored record count, and turns
//! each object's records into [`SourceRecord`]s.
//!
//! - Listing runs in passes. A pass lists after the greatest key seen so far (one cheap LIST when
//!   nothing is new); at most every `listing.full.interval.ms` a pass lists from the beginning of
//!   the prefix, which picks up late arrivals (keys sorting before ones already processed) and
//!   overwritten objects. After a restart the first pass starts at the restart position computed
//!   from the stored offsets ([`ObjectSource`]'s `restart_position`), so finished objects are
//!   neither downloaded nor, mostly, listed again.
//! - Up to `object.read.concurrency` objects are read at once, opened in key order, each parsed
//!   by its own tokio task into a bounded channel: records of one object stay in order, offsets
//!   stay per object (the driver commits each object's acknowledged prefix).
//! - An object deleted (or replaced) between listing and reading is reported and skipped; an
//!   object found finished with another ETag follows `object.overwrite.policy`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::ObjectMeta;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::config::{ErrorsTolerance, OverwritePolicy, RecordKey, RecordTimestamp};
use crate::contract::{Failure, ObjectBackend, Poll, SourceTask, Stage};
use crate::data::{Schema, SchemaAndValue, Value};
use crate::distribution::Distribution;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::object::{is_object_gone, ObjectInput, ReadRetry};
use crate::offsets::{
    ObjectOffsetEntry, OffsetManager, OffsetMap, OffsetValue, ETAG, FINISHED, RECORD_COUNT,
};
use crate::record::{Header, RecordOrigin, SourceRecord};
use crate::template::{FileNameTemplate, TemplateMatch};
use crate::transformer::Transformer;

/// Header naming the bucket (container, folder) of the object a record came from.
pub const HEADER_BUCKET: &str = "sluice.bucket";
/// Header naming the object key.
pub const HEADER_OBJECT: &str = "sluice.object.key";
/// Header carrying the object's ETag, when the store has one.
pub const HEADER_ETAG: &str = "sluice.object.etag";
/// Header carrying the record's zero-based index within its object.
pub const HEADER_INDEX: &str = "sluice.record.index";

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
    /// `object.read.concurrency`: objects read at once.
    pub concurrency: usize,
    /// `object.overwrite.policy`.
    pub overwrite: OverwritePolicy,
    /// `listing.full.interval.ms`: how often a listing starts from the beginning of the prefix
    /// (zero: always).
    pub full_listing_interval: Duration,
    /// How reads retry transient failures.
    pub read_retry: ReadRetry,
}

/// Offset property of an object that vanished (deleted, or replaced while being read) before it
/// was read to the end: its entry is closed as finished so the restart position can move past it.
pub const DELETED: &str = "deleted";

/// Batches of records the reading tasks may buffer ahead of the task, per object being read:
/// with [`READY_BATCH`], at most 64 records per object (64 MiB of 64 KiB chunks in all with
/// the default four objects at once).
const EVENTS_PER_READER: usize = 4;

/// The most records a reading task hands over at once: the records its object's bytes already
/// in memory give (one hand-over, and one wake-up of the task, per batch instead of per record).
const READY_BATCH: usize = 16;

/// An object being read: its records are parsed by a spawned task and arrive in order.
struct Reader {
    input: ObjectInput,
    partition: OffsetMap,
    matched: Option<TemplateMatch>,
    /// Records of the object consumed so far (delivered, skipped on resume, or failed).
    count: u64,
    key: Option<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a reading task sends about its object.
enum Event {
    /// Records or record errors, in order.
    Items(Vec<Result<SchemaAndValue>>),
    /// The object was read to the end.
    End,
}

/// One step of a reading task's events: a record (or record error), or the end.
enum Next {
    Item(Result<SchemaAndValue>),
    End,
}

/// The object-store [`SourceTask`].
pub struct ObjectSource {
    backend: Arc<dyn ObjectBackend>,
    transformer: Arc<dyn Transformer>,
    offsets: Arc<OffsetManager>,
    cfg: ObjectSourceConfig,
    metrics: Arc<Metrics>,
    listing: Option<BoxStream<'static, object_store::Result<ObjectMeta>>>,
    /// A listing pass is under way (its listing may be over while objects are still read).
    in_pass: bool,
    /// The current pass ends after this key (the catch-up pass of a restarted backfill).
    pass_until: Option<Path>,
    /// Objects being read, by opening order (which is key order).
    readers: BTreeMap<u64, Reader>,
    next_reader: u64,
    events_tx: mpsc::Sender<(u64, Event)>,
    events_rx: mpsc::Receiver<(u64, Event)>,
    /// The rest of the last batch received, and the reader it is from.
    batch: Option<(u64, std::vec::IntoIter<Result<SchemaAndValue>>)>,
    /// Objects abandoned in this run after an unrecoverable error (tolerance `all`).
    abandoned: HashSet<Path>,
    /// The greatest key listed so far: an incremental listing starts after it.
    listed_up_to: Option<Path>,
    /// When the last full listing began.
    last_full: Option<Instant>,
    /// Backfill after a restart: the restart position, whose earlier keys are listed last.
    catch_up: Option<Path>,
    /// An error that stops the task (tolerance `none`): returned once the objects opened before
    /// the failing one are delivered; objects opened after it are dropped.
    failing: Option<(u64, Error)>,
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
        let (events_tx, events_rx) = mpsc::channel(EVENTS_PER_READER * cfg.concurrency.max(1));
        ObjectSource {
            backend,
            transformer,
            offsets,
            cfg,
            metrics,
            listing: None,
            in_pass: false,
            pass_until: None,
            readers: BTreeMap::new(),
            next_reader: 0,
            events_tx,
            events_rx,
            batch: None,
            abandoned: HashSet::new(),
            listed_up_to: None,
            last_full: None,
            catch_up: None,
            failing: None,
        }
    }

    /// The next record of the batch at hand, if any.
    fn next_buffered(&mut self) -> Option<(u64, Next)> {
        let (id, items) = self.batch.as_mut()?;
        match items.next() {
            Some(item) => Some((*id, Next::Item(item))),
            None => {
                self.batch = None;
                None
            }
        }
    }

    fn partition_of(&self, key: &str) -> OffsetMap {
        let (bf, of) = self.backend.partition_fields();
        ObjectOffsetEntry::new(bf, self.backend.bucket(), of, key).manager_key()
    }

    /// Decides whether `meta` is an object to read now; returns the template match, the number
    /// of records already delivered, and whether the object starts afresh (no stored progress).
    fn accept(&self, meta: &ObjectMeta) -> Option<(Option<TemplateMatch>, u64, bool)> {
        let key = meta.location.as_ref();
        if meta.size == 0
            || self.abandoned.contains(&meta.location)
            || self
                .readers
                .values()
                .any(|r| r.input.meta().location == meta.location)
        {
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
        match stored {
            Some(data) if data.get(FINISHED).and_then(OffsetValue::as_bool) == Some(true) => {
                let read = data.get(ETAG).and_then(OffsetValue::as_str);
                if self.cfg.overwrite == OverwritePolicy::Reread && read != meta.e_tag.as_deref() {
                    info!(task = %self.cfg.task_name, object = %key, was = ?read, now = ?meta.e_tag,
                        "object changed since it was read (object.overwrite.policy=reread): reading it again");
                    return Some((matched, 0, true));
                }
                None
            }
            Some(data) => {
                let skip = data
                    .get(RECORD_COUNT)
                    .and_then(OffsetValue::as_long)
                    .unwrap_or(0)
                    .max(0) as u64;
                Some((matched, skip, false))
            }
            None => Some((matched, 0, true)),
        }
    }

    /// Opens `meta` if this task reads it now. A fresh object first yields its offset
    /// `{recordCount: 0, etag}`, so the stored offsets know every object that was opened (the
    /// restart position never moves past an object opened but not finished).
    fn try_open(&mut self, meta: ObjectMeta) -> Option<Poll> {
        let (matched, skip, fresh) = self.accept(&meta)?;
        let id = self.next_reader;
        self.next_reader += 1;
        let reader = self.open(id, meta, matched, skip);
        let progress = fresh.then(|| {
            let mut offset = OffsetMap::new();
            offset.insert(RECORD_COUNT.into(), OffsetValue::Long(0));
            if let Some(etag) = &reader.input.meta().e_tag {
                offset.insert(ETAG.into(), OffsetValue::String(etag.clone()));
            }
            Poll::Progress {
                partition: reader.partition.clone(),
                offset,
            }
        });
        self.readers.insert(id, reader);
        progress
    }

    fn open(&self, id: u64, meta: ObjectMeta, matched: Option<TemplateMatch>, skip: u64) -> Reader {
        let key = meta.location.to_string();
        if skip > 0 {
            info!(task = %self.cfg.task_name, object = %key, skip, "resuming object");
        } else {
            debug!(task = %self.cfg.task_name, object = %key, "reading object");
        }
        Metrics::add(&self.metrics.bytes_read, meta.size);
        let input = ObjectInput::new(self.backend.bucket(), self.backend.store().clone(), meta)
            .with_retry(self.cfg.read_retry);
        let records = self.transformer.transform(input.clone(), skip);
        let tx = self.events_tx.clone();
        let task = tokio::spawn(async move {
            let mut records = records.ready_chunks(READY_BATCH);
            while let Some(items) = records.next().await {
                if tx.send((id, Event::Items(items))).await.is_err() {
                    return;
                }
            }
            let _ = tx.send((id, Event::End)).await;
        });
        let key_bytes =
            (self.cfg.record_key == RecordKey::ObjectKey).then(|| key.clone().into_bytes());
        Reader {
            partition: self.partition_of(&key),
            input,
            matched,
            count: skip,
            key: key_bytes,
            task,
        }
    }

    fn record(&self, cur: &Reader, index: u64, value: SchemaAndValue) -> SourceRecord {
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
            origin: Some(RecordOrigin {
                object: cur.input.object().clone(),
                index,
            }),
        }
    }

    fn finished(&self, cur: &Reader) -> Poll {
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

    /// The offset closing an object that vanished while being read (deleted, or replaced by
    /// another version): finished, so it is not retried forever and the restart position can
    /// move past it; without an ETag, so `object.overwrite.policy=reread` reads a new version.
    fn vanished(&self, cur: &Reader) -> Poll {
        let (bf, of) = self.backend.partition_fields();
        let mut entry = ObjectOffsetEntry::new(bf, self.backend.bucket(), of, cur.input.key());
        entry.set_property(RECORD_COUNT, OffsetValue::Long(cur.count as i64));
        entry.set_property(FINISHED, OffsetValue::Bool(true));
        entry.set_property(DELETED, OffsetValue::Bool(true));
        self.offsets.add_entry(&entry);
        Metrics::add(&self.metrics.objects_failed, 1);
        Poll::Progress {
            partition: entry.manager_key(),
            offset: entry.properties(),
        }
    }

    /// Stops the task on `e` from reader `id` (tolerance `none`): nothing new is opened, readers
    /// opened after it are dropped, and the error is returned once the earlier ones are delivered.
    fn fail(&mut self, id: u64, e: Error) {
        if self.failing.as_ref().is_some_and(|(f, _)| *f < id) {
            return;
        }
        self.readers.retain(|k, _| *k < id);
        self.listing = None;
        self.failing = Some((id, e));
    }

    /// Starts a listing pass: from the beginning of the prefix when a full listing is due (or no
    /// key was listed yet), else after the greatest key already listed.
    fn start_pass(&mut self) {
        self.in_pass = true;
        self.pass_until = None;
        let interval = self.cfg.full_listing_interval;
        let full = self.listed_up_to.is_none()
            || interval.is_zero()
            || self.last_full.is_none_or(|t| t.elapsed() >= interval);
        let start_after = if full {
            self.last_full = Some(Instant::now());
            self.catch_up = None;
            None
        } else {
            self.listed_up_to.clone()
        };
        debug!(task = %self.cfg.task_name, start_after = ?start_after.as_ref().map(Path::as_ref), "listing");
        self.listing = Some(self.backend.list(start_after.as_ref()));
    }

    /// The restart position from the `stored` offsets: the greatest finished object of this task
    /// (bucket, prefix, template, distribution) that sorts before every unfinished one. Objects
    /// are opened in key order and each opened object has a stored entry, so every object of
    /// this task up to it was read to the end; listing starts after it. What the stored offsets
    /// cannot know about (a late arrival, objects whose task changed with `tasks.max`) is found
    /// by the next full listing.
    fn restart_position(&self, stored: &[(OffsetMap, OffsetMap)]) -> Option<Path> {
        let (bf, of) = self.backend.partition_fields();
        let prefix = self.backend.prefix().unwrap_or("");
        let mut first_unfinished: Option<&str> = None;
        let mut finished = Vec::new();
        for (partition, data) in stored {
            if partition.get(bf).and_then(OffsetValue::as_str) != Some(self.backend.bucket()) {
                continue;
            }
            let Some(key) = partition.get(of).and_then(OffsetValue::as_str) else {
                continue;
            };
            if !key.starts_with(prefix) {
                continue;
            }
            let matched = match &self.cfg.template {
                Some(t) => match t.matches(key) {
                    Some(m) => Some(m),
                    None => continue,
                },
                None => None,
            };
            if !self.cfg.distribution.owns(key, matched.as_ref()) {
                continue;
            }
            if data.get(FINISHED).and_then(OffsetValue::as_bool) == Some(true) {
                finished.push(key);
            } else if first_unfinished.is_none_or(|u| key < u) {
                first_unfinished = Some(key);
            }
        }
        finished
            .into_iter()
            .filter(|k| first_unfinished.is_none_or(|u| *k < u))
            .max()
            .and_then(|k| Path::parse(k).ok())
    }
}

use crate::offsets::OffsetManagerEntry as _;

#[async_trait]
impl SourceTask for ObjectSource {
    async fn configure(&mut self) -> Result<()> {
        let n = self.offsets.populate_all().await?;
        let offsets = self.offsets.clone();
        let stored = offsets.store().list(offsets.connector()).await?;
        let restart = self.restart_position(&stored);
        info!(task = %self.cfg.task_name, bucket = %self.backend.bucket(), stored_offsets = n,
            listing_starts_after = ?restart.as_ref().map(Path::as_ref), "task configured");
        self.listed_up_to = restart.clone();
        self.catch_up = restart;
        self.last_full = Some(Instant::now());
        Ok(())
    }

    async fn poll(&mut self) -> Result<Poll> {
        loop {
            if let Some((id, _)) = &self.failing {
                if self.readers.range(..*id).next().is_none() {
                    let (_, e) = self.failing.take().expect("failing");
                    return Err(e);
                }
            }
            // Open more objects while a slot is free and the listing has more.
            if self.failing.is_none() && self.readers.len() < self.cfg.concurrency.max(1) {
                if !self.in_pass {
                    self.start_pass();
                }
                if let Some(listing) = self.listing.as_mut() {
                    match listing.next().await {
                        Some(Ok(meta)) => {
                            if self.pass_until.as_ref().is_some_and(|u| meta.location > *u) {
                                self.listing = None;
                                continue;
                            }
                            if self
                                .listed_up_to
                                .as_ref()
                                .is_none_or(|k| meta.location > *k)
                            {
                                self.listed_up_to = Some(meta.location.clone());
                            }
                            if let Some(progress) = self.try_open(meta) {
                                return Ok(progress);
                            }
                        }
                        Some(Err(e)) => {
                            self.listing = None;
                            self.in_pass = false;
                            return Err(Error::Store {
                                bucket: self.backend.bucket().to_owned(),
                                object: None,
                                source: Box::new(e),
                            });
                        }
                        None => self.listing = None,
                    }
                    continue;
                }
            }
            if self.readers.is_empty() {
                if self.failing.is_some() {
                    continue;
                }
                // The pass is over.
                self.in_pass = false;
                if !self.cfg.once {
                    return Ok(Poll::Idle);
                }
                if let Some(until) = self.catch_up.take() {
                    // A restarted backfill listed after its restart position first; now the keys
                    // up to it, for what the stored offsets could not know about.
                    self.in_pass = true;
                    self.listing = Some(self.backend.list(None));
                    self.pass_until = Some(until);
                    continue;
                }
                return Ok(Poll::Done);
            }
            let (id, event) = match self.next_buffered() {
                Some(next) => next,
                None => match self
                    .events_rx
                    .recv()
                    .await
                    .expect("the source holds a sender")
                {
                    (id, Event::Items(items)) => {
                        self.batch = Some((id, items.into_iter()));
                        continue;
                    }
                    (id, Event::End) => (id, Next::End),
                },
            };
            let Some(cur) = self.readers.get_mut(&id) else {
                // Left over from a reader dropped after an error.
                continue;
            };
            match event {
                Next::Item(Ok(value)) => {
                    let index = cur.count;
                    cur.count += 1;
                    Metrics::add(&self.metrics.records_read, 1);
                    let cur = &self.readers[&id];
                    return Ok(Poll::Record(self.record(cur, index, value)));
                }
                Next::Item(Err(e)) => {
                    if is_object_gone(&e) {
                        // Deleted (or replaced) between the listing and the read: reported and
                        // skipped, whatever errors.tolerance says; never retried forever.
                        let cur = self.readers.remove(&id).expect("reader");
                        warn!(task = %self.cfg.task_name, bucket = %self.backend.bucket(), object = %cur.input.key(),
                            records = cur.count, error = %e,
                            "the object was deleted or replaced before it could be read to the end; skipping it");
                        return Ok(self.vanished(&cur));
                    }
                    let (recoverable, index) = match &e {
                        Error::Record {
                            recoverable,
                            record_index,
                            ..
                        } => (*recoverable, Some(*record_index)),
                        _ => (false, None),
                    };
                    if self.cfg.tolerance == ErrorsTolerance::None {
                        self.fail(id, e);
                        continue;
                    }
                    let mut failure =
                        Failure::new(Stage::TaskPoll, self.backend.bucket(), cur.input.key(), e);
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
                        self.readers.remove(&id);
                    }
                    return Ok(Poll::Failed {
                        partition,
                        offset,
                        failure: Box::new(failure),
                    });
                }
                Next::End => {
                    let cur = self.readers.remove(&id).expect("reader");
                    return Ok(self.finished(&cur));
                }
            }
        }
    }

    fn has_ready(&self) -> bool {
        self.batch
            .as_ref()
            .is_some_and(|(_, items)| items.len() > 0)
    }

    async fn close_resources(&mut self) {
        self.batch = None;
        self.readers.clear();
        self.listing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use bytes::Bytes;
    use futures::{stream, TryStreamExt};
    use object_store::memory::InMemory;
    use object_store::{ObjectStore, ObjectStoreExt};

    use crate::distribution::DistributionType;
    use crate::offsets::{MemoryOffsetStore, OffsetStore};

    /// InMemory behind the trait's default listing, recording each listing's start-after.
    #[derive(Debug)]
    struct Mem {
        store: Arc<dyn ObjectStore>,
        listings: Mutex<Vec<Option<String>>>,
    }

    impl ObjectBackend for Mem {
        fn bucket(&self) -> &str {
            "mem"
        }
        fn store(&self) -> &Arc<dyn ObjectStore> {
            &self.store
        }
        fn prefix(&self) -> Option<&str> {
            None
        }
        fn list(
            &self,
            start_after: Option<&Path>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.listings
                .lock()
                .unwrap()
                .push(start_after.map(|p| p.to_string()));
            let store = self.store.clone();
            let start_after = start_after.cloned();
            store
                .list(None)
                .try_filter(move |m| {
                    futures::future::ready(start_after.as_ref().is_none_or(|s| m.location > *s))
                })
                .boxed()
        }
    }

    /// One record per line; a line `BAD` is an unrecoverable record error.
    #[derive(Debug)]
    struct Lines;

    impl Transformer for Lines {
        fn transform(&self, input: ObjectInput, skip: u64) -> crate::transformer::RecordStream {
            stream::once(async move {
                let bytes: Vec<Bytes> = match input.stream().await {
                    Ok(s) => s.try_collect().await.unwrap(),
                    Err(e) => return stream::iter(vec![Err(e)]).boxed(),
                };
                let text = String::from_utf8(bytes.concat()).unwrap();
                let key = input.key().to_owned();
                let items: Vec<Result<SchemaAndValue>> = text
                    .lines()
                    .enumerate()
                    .skip(skip as usize)
                    .map(|(i, l)| {
                        if l == "BAD" {
                            Err(Error::Record {
                                object: key.clone(),
                                record_index: i as u64,
                                byte_offset: None,
                                recoverable: false,
                                raw: None,
                                source: "bad line".into(),
                            })
                        } else {
                            Ok(SchemaAndValue::new(
                                Schema::string(),
                                Value::String(l.into()),
                            ))
                        }
                    })
                    .collect();
                // An unrecoverable error ends the stream.
                let end = items
                    .iter()
                    .position(|r| r.is_err())
                    .map_or(items.len(), |i| i + 1);
                stream::iter(items.into_iter().take(end).collect::<Vec<_>>()).boxed()
            })
            .flatten()
            .boxed()
        }
        fn name(&self) -> &'static str {
            "lines"
        }
    }

    struct Harness {
        backend: Arc<Mem>,
        offsets: Arc<MemoryOffsetStore>,
    }

    async fn harness(objects: &[(&str, String)]) -> Harness {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        for (k, v) in objects {
            store.put(&Path::from(*k), v.clone().into()).await.unwrap();
        }
        Harness {
            backend: Arc::new(Mem {
                store,
                listings: Mutex::new(Vec::new()),
            }),
            offsets: Arc::new(MemoryOffsetStore::new()),
        }
    }

    fn source(
        h: &Harness,
        once: bool,
        tolerance: ErrorsTolerance,
        interval: Duration,
    ) -> ObjectSource {
        ObjectSource::new(
            h.backend.clone(),
            Arc::new(Lines),
            Arc::new(OffsetManager::new("c", h.offsets.clone())),
            ObjectSourceConfig {
                topic: Some("t".into()),
                template: None,
                distribution: Distribution::new(DistributionType::ObjectHash, 0, 1).unwrap(),
                tolerance,
                record_key: RecordKey::ObjectKey,
                record_timestamp: RecordTimestamp::None,
                headers: true,
                once,
                task_name: "c-0".into(),
                concurrency: 3,
                overwrite: OverwritePolicy::Ignore,
                full_listing_interval: interval,
                read_retry: ReadRetry::default(),
            },
            Arc::new(Metrics::default()),
        )
    }

    fn lines(key: &str, n: usize) -> String {
        (0..n).map(|i| format!("{key}:{i}\n")).collect()
    }

    /// Polls until Done/Idle (or an error); returns records as (object, value) and progress.
    async fn drain(
        src: &mut ObjectSource,
    ) -> (Vec<(String, String)>, Vec<OffsetMap>, Option<Error>) {
        let (mut records, mut progress) = (Vec::new(), Vec::new());
        loop {
            match src.poll().await {
                Ok(Poll::Record(r)) => {
                    let obj = r.source_partition["object"].as_str().unwrap().to_owned();
                    let Value::String(v) = r.value.value.clone() else {
                        panic!()
                    };
                    records.push((obj, v));
                }
                Ok(Poll::Progress { partition, offset }) => {
                    let mut p = partition;
                    p.extend(offset);
                    progress.push(p);
                }
                Ok(Poll::Failed { .. }) => {}
                Ok(Poll::Idle | Poll::Done) => return (records, progress, None),
                Err(e) => return (records, progress, Some(e)),
            }
        }
    }

    #[tokio::test]
    async fn concurrent_reads_keep_each_objects_order() {
        let objects: Vec<(String, String)> = (0..7)
            .map(|i| {
                let k = format!("o{i}");
                let v = lines(&k, 50 + i * 10);
                (k, v)
            })
            .collect();
        let refs: Vec<(&str, String)> = objects
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let h = harness(&refs).await;
        let mut src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
        src.configure().await.unwrap();
        let (records, progress, err) = drain(&mut src).await;
        assert!(err.is_none());
        for (k, v) in &objects {
            let got: Vec<String> = records
                .iter()
                .filter(|(o, _)| o == k)
                .map(|(_, v)| format!("{v}\n"))
                .collect();
            assert_eq!(got.concat(), *v, "{k}: every record, in order");
        }
        let opened: Vec<&str> = progress
            .iter()
            .filter(|p| p.get(RECORD_COUNT) == Some(&OffsetValue::Long(0)))
            .map(|p| p["object"].as_str().unwrap())
            .collect();
        assert_eq!(
            opened,
            ["o0", "o1", "o2", "o3", "o4", "o5", "o6"],
            "opened in key order"
        );
    }

    #[tokio::test]
    async fn an_error_stops_the_task_after_the_earlier_objects() {
        let mut bad = lines("b", 3);
        bad.push_str("BAD\n");
        let h = harness(&[("a", lines("a", 2000)), ("b", bad), ("c", lines("c", 5))]).await;
        let mut src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
        src.configure().await.unwrap();
        let (records, progress, err) = drain(&mut src).await;
        assert!(
            matches!(
                err,
                Some(Error::Record {
                    record_index: 3,
                    ..
                })
            ),
            "{err:?}"
        );
        assert_eq!(
            records.iter().filter(|(o, _)| o == "a").count(),
            2000,
            "object a delivered whole first"
        );
        assert!(progress.iter().any(|p| p["object"].as_str() == Some("a")
            && p.get(FINISHED) == Some(&OffsetValue::Bool(true))));
        assert!(!progress
            .iter()
            .any(|p| p["object"].as_str() == Some("b") && p.get(FINISHED).is_some()));
    }

    #[tokio::test]
    async fn listings_resume_after_the_greatest_key_and_relist_fully_on_schedule() {
        let h = harness(&[("k1", lines("k1", 2)), ("k2", lines("k2", 2))]).await;
        let mut src = source(&h, false, ErrorsTolerance::None, Duration::from_millis(200));
        src.configure().await.unwrap();
        drain(&mut src).await;
        // A late arrival before the keys seen, and a new key after them.
        h.backend
            .store
            .put(&Path::from("k0"), lines("k0", 1).into())
            .await
            .unwrap();
        h.backend
            .store
            .put(&Path::from("k3"), lines("k3", 1).into())
            .await
            .unwrap();
        let (r, _, _) = drain(&mut src).await;
        assert_eq!(
            r,
            [("k3".to_owned(), "k3:0".to_owned())],
            "incremental: only the new key"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (r, _, _) = drain(&mut src).await;
        assert_eq!(
            r,
            [("k0".to_owned(), "k0:0".to_owned())],
            "full: the late arrival"
        );
        let listings = h.backend.listings.lock().unwrap().clone();
        assert_eq!(listings, [None, Some("k2".into()), None]);
    }

    #[tokio::test]
    async fn a_restart_lists_from_the_restart_position() {
        let h = harness(&[
            ("k1", lines("k1", 1)),
            ("k2", lines("k2", 1)),
            ("k3", lines("k3", 1)),
        ])
        .await;
        let entry = |k: &str, count: i64, finished: bool| {
            let mut e = ObjectOffsetEntry::new("bucket", "mem", "object", k);
            e.set_property(RECORD_COUNT, OffsetValue::Long(count));
            if finished {
                e.set_property(FINISHED, OffsetValue::Bool(true));
            }
            (e.manager_key(), Some(e.properties()))
        };
        // k1 and k3 finished, k2 opened but not finished: the restart position is k1.
        h.offsets
            .put(
                "c",
                vec![
                    entry("k1", 1, true),
                    entry("k2", 0, false),
                    entry("k3", 1, true),
                ],
            )
            .await
            .unwrap();
        let mut src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
        src.configure().await.unwrap();
        let (records, _, err) = drain(&mut src).await;
        assert!(err.is_none());
        assert_eq!(records, [("k2".to_owned(), "k2:0".to_owned())]);
        // Backfill: after the restart position first, then the keys up to it.
        let listings = h.backend.listings.lock().unwrap().clone();
        assert_eq!(listings, [Some("k1".into()), None]);
    }
}
