//! Kafka Connect's REST API on `sluice run worker.properties` (no connector files), against the
//! real binary and a real Kafka-protocol broker (tansu): create a connector over REST, watch
//! `/status` and `/metrics`, pause it (nothing produced while paused, checked by consuming),
//! resume, stop, rewind one object with `PATCH /offsets` (consumed again: counted), restart the
//! worker process and find the same connectors in the same states, delete; bad requests get
//! Kafka Connect's status codes and the worker keeps serving.

mod support;

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::rest::*;
use support::*;

const TOPIC: &str = "rest";

fn count(bootstrap: &str, expected: usize) -> Vec<Got> {
    consume_all(bootstrap, &[TOPIC], expected, Duration::from_secs(20))
}

fn connector_config(data: &Path) -> Value {
    json!({
        "connector.class": "local",
        "local.path": data.to_str().unwrap(),
        "topic": TOPIC,
        "input.format": "jsonl",
        "tasks.max": "2",
        // The test writes whole files before the connector looks.
        "local.file.min.age.ms": "0",
        "object.partial.line.wait.ms": "0",
    })
}

#[test]
fn connectors_are_operated_over_rest_and_survive_a_worker_restart() {
    let broker = Broker::start(BrokerKind::Tansu);
    broker.create_topic(TOPIC);
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_jsonl(&data, 3, 10);
    let port = free_port();
    let worker_file = dir.path().join("worker.properties");
    let offsets = dir.path().join("offsets.jsonl");
    let log: PathBuf = dir.path().join("sluice.log");
    let listener = format!("http://127.0.0.1:{port}");
    write_props(
        &worker_file,
        &[
            ("bootstrap.servers", bootstrap.as_str()),
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("offset.flush.interval.ms", "200"),
            ("value.converter.schemas.enable", "false"),
            ("listeners", listener.as_str()),
        ],
    );
    let mut worker = spawn_worker(&worker_file, &log);
    let api = Api::new(port);
    api.wait_up(&mut worker, &log);

    let (code, root) = api.get("/");
    assert_eq!(code, 200);
    // A browser gets the status page, self-contained (no external assets).
    let mut page = api
        .agent
        .get(&api.base)
        .header("Accept", "text/html,application/xhtml+xml")
        .call()
        .unwrap();
    let html = page.body_mut().read_to_string().unwrap();
    assert!(html.contains("<title>Sluice worker</title>"), "{html}");
    assert!(html.contains("/connectors?expand=status"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "an external asset: {html}"
    );
    let (code, ui) = api.get("/ui");
    assert_eq!((code, ui.as_str()), (200, Some(html.as_str())));
    assert!(root["version"].is_string(), "{root}");
    assert!(root.get("kafka_cluster_id").is_some(), "{root}");
    assert_eq!(api.get("/connectors"), (200, json!([])));
    let (code, plugins) = api.get("/connector-plugins");
    assert_eq!(code, 200);
    assert!(plugins
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["class"] == "local"));

    // Create.
    let create = json!({"name": "c", "config": connector_config(&data)}).to_string();
    let (code, info) = api.call("POST", "/connectors", Some(&create));
    assert_eq!(code, 201, "{info}");
    assert_eq!(info["name"], "c");
    assert_eq!(info["config"]["topic"], TOPIC);
    assert_eq!(info["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(info["type"], "source");
    let (code, dup) = api.call("POST", "/connectors", Some(&create));
    assert_eq!(code, 409, "{dup}");
    assert_eq!(dup["error_code"], 409);

    // Watch it through /status and /metrics.
    wait_until("30 records acknowledged in /metrics", &log, || {
        metric_sum(&api.metrics(), "sluice_source_record_write_total", "c") == 30.0
    });
    let (st, tasks) = state(&api, "c");
    assert_eq!(st, "RUNNING");
    assert_eq!(tasks, ["RUNNING", "RUNNING"]);
    let (code, s) = api.get("/connectors/c/status");
    assert_eq!(code, 200);
    assert_eq!(s["type"], "source");
    assert_eq!(s["connector"]["worker_id"], format!("127.0.0.1:{port}"));
    assert_eq!(s["tasks"][1]["id"], 1);
    let m = api.metrics();
    assert_eq!(
        metric_sum(&m, "sluice_source_record_poll_total", "c"),
        30.0,
        "{m}"
    );
    assert_eq!(
        metric_sum(&m, "sluice_objects_finished_total", "c"),
        3.0,
        "{m}"
    );
    assert!(metric_sum(&m, "sluice_bytes_read_total", "c") > 0.0, "{m}");
    // What an object-store source needs besides Connect's metrics.
    assert!(
        metric_sum(&m, "sluice_objects_listed_total", "c") >= 3.0,
        "{m}"
    );
    assert!(
        metric_sum(&m, "sluice_listing_passes_total", "c") >= 1.0,
        "{m}"
    );
    assert_eq!(
        metric_sum(&m, "sluice_listing_seconds_count", "c"),
        metric_sum(&m, "sluice_listing_passes_total", "c"),
        "{m}"
    );
    assert_eq!(
        metric_sum(&m, "sluice_delivery_latency_seconds_count", "c"),
        30.0,
        "{m}"
    );
    assert!(
        metric_sum(&m, "sluice_poll_batch_seconds_count", "c") >= 1.0,
        "{m}"
    );
    assert_eq!(
        metric_sum(&m, "sluice_objects_in_progress", "c"),
        0.0,
        "{m}"
    );
    assert_eq!(
        metric_sum(&m, "sluice_producer_in_flight_records", "c"),
        0.0,
        "{m}"
    );
    assert_eq!(
        metric_sum(&m, "sluice_ingestion_lag_seconds", "c"),
        0.0,
        "{m}"
    );
    assert!(
        m.contains(r#"sluice_store_requests_total{connector="c",op="get",outcome="ok"} 3"#),
        "{m}"
    );
    assert!(
        metric_sum(&m, "sluice_store_requests_total", "c") >= 4.0,
        "{m}"
    );
    assert!(
        m.contains(r#"sluice_delivery_latency_seconds_bucket{le="+Inf",connector="c",task="0"}"#)
            || m.contains(
                r#"sluice_delivery_latency_seconds_bucket{connector="c",task="0",le="+Inf"}"#
            ),
        "{m}"
    );
    assert!(
        m.contains(r#"sluice_task_status{connector="c",task="0",status="running"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"sluice_task_status{connector="c",task="1",status="paused"} 0"#),
        "{m}"
    );
    // Every series the example Grafana dashboard queries is one the worker serves.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana-dashboard.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut queried = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(i) = rest.find("sluice_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                rest = &rest[i + name.len()..];
                queried.insert(name);
            }
        }
    }
    assert!(queried.len() >= 15, "{queried:?}");
    for name in &queried {
        assert!(
            m.lines().any(|l| l.starts_with(&format!("{name}{{"))),
            "the dashboard queries {name}, which /metrics does not serve:\n{m}"
        );
    }
    wait_until("an offset commit in /metrics", &log, || {
        metric_sum(
            &api.metrics(),
            "sluice_offset_commit_duration_seconds_count",
            "c",
        ) >= 1.0
    });
    assert_eq!(count(&bootstrap, 30).len(), 30);
    let (code, t) = api.get("/connectors/c/tasks/1/status");
    assert_eq!((code, t["state"].as_str()), (200, Some("RUNNING")), "{t}");
    let (code, tasks) = api.get("/connectors/c/tasks");
    assert_eq!(code, 200);
    assert_eq!(tasks[1]["id"], json!({"connector": "c", "task": 1}));
    assert_eq!(
        api.get("/connectors/c/topics"),
        (200, json!({"c": {"topics": [TOPIC]}}))
    );
    assert_eq!(api.call("PUT", "/connectors/c/topics/reset", None).0, 202);
    assert_eq!(
        api.get("/connectors/c/topics"),
        (200, json!({"c": {"topics": []}}))
    );
    let (code, expanded) = api.get("/connectors?expand=status&expand=info");
    assert_eq!(code, 200);
    assert_eq!(expanded["c"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(expanded["c"]["info"]["name"], "c");

    // Pause: a new object is not read while paused.
    let (code, _) = api.call("PUT", "/connectors/c/pause", None);
    assert_eq!(code, 202);
    assert_eq!(
        state(&api, "c"),
        ("PAUSED".into(), vec!["PAUSED".into(), "PAUSED".into()])
    );
    std::fs::write(
        data.join("obj-100.jsonl"),
        (0..10)
            .map(|r| format!("{}\n", jsonl_line(100, r)))
            .collect::<String>(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        count(&bootstrap, 31).len(),
        30,
        "records were produced while paused"
    );

    // Resume: it is read.
    let (code, _) = api.call("PUT", "/connectors/c/resume", None);
    assert_eq!(code, 202);
    assert_eq!(count(&bootstrap, 40).len(), 40);

    // Offsets may only change while STOPPED.
    let (code, offs) = api.get("/connectors/c/offsets");
    assert_eq!(code, 200);
    let partition = offs["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["partition"]["object"] == "obj-000.jsonl")
        .unwrap_or_else(|| panic!("no offset for obj-000.jsonl in {offs}"))["partition"]
        .clone();
    let rewind = json!({"offsets": [{"partition": partition, "offset": null}]}).to_string();
    let (code, e) = api.call("PATCH", "/connectors/c/offsets", Some(&rewind));
    assert_eq!(code, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("stop"), "{e}");
    let (code, e) = api.call("DELETE", "/connectors/c/offsets", None);
    assert_eq!(code, 400, "{e}");

    // Stop, rewind one object, resume: that object is read again (10 more records).
    let (code, _) = api.call("PUT", "/connectors/c/stop", None);
    assert_eq!(code, 204);
    assert_eq!(
        state(&api, "c"),
        ("STOPPED".into(), vec!["STOPPED".into(), "STOPPED".into()])
    );
    let (code, msg) = api.call("PATCH", "/connectors/c/offsets", Some(&rewind));
    assert_eq!(code, 200, "{msg}");
    assert!(msg["message"].is_string(), "{msg}");
    let (code, e) = api.call("PATCH", "/connectors/c/offsets", Some(r#"{"offsets": []}"#));
    assert_eq!(code, 400, "{e}");
    let (code, _) = api.call("PUT", "/connectors/c/resume", None);
    assert_eq!(code, 202);
    let got = count(&bootstrap, 50);
    assert_eq!(got.len(), 50);
    assert_eq!(
        got.iter().filter(|g| g.object() == "obj-000.jsonl").count(),
        20,
        "obj-000.jsonl read twice, the other objects once"
    );

    // Bad requests get Kafka Connect's codes; nothing crashes.
    let (code, e) = api.get("/connectors/nope/status");
    assert_eq!((code, e["error_code"].as_u64()), (404, Some(404)), "{e}");
    assert_eq!(api.call("PUT", "/connectors/nope/pause", None).0, 404);
    assert_eq!(api.get("/connectors/c/tasks/7/status").0, 404);
    assert_eq!(api.get("/connectors/c/tasks/x/status").0, 404);
    let (code, e) = api.call("POST", "/connectors", Some("{not json"));
    assert_eq!((code, e["error_code"].as_u64()), (400, Some(400)), "{e}");
    let mut bad = connector_config(&data);
    bad["tasks.max"] = json!("zero");
    bad["topik"] = json!("x");
    let (code, e) = api.call(
        "POST",
        "/connectors",
        Some(&json!({"name": "bad", "config": bad}).to_string()),
    );
    assert_eq!(code, 400, "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("tasks.max") && msg.contains("did you mean \"topic\""),
        "{msg}"
    );
    assert_eq!(
        api.get("/connectors/bad").0,
        404,
        "an invalid connector is not created"
    );
    bad["name"] = json!("bad");
    let (code, v) = api.call(
        "PUT",
        "/connector-plugins/local/config/validate",
        Some(&bad.to_string()),
    );
    assert_eq!(code, 200, "{v}");
    let errors: Vec<&Value> = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["value"]["errors"].as_array().unwrap())
        .collect();
    assert_eq!(v["error_count"], 2, "{errors:?}");
    let topik = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "topik")
        .unwrap_or_else(|| panic!("no entry for topik in {v}"));
    assert!(
        topik["value"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("topic"),
        "{v}"
    );
    let (code, e) = api.call(
        "PUT",
        "/connectors/c/config",
        Some(&json!({"name": "other"}).to_string()),
    );
    assert_eq!(code, 400, "{e}");
    assert_eq!(api.get("/no/such/path").0, 404);

    // A second connector created STOPPED; the first paused: both states survive a restart.
    let create_d =
        json!({"name": "d", "config": connector_config(&data), "initial_state": "STOPPED"});
    let (code, e) = api.call("POST", "/connectors", Some(&create_d.to_string()));
    assert_eq!(code, 201, "{e}");
    assert_eq!(api.call("PUT", "/connectors/c/pause", None).0, 202);
    let (code, patched) = api.call(
        "PATCH",
        "/connectors/c/config",
        Some(r#"{"max.poll.records": "100"}"#),
    );
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["config"]["max.poll.records"], "100");
    let status = worker.terminate();
    assert!(status.success(), "{status}\n{}", read(&log));

    let mut worker = spawn_worker(&worker_file, &log);
    api.wait_up(&mut worker, &log);
    assert_eq!(api.get("/connectors"), (200, json!(["c", "d"])));
    assert_eq!(
        state(&api, "c"),
        ("PAUSED".into(), vec!["PAUSED".into(), "PAUSED".into()])
    );
    assert_eq!(state(&api, "d").0, "STOPPED");
    let (code, cfg) = api.get("/connectors/c/config");
    assert_eq!(code, 200);
    assert_eq!(cfg["max.poll.records"], "100", "{cfg}");
    assert_eq!(cfg["name"], "c");

    // Delete.
    let (code, _) = api.call("DELETE", "/connectors/c", None);
    assert_eq!(code, 204);
    assert_eq!(api.get("/connectors/c").0, 404);
    assert_eq!(api.get("/connectors"), (200, json!(["d"])));
    let status = worker.terminate();
    assert!(status.success(), "{status}\n{}", read(&log));
    let mut worker = spawn_worker(&worker_file, &log);
    api.wait_up(&mut worker, &log);
    assert_eq!(
        api.get("/connectors"),
        (200, json!(["d"])),
        "the delete was kept"
    );
    // Nothing new was produced: c was paused, then deleted; d never ran.
    assert_eq!(count(&bootstrap, 51).len(), 50);
}

#[test]
fn a_non_loopback_listener_is_refused_without_rest_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let worker = dir.path().join("worker.properties");
    let offsets = dir.path().join("offsets.jsonl");
    let listener = format!("http://0.0.0.0:{}", free_port());
    write_props(
        &worker,
        &[
            ("bootstrap.servers", "127.0.0.1:1"),
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("listeners", listener.as_str()),
        ],
    );
    let out = sluice().arg("run").arg(&worker).output().unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("rest.insecure=true"), "{text}");
}

#[test]
fn a_failed_task_carries_its_trace_and_restarts_alone_over_rest() {
    const FAIL_TOPIC: &str = "restfail";
    let (broker, _dir, data, worker_file, log, port) = worker_setup(FAIL_TOPIC);
    write_jsonl(&data, 4, 10);
    // One object with a record that is not JSON: with errors.tolerance=none its task fails.
    let mut bad: Vec<String> = (0..10).map(|r| jsonl_line(50, r)).collect();
    bad[5] = "{not json".into();
    std::fs::write(data.join("obj-050.jsonl"), bad.join("\n") + "\n").unwrap();
    let mut worker = spawn_worker(&worker_file, &log);
    let api = Api::new(port);
    api.wait_up(&mut worker, &log);
    let mut config = connector_config(&data);
    config["topic"] = json!(FAIL_TOPIC);
    let (code, e) = api.call(
        "POST",
        "/connectors",
        Some(&json!({"name": "f", "config": config}).to_string()),
    );
    assert_eq!(code, 201, "{e}");

    let mut failed = None;
    wait_until("a FAILED task", &log, || {
        let (_, s) = api.get("/connectors/f/status");
        failed = s["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["state"] == "FAILED")
            .cloned();
        failed.is_some()
    });
    let failed = failed.unwrap();
    let id = failed["id"].as_u64().unwrap();
    let trace = failed["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("obj-050.jsonl"),
        "the trace names the object: {failed}"
    );
    let (code, t) = api.get(&format!("/connectors/f/tasks/{id}/status"));
    assert_eq!((code, t["state"].as_str()), (200, Some("FAILED")), "{t}");
    assert!(t["trace"].is_string(), "{t}");
    let other = 1 - id;
    wait_until("the other task done with its objects", &log, || {
        let (_, s) = api.get("/connectors/f/status");
        s["tasks"][other as usize]["state"] == "RUNNING"
    });
    let m = api.metrics();
    assert!(
        m.contains(&format!(
            r#"sluice_task_status{{connector="f",task="{id}",status="failed"}} 1"#
        )),
        "{m}"
    );

    // Fix the object and restart that task only: every record arrives once the bad object
    // is read again (the failed task committed nothing of it).
    bad[5] = jsonl_line(50, 5);
    std::fs::write(data.join("obj-050.jsonl"), bad.join("\n") + "\n").unwrap();
    let (code, e) = api.call("POST", &format!("/connectors/f/tasks/{id}/restart"), None);
    assert_eq!(code, 204, "{e}");
    wait_until("the restarted task RUNNING", &log, || {
        state(&api, "f").1 == ["RUNNING", "RUNNING"]
    });
    let got = consume_all(
        &broker.bootstrap(),
        &[FAIL_TOPIC],
        50,
        Duration::from_secs(20),
    );
    let mut ids: Vec<String> = got
        .iter()
        .map(|g| g.value.clone().unwrap_or_default())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        50,
        "every record of the 5 objects, the fixed one included"
    );
    // The restart with includeTasks and onlyFailed answers 202 with the status (nothing failed).
    let (code, s) = api.call(
        "POST",
        "/connectors/f/restart?includeTasks=true&onlyFailed=true",
        None,
    );
    assert_eq!(code, 202, "{s}");
    assert_eq!(s["connector"]["state"], "RUNNING", "{s}");
}

/// The chromium binary for the status page test: `$SLUICE_CHROMIUM`, else Debian's.
fn chromium() -> PathBuf {
    std::env::var_os("SLUICE_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")))
        .filter(|p| p.exists())
        .expect("no chromium: scripts/test.sh installs it (apt-get install chromium), or set SLUICE_CHROMIUM")
}

/// Its WebDriver: `$SLUICE_CHROMEDRIVER`, else Debian's `chromium-driver`.
fn chromedriver() -> PathBuf {
    std::env::var_os("SLUICE_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")))
        .filter(|p| p.exists())
        .expect("no chromedriver: scripts/test.sh installs it (apt-get install chromium-driver), or set SLUICE_CHROMEDRIVER")
}

/// A headless Chromium session driven over the W3C WebDriver protocol (chromedriver).
struct Browser {
    base: String,
    agent: ureq::Agent,
    _driver: ChildGuard,
}

impl Browser {
    fn start(profile: &Path) -> Browser {
        let port = free_port();
        let driver = ChildGuard::spawn(
            std::process::Command::new(chromedriver())
                .arg(format!("--port={port}"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let root = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(&format!("{root}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium().to_str().unwrap(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--window-size=1400,700",
                         format!("--user-data-dir={}", profile.display())],
            }
        }}});
        let mut b = Browser {
            base: root.clone(),
            agent,
            _driver: driver,
        };
        let session = b.call("POST", "/session", Some(caps));
        let id = session["sessionId"].as_str().expect("a session").to_owned();
        b.base = format!("{root}/session/{id}");
        b
    }

    /// A WebDriver command; its `value`. Errors come back as `{"error": ...}` values.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let resp = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let v: Value = resp.body_mut().read_json().unwrap();
        v["value"].clone()
    }

    fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Polls `js` until it returns `want` (the page refreshes itself every 2 s).
    fn wait_for(&self, what: &str, js: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.script(js);
            if got.as_str() == Some(want) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: the page shows {got}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Clicks the element `xpath` finds, again if the page re-rendered it in between.
    fn click(&self, xpath: &str) {
        for _ in 0..20 {
            let found = self.call(
                "POST",
                "/element",
                Some(json!({"using": "xpath", "value": xpath})),
            );
            if let Some(id) = found
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
            {
                let clicked = self.call("POST", &format!("/element/{id}/click"), None);
                if clicked.is_null() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("could not click {xpath}");
    }

    fn screenshot(&self, to: &Path) {
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(self.call("GET", "/screenshot", None).as_str().unwrap())
            .unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        std::fs::write(to, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
    }
}

#[test]
fn the_status_page_shows_counts_rising_and_its_pause_button_pauses_in_a_real_browser() {
    const UI_TOPIC: &str = "restui";
    let (broker, dir, data, worker_file, log, port) = worker_setup(UI_TOPIC);
    write_jsonl(&data, 2, 10);
    // Listed but not read: the page counts it by reason.
    std::fs::write(data.join("empty.jsonl"), "").unwrap();
    let mut worker = spawn_worker(&worker_file, &log);
    let api = Api::new(port);
    api.wait_up(&mut worker, &log);
    let mut config = connector_config(&data);
    config["topic"] = json!(UI_TOPIC);
    let body = json!({"name": "ui-c", "config": config}).to_string();
    assert_eq!(api.call("POST", "/connectors", Some(&body)).0, 201);
    wait_until("20 records", &log, || {
        metric_sum(&api.metrics(), "sluice_source_record_write_total", "ui-c") == 20.0
    });

    let browser = Browser::start(&dir.path().join("chrome"));
    browser.goto(&format!("http://127.0.0.1:{port}/ui"));
    let row = r#"document.querySelector('tr[data-connector="ui-c"]')"#;
    let written = format!("return {row}?.querySelector('td.written')?.textContent ?? null");
    let state = format!("return {row}?.querySelector('td.state')?.firstChild?.textContent ?? null");
    browser.wait_for("20 delivered", &written, "20");
    browser.wait_for("running", &state, "RUNNING");
    assert_eq!(
        browser.script(&format!("return {row}.querySelector('td.lag').textContent")),
        "caught up"
    );
    let not_read = format!(
        "const c = {row}?.querySelector('td.not-read'); return c && c.textContent !== '0' && /empty: [1-9]/.test(c.title) && /no template match: 0/.test(c.title) ? 'counted' : (c ? c.textContent + ' / ' + c.title : null)"
    );
    browser.wait_for("the empty object counted as not read", &not_read, "counted");

    // Counts rise on the page as records arrive.
    std::fs::write(
        data.join("obj-more.jsonl"),
        (0..10)
            .map(|i| format!("{{\"i\":{i}}}\n"))
            .collect::<String>(),
    )
    .unwrap();
    browser.wait_for("30 delivered", &written, "30");

    // The pause button pauses the connector: the page and the API say so, and a new object is
    // not read while paused.
    browser.click(r#"//tr[@data-connector="ui-c"]//button[text()="pause"]"#);
    browser.wait_for("paused", &state, "PAUSED");
    assert_eq!(state_of(&api, "ui-c"), "PAUSED");
    std::fs::write(data.join("obj-paused.jsonl"), "{\"i\":99}\n").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        consume_all(&broker.bootstrap(), &[UI_TOPIC], 31, Duration::from_secs(5)).len(),
        30,
        "a record was produced while paused"
    );
    browser.wait_for("still 30", &written, "30");

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("status-page.png");
    browser.screenshot(&shot);
    eprintln!("status page screenshot: {}", shot.display());

    // Resume from the page: the waiting object arrives.
    browser.click(r#"//tr[@data-connector="ui-c"]//button[text()="resume"]"#);
    browser.wait_for("31 delivered", &written, "31");
}

fn state_of(api: &Api, name: &str) -> String {
    state(api, name).0
}

#[test]
fn basic_auth_guards_every_endpoint_when_configured() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let worker_file = dir.path().join("worker.properties");
    let users = dir.path().join("users");
    std::fs::write(&users, "# operators\nops:s3cret\n").unwrap();
    let offsets = dir.path().join("offsets.jsonl");
    let log = dir.path().join("sluice.log");
    let port = free_port();
    let listener = format!("http://127.0.0.1:{port}");
    write_props(
        &worker_file,
        &[
            // Nothing here talks to Kafka.
            ("bootstrap.servers", "127.0.0.1:1"),
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("listeners", listener.as_str()),
            ("rest.basic.auth.credentials.file", users.to_str().unwrap()),
        ],
    );
    let mut worker = spawn_worker(&worker_file, &log);
    let api = Api::new(port);
    api.wait_up(&mut worker, &log);
    for path in ["/connectors", "/metrics", "/ui", "/connectors/x/status"] {
        let (code, e) = api.get(path);
        assert_eq!(code, 401, "{path}: {e}");
        assert_eq!(e["error_code"], 401, "{path}: {e}");
    }
    let call = |auth: &str, path: &str| {
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(auth)
        );
        let mut r = api
            .agent
            .get(&format!("{}{path}", api.base))
            .header("Authorization", &value)
            .call()
            .unwrap();
        let www = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        (
            r.status().as_u16(),
            www,
            r.body_mut().read_to_string().unwrap(),
        )
    };
    let (code, www, _) = call("ops:wrong", "/connectors");
    assert_eq!(
        (code, www.as_deref()),
        (401, Some("Basic realm=\"sluice\""))
    );
    assert_eq!(call("ops:s3cret", "/connectors"), (200, None, "[]".into()));
    assert_eq!(call("ops:s3cret", "/metrics").0, 200);
    assert_eq!(call("ops:s3cret", "/connectors/x/status").0, 404);
}
