//! Sluice core: Kafka Connect's data model, configuration, offsets, the source task driver,
//! converters and the Kafka producer.
//!
//! This is an implementation crate with no stability promise: its items change whenever Sluice
//! needs them to. Programs built on Sluice (their own backend, format, converter or transform)
//! use `sluice-api`, the one documented, stable surface, which re-exports what they need.
#![warn(missing_docs)]

pub mod backoff;
pub mod config;
pub mod contract;
pub mod convert;
pub mod data;
pub mod distribution;
pub mod driver;
pub mod envelope;
mod error;
pub mod kafka;
pub mod matcher;
pub mod metrics;
pub mod object;
pub mod offsets;
pub mod postread;
pub mod ratelimit;
pub mod record;
pub mod routing;
pub mod source;
pub mod template;
pub mod transformer;
pub mod transforms;

pub use error::{error_chain, BoxError, Error, Result};
