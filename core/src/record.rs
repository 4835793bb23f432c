//! [`SourceRecord`]: what a source task hands to the producer (Connect's `SourceRecord`), with
//! its typed [`RecordOrigin`].

use std::sync::Arc;

use crate::data::SchemaAndValue;
use crate::offsets::OffsetMap;

/// A record header. Values are the bytes Connect's `SimpleHeaderConverter` writes for strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value bytes.
    pub value: Vec<u8>,
}

impl Header {
    /// A header with a UTF-8 string value.
    pub fn string(key: impl Into<String>, value: impl AsRef<str>) -> Self {
        Header {
            key: key.into(),
            value: value.as_ref().as_bytes().to_vec(),
        }
    }
}

/// One record on its way to Kafka, with the source partition and offset that say where it came
/// from. Offsets are committed only once Kafka acknowledged the record.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Where the record comes from, e.g. `{bucket, object}`.
    pub source_partition: OffsetMap,
    /// How far into the source partition this record is, e.g. `{recordCount}`.
    pub source_offset: OffsetMap,
    /// Destination topic.
    pub topic: String,
    /// Destination partition; `None` lets the producer's partitioner choose from the key.
    pub kafka_partition: Option<i32>,
    /// The key with its schema.
    pub key: SchemaAndValue,
    /// The value with its schema.
    pub value: SchemaAndValue,
    /// Record timestamp in milliseconds since the epoch; `None` lets Kafka assign it.
    pub timestamp: Option<i64>,
    /// Headers.
    pub headers: Vec<Header>,
    /// The object and the place in it the record was read from, when the source has one (for
    /// error messages and the dead letter queue; never written to Kafka).
    pub origin: Option<RecordOrigin>,
}

/// An object records are read from: its bucket and key. Shared by every record of the object
/// (one allocation per object, an `Arc` clone per record).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceObject {
    /// The bucket (container, folder).
    pub bucket: String,
    /// The object key.
    pub key: String,
}

/// Where a record was read: its object and its index in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOrigin {
    /// The object, shared by all its records.
    pub object: Arc<SourceObject>,
    /// Zero-based index of the record in the object.
    pub index: u64,
}
