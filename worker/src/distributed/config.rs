//! [`DistributedConfig`]: the worker keys of distributed mode (`group.id`, the config, status
//! and offsets topics, the group's timeouts), as Kafka Connect's distributed worker names them.
//! The keys are declared with the other worker keys (`sluice_core::config::defs::WORKER_KEYS`),
//! so a worker file is checked strictly once; this reads them.

use std::time::Duration;

use sluice_core::config::{defs, Keys, Registry, Settings};

use crate::{Error, Result};

/// Distributed mode's settings, read from a worker file that sets `group.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributedConfig {
    /// `group.id`: the Kafka group every worker of the cluster joins.
    pub group_id: String,
    /// `config.storage.topic`: connector configurations and target states (one partition).
    pub config_topic: String,
    /// `config.storage.replication.factor`.
    pub config_replication: i32,
    /// `status.storage.topic`: task states.
    pub status_topic: String,
    /// `status.storage.partitions`.
    pub status_partitions: i32,
    /// `status.storage.replication.factor` (also used for the per-connector task topics).
    pub status_replication: i32,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// `rebalance.timeout.ms` (the group consumer's `max.poll.interval.ms`).
    pub rebalance_timeout: Duration,
}

fn problem(message: String) -> Error {
    Error::Distributed {
        message,
        source: None,
    }
}

impl DistributedConfig {
    /// True when the worker settings ask for distributed mode (`group.id` is set).
    pub fn is_configured(settings: &Settings) -> bool {
        settings
            .get("group.id")
            .is_some_and(|v| !v.trim().is_empty())
    }

    /// Reads the distributed keys of a worker file already checked by
    /// [`WorkerConfig::from_settings`](sluice_core::config::WorkerConfig::from_settings),
    /// listing every problem: `group.id`, `config.storage.topic`, `status.storage.topic` and
    /// `offset.storage.topic` are required (and distinct), the heartbeat must fit the session
    /// three times, and `scheduled.rebalance.max.delay.ms` must be 0.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        let registry = Registry::new([defs::WORKER])?;
        let r = Keys::new(&registry, settings);
        let mut problems = Vec::new();
        let mut required = |key: &str| -> Result<String> {
            let v = r
                .string(key)?
                .map(|v| v.trim().to_owned())
                .unwrap_or_default();
            if v.is_empty() {
                problems.push(format!(
                    "{key} is required in distributed mode (group.id is set): every worker of the cluster must name the same one"
                ));
            }
            Ok(v)
        };
        let group_id = required("group.id")?;
        let config_topic = required("config.storage.topic")?;
        let status_topic = required("status.storage.topic")?;
        let offset_topic = required("offset.storage.topic")?;
        let topics = [
            ("config.storage.topic", &config_topic),
            ("status.storage.topic", &status_topic),
            ("offset.storage.topic", &offset_topic),
        ];
        for (i, (a, ta)) in topics.iter().enumerate() {
            for (b, tb) in &topics[i + 1..] {
                if !ta.is_empty() && ta == tb {
                    problems.push(format!(
                        "{a} and {b} are both {ta:?}: each needs a topic of its own"
                    ));
                }
            }
        }
        let ms = |key: &str| -> Result<Duration> { Ok(Duration::from_millis(r.int(key)? as u64)) };
        let session_timeout = ms("session.timeout.ms")?;
        let heartbeat_interval = ms("heartbeat.interval.ms")?;
        let rebalance_timeout = ms("rebalance.timeout.ms")?;
        if heartbeat_interval * 3 > session_timeout {
            problems.push(format!(
                "heartbeat.interval.ms={} is more than a third of session.timeout.ms={}: a worker would be declared dead between two heartbeats; lower it",
                heartbeat_interval.as_millis(),
                session_timeout.as_millis()
            ));
        }
        let shutdown = r.int("task.shutdown.graceful.timeout.ms")? as u128;
        if rebalance_timeout.as_millis() <= shutdown {
            problems.push(format!(
                "rebalance.timeout.ms={} is not above task.shutdown.graceful.timeout.ms={shutdown}: a worker giving up a task could be dropped from the group before the task has committed; raise it",
                rebalance_timeout.as_millis()
            ));
        }
        let delay = r.int("scheduled.rebalance.max.delay.ms")?;
        if delay != 0 {
            problems.push(format!(
                "scheduled.rebalance.max.delay.ms={delay}: only 0 is supported (Kafka's cooperative-sticky assignor reassigns a lost worker's tasks after session.timeout.ms); remove the key or set it to 0"
            ));
        }
        if !problems.is_empty() {
            return Err(Error::Core(Box::new(sluice_core::Error::Config {
                context: Some("worker (distributed mode)".into()),
                problems,
            })));
        }
        Ok(DistributedConfig {
            group_id,
            config_topic,
            config_replication: r.int("config.storage.replication.factor")? as i32,
            status_topic,
            status_partitions: r.int("status.storage.partitions")? as i32,
            status_replication: r.int("status.storage.replication.factor")? as i32,
            session_timeout,
            heartbeat_interval,
            rebalance_timeout,
        })
    }

    /// The topic whose partitions are the tasks of `connector` with `tasks` tasks: one
    /// partition per task. The name carries the task count, so a connector whose `tasks.max`
    /// changes gets a new topic (and every task restarts, as its slice of objects changes).
    /// Characters a topic name cannot hold are escaped as `_XX` (hex), `_` as `__`.
    pub fn task_topic(&self, connector: &str, tasks: u32) -> String {
        let mut escaped = String::new();
        for b in connector.bytes() {
            match b {
                b'_' => escaped.push_str("__"),
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => escaped.push(b as char),
                other => escaped.push_str(&format!("_{other:02X}")),
            }
        }
        format!("{}.tasks.{escaped}.{tasks}", self.config_topic)
    }

    /// Checks that a connector's task topic name fits Kafka's limit.
    pub fn check_task_topic(&self, connector: &str, tasks: u32) -> Result<()> {
        let topic = self.task_topic(connector, tasks);
        if topic.len() > sluice_core::config::MAX_TOPIC_LENGTH {
            return Err(problem(format!(
                "connector {connector:?}: its task topic {topic:?} would be longer than {} characters; use a shorter connector name or config.storage.topic",
                sluice_core::config::MAX_TOPIC_LENGTH
            )));
        }
        Ok(())
    }

    /// Decodes a task topic back into (connector, tasks), or `None` for another topic.
    pub fn parse_task_topic(&self, topic: &str) -> Option<(String, u32)> {
        let rest = topic.strip_prefix(&format!("{}.tasks.", self.config_topic))?;
        let (escaped, tasks) = rest.rsplit_once('.')?;
        let tasks: u32 = tasks.parse().ok()?;
        let bytes = escaped.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'_' {
                if bytes.get(i + 1) == Some(&b'_') {
                    out.push(b'_');
                    i += 2;
                } else {
                    let hex = escaped.get(i + 1..i + 3)?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                }
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        Some((String::from_utf8(out).ok()?, tasks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s: Settings = [
            ("bootstrap.servers", "k:9092"),
            ("group.id", "g"),
            ("config.storage.topic", "cfg"),
            ("status.storage.topic", "st"),
            ("offset.storage.topic", "off"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in pairs {
            s.insert((*k).to_owned(), (*v).to_owned());
        }
        s
    }

    #[test]
    fn defaults_are_kafka_connects() {
        let c = DistributedConfig::from_settings(&settings(&[])).unwrap();
        assert_eq!(c.session_timeout, Duration::from_secs(10));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.rebalance_timeout, Duration::from_secs(60));
        assert_eq!(c.status_partitions, 5);
        assert!(DistributedConfig::is_configured(&settings(&[])));
        assert!(!DistributedConfig::is_configured(&settings(&[(
            "group.id", " "
        )])));
    }

    #[test]
    fn every_problem_is_listed() {
        let mut s = settings(&[
            ("status.storage.topic", "cfg"),
            ("heartbeat.interval.ms", "5000"),
            ("scheduled.rebalance.max.delay.ms", "300000"),
        ]);
        s.remove("offset.storage.topic");
        let e = DistributedConfig::from_settings(&s)
            .unwrap_err()
            .to_string();
        for needle in [
            "offset.storage.topic is required",
            "config.storage.topic and status.storage.topic are both \"cfg\"",
            "heartbeat.interval.ms=5000",
            "scheduled.rebalance.max.delay.ms=300000",
        ] {
            assert!(e.contains(needle), "{needle} not in {e}");
        }
        let e = DistributedConfig::from_settings(&settings(&[("rebalance.timeout.ms", "5000")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rebalance.timeout.ms=5000 is not above"), "{e}");
    }

    #[test]
    fn task_topics_round_trip_any_name() {
        let c = DistributedConfig::from_settings(&settings(&[])).unwrap();
        for name in [
            "orders",
            "a_b",
            "a__b_",
            "with space/and:colon",
            "é",
            "x.y-z",
        ] {
            let t = c.task_topic(name, 7);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{t}"
            );
            assert_eq!(c.parse_task_topic(&t), Some((name.to_owned(), 7)), "{t}");
        }
        assert_eq!(c.task_topic("orders", 3), "cfg.tasks.orders.3");
        assert_eq!(c.parse_task_topic("other.tasks.orders.3"), None);
        assert_eq!(c.parse_task_topic("cfg.tasks.orders.x"), None);
        assert!(c.check_task_topic(&"n".repeat(300), 1).is_err());
    }
}
