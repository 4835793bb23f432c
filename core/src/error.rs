//! The crate's one public error type.

/// A boxed cause, kept so the whole source chain is reported.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Sluice's core. Each variant says what failed, where (object,
/// record, offset key) and keeps the cause as its `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A schema was built wrongly (duplicate field, bad default, ...).
    #[error("invalid schema: {0}")]
    Schema(String),

    /// A value does not match its schema.
    #[error("invalid data: {0}")]
    Data(String),

    /// Configuration problems, all of them (each line names the key).
    #[error("invalid configuration{}:\n{}", context.as_deref().map(|c| format!(" in {c}")).unwrap_or_default(),
        problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Config {
        /// Which file or connector the problems are in, when known.
        context: Option<String>,
        /// One line per problem, naming the key and what to do.
        problems: Vec<String>,
    },

    /// A record of an object could not be read or parsed.
    #[error("object {object:?}, record {record_index}{}: {source}",
        byte_offset.map(|o| format!(" (byte offset {o})")).unwrap_or_default())]
    Record {
        /// The object's key (path within the bucket).
        object: String,
        /// Zero-based index of the failing record within the object.
        record_index: u64,
        /// Byte offset in the (decompressed) object where the record starts, when known.
        byte_offset: Option<u64>,
        /// True when the rest of the object can still be read after skipping this record; false
        /// when the object cannot be read any further (I/O failure, truncation, ...).
        recoverable: bool,
        /// The raw bytes of the failing record, when available (for the dead letter queue).
        raw: Option<bytes::Bytes>,
        /// The cause.
        source: BoxError,
    },

    /// A value could not be converted to bytes for Kafka.
    #[error("cannot convert the {part} of a record for topic {topic:?}: {source}")]
    Convert {
        /// `"key"` or `"value"`.
        part: &'static str,
        /// The destination topic.
        topic: String,
        /// The cause.
        source: BoxError,
    },

    /// A single message transform failed on a record (see `crate::transforms`).
    #[error("transform {alias:?} ({type_name}) failed: {source}")]
    Transform {
        /// The transform's alias (`transforms=<alias>`).
        alias: String,
        /// The transform's class name without the package, e.g. `InsertField$Value`.
        type_name: &'static str,
        /// The cause.
        source: Box<Error>,
    },

    /// The object store failed.
    #[error("object store {bucket:?}{}: {source}. Check the bucket name, the credentials and that the store is reachable",
        object.as_deref().map(|o| format!(", object {o:?}")).unwrap_or_default())]
    Store {
        /// The bucket / container / folder.
        bucket: String,
        /// The object, when the failure concerns one.
        object: Option<String>,
        /// The cause.
        source: BoxError,
    },

    /// The notification queue could not be read.
    #[error("notification queue {queue}: {source}. Check the queue's URL (name), that the credentials may receive and delete its messages, and that it is reachable")]
    Notifications {
        /// The queue (URL or name).
        queue: String,
        /// The cause.
        source: BoxError,
    },

    /// Reading or writing stored offsets failed.
    #[error("offset store {location}: {message}")]
    OffsetStore {
        /// Where the offsets live (file path, topic).
        location: String,
        /// What went wrong and what to do.
        message: String,
        /// The cause, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// An offset value could not be represented (e.g. an integer beyond i64).
    #[error("invalid offset value: {0}")]
    Offset(String),

    /// Kafka rejected or failed a record or a client operation.
    #[error("kafka: {context}: {source}")]
    Kafka {
        /// What Sluice was doing (e.g. `"delivering object \"a.jsonl\" record 5 to topic \"t\""`).
        context: String,
        /// The cause.
        source: rdkafka::error::KafkaError,
    },

    /// Kafka could not be reached, or refused this client: why, and what to do.
    #[error("cannot connect to Kafka at {bootstrap:?}: {reason}")]
    KafkaConnection {
        /// `bootstrap.servers`.
        bootstrap: String,
        /// The reason (DNS, TCP, TLS handshake, SASL authentication, authorization) and what
        /// to do; never a secret.
        reason: String,
    },

    /// The task was stopped because of an earlier failure.
    #[error("task {task} stopped: {source}")]
    Task {
        /// The task's name (`connector-N`).
        task: String,
        /// The failure that stopped it.
        source: Box<Error>,
    },

    /// Local I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// A configuration error with a single problem.
    pub fn config(problem: impl Into<String>) -> Self {
        Error::Config {
            context: None,
            problems: vec![problem.into()],
        }
    }

    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// `e` followed by its whole `source` chain, one cause per line (causes already contained in the
/// text above them are not repeated).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let line = s.to_string();
        if !out.contains(&line) {
            out.push_str("\n  caused by: ");
            out.push_str(&line);
        }
        cur = s.source();
    }
    out
}
