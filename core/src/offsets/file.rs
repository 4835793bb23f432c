//! [`FileOffsetStore`]: offsets in a local file, for standalone mode (like Kafka Connect's
//! `offset.storage.file.filename`).
//!
//! # File format
//!
//! UTF-8 text, one JSON object per line, one line per change of a source partition's offset:
//!
//! ```text
//! {"key":["my-connector",{"bucket":"b","object":"t-0-1.jsonl"}],"value":{"finished":true,"recordCount":42}}
//! ```
//!
//! `key` is Kafka Connect's offset key, the JSON array `["<connector>",{<source partition>}]`, and
//! `value` the source offset object; both with sorted keys, so the key string is canonical.
//! Every integer is read back as a Long (i64). When loading, blank lines are skipped, a later
//! line wins over an earlier one with the same key, and a `"value":null` line (a tombstone)
//! deletes the key. A compacted file has one line per key, sorted by key.
//!
//! # Writes and durability
//!
//! A [`put`](OffsetStore::put) appends its lines to the file and fsyncs it before it returns, so
//! a put costs what it changes, not the size of the file (offsets are written continuously: a
//! rewrite per put made a backfill of many small objects quadratic). Once the lines appended
//! since the last compaction outnumber the lines it left (and at least [`COMPACT_AFTER`]), the
//! put compacts instead: it writes the whole state to `<path>.tmp`, fsyncs it, renames it over
//! `<path>` and fsyncs the directory, so the file stays within about twice its compacted size.
//!
//! A crash (even `kill -9` or a power cut) during a compaction leaves the old or the new
//! complete file (a leftover `<path>.tmp` is ignored when loading and overwritten by the next
//! compaction). A crash during an append can leave a last line without its newline: that put
//! never returned, so nothing it carried was committed; loading drops such a line with a
//! warning and compacts the file. Any other line that does not parse is corruption: an error
//! naming the line. Puts are serialised. Only one process may use a given file at a time
//! (nothing enforces it).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::error::{BoxError, Error, Result};

use super::entries::{value_text, Entries, Loader};
use super::finished::ObjectVersion;
use super::store::{connect_offset_key, parse_connect_offset_key, OffsetStore, PartitionKey, Peek};
use super::value::{map_from_json, OffsetMap};

/// Every stored entry, as the text of its key and value (see `entries/mod.rs`).
type State = Entries;

/// A put's changes by offset key text: the new value text, or `None` to delete.
type Batch = std::collections::BTreeMap<Box<str>, Option<Box<str>>>;

/// Lines appended since the last compaction before a put may compact (with fewer live entries
/// than that, compacting would cost more than it saves).
pub(crate) const COMPACT_AFTER: u64 = 4096;

/// Offsets in a local file: puts append, and compact the file now and then (see the module
/// documentation).
///
/// Format: one JSON line per change, `{"key":["<connector>",{<partition>}],"value":{<offset>}}`
/// (Kafka Connect's offset key and value); a later line wins.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    tmp: PathBuf,
    state: Arc<RwLock<State>>,
    /// Held from the start of a put until its file is durable (even if the put is cancelled);
    /// guards the line counts that decide when to compact.
    write_lock: Arc<tokio::sync::Mutex<Lines>>,
}

/// The file's lines: those of the last compaction (or found at open) and those appended since.
#[derive(Debug, Clone, Copy, Default)]
struct Lines {
    base: u64,
    appended: u64,
}

impl Lines {
    /// True when appending `more` lines would make the appended ones outnumber the base (and
    /// [`COMPACT_AFTER`]): time to compact instead.
    fn compact_before(&self, more: u64) -> bool {
        self.appended + more > self.base.max(COMPACT_AFTER)
    }
}

impl FileOffsetStore {
    /// Opens the store at `path`, loading the file. A missing file is an empty store (it is
    /// created by the first put); a missing directory, an unreadable or a corrupt file is an
    /// [`Error::OffsetStore`] naming the path (and the line), never a silent start from zero.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let location = location(&path);
        let fail = |message: String, source: Option<BoxError>| Error::OffsetStore {
            location: location.clone(),
            message,
            source,
        };
        let dir = parent_dir(&path);
        if !dir.is_dir() {
            // Name the first part of the path that is not a directory.
            let blocker = dir.ancestors().find(|a| a.exists());
            let message = match blocker {
                Some(b) if !b.is_dir() => format!(
                    "{} is a file, not a directory, so {} cannot be created there: choose another offset file",
                    b.display(),
                    path.display()
                ),
                _ => format!(
                    "the directory {} does not exist: create it or choose another offset file",
                    dir.display()
                ),
            };
            return Err(fail(message, None));
        }
        if path.is_dir() {
            return Err(fail(
                format!(
                    "{} is a directory: offset.storage.file.filename must name a file (e.g. {}/offsets.jsonl)",
                    path.display(),
                    path.display()
                ),
                None,
            ));
        }
        // Read line by line: a file of millions of entries is never held whole.
        let read = fs::File::open(&path)
            .and_then(|f| parse_file(std::io::BufReader::with_capacity(1 << 16, f)));
        let (state, lines, torn) = match read {
            Ok(parsed) => parsed.map_err(|(line, what, source)| {
                fail(
                    format!(
                        "the offset file is corrupt at line {line} ({what}): restore it from backup or delete it to start from zero"
                    ),
                    source,
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (State::default(), 0, None),
            Err(e) => {
                return Err(fail(
                    "cannot read the offset file: check that it is a readable file".into(),
                    Some(Box::new(e)),
                ))
            }
        };
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        // Prove now, before a record is sent, that the file can be written: its temporary file
        // is created and removed (a later failure to write would make the next run send the
        // same records again).
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .and_then(|_| fs::remove_file(&tmp))
            .map_err(|e| {
                fail(
                    format!(
                        "cannot write in {} ({e}): check the permissions, or choose another offset file",
                        dir.display()
                    ),
                    Some(Box::new(e)),
                )
            })?;
        let tmp = PathBuf::from(tmp);
        let state = Arc::new(RwLock::new(state));
        let mut counts = Lines {
            base: lines as u64,
            appended: 0,
        };
        if let Some(line) = torn {
            // A put that was cut short by a crash: it never returned, so it committed nothing.
            tracing::warn!(file = %path.display(), line,
                "the offset file ends with an incomplete line (a write cut short by a crash; it had not been committed): dropped, and the file compacted");
            counts.base =
                write_atomically(&path, &tmp, &state, Batch::new()).map_err(|(step, e)| {
                    fail(
                        format!("could not compact the offset file ({step}): check free disk space and permissions"),
                        Some(Box::new(e)),
                    )
                })?;
        }
        Ok(FileOffsetStore {
            path,
            tmp,
            state,
            write_lock: Arc::new(tokio::sync::Mutex::new(counts)),
        })
    }

    /// The offset file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }
}

fn location(path: &Path) -> String {
    format!("file {}", path.display())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

type LineError = (usize, String, Option<BoxError>);

/// What loading a file gives: the entries, the number of lines, and the number of the last
/// line when it was an incomplete write to drop.
type Parsed = (State, usize, Option<usize>);

/// The entries of an offset file; the outer error is a failed read, the inner one a corrupt line.
/// A last line without its newline that does not parse is an append cut short (dropped).
fn parse_file(
    mut reader: impl std::io::BufRead,
) -> std::io::Result<std::result::Result<Parsed, LineError>> {
    let mut state = Loader::default();
    let mut bytes = Vec::new();
    let mut n = 0;
    loop {
        bytes.clear();
        if reader.read_until(b'\n', &mut bytes)? == 0 {
            return Ok(Ok((state.finish(), n, None)));
        }
        n += 1;
        let complete = bytes.last() == Some(&b'\n');
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| {
                (
                    n,
                    "not UTF-8 text".to_owned(),
                    Some(Box::new(e) as BoxError),
                )
            })
            .and_then(|line| parse_line(&mut state, n, line));
        match parsed {
            Ok(()) if complete => {}
            // A last line without newline that parses: complete but for its end.
            Ok(()) => return Ok(Ok((state.finish(), n, Some(n)))),
            Err(e) if !complete && cut_short(&e) => {
                return Ok(Ok((state.finish(), n - 1, Some(n))))
            }
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// True when a line failed as JSON that ends too early: what an interrupted write leaves (a
/// line that is whole JSON of the wrong shape is corruption, not that).
fn cut_short(e: &LineError) -> bool {
    e.2.as_ref()
        .and_then(|s| s.downcast_ref::<serde_json::Error>())
        .is_some_and(serde_json::Error::is_eof)
}

/// Applies one line of an offset file to `state`.
fn parse_line(state: &mut Loader, n: usize, line: &str) -> std::result::Result<(), LineError> {
    if line.trim().is_empty() {
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
        (
            n,
            "not valid JSON".to_owned(),
            Some(Box::new(e) as BoxError),
        )
    })?;
    let shape = || {
        (
            n,
            "expected {\"key\":[\"<connector>\",{...}],\"value\":{...}}".to_owned(),
            None,
        )
    };
    let obj = v.as_object().ok_or_else(shape)?;
    let (Some(key), Some(value)) = (obj.get("key"), obj.get("value")) else {
        return Err(shape());
    };
    let (connector, partition) = parse_connect_offset_key(key)
        .map_err(|e| (n, "bad key".to_owned(), Some(Box::new(e) as BoxError)))?;
    let canonical = connect_offset_key(&connector, &partition);
    if value.is_null() {
        state.remove_text(&canonical);
        return Ok(());
    }
    let offset = map_from_json(value)
        .map_err(|e| (n, "bad value".to_owned(), Some(Box::new(e) as BoxError)))?;
    state.insert_text(canonical.into_boxed_str(), value_text(&offset));
    Ok(())
}

/// Writes one line: `key` and `value` are JSON texts.
fn write_line(out: &mut dyn Write, key: &str, value: &str) -> std::io::Result<()> {
    out.write_all(b"{\"key\":")?;
    out.write_all(key.as_bytes())?;
    out.write_all(b",\"value\":")?;
    out.write_all(value.as_bytes())?;
    out.write_all(b"}\n")
}

/// Writes the lines of `state` with `batch` applied, in key order (a merge of the two sorted
/// sequences: nothing is copied).
fn render(out: &mut dyn Write, state: &State, batch: &Batch) -> std::io::Result<u64> {
    let mut written = 0;
    let mut line = |key: &str, value: &str| {
        written += 1;
        write_line(out, key, value)
    };
    let mut changes = batch.iter().peekable();
    let mut failed = Ok(());
    state.each_text(&mut |key, value| {
        if failed.is_ok() {
            failed = merged(&mut line, &mut changes, key, value);
        }
    });
    failed?;
    for (k, v) in changes {
        if let Some(v) = v {
            line(k, v)?;
        }
    }
    Ok(written)
}

/// Writes the batch's lines sorting before the stored entry (`key`, `value`), then that entry
/// as the batch leaves it (replaced, removed or as it was).
fn merged<'a>(
    line: &mut impl FnMut(&str, &str) -> std::io::Result<()>,
    changes: &mut std::iter::Peekable<impl Iterator<Item = (&'a Box<str>, &'a Option<Box<str>>)>>,
    key: &str,
    value: &str,
) -> std::io::Result<()> {
    while let Some((k, v)) = changes.next_if(|(k, _)| &***k < key) {
        if let Some(v) = v {
            line(k, v)?;
        }
    }
    match changes.next_if(|(k, _)| &***k == key) {
        Some((_, Some(v))) => line(key, v),
        Some((_, None)) => Ok(()),
        None => line(key, value),
    }
}

/// Applies a written batch to the state.
fn apply(state: &mut State, batch: Batch) {
    for (key, value) in batch {
        match value {
            Some(value) => state.insert_text(key, value),
            None => state.remove_text(&key),
        }
    }
}

/// Writes `state` with `batch` applied to `tmp`, fsyncs, renames over `path`, fsyncs the
/// directory; then applies `batch` to `state` (memory follows the file only once the file is
/// durable). Readers of the state are not held up: the lines are written under a read lock,
/// only the (short) application of the batch takes the write lock. On failure, says which
/// step failed.
fn write_atomically(
    path: &Path,
    tmp: &Path,
    state: &RwLock<State>,
    batch: Batch,
) -> std::result::Result<u64, (String, std::io::Error)> {
    let step = |what: &str, p: &Path| format!("{what} {}", p.display());
    let f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(|e| (step("creating", tmp), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, f);
    let written = {
        let state = state.read().unwrap_or_else(|e| e.into_inner());
        render(&mut out, &state, &batch).map_err(|e| (step("writing", tmp), e))?
    };
    let f = out
        .into_inner()
        .map_err(|e| (step("writing", tmp), e.into_error()))?;
    f.sync_all().map_err(|e| (step("syncing", tmp), e))?;
    drop(f);
    fs::rename(tmp, path).map_err(|e| {
        (
            format!("renaming {} over {}", tmp.display(), path.display()),
            e,
        )
    })?;
    sync_dir(&parent_dir(path))
        .map_err(|e| (step("syncing the directory", &parent_dir(path)), e))?;
    apply(&mut state.write().unwrap_or_else(|e| e.into_inner()), batch);
    Ok(written)
}

/// Appends `batch` to `path` (a tombstone line for a removal), fsyncs it, then applies it to
/// `state`. On failure, says which step failed.
fn append(
    path: &Path,
    state: &RwLock<State>,
    batch: Batch,
) -> std::result::Result<(), (String, std::io::Error)> {
    let step = |what: &str| format!("{what} {}", path.display());
    let f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| (step("opening"), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, f);
    for (key, value) in &batch {
        write_line(&mut out, key, value.as_deref().unwrap_or("null"))
            .map_err(|e| (step("appending to"), e))?;
    }
    let f = out
        .into_inner()
        .map_err(|e| (step("appending to"), e.into_error()))?;
    f.sync_data().map_err(|e| (step("syncing"), e))?;
    apply(&mut state.write().unwrap_or_else(|e| e.into_inner()), batch);
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[async_trait]
impl OffsetStore for FileOffsetStore {
    async fn get(
        &self,
        connector: &str,
        partitions: &[OffsetMap],
    ) -> Result<Vec<Option<OffsetMap>>> {
        let state = self.state();
        partitions
            .iter()
            .map(|p| state.get(&connect_offset_key(connector, p)))
            .collect()
    }

    async fn connectors(&self) -> Result<Vec<String>> {
        self.state().connectors()
    }

    async fn list(&self, connector: &str) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        self.state().list(connector)
    }

    async fn for_each(
        &self,
        connector: &str,
        visit: &mut (dyn FnMut(OffsetMap, OffsetMap) + Send),
    ) -> Result<()> {
        self.state().for_each(connector, visit)
    }

    fn peek(&self, key: &PartitionKey) -> Peek {
        Peek::from(self.state().get(key.as_str()))
    }

    fn holds_finished(&self, key: &PartitionKey, version: &ObjectVersion<'_>) -> bool {
        self.state().holds_finished(key.as_str(), version)
    }

    fn peeks(&self) -> bool {
        true
    }

    async fn put(&self, connector: &str, batch: Vec<(OffsetMap, Option<OffsetMap>)>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // Later entries of the batch win.
        let batch: Batch = batch
            .into_iter()
            .map(|(partition, offset)| {
                (
                    connect_offset_key(connector, &partition).into_boxed_str(),
                    offset.as_ref().map(value_text),
                )
            })
            .collect();
        // Held until the blocking write ends, even if this future is dropped meanwhile.
        let mut counts = self.write_lock.clone().lock_owned().await;
        let (path, tmp, state) = (self.path.clone(), self.tmp.clone(), self.state.clone());
        let written = tokio::task::spawn_blocking(move || {
            let lines = batch.len() as u64;
            if counts.compact_before(lines) {
                counts.base = write_atomically(&path, &tmp, &state, batch)?;
                counts.appended = 0;
            } else {
                append(&path, &state, batch)?;
                counts.appended += lines;
            }
            Ok(())
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err((step, e))) => Err(Error::OffsetStore {
                location: location(&self.path),
                message: format!(
                    "could not save the offsets ({step}): check free disk space and permissions; the offsets of this batch are not committed"
                ),
                source: Some(Box::new(e)),
            }),
            Err(join) => Err(Error::OffsetStore {
                location: location(&self.path),
                message: "the offset writer thread failed; the offsets of this batch are not committed".into(),
                source: Some(Box::new(join)),
            }),
        }
    }

    fn location(&self) -> String {
        location(&self.path)
    }
}

#[cfg(test)]
mod tests;
