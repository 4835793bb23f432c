//! Kafka Connect's topic creation for source connectors (KIP-158): the connector's
//! `topic.creation.*` keys ([`TOPIC_CREATION`]) and the rules they make
//! ([`TopicCreationSettings`]): which group's partitions, replication factor and topic configs a
//! topic the connector writes to is created with. The worker's `topic.creation.enable` decides
//! whether they are used; `kafka::topics` creates the topics.
//!
//! As in Connect (`SourceConnectorConfig`, `TopicCreationConfig`, `TopicCreationGroup`): topic
//! creation applies to a connector with at least one `topic.creation.` key; then
//! `topic.creation.default.replication.factor` and `topic.creation.default.partitions` are
//! required. `topic.creation.groups` lists further groups in order; a topic goes to the first
//! group whose `include` regexes match its whole name and whose `exclude` regexes do not (an
//! exclusion wins), else to the `default` group. A group's partitions and replication factor
//! default to the default group's; every other `topic.creation.<group>.<name>` is a topic config
//! the broker gets (`cleanup.policy`, `retention.ms`, ...). `-1` means the broker's default.

use std::collections::BTreeSet;

use regex::Regex;

use super::defs::{optional, KeyDef, Kind, PrefixDef};
use super::registry::{KeySet, Keys, Owner};
use super::{nearest, split_list, Settings};
use crate::error::Result;

/// The prefix of every topic creation key.
pub const TOPIC_CREATION_PREFIX: &str = "topic.creation.";

/// The name of the group every topic no other group takes belongs to.
pub const DEFAULT_GROUP: &str = "default";

/// `-1`, the broker's default partitions or replication factor.
pub const BROKER_DEFAULT: i32 = -1;

/// The topic configs Kafka's brokers know (Kafka's `TopicConfig`), for "did you mean".
pub const KAFKA_TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.type",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.downconversion.enable",
    "message.format.version",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// Prefixes of vendors' own topic configs, passed to the broker unchecked.
pub const VENDOR_TOPIC_CONFIG_PREFIXES: &[&str] = &["confluent.", "redpanda."];

/// -1 or a positive `i16`, as Connect's replication factor.
const REPLICATION: Kind = Kind::Int {
    min: -1,
    max: i16::MAX as i64,
};

/// -1 or a positive `i32`, as Connect's partitions.
const PARTITIONS: Kind = Kind::Int {
    min: -1,
    max: i32::MAX as i64,
};

/// The topic creation keys of a connector.
pub const TOPIC_CREATION_KEYS: &[KeyDef] = &[
    optional(
        "topic.creation.groups",
        Kind::List,
        "Kafka Connect's topic creation groups (KIP-158), in order: a topic the connector writes to is created with the settings of the first group whose `topic.creation.<group>.include` regexes match its whole name and whose `topic.creation.<group>.exclude` regexes do not (an exclusion wins), else with the `default` group's. Topic creation applies to a connector with any `topic.creation.` key while the worker's `topic.creation.enable` is true; see docs/kafka.md.",
    ),
    optional(
        "topic.creation.default.replication.factor",
        REPLICATION,
        "Replication factor of the topics the connector creates (the `default` group's, and any group's that sets none); -1: the broker's default. Required once any `topic.creation.` key is set.",
    ),
    optional(
        "topic.creation.default.partitions",
        PARTITIONS,
        "Partitions of the topics the connector creates (the `default` group's, and any group's that sets none); -1: the broker's default. Required once any `topic.creation.` key is set.",
    ),
];

/// The per-group keys, passed by prefix.
pub const TOPIC_CREATION_PREFIXES: &[PrefixDef] = &[PrefixDef {
    prefix: TOPIC_CREATION_PREFIX,
    doc: "Per group listed in `topic.creation.groups`: `topic.creation.<group>.include` and `.exclude` (comma-separated regexes, each matching a whole topic name), `.replication.factor` and `.partitions` (default: the `default` group's); any other `topic.creation.<group>.<config>` (the `default` group's too) is a topic config the broker gets when it creates the topic, e.g. `topic.creation.default.cleanup.policy=compact`, `topic.creation.logs.retention.ms=86400000`. Kafka's topic config names are checked (with \"did you mean\"); names under `confluent.` and `redpanda.` pass unchecked.",
}];

/// Topic creation: a part of every connector.
pub const TOPIC_CREATION: KeySet = KeySet {
    owner: Owner::Part("topic creation"),
    doc: "Creating the topics the connector writes to before its first record goes there, with the partitions, replication factor and topic configs given here (Kafka Connect's KIP-158); see docs/kafka.md.",
    keys: TOPIC_CREATION_KEYS,
    prefixes: TOPIC_CREATION_PREFIXES,
    check: None,
};

/// One topic creation group: which topics it takes and how they are created.
#[derive(Debug, Clone)]
pub struct TopicCreationGroup {
    /// The group's name (`default` for the default group).
    pub name: String,
    /// The topics it takes (whole names); `None`: every topic (the default group).
    include: Option<Regex>,
    /// The topics it never takes (whole names).
    exclude: Option<Regex>,
    /// Partitions; -1: the broker's default.
    pub partitions: i32,
    /// Replication factor; -1: the broker's default.
    pub replication_factor: i32,
    /// Topic configs the broker gets (`cleanup.policy`, `retention.ms`, ...).
    pub configs: Settings,
}

impl TopicCreationGroup {
    /// True when this group takes `topic`: an include regex matches its whole name and no
    /// exclude regex does.
    pub fn matches(&self, topic: &str) -> bool {
        !self.exclude.as_ref().is_some_and(|r| r.is_match(topic))
            && self.include.as_ref().is_none_or(|r| r.is_match(topic))
    }
}

/// The topic creation rules of a connector: its groups in order, then the default group.
#[derive(Debug, Clone)]
pub struct TopicCreationSettings {
    /// The groups of `topic.creation.groups`, in order.
    pub groups: Vec<TopicCreationGroup>,
    /// The `default` group.
    pub default: TopicCreationGroup,
}

impl TopicCreationSettings {
    /// The group `topic` is created with: the first listed group that takes it, else the
    /// default group.
    pub fn group_for(&self, topic: &str) -> &TopicCreationGroup {
        self.groups
            .iter()
            .find(|g| g.matches(topic))
            .unwrap_or(&self.default)
    }
}

/// The regexes of `list` as one regex matching whole names, or the problem (naming `key`).
fn whole_name_regex(key: &str, list: &str) -> std::result::Result<Option<Regex>, String> {
    let items = split_list(list);
    if items.is_empty() {
        return Ok(None);
    }
    for item in &items {
        if let Err(e) = Regex::new(item) {
            return Err(format!("{key}: {item:?} is not a valid regex: {e}"));
        }
    }
    let joined = items
        .iter()
        .map(|i| format!("(?:{i})"))
        .collect::<Vec<_>>()
        .join("|");
    Regex::new(&format!("^(?:{joined})$"))
        .map(Some)
        .map_err(|e| format!("{key}: {e}"))
}

/// A `-1`-or-positive count (`what`) of `key`, or the problem.
fn count(key: &str, value: &str, max: i64) -> std::result::Result<i32, String> {
    match value.trim().parse::<i64>() {
        Ok(n) if n == i64::from(BROKER_DEFAULT) || (1..=max).contains(&n) => Ok(n as i32),
        Ok(n) => Err(format!(
            "{key}: {n} is not valid; expected a positive number (at most {max}), or -1 for the broker's default"
        )),
        Err(_) => Err(format!("{key}: {value:?} is not an integer")),
    }
}

/// The topic creation rules the settings ask for (`None` when no `topic.creation.` key is set),
/// or every problem with them.
pub(super) fn topic_creation(
    r: &Keys<'_>,
) -> Result<std::result::Result<Option<TopicCreationSettings>, Vec<String>>> {
    let settings = r.settings();
    let keys: Vec<(&String, &String)> = settings
        .iter()
        .filter(|(k, _)| k.starts_with(TOPIC_CREATION_PREFIX))
        .collect();
    if keys.is_empty() {
        return Ok(Ok(None));
    }
    let mut problems = Vec::new();
    let listed = r.list("topic.creation.groups")?;
    let mut names: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for name in listed {
        if !seen.insert(name.clone()) {
            problems.push(format!(
                "topic.creation.groups: {name:?} is listed twice; list each group once"
            ));
        } else if name != DEFAULT_GROUP {
            // Connect always has the default group; listing it changes nothing.
            names.push(name);
        }
    }
    // Each key belongs to the group whose name is the longest prefix of what follows
    // `topic.creation.`.
    let mut all_groups: Vec<&str> = names.iter().map(String::as_str).collect();
    all_groups.push(DEFAULT_GROUP);
    let mut per_group: Vec<Settings> = vec![Settings::new(); all_groups.len()];
    for (key, value) in &keys {
        if key.as_str() == "topic.creation.groups" {
            continue;
        }
        let rest = &key[TOPIC_CREATION_PREFIX.len()..];
        let owner = all_groups
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                rest.len() > g.len() + 1 && rest.starts_with(*g) && rest.as_bytes()[g.len()] == b'.'
            })
            .max_by_key(|(_, g)| g.len());
        match owner {
            Some((i, g)) => {
                per_group[i].insert(rest[g.len() + 1..].to_owned(), (*value).clone());
            }
            None => {
                let group = rest.split('.').next().unwrap_or_default();
                let hint = if group == "enable" {
                    "; topic.creation.enable is a worker key: set it in the worker file".to_owned()
                } else {
                    format!(
                        "; add {group:?} to topic.creation.groups{}",
                        nearest(group, all_groups.iter().copied())
                            .map(|n| format!(" (or did you mean the group {n:?}?)"))
                            .unwrap_or_default()
                    )
                };
                problems.push(format!(
                    "{key}: {group:?} is not a topic creation group{hint}"
                ));
            }
        }
    }
    let default_settings = per_group.pop().unwrap_or_default();
    let group = |name: &str,
                 own: &Settings,
                 fallback: Option<(i32, i32)>,
                 problems: &mut Vec<String>|
     -> TopicCreationGroup {
        let key = |s: &str| format!("{TOPIC_CREATION_PREFIX}{name}.{s}");
        let mut include = None;
        let mut exclude = None;
        let mut partitions = fallback.map(|f| f.0);
        let mut replication = fallback.map(|f| f.1);
        let mut configs = Settings::new();
        for (setting, value) in own {
            let k = key(setting);
            match setting.as_str() {
                "include" | "exclude" if name == DEFAULT_GROUP => problems.push(format!(
                    "{k}: the default group takes every topic no other group takes, so it has no {setting} (Kafka Connect ignores it); list a group in topic.creation.groups instead"
                )),
                "include" => match whole_name_regex(&k, value) {
                    Ok(r) => include = r,
                    Err(p) => problems.push(p),
                },
                "exclude" => match whole_name_regex(&k, value) {
                    Ok(r) => exclude = r,
                    Err(p) => problems.push(p),
                },
                "partitions" => match count(&k, value, i64::from(i32::MAX)) {
                    Ok(n) => partitions = Some(n),
                    Err(p) => problems.push(p),
                },
                "replication.factor" => match count(&k, value, i64::from(i16::MAX)) {
                    Ok(n) => replication = Some(n),
                    Err(p) => problems.push(p),
                },
                config => {
                    let vendor = VENDOR_TOPIC_CONFIG_PREFIXES
                        .iter()
                        .any(|p| config.starts_with(p));
                    if vendor || KAFKA_TOPIC_CONFIGS.contains(&config) {
                        configs.insert(config.to_owned(), value.clone());
                    } else {
                        let hint = nearest(config, KAFKA_TOPIC_CONFIGS.iter().copied())
                            .map(|n| format!("did you mean {:?}?", key(n)))
                            .unwrap_or_else(|| {
                                "a group's own keys are include, exclude, partitions and replication.factor; topic configs are Kafka's (see docs/kafka.md)".into()
                            });
                        problems.push(format!(
                            "{k}: {config:?} is not a topic config Kafka knows; {hint}"
                        ));
                    }
                }
            }
        }
        if name == DEFAULT_GROUP {
            for (setting, value) in [
                ("replication.factor", replication),
                ("partitions", partitions),
            ] {
                if value.is_none() && !own.contains_key(setting) {
                    problems.push(format!(
                        "{}: required once any topic.creation. key is set (Kafka Connect's rule): the {setting} of the topics the connector creates, or -1 for the broker's default",
                        key(setting)
                    ));
                }
            }
        } else if include.is_none() {
            problems.push(format!(
                "{}: required for the group {name:?} listed in topic.creation.groups (without it the group takes no topic); e.g. {}=^logs-.*",
                key("include"),
                key("include")
            ));
        }
        TopicCreationGroup {
            name: name.to_owned(),
            include,
            exclude,
            partitions: partitions.unwrap_or(BROKER_DEFAULT),
            replication_factor: replication.unwrap_or(BROKER_DEFAULT),
            configs,
        }
    };
    let default = group(DEFAULT_GROUP, &default_settings, None, &mut problems);
    let fallback = Some((default.partitions, default.replication_factor));
    let groups = names
        .iter()
        .zip(&per_group)
        .map(|(name, own)| group(name, own, fallback, &mut problems))
        .collect();
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    Ok(Ok(Some(TopicCreationSettings { groups, default })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Registry;

    fn parse(
        pairs: &[(&str, &str)],
    ) -> std::result::Result<Option<TopicCreationSettings>, Vec<String>> {
        let registry = Registry::new([TOPIC_CREATION]).unwrap();
        let settings: Settings = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(registry.check_keys(&settings).is_empty());
        topic_creation(&Keys::new(&registry, &settings)).unwrap()
    }

    fn problems(pairs: &[(&str, &str)]) -> String {
        parse(pairs).unwrap_err().join("\n")
    }

    #[test]
    fn no_key_no_topic_creation() {
        assert!(parse(&[]).unwrap().is_none());
    }

    #[test]
    fn the_first_matching_group_wins_else_the_default() {
        let s = parse(&[
            ("topic.creation.groups", "compacted,logs"),
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.retention.ms", "60000"),
            ("topic.creation.compacted.include", "state-.*, .*-changelog"),
            ("topic.creation.compacted.exclude", "state-tmp"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
            ("topic.creation.logs.include", "log.*,state-.*"),
            ("topic.creation.logs.partitions", "5"),
            ("topic.creation.logs.replication.factor", "2"),
        ])
        .unwrap()
        .unwrap();
        let g = s.group_for("state-orders");
        assert_eq!(g.name, "compacted");
        assert_eq!(
            (g.partitions, g.replication_factor),
            (3, -1),
            "the default's"
        );
        assert_eq!(g.configs["cleanup.policy"], "compact");
        assert!(
            !g.configs.contains_key("retention.ms"),
            "a group's configs are its own"
        );
        assert_eq!(s.group_for("users-changelog").name, "compacted");
        // Excluded from the first group: the next one that takes it.
        let g = s.group_for("state-tmp");
        assert_eq!(
            (g.name.as_str(), g.partitions, g.replication_factor),
            ("logs", 5, 2)
        );
        assert_eq!(s.group_for("logs").name, "logs");
        // Whole names only: "xlogs" is not matched by "log.*".
        let g = s.group_for("xlogs");
        assert_eq!((g.name.as_str(), g.partitions), ("default", 3));
        assert_eq!(g.configs["retention.ms"], "60000");
    }

    #[test]
    fn the_defaults_are_required_and_checked() {
        let p = problems(&[("topic.creation.default.cleanup.policy", "compact")]);
        assert!(
            p.contains("topic.creation.default.replication.factor: required")
                && p.contains("topic.creation.default.partitions: required"),
            "{p}"
        );
        let p = problems(&[
            ("topic.creation.groups", "a,a,b"),
            ("topic.creation.default.replication.factor", "0"),
            ("topic.creation.default.partitions", "-1"),
            ("topic.creation.a.include", "("),
            ("topic.creation.a.partitions", "0"),
            ("topic.creation.c.include", "x"),
            ("topic.creation.default.include", "x"),
            ("topic.creation.default.retention.mss", "1"),
            ("topic.creation.default.foo", "1"),
            ("topic.creation.enable", "true"),
        ]);
        for needle in [
            "topic.creation.groups: \"a\" is listed twice",
            "topic.creation.default.replication.factor: 0 is not valid",
            "topic.creation.a.include: \"(\" is not a valid regex",
            "topic.creation.a.partitions: 0 is not valid",
            "topic.creation.b.include: required for the group \"b\"",
            "topic.creation.c.include: \"c\" is not a topic creation group; add \"c\" to topic.creation.groups",
            "topic.creation.default.include: the default group takes every topic",
            "topic.creation.default.retention.mss: \"retention.mss\" is not a topic config Kafka knows; did you mean \"topic.creation.default.retention.ms\"?",
            "topic.creation.default.foo: \"foo\" is not a topic config",
            "topic.creation.enable: \"enable\" is not a topic creation group; topic.creation.enable is a worker key",
        ] {
            assert!(p.contains(needle), "{needle:?} not in\n{p}");
        }
        let s = parse(&[
            ("topic.creation.groups", "default"),
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "-1"),
            (
                "topic.creation.default.confluent.placement.constraints",
                "{}",
            ),
        ])
        .unwrap()
        .unwrap();
        assert!(s.groups.is_empty(), "default is always there");
        assert_eq!(s.default.partitions, -1);
        assert_eq!(s.default.configs.len(), 1, "vendor configs pass");
    }
}
