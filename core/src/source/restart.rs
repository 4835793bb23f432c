//! The restart position: where a restarted task's first listing starts, from its stored offsets.

use object_store::path::Path;

use crate::matcher::KeyMatcher;
use crate::offsets::{OffsetMap, OffsetValue, FINISHED};

use super::{ObjectBackend, ObjectSourceConfig};

/// What the stored offsets of this task say at start, gathered one entry at a time (the store
/// is walked, not collected):
///
/// - the restart position: the greatest finished object of this task (bucket, prefix,
///   template, distribution) that sorts before every unfinished one. Objects are opened in key
///   order and each opened object has a stored entry, so every object of this task up to it
///   was read to the end; listing starts after it. What the stored offsets cannot know about (a
///   late arrival, objects whose task changed with `tasks.max`) is found by the next full
///   listing. When an unfinished object sorts before the greatest finished one, a second walk
///   ([`Scan::visit_again`]) finds the greatest finished one before it;
/// - the finished objects whose post-read action (`object.post.read`) is still pending: a
///   crash came between their commit and their action. The source announces them again so
///   the driver hands them to the post-read actions.
pub(super) struct Scan<'a> {
    backend: &'a dyn ObjectBackend,
    cfg: &'a ObjectSourceConfig,
    matcher: Option<KeyMatcher>,
    greatest_finished: Option<String>,
    first_unfinished: Option<String>,
    /// The greatest finished key before `first_unfinished` (second walk).
    before_unfinished: Option<String>,
    pending: Vec<(OffsetMap, OffsetMap)>,
}

impl<'a> Scan<'a> {
    pub(super) fn new(backend: &'a dyn ObjectBackend, cfg: &'a ObjectSourceConfig) -> Self {
        Scan {
            backend,
            cfg,
            matcher: matcher(backend, cfg),
            greatest_finished: None,
            first_unfinished: None,
            before_unfinished: None,
            pending: Vec::new(),
        }
    }

    /// One stored entry (first walk).
    pub(super) fn visit(&mut self, partition: &OffsetMap, data: &OffsetMap) {
        let Some(key) = owned_key(self.backend, self.cfg, self.matcher.as_ref(), partition) else {
            return;
        };
        if data.get(FINISHED).and_then(OffsetValue::as_bool) == Some(true) {
            if self.greatest_finished.as_deref().is_none_or(|g| key > g) {
                self.greatest_finished = Some(key.to_owned());
            }
            if self.cfg.post_read && crate::postread::is_pending(data) {
                self.pending.push((partition.clone(), data.clone()));
            }
        } else if self.first_unfinished.as_deref().is_none_or(|u| key < u) {
            self.first_unfinished = Some(key.to_owned());
        }
    }

    /// Whether the restart position needs a second walk over the stored entries: an
    /// unfinished object sorts before the greatest finished one.
    pub(super) fn needs_second_walk(&self) -> bool {
        matches!((&self.greatest_finished, &self.first_unfinished), (Some(g), Some(u)) if g > u)
    }

    /// One stored entry (second walk): finished objects before the first unfinished one.
    pub(super) fn visit_again(&mut self, partition: &OffsetMap, data: &OffsetMap) {
        if data.get(FINISHED).and_then(OffsetValue::as_bool) != Some(true) {
            return;
        }
        let Some(key) = owned_key(self.backend, self.cfg, self.matcher.as_ref(), partition) else {
            return;
        };
        let before = self.first_unfinished.as_deref().is_none_or(|u| key < u);
        if before && self.before_unfinished.as_deref().is_none_or(|b| key > b) {
            self.before_unfinished = Some(key.to_owned());
        }
    }

    /// The restart position (after the second walk when [`needs_second_walk`](Self::needs_second_walk)).
    pub(super) fn position(&self) -> Option<Path> {
        let key = if self.needs_second_walk() {
            self.before_unfinished.as_deref()
        } else {
            self.greatest_finished.as_deref()
        };
        key.and_then(|k| Path::parse(k).ok())
    }

    /// The finished objects whose post-read action is pending, in key order.
    pub(super) fn pending_post_read(self) -> Vec<(OffsetMap, OffsetMap)> {
        let (_, of) = self.backend.partition_fields();
        let mut pending = self.pending;
        pending.sort_by(|a, b| {
            let key = |p: &OffsetMap| p.get(of).and_then(OffsetValue::as_str).map(str::to_owned);
            key(&a.0).cmp(&key(&b.0))
        });
        pending
    }
}

/// The restart position from the `stored` offsets (both walks of a [`Scan`]).
#[cfg(test)]
fn restart_position(
    backend: &dyn ObjectBackend,
    cfg: &ObjectSourceConfig,
    stored: &[(OffsetMap, OffsetMap)],
) -> Option<Path> {
    let mut scan = Scan::new(backend, cfg);
    for (p, o) in stored {
        scan.visit(p, o);
    }
    if scan.needs_second_walk() {
        for (p, o) in stored {
            scan.visit_again(p, o);
        }
    }
    scan.position()
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
