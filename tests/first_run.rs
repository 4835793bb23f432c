//! What a new user sees first: the demo's output read from a file, `validate` on an offsets
//! file that cannot be written, `offsets list` for a connector without offsets.

use std::process::Command;

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_demo_reads_cleanly_in_a_file_and_keeps_its_folder_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("demo");
    let out = sluice()
        .args(["demo", "--objects", "3", "--records", "20", "--keep"])
        .arg(&keep)
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes in a pipe: {stderr}"
    );
    assert!(
        !stderr.contains(" WARN "),
        "a first run warns about nothing: {stderr}"
    );
    assert!(
        stderr.contains("connector ended") && stderr.contains("records_delivered=60"),
        "{stderr}"
    );
    assert!(!stderr.contains("MetricsSnapshot"), "{stderr}");
    assert!(
        stdout.contains("# worker.properties") && stdout.contains("connector.class=local"),
        "the configuration used is printed: {stdout}"
    );
    for f in ["worker.properties", "connector.properties", "offsets.jsonl"] {
        assert!(keep.join(f).is_file(), "{f} kept");
    }
    assert_eq!(std::fs::read_dir(keep.join("objects")).unwrap().count(), 3);
    // A second run into the same folder would skip everything: refused, with the reason.
    let out = sluice()
        .args(["demo", "--keep"])
        .arg(&keep)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("is not empty"), "{stderr}");
}

#[test]
fn validate_finds_an_offsets_file_that_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let cases = [
        (file.join("offsets.jsonl"), "not-a-dir is a file"),
        (dir.path().join("missing/offsets.jsonl"), "does not exist"),
        (dir.path().to_path_buf(), "is a directory"),
        (
            "/proc/self/offsets.jsonl".into(),
            "cannot write in /proc/self",
        ),
    ];
    for (path, expected) in cases {
        let worker = dir.path().join("worker.properties");
        std::fs::write(
            &worker,
            format!(
                "bootstrap.servers=127.0.0.1:1\noffset.storage.file.filename={}\n",
                path.display()
            ),
        )
        .unwrap();
        let out = sluice()
            .args(["validate", "--worker"])
            .arg(&worker)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{path:?}: {stdout}");
        assert!(stdout.contains(expected), "{path:?}: {stdout}\n{stderr}");
    }
}

#[test]
fn offsets_list_names_the_connectors_that_have_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let worker = dir.path().join("worker.properties");
    std::fs::write(
        &worker,
        format!(
            "bootstrap.servers=127.0.0.1:1\noffset.storage.file.filename={}\n",
            dir.path().join("offsets.jsonl").display()
        ),
    )
    .unwrap();
    let list = |connector: &str| {
        let out = sluice()
            .args(["offsets", "list"])
            .arg(&worker)
            .args(["--connector", connector])
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        text(&out).0
    };
    assert!(list("orders").contains("no connector has stored offsets"));
    let out = sluice()
        .args(["offsets", "set"])
        .arg(&worker)
        .args(["--connector", "orders-backfill", "--object", "a.jsonl"])
        .args(["--record-count", "5", "--bucket", "b"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let listed = list("orders");
    assert!(
        listed.contains("0 objects")
            && listed.contains("connector \"orders\" has no stored offsets; connectors with offsets there: orders-backfill"),
        "{listed}"
    );
    assert!(list("orders-backfill").contains("a.jsonl\t5\tpartial"));
}

#[test]
fn validate_rejects_topic_names_kafka_would_reject() {
    let dir = tempfile::tempdir().unwrap();
    for (topic, expected) in [
        ("my topic", "' ' is not allowed"),
        ("a/b", "'/' is not allowed"),
        (&"t".repeat(250) as &str, "at most 249"),
    ] {
        let connector = dir.path().join("c.properties");
        std::fs::write(
            &connector,
            format!(
                "name=c\nconnector.class=local\nlocal.path={}\nlocal.file.min.age.ms=0\nobject.partial.line.wait.ms=0\ntopic={topic}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let out = sluice().arg("validate").arg(&connector).output().unwrap();
        let (stdout, _) = text(&out);
        assert!(!out.status.success(), "{topic}: {stdout}");
        assert!(
            stdout.contains("topic: ") && stdout.contains(expected),
            "{stdout}"
        );
    }
}

#[test]
fn validate_warns_when_a_properties_file_ate_a_backslash() {
    let dir = tempfile::tempdir().unwrap();
    let connector = dir.path().join("c.properties");
    std::fs::write(
        &connector,
        format!(
            "name=c\nconnector.class=local\nlocal.path={}\nlocal.file.min.age.ms=0\nobject.partial.line.wait.ms=0\ntopic=t\ninput.format=text\nread.text.mode=regex\nread.text.regex=^(?P<date>\\S+) ERROR (?P<msg>.*)$\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = sluice().arg("validate").arg(&connector).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("WARNING read.text.regex: \"\\S\" reads as \"S\"")
            && stdout.contains("write \"\\\\S\""),
        "{stdout}"
    );
    // Written twice, the backslash survives: no warning.
    let fixed = std::fs::read_to_string(&connector)
        .unwrap()
        .replace("\\S", "\\\\S");
    std::fs::write(&connector, fixed).unwrap();
    let out = sluice().arg("validate").arg(&connector).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        out.status.success() && !stdout.contains("WARNING"),
        "{stdout}"
    );
}
