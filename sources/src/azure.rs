//! The Azure Blob Storage backend, through `object_store`'s `MicrosoftAzure`.
//!
//! Keys (Aiven's names): `azure.storage.connection.string` (as the portal gives it, or
//! `UseDevelopmentStorage=true` for Azurite), else `azure.account.name` with `azure.account.key`,
//! `azure.sas.token` or the default chain (workload / managed identity, `object_store.azure_*`
//! options such as `azure_client_id`), `azure.blob.endpoint`, `azure.storage.container.name`,
//! `azure.blob.prefix`, `azure.blob.fetch.page.size`. Source partition `{container, blob}`.
//! With `azure.notifications.queue`, new blobs come from Event Grid events in a Storage queue
//! (`notify/azure_queue.rs`).
//!
//! Azure's `startFrom` is honoured by the service; Azurite ignores it (and object_store's
//! emulator mode filters client side): the listing filters client side, so it stays correct.

use std::str::FromStr;
use std::sync::Arc;

use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use std::collections::BTreeMap;

use sluice_core::config::defs::{self, key, optional};
use sluice_core::config::ConnectorConfig;
use sluice_core::config::{post_read_problems, KeySet, Keys, Owner};
use sluice_core::contract::Notifications;

use crate::cloud::{check_url, object_store_problems, CloudBackend, Kind, OBJECT_STORE_OPTIONS};
use crate::notify::{azure_queue::AzureQueue, millis};
use crate::{build_error, is_http, passthrough, retry_config, setting, Error};

/// Azurite's well-known account (`UseDevelopmentStorage=true`).
const EMULATOR_ACCOUNT: &str = "devstoreaccount1";

/// The `azure` backend's keys, declared beside its code.
pub const KEYS: KeySet = KeySet {
    owner: Owner::Backend {
        name: "azure",
        classes: &["io.aiven.kafka.connect.azure.source.AzureBlobSourceConnector"],
    },
    doc: "Azure Blob Storage (`connector.class=azure`).",
    keys: &[
        optional(
            "azure.storage.connection.string",
            defs::Kind::Password,
            "`azure` backend: a connection string as the Azure portal gives it (`DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net`, or with `BlobEndpoint=...` and/or `SharedAccessSignature=...`), or `UseDevelopmentStorage=true` for Azurite. Alternative to `azure.account.name` + a credential.",
        ),
        optional(
            "azure.storage.container.name",
            defs::Kind::String,
            "`azure` backend: the container (required).",
        ),
        optional(
            "azure.blob.prefix",
            defs::Kind::String,
            "`azure` backend: only blobs whose name starts with this string are read.",
        ),
        optional(
            "azure.account.name",
            defs::Kind::String,
            "`azure` backend: the storage account (when no connection string is given).",
        ),
        optional(
            "azure.account.key",
            defs::Kind::Password,
            "`azure` backend: the account key (Shared Key).",
        ),
        optional(
            "azure.sas.token",
            defs::Kind::Password,
            "`azure` backend: a shared access signature (the query string, with or without the leading `?`). With neither key nor SAS: the default chain (workload identity, managed identity; see docs/backends/azure.md).",
        ),
        optional(
            "azure.blob.endpoint",
            defs::Kind::String,
            "`azure` backend: the blob endpoint, e.g. `https://myaccount.blob.core.windows.net` or an emulator's `http://127.0.0.1:10000/devstoreaccount1`; `http://` is allowed.",
        ),
        key(
            "azure.blob.fetch.page.size",
            defs::Kind::Int {
                min: 1,
                max: i32::MAX as i64,
            },
            "5000",
            "`azure` backend: blobs per List Blobs request (Azure returns at most 5000 whatever is asked). (Aiven's default is 10.)",
        ),
        optional(
            "azure.notifications.queue",
            defs::Kind::String,
            "`azure` backend: the name of an Azure Storage queue receiving Event Grid `Microsoft.Storage.BlobCreated` events of the container (Event Grid or CloudEvents schema, base64-encoded or not). New blobs are then found from the queue within a second, without listing; a message is deleted once the blobs it announced are committed; a listing every `azure.notifications.reconciliation.interval.ms` finds what the queue missed. Same credentials as the container. Not used by `backfill`. See docs/backends/azure.md.",
        ),
        optional(
            "azure.notifications.queue.endpoint",
            defs::Kind::String,
            "`azure` backend, with `azure.notifications.queue`: the queue service endpoint, e.g. `https://myaccount.queue.core.windows.net` or an emulator's `http://127.0.0.1:10001/devstoreaccount1`. Unset: the connection string's `QueueEndpoint`, else the blob endpoint with `.blob.` replaced by `.queue.`, else `https://<account>.queue.core.windows.net`.",
        ),
        key(
            "azure.notifications.visibility.timeout.ms",
            defs::Kind::Int {
                min: 1000,
                max: 604_800_000,
            },
            "300000",
            "`azure` backend, with `azure.notifications.queue`: how long a received message stays invisible to other receivers; one not deleted by then (its blob still being read, or the task stopped) is delivered again, which does no harm.",
        ),
        key(
            "azure.notifications.reconciliation.interval.ms",
            defs::Kind::Int {
                min: 1000,
                max: i64::MAX,
            },
            crate::notify::RECONCILIATION_DEFAULT,
            "`azure` backend, with `azure.notifications.queue`: how often a full listing of the prefix looks for blobs no notification announced (they are read then, and counted as `objects_reconciled`). The first listing runs at start.",
        ),
        // Aiven's Azure source keys (AzureBlobConfigFragment): mapped, or accepted with a
        // notice (sluice_core::config::aiven::notices).
        optional(
            "azure.user.agent",
            defs::Kind::String,
            "`azure` backend, Aiven's key: the User-Agent header of requests to Azure.",
        ),
        optional(
            "azure.blob.fetch.buffer.size",
            defs::Kind::Int {
                min: 1,
                max: i32::MAX as i64,
            },
            "`azure` backend, Aiven's key: accepted with a notice (see `ring.buffer.size`).",
        ),
        optional(
            "azure.retry.backoff.initial.delay.ms",
            defs::Kind::Int {
                min: 0,
                max: i64::MAX,
            },
            "`azure` backend, Aiven's name: the first retry backoff; used as `store.retry.backoff.initial.ms` when that is not set.",
        ),
        optional(
            "azure.retry.backoff.max.delay.ms",
            defs::Kind::Int {
                min: 0,
                max: i64::MAX,
            },
            "`azure` backend, Aiven's name: the longest retry backoff; used as `store.retry.backoff.max.ms` when that is not set.",
        ),
        optional(
            "azure.retry.backoff.max.attempts",
            defs::Kind::Int {
                min: 0,
                max: i32::MAX as i64,
            },
            "`azure` backend, Aiven's name: retries of a request; used as `store.retry.max.retries` when that is not set.",
        ),
    ],
    prefixes: &[OBJECT_STORE_OPTIONS],
    check: Some(check),
};

/// The container, a connection string or an account with one credential, the endpoint,
/// `object_store.*` options. Never quotes a secret.
fn check(r: &Keys<'_>) -> sluice_core::Result<Vec<String>> {
    let mut problems: Vec<String> =
        crate::required(r, "azure.storage.container.name", "the container to read")?
            .into_iter()
            .collect();
    let direct = ["azure.account.name", "azure.account.key", "azure.sas.token"];
    if let Some(cs) = r.raw("azure.storage.connection.string")? {
        match parse_connection_string(cs) {
            Ok(parts) => {
                let dev = parts
                    .get("UseDevelopmentStorage")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                if !dev && !parts.contains_key("AccountName") && !parts.contains_key("BlobEndpoint")
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
            if r.is_set(k)? {
                problems.push(format!(
                    "{k}: the connection string already says where and how to connect; give one or the other"
                ));
            }
        }
    } else {
        if !r.is_set("azure.account.name")? && !r.is_set("azure.blob.endpoint")? {
            problems.push(
                "azure.storage.connection.string: required for connector.class=azure, or azure.account.name (with azure.account.key, azure.sas.token or the default credentials)"
                    .into(),
            );
        }
        if r.is_set("azure.account.key")? && r.is_set("azure.sas.token")? {
            problems.push("azure.account.key, azure.sas.token: give one credential".into());
        }
    }
    if let Some(e) = r.raw("azure.blob.endpoint")? {
        check_url("azure.blob.endpoint", e, &mut problems);
    }
    problems.extend(object_store_problems(
        r,
        "azure",
        |o| AzureConfigKey::from_str(o).is_ok(),
        "azure/enum.AzureConfigKey.html",
    ));
    problems.extend(post_read_problems(r, "azure.blob.prefix")?);
    if let Some(e) = r.raw("azure.notifications.queue.endpoint")? {
        check_url("azure.notifications.queue.endpoint", e, &mut problems);
    }
    Ok(problems)
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

/// An Azure Blob Storage container.
pub type AzureBackend = CloudBackend;

const AZURE: Kind = Kind {
    name: "AzureBackend",
    prefix_key: "azure.blob.prefix",
    page_size: Some("azure.blob.fetch.page.size"),
    keys: &KEYS,
    partition_fields: ("container", "blob"),
};

/// The account a blob endpoint names: `https://<account>.blob...` or, path-style (emulators),
/// `http://host:port/<account>`.
fn account_of_endpoint(endpoint: &str) -> Option<String> {
    let rest = endpoint.split_once("://")?.1;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let first_path = path.split('/').find(|s| !s.is_empty());
    let host_account = host
        .split_once(".blob.")
        .map(|(a, _)| a)
        .filter(|a| !a.is_empty());
    host_account.or(first_path).map(str::to_owned)
}

/// From the `azure.*` keys and `object_store.*` options (see the module docs).
pub fn from_config(config: &ConnectorConfig) -> Result<AzureBackend, Error> {
    crate::install_crypto_provider();
    let err = |message: String, source| build_error(config, "azure", message, source);
    let container = setting(config, "azure.storage.container.name")
        .ok_or_else(|| err("azure.storage.container.name is required".into(), None))?
        .to_owned();
    let mut builder = MicrosoftAzureBuilder::from_env()
        .with_container_name(&container)
        .with_retry(retry_config(&config.store));
    let mut endpoint = setting(config, "azure.blob.endpoint").map(str::to_owned);
    let mut account = setting(config, "azure.account.name").map(str::to_owned);
    let mut key = setting(config, "azure.account.key").map(str::to_owned);
    let mut sas = setting(config, "azure.sas.token").map(str::to_owned);
    let mut queue_endpoint =
        setting(config, "azure.notifications.queue.endpoint").map(str::to_owned);
    let mut emulator = false;
    if let Some(cs) = setting(config, "azure.storage.connection.string") {
        let parts = parse_connection_string(cs).map_err(|e| {
            err(
                format!("azure.storage.connection.string: {e} (the value is not shown)"),
                None,
            )
        })?;
        let get = |k: &str| parts.get(k).cloned();
        if get("UseDevelopmentStorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            // Azurite's well-known account; its address comes from AZURITE_BLOB_STORAGE_URL
            // (default http://127.0.0.1:10000).
            builder = builder.with_use_emulator(true);
            emulator = true;
            queue_endpoint = queue_endpoint.or_else(|| {
                let base = std::env::var("AZURITE_QUEUE_STORAGE_URL")
                    .unwrap_or_else(|_| "http://127.0.0.1:10001".into());
                Some(format!("{}/{EMULATOR_ACCOUNT}", base.trim_end_matches('/')))
            });
        } else {
            account = get("AccountName");
            key = get("AccountKey");
            sas = get("SharedAccessSignature");
            queue_endpoint = queue_endpoint.or_else(|| get("QueueEndpoint"));
            endpoint = get("BlobEndpoint").or_else(|| {
                let account = account.as_deref()?;
                let scheme = get("DefaultEndpointsProtocol").unwrap_or_else(|| "https".into());
                let suffix = get("EndpointSuffix").unwrap_or_else(|| "core.windows.net".into());
                Some(format!("{scheme}://{account}.blob.{suffix}"))
            });
        }
    }
    if let Some(e) = &endpoint {
        let e = e.trim_end_matches('/').to_owned();
        if account.is_none() {
            account = account_of_endpoint(&e);
        }
        builder = builder
            .with_endpoint(e.clone())
            .with_allow_http(is_http(&e));
        endpoint = Some(e);
    }
    if let Some(account) = &account {
        builder = builder.with_account(account);
    }
    if let Some(key) = &key {
        builder = builder.with_access_key(key);
    }
    if let Some(sas) = &sas {
        builder = builder.with_config(AzureConfigKey::SasKey, sas.trim_start_matches('?'));
    }
    if let Some(agent) = setting(config, "azure.user.agent") {
        builder = builder.with_config(
            AzureConfigKey::Client(object_store::ClientConfigKey::UserAgent),
            agent,
        );
    }
    for (option, value) in passthrough(config) {
        let k = AzureConfigKey::from_str(option).map_err(|e| {
            err(
                format!("object_store.{option} is not an Azure option"),
                Some(e),
            )
        })?;
        builder = builder.with_config(k, value);
    }
    let azure = builder.build().map_err(|e| {
        err(
            "cannot configure the Azure client; check the account, its credential and the endpoint"
                .into(),
            Some(e),
        )
    })?;
    let notifications = match setting(config, "azure.notifications.queue") {
        Some(queue) => {
            let account = match emulator {
                true => EMULATOR_ACCOUNT.to_owned(),
                false => account.clone().unwrap_or_default(),
            };
            let queue_endpoint = queue_endpoint
                .or_else(|| {
                    endpoint
                        .as_deref()
                        .filter(|e| e.contains(".blob."))
                        .map(|e| e.replacen(".blob.", ".queue.", 1))
                })
                .or_else(|| {
                    (!account.is_empty())
                        .then(|| format!("https://{account}.queue.core.windows.net"))
                })
                .ok_or_else(|| {
                    err(
                        "azure.notifications.queue: cannot tell the queue service's endpoint; set azure.notifications.queue.endpoint".into(),
                        None,
                    )
                })?;
            let q = AzureQueue::new(
                &queue_endpoint,
                queue,
                &account,
                millis(config, &KEYS, "azure.notifications.visibility.timeout.ms"),
                azure.credentials().clone(),
            )
            .map_err(|e| err(format!("azure.notifications.queue: {e}"), None))?;
            Some(Notifications {
                queue: Arc::new(q),
                reconciliation_interval: millis(
                    config,
                    &KEYS,
                    "azure.notifications.reconciliation.interval.ms",
                ),
            })
        }
        None => None,
    };
    Ok(
        CloudBackend::new(&AZURE, config, azure, container, endpoint)
            .with_notifications(notifications),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::config;

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
    use sluice_core::contract::ObjectBackend;

    #[test]
    fn accounts_come_from_endpoints() {
        assert_eq!(
            account_of_endpoint("https://acct.blob.core.windows.net").as_deref(),
            Some("acct")
        );
        assert_eq!(
            account_of_endpoint("http://127.0.0.1:10000/devstoreaccount1").as_deref(),
            Some("devstoreaccount1")
        );
    }

    #[test]
    fn a_connection_string_configures_the_store() {
        let c = config(&[
            ("connector.class", "azure"),
            ("azure.storage.container.name", "c"),
            (
                "azure.storage.connection.string",
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
            ),
        ]);
        let b = from_config(&c).unwrap();
        let dbg = format!("{b:?}");
        assert!(
            dbg.contains("http://127.0.0.1:10000/devstoreaccount1"),
            "{dbg}"
        );
        assert!(!dbg.contains("Eby8vdM02"), "{dbg}");
        assert_eq!(b.partition_fields(), ("container", "blob"));
    }
}
