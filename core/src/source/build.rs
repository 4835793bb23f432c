//! What the source hands the driver about an object being read: its [`SourceRecord`]s (topic,
//! partition, key, timestamp and headers from the template match) and the offsets that open and
//! close the object.

use crate::config::RecordTimestamp;
use crate::contract::Poll;

use crate::data::SchemaAndValue;
use crate::object::Tail;
use crate::offsets::{
    ObjectOffsetEntry, OffsetManagerEntry as _, OffsetMap, OffsetValue, ETAG, FINISHED,
    LAST_LINE_UNTERMINATED, RECORD_COUNT, SIZE,
};
use crate::record::{Header, RecordOrigin, SourceRecord};

use super::readers::{Next, Reader};
use super::ObjectSource;
use crate::config::EnvelopeKind;
use crate::envelope::{confluent, Envelope, Restored};
use crate::error::Error;
use crate::object::ObjectInput;
use crate::transformer::RecordStream;

/// Header naming the bucket (container, folder) of the object a record came from.
pub const HEADER_BUCKET: &str = "sluice.bucket";
/// Header naming the object key.
pub const HEADER_OBJECT: &str = "sluice.object.key";
/// Header carrying the object's ETag, when the store has one.
pub const HEADER_ETAG: &str = "sluice.object.etag";
/// Header carrying the record's zero-based index within its object.
pub const HEADER_INDEX: &str = "sluice.record.index";

/// Offset property of an object that vanished (deleted, or replaced while being read) before it
/// was read to the end: its entry is closed as finished so the restart position can move past it.
pub const DELETED: &str = "deleted";

/// Restores the envelope of a record just read, when `input.envelope` is set: the record's parts
/// come back, and `event` keeps a placeholder value; a malformed envelope turns `event` into a
/// recoverable record error naming the object and the record.
pub(super) fn restore(
    envelope: Option<&Envelope>,
    cur: &Reader,
    event: &mut Next,
) -> Option<Restored> {
    let envelope = envelope?;
    let Next::Item(Ok(value)) = event else {
        return None;
    };
    let value = std::mem::replace(value, SchemaAndValue::null());
    match envelope.restore(value) {
        Ok(restored) => Some(restored),
        Err(source) => {
            *event = Next::Item(Err(Error::Record {
                object: cur.input.key().to_owned(),
                record_index: cur.count,
                byte_offset: None,
                recoverable: true,
                raw: None,
                source,
            }));
            None
        }
    }
}

impl ObjectSource {
    /// The records of `input` from record `skip`: the transformer's, joined with the object's
    /// side files under `input.envelope=confluent`.
    pub(super) fn records(&self, input: ObjectInput, skip: u64) -> RecordStream {
        match &self.cfg.envelope {
            Some(e) if e.settings().kind == EnvelopeKind::Confluent => confluent::records(
                e.settings(),
                self.transformer.clone(),
                confluent::SideFiles {
                    bucket: self.backend.bucket().to_owned(),
                    store: self.backend.store().clone(),
                    retry: self.cfg.read_retry,
                },
                input,
                skip,
            ),
            _ => self.transformer.transform(input, skip),
        }
    }

    /// The source partition of object `key`: `{bucket, object}` as the backend names the fields.
    pub(super) fn partition_of(&self, key: &str) -> OffsetMap {
        let (bf, of) = self.backend.partition_fields();
        ObjectOffsetEntry::new(bf, self.backend.bucket(), of, key)
            .into_parts()
            .0
    }

    /// The offset a fresh object first yields, `{recordCount: 0, etag}`, so the stored offsets
    /// know every object that was opened (the restart position never moves past an object
    /// opened but not finished).
    pub(super) fn opened(&self, cur: &Reader) -> Poll {
        let mut offset = OffsetMap::new();
        offset.insert(RECORD_COUNT.into(), OffsetValue::Long(0));
        if let Some(etag) = &cur.input.meta().e_tag {
            offset.insert(ETAG.into(), OffsetValue::String(etag.clone()));
        }
        Poll::Progress {
            partition: cur.partition.clone(),
            offset,
        }
    }

    pub(super) fn record(&self, cur: &Reader, index: u64, value: SchemaAndValue) -> SourceRecord {
        let key = self.cfg.routing.record_key(cur.key.as_deref(), &value);
        let meta = cur.input.meta();
        let mut headers = Vec::new();
        if self.cfg.headers {
            headers.push(Header::string(HEADER_BUCKET, self.backend.bucket()));
            headers.push(Header::string(HEADER_OBJECT, cur.input.key()));
            if let Some(etag) = &meta.e_tag {
                headers.push(Header::string(HEADER_ETAG, etag));
            }
            headers.push(Header::string(HEADER_INDEX, index.to_string()));
        }
        let mut offset = OffsetMap::new();
        offset.insert(RECORD_COUNT.into(), OffsetValue::Long(index as i64 + 1));
        SourceRecord {
            source_partition: cur.partition.clone(),
            source_offset: offset,
            topic: cur.topic.clone(),
            kafka_partition: cur.kafka_partition,
            key,
            value,
            timestamp: match self.cfg.record_timestamp {
                RecordTimestamp::ObjectLastModified => Some(meta.last_modified.timestamp_millis()),
                RecordTimestamp::None => None,
            },
            headers,
            origin: Some(RecordOrigin {
                object: cur.input.object().clone(),
                index,
            }),
        }
    }

    /// The offset closing an object read to the end: `{recordCount, finished, etag, size}` as
    /// listed (plus `lastLineUnterminated` when so), also cached so a later listing skips it.
    /// (The listing's ETag, not the GET's: some stores spell the two differently.)
    pub(super) fn finished(&self, cur: Reader) -> Poll {
        // The reader's partition is the entry's key (`partition_of`): moved, not built again.
        let Reader {
            input,
            partition,
            count,
            ..
        } = cur;
        let mut entry = ObjectOffsetEntry::from_properties(partition, OffsetMap::new());
        entry.set_property(RECORD_COUNT, OffsetValue::Long(count as i64));
        entry.set_property(FINISHED, OffsetValue::Bool(true));
        let meta = input.meta();
        if let Some(etag) = &meta.e_tag {
            entry.set_property(ETAG, OffsetValue::String(etag.clone()));
        }
        entry.set_property(SIZE, OffsetValue::Long(meta.size as i64));
        if input.tail() == Tail::Unterminated {
            entry.set_property(LAST_LINE_UNTERMINATED, OffsetValue::Bool(true));
        }
        self.offsets.add_object_entry(&entry);
        self.metrics
            .object_finished(&self.cfg.task_name, input.key(), count);
        let (partition, offset) = entry.into_parts();
        Poll::Progress { partition, offset }
    }

    /// The offset closing an object that vanished while being read (deleted, or replaced by
    /// another version): finished, so it is not retried forever and the restart position can
    /// move past it; without an ETag, so `object.overwrite.policy=reread` reads a new version.
    pub(super) fn vanished(&self, cur: Reader) -> Poll {
        let mut entry = ObjectOffsetEntry::from_properties(cur.partition, OffsetMap::new());
        entry.set_property(RECORD_COUNT, OffsetValue::Long(cur.count as i64));
        entry.set_property(FINISHED, OffsetValue::Bool(true));
        entry.set_property(DELETED, OffsetValue::Bool(true));
        self.offsets.add_object_entry(&entry);
        let (partition, offset) = entry.into_parts();
        Poll::Progress { partition, offset }
    }
}
