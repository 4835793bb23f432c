//! Sluice backends: each object store is a thin layer over `object_store` that builds the store
//! from the connector configuration, lists it and names its source partition fields. Matching,
//! distribution, offsets and transformers are shared (see `sluice_core::source`).
//!
//! This is an implementation crate with no stability promise: its items change whenever Sluice
//! needs them to. Programs built on Sluice (their own backend, format, converter or transform)
//! use `sluice-api`, the one documented, stable surface, which re-exports what they need.
//!
//! - [`local`]: a folder.
//! - [`s3`]: AWS S3 and S3-compatible stores (MinIO, ...).
//! - [`gcs`]: Google Cloud Storage.
//! - [`azure`]: Azure Blob Storage.
//!
//! The cloud backends are one [`CloudBackend`] (`cloud.rs`) over the store each builds; they list
//! page by page (`listing.rs`), retry per `store.retry.*`, pass any `object_store.*` option
//! through by its own key, and never show a secret in an error.
#![warn(missing_docs)]

pub mod azure;
mod cloud;
pub mod gcs;
mod listing;
pub mod local;
mod local_list;
mod local_read;
pub mod notify;
mod redact;
pub mod s3;

pub use cloud::CloudBackend;

use std::sync::Arc;
use std::time::Duration;

use azure::parse_connection_string;
use object_store::{BackoffConfig, RetryConfig};
use sluice_core::config::defs::Kind;
use sluice_core::config::{ConnectorConfig, KeySet, Keys, StoreSettings, OBJECT_STORE_PREFIX};
use sluice_core::contract::ObjectBackend;

/// This crate's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend could not be built from the configuration.
    #[error("{backend} backend, bucket {bucket:?}: {message}{}",
        source.as_ref().map(|s| format!(": {s}")).unwrap_or_default())]
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
    #[error("unknown connector.class {0:?}; supported: {supported}", supported = backend_names().join(", "))]
    UnknownBackend(String),
}

/// Installs rustls's ring crypto provider for the process, once (the cloud stores' HTTPS and
/// request signing use it); a no-op when a provider is already installed. The cloud backends'
/// `from_config` call it; anything else that builds an `object_store` cloud store first calls it too.
pub fn install_crypto_provider() {
    // Err means a provider is installed already: fine either way.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The keys of every backend of this crate, each declared in its own module: the one
/// registration point of a backend.
pub fn keys() -> Vec<KeySet> {
    vec![local::KEYS, s3::KEYS, gcs::KEYS, azure::KEYS]
}

/// The names of this crate's backends, in registration order.
fn backend_names() -> Vec<&'static str> {
    keys().iter().filter_map(KeySet::backend).collect()
}

/// A problem when `key`, which the selected backend needs, is not set.
pub(crate) fn required(r: &Keys<'_>, key: &str, what: &str) -> sluice_core::Result<Option<String>> {
    let class = r.raw("connector.class")?.unwrap_or_default();
    Ok((!r.is_set(key)?).then(|| format!("{key}: required for connector.class={class}; {what}")))
}

/// Builds the backend `connector.class` names, from the connector's settings.
pub fn build_backend(config: &ConnectorConfig) -> Result<Arc<dyn ObjectBackend>, Error> {
    match config.store.backend {
        "local" if config.connector_class == "local" => {
            Ok(Arc::new(local::LocalBackend::from_config(config)?))
        }
        "s3" => Ok(Arc::new(s3::from_config(config)?)),
        "gcs" => Ok(Arc::new(gcs::from_config(config)?)),
        "azure" => Ok(Arc::new(azure::from_config(config)?)),
        _ => Err(Error::UnknownBackend(config.connector_class.clone())),
    }
}

/// The bucket (container, folder) a connector reads, as users name it, for messages.
pub fn bucket_name(config: &ConnectorConfig) -> String {
    let key = match config.store.backend {
        "s3" => "aws.s3.bucket.name",
        "gcs" => "gcs.bucket.name",
        "azure" => "azure.storage.container.name",
        _ => "local.path",
    };
    setting(config, key).unwrap_or_default().to_owned()
}

/// `text` with every secret of `config` replaced by `[hidden]`.
pub fn redact(config: &ConnectorConfig, text: &str) -> String {
    secrets(config).redact(text)
}

/// A non-empty setting.
pub(crate) fn setting<'a>(config: &'a ConnectorConfig, key: &str) -> Option<&'a str> {
    config
        .settings
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// `object_store.*` options: (option, value).
pub(crate) fn passthrough(config: &ConnectorConfig) -> impl Iterator<Item = (&str, &str)> {
    config
        .settings
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(OBJECT_STORE_PREFIX).map(|o| (o, v.as_str())))
}

/// Retries of reads and listing pages, from `store.retry.*`.
pub(crate) fn read_retry(s: &StoreSettings) -> sluice_core::object::ReadRetry {
    sluice_core::object::ReadRetry {
        max_retries: s.retry.max_retries,
        initial_backoff: Duration::from_millis(s.retry.backoff_initial_ms),
        max_backoff: Duration::from_millis(s.retry.backoff_max_ms),
        give_up_after: Duration::from_millis(s.retry.timeout_ms),
    }
}

/// The store's request retries, from `store.retry.*`.
pub(crate) fn retry_config(s: &StoreSettings) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(s.retry.backoff_initial_ms),
            max_backoff: Duration::from_millis(s.retry.backoff_max_ms),
            base: 2.0,
        },
        max_retries: s.retry.max_retries as usize,
        retry_timeout: Duration::from_millis(s.retry.timeout_ms),
    }
}

/// Every secret value of `config`: the password keys, secret-looking `object_store.*` options,
/// and the key and signature inside an Azure connection string.
pub(crate) fn secrets(config: &ConnectorConfig) -> redact::Secrets {
    let mut values = Vec::new();
    for def in keys()
        .iter()
        .flat_map(|s| s.keys)
        .filter(|d| d.kind == Kind::Password)
    {
        if let Some(v) = setting(config, def.name) {
            values.push(v.to_owned());
        }
    }
    for (option, value) in passthrough(config) {
        let o = option.to_ascii_lowercase();
        if [
            "secret",
            "key",
            "token",
            "password",
            "sas",
            "credential",
            "signature",
        ]
        .iter()
        .any(|w| o.contains(w))
        {
            values.push(value.to_owned());
        }
    }
    if let Some(cs) = setting(config, "azure.storage.connection.string") {
        if let Ok(parts) = parse_connection_string(cs) {
            for k in ["AccountKey", "SharedAccessSignature"] {
                if let Some(v) = parts.get(k) {
                    values.push(v.clone());
                }
            }
        }
    }
    if let Some(sas) = setting(config, "azure.sas.token") {
        values.push(sas.trim_start_matches('?').to_owned());
    }
    redact::Secrets::new(values)
}

/// A build error of `backend`, its cause's secrets hidden.
pub(crate) fn build_error(
    config: &ConnectorConfig,
    backend: &'static str,
    message: impl Into<String>,
    source: Option<object_store::Error>,
) -> Error {
    Error::Build {
        backend,
        bucket: bucket_name(config),
        message: message.into(),
        source: source.map(|e| Box::new(secrets(config).error(e))),
    }
}

/// True for an `http://` URL (the store's client must then allow plain HTTP).
pub(crate) fn is_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
}

#[cfg(test)]
pub(crate) mod test_util {
    use sluice_core::config::{ConnectorConfig, Registry, Settings, CONNECTOR_SETS};

    /// The connector's keys and this crate's.
    pub(crate) fn registry() -> Registry {
        Registry::new(CONNECTOR_SETS.into_iter().chain(super::keys())).unwrap()
    }

    /// A validated connector config from `pairs` (name and topic added).
    pub(crate) fn config(pairs: &[(&str, &str)]) -> ConnectorConfig {
        let mut s: Settings = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        s.insert("name".into(), "c".into());
        s.insert("topic".into(), "t".into());
        ConnectorConfig::from_settings(&registry(), &s).unwrap()
    }
}
