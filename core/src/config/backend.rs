//! The settings every backend shares (read concurrency, overwrite policy, listing, retries). Each
//! backend declares its own keys and checks beside its code in `sluice-sources`.

use super::Keys;
use crate::error::Result;

/// The prefix of `object_store` options passed through by their own key.
pub const OBJECT_STORE_PREFIX: &str = "object_store.";

/// `object.overwrite.policy`: what happens to a finished object found later with another ETag
/// or size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverwritePolicy {
    /// The new content is not read; each new version is warned about once and counted.
    Ignore,
    /// The object is read again from its first record.
    Reread,
    /// When it grew, the records after the ones delivered are read; otherwise as `Ignore`.
    Append,
}

/// `listing.full.interval.ms` of the cloud backends when unset.
pub(super) const CLOUD_FULL_LISTING_INTERVAL_MS: u64 = 300_000;

/// Retries of store requests (`store.retry.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// `store.retry.max.retries`.
    pub max_retries: u32,
    /// `store.retry.backoff.initial.ms`.
    pub backoff_initial_ms: u64,
    /// `store.retry.backoff.max.ms`.
    pub backoff_max_ms: u64,
    /// `store.retry.timeout.ms`.
    pub timeout_ms: u64,
}

/// What every backend shares: which backend, how objects are read and listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// `local`, `s3`, `gcs` or `azure` (from `connector.class`).
    pub backend: &'static str,
    /// `object.read.concurrency`.
    pub read_concurrency: usize,
    /// `object.overwrite.policy`.
    pub overwrite_policy: OverwritePolicy,
    /// `listing.full.interval.ms`.
    pub listing_full_interval_ms: u64,
    /// How old an object must be to be read: `object.min.age.ms`, for `local` the larger of it
    /// and `local.file.min.age.ms`.
    pub min_age_ms: u64,
    /// `object.partial.line.wait.ms`.
    pub partial_line_wait_ms: u64,
    /// `local.file.ignore.patterns` (`local` backend; empty for the others).
    pub ignore_patterns: Vec<String>,
    /// `store.retry.*`.
    pub retry: RetrySettings,
}

impl StoreSettings {
    /// Reads the shared store settings; `local` backend defaults and keys apply when
    /// `connector.class` selects it.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a key read here is declared by no registered component.
    pub fn read(r: &Keys<'_>) -> Result<Self> {
        let backend = r
            .registry()
            .backend_of(r.raw("connector.class")?.unwrap_or_default())
            .unwrap_or("local");
        let local = backend == "local";
        Ok(StoreSettings {
            backend,
            read_concurrency: r.int("object.read.concurrency")? as usize,
            overwrite_policy: match r.raw("object.overwrite.policy")? {
                Some("reread") => OverwritePolicy::Reread,
                Some("append") => OverwritePolicy::Append,
                Some(_) => OverwritePolicy::Ignore,
                None if local => OverwritePolicy::Append,
                None => OverwritePolicy::Ignore,
            },
            listing_full_interval_ms: match r.raw("listing.full.interval.ms")? {
                Some(_) => r.int("listing.full.interval.ms")? as u64,
                None if local => 0,
                None => CLOUD_FULL_LISTING_INTERVAL_MS,
            },
            min_age_ms: {
                let any = r.int("object.min.age.ms")? as u64;
                if local {
                    any.max(r.int("local.file.min.age.ms")? as u64)
                } else {
                    any
                }
            },
            partial_line_wait_ms: r.int("object.partial.line.wait.ms")? as u64,
            ignore_patterns: if local {
                r.list("local.file.ignore.patterns")?
            } else {
                Vec::new()
            },
            retry: RetrySettings {
                max_retries: r.int("store.retry.max.retries")? as u32,
                backoff_initial_ms: r.int("store.retry.backoff.initial.ms")? as u64,
                backoff_max_ms: r.int("store.retry.backoff.max.ms")? as u64,
                timeout_ms: r.int("store.retry.timeout.ms")? as u64,
            },
        })
    }
}
