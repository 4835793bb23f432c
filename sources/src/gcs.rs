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
use sluice_core::config::defs::{self, optional};
use sluice_core::config::ConnectorConfig;
use sluice_core::config::{post_read_problems, KeySet, Keys, Owner};

use crate::cloud::{check_url, object_store_problems, CloudBackend, Kind, OBJECT_STORE_OPTIONS};
use crate::{build_error, is_http, passthrough, retry_config, setting, Error};

/// The `gcs` backend's keys, declared beside its code.
pub const KEYS: KeySet = KeySet {
    owner: Owner::Backend {
        name: "gcs",
        classes: &[],
    },
    doc: "Google Cloud Storage (`connector.class=gcs`).",
    keys: &[
        optional(
            "gcs.bucket.name",
            defs::Kind::String,
            "`gcs` backend: the bucket (required).",
        ),
        optional(
            "gcs.prefix",
            defs::Kind::String,
            "`gcs` backend: only objects whose name starts with this string are read.",
        ),
        optional(
            "gcs.credentials.path",
            defs::Kind::String,
            "`gcs` backend: path of a service account key file (JSON). At most one of `gcs.credentials.path`, `gcs.credentials.json`, `gcs.credentials.default=true`.",
        ),
        optional(
            "gcs.credentials.json",
            defs::Kind::Password,
            "`gcs` backend: a service account key, as JSON text.",
        ),
        optional(
            "gcs.credentials.default",
            defs::Kind::Bool,
            "`gcs` backend: use Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's user credentials, else the instance metadata server). This is also what happens when no credentials key is set.",
        ),
        optional(
            "gcs.endpoint.url",
            defs::Kind::String,
            "`gcs` backend: another endpoint than `https://storage.googleapis.com` (an emulator, a private endpoint); `http://` is allowed.",
        ),
    ],
    prefixes: &[OBJECT_STORE_OPTIONS],
    check: Some(check),
};

/// The bucket, at most one credential, the key's JSON and file, the endpoint, `object_store.*`
/// options. Never quotes a secret.
fn check(r: &Keys<'_>) -> sluice_core::Result<Vec<String>> {
    let mut problems: Vec<String> = crate::required(r, "gcs.bucket.name", "the bucket to read")?
        .into_iter()
        .collect();
    let mut given = Vec::new();
    for k in ["gcs.credentials.path", "gcs.credentials.json"] {
        if r.is_set(k)? {
            given.push(k);
        }
    }
    if r.raw("gcs.credentials.default")? == Some("true") {
        given.push("gcs.credentials.default");
    }
    if given.len() > 1 {
        problems.push(format!(
            "{}: only one of gcs.credentials.path, gcs.credentials.json and gcs.credentials.default=true may be given",
            given.join(", ")
        ));
    }
    if let Some(json) = r.raw("gcs.credentials.json")? {
        if !serde_json::from_str::<serde_json::Value>(json).is_ok_and(|v| v.is_object()) {
            problems.push(
                "gcs.credentials.json: not a JSON object (expected a service account key file's content; the value is not shown)"
                    .into(),
            );
        }
    }
    if let Some(path) = r.raw("gcs.credentials.path")? {
        if !std::path::Path::new(path).is_file() {
            problems.push(format!(
                "gcs.credentials.path: no file at {path:?}; give the path of a service account key (JSON)"
            ));
        }
    }
    if let Some(e) = r.raw("gcs.endpoint.url")? {
        check_url("gcs.endpoint.url", e, &mut problems);
    }
    problems.extend(object_store_problems(
        r,
        "gcs",
        |o| GoogleConfigKey::from_str(o).is_ok(),
        "gcp/enum.GoogleConfigKey.html",
    ));
    problems.extend(post_read_problems(r, "gcs.prefix")?);
    Ok(problems)
}

/// A GCS bucket.
pub type GcsBackend = CloudBackend;

const GCS: Kind = Kind {
    name: "GcsBackend",
    prefix_key: "gcs.prefix",
    page_size: None,
    keys: &KEYS,
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
