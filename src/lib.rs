//! The `sluice` runtime: wires configuration, backends, transformers, converters, offsets and the
//! Kafka producer into running connectors (standalone mode), plus the embedded demo.
#![warn(missing_docs)]

pub mod demo;
pub mod offsets_cli;
pub mod runtime;
