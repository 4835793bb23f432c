//! [`Worker`]: the runtime that owns named connectors and their tasks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use sluice_core::config::{ConnectorConfig, WorkerConfig};
use sluice_core::metrics::MetricsSnapshot;
use sluice_core::offsets::{OffsetMap, OffsetStore};
use tokio::sync::watch;
use tracing::info;

use crate::build::BuildContext;
use crate::connector::ConnectorHandle;
use crate::offsets::open_offset_store;
use crate::state::{ConnectorStatus, TargetState};
use crate::{ConnectorSummary, Error, Mode, Result};

/// Owns named connectors (Kafka Connect's standalone worker): creates, reconfigures, pauses,
/// resumes, stops, restarts and deletes them, and reports their states. The CLI's `run`,
/// `backfill` and `demo` are front ends over it.
///
/// ```no_run
/// # async fn demo(worker_cfg: sluice_core::config::WorkerConfig,
/// #               connector: sluice_core::config::ConnectorConfig) -> sluice_worker::Result<()> {
/// use sluice_worker::{Mode, Worker};
/// let worker = Worker::new(worker_cfg, Mode::Backfill).await?;
/// worker.create(connector).await?;
/// worker.wait_idle().await;
/// for summary in worker.shutdown().await {
///     println!("{}: {} records", summary.name, summary.metrics.records_acked);
/// }
/// # Ok(()) }
/// ```
pub struct Worker {
    ctx: BuildContext,
    connectors: Mutex<BTreeMap<String, Arc<ConnectorHandle>>>,
    changed: watch::Sender<u64>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("mode", &self.ctx.mode)
            .field("connectors", &self.names())
            .finish()
    }
}

impl Worker {
    /// A worker over the offset store its configuration names (opened now: a corrupt or
    /// refused store is an error here, before any connector starts).
    pub async fn new(config: WorkerConfig, mode: Mode) -> Result<Self> {
        let store = open_offset_store(&config, mode).await?;
        Ok(Self::with_offset_store(config, store, mode))
    }

    /// A worker over an offset store opened by the caller.
    pub fn with_offset_store(
        config: WorkerConfig,
        offset_store: Arc<dyn OffsetStore>,
        mode: Mode,
    ) -> Self {
        Worker {
            ctx: BuildContext {
                worker: config,
                offset_store,
                mode,
            },
            connectors: Mutex::new(BTreeMap::new()),
            changed: watch::channel(0).0,
        }
    }

    /// The worker's configuration.
    pub fn config(&self) -> &WorkerConfig {
        &self.ctx.worker
    }

    /// The worker's offset store.
    pub fn offset_store(&self) -> &Arc<dyn OffsetStore> {
        &self.ctx.offset_store
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<ConnectorHandle>>> {
        self.connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, name: &str) -> Result<Arc<ConnectorHandle>> {
        let map = self.map();
        map.get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownConnector {
                name: name.to_owned(),
                known: if map.is_empty() {
                    "none".into()
                } else {
                    map.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            })
    }

    /// The connectors' names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }

    /// Creates a connector and starts its tasks. When its parts cannot be built (Kafka
    /// unreachable, a bad converter or store setting), the connector still exists, in state
    /// `FAILED` with the error as its trace, and the error is returned.
    pub async fn create(&self, config: ConnectorConfig) -> Result<()> {
        let name = config.name.clone();
        self.add(config, TargetState::Running)?;
        self.start(&name).await
    }

    /// Registers a connector in target state `target` without starting anything (Kafka
    /// Connect's `initial_state`); [`start`](Self::start) starts its tasks when the target is
    /// running. Fails with [`Error::AlreadyExists`] when the name is taken.
    pub fn add(&self, config: ConnectorConfig, target: TargetState) -> Result<()> {
        let mut map = self.map();
        if map.contains_key(&config.name) {
            return Err(Error::AlreadyExists(config.name));
        }
        info!(connector = %config.name, tasks = config.tasks_max, ?target, "connector created");
        let handle = Arc::new(ConnectorHandle::new(
            config.clone(),
            target,
            self.changed.clone(),
        ));
        map.insert(config.name, handle);
        Ok(())
    }

    /// Starts the tasks of a connector added with [`add`](Self::add) (nothing when its target
    /// state is paused or stopped). A build failure leaves the connector `FAILED` and is
    /// returned.
    pub async fn start(&self, name: &str) -> Result<()> {
        self.get(name)?.start(&self.ctx).await
    }

    /// Replaces a connector's configuration; its tasks restart with it (unless paused or
    /// stopped, which they stay).
    pub async fn reconfigure(&self, config: ConnectorConfig) -> Result<()> {
        let handle = self.get(&config.name)?;
        handle.reconfigure(&self.ctx, config).await
    }

    /// Pauses a connector: its tasks deliver and commit what they read, then produce nothing
    /// until resumed.
    pub async fn pause(&self, name: &str) -> Result<()> {
        self.get(name)?.pause().await;
        Ok(())
    }

    /// Resumes a paused or stopped connector.
    pub async fn resume(&self, name: &str) -> Result<()> {
        self.get(name)?.resume(&self.ctx).await
    }

    /// Stops a connector (Kafka Connect's `STOPPED`): tasks shut down, configuration and
    /// offsets kept.
    pub async fn stop(&self, name: &str) -> Result<()> {
        self.get(name)?.stop().await;
        Ok(())
    }

    /// Restarts a connector and, with `include_tasks`, its tasks (only the failed ones with
    /// `only_failed`), as Kafka Connect's `POST /connectors/{name}/restart`.
    pub async fn restart(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<()> {
        self.get(name)?
            .restart(&self.ctx, include_tasks, only_failed)
            .await
    }

    /// Restarts one task of a connector; the other tasks are not touched.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<()> {
        self.get(name)?.restart_task(&self.ctx, task).await
    }

    /// Stops a connector's tasks and removes it; its stored offsets stay.
    pub async fn delete(&self, name: &str) -> Result<ConnectorSummary> {
        let handle = self.get(name)?;
        handle.shut_down().await;
        self.map().remove(name);
        info!(connector = %name, "connector deleted");
        Ok(handle.summary())
    }

    /// A connector's state and its tasks' states.
    pub fn status(&self, name: &str) -> Result<ConnectorStatus> {
        Ok(self.get(name)?.status())
    }

    /// What the user asked a connector to be doing (running, paused, stopped).
    pub fn target_state(&self, name: &str) -> Result<TargetState> {
        Ok(self.get(name)?.target())
    }

    /// A connector's configuration.
    pub fn connector_config(&self, name: &str) -> Result<ConnectorConfig> {
        Ok(self.get(name)?.config())
    }

    /// A connector's counters (they add up across restarts of its tasks).
    pub fn metrics(&self, name: &str) -> Result<MetricsSnapshot> {
        Ok(self.get(name)?.metrics().snapshot())
    }

    /// A connector's counters per task, by task id (ids of tasks removed by a
    /// reconfiguration stay, so the sum is the connector's total).
    pub fn task_metrics(&self, name: &str) -> Result<Vec<MetricsSnapshot>> {
        Ok(self.get(name)?.metrics().tasks())
    }

    /// The topics a connector wrote records to since the worker started (or the last reset).
    pub fn topics(&self, name: &str) -> Result<Vec<String>> {
        Ok(self.get(name)?.metrics().topics())
    }

    /// Forgets the topics a connector wrote to (Kafka Connect's `topics/reset`).
    pub fn reset_topics(&self, name: &str) -> Result<()> {
        self.get(name)?.metrics().reset_topics();
        Ok(())
    }

    /// A connector's object-store request counts.
    pub fn store_metrics(&self, name: &str) -> Result<sluice_core::metrics::StoreStatsSnapshot> {
        Ok(self.get(name)?.metrics().store_snapshot())
    }

    /// A connector's stored offsets: every (source partition, offset), in any state.
    pub async fn offsets(&self, name: &str) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        self.get(name)?;
        self.ctx
            .offset_store
            .list(name)
            .await
            .map_err(|e| Error::Connector {
                name: name.to_owned(),
                source: Box::new(e),
            })
    }

    /// Writes offsets of a STOPPED connector (a `None` offset forgets the partition: the
    /// object is read again from its start). [`Error::NotStopped`] otherwise.
    pub async fn alter_offsets(
        &self,
        name: &str,
        batch: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<()> {
        self.get(name)?.modify_offsets(&self.ctx, batch).await
    }

    /// Forgets every stored offset of a STOPPED connector: when resumed it reads every object
    /// again. [`Error::NotStopped`] otherwise.
    pub async fn reset_offsets(&self, name: &str) -> Result<()> {
        let handle = self.get(name)?;
        let entries = self.offsets(name).await?;
        let batch = entries.into_iter().map(|(p, _)| (p, None)).collect();
        handle.modify_offsets(&self.ctx, batch).await
    }

    /// What a connector did so far.
    pub fn summary(&self, name: &str) -> Result<ConnectorSummary> {
        Ok(self.get(name)?.summary())
    }

    /// Waits until no task of any connector runs (every task completed, failed, paused or
    /// stopped): the end of a backfill.
    pub async fn wait_idle(&self) {
        let mut rx = self.changed.subscribe();
        loop {
            let handles: Vec<_> = self.map().values().cloned().collect();
            if handles.iter().all(|h| h.idle()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Stops every connector's tasks gracefully (each delivers what it read and commits) and
    /// returns what each connector did, by name.
    pub async fn shutdown(&self) -> Vec<ConnectorSummary> {
        let handles: Vec<_> = self.map().values().cloned().collect();
        futures::future::join_all(handles.iter().map(|h| h.shut_down())).await;
        let summaries: Vec<ConnectorSummary> = handles.iter().map(|h| h.summary()).collect();
        for s in &summaries {
            let m = &s.metrics;
            info!(connector = %s.name, objects_finished = m.objects_finished, objects_failed = m.objects_failed,
                records_delivered = m.records_acked, records_skipped = m.records_failed, bytes_read = m.bytes_read,
                elapsed_ms = s.elapsed.as_millis() as u64, ok = s.ok(), "connector ended");
        }
        summaries
    }
}
