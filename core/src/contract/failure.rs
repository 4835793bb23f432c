//! [`Failure`]: a record (or a whole object) that cannot be delivered as it is, and the
//! [`Stage`] where it failed.

use std::fmt;

use bytes::Bytes;

use crate::error::Error;

/// Where in the pipeline a record failed (the values of Kafka Connect's
/// `__connect.errors.stage` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading or parsing the object.
    TaskPoll,
    /// A single message transform (`transforms=`).
    Transformation,
    /// The key converter.
    KeyConverter,
    /// The value converter.
    ValueConverter,
    /// The header converter.
    HeaderConverter,
    /// Kafka rejected the record itself (e.g. too large).
    KafkaProduce,
}

impl Stage {
    /// Kafka Connect's name of the stage.
    pub fn name(self) -> &'static str {
        match self {
            Stage::TaskPoll => "TASK_POLL",
            Stage::Transformation => "TRANSFORMATION",
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
        }
    }
}

/// A record (or a whole object) that cannot be delivered as it is.
#[derive(Debug)]
pub struct Failure {
    /// Where it failed.
    pub stage: Stage,
    /// The bucket (container, folder).
    pub bucket: String,
    /// The object key.
    pub object: String,
    /// Zero-based index of the record in the object, when known.
    pub record_index: Option<u64>,
    /// Byte offset of the record in the (decompressed) object, when known.
    pub byte_offset: Option<u64>,
    /// True when the rest of the object could not be read.
    pub whole_object: bool,
    /// The raw bytes of the record, when available.
    pub raw: Option<Bytes>,
    /// The error.
    pub error: Error,
}

impl Failure {
    /// A failure at `stage` described by `error`; index, byte offset and raw bytes are taken
    /// from an [`Error::Record`].
    pub fn new(stage: Stage, bucket: &str, object: &str, error: Error) -> Self {
        let (record_index, byte_offset, raw, whole_object) = match &error {
            Error::Record {
                record_index,
                byte_offset,
                raw,
                recoverable,
                ..
            } => (
                Some(*record_index),
                *byte_offset,
                raw.clone(),
                !*recoverable,
            ),
            _ => (None, None, None, false),
        };
        Failure {
            stage,
            bucket: bucket.to_owned(),
            object: object.to_owned(),
            record_index,
            byte_offset,
            whole_object,
            raw,
            error,
        }
    }

    /// A short name of the error's kind, e.g. `Record/InvalidJson` (for
    /// `__connect.errors.exception.class.name`).
    pub fn class_name(&self) -> String {
        fn head(debug: String) -> String {
            debug
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default()
                .to_owned()
        }
        match &self.error {
            Error::Transform { source, .. } => format!(
                "{}/{}",
                head(format!("{:?}", self.error)),
                head(format!("{source:?}"))
            ),
            Error::Record { source, .. } | Error::Convert { source, .. } => format!(
                "{}/{}",
                head(format!("{:?}", self.error)),
                head(format!("{source:?}"))
            ),
            other => head(format!("{other:?}")),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed for object {:?}",
            self.stage.name(),
            self.object
        )?;
        if let Some(i) = self.record_index {
            write!(f, ", record {i}")?;
        }
        if let Some(o) = self.byte_offset {
            write!(f, " (byte offset {o})")?;
        }
        match &self.error {
            // Its own text would repeat the object, the record and the offset said above.
            Error::Record { source, .. } => {
                let cause: &(dyn std::error::Error + 'static) = source.as_ref();
                write!(f, ": {}", crate::error_chain(cause))
            }
            other => write!(f, ": {}", crate::error_chain(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_failure_names_object_record_and_offset_once() {
        let failure = Failure::new(
            Stage::TaskPoll,
            "bkt",
            "t.xml",
            Error::Record {
                object: "t.xml".into(),
                record_index: 2,
                byte_offset: Some(46),
                recoverable: true,
                raw: None,
                source: "invalid JSON: expected value".into(),
            },
        );
        assert_eq!(
            failure.to_string(),
            "TASK_POLL failed for object \"t.xml\", record 2 (byte offset 46): invalid JSON: expected value"
        );
    }
}
