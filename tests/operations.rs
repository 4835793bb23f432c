//! Operating a worker beyond the connector endpoints, against the real binary: the REST API over
//! HTTPS with client certificates (certificates made by `openssl` for the test), log levels
//! changed at run time through `/admin/loggers`, and `log.format=json` lines carrying the
//! connector and task of the task that wrote them (on a real broker, tansu).

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use support::rest::*;
use support::tls::make_certificates;
use support::*;

/// `curl` against the worker: (exit status, HTTP status or 0, body, stderr).
fn curl(args: &[&str]) -> (bool, u16, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (scripts/install-test-servers.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    (
        out.status.success(),
        code.trim().parse().unwrap_or(0),
        body.to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_api_serves_https_and_checks_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certificates(d);
    let port = free_port();
    let worker_file = d.join("worker.properties");
    let log = d.join("sluice.log");
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    let listener = format!("https://127.0.0.1:{port}");
    write_props(
        &worker_file,
        &[
            // Nothing here talks to Kafka.
            ("bootstrap.servers", "127.0.0.1:1"),
            ("offset.storage.file.filename", &p("offsets.jsonl")),
            ("listeners", &listener),
            ("listeners.https.ssl.keystore.type", "PEM"),
            ("listeners.https.ssl.keystore.location", &p("keystore.pem")),
            ("listeners.https.ssl.truststore.location", &p("ca.pem")),
            ("listeners.https.ssl.client.auth", "required"),
            ("rest.advertised.host.name", "sluice-1.example"),
        ],
    );
    let mut worker = spawn_worker(&worker_file, &log);
    let url = format!("{listener}/connectors");
    let (ca, cert, key) = (p("ca.pem"), p("client.pem"), p("client.key"));
    let with_cert = ["--cacert", &ca, "--cert", &cert, "--key", &key, &url];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !curl(&with_cert).0 {
        if let Ok(Some(s)) = worker.0.try_wait() {
            panic!("the worker exited ({s}):\n{}", read(&log));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no HTTPS API:\n{}",
            read(&log)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // With the client certificate: served.
    let (ok, code, body, err) = curl(&with_cert);
    assert!(ok && code == 200, "{code} {body} {err}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([]));
    // Without one: the handshake fails, nothing is served.
    let (ok, code, _, err) = curl(&["--cacert", &ca, &url]);
    assert!(
        !ok && code == 0,
        "served without a client certificate: {code} {err}"
    );
    // Plain HTTP to the HTTPS port: refused too.
    let (_, code, _, err) = curl(&[&format!("http://127.0.0.1:{port}/connectors")]);
    assert_ne!(code, 200, "plain HTTP was served: {err}");
    // A server certificate the client does not trust: refused by the client.
    let (ok, _, _, err) = curl(&["--cert", &cert, "--key", &key, &url]);
    assert!(!ok, "an untrusted server was accepted: {err}");
    let text = read(&log);
    assert!(
        text.contains(&format!("https://sluice-1.example:{port}")),
        "the advertised URL is not logged:\n{text}"
    );
    assert!(
        text.contains("TLS handshake with a REST client failed"),
        "{text}"
    );
}

#[test]
fn a_bad_https_listener_setting_stops_the_worker_with_its_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let worker_file = d.join("worker.properties");
    let offsets = d.join("offsets.jsonl");
    let missing = d.join("nope.pem");
    let listener = format!("https://127.0.0.1:{}", free_port());
    for (extra, want) in [
        (vec![], "needs a server certificate"),
        (
            vec![(
                "listeners.https.ssl.keystore.location",
                missing.to_str().unwrap(),
            )],
            "nope.pem",
        ),
        (
            vec![
                (
                    "listeners.https.ssl.keystore.location",
                    missing.to_str().unwrap(),
                ),
                ("listeners.https.ssl.keystore.type", "PKCS12"),
            ],
            "PEM",
        ),
    ] {
        let mut pairs = vec![
            ("bootstrap.servers", "127.0.0.1:1"),
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("listeners", listener.as_str()),
        ];
        pairs.extend(extra);
        write_props(&worker_file, &pairs);
        let out = sluice().arg("run").arg(&worker_file).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(want), "{want:?} not in: {err}");
    }
}

#[test]
fn log_levels_change_at_run_time_and_json_lines_carry_the_task() {
    const TOPIC: &str = "ops";
    let (broker, _dir, data, worker_file, log, port) = worker_setup(TOPIC);
    // The same worker file, with JSON lines.
    let mut props = std::fs::read_to_string(&worker_file).unwrap();
    props.push_str("log.format=json\n");
    std::fs::write(&worker_file, props).unwrap();
    write_jsonl(&data, 1, 5);
    let mut worker = spawn_worker(&worker_file, &log);
    let api = Api::new(port);
    api.wait_up(&mut worker, &log);

    let (code, all) = api.get("/admin/loggers");
    assert_eq!(code, 200, "{all}");
    assert_eq!(all["root"]["level"], "INFO", "{all}");
    assert_eq!(all["rdkafka"]["level"], "WARN", "{all}");
    assert_eq!(all["root"]["last_modified"], Value::Null, "{all}");
    assert_eq!(
        api.get("/admin/loggers/sluice_core::source").1["level"],
        "INFO"
    );

    let config = json!({
        "connector.class": "local",
        "local.path": data.to_str().unwrap(),
        "topic": TOPIC,
        "input.format": "jsonl",
        "local.file.min.age.ms": "0",
        "object.partial.line.wait.ms": "0",
    });
    let body = json!({"name": "j", "config": config}).to_string();
    assert_eq!(api.call("POST", "/connectors", Some(&body)).0, 201);
    wait_until("5 records", &log, || {
        metric_sum(&api.metrics(), "sluice_source_record_write_total", "j") == 5.0
    });
    // At INFO, an object finishing is not logged.
    assert!(!read(&log).contains("object finished"));

    let (code, changed) = api.call(
        "PUT",
        "/admin/loggers/sluice_core",
        Some(r#"{"level": "DEBUG"}"#),
    );
    assert_eq!((code, changed.clone()), (200, json!(["sluice_core"])));
    let (_, l) = api.get("/admin/loggers/sluice_core::source");
    assert_eq!(l["level"], "DEBUG", "inherited: {l}");
    assert!(l["last_modified"].is_i64(), "{l}");
    let (code, e) = api.call(
        "PUT",
        "/admin/loggers/sluice_core",
        Some(r#"{"level": "LOUD"}"#),
    );
    assert_eq!((code, e["error_code"].as_i64()), (400, Some(400)), "{e}");
    assert_eq!(api.call("PUT", "/admin/loggers/x", Some("{")).0, 400);

    // Now a new object's end is logged, at DEBUG, by its task.
    std::fs::write(data.join("obj-new.jsonl"), "{\"a\":1}\n").unwrap();
    wait_until("the object finished line", &log, || {
        read(&log).contains("object finished")
    });
    let mut task_lines = 0;
    for line in read(&log).lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string(), "{v}");
        if v["fields"]["message"] == "object finished" {
            assert_eq!(v["level"], "DEBUG", "{v}");
            assert_eq!(v["fields"]["object"], "obj-new.jsonl", "{v}");
            assert_eq!(v["span"]["connector"], "j", "{v}");
            assert_eq!(v["span"]["task"], 0, "{v}");
            task_lines += 1;
        }
    }
    assert_eq!(task_lines, 1);
    assert_eq!(
        consume_all(
            &broker.bootstrap(),
            &[TOPIC],
            6,
            std::time::Duration::from_secs(20)
        )
        .len(),
        6
    );
}

/// schemathesis (PyPI, installed by scripts/install-test-servers.sh) or `$SLUICE_SCHEMATHESIS`.
fn schemathesis() -> std::path::PathBuf {
    std::env::var_os("SLUICE_SCHEMATHESIS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-servers/schemathesis-venv/bin/st")
        })
}

#[test]
fn the_api_conforms_to_its_openapi_document() {
    const TOPIC: &str = "contract";
    let (_broker, dir, data, worker_file, log, port) = worker_setup(TOPIC);
    write_jsonl(&data, 1, 3);
    let mut worker = spawn_worker(&worker_file, &log);
    let api = Api::new(port);
    api.wait_up(&mut worker, &log);
    // The served document is docs/openapi.json.
    let (code, served) = api.get("/openapi.json");
    assert_eq!(code, 200);
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(served, doc);
    // A connector to find, so generated requests reach more than 404s.
    let config = json!({
        "connector.class": "local",
        "local.path": data.to_str().unwrap(),
        "topic": TOPIC,
        "input.format": "jsonl",
        "local.file.min.age.ms": "0",
    });
    let body = json!({"name": "c", "config": config}).to_string();
    assert_eq!(api.call("POST", "/connectors", Some(&body)).0, 201);

    let st = schemathesis();
    assert!(
        st.exists(),
        "no schemathesis at {}: run scripts/install-test-servers.sh",
        st.display()
    );
    // Two runs: free path parameters (mostly unknown connectors: 404s), then every request
    // about connector "c" and its task 0, so generated bodies reach the handlers' checks
    // (deleting "c" is left out of that run, or the rest would be 404s again).
    let st_run = |extra: &[&str], config: Option<&str>| {
        let mut cmd = Command::new(&st);
        if let Some(c) = config {
            let file = dir.path().join("schemathesis.toml");
            std::fs::write(&file, c).unwrap();
            cmd.arg("--config-file").arg(&file);
        }
        let out = cmd
            .args(["run", &format!("http://127.0.0.1:{port}/openapi.json")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "25",
                "--workers",
                "1",
                "--seed",
                "1",
                "--request-timeout",
                "30",
                "--suppress-health-check",
                "all",
            ])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .expect("run schemathesis");
        let report = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "schemathesis found problems:\n{report}\nworker log:\n{}",
            read(&log)
        );
        // It really ran the operations (a run that tested nothing passes too).
        assert!(report.contains("passed"), "{report}");
        let generated: u64 = report
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_suffix(" passed")?
                    .split_once(" generated, ")?
                    .0
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        assert!(generated >= 100, "{generated} test cases: {report}");
        report
    };
    st_run(&[], None);
    let report = st_run(
        &["--exclude-operation-id", "deleteConnector"],
        Some("[parameters]\n\"path.name\" = \"c\"\n\"path.task\" = 0\n"),
    );
    // Requests about "c" reached it: no run-wide 404 warning about missing test data.
    assert!(!report.contains("Missing test data"), "{report}");
    // The worker is still up and answering after the storm.
    assert_eq!(api.get("/connectors/c/status").0, 200);
}
