//! Tolerated failures (`errors.tolerance=all`): logged, counted, and sent to the dead letter
//! queue with Kafka Connect's `__connect.errors.*` context headers; the failed record's offset
//! is committable once that is done.

use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use tracing::warn;

use super::commit::Committer;
use super::produce::{record_to, Output};
use super::DriverConfig;
use crate::contract::Failure;
use crate::kafka::{DeliveryTag, Sent};
use crate::metrics::Metrics;
use crate::offsets::SubmittedId;

impl Output<'_> {
    /// A tolerated failure: log, count, dead-letter, then let its offset (submitted as `id`) be
    /// committed.
    pub(super) async fn failed<C: Committer>(
        &mut self,
        committer: &mut C,
        id: SubmittedId,
        failure: Failure,
    ) {
        let cfg = self.cfg;
        if failure.whole_object {
            Metrics::add(&cfg.metrics.objects_failed, 1);
        } else {
            Metrics::add(&cfg.metrics.records_failed, 1);
        }
        if cfg.errors_log {
            let raw = if cfg.errors_log_messages {
                failure
                    .raw
                    .as_ref()
                    .map(|r| String::from_utf8_lossy(&r[..r.len().min(1024)]).into_owned())
            } else {
                None
            };
            if failure.whole_object {
                warn!(task = %cfg.task_name, raw, "{failure}; the rest of the object is skipped for this run and retried after a restart (errors.tolerance=all)");
            } else {
                warn!(task = %cfg.task_name, raw, "{failure}; record skipped (errors.tolerance=all)");
            }
        }
        let Some(dlq) = &cfg.dead_letter_queue else {
            self.submitted.ack(id);
            return;
        };
        let headers = if dlq.context_headers {
            context_headers(cfg, &failure)
        } else {
            OwnedHeaders::new()
        };
        let tag = DeliveryTag::new(
            id,
            Sent::DeadLetter(format!(
                "object {:?} record {:?}",
                failure.object, failure.record_index
            )),
        );
        let mut record = record_to(&dlq.topic, tag)
            .key(failure.object.as_bytes())
            .headers(headers);
        if let Some(raw) = &failure.raw {
            record = record.payload(raw);
        }
        Metrics::add(&cfg.metrics.dlq_records, 1);
        self.send(committer, record).await;
    }
}

/// Names of the dead letter record's context headers: Kafka Connect's, plus where in the
/// object store the record was.
pub(super) mod header {
    /// `__connect.errors.connector.name`.
    pub(crate) const CONNECTOR: &str = "__connect.errors.connector.name";
    /// `__connect.errors.task.id`.
    pub(crate) const TASK: &str = "__connect.errors.task.id";
    /// `__connect.errors.stage`.
    pub(crate) const STAGE: &str = "__connect.errors.stage";
    /// `__connect.errors.exception.class.name`.
    pub(crate) const CLASS: &str = "__connect.errors.exception.class.name";
    /// `__connect.errors.exception.message`.
    pub(crate) const MESSAGE: &str = "__connect.errors.exception.message";
    /// `__connect.errors.bucket`.
    pub(crate) const BUCKET: &str = "__connect.errors.bucket";
    /// `__connect.errors.object`.
    pub(crate) const OBJECT: &str = "__connect.errors.object";
    /// `__connect.errors.record.index`.
    pub(crate) const RECORD_INDEX: &str = "__connect.errors.record.index";
    /// `__connect.errors.byte.offset`.
    pub(crate) const BYTE_OFFSET: &str = "__connect.errors.byte.offset";
}

/// The `__connect.errors.*` headers describing `failure`.
fn context_headers(cfg: &DriverConfig, failure: &Failure) -> OwnedHeaders {
    let index = failure.record_index.map(|i| i.to_string());
    let offset = failure.byte_offset.map(|o| o.to_string());
    let class = failure.class_name();
    let message = crate::error_chain(&failure.error);
    let pairs: [(&str, Option<&str>); 9] = [
        (header::CONNECTOR, Some(&cfg.connector)),
        (header::TASK, Some(&cfg.task_name)),
        (header::STAGE, Some(failure.stage.name())),
        (header::CLASS, Some(&class)),
        (header::MESSAGE, Some(&message)),
        (header::BUCKET, Some(&failure.bucket)),
        (header::OBJECT, Some(&failure.object)),
        (header::RECORD_INDEX, index.as_deref()),
        (header::BYTE_OFFSET, offset.as_deref()),
    ];
    let mut headers = OwnedHeaders::new_with_capacity(pairs.len());
    for (k, v) in pairs {
        if let Some(v) = v {
            headers = headers.insert(KafkaHeader {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
    }
    headers
}
