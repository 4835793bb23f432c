//! [`ObjectInput`]: one object handed to a transformer, read as a resumable stream.
//!
//! A read is one streamed GET. When it fails with a transient error (5xx, throttling, timeout,
//! connection reset, a body cut short), it is reopened with a range request from the byte already
//! reached — never from the start — after an exponential backoff, and the new response must carry
//! the same ETag (otherwise the object changed under the reader, which is reported, not mixed).
//! The cloud stores' HTTP client already retries each request; this layer covers what it cannot:
//! a read that keeps failing after the client gave up, and stores without their own retries.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt};
use tracing::warn;

use crate::backoff::IdleBackoff;
use crate::error::{Error, Result};
use crate::record::SourceObject;

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// How a read retries transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRetry {
    /// Reopens in a row without a single new byte before the read fails.
    pub max_retries: u32,
    /// First wait before reopening; doubles (±50 % jitter) up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest wait between two reopens.
    pub max_backoff: Duration,
    /// A read fails only once it also made no progress for this long (a store that is down
    /// for minutes is waited out, not taken for a broken object).
    pub give_up_after: Duration,
}

impl Default for ReadRetry {
    fn default() -> Self {
        ReadRetry {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            give_up_after: Duration::from_secs(180),
        }
    }
}

/// How an object's byte stream ended, as the line formats saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tail {
    /// With a line terminator, or the format does not read lines.
    #[default]
    Complete,
    /// The last line had no terminator and was read as it is.
    Unterminated,
    /// The last line had no terminator and was held back (see
    /// [`ObjectInput::with_hold_tail`]): it starts at this byte offset and was not read.
    Held(u64),
}

/// What a read found out about the object, shared by every clone of its [`ObjectInput`] (the
/// transformer reading it and the source that opened it).
#[derive(Debug, Default)]
struct ReadState {
    tail: Tail,
}

/// An object to transform: where it lives and how to read it. Streaming formats call
/// [`ObjectInput::stream`]; formats that need random access (Parquet) use
/// [`ObjectInput::store`] and [`ObjectInput::meta`] for range reads.
#[derive(Debug, Clone)]
pub struct ObjectInput {
    /// Bucket and key, shared with every record read from the object.
    object: Arc<SourceObject>,
    store: Arc<dyn ObjectStore>,
    meta: ObjectMeta,
    retry: ReadRetry,
    /// Whether a last line without terminator is held back (the object may still grow).
    hold_tail: bool,
    state: Arc<Mutex<ReadState>>,
}

impl ObjectInput {
    /// An object of `bucket` in `store`, described by `meta`, read with the default
    /// [`ReadRetry`].
    pub fn new(bucket: impl Into<String>, store: Arc<dyn ObjectStore>, meta: ObjectMeta) -> Self {
        ObjectInput {
            object: Arc::new(SourceObject {
                bucket: bucket.into(),
                key: meta.location.to_string(),
            }),
            store,
            meta,
            retry: ReadRetry::default(),
            hold_tail: false,
            state: Arc::default(),
        }
    }

    /// The same input, reads retried per `retry`.
    pub fn with_retry(mut self, retry: ReadRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The same input; with `hold`, the line formats hold back a last line that has no line
    /// terminator (it may be a line still being written): they end the records before it and
    /// report it with [`set_tail`](Self::set_tail)`(`[`Tail::Held`]`)`.
    pub fn with_hold_tail(mut self, hold: bool) -> Self {
        self.hold_tail = hold;
        self
    }

    /// Whether a last line without terminator is to be held back.
    pub fn holds_tail(&self) -> bool {
        self.hold_tail
    }

    /// Records how the object's last line ended (called by the line formats at the end).
    pub fn set_tail(&self, tail: Tail) {
        self.lock().tail = tail;
    }

    /// How the object's last line ended, once read to the end.
    pub fn tail(&self) -> Tail {
        self.lock().tail
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReadState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bucket (container, folder) the object is in.
    pub fn bucket(&self) -> &str {
        &self.object.bucket
    }

    /// Bucket and key of the object, shared: records read from it carry this in their
    /// [`RecordOrigin`](crate::record::RecordOrigin).
    pub fn object(&self) -> &Arc<SourceObject> {
        &self.object
    }

    /// The object's key.
    pub fn key(&self) -> &str {
        self.meta.location.as_ref()
    }

    /// The object's metadata (size, last modified, ETag), as listed.
    pub fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// The store holding the object, for range reads.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The retry settings of reads.
    pub fn retry(&self) -> ReadRetry {
        self.retry
    }

    /// Opens a streaming read of the whole object. Memory use is bounded by the store's chunk
    /// size, whatever the object's size. Transient failures, when opening or in the middle of the
    /// body, are retried from the byte reached (see the module docs); a failure that is not
    /// transient, or that persists, ends the stream with an [`Error::Store`] naming the object
    /// (wrapped in the `std::io::Error`), whose source is the store's error:
    /// `object_store::Error::NotFound` when the object is gone, `Precondition` when it changed
    /// while being read (see [`is_object_gone`]).
    pub async fn stream(&self) -> Result<ByteStream> {
        let mut reader = Resumable {
            input: self.clone(),
            body: None,
            pos: 0,
            end: None,
            etag: None,
            failures: 0,
            progress_at: std::time::Instant::now(),
            backoff: IdleBackoff::new(self.retry.initial_backoff, self.retry.max_backoff),
            done: false,
        };
        reader.reopen(None).await.map_err(|e| reader.error(e))?;
        // Fused: a reader polled again after the end gets the end again, not a panic.
        Ok(futures::stream::unfold(reader, |mut r| async move {
            let item = r.next_chunk().await?;
            Some((item, r))
        })
        .fuse()
        .boxed())
    }

    fn store_error(&self, source: object_store::Error) -> Error {
        Error::Store {
            bucket: self.object.bucket.clone(),
            object: Some(self.key().to_owned()),
            source: Box::new(source),
        }
    }
}

/// The state of one resumable read.
struct Resumable {
    input: ObjectInput,
    body: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    /// Bytes delivered so far.
    pos: u64,
    /// Where the object ends (from the first response).
    end: Option<u64>,
    /// The ETag of the first response; every reopen must match it.
    etag: Option<String>,
    /// Failed attempts since the last byte arrived.
    failures: u32,
    /// When the last byte arrived (or the read started).
    progress_at: std::time::Instant,
    backoff: IdleBackoff,
    done: bool,
}

impl Resumable {
    fn error(&self, e: object_store::Error) -> Error {
        self.input.store_error(e)
    }

    /// Opens (or reopens, after `cause`) the body at `pos`, retrying transient failures.
    async fn reopen(&mut self, mut cause: Option<object_store::Error>) -> object_store::Result<()> {
        loop {
            if let Some(e) = cause.take() {
                if !is_transient(&e) {
                    return Err(e);
                }
                self.failures += 1;
                let stalled = self.progress_at.elapsed();
                if self.failures > self.input.retry.max_retries
                    && stalled >= self.input.retry.give_up_after
                {
                    return Err(e);
                }
                let delay = self.backoff.next_delay();
                warn!(bucket = %self.input.object.bucket, object = %self.input.key(), position = self.pos,
                    attempt = self.failures, ?delay, error = %e,
                    "read failed; resuming from the byte reached after a backoff");
                tokio::time::sleep(delay).await;
            }
            let options = GetOptions {
                range: (self.pos > 0).then_some(GetRange::Offset(self.pos)),
                ..GetOptions::default()
            };
            match self
                .input
                .store
                .get_opts(&self.input.meta.location, options)
                .await
            {
                Ok(result) => {
                    if self.end.is_none() {
                        self.end = Some(result.range.end);
                        self.etag = result.meta.e_tag.clone();
                    } else if result.meta.e_tag != self.etag {
                        return Err(self.changed(result.meta.e_tag.as_deref()));
                    }
                    self.body = Some(result.into_stream());
                    return Ok(());
                }
                Err(e) if self.pos > 0 && !is_transient(&e) => {
                    // A resume refused for good (e.g. 416: the range no longer fits): tell a
                    // replaced or deleted object apart from other failures.
                    return Err(
                        match self.input.store.head(&self.input.meta.location).await {
                            Ok(now) if now.e_tag != self.etag => self.changed(now.e_tag.as_deref()),
                            Err(gone @ object_store::Error::NotFound { .. }) => gone,
                            _ => e,
                        },
                    );
                }
                Err(e) => cause = Some(e),
            }
        }
    }

    fn changed(&self, now: Option<&str>) -> object_store::Error {
        object_store::Error::Precondition {
            path: self.input.key().to_owned(),
            source: format!(
                "the object changed while it was being read (ETag {:?}, now {:?}); the rest of the old version is gone",
                self.etag.as_deref().unwrap_or("none"),
                now.unwrap_or("none")
            )
            .into(),
        }
    }

    async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        loop {
            if self.done {
                return None;
            }
            let next = match self.body.as_mut() {
                Some(body) => body.next().await,
                None => None,
            };
            let cause = match next {
                Some(Ok(bytes)) => {
                    if bytes.is_empty() {
                        continue;
                    }
                    self.pos += bytes.len() as u64;
                    self.failures = 0;
                    self.progress_at = std::time::Instant::now();
                    self.backoff.reset();
                    return Some(Ok(bytes));
                }
                Some(Err(e)) => e,
                None if self.pos < self.end.unwrap_or(0) => object_store::Error::Generic {
                    store: "sluice",
                    source: format!(
                        "the response ended at byte {} of {}",
                        self.pos,
                        self.end.unwrap_or(0)
                    )
                    .into(),
                },
                None => {
                    self.done = true;
                    return None;
                }
            };
            self.body = None;
            if let Err(e) = self.reopen(Some(cause)).await {
                self.done = true;
                return Some(Err(std::io::Error::other(self.error(e))));
            }
        }
    }
}

/// Whether a store error is worth retrying: server errors, throttling, timeouts and broken
/// connections are; a missing object, a refused credential, a failed precondition or another
/// client error (4xx) is not.
pub fn is_transient(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    match e {
        E::Generic { source, .. } => !is_client_error(source.as_ref()),
        E::JoinError { .. } => true,
        _ => false,
    }
}

/// True when the chain reports an HTTP 4xx status other than 408 (timeout) and 429 (throttled).
fn is_client_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if let Some(i) = text.find("status code: ") {
            let code: String = text[i + 13..].chars().take(3).collect();
            if let Ok(code) = code.parse::<u16>() {
                return (400..500).contains(&code) && code != 408 && code != 429;
            }
        }
        cur = err.source();
    }
    false
}

/// True when `e`, or an error in its `source` chain, says the object being read no longer exists
/// as it was listed: deleted (`object_store::Error::NotFound`) or replaced by another version
/// while it was read (`Precondition`).
pub fn is_object_gone(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(os) = err.downcast_ref::<object_store::Error>() {
            if matches!(
                os,
                object_store::Error::NotFound { .. } | object_store::Error::Precondition { .. }
            ) {
                return true;
            }
        }
        if let Some(Error::Store { source, .. }) = err.downcast_ref::<Error>() {
            if let Some(os) = source.downcast_ref::<object_store::Error>() {
                return matches!(
                    os,
                    object_store::Error::NotFound { .. } | object_store::Error::Precondition { .. }
                );
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if is_object_gone(inner) {
                    return true;
                }
            }
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use async_trait::async_trait;
    use futures::stream;
    use futures::TryStreamExt;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{
        GetResult, GetResultPayload, ListResult, MultipartUpload, PutMultipartOptions, PutOptions,
        PutPayload, PutResult,
    };

    /// A store over `InMemory` whose GETs fail as told: `plan` lists, per GET, either an error to
    /// return at once or a byte count after which the body breaks (`None` = healthy).
    #[derive(Debug)]
    struct Flaky {
        inner: InMemory,
        plan: Mutex<Vec<Fault>>,
        gets: AtomicUsize,
        ranges: Mutex<Vec<Option<GetRange>>>,
    }

    #[derive(Debug, Clone)]
    enum Fault {
        Status(u16),
        BreakAfter(usize),
        NotFound,
        Healthy,
    }

    impl std::fmt::Display for Flaky {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Flaky")
        }
    }

    fn status_error(code: u16) -> object_store::Error {
        object_store::Error::Generic {
            store: "test",
            source: format!("Server returned non-2xx status code: {code} Whatever").into(),
        }
    }

    #[async_trait]
    impl ObjectStore for Flaky {
        async fn put_opts(
            &self,
            location: &Path,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.inner.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }
        async fn get_opts(
            &self,
            location: &Path,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.ranges.lock().unwrap().push(options.range.clone());
            let fault = {
                let mut plan = self.plan.lock().unwrap();
                if plan.is_empty() {
                    Fault::Healthy
                } else {
                    plan.remove(0)
                }
            };
            match fault {
                Fault::Status(code) => Err(status_error(code)),
                Fault::NotFound => Err(object_store::Error::NotFound {
                    path: location.to_string(),
                    source: "gone".into(),
                }),
                Fault::Healthy => self.inner.get_opts(location, options).await,
                Fault::BreakAfter(n) => {
                    let r = self.inner.get_opts(location, options).await?;
                    let (meta, range, attributes) =
                        (r.meta.clone(), r.range.clone(), r.attributes.clone());
                    let data = r.bytes().await?;
                    let cut = n.min(data.len());
                    // Small chunks, then a connection reset.
                    let chunks: Vec<object_store::Result<Bytes>> = data[..cut]
                        .chunks(7)
                        .map(|c| Ok(Bytes::copy_from_slice(c)))
                        .chain(std::iter::once(Err(status_error(503))))
                        .collect();
                    Ok(GetResult {
                        payload: GetResultPayload::Stream(stream::iter(chunks).boxed()),
                        meta,
                        range,
                        attributes,
                        extensions: Default::default(),
                    })
                }
            }
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            self.inner.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&Path>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &Path,
            to: &Path,
            options: object_store::CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    async fn setup(plan: Vec<Fault>) -> (Arc<Flaky>, ObjectInput, Vec<u8>) {
        let data: Vec<u8> = (0..1000u32).flat_map(|i| i.to_le_bytes()).collect();
        let store = Arc::new(Flaky {
            inner: InMemory::new(),
            plan: Mutex::new(Vec::new()),
            gets: AtomicUsize::new(0),
            ranges: Mutex::new(Vec::new()),
        });
        let path = Path::from("a/b.bin");
        store.put(&path, data.clone().into()).await.unwrap();
        let meta = store.head(&path).await.unwrap();
        *store.plan.lock().unwrap() = plan;
        store.gets.store(0, Ordering::SeqCst);
        store.ranges.lock().unwrap().clear();
        let input = ObjectInput::new("bkt", store.clone() as Arc<dyn ObjectStore>, meta)
            .with_retry(ReadRetry {
                max_retries: 3,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(5),
                give_up_after: Duration::ZERO,
            });
        (store, input, data)
    }

    async fn read_all(input: &ObjectInput) -> std::io::Result<Vec<u8>> {
        let chunks: Vec<Bytes> = input
            .stream()
            .await
            .map_err(std::io::Error::other)?
            .try_collect()
            .await?;
        Ok(chunks.concat())
    }

    #[tokio::test]
    async fn a_broken_body_resumes_from_the_byte_reached() {
        let (store, input, data) = setup(vec![
            Fault::BreakAfter(1000),
            Fault::Status(503),
            Fault::BreakAfter(500),
            Fault::Healthy,
        ])
        .await;
        assert_eq!(read_all(&input).await.unwrap(), data);
        assert_eq!(store.gets.load(Ordering::SeqCst), 4);
        let ranges = store.ranges.lock().unwrap().clone();
        assert_eq!(
            ranges,
            vec![
                None,
                Some(GetRange::Offset(1000)),
                Some(GetRange::Offset(1000)),
                Some(GetRange::Offset(1500)),
            ],
            "each reopen starts at the byte reached, never at 0"
        );
    }

    #[tokio::test]
    async fn opening_retries_transient_errors_only() {
        let (store, input, data) = setup(vec![Fault::Status(500), Fault::Status(429)]).await;
        assert_eq!(read_all(&input).await.unwrap(), data);
        assert_eq!(store.gets.load(Ordering::SeqCst), 3);

        let (store, input, _) = setup(vec![Fault::Status(403)]).await;
        let err = read_all(&input).await.unwrap_err();
        assert_eq!(store.gets.load(Ordering::SeqCst), 1, "a 403 is not retried");
        assert!(err.to_string().contains("\"a/b.bin\""), "{err}");

        let (store, input, _) = setup(vec![Fault::NotFound]).await;
        let err = input.stream().await.err().unwrap();
        assert_eq!(
            store.gets.load(Ordering::SeqCst),
            1,
            "a missing object is not retried"
        );
        assert!(is_object_gone(&err));
    }

    #[tokio::test]
    async fn a_read_without_progress_gives_up() {
        let (store, input, _) = setup(vec![
            Fault::BreakAfter(10),
            Fault::Status(503),
            Fault::Status(503),
            Fault::Status(503),
            Fault::Status(503),
        ])
        .await;
        let err = read_all(&input).await.unwrap_err();
        // First GET, then max_retries (3) reopens without progress.
        assert_eq!(store.gets.load(Ordering::SeqCst), 4);
        assert!(err.to_string().contains("503"), "{err}");
        assert!(!is_object_gone(&err));
    }

    #[tokio::test]
    async fn an_object_replaced_mid_read_is_reported_as_gone() {
        let (store, input, _) = setup(vec![Fault::BreakAfter(100)]).await;
        let mut s = input.stream().await.unwrap();
        let mut got = 0;
        let err = loop {
            match s.next().await {
                Some(Ok(b)) => {
                    got += b.len();
                    if got >= 100 {
                        // Overwritten while the reader waits to resume.
                        store
                            .put(&Path::from("a/b.bin"), vec![1u8; 5000].into())
                            .await
                            .unwrap();
                    }
                }
                Some(Err(e)) => break e,
                None => panic!("the stream must fail"),
            }
        };
        assert!(is_object_gone(&err), "{err}");
        assert!(
            err.to_string().contains("changed while it was being read"),
            "{err}"
        );
    }

    #[test]
    fn transient_errors_are_told_apart() {
        assert!(is_transient(&status_error(503)));
        assert!(is_transient(&status_error(429)));
        assert!(is_transient(&status_error(408)));
        assert!(!is_transient(&status_error(400)));
        assert!(!is_transient(&object_store::Error::PermissionDenied {
            path: "x".into(),
            source: "no".into()
        }));
        let io = object_store::Error::Generic {
            store: "S3",
            source: Box::new(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "reset",
            )),
        };
        assert!(is_transient(&io));
    }
}
