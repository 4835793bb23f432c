//! [`ListingPlan`]: when the source lists the bucket, and from where.
//!
//! A pure state machine: no I/O, no clock of its own (time comes in as [`Instant`]s). The source
//! tells it what happens and does what it decides:
//!
//! | event                                 | method                                  | decision            |
//! |---------------------------------------|-----------------------------------------|---------------------|
//! | the task (re)starts                   | [`resume`](ListingPlan::resume)         |                     |
//! | a reader slot is free, no listing     | [`start_pass`](ListingPlan::start_pass) | a [`Listing`] or no |
//! | a key was listed                      | [`listed`](ListingPlan::listed)         | [`Key`]             |
//! | the listing ended                     | [`listing_ended`](ListingPlan::listing_ended) |               |
//! | the listing failed                    | [`listing_failed`](ListingPlan::listing_failed) |             |
//! | listing over and every reader idle    | [`readers_idle`](ListingPlan::readers_idle) | [`PassEnd`]     |
//!
//! Listing runs in passes. A pass lists after the greatest key listed so far (one cheap LIST when
//! nothing is new); when no key was listed yet, when `listing.full.interval.ms` is zero, or at
//! most every `listing.full.interval.ms`, a pass lists from the beginning instead, which picks up
//! late arrivals (keys sorting before ones already listed) and overwritten objects. After a
//! restart the first pass lists after the restart position; a backfill (`once`) then lists the
//! keys up to it (the catch-up pass) and is done; a continuous task finds them at its next full
//! pass. An object the source could not take yet (still being written) is deferred: the next
//! full pass picks it up (a backfill's next pass is full at once), and a backfill is not done
//! until a pass deferred nothing. A continuous task's full listings are spaced by their cost:
//! after one that took `t`, the next starts no sooner than `10 × t` after it began (at most 5
//! minutes), so walking a folder of a million files takes about a tenth of the time, not all of
//! it; the passes between list after the greatest key.

use std::time::{Duration, Instant};

use object_store::path::Path;

/// A continuous task spends at most about a tenth of its time in full listings: the next full
/// listing starts no sooner than this many times the last one's duration after it began (a
/// folder of a million files takes seconds to walk, and `listing.full.interval.ms` is 0 for
/// folders). Listings after the greatest key, which find new keys, are not held back.
const FULL_SPACING_FACTOR: u32 = 10;

/// The most [`FULL_SPACING_FACTOR`] holds a full listing back (a full pass that also read many
/// new objects took long for that reason, not for its listing).
const MAX_FULL_SPACING: Duration = Duration::from_secs(300);

/// A listing the source is to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Listing {
    /// List the keys sorting after this one; from the beginning of the prefix when `None`.
    pub start_after: Option<Path>,
    /// The pass ends after this key ([`ListingPlan::listed`] says [`Key::PastEnd`] beyond it);
    /// `None`: at the end of the listing.
    pub until: Option<Path>,
}

/// What to do with a listed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    /// It belongs to the pass: the source considers it.
    InPass,
    /// It sorts after the pass's end: the pass's listing is over (drop the listing, ignore the
    /// key).
    PastEnd,
}

/// What follows a pass whose listing is over and whose objects are all read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PassEnd {
    /// Nothing more now: the source reports idle; the next [`ListingPlan::start_pass`] begins
    /// another pass.
    Idle,
    /// The pass goes on with this listing (the catch-up pass of a restarted backfill: from the
    /// beginning until the restart position).
    List(Listing),
    /// The backfill's single pass is over, for good.
    Done,
}

/// Where the plan is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// No pass under way: the next [`ListingPlan::start_pass`] begins one.
    Between,
    /// A pass's listing runs; keys after `until` are past its end.
    Listing { until: Option<Path> },
    /// The pass's listing is over; its objects are still being read.
    Reading,
    /// The backfill is over.
    Done,
}

/// The listing state of an [`ObjectSource`](super::ObjectSource): full or incremental passes,
/// the restart position, the single pass of a backfill.
#[derive(Debug, Clone)]
pub(super) struct ListingPlan {
    /// A backfill: one pass over what is there, then [`PassEnd::Done`].
    once: bool,
    /// `listing.full.interval.ms`.
    full_interval: Duration,
    phase: Phase,
    /// The greatest key listed so far: an incremental listing starts after it.
    listed_up_to: Option<Path>,
    /// When the last full listing began.
    last_full: Option<Instant>,
    /// Backfill after a restart: the restart position, whose earlier keys are listed last.
    catch_up: Option<Path>,
    /// An object of the current pass was deferred.
    deferred: bool,
    /// Notifications announce new objects: after the first pass, a pass starts only when a full
    /// one is due (the reconciliation listing) or an object was deferred.
    reconcile_only: bool,
    /// A pass was started since the task (re)started.
    started: bool,
    /// The pass under way lists from the beginning.
    pass_full: bool,
    /// How long the last full listing took (see [`FULL_SPACING_FACTOR`]).
    full_took: Duration,
}

impl ListingPlan {
    /// The plan of a task that relists fully every `full_interval` (always when zero), and for
    /// a backfill (`once`) stops after one pass.
    pub(super) fn new(once: bool, full_interval: Duration) -> Self {
        ListingPlan {
            once,
            full_interval,
            phase: Phase::Between,
            listed_up_to: None,
            last_full: None,
            catch_up: None,
            deferred: false,
            reconcile_only: false,
            started: false,
            pass_full: false,
            full_took: Duration::ZERO,
        }
    }

    /// The plan of a task whose notifications announce new objects: after its first pass it
    /// lists only every `full_interval` (each such pass is full: the reconciliation listing)
    /// or when an object was deferred.
    pub(super) fn reconcile_only(mut self) -> Self {
        self.reconcile_only = !self.once;
        self
    }

    /// An object listed in this pass is to be looked at again (it is still being written): the
    /// next pass lists from the beginning, and a backfill goes on with another pass instead of
    /// ending.
    pub(super) fn defer(&mut self) {
        self.deferred = true;
    }

    /// The task starts at `now` with `restart`, the restart position from the stored offsets
    /// (every object of the task up to it is finished): the first pass lists after it and the
    /// next full listing is due a full interval from `now`. A backfill lists the keys up to the
    /// restart position at the end of its pass.
    pub(super) fn resume(&mut self, restart: Option<Path>, now: Instant) {
        self.listed_up_to = restart.clone();
        self.catch_up = restart;
        self.last_full = Some(now);
        self.started = false;
    }

    /// A reader slot is free and no listing runs: when no pass is under way, one starts at
    /// `now` with the listing returned. Full (from the beginning) when no key was listed yet, the
    /// interval is zero, an object was deferred, or the last full listing began at least an
    /// interval ago, except that a continuous task's full listings start at least
    /// [`FULL_SPACING_FACTOR`] times the last one's duration apart (at most
    /// [`MAX_FULL_SPACING`]); else after the greatest key listed. `None` while a pass's objects
    /// are still read, and once done.
    pub(super) fn start_pass(&mut self, now: Instant) -> Option<Listing> {
        if self.phase != Phase::Between {
            return None;
        }
        let interval = self.full_interval;
        let due = self
            .last_full
            .is_none_or(|t| now.saturating_duration_since(t) >= interval);
        if self.reconcile_only && self.started && !self.deferred && !due {
            return None;
        }
        // The first pass after a restart lists after the restart position even when every
        // pass is to be full (interval zero): what was added since the stop comes first, and a
        // bucket of a million finished objects is not listed (or, for a folder, stat'ed) whole
        // before the first new record. The keys before the position follow: in the catch-up
        // pass of a backfill, in the next (full) pass of a continuous task.
        let first_after_restart = !self.started && self.catch_up.is_some();
        self.started = true;
        self.phase = Phase::Listing { until: None };
        // A continuous task's full listings are spaced by their cost; a pass that would be
        // full lists after the greatest key instead, and a deferred object waits for the next
        // full one.
        let spacing = (self.full_took * FULL_SPACING_FACTOR).min(MAX_FULL_SPACING);
        let too_soon = !self.once
            && !self.reconcile_only
            && self
                .last_full
                .is_some_and(|t| now.saturating_duration_since(t) < spacing);
        let wants_full = self.deferred || (!first_after_restart && (interval.is_zero() || due));
        let full = self.listed_up_to.is_none() || (wants_full && !too_soon);
        self.pass_full = full;
        let start_after = if full {
            self.deferred = false;
            self.last_full = Some(now);
            // A full listing covers the keys before the restart position too.
            self.catch_up = None;
            None
        } else {
            self.listed_up_to.clone()
        };
        Some(Listing {
            start_after,
            until: None,
        })
    }

    /// The listing yielded `key` (listings come in key order). Past the pass's end the listing
    /// is over; else the key is remembered when it is the greatest listed.
    pub(super) fn listed(&mut self, key: &Path) -> Key {
        if let Phase::Listing { until: Some(until) } = &self.phase {
            if key > until {
                self.phase = Phase::Reading;
                return Key::PastEnd;
            }
        }
        if self.listed_up_to.as_ref().is_none_or(|k| key > k) {
            self.listed_up_to = Some(key.clone());
        }
        Key::InPass
    }

    /// The pass's listing ended, having taken `took` (the time spent waiting for its keys, not
    /// reading what it found). Remembered when the listing was a full one, to space the next
    /// full ones.
    pub(super) fn listing_took(&mut self, took: Duration) {
        if self.pass_full {
            self.full_took = took;
        }
    }

    /// The listing has no more keys: the pass goes on while its objects are read.
    pub(super) fn listing_ended(&mut self) {
        if matches!(self.phase, Phase::Listing { .. }) {
            self.phase = Phase::Reading;
        }
    }

    /// The listing failed: the pass is abandoned, and the next [`start_pass`](Self::start_pass)
    /// begins another.
    pub(super) fn listing_failed(&mut self) {
        if self.phase != Phase::Done {
            self.phase = Phase::Between;
        }
    }

    /// The pass's listing is over and every object it opened is read. A continuous task is idle
    /// until its next pass; a restarted backfill lists the keys up to its restart position
    /// (once); else a backfill is done.
    pub(super) fn readers_idle(&mut self) -> PassEnd {
        debug_assert!(
            !matches!(self.phase, Phase::Listing { .. }),
            "readers_idle while the listing runs"
        );
        if self.phase == Phase::Done {
            return PassEnd::Done;
        }
        if !self.once {
            self.phase = Phase::Between;
            return PassEnd::Idle;
        }
        if let Some(until) = self.catch_up.take() {
            // (A full listing clears `catch_up`: a deferring backfill's next pass is full.)
            self.phase = Phase::Listing {
                until: Some(until.clone()),
            };
            return PassEnd::List(Listing {
                start_after: None,
                until: Some(until),
            });
        }
        if self.deferred {
            self.phase = Phase::Between;
            return PassEnd::Idle;
        }
        self.phase = Phase::Done;
        PassEnd::Done
    }
}

#[cfg(test)]
mod tests;
