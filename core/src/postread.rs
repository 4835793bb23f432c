//! Post-read actions (`object.post.read`): what happens to an object once its offsets are
//! committed — deleted, or moved under another prefix of the same bucket.
//!
//! The driver hands every committed offset that finishes an object to a task's [`PostReader`]
//! (at-least-once: once the offset store holds it; exactly-once: once the transaction holding
//! it committed), never before. The post-reader runs the action in its own tokio task, retries a
//! failure with exponential backoff (`object.post.read.retries`), logs and counts what fails
//! (`post_read_failures`) and, once the action is done, stores the object's offset again with
//! [`POST_READ`]` = "done"`. A finished offset without that property is a pending action: when
//! the task starts again the object source announces it once more (see
//! [`pending`]), so an action cut short by a crash between the commit and the action is
//! finished on restart. The object's records are never delivered again: its offset stays
//! finished throughout.
//!
//! Test hook: when the environment variable [`CRASH_BEFORE_ACTION_ENV`] is set, the process
//! aborts right before the first action, after the commit — the crash this design recovers
//! from, at its worst moment.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt as _};
use object_store::path::Path;
use object_store::ObjectStoreExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::backoff::IdleBackoff;
use crate::config::{PostRead, PostReadSettings};
use crate::contract::ObjectBackend;
use crate::error::{BoxError, Error};
use crate::metrics::Metrics;
use crate::offsets::{OffsetMap, OffsetStore, OffsetValue, FINISHED};

/// Offset property of a finished object whose post-read action is done (the String `"done"`).
pub const POST_READ: &str = "postRead";
/// [`POST_READ`]'s value once the action is done.
pub const POST_READ_DONE: &str = "done";
/// Offset property set when an object was gone before it was read (see the object source); such
/// an object has no post-read action.
const DELETED: &str = "deleted";

/// Actions queued at once; their done markers go to the offset store in one write.
const MAX_BATCH: usize = 512;
/// Actions run at once (store requests in flight).
const CONCURRENCY: usize = 8;

/// Test hook: set (to anything) to make the process abort just before its first post-read
/// action, after the object's offsets were committed. Only the crash tests set it.
pub const CRASH_BEFORE_ACTION_ENV: &str = "SLUICE_TEST_CRASH_BEFORE_POST_READ";

/// True when `offset` finishes an object whose post-read action is still to be done.
pub fn is_pending(offset: &OffsetMap) -> bool {
    offset.get(FINISHED).and_then(OffsetValue::as_bool) == Some(true)
        && offset.get(DELETED).and_then(OffsetValue::as_bool) != Some(true)
        && offset.get(POST_READ).and_then(OffsetValue::as_str) != Some(POST_READ_DONE)
}

/// The stored entries among `stored` whose post-read action is pending, in key order of the
/// object field `object_field`, filtered by `owned` (this task's objects).
pub fn pending<'a>(
    stored: &'a [(OffsetMap, OffsetMap)],
    object_field: &str,
    mut owned: impl FnMut(&OffsetMap) -> bool,
) -> Vec<(OffsetMap, OffsetMap)> {
    let mut out: Vec<&'a (OffsetMap, OffsetMap)> = stored
        .iter()
        .filter(|(p, o)| is_pending(o) && owned(p))
        .collect();
    fn key<'k>(p: &'k OffsetMap, field: &str) -> Option<&'k str> {
        p.get(field).and_then(OffsetValue::as_str)
    }
    out.sort_by(|a, b| key(&a.0, object_field).cmp(&key(&b.0, object_field)));
    out.into_iter().cloned().collect()
}

/// What a task's post-reader needs.
#[derive(Debug, Clone)]
pub struct PostReadConfig {
    /// The action and its retries.
    pub settings: PostReadSettings,
    /// The bucket the objects are in.
    pub backend: Arc<dyn ObjectBackend>,
    /// First wait before a retry (`store.retry.backoff.initial.ms`).
    pub backoff_initial: Duration,
    /// Longest wait between retries (`store.retry.backoff.max.ms`).
    pub backoff_max: Duration,
}

/// A task's post-read actions, run in their own tokio task as objects are committed: up to
/// 8 at once, their done markers written to the offsets in one batch per up to 512
/// actions.
#[derive(Debug)]
pub struct PostReader {
    tx: mpsc::UnboundedSender<(OffsetMap, OffsetMap)>,
    handle: JoinHandle<()>,
}

impl PostReader {
    /// Starts the post-reader of task `task` of `connector`; done actions are recorded in
    /// `offsets`.
    pub fn start(
        cfg: PostReadConfig,
        connector: String,
        task: String,
        offsets: Arc<dyn OffsetStore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(OffsetMap, OffsetMap)>();
        let handle = tokio::spawn(async move {
            let run = Run {
                cfg,
                connector,
                task,
                offsets,
                metrics,
            };
            let mut queued = Vec::new();
            while rx.recv_many(&mut queued, MAX_BATCH).await > 0 {
                let done: Vec<(OffsetMap, OffsetMap)> = stream::iter(queued.drain(..))
                    .map(|(partition, offset)| run.one(partition, offset))
                    .buffer_unordered(CONCURRENCY)
                    .filter_map(std::future::ready)
                    .collect()
                    .await;
                run.record(done).await;
            }
        });
        PostReader { tx, handle }
    }

    /// Queues the action of every object that `committed` (offsets just committed) finishes.
    pub fn committed<'a>(&self, committed: impl IntoIterator<Item = &'a (OffsetMap, OffsetMap)>) {
        for (p, o) in committed {
            if is_pending(o) {
                // The receiver lives until `finish`; a send error means it ended early (a
                // panic), and the action then waits for the next start.
                let _ = self.tx.send((p.clone(), o.clone()));
            }
        }
    }

    /// Runs the queued actions to the end, waiting at most `timeout`; what is left is done at the
    /// next start.
    pub async fn finish(self, timeout: Duration, task: &str) {
        drop(self.tx);
        let mut handle = self.handle;
        if tokio::time::timeout(timeout, &mut handle).await.is_err() {
            handle.abort();
            warn!(task = %task, ?timeout, "post-read actions still running at stop were cut short; they are finished when the task next starts");
        }
    }
}

/// The post-reader's state.
struct Run {
    cfg: PostReadConfig,
    connector: String,
    task: String,
    offsets: Arc<dyn OffsetStore>,
    metrics: Arc<Metrics>,
}

impl Run {
    /// Runs one object's action with retries; returns its offset marked done, or `None` when
    /// the action failed (it stays pending).
    async fn one(
        &self,
        partition: OffsetMap,
        mut offset: OffsetMap,
    ) -> Option<(OffsetMap, OffsetMap)> {
        let (_, object_field) = self.cfg.backend.partition_fields();
        let key = partition
            .get(object_field)
            .and_then(OffsetValue::as_str)
            .map(str::to_owned)?;
        if std::env::var_os(CRASH_BEFORE_ACTION_ENV).is_some() {
            tracing::error!(object = %key, "{CRASH_BEFORE_ACTION_ENV} is set: aborting before the post-read action (test hook)");
            std::process::abort();
        }
        let bucket = self.cfg.backend.bucket().to_owned();
        let mut backoff = IdleBackoff::new(self.cfg.backoff_initial, self.cfg.backoff_max);
        let mut attempt = 0;
        loop {
            match self.act(&key).await {
                Ok(()) => break,
                Err(e) => {
                    Metrics::add(&self.metrics.post_read_failures, 1);
                    let e = Error::Store {
                        bucket: bucket.clone(),
                        object: Some(key.clone()),
                        source: e,
                    };
                    if attempt >= self.cfg.settings.retries {
                        warn!(task = %self.task, object = %key, attempts = attempt + 1, error = %crate::error_chain(&e),
                            "post-read action failed; its records are not delivered again, and it is tried again when the task next starts");
                        return None;
                    }
                    attempt += 1;
                    let wait = backoff.next_delay();
                    warn!(task = %self.task, object = %key, attempt, ?wait, error = %crate::error_chain(&e),
                        "post-read action failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
        Metrics::add(&self.metrics.post_read_actions, 1);
        debug!(task = %self.task, object = %key, "post-read action done");
        offset.insert(POST_READ.to_owned(), POST_READ_DONE.into());
        Some((partition, offset))
    }

    /// Records the `done` actions in the offsets, in one write.
    async fn record(&self, done: Vec<(OffsetMap, OffsetMap)>) {
        if done.is_empty() {
            return;
        }
        let n = done.len();
        let batch = done.into_iter().map(|(p, o)| (p, Some(o))).collect();
        if let Err(e) = self.offsets.put(&self.connector, batch).await {
            // The actions are idempotent: the next start does them again (finding them done).
            warn!(task = %self.task, objects = n, error = %crate::error_chain(&e),
                "post-read actions done but not recorded in the offsets; they are checked again when the task next starts");
        }
    }

    /// The action on `key` once. Idempotent: an object already deleted or moved is fine.
    async fn act(&self, key: &str) -> std::result::Result<(), BoxError> {
        let store = self.cfg.backend.store();
        let from = Path::parse(key)?;
        match &self.cfg.settings.action {
            PostRead::None => Ok(()),
            PostRead::Delete => match store.delete(&from).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            },
            PostRead::Move { prefix } => {
                let to = Path::parse(format!("{prefix}{key}"))?;
                match store.copy(&from, &to).await {
                    Ok(()) => {}
                    // Gone: moved by an earlier attempt cut short after its copy and delete
                    // (the copy is there), or removed by someone else.
                    Err(object_store::Error::NotFound { .. }) => {
                        if store.head(&to).await.is_err() {
                            info!(task = %self.task, object = %key, "object to move is gone and not at its destination; nothing to do");
                        }
                        return Ok(());
                    }
                    Err(e) => return Err(e.into()),
                }
                match store.delete(&from).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::{MemoryOffsetStore, ObjectOffsetEntry, OffsetManagerEntry as _};
    use object_store::memory::InMemory;
    use object_store::ObjectStore;

    #[derive(Debug)]
    struct Bucket(Arc<dyn ObjectStore>);

    impl ObjectBackend for Bucket {
        fn bucket(&self) -> &str {
            "b"
        }
        fn store(&self) -> &Arc<dyn ObjectStore> {
            &self.0
        }
        fn prefix(&self) -> Option<&str> {
            Some("in/")
        }
    }

    fn entry(key: &str, props: &[(&str, OffsetValue)]) -> (OffsetMap, OffsetMap) {
        let mut e = ObjectOffsetEntry::new("bucket", "b", "object", key);
        for (k, v) in props {
            e.set_property(k, v.clone());
        }
        (e.manager_key(), e.properties())
    }

    #[test]
    fn only_finished_objects_not_done_nor_deleted_are_pending() {
        let t = OffsetValue::Bool(true);
        assert!(!is_pending(&entry("a", &[]).1));
        assert!(is_pending(&entry("a", &[(FINISHED, t.clone())]).1));
        assert!(!is_pending(
            &entry("a", &[(FINISHED, t.clone()), (DELETED, t.clone())]).1
        ));
        assert!(!is_pending(
            &entry("a", &[(FINISHED, t.clone()), (POST_READ, "done".into())]).1
        ));
        let stored = vec![
            entry("in/c", &[(FINISHED, t.clone())]),
            entry("in/a", &[(FINISHED, t.clone())]),
            entry("in/b", &[]),
            entry("other/z", &[(FINISHED, t.clone())]),
        ];
        let keys: Vec<String> = pending(&stored, "object", |p| {
            p["object"].as_str().unwrap().starts_with("in/")
        })
        .into_iter()
        .map(|(p, _)| p["object"].as_str().unwrap().to_owned())
        .collect();
        assert_eq!(keys, ["in/a", "in/c"]);
    }

    async fn run_one(action: PostRead, keys: &[&str]) -> (Arc<dyn ObjectStore>, Vec<OffsetMap>) {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        store
            .put(&Path::from("in/a.jsonl"), "x\n".into())
            .await
            .unwrap();
        let offsets = Arc::new(MemoryOffsetStore::new());
        let metrics = Arc::new(Metrics::default());
        let reader = PostReader::start(
            PostReadConfig {
                settings: PostReadSettings { action, retries: 2 },
                backend: Arc::new(Bucket(store.clone())),
                backoff_initial: Duration::from_millis(1),
                backoff_max: Duration::from_millis(5),
            },
            "c".into(),
            "c-0".into(),
            offsets.clone(),
            metrics.clone(),
        );
        let committed: Vec<_> = keys
            .iter()
            .map(|k| entry(k, &[(FINISHED, OffsetValue::Bool(true))]))
            .chain([entry("in/unfinished", &[])])
            .collect();
        reader.committed(&committed);
        reader.finish(Duration::from_secs(5), "c-0").await;
        assert_eq!(
            metrics.snapshot().post_read_actions,
            keys.len() as u64,
            "the unfinished object has no action"
        );
        let stored = offsets.list("c").await.unwrap();
        assert!(stored.iter().all(|(_, o)| o[POST_READ] == "done".into()));
        (store, stored.into_iter().map(|(p, _)| p).collect())
    }

    async fn keys(store: &Arc<dyn ObjectStore>) -> Vec<String> {
        use futures::TryStreamExt;
        let mut k: Vec<String> = store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        k.sort();
        k
    }

    #[tokio::test]
    async fn delete_then_record_done() {
        // A missing object is already deleted: done too.
        let (store, done) = run_one(PostRead::Delete, &["in/a.jsonl", "in/gone.jsonl"]).await;
        assert!(keys(&store).await.is_empty());
        assert_eq!(done.len(), 2);
    }

    #[tokio::test]
    async fn move_copies_under_the_prefix_then_deletes() {
        let (store, done) = run_one(
            PostRead::Move {
                prefix: "done/".into(),
            },
            &["in/a.jsonl"],
        )
        .await;
        assert_eq!(keys(&store).await, ["done/in/a.jsonl"]);
        assert_eq!(done.len(), 1);
        // Again (a restart after a crash before the marker): already moved, still done.
        let offsets = Arc::new(MemoryOffsetStore::new());
        let run = Run {
            cfg: PostReadConfig {
                settings: PostReadSettings {
                    action: PostRead::Move {
                        prefix: "done/".into(),
                    },
                    retries: 0,
                },
                backend: Arc::new(Bucket(store.clone())),
                backoff_initial: Duration::from_millis(1),
                backoff_max: Duration::from_millis(1),
            },
            connector: "c".into(),
            task: "c-0".into(),
            offsets: offsets.clone(),
            metrics: Arc::new(Metrics::default()),
        };
        run.act("in/a.jsonl").await.unwrap();
        assert_eq!(keys(&store).await, ["done/in/a.jsonl"]);
    }

    #[tokio::test]
    async fn a_failing_action_is_retried_counted_and_left_pending() {
        // An invalid key cannot be acted on: every attempt fails.
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let offsets = Arc::new(MemoryOffsetStore::new());
        let metrics = Arc::new(Metrics::default());
        let run = Run {
            cfg: PostReadConfig {
                settings: PostReadSettings {
                    action: PostRead::Delete,
                    retries: 2,
                },
                backend: Arc::new(Bucket(store)),
                backoff_initial: Duration::from_millis(1),
                backoff_max: Duration::from_millis(2),
            },
            connector: "c".into(),
            task: "c-0".into(),
            offsets: offsets.clone(),
            metrics: metrics.clone(),
        };
        let (p, o) = entry("in//bad", &[(FINISHED, OffsetValue::Bool(true))]);
        assert_eq!(run.one(p, o).await, None);
        let m = metrics.snapshot();
        assert_eq!((m.post_read_failures, m.post_read_actions), (3, 0));
        assert!(
            offsets.list("c").await.unwrap().is_empty(),
            "not marked done"
        );
    }
}
