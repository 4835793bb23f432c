//! [`ReaderPool`]: the objects being read at once (`object.read.concurrency`).
//!
//! Each object is parsed by its own tokio task, which hands its records over in batches of what
//! its bytes already in memory give ([`READY_BATCH`]) through a bounded channel of its own
//! ([`EVENTS_PER_READER`] batches): records of one object arrive in order and memory stays
//! bounded whatever the object size. Objects are opened in key order and numbered in that order,
//! so "opened before" is "sorts before".
//!
//! The task takes the records of one object at a time: once it took an object's first batch it
//! takes that object's records to its end, while the other objects are fetched and parsed ahead
//! into their channels. The next object is the first, in opening order, that has records ready,
//! so an object whose GET is slow to start does not hold up the others. Records of several
//! objects taken as they came would go to as many Kafka partitions at once (the record key is
//! the object's): with four objects at once that cost librdkafka about 0.5 µs more CPU per
//! record, in its locks and in smaller batches (docs/benchmarks/2026-12-05-object-order.md).
//!
//! The failing rule (`errors.tolerance=none`): an error stops the task, but only once every
//! object opened before the failing one is delivered; objects opened after it are dropped.

use std::collections::BTreeMap;

use futures::StreamExt;
use object_store::path::Path;
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::data::SchemaAndValue;
use crate::error::{Error, Result};
use crate::object::ObjectInput;
use crate::offsets::OffsetMap;
use crate::transformer::RecordStream;

/// Batches of records the reading tasks may buffer ahead of the task, per object being read:
/// with [`READY_BATCH`], at most 64 records per object (64 MiB of 64 KiB chunks in all with
/// the default four objects at once).
pub(super) const EVENTS_PER_READER: usize = 4;

/// The most records a reading task hands over at once: the records its object's bytes already
/// in memory give (one hand-over, and one wake-up of the task, per batch instead of per record).
pub(super) const READY_BATCH: usize = 16;

/// An object being read: its records are parsed by a spawned task and arrive in order.
pub(super) struct Reader {
    /// The object.
    pub input: ObjectInput,
    /// Its source partition.
    pub partition: OffsetMap,
    /// The topic of its records.
    pub topic: String,
    /// The Kafka partition of its records (`None`: the producer's choice).
    pub kafka_partition: Option<i32>,
    /// Records of the object consumed so far (delivered, skipped on resume, or failed).
    pub count: u64,
    /// The key of its records when they all share one (`record.key=object_key|template`).
    pub key: Option<String>,
    /// The task parsing it (aborted when the reader is dropped).
    pub task: ReadTask,
}

/// The spawned task parsing one object into its channel, with the object's number in opening
/// order. Dropping it aborts the task.
pub(super) struct ReadTask {
    id: u64,
    handle: tokio::task::JoinHandle<()>,
    /// What the task sends about its object, in order.
    events: mpsc::Receiver<Event>,
}

impl Drop for ReadTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// What a reading task sends about its object.
enum Event {
    /// Records or record errors, in order.
    Items(Vec<Result<SchemaAndValue>>),
    /// The object was read to the end.
    End,
}

/// The error for an object whose reading task ended without reaching the end of the object.
fn lost_task(reader: &Reader) -> Error {
    Error::Record {
        object: reader.input.key().to_owned(),
        record_index: reader.count,
        byte_offset: None,
        recoverable: false,
        raw: None,
        source: "the task reading the object stopped before its end (it panicked; see the log \
                 above); the object is read again from this record after a restart"
            .into(),
    }
}

/// One step of a reading task's events: a record (or record error), or the end.
pub(super) enum Next {
    /// The next record of the object, or the error reading it.
    Item(Result<SchemaAndValue>),
    /// The object was read to the end.
    End,
}

/// The objects being read, by opening order (which is key order).
pub(super) struct ReaderPool {
    concurrency: usize,
    readers: BTreeMap<u64, Reader>,
    next_id: u64,
    /// The reader whose records are being taken, to its end.
    current: Option<u64>,
    /// The rest of the last batch received, and the reader it is from.
    batch: Option<(u64, std::vec::IntoIter<Result<SchemaAndValue>>)>,
    /// An error that stops the task (tolerance `none`): returned once the objects opened before
    /// the failing one are delivered; objects opened after it are dropped.
    failing: Option<(u64, Error)>,
}

impl ReaderPool {
    /// A pool reading up to `concurrency` objects at once (at least one).
    pub(super) fn new(concurrency: usize) -> Self {
        ReaderPool {
            concurrency: concurrency.max(1),
            readers: BTreeMap::new(),
            next_id: 0,
            current: None,
            batch: None,
            failing: None,
        }
    }

    /// Whether another object may be opened now.
    pub(super) fn has_slot(&self) -> bool {
        self.readers.len() < self.concurrency
    }

    /// Whether no object is being read.
    /// Objects being read.
    pub(super) fn len(&self) -> usize {
        self.readers.len()
    }

    /// The last-modified time of the oldest object being read.
    pub(super) fn oldest_modified(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.readers
            .values()
            .map(|r| r.input.meta().last_modified)
            .min()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.readers.is_empty()
    }

    /// Whether object `location` is being read.
    pub(super) fn is_reading(&self, location: &Path) -> bool {
        self.readers
            .values()
            .any(|r| r.input.meta().location == *location)
    }

    /// Spawns the task parsing the next object opened, whose `records` go to its channel in
    /// batches; the object's [`Reader`] takes the task and is then [`insert`](Self::insert)ed.
    pub(super) fn spawn(&mut self, records: RecordStream) -> ReadTask {
        let id = self.next_id;
        self.next_id += 1;
        let (tx, events) = mpsc::channel(EVENTS_PER_READER);
        let handle = tokio::spawn(
            async move {
                let mut records = records.ready_chunks(READY_BATCH);
                while let Some(items) = records.next().await {
                    if tx.send(Event::Items(items)).await.is_err() {
                        return;
                    }
                }
                let _ = tx.send(Event::End).await;
            }
            // The task's span (connector, task) on the object's lines too.
            .in_current_span(),
        );
        ReadTask { id, handle, events }
    }

    /// Adds the reader of an object whose task was just [`spawn`](Self::spawn)ed; returns its
    /// number.
    pub(super) fn insert(&mut self, reader: Reader) -> u64 {
        let id = reader.task.id;
        self.readers.insert(id, reader);
        id
    }

    /// The reader numbered `id`, if it is still reading.
    pub(super) fn get_mut(&mut self, id: u64) -> Option<&mut Reader> {
        self.readers.get_mut(&id)
    }

    /// The reader numbered `id`.
    ///
    /// # Panics
    /// When no reader has that number.
    pub(super) fn reader(&self, id: u64) -> &Reader {
        &self.readers[&id]
    }

    /// Removes the reader numbered `id` (its task is aborted).
    pub(super) fn remove(&mut self, id: u64) -> Option<Reader> {
        self.readers.remove(&id)
    }

    /// The next event, with its reader's number: the rest of the batch at hand first, then the
    /// next event of the reader being taken, waiting for it; else the event of the first reader
    /// (in opening order) that has one, waiting for one when none has (forever when no object
    /// is being read). An event may come from a reader dropped meanwhile (after an error): the
    /// caller skips it. Cancel-safe.
    pub(super) async fn next(&mut self) -> (u64, Next) {
        loop {
            if let Some((id, items)) = self.batch.as_mut() {
                match items.next() {
                    Some(item) => return (*id, Next::Item(item)),
                    None => self.batch = None,
                }
            }
            let current = self.current.filter(|id| self.readers.contains_key(id));
            let readers = &mut self.readers;
            let (id, event) = std::future::poll_fn(|cx| {
                if let Some(id) = current {
                    let reader = readers.get_mut(&id).expect("checked above");
                    return reader.task.events.poll_recv(cx).map(|event| (id, event));
                }
                for (&id, reader) in readers.iter_mut() {
                    if let std::task::Poll::Ready(event) = reader.task.events.poll_recv(cx) {
                        return std::task::Poll::Ready((id, event));
                    }
                }
                std::task::Poll::Pending
            })
            .await;
            self.current = matches!(event, Some(Event::Items(_))).then_some(id);
            match event {
                Some(Event::Items(items)) => self.batch = Some((id, items.into_iter())),
                Some(Event::End) => return (id, Next::End),
                // The task ended without saying so: it panicked (it is aborted only with its
                // reader). The object cannot be read further; nothing it gave is lost.
                None => return (id, Next::Item(Err(lost_task(&self.readers[&id])))),
            }
        }
    }

    /// Whether [`next`](Self::next) has an event at hand without waiting.
    pub(super) fn has_ready(&self) -> bool {
        self.batch
            .as_ref()
            .is_some_and(|(_, items)| items.len() > 0)
    }

    /// Stops the task on `e` from reader `id` (tolerance `none`): readers opened after it are
    /// dropped, and [`take_failure`](Self::take_failure) returns the error once the earlier ones
    /// are delivered. Returns false, changing nothing, when an earlier reader already failed.
    pub(super) fn fail(&mut self, id: u64, e: Error) -> bool {
        if self.failing.as_ref().is_some_and(|(f, _)| *f < id) {
            return false;
        }
        self.readers.retain(|k, _| *k < id);
        self.failing = Some((id, e));
        true
    }

    /// Whether a reader failed (nothing new may be opened).
    pub(super) fn is_failing(&self) -> bool {
        self.failing.is_some()
    }

    /// The error of the failed reader, once every reader opened before it is done.
    pub(super) fn take_failure(&mut self) -> Option<Error> {
        let (id, _) = self.failing.as_ref()?;
        if self.readers.range(..*id).next().is_some() {
            return None;
        }
        self.failing.take().map(|(_, e)| e)
    }

    /// Drops every reader and what they buffered (their tasks are aborted).
    pub(super) fn clear(&mut self) {
        self.batch = None;
        self.current = None;
        self.readers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::Utc;
    use futures::stream;
    use object_store::memory::InMemory;
    use object_store::ObjectMeta;

    use crate::data::{Schema, Value};

    fn value(n: usize) -> SchemaAndValue {
        SchemaAndValue::new(Schema::string(), Value::String(n.to_string()))
    }

    /// A reader of object `key` (nothing is fetched: the records come from the test).
    fn reader(key: &str, task: ReadTask) -> Reader {
        let meta = ObjectMeta {
            location: Path::from(key),
            last_modified: Utc::now(),
            size: 1,
            e_tag: None,
            version: None,
        };
        Reader {
            input: ObjectInput::new("b", Arc::new(InMemory::new()), meta),
            partition: OffsetMap::new(),
            topic: "t".into(),
            kafka_partition: None,
            count: 0,
            key: None,
            task,
        }
    }

    /// Opens `key` in `pool` with `n` records counted in `pulled` as the reading task takes them.
    fn open(pool: &mut ReaderPool, key: &str, n: usize, pulled: Arc<AtomicUsize>) -> u64 {
        let records = stream::iter(0..n)
            .map(move |i| {
                pulled.fetch_add(1, Ordering::Relaxed);
                Ok(value(i))
            })
            .boxed();
        let task = pool.spawn(records);
        pool.insert(reader(key, task))
    }

    #[tokio::test]
    async fn records_of_each_object_arrive_in_order_and_end_once() {
        let mut pool = ReaderPool::new(3);
        let sizes = [100, 7, 40];
        for (i, n) in sizes.iter().enumerate() {
            open(&mut pool, &format!("o{i}"), *n, Arc::default());
        }
        assert!(!pool.has_slot());
        assert!(pool.is_reading(&Path::from("o1")));
        let mut seen = [0usize; 3];
        let mut ended = 0;
        while ended < sizes.len() {
            match pool.next().await {
                (id, Next::Item(Ok(v))) => {
                    let i = id as usize;
                    assert_eq!(v.value, Value::String(seen[i].to_string()), "object {i}");
                    seen[i] += 1;
                }
                (_, Next::Item(Err(e))) => panic!("{e}"),
                (id, Next::End) => {
                    assert_eq!(seen[id as usize], sizes[id as usize], "all before the end");
                    pool.remove(id).unwrap();
                    ended += 1;
                }
            }
        }
        assert!(pool.is_empty() && pool.has_slot() && !pool.has_ready());
    }

    /// Objects whose records are ready come one after the other, whole, in opening order,
    /// whatever order their tasks filled their channels in.
    #[tokio::test]
    async fn ready_objects_come_whole_in_opening_order() {
        let mut pool = ReaderPool::new(3);
        let sizes = [40usize, 30, 5];
        // The first object's task starts late: the others fill their channels first.
        let late = stream::iter(0..sizes[0])
            .then(|i| async move {
                if i == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(value(i))
            })
            .boxed();
        let task = pool.spawn(late);
        pool.insert(reader("o0", task));
        for (i, n) in sizes.iter().enumerate().skip(1) {
            open(&mut pool, &format!("o{i}"), *n, Arc::default());
        }
        // Every object fits in its channel: all are parsed before the first is taken.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut order = Vec::new();
        while !pool.is_empty() {
            match pool.next().await {
                (id, Next::Item(Ok(v))) => order.push((id, v.value)),
                (_, Next::Item(Err(e))) => panic!("{e}"),
                (id, Next::End) => {
                    pool.remove(id).unwrap();
                }
            }
        }
        let expected: Vec<(u64, Value)> = sizes
            .into_iter()
            .enumerate()
            .flat_map(|(id, n)| (0..n).map(move |i| (id as u64, value(i).value)))
            .collect();
        assert_eq!(order, expected);
    }

    /// While the first object has nothing ready, the records of the objects after it are taken:
    /// a slow object does not hold up the others.
    #[tokio::test]
    async fn a_slow_object_does_not_hold_up_the_others() {
        let mut pool = ReaderPool::new(2);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let slow = stream::once(async move {
            let _ = rx.await;
            Ok(value(0))
        })
        .boxed();
        let task = pool.spawn(slow);
        let first = pool.insert(reader("slow", task));
        let second = open(&mut pool, "fast", 3, Arc::default());
        for i in 0..3 {
            let (id, next) = tokio::time::timeout(Duration::from_secs(10), pool.next())
                .await
                .expect("not held up");
            assert_eq!(id, second);
            assert!(matches!(next, Next::Item(Ok(v)) if v.value == value(i).value));
        }
        let (id, next) = pool.next().await;
        assert!(id == second && matches!(next, Next::End));
        pool.remove(second);
        tx.send(()).unwrap();
        let (id, next) = pool.next().await;
        assert!(id == first && matches!(next, Next::Item(Ok(_))));
    }

    /// Once an object's records are being taken, they are taken to its end, even while it is
    /// slower than the objects after it.
    #[tokio::test]
    async fn an_object_started_is_taken_to_its_end() {
        let mut pool = ReaderPool::new(2);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let records = stream::iter(0..2usize)
            .map(Ok)
            .chain(stream::once(async move {
                let _ = rx.await;
                Ok(2)
            }))
            .map(|i| i.map(value))
            .boxed();
        let task = pool.spawn(records);
        let first = pool.insert(reader("first", task));
        let second = open(&mut pool, "second", 3, Arc::default());
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..2 {
            assert_eq!(pool.next().await.0, first);
        }
        // The first object's next record is not ready; the second's are: still the first's.
        let wait = tokio::time::timeout(Duration::from_millis(100), pool.next()).await;
        assert!(
            wait.is_err(),
            "took the second object's records: {:?}",
            wait.map(|w| w.0)
        );
        tx.send(()).unwrap();
        let mut order = Vec::new();
        while !pool.is_empty() {
            let (id, next) = pool.next().await;
            order.push(id);
            if matches!(next, Next::End) {
                pool.remove(id);
            }
        }
        assert_eq!(order, [first, first, second, second, second, second]);
    }

    /// A reading task that panics gives an error for its object (no hang), and the objects
    /// after it are still read.
    #[tokio::test]
    async fn a_panicking_task_is_an_error_for_its_object() {
        let mut pool = ReaderPool::new(2);
        let records = stream::iter(0..3usize)
            .map(|i| {
                assert!(i < 2, "parser bug");
                Ok(value(i))
            })
            .boxed();
        let task = pool.spawn(records);
        pool.insert(reader("broken", task));
        open(&mut pool, "fine", 2, Arc::default());
        let mut got = Vec::new();
        while !pool.is_empty() {
            let (id, next) = tokio::time::timeout(Duration::from_secs(10), pool.next())
                .await
                .expect("no hang");
            match next {
                Next::Item(Ok(_)) => got.push(format!("{id}: record")),
                Next::Item(Err(e)) => {
                    assert!(
                        e.to_string().contains("broken") && e.to_string().contains("panicked"),
                        "{e}"
                    );
                    got.push(format!("{id}: error"));
                    pool.remove(id);
                }
                Next::End => {
                    got.push(format!("{id}: end"));
                    pool.remove(id);
                }
            }
        }
        // The records before the panic are delivered in the batches sent before it, if any.
        assert_eq!(got.last().map(String::as_str), Some("1: end"));
        assert!(got.contains(&"0: error".to_owned()), "{got:?}");
        assert_eq!(got.iter().filter(|g| g.starts_with("1: record")).count(), 2);
    }

    #[tokio::test]
    async fn read_ahead_is_bounded() {
        let mut pool = ReaderPool::new(1);
        let pulled = Arc::new(AtomicUsize::new(0));
        open(&mut pool, "big", 10_000, pulled.clone());
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The channel's batches plus the one the blocked task holds.
        let bound = READY_BATCH * (EVENTS_PER_READER + 1);
        assert!(pulled.load(Ordering::Relaxed) <= bound, "{pulled:?}");
        let _ = pool.next().await;
        assert!(pool.has_ready(), "the rest of the first batch is at hand");
    }

    #[tokio::test]
    async fn a_failure_drops_later_readers_and_waits_for_earlier_ones() {
        let mut pool = ReaderPool::new(4);
        let ids: Vec<u64> = (0..4)
            .map(|i| open(&mut pool, &format!("o{i}"), 1, Arc::default()))
            .collect();
        let err = |n: &str| Error::config(n.to_owned());
        assert!(pool.fail(ids[2], err("two")));
        assert!(pool.is_failing());
        assert!(!pool.is_reading(&Path::from("o2")) && !pool.is_reading(&Path::from("o3")));
        // A later reader's failure changes nothing; an earlier one's takes over.
        assert!(!pool.fail(ids[3], err("three")));
        assert!(pool.fail(ids[1], err("one")));
        assert!(!pool.is_reading(&Path::from("o1")));
        assert!(pool.take_failure().is_none(), "o0 is still read");
        pool.remove(ids[0]);
        let e = pool.take_failure().expect("failure");
        assert!(e.to_string().contains("one"), "{e}");
        assert!(!pool.is_failing() && pool.take_failure().is_none());
    }
}
