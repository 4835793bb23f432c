//! Running a connector in this process, without the command line: what a test of a pipeline
//! (see `docs/testing-your-pipeline.md`) or a program that drives Sluice itself needs. The
//! connector is built with the process's registry ([`crate::install`], else the built-ins).

use crate::config::Settings;

pub use sluice_core::driver::TaskEnd;
pub use sluice_core::metrics::{HistogramSnapshot, IgnoreReason, MetricsSnapshot};
pub use sluice_worker::{ConnectorSummary, Error};

/// One pass over what the connector's bucket holds now, as `sluice backfill` does: builds a
/// worker from `worker` (`bootstrap.servers`, `offset.storage.file.filename`, converters, ...)
/// and the connector from `connector`, reads every object, delivers and commits, then stops.
/// The summary says what was read and delivered ([`ConnectorSummary::ok`] is false when a task
/// failed).
///
/// # Errors
/// A configuration problem (every one, each naming its key; [`Error::Core`] holding
/// [`crate::Error::Config`]), or the worker or connector could not start (Kafka unreachable, the
/// backend cannot be built).
pub async fn backfill(worker: &Settings, connector: &Settings) -> Result<ConnectorSummary, Error> {
    use sluice_core::config::ConnectorConfig;
    use sluice_worker::{Mode, Worker};

    let worker = sluice_worker::registry::worker_config(worker)?;
    let connector = ConnectorConfig::from_settings(&sluice_worker::registry::current(), connector)?;
    let name = connector.name.clone();
    let worker = Worker::new(worker, Mode::Backfill).await?;
    if let Err(e) = worker.create(connector).await {
        worker.shutdown().await;
        return Err(e);
    }
    worker.wait_idle().await;
    let summary = worker.summary(&name);
    worker.shutdown().await;
    summary
}
