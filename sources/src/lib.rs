//! Sluice backends: each object store is a thin layer over `object_store` that builds the store
//! from the connector configuration, lists it and names its source partition fields. Matching,
//! distribution, offsets and transformers are shared (see `sluice_core::source`).
#![warn(missing_docs)]

pub mod local;

use std::sync::Arc;

use sluice_core::config::ConnectorConfig;
use sluice_core::source::ObjectBackend;

/// This crate's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend could not be built from the configuration.
    #[error("{backend} backend, bucket {bucket:?}: {message}")]
    Build {
        /// Backend name (`local`, `s3`, ...).
        backend: &'static str,
        /// Bucket / container / folder.
        bucket: String,
        /// What is wrong and what to do.
        message: String,
        /// The cause.
        #[source]
        source: Option<Box<object_store::Error>>,
    },
    /// `connector.class` names no backend this build knows.
    #[error("unknown connector.class {0:?}; supported: local")]
    UnknownBackend(String),
}

/// Builds the backend `connector.class` names, from the connector's settings.
pub fn build_backend(config: &ConnectorConfig) -> Result<Arc<dyn ObjectBackend>, Error> {
    match config.connector_class.as_str() {
        "local" => Ok(Arc::new(local::LocalBackend::from_config(config)?)),
        other => Err(Error::UnknownBackend(other.to_owned())),
    }
}
