//! Settings and checks of the object-store backends (`connector.class`): the keys of each backend,
//! the `object_store.*` pass-through, and the settings every backend shares (read concurrency,
//! overwrite policy, listing, retries). The stores themselves are built in `sluice-sources`.

use std::collections::BTreeMap;
use std::str::FromStr;

use object_store::aws::AmazonS3ConfigKey;
use object_store::azure::AzureConfigKey;
use object_store::gcp::GoogleConfigKey;

use super::defs::backend_of;
use super::Reader;

/// The prefix of `object_store` options passed through by their own key.
pub const OBJECT_STORE_PREFIX: &str = "object_store.";

/// `object.overwrite.policy`: what happens to a finished object found later with another ETag
/// or size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverwritePolicy {
    /// The new content is not read; each new version is warned about once and counted.
    Ignore,
    /// The object is read again from its first record.
    Reread,
    /// When it grew, the records after the ones delivered are read; otherwise as `Ignore`.
    Append,
}

/// `listing.full.interval.ms` of the cloud backends when unset.
pub(super) const CLOUD_FULL_LISTING_INTERVAL_MS: u64 = 300_000;

/// Retries of store requests (`store.retry.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// `store.retry.max.retries`.
    pub max_retries: u32,
    /// `store.retry.backoff.initial.ms`.
    pub backoff_initial_ms: u64,
    /// `store.retry.backoff.max.ms`.
    pub backoff_max_ms: u64,
    /// `store.retry.timeout.ms`.
    pub timeout_ms: u64,
}

/// What every backend shares: which backend, how objects are read and listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// `local`, `s3`, `gcs` or `azure` (from `connector.class`).
    pub backend: &'static str,
    /// `object.read.concurrency`.
    pub read_concurrency: usize,
    /// `object.overwrite.policy`.
    pub overwrite_policy: OverwritePolicy,
    /// `listing.full.interval.ms`.
    pub listing_full_interval_ms: u64,
    /// How old an object must be to be read: `object.min.age.ms`, for `local` the larger of it
    /// and `local.file.min.age.ms`.
    pub min_age_ms: u64,
    /// `object.partial.line.wait.ms`.
    pub partial_line_wait_ms: u64,
    /// `local.file.ignore.patterns` (`local` backend; empty for the others).
    pub ignore_patterns: Vec<String>,
    /// `store.retry.*`.
    pub retry: RetrySettings,
}

impl StoreSettings {
    pub(super) fn read(r: &Reader<'_>) -> Self {
        let backend = backend_of(r.raw("connector.class").unwrap_or_default()).unwrap_or("local");
        let local = backend == "local";
        StoreSettings {
            backend,
            read_concurrency: r.int("object.read.concurrency") as usize,
            overwrite_policy: match r.raw("object.overwrite.policy") {
                Some("reread") => OverwritePolicy::Reread,
                Some("append") => OverwritePolicy::Append,
                Some(_) => OverwritePolicy::Ignore,
                None if local => OverwritePolicy::Append,
                None => OverwritePolicy::Ignore,
            },
            listing_full_interval_ms: match r.raw("listing.full.interval.ms") {
                Some(_) => r.int("listing.full.interval.ms") as u64,
                None if local => 0,
                None => CLOUD_FULL_LISTING_INTERVAL_MS,
            },
            min_age_ms: {
                let any = r.int("object.min.age.ms") as u64;
                if local {
                    any.max(r.int("local.file.min.age.ms") as u64)
                } else {
                    any
                }
            },
            partial_line_wait_ms: r.int("object.partial.line.wait.ms") as u64,
            ignore_patterns: if local {
                r.list("local.file.ignore.patterns")
            } else {
                Vec::new()
            },
            retry: RetrySettings {
                max_retries: r.int("store.retry.max.retries") as u32,
                backoff_initial_ms: r.int("store.retry.backoff.initial.ms") as u64,
                backoff_max_ms: r.int("store.retry.backoff.max.ms") as u64,
                timeout_ms: r.int("store.retry.timeout.ms") as u64,
            },
        }
    }
}

/// The backend a connector key belongs to, from its family (`aws.` → s3, ...); `None` for keys
/// every backend reads. `object_store.` options belong to the three cloud backends.
fn owner(key: &str) -> Option<&'static str> {
    [
        ("local.", "local"),
        ("aws.", "s3"),
        ("gcs.", "gcs"),
        ("azure.", "azure"),
        (OBJECT_STORE_PREFIX, "cloud"),
    ]
    .into_iter()
    .find(|(prefix, _)| key.starts_with(prefix))
    .map(|(_, b)| b)
}

/// Parses an Azure Storage connection string (`Key=Value;` pairs) into its parts, keys as written.
/// The error never quotes the string (it holds the account key).
pub fn parse_connection_string(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, part) in text.split(';').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!(
                "part {} is not Key=Value (expected e.g. AccountName=...;AccountKey=...)",
                i + 1
            ));
        };
        out.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    if out.is_empty() {
        return Err("it is empty".into());
    }
    Ok(out)
}

fn check_url(key: &str, value: &str, problems: &mut Vec<String>) {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
        problems.push(format!(
            "{key}: {value:?} is not a URL; expected http://host[:port][/path] or https://..."
        ));
    }
}

/// The problems of the backend keys: the backend's required keys, keys of another backend,
/// credentials given by halves or twice, and unknown `object_store.*` options. Never quotes a
/// secret.
pub(super) fn problems(r: &Reader<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let class = r.raw("connector.class").unwrap_or_default();
    let Some(backend) = backend_of(class) else {
        // connector.class itself is reported by the key check.
        return problems;
    };
    for key in r.settings.keys() {
        if let Some(o) = owner(key) {
            let used = o == backend || (o == "cloud" && backend != "local");
            if !used {
                let by = if o == "cloud" {
                    "the s3, gcs and azure backends".to_owned()
                } else {
                    format!("connector.class={o}")
                };
                problems.push(format!(
                    "{key}: only used by {by}, but connector.class is {class}; remove it or fix connector.class"
                ));
            }
        }
    }
    let set = |k: &str| r.raw(k).is_some();
    let mut required = |k: &str, what: &str| {
        if !set(k) {
            problems.push(format!("{k}: required for connector.class={class}; {what}"));
        }
    };
    match backend {
        "local" => required("local.path", "the folder to read"),
        "s3" => required("aws.s3.bucket.name", "the bucket to read"),
        "gcs" => required("gcs.bucket.name", "the bucket to read"),
        _ => required("azure.storage.container.name", "the container to read"),
    }
    match backend {
        "s3" => {
            if set("aws.access.key.id") != set("aws.secret.access.key") {
                problems.push(
                    "aws.access.key.id / aws.secret.access.key: give both or neither (neither: the default credential chain)"
                        .into(),
                );
            }
            if set("aws.session.token") && !set("aws.access.key.id") {
                problems.push(
                    "aws.session.token: needs aws.access.key.id and aws.secret.access.key (temporary credentials come as all three)"
                        .into(),
                );
            }
            if let Some(e) = r.raw("aws.s3.endpoint") {
                check_url("aws.s3.endpoint", e, &mut problems);
            }
        }
        "gcs" => {
            let given: Vec<&str> = ["gcs.credentials.path", "gcs.credentials.json"]
                .into_iter()
                .filter(|k| set(k))
                .chain(
                    (r.raw("gcs.credentials.default") == Some("true"))
                        .then_some("gcs.credentials.default"),
                )
                .collect();
            if given.len() > 1 {
                problems.push(format!(
                    "{}: only one of gcs.credentials.path, gcs.credentials.json and gcs.credentials.default=true may be given",
                    given.join(", ")
                ));
            }
            if let Some(json) = r.raw("gcs.credentials.json") {
                if !serde_json::from_str::<serde_json::Value>(json).is_ok_and(|v| v.is_object()) {
                    problems.push(
                        "gcs.credentials.json: not a JSON object (expected a service account key file's content; the value is not shown)"
                            .into(),
                    );
                }
            }
            if let Some(path) = r.raw("gcs.credentials.path") {
                if !std::path::Path::new(path).is_file() {
                    problems.push(format!(
                        "gcs.credentials.path: no file at {path:?}; give the path of a service account key (JSON)"
                    ));
                }
            }
            if let Some(e) = r.raw("gcs.endpoint.url") {
                check_url("gcs.endpoint.url", e, &mut problems);
            }
        }
        "azure" => {
            let direct = ["azure.account.name", "azure.account.key", "azure.sas.token"];
            if let Some(cs) = r.raw("azure.storage.connection.string") {
                match parse_connection_string(cs) {
                    Ok(parts) => {
                        let dev = parts
                            .get("UseDevelopmentStorage")
                            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                        if !dev
                            && !parts.contains_key("AccountName")
                            && !parts.contains_key("BlobEndpoint")
                        {
                            problems.push(
                                "azure.storage.connection.string: has neither AccountName nor BlobEndpoint (nor UseDevelopmentStorage=true); copy it whole from the storage account's Access keys page"
                                    .into(),
                            );
                        }
                    }
                    Err(e) => problems.push(format!(
                        "azure.storage.connection.string: {e} (the value is not shown)"
                    )),
                }
                for k in direct.into_iter().chain(["azure.blob.endpoint"]) {
                    if set(k) {
                        problems.push(format!(
                            "{k}: the connection string already says where and how to connect; give one or the other"
                        ));
                    }
                }
            } else {
                if !set("azure.account.name") && !set("azure.blob.endpoint") {
                    problems.push(
                        "azure.storage.connection.string: required for connector.class=azure, or azure.account.name (with azure.account.key, azure.sas.token or the default credentials)"
                            .into(),
                    );
                }
                if set("azure.account.key") && set("azure.sas.token") {
                    problems.push("azure.account.key, azure.sas.token: give one credential".into());
                }
            }
            if let Some(e) = r.raw("azure.blob.endpoint") {
                check_url("azure.blob.endpoint", e, &mut problems);
            }
        }
        _ => {}
    }
    if backend != "local" {
        for key in r.settings.keys() {
            let Some(option) = key.strip_prefix(OBJECT_STORE_PREFIX) else {
                continue;
            };
            let (known, docs) = match backend {
                "s3" => (
                    AmazonS3ConfigKey::from_str(option).is_ok(),
                    "aws/enum.AmazonS3ConfigKey.html",
                ),
                "gcs" => (
                    GoogleConfigKey::from_str(option).is_ok(),
                    "gcp/enum.GoogleConfigKey.html",
                ),
                _ => (
                    AzureConfigKey::from_str(option).is_ok(),
                    "azure/enum.AzureConfigKey.html",
                ),
            };
            if !known {
                problems.push(format!(
                    "{key}: {option:?} is not an object_store option of the {backend} store; see https://docs.rs/object_store/0.14.2/object_store/{docs} and object_store::ClientConfigKey"
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_parse_without_echoing_secrets() {
        let p = parse_connection_string(
            "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=c2VjcmV0==;BlobEndpoint=http://127.0.0.1:1/dev;",
        )
        .unwrap();
        assert_eq!(p["AccountName"], "dev");
        assert_eq!(p["AccountKey"], "c2VjcmV0==", "base64 padding kept");
        let err = parse_connection_string("AccountName=dev;TopSecretWithoutEquals").unwrap_err();
        assert!(!err.contains("TopSecret"), "{err}");
    }
}
