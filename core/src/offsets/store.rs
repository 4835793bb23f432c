//! [`OffsetStore`]: where committed offsets live, and [`MemoryOffsetStore`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Error, Result};

use super::finished::ObjectVersion;
use super::value::{map_from_json, write_map_json, OffsetMap};

/// The least time between the starts of two continuous offset writes of one task, unless its
/// store asks for more ([`OffsetStore::write_spacing`]): at most 50 writes a second per task.
pub const DEFAULT_WRITE_SPACING: std::time::Duration = std::time::Duration::from_millis(20);

/// A pluggable store of committed source offsets, per connector and source partition.
#[async_trait]
pub trait OffsetStore: Send + Sync + std::fmt::Debug {
    /// Stored offsets of `partitions` for connector `connector` (None where nothing stored), in
    /// the order of `partitions`.
    async fn get(
        &self,
        connector: &str,
        partitions: &[OffsetMap],
    ) -> Result<Vec<Option<OffsetMap>>>;

    /// Every stored (partition, offset) of the connector.
    async fn list(&self, connector: &str) -> Result<Vec<(OffsetMap, OffsetMap)>>;

    /// Calls `visit` with every stored (partition, offset) of the connector, one at a time,
    /// without collecting them all first (a store of millions of entries is walked in bounded
    /// memory). The default collects [`list`](Self::list).
    async fn for_each(
        &self,
        connector: &str,
        visit: &mut (dyn FnMut(OffsetMap, OffsetMap) + Send),
    ) -> Result<()> {
        for (partition, offset) in self.list(connector).await? {
            visit(partition, offset);
        }
        Ok(())
    }

    /// The stored offset under `key` (a connector's source partition), when the store holds
    /// its offsets in memory and can answer at once, without I/O ([`Peek::Unknown`]
    /// otherwise, the default). The [`OffsetManager`](super::OffsetManager) then keeps no copy
    /// of the stored offsets of its own: the store's is the one copy in the process.
    fn peek(&self, _key: &PartitionKey) -> Peek {
        Peek::Unknown
    }

    /// Whether the offset stored under `key` is known at once, without I/O and without
    /// building it, to be a finished object's offset for `version` (the same ETag and size):
    /// the question a listing asks of every key. False when it is not, and whenever the store
    /// cannot tell that cheaply (the default); the caller then reads the offset
    /// ([`peek`](Self::peek)).
    fn holds_finished(&self, _key: &PartitionKey, _version: &ObjectVersion<'_>) -> bool {
        false
    }

    /// True when [`peek`](Self::peek) answers for every partition (it never says
    /// [`Peek::Unknown`] for want of the offsets in memory).
    fn peeks(&self) -> bool {
        false
    }

    /// The names of the connectors that have stored offsets, sorted.
    async fn connectors(&self) -> Result<Vec<String>>;

    /// Writes a batch; a None offset deletes the partition. Returns once the batch survives a
    /// crash of the process (a store may bound how much later it reaches the disk: see
    /// [`FileOffsetStore`](super::FileOffsetStore)'s sync interval). Later entries of the
    /// batch win over earlier ones for the same partition.
    async fn put(&self, connector: &str, batch: Vec<(OffsetMap, Option<OffsetMap>)>) -> Result<()>;

    /// The least time between the starts of two continuous offset writes of one task to this
    /// store ([`DEFAULT_WRITE_SPACING`] unless the store says otherwise): the pace a store
    /// that costs something per write can bear.
    fn write_spacing(&self) -> std::time::Duration {
        DEFAULT_WRITE_SPACING
    }

    /// Where the offsets live, for messages (`"file /x/y"`, `"memory"`).
    fn location(&self) -> String;

    /// The store as a Kafka topic store, when it is one (exactly-once tasks write their
    /// offsets into it inside their transactions).
    fn kafka(self: std::sync::Arc<Self>) -> Option<std::sync::Arc<super::KafkaOffsetStore>> {
        None
    }
}

/// What [`OffsetStore::peek`] knows of a partition.
#[derive(Debug, Clone, PartialEq)]
pub enum Peek {
    /// The stored offset.
    Stored(OffsetMap),
    /// Nothing is stored for the partition.
    Absent,
    /// The store cannot tell without I/O (or could not read what it holds).
    Unknown,
}

impl From<Result<Option<OffsetMap>>> for Peek {
    fn from(r: Result<Option<OffsetMap>>) -> Self {
        match r {
            Ok(Some(offset)) => Peek::Stored(offset),
            Ok(None) => Peek::Absent,
            Err(e) => {
                tracing::warn!(error = %e, "a stored offset could not be read back from memory");
                Peek::Unknown
            }
        }
    }
}

/// The canonical string of a source partition: its JSON object with sorted keys. Two equal
/// partitions always give the same string.
pub fn canonical_partition(partition: &OffsetMap) -> String {
    let mut out = Vec::with_capacity(64);
    write_map_json(partition, &mut out);
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The Kafka Connect offset key of a source partition: the JSON array
/// `["<connector>",{<partition>}]` with the partition's keys sorted (canonical).
pub fn connect_offset_key(connector: &str, partition: &OffsetMap) -> String {
    PartitionKey::new(connector, partition).text
}

/// A connector's source partition as its Kafka Connect offset key
/// ([`connect_offset_key`]), rendered once: the stores look offsets up by the whole key, the
/// [`OffsetManager`](super::OffsetManager)'s cache by the canonical partition inside it
/// ([`canonical_partition`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey {
    text: String,
    /// Where the canonical partition starts in `text`.
    start: usize,
}

impl PartitionKey {
    fn open(connector: &str, capacity: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(capacity);
        out.push(b'[');
        serde_json::to_writer(&mut out, connector).expect("JSON written to memory");
        out.push(b',');
        let start = out.len();
        (out, start)
    }

    fn close(mut out: Vec<u8>, start: usize) -> Self {
        out.push(b']');
        PartitionKey {
            text: String::from_utf8(out).expect("serde_json writes UTF-8"),
            start,
        }
    }

    /// The key of `partition`, connector `connector`'s.
    pub fn new(connector: &str, partition: &OffsetMap) -> Self {
        let (mut out, start) = Self::open(connector, 96);
        write_map_json(partition, &mut out);
        Self::close(out, start)
    }

    /// The key of an object's source partition, `{<bucket_field>: bucket, <object_field>:
    /// object}` ([`ObjectOffsetEntry::new`](super::ObjectOffsetEntry::new)), written without
    /// building the map (a listing asks for one per listed key).
    pub fn object(
        connector: &str,
        (bucket_field, bucket): (&str, &str),
        (object_field, object): (&str, &str),
    ) -> Self {
        let (mut out, start) = Self::open(connector, 32 + bucket.len() + object.len());
        let mut pairs = [(bucket_field, bucket), (object_field, object)];
        let pairs: &[(&str, &str)] = match bucket_field.cmp(object_field) {
            std::cmp::Ordering::Less => &pairs,
            std::cmp::Ordering::Greater => {
                pairs.swap(0, 1);
                &pairs
            }
            // One field: the object's value wins, as in the map.
            std::cmp::Ordering::Equal => &pairs[1..],
        };
        out.push(b'{');
        for (i, (field, value)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, field).expect("JSON written to memory");
            out.push(b':');
            serde_json::to_writer(&mut out, value).expect("JSON written to memory");
        }
        out.push(b'}');
        Self::close(out, start)
    }

    /// The whole key, `["<connector>",{<partition>}]`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The canonical partition inside it ([`canonical_partition`]).
    pub fn canonical(&self) -> &str {
        &self.text[self.start..self.text.len() - 1]
    }
}

/// Parses a Kafka Connect offset key (`["<connector>",{<partition>}]`) back into the connector
/// name and the partition; [`Error::Offset`] when it has another shape.
pub fn parse_connect_offset_key(key: &serde_json::Value) -> Result<(String, OffsetMap)> {
    match key.as_array().map(Vec::as_slice) {
        Some([serde_json::Value::String(connector), partition]) if partition.is_object() => {
            Ok((connector.clone(), map_from_json(partition)?))
        }
        _ => Err(Error::Offset(format!(
            "offset key {key} is not of the form [\"<connector>\",{{<partition>}}]"
        ))),
    }
}

type Entries = BTreeMap<String, (OffsetMap, OffsetMap)>;

/// Offsets kept in memory only (tests, throw-away runs): lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryOffsetStore {
    connectors: Mutex<HashMap<String, Entries>>,
}

impl MemoryOffsetStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl OffsetStore for MemoryOffsetStore {
    async fn get(
        &self,
        connector: &str,
        partitions: &[OffsetMap],
    ) -> Result<Vec<Option<OffsetMap>>> {
        let all = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        let entries = all.get(connector);
        Ok(partitions
            .iter()
            .map(|p| {
                entries
                    .and_then(|e| e.get(&canonical_partition(p)))
                    .map(|(_, offset)| offset.clone())
            })
            .collect())
    }

    async fn list(&self, connector: &str) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        let all = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        Ok(all
            .get(connector)
            .map(|e| e.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn connectors(&self) -> Result<Vec<String>> {
        let all = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = all
            .iter()
            .filter(|(_, e)| !e.is_empty())
            .map(|(c, _)| c.clone())
            .collect();
        names.sort();
        Ok(names)
    }

    async fn put(&self, connector: &str, batch: Vec<(OffsetMap, Option<OffsetMap>)>) -> Result<()> {
        let mut all = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        let entries = all.entry(connector.to_owned()).or_default();
        apply(entries, batch);
        Ok(())
    }

    fn location(&self) -> String {
        "memory".into()
    }
}

/// Applies a put batch to one connector's entries.
pub(crate) fn apply(entries: &mut Entries, batch: Vec<(OffsetMap, Option<OffsetMap>)>) {
    for (partition, offset) in batch {
        let key = canonical_partition(&partition);
        match offset {
            Some(offset) => {
                entries.insert(key, (partition, offset));
            }
            None => {
                entries.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::offsets::value::map_of as map;

    /// Found by the `connect_offsets` fuzz target: a number beyond i64 in a stored key is a
    /// double, and its canonical key must name the same partition when read back (serde_json's
    /// `float_roundtrip`: correctly rounded parsing, as Java's); otherwise the stored offset of
    /// that partition would not be found again after a restart.
    #[test]
    fn a_key_with_a_number_beyond_i64_reads_back_as_itself() {
        for text in [
            r#"["s3-source",{"bucket":2222222001722586675415205660}]"#,
            r#"["c",{"x":0.1,"y":1e308,"z":-2.2250738585072014e-308}]"#,
        ] {
            let key: serde_json::Value = serde_json::from_str(text).unwrap();
            let (connector, partition) = parse_connect_offset_key(&key).unwrap();
            let canonical = connect_offset_key(&connector, &partition);
            let again: serde_json::Value = serde_json::from_str(&canonical).unwrap();
            assert_eq!(
                parse_connect_offset_key(&again).unwrap(),
                (connector, partition),
                "{text}"
            );
        }
    }

    #[test]
    fn connect_key_is_canonical() {
        let p = map(&[("object", "o".into()), ("bucket", "b".into())]);
        let k = connect_offset_key("c", &p);
        assert_eq!(k, r#"["c",{"bucket":"b","object":"o"}]"#);
        let v: serde_json::Value = serde_json::from_str(&k).unwrap();
        assert_eq!(parse_connect_offset_key(&v).unwrap(), ("c".to_owned(), p));
        for bad in [
            r#"{"a":1}"#,
            r#"["c"]"#,
            r#"[1,{}]"#,
            r#"["c",{},1]"#,
            r#"["c",[]]"#,
        ] {
            let v: serde_json::Value = serde_json::from_str(bad).unwrap();
            assert!(parse_connect_offset_key(&v).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// An object's key written directly is the key of the partition map
        /// `ObjectOffsetEntry::new` builds, whatever the field names (in either order, or the
        /// same one twice), names and connector, and its canonical part is the map's
        /// canonical form.
        #[test]
        fn an_object_key_is_its_maps_key(
            connector in ".{0,6}|[\"\\\\\\x00]{1,3}",
            bucket_field in "bucket|container|b|object|[a-z\"é]{0,3}",
            object_field in "object|blob|bucket|[a-z\"é]{0,3}",
            bucket in ".{0,8}",
            object in ".{0,12}|[\\x00-\\x1f\"\\\\é/]{0,6}",
        ) {
            let (partition, _) =
                crate::offsets::ObjectOffsetEntry::new(&bucket_field, &bucket, &object_field, &object)
                    .into_parts();
            let key = PartitionKey::object(&connector, (&bucket_field, &bucket), (&object_field, &object));
            proptest::prop_assert_eq!(key.as_str(), connect_offset_key(&connector, &partition));
            proptest::prop_assert_eq!(key.canonical(), canonical_partition(&partition));
            proptest::prop_assert_eq!(key, PartitionKey::new(&connector, &partition));
        }
    }

    #[tokio::test]
    async fn memory_store_round_trip() {
        let s = MemoryOffsetStore::new();
        let p1 = map(&[("object", "a".into())]);
        let p2 = map(&[("object", "b".into())]);
        let o1 = map(&[("recordCount", 3i32.into())]);
        s.put(
            "c",
            vec![
                (p1.clone(), Some(o1.clone())),
                (p2.clone(), Some(o1.clone())),
            ],
        )
        .await
        .unwrap();
        assert_eq!(
            s.get("c", &[p1.clone(), p2.clone()]).await.unwrap(),
            vec![Some(o1.clone()), Some(o1.clone())]
        );
        assert_eq!(
            s.get("other", std::slice::from_ref(&p1)).await.unwrap(),
            vec![None]
        );
        s.put("c", vec![(p2.clone(), None)]).await.unwrap();
        assert_eq!(s.list("c").await.unwrap(), vec![(p1, o1)]);
        assert!(s.list("other").await.unwrap().is_empty());
        assert_eq!(s.location(), "memory");
    }
}
