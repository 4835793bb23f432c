//! The S3 backend: AWS S3 and S3-compatible stores (MinIO and the like), through `object_store`'s
//! `AmazonS3`.
//!
//! Keys (Aiven's names): `aws.s3.bucket.name`, `aws.s3.prefix`, `aws.s3.region`,
//! `aws.s3.endpoint` (path-style requests, `http://` allowed), `aws.access.key.id` +
//! `aws.secret.access.key` (+ `aws.session.token`), else the default chain (environment, web
//! identity, ECS, instance metadata), `aws.s3.fetch.page.size`, and any `object_store.aws_*`
//! option. Source partition `{bucket, object}`. With `aws.s3.notifications.sqs.url`, new
//! objects come from S3 event notifications in SQS (`notify/sqs.rs`).

use std::str::FromStr;
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use sluice_core::config::defs::{self, key, optional};
use sluice_core::config::ConnectorConfig;
use sluice_core::config::{post_read_problems, KeySet, Keys, Owner};
use sluice_core::contract::Notifications;

use crate::cloud::{check_url, object_store_problems, CloudBackend, Kind, OBJECT_STORE_OPTIONS};
use crate::notify::{millis, sqs::SqsQueue};
use crate::{build_error, is_http, passthrough, retry_config, setting, Error};

/// The `s3` backend's keys, declared beside its code.
pub const KEYS: KeySet = KeySet {
    owner: Owner::Backend {
        name: "s3",
        classes: &[
            "io.aiven.kafka.connect.s3.source.S3SourceConnector",
            // The name the example of Aiven's S3 source README gives.
            "io.aiven.kafka.connect.s3.S3SourceConnector",
            "io.lenses.streamreactor.connect.aws.s3.source.S3SourceConnector",
        ],
    },
    doc: "AWS S3 and S3-compatible stores such as MinIO (`connector.class=s3`).",
    keys: &[
        optional(
            "aws.s3.bucket.name",
            defs::Kind::String,
            "`s3` backend: the bucket (required).",
        ),
        optional(
            "aws.s3.prefix",
            defs::Kind::String,
            "`s3` backend: only objects whose key starts with this string are read (a plain string prefix, as in S3's API: `logs/` or `logs/2024-`).",
        ),
        optional(
            "aws.s3.region",
            defs::Kind::String,
            "`s3` backend: the bucket's region, e.g. `eu-west-1`. Unset: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.",
        ),
        optional(
            "aws.s3.endpoint",
            defs::Kind::String,
            "`s3` backend: the endpoint of an S3-compatible store (MinIO, Ceph, ...), e.g. `http://minio:9000`. Requests then use path-style URLs (`<endpoint>/<bucket>/<key>`), as MinIO-like stores need; `http://` is allowed. Unset: AWS.",
        ),
        optional(
            "aws.access.key.id",
            defs::Kind::Password,
            "`s3` backend: access key ID (with `aws.secret.access.key`). Unset: the default chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, web identity via `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, ECS container credentials, EC2 instance metadata).",
        ),
        optional(
            "aws.secret.access.key",
            defs::Kind::Password,
            "`s3` backend: secret access key (with `aws.access.key.id`).",
        ),
        optional(
            "aws.session.token",
            defs::Kind::Password,
            "`s3` backend: session token of temporary credentials (with `aws.access.key.id` and `aws.secret.access.key`).",
        ),
        key(
            "aws.s3.fetch.page.size",
            defs::Kind::Int {
                min: 1,
                max: i32::MAX as i64,
            },
            "1000",
            "`s3` backend: keys per LIST request (S3 returns at most 1000 whatever is asked). Pages are fetched one at a time as objects are consumed. (Aiven's default is 10.)",
        ),
        optional(
            "aws.s3.notifications.sqs.url",
            defs::Kind::String,
            "`s3` backend: the URL of an SQS queue receiving the bucket's S3 event notifications (`s3:ObjectCreated:*`), delivered directly, through SNS or through EventBridge, e.g. `https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-events`. New objects are then found from the queue within a second, without listing; a message is deleted once the objects it announced are committed; a listing every `aws.s3.notifications.reconciliation.interval.ms` finds what the queue missed. Same credentials as the bucket (the task needs `sqs:ReceiveMessage`, `sqs:DeleteMessage`, `sqs:ChangeMessageVisibility`). Not used by `backfill`. See docs/backends/s3.md.",
        ),
        key(
            "aws.s3.notifications.reconciliation.interval.ms",
            defs::Kind::Int {
                min: 1000,
                max: i64::MAX,
            },
            crate::notify::RECONCILIATION_DEFAULT,
            "`s3` backend, with `aws.s3.notifications.sqs.url`: how often a full listing of the prefix looks for objects no notification announced (they are read then, and counted as `objects_reconciled`). The first listing runs at start.",
        ),
        // Aiven's S3 source keys (S3ConfigFragment): mapped, or accepted with a notice
        // (sluice_core::config::aiven::notices).
        optional(
            "aws.s3.backoff.delay.ms",
            defs::Kind::Int {
                min: 1,
                max: i64::MAX,
            },
            "`s3` backend, Aiven's name: the first retry backoff; used as `store.retry.backoff.initial.ms` when that is not set.",
        ),
        optional(
            "aws.s3.backoff.max.delay.ms",
            defs::Kind::Int {
                min: 1,
                max: i64::MAX,
            },
            "`s3` backend, Aiven's name: the longest retry backoff; used as `store.retry.backoff.max.ms` when that is not set.",
        ),
        optional(
            "aws.s3.backoff.max.retries",
            defs::Kind::Int { min: 1, max: 30 },
            "`s3` backend, Aiven's name: retries of a request; used as `store.retry.max.retries` when that is not set.",
        ),
        optional(
            "aws.credentials.provider",
            defs::Kind::String,
            "`s3` backend, Aiven's key (a Java credentials provider class): accepted with a notice; without `aws.access.key.id` Sluice uses the default chain (environment, web identity, ECS, instance metadata).",
        ),
        optional(
            "aws.s3.sse.algorithm",
            defs::Kind::String,
            "`s3` backend, Aiven's key: accepted with a notice; S3 decrypts SSE-S3 and SSE-KMS objects on read.",
        ),
        optional(
            "aws.s3.fetch.buffer.size",
            defs::Kind::Int {
                min: 1,
                max: i32::MAX as i64,
            },
            "`s3` backend, Aiven's old name of `ring.buffer.size`: accepted with a notice (see `ring.buffer.size`).",
        ),
        optional(
            "aws.sts.role.arn",
            defs::Kind::String,
            "`s3` backend, Aiven's key: accepted with a notice; Sluice does not call STS AssumeRole itself (use web identity, an instance profile, or temporary credentials in `aws.access.key.id` / `aws.secret.access.key` / `aws.session.token`).",
        ),
        optional(
            "aws.sts.role.session.name",
            defs::Kind::String,
            "`s3` backend, Aiven's key: accepted with a notice (see `aws.sts.role.arn`).",
        ),
        optional(
            "aws.sts.role.session.duration",
            defs::Kind::Int {
                min: 900,
                max: 43200,
            },
            "`s3` backend, Aiven's key: accepted with a notice (see `aws.sts.role.arn`).",
        ),
        optional(
            "aws.sts.role.external.id",
            defs::Kind::String,
            "`s3` backend, Aiven's key: accepted with a notice (see `aws.sts.role.arn`).",
        ),
        optional(
            "aws.sts.config.endpoint",
            defs::Kind::String,
            "`s3` backend, Aiven's key: accepted with a notice (see `aws.sts.role.arn`).",
        ),
        optional(
            "aws_s3_bucket",
            defs::Kind::String,
            "`s3` backend, Aiven's deprecated name of `aws.s3.bucket.name` (read as it when that is unset).",
        ),
        optional(
            "aws_s3_prefix",
            defs::Kind::String,
            "`s3` backend, Aiven's deprecated name of `aws.s3.prefix` (read as it when that is unset).",
        ),
        optional(
            "aws_s3_region",
            defs::Kind::String,
            "`s3` backend, Aiven's deprecated name of `aws.s3.region` (read as it when that is unset).",
        ),
        optional(
            "aws_s3_endpoint",
            defs::Kind::String,
            "`s3` backend, Aiven's deprecated name of `aws.s3.endpoint` (read as it when that is unset).",
        ),
        optional(
            "aws_access_key_id",
            defs::Kind::Password,
            "`s3` backend, Aiven's deprecated name, unused by Aiven's source too: accepted with a notice; give `aws.access.key.id`.",
        ),
        optional(
            "aws_secret_access_key",
            defs::Kind::Password,
            "`s3` backend, Aiven's deprecated name, unused by Aiven's source too: accepted with a notice; give `aws.secret.access.key`.",
        ),
        optional(
            "output_fields",
            defs::Kind::List,
            "`s3` backend, Aiven's deprecated sink key: accepted with a notice (see `input.envelope` to restore what a sink wrote).",
        ),
        // Lenses stream-reactor's S3 source keys (sluice_core::config::kcql).
        optional(
            "connect.s3.kcql",
            defs::Kind::String,
            "`s3` backend, Lenses' key: `INSERT INTO <topic> SELECT * FROM <bucket>[:<prefix>] [STOREAS <format>] [PROPERTIES(...)]`, read as `topic`, `aws.s3.bucket.name`, `aws.s3.prefix`, `input.format` and the properties' keys (keys given explicitly win). Another clause, format or property is refused with its name. See docs/migrating.md.",
        ),
        optional(
            "connect.s3.aws.region",
            defs::Kind::String,
            "`s3` backend, Lenses' name of `aws.s3.region`.",
        ),
        optional(
            "connect.s3.aws.access.key",
            defs::Kind::Password,
            "`s3` backend, Lenses' name of `aws.access.key.id`.",
        ),
        optional(
            "connect.s3.aws.secret.key",
            defs::Kind::Password,
            "`s3` backend, Lenses' name of `aws.secret.access.key`.",
        ),
        optional(
            "connect.s3.custom.endpoint",
            defs::Kind::String,
            "`s3` backend, Lenses' name of `aws.s3.endpoint`.",
        ),
        optional(
            "connect.s3.aws.auth.mode",
            defs::Kind::Enum(&["Credentials", "Default", "credentials", "default"]),
            "`s3` backend, Lenses' key: `Credentials` (the access keys given) or `Default` (the default chain); Sluice uses the keys when given, the default chain otherwise.",
        ),
        optional(
            "output_compression",
            defs::Kind::String,
            "`s3` backend, Aiven's deprecated sink key: accepted with a notice (the compression of objects read is `file.compression.type`).",
        ),
    ],
    prefixes: &[OBJECT_STORE_OPTIONS],
    check: Some(check),
};

/// The bucket, credentials given by halves, the endpoint, `object_store.*` options.
fn check(r: &Keys<'_>) -> sluice_core::Result<Vec<String>> {
    let mut problems: Vec<String> = crate::required(r, "aws.s3.bucket.name", "the bucket to read")?
        .into_iter()
        .collect();
    if r.is_set("aws.access.key.id")? != r.is_set("aws.secret.access.key")? {
        problems.push(
            "aws.access.key.id / aws.secret.access.key: give both or neither (neither: the default credential chain)"
                .into(),
        );
    }
    if r.is_set("aws.session.token")? && !r.is_set("aws.access.key.id")? {
        problems.push(
            "aws.session.token: needs aws.access.key.id and aws.secret.access.key (temporary credentials come as all three)"
                .into(),
        );
    }
    if let Some(e) = r.raw("aws.s3.endpoint")? {
        check_url("aws.s3.endpoint", e, &mut problems);
    }
    problems.extend(object_store_problems(
        r,
        "s3",
        |o| AmazonS3ConfigKey::from_str(o).is_ok(),
        "aws/enum.AmazonS3ConfigKey.html",
    ));
    problems.extend(post_read_problems(r, "aws.s3.prefix")?);
    if let Some(url) = r.raw("aws.s3.notifications.sqs.url")? {
        if let Err(e) = crate::notify::sqs::check_url(url) {
            problems.push(format!("aws.s3.notifications.sqs.url: {e}"));
        }
    }
    Ok(problems)
}

/// An S3 bucket.
pub type S3Backend = CloudBackend;

const S3: Kind = Kind {
    name: "S3Backend",
    prefix_key: "aws.s3.prefix",
    page_size: Some("aws.s3.fetch.page.size"),
    keys: &KEYS,
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
    let region = builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .unwrap_or_else(|| "us-east-1".into());
    let s3 = builder.build().map_err(|e| {
        err(
            "cannot configure the S3 client; check the aws.* keys".into(),
            Some(e),
        )
    })?;
    let notifications = match setting(config, "aws.s3.notifications.sqs.url") {
        Some(url) => {
            let queue = SqsQueue::new(url, &region, s3.credentials().clone())
                .map_err(|e| err(format!("aws.s3.notifications.sqs.url: {e}"), None))?;
            Some(Notifications {
                queue: Arc::new(queue),
                reconciliation_interval: millis(
                    config,
                    &KEYS,
                    "aws.s3.notifications.reconciliation.interval.ms",
                ),
            })
        }
        None => None,
    };
    Ok(CloudBackend::new(&S3, config, s3, bucket, endpoint).with_notifications(notifications))
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

    #[test]
    fn the_page_size_default_is_the_declared_one() {
        let base = [("connector.class", "s3"), ("aws.s3.bucket.name", "b")];
        let b = from_config(&config(&base)).unwrap();
        assert_eq!(b.lister.page_size, Some(1000));
        let b = from_config(&config(&[
            base[0],
            base[1],
            ("aws.s3.fetch.page.size", "7"),
        ]))
        .unwrap();
        assert_eq!(b.lister.page_size, Some(7));
    }
}
