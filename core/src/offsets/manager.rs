//! [`OffsetManager`]: a connector's offsets, cached in memory in front of an [`OffsetStore`];
//! modelled on Aiven's commons `OffsetManager`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Result;
use crate::record::SourceRecord;

use super::entry::{ObjectOffsetEntry, OffsetManagerEntry};
use super::finished::{FinishedSet, Held, ObjectVersion};
use super::store::{canonical_partition, OffsetStore, PartitionKey, Peek};
use super::value::{CompactMap, OffsetMap};

/// A connector's offsets: the store plus an in-memory cache of the entries seen or updated, keyed
/// by the canonical form of the source partition.
///
/// The cache holds in-memory progress, which may be ahead of the store: loading from the store
/// ([`populate`](Self::populate), [`populate_all`](Self::populate_all)) never overwrites a cached
/// entry, and [`cached`](Self::cached) answers from the cache first. A store that holds its
/// offsets in memory anyway ([`OffsetStore::peeks`]: the file and Kafka topic stores) is not
/// copied: `populate_all` leaves its entries where they are and `cached` asks the store
/// ([`OffsetStore::peek`]) for a partition the cache does not hold, so a restarted task holds
/// each stored offset once. Finished objects (`{recordCount, finished, etag, size}`) are cached compactly, about
/// 40 bytes plus the ETag each (see `finished.rs`); other entries (objects in progress, anything
/// of another shape) as maps.
#[derive(Debug)]
pub struct OffsetManager {
    connector: String,
    store: Arc<dyn OffsetStore>,
    cache: Mutex<Cache>,
}

/// The cached entries: each canonical partition is in at most one of the two.
#[derive(Debug, Default)]
struct Cache {
    maps: HashMap<String, CompactMap>,
    finished: FinishedSet,
}

impl Cache {
    fn get(&self, canonical: &str) -> Option<OffsetMap> {
        match self.maps.get(canonical) {
            Some(data) => Some(data.to_map()),
            None => self.finished.get(canonical),
        }
    }

    fn contains(&self, canonical: &str) -> bool {
        self.maps.contains_key(canonical) || self.finished.contains(canonical)
    }

    /// Caches `data` for `canonical`, compactly when it is a finished offset; `data` is copied
    /// only when it is borrowed and is not a finished offset.
    fn insert(&mut self, canonical: String, data: Cow<'_, OffsetMap>) {
        if self.finished.insert(&canonical, &data) {
            self.maps.remove(&canonical);
        } else {
            self.finished.remove(&canonical);
            self.maps.insert(canonical, data.into_owned().into());
        }
    }

    fn insert_if_absent(&mut self, canonical: String, data: OffsetMap) {
        if !self.contains(&canonical) {
            self.insert(canonical, Cow::Owned(data));
        }
    }

    fn remove(&mut self, canonical: &str) {
        self.maps.remove(canonical);
        self.finished.remove(canonical);
    }
}

/// Finished offsets an offset write is storing ([`OffsetManager::finished_in`]).
#[derive(Debug, Default)]
pub struct StoredFinished(Vec<(String, Held)>);

impl OffsetManager {
    /// The offsets of connector `connector`, kept in `store`.
    pub fn new(connector: impl Into<String>, store: Arc<dyn OffsetStore>) -> Self {
        OffsetManager {
            connector: connector.into(),
            store,
            cache: Mutex::new(Cache::default()),
        }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry of source partition `key`, built by `creator(key, data)` from the cached data,
    /// else from the stored data (then cached); `None` when nothing is cached or stored.
    pub async fn get_entry<E, F: FnOnce(OffsetMap, OffsetMap) -> E>(
        &self,
        key: &OffsetMap,
        creator: F,
    ) -> Result<Option<E>> {
        let canonical = canonical_partition(key);
        if let Some(data) = self.cache().get(&canonical) {
            return Ok(Some(creator(key.clone(), data)));
        }
        let stored = self
            .store
            .get(&self.connector, std::slice::from_ref(key))
            .await?
            .into_iter()
            .next()
            .flatten();
        Ok(stored.map(|data| {
            // Progress cached meanwhile wins over the stored data.
            let mut cache = self.cache();
            let data = match cache.get(&canonical) {
                Some(cached) => cached,
                None => {
                    cache.insert(canonical, Cow::Borrowed(&data));
                    data
                }
            };
            creator(key.clone(), data)
        }))
    }

    /// Loads the stored data of `keys` not cached yet into the cache, in one store call.
    pub async fn populate(&self, keys: &[OffsetMap]) -> Result<()> {
        let missing: Vec<OffsetMap> = {
            let cache = self.cache();
            keys.iter()
                .filter(|k| !cache.contains(&canonical_partition(k)))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let stored = self.store.get(&self.connector, &missing).await?;
        let mut cache = self.cache();
        for (key, data) in missing.iter().zip(stored) {
            if let Some(data) = data {
                cache.insert_if_absent(canonical_partition(key), data);
            }
        }
        Ok(())
    }

    /// Loads every stored entry of the connector into the cache (cached entries are kept), in
    /// one pass over the store ([`OffsetStore::for_each`]: the entries are not collected);
    /// `visit` sees each stored entry (partition, offset) first, so a caller that needs them
    /// too (the restart position) does not read the store again. Returns the number of stored
    /// entries.
    pub async fn populate_all(
        &self,
        visit: &mut (dyn FnMut(&OffsetMap, &OffsetMap) + Send),
    ) -> Result<u64> {
        let mut count = 0u64;
        let copy = !self.store.peeks();
        self.store
            .for_each(&self.connector, &mut |partition, offset| {
                count += 1;
                visit(&partition, &offset);
                if copy {
                    self.cache()
                        .insert_if_absent(canonical_partition(&partition), offset);
                }
            })
            .await?;
        Ok(count)
    }

    /// Caches `entry`'s data (progress made in memory), replacing what was cached.
    pub fn add_entry(&self, entry: &dyn OffsetManagerEntry) {
        let key = canonical_partition(&entry.manager_key());
        self.cache().insert(key, Cow::Owned(entry.properties()));
    }

    /// [`add_entry`](Self::add_entry) for an object's entry, without copying its key, nor its
    /// data when the object is finished (once per object read).
    pub fn add_object_entry(&self, entry: &ObjectOffsetEntry) {
        let key = canonical_partition(entry.key());
        self.cache().insert(key, Cow::Borrowed(entry.data()));
    }

    /// Forgets the cached data of source partition `key` (the store is untouched).
    pub fn remove(&self, key: &OffsetMap) {
        self.cache().remove(&canonical_partition(key));
    }

    /// Forgets the cached data of `record`'s source partition.
    pub fn remove_record(&self, record: &SourceRecord) {
        self.remove(&record.source_partition);
    }

    /// The finished offsets of `batch`, an offset write about to start, for
    /// [`forget_stored`](Self::forget_stored) once the store holds them; nothing when the store
    /// does not answer lookups itself ([`OffsetStore::peeks`]: the cache is then the only copy
    /// in memory).
    pub fn finished_in(&self, batch: &[(OffsetMap, OffsetMap)]) -> StoredFinished {
        if !self.store.peeks() {
            return StoredFinished(Vec::new());
        }
        StoredFinished(
            batch
                .iter()
                .filter_map(|(p, o)| Some((canonical_partition(p), Held::of(o)?)))
                .collect(),
        )
    }

    /// Drops the cache's copies of `stored`, which the store now holds (and answers for): a
    /// finished object is then held once, by the store, not twice for as long as the task
    /// runs. A partition whose cached offset changed since the write began keeps it.
    pub fn forget_stored(&self, stored: StoredFinished) {
        if stored.0.is_empty() {
            return;
        }
        let mut cache = self.cache();
        for (canonical, held) in &stored.0 {
            cache.finished.remove_if(canonical, held);
        }
    }

    /// The cached data of source partition `key`: progress of this run, else what the store
    /// holds in memory ([`OffsetStore::peek`]), else what [`populate_all`](Self::populate_all)
    /// or [`populate`](Self::populate) loaded.
    pub fn cached(&self, key: &OffsetMap) -> Option<OffsetMap> {
        self.cached_at(&self.key(key))
    }

    /// [`cached`](Self::cached) by a key rendered once ([`key`](Self::key),
    /// [`object_key`](Self::object_key)).
    pub fn cached_at(&self, key: &PartitionKey) -> Option<OffsetMap> {
        if let Some(data) = self.cache().get(key.canonical()) {
            return Some(data);
        }
        match self.store.peek(key) {
            Peek::Stored(data) => Some(data),
            Peek::Absent | Peek::Unknown => None,
        }
    }

    /// Whether what [`cached_at`](Self::cached_at) would return for `key` is known, without
    /// building it, to be a finished object's offset for `version` (the same ETag and, when
    /// the offset has one, the same size): the check a listing makes of every listed key.
    /// False when it is not, and when that cannot be told cheaply (an object in progress, an
    /// offset of another shape, a store that does not answer lookups itself): the caller
    /// then reads the offset with [`cached_at`](Self::cached_at).
    pub fn finished_unchanged(&self, key: &PartitionKey, version: &ObjectVersion<'_>) -> bool {
        {
            let cache = self.cache();
            if cache.maps.contains_key(key.canonical()) {
                return false;
            }
            if let Some(same) = cache.finished.holds(key.canonical(), version) {
                return same;
            }
        }
        self.store.holds_finished(key, version)
    }

    /// The key of source partition `partition` of this connector.
    pub fn key(&self, partition: &OffsetMap) -> PartitionKey {
        PartitionKey::new(&self.connector, partition)
    }

    /// The key of an object's source partition `{<field>: bucket, <field>: object}`
    /// ([`PartitionKey::object`]).
    pub fn object_key(&self, bucket: (&str, &str), object: (&str, &str)) -> PartitionKey {
        PartitionKey::object(&self.connector, bucket, object)
    }

    /// The number of cached entries (not counting those left in a store that
    /// [`peeks`](OffsetStore::peeks)).
    pub fn cached_len(&self) -> usize {
        let cache = self.cache();
        cache.maps.len() + cache.finished.len()
    }

    /// The number of cached entries held in the compact finished form (the others are maps).
    pub fn cached_finished_len(&self) -> usize {
        self.cache().finished.len()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn OffsetStore> {
        &self.store
    }

    /// The connector's name.
    pub fn connector(&self) -> &str {
        &self.connector
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::{
        MemoryOffsetStore, ObjectOffsetEntry, OffsetManagerEntryExt, OffsetValue, RECORD_COUNT,
    };

    fn entry(object: &str, count: i64) -> ObjectOffsetEntry {
        let mut e = ObjectOffsetEntry::new("bucket", "b", "object", object);
        e.set_property(RECORD_COUNT, OffsetValue::Long(count));
        e
    }

    fn finished(object: &str, count: i64, etag: &str) -> ObjectOffsetEntry {
        let mut e = entry(object, count);
        e.mark_finished();
        e.set_etag(etag);
        e.set_property(crate::offsets::SIZE, OffsetValue::Long(count * 10));
        e
    }

    async fn manager_with(stored: &[ObjectOffsetEntry]) -> (OffsetManager, Arc<MemoryOffsetStore>) {
        let store = Arc::new(MemoryOffsetStore::new());
        (manager_over(store.clone(), stored).await, store)
    }

    /// A manager over `store` holding `stored` (and another connector's entry, which must
    /// never show up).
    async fn manager_over(
        store: Arc<dyn OffsetStore>,
        stored: &[ObjectOffsetEntry],
    ) -> OffsetManager {
        store
            .put(
                "conn",
                stored
                    .iter()
                    .map(|e| (e.manager_key(), Some(e.properties())))
                    .collect(),
            )
            .await
            .unwrap();
        store
            .put(
                "other",
                vec![(
                    entry("x", 9).manager_key(),
                    Some(entry("x", 9).properties()),
                )],
            )
            .await
            .unwrap();
        OffsetManager::new("conn", store)
    }

    /// An object's entry added without copies is cached as `add_entry` caches it: a finished
    /// one in the compact set, one in progress as a map, the later one replacing the earlier.
    #[tokio::test]
    async fn object_entries_are_cached_as_add_entry_caches_them() {
        let (m, _) = manager_with(&[]).await;
        let (by_ref, _) = manager_with(&[]).await;
        for e in [
            entry("a", 3),
            finished("b", 4, "e"),
            finished("a", 5, "f"),
            entry("b", 1),
        ] {
            m.add_entry(&e);
            by_ref.add_object_entry(&e);
            for o in ["a", "b"] {
                let key = entry(o, 0).manager_key();
                assert_eq!(by_ref.cached(&key), m.cached(&key), "{o} after {e:?}");
            }
            assert_eq!(
                (by_ref.cached_len(), by_ref.cached_finished_len()),
                (m.cached_len(), m.cached_finished_len())
            );
        }
        assert_eq!(
            by_ref.cached(&entry("a", 0).manager_key()),
            Some(finished("a", 5, "f").properties())
        );
        assert_eq!(
            by_ref.cached(&entry("b", 0).manager_key()),
            Some(entry("b", 1).properties())
        );
    }

    #[tokio::test]
    async fn a_store_holding_its_offsets_in_memory_is_not_copied() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(crate::offsets::FileOffsetStore::open(dir.path().join("o")).unwrap());
        assert!(store.peeks());
        let m = manager_over(store, &[finished("a", 5, "e1"), entry("b", 1)]).await;
        let mut seen = 0;
        assert_eq!(m.populate_all(&mut |_, _| seen += 1).await.unwrap(), 2);
        assert_eq!((seen, m.cached_len()), (2, 0));
        let a = finished("a", 5, "e1");
        assert_eq!(m.cached(&a.manager_key()), Some(a.properties()));
        assert_eq!(
            m.cached(&entry("b", 0).manager_key()),
            Some(entry("b", 1).properties())
        );
        assert_eq!(
            m.cached(&entry("x", 0).manager_key()),
            None,
            "another connector's"
        );
        assert_eq!(m.cached(&entry("c", 0).manager_key()), None);
        // Progress made in memory wins over the store.
        let progress = entry("a", 0);
        m.add_entry(&progress);
        assert_eq!(m.cached(&a.manager_key()), Some(progress.properties()));
        assert_eq!(m.cached_len(), 1);
    }

    /// A finished object is held once: after the write that stores its offset, the cache lets
    /// go of its copy and the store answers for it. What changed since the write began, and
    /// what a store that does not answer lookups holds, stay cached.
    #[tokio::test]
    async fn finished_offsets_the_store_holds_are_not_cached_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(crate::offsets::FileOffsetStore::open(dir.path().join("o")).unwrap());
        let m = OffsetManager::new("conn", store.clone());
        let (a, b, c) = (
            finished("a", 5, "e1"),
            finished("b", 2, "e2"),
            entry("c", 3),
        );
        for e in [&a, &b, &c] {
            m.add_object_entry(e);
        }
        assert_eq!((m.cached_len(), m.cached_finished_len()), (3, 2));
        let batch: Vec<(OffsetMap, OffsetMap)> = [&a, &b, &c]
            .iter()
            .map(|e| (e.manager_key(), e.properties()))
            .collect();
        let stored = m.finished_in(&batch);
        // b is read again meanwhile (overwritten): its new progress is not the written offset.
        let b_again = entry("b", 1);
        m.add_object_entry(&b_again);
        store
            .put(
                "conn",
                batch.into_iter().map(|(p, o)| (p, Some(o))).collect(),
            )
            .await
            .unwrap();
        m.forget_stored(stored);
        assert_eq!(
            (m.cached_len(), m.cached_finished_len()),
            (2, 0),
            "b's progress and c's map stay; a is the store's alone"
        );
        assert_eq!(m.cached(&a.manager_key()), Some(a.properties()));
        assert_eq!(m.cached(&b.manager_key()), Some(b_again.properties()));
        assert_eq!(m.cached(&c.manager_key()), Some(c.properties()));
        // A finished offset that differs in anything from the cached one is kept.
        let d = finished("d", 4, "e4");
        m.add_object_entry(&d);
        for other in [finished("d", 4, "other"), finished("d", 5, "e4")] {
            let stored = m.finished_in(&[(other.manager_key(), other.properties())]);
            m.forget_stored(stored);
            assert_eq!(m.cached_finished_len(), 1);
        }
        // The memory store does not answer lookups: its manager keeps everything.
        let (m, _) = manager_with(&[]).await;
        m.add_object_entry(&a);
        let stored = m.finished_in(&[(a.manager_key(), a.properties())]);
        m.forget_stored(stored);
        assert_eq!(m.cached_finished_len(), 1);
    }

    #[tokio::test]
    async fn get_entry_from_store_then_cache() {
        let (m, store) = manager_with(&[entry("a", 5)]).await;
        assert_eq!(m.connector(), "conn");
        assert_eq!(m.store().location(), "memory");
        let key = entry("a", 0).manager_key();
        let e = m
            .get_entry(&key, ObjectOffsetEntry::from_properties)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.get_long(RECORD_COUNT).unwrap(), Some(5));
        assert!(m.cached(&key).is_some());
        // Served from the cache once cached, even if the store changes.
        store.put("conn", vec![(key.clone(), None)]).await.unwrap();
        let e = m
            .get_entry(&key, ObjectOffsetEntry::from_properties)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.record_count(), 5);
        assert!(m
            .get_entry(
                &entry("zz", 0).manager_key(),
                ObjectOffsetEntry::from_properties
            )
            .await
            .unwrap()
            .is_none());
        assert!(m
            .get_entry(
                &entry("x", 0).manager_key(),
                ObjectOffsetEntry::from_properties
            )
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn cached_progress_wins_over_the_store() {
        let (m, _) = manager_with(&[entry("a", 5), entry("b", 1)]).await;
        let mut a = entry("a", 5);
        a.increment_record_count();
        m.add_entry(&a);
        m.populate(&[
            a.manager_key(),
            entry("b", 0).manager_key(),
            entry("c", 0).manager_key(),
        ])
        .await
        .unwrap();
        assert_eq!(m.cached(&a.manager_key()), Some(a.properties()));
        assert_eq!(
            m.cached(&entry("b", 0).manager_key()),
            Some(entry("b", 1).properties())
        );
        assert_eq!(m.cached(&entry("c", 0).manager_key()), None);
        assert_eq!(m.cached_len(), 2);
        let mut stored = Vec::new();
        let n = m
            .populate_all(&mut |p, o| stored.push((p.clone(), o.clone())))
            .await
            .unwrap();
        assert_eq!((n, stored.len()), (2, 2));
        // The store's entries come back as stored; the cache keeps the progress ahead of them.
        assert!(stored.contains(&(a.manager_key(), entry("a", 5).properties())));
        assert_eq!(m.cached(&a.manager_key()), Some(a.properties()));
    }

    #[tokio::test]
    async fn populate_all_and_remove() {
        let (m, _) = manager_with(&[entry("a", 1), entry("b", 2)]).await;
        assert_eq!(m.populate_all(&mut |_, _| ()).await.unwrap(), 2);
        assert_eq!(m.cached_len(), 2);
        m.remove(&entry("a", 0).manager_key());
        assert_eq!(m.cached(&entry("a", 0).manager_key()), None);
        let record = SourceRecord {
            source_partition: entry("b", 0).manager_key(),
            source_offset: entry("b", 2).properties(),
            ..test_record()
        };
        m.remove_record(&record);
        assert_eq!(m.cached_len(), 0);
    }

    #[tokio::test]
    async fn finished_entries_are_cached_compactly_and_come_back_exactly() {
        let (m, _) = manager_with(&[finished("a", 5, "e1"), entry("b", 1)]).await;
        m.populate_all(&mut |_, _| ()).await.unwrap();
        assert_eq!((m.cached_len(), m.cached_finished_len()), (2, 1));
        let a = finished("a", 5, "e1");
        assert_eq!(m.cached(&a.manager_key()), Some(a.properties()));
        // A finished object read again is in progress (a map), then finished again (compact).
        let mut again = entry("a", 0);
        m.add_entry(&again);
        assert_eq!((m.cached_len(), m.cached_finished_len()), (2, 0));
        assert_eq!(m.cached(&a.manager_key()), Some(again.properties()));
        again.mark_finished();
        m.add_entry(&again);
        assert_eq!((m.cached_len(), m.cached_finished_len()), (2, 1));
        assert_eq!(m.cached(&a.manager_key()), Some(again.properties()));
        // Another shape of finished offset (a marker added) stays a map, exactly.
        let mut marked = finished("a", 5, "e1");
        marked.set_property("postRead", "done".into());
        m.add_entry(&marked);
        assert_eq!((m.cached_len(), m.cached_finished_len()), (2, 0));
        assert_eq!(m.cached(&a.manager_key()), Some(marked.properties()));
        m.remove(&a.manager_key());
        assert_eq!(m.cached(&a.manager_key()), None);
        assert_eq!(m.cached_len(), 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Whatever mix of in-progress, finished and other-shaped offsets is added, removed or
        /// loaded, the manager answers exactly as a plain map of canonical partitions would,
        /// and cached progress always wins over a later load from the store.
        #[test]
        fn the_cache_behaves_as_a_map(
            ops in proptest::collection::vec(
                (0u8..4, 0u16..300, 0i64..1000, proptest::option::of("[a-z0-9\"]{0,8}")), 0..1500),
            stored in proptest::collection::vec((0u16..300, 0i64..1000, proptest::prelude::any::<bool>()), 0..200),
            in_file in proptest::prelude::any::<bool>(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let mut model: std::collections::HashMap<String, OffsetMap> = Default::default();
            let mut added = std::collections::HashSet::new();
            let stored: Vec<ObjectOffsetEntry> = stored
                .iter()
                .map(|(k, c, f)| if *f { finished(&format!("s{k}"), *c, "x") } else { entry(&format!("s{k}"), *c) })
                .collect();
            let dir = tempfile::tempdir().unwrap();
            let store: Arc<dyn OffsetStore> = if in_file {
                Arc::new(crate::offsets::FileOffsetStore::open(dir.path().join("o")).unwrap())
            } else {
                Arc::new(MemoryOffsetStore::new())
            };
            let mut m = rt.block_on(manager_over(store, &stored));
            if in_file {
                // Read back from disk, the file store holds finished offsets in the binary
                // form, which the listing's check reads in place.
                let reopened = crate::offsets::FileOffsetStore::open(dir.path().join("o")).unwrap();
                m = OffsetManager::new("conn", Arc::new(reopened));
            }
            for (op, k, count, etag) in &ops {
                let object = if k % 2 == 0 { format!("k{k}") } else { format!("s{k}") };
                let mut e = entry(&object, *count);
                match op {
                    0 => {}
                    1 | 2 => {
                        e.mark_finished();
                        if let Some(t) = etag { e.set_etag(t) }
                        if *op == 2 { e.set_property("deleted", OffsetValue::Bool(true)) }
                    }
                    _ => {
                        m.remove(&e.manager_key());
                        model.remove(&canonical_partition(&e.manager_key()));
                        added.remove(&canonical_partition(&e.manager_key()));
                        continue;
                    }
                }
                m.add_entry(&e);
                model.insert(canonical_partition(&e.manager_key()), e.properties());
                added.insert(canonical_partition(&e.manager_key()));
            }
            rt.block_on(m.populate_all(&mut |_, _| ())).unwrap();
            // The store keeps the last of several entries of one partition.
            let in_store: std::collections::HashMap<String, OffsetMap> = stored
                .iter()
                .map(|e| (canonical_partition(&e.manager_key()), e.properties()))
                .collect();
            for (k, v) in &in_store {
                model.entry(k.clone()).or_insert_with(|| v.clone());
            }
            if !in_file {
                proptest::prop_assert_eq!(m.cached_len(), model.len());
            }
            for k in 0..300u16 {
                for object in [format!("k{k}"), format!("s{k}")] {
                    let key = entry(&object, 0).manager_key();
                    let canonical = canonical_partition(&key);
                    proptest::prop_assert_eq!(m.cached(&key), model.get(&canonical).cloned());
                    let Some(data) = model.get(&canonical) else {
                        continue;
                    };
                    // The listing's check without building the offset says what the offset
                    // says; for what this run cached in the finished form, always.
                    // Its own version, others, and the version the store holds under it.
                    fn version_of(data: &OffsetMap) -> (Option<&str>, i64) {
                        let etag = data.get(crate::offsets::ETAG).and_then(OffsetValue::as_str);
                        let size = data.get(crate::offsets::SIZE).and_then(OffsetValue::as_long);
                        (etag, size.unwrap_or(3))
                    }
                    let (etag, size) = version_of(data);
                    let mut versions = vec![(etag, size), (Some("zz"), size), (None, size), (etag, size + 1)];
                    versions.extend(in_store.get(&canonical).map(version_of));
                    for (etag, size) in versions {
                        let version = ObjectVersion { etag, size };
                        let fast = m.finished_unchanged(&m.key(&key), &version);
                        let slow = data.get(crate::offsets::FINISHED) == Some(&OffsetValue::Bool(true))
                            && data.get(crate::offsets::ETAG).and_then(OffsetValue::as_str) == etag
                            && data.get(crate::offsets::SIZE).and_then(OffsetValue::as_long).is_none_or(|s| s == size);
                        proptest::prop_assert!(!fast || slow, "{canonical} {data:?} {version:?}");
                        if (in_file || added.contains(&canonical)) && Held::of(data).is_some() {
                            proptest::prop_assert_eq!(fast, slow, "{} {:?} {:?}", canonical, data, version);
                        }
                    }
                }
            }
        }
    }

    fn test_record() -> SourceRecord {
        SourceRecord {
            source_partition: OffsetMap::new(),
            source_offset: OffsetMap::new(),
            topic: "t".into(),
            kafka_partition: None,
            key: crate::data::SchemaAndValue::null(),
            value: crate::data::SchemaAndValue::null(),
            timestamp: None,
            headers: Vec::new(),
            origin: None,
        }
    }
}
