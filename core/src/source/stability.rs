//! When an object is stable enough to read, and what happens when a finished one changes.
//!
//! - **Young objects**: an object last modified less than `min_age` ago may still be written (a
//!   local file appended to, an Azure append blob); it is deferred to a later pass, which lists
//!   from the beginning again ([`ListingPlan::defer`](super::plan::ListingPlan::defer)).
//! - **Held tails**: a line format holds back a last line without terminator while the object is
//!   younger than `partial_line_wait` ([`Tail::Held`](crate::object::Tail)); the object stays open
//!   after its last complete record and is looked at again when it changed or once it is old
//!   enough, when the line is read as it is.
//! - **Changed finished objects** (another ETag or size than the stored offsets say) follow
//!   `object.overwrite.policy`: `append` reads the records after the ones delivered when the
//!   object grew and from the first record when it shrank (replaced, e.g. a rotated log); `reread`
//!   reads it again; otherwise each new version is warned about once and counted
//!   (`objects_changed`), never silently ignored.

use std::time::Duration;

use object_store::ObjectMeta;
use tracing::{debug, info};

use crate::config::OverwritePolicy;
use crate::offsets::{
    ObjectVersion, OffsetMap, OffsetValue, ETAG, LAST_LINE_UNTERMINATED, RECORD_COUNT, SIZE,
};

use super::build::DELETED;
use super::readers::Reader;
use super::ObjectSource;

/// An object read up to a held-back last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Held {
    /// Size and ETag of the version read, as listed.
    size: u64,
    etag: Option<String>,
    /// Records delivered: the next read resumes here.
    pub(super) count: u64,
}

/// How long ago `meta` was last modified (zero when in the future: a clock ahead of ours).
pub(super) fn age(meta: &ObjectMeta) -> Duration {
    (chrono::Utc::now() - meta.last_modified)
        .to_std()
        .unwrap_or(Duration::ZERO)
}

fn long(data: &OffsetMap, key: &str) -> Option<i64> {
    data.get(key).and_then(OffsetValue::as_long)
}

/// Whether the finished object whose stored offset is `stored` is now another version: another
/// ETag, or another size (when the offset has one).
pub(super) fn changed(stored: &OffsetMap, meta: &ObjectMeta) -> bool {
    let etag = stored.get(ETAG).and_then(OffsetValue::as_str);
    !version(meta).is(etag, long(stored, SIZE))
}

/// The version of a listed object ([`ObjectVersion`]).
pub(super) fn version(meta: &ObjectMeta) -> ObjectVersion<'_> {
    ObjectVersion {
        etag: meta.e_tag.as_deref(),
        size: meta.size as i64,
    }
}

impl ObjectSource {
    /// Whether `meta` may be read now: old enough, and not a held-back object unchanged since
    /// within its wait.
    pub(super) fn stable(&self, meta: &ObjectMeta) -> bool {
        let age = age(meta);
        if age < self.cfg.min_age {
            debug!(task = %self.cfg.task_name, object = %meta.location, age_ms = age.as_millis() as u64,
                min_age_ms = self.cfg.min_age.as_millis() as u64, "object modified too recently: looking at it again later");
            return false;
        }
        match self.held.get(&meta.location) {
            Some(h) => {
                h.size != meta.size || h.etag != meta.e_tag || age >= self.cfg.partial_line_wait
            }
            None => true,
        }
    }

    /// A finished object found changed (see [`changed`]): the record to resume from (0: from
    /// the start) per `object.overwrite.policy`, or `None` when it is not read again.
    pub(super) fn overwritten(&mut self, meta: &ObjectMeta, stored: &OffsetMap) -> Option<u64> {
        let key = meta.location.as_ref();
        let count = long(stored, RECORD_COUNT).unwrap_or(0).max(0) as u64;
        let size = long(stored, SIZE);
        let was = stored.get(ETAG).and_then(OffsetValue::as_str);
        match self.cfg.overwrite {
            OverwritePolicy::Reread => {
                info!(task = %self.cfg.task_name, object = %key, was = ?was, now = ?meta.e_tag,
                    "object changed since it was read (object.overwrite.policy=reread): reading it again");
                Some(0)
            }
            OverwritePolicy::Append => {
                let deleted = stored.get(DELETED).and_then(OffsetValue::as_bool) == Some(true);
                match size {
                    Some(s) if !deleted && meta.size as i64 > s => {
                        let unterminated = stored
                            .get(LAST_LINE_UNTERMINATED)
                            .and_then(OffsetValue::as_bool)
                            == Some(true);
                        let skip = count.saturating_sub(u64::from(unterminated));
                        info!(task = %self.cfg.task_name, object = %key, was_bytes = s, now_bytes = meta.size,
                            records_delivered = count, resume_at_record = skip,
                            "object grew since it was read (object.overwrite.policy=append): reading the records after the ones delivered");
                        Some(skip)
                    }
                    Some(s) if deleted || (meta.size as i64) < s => {
                        info!(task = %self.cfg.task_name, object = %key, was_bytes = s, now_bytes = meta.size,
                            "object is smaller than when it was read (replaced, e.g. a rotated log; object.overwrite.policy=append): reading it from its first record");
                        Some(0)
                    }
                    None if deleted => Some(0),
                    _ => {
                        self.not_reread(meta, was, "it did not grow (rewritten in place or touched), so append cannot tell what is new; set object.overwrite.policy=reread to read such objects again");
                        None
                    }
                }
            }
            OverwritePolicy::Ignore => {
                self.not_reread(meta, was, "object.overwrite.policy=ignore; set it to append (read what was appended) or reread (read it again) to take the new content");
                None
            }
        }
    }

    /// Warns (once per version) and counts a changed finished object that is not read again.
    fn not_reread(&mut self, meta: &ObjectMeta, was: Option<&str>, why: &str) {
        let version = (meta.location.clone(), meta.e_tag.clone(), meta.size);
        if self.changed.insert(version) {
            self.metrics.object_changed(
                &self.cfg.task_name,
                meta.location.as_ref(),
                was,
                meta.e_tag.as_deref(),
                meta.size,
                why,
            );
        }
    }

    /// `cur` was read to a last line without terminator, held back at byte `at`: the object stays
    /// open after the records delivered and is looked at again by a later pass.
    pub(super) fn hold(&mut self, cur: &Reader, at: u64) {
        let meta = cur.input.meta();
        info!(task = %self.cfg.task_name, object = %cur.input.key(), records = cur.count, byte_offset = at,
            wait_ms = self.cfg.partial_line_wait.as_millis() as u64,
            "the last line has no line terminator yet (still being written?): holding it back until the object grows or has not changed for object.partial.line.wait.ms");
        self.held.insert(
            meta.location.clone(),
            Held {
                size: meta.size,
                etag: meta.e_tag.clone(),
                count: cur.count,
            },
        );
        self.plan.defer();
    }
}
