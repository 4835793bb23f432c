use super::*;
use crate::offsets::{
    map_to_json, ObjectOffsetEntry, OffsetManagerEntry, OffsetManagerEntryExt, OffsetValue,
    RECORD_COUNT,
};
use proptest::prelude::*;

fn part(object: &str) -> OffsetMap {
    ObjectOffsetEntry::new("bucket", "b", "object", object).manager_key()
}

fn offset(n: i64) -> OffsetMap {
    OffsetMap::from([(RECORD_COUNT.to_owned(), OffsetValue::Long(n))])
}

#[tokio::test]
async fn missing_file_is_empty_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.jsonl");
    let s = FileOffsetStore::open(&path).unwrap();
    assert!(s.list("c").await.unwrap().is_empty());
    assert_eq!(s.location(), format!("file {}", path.display()));
    assert_eq!(s.path(), path);
    s.put(
        "c",
        vec![
            (part("a"), Some(offset(1))),
            (part("b"), Some(offset(1 << 40))),
            (part("c"), Some(offset(i64::MIN))),
        ],
    )
    .await
    .unwrap();
    s.put("other", vec![(part("a"), Some(offset(7)))])
        .await
        .unwrap();
    s.put("c", vec![(part("c"), None), (part("a"), Some(offset(2)))])
        .await
        .unwrap();
    s.put("c", vec![]).await.unwrap();

    let s = FileOffsetStore::open(&path).unwrap();
    assert_eq!(
        s.get("c", &[part("a"), part("b"), part("c")])
            .await
            .unwrap(),
        vec![Some(offset(2)), Some(offset(1 << 40)), None]
    );
    assert_eq!(
        s.get("other", &[part("a")]).await.unwrap(),
        vec![Some(offset(7))]
    );
    assert_eq!(
        s.list("c").await.unwrap(),
        vec![(part("a"), offset(2)), (part("b"), offset(1 << 40))]
    );
    // The documented format: each put appended its lines (a removal as a tombstone).
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            r#"{"key":["c",{"bucket":"b","object":"a"}],"value":{"recordCount":1}}"#,
            r#"{"key":["c",{"bucket":"b","object":"b"}],"value":{"recordCount":1099511627776}}"#,
            r#"{"key":["c",{"bucket":"b","object":"c"}],"value":{"recordCount":-9223372036854775808}}"#,
            r#"{"key":["other",{"bucket":"b","object":"a"}],"value":{"recordCount":7}}"#,
            r#"{"key":["c",{"bucket":"b","object":"a"}],"value":{"recordCount":2}}"#,
            r#"{"key":["c",{"bucket":"b","object":"c"}],"value":null}"#,
        ]
    );
    assert!(!s.tmp.exists());
}

/// Puts append until the appended lines outnumber the live entries (and COMPACT_AFTER);
/// then a put compacts: one line per key, sorted. The file stays within about twice its
/// compacted size however many puts come.
#[tokio::test]
async fn puts_append_and_the_file_is_compacted_when_it_doubles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.jsonl");
    let s = FileOffsetStore::open(&path).unwrap();
    let lines = || fs::read_to_string(&path).unwrap().lines().count() as u64;
    let mut most = 0;
    for round in 0..4 * COMPACT_AFTER as i64 {
        // 100 objects, each advanced again and again.
        s.put(
            "c",
            vec![(part(&format!("o{:03}", round % 100)), Some(offset(round)))],
        )
        .await
        .unwrap();
        most = most.max(lines());
    }
    assert!(most <= COMPACT_AFTER + 100, "{most} lines for 100 entries");
    assert!(lines() < 4 * COMPACT_AFTER, "it was compacted");
    let reopened = FileOffsetStore::open(&path).unwrap();
    let stored = reopened.list("c").await.unwrap();
    assert_eq!(stored.len(), 100);
    let last = (0..4 * COMPACT_AFTER as i64)
        .filter(|r| r % 100 == 99)
        .max();
    assert_eq!(stored[99], (part("o099"), offset(last.unwrap())));
    // A compaction writes the sorted, one-line-per-key form.
    let many: Vec<_> = (0..=COMPACT_AFTER as i64)
        .map(|i| (part(&format!("p{i:05}")), Some(offset(i))))
        .collect();
    s.put("c", many).await.unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let keys: Vec<_> = text
        .lines()
        .map(|l| l.split(",\"value\"").next().unwrap())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "sorted, one line per key");
    assert_eq!(keys.len() as u64, 100 + COMPACT_AFTER + 1);
}

/// A crash during an append leaves a last line without its newline: that put never
/// returned, so the line is dropped (the earlier lines stand) and the file compacted.
#[tokio::test]
async fn a_last_line_cut_short_by_a_crash_is_dropped_and_the_file_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.jsonl");
    let s = FileOffsetStore::open(&path).unwrap();
    s.put("c", vec![(part("a"), Some(offset(1)))])
        .await
        .unwrap();
    s.put("c", vec![(part("a"), Some(offset(2)))])
        .await
        .unwrap();
    let good = fs::read_to_string(&path).unwrap();
    for torn in [r#"{"key":["c",{"bucket":"b","obj"#, "{"] {
        fs::write(&path, format!("{good}{torn}")).unwrap();
        let s = FileOffsetStore::open(&path).unwrap();
        assert_eq!(s.get("c", &[part("a")]).await.unwrap()[0], Some(offset(2)));
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"key\":[\"c\",{\"bucket\":\"b\",\"object\":\"a\"}],\"value\":{\"recordCount\":2}}\n",
            "compacted, without the torn line"
        );
        s.put("c", vec![(part("b"), Some(offset(5)))])
            .await
            .unwrap();
        let again = FileOffsetStore::open(&path).unwrap();
        assert_eq!(again.list("c").await.unwrap().len(), 2);
    }
}

#[test]
fn corrupt_file_is_an_error_naming_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.jsonl");
    let good = r#"{"key":["c",{"object":"a"}],"value":{"recordCount":1}}"#;
    for (bad, line) in [
        (format!("{good}\n{{\"key\":[\"c\",{{\"obj\n{good}\n"), 2),
        (format!("{good}\n{{\"key\":[\"c\",{{\"obj\n"), 2),
        (format!("{good}\n\n{good}\n[1,2]\n"), 4),
        (r#"{"key":["c"],"value":{}}"#.to_owned(), 1),
        (
            r#"{"key":["c",{}],"value":{"n":18446744073709551615}}"#.to_owned(),
            1,
        ),
        (r#"{"key":["c",{}]}"#.to_owned(), 1),
    ] {
        fs::write(&path, &bad).unwrap();
        let e = FileOffsetStore::open(&path).unwrap_err();
        assert!(matches!(e, Error::OffsetStore { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("line {line}")), "{bad}: {msg}");
        assert!(msg.contains("restore it from backup or delete it"), "{msg}");
    }
    fs::write(&path, b"\xff\xfe").unwrap();
    let msg = FileOffsetStore::open(&path).unwrap_err().to_string();
    assert!(msg.contains("line 1") && msg.contains("UTF-8"), "{msg}");
}

#[test]
fn unreadable_path_and_missing_directory_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = FileOffsetStore::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("is a directory"), "{e}");
    let e = FileOffsetStore::open(dir.path().join("nope/offsets.jsonl"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
    // A path through a file names the file.
    let file = dir.path().join("plain.txt");
    fs::write(&file, b"x").unwrap();
    let e = FileOffsetStore::open(file.join("offsets.jsonl"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("plain.txt is a file"), "{e}");
}

#[test]
fn an_unwritable_directory_is_found_at_open() {
    // A directory nobody may create files in, root included.
    let e = FileOffsetStore::open("/proc/self/offsets.jsonl")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot write in /proc/self") && e.contains("permissions"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    FileOffsetStore::open(dir.path().join("offsets.jsonl")).unwrap();
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the probe leaves nothing behind"
    );
}

#[tokio::test]
async fn tombstones_and_duplicates_when_loading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o");
    fs::write(
        &path,
        concat!(
            "{\"key\":[\"c\",{\"object\":\"a\"}],\"value\":{\"recordCount\":1}}\n",
            "{\"key\":[\"c\",{\"object\":\"b\"}],\"value\":{\"recordCount\":1}}\n",
            "  \n",
            "{\"key\":[\"c\",{\"object\":\"a\"}],\"value\":{\"recordCount\":5}}\n",
            "{\"key\":[\"c\",{\"object\":\"b\"}],\"value\":null}",
        ),
    )
    .unwrap();
    let s = FileOffsetStore::open(&path).unwrap();
    let a = OffsetMap::from([("object".to_owned(), "a".into())]);
    assert_eq!(s.list("c").await.unwrap(), vec![(a, offset(5))]);
}

/// A disk that fills up (the temporary file is /dev/full here) or a write that cannot be
/// made (the temporary file's name taken by a folder, as root ignores permissions): the
/// put fails naming the file, the step and the cause, and the offsets file keeps its last
/// good content, which the next successful put replaces.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_full_disk_or_an_unwritable_file_fails_the_put_and_leaves_the_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.jsonl");
    let s = FileOffsetStore::open(&path).unwrap();
    s.put("c", vec![(part("a"), Some(offset(1)))])
        .await
        .unwrap();
    let good = fs::read(&path).unwrap();
    // A batch big enough to compact: the whole file is written to the temporary file.
    let big = |n: i64| -> Vec<(OffsetMap, Option<OffsetMap>)> {
        std::iter::once((part("a"), Some(offset(n))))
            .chain((0..COMPACT_AFTER as i64).map(|i| (part(&format!("p{i}")), Some(offset(i)))))
            .collect()
    };
    let tmp = dir.path().join("offsets.jsonl.tmp");
    std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
    let e = s.put("c", big(2)).await.unwrap_err();
    let msg = crate::error_chain(&e);
    assert!(
        msg.contains(&path.display().to_string())
            && msg.contains("writing")
            && msg.contains("No space left on device")
            && msg.contains("check free disk space"),
        "{msg}"
    );
    assert_eq!(fs::read(&path).unwrap(), good, "the file is untouched");
    fs::remove_file(&tmp).unwrap();
    fs::create_dir(&tmp).unwrap();
    let msg = crate::error_chain(&s.put("c", big(3)).await.unwrap_err());
    assert!(
        msg.contains("creating") && msg.contains("Is a directory"),
        "{msg}"
    );
    assert_eq!(fs::read(&path).unwrap(), good, "the file is untouched");
    fs::remove_dir(&tmp).unwrap();
    // An append to a full disk fails the same way.
    fs::rename(&path, dir.path().join("saved")).unwrap();
    std::os::unix::fs::symlink("/dev/full", &path).unwrap();
    let msg = crate::error_chain(
        &s.put("c", vec![(part("a"), Some(offset(4)))])
            .await
            .unwrap_err(),
    );
    assert!(
        msg.contains("appending to") && msg.contains("No space left on device"),
        "{msg}"
    );
    fs::remove_file(&path).unwrap();
    fs::rename(dir.path().join("saved"), &path).unwrap();
    // What is in memory follows the file: the failed batches are not there.
    assert_eq!(s.get("c", &[part("a")]).await.unwrap()[0], Some(offset(1)));
    assert_eq!(s.list("c").await.unwrap().len(), 1);
    s.put("c", vec![(part("a"), Some(offset(5)))])
        .await
        .unwrap();
    let reopened = FileOffsetStore::open(&path).unwrap();
    assert_eq!(
        reopened.get("c", &[part("a")]).await.unwrap()[0],
        Some(offset(5))
    );
}

#[tokio::test]
async fn leftover_tmp_is_ignored_and_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.jsonl");
    let s = FileOffsetStore::open(&path).unwrap();
    s.put("c", vec![(part("a"), Some(offset(3)))])
        .await
        .unwrap();
    // A crash in the middle of a later write left a partial tmp file.
    let tmp = dir.path().join("offsets.jsonl.tmp");
    fs::write(&tmp, "{\"key\":[\"c\",{\"obj").unwrap();
    let s = FileOffsetStore::open(&path).unwrap();
    assert_eq!(
        s.get("c", &[part("a")]).await.unwrap(),
        vec![Some(offset(3))]
    );
    s.put("c", vec![(part("b"), Some(offset(4)))])
        .await
        .unwrap();
    assert!(!tmp.exists());
    let s = FileOffsetStore::open(&path).unwrap();
    assert_eq!(s.list("c").await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_are_serialised() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.jsonl");
    let s = Arc::new(FileOffsetStore::open(&path).unwrap());
    let puts = (0..20).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            s.put("c", vec![(part(&format!("o{i}")), Some(offset(i)))])
                .await
        })
    });
    for r in futures::future::join_all(puts).await {
        r.unwrap().unwrap();
    }
    assert_eq!(s.list("c").await.unwrap().len(), 20);
    let reopened = FileOffsetStore::open(&path).unwrap();
    assert_eq!(reopened.list("c").await.unwrap().len(), 20);
}

#[derive(Debug, Clone)]
enum Mixed {
    I8(i8),
    I16(i16),
    I32(i32),
    U8(u8),
    U16(u16),
    U32(u32),
    I64(i64),
    Bool(bool),
    Str(String),
}

impl Mixed {
    fn value(&self) -> OffsetValue {
        match self.clone() {
            Mixed::I8(v) => v.into(),
            Mixed::I16(v) => v.into(),
            Mixed::I32(v) => v.into(),
            Mixed::U8(v) => v.into(),
            Mixed::U16(v) => v.into(),
            Mixed::U32(v) => v.into(),
            Mixed::I64(v) => v.into(),
            Mixed::Bool(v) => v.into(),
            Mixed::Str(v) => v.into(),
        }
    }
    fn long(&self) -> Option<i64> {
        match *self {
            Mixed::I8(v) => Some(v.into()),
            Mixed::I16(v) => Some(v.into()),
            Mixed::I32(v) => Some(v.into()),
            Mixed::U8(v) => Some(v.into()),
            Mixed::U16(v) => Some(v.into()),
            Mixed::U32(v) => Some(v.into()),
            Mixed::I64(v) => Some(v),
            Mixed::Bool(_) | Mixed::Str(_) => None,
        }
    }
}

fn mixed() -> impl Strategy<Value = Mixed> {
    prop_oneof![
        any::<i8>().prop_map(Mixed::I8),
        any::<i16>().prop_map(Mixed::I16),
        any::<i32>().prop_map(Mixed::I32),
        any::<u8>().prop_map(Mixed::U8),
        any::<u16>().prop_map(Mixed::U16),
        any::<u32>().prop_map(Mixed::U32),
        any::<i64>().prop_map(Mixed::I64),
        any::<bool>().prop_map(Mixed::Bool),
        ".{0,12}".prop_map(Mixed::Str),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Integers of every width come back as the same i64 after entry -> JSON -> file -> back.
    #[test]
    fn i64_normalisation_round_trip(
        props in proptest::collection::btree_map("[a-zA-Z_]{1,8}", mixed(), 0..8),
        object in ".{0,20}",
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut entry = ObjectOffsetEntry::new("bucket", "b", "object", &object);
        for (k, v) in &props {
            entry.set_property(k, v.value());
        }
        let expected = entry.properties();
        // Entry -> JSON text -> back.
        let text = map_to_json(&expected).to_string();
        let back = map_from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        prop_assert_eq!(&back, &expected);
        // Entry -> file -> reopened store -> back.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.jsonl");
        let stored = rt.block_on(async {
            let s = FileOffsetStore::open(&path).unwrap();
            s.put("conn", vec![(entry.manager_key(), Some(entry.properties()))]).await.unwrap();
            let s = FileOffsetStore::open(&path).unwrap();
            s.get("conn", &[entry.manager_key()]).await.unwrap()
        });
        let data = stored[0].clone().expect("stored");
        prop_assert_eq!(&data, &expected);
        let restored = ObjectOffsetEntry::from_properties(entry.manager_key(), data);
        for (k, v) in &props {
            match v.long() {
                Some(n) => prop_assert_eq!(restored.get_long(k).unwrap(), Some(n)),
                None => prop_assert!(restored.get_long(k).is_err()),
            }
        }
    }
}

/// Every put syncs by default; with a sync interval a put syncs only when the last sync is
/// that old, a sync is scheduled for the lines appended meanwhile, and dropping the store
/// syncs what is left. Each put's lines are in the file when it returns, synced or not.
#[tokio::test]
async fn appended_lines_are_synced_per_put_or_once_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.jsonl");
    let s = FileOffsetStore::open(&path).unwrap();
    for n in 1..=3 {
        s.put("c", vec![(part("a"), Some(offset(n)))])
            .await
            .unwrap();
    }
    assert_eq!(s.syncs(), 3, "the default: every put syncs");
    drop(s);

    // A long interval: the first put syncs, the next ones wait; the drop syncs them.
    let s = FileOffsetStore::open(&path)
        .unwrap()
        .with_sync_interval(Duration::from_secs(3600));
    let syncs = s.syncs.clone();
    for n in 4..=8 {
        s.put("c", vec![(part("a"), Some(offset(n)))])
            .await
            .unwrap();
        let other = FileOffsetStore::open(&path).unwrap();
        assert_eq!(
            other.get("c", &[part("a")]).await.unwrap()[0],
            Some(offset(n)),
            "the put's line is in the file when it returns"
        );
    }
    assert_eq!(s.syncs(), 1);
    drop(s);
    assert_eq!(syncs.load(Ordering::Relaxed), 2, "the drop synced the rest");

    // A short interval: the lines appended after a sync are synced when it has passed.
    let s = FileOffsetStore::open(&path)
        .unwrap()
        .with_sync_interval(Duration::from_millis(50));
    s.put("c", vec![(part("a"), Some(offset(9)))])
        .await
        .unwrap();
    s.put("c", vec![(part("b"), Some(offset(1)))])
        .await
        .unwrap();
    assert_eq!(s.syncs(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.syncs(), 2, "the scheduled sync ran");
    let syncs = s.syncs.clone();
    drop(s);
    assert_eq!(syncs.load(Ordering::Relaxed), 2, "nothing was left to sync");
    let s = FileOffsetStore::open(&path).unwrap();
    assert_eq!(
        s.get("c", &[part("a"), part("b")]).await.unwrap(),
        vec![Some(offset(9)), Some(offset(1))]
    );
}
