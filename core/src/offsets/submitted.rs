//! [`SubmittedRecords`]: which offsets may be committed, like Kafka Connect's `SubmittedRecords`.
//!
//! The task driver submits each record (source partition + source offset) before producing it
//! and acknowledges it when Kafka acks it; acks may arrive in any order. An offset may be
//! committed only once every earlier record of the same source partition was acknowledged too,
//! so [`SubmittedRecords::committable`] returns, per partition, the offset of the last record of
//! its contiguous acknowledged prefix.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::store::canonical_partition;
use super::value::{CompactMap as Compact, OffsetMap};

/// Tags each [`SubmittedRecords`], so an id from another instance is ignored.
static NEXT_OWNER: AtomicU32 = AtomicU32::new(0);

/// Identifies one submitted record, for [`SubmittedRecords::ack`]. Cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubmittedId {
    owner: u32,
    partition: u64,
    seq: u64,
}

#[derive(Debug)]
struct Slot {
    offset: Compact,
    acked: bool,
}

#[derive(Debug)]
struct PartitionQueue {
    partition: Compact,
    /// Its JSON form, the key of [`SubmittedRecords::ids`] too (one allocation for both).
    canonical: Arc<str>,
    /// Sequence number (within this partition) of `queue[0]`.
    base_seq: u64,
    queue: VecDeque<Slot>,
    /// In `SubmittedRecords::ready` (its front is acknowledged).
    ready: bool,
    /// The offset of the last record of the acknowledged prefix already taken off `queue`
    /// (taken off at once, so memory follows the records in flight, not those since the last
    /// commit), and how many records that prefix had.
    settled: Option<Compact>,
    settled_count: usize,
}

/// Records submitted to Kafka and not yet committed, per source partition. Submit and ack are
/// O(1) amortised (submit also hashes the partition unless it is the previous submit's);
/// [`committable`](Self::committable) costs O(records it removes + partitions it returns).
#[derive(Debug)]
pub struct SubmittedRecords {
    owner: u32,
    /// Partition id → its queue. Ids are never reused, so a stale id is harmless.
    queues: HashMap<u64, PartitionQueue>,
    /// Canonical partition → partition id.
    ids: HashMap<Arc<str>, u64>,
    next_partition: u64,
    /// Partitions whose front record is acknowledged, in the order they became so.
    ready: Vec<u64>,
    /// The partition of the previous submit, to skip hashing for runs of the same partition.
    last: Option<u64>,
    pending: usize,
}

impl Default for SubmittedRecords {
    fn default() -> Self {
        Self::new()
    }
}

impl SubmittedRecords {
    /// Nothing submitted.
    pub fn new() -> Self {
        SubmittedRecords {
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
            queues: HashMap::new(),
            ids: HashMap::new(),
            next_partition: 0,
            ready: Vec::new(),
            last: None,
            pending: 0,
        }
    }

    /// Records that a record of source partition `partition` with source offset `offset` is being
    /// produced; call [`ack`](Self::ack) with the id once Kafka acknowledged it.
    pub fn submit(&mut self, partition: OffsetMap, offset: OffsetMap) -> SubmittedId {
        let same_as_last = self
            .last
            .and_then(|id| self.queues.get(&id).map(|q| (id, q)))
            .filter(|(_, q)| q.partition.is(&partition))
            .map(|(id, _)| id);
        let id = match same_as_last {
            Some(id) => id,
            None => {
                let canonical = canonical_partition(&partition);
                match self.ids.get(canonical.as_str()) {
                    Some(&id) => id,
                    None => {
                        let id = self.next_partition;
                        self.next_partition += 1;
                        let canonical: Arc<str> = canonical.into();
                        self.ids.insert(canonical.clone(), id);
                        self.queues.insert(
                            id,
                            PartitionQueue {
                                partition: partition.into(),
                                canonical,
                                base_seq: 0,
                                queue: VecDeque::new(),
                                ready: false,
                                settled: None,
                                settled_count: 0,
                            },
                        );
                        id
                    }
                }
            }
        };
        self.last = Some(id);
        let q = self
            .queues
            .get_mut(&id)
            .expect("queue of a known partition id");
        let seq = q.base_seq + q.queue.len() as u64;
        q.queue.push_back(Slot {
            offset: offset.into(),
            acked: false,
        });
        self.pending += 1;
        SubmittedId {
            owner: self.owner,
            partition: id,
            seq,
        }
    }

    /// Marks a submitted record as acknowledged by Kafka. Idempotent; ids that are unknown (from
    /// another instance, or whose record was already committed) are ignored.
    pub fn ack(&mut self, id: SubmittedId) {
        if id.owner != self.owner {
            return;
        }
        let Some(q) = self.queues.get_mut(&id.partition) else {
            return;
        };
        let Some(index) = id.seq.checked_sub(q.base_seq) else {
            return;
        };
        let Some(slot) = usize::try_from(index).ok().and_then(|i| q.queue.get_mut(i)) else {
            return;
        };
        slot.acked = true;
        if index == 0 {
            while q.queue.front().is_some_and(|s| s.acked) {
                q.settled = q.queue.pop_front().map(|s| s.offset);
                q.base_seq += 1;
                q.settled_count += 1;
            }
            if !q.ready {
                q.ready = true;
                self.ready.push(id.partition);
            }
        }
    }

    /// For each source partition with newly committable records, the offset of the last record
    /// of its contiguous acknowledged prefix; that prefix is removed. Partitions with nothing
    /// new are omitted. Partitions come in the order their front record became acknowledged.
    pub fn committable(&mut self) -> Vec<(OffsetMap, OffsetMap)> {
        let mut out = Vec::with_capacity(self.ready.len());
        for id in std::mem::take(&mut self.ready) {
            let Some(q) = self.queues.get_mut(&id) else {
                continue;
            };
            q.ready = false;
            let Some(offset) = q.settled.take() else {
                continue;
            };
            self.pending -= std::mem::take(&mut q.settled_count);
            if q.queue.is_empty() {
                // Forget the partition; a later submit for it starts a new queue (new id).
                let q = self.queues.remove(&id).expect("present");
                self.ids.remove(&q.canonical);
                if self.last == Some(id) {
                    self.last = None;
                }
                out.push((q.partition.into_map(), offset.into_map()));
            } else {
                out.push((q.partition.to_map(), offset.into_map()));
            }
        }
        out
    }

    /// Whether `id` was handed out by this instance.
    pub fn owns(&self, id: SubmittedId) -> bool {
        id.owner == self.owner
    }

    /// True when [`committable`](Self::committable) has something new to return (a partition's
    /// acknowledged prefix grew since the last call). O(1).
    pub fn has_committable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The number of records submitted and not yet removed by [`committable`](Self::committable).
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// The number of source partitions (objects) with records submitted and not yet removed by
    /// [`committable`](Self::committable).
    pub fn partitions(&self) -> usize {
        self.queues.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::OffsetValue;
    use proptest::prelude::*;

    fn p(name: &str) -> OffsetMap {
        OffsetMap::from([("object".to_owned(), OffsetValue::from(name))])
    }

    fn o(n: i64) -> OffsetMap {
        OffsetMap::from([("n".to_owned(), OffsetValue::Long(n))])
    }

    /// Memory follows the records in flight: an acknowledged prefix leaves the queue at once,
    /// not at the next commit (which may be a minute away).
    #[test]
    fn acknowledged_prefix_is_released_before_the_commit() {
        let mut s = SubmittedRecords::new();
        let ids: Vec<_> = (0..1000).map(|n| s.submit(p("a"), o(n))).collect();
        for id in &ids[..999] {
            s.ack(*id);
        }
        let held: usize = s.queues.values().map(|q| q.queue.len()).sum();
        assert_eq!(held, 1, "only the unacknowledged record is held");
        assert_eq!(s.pending(), 1000, "nothing committed yet");
        assert_eq!(s.committable(), vec![(p("a"), o(998))]);
        assert_eq!(s.pending(), 1);
        s.ack(ids[999]);
        assert_eq!(s.committable(), vec![(p("a"), o(999))]);
        assert!(s.is_empty());
        assert!(s.queues.is_empty() && s.ids.is_empty());
    }

    #[test]
    fn only_the_contiguous_prefix_is_committable() {
        let mut s = SubmittedRecords::new();
        let a0 = s.submit(p("a"), o(0));
        let b0 = s.submit(p("b"), o(0));
        let a1 = s.submit(p("a"), o(1));
        let a2 = s.submit(p("a"), o(2));
        assert_eq!(s.pending(), 4);
        s.ack(a1);
        s.ack(a2);
        assert!(s.committable().is_empty(), "a0 not acked yet");
        s.ack(b0);
        assert_eq!(s.committable(), vec![(p("b"), o(0))]);
        assert!(s.committable().is_empty(), "nothing new");
        s.ack(a0);
        s.ack(a0); // idempotent
        assert_eq!(s.committable(), vec![(p("a"), o(2))]);
        assert_eq!(s.pending(), 0);
        assert!(s.is_empty());
        // Acks of committed records and of other instances are ignored.
        s.ack(a1);
        let mut other = SubmittedRecords::new();
        let x = other.submit(p("a"), o(9));
        s.ack(x);
        assert!(s.committable().is_empty());
        // The partition can be submitted again.
        let a3 = s.submit(p("a"), o(3));
        s.ack(a1); // stale id of the same partition: ignored
        assert!(s.committable().is_empty());
        s.ack(a3);
        assert_eq!(s.committable(), vec![(p("a"), o(3))]);
    }

    #[test]
    fn partial_prefix_then_rest() {
        let mut s = SubmittedRecords::new();
        let ids: Vec<_> = (0..5).map(|i| s.submit(p("a"), o(i))).collect();
        s.ack(ids[0]);
        s.ack(ids[1]);
        s.ack(ids[3]);
        assert_eq!(s.committable(), vec![(p("a"), o(1))]);
        assert_eq!(s.pending(), 3);
        s.ack(ids[2]);
        assert_eq!(s.committable(), vec![(p("a"), o(3))]);
        s.ack(ids[4]);
        assert_eq!(s.committable(), vec![(p("a"), o(4))]);
        assert_eq!(s.pending(), 0);
    }

    proptest! {
        /// Random interleavings of several partitions, random ack order, committable at random
        /// points: every committed offset ends an acked prefix, never goes backwards, and after
        /// all acks the last committed offset of each partition is its last submitted one.
        #[test]
        fn commits_follow_the_acked_prefix(
            (parts, order, checks) in proptest::collection::vec(0usize..4, 1..80)
                .prop_flat_map(|parts| {
                    let n = parts.len();
                    (
                        Just(parts),
                        Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
                        proptest::collection::vec(any::<bool>(), n),
                    )
                })
        ) {
            let mut s = SubmittedRecords::new();
            // Per partition: the submitted offsets, in order.
            let mut submitted: Vec<Vec<i64>> = vec![Vec::new(); 4];
            let mut ids = Vec::new();
            let mut acked = vec![false; parts.len()];
            // record index -> (partition, position within the partition)
            let mut pos = Vec::new();
            for (i, &part) in parts.iter().enumerate() {
                let n = i as i64 * 10; // increasing, distinct
                ids.push(s.submit(p(&part.to_string()), o(n)));
                pos.push((part, submitted[part].len()));
                submitted[part].push(n);
            }
            prop_assert_eq!(s.pending(), parts.len());
            let mut committed: Vec<Option<usize>> = vec![None; 4]; // last committed position
            let check = |s: &mut SubmittedRecords,
                         acked: &[bool],
                         committed: &mut Vec<Option<usize>>|
             -> Result<(), TestCaseError> {
                let got = s.committable();
                let mut seen = std::collections::HashSet::new();
                for (part_map, off) in got {
                    let part: usize = part_map["object"].as_str().unwrap().parse().unwrap();
                    prop_assert!(seen.insert(part), "partition {} twice", part);
                    let n = off["n"].as_long().unwrap();
                    let at = submitted[part].iter().position(|&x| x == n).unwrap();
                    // Every record of the partition up to `at` is acked...
                    for (i, &(pp, k)) in pos.iter().enumerate() {
                        if pp == part && k <= at {
                            prop_assert!(acked[i], "record {} of {} not acked", k, part);
                        }
                    }
                    // ...and `at` ends the acked prefix.
                    let next = pos.iter().position(|&(pp, k)| pp == part && k == at + 1);
                    if let Some(next) = next {
                        prop_assert!(!acked[next], "prefix of {} goes beyond {}", part, at);
                    }
                    prop_assert!(committed[part].is_none_or(|c| c < at), "went backwards");
                    committed[part] = Some(at);
                }
                // Partitions with a new acked prefix must be reported.
                for part in 0..4 {
                    let prefix = (0..submitted[part].len())
                        .take_while(|&k| pos.iter().zip(acked).any(|(&(pp, kk), &a)| pp == part && kk == k && a))
                        .count();
                    if prefix > 0 {
                        prop_assert_eq!(committed[part], Some(prefix - 1));
                    }
                }
                Ok(())
            };
            for (step, &i) in order.iter().enumerate() {
                s.ack(ids[i]);
                if step % 3 == 0 {
                    s.ack(ids[i]); // duplicate acks are harmless
                }
                acked[i] = true;
                if checks[step] {
                    check(&mut s, &acked, &mut committed)?;
                }
            }
            check(&mut s, &acked, &mut committed)?;
            for part in 0..4 {
                if !submitted[part].is_empty() {
                    prop_assert_eq!(committed[part], Some(submitted[part].len() - 1));
                }
            }
            prop_assert_eq!(s.pending(), 0);
            prop_assert!(s.committable().is_empty());
        }
    }
}
