//! A [`SourceRecord`] to the bytes Kafka takes: key and value through the converters, headers
//! to Kafka headers.

use std::sync::Arc;

use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};

use super::DriverConfig;
use crate::contract::{Failure, Stage};
use crate::convert::Converter;
use crate::error::Error;
use crate::offsets::OffsetMap;
use crate::record::{RecordOrigin, SourceRecord};

/// A record converted to bytes, ready to send.
pub(super) struct Prepared {
    pub(super) partition: OffsetMap,
    pub(super) offset: OffsetMap,
    /// Shared by the consecutive records of one topic (an `Arc` clone per record).
    pub(super) topic: Arc<str>,
    pub(super) kafka_partition: Option<i32>,
    pub(super) key: Option<Vec<u8>>,
    pub(super) value: Option<Vec<u8>>,
    pub(super) headers: Option<OwnedHeaders>,
    pub(super) timestamp: Option<i64>,
    pub(super) origin: Option<RecordOrigin>,
}

impl Prepared {
    /// The bytes it takes on the wire as `max.bytes.per.second` counts them: key and value.
    pub(super) fn size(&self) -> u64 {
        (self.key.as_ref().map_or(0, Vec::len) + self.value.as_ref().map_or(0, Vec::len)) as u64
    }
}

/// Converts the records of one task.
pub(super) struct Converting {
    key: Arc<dyn Converter>,
    value: Arc<dyn Converter>,
    header: crate::convert::HeaderConverter,
    /// The topic of the previous record.
    topic: Option<Arc<str>>,
}

impl Converting {
    pub(super) fn new(cfg: &DriverConfig) -> Self {
        Converting {
            key: cfg.key_converter.clone(),
            value: cfg.value_converter.clone(),
            header: cfg.header_converter.clone(),
            topic: None,
        }
    }

    /// The record as bytes; or, when a converter fails, the record and its failure.
    pub(super) fn convert(
        &mut self,
        r: SourceRecord,
    ) -> std::result::Result<Prepared, Box<(SourceRecord, Failure)>> {
        let key = match self.key.from_connect_data(&r.topic, &r.key) {
            Ok(k) => k,
            Err(e) => {
                let err = Error::Convert {
                    part: "key",
                    topic: r.topic.clone(),
                    source: Box::new(e),
                };
                return Err(failed(r, Stage::KeyConverter, err));
            }
        };
        let value = match self.value.from_connect_data(&r.topic, &r.value) {
            Ok(v) => v,
            Err(e) => {
                let err = Error::Convert {
                    part: "value",
                    topic: r.topic.clone(),
                    source: Box::new(e),
                };
                return Err(failed(r, Stage::ValueConverter, err));
            }
        };
        let headers = if r.headers.is_empty() {
            None
        } else {
            let mut out = OwnedHeaders::new_with_capacity(r.headers.len());
            for x in &r.headers {
                let value = match self.header.convert(&r.topic, x) {
                    Ok(v) => v,
                    Err(err) => return Err(failed(r, Stage::HeaderConverter, err)),
                };
                out = out.insert(KafkaHeader {
                    key: &x.key,
                    value: value.as_deref(),
                });
            }
            Some(out)
        };
        let topic = match &self.topic {
            Some(t) if **t == *r.topic => t.clone(),
            _ => {
                let t: Arc<str> = r.topic.as_str().into();
                self.topic = Some(t.clone());
                t
            }
        };
        Ok(Prepared {
            partition: r.source_partition,
            offset: r.source_offset,
            topic,
            kafka_partition: r.kafka_partition,
            key,
            value,
            headers,
            timestamp: r.timestamp,
            origin: r.origin,
        })
    }
}

/// The failure of `r` at `stage`, located by the record's origin.
fn failed(r: SourceRecord, stage: Stage, err: Error) -> Box<(SourceRecord, Failure)> {
    let failure = located(stage, r.origin.as_ref(), err);
    Box::new((r, failure))
}

/// A failure at `stage` of the record read at `origin`.
pub(super) fn located(stage: Stage, origin: Option<&RecordOrigin>, err: Error) -> Failure {
    let (bucket, object) = origin.map_or(("", ""), |o| {
        (o.object.bucket.as_str(), o.object.key.as_str())
    });
    let mut failure = Failure::new(stage, bucket, object, err);
    failure.record_index = origin.map(|o| o.index);
    failure
}
