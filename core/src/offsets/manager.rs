//! [`OffsetManager`]: a connector's offsets, cached in memory in front of an [`OffsetStore`];
//! modelled on Aiven's commons `OffsetManager`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Result;
use crate::record::SourceRecord;

use super::entry::OffsetManagerEntry;
use super::store::{canonical_partition, OffsetStore};
use super::value::OffsetMap;

/// A connector's offsets: the store plus an in-memory cache of the entries seen or updated, keyed
/// by the canonical form of the source partition.
///
/// The cache holds in-memory progress, which may be ahead of the store: loading from the store
/// ([`populate`](Self::populate), [`populate_all`](Self::populate_all)) never overwrites a cached
/// entry.
#[derive(Debug)]
pub struct OffsetManager {
    connector: String,
    store: Arc<dyn OffsetStore>,
    cache: Mutex<HashMap<String, OffsetMap>>,
}

impl OffsetManager {
    /// The offsets of connector `connector`, kept in `store`.
    pub fn new(connector: impl Into<String>, store: Arc<dyn OffsetStore>) -> Self {
        OffsetManager {
            connector: connector.into(),
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, OffsetMap>> {
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
            return Ok(Some(creator(key.clone(), data.clone())));
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
            let data = self.cache().entry(canonical).or_insert(data).clone();
            creator(key.clone(), data)
        }))
    }

    /// Loads the stored data of `keys` not cached yet into the cache, in one store call.
    pub async fn populate(&self, keys: &[OffsetMap]) -> Result<()> {
        let missing: Vec<OffsetMap> = {
            let cache = self.cache();
            keys.iter()
                .filter(|k| !cache.contains_key(&canonical_partition(k)))
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
                cache.entry(canonical_partition(key)).or_insert(data);
            }
        }
        Ok(())
    }

    /// Loads every stored entry of the connector into the cache (cached entries are kept), in
    /// one read of the store; returns the stored entries (partition, offset), so a caller that
    /// needs them too (the restart position) does not read the store again.
    pub async fn populate_all(&self) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        let stored = self.store.list(&self.connector).await?;
        let mut cache = self.cache();
        for (key, data) in &stored {
            cache
                .entry(canonical_partition(key))
                .or_insert_with(|| data.clone());
        }
        Ok(stored)
    }

    /// Caches `entry`'s data (progress made in memory), replacing what was cached.
    pub fn add_entry(&self, entry: &dyn OffsetManagerEntry) {
        let key = canonical_partition(&entry.manager_key());
        self.cache().insert(key, entry.properties());
    }

    /// Forgets the cached data of source partition `key` (the store is untouched).
    pub fn remove(&self, key: &OffsetMap) {
        self.cache().remove(&canonical_partition(key));
    }

    /// Forgets the cached data of `record`'s source partition.
    pub fn remove_record(&self, record: &SourceRecord) {
        self.remove(&record.source_partition);
    }

    /// The cached data of source partition `key`.
    pub fn cached(&self, key: &OffsetMap) -> Option<OffsetMap> {
        self.cache().get(&canonical_partition(key)).cloned()
    }

    /// The number of cached entries.
    pub fn cached_len(&self) -> usize {
        self.cache().len()
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

    async fn manager_with(stored: &[ObjectOffsetEntry]) -> (OffsetManager, Arc<MemoryOffsetStore>) {
        let store = Arc::new(MemoryOffsetStore::new());
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
        // Another connector's offsets must never show up.
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
        (OffsetManager::new("conn", store.clone()), store)
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
        let stored = m.populate_all().await.unwrap();
        assert_eq!(stored.len(), 2);
        // The store's entries come back as stored; the cache keeps the progress ahead of them.
        assert!(stored.contains(&(a.manager_key(), entry("a", 5).properties())));
        assert_eq!(m.cached(&a.manager_key()), Some(a.properties()));
    }

    #[tokio::test]
    async fn populate_all_and_remove() {
        let (m, _) = manager_with(&[entry("a", 1), entry("b", 2)]).await;
        assert_eq!(m.populate_all().await.unwrap().len(), 2);
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
