//! Notification-driven discovery: new objects come from the backend's [`NotificationQueue`]
//! instead of listing passes (which then only reconcile, see `plan.rs`).
//!
//! - A receiving tokio task long-polls the queue and hands messages over a small bounded channel
//!   (so it stops receiving while the source is behind, and messages do not sit invisible in
//!   memory); [`Notify::wait`] lets an idle task wake as soon as one arrives.
//! - Each object-created event goes through the same checks as a listed object (prefix,
//!   `file.name.template`, distribution, stored offsets, stability): the source looks the object
//!   up (HEAD) and opens it like a listed one. Events of other kinds, test events, other buckets
//!   and objects already gone are counted by [`IgnoreReason`] and passed over.
//! - A message is deleted only once every object it announced that this task reads has its
//!   finishing offset committed ([`Tracker`], told by the driver through [`CommitListener`]);
//!   a message about objects finished already is deleted at once. Duplicates and out-of-order
//!   deliveries are harmless: a finished object is never read again, and an object being read
//!   makes the message wait for that read's commit.
//! - A message whose objects all belong to another task of the connector is released (made
//!   visible again at once) for that task to receive. A message this task cannot settle now (an
//!   object abandoned after an error, one too young to read, a failed HEAD) is left alone: it
//!   comes back after the queue's visibility timeout.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use object_store::path::Path;
use object_store::ObjectStoreExt as _;

use super::plan::ListingPlan;
use super::{ObjectSource, ObjectSourceConfig};
use crate::contract::{
    CommitListener, IgnoreReason, NotificationQueue, Notifications, ObjectBackend, ObjectEvent,
    Poll, QueueMessage,
};
use crate::error::{BoxError, Error};
use crate::metrics::Metrics;
use crate::object::is_object_gone;
use crate::offsets::{OffsetMap, OffsetValue, FINISHED};

/// Messages received and not yet looked at, at most.
const CHANNEL: usize = 32;
/// Longest wait between receive attempts after queue errors.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// What to do with a message once nothing of it is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// Everything it announced is committed, or needs nothing: delete it.
    Delete,
    /// Only other tasks' objects: make it visible again now.
    Release,
    /// Not settled in this run: forget it; it comes back after the visibility timeout.
    Leave,
}

/// A message being handled.
#[derive(Debug)]
struct Held {
    /// Its latest delivery (the receipt to delete it with).
    message: QueueMessage,
    /// Objects of it whose finishing offset is not committed yet.
    waiting: usize,
    /// Every event of it has been looked at.
    sealed: bool,
    /// Something of it cannot be settled in this run.
    leave: bool,
    /// It announced another task's object.
    other_task: bool,
    /// It announced an object of this task (read, or finished already).
    mine: bool,
}

impl Held {
    fn settle(&self) -> Settle {
        if self.leave {
            Settle::Leave
        } else if self.other_task && !self.mine {
            Settle::Release
        } else {
            Settle::Delete
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Messages being handled, by id.
    held: HashMap<String, Held>,
    /// Objects opened in this run whose finishing offset is not committed yet, with the
    /// messages waiting for it.
    open: HashMap<String, Vec<String>>,
}

/// Which messages wait for which objects; told by the driver what is committed, it deletes
/// the messages whose objects are all committed.
pub(super) struct Tracker {
    state: Mutex<State>,
    queue: Arc<dyn NotificationQueue>,
    /// The source partition field naming the object (`object`, `blob`).
    object_field: &'static str,
    task: String,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("queue", &self.queue.name())
            .field("task", &self.task)
            .finish()
    }
}

impl Tracker {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A delivery of `message`: true when it is new (its events are to be looked at); a
    /// message already held only takes the new receipt.
    fn arrived(&self, message: &QueueMessage) -> bool {
        let mut s = self.state();
        if let Some(h) = s.held.get_mut(&message.id) {
            h.message.receipt = message.receipt.clone();
            return false;
        }
        s.held.insert(
            message.id.clone(),
            Held {
                message: message.clone(),
                waiting: 0,
                sealed: false,
                leave: false,
                other_task: false,
                mine: false,
            },
        );
        true
    }

    /// The source opened `key`: it is pending until its finishing offset is committed.
    pub(super) fn opened(&self, key: &str) {
        self.state().open.entry(key.to_owned()).or_default();
    }

    /// `key` is open (being read, or its finishing offset not committed yet).
    fn wait_possible(&self, key: &str) -> bool {
        self.state().open.contains_key(key)
    }

    /// Message `id` waits for `key` when `key` is open; false when it is not.
    fn wait(&self, id: &str, key: &str) -> bool {
        let mut s = self.state();
        let State { held, open } = &mut *s;
        let (Some(waiters), Some(h)) = (open.get_mut(key), held.get_mut(id)) else {
            return false;
        };
        if !waiters.iter().any(|w| w == id) {
            waiters.push(id.to_owned());
            h.waiting += 1;
        }
        h.mine = true;
        true
    }

    /// Notes something about message `id`.
    fn mark(&self, id: &str, f: impl FnOnce(&mut Held)) {
        if let Some(h) = self.state().held.get_mut(id) {
            f(h);
        }
    }

    /// Every event of message `id` was looked at: settled now unless it waits for objects.
    fn seal(&self, id: &str) {
        let done = {
            let mut s = self.state();
            let Some(h) = s.held.get_mut(id) else { return };
            h.sealed = true;
            if h.waiting > 0 {
                return;
            }
            s.held.remove(id)
        };
        if let Some(h) = done {
            self.settle(h);
        }
    }

    /// `key`'s finishing offset is committed: the messages waiting only for it are settled.
    fn committed_key(&self, key: &str) {
        let done: Vec<Held> = {
            let mut s = self.state();
            let Some(waiters) = s.open.remove(key) else {
                return;
            };
            let mut done = Vec::new();
            for id in waiters {
                let Some(h) = s.held.get_mut(&id) else {
                    continue;
                };
                h.waiting -= 1;
                if h.waiting == 0 && h.sealed {
                    done.extend(s.held.remove(&id));
                }
            }
            done
        };
        for h in done {
            self.settle(h);
        }
    }

    /// Deletes, releases or forgets `h`'s message (in the background; a failure is logged and
    /// the message comes back later, which does no harm).
    fn settle(&self, h: Held) {
        let how = h.settle();
        let message = h.message;
        if how == Settle::Leave {
            debug!(task = %self.task, message = %message.id, "notification left for a later delivery");
            return;
        }
        let queue = self.queue.clone();
        let task = self.task.clone();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let (done, what) = match how {
                Settle::Release => (queue.release(&message).await, "release"),
                _ => (queue.delete(&message).await, "delete"),
            };
            match done {
                Ok(()) => {
                    debug!(task = %task, message = %message.id, "notification {what}d")
                }
                Err(e) => {
                    warn!(task = %task, queue = %queue.name(), message = %message.id, error = %crate::error_chain(e.as_ref()),
                    "could not {what} a notification; it is delivered again after the queue's visibility timeout, which does no harm")
                }
            }
        });
    }
}

impl CommitListener for Tracker {
    fn committed(&self, committed: &[(OffsetMap, OffsetMap)]) {
        for (partition, offset) in committed {
            if offset.get(FINISHED).and_then(OffsetValue::as_bool) != Some(true) {
                continue;
            }
            if let Some(key) = partition
                .get(self.object_field)
                .and_then(OffsetValue::as_str)
            {
                self.committed_key(key);
            }
        }
    }
}

/// An event to look at: the message, the key, and whether it is the message's last.
#[derive(Debug)]
pub(super) struct Event {
    pub id: String,
    pub key: String,
    last: bool,
}

/// A task's notification side: the receiving task, the events to look at, the tracker.
pub(super) struct Notify {
    queue: Arc<dyn NotificationQueue>,
    pub(super) tracker: Arc<Tracker>,
    tx: Option<mpsc::Sender<Result<QueueMessage, BoxError>>>,
    rx: mpsc::Receiver<Result<QueueMessage, BoxError>>,
    /// A message taken by [`Notify::wait`], not looked at yet.
    stash: Option<Result<QueueMessage, BoxError>>,
    receiver: Option<JoinHandle<()>>,
    todo: VecDeque<Event>,
    bucket: String,
    metrics: Arc<Metrics>,
    task: String,
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("queue", &self.queue.name())
            .finish()
    }
}

impl Drop for Notify {
    fn drop(&mut self) {
        if let Some(r) = self.receiver.take() {
            r.abort();
        }
    }
}

impl Notify {
    /// The notification side of task `task` over `n`, for `bucket`'s objects named by the source
    /// partition field `object_field`.
    pub(super) fn new(
        n: &Notifications,
        bucket: &str,
        object_field: &'static str,
        task: &str,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL);
        Notify {
            queue: n.queue.clone(),
            tracker: Arc::new(Tracker {
                state: Mutex::default(),
                queue: n.queue.clone(),
                object_field,
                task: task.to_owned(),
            }),
            tx: Some(tx),
            rx,
            stash: None,
            receiver: None,
            todo: VecDeque::new(),
            bucket: bucket.to_owned(),
            metrics,
            task: task.to_owned(),
        }
    }

    /// Starts receiving (once; later calls do nothing). The first receive failing stops the task
    /// (a wrong queue or missing permissions); later failures are retried with backoff.
    pub(super) fn start(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        let queue = self.queue.clone();
        let metrics = self.metrics.clone();
        let task = self.task.clone();
        info!(task = %task, queue = %queue.name(), "receiving object notifications");
        self.receiver = Some(tokio::spawn(async move {
            let mut received_once = false;
            let mut retry = Duration::from_millis(200);
            loop {
                match queue.receive().await {
                    Ok(messages) => {
                        received_once = true;
                        retry = Duration::from_millis(200);
                        for m in messages {
                            Metrics::add(&metrics.notifications_received, 1);
                            if tx.send(Ok(m)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) if !received_once => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                    Err(e) => {
                        warn!(task = %task, queue = %queue.name(), error = %crate::error_chain(e.as_ref()), ?retry,
                            "receiving notifications failed; retrying (the reconciliation listing still finds new objects)");
                        tokio::time::sleep(retry).await;
                        retry = (retry * 2).min(MAX_RETRY);
                    }
                }
            }
        }));
    }

    /// Stops receiving; messages received and not settled come back after the visibility
    /// timeout.
    pub(super) fn stop(&mut self) {
        if let Some(r) = self.receiver.take() {
            r.abort();
        }
    }

    /// Resolves once a message is at hand (cancel-safe: nothing is lost when dropped).
    pub(super) async fn wait(&mut self) {
        if self.stash.is_some() || !self.todo.is_empty() {
            return;
        }
        match self.rx.recv().await {
            Some(m) => self.stash = Some(m),
            None => std::future::pending().await,
        }
    }

    /// The next object-created event to look at, taking a new message when none is left;
    /// events passed over are counted. `prefix`: the backend's prefix.
    pub(super) fn next_event(&mut self, prefix: Option<&str>) -> Result<Option<Event>, Error> {
        loop {
            if let Some(e) = self.todo.pop_front() {
                return Ok(Some(e));
            }
            let next = match self.stash.take() {
                Some(m) => m,
                None => match self.rx.try_recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(None),
                },
            };
            let message = next.map_err(|source| Error::Notifications {
                queue: self.queue.name().to_owned(),
                source,
            })?;
            if !self.tracker.arrived(&message) {
                continue;
            }
            let keys: Vec<String> = message
                .events
                .iter()
                .filter_map(|e| self.created_key(e, prefix))
                .collect();
            if keys.is_empty() {
                self.tracker.seal(&message.id);
                continue;
            }
            let n = keys.len();
            for (i, key) in keys.into_iter().enumerate() {
                self.todo.push_back(Event {
                    id: message.id.clone(),
                    key,
                    last: i + 1 == n,
                });
            }
        }
    }

    /// The key of an object-created event about this bucket and prefix; other events are
    /// counted and passed over.
    fn created_key(&self, e: &ObjectEvent, prefix: Option<&str>) -> Option<String> {
        match e {
            ObjectEvent::Ignored(reason) => {
                self.ignored(*reason, "");
                None
            }
            ObjectEvent::Created { bucket, key } => {
                if bucket.as_deref().is_some_and(|b| b != self.bucket) {
                    self.ignored(IgnoreReason::OtherBucket, key);
                    None
                } else if prefix.is_some_and(|p| !key.starts_with(p)) {
                    self.ignored(IgnoreReason::OutsidePrefix, key);
                    None
                } else {
                    Some(key.clone())
                }
            }
        }
    }

    /// Counts (and logs) an event passed over.
    pub(super) fn ignored(&self, reason: IgnoreReason, detail: &str) {
        self.metrics
            .notification_ignored(&self.task, reason, detail);
    }

    /// What looking at `e`'s object found; settles the message after its last event.
    pub(super) fn looked_at(&self, e: &Event, outcome: Outcome) {
        let t = &self.tracker;
        match outcome {
            Outcome::Pending => {
                if !t.wait(&e.id, &e.key) {
                    // Opened and committed meanwhile (or never opened): nothing to wait for.
                    t.mark(&e.id, |h| h.mine = true);
                }
            }
            Outcome::Done => t.mark(&e.id, |h| h.mine = true),
            Outcome::OtherTask => t.mark(&e.id, |h| h.other_task = true),
            Outcome::Later => t.mark(&e.id, |h| h.leave = true),
        }
        if e.last {
            t.seal(&e.id);
        }
    }
}

/// The listing plan of a source over `backend`, and its notification side when the backend
/// has a queue (not in a backfill): then the plan lists only to reconcile.
pub(super) fn plan(
    backend: &dyn ObjectBackend,
    cfg: &ObjectSourceConfig,
    metrics: &Arc<Metrics>,
) -> (ListingPlan, Option<Notify>) {
    match backend.notifications().filter(|_| !cfg.once) {
        Some(n) => (
            ListingPlan::new(cfg.once, n.reconciliation_interval).reconcile_only(),
            Some(Notify::new(
                &n,
                backend.bucket(),
                backend.partition_fields().1,
                &cfg.task_name,
                metrics.clone(),
            )),
        ),
        None => (ListingPlan::new(cfg.once, cfg.full_listing_interval), None),
    }
}

impl ObjectSource {
    /// What the task driver tells about committed offsets, when the source has a notification
    /// queue (its messages are deleted once the objects they announced are committed).
    pub fn commit_listener(&self) -> Option<Arc<dyn CommitListener>> {
        self.notify
            .as_ref()
            .map(|n| n.tracker.clone() as Arc<dyn CommitListener>)
    }

    /// Looks at notified objects while a reader slot is free: opens the ones to read now;
    /// returns the progress an opened fresh object yields. `None`: no notification at hand.
    pub(super) async fn next_notified(&mut self) -> Result<Option<Poll>, Error> {
        loop {
            let prefix = self.backend.prefix().map(str::to_owned);
            let Some(n) = self.notify.as_mut() else {
                return Ok(None);
            };
            let Some(event) = n.next_event(prefix.as_deref())? else {
                return Ok(None);
            };
            let (outcome, progress) = self.look_at(&event.key).await;
            if let Some(n) = &self.notify {
                n.looked_at(&event, outcome);
            }
            if progress.is_some() {
                return Ok(progress);
            }
        }
    }

    /// What to do about notified object `key`: looked up (HEAD) and taken like a listed object.
    async fn look_at(&mut self, key: &str) -> (Outcome, Option<Poll>) {
        let location = Path::parse(key).unwrap_or_else(|_| Path::from(key));
        if self.abandoned.contains(&location) {
            return (Outcome::Later, None);
        }
        if let Some(n) = &self.notify {
            if n.tracker.wait_possible(key) {
                return (Outcome::Pending, None);
            }
        }
        let meta = match self.backend.store().head(&location).await {
            Ok(meta) => meta,
            Err(e) if is_object_gone(&e) => {
                if let Some(n) = &self.notify {
                    n.ignored(IgnoreReason::Deleted, key);
                }
                return (Outcome::Done, None);
            }
            Err(e) => {
                warn!(task = %self.cfg.task_name, bucket = %self.backend.bucket(), object = %key, error = %crate::error_chain(&e),
                    "cannot look up a notified object; its notification is looked at again when it comes back (or the reconciliation listing finds the object)");
                return (Outcome::Later, None);
            }
        };
        // Another task's object (one the template does not take is counted by `accept`).
        let owned = match &self.matcher {
            Some(m) => m
                .matches(key)
                .map(|km| self.cfg.distribution.owns(key, Some(&km.values))),
            None => Some(self.cfg.distribution.owns(key, None)),
        };
        if owned == Some(false) {
            return (Outcome::OtherTask, None);
        }
        let deferred = self.pass.deferred;
        let progress = self.try_open(meta);
        if self.readers.is_reading(&location) {
            (Outcome::Pending, progress)
        } else if self.pass.deferred > deferred {
            (Outcome::Later, progress)
        } else {
            (Outcome::Done, progress)
        }
    }
}

/// What the source found about a notified object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Being read (or read and not committed yet): the message waits for its commit.
    Pending,
    /// Nothing to read (finished and committed already, not taken by the template, empty, gone).
    Done,
    /// Another task's object.
    OtherTask,
    /// Cannot be settled now (abandoned after an error, too young, lookup failed).
    Later,
}

#[cfg(test)]
mod tests;
