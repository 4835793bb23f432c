//! [`Entries`]: a store's stored offsets in memory, as the canonical JSON text they are written
//! in, front-coded.
//!
//! An entry held as (connector, partition map, offset map) costs well over a kilobyte (each
//! `BTreeMap` allocates a whole node). Here an entry is its two canonical strings, Kafka
//! Connect's offset key `["<connector>",{<partition>}]` and the offset object, and the strings
//! are front-coded: entries are kept sorted by key in blocks of [`BLOCK`], each key stored as
//! the length it shares with the key before it plus the rest, each value likewise against the
//! value before it. Keys of one bucket share everything up to the object's name, so an entry
//! costs its name's tail and its offset (about 40 bytes for a finished local file) instead of
//! about 1.5 KB. Maps are built only for the entries asked for.
//!
//! A finished object's offset (`{etag, finished: true, lastLineUnterminated, recordCount,
//! size}`, the shape of nearly every entry of a long backfill) is held in a binary form:
//! flags, the two numbers as varints and the ETag front-coded against the entry before's
//! (about 25 bytes where its text took about 75). It is taken only when its canonical text
//! renders back byte for byte ([`Finished::parse`]), so every entry reads back as the very text
//! that was stored; any other offset is held as text.
//!
//! Changes go to a small sorted overlay first, merged into the blocks (rebuilt one block at a
//! time, so a rebuild holds one extra block, not a second copy) once it outgrows a sixteenth of
//! them. A lookup searches the overlay, then the block whose first key is the greatest not
//! above the key, decoding at most [`BLOCK`] entries; a lookup of a key after the one before
//! it in the same block (a listing asks in key order) goes on from where that one stopped
//! ([`Cursor`]), decoding about one entry. Keys are sorted as strings, so one
//! connector's entries are one range (every key of connector `c` starts with `["c",`).

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::{Error, Result};

mod coding;
#[cfg(test)]
mod tests;

use super::finished::ObjectVersion;
use super::store::{connect_offset_key, parse_connect_offset_key};
use super::value::{map_from_json, write_map_json, OffsetMap};
use coding::{front_coded, put_front_coded, Finished, Val, FINISHED_OFFSET, TEXT};

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
    /// The greatest key in `blocks`: a lookup of a key above it (a new object in a bucket
    /// listed in key order, the usual case) decodes no block.
    last: Option<Box<str>>,
    /// Changes not merged yet: the new value, or `None` for a removed key.
    recent: BTreeMap<Box<str>, Option<Box<str>>>,
    /// Counts the rebuilds of `blocks`, so a [`Cursor`] taken before one is not used after.
    generation: u64,
    cursor: CursorCell,
}

/// Up to [`BLOCK`] consecutive entries: `(shared, rest)` of the key, each length a LEB128
/// varint, then the value: `0` and `(shared, rest)` of its text against the text value before
/// it, or `1` and a [`Finished`] offset (flags, `recordCount`, `size`, the ETag front-coded
/// against the ETag before it).
#[derive(Debug, Clone)]
struct Block {
    first: Box<str>,
    data: Box<[u8]>,
}

impl Block {
    /// Calls `f` with each entry; stops (and returns false) when `f` does.
    fn each(&self, f: &mut dyn FnMut(&str, Val<'_>) -> bool) -> bool {
        let mut d = Decoder::default();
        while d.next(&self.data) {
            if !f(&d.key, d.val()) {
                return false;
            }
        }
        true
    }
}

/// Reads a block's entries one after the other: the state front coding needs (the last key,
/// text value and ETag) and where the next entry starts.
#[derive(Debug, Default)]
struct Decoder {
    /// Where the next entry starts.
    at: usize,
    /// The key of the entry read last.
    key: String,
    /// Whether that entry's value is a finished offset (else text).
    finished_value: bool,
    /// The last text value read.
    text: String,
    /// The last finished offset read.
    finished: Finished,
}

impl Decoder {
    /// Reads the next entry of `data`; false at the block's end.
    fn next(&mut self, data: &[u8]) -> bool {
        if self.at >= data.len() {
            return false;
        }
        front_coded(data, &mut self.at, &mut self.key);
        let tag = data[self.at];
        self.at += 1;
        self.finished_value = tag == FINISHED_OFFSET;
        if self.finished_value {
            self.finished.read(data, &mut self.at);
        } else {
            front_coded(data, &mut self.at, &mut self.text);
        }
        true
    }

    /// The value of the entry read last.
    fn val(&self) -> Val<'_> {
        if self.finished_value {
            Val::Finished(&self.finished)
        } else {
            Val::Text(&self.text)
        }
    }
}

/// Where the last lookup stopped: a listing asks for its keys in order, so the next key is
/// usually the next entry of the same block, and a lookup that goes on from here decodes one
/// entry instead of half a block. Valid while the blocks are the ones it was taken in.
#[derive(Debug, Default)]
struct Cursor {
    /// [`Entries::generation`] when it was taken.
    generation: u64,
    block: usize,
    /// Positioned after at least one entry of `block`.
    decoder: Decoder,
}

/// The cursor of an [`Entries`]: behind a lock because lookups take `&self`; a lookup that
/// finds it taken (another task looking up at the same moment) searches from the block's start.
#[derive(Debug, Default)]
struct CursorCell(std::sync::Mutex<Option<Cursor>>);

impl Clone for CursorCell {
    /// A copy of the entries starts without a cursor.
    fn clone(&self) -> Self {
        CursorCell::default()
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
    /// The last text value of the block.
    text: String,
    /// The last ETag of a finished offset of the block.
    etag: String,
}

impl Builder {
    fn push(&mut self, key: &str, value: Val<'_>) {
        if self.count == BLOCK {
            self.finish_block();
        }
        if self.count == 0 {
            self.first = key.to_owned();
            self.key.clear();
            self.text.clear();
            self.etag.clear();
        }
        put_front_coded(&mut self.data, &mut self.key, key);
        match value {
            Val::Finished(f) => self.put_finished(f),
            Val::Text(t) => match Finished::parse(t) {
                Some(f) => self.put_finished(&f),
                None => {
                    self.data.push(TEXT);
                    put_front_coded(&mut self.data, &mut self.text, t);
                }
            },
        }
        self.count += 1;
        self.total += 1;
    }

    fn put_finished(&mut self, f: &Finished) {
        self.data.push(FINISHED_OFFSET);
        f.put(&mut self.data, &mut self.etag);
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

    /// The blocks, how many entries they hold, and the greatest key.
    fn finish(mut self) -> (Vec<Block>, usize, Option<Box<str>>) {
        self.finish_block();
        self.blocks.shrink_to_fit();
        let last = (self.total > 0).then(|| std::mem::take(&mut self.key).into_boxed_str());
        (self.blocks, self.total, last)
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
                b.push(&key, Val::Text(&value));
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
            let (blocks, frozen, last) = b.finish();
            self.entries = Entries {
                blocks,
                frozen,
                last,
                ..Entries::default()
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
    f: &mut dyn FnMut(&str, Val<'_>) -> bool,
) -> Option<Option<Option<&'a str>>> {
    while let Some((k, v)) = overlay.next_if(|(k, _)| &***k < key) {
        if let Some(v) = v {
            if !f(k, Val::Text(v)) {
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
    let mut out = Vec::with_capacity(96);
    write_map_json(offset, &mut out);
    String::from_utf8(out)
        .expect("serde_json writes UTF-8")
        .into_boxed_str()
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
        let mut push = |k: &str, v: Val<'_>| {
            out.push(k, v);
            true
        };
        for block in std::mem::take(&mut self.blocks) {
            block.each(&mut |k, v| {
                match overlay_before(&mut overlay, k, &mut push) {
                    Some(Some(Some(changed))) => push(k, Val::Text(changed)),
                    Some(Some(None)) => true,
                    _ => push(k, v),
                };
                true
            });
        }
        for (k, v) in overlay {
            if let Some(v) = v {
                push(k, Val::Text(v));
            }
        }
        (self.blocks, self.frozen, self.last) = out.finish();
        self.generation += 1;
    }

    /// `f` of the value of `key`, read in place (a finished offset's ETag is not copied).
    fn with_val<R>(&self, key: &str, f: impl FnOnce(Val<'_>) -> R) -> Option<R> {
        if let Some(change) = self.recent.get(key) {
            return change.as_deref().map(|v| f(Val::Text(v)));
        }
        if self.last.as_deref().is_none_or(|last| key > last) {
            return None;
        }
        let i = self.blocks.partition_point(|b| &*b.first <= key);
        let index = i.checked_sub(1)?;
        let block = self.blocks.get(index)?;
        // Another lookup holding the cursor at this moment: this one searches from the
        // block's start with a cursor of its own.
        let mut guard = self.cursor.0.try_lock().ok();
        let mut own = None;
        let cursor = guard.as_deref_mut().unwrap_or(&mut own);
        let c = match cursor.as_mut() {
            Some(c)
                if c.generation == self.generation
                    && c.block == index
                    && c.decoder.at > 0
                    && *c.decoder.key <= *key =>
            {
                if *c.decoder.key == *key {
                    return Some(f(c.decoder.val()));
                }
                c
            }
            _ => cursor.insert(Cursor {
                generation: self.generation,
                block: index,
                decoder: Decoder::default(),
            }),
        };
        while c.decoder.next(&block.data) {
            match (*c.decoder.key).cmp(key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Some(f(c.decoder.val())),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }

    /// The value text of `key`.
    #[cfg(test)]
    fn get_text(&self, key: &str) -> Option<String> {
        let mut buf = String::new();
        self.with_val(key, |v| v.text(&mut buf).to_owned())
    }

    /// The stored offset under `key`, a Kafka Connect offset key ([`connect_offset_key`]).
    pub(crate) fn get(&self, key: &str) -> Result<Option<OffsetMap>> {
        self.with_val(key, |v| v.offset()).transpose()
    }

    /// Whether the offset stored under `key` is a finished offset of `version` in the binary
    /// form; false for anything else (nothing stored, another version, an offset held as
    /// text), which the caller then reads with [`get`](Self::get). Builds no map.
    pub(crate) fn holds_finished(&self, key: &str, version: &ObjectVersion<'_>) -> bool {
        self.with_val(key, |v| match v {
            Val::Finished(f) => f.offset().is_version(version),
            Val::Text(_) => false,
        })
        .unwrap_or(false)
    }

    /// Calls `f` with every entry (key text, value text) whose key is at least `start`, in key
    /// order, until `f` returns false.
    fn walk_from(&self, start: &str, f: &mut dyn FnMut(&str, Val<'_>) -> bool) {
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
                    Some(Some(Some(changed))) => f(k, Val::Text(changed)),
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
                if !f(k, Val::Text(v)) {
                    return;
                }
            }
        }
    }

    /// Calls `f` with every entry (key text, value text), in key order.
    pub(crate) fn each_text(&self, f: &mut dyn FnMut(&str, &str)) {
        let mut buf = String::new();
        self.walk_from("", &mut |k, v| {
            f(k, v.text(&mut buf));
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
            match (partition_of(key), value.offset()) {
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
        self.walk_from("", &mut |key, _| {
            if !prefix.is_empty() && key.starts_with(prefix.as_str()) {
                return true;
            }
            match partition_of(key) {
                Ok((connector, _)) => {
                    prefix = key_prefix(&connector);
                    names.push(connector);
                    true
                }
                Err(e) => {
                    result = Err(e);
                    false
                }
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
