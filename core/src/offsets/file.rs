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
//! A [`put`](OffsetStore::put) appends its lines to the file before it returns, so a put costs
//! what it changes, not the size of the file (offsets are written continuously: a rewrite per
//! put made a backfill of many small objects quadratic). Once the lines appended since the last
//! compaction outnumber the lines it left (and at least [`COMPACT_AFTER`]), the put compacts
//! instead: it writes the whole state to `<path>.tmp`, fsyncs it, renames it over `<path>` and
//! fsyncs the directory, so the file stays within about twice its compacted size.
//!
//! Appended lines are in the operating system's hands when a put returns: a crash of the
//! process (`kill -9`) loses none of them. They reach the disk (`fdatasync`) at most one *sync
//! interval* later ([`with_sync_interval`](FileOffsetStore::with_sync_interval); the worker
//! passes `offset.flush.interval.ms`, and the default is every put): a put syncs when the last
//! sync is that old, otherwise a sync is scheduled for when it will be, and dropping the store
//! syncs what is left. A crash of the machine can therefore lose the commits of the last
//! interval, which only sends their records again (an offset that lags is never a loss).
//! Syncing each of the continuous writes cost about 8 % of a jsonl backfill's wall time on
//! this machine's disk for no gain against a process crash.
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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
    /// Held from the start of a put until its lines are written (even if the put is
    /// cancelled), and by a scheduled sync; guards the line counts that decide when to compact
    /// and what is not yet synced.
    write_lock: Arc<tokio::sync::Mutex<Lines>>,
    /// The longest time appended lines wait for their `fdatasync` (see the module).
    sync_interval: Duration,
    /// How many times appended lines were synced (compactions not counted).
    syncs: Arc<AtomicU64>,
}

/// The file's lines: those of the last compaction (or found at open) and those appended since;
/// and whether the appended ones are on disk.
#[derive(Debug, Clone, Copy, Default)]
struct Lines {
    base: u64,
    appended: u64,
    /// Lines were appended since the last sync.
    dirty: bool,
    /// When this process last synced the file (a compaction syncs too).
    synced_at: Option<Instant>,
    /// A sync is scheduled (see [`FileOffsetStore::schedule_sync`]).
    scheduled: bool,
}

impl Lines {
    /// True when appending `more` lines would make the appended ones outnumber the base (and
    /// [`COMPACT_AFTER`]): time to compact instead.
    fn compact_before(&self, more: u64) -> bool {
        self.appended + more > self.base.max(COMPACT_AFTER)
    }

    /// Whether lines appended at `now` are to be synced at once: when the last sync is
    /// `interval` old (or there was none).
    fn sync_due(&self, now: Instant, interval: Duration) -> bool {
        self.synced_at
            .is_none_or(|at| now.saturating_duration_since(at) >= interval)
    }

    /// The file was synced at `now`.
    fn synced(&mut self, now: Instant) {
        self.dirty = false;
        self.synced_at = Some(now);
    }

    /// Syncs the appended lines of `path` if any are not on disk; an error leaves them dirty
    /// (the next put syncs and fails with it, or the next scheduled sync tries again).
    fn sync(&mut self, path: &Path, syncs: &AtomicU64) -> std::io::Result<()> {
        if self.dirty {
            sync_data(path)?;
            syncs.fetch_add(1, Ordering::Relaxed);
            self.synced(Instant::now());
        }
        Ok(())
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
            ..Lines::default()
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
            sync_interval: Duration::ZERO,
            syncs: Arc::default(),
        })
    }

    /// Lets appended lines wait up to `interval` for their `fdatasync` (default zero: every
    /// put syncs). A put still writes its lines to the file before it returns, so a crash of
    /// the process loses none; a crash of the machine may lose the last `interval` of commits
    /// (their records are sent again). The worker passes `offset.flush.interval.ms`.
    pub fn with_sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval;
        self
    }

    /// How many times appended lines were synced to disk (compactions not counted).
    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Syncs the file at `due` if lines appended before it are still not on disk.
    fn schedule_sync(
        runtime: &tokio::runtime::Handle,
        lock: Arc<tokio::sync::Mutex<Lines>>,
        path: PathBuf,
        syncs: Arc<AtomicU64>,
        due: Instant,
    ) {
        runtime.spawn(async move {
            tokio::time::sleep_until(due.into()).await;
            let mut lines = lock.lock_owned().await;
            let synced = tokio::task::spawn_blocking(move || {
                lines.scheduled = false;
                lines.sync(&path, &syncs).map_err(|e| (path, e))
            })
            .await;
            if let Ok(Err((path, e))) = synced {
                tracing::warn!(file = %path.display(), error = %e,
                    "could not sync the offset file to disk; the next commit tries again and fails the task if it cannot");
            }
        });
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

/// Appends `batch` to `path` (a tombstone line for a removal), without syncing. On failure,
/// says which step failed.
fn append(path: &Path, batch: &Batch) -> std::result::Result<(), (String, std::io::Error)> {
    let step = |what: &str| format!("{what} {}", path.display());
    let f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| (step("opening"), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, f);
    for (key, value) in batch {
        write_line(&mut out, key, value.as_deref().unwrap_or("null"))
            .map_err(|e| (step("appending to"), e))?;
    }
    out.into_inner()
        .map_err(|e| (step("appending to"), e.into_error()))?;
    Ok(())
}

/// `fdatasync` of the file at `path`.
fn sync_data(path: &Path) -> std::io::Result<()> {
    fs::OpenOptions::new().append(true).open(path)?.sync_data()
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
        let (interval, syncs) = (self.sync_interval, self.syncs.clone());
        let (runtime, lock) = (tokio::runtime::Handle::current(), self.write_lock.clone());
        let written = tokio::task::spawn_blocking(move || {
            let lines = batch.len() as u64;
            let now = Instant::now();
            if counts.compact_before(lines) {
                counts.base = write_atomically(&path, &tmp, &state, batch)?;
                counts.appended = 0;
                counts.synced(now);
                return Ok(());
            }
            append(&path, &batch)?;
            counts.appended += lines;
            counts.dirty = true;
            if counts.sync_due(now, interval) {
                let step = || format!("syncing {}", path.display());
                counts.sync(&path, &syncs).map_err(|e| (step(), e))?;
            } else if let (false, Some(at)) = (counts.scheduled, counts.synced_at) {
                counts.scheduled = true;
                Self::schedule_sync(&runtime, lock, path, syncs, at + interval);
            }
            // Memory follows the file once the lines are written.
            apply(&mut state.write().unwrap_or_else(|e| e.into_inner()), batch);
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

impl Drop for FileOffsetStore {
    /// Syncs appended lines that are not on disk yet (unless a put holds the file: it syncs
    /// or schedules its own).
    fn drop(&mut self) {
        if let Ok(mut lines) = self.write_lock.try_lock() {
            if let Err(e) = lines.sync(&self.path, &self.syncs) {
                tracing::warn!(file = %self.path.display(), error = %e,
                    "could not sync the offset file to disk on close");
            }
        }
    }
}

#[cfg(test)]
mod tests;
