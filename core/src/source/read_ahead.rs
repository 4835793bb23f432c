//! [`ReadAhead`]: a listing read by a task of its own, a few pages ahead of the keys the
//! source is looking at.
//!
//! A listing pass does two kinds of work per key: the store's (a page of an S3 listing, a
//! directory read and a `stat` per file) and the source's (is the key this task's, finished,
//! unchanged?). Polled in turn, one waited for the other: the next page was asked for only
//! once the last key of the page before had been looked at. Here the listing runs ahead in a
//! spawned task, handing over the keys in chunks through a bounded channel, so the two overlap
//! and a pass takes about as long as the slower of them. At most [`CHUNKS`] chunks of
//! [`CHUNK`] keys wait in the channel: memory holds a page or two of keys, not the bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use object_store::ObjectMeta;

/// Keys handed over at a time, at most (fewer when the listing has no more ready).
const CHUNK: usize = 256;
/// Chunks waiting in the channel, at most.
const CHUNKS: usize = 4;

type Item = object_store::Result<ObjectMeta>;

/// A listing read ahead (see the module documentation). Dropping it stops the listing.
pub(super) struct ReadAhead {
    chunks: mpsc::Receiver<Vec<Item>>,
    current: std::vec::IntoIter<Item>,
    /// Nanoseconds the listing itself took (waiting for the store and walking), without the
    /// time it waited for room in the channel.
    cost: Arc<AtomicU64>,
    task: tokio::task::AbortHandle,
}

impl ReadAhead {
    /// Starts reading `listing` on a task of its own (on the current Tokio runtime).
    pub(super) fn new(listing: BoxStream<'static, Item>) -> Self {
        let (mut tx, chunks) = mpsc::channel(CHUNKS);
        let cost = Arc::new(AtomicU64::new(0));
        let spent = cost.clone();
        let task = tokio::spawn(async move {
            let mut listing = listing.ready_chunks(CHUNK);
            loop {
                let asked = Instant::now();
                let Some(chunk) = listing.next().await else {
                    break;
                };
                spent.fetch_add(asked.elapsed().as_nanos() as u64, Ordering::Relaxed);
                if tx.send(chunk).await.is_err() {
                    // The pass ended or was given up: nobody reads on.
                    break;
                }
            }
        });
        ReadAhead {
            chunks,
            current: Vec::new().into_iter(),
            cost,
            task: task.abort_handle(),
        }
    }

    /// The next key, in the listing's order; `None` once the listing has ended.
    pub(super) async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            self.current = self.chunks.next().await?.into_iter();
        }
    }

    /// What the listing itself took so far (complete once [`next`](Self::next) says `None`).
    pub(super) fn cost(&self) -> Duration {
        Duration::from_nanos(self.cost.load(Ordering::Relaxed))
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;
    use object_store::path::Path;
    use std::sync::atomic::AtomicUsize;

    fn meta(i: usize) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(format!("k{i:05}")),
            last_modified: chrono::Utc::now(),
            size: i as u64,
            e_tag: None,
            version: None,
        }
    }

    /// Every key comes through once, in order, errors in their place, across chunks and
    /// pages that are slow to come.
    #[tokio::test]
    async fn keys_and_errors_come_through_in_order() {
        let items = (0..3000).map(move |i| {
            if i % 997 == 0 {
                Err(object_store::Error::NotFound {
                    path: format!("k{i}"),
                    source: "gone".into(),
                })
            } else {
                Ok(meta(i))
            }
        });
        // A pause every 300 keys, as a page of a store's listing.
        let listing = stream::iter(items)
            .then(|item| async move {
                if item.as_ref().is_ok_and(|m| m.size % 300 == 0) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                item
            })
            .boxed();
        let mut ahead = ReadAhead::new(listing);
        let mut got = Vec::new();
        while let Some(item) = ahead.next().await {
            got.push(item.map(|m| m.size as usize).map_err(|e| e.to_string()));
        }
        assert_eq!(got.len(), 3000);
        for (i, item) in got.iter().enumerate() {
            match item {
                Ok(n) => assert_eq!(*n, i),
                Err(e) => assert!(i % 997 == 0 && e.contains(&format!("k{i}")), "{i}: {e}"),
            }
        }
        assert!(
            ahead.cost() >= Duration::from_millis(9),
            "{:?}",
            ahead.cost()
        );
        assert!(ahead.next().await.is_none(), "an ended listing stays ended");
    }

    /// The listing runs ahead of the reader by a bounded number of keys, and stops when the
    /// reader is dropped.
    #[tokio::test]
    async fn it_runs_a_bounded_way_ahead_and_stops_when_dropped() {
        let produced = Arc::new(AtomicUsize::new(0));
        let counter = produced.clone();
        let listing = stream::iter(0..usize::MAX)
            .map(move |i| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(meta(i % 100_000))
            })
            .boxed();
        let mut ahead = ReadAhead::new(listing);
        assert!(ahead.next().await.is_some());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ran = produced.load(Ordering::SeqCst);
        assert!(ran > CHUNK, "read ahead: {ran}");
        assert!(ran <= (CHUNKS + 3) * CHUNK, "bounded: {ran}");
        drop(ahead);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let stopped = produced.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(produced.load(Ordering::SeqCst), stopped, "stopped");
    }
}
