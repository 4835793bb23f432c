//! [`OffsetManagerEntry`]: one source partition's key and offset data, modelled on Aiven's
//! commons `OffsetManager.OffsetManagerEntry`; [`ObjectOffsetEntry`] is the object-store one.

use crate::error::{Error, Result};

use super::value::{OffsetMap, OffsetValue};

/// Offset property: how many records of the object have been produced (a Long).
pub const RECORD_COUNT: &str = "recordCount";
/// Offset property: true once every record of the object has been produced (a Bool).
pub const FINISHED: &str = "finished";
/// Offset property: the object's ETag when it was read (a String), to notice a rewritten object.
pub const ETAG: &str = "etag";
/// Offset property of a finished object: its size in bytes when it was read (a Long), to notice
/// an object that grew (`object.overwrite.policy=append`).
pub const SIZE: &str = "size";
/// Offset property of a finished object whose last record was a last line without a line
/// terminator (a Bool, only when true): when the object grows, that line is read again whole.
pub const LAST_LINE_UNTERMINATED: &str = "lastLineUnterminated";

/// One source partition's entry in the [`OffsetManager`](super::OffsetManager): its key (the
/// Kafka Connect source partition) and its data (the source offset).
pub trait OffsetManagerEntry: Send + Sync + std::fmt::Debug {
    /// The source partition (a copy).
    fn manager_key(&self) -> OffsetMap;

    /// The source offset data (a copy).
    fn properties(&self) -> OffsetMap;

    /// One property of the offset data.
    fn property(&self, key: &str) -> Option<&OffsetValue>;

    /// Sets one property of the offset data.
    fn set_property(&mut self, key: &str, value: OffsetValue);

    /// The number of records produced so far ([`RECORD_COUNT`]; 0 when absent or not a Long).
    fn record_count(&self) -> i64 {
        self.property(RECORD_COUNT)
            .and_then(OffsetValue::as_long)
            .unwrap_or(0)
    }

    /// Adds one to [`record_count`](Self::record_count).
    fn increment_record_count(&mut self) {
        let next = self.record_count().saturating_add(1);
        self.set_property(RECORD_COUNT, OffsetValue::Long(next));
    }
}

/// Typed getters for every [`OffsetManagerEntry`]. Each returns `Ok(None)` when the property is
/// absent or null, and an [`Error::Offset`] naming the key and the actual type when the property
/// has another type.
pub trait OffsetManagerEntryExt: OffsetManagerEntry {
    /// The property as a Long.
    fn get_long(&self, key: &str) -> Result<Option<i64>> {
        typed(self.property(key), key, "a Long", OffsetValue::as_long)
    }

    /// The property as a String.
    fn get_string(&self, key: &str) -> Result<Option<&str>> {
        typed(self.property(key), key, "a String", OffsetValue::as_str)
    }

    /// The property as a Bool.
    fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        typed(self.property(key), key, "a Boolean", OffsetValue::as_bool)
    }
}

impl<T: OffsetManagerEntry + ?Sized> OffsetManagerEntryExt for T {}

fn typed<'a, T>(
    value: Option<&'a OffsetValue>,
    key: &str,
    wanted: &str,
    get: impl FnOnce(&'a OffsetValue) -> Option<T>,
) -> Result<Option<T>> {
    match value {
        None | Some(OffsetValue::Null) => Ok(None),
        Some(v) => get(v).map(Some).ok_or_else(|| {
            Error::Offset(format!(
                "offset property {key:?} should be {wanted} but is {} ({})",
                type_name(v),
                v.to_json()
            ))
        }),
    }
}

/// The Kafka Connect name of a value's type, for messages.
pub(crate) fn type_name(v: &OffsetValue) -> &'static str {
    match v {
        OffsetValue::Null => "null",
        OffsetValue::Bool(_) => "a Boolean",
        OffsetValue::Long(_) => "a Long",
        OffsetValue::Double(_) => "a Double",
        OffsetValue::String(_) => "a String",
    }
}

/// The entry of one object in an object store: key `{<bucket_field>: bucket, <object_field>:
/// object}` (S3 and GCS use `"bucket"`/`"object"`, Azure `"container"`/`"blob"`), data
/// `{recordCount, finished, etag, ...}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectOffsetEntry {
    key: OffsetMap,
    data: OffsetMap,
}

impl ObjectOffsetEntry {
    /// A fresh entry (no data yet) for `object` in `bucket`, with the key field names to use.
    pub fn new(bucket_field: &str, bucket: &str, object_field: &str, object: &str) -> Self {
        let mut key = OffsetMap::new();
        key.insert(bucket_field.to_owned(), bucket.into());
        key.insert(object_field.to_owned(), object.into());
        ObjectOffsetEntry {
            key,
            data: OffsetMap::new(),
        }
    }

    /// An entry from a stored key (source partition) and data (source offset); usable as the
    /// `creator` of [`OffsetManager::get_entry`](super::OffsetManager::get_entry).
    pub fn from_properties(key: OffsetMap, data: OffsetMap) -> Self {
        ObjectOffsetEntry { key, data }
    }

    /// The source partition, borrowed.
    pub fn key(&self) -> &OffsetMap {
        &self.key
    }

    /// The offset data, borrowed.
    pub fn data(&self) -> &OffsetMap {
        &self.data
    }

    /// The source partition and the offset data, without copying them.
    pub fn into_parts(self) -> (OffsetMap, OffsetMap) {
        (self.key, self.data)
    }

    /// True once every record of the object has been produced ([`FINISHED`]).
    pub fn is_finished(&self) -> bool {
        self.property(FINISHED)
            .and_then(OffsetValue::as_bool)
            .unwrap_or(false)
    }

    /// Marks the object as completely produced.
    pub fn mark_finished(&mut self) {
        self.set_property(FINISHED, OffsetValue::Bool(true));
    }

    /// The object's ETag when it was read ([`ETAG`]), if recorded.
    pub fn etag(&self) -> Option<&str> {
        self.property(ETAG).and_then(OffsetValue::as_str)
    }

    /// Records the object's ETag.
    pub fn set_etag(&mut self, etag: &str) {
        self.set_property(ETAG, etag.into());
    }
}

impl OffsetManagerEntry for ObjectOffsetEntry {
    fn manager_key(&self) -> OffsetMap {
        self.key.clone()
    }

    fn properties(&self) -> OffsetMap {
        self.data.clone()
    }

    fn property(&self, key: &str) -> Option<&OffsetValue> {
        self.data.get(key)
    }

    fn set_property(&mut self, key: &str, value: OffsetValue) {
        self.data.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_entry_key_and_data() {
        let mut e = ObjectOffsetEntry::new("container", "c", "blob", "a/b.json");
        assert_eq!(
            e.manager_key(),
            OffsetMap::from([
                ("blob".to_owned(), "a/b.json".into()),
                ("container".to_owned(), "c".into()),
            ])
        );
        assert_eq!(e.record_count(), 0);
        assert!(!e.is_finished());
        assert_eq!(e.etag(), None);
        e.increment_record_count();
        e.increment_record_count();
        e.set_etag("\"abc\"");
        e.mark_finished();
        assert_eq!(e.record_count(), 2);
        assert!(e.is_finished());
        assert_eq!(e.etag(), Some("\"abc\""));
        assert_eq!(e.get_long(RECORD_COUNT).unwrap(), Some(2));
        assert_eq!(e.get_bool(FINISHED).unwrap(), Some(true));
        assert_eq!(e.get_string(ETAG).unwrap(), Some("\"abc\""));
        // Defensive copies.
        let mut props = e.properties();
        props.clear();
        assert_eq!(e.properties().len(), 3);
        let back = ObjectOffsetEntry::from_properties(e.manager_key(), e.properties());
        assert_eq!(back, e);
        assert_eq!(back.key(), e.key());
        assert_eq!(back.data(), e.data());
        assert_eq!(back.into_parts(), (e.manager_key(), e.properties()));
    }

    #[test]
    fn typed_getters_name_key_and_type() {
        let mut e = ObjectOffsetEntry::new("bucket", "b", "object", "o");
        e.set_property("n", "12".into());
        e.set_property("z", OffsetValue::Null);
        let err = e.get_long("n").unwrap_err().to_string();
        assert!(err.contains("\"n\"") && err.contains("a String"), "{err}");
        let err = e.get_bool("n").unwrap_err().to_string();
        assert!(err.contains("a Boolean"), "{err}");
        e.set_property("d", OffsetValue::Double(1.5));
        let err = e.get_string("d").unwrap_err().to_string();
        assert!(err.contains("\"d\"") && err.contains("a Double"), "{err}");
        assert_eq!(e.get_long("missing").unwrap(), None);
        assert_eq!(e.get_long("z").unwrap(), None);
        // record_count tolerates a wrongly typed value.
        e.set_property(RECORD_COUNT, "x".into());
        assert_eq!(e.record_count(), 0);
    }

    #[test]
    fn increment_saturates() {
        let mut e = ObjectOffsetEntry::default();
        e.set_property(RECORD_COUNT, OffsetValue::Long(i64::MAX));
        e.increment_record_count();
        assert_eq!(e.record_count(), i64::MAX);
    }
}
