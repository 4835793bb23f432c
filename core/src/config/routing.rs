//! The keys of record keys, partitions and topic routing ([`ROUTING`]) and of the connector's
//! rate limits ([`RATE_LIMITS`]), and how they become a [`Routing`] and a [`RateLimits`].
//! See docs/routing.md.

use super::defs::{key, optional, KeyDef, Kind, POSITIVE};
use super::registry::{KeySet, Keys, Owner};
use super::topic::topic_name_problem;
use crate::error::Result;
use crate::ratelimit::RateLimits;
use crate::routing::{FieldPath, KeyTemplate, RecordKey, RecordPartition, Routing, TopicRules};
use crate::template::{FileNameTemplate, Placeholder};

/// Keys of record keys, partitions and topic routing.
pub const ROUTING_KEYS: &[KeyDef] = &[
    key(
        "record.key",
        Kind::Enum(&["object_key", "none", "field", "template"]),
        "object_key",
        "Record key: `object_key` (the object key, a string), `none` (a null key), `field` (the field `record.key.field` of each record's value, with its schema) or `template` (the string `record.key.template` makes of the object key's `file.name.template` captures). See docs/routing.md.",
    ),
    optional(
        "record.key.field",
        Kind::String,
        "With `record.key=field`: the field of the record's value that becomes its key, a dotted path into nested structs and maps (`customer.id`). A record without the field gets a null key (as Kafka Connect's `ExtractField` on schemaless values).",
    ),
    optional(
        "record.key.template",
        Kind::String,
        "With `record.key=template`: the key of every record of an object, from the placeholders `file.name.template` captured in its key, e.g. `{{topic}}-{{partition}}` (`{{topic}}`, `{{partition}}`, `{{start_offset}}`, `{{timestamp}}`; each must be in `file.name.template`).",
    ),
    key(
        "record.partition",
        Kind::Enum(&["template", "key_hash", "fixed"]),
        "template",
        "Kafka partition of each record: `template` (the `{{partition}}` of `file.name.template` when it has one, else the producer's partitioner), `key_hash` (always the producer's partitioner: murmur2 of the key as Kafka's Java client, sticky when the key is null) or `fixed` (`record.partition.fixed`).",
    ),
    optional(
        "record.partition.fixed",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "With `record.partition=fixed`: the partition every record goes to (it must exist in every topic the connector writes).",
    ),
    optional(
        "topic.regex.list",
        Kind::List,
        "Topic per object by its key: `topicA:regexA,topicB:regexB`; an object goes to the topic of the first rule whose regex matches somewhere in its key (anchor with `^...$`), e.g. `orders:^orders/.*\\.jsonl$,clicks:^clicks/`. An object matching no rule is not read: it is logged, counted (metric `objects_unrouted`) and looked at again by later listings; no offset is stored for it. Not with `topic` or a `{{topic}}` in `file.name.template`.",
    ),
];

/// Record keys, partitions and topic routing: a part of every connector.
pub const ROUTING: KeySet = KeySet {
    owner: Owner::Part("routing"),
    doc:
        "Each record's key, its Kafka partition and the topic of each object (see docs/routing.md).",
    keys: ROUTING_KEYS,
    prefixes: &[],
    check: None,
};

/// Keys of the connector's rate limits.
pub const RATE_LIMIT_KEYS: &[KeyDef] = &[
    optional(
        "max.records.per.second",
        POSITIVE,
        "Records per second the connector's tasks produce at most, all tasks together (a token bucket holding a tenth of a second's worth, so a backfill never bursts). Unset: no limit. Time spent waiting is the metric `throttled_ms`.",
    ),
    optional(
        "max.bytes.per.second",
        POSITIVE,
        "Bytes per second (keys and values as converted) the connector's tasks produce at most, all tasks together; a record larger than a tenth of a second's worth waits for its whole size. Unset: no limit.",
    ),
];

/// The connector's rate limits: a part of every connector.
pub const RATE_LIMITS: KeySet = KeySet {
    owner: Owner::Part("rate limits"),
    doc: "Limits on what all the connector's tasks produce together (see docs/routing.md).",
    keys: RATE_LIMIT_KEYS,
    prefixes: &[],
    check: None,
};

/// `max.records.per.second` and `max.bytes.per.second` (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `max.records.per.second`.
    pub records_per_second: Option<u64>,
    /// `max.bytes.per.second`.
    pub bytes_per_second: Option<u64>,
}

impl RateLimitSettings {
    /// The connector's shared token buckets, `None` without limits.
    pub fn build(&self) -> Option<RateLimits> {
        RateLimits::new(self.records_per_second, self.bytes_per_second)
    }
}

/// The rate limits the settings ask for.
pub(super) fn rate_limits(r: &Keys<'_>) -> Result<RateLimitSettings> {
    let get = |name: &str| -> Result<Option<u64>> {
        Ok(r.raw(name)?.and_then(|v| v.parse::<u64>().ok()))
    };
    Ok(RateLimitSettings {
        records_per_second: get("max.records.per.second")?,
        bytes_per_second: get("max.bytes.per.second")?,
    })
}

/// The routing the settings ask for, or every problem with it. `template` is the parsed
/// `file.name.template`, `topic_set` whether `topic` is given.
pub(super) fn routing(
    r: &Keys<'_>,
    template: Option<&FileNameTemplate>,
    topic_set: bool,
) -> Result<std::result::Result<Routing, Vec<String>>> {
    let mut problems = Vec::new();
    let choice = r.raw("record.key")?.unwrap_or("object_key");
    let field = r.raw("record.key.field")?;
    let key_template = r.raw("record.key.template")?;
    for (name, value, needs) in [
        ("record.key.field", field, "field"),
        ("record.key.template", key_template, "template"),
    ] {
        if value.is_some() && choice != needs {
            problems.push(format!(
                "{name}: set, but record.key is {choice}, so it would be ignored; set record.key={needs} or remove {name}"
            ));
        }
    }
    let key = match choice {
        "none" => RecordKey::None,
        "field" => match field.map(FieldPath::parse) {
            Some(Ok(path)) => RecordKey::Field(path),
            Some(Err(e)) => {
                problems.push(format!("record.key.field: {e}"));
                RecordKey::None
            }
            None => {
                problems.push("record.key.field: required with record.key=field; name the field of the value that becomes the key, e.g. id or customer.id".into());
                RecordKey::None
            }
        },
        "template" => match key_template.map(KeyTemplate::parse) {
            Some(Ok(t)) => {
                for p in t.placeholders() {
                    if !template.is_some_and(|ft| ft.has(p)) {
                        problems.push(format!(
                            "record.key.template: uses {p}, which file.name.template {} does not capture; add it to file.name.template or remove it from the key",
                            template.map_or("(unset)".to_owned(), |t| format!("{:?}", t.as_str()))
                        ));
                    }
                }
                RecordKey::Template(t)
            }
            Some(Err(e)) => {
                problems.push(format!("record.key.template: {e}"));
                RecordKey::None
            }
            None => {
                problems.push("record.key.template: required with record.key=template, e.g. {{topic}}-{{partition}}".into());
                RecordKey::None
            }
        },
        _ => RecordKey::ObjectKey,
    };

    let fixed = r.raw("record.partition.fixed")?;
    let partition = match r.raw("record.partition")?.unwrap_or("template") {
        "fixed" => match fixed.and_then(|v| v.parse::<i32>().ok()) {
            Some(p) => RecordPartition::Fixed(p),
            None => {
                problems.push("record.partition.fixed: required with record.partition=fixed; the partition every record goes to".into());
                RecordPartition::KeyHash
            }
        },
        other => {
            if fixed.is_some() {
                problems.push(format!(
                    "record.partition.fixed: set, but record.partition is {other}, so it would be ignored; set record.partition=fixed or remove it"
                ));
            }
            if other == "key_hash" {
                RecordPartition::KeyHash
            } else {
                RecordPartition::Template
            }
        }
    };

    let topic_rules = match r.raw("topic.regex.list")? {
        None => None,
        Some(list) => {
            if topic_set {
                problems.push("topic.regex.list: set together with topic; an object matching no rule is skipped, never sent to topic: remove one of them (a last rule `mytopic:.*` sends every other object to mytopic)".into());
            }
            if template.is_some_and(|t| t.has(Placeholder::Topic)) {
                problems.push("topic.regex.list: set, but file.name.template has {{topic}}, which would decide the topic of every object; remove one of them".into());
            }
            match TopicRules::parse(list) {
                Ok(rules) => {
                    for t in rules.topics() {
                        if let Some(p) = topic_name_problem(t) {
                            problems.push(format!("topic.regex.list: {p}"));
                        }
                    }
                    Some(rules)
                }
                Err(ps) => {
                    problems.extend(ps.into_iter().map(|p| format!("topic.regex.list: {p}")));
                    None
                }
            }
        }
    };
    Ok(if problems.is_empty() {
        Ok(Routing {
            key,
            partition,
            topic_rules,
        })
    } else {
        Err(problems)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Registry, Settings, CONNECTOR_SETS};

    fn read(
        pairs: &[(&str, &str)],
        template: Option<&str>,
        topic_set: bool,
    ) -> std::result::Result<Routing, Vec<String>> {
        let registry = Registry::new(CONNECTOR_SETS).unwrap();
        let settings: Settings = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let template = template.map(|t| FileNameTemplate::parse(t).unwrap());
        routing(
            &Keys::new(&registry, &settings),
            template.as_ref(),
            topic_set,
        )
        .unwrap()
    }

    fn problems(pairs: &[(&str, &str)], template: Option<&str>, topic_set: bool) -> String {
        read(pairs, template, topic_set).unwrap_err().join("\n")
    }

    #[test]
    fn defaults_are_todays_behaviour() {
        assert_eq!(read(&[], None, true).unwrap(), Routing::default());
    }

    #[test]
    fn each_key_choice_needs_its_option() {
        let r = read(
            &[("record.key", "field"), ("record.key.field", "a.b")],
            None,
            true,
        )
        .unwrap();
        assert_eq!(r.key, RecordKey::Field(FieldPath::parse("a.b").unwrap()));
        let p = problems(&[("record.key", "field")], None, true);
        assert!(p.contains("record.key.field: required"), "{p}");
        let p = problems(&[("record.key.field", "id")], None, true);
        assert!(
            p.contains("record.key is object_key, so it would be ignored"),
            "{p}"
        );
        let p = problems(
            &[("record.key", "field"), ("record.key.field", "a..b")],
            None,
            true,
        );
        assert!(p.contains("segment 2 is empty"), "{p}");

        let tpl = Some("{{topic}}/{{partition}}.jsonl");
        let r = read(
            &[
                ("record.key", "template"),
                ("record.key.template", "{{topic}}-{{partition}}"),
            ],
            tpl,
            true,
        )
        .unwrap();
        assert!(matches!(r.key, RecordKey::Template(_)));
        let p = problems(
            &[
                ("record.key", "template"),
                ("record.key.template", "{{start_offset}}"),
            ],
            tpl,
            true,
        );
        assert!(
            p.contains("uses {{start_offset}}, which file.name.template"),
            "{p}"
        );
        let p = problems(&[("record.key", "template")], None, true);
        assert!(p.contains("record.key.template: required"), "{p}");
    }

    #[test]
    fn partitions() {
        let r = read(
            &[
                ("record.partition", "fixed"),
                ("record.partition.fixed", "3"),
            ],
            None,
            true,
        )
        .unwrap();
        assert_eq!(r.partition, RecordPartition::Fixed(3));
        let r = read(&[("record.partition", "key_hash")], None, true).unwrap();
        assert_eq!(r.partition, RecordPartition::KeyHash);
        let p = problems(&[("record.partition", "fixed")], None, true);
        assert!(p.contains("record.partition.fixed: required"), "{p}");
        let p = problems(&[("record.partition.fixed", "1")], None, true);
        assert!(
            p.contains("record.partition is template, so it would be ignored"),
            "{p}"
        );
    }

    #[test]
    fn topic_rules_are_checked_and_exclusive() {
        let r = read(&[("topic.regex.list", "a:^a/,b:^b/")], None, false).unwrap();
        assert_eq!(
            r.topic_rules.unwrap().topics().collect::<Vec<_>>(),
            ["a", "b"]
        );
        let p = problems(&[("topic.regex.list", "a:^a/")], None, true);
        assert!(p.contains("set together with topic"), "{p}");
        let p = problems(
            &[("topic.regex.list", "a:^a/")],
            Some("{{topic}}.jsonl"),
            false,
        );
        assert!(p.contains("file.name.template has {{topic}}"), "{p}");
        let p = problems(&[("topic.regex.list", "a:(,b:x")], None, false);
        assert!(
            p.contains("topic.regex.list: rule \"a:(\": the regex does not compile"),
            "{p}"
        );
        let p = problems(&[("topic.regex.list", "..:x")], None, false);
        assert!(p.contains("not a valid topic name"), "{p}");
    }
}
