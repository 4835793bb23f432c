//! [`SmallReads`]: a small local file read whole in one go, on the task that asks for it.
//!
//! `LocalFileSystem` opens a file in one trip to tokio's blocking pool, and its chunked
//! stream seeks in a second, reads in a third and finds the end in a fourth: four hand-offs
//! (and four futex wake-ups) for a file of a kilobyte, which dominated the profile of a bucket
//! of 100k small files. Here a whole read of a file up to [`SMALL`] bytes opens, stats and reads
//! it in one piece; any other read (a range, a larger file, one whose size changed while it was
//! read) goes to the store underneath as before. The object's metadata, ETag included, is the
//! one `LocalFileSystem` gives (`"<inode>-<mtime µs>-<size>"` in hex; a test pins the two
//! equal), so stored offsets and resumed reads see the same versions whichever way a file was
//! read.
//!
//! Even one hand-off per file cost more than the read: with 100k files of 1 KiB, waking a
//! blocking-pool thread and being woken back took about a quarter of the process's CPU and two
//! context switches per file (docs/benchmarks/2026-12-05-small-reads.md). A read of a small
//! file the page cache holds takes microseconds, so it is done right on the asking task
//! ([`Inline`]), as a synchronous program would. A read that takes longer than [`SLOW_READ`]
//! (a cold disk, a network mount) counts: about eight of them close together send the reads
//! of the next [`COOL_DOWN`] back to the blocking pool, so a slow file system never keeps a
//! runtime thread blocked for long.

use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Files up to this size are read in one piece.
pub(crate) const SMALL: u64 = 256 << 10;

/// A read of a small file that takes longer than this is slow: the file system may not be
/// answering from memory.
pub(crate) const SLOW_READ: Duration = Duration::from_millis(2);

/// What a slow read adds to the score (a fast one takes 1 off): eight slow reads among a few
/// dozen send reads to the blocking pool. A few do not: on a busy machine a thread is sometimes
/// preempted in the middle of a read that the page cache answers, and such preemptions come
/// in bursts (seen: a burst sent a benchmark run's reads to the pool when three were enough).
const SLOW_WEIGHT: u32 = 8;
/// The score at which reads go to the blocking pool.
const SLOW_SCORE: u32 = 8 * SLOW_WEIGHT;

/// How long reads go to the blocking pool once they were slow, before they are tried inline
/// again.
pub(crate) const COOL_DOWN: Duration = Duration::from_secs(10);

/// Whether small reads are done on the asking task: yes, unless reads were slow (see
/// [`SLOW_SCORE`]) less than [`COOL_DOWN`] ago.
#[derive(Debug)]
pub(crate) struct Inline {
    start: Instant,
    /// Nanoseconds after `start` until which reads go to the blocking pool (0: none).
    blocking_until: AtomicU64,
    /// Recent slow reads: +[`SLOW_WEIGHT`] each, −1 for each fast one.
    score: AtomicU32,
}

impl Inline {
    pub(crate) fn new() -> Self {
        Inline {
            start: Instant::now(),
            blocking_until: AtomicU64::new(0),
            score: AtomicU32::new(0),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.start).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether a read starting at `now` is done inline.
    pub(crate) fn now(&self, now: Instant) -> bool {
        self.nanos(now) >= self.blocking_until.load(Ordering::Relaxed)
    }

    /// An inline read started at `started` ended at `ended`. Returns whether the reads of the
    /// next [`COOL_DOWN`] now go to the blocking pool (reads were slow).
    pub(crate) fn took(&self, started: Instant, ended: Instant) -> bool {
        let slow = ended.saturating_duration_since(started) > SLOW_READ;
        let before = self
            .score
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(if slow {
                    s.saturating_add(SLOW_WEIGHT)
                } else {
                    s.saturating_sub(1)
                })
            })
            .unwrap_or_default();
        if !slow || before + SLOW_WEIGHT < SLOW_SCORE {
            return false;
        }
        self.score.store(0, Ordering::Relaxed);
        let until = self.nanos(ended + COOL_DOWN);
        self.blocking_until.fetch_max(until, Ordering::Relaxed);
        true
    }
}

/// A local store whose small whole-file reads are one read, done on the asking task.
#[derive(Debug)]
pub(crate) struct SmallReads {
    local: Arc<LocalFileSystem>,
    /// What every other call goes to (the same folder, read in chunks).
    inner: Arc<dyn ObjectStore>,
    inline: Inline,
}

impl std::fmt::Display for SmallReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmallReads({})", self.inner)
    }
}

impl SmallReads {
    /// Small whole reads from `local`, everything else through `inner` (over the same folder).
    pub(crate) fn new(local: Arc<LocalFileSystem>, inner: Arc<dyn ObjectStore>) -> Self {
        SmallReads {
            local,
            inner,
            inline: Inline::new(),
        }
    }
}

/// `LocalFileSystem`'s metadata of a file.
pub(crate) fn meta_of(md: &std::fs::Metadata, location: Path) -> std::io::Result<ObjectMeta> {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(md);
    #[cfg(not(unix))]
    let inode = 0u64;
    let modified = md.modified()?;
    let mtime = modified
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let size = md.len();
    Ok(ObjectMeta {
        location,
        last_modified: modified.into(),
        size,
        e_tag: Some(etag(inode, mtime, size)),
        version: None,
    })
}

/// `"<inode>-<mtime µs>-<size>"` in lower-case hex, as `LocalFileSystem` writes a file's ETag
/// (`format!("\"{inode:x}-{mtime:x}-{size:x}\"")`), written by hand: once per listed file, and
/// `format!` took about a twentieth of a listing pass over 1M files.
fn etag(inode: u64, mtime: u128, size: u64) -> String {
    fn hex(out: &mut String, n: u128) {
        let digits = (128 - n.leading_zeros()).div_ceil(4).max(1);
        for i in (0..digits).rev() {
            let d = ((n >> (i * 4)) & 0xf) as u8;
            out.push(char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 }));
        }
    }
    let mut out = String::with_capacity(48);
    out.push('"');
    hex(&mut out, u128::from(inode));
    out.push('-');
    hex(&mut out, mtime);
    out.push('-');
    hex(&mut out, u128::from(size));
    out.push('"');
    out
}

fn io_error(e: std::io::Error, path: &std::path::Path) -> object_store::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        object_store::Error::NotFound {
            path: path.display().to_string(),
            source: Box::new(e),
        }
    } else {
        object_store::Error::Generic {
            store: "LocalFileSystem",
            source: format!("cannot read {}: {e}", path.display()).into(),
        }
    }
}

/// Reads the file whole when it is small: `None` when it is not (or changed size meanwhile).
fn read_small(
    path: &std::path::Path,
    location: Path,
    options: &GetOptions,
) -> Result<Option<(Bytes, ObjectMeta)>> {
    let mut file = std::fs::File::open(path).map_err(|e| io_error(e, path))?;
    let md = file.metadata().map_err(|e| io_error(e, path))?;
    if md.is_dir() || md.len() > SMALL {
        return Ok(None);
    }
    let meta = meta_of(&md, location).map_err(|e| io_error(e, path))?;
    options.check_preconditions(&meta)?;
    let mut bytes = Vec::with_capacity(md.len() as usize);
    (&mut file)
        .take(md.len() + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(e, path))?;
    if bytes.len() as u64 != md.len() {
        return Ok(None);
    }
    Ok(Some((bytes.into(), meta)))
}

#[async_trait]
impl ObjectStore for SmallReads {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.range.is_some() || options.head {
            return self.inner.get_opts(location, options).await;
        }
        let path = self.local.path_to_filesystem(location)?;
        let started = Instant::now();
        let read = if self.inline.now(started) {
            let read = read_small(&path, location.clone(), &options);
            if self.inline.took(started, Instant::now()) {
                tracing::debug!(path = %path.display(), took = ?started.elapsed(),
                    "small local reads were slow: they go to the blocking pool for a while");
            }
            read?
        } else {
            let (loc, opts) = (location.clone(), options.clone());
            tokio::task::spawn_blocking(move || read_small(&path, loc, &opts))
                .await
                .map_err(|e| object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(e),
                })??
        };
        match read {
            Some((bytes, meta)) => Ok(GetResult {
                range: 0..meta.size,
                payload: GetResultPayload::Stream(
                    futures::stream::once(async { Ok(bytes) }).boxed(),
                ),
                meta,
                attributes: Default::default(),
                extensions: Default::default(),
            }),
            None => self.inner.get_opts(location, options).await,
        }
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    /// A directory of plain names is listed with one stat per file (`local_list`), in one
    /// blocking-pool trip; any other goes to `LocalFileSystem`.
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let key = prefix.cloned().unwrap_or_default();
        // The directory as LocalFileSystem maps it (through a child: a key's own name may be
        // one it refuses, and the root has none).
        let dir = self
            .local
            .path_to_filesystem(&key.clone().join("x"))
            .ok()
            .and_then(|p| p.parent().map(std::path::Path::to_owned));
        if let Some(dir) = dir {
            let listed =
                tokio::task::spawn_blocking(move || crate::local_list::list_plain(&dir, &key))
                    .await
                    .map_err(|e| object_store::Error::Generic {
                        store: "LocalFileSystem",
                        source: Box::new(e),
                    })?;
            if let Some(listed) = listed {
                return Ok(listed);
            }
        }
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_written_as_local_file_system_writes_them() {
        let values = [0u64, 1, 9, 10, 15, 16, 255, 0xdead_beef, u64::MAX];
        for inode in values {
            for size in values {
                for mtime in [
                    0u128,
                    1,
                    0x1_7f00_0000_0000,
                    u128::from(u64::MAX) + 1,
                    u128::MAX,
                ] {
                    assert_eq!(
                        etag(inode, mtime, size),
                        format!("\"{inode:x}-{mtime:x}-{size:x}\"")
                    );
                }
            }
        }
    }
    use futures::TryStreamExt;
    use object_store::chunked::ChunkedStore;
    use object_store::ObjectStoreExt;

    #[test]
    fn slow_reads_send_reads_to_the_blocking_pool_for_a_while() {
        let inline = Inline::new();
        let t0 = Instant::now();
        let fast = |at: Instant| inline.took(at, at + Duration::from_micros(30));
        let slow = |at: Instant| inline.took(at, at + Duration::from_millis(5));
        assert!(inline.now(t0));
        assert!(!fast(t0));
        // A few slow reads among fast ones (a preempted thread) change nothing, however often.
        for _ in 0..100 {
            for _ in 0..3 {
                assert!(!slow(t0));
            }
            for _ in 0..3 * SLOW_WEIGHT {
                assert!(!fast(t0));
            }
        }
        assert!(inline.now(t0));
        // Nine close together (eight, and one for the fast one between): the blocking pool
        // until COOL_DOWN after the last ended.
        for _ in 0..4 {
            assert!(!slow(t0));
        }
        assert!(!fast(t0));
        for _ in 0..4 {
            assert!(!slow(t0));
        }
        assert!(slow(t0));
        let ended = t0 + Duration::from_millis(5);
        assert!(!inline.now(ended));
        assert!(!inline.now(ended + COOL_DOWN - Duration::from_millis(1)));
        assert!(inline.now(ended + COOL_DOWN));
        // The count starts again from nothing.
        assert!(!slow(ended + COOL_DOWN));
        assert!(inline.now(ended + COOL_DOWN));
    }

    /// Both ways of reading (inline, and in the blocking pool after a slow read) give the same
    /// bytes and metadata.
    #[tokio::test]
    async fn reads_in_the_blocking_pool_after_a_slow_one_are_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"{\"a\":1}\n".to_vec();
        std::fs::write(dir.path().join("o.jsonl"), &body).unwrap();
        let local = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let store = SmallReads::new(local.clone(), local.clone());
        let location = Path::from("o.jsonl");
        let inline = store
            .get_opts(&location, GetOptions::default())
            .await
            .unwrap();
        let t = Instant::now();
        while !store.inline.took(t, t + SLOW_READ * 2) {}
        assert!(!store.inline.now(Instant::now()));
        let pooled = store
            .get_opts(&location, GetOptions::default())
            .await
            .unwrap();
        assert_eq!(inline.meta, pooled.meta);
        assert_eq!(inline.bytes().await.unwrap(), pooled.bytes().await.unwrap());
    }

    #[tokio::test]
    async fn small_files_read_whole_with_the_metadata_of_the_local_store() {
        let dir = tempfile::tempdir().unwrap();
        let small = b"{\"a\":1}\n{\"a\":2}\n".to_vec();
        let big: Vec<u8> = (0..SMALL as usize + 10).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("small.jsonl"), &small).unwrap();
        std::fs::write(dir.path().join("big.bin"), &big).unwrap();
        let local = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let chunked: Arc<dyn ObjectStore> = Arc::new(ChunkedStore::new(local.clone(), 4096));
        let store = SmallReads::new(local.clone(), chunked);
        for (name, body) in [("small.jsonl", &small), ("big.bin", &big)] {
            let location = Path::from(name);
            let r = store
                .get_opts(&location, GetOptions::default())
                .await
                .unwrap();
            let expected = local.head(&location).await.unwrap();
            assert_eq!(r.meta, expected, "{name}");
            assert_eq!(r.range, 0..body.len() as u64);
            let chunks: Vec<Bytes> = r.into_stream().try_collect().await.unwrap();
            assert_eq!(chunks.concat(), *body, "{name}");
            // The listing's metadata too (what offsets store and later listings compare).
            let listed: Vec<ObjectMeta> = store.list(None).try_collect().await.unwrap();
            assert!(listed.contains(&expected), "{name}");
        }
        // A range, and a precondition that fails.
        let location = Path::from("small.jsonl");
        let r = store
            .get_opts(
                &location,
                GetOptions {
                    range: Some((2..5).into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(r.bytes().await.unwrap(), small[2..5]);
        let refused = store
            .get_opts(
                &location,
                GetOptions {
                    if_match: Some("\"other\"".into()),
                    ..Default::default()
                },
            )
            .await;
        assert!(
            matches!(refused, Err(object_store::Error::Precondition { .. })),
            "{refused:?}"
        );
        // A missing file is NotFound (a vanished object, not a failure).
        let gone = store
            .get_opts(&Path::from("gone"), GetOptions::default())
            .await;
        assert!(
            matches!(gone, Err(object_store::Error::NotFound { .. })),
            "{gone:?}"
        );
    }
}
