//! Distributed mode's REST API end to end: restarts, offsets (KIP-875), configuration changes
//! and deletes through any worker of a cluster of `sluice worker` processes on one tansu
//! broker (the harness of `tests/distributed.rs`). Results are checked by consuming and
//! counting.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::cluster::*;
use support::rest::metric_sum;
use support::*;

/// A task restarted through a worker that does not own it restarts on its owner (its start
/// count there rises by one) and nowhere else; `includeTasks` restarts all the connector's
/// tasks wherever they run; restarts are graceful (no record twice); offsets cannot change
/// while the connector runs (400, as Kafka Connect).
#[test]
fn restarts_through_any_worker_restart_the_tasks_on_their_owners() {
    let cluster = Cluster::start(2);
    cluster.create_connectors(&[0], &[("max.records.per.second", "100")]);
    let assignment = cluster.wait_balanced(3, Duration::from_secs(90));
    let owner = assignment
        .iter()
        .find(|(_, t)| t.contains(&("alpha".to_owned(), 1)))
        .map(|(w, _)| w.clone())
        .unwrap();
    let other = (0..2).find(|i| cluster.node(*i).id != owner).unwrap();
    let before = cluster.local_tasks();
    let (code, body) =
        cluster
            .node(other)
            .api
            .call("POST", "/connectors/alpha/tasks/1/restart", None);
    assert_eq!(code, 204, "{body}");
    let key = (owner.clone(), "alpha".to_owned(), 1);
    wait_for(
        &cluster,
        "alpha-1 restarted on its owner",
        Duration::from_secs(30),
        || cluster.local_tasks().get(&key).map(|t| t.0) == Some(before[&key].0 + 1),
    );
    std::thread::sleep(Duration::from_secs(1));
    let after = cluster.local_tasks();
    for (k, (starts, _)) in &before {
        if k != &key {
            assert_eq!(after[k].0, *starts, "{k:?} was restarted too");
        }
    }
    let new: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(new.is_empty(), "tasks started elsewhere: {new:?}");
    println!(
        "alpha-1 restarted on its owner {owner} through {}",
        cluster.node(other).id
    );

    // The whole connector with its tasks, through the other worker: 202 with the tasks
    // RESTARTING, and each of beta's three tasks starts once more where it runs.
    let before = cluster.local_tasks();
    let (code, body) =
        cluster
            .node(other)
            .api
            .call("POST", "/connectors/beta/restart?includeTasks=true", None);
    assert_eq!(code, 202, "{body}");
    assert!(
        body["tasks"].as_array().is_some_and(
            |t| t.len() == TASKS as usize && t.iter().all(|t| t["state"] == "RESTARTING")
        ),
        "{body}"
    );
    wait_for(
        &cluster,
        "beta's tasks restarted",
        Duration::from_secs(30),
        || {
            let now = cluster.local_tasks();
            before
                .iter()
                .filter(|(k, _)| k.1 == "beta")
                .all(|(k, v)| now[k].0 == v.0 + 1)
        },
    );
    let (code, _) = cluster
        .node(0)
        .api
        .call("POST", "/connectors/beta/tasks/3/restart", None);
    assert_eq!(code, 404, "beta has tasks 0..3");
    let (code, _) = cluster
        .node(0)
        .api
        .call("POST", "/connectors/nope/restart", None);
    assert_eq!(code, 404);

    // Offsets only change while the connector is stopped.
    let patch = json!({"offsets": [{"partition": {"object": "obj-000.jsonl"}, "offset": null}]});
    let (code, body) = cluster.node(1).api.call(
        "PATCH",
        "/connectors/alpha/offsets",
        Some(&patch.to_string()),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("stop"), "{body}");

    let expected = CONNECTORS.len() * OBJECTS * RECORDS;
    let (seen, total) = cluster.consume(expected);
    let duplicates = check_complete(&seen, total);
    println!("restarts: {total} records consumed for {expected} written: {duplicates} duplicates");
    assert_eq!(
        duplicates, 0,
        "a restart is graceful: no record may come twice"
    );

    // What else the standalone API serves, on any worker: /metrics (the cluster's task states
    // on each worker, each worker's own counters: their sum is everything delivered), expand,
    // plugins, loggers, the status page.
    let mut delivered = 0.0;
    for i in 0..2 {
        let api = &cluster.node(i).api;
        let text = api.metrics();
        for c in CONNECTORS {
            assert_eq!(
                metric_sum(&text, "sluice_task_status", c),
                3.0,
                "worker {i} shows one state per task of {c}:\n{text}"
            );
            delivered += metric_sum(&text, "sluice_source_record_write_total", c);
        }
        let (code, all) = api.get("/connectors?expand=status&expand=info");
        assert_eq!(code, 200, "{all}");
        for c in CONNECTORS {
            assert_eq!(
                all[c]["status"]["tasks"].as_array().map(Vec::len),
                Some(3),
                "{all}"
            );
            assert_eq!(all[c]["info"]["name"], c, "{all}");
        }
        let (code, plugins) = api.get("/connector-plugins");
        assert!(
            code == 200 && plugins.as_array().is_some_and(|p| !p.is_empty()),
            "{plugins}"
        );
        let (code, loggers) = api.get("/admin/loggers");
        assert!(code == 200 && loggers.get("root").is_some(), "{loggers}");
        let (code, topics) = api.get("/connectors/alpha/topics");
        assert_eq!(code, 200, "{topics}");
        assert_eq!(
            topics,
            json!({"alpha": {"topics": ["out-alpha"]}}),
            "worker {i}"
        );
        let (code, root) = api.get("/");
        assert!(
            code == 200
                && root["worker_id"] == cluster.node(i).id.as_str()
                && root["kafka_cluster_id"].is_string(),
            "{root}"
        );
        let (code, page) = api.get("/ui");
        assert!(
            code == 200 && page.as_str().is_some_and(|p| p.contains("<html")),
            "{page}"
        );
    }
    assert_eq!(
        delivered, expected as f64,
        "the workers' counters add up to what was delivered"
    );
    // A topics reset through one worker reaches every worker.
    let (code, _) = cluster
        .node(0)
        .api
        .call("PUT", "/connectors/beta/topics/reset", None);
    assert_eq!(code, 202);
    wait_for(
        &cluster,
        "beta's topics reset everywhere",
        Duration::from_secs(10),
        || {
            (0..2).all(|i| {
                cluster.node(i).api.get("/connectors/beta/topics").1
                    == json!({"beta": {"topics": []}})
            })
        },
    );

    // onlyFailed: gamma's tasks fail at start (librdkafka refuses the producer setting, which
    // validation does not check); restarting the failed tasks restarts both (they fail
    // again), restarting alpha's failed tasks restarts none of its running ones.
    let data = cluster.dir.path().join("alpha");
    let gamma = json!({"name": "gamma", "config": {
        "connector.class": "local", "local.path": data.to_str().unwrap(), "topic": "out-gamma",
        "input.format": "jsonl", "tasks.max": "2",
        "producer.override.compression.type": "bogus",
    }});
    let (code, body) = cluster
        .node(0)
        .api
        .call("POST", "/connectors", Some(&gamma.to_string()));
    assert_eq!(code, 201, "{body}");
    wait_for(
        &cluster,
        "gamma's tasks FAILED",
        Duration::from_secs(60),
        || {
            (0..2).all(|i| {
                let (_, st) = cluster.node(i).api.get("/connectors/gamma/status");
                st["tasks"]
                    .as_array()
                    .is_some_and(|t| t.len() == 2 && t.iter().all(|t| t["state"] == "FAILED"))
            })
        },
    );
    let gamma_starts = || -> [u64; 2] {
        let mut n = [0; 2];
        for i in 0..2 {
            let (_, m) = cluster.node(i).api.get("/connectors/gamma/metrics");
            for t in m["tasks"].as_array().cloned().unwrap_or_default() {
                n[t["id"].as_u64().unwrap() as usize] += t["starts"].as_u64().unwrap();
            }
        }
        n
    };
    let before_gamma = gamma_starts();
    let before = cluster.local_tasks();
    let (code, body) = cluster.node(1).api.call(
        "POST",
        "/connectors/alpha/restart?includeTasks=true&onlyFailed=true",
        None,
    );
    assert_eq!(code, 202, "{body}");
    assert!(
        body["tasks"]
            .as_array()
            .is_some_and(|t| t.iter().all(|t| t["state"] == "RUNNING")),
        "{body}"
    );
    let (code, body) = cluster.node(1).api.call(
        "POST",
        "/connectors/gamma/restart?includeTasks=true&onlyFailed=true",
        None,
    );
    assert_eq!(code, 202, "{body}");
    assert!(
        body["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == 2 && t.iter().all(|t| t["state"] == "RESTARTING")),
        "{body}"
    );
    wait_for(
        &cluster,
        "gamma's failed tasks restarted",
        Duration::from_secs(30),
        || {
            let now = gamma_starts();
            now[0] > before_gamma[0] && now[1] > before_gamma[1]
        },
    );
    // Each worker handles the requests in log order: alpha's came first.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        cluster.local_tasks(),
        before,
        "onlyFailed restarted a running task"
    );
}

/// KIP-875 across workers: stopped through worker 0, alpha's offsets are read and changed
/// through worker 1 (one object forgotten); resumed, exactly that object's records come
/// again. Then the offsets are deleted: resumed, every object is read again.
#[test]
fn offsets_changed_through_any_worker_take_effect_when_the_connector_resumes() {
    let cluster = Cluster::start(2);
    cluster.create_connectors(&[0], &[]);
    let per = OBJECTS * RECORDS;
    let first = counts(&cluster, "out-alpha", per);
    assert_eq!(first.len(), per, "alpha's records did not all arrive");
    let (w0, w1) = (&cluster.node(0).api, &cluster.node(1).api);

    let (code, body) = w0.call("PUT", "/connectors/alpha/stop", None);
    assert_eq!(code, 204, "{body}");
    // Once every task reports STOPPED its owner has committed its last offsets.
    wait_for(&cluster, "alpha stopped", Duration::from_secs(30), || {
        let (_, st) = w1.get("/connectors/alpha/status");
        st["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == TASKS as usize && t.iter().all(|t| t["state"] == "STOPPED"))
    });
    let (code, offsets) = w1.get("/connectors/alpha/offsets");
    assert_eq!(code, 200, "{offsets}");
    let entries = offsets["offsets"].as_array().unwrap();
    assert_eq!(entries.len(), OBJECTS, "one offset per object: {offsets}");
    let target = entries
        .iter()
        .find(|e| {
            e["partition"]
                .as_object()
                .unwrap()
                .values()
                .any(|v| v == "obj-007.jsonl")
        })
        .unwrap_or_else(|| panic!("no offset of obj-007.jsonl: {offsets}"));
    let patch = json!({"offsets": [{"partition": target["partition"], "offset": null}]});
    let (code, body) = w1.call(
        "PATCH",
        "/connectors/alpha/offsets",
        Some(&patch.to_string()),
    );
    assert_eq!(code, 200, "{body}");
    let (_, after) = w0.get("/connectors/alpha/offsets");
    assert_eq!(after["offsets"].as_array().unwrap().len(), OBJECTS - 1);
    let (code, body) = w0.call("PUT", "/connectors/alpha/resume", None);
    assert_eq!(code, 202, "{body}");
    let second = counts(&cluster, "out-alpha", per + RECORDS);
    for ((object, index), n) in &second {
        let want = if object == "obj-007.jsonl" { 2 } else { 1 };
        assert_eq!(
            *n,
            want,
            "{object} record {index} came {n} times\n{}",
            cluster.logs()
        );
    }
    assert_eq!(second.len(), per);
    println!("PATCH: exactly obj-007.jsonl's {RECORDS} records came again");

    // DELETE: every object again.
    let (code, _) = w1.call("PUT", "/connectors/alpha/stop", None);
    assert_eq!(code, 204);
    let (code, body) = w0.call("DELETE", "/connectors/alpha/offsets", None);
    assert_eq!(code, 200, "{body}");
    let (_, after) = w1.get("/connectors/alpha/offsets");
    assert_eq!(after["offsets"], json!([]));
    let (code, _) = w1.call("PUT", "/connectors/alpha/resume", None);
    assert_eq!(code, 202);
    let third = counts(&cluster, "out-alpha", 2 * per + RECORDS);
    for ((object, index), n) in &third {
        let want = if object == "obj-007.jsonl" { 3 } else { 2 };
        assert_eq!(
            *n,
            want,
            "{object} record {index} came {n} times\n{}",
            cluster.logs()
        );
    }
    println!("DELETE: every object of alpha read again");
}

/// `tasks.max` of a running connector changed through the REST API (PATCH, 3 → 2): every
/// worker reports 2 tasks running and every record arrives (duplicates counted). Then a
/// connector deleted through one worker: its tasks stop on every worker (nothing more
/// arrives) and no worker knows it any more.
#[test]
fn tasks_max_change_and_delete_reach_every_worker() {
    let cluster = Cluster::start(2);
    cluster.create_connectors(&[0], &[("max.records.per.second", "40")]);
    cluster.wait_balanced(3, Duration::from_secs(90));

    let (code, _) = cluster.node(0).api.call("DELETE", "/connectors/beta", None);
    assert_eq!(code, 204);
    wait_for(
        &cluster,
        "beta unknown on every worker",
        Duration::from_secs(30),
        || {
            (0..2).all(|i| {
                let api = &cluster.node(i).api;
                api.get("/connectors/beta/status").0 == 404
                    && api.get("/connectors").1 == json!(["alpha"])
            })
        },
    );
    // Its tasks stopped everywhere: what beta wrote no longer grows.
    let beta = || {
        consume_all(
            &cluster.broker.bootstrap(),
            &["out-beta"],
            usize::MAX,
            Duration::from_secs(5),
        )
        .len()
    };
    std::thread::sleep(Duration::from_secs(2));
    let written = beta();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        beta(),
        written,
        "beta's tasks still write after its delete\n{}",
        cluster.logs()
    );
    assert!(
        written < OBJECTS * RECORDS,
        "beta had finished before its delete ({written} records): slow it down"
    );
    println!("beta deleted after {written} of its records; none since");

    let (code, body) = cluster.node(1).api.call(
        "PATCH",
        "/connectors/alpha/config",
        Some(r#"{"tasks.max": "2", "max.poll.records": null, "max.records.per.second": "100"}"#),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["tasks"].as_array().map(Vec::len), Some(2), "{body}");
    let changed = Instant::now();
    // Status keys do not name the task layout, so "2 tasks RUNNING" alone could be the old
    // layout's tasks 0 and 1: wait until both tasks of the new layout started somewhere.
    let starts = |id: u64| -> u64 {
        cluster
            .local_tasks()
            .iter()
            .filter(|((_, c, t), _)| c == "alpha" && *t == id)
            .map(|(_, (s, _))| s)
            .sum()
    };
    let before = [starts(0), starts(1)];
    wait_for(
        &cluster,
        "alpha's 2 new tasks running",
        Duration::from_secs(90),
        || {
            starts(0) > before[0]
                && starts(1) > before[1]
                && (0..2).all(|i| {
                    let (_, st) = cluster.node(i).api.get("/connectors/alpha/status");
                    st["tasks"]
                        .as_array()
                        .is_some_and(|t| t.len() == 2 && t.iter().all(|t| t["state"] == "RUNNING"))
                })
        },
    );
    let (_, tasks) = cluster.node(0).api.get("/connectors/alpha/tasks");
    assert_eq!(tasks.as_array().map(Vec::len), Some(2), "{tasks}");
    assert_eq!(tasks[1]["config"]["task.id"], "1", "{tasks}");
    assert_eq!(tasks[1]["config"]["tasks.max"], "2", "{tasks}");
    println!(
        "tasks.max 3 -> 2: 2 tasks running after {:?}",
        changed.elapsed()
    );
    let alpha = counts(&cluster, "out-alpha", OBJECTS * RECORDS);
    let total: usize = alpha.values().sum();
    assert_eq!(
        alpha.len(),
        OBJECTS * RECORDS,
        "alpha's records did not all arrive after the change\n{}",
        cluster.logs()
    );
    println!(
        "tasks.max 3 -> 2: {total} records of alpha for {}: {} duplicates",
        OBJECTS * RECORDS,
        total - OBJECTS * RECORDS
    );
}
