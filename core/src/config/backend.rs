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

/// `object.post.read`: what happens to an object once its offsets are committed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PostRead {
    /// Nothing (the default).
    #[default]
    None,
    /// The object is deleted.
    Delete,
    /// The object is copied to `<prefix><key>` in the same bucket, then deleted.
    Move {
        /// `object.post.read.move.prefix`.
        prefix: String,
    },
}

/// `object.post.read.*`: the action and how a failed one is retried.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostReadSettings {
    /// `object.post.read`.
    pub action: PostRead,
    /// `object.post.read.retries`: attempts after the first before the action is left for the
    /// next start.
    pub retries: u32,
}

/// The problems of the `object.post.read.*` keys for a backend whose listing prefix is the key
/// `prefix_key` (`aws.s3.prefix`, ...): a move prefix is required and must not make a moved
/// object one the connector lists again; `tag` is refused (no backend can tag in place). Each
/// backend's check calls this.
///
/// # Errors
/// [`crate::Error::Config`] when a key read here is declared by no registered component.
pub fn post_read_problems(r: &Keys<'_>, prefix_key: &str) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let action = r.raw("object.post.read")?.unwrap_or("none");
    let move_prefix = r.raw("object.post.read.move.prefix")?.unwrap_or("");
    match action {
        "move" if move_prefix.is_empty() => problems.push(
            "object.post.read.move.prefix: required with object.post.read=move (the prefix objects are moved under, e.g. `done/`)"
                .to_owned(),
        ),
        "move" => {
            let listed = r.raw(prefix_key)?.unwrap_or("");
            // A moved key is `<move prefix><original key>`, and every original key starts with
            // the listing prefix: the moved key is listed again exactly when this starts with it.
            if format!("{move_prefix}{listed}").starts_with(listed) {
                problems.push(format!(
                    "object.post.read.move.prefix={move_prefix:?}: moved objects would be listed again as new ({prefix_key}={listed:?} lists every key starting with {listed:?}, and a moved key is {move_prefix:?} + the original key); set {prefix_key} to the folder the connector reads and move objects outside it"
                ));
            }
        }
        "tag" => problems.push(
            "object.post.read=tag: no backend of this build can tag an object (S3 tags, GCS or Azure metadata) in place: object_store sets tags and attributes only when it writes an object, and rewriting the object would change its ETag, so it would be read again. Use object.post.read=move or delete (or tag with a bucket-side rule)"
                .to_owned(),
        ),
        _ if !move_prefix.is_empty() => problems.push(format!(
            "object.post.read.move.prefix: only used with object.post.read=move (it is {action}); remove it or set object.post.read=move"
        )),
        _ => {}
    }
    Ok(problems)
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
    /// `object.post.read.*`.
    pub post_read: PostReadSettings,
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
                max_retries: super::aiven::store_retry(r, "store.retry.max.retries")? as u32,
                backoff_initial_ms: super::aiven::store_retry(r, "store.retry.backoff.initial.ms")?
                    as u64,
                backoff_max_ms: super::aiven::store_retry(r, "store.retry.backoff.max.ms")? as u64,
                timeout_ms: r.int("store.retry.timeout.ms")? as u64,
            },
            post_read: PostReadSettings {
                action: match r.raw("object.post.read")? {
                    Some("delete") => PostRead::Delete,
                    Some("move") => PostRead::Move {
                        prefix: r
                            .string("object.post.read.move.prefix")?
                            .unwrap_or_default(),
                    },
                    // `tag` is refused by the backend checks (`post_read_problems`).
                    _ => PostRead::None,
                },
                retries: r.int("object.post.read.retries")? as u32,
            },
        })
    }
}

/// `input.envelope`: the layout of records a sink connector wrote, to restore from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvelopeKind {
    /// Each record is a value (the default).
    #[default]
    None,
    /// Aiven's sinks, `format.output.fields=key,value,offset,timestamp,headers`.
    Aiven,
    /// Lenses' (stream-reactor) sinks with `store.envelope=true`.
    Lenses,
    /// Confluent's S3 sink: values, with keys and headers in side files.
    Confluent,
}

/// How a key, value or header held as a string in the envelope is turned into bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldEncoding {
    /// A string is Base64 of the original bytes (JSON writers' bytes).
    Base64,
    /// A string is kept as a string.
    None,
}

/// `input.envelope.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSettings {
    /// `input.envelope`.
    pub kind: EnvelopeKind,
    /// `input.envelope.key.encoding`.
    pub key_encoding: FieldEncoding,
    /// `input.envelope.value.encoding`.
    pub value_encoding: FieldEncoding,
    /// `input.envelope.headers.encoding`.
    pub headers_encoding: FieldEncoding,
    /// `input.envelope.restore.partition`.
    pub restore_partition: bool,
    /// `input.envelope.confluent.keys`.
    pub confluent_keys: bool,
    /// `input.envelope.confluent.headers`.
    pub confluent_headers: bool,
}

impl EnvelopeSettings {
    /// Reads the `input.envelope.*` keys; an unset encoding is `base64` for the text formats and
    /// `none` for `avro` and `parquet` (which hold bytes as bytes).
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a key read here is declared by no registered component.
    pub fn read(r: &Keys<'_>) -> Result<Self> {
        let binary = matches!(r.raw("input.format")?, Some("avro" | "parquet"));
        let encoding = |key: &str| -> Result<FieldEncoding> {
            Ok(match r.raw(key)? {
                Some("base64") => FieldEncoding::Base64,
                Some(_) => FieldEncoding::None,
                None if binary => FieldEncoding::None,
                None => FieldEncoding::Base64,
            })
        };
        Ok(EnvelopeSettings {
            kind: match r.raw("input.envelope")? {
                Some("aiven") => EnvelopeKind::Aiven,
                Some("lenses") => EnvelopeKind::Lenses,
                Some("confluent") => EnvelopeKind::Confluent,
                _ => EnvelopeKind::None,
            },
            key_encoding: encoding("input.envelope.key.encoding")?,
            value_encoding: encoding("input.envelope.value.encoding")?,
            headers_encoding: encoding("input.envelope.headers.encoding")?,
            restore_partition: r.bool("input.envelope.restore.partition")?,
            confluent_keys: r.bool("input.envelope.confluent.keys")?,
            confluent_headers: r.bool("input.envelope.confluent.headers")?,
        })
    }
}
