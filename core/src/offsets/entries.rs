//! [`Entries`]: a store's stored offsets in memory, as the canonical JSON text they are written
//! in, front-coded.
//!
//! An entry held as (connector, partition map, offset map) costs well over a kilobyte (each
//! `BTreeMap` allocates a whole node). Here an entry is its two canonical strings, Kafka
//! Connect's offset key `["<connector>",{<partition>}]` and the offset object, and the strings
//! are front-coded: entries are kept sorted by key in blocks of [`BLOCK`], each key stored as
//! the length it shares with the key before it plus the rest, each value likewise against the
//! value before it. Keys of one bucket share everything up to the object's name, so an entry
//! costs its name's tail and its offset's text (about 90 bytes for a finished local file)
//! instead of about 1.5 KB. Maps are built only for the entries asked for.
//!
//! Changes go to a small sorted overlay first, merged into the blocks (rebuilt one block at a
//! time, so a rebuild holds one extra block, not a second copy) once it outgrows a sixteenth of
//! them. A lookup searches the overlay, then the block whose first key is the greatest not
//! above the key, decoding at most [`BLOCK`] entries. Keys are sorted as strings, so one
//! connector's entries are one range (every key of connector `c` starts with `["c",`).

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::{Error, Result};

use super::store::{connect_offset_key, parse_connect_offset_key};
use super::value::{map_from_json, map_to_json, OffsetMap};

/// Entries per block.
const BLOCK: usize = 64;
/// Overlay entries merged at least this many at a time.
const MIN_MERGE: usize = 4096;

/// Stored offsets by Kafka Connect offset key (canonical JSON text), values as canonical JSON
/// text (see the module documentation).
#[derive(Debug, Default, Clone)]
pub(crate) struct Entries {
    blocks: Vec<Block>,
    /// Entries in `blocks`.
    frozen: usize,
    /// Changes not merged yet: the new value, or `None` for a removed key.
    recent: BTreeMap<Box<str>, Option<Box<str>>>,
}

/// Up to [`BLOCK`] consecutive entries: `(shared, rest)` of the key, then of the value, each
/// length a LEB128 varint.
#[derive(Debug, Clone)]
struct Block {
    first: Box<str>,
    data: Box<[u8]>,
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint(data: &[u8], at: &mut usize) -> usize {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = data[*at];
        *at += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// The length of the common prefix of `a` and `b`, on a character boundary.
fn shared(a: &str, b: &str) -> usize {
    let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    (0..=n).rev().find(|i| a.is_char_boundary(*i)).unwrap_or(0)
}

/// Appends one front-coded string (against `prev`, which becomes it).
fn put_front_coded(out: &mut Vec<u8>, prev: &mut String, s: &str) {
    let n = shared(prev, s);
    put_varint(out, n);
    put_varint(out, s.len() - n);
    out.extend_from_slice(&s.as_bytes()[n..]);
    prev.truncate(n);
    prev.push_str(&s[n..]);
}

/// Reads one front-coded string into `prev`.
fn front_coded(data: &[u8], at: &mut usize, prev: &mut String) {
    let n = varint(data, at);
    let len = varint(data, at);
    prev.truncate(n);
    // Only whole strings cut on character boundaries are ever written.
    prev.push_str(std::str::from_utf8(&data[*at..*at + len]).unwrap_or_default());
    *at += len;
}

impl Block {
    /// Calls `f` with each entry; stops (and returns false) when `f` does.
    fn each(&self, f: &mut dyn FnMut(&str, &str) -> bool) -> bool {
        let (mut key, mut value, mut at) = (String::new(), String::new(), 0);
        while at < self.data.len() {
            front_coded(&self.data, &mut at, &mut key);
            front_coded(&self.data, &mut at, &mut value);
            if !f(&key, &value) {
                return false;
            }
        }
        true
    }
}

/// Builds blocks from entries pushed in key order.
#[derive(Default)]
struct Builder {
    blocks: Vec<Block>,
    data: Vec<u8>,
    first: String,
    count: usize,
    total: usize,
    key: String,
    value: String,
}

impl Builder {
    fn push(&mut self, key: &str, value: &str) {
        if self.count == BLOCK {
            self.finish_block();
        }
        if self.count == 0 {
            self.first = key.to_owned();
            self.key.clear();
            self.value.clear();
        }
        put_front_coded(&mut self.data, &mut self.key, key);
        put_front_coded(&mut self.data, &mut self.value, value);
        self.count += 1;
        self.total += 1;
    }

    fn finish_block(&mut self) {
        if self.count > 0 {
            self.blocks.push(Block {
                first: std::mem::take(&mut self.first).into_boxed_str(),
                data: std::mem::take(&mut self.data).into_boxed_slice(),
            });
            self.count = 0;
        }
    }

    fn finish(mut self) -> (Vec<Block>, usize) {
        self.finish_block();
        self.blocks.shrink_to_fit();
        (self.blocks, self.total)
    }
}

/// Loads entries in the order they were stored: an offset file as compaction wrote it (sorted
/// by key), then the lines appended since. While keys come in increasing order they go
/// straight into blocks; the first key out of order (or a removal) ends that, and the rest go
/// through the overlay as any change does. Loading a compacted file of a million entries this
/// way encodes each entry once, where inserting them one by one re-encoded the blocks at every
/// merge (about seventeen times each).
pub(crate) struct Loader {
    sorted: Option<Builder>,
    entries: Entries,
}

impl Default for Loader {
    fn default() -> Self {
        Loader {
            sorted: Some(Builder::default()),
            entries: Entries::default(),
        }
    }
}

impl Loader {
    /// Inserts (or replaces) the entry of `key` (a canonical offset key).
    pub(crate) fn insert_text(&mut self, key: Box<str>, value: Box<str>) {
        if let Some(b) = &mut self.sorted {
            // After a push the builder's `key` is the last key pushed.
            if b.total == 0 || *key > *b.key {
                b.push(&key, &value);
                return;
            }
        }
        self.entries().insert_text(key, value);
    }

    /// Removes the entry of `key` (a canonical offset key).
    pub(crate) fn remove_text(&mut self, key: &str) {
        self.entries().remove_text(key);
    }

    /// The entries, the sorted run ended.
    fn entries(&mut self) -> &mut Entries {
        if let Some(b) = self.sorted.take() {
            let (blocks, frozen) = b.finish();
            self.entries = Entries {
                blocks,
                frozen,
                recent: BTreeMap::new(),
            };
        }
        &mut self.entries
    }

    /// The loaded entries.
    pub(crate) fn finish(mut self) -> Entries {
        self.entries();
        self.entries
    }
}

/// The overlay's entries from some key on.
type Overlay<'a> =
    std::iter::Peekable<std::collections::btree_map::Range<'a, Box<str>, Option<Box<str>>>>;

/// Feeds `f` the overlay entries sorting before `key` (`None` when `f` said stop), then returns
/// the overlay's change of `key` itself, if any (consumed): `Some(Some(value))` replaced,
/// `Some(None)` removed.
fn overlay_before<'a>(
    overlay: &mut Overlay<'a>,
    key: &str,
    f: &mut dyn FnMut(&str, &str) -> bool,
) -> Option<Option<Option<&'a str>>> {
    while let Some((k, v)) = overlay.next_if(|(k, _)| &***k < key) {
        if let Some(v) = v {
            if !f(k, v) {
                return None;
            }
        }
    }
    Some(
        overlay
            .next_if(|(k, _)| &***k == key)
            .map(|(_, v)| v.as_deref()),
    )
}

/// The text every offset key of `connector` starts with: `["<connector>",`.
fn key_prefix(connector: &str) -> String {
    let mut prefix = serde_json::Value::Array(vec![connector.into()]).to_string();
    prefix.pop();
    prefix.push(',');
    prefix
}

/// The partition in a canonical offset key.
fn partition_of(key: &str) -> Result<(String, OffsetMap)> {
    let v: serde_json::Value = serde_json::from_str(key)
        .map_err(|e| Error::Offset(format!("stored offset key {key} is not JSON: {e}")))?;
    parse_connect_offset_key(&v)
}

/// The offset in a canonical value.
fn offset_of(value: &str) -> Result<OffsetMap> {
    let v: serde_json::Value = serde_json::from_str(value)
        .map_err(|e| Error::Offset(format!("stored offset {value} is not JSON: {e}")))?;
    map_from_json(&v)
}

/// The canonical text of an offset.
pub(crate) fn value_text(offset: &OffsetMap) -> Box<str> {
    map_to_json(offset).to_string().into_boxed_str()
}

impl Entries {
    /// Inserts (or replaces) the entry of `key` (a canonical offset key).
    pub(crate) fn insert_text(&mut self, key: Box<str>, value: Box<str>) {
        self.recent.insert(key, Some(value));
        self.maybe_merge();
    }

    /// Removes the entry of `key` (a canonical offset key).
    pub(crate) fn remove_text(&mut self, key: &str) {
        self.recent.insert(key.into(), None);
        self.maybe_merge();
    }

    /// Inserts (or replaces) one entry.
    pub(crate) fn insert(&mut self, connector: &str, partition: &OffsetMap, offset: &OffsetMap) {
        self.insert_text(
            connect_offset_key(connector, partition).into_boxed_str(),
            value_text(offset),
        );
    }

    fn maybe_merge(&mut self) {
        if self.recent.len() >= MIN_MERGE.max(self.frozen / 16) {
            self.merge();
        }
    }

    /// Merges the overlay into the blocks, consuming the old blocks one at a time.
    fn merge(&mut self) {
        let recent = std::mem::take(&mut self.recent);
        let mut overlay: Overlay<'_> = recent
            .range::<str, _>((Bound::Unbounded, Bound::Unbounded))
            .peekable();
        let mut out = Builder::default();
        let mut push = |k: &str, v: &str| {
            out.push(k, v);
            true
        };
        for block in std::mem::take(&mut self.blocks) {
            block.each(&mut |k, v| {
                match overlay_before(&mut overlay, k, &mut push) {
                    Some(Some(Some(changed))) => push(k, changed),
                    Some(Some(None)) => true,
                    _ => push(k, v),
                };
                true
            });
        }
        for (k, v) in overlay {
            if let Some(v) = v {
                push(k, v);
            }
        }
        (self.blocks, self.frozen) = out.finish();
    }

    /// The value text of `key`.
    fn get_text(&self, key: &str) -> Option<String> {
        if let Some(change) = self.recent.get(key) {
            return change.as_deref().map(str::to_owned);
        }
        let i = self.blocks.partition_point(|b| &*b.first <= key);
        let block = self.blocks.get(i.checked_sub(1)?)?;
        let mut found = None;
        block.each(&mut |k, v| {
            if k == key {
                found = Some(v.to_owned());
            }
            found.is_none() && k < key
        });
        found
    }

    /// The stored offset of `partition`.
    pub(crate) fn get(&self, connector: &str, partition: &OffsetMap) -> Result<Option<OffsetMap>> {
        self.get_text(&connect_offset_key(connector, partition))
            .map(|v| offset_of(&v))
            .transpose()
    }

    /// Calls `f` with every entry (key text, value text) whose key is at least `start`, in key
    /// order, until `f` returns false.
    fn walk_from(&self, start: &str, f: &mut dyn FnMut(&str, &str) -> bool) {
        let mut overlay: Overlay<'_> = self
            .recent
            .range::<str, _>((Bound::Included(start), Bound::Unbounded))
            .peekable();
        let first = self
            .blocks
            .partition_point(|b| &*b.first <= start)
            .saturating_sub(1);
        for block in &self.blocks[first.min(self.blocks.len())..] {
            let going = block.each(&mut |k, v| {
                if k < start {
                    return true;
                }
                match overlay_before(&mut overlay, k, f) {
                    None => false,
                    Some(Some(Some(changed))) => f(k, changed),
                    Some(Some(None)) => true,
                    Some(None) => f(k, v),
                }
            });
            if !going {
                return;
            }
        }
        for (k, v) in overlay {
            if let Some(v) = v {
                if !f(k, v) {
                    return;
                }
            }
        }
    }

    /// Calls `f` with every entry (key text, value text), in key order.
    pub(crate) fn each_text(&self, f: &mut dyn FnMut(&str, &str)) {
        self.walk_from("", &mut |k, v| {
            f(k, v);
            true
        });
    }

    /// Calls `visit` with each entry of `connector` (partition, offset), in key order.
    pub(crate) fn for_each(
        &self,
        connector: &str,
        visit: &mut (dyn FnMut(OffsetMap, OffsetMap) + Send),
    ) -> Result<()> {
        let prefix = key_prefix(connector);
        let mut result = Ok(());
        self.walk_from(&prefix, &mut |key, value| {
            if !key.starts_with(prefix.as_str()) {
                return false;
            }
            match (partition_of(key), offset_of(value)) {
                (Ok((_, partition)), Ok(offset)) => {
                    visit(partition, offset);
                    true
                }
                (Err(e), _) | (_, Err(e)) => {
                    result = Err(e);
                    false
                }
            }
        });
        result
    }

    /// Every entry of `connector` (partition, offset), in key order.
    pub(crate) fn list(&self, connector: &str) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        let mut out = Vec::new();
        self.for_each(connector, &mut |p, o| out.push((p, o)))?;
        Ok(out)
    }

    /// The connectors with entries, sorted.
    pub(crate) fn connectors(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut prefix = String::new();
        let mut result = Ok(());
        self.each_text(&mut |key, _| {
            if result.is_err() || (!prefix.is_empty() && key.starts_with(prefix.as_str())) {
                return;
            }
            match partition_of(key) {
                Ok((connector, _)) => {
                    prefix = key_prefix(&connector);
                    names.push(connector);
                }
                Err(e) => result = Err(e),
            }
        });
        result?;
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Bytes held by the blocks and the overlay (what the entries cost in memory).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Block>()
            + self
                .blocks
                .iter()
                .map(|b| b.first.len() + b.data.len())
                .sum::<usize>()
            + self
                .recent
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()) + 48)
                .sum::<usize>()
    }

    /// The number of entries (every connector).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let mut n = 0;
        self.each_text(&mut |_, _| n += 1);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::OffsetValue;

    fn map(pairs: &[(&str, OffsetValue)]) -> OffsetMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn one_connectors_entries_are_one_range() {
        let mut e = Entries::default();
        let p = |o: &str| map(&[("bucket", "b".into()), ("object", o.into())]);
        let o = |n: i64| map(&[("recordCount", OffsetValue::Long(n))]);
        // Connector names that are prefixes of one another, or need escaping.
        for (c, n) in [("c", 1), ("c2", 2), ("c\"x", 3), ("", 4), ("c", 5)] {
            e.insert(c, &p(&format!("o{n}")), &o(n));
        }
        e.insert("c", &p("o1"), &o(9));
        assert_eq!(e.len(), 5);
        assert_eq!(e.list("c").unwrap(), vec![(p("o1"), o(9)), (p("o5"), o(5))]);
        assert_eq!(e.list("c2").unwrap(), vec![(p("o2"), o(2))]);
        assert_eq!(e.list("c\"x").unwrap(), vec![(p("o3"), o(3))]);
        assert_eq!(e.list("").unwrap(), vec![(p("o4"), o(4))]);
        assert!(e.list("d").unwrap().is_empty());
        assert_eq!(e.connectors().unwrap(), vec!["", "c", "c\"x", "c2"]);
        assert_eq!(e.get("c", &p("o5")).unwrap(), Some(o(5)));
        assert_eq!(e.get("c2", &p("o5")).unwrap(), None);
        e.remove_text(&connect_offset_key("c", &p("o5")));
        assert_eq!(e.get("c", &p("o5")).unwrap(), None);
        e.merge();
        assert_eq!(e.len(), 4);
        assert_eq!(e.list("c").unwrap(), vec![(p("o1"), o(9))]);
        assert_eq!(e.connectors().unwrap(), vec!["", "c", "c\"x", "c2"]);
    }

    /// The figure the issue asks for: a million finished local files cost under 100 bytes
    /// each (keys as the local backend writes them: a long folder path as the bucket).
    #[test]
    fn a_finished_object_costs_under_a_hundred_bytes() {
        let mut e = Entries::default();
        let n = 40_000;
        for i in 0..n {
            let p = map(&[
                (
                    "bucket",
                    "/work/wt/mem/target/bench-data/full/jsonl-1m/objects".into(),
                ),
                (
                    "object",
                    format!("d{:03}/obj-{i:06}.jsonl", i / 1000).into(),
                ),
            ]);
            let mut o = map(&[("finished", OffsetValue::Bool(true))]);
            o.insert("recordCount".into(), OffsetValue::Long(1));
            o.insert("size".into(), OffsetValue::Long(1000 + i % 97));
            o.insert(
                "etag".into(),
                format!(
                    "\"{:x}-{:x}-{:x}\"",
                    0x3a_0000 + i,
                    0x6_3f0a_1b2c_3d4e + i * 7919,
                    1000 + i % 97
                )
                .into(),
            );
            e.insert("bench", &p, &o);
        }
        e.merge();
        assert_eq!(e.len(), n as usize);
        let per_entry = e.heap_bytes() as f64 / n as f64;
        eprintln!("{per_entry:.1} bytes per finished object");
        assert!(per_entry < 100.0, "{per_entry} bytes per entry");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(String, u16, u8),
        Remove(String, u16),
        Merge,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let connector = prop_oneof![Just("c".to_owned()), Just("c2".to_owned()), "[a-zé\"]{0,3}"];
        prop_oneof![
            8 => (connector.clone(), 0u16..400, any::<u8>()).prop_map(|(c, k, v)| Op::Put(c, k, v)),
            3 => (connector, 0u16..400).prop_map(|(c, k)| Op::Remove(c, k)),
            1 => Just(Op::Merge),
        ]
    }

    fn any_value() -> impl proptest::strategy::Strategy<Value = u8> {
        proptest::prelude::any::<u8>()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Whatever the puts, removals and merges, the entries answer exactly as a sorted map of
        /// the same texts: lookups, each connector's range, every entry in order.
        #[test]
        fn behaves_as_a_sorted_map(ops in proptest::collection::vec(op(), 0..1500)) {
            let mut e = Entries::default();
            let mut model: BTreeMap<String, String> = BTreeMap::new();
            let key = |c: &str, k: u16| {
                // Shared prefixes of every length, multi-byte characters included.
                let object = format!("{}{k}", "dé/".repeat(usize::from(k % 4)));
                connect_offset_key(c, &map(&[("bucket", "b".into()), ("object", object.into())]))
            };
            for op in &ops {
                match op {
                    Op::Put(c, k, v) => {
                        let value = value_text(&map(&[("recordCount", OffsetValue::Long(i64::from(*v)))]));
                        model.insert(key(c, *k), value.to_string());
                        e.insert_text(key(c, *k).into(), value);
                    }
                    Op::Remove(c, k) => {
                        model.remove(&key(c, *k));
                        e.remove_text(&key(c, *k));
                    }
                    Op::Merge => e.merge(),
                }
            }
            let mut all = Vec::new();
            e.each_text(&mut |k, v| all.push((k.to_owned(), v.to_owned())));
            let expected: Vec<(String, String)> = model.clone().into_iter().collect();
            proptest::prop_assert_eq!(&all, &expected);
            for (k, v) in &model {
                let got = e.get_text(k);
                proptest::prop_assert_eq!(got.as_deref(), Some(v.as_str()));
            }
            proptest::prop_assert_eq!(e.get_text(&key("none", 1)), None);
            for c in ["c", "c2", "", "é"] {
                let listed: Vec<String> = e.list(c).unwrap().iter().map(|(p, _)| connect_offset_key(c, p)).collect();
                let prefix = key_prefix(c);
                let wanted: Vec<String> = model.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
                proptest::prop_assert_eq!(listed, wanted);
            }
        }

        /// Loading what a file holds (a sorted run, as compaction writes it, then changes in
        /// any order, removals included) gives the entries that inserting them one by one does.
        #[test]
        fn a_load_equals_inserting_one_by_one(
            sorted in proptest::collection::btree_map(0u16..600, any_value(), 0..300),
            changes in proptest::collection::vec((0u16..600, proptest::option::of(any_value())), 0..300),
        ) {
            let key = |k: u16| connect_offset_key("c", &map(&[("object", format!("{}{k}", "dé/".repeat(usize::from(k % 3))).into())]));
            let value = |v: u8| value_text(&map(&[("recordCount", OffsetValue::Long(i64::from(v)))]));
            // The run is sorted by key text, as compaction writes it.
            let run: BTreeMap<String, Box<str>> = sorted.iter().map(|(k, v)| (key(*k), value(*v))).collect();
            let (mut loader, mut one_by_one) = (Loader::default(), Entries::default());
            for (k, v) in &run {
                loader.insert_text(k.as_str().into(), v.clone());
                one_by_one.insert_text(k.as_str().into(), v.clone());
            }
            for (k, v) in &changes {
                match v {
                    Some(v) => {
                        loader.insert_text(key(*k).into(), value(*v));
                        one_by_one.insert_text(key(*k).into(), value(*v));
                    }
                    None => {
                        loader.remove_text(&key(*k));
                        one_by_one.remove_text(&key(*k));
                    }
                }
            }
            let loaded = loader.finish();
            let (mut got, mut want) = (Vec::new(), Vec::new());
            loaded.each_text(&mut |k, v| got.push((k.to_owned(), v.to_owned())));
            one_by_one.each_text(&mut |k, v| want.push((k.to_owned(), v.to_owned())));
            proptest::prop_assert_eq!(&got, &want);
            for (k, v) in &want {
                let got = loaded.get_text(k);
                proptest::prop_assert_eq!(got.as_deref(), Some(v.as_str()));
            }
        }
    }
}
