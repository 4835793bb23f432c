//! The worker's one public error type.

/// What can go wrong when operating connectors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No connector of that name runs on this worker.
    #[error("connector {name:?} not found; connectors on this worker: {known}")]
    UnknownConnector {
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated (or "none").
        known: String,
    },
    /// A connector of that name exists already.
    #[error("connector {0:?} already exists; reconfigure it or delete it first")]
    AlreadyExists(String),
    /// The connector has no task of that id.
    #[error("connector {name:?} has no task {task}; its tasks are 0..{tasks}")]
    UnknownTask {
        /// Connector name.
        name: String,
        /// The task id asked for.
        task: u32,
        /// How many tasks it has.
        tasks: u32,
    },
    /// A reconfiguration tried to rename the connector.
    #[error("the new configuration names connector {new:?}, not {old:?}; the name cannot change")]
    Rename {
        /// The connector's name.
        old: String,
        /// The name in the new configuration.
        new: String,
    },
    /// Building or running the connector failed (configuration, Kafka, store, offsets).
    #[error("connector {name:?}: {source}")]
    Connector {
        /// Connector name.
        name: String,
        /// The cause.
        #[source]
        source: Box<sluice_core::Error>,
    },
    /// Offsets can only be changed while the connector is stopped.
    #[error("connector {name:?} is {state}: stop it first (PUT /connectors/{name}/stop, or `sluice offsets` with the worker down), then change its offsets and resume it")]
    NotStopped {
        /// Connector name.
        name: String,
        /// Its state now (`RUNNING`, `PAUSED`, ...).
        state: &'static str,
    },
    /// The worker's connector configuration file (`config.storage.file.filename`) could not
    /// be read or written.
    #[error("connector configuration file {path}: {message}")]
    ConfigFile {
        /// The file.
        path: String,
        /// What went wrong and what to do.
        message: String,
        /// The I/O or JSON error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The REST API could not start (bad `listeners`, address in use, a refused listener).
    #[error("REST API: {message}")]
    Rest {
        /// What went wrong and what to do.
        message: String,
        /// The I/O error, when there is one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Distributed mode: a cluster topic, the group or a cluster-wide change failed.
    #[error("distributed mode: {message}")]
    Distributed {
        /// What went wrong (the topic, the connector) and what to do.
        message: String,
        /// The Kafka or JSON error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Opening the worker's offset store failed.
    #[error(transparent)]
    Core(Box<sluice_core::Error>),
}

impl From<sluice_core::Error> for Error {
    fn from(e: sluice_core::Error) -> Self {
        Error::Core(Box::new(e))
    }
}

/// Result with the worker's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
