//! Files still being written when Sluice looks at a folder (issue: a file written in slow appends
//! lost 80 of its 100 lines). Each test does what a user does — a writer appending slowly, a line
//! left half-written and finished later, a `.tmp` file renamed into place, a backfill started
//! while a file grows — against the real binary and a real Kafka-protocol broker, then consumes
//! and counts: every line exactly once.

mod support;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use support::*;

const TOPIC: &str = "grow";

struct Setup {
    broker: Broker,
    _dir: tempfile::TempDir,
    data: PathBuf,
    worker: PathBuf,
    connector: PathBuf,
    log: PathBuf,
}

fn setup(connector_extra: &[(&str, &str)]) -> Setup {
    let broker = Broker::start(BrokerKind::Tansu);
    broker.create_topic(TOPIC);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("folder");
    std::fs::create_dir(&data).unwrap();
    let worker = dir.path().join("worker.properties");
    let offsets = dir.path().join("offsets.jsonl");
    let bootstrap = broker.bootstrap();
    write_props(
        &worker,
        &[
            ("bootstrap.servers", bootstrap.as_str()),
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("offset.flush.interval.ms", "500"),
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
        ],
    );
    let connector = dir.path().join("connector.properties");
    let mut c = vec![
        ("name", "grow"),
        ("connector.class", "local"),
        ("local.path", data.to_str().unwrap()),
        ("topic", TOPIC),
        ("input.format", "text"),
    ];
    c.extend_from_slice(connector_extra);
    write_props(&connector, &c);
    let log = dir.path().join("sluice.log");
    Setup {
        broker,
        data,
        worker,
        connector,
        log,
        _dir: dir,
    }
}

impl Setup {
    /// `sluice run`, its log in `self.log`.
    fn run(&self) -> ChildGuard {
        let log = std::fs::File::create(&self.log).unwrap();
        ChildGuard::spawn(
            sluice()
                .arg("run")
                .arg(&self.worker)
                .arg(&self.connector)
                .stdout(Stdio::null())
                .stderr(log),
        )
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every record value on the topic, counted: value → how many times it came.
    fn consume(&self, expected: usize) -> BTreeMap<String, usize> {
        let got = consume_all(
            &self.broker.bootstrap(),
            &[TOPIC],
            expected,
            Duration::from_secs(30),
        );
        let mut counts = BTreeMap::new();
        for g in got {
            *counts.entry(g.value.unwrap_or_default()).or_default() += 1;
        }
        counts
    }
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.flush().unwrap();
}

fn line(i: usize) -> String {
    format!("line {i:03} of the log")
}

fn lines(range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{}\n", line(i))).collect()
}

/// Asserts every line of `range` came exactly once and nothing else did.
fn assert_each_once(counts: &BTreeMap<String, usize>, range: std::ops::Range<usize>, log: &str) {
    let expected: BTreeMap<String, usize> = range.map(|i| (line(i), 1)).collect();
    assert_eq!(
        *counts, expected,
        "every line exactly once\n--- log:\n{log}"
    );
}

#[test]
fn a_file_appended_in_slow_pieces_is_read_whole_with_the_defaults() {
    // The user's case as reported: 5 appends of 20 lines, 3 s apart, default settings.
    let s = setup(&[]);
    let mut run = s.run();
    let file = s.data.join("app.log");
    for piece in 0..5 {
        append(&file, &lines(piece * 20..piece * 20 + 20));
        std::thread::sleep(Duration::from_secs(3));
    }
    let counts = s.consume(100);
    run.terminate();
    assert_each_once(&counts, 0..100, &s.log_text());
}

#[test]
fn a_line_left_half_written_is_read_once_it_is_finished() {
    // The writer stops in the middle of a line for longer than the minimum age; the lines
    // before it are delivered, the half line is held back, and read whole once finished.
    let s = setup(&[("local.file.min.age.ms", "500")]);
    let mut run = s.run();
    let file = s.data.join("app.log");
    append(&file, &lines(0..10));
    let half = line(10);
    append(&file, &half[..7]);
    std::thread::sleep(Duration::from_secs(4));
    append(&file, &format!("{}\n", &half[7..]));
    append(&file, &lines(11..15));
    let counts = s.consume(15);
    run.terminate();
    let log = s.log_text();
    assert!(
        log.contains("holding it back"),
        "the held line is reported: {log}"
    );
    assert_each_once(&counts, 0..15, &log);
}

#[test]
fn a_last_line_never_finished_is_a_record_and_the_file_can_still_grow() {
    // Text, default errors.tolerance: an unfinished last line waits out
    // object.partial.line.wait.ms, then is read as it is (a record). When the writer comes back
    // and finishes it after all, the whole line is read, then the lines after it: the half line
    // came once as it was, nothing is lost, and the process never stopped.
    let s = setup(&[
        ("local.file.min.age.ms", "300"),
        ("object.partial.line.wait.ms", "1500"),
    ]);
    let mut run = s.run();
    let file = s.data.join("app.log");
    append(&file, &lines(0..5));
    let half = line(5);
    append(&file, &half[..9]);
    // Read as it is once the wait is over.
    let counts = s.consume(6);
    assert_eq!(counts.get(&half[..9]), Some(&1), "{counts:?}");
    // The writer comes back: the finished line and the ones after it are read.
    append(&file, &format!("{}\n", &half[9..]));
    append(&file, &lines(6..9));
    let mut counts = s.consume(10);
    assert!(
        run.0.try_wait().unwrap().is_none(),
        "sluice run is still running"
    );
    run.terminate();
    let log = s.log_text();
    assert_eq!(counts.remove(&half[..9]), Some(1), "{log}");
    assert_each_once(&counts, 0..9, &log);
    assert!(log.contains("object grew"), "{log}");
}

#[test]
fn a_partial_jsonl_line_is_a_record_error_and_loses_nothing_after_it() {
    let s = setup(&[
        ("input.format", "jsonl"),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("value.converter.schemas.enable", "false"),
        ("local.file.min.age.ms", "300"),
        ("object.partial.line.wait.ms", "1000"),
        ("errors.tolerance", "all"),
        ("errors.log.enable", "true"),
    ]);
    let mut run = s.run();
    let file = s.data.join("events.jsonl");
    let rec = |i: usize| format!("{{\"i\":{i}}}");
    append(&file, &(0..4).map(|i| rec(i) + "\n").collect::<String>());
    append(&file, "{\"i\":");
    std::thread::sleep(Duration::from_secs(3));
    // A second file after it is read all the same.
    append(&s.data.join("later.jsonl"), &(rec(100) + "\n"));
    // The writer finishes the line after all.
    append(&file, "4}\n{\"i\":5}\n");
    let counts = s.consume(7);
    run.terminate();
    let log = s.log_text();
    let expected: BTreeMap<String, usize> = (0..6)
        .chain([100])
        .map(|i| (format!("{{\"i\":{i}}}"), 1))
        .collect();
    assert_eq!(counts, expected, "{log}");
    assert!(
        log.contains("events.jsonl") && log.contains("record 4"),
        "the half line is reported as a record error naming object and record: {log}"
    );
}

#[test]
fn a_tmp_file_renamed_into_place_is_read_once_and_never_as_tmp() {
    let s = setup(&[("local.file.min.age.ms", "500")]);
    let mut run = s.run();
    let tmp = s.data.join("batch.log.tmp");
    for piece in 0..3 {
        append(&tmp, &lines(piece * 10..piece * 10 + 10));
        std::thread::sleep(Duration::from_secs(1));
    }
    std::fs::rename(&tmp, s.data.join("batch.log")).unwrap();
    let got = consume_all(&s.broker.bootstrap(), &[TOPIC], 30, Duration::from_secs(30));
    run.terminate();
    assert!(
        got.iter().all(|g| g.object() == "batch.log"),
        "nothing read from the .tmp name"
    );
    let mut counts = BTreeMap::new();
    for g in got {
        *counts.entry(g.value.unwrap_or_default()).or_default() += 1;
    }
    assert_each_once(&counts, 0..30, &s.log_text());
}

#[test]
fn a_backfill_waits_for_a_file_still_being_written() {
    let s = setup(&[("local.file.min.age.ms", "1500")]);
    let file = s.data.join("app.log");
    append(&file, &lines(0..10));
    let writer = {
        let file = file.clone();
        std::thread::spawn(move || {
            for piece in 1..4 {
                std::thread::sleep(Duration::from_millis(700));
                append(&file, &lines(piece * 10..piece * 10 + 10));
            }
        })
    };
    let out = backfill(&s.worker, &s.connector);
    writer.join().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let counts = s.consume(40);
    assert_each_once(&counts, 0..40, &text);
}
