//! Object-store requests counted by operation and outcome: [`InstrumentedBackend`] wraps a
//! connector's [`ObjectBackend`] (its listings) and the [`ObjectStore`] behind it (reads,
//! heads, writes, copies, deletes), counting into a [`StoreStats`] the worker exposes on
//! `/metrics`. Transient outcomes (server errors, throttling, timeouts) are the ones Sluice
//! retries, after object_store's own retries.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

use crate::contract::ObjectBackend;
use crate::object::is_transient;

/// A kind of store request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreOp {
    /// A listing (one per listing pass; a cloud listing is several pages).
    List,
    /// A GET of an object (or of a range of it).
    Get,
    /// A HEAD (metadata only).
    Head,
    /// A PUT (also multipart uploads).
    Put,
    /// A server-side copy (or rename).
    Copy,
    /// A delete.
    Delete,
}

impl StoreOp {
    /// Every operation, in label order.
    pub const ALL: [StoreOp; 6] = [
        StoreOp::List,
        StoreOp::Get,
        StoreOp::Head,
        StoreOp::Put,
        StoreOp::Copy,
        StoreOp::Delete,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreOp::List => "list",
            StoreOp::Get => "get",
            StoreOp::Head => "head",
            StoreOp::Put => "put",
            StoreOp::Copy => "copy",
            StoreOp::Delete => "delete",
        }
    }
}

/// How a store request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreOutcome {
    /// It succeeded.
    Ok,
    /// The object was not there.
    NotFound,
    /// A server error, throttling, a timeout or a broken connection: retried.
    Transient,
    /// Any other failure (refused, bad credentials, precondition failed, ...).
    Error,
}

impl StoreOutcome {
    /// Every outcome, in label order.
    pub const ALL: [StoreOutcome; 4] = [
        StoreOutcome::Ok,
        StoreOutcome::NotFound,
        StoreOutcome::Transient,
        StoreOutcome::Error,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreOutcome::Ok => "ok",
            StoreOutcome::NotFound => "not_found",
            StoreOutcome::Transient => "transient",
            StoreOutcome::Error => "error",
        }
    }

    /// The outcome of `r`.
    pub fn of<T>(r: &Result<T>) -> Self {
        match r {
            Ok(_) => StoreOutcome::Ok,
            Err(e) => Self::of_error(e),
        }
    }

    fn of_error(e: &object_store::Error) -> Self {
        if matches!(e, object_store::Error::NotFound { .. }) {
            StoreOutcome::NotFound
        } else if is_transient(e) {
            StoreOutcome::Transient
        } else {
            StoreOutcome::Error
        }
    }
}

const OPS: usize = StoreOp::ALL.len();
const OUTCOMES: usize = StoreOutcome::ALL.len();

/// Request counts of one connector's store, by operation and outcome, and why the connector
/// waits for the store, if it does.
#[derive(Debug, Default)]
pub struct StoreStats {
    counts: [[AtomicU64; OUTCOMES]; OPS],
    /// Set by a request that failed transiently (after object_store's own retries: Sluice
    /// retries it), cleared by the next one that succeeds.
    waiting: std::sync::Mutex<Option<String>>,
}

impl StoreStats {
    /// Counts one request.
    pub fn record(&self, op: StoreOp, outcome: StoreOutcome) {
        self.counts[op as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request by its result, and notes (or clears) a transient failure as the
    /// reason the connector waits.
    pub fn record_result<T>(&self, op: StoreOp, r: &Result<T>) {
        let outcome = StoreOutcome::of(r);
        self.record(op, outcome);
        let note = match (r, outcome) {
            (Err(e), StoreOutcome::Transient) => Some(format!(
                "waiting for the object store: a {} request failed ({}); retrying with backoff (store.retry.*)",
                op.as_str(),
                crate::error_chain(e)
            )),
            (Ok(_), _) => None,
            // A definite answer (not found, refused) says the store is up.
            (Err(_), _) => None,
        };
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if *waiting != note {
            *waiting = note;
        }
    }

    /// Why the connector waits for the store (its last request failed transiently and is
    /// retried), or `None`.
    pub fn waiting(&self) -> Option<String> {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> StoreStatsSnapshot {
        let mut counts = [[0; OUTCOMES]; OPS];
        for (row, live) in counts.iter_mut().zip(&self.counts) {
            for (c, l) in row.iter_mut().zip(live) {
                *c = l.load(Ordering::Relaxed);
            }
        }
        StoreStatsSnapshot { counts }
    }
}

/// A plain copy of [`StoreStats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreStatsSnapshot {
    counts: [[u64; OUTCOMES]; OPS],
}

impl StoreStatsSnapshot {
    /// Requests of `op` that ended with `outcome`.
    pub fn get(&self, op: StoreOp, outcome: StoreOutcome) -> u64 {
        self.counts[op as usize][outcome as usize]
    }

    /// `(op, outcome, count)` for every pair.
    pub fn iter(&self) -> impl Iterator<Item = (StoreOp, StoreOutcome, u64)> + '_ {
        StoreOp::ALL.into_iter().flat_map(move |op| {
            StoreOutcome::ALL
                .into_iter()
                .map(move |o| (op, o, self.get(op, o)))
        })
    }
}

/// Counts a listing once: at its first error, at its end, or (stopped early) when dropped.
struct ListGuard {
    stats: Arc<StoreStats>,
    done: bool,
}

impl ListGuard {
    fn finish<T>(&mut self, result: &Result<T>) {
        if !self.done {
            self.done = true;
            self.stats.record_result(StoreOp::List, result);
        }
    }
}

impl Drop for ListGuard {
    fn drop(&mut self) {
        self.finish(&Ok(()));
    }
}

fn counted_listing(
    inner: BoxStream<'static, Result<ObjectMeta>>,
    stats: Arc<StoreStats>,
) -> BoxStream<'static, Result<ObjectMeta>> {
    let guard = ListGuard { stats, done: false };
    futures::stream::unfold(Some((inner, guard)), |state| async move {
        let (mut inner, mut guard) = state?;
        match inner.next().await {
            Some(item) => {
                if item.is_err() {
                    guard.finish(&item);
                }
                Some((item, Some((inner, guard))))
            }
            None => {
                guard.finish(&Ok(()));
                None
            }
        }
    })
    .boxed()
}

/// A backend whose listings and store requests are counted in a [`StoreStats`].
pub struct InstrumentedBackend {
    inner: Arc<dyn ObjectBackend>,
    store: Arc<dyn ObjectStore>,
    stats: Arc<StoreStats>,
}

impl fmt::Debug for InstrumentedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl InstrumentedBackend {
    /// `inner`, counted into `stats`.
    pub fn new(inner: Arc<dyn ObjectBackend>, stats: Arc<StoreStats>) -> Self {
        let store = Arc::new(CountingStore {
            inner: inner.store().clone(),
            stats: stats.clone(),
        });
        InstrumentedBackend {
            inner,
            store,
            stats,
        }
    }
}

impl ObjectBackend for InstrumentedBackend {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }

    fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn prefix(&self) -> Option<&str> {
        self.inner.prefix()
    }

    fn partition_fields(&self) -> (&'static str, &'static str) {
        self.inner.partition_fields()
    }

    fn notifications(&self) -> Option<crate::contract::Notifications> {
        self.inner.notifications()
    }

    fn list(&self, start_after: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        counted_listing(self.inner.list(start_after), self.stats.clone())
    }
}

/// The store behind an [`InstrumentedBackend`].
#[derive(Debug)]
struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    stats: Arc<StoreStats>,
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl CountingStore {
    fn count<T>(&self, op: StoreOp, r: Result<T>) -> Result<T> {
        self.stats.record_result(op, &r);
        r
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.count(
            StoreOp::Put,
            self.inner.put_opts(location, payload, opts).await,
        )
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.count(
            StoreOp::Put,
            self.inner.put_multipart_opts(location, opts).await,
        )
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let op = if options.head {
            StoreOp::Head
        } else {
            StoreOp::Get
        };
        self.count(op, self.inner.get_opts(location, options).await)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.count(StoreOp::Get, self.inner.get_ranges(location, ranges).await)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let stats = self.stats.clone();
        self.inner
            .delete_stream(locations)
            .inspect(move |r| stats.record(StoreOp::Delete, StoreOutcome::of(r)))
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        counted_listing(self.inner.list(prefix), self.stats.clone())
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        counted_listing(
            self.inner.list_with_offset(prefix, offset),
            self.stats.clone(),
        )
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.count(StoreOp::List, self.inner.list_with_delimiter(prefix).await)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.count(StoreOp::Copy, self.inner.copy_opts(from, to, options).await)
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.count(
            StoreOp::Copy,
            self.inner.rename_opts(from, to, options).await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::ObjectStoreExt;

    #[derive(Debug)]
    struct Mem(Arc<dyn ObjectStore>);

    impl ObjectBackend for Mem {
        fn bucket(&self) -> &str {
            "mem"
        }
        fn store(&self) -> &Arc<dyn ObjectStore> {
            &self.0
        }
        fn prefix(&self) -> Option<&str> {
            None
        }
    }

    #[tokio::test]
    async fn requests_are_counted_by_operation_and_outcome() {
        let stats = Arc::new(StoreStats::default());
        let b = InstrumentedBackend::new(Arc::new(Mem(Arc::new(InMemory::new()))), stats.clone());
        let store = b.store().clone();
        store.put(&Path::from("a"), "x".into()).await.unwrap();
        store.get(&Path::from("a")).await.unwrap();
        store.head(&Path::from("a")).await.unwrap();
        assert!(store.get(&Path::from("missing")).await.is_err());
        let listed: Vec<_> = b.list(None).collect().await;
        assert_eq!(listed.len(), 1);
        // A listing dropped before its end counts once too.
        drop(b.list(None));
        store.delete(&Path::from("a")).await.unwrap();
        let s = stats.snapshot();
        assert_eq!(s.get(StoreOp::Put, StoreOutcome::Ok), 1);
        assert_eq!(s.get(StoreOp::Get, StoreOutcome::Ok), 1);
        assert_eq!(s.get(StoreOp::Head, StoreOutcome::Ok), 1);
        assert_eq!(s.get(StoreOp::Get, StoreOutcome::NotFound), 1);
        assert_eq!(s.get(StoreOp::List, StoreOutcome::Ok), 2);
        assert_eq!(s.get(StoreOp::Delete, StoreOutcome::Ok), 1);
        assert_eq!(s.iter().map(|(_, _, n)| n).sum::<u64>(), 7);
    }
}
