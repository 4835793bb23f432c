//! End to end: jsonl objects in a folder → `sluice` (the real binary) → a real Kafka-protocol
//! broker → a consumer that reads everything back and checks every record.
// Measurements and diagnostics go to the test log.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use support::*;

const OBJECTS: usize = 20;
const RECORDS: usize = 1000;
const TOPIC: &str = "ingest";

type Setup = LocalPipeline;

fn setup(
    kind: BrokerKind,
    connector_extra: &[(&str, &str)],
    worker_extra: &[(&str, &str)],
) -> Setup {
    LocalPipeline::start(kind, "e2e", &[TOPIC], connector_extra, worker_extra)
}

fn mtime_millis(p: &Path) -> i64 {
    let m = std::fs::metadata(p).unwrap().modified().unwrap();
    m.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Every record exactly once, with the topic, key, value, headers and timestamp a Kafka Connect
/// source would give it.
fn check_exactly_once(s: &Setup, got: &[Got], keys: &[String], records: usize) {
    let mut seen: HashMap<(String, u64), usize> = HashMap::new();
    let mut partition_of: HashMap<String, i32> = HashMap::new();
    let mut last_offset: HashMap<String, i64> = HashMap::new();
    let bucket = s.data.to_str().unwrap();
    for g in got {
        assert_eq!(g.topic, TOPIC);
        let object = g.object().to_owned();
        let index = g.index();
        let o: usize = object[4..7].parse().unwrap();
        assert_eq!(
            g.key.as_deref(),
            Some(object.as_str()),
            "key is the object key"
        );
        assert_eq!(g.headers["sluice.bucket"], bucket);
        assert_eq!(
            g.value.as_deref(),
            Some(jsonl_line(o, index as usize).as_str()),
            "value of {object} record {index}"
        );
        assert_eq!(g.timestamp, Some(mtime_millis(&s.data.join(&object))));
        // One key → one partition, and the object's records in order within it.
        let p = *partition_of.entry(object.clone()).or_insert(g.partition);
        assert_eq!(p, g.partition, "all records of {object} in one partition");
        let last = last_offset.entry(object.clone()).or_insert(-1);
        assert!(g.offset > *last, "records of {object} in order");
        *last = g.offset;
        *seen.entry((object, index)).or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dupes.is_empty(),
        "duplicates: {:?}",
        &dupes[..dupes.len().min(5)]
    );
    for k in keys {
        for r in 0..records as u64 {
            assert!(seen.contains_key(&(k.clone(), r)), "missing {k} record {r}");
        }
    }
    assert_eq!(got.len(), keys.len() * records);
}

/// Runs `sluice backfill` on the setup; it must succeed with `objects` objects finished.
fn backfill_every_object(s: &Setup, objects: usize) {
    let out = backfill(&s.worker, &s.connector);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sluice failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{objects} objects finished")),
        "{stdout}"
    );
}

fn backfill_case(kind: BrokerKind, tasks: &str) {
    let s = setup(kind, &[("tasks.max", tasks)], &[]);
    let keys = write_jsonl(&s.data, OBJECTS, RECORDS);
    let start = Instant::now();
    backfill_every_object(&s, OBJECTS);
    let got = consume_all(
        &s.broker.bootstrap(),
        &[TOPIC],
        OBJECTS * RECORDS,
        Duration::from_secs(30),
    );
    check_exactly_once(&s, &got, &keys, RECORDS);
    println!(
        "{kind:?}, tasks.max={tasks}: {} records consumed back once each; backfill took {:.2?}",
        got.len(),
        start.elapsed()
    );
}

#[test]
fn backfill_delivers_every_record_once_tansu() {
    backfill_case(BrokerKind::Tansu, "1");
}

#[test]
fn backfill_delivers_every_record_once_mock() {
    backfill_case(BrokerKind::Mock, "1");
}

#[test]
fn three_tasks_deliver_every_record_once_tansu() {
    backfill_case(BrokerKind::Tansu, "3");
}

#[test]
fn three_tasks_deliver_every_record_once_mock() {
    backfill_case(BrokerKind::Mock, "3");
}

/// Many one-record objects with `object.in.flight.max` far below their number: every record
/// arrives once, and with `offset.flush.continuous=false` and a minute's flush interval the
/// task does not wait for the timer each time it reaches the bound.
#[test]
fn object_in_flight_max_holds_few_objects_and_loses_nothing_tansu() {
    const SMALL: usize = 300;
    for continuous in ["true", "false"] {
        let s = setup(
            BrokerKind::Tansu,
            &[("object.in.flight.max", "4")],
            &[
                ("offset.flush.continuous", continuous),
                ("offset.flush.interval.ms", "60000"),
            ],
        );
        let keys = write_jsonl(&s.data, SMALL, 1);
        let start = Instant::now();
        backfill_every_object(&s, SMALL);
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(50),
            "offset.flush.continuous={continuous}: the backfill took {took:.2?}, as if it waited for the flush timer"
        );
        let got = consume_all(
            &s.broker.bootstrap(),
            &[TOPIC],
            SMALL,
            Duration::from_secs(30),
        );
        check_exactly_once(&s, &got, &keys, 1);
        let offsets = read_offsets(&s.offsets);
        assert_eq!(offsets.len(), SMALL, "{offsets:?}");
        assert!(
            offsets.values().all(|&(n, finished)| n == 1 && finished),
            "{offsets:?}"
        );
        println!("offset.flush.continuous={continuous}: {SMALL} one-record objects, 4 in flight at most, in {took:.2?}");
    }
}

/// The offsets file as `object -> (recordCount, finished)`.
fn read_offsets(path: &Path) -> BTreeMap<String, (i64, bool)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("offset line is JSON");
            let object = v["key"][1]["object"].as_str().unwrap().to_owned();
            let count = v["value"]["recordCount"].as_i64().unwrap();
            let finished = v["value"]["finished"].as_bool().unwrap_or(false);
            (object, (count, finished))
        })
        .collect()
}

fn kill_and_restart_case(kind: BrokerKind) {
    // A run that takes a few seconds (5,000 records/s for 20,000), so the kill comes while
    // objects are still being read: offsets are committed continuously, and an unthrottled run
    // can finish between two looks at the offset file. Finished files are overwritten with
    // poison below to prove they are not read again, which `append` (the folder default) would
    // rightly read when it makes a file larger.
    let s = setup(
        kind,
        &[
            ("max.poll.records", "100"),
            ("max.records.per.second", "5000"),
            ("object.overwrite.policy", "ignore"),
        ],
        &[("offset.flush.interval.ms", "20")],
    );
    let keys = write_jsonl(&s.data, OBJECTS, RECORDS);
    let offsets_path = s.dir.path().join("offsets.jsonl");
    let bootstrap = s.broker.bootstrap();

    let mut child = spawn_run(&s.worker, &s.connector);
    // Kill -9 as soon as some objects are committed as finished and others are not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let o = read_offsets(&offsets_path);
        let finished = o.values().filter(|(_, f)| *f).count();
        if finished >= 2 {
            child.kill9();
            break read_offsets(&offsets_path);
        }
        assert!(Instant::now() < deadline, "no progress within 60 s");
        std::thread::sleep(Duration::from_millis(2));
    };
    let finished: BTreeSet<String> = at_kill
        .iter()
        .filter(|(_, (_, f))| *f)
        .map(|(k, _)| k.clone())
        .collect();
    let partial: BTreeMap<String, i64> = at_kill
        .iter()
        .filter(|(_, (n, f))| !*f && *n > 0)
        .map(|(k, (n, _))| (k.clone(), *n))
        .collect();
    assert!(
        finished.len() < OBJECTS,
        "the run ended before the kill; nothing to resume"
    );

    // What Kafka holds after the kill.
    let before = consume_all(&bootstrap, &[TOPIC], usize::MAX, Duration::from_secs(3));
    let before_positions: BTreeSet<(i32, i64)> =
        before.iter().map(|g| (g.partition, g.offset)).collect();

    // Poison every finished object: if the restart read any of them again, the poison shows up.
    for k in &finished {
        std::fs::write(s.data.join(k), "{\"poison\":true}\n".repeat(RECORDS)).unwrap();
    }

    let mut child = spawn_run(&s.worker, &s.connector);
    // Wait until every object is committed as finished, then stop cleanly with SIGTERM.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let o = read_offsets(&offsets_path);
        if o.values().filter(|(_, f)| *f).count() == OBJECTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "restarted run did not finish: {o:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A new object dropped in while running is picked up on the next relist.
    let mut keys = keys;
    let late = "obj-020.jsonl".to_owned();
    let body: String = (0..RECORDS).map(|r| jsonl_line(20, r) + "\n").collect();
    std::fs::write(s.data.join(&late), body).unwrap();
    keys.push(late);
    let deadline = Instant::now() + Duration::from_secs(60);
    while read_offsets(&offsets_path)
        .values()
        .filter(|(_, f)| *f)
        .count()
        < OBJECTS + 1
    {
        assert!(
            Instant::now() < deadline,
            "a new object was not picked up while running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let exit = child.terminate();
    assert!(exit.success(), "clean stop exits 0, got {exit:?}");

    let all = consume_all(
        &bootstrap,
        &[TOPIC],
        OBJECTS * RECORDS,
        Duration::from_secs(30),
    );
    assert!(
        all.iter()
            .all(|g| !g.value.as_deref().unwrap_or("").contains("poison")),
        "a finished object was read again"
    );
    let after: Vec<&Got> = all
        .iter()
        .filter(|g| !before_positions.contains(&(g.partition, g.offset)))
        .collect();
    for g in &after {
        assert!(
            !finished.contains(g.object()),
            "finished object {} re-delivered",
            g.object()
        );
        if let Some(n) = partial.get(g.object()) {
            assert!(
                g.index() >= *n as u64,
                "{} record {} was committed (recordCount {n}) before the kill but delivered again",
                g.object(),
                g.index()
            );
        }
    }
    // Every record present; duplicates only from records in flight at the kill.
    let mut seen: HashMap<(String, u64), usize> = HashMap::new();
    for g in &all {
        *seen.entry((g.object().to_owned(), g.index())).or_default() += 1;
    }
    for k in &keys {
        for r in 0..RECORDS as u64 {
            assert!(seen.contains_key(&(k.clone(), r)), "lost {k} record {r}");
        }
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    println!(
        "{kind:?}: killed with {} objects finished, {} partly committed; {} records before the kill, {} after; {} duplicates (in flight at the kill), 0 lost",
        finished.len(),
        partial.len(),
        before.len(),
        after.len(),
        duplicates
    );
}

#[test]
fn kill_9_mid_run_then_restart_loses_nothing_tansu() {
    kill_and_restart_case(BrokerKind::Tansu);
}

#[test]
fn kill_9_mid_run_then_restart_loses_nothing_mock() {
    kill_and_restart_case(BrokerKind::Mock);
}

fn corrupt_fixture(s: &Setup) -> Vec<String> {
    let keys = write_jsonl(&s.data, 3, 10);
    // Object 1, record 4 is not JSON.
    let path = s.data.join(&keys[1]);
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines[4] = "{not json".into();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    keys
}

#[test]
fn a_malformed_line_stops_the_task_under_tolerance_none() {
    let s = setup(BrokerKind::Tansu, &[("errors.tolerance", "none")], &[]);
    let keys = corrupt_fixture(&s);
    let out = backfill(&s.worker, &s.connector);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "must fail: {stdout}");
    let msg = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        msg.contains(&format!("object \"{}\", record 4", keys[1])),
        "{msg}"
    );
    assert!(msg.contains("byte offset"), "{msg}");
    // Records before the bad one, and the whole earlier object, were delivered and committed.
    let got = consume_all(&s.broker.bootstrap(), &[TOPIC], 14, Duration::from_secs(10));
    let of = |k: &str| got.iter().filter(|g| g.object() == k).count();
    assert_eq!(of(&keys[0]), 10);
    assert_eq!(of(&keys[1]), 4);
    let offsets = read_offsets(&s.dir.path().join("offsets.jsonl"));
    assert_eq!(
        offsets[&keys[1]],
        (4, false),
        "committed up to the bad record"
    );
}

#[test]
fn a_malformed_line_is_skipped_and_counted_under_tolerance_all() {
    let s = setup(BrokerKind::Tansu, &[("errors.tolerance", "all")], &[]);
    let keys = corrupt_fixture(&s);
    let out = backfill(&s.worker, &s.connector);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("29 records delivered, 1 skipped"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&keys[1]) && stderr.contains("record 4"),
        "the skip is logged: {stderr}"
    );
    let got = consume_all(&s.broker.bootstrap(), &[TOPIC], 29, Duration::from_secs(10));
    assert_eq!(got.len(), 29);
    assert!(got
        .iter()
        .all(|g| !(g.object() == keys[1] && g.index() == 4)));
    let offsets = read_offsets(&s.dir.path().join("offsets.jsonl"));
    assert_eq!(offsets[&keys[1]], (10, true));
}

/// jsonl values reach Kafka exactly as Kafka Connect's JsonConverter (`schemas.enable=false`)
/// writes them, however the lines spell them: on the fast path (no transforms: lines already in
/// the converter's form are sent as they are, the others parsed and written again) and on the
/// slow path (a transform that changes nothing, so every value is parsed), the same bytes.
#[test]
fn jsonl_values_are_sent_in_the_converters_form_on_both_paths() {
    let lines = [
        r#"{"id":1,"name":"plain"}"#,
        r#"{ "id" : 2, "name" : "spaced" }"#,
        r#"{"id":3,"s":"\u0041\/\u00e9\u001f"}"#,
        r#"{"id":4,"f":1e3,"g":0.10,"z":-0,"h":1.0E-5}"#,
        r#"{"id":5,"a":1,"a":2}"#,
        "null",
        r#"[1,"two",{"three":3.5}]"#,
    ];
    let expected = [
        Some(r#"{"id":1,"name":"plain"}"#),
        Some(r#"{"id":2,"name":"spaced"}"#),
        Some("{\"id\":3,\"s\":\"A/é\\u001F\"}"),
        Some(r#"{"id":4,"f":1000.0,"g":0.1,"z":-0.0,"h":1.0E-5}"#),
        Some(r#"{"id":5,"a":2}"#),
        None,
        Some(r#"[1,"two",{"three":3.5}]"#),
    ];
    let unchanged = [
        ("transforms", "keep"),
        (
            "transforms.keep.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.keep.predicate", "never"),
        (
            "predicates.never.type",
            "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        ),
        ("predicates", "never"),
        ("predicates.never.name", "absent"),
    ];
    for extra in [&[][..], &unchanged[..]] {
        let s = setup(BrokerKind::Tansu, extra, &[]);
        std::fs::write(s.data.join("spellings.jsonl"), lines.join("\n") + "\n").unwrap();
        let out = backfill(&s.worker, &s.connector);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got = consume_all(&s.broker.bootstrap(), &[TOPIC], 7, Duration::from_secs(10));
        got.sort_by_key(|g| g.index());
        let values: Vec<Option<&str>> = got.iter().map(|g| g.value.as_deref()).collect();
        assert_eq!(values, expected, "transforms: {extra:?}");
    }
}
