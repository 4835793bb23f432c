//! [`SmallReads`]: a small local file read whole in one blocking hand-off.
//!
//! `LocalFileSystem` opens a file in one trip to tokio's blocking pool, and its chunked
//! stream seeks in a second, reads in a third and finds the end in a fourth: four hand-offs
//! (and four futex wake-ups) for a file of a kilobyte, which dominated the profile of a bucket
//! of 100k small files. Here a whole read of a file up to [`SMALL`] bytes opens, stats and reads
//! it in one; any other read (a range, a larger file, one whose size changed while it was read)
//! goes to the store underneath as before. The object's metadata, ETag included, is the one
//! `LocalFileSystem` gives (`"<inode>-<mtime µs>-<size>"` in hex; a test pins the two equal), so
//! stored offsets and resumed reads see the same versions whichever way a file was read.

use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

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

/// A local store whose small whole-file reads take one blocking hand-off.
#[derive(Debug)]
pub(crate) struct SmallReads {
    local: Arc<LocalFileSystem>,
    /// What every other call goes to (the same folder, read in chunks).
    inner: Arc<dyn ObjectStore>,
}

impl std::fmt::Display for SmallReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmallReads({})", self.inner)
    }
}

impl SmallReads {
    /// Small whole reads from `local`, everything else through `inner` (over the same folder).
    pub(crate) fn new(local: Arc<LocalFileSystem>, inner: Arc<dyn ObjectStore>) -> Self {
        SmallReads { local, inner }
    }
}

/// `LocalFileSystem`'s metadata of a file.
fn meta_of(md: &std::fs::Metadata, location: Path) -> std::io::Result<ObjectMeta> {
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
        e_tag: Some(format!("\"{inode:x}-{mtime:x}-{size:x}\"")),
        version: None,
    })
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
        let (loc, opts) = (location.clone(), options.clone());
        let read = tokio::task::spawn_blocking(move || read_small(&path, loc, &opts))
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            })??;
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

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
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
    use futures::TryStreamExt;
    use object_store::chunked::ChunkedStore;
    use object_store::ObjectStoreExt;

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
