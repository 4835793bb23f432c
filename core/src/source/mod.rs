//! [`ObjectSource`]: the [`SourceTask`] shared by every object-store backend.
//!
//! It lists the bucket in key order, keeps the objects `file.name.template` takes (anchored,
//! whole key or relative to the prefix, then Aiven's search: [`crate::matcher`]) and that this
//! task owns under the distribution strategy, skips objects
//! the offsets say are finished, resumes a partly read object at its stored record count, and turns
//! each object's records into [`SourceRecord`](crate::record::SourceRecord)s.
//!
//! - Listing runs in passes. A pass lists after the greatest key seen so far (one cheap LIST when
//!   nothing is new); at most every `listing.full.interval.ms` a pass lists from the beginning of
//!   the prefix, which picks up late arrivals (keys sorting before ones already processed) and
//!   overwritten objects. After a restart the first pass starts at the restart position computed
//!   from the stored offsets (`restart.rs`), so finished objects are neither downloaded nor,
//!   mostly, listed again. When to list, and from where, is the pure state machine of `plan.rs`.
//! - Up to `object.read.concurrency` objects are read at once, opened in key order, each parsed
//!   by its own tokio task into a bounded channel (`readers.rs`): records of one object stay in
//!   order, offsets stay per object (the driver commits each object's acknowledged prefix).
//! - Which listed objects the task takes (its share, the template, routing, stability, finished
//!   and changed objects) is decided in `accept.rs`.
//! - Records, and the offsets opening and closing an object, are built in `build.rs`.
//! - An object is taken only once it is stable: last modified at least `object.min.age.ms` ago
//!   (`local.file.min.age.ms` for folders); a younger one is deferred to a later pass (a backfill
//!   waits for it). A last line without terminator is held back while the object is younger than
//!   `object.partial.line.wait.ms` (the object stays open before it, see `stability.rs`).
//! - An object deleted (or replaced) between listing and reading is reported and skipped; an
//!   object found finished with another ETag or size follows `object.overwrite.policy`
//!   (`stability.rs`).
//! - The stored offsets are read once per task, in [`SourceTask::configure`], one entry at a
//!   time: they fill the offset cache and give the restart position (a second walk only when
//!   an unfinished object sorts before the greatest finished one).
//! - With a notification queue (`notify.rs`) new objects come from it; listings only reconcile.

mod accept;
mod build;
use accept::Accepted;
mod notify;
mod plan;
mod read_ahead;
mod readers;
mod restart;
mod skips;
mod stability;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use object_store::path::Path;
use object_store::ObjectMeta;
use tracing::{debug, info, warn};

use crate::config::{ErrorsTolerance, OverwritePolicy, RecordTimestamp};
use crate::contract::{Failure, ObjectBackend, Poll, SourceTask, Stage};
use crate::distribution::Distribution;
use crate::error::{Error, Result};
use crate::matcher::{How, KeyMatcher, MatchMode};
use crate::metrics::Metrics;
use crate::object::{is_object_gone, ObjectInput, ReadRetry, Tail};
use crate::offsets::{OffsetManager, OffsetMap, OffsetValue, FINISHED, RECORD_COUNT};
use crate::routing::Routing;
use crate::template::{FileNameTemplate, TemplateMatch};
use crate::transformer::Transformer;

pub use crate::metrics::SkipReason;
pub use build::{DELETED, HEADER_BUCKET, HEADER_ETAG, HEADER_INDEX, HEADER_OBJECT};
use plan::{Key, Listing, ListingPlan, PassEnd};
use read_ahead::ReadAhead;
use readers::{Next, Reader, ReaderPool};

/// Settings of an [`ObjectSource`] (from the connector configuration).
#[derive(Debug, Clone)]
pub struct ObjectSourceConfig {
    /// `topic`.
    pub topic: Option<String>,
    /// `file.name.template`.
    pub template: Option<FileNameTemplate>,
    /// `file.name.template.match`: whether Aiven's unanchored search is tried after the
    /// anchored matches (see [`crate::matcher`]).
    pub template_match: MatchMode,
    /// `native.start.key` (Aiven): only objects whose key sorts after it are read.
    pub start_after_key: Option<String>,
    /// This task's share.
    pub distribution: Distribution,
    /// `errors.tolerance`.
    pub tolerance: ErrorsTolerance,
    /// `record.key`, `record.partition` and `topic.regex.list`.
    pub routing: Routing,
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
    /// `object.min.age.ms` (`local.file.min.age.ms`): how long ago an object must have been
    /// modified last to be read.
    pub min_age: Duration,
    /// `object.partial.line.wait.ms`: while an object is younger than this, a last line without
    /// terminator is held back.
    pub partial_line_wait: Duration,
    /// `input.envelope`: each record read is an envelope restored to the original record.
    pub envelope: Option<crate::envelope::Envelope>,
    /// `object.post.read` is not `none`: finished objects whose action is pending are announced
    /// again at start (see [`crate::postread`]).
    pub post_read: bool,
}

/// The object-store [`SourceTask`].
pub struct ObjectSource {
    backend: Arc<dyn ObjectBackend>,
    transformer: Arc<dyn Transformer>,
    offsets: Arc<OffsetManager>,
    cfg: ObjectSourceConfig,
    metrics: Arc<Metrics>,
    /// When to list, and from where.
    plan: ListingPlan,
    /// The listing under way, if any, read ahead on a task of its own.
    listing: Option<ReadAhead>,
    /// Objects being read.
    readers: ReaderPool,
    /// Objects abandoned in this run after an unrecoverable error (tolerance `all`).
    abandoned: HashSet<Path>,
    /// Objects read up to a held-back last line, to be looked at again.
    held: HashMap<Path, stability::Held>,
    /// Versions (key, ETag, size) of finished objects already warned about as changed.
    changed: HashSet<(Path, Option<String>, u64)>,
    /// The listing pass under way: when it started, objects listed, objects deferred and the
    /// oldest of them.
    pass: PassStats,
    /// The oldest object the last complete pass deferred.
    deferred_oldest: Option<chrono::DateTime<chrono::Utc>>,
    /// Finished objects whose post-read action is pending, announced again before listing.
    pending_post_read: Vec<(OffsetMap, OffsetMap)>,
    /// Versions (key, ETag, size) of objects no rule of `topic.regex.list` matches, each
    /// logged and counted once per run.
    unrouted: HashSet<(Path, Option<String>, u64)>,
    /// `file.name.template` with the backend's prefix: which keys it takes.
    matcher: Option<KeyMatcher>,
    /// Warnings given once per run (a listing that took nothing; keys taken only by Aiven's
    /// search; keys Aiven would have read with other values).
    warned: skips::Warned,
    /// The backend's notification queue, when it has one (not in a backfill): new objects
    /// come from it, listings only reconcile.
    notify: Option<notify::Notify>,
    /// When the listings started failing (transiently), if the last one failed.
    listing_failing_since: Option<Instant>,
}

/// What the listing pass under way has seen so far.
#[derive(Debug, Default)]
struct PassStats {
    started: Option<Instant>,
    listed: u64,
    deferred: u64,
    oldest_deferred: Option<chrono::DateTime<chrono::Utc>>,
    /// Objects listed and not taken, by reason, with a few sample keys.
    skipped: skips::PassSkips,
    /// Objects the pass opened, or found finished already.
    taken: u64,
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
        let (plan, notify) = notify::plan(backend.as_ref(), &cfg, &metrics);
        ObjectSource {
            backend,
            transformer,
            offsets,
            plan,
            notify,
            listing_failing_since: None,
            readers: ReaderPool::new(cfg.concurrency),
            cfg,
            metrics,
            listing: None,
            abandoned: HashSet::new(),
            held: HashMap::new(),
            changed: HashSet::new(),
            pass: PassStats::default(),
            deferred_oldest: None,
            pending_post_read: Vec::new(),
            unrouted: HashSet::new(),
            matcher: None,
            warned: skips::Warned::default(),
        }
        .with_matcher()
    }

    fn with_matcher(mut self) -> Self {
        self.matcher = self
            .cfg
            .template
            .as_ref()
            .map(|t| KeyMatcher::new(t, self.backend.prefix(), self.cfg.template_match));
        self
    }

    /// Updates the gauges of objects in progress and of the oldest one not read yet (being
    /// read, or deferred by the last pass).
    fn update_gauges(&self) {
        Metrics::set(&self.metrics.objects_in_progress, self.readers.len() as u64);
        let oldest = [
            self.readers.oldest_modified(),
            self.pass.oldest_deferred,
            self.deferred_oldest,
        ]
        .into_iter()
        .flatten()
        .min();
        self.metrics.set_oldest_unread(oldest);
    }

    /// The listing pass under way ended (or was given up).
    fn pass_ended(&mut self) {
        let pass = std::mem::take(&mut self.pass);
        if pass.started.is_some() && pass.taken == 0 && pass.deferred == 0 {
            self.warned.took_nothing(
                &self.metrics,
                &self.cfg.task_name,
                self.backend.bucket(),
                self.backend.prefix(),
                self.matcher.as_ref().map(|m| m.template().as_str()),
                pass.listed,
                &pass.skipped,
            );
        }
        if let Some(started) = pass.started {
            self.metrics.listing_ended(
                &self.cfg.task_name,
                started.elapsed(),
                pass.listed,
                pass.deferred,
            );
        }
        // Deferred objects stay waiting until a later pass takes them.
        self.deferred_oldest = pass.oldest_deferred;
        self.update_gauges();
    }

    /// Opens `meta` if this task reads it now. A fresh object first yields its offset
    /// `{recordCount: 0, etag}`, so the stored offsets know every object that was opened (the
    /// restart position never moves past an object opened but not finished).
    fn try_open(&mut self, meta: ObjectMeta) -> Option<Poll> {
        let accepted = self.accept(&meta)?;
        let fresh = accepted.fresh;
        let id = self.open(meta, accepted);
        fresh.then(|| self.opened(self.readers.reader(id)))
    }

    /// Starts reading `meta` from record `skip`; returns its reader's number.
    fn open(&mut self, meta: ObjectMeta, accepted: Accepted) -> u64 {
        let Accepted {
            matched,
            topic,
            skip,
            ..
        } = accepted;
        let hold_tail = stability::age(&meta) < self.cfg.partial_line_wait;
        let key = meta.location.to_string();
        if skip > 0 {
            info!(task = %self.cfg.task_name, object = %key, skip, "resuming object");
        } else {
            debug!(task = %self.cfg.task_name, object = %key, "reading object");
        }
        Metrics::add(&self.metrics.bytes_read, meta.size);
        let input = ObjectInput::new(self.backend.bucket(), self.backend.store().clone(), meta)
            .with_retry(self.cfg.read_retry)
            .with_hold_tail(hold_tail);
        let records = self.records(input.clone(), skip);
        let task = self.readers.spawn(records);
        let record_key = self.cfg.routing.object_key(&key, matched.as_ref());
        let kafka_partition = self.cfg.routing.partition(matched.as_ref());
        let partition = self.partition_of(&key);
        if let Some(n) = &self.notify {
            n.tracker.opened(&key);
        }
        let id = self.readers.insert(Reader {
            partition,
            input,
            topic,
            kafka_partition,
            count: skip,
            key: record_key,
            task,
        });
        self.update_gauges();
        id
    }

    /// Starts `listing`.
    fn list(&mut self, listing: Listing) {
        debug!(task = %self.cfg.task_name, start_after = ?listing.start_after.as_ref().map(Path::as_ref),
            until = ?listing.until.as_ref().map(Path::as_ref), "listing");
        self.listing = Some(ReadAhead::new(
            self.backend.list(listing.start_after.as_ref()),
        ));
        self.pass = PassStats {
            started: Some(Instant::now()),
            ..PassStats::default()
        };
    }

    /// Stops the task on `e` from reader `id` (tolerance `none`): nothing new is opened, readers
    /// opened after it are dropped, and the error is returned once the earlier ones are delivered.
    fn fail(&mut self, id: u64, e: Error) {
        if self.readers.fail(id, e) {
            self.listing = None;
            self.plan.listing_ended();
            self.pass_ended();
        }
    }
}

#[async_trait]
impl SourceTask for ObjectSource {
    async fn configure(&mut self) -> Result<()> {
        // The one read of the stored offsets: it fills the cache and gives the restart position.
        if let Some(m) = &self.matcher {
            for w in m.start_warnings() {
                tracing::warn!(task = %self.cfg.task_name, "{w}");
            }
            self.warned.topic_and_template(
                &self.cfg.task_name,
                self.cfg.topic.as_deref(),
                m.template(),
            );
        }
        let offsets = self.offsets.clone();
        let mut scan = restart::Scan::new(self.backend.as_ref(), &self.cfg);
        let stored = offsets.populate_all(&mut |p, o| scan.visit(p, o)).await?;
        if scan.needs_second_walk() {
            offsets
                .store()
                .for_each(offsets.connector(), &mut |p, o| scan.visit_again(&p, &o))
                .await?;
        }
        let restart = scan.position();
        info!(task = %self.cfg.task_name, bucket = %self.backend.bucket(), stored_offsets = stored,
            listing_starts_after = ?restart.as_ref().map(Path::as_ref), "task configured");
        self.plan.resume(restart, Instant::now());
        if let Some(n) = self.notify.as_mut() {
            n.start();
        }
        self.pending_post_read = scan.pending_post_read();
        if !self.pending_post_read.is_empty() {
            info!(task = %self.cfg.task_name, objects = self.pending_post_read.len(),
                "post-read actions left pending by the last run are done first");
        }
        // Popped from the end: first key first.
        self.pending_post_read.reverse();
        Ok(())
    }

    async fn poll(&mut self) -> Result<Poll> {
        if let Some((partition, offset)) = self.pending_post_read.pop() {
            return Ok(Poll::Progress { partition, offset });
        }
        loop {
            if let Some(e) = self.readers.take_failure() {
                return Err(e);
            }
            // Open more objects while a slot is free and notifications or the listing have more.
            if !self.readers.is_failing() && self.readers.has_slot() {
                if let Some(progress) = self.next_notified().await? {
                    return Ok(progress);
                }
                if self.listing.is_none() {
                    if let Some(listing) = self.plan.start_pass(Instant::now()) {
                        self.list(listing);
                    }
                }
                if let Some(listing) = self.listing.as_mut() {
                    let next = listing.next().await;
                    match next {
                        Some(Ok(meta)) => {
                            self.listing_failing_since = None;
                            if self.plan.listed(&meta.location) == Key::PastEnd {
                                self.listing = None;
                                self.pass_ended();
                                continue;
                            }
                            self.pass.listed += 1;
                            Metrics::add(&self.metrics.objects_listed, 1);
                            let key = self.notify.is_some().then(|| meta.location.to_string());
                            if let Some(progress) = self.try_open(meta) {
                                if let Some(key) = key {
                                    // A fresh object a listing found before any notification.
                                    self.metrics.object_reconciled(&self.cfg.task_name, &key);
                                }
                                return Ok(progress);
                            }
                        }
                        Some(Err(e)) => {
                            self.listing = None;
                            self.plan.listing_failed();
                            self.pass_ended();
                            let since =
                                *self.listing_failing_since.get_or_insert_with(Instant::now);
                            if crate::object::is_transient(&e)
                                && since.elapsed() < self.cfg.read_retry.give_up_after
                            {
                                // The store is down or overloaded (after object_store's and
                                // the listing's own retries): wait and list again, for up to
                                // store.retry.timeout.ms. The idle backoff (capped at 5 s)
                                // paces it; the next poll starts the pass again.
                                warn!(task = %self.cfg.task_name, bucket = %self.backend.bucket(),
                                    error = %crate::error_chain(&e),
                                    "waiting for the object store: listing failed; listing again after a backoff");
                                return Ok(Poll::Idle);
                            }
                            return Err(Error::Store {
                                bucket: self.backend.bucket().to_owned(),
                                object: None,
                                source: Box::new(e),
                            });
                        }
                        None => {
                            let cost = listing.cost();
                            self.listing = None;
                            self.listing_failing_since = None;
                            self.plan.listing_took(cost);
                            self.plan.listing_ended();
                            self.pass_ended();
                        }
                    }
                    continue;
                }
            }
            if self.readers.is_empty() {
                if self.readers.is_failing() {
                    continue;
                }
                // The pass's listing is over and its objects are read.
                match self.plan.readers_idle() {
                    PassEnd::Idle => return Ok(Poll::Idle),
                    PassEnd::Done => return Ok(Poll::Done),
                    PassEnd::List(listing) => {
                        self.list(listing);
                        continue;
                    }
                }
            }
            let (id, mut event) = self.readers.next().await;
            let Some(cur) = self.readers.get_mut(id) else {
                // Left over from a reader dropped after an error.
                continue;
            };
            // An envelope that cannot be restored is a record error like a malformed line.
            let restored = build::restore(self.cfg.envelope.as_ref(), cur, &mut event);
            match event {
                Next::Item(Ok(value)) => {
                    let index = cur.count;
                    cur.count += 1;
                    Metrics::add(&self.metrics.records_read, 1);
                    let cur = self.readers.reader(id);
                    let mut record = self.record(cur, index, value);
                    if let Some(restored) = restored {
                        restored.apply(&mut record);
                    }
                    return Ok(Poll::Record(record));
                }
                Next::Item(Err(e)) => {
                    if is_object_gone(&e) {
                        // Deleted (or replaced) between the listing and the read: reported and
                        // skipped, whatever errors.tolerance says; never retried forever.
                        let cur = self.readers.remove(id).expect("reader");
                        self.update_gauges();
                        self.metrics.object_vanished(
                            &self.cfg.task_name,
                            self.backend.bucket(),
                            cur.input.key(),
                            cur.count,
                            &e,
                        );
                        return Ok(self.vanished(cur));
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
                        self.readers.remove(id);
                        self.update_gauges();
                    }
                    return Ok(Poll::Failed {
                        partition,
                        offset,
                        failure: Box::new(failure),
                    });
                }
                Next::End => {
                    let cur = self.readers.remove(id).expect("reader");
                    self.update_gauges();
                    if let Tail::Held(at) = cur.input.tail() {
                        self.hold(&cur, at);
                        continue;
                    }
                    return Ok(self.finished(cur));
                }
            }
        }
    }

    fn has_ready(&self) -> bool {
        self.readers.has_ready()
    }

    async fn wake(&mut self) {
        match self.notify.as_mut() {
            Some(n) => n.wait().await,
            None => std::future::pending().await,
        }
    }

    async fn close_resources(&mut self) {
        if let Some(n) = self.notify.as_mut() {
            n.stop();
        }
        self.readers.clear();
        self.listing = None;
        self.pass = PassStats::default();
        self.deferred_oldest = None;
        self.update_gauges();
    }
}

#[cfg(test)]
mod tests;
