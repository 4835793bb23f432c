//! A [`SourceRecord`] to the bytes Kafka takes: key and value through the converters, headers
//! to Kafka headers.
//!
//! A converter that needs something from outside first (a Schema Registry id) says so through
//! [`Converter::prepare`]; the record waits for it here, on the reading side, so the records
//! after it wait too and keep their order. A stop request ends the wait: the record is not sent
//! and, its offset never committed, is read again on the next run.

use std::sync::Arc;

use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use tokio::sync::watch;

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

/// What became of a record.
pub(super) enum Converted {
    /// Converted.
    Ready(Prepared),
    /// A converter failed: the record and its failure.
    Failed(Box<(SourceRecord, Failure)>),
    /// The task was asked to stop while the record waited for its converter.
    Stopped,
}

/// Converts the records of one task.
pub(super) struct Converting {
    key: Arc<dyn Converter>,
    value: Arc<dyn Converter>,
    header: crate::convert::HeaderConverter,
    /// The topic of the previous record.
    topic: Option<Arc<str>>,
    /// The task's stop request, which ends a wait for a converter.
    stop: watch::Receiver<bool>,
}

impl Converting {
    pub(super) fn new(cfg: &DriverConfig, stop: watch::Receiver<bool>) -> Self {
        Converting {
            key: cfg.key_converter.clone(),
            value: cfg.value_converter.clone(),
            header: cfg.header_converter.clone(),
            topic: None,
            stop,
        }
    }

    /// Whether converting `r` means waiting for something first (a schema registry's answer).
    pub(super) fn waits(&self, r: &SourceRecord) -> bool {
        self.key.prepare(&r.topic, &r.key).is_some()
            || self.value.prepare(&r.topic, &r.value).is_some()
    }

    /// Waits for what the converter of `part` needs for `r` (nothing, for most converters);
    /// `Ok(false)` when the task was asked to stop meanwhile.
    async fn ready(&mut self, part: &'static str, r: &SourceRecord) -> crate::Result<bool> {
        let (converter, data) = if part == "key" {
            (&self.key, &r.key)
        } else {
            (&self.value, &r.value)
        };
        let Some(wait) = converter.prepare(&r.topic, data) else {
            return Ok(true);
        };
        if *self.stop.borrow() {
            return Ok(false);
        }
        let stop = &mut self.stop;
        tokio::select! {
            res = wait => res.map(|()| true),
            _ = async { while stop.changed().await.is_ok() && !*stop.borrow() {} } => Ok(false),
        }
    }

    /// The record as bytes; or, when a converter fails, the record and its failure.
    pub(super) async fn convert(&mut self, r: SourceRecord) -> Converted {
        for (part, stage) in [
            ("key", Stage::KeyConverter),
            ("value", Stage::ValueConverter),
        ] {
            match self.ready(part, &r).await {
                Ok(true) => {}
                Ok(false) => return Converted::Stopped,
                Err(e) => return Converted::Failed(convert_failed(r, part, stage, e)),
            }
        }
        match self.convert_ready(r) {
            Ok(p) => Converted::Ready(p),
            Err(f) => Converted::Failed(f),
        }
    }

    /// [`Converting::convert`] once the converters have what they need. The value is converted
    /// last and taken, not copied, where its converter can (a failure before it leaves the record
    /// whole for the dead letter queue, and the value's own failure leaves the value).
    fn convert_ready(
        &mut self,
        mut r: SourceRecord,
    ) -> std::result::Result<Prepared, Box<(SourceRecord, Failure)>> {
        let key = match self.key.from_connect_data(&r.topic, &r.key) {
            Ok(k) => k,
            Err(e) => return Err(convert_failed(r, "key", Stage::KeyConverter, e)),
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
        let value = match self.value.from_connect_data_taking(&r.topic, &mut r.value) {
            Ok(v) => v,
            Err(e) => return Err(convert_failed(r, "value", Stage::ValueConverter, e)),
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

/// The failure of `r`'s `part` (`key` or `value`) converter at `stage`, naming the topic.
fn convert_failed(
    r: SourceRecord,
    part: &'static str,
    stage: Stage,
    e: Error,
) -> Box<(SourceRecord, Failure)> {
    let err = Error::Convert {
        part,
        topic: r.topic.clone(),
        source: Box::new(e),
    };
    failed(r, stage, err)
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
