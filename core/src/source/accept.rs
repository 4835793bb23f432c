//! Which listed objects a task takes: its share, the template, routing, stability,
//! finished and changed objects.

use super::*;

/// An object [`ObjectSource::accept`] takes.
pub(super) struct Accepted {
    /// What `file.name.template` says about it.
    pub(super) matched: Option<TemplateMatch>,
    /// Its topic.
    pub(super) topic: String,
    /// Records already delivered.
    pub(super) skip: u64,
    /// No stored progress: it starts afresh.
    pub(super) fresh: bool,
}

impl ObjectSource {
    /// Decides whether `meta` is an object to read now; returns the template match, its topic,
    /// the number of records already delivered, and whether the object starts afresh (no
    /// stored progress). An object not stable yet is deferred (see `stability.rs`); one no
    /// topic rule matches is logged and counted once (see [`ObjectSource::unrouted`]).
    pub(super) fn accept(&mut self, meta: &ObjectMeta) -> Option<Accepted> {
        let key = meta.location.as_ref();
        if self.abandoned.contains(&meta.location) || self.readers.is_reading(&meta.location) {
            self.pass.taken += 1;
            return None;
        }
        if meta.size == 0 {
            self.skip(SkipReason::Empty, key);
            return None;
        }
        if self
            .cfg
            .envelope
            .as_ref()
            .is_some_and(|e| e.is_side_file(key))
            || self
                .cfg
                .start_after_key
                .as_deref()
                .is_some_and(|s| key <= s)
        {
            self.skip(SkipReason::Filtered, key);
            return None;
        }
        let matched = match &self.matcher {
            Some(m) => {
                let Some(km) = m.matches(key) else {
                    self.skip(SkipReason::NoTemplateMatch, key);
                    return None;
                };
                self.note_match(key, &km);
                Some(km.values)
            }
            None => None,
        };
        if !self.cfg.distribution.owns(key, matched.as_ref()) {
            self.skip(SkipReason::OtherTask, key);
            return None;
        }
        self.pass.taken += 1;
        let (bucket_field, object_field) = self.backend.partition_fields();
        let offset_key = self
            .offsets
            .object_key((bucket_field, self.backend.bucket()), (object_field, key));
        // Nearly every key of a long-running task's listing: a finished object, unchanged.
        // Answered without building its offset.
        if self
            .offsets
            .finished_unchanged(&offset_key, &stability::version(meta))
        {
            return None;
        }
        let stored = self.offsets.cached_at(&offset_key);
        let finished = stored
            .as_ref()
            .is_some_and(|d| d.get(FINISHED).and_then(OffsetValue::as_bool) == Some(true));
        if finished && !stability::changed(stored.as_ref()?, meta) {
            return None;
        }
        let Some(topic) = self
            .cfg
            .routing
            .topic(key, matched.as_ref(), self.cfg.topic.as_deref())
            .map(str::to_owned)
        else {
            self.unrouted(meta);
            return None;
        };
        let accepted = |skip: u64, fresh: bool| Accepted {
            matched,
            topic,
            skip,
            fresh,
        };
        if !self.stable(meta) {
            self.plan.defer();
            self.pass.deferred += 1;
            let m = meta.last_modified;
            self.pass.oldest_deferred = Some(self.pass.oldest_deferred.map_or(m, |o| o.min(m)));
            return None;
        }
        if let Some(held) = self.held.remove(&meta.location) {
            return Some(accepted(held.count, false));
        }
        match stored {
            Some(data) if finished => {
                let skip = self.overwritten(meta, &data)?;
                Some(accepted(skip, skip == 0))
            }
            Some(data) => {
                let skip = data
                    .get(RECORD_COUNT)
                    .and_then(OffsetValue::as_long)
                    .unwrap_or(0)
                    .max(0) as u64;
                Some(accepted(skip, false))
            }
            None => Some(accepted(0, true)),
        }
    }

    /// A listed object not taken: counted by reason (metrics), kept as a sample for the
    /// warning of a pass that takes nothing.
    pub(super) fn skip(&mut self, reason: SkipReason, key: &str) {
        self.metrics.object_skipped(reason);
        self.pass.skipped.add(reason, key);
    }

    /// Reports, a few times per run, a key taken only by Aiven's unanchored search or one
    /// Aiven's connector would have read with other values.
    pub(super) fn note_match(&mut self, key: &str, km: &crate::matcher::KeyMatch) {
        let Some(m) = &self.matcher else { return };
        if km.how == How::AivenSearch {
            self.warned.aiven_search(
                &self.cfg.task_name,
                key,
                m.template().as_str(),
                m.prefix(),
                &km.values,
            );
        }
        if let Some(aiven) = &km.aiven_differs {
            self.warned.aiven_differs(
                &self.cfg.task_name,
                key,
                m.template().as_str(),
                &km.values,
                aiven,
            );
        }
    }

    /// An object no rule of `topic.regex.list` matches: not read and no offset stored (a rule
    /// added later picks it up after a restart); each version is logged and counted
    /// (`objects_unrouted`) once per run, and later listings pass over it without a GET.
    pub(super) fn unrouted(&mut self, meta: &ObjectMeta) {
        let version = (meta.location.clone(), meta.e_tag.clone(), meta.size);
        if self.unrouted.insert(version) {
            self.metrics.object_unrouted(
                &self.cfg.task_name,
                self.backend.bucket(),
                meta.location.as_ref(),
                meta.size,
            );
        }
    }
}
