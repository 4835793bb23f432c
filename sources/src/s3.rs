//! The S3 backend: AWS S3 and S3-compatible stores (MinIO and the like), through `object_store`'s
//! `AmazonS3`.
//!
//! Keys (Aiven's names): `aws.s3.bucket.name`, `aws.s3.prefix`, `aws.s3.region`,
//! `aws.s3.endpoint` (path-style requests, `http://` allowed), `aws.access.key.id` +
//! `aws.secret.access.key` (+ `aws.session.token`), else the default chain (environment, web
//! identity, ECS, instance metadata), `aws.s3.fetch.page.size`, and any `object_store.aws_*`
//! option. Source partition `{bucket, object}`.

use std::str::FromStr;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use sluice_core::config::ConnectorConfig;

use crate::cloud::{CloudBackend, Kind};
use crate::{build_error, is_http, passthrough, retry_config, setting, Error};

/// An S3 bucket.
pub type S3Backend = CloudBackend;

const S3: Kind = Kind {
    name: "S3Backend",
    prefix_key: "aws.s3.prefix",
    page_size: Some(("aws.s3.fetch.page.size", 1000)),
    partition_fields: ("bucket", "object"),
};

/// From the `aws.*` keys and `object_store.*` options (see the module docs).
pub fn from_config(config: &ConnectorConfig) -> Result<S3Backend, Error> {
    crate::install_crypto_provider();
    let err = |message: String, source| build_error(config, "s3", message, source);
    let bucket = setting(config, "aws.s3.bucket.name")
        .ok_or_else(|| err("aws.s3.bucket.name is required".into(), None))?
        .to_owned();
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&bucket)
        .with_retry(retry_config(&config.store));
    if let Some(region) = setting(config, "aws.s3.region") {
        builder = builder.with_region(region);
    }
    let endpoint = setting(config, "aws.s3.endpoint").map(str::to_owned);
    if let Some(endpoint) = &endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(is_http(endpoint));
    }
    if let (Some(id), Some(secret)) = (
        setting(config, "aws.access.key.id"),
        setting(config, "aws.secret.access.key"),
    ) {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
        if let Some(token) = setting(config, "aws.session.token") {
            builder = builder.with_token(token);
        }
    }
    for (option, value) in passthrough(config) {
        let key = AmazonS3ConfigKey::from_str(option).map_err(|e| {
            err(
                format!("object_store.{option} is not an S3 option"),
                Some(e),
            )
        })?;
        builder = builder.with_config(key, value);
    }
    let s3 = builder.build().map_err(|e| {
        err(
            "cannot configure the S3 client; check the aws.* keys".into(),
            Some(e),
        )
    })?;
    Ok(CloudBackend::new(&S3, config, s3, bucket, endpoint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::config;

    #[test]
    fn debug_and_errors_never_show_credentials() {
        let c = config(&[
            ("connector.class", "s3"),
            ("aws.s3.bucket.name", "b"),
            ("aws.s3.endpoint", "http://127.0.0.1:9"),
            ("aws.access.key.id", "AKIAEXAMPLEID"),
            ("aws.secret.access.key", "VerySecretKeyValue"),
        ]);
        let b = from_config(&c).unwrap();
        let dbg = format!("{b:?}");
        assert!(
            !dbg.contains("AKIAEXAMPLEID") && !dbg.contains("VerySecretKeyValue"),
            "{dbg}"
        );
        assert!(dbg.contains("http://127.0.0.1:9"), "{dbg}");
    }
}
