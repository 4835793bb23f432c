//! The `http-listing` backend: the files under a plain HTTP directory listing — the index pages
//! python's `http.server`, nginx's `autoindex` or Apache's `mod_autoindex` serve — as a bucket.
//! Listing reads the index pages and follows their links (sub-folders too); each file's size and
//! last-modified time come from a `HEAD`; reading is a streamed `GET`, resumed with a `Range`
//! request after a dropped connection (a server that ignores ranges sends the whole file again
//! and the bytes already read are skipped).
//!
//! Everything else — `file.name.template`, distribution over tasks, offsets, formats, exactly-once
//! — is Sluice's. Built only on `sluice-api`; `docs/extending.md` walks through it.

mod links;
mod store;

use std::sync::Arc;

use sluice_api::backend::object_store::ObjectStore;
use sluice_api::backend::ObjectBackend;
use sluice_api::config::{optional, required, KeySet, Keys, Kind, Owner};
use sluice_api::{Error, Result};

pub use store::HttpListingStore;

/// The backend's name, its short `connector.class` value.
pub const NAME: &str = "http-listing";

/// The backend's keys: declared once, checked strictly, listed by `config-docs`.
pub const KEYS: KeySet = KeySet {
    owner: Owner::Backend {
        name: NAME,
        classes: &["com.example.sluice.HttpListingSourceConnector"],
    },
    doc: "The files under a plain HTTP directory listing (examples/http-listing).",
    keys: &[
        required(
            "http.listing.url",
            Kind::String,
            "The listing's URL (`http://host:port/path/`): every file linked from it and from the folders it links to is an object, keyed by its path below this URL.",
        ),
        optional(
            "http.listing.prefix",
            Kind::String,
            "Only keys starting with this string are read.",
        ),
    ],
    prefixes: &[],
    check: Some(check),
};

fn check(keys: &Keys<'_>) -> Result<Vec<String>> {
    let url = keys.raw("http.listing.url")?.unwrap_or_default();
    Ok(match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Vec::new(),
        Ok(u) => vec![format!(
            "http.listing.url: scheme {:?} is not http or https",
            u.scheme()
        )],
        Err(e) => vec![format!("http.listing.url: {url:?} is not a URL: {e}")],
    })
}

/// The backend of one connector.
#[derive(Debug)]
pub struct HttpListing {
    bucket: String,
    prefix: Option<String>,
    store: Arc<dyn ObjectStore>,
}

impl ObjectBackend for HttpListing {
    fn bucket(&self) -> &str {
        &self.bucket
    }
    fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
    fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }
}

/// Builds the backend for a connector: what [`KEYS`] is registered with.
///
/// # Errors
/// [`Error::Config`] when `http.listing.url` is not an http(s) URL.
pub fn build(keys: &Keys<'_>) -> Result<Arc<dyn ObjectBackend>> {
    let url = keys.raw("http.listing.url")?.unwrap_or_default();
    let store = HttpListingStore::new(url).map_err(|e| Error::Config {
        context: None,
        problems: vec![format!("http.listing.url: {e}")],
    })?;
    Ok(Arc::new(HttpListing {
        bucket: url.to_owned(),
        prefix: keys.string("http.listing.prefix")?,
        store: Arc::new(store),
    }))
}
