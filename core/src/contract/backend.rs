//! [`ObjectBackend`]: one object store, as the object source reads it.

use std::fmt;
use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

use super::Notifications;

/// One object-store backend: a thin layer over `object_store` (see the `sluice-sources` crate).
pub trait ObjectBackend: Send + Sync + fmt::Debug + 'static {
    /// The bucket (container, folder), as users name it.
    fn bucket(&self) -> &str;
    /// The store.
    fn store(&self) -> &Arc<dyn ObjectStore>;
    /// Only keys starting with this string are read (a plain string prefix, as in S3's API).
    fn prefix(&self) -> Option<&str>;
    /// Names of the source partition fields: `("bucket", "object")` for S3 and GCS,
    /// `("container", "blob")` for Azure.
    fn partition_fields(&self) -> (&'static str, &'static str) {
        ("bucket", "object")
    }
    /// The queue announcing new objects, when one is configured (`aws.s3.notifications.sqs.url`,
    /// `azure.notifications.queue`): the source then lists only to reconcile.
    fn notifications(&self) -> Option<Notifications> {
        None
    }
    /// Lists the objects under the prefix whose key sorts after `start_after` (every one when
    /// `None`), in key order, streamed page by page. A store that ignores the offset must be
    /// filtered client side: a key at or before `start_after` is never yielded. The default uses
    /// the store's `list_with_offset` on the folder holding the prefix.
    fn list(
        &self,
        start_after: Option<&Path>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let prefix = self.prefix().filter(|p| !p.is_empty()).map(str::to_owned);
        let folder = prefix
            .as_deref()
            .and_then(|p| p.rfind('/').map(|i| Path::from(&p[..i])));
        let listing = match start_after {
            Some(offset) => self.store().list_with_offset(folder.as_ref(), offset),
            None => self.store().list(folder.as_ref()),
        };
        let start_after = start_after.cloned();
        listing
            .try_filter(move |m| {
                let keep = prefix
                    .as_deref()
                    .is_none_or(|p| m.location.as_ref().starts_with(p))
                    && start_after.as_ref().is_none_or(|s| m.location > *s);
                futures::future::ready(keep)
            })
            .boxed()
    }
}
