//! Aiven's source connector keys that Sluice does not otherwise have: every key of Aiven's S3 and
//! Azure source configuration (`S3SourceConfig`, `AzureBlobSourceConfig` in
//! Aiven-Open/cloud-storage-connectors-for-apache-kafka) is accepted, so an Aiven connector file
//! loads unchanged. Each is either mapped to Sluice's behaviour or accepted with one notice
//! saying why Sluice does not need it ([`notices`]); the backend-specific ones (`aws.*`,
//! `azure.*`) are declared by their backends in `sluice-sources`, the shared ones here.
//!
//! Mapped: `aws.s3.backoff.*` and `azure.retry.backoff.*` to `store.retry.*` ([`store_retry`]),
//! `native.start.key` (objects up to that key are not read), Aiven's deprecated
//! `aws_s3_bucket` / `aws_s3_prefix` / `aws_s3_region` / `aws_s3_endpoint` as the new names
//! (in the S3 backend), `azure.user.agent` (the Azure client's user agent).

use super::defs::{optional, KeyDef, Kind};
use super::registry::{KeySet, Owner};
use super::{Keys, Settings};
use crate::error::Result;

/// The Aiven keys shared by the S3 and Azure sources.
pub const AIVEN_KEYS: &[KeyDef] = &[
    optional(
        "ring.buffer.size",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "Aiven: how many recently finished object keys its connector remembers so a late, lexically older upload is not skipped. Accepted with a notice: Sluice stores an offset for every object and relists from the start of the prefix every `listing.full.interval.ms`, so late arrivals are read whatever their key.",
    ),
    optional(
        "native.start.key",
        Kind::String,
        "Aiven: read only objects whose key sorts after this one (objects up to it and itself are not read, counted as `filtered`).",
    ),
    optional(
        "schema.registry.url",
        Kind::String,
        "Aiven: the Schema Registry its Avro transformer uses. Accepted with a notice: Sluice's `avro` format reads the writer schema from each object container file; a converter's registry is `value.converter.schema.registry.url`.",
    ),
    optional(
        "file.prefix.template",
        Kind::String,
        "Aiven (a sink key its source configuration also defines): accepted with a notice, no effect on reading. The listing prefix is `aws.s3.prefix` / `azure.blob.prefix`.",
    ),
    optional(
        "file.max.records",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "Aiven (a sink key its source configuration also defines): accepted with a notice, no effect on reading.",
    ),
    optional(
        "file.name.timestamp.timezone",
        Kind::String,
        "Aiven (a sink key its source configuration also defines): accepted with a notice, no effect on reading (`{{timestamp}}` is matched as digits).",
    ),
    optional(
        "file.name.timestamp.source",
        Kind::String,
        "Aiven (a sink key its source configuration also defines): accepted with a notice, no effect on reading.",
    ),
    optional(
        "kafka.retry.backoff.ms",
        Kind::Int {
            min: 0,
            max: 86_400_000,
        },
        "Aiven: the backoff Kafka Connect waits before retrying after a retriable error. Accepted with a notice: Sluice's producer retries are librdkafka's (`producer.override.retry.backoff.ms`), store retries are `store.retry.*`.",
    ),
];

/// The Aiven keys shared by the S3 and Azure sources, as a registered set.
pub const AIVEN: KeySet = KeySet {
    owner: Owner::Part("Aiven compatibility"),
    doc: "Keys of Aiven's S3 and Azure source connectors that Sluice maps or accepts with a notice, so Aiven connector files load unchanged (the `aws.*` and `azure.*` ones are with their backends). See docs/migrating.md.",
    keys: AIVEN_KEYS,
    prefixes: &[],
    check: None,
};

/// Keys accepted only so Aiven connector files load: set, each gets this notice (why Sluice
/// does not need it). Backend keys are listed too: a notice names a key, whoever declares it.
const NOTICES: &[(&str, &str)] = &[
    ("ring.buffer.size", "Sluice keeps an offset per object and relists the whole prefix every listing.full.interval.ms, so a late upload is read whatever its key; no ring buffer is needed"),
    ("aws.s3.fetch.buffer.size", "Aiven's old name of ring.buffer.size; Sluice keeps an offset per object and relists the whole prefix every listing.full.interval.ms, so no key buffer is needed"),
    ("azure.blob.fetch.buffer.size", "Sluice keeps an offset per object and relists the whole prefix every listing.full.interval.ms, so no key buffer is needed"),
    ("schema.registry.url", "Sluice's avro format reads the writer schema from each object container file; a converter's Schema Registry is value.converter.schema.registry.url"),
    ("file.prefix.template", "a sink setting; the objects read are those under aws.s3.prefix / azure.blob.prefix"),
    ("file.max.records", "a sink setting; it has no effect on reading"),
    ("file.name.timestamp.timezone", "a sink setting; {{timestamp}} is matched as digits"),
    ("file.name.timestamp.source", "a sink setting; it has no effect on reading"),
    ("kafka.retry.backoff.ms", "Sluice retries Kafka deliveries in librdkafka (producer.override.retry.backoff.ms) and store requests per store.retry.*"),
    ("aws.s3.sse.algorithm", "objects encrypted with SSE-S3 or SSE-KMS are decrypted by S3 on read; a reader has nothing to set"),
    ("aws.credentials.provider", "Sluice does not load Java credential classes: without aws.access.key.id it uses the default chain (environment, web identity, ECS, instance metadata), which covers AWS's DefaultCredentialsProvider and its members"),
    ("aws.sts.role.arn", "Sluice does not call STS AssumeRole itself: give the role through web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, as on EKS) or an instance profile, or give the temporary credentials of `aws sts assume-role` as aws.access.key.id, aws.secret.access.key and aws.session.token; otherwise requests use the default chain's identity"),
    ("aws.sts.role.session.name", "see aws.sts.role.arn: Sluice does not assume the role itself"),
    ("aws.sts.role.session.duration", "see aws.sts.role.arn: Sluice does not assume the role itself"),
    ("aws.sts.role.external.id", "see aws.sts.role.arn: Sluice does not assume the role itself"),
    ("aws.sts.config.endpoint", "see aws.sts.role.arn: Sluice does not assume the role itself"),
    ("aws_access_key_id", "Aiven's deprecated name, which Aiven's source does not use either (it warns); give aws.access.key.id"),
    ("aws_secret_access_key", "Aiven's deprecated name, which Aiven's source does not use either (it warns); give aws.secret.access.key"),
    ("output_fields", "a deprecated sink setting; to restore records a sink wrote with their key and headers, see input.envelope"),
    ("output_compression", "a deprecated sink setting; the compression of the objects read is file.compression.type"),
];

/// One notice per key of `settings` that is accepted only for Aiven's sake, with why Sluice
/// does not need it; Aiven's deprecated names that Sluice maps are named with the key they
/// stand for.
pub fn notices(settings: &Settings) -> Vec<String> {
    let mut out: Vec<String> = NOTICES
        .iter()
        .filter(|(k, _)| settings.contains_key(*k))
        .map(|(k, why)| format!("{k}: accepted for Aiven's connector files, not used: {why}"))
        .collect();
    for (old, new) in DEPRECATED_NAMES {
        if settings.contains_key(*old) {
            out.push(if settings.contains_key(*new) {
                format!("{old}: Aiven's deprecated name of {new}, which is also set and wins (as in Aiven's connector)")
            } else {
                format!("{old}: Aiven's deprecated name of {new}; read as {new} (rename it)")
            });
        }
    }
    out
}

/// Aiven's deprecated S3 names that Aiven's source still reads when the new name is unset.
pub const DEPRECATED_NAMES: &[(&str, &str)] = &[
    ("aws_s3_bucket", "aws.s3.bucket.name"),
    ("aws_s3_prefix", "aws.s3.prefix"),
    ("aws_s3_region", "aws.s3.region"),
    ("aws_s3_endpoint", "aws.s3.endpoint"),
];

/// Keys whose values Aiven's connector reads in any case (`distribution.type=OBJECT_HASH`, its
/// default's spelling); Sluice lower-cases them.
pub const CASE_INSENSITIVE: &[&str] = &[
    "distribution.type",
    "errors.tolerance",
    "input.format",
    "file.compression.type",
];

/// Aiven's names of the store retry settings, per `store.retry.*` key: `aws.s3.backoff.*`
/// (S3) and `azure.retry.backoff.*` (Azure).
const RETRY_ALIASES: &[(&str, &[&str])] = &[
    (
        "store.retry.max.retries",
        &[
            "aws.s3.backoff.max.retries",
            "azure.retry.backoff.max.attempts",
        ],
    ),
    (
        "store.retry.backoff.initial.ms",
        &[
            "aws.s3.backoff.delay.ms",
            "azure.retry.backoff.initial.delay.ms",
        ],
    ),
    (
        "store.retry.backoff.max.ms",
        &[
            "aws.s3.backoff.max.delay.ms",
            "azure.retry.backoff.max.delay.ms",
        ],
    ),
];

/// `store_key` (`store.retry.*`): its own value when set, else the value of Aiven's name for
/// it when that is set (a delay of 0 becomes 1 ms, the smallest Sluice takes), else its
/// default.
///
/// # Errors
/// [`crate::Error::Config`] when `store_key` is declared by no registered component.
pub fn store_retry(r: &Keys<'_>, store_key: &str) -> Result<i64> {
    if !r.settings().contains_key(store_key) {
        let aliases = RETRY_ALIASES
            .iter()
            .find(|(k, _)| *k == store_key)
            .map_or(&[][..], |(_, a)| *a);
        for alias in aliases {
            if let Some(v) = r.settings().get(*alias) {
                if let Ok(n) = v.trim().parse::<i64>() {
                    let min = i64::from(store_key != "store.retry.max.retries");
                    return Ok(n.clamp(min, i64::from(i32::MAX)));
                }
            }
        }
    }
    r.int(store_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_noticed_key_is_named_once() {
        let mut keys: Vec<&str> = NOTICES.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn notices_name_the_key_and_why() {
        let s: Settings = [
            ("ring.buffer.size".to_owned(), "10".to_owned()),
            ("aws_s3_bucket".to_owned(), "b".to_owned()),
            ("topic".to_owned(), "t".to_owned()),
        ]
        .into_iter()
        .collect();
        let n = notices(&s);
        assert_eq!(n.len(), 2, "{n:?}");
        assert!(n[0].starts_with("ring.buffer.size: ") && n[0].contains("offset per object"));
        assert!(n[1].contains("read as aws.s3.bucket.name"));
    }
}
