//! Every configuration key Sluice knows, with its type, default and documentation: the one place
//! defaults live. `docs/config.md` is generated from these tables (`sluice config-docs`) and a test
//! checks it is up to date.

/// The type of a configuration value, used to validate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

const fn key(name: &'static str, kind: Kind, default: &'static str, doc: &'static str) -> KeyDef {
    KeyDef {
        name,
        kind,
        default: Some(default),
        required: false,
        doc,
    }
}

const fn required(name: &'static str, kind: Kind, doc: &'static str) -> KeyDef {
    KeyDef {
        name,
        kind,
        default: None,
        required: true,
        doc,
    }
}

const fn optional(name: &'static str, kind: Kind, doc: &'static str) -> KeyDef {
    KeyDef {
        name,
        kind,
        default: None,
        required: false,
        doc,
    }
}

const POSITIVE: Kind = Kind::Int {
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
];

/// Values of `input.format`.
pub const INPUT_FORMATS: &[&str] = &["avro", "parquet", "jsonl", "json", "csv", "text", "bytes"];

/// Values of `file.compression.type`.
pub const COMPRESSION_TYPES: &[&str] = &[
    "none", "auto", "gzip", "zstd", "snappy", "bzip2", "lz4", "deflate",
];

/// Backends accepted by `connector.class` (short names and the Kafka Connect class names users
/// already have in their files).
pub const CONNECTOR_CLASSES: &[&str] = &[
    "local",
    "s3",
    "gcs",
    "azure",
    "io.aiven.kafka.connect.s3.source.S3SourceConnector",
    "io.aiven.kafka.connect.azure.source.AzureBlobSourceConnector",
];

/// The backend a `connector.class` value names: `local`, `s3`, `gcs` or `azure`.
pub fn backend_of(connector_class: &str) -> Option<&'static str> {
    match connector_class {
        "local" => Some("local"),
        "s3" | "io.aiven.kafka.connect.s3.source.S3SourceConnector" => Some("s3"),
        "gcs" => Some("gcs"),
        "azure" | "io.aiven.kafka.connect.azure.source.AzureBlobSourceConnector" => Some("azure"),
        _ => None,
    }
}

/// Keys of a connector file (`name`, `connector.class`, `topic`, ...).
pub const CONNECTOR_KEYS: &[KeyDef] = &[
    required("name", Kind::String, "Unique name of the connector. Offsets are stored under it."),
    required(
        "connector.class",
        Kind::Enum(CONNECTOR_CLASSES),
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
        "Template the WHOLE object key must match, e.g. `{{topic}}-{{partition}}-{{start_offset}}.jsonl`. Placeholders: `{{topic}}`, `{{partition}}`, `{{start_offset}}`, `{{timestamp}}` (Aiven's forms with `:padding=true` and `:unit=yyyy|MM|dd|HH` accepted). Objects that do not match are ignored. Unset: every object under the prefix is read.",
    ),
    key(
        "distribution.type",
        Kind::Enum(&["object_hash", "partition"]),
        "object_hash",
        "How objects are spread over tasks: `object_hash` = XXH3-64 of the object key modulo `tasks.max` (stable across restarts and upgrades); `partition` = the template's `{{partition}}` modulo `tasks.max` (objects without one fall back to object_hash).",
    ),
    key(
        "input.format",
        Kind::Enum(INPUT_FORMATS),
        "bytes",
        "Format of the objects: `avro` (object container files), `parquet`, `jsonl` (one JSON value per line), `json` (one JSON document, or a top-level array read element by element), `csv`, `text` (lines, regex-matched lines or text between markers) or `bytes` (fixed-size chunks or the whole object). See docs/formats.md.",
    ),
    key(
        "file.compression.type",
        Kind::Enum(COMPRESSION_TYPES),
        "none",
        "Compression of the objects, undone while streaming: `none`, `gzip` (multi-member too), `zstd`, `snappy` (framing format), `bzip2`, `lz4` (frame format), `deflate` (zlib or raw), or `auto` (per object: from the key's extension, else from its `Content-Encoding`, else from the magic number, else none). Not used by `parquet`, whose pages carry their own compression.",
    ),
    key(
        "transformer.max.buffer.size",
        POSITIVE,
        "4096",
        "`bytes` format with `transformer.bytes.mode=chunks`: size in bytes of each chunk (record).",
    ),
    key(
        "transformer.max.record.size",
        POSITIVE,
        "16777216",
        "Largest record in bytes: a `jsonl` line, a `json` document or array element, a `csv` row, a `text` record, an `avro` block, or the whole object for `bytes` with `transformer.bytes.mode=object`. A longer one is a record error (see `errors.tolerance`), skipped without being held in memory.",
    ),
    key(
        "transformer.json.infer.schema",
        Kind::Bool,
        "false",
        "`jsonl` and `json` formats: infer a Connect schema for each record (objects become structs) instead of schemaless values.",
    ),
    key(
        "transformer.json.split.array",
        Kind::Bool,
        "true",
        "`json` format: a top-level array is streamed element by element, one record each (never held whole); false: the array is one record.",
    ),
    key(
        "transformer.bytes.mode",
        Kind::Enum(&["chunks", "object"]),
        "chunks",
        "`bytes` format: `chunks` cuts the object into records of `transformer.max.buffer.size` bytes; `object` makes the whole object one record, up to `transformer.max.record.size` bytes (a larger object is a record error).",
    ),
    key(
        "csv.first.row.as.header",
        Kind::Bool,
        "true",
        "`csv` format: the first row names the columns and is not a record. With `csv.column.names` set too, the header row is skipped and the configured names win.",
    ),
    optional(
        "csv.column.names",
        Kind::List,
        "`csv` format: the column names, comma-separated. Without them and without a header row, columns are named `_c0`, `_c1`, ...",
    ),
    key(
        "csv.separator.char",
        Kind::String,
        ",",
        "`csv` format: the field separator: one character, `\\t` for a tab, or a decimal character code of two or more digits (`09` = tab, `59` = `;`).",
    ),
    key(
        "csv.quote.char",
        Kind::String,
        "\"",
        "`csv` format: the quote character (same forms as `csv.separator.char`). A quote inside a quoted field is written twice.",
    ),
    optional(
        "csv.escape.char",
        Kind::String,
        "`csv` format: an escape character inside quoted fields (e.g. `\\`), in addition to doubled quotes (same forms as `csv.separator.char`). Unset: none.",
    ),
    optional(
        "csv.column.types",
        Kind::List,
        "`csv` format: typed columns, `name:type` comma-separated; types: string, boolean, int8, int16, int32, int64, float32, float64, date (YYYY-MM-DD), time (HH:MM:SS[.fff]), timestamp (ISO 8601; UTC unless an offset is given), decimal(precision,scale), bytes (base64). Unlisted columns are strings. An empty field of a non-string column is null.",
    ),
    key(
        "csv.infer.types",
        Kind::Bool,
        "false",
        "`csv` format: infer the types of columns not listed in `csv.column.types` from the first `csv.infer.rows` rows (boolean, int64, float64, else string); a later value that does not fit is a record error.",
    ),
    key(
        "csv.infer.rows",
        POSITIVE,
        "100",
        "`csv` format: how many rows `csv.infer.types` looks at (held in memory meanwhile).",
    ),
    key(
        "read.text.mode",
        Kind::Enum(&["line", "regex", "startEndTag", "startEndLine"]),
        "line",
        "`text` format (Lenses' modes): `line` = one record per line; `regex` = one record per line matching `read.text.regex`, other lines dropped; `startEndTag` = one record per text from `read.text.start.tag` to `read.text.end.tag` (tags included, may span lines); `startEndLine` = one record per group of lines from a line equal to `read.text.start.line` to a line equal to `read.text.end.line` (joined with `\\n`).",
    ),
    optional(
        "read.text.regex",
        Kind::String,
        "`text` format, `read.text.mode=regex`: the regular expression (Rust `regex` syntax) a line must match somewhere to be a record.",
    ),
    optional(
        "read.text.start.tag",
        Kind::String,
        "`text` format, `read.text.mode=startEndTag`: the text that opens a record.",
    ),
    optional(
        "read.text.end.tag",
        Kind::String,
        "`text` format, `read.text.mode=startEndTag`: the text that closes a record.",
    ),
    optional(
        "read.text.start.line",
        Kind::String,
        "`text` format, `read.text.mode=startEndLine`: the line that opens a record.",
    ),
    optional(
        "read.text.end.line",
        Kind::String,
        "`text` format, `read.text.mode=startEndLine`: the line that closes a record. Unset: an empty line closes it.",
    ),
    key(
        "read.text.trim",
        Kind::Bool,
        "false",
        "`text` format: trim leading and trailing whitespace of each record (of each line before matching, in `startEndLine` mode).",
    ),
    key(
        "read.text.last.end.line.missing",
        Kind::Bool,
        "false",
        "`text` format, `read.text.mode=startEndLine`: at the end of the object, a record whose end line never came is still a record (otherwise it is dropped).",
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
        "record.key",
        Kind::Enum(&["object_key", "none"]),
        "object_key",
        "Record key: the object key (a string), or none (null key; the partition then comes from the template or the producer's sticky partitioner).",
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
    optional(
        "local.path",
        Kind::String,
        "`local` backend: the folder used as the bucket (required for `connector.class=local`).",
    ),
    optional(
        "local.prefix",
        Kind::String,
        "`local` backend: only objects whose key starts with this prefix are read.",
    ),
    key(
        "local.file.min.age.ms",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "5000",
        "`local` backend: a file is read only once it has not been modified for this long, like the \"changed\" read lock of file-based integrations: a file still being written (appended to, copied in) is left until its writer is done. A `backfill` waits for such files. 0: read files whatever their age (only safe when every writer renames a finished file into place).",
    ),
    key(
        "local.file.ignore.patterns",
        Kind::List,
        "*.tmp,*.part,.*,*._COPYING_",
        "`local` backend: file names (the last part of the key, glob patterns with `*`, `?` and `[...]`, comma-separated) never read: the in-progress names of writers that rename a finished file into place (`*.tmp`, `*.part`, hidden `.*` files such as rsync's, Hadoop's `*._COPYING_`). Empty: read every file.",
    ),
    key(
        "object.read.concurrency",
        POSITIVE,
        "4",
        "Objects each task reads at once (streamed GETs in flight, parsed in parallel). Records of one object stay in order and offsets stay per object; objects are opened in key order.",
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
        "`run` mode: listings normally start after the greatest key already seen (S3/GCS start-after, Azure startFrom), so new objects cost one small LIST; at most this often a listing starts from the beginning of the prefix instead, which picks up late arrivals (an object whose key sorts before keys already processed) and objects overwritten or appended to since (`object.overwrite.policy`). 0: every listing is a full one. Unset: 0 for the `local` backend (a folder is always read whole, so a full listing costs nothing more), 300000 for the others.",
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
        "store.retry.max.retries",
        Kind::Int {
            min: 0,
            max: 1000,
        },
        "10",
        "Cloud backends: retries of one request on a transient error (5xx, throttling, timeout, connection reset), with exponential backoff. A GET interrupted mid-body resumes from the byte it reached; a read that makes no progress after this many resumes fails (see `errors.tolerance`).",
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
        "15000",
        "Longest wait between two retries.",
    ),
    key(
        "store.retry.timeout.ms",
        POSITIVE,
        "180000",
        "Cloud backends: a request is not retried any more once this long has passed since its first attempt.",
    ),
    optional(
        "aws.s3.bucket.name",
        Kind::String,
        "`s3` backend: the bucket (required).",
    ),
    optional(
        "aws.s3.prefix",
        Kind::String,
        "`s3` backend: only objects whose key starts with this string are read (a plain string prefix, as in S3's API: `logs/` or `logs/2024-`).",
    ),
    optional(
        "aws.s3.region",
        Kind::String,
        "`s3` backend: the bucket's region, e.g. `eu-west-1`. Unset: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.",
    ),
    optional(
        "aws.s3.endpoint",
        Kind::String,
        "`s3` backend: the endpoint of an S3-compatible store (MinIO, Ceph, ...), e.g. `http://minio:9000`. Requests then use path-style URLs (`<endpoint>/<bucket>/<key>`), as MinIO-like stores need; `http://` is allowed. Unset: AWS.",
    ),
    optional(
        "aws.access.key.id",
        Kind::Password,
        "`s3` backend: access key ID (with `aws.secret.access.key`). Unset: the default chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, web identity via `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, ECS container credentials, EC2 instance metadata).",
    ),
    optional(
        "aws.secret.access.key",
        Kind::Password,
        "`s3` backend: secret access key (with `aws.access.key.id`).",
    ),
    optional(
        "aws.session.token",
        Kind::Password,
        "`s3` backend: session token of temporary credentials (with `aws.access.key.id` and `aws.secret.access.key`).",
    ),
    key(
        "aws.s3.fetch.page.size",
        Kind::Int { min: 1, max: 1000 },
        "1000",
        "`s3` backend: keys per LIST request (S3 returns at most 1000). Pages are fetched one at a time as objects are consumed.",
    ),
    optional(
        "gcs.bucket.name",
        Kind::String,
        "`gcs` backend: the bucket (required).",
    ),
    optional(
        "gcs.prefix",
        Kind::String,
        "`gcs` backend: only objects whose name starts with this string are read.",
    ),
    optional(
        "gcs.credentials.path",
        Kind::String,
        "`gcs` backend: path of a service account key file (JSON). At most one of `gcs.credentials.path`, `gcs.credentials.json`, `gcs.credentials.default=true`.",
    ),
    optional(
        "gcs.credentials.json",
        Kind::Password,
        "`gcs` backend: a service account key, as JSON text.",
    ),
    optional(
        "gcs.credentials.default",
        Kind::Bool,
        "`gcs` backend: use Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's user credentials, else the instance metadata server). This is also what happens when no credentials key is set.",
    ),
    optional(
        "gcs.endpoint.url",
        Kind::String,
        "`gcs` backend: another endpoint than `https://storage.googleapis.com` (an emulator, a private endpoint); `http://` is allowed.",
    ),
    optional(
        "azure.storage.connection.string",
        Kind::Password,
        "`azure` backend: a connection string as the Azure portal gives it (`DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net`, or with `BlobEndpoint=...` and/or `SharedAccessSignature=...`), or `UseDevelopmentStorage=true` for Azurite. Alternative to `azure.account.name` + a credential.",
    ),
    optional(
        "azure.storage.container.name",
        Kind::String,
        "`azure` backend: the container (required).",
    ),
    optional(
        "azure.blob.prefix",
        Kind::String,
        "`azure` backend: only blobs whose name starts with this string are read.",
    ),
    optional(
        "azure.account.name",
        Kind::String,
        "`azure` backend: the storage account (when no connection string is given).",
    ),
    optional(
        "azure.account.key",
        Kind::Password,
        "`azure` backend: the account key (Shared Key).",
    ),
    optional(
        "azure.sas.token",
        Kind::Password,
        "`azure` backend: a shared access signature (the query string, with or without the leading `?`). With neither key nor SAS: the default chain (workload identity, managed identity; see docs/backends/azure.md).",
    ),
    optional(
        "azure.blob.endpoint",
        Kind::String,
        "`azure` backend: the blob endpoint, e.g. `https://myaccount.blob.core.windows.net` or an emulator's `http://127.0.0.1:10000/devstoreaccount1`; `http://` is allowed.",
    ),
    key(
        "azure.blob.fetch.page.size",
        Kind::Int { min: 1, max: 5000 },
        "5000",
        "`azure` backend: blobs per List Blobs request (Azure returns at most 5000).",
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
        Kind::Enum(CONVERTERS),
        "Overrides the worker's `key.converter` for this connector.",
    ),
    optional(
        "value.converter",
        Kind::Enum(CONVERTERS),
        "Overrides the worker's `value.converter` for this connector.",
    ),
];

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
        "File that stores source offsets (standalone mode). Rewritten atomically; survives kill -9. Required by `run`; `backfill` without it keeps offsets in memory (no resume).",
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
        "How often acknowledged offsets are written to the offset store (also on stop).",
    ),
    key(
        "key.converter",
        Kind::Enum(CONVERTERS),
        "org.apache.kafka.connect.storage.StringConverter",
        "Converter for record keys (the object key by default, a string).",
    ),
    key(
        "value.converter",
        Kind::Enum(CONVERTERS),
        "org.apache.kafka.connect.json.JsonConverter",
        "Converter for record values.",
    ),
    key(
        "exactly.once.source.support",
        Kind::Enum(&["disabled", "enabled"]),
        "disabled",
        "`enabled`: every connector of this worker whose `exactly.once.support` is `requested` (the default) or `required` writes records and offsets in Kafka transactions. Needs `offset.storage.topic`.",
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
        "Passed to the producer (librdkafka `security.protocol`).",
    ),
    optional(
        "plugin.path",
        Kind::String,
        "Accepted so Kafka Connect worker files load unchanged; Sluice has no plugins and ignores it.",
    ),
];

/// Prefixed keys of a worker file.
pub const WORKER_PREFIXES: &[PrefixDef] = &[
    PrefixDef {
        prefix: "producer.",
        doc: "librdkafka producer settings (e.g. `producer.linger.ms=20`, `producer.compression.type=zstd`). Sluice's defaults: `enable.idempotence=true`, `acks=all`, `partitioner=murmur2_random` (the Java client's key hashing).",
    },
    PrefixDef {
        prefix: "kafka.",
        doc: "Same as `producer.`: librdkafka settings passed straight through.",
    },
    PrefixDef {
        prefix: "ssl.",
        doc: "TLS settings passed to librdkafka as written (e.g. `ssl.ca.location`).",
    },
    PrefixDef {
        prefix: "sasl.",
        doc: "SASL settings passed to librdkafka as written (e.g. `sasl.mechanism`, `sasl.username`).",
    },
    PrefixDef {
        prefix: "key.converter.",
        doc: "Settings of the key converter (e.g. `key.converter.schemas.enable=false`).",
    },
    PrefixDef {
        prefix: "value.converter.",
        doc: "Settings of the value converter (e.g. `value.converter.schemas.enable=false`).",
    },
];

/// Renders the configuration reference (`docs/config.md`) from the tables above.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from `core/src/config/defs.rs` by `sluice config-docs`; a test fails when this \
         file and the code disagree. Unknown keys are rejected with the nearest valid key.\n\n",
    );
    let mut table = |title: &str, intro: &str, keys: &[KeyDef], prefixes: &[PrefixDef]| {
        out.push_str(&format!("## {title}\n\n{intro}\n\n"));
        out.push_str("| key | type | default | description |\n|---|---|---|---|\n");
        for k in keys {
            let default = match (k.default, k.required) {
                (Some(d), _) => format!("`{d}`"),
                (None, true) => "required".into(),
                (None, false) => "unset".into(),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                k.name,
                k.kind.describe(),
                default,
                k.doc
            ));
        }
        for p in prefixes {
            out.push_str(&format!(
                "| `{}*` | pass-through | | {} |\n",
                p.prefix, p.doc
            ));
        }
        out.push('\n');
    };
    table(
        "Connector keys",
        "A connector file (`.properties`, or Kafka Connect's JSON `{\"name\": ..., \"config\": {...}}`).",
        CONNECTOR_KEYS,
        CONNECTOR_PREFIXES,
    );
    table(
        "Worker keys",
        "The worker file given to `sluice run` / `sluice backfill` (like `connect-standalone.properties`).",
        WORKER_KEYS,
        WORKER_PREFIXES,
    );
    out
}
