//! The cloud backends' one [`ObjectBackend`]: a bucket (container) over an `object_store` store,
//! listed page by page (`listing.rs`). Each backend module builds its store from its own keys
//! and hands it to [`CloudBackend::new`] with its [`Kind`].

use std::fmt;
use std::sync::Arc;

use futures::stream::BoxStream;
use object_store::list::PaginatedListStore;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};
use sluice_core::config::defs::PrefixDef;
use sluice_core::config::{ConnectorConfig, KeySet, Keys, OBJECT_STORE_PREFIX};
use sluice_core::contract::{Notifications, ObjectBackend};

use crate::listing::Lister;
use crate::redact::Redacting;
use crate::{read_retry, secrets, setting};

/// `object_store.*`: the cloud backends' pass-through of `object_store` options, declared by
/// each of them.
pub(crate) const OBJECT_STORE_OPTIONS: PrefixDef = PrefixDef {
    prefix: OBJECT_STORE_PREFIX,
    doc: "Any `object_store` option of this backend's store, by its own key, passed to the store as written (e.g. `object_store.aws_virtual_hosted_style_request=true`, `object_store.google_service_account_key=...`, `object_store.azure_client_id=...`, `object_store.timeout=60s`, `object_store.proxy_url=...`); it wins over the keys above. Unknown options are rejected; values are never printed.",
};

/// The `object_store.*` settings that are not options of `backend`'s store (`known` tells);
/// `docs` is the page of its option enum under docs.rs's object_store.
pub(crate) fn object_store_problems(
    r: &Keys<'_>,
    backend: &str,
    known: fn(&str) -> bool,
    docs: &str,
) -> Vec<String> {
    r.settings()
        .keys()
        .filter_map(|key| Some((key, key.strip_prefix(OBJECT_STORE_PREFIX)?)))
        .filter(|(_, option)| !known(option))
        .map(|(key, option)| format!(
            "{key}: {option:?} is not an object_store option of the {backend} store; see https://docs.rs/object_store/0.14.2/object_store/{docs} and object_store::ClientConfigKey"
        ))
        .collect()
}

/// A problem when `value` of `key` is not an `http(s)://host...` URL.
pub(crate) fn check_url(key: &str, value: &str, problems: &mut Vec<String>) {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
        problems.push(format!(
            "{key}: {value:?} is not a URL; expected http://host[:port][/path] or https://..."
        ));
    }
}

/// What differs between the cloud backends once their store is built.
pub(crate) struct Kind {
    /// Name shown by `Debug` (`S3Backend`, ...).
    pub name: &'static str,
    /// The prefix key (`aws.s3.prefix`, ...).
    pub prefix_key: &'static str,
    /// The page size key (its default is the one `keys` declares); `None`: the store's default.
    pub page_size: Option<&'static str>,
    /// The backend's key declarations.
    pub keys: &'static KeySet,
    /// Source partition field names.
    pub partition_fields: (&'static str, &'static str),
}

/// A bucket (container) of a cloud object store: S3, GCS or Azure.
pub struct CloudBackend {
    kind: &'static Kind,
    bucket: String,
    prefix: Option<String>,
    endpoint: Option<String>,
    store: Arc<dyn ObjectStore>,
    pub(crate) lister: Lister,
    /// The queue announcing new objects, when configured.
    notifications: Option<Notifications>,
}

/// Bucket, prefix and endpoint only: never the credentials.
impl fmt::Debug for CloudBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.kind.name)
            .field(self.kind.partition_fields.0, &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field(
                "notifications",
                &self.notifications.as_ref().map(|n| n.queue.name()),
            )
            .finish()
    }
}

impl CloudBackend {
    /// The backend over `store` (built for `bucket` at `endpoint`): secrets hidden from its
    /// errors, prefix and page size from `kind`'s keys, listing retried per `store.retry.*`.
    pub(crate) fn new<S>(
        kind: &'static Kind,
        config: &ConnectorConfig,
        store: S,
        bucket: String,
        endpoint: Option<String>,
    ) -> Self
    where
        S: ObjectStore + PaginatedListStore,
    {
        let store = Arc::new(Redacting::new(store, secrets(config)));
        let prefix = setting(config, kind.prefix_key).map(str::to_owned);
        let page_size = kind.page_size.and_then(|key| {
            setting(config, key)
                .or_else(|| {
                    let def = kind.keys.keys.iter().find(|d| d.name == key);
                    def.and_then(|d| d.default)
                })
                .and_then(|v| v.parse().ok())
        });
        let lister = Lister::new(
            store.clone(),
            &bucket,
            prefix.as_deref(),
            page_size,
            read_retry(&config.store),
        );
        CloudBackend {
            kind,
            bucket,
            prefix,
            endpoint,
            store,
            lister,
            notifications: None,
        }
    }

    /// The backend with its notification queue (`None`: listings only).
    pub(crate) fn with_notifications(mut self, notifications: Option<Notifications>) -> Self {
        self.notifications = notifications;
        self
    }
}

impl ObjectBackend for CloudBackend {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    fn partition_fields(&self) -> (&'static str, &'static str) {
        self.kind.partition_fields
    }

    fn notifications(&self) -> Option<Notifications> {
        self.notifications.clone()
    }

    /// The store's paged listing with start-after (ListObjectsV2's `start-after`, the GCS XML
    /// API's `start-after`, Azure's `startFrom`), filtered client side as well, the page size
    /// key's keys per page (`aws.s3.fetch.page.size`, `azure.blob.fetch.page.size`).
    fn list(
        &self,
        start_after: Option<&Path>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.lister.list(start_after)
    }
}
