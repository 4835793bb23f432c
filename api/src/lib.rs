//! # sluice-api: extend Sluice from your own crate
//!
//! The one documented, stable surface of Sluice for programs built on it. Everything a backend,
//! a format (transformer), a converter or a single message transform implements is here, with
//! the data model it produces (Kafka Connect's [`data::Schema`], [`data::Struct`],
//! [`data::SchemaAndValue`], [`record::SourceRecord`]), the one error type ([`Error`]), the key
//! declarations that give a component the same strict checking, "did you mean" and generated
//! reference as the built-ins ([`config`]), the [`config::Registry`] a program registers its
//! components in, the `sluice` command line as a library entry point ([`cli`]) and an in-process
//! runner ([`run`]).
//!
//! The crates behind it (`sluice`, `sluice-core`, `sluice-sources`, `sluice-transformers`,
//! `sluice-worker`) are implementation crates with no stability promise: depend on this one.
//! Its public items are listed in `api/public-api.txt`; a test fails when they change without
//! that listing being updated, so a change to this surface is always a deliberate one.
//!
//! "Sluice plus my format" is a `main.rs` of a few lines (`docs/extending.md` walks through
//! it; `examples/vendor-log` and `examples/http-listing` are complete crates):
//!
//! ```no_run
//! use sluice_api::config::{KeySet, Owner};
//!
//! const KEYS: KeySet = KeySet {
//!     owner: Owner::Format("myformat"),
//!     doc: "My vendor's format.",
//!     keys: &[],
//!     prefixes: &[],
//!     check: None,
//! };
//!
//! fn main() -> std::process::ExitCode {
//!     let registry = sluice_api::builtin()
//!         .with_format(KEYS, |keys| sluice_api::format::lines(keys))
//!         .expect("no name or key registered twice");
//!     sluice_api::cli::main_with(registry)
//! }
//! ```
#![warn(missing_docs)]

pub mod backend;
pub mod config;
pub mod convert;
pub mod format;
pub mod run;
pub mod transform;

pub use sluice_core::{error_chain, BoxError, Error, Result};

/// Kafka Connect's data model: schemas, structs and values, as records carry them.
pub mod data {
    pub use sluice_core::data::{
        Field, Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value,
    };
}

/// The record a source task hands to the converters and the producer.
pub mod record {
    pub use sluice_core::offsets::{OffsetMap, OffsetValue};
    pub use sluice_core::record::{Header, RecordOrigin, SourceObject, SourceRecord};
}

/// The `sluice` command line as a library: `run`, `backfill`, `validate`, `offsets`,
/// `config-docs` and `demo`, with the REST API, `/metrics`, offsets and exactly-once of the
/// `sluice` binary, for a registry that holds the program's own components.
pub mod cli {
    pub use sluice::cli::{main, main_with};
}

/// The registry of the built-in components: the connector's keys, the backends (`local`, `s3`,
/// `gcs`, `azure`), the formats (`jsonl`, `json`, `csv`, `text`, `avro`, `parquet`, `bytes`),
/// and, by their class names, the converters and Kafka Connect's transforms. Add your own with
/// [`config::Registry::with_backend`], [`config::Registry::with_format`],
/// [`config::Registry::with_converter`] and [`config::Registry::with_transform`].
pub fn builtin() -> config::Registry {
    sluice_worker::registry::builtin()
}

/// Makes `registry` the one of this process, for programs that run connectors without
/// [`cli::main_with`] (which installs it itself), e.g. through [`run::backfill`] in a test.
///
/// # Errors
/// Gives `registry` back when one was installed already: install once per process.
pub fn install(registry: config::Registry) -> std::result::Result<(), Box<config::Registry>> {
    sluice_worker::registry::install(registry)
}
