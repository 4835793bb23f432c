//! The Google Cloud Storage backend, through `object_store`'s `GoogleCloudStorage`.
//!
//! Keys: `gcs.bucket.name`, `gcs.prefix`, `gcs.credentials.path` / `gcs.credentials.json` /
//! `gcs.credentials.default` (Application Default Credentials, also used when none is given),
//! `gcs.endpoint.url`, and any `object_store.google_*` option. Source partition
//! `{bucket, object}`.
//!
//! GCS's XML listing honours start-after; emulators may not (fake-gcs-server ignores it and
//! `max-keys`): the listing filters client side, so it stays correct either way.

use std::str::FromStr;

use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use sluice_core::config::ConnectorConfig;

use crate::cloud::{CloudBackend, Kind};
use crate::{build_error, is_http, passthrough, retry_config, setting, Error};

/// A GCS bucket.
pub type GcsBackend = CloudBackend;

const GCS: Kind = Kind {
    name: "GcsBackend",
    prefix_key: "gcs.prefix",
    page_size: None,
    partition_fields: ("bucket", "object"),
};

/// From the `gcs.*` keys and `object_store.*` options (see the module docs).
pub fn from_config(config: &ConnectorConfig) -> Result<GcsBackend, Error> {
    crate::install_crypto_provider();
    let err = |message: String, source| build_error(config, "gcs", message, source);
    let bucket = setting(config, "gcs.bucket.name")
        .ok_or_else(|| err("gcs.bucket.name is required".into(), None))?
        .to_owned();
    let mut builder = GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(&bucket)
        .with_retry(retry_config(&config.store));
    if let Some(path) = setting(config, "gcs.credentials.path") {
        builder = builder.with_service_account_path(path);
    }
    if let Some(json) = setting(config, "gcs.credentials.json") {
        builder = builder.with_service_account_key(json);
    }
    let endpoint = setting(config, "gcs.endpoint.url").map(|e| e.trim_end_matches('/').to_owned());
    if let Some(endpoint) = &endpoint {
        builder = builder.with_base_url(endpoint);
        if is_http(endpoint) {
            builder = builder.with_config(
                GoogleConfigKey::from_str("allow_http").expect("a client option"),
                "true",
            );
        }
    }
    for (option, value) in passthrough(config) {
        let key = GoogleConfigKey::from_str(option).map_err(|e| {
            err(
                format!("object_store.{option} is not a GCS option"),
                Some(e),
            )
        })?;
        builder = builder.with_config(key, value);
    }
    let gcs = builder.build().map_err(|e| {
        err(
            "cannot configure the GCS client; check the gcs.credentials.* keys".into(),
            Some(e),
        )
    })?;
    Ok(CloudBackend::new(&GCS, config, gcs, bucket, endpoint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::config;

    #[test]
    fn a_bad_key_is_a_clear_error_without_the_key() {
        let c = config(&[
            ("connector.class", "gcs"),
            ("gcs.bucket.name", "bkt"),
            (
                "gcs.credentials.json",
                r#"{"private_key": "-----BEGIN PRIVATE KEY-----\nTOPSECRET\n", "client_email": 3}"#,
            ),
        ]);
        let err = from_config(&c).unwrap_err();
        let text = format!(
            "{err} {:?}",
            std::error::Error::source(&err).map(|s| s.to_string())
        );
        assert!(
            text.contains("bkt") && text.contains("gcs.credentials"),
            "{text}"
        );
        assert!(!text.contains("TOPSECRET"), "{text}");
    }
}
