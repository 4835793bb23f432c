//! The local backend: a folder used as a bucket, through `object_store`'s `LocalFileSystem`.

use std::sync::Arc;

use futures::stream::{self, BoxStream};
use futures::StreamExt;
use globset::{Glob, GlobSet, GlobSetBuilder};
use object_store::chunked::ChunkedStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};
use sluice_core::config::defs::{self, key, optional};
use sluice_core::config::ConnectorConfig;
use sluice_core::config::{KeySet, Keys, Owner};
use sluice_core::contract::ObjectBackend;

use crate::local_read::SmallReads;
use crate::Error;

/// The `local` backend's keys, declared beside its code.
pub const KEYS: KeySet = KeySet {
    owner: Owner::Backend {
        name: "local",
        classes: &[],
    },
    doc: "A folder used as the bucket (`connector.class=local`).",
    keys: &[
        optional(
            "local.path",
            defs::Kind::String,
            "`local` backend: the folder used as the bucket (required for `connector.class=local`).",
        ),
        optional(
            "local.prefix",
            defs::Kind::String,
            "`local` backend: only objects whose key starts with this prefix are read.",
        ),
        key(
            "local.file.min.age.ms",
            defs::Kind::Int {
                min: 0,
                max: i64::MAX,
            },
            "5000",
            "`local` backend: a file is read only once it has not been modified for this long, like the \"changed\" read lock of file-based integrations: a file still being written (appended to, copied in) is left until its writer is done. A `backfill` waits for such files. 0: read files whatever their age (only safe when every writer renames a finished file into place).",
        ),
        key(
            "local.file.ignore.patterns",
            defs::Kind::List,
            "*.tmp,*.part,.*,*._COPYING_",
            "`local` backend: file names (the last part of the key, glob patterns with `*`, `?` and `[...]`, comma-separated) never read: the in-progress names of writers that rename a finished file into place (`*.tmp`, `*.part`, hidden `.*` files such as rsync's, Hadoop's `*._COPYING_`). Empty: read every file.",
        ),
    ],
    prefixes: &[],
    check: Some(check),
};

/// `local.path` must be given; the post-read keys (`object.post.read.*`).
fn check(r: &Keys<'_>) -> sluice_core::Result<Vec<String>> {
    let mut problems: Vec<String> = crate::required(r, "local.path", "the folder to read")?
        .into_iter()
        .collect();
    problems.extend(sluice_core::config::post_read_problems(r, "local.prefix")?);
    Ok(problems)
}

/// Bytes per read of a local file.
const READ_CHUNK: usize = 1 << 20;

/// A folder as a bucket. Keys are paths relative to the folder, `/`-separated.
#[derive(Debug)]
pub struct LocalBackend {
    root: String,
    store: Arc<dyn ObjectStore>,
    prefix: Option<String>,
    /// `local.file.ignore.patterns`: file names never listed.
    ignore: Arc<GlobSet>,
}

/// Compiles `local.file.ignore.patterns` (globs over a file's name, the last part of its key);
/// the error names the pattern and what is wrong with it.
pub fn ignore_patterns(patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p).map_err(|e| {
            format!(
                "local.file.ignore.patterns: {p:?} is not a glob pattern ({e}); use *, ? and [...]"
            )
        })?;
        set.add(glob);
    }
    set.build()
        .map_err(|e| format!("local.file.ignore.patterns: {e}"))
}

/// Whether the file name of `key` (its last part) matches `ignore`.
fn ignored(ignore: &GlobSet, key: &Path) -> bool {
    !ignore.is_empty() && key.filename().is_some_and(|name| ignore.is_match(name))
}

impl LocalBackend {
    /// A backend over folder `root`, reading keys under `prefix`, every file name included.
    pub fn new(root: &str, prefix: Option<&str>) -> Result<Self, Error> {
        Self::with_ignore(root, prefix, &[])
    }

    /// A backend over folder `root`, reading keys under `prefix` whose file name matches none of
    /// the `ignore` patterns (`local.file.ignore.patterns`).
    pub fn with_ignore(root: &str, prefix: Option<&str>, ignore: &[String]) -> Result<Self, Error> {
        let build_err = |message: String, source| Error::Build {
            backend: "local",
            bucket: root.to_owned(),
            message,
            source,
        };
        let meta = std::fs::metadata(root).map_err(|e| {
            build_err(
                format!("cannot open the folder ({e}); check local.path"),
                None,
            )
        })?;
        if !meta.is_dir() {
            return Err(build_err("local.path is not a folder".into(), None));
        }
        let ignore = ignore_patterns(ignore).map_err(|m| build_err(m, None))?;
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| build_err("cannot use the folder".into(), Some(Box::new(e))))?;
        let local = Arc::new(store);
        // Whole-file reads come in chunks of READ_CHUNK (object_store's own are 8 KiB: one
        // blocking-pool hand-off per 8 KiB); a small file is read whole in one hand-off.
        let chunked = Arc::new(ChunkedStore::new(local.clone(), READ_CHUNK));
        Ok(LocalBackend {
            root: root.to_owned(),
            store: Arc::new(SmallReads::new(local, chunked)),
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_owned),
            ignore: Arc::new(ignore),
        })
    }

    /// From `local.path`, `local.prefix` and `local.file.ignore.patterns`.
    pub fn from_config(config: &ConnectorConfig) -> Result<Self, Error> {
        let root = config
            .settings
            .get("local.path")
            .map(String::as_str)
            .unwrap_or("");
        Self::with_ignore(
            root,
            config.settings.get("local.prefix").map(String::as_str),
            &config.store.ignore_patterns,
        )
    }
}

impl ObjectBackend for LocalBackend {
    fn bucket(&self) -> &str {
        &self.root
    }

    fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// Keys in order without holding the folder's listing: a walk one directory at a time
    /// (`list_with_delimiter`), each directory's entries sorted with a subdirectory `d` placed
    /// as `d/` (so `a-c.jsonl` comes before `a/b.jsonl`, as keys sort), subdirectories expanded
    /// when their turn comes. Memory holds the directories on the current path, not the bucket.
    /// Subdirectories wholly at or before `start_after`, or outside the prefix, are not read;
    /// files are filtered by prefix, `start_after` and the ignored names.
    fn list(
        &self,
        start_after: Option<&Path>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let walk = Walk {
            store: self.store.clone(),
            prefix: self.prefix.clone(),
            start_after: start_after.map(|s| s.as_ref().to_owned()),
            ignore: self.ignore.clone(),
        };
        let folder = self
            .prefix
            .as_deref()
            .and_then(|p| p.rfind('/').map(|i| Path::from(&p[..i])));
        stream::try_unfold(
            (walk, vec![Entry::Dir(folder)]),
            |(walk, mut stack)| async move {
                while let Some(entry) = stack.pop() {
                    match entry {
                        Entry::File(meta) => return Ok(Some((meta, (walk, stack)))),
                        Entry::Dir(dir) => walk.expand(dir.as_ref(), &mut stack).await?,
                    }
                }
                Ok(None)
            },
        )
        .boxed()
    }
}

/// A directory entry waiting its turn in [`LocalBackend::list`].
enum Entry {
    File(ObjectMeta),
    /// A directory (`None`: the root).
    Dir(Option<Path>),
}

/// What [`LocalBackend::list`] keeps.
struct Walk {
    store: Arc<dyn ObjectStore>,
    prefix: Option<String>,
    start_after: Option<String>,
    ignore: Arc<GlobSet>,
}

impl Walk {
    /// Lists `dir` and pushes its wanted entries on `stack`, the first key on top.
    async fn expand(&self, dir: Option<&Path>, stack: &mut Vec<Entry>) -> object_store::Result<()> {
        let listed = self.store.list_with_delimiter(dir).await?;
        let mut entries: Vec<(String, Entry)> = Vec::new();
        for d in listed.common_prefixes {
            let key = format!("{}/", d.as_ref());
            if self.wants_dir(&key) {
                entries.push((key, Entry::Dir(Some(d))));
            }
        }
        for m in listed.objects {
            if self.wants_file(&m.location) {
                entries.push((m.location.as_ref().to_owned(), Entry::File(m)));
            }
        }
        entries.sort_unstable_by(|a, b| b.0.cmp(&a.0));
        stack.extend(entries.into_iter().map(|(_, e)| e));
        Ok(())
    }

    /// A subdirectory (its key ending in `/`) can hold a wanted key: it overlaps the prefix,
    /// and not every key in it is at or before `start_after`.
    fn wants_dir(&self, key: &str) -> bool {
        let in_prefix = self
            .prefix
            .as_deref()
            .is_none_or(|p| key.starts_with(p) || p.starts_with(key));
        let passed = self
            .start_after
            .as_deref()
            .is_some_and(|s| s > key && !s.starts_with(key));
        in_prefix && !passed
    }

    fn wants_file(&self, location: &Path) -> bool {
        let key = location.as_ref();
        self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.start_after.as_deref().is_none_or(|s| key > s)
            && !ignored(&self.ignore, location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    /// The walk gives exactly the keys a full sorted listing gives, whatever the tree: names
    /// with characters sorting before and after `/`, nesting, prefixes, start positions.
    #[tokio::test]
    async fn the_directory_walk_lists_what_a_sorted_full_listing_lists() {
        let dir = tempfile::tempdir().unwrap();
        let parts = ["a", "a-b", "a.c", "b", "ab", "z", "a0"];
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for _ in 0..150 {
            let depth = next(4);
            let mut rel = String::new();
            for _ in 0..depth {
                rel.push_str(parts[next(parts.len())]);
                rel.push('/');
            }
            rel.push_str(parts[next(parts.len())]);
            rel.push_str(".jsonl");
            let p = dir.path().join(&rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"{}\n").unwrap();
        }
        let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let mut all: Vec<String> = store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        all.sort();
        assert!(all.len() > 60, "{all:?}");
        for prefix in [None, Some("a"), Some("a/"), Some("a-b/a"), Some("zz")] {
            let backend = LocalBackend::new(dir.path().to_str().unwrap(), prefix).unwrap();
            let wanted: Vec<&String> = all
                .iter()
                .filter(|k| prefix.is_none_or(|p| k.starts_with(p)))
                .collect();
            for start in [None, Some(0), Some(all.len() / 3), Some(all.len() - 1)] {
                let start_after = start.map(|i| Path::from(all[i].as_str()));
                let listed: Vec<String> = backend
                    .list(start_after.as_ref())
                    .map_ok(|m| m.location.to_string())
                    .try_collect()
                    .await
                    .unwrap();
                let expected: Vec<String> = wanted
                    .iter()
                    .filter(|k| start_after.as_ref().is_none_or(|s| k.as_str() > s.as_ref()))
                    .map(|k| (*k).clone())
                    .collect();
                assert_eq!(listed, expected, "prefix {prefix:?}, after {start_after:?}");
            }
        }
    }

    #[tokio::test]
    async fn lists_in_key_order_under_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b/2.jsonl",
            "a-c.jsonl",
            "a/b.jsonl",
            "in/x.jsonl",
            "in/a.jsonl",
        ] {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"{}\n").unwrap();
        }
        let all = LocalBackend::new(dir.path().to_str().unwrap(), None).unwrap();
        let keys: Vec<String> = all
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            keys,
            [
                "a-c.jsonl",
                "a/b.jsonl",
                "b/2.jsonl",
                "in/a.jsonl",
                "in/x.jsonl"
            ]
        );
        let pre = LocalBackend::new(dir.path().to_str().unwrap(), Some("in")).unwrap();
        let keys: Vec<String> = pre
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(keys, ["in/a.jsonl", "in/x.jsonl"]);
        let after: Vec<String> = all
            .list(Some(&Path::from("a/b.jsonl")))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(after, ["b/2.jsonl", "in/a.jsonl", "in/x.jsonl"]);
        let partial = LocalBackend::new(dir.path().to_str().unwrap(), Some("in/x")).unwrap();
        let keys: Vec<String> = partial
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(keys, ["in/x.jsonl"], "a plain string prefix, as in S3");
    }

    #[tokio::test]
    async fn in_progress_names_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a.jsonl",
            "a.jsonl.tmp",
            "b.jsonl.part",
            ".c.jsonl.x7Gq2",
            "d.jsonl._COPYING_",
            "sub/e.jsonl",
            "sub/.e.jsonl",
        ] {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"{}\n").unwrap();
        }
        let defaults: Vec<String> = ["*.tmp", "*.part", ".*", "*._COPYING_"]
            .map(String::from)
            .to_vec();
        let root = dir.path().to_str().unwrap();
        let keys = |b: LocalBackend| async move {
            b.list(None)
                .map_ok(|m| m.location.to_string())
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        };
        let listed = keys(LocalBackend::with_ignore(root, None, &defaults).unwrap()).await;
        assert_eq!(listed, ["a.jsonl", "sub/e.jsonl"]);
        let all = keys(LocalBackend::new(root, None).unwrap()).await;
        assert_eq!(all.len(), 7, "no patterns: every file ({all:?})");
        let err = LocalBackend::with_ignore(root, None, &["[a".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"[a\"") && err.contains("local.file.ignore.patterns"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_folder_is_a_clear_error() {
        let err = LocalBackend::new("/no/such/folder", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/no/such/folder") && err.contains("local.path"),
            "{err}"
        );
    }
}
