//! [`FinishedSet`]: the offsets of finished objects, held compactly in the
//! [`OffsetManager`](super::OffsetManager)'s cache.
//!
//! A finished object's offset is almost always `{recordCount, finished: true, etag, size}`
//! (plus `lastLineUnterminated: true` for some). Held as an [`OffsetMap`] beside its source
//! partition, one such entry costs about a kilobyte (two B-tree nodes, their strings, the
//! canonical key); a task that has finished millions of objects would hold gigabytes. Here one
//! costs a fixed-size slot of 40 bytes plus its ETag's bytes:
//!
//! - the source partition is not kept, only a 128-bit digest of its canonical form
//!   (xxh3-128 with a seed drawn at random per process). The cache only answers "what is
//!   stored for this partition?"; the partitions themselves stay in the offset store, which
//!   `sluice offsets list`, the REST API and the restart read. Two partitions with the same
//!   digest would make one object look finished with the other's offset: among `n` entries
//!   the probability of any such pair is at most `n² / 2¹²⁹` (about 1.5 × 10⁻²⁵ for ten
//!   million objects), and as the seed is random per process no key can be chosen to collide
//!   on purpose. Even then, the other object's ETag and size would have to match the listed
//!   ones for it to be skipped: otherwise it counts as a changed finished object
//!   (`object.overwrite.policy`).
//! - the offset is kept exactly: [`FinishedSet::get`] rebuilds the very map that was inserted.
//!   Only maps of the shape above are taken ([`FinishedSet::insert`] refuses any other, which
//!   the manager keeps as a map).
//!
//! Slots live in a sorted vector (binary search) with a small sorted overlay of recent
//! changes, merged into it once the overlay outgrows an eighth of it; ETags live in one byte
//! arena, rebuilt when half of it is garbage.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};

use super::entry::{ETAG, FINISHED, LAST_LINE_UNTERMINATED, RECORD_COUNT, SIZE};
use super::value::{OffsetMap, OffsetValue};

/// The digest of a canonical source partition.
type Digest = [u64; 2];

/// Flags of a [`FinishedOffset`] in a compact form: which optional fields it has.
pub(super) const HAS_ETAG: u8 = 1;
pub(super) const HAS_SIZE: u8 = 2;
pub(super) const HAS_UNTERMINATED: u8 = 4;
/// The value of `lastLineUnterminated`, when it has one.
pub(super) const UNTERMINATED: u8 = 8;

/// The shape of a finished object's offset: `finished: true`, a Long `recordCount` and,
/// optionally, a String `etag`, a Long `size` and a Boolean `lastLineUnterminated`, nothing
/// else. Both compact forms of finished offsets hold exactly this shape: the manager's
/// [`FinishedSet`] and the stores' entries (`entries/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FinishedOffset<'a> {
    pub(super) record_count: i64,
    pub(super) etag: Option<&'a str>,
    pub(super) size: Option<i64>,
    pub(super) unterminated: Option<bool>,
}

impl<'a> FinishedOffset<'a> {
    /// `data` split into its fields when it has the finished shape; `None` otherwise.
    pub(super) fn of(data: &'a OffsetMap) -> Option<Self> {
        let (mut count, mut etag, mut size, mut unterminated, mut finished) =
            (None, None, None, None, false);
        for (k, v) in data {
            match (k.as_str(), v) {
                (FINISHED, OffsetValue::Bool(true)) => finished = true,
                (RECORD_COUNT, OffsetValue::Long(n)) => count = Some(*n),
                (ETAG, OffsetValue::String(s)) => etag = Some(s.as_str()),
                (SIZE, OffsetValue::Long(n)) => size = Some(*n),
                (LAST_LINE_UNTERMINATED, OffsetValue::Bool(b)) => unterminated = Some(*b),
                _ => return None,
            }
        }
        finished.then_some(())?;
        Some(FinishedOffset {
            record_count: count?,
            etag,
            size,
            unterminated,
        })
    }

    /// Which optional fields it has ([`HAS_ETAG`], ...).
    pub(super) fn flags(&self) -> u8 {
        self.etag.map_or(0, |_| HAS_ETAG)
            | self.size.map_or(0, |_| HAS_SIZE)
            | match self.unterminated {
                Some(true) => HAS_UNTERMINATED | UNTERMINATED,
                Some(false) => HAS_UNTERMINATED,
                None => 0,
            }
    }

    /// The offset from its fields, as [`flags`](Self::flags) said them.
    pub(super) fn from_flags(flags: u8, record_count: i64, etag: &'a str, size: i64) -> Self {
        FinishedOffset {
            record_count,
            etag: (flags & HAS_ETAG != 0).then_some(etag),
            size: (flags & HAS_SIZE != 0).then_some(size),
            unterminated: (flags & HAS_UNTERMINATED != 0).then_some(flags & UNTERMINATED != 0),
        }
    }

    /// The offset map.
    pub(super) fn to_map(self) -> OffsetMap {
        let mut data = OffsetMap::new();
        data.insert(FINISHED.to_owned(), OffsetValue::Bool(true));
        data.insert(
            RECORD_COUNT.to_owned(),
            OffsetValue::Long(self.record_count),
        );
        if let Some(e) = self.etag {
            data.insert(ETAG.to_owned(), e.into());
        }
        if let Some(size) = self.size {
            data.insert(SIZE.to_owned(), OffsetValue::Long(size));
        }
        if let Some(u) = self.unterminated {
            data.insert(LAST_LINE_UNTERMINATED.to_owned(), OffsetValue::Bool(u));
        }
        data
    }
}

/// A listed object's version, as a finished offset is compared with it: its ETag and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectVersion<'a> {
    /// The ETag the listing gave, if any.
    pub etag: Option<&'a str>,
    /// The size in bytes.
    pub size: i64,
}

impl ObjectVersion<'_> {
    /// Whether a finished offset with ETag `etag` and size `size` was stored for this version:
    /// the same ETag (or neither has one) and, when the offset has a size, the same size.
    /// Anything else is a changed object (`object.overwrite.policy`).
    pub fn is(&self, etag: Option<&str>, size: Option<i64>) -> bool {
        etag == self.etag && size.is_none_or(|s| s == self.size)
    }
}

impl FinishedOffset<'_> {
    /// Whether this finished offset was stored for `version` ([`ObjectVersion::is`]).
    pub(super) fn is_version(&self, version: &ObjectVersion<'_>) -> bool {
        version.is(self.etag, self.size)
    }
}

/// A finished offset, owned: what a write stored, to be compared with what a [`FinishedSet`]
/// holds once the write is done ([`FinishedSet::remove_if`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    record_count: i64,
    size: i64,
    flags: u8,
    etag: Box<str>,
}

impl Held {
    /// `data`'s fields when it has the finished shape; `None` otherwise.
    pub(crate) fn of(data: &OffsetMap) -> Option<Held> {
        let f = FinishedOffset::of(data)?;
        Some(Held {
            record_count: f.record_count,
            size: f.size.unwrap_or(0),
            flags: f.flags(),
            etag: f.etag.unwrap_or_default().into(),
        })
    }
}

/// One finished object: 40 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    digest: Digest,
    record_count: i64,
    size: i64,
    /// Where the ETag's bytes start in the arena.
    etag_at: u32,
    etag_len: u16,
    flags: u8,
}

/// Overlay entries merged at least this many at a time.
const MIN_MERGE: usize = 1024;

/// The offsets of finished objects, by source partition (see the module documentation).
#[derive(Debug)]
pub(crate) struct FinishedSet {
    seed: u64,
    /// Sorted by digest, one slot per digest.
    sorted: Vec<Slot>,
    /// Changes not merged yet: a slot, or `None` for a removed digest.
    recent: BTreeMap<Digest, Option<Slot>>,
    /// Every slot's ETag bytes.
    etags: Vec<u8>,
    /// Arena bytes no slot points to any more.
    garbage: usize,
    len: usize,
}

impl Default for FinishedSet {
    fn default() -> Self {
        FinishedSet {
            seed: RandomState::new().hash_one(0x5eed_u64),
            sorted: Vec::new(),
            recent: BTreeMap::new(),
            etags: Vec::new(),
            garbage: 0,
            len: 0,
        }
    }
}

impl FinishedSet {
    fn digest(&self, canonical: &str) -> Digest {
        let d = xxhash_rust::xxh3::xxh3_128_with_seed(canonical.as_bytes(), self.seed);
        [(d >> 64) as u64, d as u64]
    }

    /// The number of finished objects held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn slot(&self, digest: &Digest) -> Option<Slot> {
        match self.recent.get(digest) {
            Some(changed) => *changed,
            None => self
                .sorted
                .binary_search_by(|s| s.digest.cmp(digest))
                .ok()
                .map(|i| self.sorted[i]),
        }
    }

    fn etag(&self, slot: &Slot) -> &str {
        let at = slot.etag_at as usize;
        // Only whole strings are ever copied into the arena.
        std::str::from_utf8(&self.etags[at..at + usize::from(slot.etag_len)]).unwrap_or("")
    }

    /// The offset of the source partition whose canonical form is `canonical`, exactly as
    /// inserted.
    pub(crate) fn get(&self, canonical: &str) -> Option<OffsetMap> {
        let slot = self.slot(&self.digest(canonical))?;
        Some(
            FinishedOffset::from_flags(slot.flags, slot.record_count, self.etag(&slot), slot.size)
                .to_map(),
        )
    }

    /// Whether what is held for `canonical` is a finished offset of `version`
    /// ([`FinishedOffset::is_version`]); `None` when nothing is held. Builds no map.
    pub(crate) fn holds(&self, canonical: &str, version: &ObjectVersion<'_>) -> Option<bool> {
        let slot = self.slot(&self.digest(canonical))?;
        Some(
            FinishedOffset::from_flags(slot.flags, slot.record_count, self.etag(&slot), slot.size)
                .is_version(version),
        )
    }

    /// Whether a finished offset is held for `canonical`.
    pub(crate) fn contains(&self, canonical: &str) -> bool {
        self.slot(&self.digest(canonical)).is_some()
    }

    /// Holds `data` for `canonical` when it has the finished shape ([`FinishedOffset`]) and an
    /// ETag under 64 KiB, replacing what was held; returns false (and changes nothing)
    /// otherwise.
    pub(crate) fn insert(&mut self, canonical: &str, data: &OffsetMap) -> bool {
        let Some(f) = FinishedOffset::of(data) else {
            return false;
        };
        let etag = f.etag;
        if etag.is_some_and(|e| e.len() > usize::from(u16::MAX))
            || self.etags.len() + etag.map_or(0, str::len) > u32::MAX as usize
        {
            // The slot's ETag length is 16-bit and the arena's offsets 32-bit: an entry that
            // cannot fit stays a map.
            return false;
        }
        let digest = self.digest(canonical);
        let old = self.slot(&digest);
        let etag_at = self.etags.len() as u32;
        if let Some(e) = etag {
            self.etags.extend_from_slice(e.as_bytes());
        }
        let slot = Slot {
            digest,
            record_count: f.record_count,
            size: f.size.unwrap_or(0),
            etag_at,
            etag_len: etag.map_or(0, str::len) as u16,
            flags: f.flags(),
        };
        match old {
            Some(old) => self.garbage += usize::from(old.etag_len),
            None => self.len += 1,
        }
        self.recent.insert(digest, Some(slot));
        self.maybe_merge();
        true
    }

    /// Forgets what is held for `canonical`; true when something was.
    pub(crate) fn remove(&mut self, canonical: &str) -> bool {
        let digest = self.digest(canonical);
        let Some(old) = self.slot(&digest) else {
            return false;
        };
        self.garbage += usize::from(old.etag_len);
        self.len -= 1;
        self.recent.insert(digest, None);
        self.maybe_merge();
        true
    }

    /// Forgets what is held for `canonical` when it is exactly `held`; true when it was.
    pub(crate) fn remove_if(&mut self, canonical: &str, held: &Held) -> bool {
        let Some(slot) = self.slot(&self.digest(canonical)) else {
            return false;
        };
        let same = slot.record_count == held.record_count
            && slot.size == held.size
            && slot.flags == held.flags
            && self.etag(&slot) == &*held.etag;
        same && self.remove(canonical)
    }

    fn maybe_merge(&mut self) {
        if self.recent.len() >= MIN_MERGE.max(self.sorted.len() / 8) {
            self.merge();
        }
    }

    /// Merges the overlay into the sorted slots (and rebuilds the arena when half of it is
    /// garbage).
    fn merge(&mut self) {
        let recent = std::mem::take(&mut self.recent);
        let old = std::mem::take(&mut self.sorted);
        let mut merged = Vec::with_capacity(self.len);
        let mut changes = recent.into_iter().peekable();
        for slot in old {
            while let Some((_, change)) = changes.next_if(|(d, _)| *d < slot.digest) {
                merged.extend(change);
            }
            match changes.next_if(|(d, _)| *d == slot.digest) {
                Some((_, change)) => merged.extend(change),
                None => merged.push(slot),
            }
        }
        merged.extend(changes.filter_map(|(_, change)| change));
        if self.garbage > self.etags.len() / 2 {
            let mut etags = Vec::with_capacity(self.etags.len() - self.garbage);
            for slot in &mut merged {
                let at = slot.etag_at as usize;
                let bytes = &self.etags[at..at + usize::from(slot.etag_len)];
                slot.etag_at = etags.len() as u32;
                etags.extend_from_slice(bytes);
            }
            self.etags = etags;
            self.garbage = 0;
        }
        if self.etags.capacity() > self.etags.len() + self.etags.len() / 4 {
            self.etags.shrink_to_fit();
        }
        merged.shrink_to_fit();
        self.sorted = merged;
    }

    /// Bytes held: slots, overlay and arena.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.sorted.capacity() * std::mem::size_of::<Slot>()
            + self.recent.len() * (std::mem::size_of::<(Digest, Option<Slot>)>() + 8)
            + self.etags.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn finished(count: i64, etag: Option<&str>, size: Option<i64>, unterm: bool) -> OffsetMap {
        let mut m = OffsetMap::new();
        m.insert(FINISHED.into(), OffsetValue::Bool(true));
        m.insert(RECORD_COUNT.into(), OffsetValue::Long(count));
        if let Some(e) = etag {
            m.insert(ETAG.into(), e.into());
        }
        if let Some(s) = size {
            m.insert(SIZE.into(), OffsetValue::Long(s));
        }
        if unterm {
            m.insert(LAST_LINE_UNTERMINATED.into(), OffsetValue::Bool(true));
        }
        m
    }

    #[test]
    fn a_slot_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 40);
    }

    #[test]
    fn only_the_finished_shape_is_taken() {
        let mut s = FinishedSet::default();
        let refused = [
            OffsetMap::from([(RECORD_COUNT.to_owned(), OffsetValue::Long(3))]),
            {
                let mut m = finished(1, None, None, false);
                m.insert("deleted".into(), OffsetValue::Bool(true));
                m
            },
            {
                let mut m = finished(1, None, None, false);
                m.insert(FINISHED.into(), OffsetValue::Bool(false));
                m
            },
            {
                let mut m = finished(1, None, None, false);
                m.insert(LAST_LINE_UNTERMINATED.into(), OffsetValue::Long(0));
                m
            },
            {
                let mut m = finished(1, None, None, false);
                m.insert(RECORD_COUNT.into(), OffsetValue::Double(1.0));
                m
            },
            {
                let mut m = finished(1, None, None, false);
                m.remove(RECORD_COUNT);
                m
            },
            finished(1, Some(&"e".repeat(70_000)), None, false),
        ];
        for m in &refused {
            assert!(!s.insert("k", m), "{m:?}");
            assert!(!s.contains("k"));
        }
        assert_eq!(s.len(), 0);
        let m = finished(7, Some("\"abc\""), Some(1024), true);
        assert!(s.insert("k", &m));
        assert_eq!(s.get("k"), Some(m));
        // `lastLineUnterminated: false` comes back as it went in.
        let mut m = finished(2, None, None, false);
        m.insert(LAST_LINE_UNTERMINATED.into(), OffsetValue::Bool(false));
        assert!(s.insert("f", &m));
        assert_eq!(s.get("f"), Some(m));
        assert!(s.remove("f"));
        assert_eq!(s.get("other"), None);
        assert!(s.remove("k"));
        assert!(!s.remove("k"));
        assert_eq!(s.len(), 0);
    }

    /// The figure the issue asks for: bytes held per finished object, with S3-style ETags
    /// (34 characters) and after the merges of a steady insert stream.
    #[test]
    fn a_finished_object_costs_under_a_hundred_bytes() {
        let mut s = FinishedSet::default();
        let n = 40_000;
        for i in 0..n {
            let key = format!(
                "{{\"bucket\":\"b\",\"object\":\"d{:03}/obj-{i:07}.jsonl\"}}",
                i % 100
            );
            let etag = format!("\"{:032x}\"", i as u128 * 0x9e37_79b9_7f4a_7c15);
            assert!(s.insert(&key, &finished(1, Some(&etag), Some(1024), false)));
        }
        s.merge();
        let per_object = s.heap_bytes() as f64 / n as f64;
        eprintln!("{per_object:.1} bytes per finished object");
        assert!(per_object < 100.0, "{per_object} bytes per finished object");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, i64, Option<String>, Option<i64>, bool),
        Remove(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u16..3000, any::<i64>(), proptest::option::of("[ -~]{0,12}"),
                  proptest::option::of(any::<i64>()), any::<bool>())
                .prop_map(|(k, c, e, s, u)| Op::Insert(k, c, e, s, u)),
            1 => (0u16..3000).prop_map(Op::Remove),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// After any sequence of inserts and removals (enough to merge the overlay and rebuild
        /// the arena several times), the set answers exactly as a map of the same entries.
        #[test]
        fn behaves_as_a_map(ops in proptest::collection::vec(op(), 0..6000)) {
            let mut set = FinishedSet::default();
            let mut model: HashMap<String, OffsetMap> = HashMap::new();
            for op in &ops {
                match op {
                    Op::Insert(k, c, e, s, u) => {
                        let key = format!("{{\"object\":\"k{k}\"}}");
                        let data = finished(*c, e.as_deref(), *s, *u);
                        prop_assert!(set.insert(&key, &data));
                        model.insert(key, data);
                    }
                    Op::Remove(k) => {
                        let key = format!("{{\"object\":\"k{k}\"}}");
                        prop_assert_eq!(set.remove(&key), model.remove(&key).is_some());
                    }
                }
            }
            prop_assert_eq!(set.len(), model.len());
            for k in 0..3000u16 {
                let key = format!("{{\"object\":\"k{k}\"}}");
                prop_assert_eq!(set.get(&key), model.get(&key).cloned());
            }
            set.merge();
            prop_assert!(set.recent.is_empty());
            prop_assert!(set.sorted.windows(2).all(|w| w[0].digest < w[1].digest));
            prop_assert_eq!(set.sorted.len(), model.len());
            for (key, data) in &model {
                let got = set.get(key);
                prop_assert_eq!(got.as_ref(), Some(data));
            }
        }
    }
}
