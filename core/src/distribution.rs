//! Distribution strategies (`distribution.type`): which of the `tasks.max` tasks reads an object.
//!
//! Every object is read by exactly one task:
//! - `object_hash` (default): [`Distribution::stable_hash`] of the object key modulo `tasks.max`;
//! - `partition`: the `{{partition}}` value of the `file.name.template` match modulo `tasks.max`.
//!   An object whose match has no partition (or no match at all) falls back to `object_hash`, so
//!   it is still read by exactly one task.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::template::{FileNameTemplate, Placeholder, TemplateMatch};

/// How objects are spread over the tasks (`distribution.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DistributionType {
    /// `object_hash`: XXH3-64 of the object key modulo `tasks.max`.
    #[default]
    ObjectHash,
    /// `partition`: the template's `{{partition}}` modulo `tasks.max`.
    Partition,
}

impl DistributionType {
    /// Every distribution type.
    pub const ALL: [DistributionType; 2] =
        [DistributionType::ObjectHash, DistributionType::Partition];

    /// The configuration name (`"object_hash"`, `"partition"`).
    pub fn name(self) -> &'static str {
        match self {
            DistributionType::ObjectHash => "object_hash",
            DistributionType::Partition => "partition",
        }
    }
}

impl fmt::Display for DistributionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DistributionType {
    type Err = Error;

    /// Parses the configuration name (surrounding whitespace and case are ignored); the error
    /// suggests the nearest valid name.
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        if let Some(kind) = Self::ALL.into_iter().find(|k| k.name() == wanted) {
            return Ok(kind);
        }
        let nearest = Self::ALL
            .into_iter()
            .min_by_key(|k| strsim::levenshtein(&wanted, k.name()))
            .unwrap_or_default();
        Err(Error::config(format!(
            "distribution.type: unknown value {s:?}; did you mean {:?}? Valid values: {}",
            nearest.name(),
            Self::ALL.map(|k| k.name()).join(", ")
        )))
    }
}

/// Checks that `kind` can work with `template`: `partition` needs a template containing
/// `{{partition}}`. Returns a configuration error otherwise.
pub fn validate(kind: DistributionType, template: Option<&FileNameTemplate>) -> Result<()> {
    match (kind, template) {
        (DistributionType::ObjectHash, _) => Ok(()),
        (DistributionType::Partition, Some(t)) if t.has(Placeholder::Partition) => Ok(()),
        (DistributionType::Partition, Some(t)) => Err(Error::config(format!(
            "distribution.type=partition needs {{{{partition}}}} in file.name.template, which is {:?}: add it or use distribution.type=object_hash",
            t.as_str()
        ))),
        (DistributionType::Partition, None) => Err(Error::config(
            "distribution.type=partition needs a file.name.template containing {{partition}}: set one or use distribution.type=object_hash",
        )),
    }
}

/// The share of the objects one task reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Distribution {
    kind: DistributionType,
    task_id: u32,
    max_tasks: u32,
}

impl Distribution {
    /// The distribution of task `task_id` among `max_tasks` tasks; a configuration error unless
    /// `max_tasks >= 1` and `task_id < max_tasks`.
    pub fn new(kind: DistributionType, task_id: u32, max_tasks: u32) -> Result<Self> {
        if max_tasks == 0 {
            return Err(Error::config(
                "tasks.max: must be at least 1 (the number of tasks sharing the objects)",
            ));
        }
        if task_id >= max_tasks {
            return Err(Error::config(format!(
                "task id {task_id} is out of range: tasks.max is {max_tasks}, so task ids are 0..={}",
                max_tasks - 1
            )));
        }
        Ok(Distribution {
            kind,
            task_id,
            max_tasks,
        })
    }

    /// Checks that `kind` can work with `template`; see the module-level [`validate`].
    pub fn validate(kind: DistributionType, template: Option<&FileNameTemplate>) -> Result<()> {
        validate(kind, template)
    }

    /// The strategy.
    pub fn kind(&self) -> DistributionType {
        self.kind
    }

    /// This task's id (`0..max_tasks`).
    pub fn task_id(&self) -> u32 {
        self.task_id
    }

    /// The number of tasks.
    pub fn max_tasks(&self) -> u32 {
        self.max_tasks
    }

    /// True when this task reads the object `key` (`m` is its template match, if any).
    pub fn owns(&self, key: &str, m: Option<&TemplateMatch>) -> bool {
        Self::task_for(self.kind, key, m, self.max_tasks) == self.task_id
    }

    /// The task (`0..max_tasks`) that reads object `key` whose template match is `m`.
    ///
    /// `Partition` uses `m`'s partition; without one (no match, or a template without
    /// `{{partition}}`) it falls back to `ObjectHash`. A `max_tasks` of 0 is treated as 1.
    pub fn task_for(
        kind: DistributionType,
        key: &str,
        m: Option<&TemplateMatch>,
        max_tasks: u32,
    ) -> u32 {
        let max_tasks = u64::from(max_tasks.max(1));
        let by_partition = match kind {
            DistributionType::Partition => m.and_then(|m| m.partition),
            DistributionType::ObjectHash => None,
        };
        let task = match by_partition {
            Some(p) => i64::from(p).rem_euclid(max_tasks as i64) as u64,
            None => Self::stable_hash(key) % max_tasks,
        };
        task as u32
    }

    /// The hash `object_hash` uses: **XXH3-64** (XXH3, 64-bit output, seed 0, no secret) of the
    /// key's UTF-8 bytes.
    ///
    /// XXH3 is a published, versioned algorithm with fixed test vectors and identical output on
    /// every platform and endianness, so an object stays with the same task across restarts,
    /// upgrades and machines (unlike `std`'s `DefaultHasher`, which may change between Rust
    /// releases). Changing it would move objects between tasks; the unit tests pin its values.
    pub fn stable_hash(key: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64(key.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_config_names() {
        assert_eq!(
            "object_hash".parse::<DistributionType>().unwrap(),
            DistributionType::ObjectHash
        );
        assert_eq!(
            " Partition ".parse::<DistributionType>().unwrap(),
            DistributionType::Partition
        );
        assert_eq!(DistributionType::default(), DistributionType::ObjectHash);
        for k in DistributionType::ALL {
            assert_eq!(k.to_string().parse::<DistributionType>().unwrap(), k);
        }
    }

    #[test]
    fn unknown_name_suggests_the_nearest() {
        let e = "objecthash"
            .parse::<DistributionType>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean \"object_hash\""), "{e}");
        assert!(e.contains("distribution.type"), "{e}");
        let e = "partiton"
            .parse::<DistributionType>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean \"partition\""), "{e}");
        assert!(matches!(
            "x".parse::<DistributionType>(),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn new_checks_the_task_id() {
        assert!(Distribution::new(DistributionType::ObjectHash, 0, 0).is_err());
        assert!(Distribution::new(DistributionType::ObjectHash, 2, 2).is_err());
        let d = Distribution::new(DistributionType::Partition, 1, 2).unwrap();
        assert_eq!(
            (d.kind(), d.task_id(), d.max_tasks()),
            (DistributionType::Partition, 1, 2)
        );
    }

    #[test]
    fn validate_needs_a_partition_placeholder() {
        let with = FileNameTemplate::parse("{{topic}}-{{partition}}.json").unwrap();
        let without = FileNameTemplate::parse("{{topic}}.json").unwrap();
        assert!(validate(DistributionType::ObjectHash, None).is_ok());
        assert!(validate(DistributionType::ObjectHash, Some(&without)).is_ok());
        assert!(validate(DistributionType::Partition, Some(&with)).is_ok());
        let e = validate(DistributionType::Partition, Some(&without))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("{{partition}}") && e.contains("{{topic}}.json"),
            "{e}"
        );
        assert!(Distribution::validate(DistributionType::Partition, None).is_err());
    }

    #[test]
    fn partition_distribution_uses_the_partition() {
        let m = |p| TemplateMatch {
            partition: Some(p),
            ..Default::default()
        };
        for p in 0..20 {
            assert_eq!(
                Distribution::task_for(DistributionType::Partition, "k", Some(&m(p)), 3),
                (p % 3) as u32
            );
        }
        // Without a partition: object_hash.
        for key in ["a", "b", "c/d.json"] {
            let by_hash = Distribution::task_for(DistributionType::ObjectHash, key, None, 5);
            assert_eq!(
                Distribution::task_for(DistributionType::Partition, key, None, 5),
                by_hash
            );
            assert_eq!(
                Distribution::task_for(
                    DistributionType::Partition,
                    key,
                    Some(&TemplateMatch::default()),
                    5
                ),
                by_hash
            );
        }
        assert_eq!(
            Distribution::task_for(DistributionType::ObjectHash, "x", None, 0),
            0
        );
    }

    /// Pinned XXH3-64 values (the "" and "a" ones are XXH3's published test vectors): a change
    /// of algorithm (or of its input) would move objects between tasks, so it must fail here.
    #[test]
    fn stable_hash_is_pinned() {
        assert_eq!(Distribution::stable_hash(""), 0x2d06_8005_38d3_94c2);
        assert_eq!(Distribution::stable_hash("a"), 0xe6c6_32b6_1e96_4e1f);
        assert_eq!(
            Distribution::stable_hash("topic-0-00001.jsonl"),
            0x7795_0a9c_5e4b_e053
        );
        assert_eq!(
            Distribution::stable_hash("données/été-☃.json"),
            0x9aaf_7885_80ac_0696
        );
        // And what object_hash makes of them with 4 tasks.
        let tasks: Vec<u32> = ["", "a", "topic-0-00001.jsonl", "données/été-☃.json"]
            .iter()
            .map(|k| Distribution::task_for(DistributionType::ObjectHash, k, None, 4))
            .collect();
        assert_eq!(tasks, vec![2, 3, 3, 2]);
    }

    #[test]
    fn object_hash_is_roughly_balanced() {
        let mut counts = [0usize; 4];
        for i in 0..10_000 {
            let key = format!("topic-{}/{i:08}.jsonl", i % 7);
            counts[Distribution::task_for(DistributionType::ObjectHash, &key, None, 4) as usize] +=
                1;
        }
        for c in counts {
            assert!((2_000..=3_000).contains(&c), "{counts:?}");
        }
    }

    proptest! {
        #[test]
        fn every_key_is_owned_by_exactly_one_task(
            keys in proptest::collection::vec(".{0,40}", 1..40),
            partitions in proptest::collection::vec(proptest::option::of(0i32..=i32::MAX), 40),
            max_tasks in 1u32..=16,
        ) {
            for kind in DistributionType::ALL {
                let tasks: Vec<_> = (0..max_tasks)
                    .map(|id| Distribution::new(kind, id, max_tasks).unwrap())
                    .collect();
                for (key, p) in keys.iter().zip(&partitions) {
                    let m = TemplateMatch { partition: *p, ..Default::default() };
                    for m in [None, Some(&m)] {
                        let owners = tasks.iter().filter(|t| t.owns(key, m)).count();
                        prop_assert_eq!(owners, 1, "{:?} {:?} {:?}", kind, key, m);
                        let t = Distribution::task_for(kind, key, m, max_tasks);
                        prop_assert!(t < max_tasks);
                        prop_assert!(tasks[t as usize].owns(key, m));
                    }
                }
            }
        }
    }
}
