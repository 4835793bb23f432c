//! The restart position: where a restarted task's first listing starts, from its stored offsets.

use object_store::path::Path;

use crate::matcher::KeyMatcher;
use crate::offsets::{OffsetMap, OffsetValue, FINISHED};

use super::{ObjectBackend, ObjectSourceConfig};

/// The restart position from the `stored` offsets: the greatest finished object of this task
/// (bucket, prefix, template, distribution) that sorts before every unfinished one. Objects
/// are opened in key order and each opened object has a stored entry, so every object of
/// this task up to it was read to the end; listing starts after it. What the stored offsets
/// cannot know about (a late arrival, objects whose task changed with `tasks.max`) is found
/// by the next full listing.
pub(super) fn restart_position(
    backend: &dyn ObjectBackend,
    cfg: &ObjectSourceConfig,
    stored: &[(OffsetMap, OffsetMap)],
) -> Option<Path> {
    let mut first_unfinished: Option<&str> = None;
    let mut finished = Vec::new();
    let matcher = matcher(backend, cfg);
    for (partition, data) in stored {
        let Some(key) = owned_key(backend, cfg, matcher.as_ref(), partition) else {
            continue;
        };
        if data.get(FINISHED).and_then(OffsetValue::as_bool) == Some(true) {
            finished.push(key);
        } else if first_unfinished.is_none_or(|u| key < u) {
            first_unfinished = Some(key);
        }
    }
    finished
        .into_iter()
        .filter(|k| first_unfinished.is_none_or(|u| *k < u))
        .max()
        .and_then(|k| Path::parse(k).ok())
}

/// The stored finished objects of this task whose post-read action (`object.post.read`) is
/// still pending, in key order: a crash came between their commit and their action. The source
/// announces them again so the driver hands them to the post-read actions.
pub(super) fn pending_post_read(
    backend: &dyn ObjectBackend,
    cfg: &ObjectSourceConfig,
    stored: &[(OffsetMap, OffsetMap)],
) -> Vec<(OffsetMap, OffsetMap)> {
    if !cfg.post_read {
        return Vec::new();
    }
    let (_, of) = backend.partition_fields();
    let matcher = matcher(backend, cfg);
    crate::postread::pending(stored, of, |p| {
        owned_key(backend, cfg, matcher.as_ref(), p).is_some()
    })
}

/// The template with the backend's prefix (built once per call: it compiles regexes).
fn matcher(backend: &dyn ObjectBackend, cfg: &ObjectSourceConfig) -> Option<KeyMatcher> {
    cfg.template
        .as_ref()
        .map(|t| KeyMatcher::new(t, backend.prefix(), cfg.template_match))
}

/// The object key of a stored source partition when the object is this task's: in the
/// backend's bucket, under its prefix, matching the template, owned under the distribution.
fn owned_key<'a>(
    backend: &dyn ObjectBackend,
    cfg: &ObjectSourceConfig,
    matcher: Option<&KeyMatcher>,
    partition: &'a OffsetMap,
) -> Option<&'a str> {
    let (bf, of) = backend.partition_fields();
    if partition.get(bf).and_then(OffsetValue::as_str) != Some(backend.bucket()) {
        return None;
    }
    let key = partition.get(of).and_then(OffsetValue::as_str)?;
    if !key.starts_with(backend.prefix().unwrap_or("")) {
        return None;
    }
    let matched = match matcher {
        Some(m) => Some(m.matches(key)?.values),
        None => None,
    };
    cfg.distribution.owns(key, matched.as_ref()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    use object_store::memory::InMemory;
    use object_store::ObjectStore;

    use crate::config::{ErrorsTolerance, OverwritePolicy, RecordTimestamp};
    use crate::distribution::{Distribution, DistributionType};
    use crate::object::ReadRetry;
    use crate::offsets::{ObjectOffsetEntry, OffsetManagerEntry as _, RECORD_COUNT};
    use crate::template::FileNameTemplate;

    #[derive(Debug)]
    struct Bucket {
        store: Arc<dyn ObjectStore>,
        prefix: Option<&'static str>,
    }

    impl ObjectBackend for Bucket {
        fn bucket(&self) -> &str {
            "b"
        }
        fn store(&self) -> &Arc<dyn ObjectStore> {
            &self.store
        }
        fn prefix(&self) -> Option<&str> {
            self.prefix
        }
    }

    fn cfg(template: Option<&str>, task: u32, tasks: u32) -> ObjectSourceConfig {
        ObjectSourceConfig {
            topic: Some("t".into()),
            template: template.map(|t| FileNameTemplate::parse(t).unwrap()),
            template_match: crate::matcher::MatchMode::Anchored,
            start_after_key: None,
            distribution: Distribution::new(DistributionType::ObjectHash, task, tasks).unwrap(),
            tolerance: ErrorsTolerance::None,
            routing: crate::routing::Routing::default(),
            record_timestamp: RecordTimestamp::None,
            headers: false,
            once: false,
            task_name: "c-0".into(),
            concurrency: 1,
            overwrite: OverwritePolicy::Ignore,
            full_listing_interval: Duration::from_secs(300),
            read_retry: ReadRetry::default(),
            min_age: Duration::ZERO,
            partial_line_wait: Duration::ZERO,
            envelope: None,
            post_read: true,
        }
    }

    fn entry(bucket: &str, key: &str, finished: bool) -> (OffsetMap, OffsetMap) {
        let mut e = ObjectOffsetEntry::new("bucket", bucket, "object", key);
        e.set_property(RECORD_COUNT, OffsetValue::Long(1));
        if finished {
            e.set_property(FINISHED, OffsetValue::Bool(true));
        }
        (e.manager_key(), e.properties())
    }

    fn position(
        backend: &Bucket,
        cfg: &ObjectSourceConfig,
        stored: &[(OffsetMap, OffsetMap)],
    ) -> Option<String> {
        restart_position(backend, cfg, stored).map(|p| p.to_string())
    }

    #[test]
    fn the_greatest_finished_key_before_every_unfinished_one() {
        let b = Bucket {
            store: Arc::new(InMemory::new()),
            prefix: None,
        };
        let c = cfg(None, 0, 1);
        assert_eq!(position(&b, &c, &[]), None, "nothing stored");
        let stored = [
            entry("b", "k3", true),
            entry("b", "k1", true),
            entry("b", "k4", false),
            entry("b", "k5", true),
        ];
        assert_eq!(position(&b, &c, &stored).as_deref(), Some("k3"));
        let stored = [entry("b", "k1", false), entry("b", "k2", true)];
        assert_eq!(
            position(&b, &c, &stored),
            None,
            "the first object is unfinished"
        );
        let stored = [entry("b", "k1", true), entry("b", "k2", true)];
        assert_eq!(
            position(&b, &c, &stored).as_deref(),
            Some("k2"),
            "all finished"
        );
    }

    #[test]
    fn only_this_tasks_objects_count() {
        let b = Bucket {
            store: Arc::new(InMemory::new()),
            prefix: Some("in/"),
        };
        // Another bucket, another prefix, a key the template does not match: ignored.
        let stored = [
            entry("b", "in/k1-0.txt", true),
            entry("other", "in/k0-0.txt", false),
            entry("b", "out/k0-0.txt", false),
            entry("b", "in/k0.bin", false),
        ];
        let c = cfg(Some("in/{{topic}}-{{partition}}.txt"), 0, 1);
        assert_eq!(position(&b, &c, &stored).as_deref(), Some("in/k1-0.txt"));
        // Unfinished objects of other tasks do not hold this task back.
        let keys: Vec<String> = (0..20).map(|i| format!("in/k{i:02}-0.txt")).collect();
        let mine = |task: u32| {
            let d = Distribution::new(DistributionType::ObjectHash, task, 2).unwrap();
            keys.iter()
                .filter(|k| d.owns(k, None))
                .cloned()
                .collect::<Vec<_>>()
        };
        let (mine0, theirs) = (mine(0), mine(1));
        assert!(!mine0.is_empty() && !theirs.is_empty());
        let mut stored: Vec<_> = mine0.iter().map(|k| entry("b", k, true)).collect();
        stored.extend(theirs.iter().map(|k| entry("b", k, false)));
        let c = cfg(None, 0, 2);
        assert_eq!(position(&b, &c, &stored), mine0.last().cloned());
    }
}
