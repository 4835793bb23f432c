//! [`HttpListingStore`]: a read-only `object_store::ObjectStore` over a plain HTTP directory
//! listing.

use std::fmt;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use reqwest::header::{
    HeaderMap, CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_MATCH, LAST_MODIFIED, RANGE,
};
use reqwest::{StatusCode, Url};
use sluice_api::backend::object_store::path::Path;
use sluice_api::backend::object_store::{
    Attributes, CopyOptions, Error, Extensions, GetOptions, GetRange, GetResult, GetResultPayload,
    ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions,
    PutPayload, PutResult, Result,
};

use crate::links::relative_links;

const STORE: &str = "http-listing";

/// Folders deeper than this below the listing's URL are not followed (a server whose links
/// loop would otherwise be listed forever).
const MAX_DEPTH: usize = 32;

/// The files under a directory listing URL, read-only: `list` follows the index pages' links,
/// `head` and `get_opts` are `HEAD` and (ranged) `GET` requests; writes are not supported.
#[derive(Debug, Clone)]
pub struct HttpListingStore {
    base: Url,
    client: reqwest::Client,
}

impl fmt::Display for HttpListingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpListingStore({})", self.base)
    }
}

fn generic(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Generic {
        store: STORE,
        source: Box::new(e),
    }
}

fn message(text: String) -> Error {
    Error::Generic {
        store: STORE,
        source: text.into(),
    }
}

fn not_supported(what: &str) -> Error {
    Error::NotSupported {
        source: format!("{STORE} is read-only: {what} is not supported").into(),
    }
}

impl HttpListingStore {
    /// The store of the listing at `url` (a folder: a missing trailing `/` is added).
    ///
    /// # Errors
    /// When `url` is not an http(s) URL.
    pub fn new(url: &str) -> std::result::Result<Self, String> {
        let mut base = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("{url:?}: only http and https listings are read"));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        sluice_api::backend::install_crypto_provider();
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpListingStore { base, client })
    }

    /// The URL of `location` (its segments percent-encoded as a link would be).
    fn url_of(&self, location: &Path, folder: bool) -> Result<Url> {
        let mut rel: String = location
            .parts()
            .map(|p| encode_segment(p.as_ref()))
            .collect::<Vec<_>>()
            .join("/");
        if folder && !rel.is_empty() {
            rel.push('/');
        }
        self.base.join(&rel).map_err(generic)
    }

    /// Every file below `folder`, as keys, in key order.
    async fn walk(&self, folder: Option<Path>) -> Result<Vec<Path>> {
        let mut files = Vec::new();
        let start = folder.unwrap_or_default();
        let mut pending = vec![(start, 0usize)];
        while let Some((dir, depth)) = pending.pop() {
            let url = self.url_of(&dir, true)?;
            let response = self.client.get(url.clone()).send().await.map_err(generic)?;
            if response.status() == StatusCode::NOT_FOUND {
                continue; // A prefix nothing is under.
            }
            if !response.status().is_success() {
                return Err(message(format!(
                    "listing {url}: HTTP {}",
                    response.status()
                )));
            }
            let page = response.text().await.map_err(generic)?;
            for link in relative_links(&page) {
                let is_folder = link.ends_with('/');
                let name = Path::from_url_path(link.trim_end_matches('/')).map_err(generic)?;
                let key: Path = dir.parts().chain(name.parts()).collect();
                if is_folder {
                    if depth < MAX_DEPTH {
                        pending.push((key, depth + 1));
                    }
                } else {
                    files.push(key);
                }
            }
        }
        files.sort();
        files.dedup();
        Ok(files)
    }

    async fn head_of(&self, location: &Path) -> Result<ObjectMeta> {
        let url = self.url_of(location, false)?;
        let response = self
            .client
            .head(url.clone())
            .send()
            .await
            .map_err(generic)?;
        let response = check_status(location, &url, response)?;
        meta_of(location, response.headers(), None)
    }
}

/// Percent-encodes what a path segment cannot hold as is.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn check_status(location: &Path, url: &Url, r: reqwest::Response) -> Result<reqwest::Response> {
    match r.status() {
        s if s.is_success() => Ok(r),
        StatusCode::NOT_FOUND | StatusCode::GONE => Err(Error::NotFound {
            path: location.to_string(),
            source: format!("GET {url}: HTTP {s}", s = r.status()).into(),
        }),
        StatusCode::PRECONDITION_FAILED => Err(Error::Precondition {
            path: location.to_string(),
            source: format!("{url} changed").into(),
        }),
        s => Err(message(format!("{url}: HTTP {s}"))),
    }
}

fn header<'a>(h: &'a HeaderMap, name: &reqwest::header::HeaderName) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The object's metadata from a response's headers; `size` when known otherwise (the total of a
/// `Content-Range`). A missing `Last-Modified` reads as the Unix epoch (old enough to read).
fn meta_of(location: &Path, h: &HeaderMap, size: Option<u64>) -> Result<ObjectMeta> {
    let size = match size {
        Some(s) => s,
        None => header(h, &CONTENT_LENGTH)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| message(format!("{location}: no Content-Length in the response")))?,
    };
    let last_modified = header(h, &LAST_MODIFIED)
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default();
    Ok(ObjectMeta {
        location: location.clone(),
        last_modified,
        size,
        e_tag: header(h, &ETAG).map(str::to_owned),
        version: None,
    })
}

/// The total size in a `Content-Range: bytes a-b/total` header.
fn content_range_total(h: &HeaderMap) -> Option<u64> {
    header(h, &CONTENT_RANGE)?.rsplit('/').next()?.parse().ok()
}

/// `body` from byte `skip` on, `take` bytes at most: a server that ignored the `Range` header
/// sent the whole object.
fn slice_body(
    body: BoxStream<'static, Result<Bytes>>,
    skip: u64,
    take: u64,
) -> BoxStream<'static, Result<Bytes>> {
    body.scan((skip, take), |(skip, take), chunk| {
        let out = chunk.map(|mut c| {
            let drop = (*skip).min(c.len() as u64) as usize;
            *skip -= drop as u64;
            let mut c = c.split_off(drop);
            let keep = (*take).min(c.len() as u64) as usize;
            *take -= keep as u64;
            c.truncate(keep);
            c
        });
        futures::future::ready(Some(out))
    })
    .try_filter(|c| futures::future::ready(!c.is_empty()))
    .boxed()
}

#[async_trait]
impl ObjectStore for HttpListingStore {
    async fn put_opts(&self, _: &Path, _: PutPayload, _: PutOptions) -> Result<PutResult> {
        Err(not_supported("put"))
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        Err(not_supported("multipart put"))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.head {
            let meta = self.head_of(location).await?;
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                range: 0..meta.size,
                meta,
                attributes: Attributes::default(),
                extensions: Extensions::default(),
            });
        }
        let url = self.url_of(location, false)?;
        let mut request = self.client.get(url.clone());
        request = match &options.range {
            None => request,
            Some(GetRange::Bounded(r)) => request.header(
                RANGE,
                format!("bytes={}-{}", r.start, r.end.saturating_sub(1)),
            ),
            Some(GetRange::Offset(o)) => request.header(RANGE, format!("bytes={o}-")),
            Some(GetRange::Suffix(n)) => request.header(RANGE, format!("bytes=-{n}")),
        };
        if let Some(etag) = &options.if_match {
            request = request.header(IF_MATCH, etag);
        }
        let response = check_status(location, &url, request.send().await.map_err(generic)?)?;
        let partial = response.status() == StatusCode::PARTIAL_CONTENT;
        let total = if partial {
            content_range_total(response.headers())
        } else {
            None
        };
        let meta = meta_of(location, response.headers(), total)?;
        if let (Some(want), Some(got)) = (&options.if_match, &meta.e_tag) {
            if want != got {
                return Err(Error::Precondition {
                    path: location.to_string(),
                    source: format!("{url}: ETag {got}, expected {want}").into(),
                });
            }
        }
        let range: Range<u64> = match &options.range {
            None => 0..meta.size,
            Some(GetRange::Bounded(r)) => r.start.min(meta.size)..r.end.min(meta.size),
            Some(GetRange::Offset(o)) => (*o).min(meta.size)..meta.size,
            Some(GetRange::Suffix(n)) => meta.size.saturating_sub(*n)..meta.size,
        };
        let body = response.bytes_stream().map_err(generic).boxed();
        let body = if partial || options.range.is_none() {
            body
        } else {
            slice_body(body, range.start, range.end - range.start)
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(body),
            meta,
            range,
            attributes: Attributes::default(),
            extensions: Extensions::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        locations.map(|_| Err(not_supported("delete"))).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let this = self.clone();
        let prefix = prefix.cloned();
        stream::once(async move { this.walk(prefix).await.map(|keys| (this, keys)) })
            .map_ok(|(this, keys)| {
                stream::iter(keys)
                    .then(move |k| {
                        let this = this.clone();
                        async move { this.head_of(&k).await }
                    })
                    .boxed()
            })
            .try_flatten()
            .boxed()
    }

    async fn list_with_delimiter(&self, _: Option<&Path>) -> Result<ListResult> {
        Err(not_supported("list with a delimiter"))
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> Result<()> {
        Err(not_supported("copy"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> BoxStream<'static, Result<Bytes>> {
        let parts: Vec<Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        stream::iter(parts).boxed()
    }

    async fn collect(s: BoxStream<'static, Result<Bytes>>) -> Vec<u8> {
        let chunks: Vec<Bytes> = s.try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn a_range_the_server_ignored_is_cut_from_the_whole_body() {
        let body = chunks(&[b"0123", b"4567", b"89"]);
        assert_eq!(collect(slice_body(body, 5, 3)).await, b"567");
        let body = chunks(&[b"0123", b"4567", b"89"]);
        assert_eq!(collect(slice_body(body, 0, 10)).await, b"0123456789");
        let body = chunks(&[b"0123"]);
        assert_eq!(collect(slice_body(body, 4, 10)).await, b"");
    }

    #[test]
    fn keys_become_encoded_urls() {
        let s = HttpListingStore::new("http://127.0.0.1:1/files").unwrap();
        let url = s.url_of(&Path::from("logs/a b&c.log"), false).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:1/files/logs/a%20b%26c.log");
        assert_eq!(
            s.url_of(&Path::from("logs"), true).unwrap().as_str(),
            "http://127.0.0.1:1/files/logs/"
        );
        assert!(HttpListingStore::new("ftp://x/").is_err());
    }

    #[test]
    fn content_range_gives_the_total() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_RANGE, "bytes 5-9/120".parse().unwrap());
        assert_eq!(content_range_total(&h), Some(120));
    }
}
