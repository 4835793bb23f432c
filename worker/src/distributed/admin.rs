//! The cluster-wide operations behind the REST API's restart and offsets endpoints.
//!
//! - Restarts are requests written to the config topic (`restart-connector-<name>`, Kafka
//!   Connect's record, and `restart-task-<name>-<id>`); every worker reads them, and the
//!   owner of each task they name restarts it (`runner.rs`), wherever the request came in.
//! - Offsets (KIP-875) are read from and written to the offsets topic in Connect's format,
//!   only while the connector is stopped everywhere: its target state is `STOPPED` and no
//!   task still reports `RUNNING` or `PAUSED` (each owner writes `STOPPED` once its task has
//!   delivered and committed), so no task overwrites the change. The tasks read the offsets
//!   topic when they start, so the change takes effect when the connector resumes, on any
//!   worker.

use std::time::{Duration, Instant};

use sluice_core::offsets::{OffsetMap, OffsetStore};

use super::records;
use super::Cluster;
use crate::offsets::open_offset_store;
use crate::state::TargetState;
use crate::{Error, Mode, Result};

impl Cluster {
    /// Asks for a restart of a connector's tasks (all of them, or the failed ones with
    /// `only_failed`; none without `include_tasks`: in distributed mode a connector has no
    /// instance of its own to restart). Returns once this worker has read the request back;
    /// the owners restart their tasks as they read it.
    pub async fn restart(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<()> {
        self.connector_config(name)?;
        if !include_tasks {
            return Ok(());
        }
        let write = self.write_id();
        self.config_log
            .write(
                &records::restart_key(name),
                Some(&records::restart_value(include_tasks, only_failed)),
                &[(records::WRITE_HEADER, &write)],
            )
            .await
    }

    /// Asks the owner of task `task` of `name` to restart it ([`Error::UnknownTask`] when the
    /// connector has no such task).
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<()> {
        let tasks = self.task_states(name)?.len() as u32;
        if task >= tasks {
            return Err(Error::UnknownTask {
                name: name.to_owned(),
                task,
                tasks,
            });
        }
        let write = self.write_id();
        self.config_log
            .write(
                &records::restart_task_key(name, task),
                Some(b"{}"),
                &[(records::WRITE_HEADER, &write)],
            )
            .await
    }

    /// An offset store over the offsets topic, read now (it holds every offset committed
    /// before this call).
    async fn offset_store(&self, name: &str) -> Result<std::sync::Arc<dyn OffsetStore>> {
        open_offset_store(&self.worker, Mode::Continuous)
            .await
            .map_err(|e| Error::Connector {
                name: name.to_owned(),
                source: Box::new(e),
            })
    }

    /// A connector's stored offsets, from the offsets topic: every (source partition, offset).
    pub async fn offsets(&self, name: &str) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        self.connector_config(name)?;
        self.offset_store(name)
            .await?
            .list(name)
            .await
            .map_err(|e| Error::Connector {
                name: name.to_owned(),
                source: Box::new(e),
            })
    }

    /// Waits until `name` is stopped on every worker (as the config topic says once read to its
    /// end): target `STOPPED` and no task reporting
    /// `RUNNING` or `PAUSED` (its owner has not stopped it yet). [`Error::NotStopped`] when the
    /// target is another state, or when a task still runs after the graceful shutdown
    /// timeout plus 10 s.
    async fn stopped_everywhere(&self, name: &str) -> Result<()> {
        // Read the config topic to its end first: a stop written through another worker just
        // before this request counts.
        self.config_log.read_to_end().await?;
        let target = self.target(name)?;
        if target != TargetState::Stopped {
            return Err(Error::NotStopped {
                name: name.to_owned(),
                state: match target {
                    TargetState::Running => "RUNNING",
                    TargetState::Paused => "PAUSED",
                    TargetState::Stopped => "STOPPED",
                },
            });
        }
        let deadline =
            Instant::now() + Duration::from_millis(self.worker.shutdown_timeout_ms + 10_000);
        loop {
            let stopping = self
                .task_states(name)?
                .iter()
                .any(|t| t.state == "RUNNING" || t.state == "PAUSED");
            if !stopping {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::NotStopped {
                    name: name.to_owned(),
                    state: "STOPPED, but a task still reports RUNNING or PAUSED (its worker has not stopped it: is that worker alive?)",
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Writes offsets of a connector stopped everywhere (a `None` offset forgets the
    /// partition: the object is read again from its start).
    pub async fn alter_offsets(
        &self,
        name: &str,
        batch: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<()> {
        self.stopped_everywhere(name).await?;
        self.offset_store(name)
            .await?
            .put(name, batch)
            .await
            .map_err(|e| Error::Connector {
                name: name.to_owned(),
                source: Box::new(e),
            })?;
        tracing::info!(connector = %name, "offsets changed");
        Ok(())
    }

    /// Forgets every stored offset of a connector stopped everywhere: when resumed it reads
    /// every object again.
    pub async fn reset_offsets(&self, name: &str) -> Result<()> {
        self.stopped_everywhere(name).await?;
        let store = self.offset_store(name).await?;
        let all = store.list(name).await.map_err(|e| Error::Connector {
            name: name.to_owned(),
            source: Box::new(e),
        })?;
        let batch = all.into_iter().map(|(p, _)| (p, None)).collect();
        store.put(name, batch).await.map_err(|e| Error::Connector {
            name: name.to_owned(),
            source: Box::new(e),
        })?;
        tracing::info!(connector = %name, "offsets reset");
        Ok(())
    }
}
