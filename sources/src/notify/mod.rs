//! Object notifications of the cloud backends, one module per queue kind: S3 event
//! notifications in SQS (`sqs.rs`, events parsed in `s3_events.rs`) and Event Grid events in an
//! Azure Storage queue (`azure_queue.rs`, events in `event_grid.rs`). Each backend module
//! declares its keys; `millis` reads their durations. The object source does the rest (see
//! `sluice_core::contract::NotificationQueue`).
//!
//! GCS Pub/Sub notifications are not implemented: no Pub/Sub emulator runs on the test machines
//! (Google's needs Java), and an untested client is not shipped.

pub mod azure_queue;
pub mod event_grid;
pub mod s3_events;
pub mod sqs;

use std::time::Duration;

use sluice_core::config::{ConnectorConfig, KeySet};

use crate::setting;

/// Default of the reconciliation intervals (`*.notifications.reconciliation.interval.ms`): an hour.
pub(crate) const RECONCILIATION_DEFAULT: &str = "3600000";

/// The duration in milliseconds of `key` (declared in `keys` with its default).
pub(crate) fn millis(config: &ConnectorConfig, keys: &KeySet, key: &str) -> Duration {
    let value = setting(config, key).or_else(|| {
        keys.keys
            .iter()
            .find(|d| d.name == key)
            .and_then(|d| d.default)
    });
    Duration::from_millis(value.and_then(|v| v.parse().ok()).unwrap_or(0))
}
