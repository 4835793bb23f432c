//! One directory's listing (`list_with_delimiter`) as `LocalFileSystem` gives it, for less.
//!
//! `LocalFileSystem` lists a directory with walkdir, then for every entry looks its path up
//! twice more (`lstat`, then `stat` for the metadata) and turns the path into a URL and back to
//! make the key: about 20 allocations and three full path walks in the kernel per file. Listing
//! a folder of 1M files took 7–8 s against 2 s for `find` (docs/benchmarks/2026-12-04-listing-1m.md).
//! Here a directory is read once and each file is stat'ed once, relative to the directory
//! (`DirEntry::metadata`), and its key is the directory's key plus the file name.
//!
//! That shortcut is taken only when every name in the directory is *plain* (ASCII letters,
//! digits, `.`, `_`, `-`, `=`): such a name is its own key segment, with nothing to encode or
//! decode, and `LocalFileSystem` lists every file so named (it leaves out only names ending in
//! `#<digits>`, its unfinished uploads). A directory holding any other name, or any error, is
//! listed by `LocalFileSystem` itself, so unusual names and errors stay exactly as they were.
//! Everything else follows it too: symbolic links are followed (a broken one is left out),
//! every entry that is not a directory is an object, its ETag is `"<inode>-<mtime µs>-<size>"`
//! in hex ([`meta_of`]), and a directory that does not exist lists as empty. A test holds the
//! two listings equal.

use std::collections::BTreeSet;
use std::io::ErrorKind;

use object_store::path::Path;
use object_store::{ListResult, ObjectMeta};

use crate::local_read::meta_of;

/// A name that is its own key segment, unchanged.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'='))
}

/// The listing of directory `dir`, whose key is `prefix`, when every name in it is plain and
/// nothing fails; `None` otherwise (then `LocalFileSystem` lists it).
pub(crate) fn list_plain(dir: &std::path::Path, prefix: &Path) -> Option<ListResult> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Some(ListResult {
                common_prefixes: Vec::new(),
                objects: Vec::new(),
                extensions: Default::default(),
            })
        }
        Err(_) => return None,
    };
    let mut common_prefixes = BTreeSet::new();
    let mut objects: Vec<ObjectMeta> = Vec::new();
    for entry in entries {
        let entry = entry.ok()?;
        let name = entry.file_name();
        let Some(name) = name.to_str().filter(|n| plain(n)) else {
            // Said once per listing of the directory, so a folder that never takes the
            // shortcut can be found (`RUST_LOG=sluice_sources=debug`).
            tracing::debug!(
                directory = %dir.display(),
                name = ?name,
                "a name that is not plain: the directory is listed by LocalFileSystem (one \
                 lstat and one stat per file more)"
            );
            return None;
        };
        let kind = entry.file_type().ok()?;
        let metadata = if kind.is_symlink() {
            // Followed, as walkdir does for LocalFileSystem; a broken link is left out.
            match std::fs::metadata(entry.path()) {
                Ok(m) => Some(m),
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(_) => return None,
            }
        } else if kind.is_dir() {
            None
        } else {
            match entry.metadata() {
                Ok(m) => Some(m),
                // Deleted since the directory was read.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(_) => return None,
            }
        };
        match metadata {
            Some(m) if !m.is_dir() => objects.push(meta_of(&m, prefix.clone().join(name)).ok()?),
            _ => {
                common_prefixes.insert(prefix.clone().join(name));
            }
        }
    }
    Some(ListResult {
        common_prefixes: common_prefixes.into_iter().collect(),
        objects,
        extensions: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::local::LocalFileSystem;
    use object_store::ObjectStore;

    fn sorted(mut r: ListResult) -> (Vec<Path>, Vec<ObjectMeta>) {
        r.objects.sort_by(|a, b| a.location.cmp(&b.location));
        (r.common_prefixes, r.objects)
    }

    /// The directory of `prefix` under the store's root, as `LocalFileSystem` maps it.
    fn dir_of(store: &LocalFileSystem, prefix: &Path) -> std::path::PathBuf {
        let probe = store.path_to_filesystem(&prefix.clone().join("x")).unwrap();
        probe.parent().unwrap().to_owned()
    }

    #[tokio::test]
    async fn plain_directories_list_as_local_file_system_lists_them() {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let r = root.path();
        for (name, body) in [
            ("a.jsonl", "{}\n"),
            (".hidden", "x"),
            ("empty.csv", ""),
            ("date=2026-12-05", "y"),
            ("UPPER_case-1.2", "zz"),
        ] {
            std::fs::write(r.join(name), body).unwrap();
        }
        std::fs::create_dir_all(r.join("sub/deeper")).unwrap();
        std::fs::write(r.join("sub/b.jsonl"), "{}\n{}\n").unwrap();
        std::fs::write(elsewhere.path().join("target.txt"), "linked").unwrap();
        std::fs::create_dir(elsewhere.path().join("linked-dir")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink(elsewhere.path().join("target.txt"), r.join("link.txt")).unwrap();
            symlink(elsewhere.path().join("linked-dir"), r.join("dirlink")).unwrap();
            symlink(r.join("gone"), r.join("broken")).unwrap();
        }
        let store = LocalFileSystem::new_with_prefix(r).unwrap();
        for prefix in [
            Path::default(),
            Path::from("sub"),
            Path::from("sub/deeper"),
            Path::from("missing"),
        ] {
            let ours = list_plain(&dir_of(&store, &prefix), &prefix)
                .unwrap_or_else(|| panic!("{prefix:?} holds only plain names"));
            let theirs = store.list_with_delimiter(Some(&prefix)).await.unwrap();
            assert_eq!(sorted(ours), sorted(theirs), "{prefix:?}");
        }
        let root_listing = list_plain(r, &Path::default()).unwrap();
        assert_eq!(root_listing.objects.len(), 6, "{root_listing:?}");
        assert_eq!(
            root_listing.common_prefixes,
            [Path::from("dirlink"), Path::from("sub")]
        );
    }

    #[test]
    fn a_directory_with_any_other_name_is_left_to_local_file_system() {
        for odd in [
            "with space.json",
            "upload#1",
            "é.json",
            "50%.csv",
            "a~b",
            "x+y",
        ] {
            let root = tempfile::tempdir().unwrap();
            std::fs::write(root.path().join("plain.json"), "{}").unwrap();
            std::fs::write(root.path().join(odd), "{}").unwrap();
            assert!(list_plain(root.path(), &Path::default()).is_none(), "{odd}");
        }
    }

    /// Times a full walk of the folder in `SLUICE_LIST_TIMING_DIR`, one directory at a time,
    /// by `LocalFileSystem` and by [`list_plain`], and checks that both walks find the same
    /// files. Run by hand: `--ignored --nocapture` in an optimised build
    /// (docs/benchmarks/2026-12-05-local-listing.md); it fails without the variable, when a
    /// directory has a name that is not plain, or when the walks differ.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement; needs SLUICE_LIST_TIMING_DIR"]
    async fn time_a_walk_both_ways() {
        let root = std::env::var("SLUICE_LIST_TIMING_DIR")
            .expect("SLUICE_LIST_TIMING_DIR names the folder to walk");
        let store = LocalFileSystem::new_with_prefix(&root).unwrap();
        for round in 0..3 {
            let mut found = Vec::new();
            for plain_way in [false, true] {
                let started = std::time::Instant::now();
                let (mut dirs, mut files) = (vec![Path::default()], Vec::new());
                while let Some(dir) = dirs.pop() {
                    let listed = if plain_way {
                        let path = dir_of(&store, &dir);
                        tokio::task::spawn_blocking(move || list_plain(&path, &dir))
                            .await
                            .unwrap()
                            .expect("plain names")
                    } else {
                        store.list_with_delimiter(Some(&dir)).await.unwrap()
                    };
                    files.extend(listed.objects.into_iter().map(|m| (m.location, m.size)));
                    dirs.extend(listed.common_prefixes);
                }
                let way = if plain_way {
                    "list_plain"
                } else {
                    "LocalFileSystem"
                };
                println!(
                    "round {round}: {way}: {} files in {:.3?}",
                    files.len(),
                    started.elapsed()
                );
                files.sort_unstable();
                found.push(files);
            }
            assert!(
                found[0] == found[1],
                "both walks find the same files and sizes"
            );
            assert!(!found[0].is_empty(), "the folder holds files");
        }
    }

    #[test]
    fn plain_names() {
        for name in ["a", "A.b-c_d=e", "2026-12-05", ".x", "..."] {
            assert!(plain(name), "{name}");
        }
        for name in ["", ".", "..", "a b", "a#1", "a/b", "a\\b", "é", "a%b", "a~"] {
            assert!(!plain(name), "{name}");
        }
    }
}
