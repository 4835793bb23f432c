//! The Azure Blob Storage backend, through `object_store`'s `MicrosoftAzure`.
//!
//! Keys (Aiven's names): `azure.storage.connection.string` (as the portal gives it, or
//! `UseDevelopmentStorage=true` for Azurite), else `azure.account.name` with `azure.account.key`,
//! `azure.sas.token` or the default chain (workload / managed identity, `object_store.azure_*`
//! options such as `azure_client_id`), `azure.blob.endpoint`, `azure.storage.container.name`,
//! `azure.blob.prefix`, `azure.blob.fetch.page.size`. Source partition `{container, blob}`.
//!
//! Azure's `startFrom` is honoured by the service; Azurite ignores it (and object_store's
//! emulator mode filters client side): the listing filters client side, so it stays correct.

use std::str::FromStr;

use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use sluice_core::config::{parse_connection_string, ConnectorConfig};

use crate::cloud::{CloudBackend, Kind};
use crate::{build_error, is_http, passthrough, retry_config, setting, Error};

/// An Azure Blob Storage container.
pub type AzureBackend = CloudBackend;

const AZURE: Kind = Kind {
    name: "AzureBackend",
    prefix_key: "azure.blob.prefix",
    page_size: Some(("azure.blob.fetch.page.size", 5000)),
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
        } else {
            account = get("AccountName");
            key = get("AccountKey");
            sas = get("SharedAccessSignature");
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
    Ok(CloudBackend::new(
        &AZURE, config, azure, container, endpoint,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::config;
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
