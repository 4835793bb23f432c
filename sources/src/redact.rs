//! Keeps secrets out of errors: [`Redacting`] wraps a store and rewrites any error whose text
//! contains a configured secret (e.g. S3 echoes the access key ID in a 403 body), replacing the
//! secret with `[hidden]`. Errors without a secret pass unchanged, with their source chain.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::list::{PaginatedListOptions, PaginatedListResult, PaginatedListStore};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// Secret values of a connector's configuration, never shown.
#[derive(Clone, Default)]
pub(crate) struct Secrets(Arc<Vec<String>>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets([{} hidden])", self.0.len())
    }
}

impl Secrets {
    /// Secrets shorter than this are not redacted (they would blank out ordinary words).
    const MIN_LEN: usize = 4;

    pub(crate) fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut v: Vec<String> = values
            .into_iter()
            .filter(|s| s.len() >= Self::MIN_LEN)
            .collect();
        // Longest first, so a secret containing another is hidden whole.
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        Secrets(Arc::new(v))
    }

    /// `text` with every secret replaced by `[hidden]`, and byte dumps (`[45, 45, 45, ...]`,
    /// as key parsers print what they could not read) replaced by `[bytes hidden]`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.0.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[hidden]");
            }
        }
        hide_byte_dumps(&out)
    }

    fn leaks(&self, e: &(dyn std::error::Error + 'static)) -> bool {
        let mut cur = Some(e);
        while let Some(err) = cur {
            let text = err.to_string();
            if self.0.iter().any(|s| text.contains(s.as_str())) || hide_byte_dumps(&text) != text {
                return true;
            }
            cur = err.source();
        }
        false
    }

    /// `e` unchanged when it shows no secret, else the same variant with a redacted cause.
    pub(crate) fn error(&self, e: object_store::Error) -> object_store::Error {
        use object_store::Error as E;
        if !self.leaks(&e) {
            return e;
        }
        let hide = |source: &(dyn std::error::Error + 'static)| -> Box<dyn std::error::Error + Send + Sync> {
            Box::new(Redacted::of(source, self))
        };
        match e {
            E::NotFound { path, source } => E::NotFound {
                path: self.redact(&path),
                source: hide(source.as_ref()),
            },
            E::PermissionDenied { path, source } => E::PermissionDenied {
                path: self.redact(&path),
                source: hide(source.as_ref()),
            },
            E::Unauthenticated { path, source } => E::Unauthenticated {
                path: self.redact(&path),
                source: hide(source.as_ref()),
            },
            E::Precondition { path, source } => E::Precondition {
                path: self.redact(&path),
                source: hide(source.as_ref()),
            },
            E::Generic { store, source } => E::Generic {
                store,
                source: hide(source.as_ref()),
            },
            other => E::Generic {
                store: "object store",
                source: hide(&other),
            },
        }
    }
}

/// `text` with every bracketed list of eight or more small integers (a byte dump) replaced.
fn hide_byte_dumps(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let dump = after.find(']').filter(|&close| {
            let items: Vec<&str> = after[..close].split(',').map(str::trim).collect();
            items.len() >= 8 && items.iter().all(|i| i.parse::<u8>().is_ok())
        });
        match dump {
            Some(close) => {
                out.push_str("[bytes hidden]");
                rest = &after[close + 1..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An error's text, secrets hidden, with its chain kept level by level.
#[derive(Debug)]
struct Redacted {
    message: String,
    source: Option<Box<Redacted>>,
}

impl Redacted {
    fn of(e: &(dyn std::error::Error + 'static), secrets: &Secrets) -> Self {
        Redacted {
            message: secrets.redact(&e.to_string()),
            source: e.source().map(|s| Box::new(Redacted::of(s, secrets))),
        }
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Redacted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// A store whose errors never show a secret.
pub(crate) struct Redacting<T> {
    inner: T,
    secrets: Secrets,
}

impl<T> Redacting<T> {
    pub(crate) fn new(inner: T, secrets: Secrets) -> Self {
        Redacting { inner, secrets }
    }
}

impl<T: fmt::Display> fmt::Display for Redacting<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Only the store's name: the inner store's `Debug` may show credentials.
impl<T: fmt::Display> fmt::Debug for Redacting<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redacting({})", self.inner)
    }
}

#[async_trait]
impl<T: ObjectStore> ObjectStore for Redacting<T> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner
            .put_opts(location, payload, opts)
            .await
            .map_err(|e| self.secrets.error(e))
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner
            .put_multipart_opts(location, opts)
            .await
            .map_err(|e| self.secrets.error(e))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let mut r = self
            .inner
            .get_opts(location, options)
            .await
            .map_err(|e| self.secrets.error(e))?;
        if let GetResultPayload::Stream(s) = r.payload {
            let secrets = self.secrets.clone();
            r.payload = GetResultPayload::Stream(s.map_err(move |e| secrets.error(e)).boxed());
        }
        Ok(r)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner
            .get_ranges(location, ranges)
            .await
            .map_err(|e| self.secrets.error(e))
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let secrets = self.secrets.clone();
        self.inner
            .delete_stream(locations)
            .map_err(move |e| secrets.error(e))
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let secrets = self.secrets.clone();
        self.inner
            .list(prefix)
            .map_err(move |e| secrets.error(e))
            .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let secrets = self.secrets.clone();
        self.inner
            .list_with_offset(prefix, offset)
            .map_err(move |e| secrets.error(e))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| self.secrets.error(e))
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner
            .copy_opts(from, to, options)
            .await
            .map_err(|e| self.secrets.error(e))
    }
}

#[async_trait]
impl<T: PaginatedListStore> PaginatedListStore for Redacting<T> {
    async fn list_paginated(
        &self,
        prefix: Option<&str>,
        opts: PaginatedListOptions,
    ) -> Result<PaginatedListResult> {
        self.inner
            .list_paginated(prefix, opts)
            .await
            .map_err(|e| self.secrets.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(e: &(dyn std::error::Error + 'static)) -> String {
        let mut out = e.to_string();
        let mut cur = e.source();
        while let Some(s) = cur {
            out.push_str(" / ");
            out.push_str(&s.to_string());
            cur = s.source();
        }
        out
    }

    #[test]
    fn secrets_are_hidden_and_the_variant_kept() {
        let secrets = Secrets::new(["AKIASECRETID".to_owned(), "ab".to_owned()]);
        let e = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "403 <AWSAccessKeyId>AKIASECRETID</AWSAccessKeyId> ab".into(),
        };
        let r = secrets.error(e);
        let text = chain(&r);
        assert!(!text.contains("AKIASECRETID"), "{text}");
        assert!(text.contains("[hidden]") && text.contains(" ab"), "{text}");
        assert!(matches!(r, object_store::Error::PermissionDenied { .. }));
        let clean = object_store::Error::NotFound {
            path: "k".into(),
            source: "nothing secret".into(),
        };
        assert!(chain(&secrets.error(clean)).contains("nothing secret"));
        assert_eq!(format!("{secrets:?}"), "Secrets([1 hidden])");
        let dump = object_store::Error::Generic {
            store: "crypto",
            source: "bad pem: [80, 82, 73, 86, 65, 84, 69, 32, 75] at [1, 2]".into(),
        };
        let text = chain(&Secrets::default().error(dump));
        assert!(text.contains("bad pem: [bytes hidden] at [1, 2]"), "{text}");
    }
}
