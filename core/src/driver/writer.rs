//! Continuous, coalesced offset writes for at-least-once delivery.
//!
//! Acknowledged offsets go to the offset store as they come, not on a timer, so a `kill -9`
//! re-delivers only what was sent and not yet committed:
//!
//! - at most ONE write is in flight per task; while it runs, further acknowledgements
//!   accumulate in [`SubmittedRecords`] and the next write carries all of them (the latest
//!   offset of every source partition whose acknowledged prefix grew), so the number of writes
//!   follows the store's speed, never the record rate;
//! - a write starts as soon as the previous one ended and something new was acknowledged, but
//!   no sooner than the store's [`write_spacing`](OffsetStore::write_spacing) after the
//!   previous one started (20 ms for a file, 100 ms for a topic), and after a pause as long
//!   as the previous write took, up to [`MAX_PAUSE`]: a store that is slow to write (a big
//!   offset file to render) is not kept busy all the time, and the committed offsets still
//!   trail the acknowledgements by at most two writes plus the longer of the two;
//! - the committed offset of a partition never passes a record that was not acknowledged (that
//!   is [`SubmittedRecords`]' contiguous prefix).
//!
//! [`Pacer`] is the decision (pure, property-tested below); [`OffsetWriter`] runs the writes
//! in the background so the task keeps producing meanwhile.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::DriverConfig;
use crate::error::{Error, Result};
use crate::offsets::{OffsetManager, OffsetMap, OffsetStore, SubmittedRecords};

/// The longest pause after a write before the next one (the pause is as long as the write
/// took, up to this).
pub(super) const MAX_PAUSE: Duration = Duration::from_millis(100);

/// When the next write may start after one that started at `started` and ended at `ended`,
/// writes being at least `spacing` apart.
pub(super) fn next_start(started: Instant, ended: Instant, spacing: Duration) -> Instant {
    let took = ended.saturating_duration_since(started);
    (started + spacing).max(ended + took.min(MAX_PAUSE))
}

/// What [`Pacer::start`] decided.
#[derive(Debug, PartialEq)]
pub(super) enum Start {
    /// A write is in flight: what is acknowledged meanwhile goes with the next one.
    Busy,
    /// Nothing new was acknowledged.
    Idle,
    /// Something is to be written, from this instant on.
    At(Instant),
    /// Write this batch (the latest offset of each partition whose acknowledged prefix grew).
    Write(Vec<(OffsetMap, OffsetMap)>),
}

/// When the next offset write may start: at most one in flight, spaced as the module says.
#[derive(Debug)]
pub(super) struct Pacer {
    writing: bool,
    next_at: Option<Instant>,
    /// The least time between the starts of two writes.
    spacing: Duration,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(crate::offsets::DEFAULT_WRITE_SPACING)
    }
}

impl Pacer {
    /// A pacer of writes at least `spacing` apart.
    pub(super) fn new(spacing: Duration) -> Self {
        Pacer {
            writing: false,
            next_at: None,
            spacing,
        }
    }

    /// Writes from now on are at least `spacing` apart.
    pub(super) fn set_spacing(&mut self, spacing: Duration) {
        self.spacing = spacing;
    }

    /// Decides at `now` whether a write starts; when it does, takes its batch from `submitted`.
    pub(super) fn start(&mut self, submitted: &mut SubmittedRecords, now: Instant) -> Start {
        if self.writing {
            return Start::Busy;
        }
        if !submitted.has_committable() {
            return Start::Idle;
        }
        if let Some(at) = self.next_at.filter(|at| now < *at) {
            return Start::At(at);
        }
        let batch = submitted.committable();
        if batch.is_empty() {
            return Start::Idle;
        }
        self.writing = true;
        Start::Write(batch)
    }

    /// The write that started at `started` ended at `ended` (successfully or not).
    pub(super) fn finished(&mut self, started: Instant, ended: Instant) {
        self.writing = false;
        self.next_at = Some(next_start(started, ended, self.spacing));
    }

    /// Whether a write is in flight.
    pub(super) fn writing(&self) -> bool {
        self.writing
    }
}

/// A finished background write.
pub(super) struct Written {
    /// What was written, when `post.read.*` or a commit listener reads it (else empty).
    pub(super) batch: Vec<(OffsetMap, OffsetMap)>,
    /// How many partitions were written.
    pub(super) count: usize,
    /// Whether the store holds it.
    pub(super) result: Result<()>,
    /// How long the write took.
    pub(super) took: Duration,
}

/// What woke the task up: a write ended, or a paced write became due.
pub(super) enum WriterEvent {
    /// The write in flight ended.
    Written(Written),
    /// The spacing after the previous write elapsed.
    Due,
}

type WriteTask = JoinHandle<(Vec<(OffsetMap, OffsetMap)>, usize, Result<()>)>;

/// Runs a task's offset writes in the background, one at a time (see the module).
#[derive(Default)]
pub(super) struct OffsetWriter {
    pacer: Pacer,
    /// The write in flight and when it started.
    task: Option<(Instant, WriteTask)>,
    /// When a paced write becomes due.
    wake: Option<Instant>,
}

impl OffsetWriter {
    /// Starts a write of what `submitted` has newly acknowledged, unless one is in flight or
    /// the spacing says wait (then [`event`](Self::event) says when). Never waits.
    pub(super) fn kick(&mut self, cfg: &DriverConfig, submitted: &mut SubmittedRecords) {
        self.pacer.set_spacing(cfg.offset_store.write_spacing());
        let now = Instant::now();
        match self.pacer.start(submitted, now) {
            Start::Busy | Start::Idle => {}
            Start::At(at) => self.wake = Some(at),
            Start::Write(batch) => {
                self.wake = None;
                let store = cfg.offset_store.clone();
                let connector = cfg.connector.clone();
                let manager = cfg.offset_manager.clone();
                // The batch comes back only for those who read it after the write.
                let keep = cfg.post_read.is_some() || cfg.commit_listener.is_some();
                let task = tokio::spawn(async move {
                    let len = batch.len();
                    let to = Destination {
                        store: &*store,
                        connector: &connector,
                        manager: manager.as_deref(),
                    };
                    let (kept, result) = store_batch(to, batch, keep).await;
                    (kept, len, result)
                });
                self.task = Some((now, task));
            }
        }
    }

    /// Resolves when the write in flight ends or a paced write becomes due; never when there
    /// is nothing to do. Cancel-safe (the write goes on, and is reported by the next call).
    pub(super) async fn event(&mut self) -> WriterEvent {
        if let Some((started, task)) = &mut self.task {
            let started = *started;
            let joined = task.await;
            self.task = None;
            let ended = Instant::now();
            self.pacer.finished(started, ended);
            let (batch, count, result) = match joined {
                Ok(done) => done,
                Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                Err(join) => (
                    Vec::new(),
                    0,
                    Err(Error::io("writing offsets", std::io::Error::other(join))),
                ),
            };
            return WriterEvent::Written(Written {
                batch,
                count,
                result,
                took: ended - started,
            });
        }
        if let Some(at) = self.wake {
            tokio::time::sleep_until(at.into()).await;
            self.wake = None;
            return WriterEvent::Due;
        }
        std::future::pending().await
    }

    /// Waits for the write in flight, if any.
    pub(super) async fn wait(&mut self) -> Option<Written> {
        if !self.pacer.writing() {
            return None;
        }
        match self.event().await {
            WriterEvent::Written(w) => Some(w),
            WriterEvent::Due => None,
        }
    }
}

/// Where [`store_batch`] writes: the task's offset store and connector, and its offset manager
/// (if any).
#[derive(Clone, Copy)]
pub(super) struct Destination<'a> {
    pub(super) store: &'a dyn OffsetStore,
    pub(super) connector: &'a str,
    pub(super) manager: Option<&'a OffsetManager>,
}

impl<'a> Destination<'a> {
    pub(super) fn of(cfg: &'a DriverConfig) -> Self {
        Destination {
            store: &*cfg.offset_store,
            connector: &cfg.connector,
            manager: cfg.offset_manager.as_deref(),
        }
    }
}

/// Writes `batch` to the offset store, then lets the offset manager drop its copies of the
/// finished offsets the store now holds ([`OffsetManager::finished_in`]: taken before the
/// write, so progress cached meanwhile is kept). Returns the batch when `keep` (for whoever
/// reads it after the write; an empty one otherwise, the batch moved into the write) and the
/// write's result.
pub(super) async fn store_batch(
    to: Destination<'_>,
    batch: Vec<(OffsetMap, OffsetMap)>,
    keep: bool,
) -> (Vec<(OffsetMap, OffsetMap)>, Result<()>) {
    let stored = to
        .manager
        .map(|m| m.finished_in(&batch))
        .unwrap_or_default();
    let (put, kept) = if keep {
        let put = batch
            .iter()
            .map(|(p, o)| (p.clone(), Some(o.clone())))
            .collect();
        (put, batch)
    } else {
        let put = batch.into_iter().map(|(p, o)| (p, Some(o))).collect();
        (put, Vec::new())
    };
    let result = to.store.put(to.connector, put).await;
    if let (Some(m), Ok(())) = (to.manager, &result) {
        m.forget_stored(stored);
    }
    (kept, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::OffsetValue;
    use proptest::prelude::*;

    fn part(n: usize) -> OffsetMap {
        OffsetMap::from([(
            "object".to_owned(),
            OffsetValue::from(n.to_string().as_str()),
        )])
    }

    /// recordCount after record `seq` (0-based) of a partition.
    fn count(seq: usize) -> OffsetMap {
        OffsetMap::from([("recordCount".to_owned(), OffsetValue::Long(seq as i64 + 1))])
    }

    fn count_of(o: &OffsetMap) -> usize {
        o["recordCount"].as_long().unwrap() as usize
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Submit a record of partition `.0`.
        Submit(usize),
        /// Acknowledge the `.0`-th (modulo) unacknowledged record: any order.
        Ack(usize),
        /// Try to start a write after `.0` ms.
        Kick(u64),
        /// The write in flight ends after `.0` ms.
        Finish(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0usize..3).prop_map(Op::Submit),
            3 => any::<usize>().prop_map(Op::Ack),
            2 => (0u64..40).prop_map(Op::Kick),
            1 => (0u64..60).prop_map(Op::Finish),
        ]
    }

    /// The length of the acknowledged prefix of each partition.
    fn prefixes(acked: &[Vec<bool>]) -> Vec<usize> {
        acked
            .iter()
            .map(|a| a.iter().take_while(|x| **x).count())
            .collect()
    }

    proptest! {
        /// Random submits, out-of-order acks, write attempts and write ends: at most one write
        /// in flight; a write never passes an unacknowledged record; once a write starts, the
        /// store (with it) holds everything acknowledged before it; writes are spaced; and at
        /// the end everything acknowledged is written.
        #[test]
        fn one_write_in_flight_carrying_everything_acknowledged(
            ops in proptest::collection::vec(op(), 1..200),
            spacing_ms in 0u64..150,
        ) {
            let spacing = Duration::from_millis(spacing_ms);
            let t0 = Instant::now();
            let mut now = t0;
            let mut pacer = Pacer::new(spacing);
            let mut s = SubmittedRecords::new();
            // Per partition: ack flags by sequence, and the ids.
            let mut acked: Vec<Vec<bool>> = vec![Vec::new(); 3];
            let mut ids = Vec::new();
            // What the store holds, counting the write in flight (it may land any time).
            let mut stored: Vec<usize> = vec![0; 3];
            let mut in_flight: Option<Instant> = None;
            let mut last_start: Option<(Instant, Duration)> = None;
            let mut writes = 0;
            for op in ops {
                match op {
                    Op::Submit(p) => {
                        let seq = acked[p].len();
                        ids.push((p, seq, s.submit(part(p), count(seq))));
                        acked[p].push(false);
                    }
                    Op::Ack(i) => {
                        let open: Vec<_> = ids.iter().filter(|(p, q, _)| !acked[*p][*q]).collect();
                        if let Some(&&(p, q, id)) = open.get(i % open.len().max(1)) {
                            s.ack(id);
                            acked[p][q] = true;
                        }
                    }
                    Op::Kick(ms) => {
                        now += Duration::from_millis(ms);
                        match pacer.start(&mut s, now) {
                            Start::Busy => prop_assert!(in_flight.is_some()),
                            Start::Idle => {
                                prop_assert!(in_flight.is_none());
                                prop_assert_eq!(&stored, &prefixes(&acked), "idle with something unwritten");
                            }
                            Start::At(at) => {
                                prop_assert!(in_flight.is_none());
                                prop_assert!(at > now);
                            }
                            Start::Write(batch) => {
                                prop_assert!(in_flight.is_none(), "a second write in flight");
                                if let Some((started, took)) = last_start {
                                    prop_assert!(now >= started + spacing, "writes too close");
                                    prop_assert!(now >= started + took + took.min(MAX_PAUSE), "no pause after a write");
                                }
                                let prefix = prefixes(&acked);
                                for (p, o) in &batch {
                                    let p: usize = p["object"].as_str().unwrap().parse().unwrap();
                                    let c = count_of(o);
                                    prop_assert!(c <= prefix[p], "offset {} of {} passes an unacknowledged record", c, p);
                                    prop_assert!(c > stored[p], "partition {} written without news", p);
                                    stored[p] = c;
                                }
                                // Everything acknowledged before the write is in it (or stored).
                                prop_assert_eq!(&stored, &prefix);
                                in_flight = Some(now);
                                writes += 1;
                            }
                        }
                    }
                    Op::Finish(ms) => {
                        if let Some(started) = in_flight.take() {
                            now += Duration::from_millis(ms);
                            pacer.finished(started, now);
                            last_start = Some((started, now - started));
                        }
                    }
                }
            }
            // Drain: acknowledge all, finish, and write until idle.
            for (p, q, id) in ids {
                s.ack(id);
                acked[p][q] = true;
            }
            if let Some(started) = in_flight.take() {
                pacer.finished(started, now);
            }
            loop {
                now += Duration::from_secs(1);
                match pacer.start(&mut s, now) {
                    Start::Write(batch) => {
                        for (p, o) in &batch {
                            let p: usize = p["object"].as_str().unwrap().parse().unwrap();
                            stored[p] = count_of(o);
                        }
                        pacer.finished(now, now);
                        writes += 1;
                    }
                    Start::Idle => break,
                    other => prop_assert!(false, "{:?} after the drain", other),
                }
            }
            prop_assert_eq!(stored, prefixes(&acked));
            prop_assert!(writes <= acked.iter().map(Vec::len).sum::<usize>());
            prop_assert!(s.is_empty());
        }
    }
}
