//! Paged listing shared by the cloud backends: one LIST request per page, fetched only when the
//! previous page has been consumed; a plain string prefix; start-after sent to the store and
//! enforced client side, for stores that ignore it (fake-gcs-server, Azurite). A page after the
//! first whose request or response body fails transiently (the HTTP client retries the request,
//! not a body cut short) is asked again after a backoff; a failed first page ends the listing
//! (the source lists again after its own backoff).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path;
use object_store::ObjectMeta;
use sluice_core::backoff::IdleBackoff;
use sluice_core::object::{is_transient, ReadRetry};
use tracing::{debug, warn};

/// What a listing needs: the store, its prefix, the page size.
#[derive(Clone)]
pub(crate) struct Lister {
    /// The store's paginated listing.
    pub store: Arc<dyn PaginatedListStore>,
    /// Keys start with this string (sent as the request's prefix).
    pub prefix: Option<String>,
    /// Keys per page (`None`: the store's default).
    pub page_size: Option<usize>,
    /// The bucket, for logs.
    pub bucket: String,
    /// Set once the store was seen ignoring start-after (logged once).
    pub ignores_offset: Arc<AtomicBool>,
    /// Retries of a page.
    pub retry: ReadRetry,
}

impl Lister {
    pub(crate) fn new(
        store: Arc<dyn PaginatedListStore>,
        bucket: &str,
        prefix: Option<&str>,
        page_size: Option<usize>,
        retry: ReadRetry,
    ) -> Self {
        Lister {
            retry,
            store,
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_owned),
            page_size,
            bucket: bucket.to_owned(),
            ignores_offset: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The objects after `start_after` (all when `None`), page by page, in the store's order
    /// (lexicographic for S3, GCS and Azure).
    pub(crate) fn list(
        &self,
        start_after: Option<&Path>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        struct Page {
            token: Option<String>,
            first: bool,
        }
        let me = self.clone();
        let offset = start_after.map(|p| p.to_string());
        stream::try_unfold(
            Page {
                token: None,
                first: true,
            },
            move |page| {
                let me = me.clone();
                let offset = offset.clone();
                async move {
                    if !page.first && page.token.is_none() {
                        return Ok::<_, object_store::Error>(None);
                    }
                    let mut backoff =
                        IdleBackoff::new(me.retry.initial_backoff, me.retry.max_backoff);
                    let mut attempt = 0;
                    let started = std::time::Instant::now();
                    let result = loop {
                        let r = me
                            .store
                            .list_paginated(
                                me.prefix.as_deref(),
                                PaginatedListOptions {
                                    offset: offset.clone(),
                                    max_keys: me.page_size,
                                    page_token: page.token.clone(),
                                    ..Default::default()
                                },
                            )
                            .await;
                        match r {
                            Ok(r) => break r,
                            // The first page is not asked again here: the source lists
                            // again itself after a failed listing (with its backoff, and
                            // saying in the task's status that it waits for the store); a
                            // later page is, so a long listing keeps its place.
                            Err(e)
                                if !page.first
                                    && is_transient(&e)
                                    && (attempt < me.retry.max_retries
                                        || started.elapsed() < me.retry.give_up_after) =>
                            {
                                attempt += 1;
                                let delay = backoff.next_delay();
                                warn!(bucket = %me.bucket, attempt, ?delay, error = %e, "listing page failed; asking again");
                                tokio::time::sleep(delay).await;
                            }
                            Err(e) => return Err(e),
                        }
                    };
                    let mut objects = result.result.objects;
                    if let Some(offset) = &offset {
                        let before = objects.len();
                        objects.retain(|m| m.location.as_ref() > offset.as_str());
                        if objects.len() < before
                            && !me.ignores_offset.swap(true, Ordering::Relaxed)
                        {
                            debug!(bucket = %me.bucket, "the store ignores start-after; filtering the listing client side");
                        }
                    }
                    if let Some(prefix) = &me.prefix {
                        objects.retain(|m| m.location.as_ref().starts_with(prefix.as_str()));
                    }
                    let next = Page {
                        token: result.page_token.filter(|t| !t.is_empty()),
                        first: false,
                    };
                    Ok::<_, object_store::Error>(Some((objects, next)))
                }
            },
        )
        .map_ok(|objects| stream::iter(objects.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }
}
