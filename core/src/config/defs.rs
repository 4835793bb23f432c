//! How configuration keys are declared ([`KeyDef`], [`Kind`], [`PrefixDef`]), the keys every
//! connector reads ([`CONNECTOR`]) and the worker's keys. Backends and formats declare their own
//! keys beside their code; a [`Registry`](super::registry::Registry) collects them all.
//! `docs/config.md` is generated from the registry (`sluice config-docs`) and a test checks it is
//! up to date.

use super::registry::{KeySet, Owner};

/// The type of a configuration value, used to validate it. More kinds may come (`Converter` and
/// `HeaderConverter` were added): a `match` on it outside Sluice needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `true` or `false`.
    Bool,
    /// An integer between the bounds (inclusive).
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// Free text.
    String,
    /// A secret: accepted like a string, never printed.
    Password,
    /// One of the listed values.
    Enum(&'static [&'static str]),
    /// A comma-separated list.
    List,
    /// One of the registered formats (`input.format`).
    Format,
    /// One of the registered backends' `connector.class` values.
    Backend,
    /// A `key.converter` / `value.converter` class: a built-in or a registered converter.
    Converter,
    /// A `header.converter` class: a built-in header converter or a registered converter.
    HeaderConverter,
}

impl Kind {
    /// A short description for the reference docs.
    pub fn describe(&self) -> String {
        match self {
            Kind::Bool => "boolean".into(),
            Kind::Int { min, max } if *max == i64::MAX => format!("int ≥ {min}"),
            Kind::Int { min, max } => format!("int in [{min}, {max}]"),
            Kind::String => "string".into(),
            Kind::Password => "password".into(),
            Kind::Enum(values) => format!("one of {}", values.join(", ")),
            Kind::List => "list".into(),
            Kind::Format => "one of the registered formats".into(),
            Kind::Backend => "one of the registered backends".into(),
            Kind::Converter => "one of the registered converters".into(),
            Kind::HeaderConverter => "one of the registered header converters".into(),
        }
    }

    /// Kafka Connect's `ConfigDef.Type` name for this kind, as the REST validate endpoint
    /// reports it (`BOOLEAN`, `LONG`, `STRING`, `PASSWORD`, `LIST`).
    pub fn connect_type(&self) -> &'static str {
        match self {
            Kind::Bool => "BOOLEAN",
            Kind::Int { .. } => "LONG",
            Kind::String
            | Kind::Enum(_)
            | Kind::Format
            | Kind::Backend
            | Kind::Converter
            | Kind::HeaderConverter => "STRING",
            Kind::Password => "PASSWORD",
            Kind::List => "LIST",
        }
    }
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    /// The key, as written in the file.
    pub name: &'static str,
    /// The value's type.
    pub kind: Kind,
    /// The default; `None` means the key is required (or optional without a default when
    /// `required` is false).
    pub default: Option<&'static str>,
    /// Whether a value must be given.
    pub required: bool,
    /// What the key does.
    pub doc: &'static str,
}

/// A family of keys passed through by prefix (e.g. `producer.override.*`).
#[derive(Debug, Clone, Copy)]
pub struct PrefixDef {
    /// The prefix, including its trailing dot.
    pub prefix: &'static str,
    /// What keys under it do.
    pub doc: &'static str,
}

/// A key with a default.
pub const fn key(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    doc: &'static str,
) -> KeyDef {
    KeyDef {
        name,
        kind,
        default: Some(default),
        required: false,
        doc,
    }
}

/// A key that must be given.
pub const fn required(name: &'static str, kind: Kind, doc: &'static str) -> KeyDef {
    KeyDef {
        name,
        kind,
        default: None,
        required: true,
        doc,
    }
}

/// A key without a default that may be left unset.
pub const fn optional(name: &'static str, kind: Kind, doc: &'static str) -> KeyDef {
    KeyDef {
        name,
        kind,
        default: None,
        required: false,
        doc,
    }
}

/// A positive `i32`.
pub const POSITIVE: Kind = Kind::Int {
    min: 1,
    max: i32::MAX as i64,
};

/// Converter class names accepted by `key.converter` / `value.converter`.
pub const CONVERTERS: &[&str] = &[
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "json",
    "string",
    "bytes",
    "JsonConverter",
    "StringConverter",
    "ByteArrayConverter",
    "io.confluent.connect.avro.AvroConverter",
    "io.confluent.connect.json.JsonSchemaConverter",
    "avro",
    "json_schema",
    "AvroConverter",
    "JsonSchemaConverter",
    "io.confluent.connect.protobuf.ProtobufConverter",
    "protobuf",
    "ProtobufConverter",
];

/// Keys every connector reads (`name`, `connector.class`, `topic`, `errors.*`, `object.*`, ...).
pub const CONNECTOR_KEYS: &[KeyDef] = &[
    required("name", Kind::String, "Unique name of the connector. Offsets are stored under it."),
    required(
        "connector.class",
        Kind::Backend,
        "Which object store to read: `local` (a folder), `s3` (AWS S3 and S3-compatible stores such as MinIO), `gcs` (Google Cloud Storage) or `azure` (Azure Blob Storage). Aiven's class names `io.aiven.kafka.connect.s3.source.S3SourceConnector` and `io.aiven.kafka.connect.azure.source.AzureBlobSourceConnector` are accepted. See docs/backends/.",
    ),
    key(
        "tasks.max",
        POSITIVE,
        "1",
        "Number of tasks sharing the objects; each object is read by exactly one task (see `distribution.type`).",
    ),
    optional(
        "topic",
        Kind::String,
        "Topic every record goes to. Required unless `file.name.template` contains `{{topic}}`, which then wins.",
    ),
    optional(
        "file.name.template",
        Kind::String,
        "Template of the object keys to read, e.g. `{{topic}}-{{partition}}-{{start_offset}}.jsonl`, matched anchored against the whole key or the key relative to the prefix (`aws.s3.prefix`, ...), then, with `file.name.template.match=aiven`, searched anywhere in the key as Aiven's connector does. Placeholders: `{{topic}}`, `{{partition}}`, `{{start_offset}}`, `{{timestamp}}` (Aiven's forms with `:padding=true` and `:unit=yyyy|MM|dd|HH` accepted). Objects it does not take are not read: counted by reason (metric `objects_skipped`), and a listing that takes none of its objects is warned about with sample keys. Unset: every object under the prefix is read. See docs/migrating.md.",
    ),
    key(
        "file.name.template.match",
        Kind::Enum(&["aiven", "anchored"]),
        "aiven",
        "How `file.name.template` takes keys: `anchored` = the template describes the whole key, or the whole key relative to the prefix (literal text is literal); `aiven` = the same, and then Aiven's rule for the keys that fails: the template as a regular expression (`.` any character) found anywhere in the key, so a connector file written for Aiven's S3 or Azure source reads the same objects (such keys are logged, a few per run). Where the anchored match and Aiven's search give different values for a key, the anchored values are used and the difference is logged. See docs/migrating.md.",
    ),
    key(
        "distribution.type",
        Kind::Enum(&["object_hash", "partition"]),
        "object_hash",
        "How objects are spread over tasks: `object_hash` = XXH3-64 of the object key modulo `tasks.max` (stable across restarts and upgrades); `partition` = the template's `{{partition}}` modulo `tasks.max` (objects without one fall back to object_hash).",
    ),
    key(
        "input.format",
        Kind::Format,
        "bytes",
        "Format of the objects: `avro` (object container files), `parquet`, `jsonl` (one JSON value per line), `json` (one JSON document, or a top-level array read element by element), `csv`, `text` (lines, regex-matched lines or text between markers) or `bytes` (fixed-size chunks or the whole object). See docs/formats.md.",
    ),
    key(
        "errors.tolerance",
        Kind::Enum(&["none", "all"]),
        "none",
        "`none`: a record that cannot be read or converted stops the task with an error naming the object, the record index and the cause. `all`: the record is skipped, counted and logged, and the task goes on.",
    ),
    key(
        "errors.log.enable",
        Kind::Bool,
        "true",
        "Log every record skipped under `errors.tolerance=all` (object, record index, byte offset, cause). Kafka Connect's default is false; Sluice logs by default so nothing is skipped silently.",
    ),
    key(
        "errors.log.include.messages",
        Kind::Bool,
        "false",
        "Include the raw bytes of the failing record (up to 1 KiB, lossy UTF-8) in that log line.",
    ),
    optional(
        "errors.deadletterqueue.topic.name",
        Kind::String,
        "Topic that receives every record skipped under `errors.tolerance=all` (and a record per object that cannot be read at all), with the raw bytes as value when available and the object key as key. Requires `errors.tolerance=all`.",
    ),
    key(
        "errors.deadletterqueue.context.headers.enable",
        Kind::Bool,
        "true",
        "Add `__connect.errors.*` headers to dead letter records: connector, task, stage, exception class and message, plus `__connect.errors.bucket`, `__connect.errors.object`, `__connect.errors.record.index`, `__connect.errors.byte.offset`. (Kafka Connect's default is false; a source's dead letter record is useless without them.)",
    ),
    key(
        "exactly.once.support",
        Kind::Enum(&["requested", "required"]),
        "requested",
        "`required`: this connector's records and their offsets are written in Kafka transactions (exactly-once; needs `offset.storage.topic`). `requested`: exactly-once when the worker sets `exactly.once.source.support=enabled`, else at-least-once.",
    ),
    key(
        "transaction.boundary",
        Kind::Enum(&["poll", "object", "interval"]),
        "poll",
        "Exactly-once: when a transaction commits — `poll` (every `max.poll.records` records, and whenever the bucket has nothing more right now), `object` (at the end of every object) or `interval` (every `transaction.boundary.interval.ms`).",
    ),
    optional(
        "transaction.boundary.interval.ms",
        Kind::Int {
            min: 1,
            max: i64::MAX,
        },
        "Exactly-once with `transaction.boundary=interval`: the commit interval (default: the worker's `offset.flush.interval.ms`).",
    ),
    key(
        "max.poll.records",
        POSITIVE,
        "500",
        "Records a task may have read ahead of the producer (the bounded queue between reading and producing).",
    ),
    key(
        "object.in.flight.max",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "8192",
        "Objects a task may hold with records sent and offsets not yet committed; at the bound it reads on only as their offsets are committed. Bounds the task's memory when objects are small (each object in flight costs a few KB besides its records: offset bookkeeping, delivery state, librdkafka's per-record overhead); objects with many records are not slowed. At-least-once only (an exactly-once task is bounded by its transactions). 0: no bound.",
    ),
    key(
        "record.timestamp",
        Kind::Enum(&["object_last_modified", "none"]),
        "object_last_modified",
        "Record timestamp: the object's last-modified time, or none (the producer's current time).",
    ),
    key(
        "record.headers.enable",
        Kind::Bool,
        "true",
        "Add headers `sluice.bucket`, `sluice.object.key`, `sluice.object.etag` (when the store has one) and `sluice.record.index` to every record.",
    ),
    key(
        "object.read.concurrency",
        POSITIVE,
        "4",
        "Objects each task reads at once (streamed GETs in flight, parsed in parallel). Records of one object stay in order and offsets stay per object; objects are opened in key order. The task produces one object's records at a time while the others are read ahead (the next one is the first, in key order, with records ready).",
    ),
    optional(
        "object.overwrite.policy",
        Kind::Enum(&["ignore", "reread", "append"]),
        "An object that was read to the end and is later found with another ETag or size: `append` reads the records after the ones already delivered when it grew (a log file appended to; when it did not grow it is counted and warned about like `ignore`); `ignore` does not read the new content but warns once per version and counts it (metric `objects_changed`); `reread` reads it again from its first record (its records are delivered again). Unset: `append` for the `local` backend, `ignore` for the others. Noticed when a listing passes over the key again (see `listing.full.interval.ms`).",
    ),
    optional(
        "listing.full.interval.ms",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "`run` mode: listings normally start after the greatest key already seen (S3/GCS start-after, Azure startFrom), so new objects cost one small LIST; at most this often a listing starts from the beginning of the prefix instead, which picks up late arrivals (an object whose key sorts before keys already processed) and objects overwritten or appended to since (`object.overwrite.policy`). 0: every listing is a full one, except the first after a restart, which starts after the restart position (what arrived since the stop comes first; the keys before it follow in the next, full, pass). Unset: 0 for the `local` backend (files appended to are noticed at the next pass), 300000 for the others. Whatever the value, full listings start at least ten times the last one's duration apart (at most 5 minutes), so a folder of a million files is not walked without rest; the passes between list after the greatest key.",
    ),
    key(
        "object.min.age.ms",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "0",
        "Every backend: an object is read only once its last-modified time is at least this old, so an object still being written (an Azure append blob, a file synced in pieces) is not read half-written; younger objects are looked at again by the next listing, and a `backfill` waits for them. The `local` backend also applies `local.file.min.age.ms` (the larger of the two wins).",
    ),
    key(
        "object.partial.line.wait.ms",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "60000",
        "Line formats (`jsonl`, `csv`, `text` lines and regex): a last line without a line terminator may be a line still being written. While the object was last modified less than this long ago, such a line is held back: the records before it are delivered and the object stays open at that point; once the object grows the line is read whole, and once it has not changed for this long the line is read as it is (a record, or a record error under `errors.tolerance`). 0: read it as it is at once.",
    ),
    key(
        "input.envelope",
        Kind::Enum(&["none", "aiven", "lenses", "confluent"]),
        "none",
        "Restore records that a sink connector backed up with their key, headers and timestamp: `aiven` reads Aiven's sinks' `format.output.fields=key,value,offset,timestamp,headers` layout (json, jsonl, avro, parquet), `lenses` reads Lenses' `store.envelope=true` layout (key, value, headers, metadata; json, avro, parquet), `confluent` reads Confluent's S3 sink layout (values in `<topic>+<partition>+<offset>.<ext>`, keys and headers in `.keys` / `.headers` side files, see `input.envelope.confluent.*`); `none`: each record is a value. See docs/envelopes.md.",
    ),
    key(
        "input.envelope.confluent.keys",
        Kind::Bool,
        "false",
        "`input.envelope=confluent`: the sink wrote keys (`store.kafka.keys=true`): each value object `X.<ext>` is read with its keys file `X.keys.<ext>`, record by record, in the same `input.format`.",
    ),
    key(
        "input.envelope.confluent.headers",
        Kind::Bool,
        "false",
        "`input.envelope=confluent`: the sink wrote headers (`store.kafka.headers=true`): each value object `X.<ext>` is read with its headers file `X.headers.<ext>`, record by record, in the same `input.format`.",
    ),
    optional(
        "input.envelope.key.encoding",
        Kind::Enum(&["base64", "none"]),
        "`input.envelope=aiven` or `confluent`: a key held as a string is `base64` of the original bytes (what the sink's JSON writer makes of bytes) or kept as a string (`none`). Unset: `base64` for json, jsonl and csv, `none` for avro and parquet. Lenses marks bytes itself (`keyIsArray`).",
    ),
    optional(
        "input.envelope.value.encoding",
        Kind::Enum(&["base64", "none"]),
        "`input.envelope=aiven` or `confluent`: as `input.envelope.key.encoding`, for the value (Aiven's `format.output.fields.value.encoding`).",
    ),
    optional(
        "input.envelope.headers.encoding",
        Kind::Enum(&["base64", "none"]),
        "`input.envelope=aiven` or `confluent`: as `input.envelope.key.encoding`, for header values.",
    ),
    key(
        "input.envelope.restore.partition",
        Kind::Bool,
        "false",
        "`input.envelope=lenses`: send each record to the partition its envelope's `metadata.partition` names; `confluent`: to the partition in the object's name `<topic>+<partition>+<offset>.<ext>` (the topic must have that many partitions). Aiven's envelope has no partition: take it from the object name with `{{partition}}` in `file.name.template`.",
    ),
    key(
        "object.post.read",
        Kind::Enum(&["none", "delete", "move", "tag"]),
        "none",
        "What happens to an object once every one of its records was delivered and its offsets are committed (with `exactly.once.support=required`: once the transaction holding its last records committed): `none`; `delete` deletes it; `move` copies it to `object.post.read.move.prefix` + its key in the same bucket, then deletes it; `tag` is refused (no backend can tag an object in place). A failed action is retried `object.post.read.retries` times, logged and counted (`post_read_failures`), never delivers the records again, and is finished by the next start; see docs/post-read.md.",
    ),
    optional(
        "object.post.read.move.prefix",
        Kind::String,
        "`object.post.read=move`: the prefix moved objects get (`done/` moves `in/a.jsonl` to `done/in/a.jsonl`). It must take moved objects out of the listing prefix, or they would be read again as new: refused at config time otherwise.",
    ),
    key(
        "object.post.read.retries",
        Kind::Int { min: 0, max: 1000 },
        "5",
        "Attempts after a failed post-read action, with exponential backoff (`store.retry.backoff.initial.ms` doubling up to `store.retry.backoff.max.ms`). After the last, the action is left pending in the offsets and tried again when the task next starts.",
    ),
    key(
        "store.retry.max.retries",
        Kind::Int {
            min: 0,
            max: 1000,
        },
        "10",
        "Cloud backends: retries of one request on a transient error (5xx, throttling, timeout, connection reset, connection refused), with exponential backoff. A GET interrupted mid-body resumes from the byte it reached; a read that makes no progress after this many resumes, and for `store.retry.timeout.ms`, fails (see `errors.tolerance`). A listing that fails is listed again after the idle backoff, until `store.retry.timeout.ms` has passed without a listing that worked.",
    ),
    key(
        "store.retry.backoff.initial.ms",
        POSITIVE,
        "100",
        "First wait before a retry; it doubles up to `store.retry.backoff.max.ms`.",
    ),
    key(
        "store.retry.backoff.max.ms",
        POSITIVE,
        "5000",
        "Longest wait between two retries (the design's 5 s cap on every backoff: a store that is down for minutes is asked again at least every 5 s once it is back).",
    ),
    key(
        "store.retry.timeout.ms",
        POSITIVE,
        "180000",
        "Cloud backends: a request is not retried any more once this long has passed since its first attempt; a read (or a listing page after the first) that makes no progress fails only once this long has passed too, and listings that keep failing fail the task once this long has passed since the last listing that worked; a store down for less than this is waited out (the task's status says it waits).",
    ),
    optional(
        "transforms",
        Kind::List,
        "Aliases of Kafka Connect single message transforms, applied in this order to every record before the converters; each configured under `transforms.<alias>.` (see docs/transforms.md).",
    ),
    optional(
        "predicates",
        Kind::List,
        "Aliases of Kafka Connect predicates, each configured under `predicates.<alias>.` and named by `transforms.<alias>.predicate` (see docs/transforms.md).",
    ),
    optional(
        "key.converter",
        Kind::Converter,
        "Overrides the worker's `key.converter` for this connector.",
    ),
    optional(
        "value.converter",
        Kind::Converter,
        "Overrides the worker's `value.converter` for this connector.",
    ),
    optional(
        "header.converter",
        Kind::HeaderConverter,
        "Overrides the worker's `header.converter` for this connector.",
    ),
];

/// The keys every connector reads, whatever its backend and format.
pub const CONNECTOR: KeySet = KeySet {
    owner: Owner::Connector,
    doc: "A connector file (`.properties`, or Kafka Connect's JSON `{\"name\": ..., \"config\": {...}}`): the keys every connector reads.",
    keys: CONNECTOR_KEYS,
    prefixes: CONNECTOR_PREFIXES,
    check: None,
};

/// Prefixed keys of a connector file.
pub const CONNECTOR_PREFIXES: &[PrefixDef] = &[
    PrefixDef {
        prefix: "producer.override.",
        doc: "librdkafka producer settings for this connector, overriding the worker's (e.g. `producer.override.linger.ms=20`).",
    },
    PrefixDef {
        prefix: "key.converter.",
        doc: "Settings of this connector's key converter (e.g. `key.converter.schemas.enable=false`).",
    },
    PrefixDef {
        prefix: "value.converter.",
        doc: "Settings of this connector's value converter.",
    },
    PrefixDef {
        prefix: "header.converter.",
        doc: "Settings of this connector's header converter (e.g. `header.converter.schemas.enable=false`).",
    },
    PrefixDef {
        prefix: "transforms.",
        doc: "`transforms.<alias>.type` (a Kafka Connect transform class, e.g. `org.apache.kafka.connect.transforms.InsertField$Value`), `transforms.<alias>.predicate`, `transforms.<alias>.negate` and the transform's own options; checked strictly (see docs/transforms.md).",
    },
    PrefixDef {
        prefix: "predicates.",
        doc: "`predicates.<alias>.type` (a Kafka Connect predicate class, e.g. `org.apache.kafka.connect.transforms.predicates.TopicNameMatches`) and the predicate's options (see docs/transforms.md).",
    },
    PrefixDef {
        prefix: "object_store.",
        doc: "Cloud backends: any `object_store` option, by its own key, passed to the store as written (e.g. `object_store.aws_virtual_hosted_style_request=true`, `object_store.google_service_account_key=...`, `object_store.azure_client_id=...`, `object_store.timeout=60s`, `object_store.proxy_url=...`); it wins over the keys above. Unknown options are rejected; values are never printed.",
    },
];

/// Keys of a worker file (`bootstrap.servers`, offsets, converters).
pub const WORKER_KEYS: &[KeyDef] = &[
    required(
        "bootstrap.servers",
        Kind::String,
        "Kafka brokers, `host:port` separated by commas.",
    ),
    optional(
        "offset.storage.file.filename",
        Kind::String,
        "File that stores source offsets (standalone mode): each commit appends its lines (so a `kill -9` loses no commit), the appended lines are fsynced at most `offset.flush.interval.ms` later, and the file is compacted atomically (fsynced, renamed) once it doubles. Required by `run`; `backfill` without it keeps offsets in memory (no resume).",
    ),
    optional(
        "offset.storage.topic",
        Kind::String,
        "Store offsets in this compacted Kafka topic (Kafka Connect's distributed-mode format: key `[\"<connector>\",{partition}]`, value `{offset}` JSON) instead of a file. Created with `cleanup.policy=compact` when missing (see `offset.storage.missing`). Wins over `offset.storage.file.filename`.",
    ),
    key(
        "offset.storage.partitions",
        POSITIVE,
        "25",
        "Partitions of the offsets topic when Sluice creates it.",
    ),
    key(
        "offset.storage.replication.factor",
        Kind::Int {
            min: -1,
            max: i16::MAX as i64,
        },
        "-1",
        "Replication factor of the offsets topic when Sluice creates it; -1 uses the broker's default.",
    ),
    key(
        "offset.storage.missing",
        Kind::Enum(&["create", "fail"]),
        "create",
        "What to do when the offset file or topic does not exist: `create` it (logged as a warning: every object is read from the beginning) or `fail` with an error (use it once offsets exist, so a deleted store never silently restarts ingestion from zero). A corrupt store is always an error.",
    ),
    key(
        "offset.flush.interval.ms",
        Kind::Int {
            min: 1,
            max: i64::MAX,
        },
        "5000",
        "At-least-once: the longest time acknowledged offsets wait before they are written to the offset store. Sluice writes them continuously (one write in flight per task, each carrying everything acknowledged meanwhile, at most 50 a second), so this is only an upper bound, kept for Kafka Connect compatibility; they are also written on stop. With `offset.flush.continuous=false` it is the period of the writes, as in Kafka Connect. It also bounds how long the offset file's appended lines wait for their fsync (a crash of the machine may lose that much of the commits, whose records are then sent again).",
    ),
    key(
        "offset.flush.continuous",
        Kind::Bool,
        "true",
        "At-least-once: write acknowledged offsets continuously (`true`: after a `kill -9` only what was sent and not yet committed comes again) or only every `offset.flush.interval.ms` (`false`: Kafka Connect's way; fewer offset writes, and a crash sends again up to an interval's worth of records). Offsets are written on stop either way; exactly-once ignores it.",
    ),
    key(
        "key.converter",
        Kind::Converter,
        "org.apache.kafka.connect.storage.StringConverter",
        "Converter for record keys (the object key by default, a string).",
    ),
    key(
        "value.converter",
        Kind::Converter,
        "org.apache.kafka.connect.json.JsonConverter",
        "Converter for record values.",
    ),
    key(
        "header.converter",
        Kind::HeaderConverter,
        "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        "Converter for record headers, as Kafka Connect's `header.converter`: `SimpleHeaderConverter` (each value's text as UTF-8), `StringConverter` (the same for the headers Sluice writes) or `JsonConverter` (each value as JSON, in the schema envelope unless `header.converter.schemas.enable=false`). Header values restored by `input.envelope` are written as they were. See docs/kafka.md.",
    ),
    key(
        "exactly.once.source.support",
        Kind::Enum(&["disabled", "enabled"]),
        "disabled",
        "`enabled`: every connector of this worker whose `exactly.once.support` is `requested` (the default) or `required` writes records and offsets in Kafka transactions. Needs `offset.storage.topic`.",
    ),
    key(
        "topic.creation.enable",
        Kind::Bool,
        "true",
        "Kafka Connect's switch for topic creation (KIP-158): `true` lets every connector with `topic.creation.` keys create the topics it writes to (partitions, replication factor and topic configs from its `topic.creation.*` groups) through the admin API before its first record goes there; `false` ignores those keys (a warning says so), leaving topics to the broker's auto-creation or to you. See docs/kafka.md.",
    ),
    key(
        "task.shutdown.graceful.timeout.ms",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "10000",
        "On stop, how long to wait for in-flight records to be acknowledged before giving up on them (their offsets are then not committed).",
    ),
    optional(
        "security.protocol",
        Kind::String,
        "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL` (any case), for every Kafka client of the worker: producers, the offsets topic's clients. See docs/kafka.md.",
    ),
    optional(
        "ssl.truststore.location",
        Kind::String,
        "TLS: the CA certificates the brokers' certificates must chain to, a PEM file (librdkafka's `ssl.ca.location`). PKCS#12 and JKS truststores are refused with the command that converts them. Unset: the system's CA certificates.",
    ),
    optional(
        "ssl.truststore.type",
        Kind::String,
        "`PEM` (`PKCS12` and `JKS` are refused with the conversion command); unset, guessed from the file name (`.jks`, `.p12`/`.pfx`, else PEM).",
    ),
    optional(
        "ssl.truststore.certificates",
        Kind::String,
        "TLS: the CA certificates as PEM text, instead of a file (librdkafka's `ssl.ca.pem`).",
    ),
    optional(
        "ssl.truststore.password",
        Kind::Password,
        "Accepted for Kafka Connect worker files; a PEM truststore has no password (ignored, with a warning).",
    ),
    optional(
        "ssl.keystore.location",
        Kind::String,
        "Mutual TLS: the client's certificate and key: a PKCS#12 file (`ssl.keystore.type=PKCS12` or a `.p12`/`.pfx` name, with `ssl.keystore.password`) or a PEM file holding the certificate chain and the private key (`ssl.keystore.type=PEM`). JKS is refused with the conversion command.",
    ),
    optional(
        "ssl.keystore.type",
        Kind::String,
        "`PEM` or `PKCS12`; unset, guessed from the file name.",
    ),
    optional(
        "ssl.keystore.password",
        Kind::Password,
        "The password of a PKCS#12 keystore.",
    ),
    optional(
        "ssl.keystore.certificate.chain",
        Kind::Password,
        "Mutual TLS: the client's certificate chain as PEM text (librdkafka's `ssl.certificate.pem`).",
    ),
    optional(
        "ssl.keystore.key",
        Kind::Password,
        "Mutual TLS: the client's private key as PEM text (librdkafka's `ssl.key.pem`).",
    ),
    optional(
        "ssl.key.password",
        Kind::Password,
        "The password of an encrypted private key (PEM file or text).",
    ),
    optional(
        "ssl.key.pem",
        Kind::Password,
        "librdkafka's name for the client's private key as PEM text.",
    ),
    optional(
        "ssl.endpoint.identification.algorithm",
        Kind::String,
        "`https` (librdkafka's default): the broker's certificate must name the host connected to; an empty value (Kafka Connect's way) or `none` turns the check off.",
    ),
    optional(
        "sasl.mechanism",
        Kind::String,
        "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` or `OAUTHBEARER` (librdkafka's `sasl.mechanisms`; OAUTHBEARER without OIDC token fetching). GSSAPI (Kerberos) is not built in.",
    ),
    optional(
        "sasl.jaas.config",
        Kind::Password,
        "Kafka's JAAS line: `PlainLoginModule` and `ScramLoginModule` give `username` and `password` (librdkafka's `sasl.username`, `sasl.password`); `OAuthBearerLoginModule` (OIDC) is refused: not built in. Use `${file:...}` or `${env:...}` to keep the password out of the file.",
    ),
    optional(
        "sasl.password",
        Kind::Password,
        "librdkafka's SASL password (with `sasl.username`).",
    ),
    optional(
        "sasl.oauthbearer.client.secret",
        Kind::Password,
        "librdkafka's OIDC client secret (OAUTHBEARER).",
    ),
    optional(
        "config.providers",
        Kind::List,
        "Config providers whose references `${name:...}` in this file's values are replaced at load: each needs `config.providers.<name>.class`, Kafka's `org.apache.kafka.common.config.provider.FileConfigProvider` (`${file:/path/secrets.properties:key}`: the value of `key` in that properties file) or `org.apache.kafka.common.config.provider.EnvVarConfigProvider` (`${env:NAME}`). No secret has to sit in the worker file.",
    ),
    optional(
        "plugin.path",
        Kind::String,
        "Accepted so Kafka Connect worker files load unchanged; Sluice has no plugins and ignores it.",
    ),
    key(
        "listeners",
        Kind::String,
        "http://127.0.0.1:8083",
        "Where `sluice run` serves Kafka Connect's REST API and `/metrics`: one `http://host:port` or `https://host:port` (then `listeners.https.ssl.*` give the certificate). Loopback by default; any other address is refused unless the listener is HTTPS, `rest.basic.auth.credentials.file` is set, or `rest.insecure=true`. `sluice run` with connector files serves the API only when this key is set. See docs/operations.md.",
    ),
    key(
        "log.format",
        Kind::Enum(&["text", "json"]),
        "text",
        "How `sluice run` and `sluice backfill` write their log lines to stderr: `text` (human-readable) or `json` (one JSON object per line, for log pipelines: timestamp, level, target, message, fields, and the `connector` and `task` of the span a task's lines come from). Levels come from `RUST_LOG` (default `info,rdkafka=warn`) and can be changed at run time through `PUT /admin/loggers/{name}`.",
    ),
    key(
        "rest.insecure",
        Kind::Bool,
        "false",
        "`true` lets `listeners` name a non-loopback address with no authentication (and no TLS): anyone who reaches it can create, change and delete connectors.",
    ),
    optional(
        "listeners.https.ssl.keystore.location",
        Kind::String,
        "HTTPS listener: a PEM file holding the server certificate chain (leaf first) and its unencrypted private key. Kafka Connect's JKS and PKCS#12 keystores are not read: convert them with `openssl pkcs12 -in store.p12 -nodes > store.pem`.",
    ),
    optional(
        "listeners.https.ssl.keystore.type",
        Kind::Enum(&["PEM"]),
        "Accepted for Kafka Connect worker files; only `PEM` is read.",
    ),
    optional(
        "listeners.https.ssl.keystore.certificate.chain",
        Kind::String,
        "HTTPS listener: the certificate chain as PEM text, instead of `listeners.https.ssl.keystore.location`.",
    ),
    optional(
        "listeners.https.ssl.keystore.key",
        Kind::Password,
        "HTTPS listener: the unencrypted private key as PEM text (with `listeners.https.ssl.keystore.certificate.chain`).",
    ),
    optional(
        "listeners.https.ssl.key.password",
        Kind::Password,
        "Refused with an explanation: encrypted keys are not read; give an unencrypted PEM key in a file only the worker can read.",
    ),
    optional(
        "listeners.https.ssl.keystore.password",
        Kind::Password,
        "Refused with an explanation, as `listeners.https.ssl.key.password`.",
    ),
    optional(
        "listeners.https.ssl.truststore.location",
        Kind::String,
        "HTTPS listener: a PEM file of CA certificates that client certificates must chain to (with `listeners.https.ssl.client.auth`).",
    ),
    optional(
        "listeners.https.ssl.truststore.type",
        Kind::Enum(&["PEM"]),
        "Accepted for Kafka Connect worker files; only `PEM` is read.",
    ),
    optional(
        "listeners.https.ssl.truststore.certificates",
        Kind::String,
        "HTTPS listener: the CA certificates as PEM text, instead of `listeners.https.ssl.truststore.location`.",
    ),
    key(
        "listeners.https.ssl.client.auth",
        Kind::Enum(&["none", "requested", "required"]),
        "none",
        "HTTPS listener: `required`: every client presents a certificate the truststore vouches for (mutual TLS; the handshake fails otherwise); `requested`: a certificate is asked for and checked when given.",
    ),
    optional(
        "rest.advertised.host.name",
        Kind::String,
        "The host this worker is named by in statuses (`worker_id`) and in its log line giving the API's URL; default: the address `listeners` binds.",
    ),
    optional(
        "rest.advertised.port",
        Kind::Int { min: 1, max: 65535 },
        "The port this worker is named by in statuses; default: the port `listeners` binds.",
    ),
    optional(
        "rest.advertised.listener",
        Kind::Enum(&["http", "https"]),
        "Accepted for Kafka Connect worker files; must match the scheme of `listeners`."
    ),
    optional(
        "rest.basic.auth.credentials.file",
        Kind::String,
        "File of `user:password` lines (`#` comments allowed): every REST and `/metrics` request must then carry HTTP basic auth with one of them (401 otherwise), and `listeners` may name a non-loopback address. Basic auth over plain HTTP sends the password readable on the network: use an `https://` listener. Keep the file readable by the worker only.",
    ),
    optional(
        "config.storage.file.filename",
        Kind::String,
        "File where `sluice run` keeps the connectors created or changed over the REST API (configuration and target state: running, paused, stopped), rewritten atomically; they come back after a restart. Default: `offset.storage.file.filename` with `.connectors.json` appended; with offsets in a Kafka topic and no file named, REST changes last until the worker stops.",
    ),
    // Distributed mode (docs/distributed.md): read by sluice-worker's `distributed` module.
    optional(
        "group.id",
        Kind::String,
        "Distributed mode: the Kafka group this worker joins (`sluice worker`, or `sluice run` with this key set). Every worker of one cluster names the same group, `config.storage.topic`, `status.storage.topic` and `offset.storage.topic`; the group's coordinator assigns connector tasks to workers. Not compatible with a Kafka Connect cluster's group: do not share the name. See docs/distributed.md.",
    ),
    optional(
        "config.storage.topic",
        Kind::String,
        "Distributed mode (required there): compacted one-partition topic holding connector configurations (`connector-<name>`) and target states (`target-state-<name>`) in Kafka Connect's record format. Created when missing.",
    ),
    key(
        "config.storage.replication.factor",
        Kind::Int {
            min: -1,
            max: i16::MAX as i64,
        },
        "-1",
        "Distributed mode: replication factor of `config.storage.topic` when Sluice creates it; -1 uses the broker's default.",
    ),
    optional(
        "status.storage.topic",
        Kind::String,
        "Distributed mode (required there): compacted topic holding task states (`status-task-<name>-<id>`, Kafka Connect's format). Created when missing.",
    ),
    key(
        "status.storage.partitions",
        POSITIVE,
        "5",
        "Distributed mode: partitions of `status.storage.topic` when Sluice creates it.",
    ),
    key(
        "status.storage.replication.factor",
        Kind::Int {
            min: -1,
            max: i16::MAX as i64,
        },
        "-1",
        "Distributed mode: replication factor of `status.storage.topic` (and of the per-connector task topics) when Sluice creates it; -1 uses the broker's default.",
    ),
    key(
        "session.timeout.ms",
        Kind::Int {
            min: 1000,
            max: i32::MAX as i64,
        },
        "10000",
        "Distributed mode: a worker that sends no heartbeat for this long is declared dead by the group coordinator and its tasks are assigned to the others (the failover time is about this plus one rebalance).",
    ),
    key(
        "heartbeat.interval.ms",
        Kind::Int {
            min: 100,
            max: i32::MAX as i64,
        },
        "3000",
        "Distributed mode: how often a worker heartbeats to the group coordinator; keep it at most a third of `session.timeout.ms`.",
    ),
    key(
        "rebalance.timeout.ms",
        Kind::Int {
            min: 1000,
            max: i32::MAX as i64,
        },
        "60000",
        "Distributed mode: the longest a worker may take to give up tasks in a rebalance (each revoked task delivers what it read and commits first); a worker slower than this leaves the group. Keep it above `task.shutdown.graceful.timeout.ms`.",
    ),
    key(
        "scheduled.rebalance.max.delay.ms",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "0",
        "Distributed mode: accepted for Kafka Connect worker files; only 0 is supported. Sluice's assignment is Kafka's cooperative-sticky consumer assignor, which reassigns a lost worker's tasks at the first rebalance after `session.timeout.ms` instead of waiting for the worker to come back.",
    ),
];

/// The worker file's keys, as a set of their own (never mixed with a connector's).
pub const WORKER: KeySet = KeySet {
    owner: Owner::Worker,
    doc: "The worker file given to `sluice run` / `sluice backfill` (like `connect-standalone.properties`).",
    keys: WORKER_KEYS,
    prefixes: WORKER_PREFIXES,
    check: None,
};

/// Prefixed keys of a worker file.
pub const WORKER_PREFIXES: &[PrefixDef] = &[
    PrefixDef {
        prefix: "producer.",
        doc: "librdkafka producer settings (e.g. `producer.linger.ms=20`, `producer.compression.type=zstd`). Sluice's defaults: `enable.idempotence=true`, `acks=all`, `partitioner=murmur2_random` (the Java client's key hashing), `linger.ms=5`, `queue.buffering.max.kbytes=32768` (the Java client's `buffer.memory`), `reconnect.backoff.max.ms=1000` (the Java client's; librdkafka's 10 s would hold delivery back that long after a broker outage). Outside exactly-once the producer has no delivery timeout: records are retried, in order, until the broker takes them; a `message.timeout.ms` (or `delivery.timeout.ms`) set is how long records in flight may go without a delivery report before the task warns.",
    },
    PrefixDef {
        prefix: "kafka.",
        doc: "Same as `producer.`: librdkafka settings passed straight through.",
    },
    PrefixDef {
        prefix: "ssl.",
        doc: "Other TLS settings by librdkafka's names, passed to every Kafka client as written (e.g. `ssl.ca.location`, `ssl.ca.pem`, `ssl.certificate.location`, `ssl.certificate.pem`, `ssl.key.location`); Kafka Connect's Java-only `ssl.protocol`, `ssl.enabled.protocols`, `ssl.*.algorithm`, `ssl.provider` are ignored with a warning. See docs/kafka.md.",
    },
    PrefixDef {
        prefix: "sasl.",
        doc: "Other SASL settings by librdkafka's names, passed to every Kafka client as written (e.g. `sasl.username`, `sasl.oauthbearer.*`).",
    },
    PrefixDef {
        prefix: "config.providers.",
        doc: "`config.providers.<name>.class`: the class of a provider listed in `config.providers`.",
    },
    PrefixDef {
        prefix: "key.converter.",
        doc: "Settings of the key converter (e.g. `key.converter.schemas.enable=false`).",
    },
    PrefixDef {
        prefix: "value.converter.",
        doc: "Settings of the value converter (e.g. `value.converter.schemas.enable=false`).",
    },
    PrefixDef {
        prefix: "header.converter.",
        doc: "Settings of the header converter (e.g. `header.converter.schemas.enable=false`).",
    },
];

/// Renders the configuration reference (`docs/config.md`): the connector keys of `registry`,
/// grouped by the component that declares them, then the worker keys.
pub fn reference_markdown(registry: &super::registry::Registry) -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated by `sluice config-docs` from the keys each component declares beside its code \
         (the connector's in `core/src/config/defs.rs`, each backend's in `sources/src/`, each \
         format's in `transformers/src/`); a test fails when this file and the code disagree. \
         Unknown keys are rejected with the nearest valid key.\n\n",
    );
    out.push_str(&registry.reference_markdown());
    out.push_str(
        "## Worker keys\n\nThe worker file given to `sluice run` / `sluice backfill` (like `connect-standalone.properties`).\n\n",
    );
    out.push_str(&super::registry::table(WORKER_KEYS, WORKER_PREFIXES, |k| {
        registry.describe(k)
    }));
    out.push_str(&converter_reference());
    out
}

/// The settings of each converter class (`key.converter.<setting>` / `value.converter.<setting>`,
/// in a worker file or a connector's), from [`crate::convert::converter_settings`].
fn converter_reference() -> String {
    let mut out = String::from(
        "\n## Converter settings\n\nEach converter's own settings, written after its prefix \
         (`key.converter.` or `value.converter.`) in the worker file or, with the connector's own \
         `key.converter` / `value.converter`, in the connector's. The Schema Registry converters \
         (`avro`: `io.confluent.connect.avro.AvroConverter`, `json_schema`: \
         `io.confluent.connect.json.JsonSchemaConverter`, `protobuf`: \
         `io.confluent.connect.protobuf.ProtobufConverter`) are described in docs/kafka.md.\n\n\
         | setting | converters | default | description |\n|---|---|---|---|\n",
    );
    for s in crate::convert::converter_settings() {
        let default = if s.default.is_empty() {
            "unset".to_owned()
        } else {
            format!("`{}`", s.default)
        };
        out.push_str(&format!(
            "| `{}` | {} | {default} | {} |\n",
            s.name,
            s.classes.join(", "),
            s.doc.replace('|', "\\|")
        ));
    }
    out
}
