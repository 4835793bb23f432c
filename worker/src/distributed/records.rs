//! The records of the config and status topics, in Kafka Connect's formats, and the pure state
//! machines every worker folds them into ([`ClusterConfig`], [`ClusterStatus`]).
//!
//! Config topic (one partition, compacted): `connector-<name>` → `{"properties": {...}}` (a
//! tombstone deletes the connector), `target-state-<name>` → `{"state": "PAUSED", "state.v2":
//! "STOPPED"}`, `restart-connector-<name>` → `{"include-tasks": true, "only-failed": false}`
//! (Connect's restart request; Sluice also writes `restart-task-<name>-<id>` → `{}` for one
//! task, a key Kafka Connect skips). Status topic: `status-task-<name>-<id>` → `{"state": "RUNNING", "trace": null,
//! "worker_id": "host:port", "generation": 0}`. Other keys (Connect's `task-*`, `commit-*`,
//! `session-key`, Sluice's sentinels) are skipped: Sluice derives a task's work from its
//! connector's configuration and task id, so it needs no task configurations.
//!
//! Conflicts: every worker writes to the config topic directly and every worker applies its
//! single partition in log order, so all workers reach the same state. A `connector-<name>`
//! record written by `POST /connectors` carries the header `sluice.op=create`: it applies only
//! when no connector of that name exists at that point of the log, so of two concurrent creates
//! of one name exactly one wins (the first in the log), and its writer learns that it won by
//! finding its own write id (header `sluice.write`) as the connector's creator once it has
//! read up to its record. Other changes (config updates, target states, deletes) are last
//! writer wins in log order.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sluice_core::config::Settings;

use crate::state::TargetState;

/// Header naming the kind of a config write (`create`; anything else is an update).
pub const OP_HEADER: &str = "sluice.op";
/// Header carrying a write's unique id.
pub const WRITE_HEADER: &str = "sluice.write";

/// A config topic record as read: key, value (None: tombstone) and the two headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRecord {
    /// The record key (`connector-<name>`, `target-state-<name>`, ...).
    pub key: String,
    /// The value bytes, `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// `sluice.op`.
    pub op: Option<String>,
    /// `sluice.write`.
    pub write: Option<String>,
}

/// One connector as the config topic holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorEntry {
    /// Its configuration, as given (`name` included).
    pub config: Settings,
    /// The write id of the create that made it (empty when written without one).
    pub created_by: String,
    /// The write id of the record that set its current configuration.
    pub written_by: String,
}

/// A restart asked for through any worker: the owners of the tasks it names act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRequest {
    /// The connector.
    pub connector: String,
    /// One task (`restart-task-<name>-<id>`), or `None` for the connector's request.
    pub task: Option<u32>,
    /// Connect's `include-tasks`: restart the connector's tasks too.
    pub include_tasks: bool,
    /// Connect's `only-failed`: only the tasks that failed.
    pub only_failed: bool,
}

/// How many restart requests the folded state keeps (a runner that fell further behind
/// than this skips the oldest, with a warning).
pub const RESTARTS_KEPT: usize = 256;

/// Every connector and target state of the cluster, folded from the config topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    connectors: BTreeMap<String, ConnectorEntry>,
    targets: BTreeMap<String, TargetState>,
    /// Restart requests in log order, numbered from 1 (the last [`RESTARTS_KEPT`]).
    restarts: std::collections::VecDeque<(u64, RestartRequest)>,
    restart_seq: u64,
    /// Records that could not be read, with why (shown in logs; never stop the others).
    pub skipped: Vec<String>,
}

/// The Connect name of a target state (`state.v2`).
pub fn target_name(t: TargetState) -> &'static str {
    match t {
        TargetState::Running => "STARTED",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    }
}

/// `connector-<name>`.
pub fn connector_key(name: &str) -> String {
    format!("connector-{name}")
}

/// `target-state-<name>`.
pub fn target_key(name: &str) -> String {
    format!("target-state-{name}")
}

/// `restart-connector-<name>` (Kafka Connect's restart request key).
pub fn restart_key(name: &str) -> String {
    format!("restart-connector-{name}")
}

/// `restart-task-<name>-<id>` (Sluice's: one task).
pub fn restart_task_key(name: &str, task: u32) -> String {
    format!("restart-task-{name}-{task}")
}

/// The value of a restart request record (Connect's field names).
pub fn restart_value(include_tasks: bool, only_failed: bool) -> Vec<u8> {
    json!({"include-tasks": include_tasks, "only-failed": only_failed})
        .to_string()
        .into_bytes()
}

/// `status-task-<name>-<id>`.
pub fn task_status_key(name: &str, task: u32) -> String {
    format!("status-task-{name}-{task}")
}

/// The value of a `connector-<name>` record.
pub fn connector_value(config: &Settings) -> Vec<u8> {
    json!({ "properties": config }).to_string().into_bytes()
}

/// The value of a `target-state-<name>` record: `state` for Connect versions without
/// `STOPPED` (which read it as `PAUSED`, as Connect itself writes it), `state.v2` exact.
pub fn target_value(t: TargetState) -> Vec<u8> {
    let v1 = match t {
        TargetState::Running => "STARTED",
        TargetState::Paused | TargetState::Stopped => "PAUSED",
    };
    json!({ "state": v1, "state.v2": target_name(t) })
        .to_string()
        .into_bytes()
}

fn parse_target(v: &Value) -> Option<TargetState> {
    let s = v
        .get("state.v2")
        .or_else(|| v.get("state"))
        .and_then(Value::as_str)?;
    match s {
        "STARTED" | "RUNNING" => Some(TargetState::Running),
        "PAUSED" => Some(TargetState::Paused),
        "STOPPED" => Some(TargetState::Stopped),
        _ => None,
    }
}

impl ClusterConfig {
    /// Folds one record in (records must come in log order).
    pub fn apply(&mut self, r: &ConfigRecord) {
        if let Some(request) = self.restart_request(r) {
            self.restart_seq += 1;
            self.restarts.push_back((self.restart_seq, request));
            if self.restarts.len() > RESTARTS_KEPT {
                self.restarts.pop_front();
            }
        } else if let Some(name) = r.key.strip_prefix("connector-") {
            let Some(value) = &r.value else {
                self.connectors.remove(name);
                return;
            };
            let props = serde_json::from_slice::<Value>(value)
                .ok()
                .and_then(|v| v.get("properties").cloned())
                .and_then(|p| serde_json::from_value::<Settings>(p).ok());
            let Some(config) = props else {
                self.skipped.push(format!(
                    "config record {:?}: not {{\"properties\": {{...}}}} with string values; skipped",
                    r.key
                ));
                return;
            };
            let write = r.write.clone().unwrap_or_default();
            let create = r.op.as_deref() == Some("create");
            match self.connectors.get_mut(name) {
                Some(_) if create => {} // a concurrent create that lost: the first one stays
                Some(entry) => {
                    entry.config = config;
                    entry.written_by = write;
                }
                None => {
                    self.connectors.insert(
                        name.to_owned(),
                        ConnectorEntry {
                            config,
                            created_by: write.clone(),
                            written_by: write,
                        },
                    );
                }
            }
        } else if let Some(name) = r.key.strip_prefix("target-state-") {
            match &r.value {
                None => {
                    self.targets.remove(name);
                }
                Some(v) => match serde_json::from_slice::<Value>(v)
                    .ok()
                    .as_ref()
                    .and_then(parse_target)
                {
                    Some(t) => {
                        self.targets.insert(name.to_owned(), t);
                    }
                    None => self.skipped.push(format!(
                        "config record {:?}: not a target state; skipped",
                        r.key
                    )),
                },
            }
        }
    }

    /// A restart record's request; `None` for other keys and tombstones (a compacted topic
    /// may drop a request's record: it was acted on when written).
    fn restart_request(&mut self, r: &ConfigRecord) -> Option<RestartRequest> {
        let (connector, task) = if let Some(name) = r.key.strip_prefix("restart-connector-") {
            (name.to_owned(), None)
        } else {
            let rest = r.key.strip_prefix("restart-task-")?;
            let (name, id) = rest.rsplit_once('-')?;
            (name.to_owned(), Some(id.parse::<u32>().ok()?))
        };
        let value = r.value.as_ref()?;
        let Ok(v) = serde_json::from_slice::<Value>(value) else {
            self.skipped.push(format!(
                "config record {:?}: not a restart request; skipped",
                r.key
            ));
            return None;
        };
        let flag = |f: &str| v.get(f).and_then(Value::as_bool).unwrap_or(false);
        Some(RestartRequest {
            connector,
            task,
            include_tasks: flag("include-tasks"),
            only_failed: flag("only-failed"),
        })
    }

    /// The number of the last restart request folded in (0: none yet).
    pub fn restart_seq(&self) -> u64 {
        self.restart_seq
    }

    /// The restart requests numbered after `seen`, in log order, and the number of requests
    /// that were no longer kept.
    pub fn restarts_after(&self, seen: u64) -> (Vec<RestartRequest>, u64) {
        let oldest = self
            .restarts
            .front()
            .map_or(self.restart_seq + 1, |(n, _)| *n);
        let missed = oldest.saturating_sub(seen + 1);
        let requests = self
            .restarts
            .iter()
            .filter(|(n, _)| *n > seen)
            .map(|(_, r)| r.clone())
            .collect();
        (requests, missed)
    }

    /// The connectors, by name.
    pub fn connectors(&self) -> &BTreeMap<String, ConnectorEntry> {
        &self.connectors
    }

    /// A connector's entry.
    pub fn connector(&self, name: &str) -> Option<&ConnectorEntry> {
        self.connectors.get(name)
    }

    /// A connector's target state (running unless a target-state record says otherwise).
    pub fn target(&self, name: &str) -> TargetState {
        self.targets
            .get(name)
            .copied()
            .unwrap_or(TargetState::Running)
    }
}

/// A task's state as the status topic holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// `RUNNING`, `PAUSED`, `UNASSIGNED`, `FAILED`, ...
    pub state: String,
    /// The failure trace, for `FAILED`.
    pub trace: Option<String>,
    /// The worker that wrote it.
    pub worker_id: String,
}

/// The value of a `status-task-<name>-<id>` record.
pub fn task_status_value(state: &str, trace: Option<&str>, worker_id: &str) -> Vec<u8> {
    json!({"state": state, "trace": trace, "worker_id": worker_id, "generation": 0})
        .to_string()
        .into_bytes()
}

/// `status-topic-<topic>:connector-<name>`: Kafka Connect's record of a topic a connector
/// wrote to (KIP-558).
pub fn topic_status_key(topic: &str, name: &str) -> String {
    format!("status-topic-{topic}:connector-{name}")
}

/// The connector and topic a `status-topic-...` key names.
pub fn parse_topic_status_key(key: &str) -> Option<(&str, &str)> {
    let (topic, name) = key
        .strip_prefix("status-topic-")?
        .rsplit_once(":connector-")?;
    Some((name, topic))
}

/// The value of a `status-topic-...` record (Connect's fields).
pub fn topic_status_value(topic: &str, name: &str, task: u32, discovered_ms: i64) -> Vec<u8> {
    json!({"topic": {"name": topic, "connector": name, "task": task, "discoverTimestamp": discovered_ms}})
        .to_string()
        .into_bytes()
}

/// Every task state of the cluster, and the topics each connector wrote to, folded from the
/// status topic (last write wins per key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterStatus {
    tasks: BTreeMap<(String, u32), TaskState>,
    /// (connector, topic).
    topics: std::collections::BTreeSet<(String, String)>,
}

impl ClusterStatus {
    /// Folds one status record in; other keys (connector statuses, sentinels) are skipped.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) {
        if let Some((name, topic)) = parse_topic_status_key(key) {
            let k = (name.to_owned(), topic.to_owned());
            if value.is_some() {
                self.topics.insert(k);
            } else {
                self.topics.remove(&k);
            }
            return;
        }
        let Some(rest) = key.strip_prefix("status-task-") else {
            return;
        };
        let Some((name, id)) = rest.rsplit_once('-') else {
            return;
        };
        let Ok(id) = id.parse::<u32>() else { return };
        let k = (name.to_owned(), id);
        let parsed = value.and_then(|v| serde_json::from_slice::<Value>(v).ok());
        match parsed {
            Some(v) => {
                let s = |f: &str| v.get(f).and_then(Value::as_str).map(str::to_owned);
                self.tasks.insert(
                    k,
                    TaskState {
                        state: s("state").unwrap_or_else(|| "UNASSIGNED".into()),
                        trace: s("trace"),
                        worker_id: s("worker_id").unwrap_or_default(),
                    },
                );
            }
            None => {
                self.tasks.remove(&k);
            }
        }
    }

    /// The state of task `id` of `name`, if one was written.
    pub fn task(&self, name: &str, id: u32) -> Option<&TaskState> {
        self.tasks.get(&(name.to_owned(), id))
    }

    /// The topics connector `name` wrote to (since they were last reset), sorted.
    pub fn topics(&self, name: &str) -> Vec<String> {
        self.topics
            .iter()
            .filter(|(c, _)| c == name)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(key: &str, value: Option<Vec<u8>>, op: Option<&str>, write: &str) -> ConfigRecord {
        ConfigRecord {
            key: key.into(),
            value,
            op: op.map(Into::into),
            write: Some(write.into()),
        }
    }

    fn cfg(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn connect_formats() {
        let c = cfg(&[("name", "a"), ("tasks.max", "2")]);
        assert_eq!(
            String::from_utf8(connector_value(&c)).unwrap(),
            r#"{"properties":{"name":"a","tasks.max":"2"}}"#
        );
        assert_eq!(
            String::from_utf8(target_value(TargetState::Stopped)).unwrap(),
            r#"{"state":"PAUSED","state.v2":"STOPPED"}"#
        );
        assert_eq!(task_status_key("a-b", 3), "status-task-a-b-3");
        let mut st = ClusterStatus::default();
        st.apply(
            &task_status_key("a-b", 3),
            Some(&task_status_value("RUNNING", None, "h:1")),
        );
        assert_eq!(st.task("a-b", 3).unwrap().worker_id, "h:1");
        let key = topic_status_key("out-1", "a-b");
        assert_eq!(key, "status-topic-out-1:connector-a-b");
        st.apply(&key, Some(&topic_status_value("out-1", "a-b", 0, 1)));
        assert_eq!(st.topics("a-b"), ["out-1"]);
        assert!(st.topics("a").is_empty());
        st.apply(&key, None);
        assert!(st.topics("a-b").is_empty());
        st.apply(&task_status_key("a-b", 3), None);
        assert!(st.task("a-b", 3).is_none());
        // Connect's own v1 target state record.
        let mut cc = ClusterConfig::default();
        cc.apply(&rec(
            "target-state-a",
            Some(br#"{"state":"PAUSED"}"#.to_vec()),
            None,
            "",
        ));
        assert_eq!(cc.target("a"), TargetState::Paused);
        cc.apply(&rec("target-state-a", None, None, ""));
        assert_eq!(cc.target("a"), TargetState::Running);
    }

    #[test]
    fn first_create_wins_updates_last_writer_wins() {
        let mut cc = ClusterConfig::default();
        let one = cfg(&[("name", "a"), ("tasks.max", "1")]);
        let two = cfg(&[("name", "a"), ("tasks.max", "2")]);
        cc.apply(&rec(
            "connector-a",
            Some(connector_value(&one)),
            Some("create"),
            "w1",
        ));
        cc.apply(&rec(
            "connector-a",
            Some(connector_value(&two)),
            Some("create"),
            "w2",
        ));
        let e = cc.connector("a").unwrap();
        assert_eq!((e.created_by.as_str(), &e.config), ("w1", &one));
        cc.apply(&rec(
            "connector-a",
            Some(connector_value(&two)),
            Some("put"),
            "w3",
        ));
        let e = cc.connector("a").unwrap();
        assert_eq!(
            (e.created_by.as_str(), e.written_by.as_str(), &e.config),
            ("w1", "w3", &two)
        );
        cc.apply(&rec("connector-a", None, None, "w4"));
        assert!(cc.connector("a").is_none());
        cc.apply(&rec("connector-a", Some(b"not json".to_vec()), None, "w5"));
        assert!(cc.connector("a").is_none());
        assert_eq!(cc.skipped.len(), 1);
        // A create after a delete makes the connector anew.
        cc.apply(&rec(
            "connector-a",
            Some(connector_value(&one)),
            Some("create"),
            "w6",
        ));
        assert_eq!(cc.connector("a").unwrap().created_by, "w6");
    }

    #[test]
    fn restart_requests_are_numbered_in_log_order() {
        let mut cc = ClusterConfig::default();
        assert_eq!(cc.restart_seq(), 0);
        cc.apply(&rec(
            &restart_key("a-b"),
            Some(restart_value(true, true)),
            None,
            "w1",
        ));
        cc.apply(&rec(
            &restart_task_key("a-b", 2),
            Some(b"{}".to_vec()),
            None,
            "w2",
        ));
        // A tombstone (compaction, an operator) is no request; Connect's own record is one.
        cc.apply(&rec(&restart_key("a-b"), None, None, "w3"));
        cc.apply(&rec(
            "restart-connector-c",
            Some(br#"{"include-tasks":true}"#.to_vec()),
            None,
            "",
        ));
        assert_eq!(cc.restart_seq(), 3);
        let (all, missed) = cc.restarts_after(0);
        assert_eq!(missed, 0);
        assert_eq!(
            all,
            vec![
                RestartRequest {
                    connector: "a-b".into(),
                    task: None,
                    include_tasks: true,
                    only_failed: true
                },
                RestartRequest {
                    connector: "a-b".into(),
                    task: Some(2),
                    include_tasks: false,
                    only_failed: false
                },
                RestartRequest {
                    connector: "c".into(),
                    task: None,
                    include_tasks: true,
                    only_failed: false
                },
            ]
        );
        assert_eq!(cc.restarts_after(2).0.len(), 1);
        assert!(cc.restarts_after(3).0.is_empty());
        // Only the last RESTARTS_KEPT are kept; a reader further behind learns how many it
        // missed.
        for _ in 0..RESTARTS_KEPT {
            cc.apply(&rec(
                &restart_key("a"),
                Some(restart_value(true, false)),
                None,
                "",
            ));
        }
        let (kept, missed) = cc.restarts_after(0);
        assert_eq!((kept.len(), missed), (RESTARTS_KEPT, 3));
        assert!(cc.connectors().is_empty(), "restart records create nothing");
    }

    proptest! {
        /// Whatever the interleaving of concurrent creates and updates, every worker folding
        /// the same log reaches the same state, and a connector's creator is the first create
        /// after its last delete.
        #[test]
        fn same_log_same_state(ops in proptest::collection::vec((0u8..4, 0u8..3), 0..40)) {
            let log: Vec<ConfigRecord> = ops.iter().enumerate().map(|(i, (kind, n))| {
                let name = format!("c{n}");
                let c = cfg(&[("name", &name), ("v", &i.to_string())]);
                match kind {
                    0 => rec(&connector_key(&name), Some(connector_value(&c)), Some("create"), &format!("w{i}")),
                    1 => rec(&connector_key(&name), Some(connector_value(&c)), Some("put"), &format!("w{i}")),
                    2 => rec(&connector_key(&name), None, None, &format!("w{i}")),
                    _ => rec(&target_key(&name), Some(target_value(TargetState::Paused)), None, &format!("w{i}")),
                }
            }).collect();
            let mut a = ClusterConfig::default();
            let mut b = ClusterConfig::default();
            log.iter().for_each(|r| a.apply(r));
            log.iter().for_each(|r| b.apply(r));
            prop_assert_eq!(&a, &b);
            for (name, entry) in a.connectors() {
                let key = connector_key(name);
                let last_delete = log.iter().rposition(|r| r.key == key && r.value.is_none());
                let after = last_delete.map_or(0, |i| i + 1);
                let first = log[after..].iter().find(|r| r.key == key).unwrap();
                prop_assert_eq!(Some(&entry.created_by), first.write.as_ref());
            }
        }
    }
}
