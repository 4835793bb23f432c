//! The Sluice worker: the runtime that owns named connectors and their tasks, and its front
//! ends: Kafka Connect's REST API ([`rest`]), Prometheus metrics ([`prometheus`]) and the
//! connector configuration file that makes REST changes survive a restart ([`persist`]).
//!
//! This is an implementation crate with no stability promise: its items change whenever Sluice
//! needs them to. Programs built on Sluice (their own backend, format, converter or transform)
//! use `sluice-api`, the one documented, stable surface, which re-exports what they need.
//!
//! - [`Worker`] holds connectors by name; each is a connector handle with a target state
//!   (running, paused, stopped), its tasks (each with its own state, stop signal and end) and
//!   its counters. Connectors are created, reconfigured, paused, resumed, stopped, restarted
//!   (one task or all) and deleted through it.
//! - [`ConnectorParts::build`] is the one place a validated connector configuration becomes
//!   running parts (producers, converters, backend, transformer, offset manager); each task is
//!   made from them with [`ConnectorParts::task`].
//! - States follow Kafka Connect's names ([`State`]); a failed task carries its error trace.
#![warn(missing_docs)]

mod build;
mod connector;
pub mod distributed;
mod error;
pub mod loggers;
mod metrics;
mod offsets;
pub mod persist;
pub mod prometheus;
pub mod registry;
pub mod rest;
mod state;
mod worker;

use std::time::Duration;

pub use build::{check_kafka, BuildContext, ConnectorParts, TaskParts};
pub use error::{Error, Result};
pub use metrics::ConnectorMetrics;
pub use offsets::open_offset_store;
pub use state::{ConnectorStatus, State, TargetState, TaskStatus};
pub use worker::Worker;

use sluice_core::driver::TaskEnd;
use sluice_core::metrics::MetricsSnapshot;

/// Continuous (`run`) or one pass (`backfill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tail the bucket forever, relisting with backoff when idle.
    Continuous,
    /// One pass over what is in the bucket now, then stop.
    Backfill,
}

/// What a connector did.
#[derive(Debug, Clone)]
pub struct ConnectorSummary {
    /// Connector name.
    pub name: String,
    /// Its counters.
    pub metrics: MetricsSnapshot,
    /// How each task ended (`Err` carries the task's error trace).
    pub tasks: Vec<std::result::Result<TaskEnd, String>>,
    /// Time since the connector was created.
    pub elapsed: Duration,
}

impl ConnectorSummary {
    /// True when every task ended without an error.
    pub fn ok(&self) -> bool {
        self.tasks.iter().all(|t| t.is_ok())
    }
}
