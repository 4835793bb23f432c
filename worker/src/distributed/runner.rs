//! [`Runner`]: the tasks this worker owns, started and stopped as the group assigns and
//! revokes them and as the config topic changes their connector (configuration, target
//! state, deletion). Everything happens in one loop, so a revoke, a config change and a
//! shutdown never race.
//!
//! A task starts with an offset store opened for it: it reads the offsets topic up to a
//! sentinel written after the task was assigned, so it sees everything its previous owner
//! committed before giving the task up (a revoke completes only after the task committed).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use sluice_core::config::{ConnectorConfig, Settings, WorkerConfig};
use sluice_core::driver::{run_task, TaskEnd};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;

use super::log::TopicLog;
use super::membership::{GroupEvent, TaskId};
use super::records::{
    task_status_key, task_status_value, topic_status_key, topic_status_value, ClusterConfig,
    RestartRequest,
};
use crate::build::{BuildContext, ConnectorParts};
use crate::metrics::ConnectorMetrics;
use crate::offsets::open_offset_store;
use crate::state::TargetState;
use crate::{Mode, Result};

type End = std::result::Result<TaskEnd, String>;

enum Slot {
    Running {
        config: Settings,
        stop: watch::Sender<bool>,
        join: tokio::task::JoinHandle<End>,
    },
    /// Not running: failed to build or ended by itself, for this configuration.
    Ended { config: Settings, failed: bool },
    /// Owned, not running: its connector is paused or stopped (the state written).
    Idle { state: &'static str },
}

enum Desired {
    Run(Settings),
    Idle(&'static str),
    Gone,
}

/// Requests from the cluster's front end.
pub enum Control {
    /// Stop every task (deliver, commit), refuse new ones, then answer.
    Close(oneshot::Sender<()>),
}

/// What this worker's tasks did: counters per connector (adding up across restarts) and how
/// many times each task started here.
#[derive(Debug, Default)]
pub struct LocalTasks {
    /// Counters, by connector.
    pub metrics: BTreeMap<String, Arc<ConnectorMetrics>>,
    /// Starts on this worker, by (connector, task).
    pub starts: BTreeMap<(String, u32), u64>,
}

/// The task count a connector's configuration gives (`tasks.max`, default 1), or `None` when
/// the configuration does not parse.
pub fn tasks_of(settings: &Settings, worker: &WorkerConfig) -> Option<u32> {
    ConnectorConfig::from_settings_resolved(&crate::registry::builtin(), settings, Some(worker))
        .ok()
        .map(|c| c.tasks_max)
}

/// The tasks of this worker.
pub struct Runner {
    pub(super) worker: WorkerConfig,
    pub(super) worker_id: String,
    pub(super) config: Arc<Mutex<ClusterConfig>>,
    pub(super) status_log: Arc<TopicLog>,
    pub(super) metrics: Arc<Mutex<LocalTasks>>,
    pub(super) owned: BTreeSet<TaskId>,
    slots: BTreeMap<TaskId, Slot>,
    closing: bool,
    /// The last restart request acted on (the config topic numbers them).
    restarts_seen: u64,
    /// (connector, topic) this worker wrote to the status topic as written to.
    announced: BTreeSet<(String, String)>,
}

impl Runner {
    /// A runner with no tasks yet.
    pub fn new(
        worker: WorkerConfig,
        worker_id: String,
        config: Arc<Mutex<ClusterConfig>>,
        status_log: Arc<TopicLog>,
        metrics: Arc<Mutex<LocalTasks>>,
    ) -> Self {
        // Requests written before this worker started were acted on by the owners then.
        let restarts_seen = config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .restart_seq();
        Runner {
            worker,
            worker_id,
            config,
            status_log,
            metrics,
            owned: BTreeSet::new(),
            slots: BTreeMap::new(),
            closing: false,
            restarts_seen,
            announced: BTreeSet::new(),
        }
    }

    /// Runs until the group member is gone: group events, config changes (`changes`, after
    /// which `resubscribe` is called) and control requests, one at a time.
    pub async fn run(
        mut self,
        mut group: mpsc::UnboundedReceiver<GroupEvent>,
        mut changes: watch::Receiver<BTreeMap<i32, i64>>,
        mut control: mpsc::UnboundedReceiver<Control>,
        resubscribe: impl Fn() + Send,
    ) {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            tokio::select! {
                ev = group.recv() => match ev {
                    Some(GroupEvent::Assigned(tasks)) => {
                        self.owned.extend(tasks);
                        self.reconcile().await;
                    }
                    Some(GroupEvent::Revoked { tasks, lost, done }) => {
                        for t in &tasks {
                            self.owned.remove(t);
                            if lost {
                                // Another worker owns it now and writes its state.
                                self.halt(t).await;
                            } else if self.slots.contains_key(t) {
                                self.stop(t, "UNASSIGNED").await;
                            }
                        }
                        let _ = done.send(());
                    }
                    None => break,
                },
                changed = changes.changed(), if !self.closing => {
                    if changed.is_err() {
                        continue;
                    }
                    resubscribe();
                    self.reconcile().await;
                    self.restart_requested().await;
                }
                Some(Control::Close(done)) = control.recv() => {
                    self.closing = true;
                    let all: Vec<TaskId> = self.slots.keys().cloned().collect();
                    for t in &all {
                        self.stop(t, "UNASSIGNED").await;
                    }
                    let _ = done.send(());
                }
                _ = tick.tick() => {
                    self.reap().await;
                    self.announce_topics().await;
                }
            }
        }
    }

    async fn write_status(&self, t: &TaskId, state: &str, trace: Option<&str>) {
        let exists = self
            .config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .connector(&t.connector)
            .is_some();
        if !exists {
            return;
        }
        let value = task_status_value(state, trace, &self.worker_id);
        if let Err(e) = self
            .status_log
            .send(
                &task_status_key(&t.connector, t.task),
                Some(&value),
                &[],
                None,
            )
            .await
        {
            tracing::warn!(connector = %t.connector, task = t.task, error = %sluice_core::error_chain(&e), "cannot write the task's status");
        }
    }

    /// Stops a task if it runs (it delivers what it read and commits) and forgets its slot;
    /// returns its trace when it had failed.
    async fn halt(&mut self, t: &TaskId) -> Option<String> {
        match self.slots.remove(t) {
            Some(Slot::Running { stop, join, .. }) => {
                let _ = stop.send(true);
                let end = join.await.unwrap_or_else(|e| Err(e.to_string()));
                tracing::info!(connector = %t.connector, task = t.task, ?end, "task stopped");
                end.err()
            }
            _ => None,
        }
    }

    /// Stops a task and records `then` as its state (or `FAILED` when it had failed).
    async fn stop(&mut self, t: &TaskId, then: &str) {
        match self.halt(t).await {
            Some(trace) => self.write_status(t, "FAILED", Some(&trace)).await,
            None => self.write_status(t, then, None).await,
        }
    }

    /// Writes a `status-topic-...` record (Kafka Connect's, KIP-558) for each topic a task of
    /// this worker wrote to that it has not announced yet, so `GET /connectors/{name}/topics`
    /// answers for the whole cluster on any worker. A reset (tombstones, which clear the local
    /// lists) makes the tasks announce a topic again when they next write to it.
    async fn announce_topics(&mut self) {
        let written: BTreeSet<(String, String, u32)> = {
            let local = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
            local
                .starts
                .keys()
                .filter_map(|(c, id)| {
                    let m = local.metrics.get(c)?;
                    Some(
                        m.task(*id)
                            .topics()
                            .into_iter()
                            .map(|t| (c.clone(), t, *id))
                            .collect::<Vec<_>>(),
                    )
                })
                .flatten()
                .collect()
        };
        self.announced
            .retain(|(c, t)| written.iter().any(|(wc, wt, _)| wc == c && wt == t));
        for (c, topic, task) in written {
            let key = (c, topic);
            if self.announced.contains(&key) {
                continue;
            }
            let exists = self
                .config
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .connector(&key.0)
                .is_some();
            if !exists {
                continue;
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let value = topic_status_value(&key.1, &key.0, task, now);
            match self
                .status_log
                .send(&topic_status_key(&key.1, &key.0), Some(&value), &[], None)
                .await
            {
                Ok(_) => {
                    self.announced.insert(key);
                }
                Err(e) => {
                    tracing::warn!(connector = %key.0, topic = %key.1, error = %sluice_core::error_chain(&e), "cannot record the topic the connector wrote to; retrying");
                }
            }
        }
    }

    /// Tasks that ended by themselves (a failure): their state is written.
    async fn reap(&mut self) {
        let done: Vec<TaskId> = self
            .slots
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Running { join, .. } if join.is_finished()))
            .map(|(t, _)| t.clone())
            .collect();
        for t in done {
            if let Some(Slot::Running { config, join, .. }) = self.slots.remove(&t) {
                let end = join.await.unwrap_or_else(|e| Err(e.to_string()));
                match &end {
                    Err(trace) => self.write_status(&t, "FAILED", Some(trace)).await,
                    Ok(_) => self.write_status(&t, "UNASSIGNED", None).await,
                }
                let failed = end.is_err();
                self.slots.insert(t, Slot::Ended { config, failed });
            }
        }
    }

    /// What task `t` should be doing now.
    fn desired(&self, t: &TaskId, snapshot: &ClusterConfig) -> Desired {
        let entry = snapshot
            .connector(&t.connector)
            .filter(|e| tasks_of(&e.config, &self.worker) == Some(t.tasks));
        match entry {
            Some(e) if self.owned.contains(t) && !self.closing => {
                match snapshot.target(&t.connector) {
                    TargetState::Running => Desired::Run(e.config.clone()),
                    TargetState::Paused => Desired::Idle("PAUSED"),
                    TargetState::Stopped => Desired::Idle("STOPPED"),
                }
            }
            _ => Desired::Gone,
        }
    }

    /// Brings the tasks in line with ownership and the config topic: starts owned tasks of
    /// running connectors, stops the others, restarts tasks whose configuration changed.
    async fn reconcile(&mut self) {
        let snapshot = self
            .config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut all: BTreeSet<TaskId> = self.owned.clone();
        all.extend(self.slots.keys().cloned());
        for t in all {
            let desired = self.desired(&t, &snapshot);
            let settled = match (self.slots.get(&t), &desired) {
                (Some(Slot::Running { config, .. }), Desired::Run(c))
                | (Some(Slot::Ended { config, .. }), Desired::Run(c)) => config == c,
                (Some(Slot::Idle { state }), Desired::Idle(s)) => state == s,
                (None, Desired::Gone) => true,
                _ => false,
            };
            if settled {
                continue;
            }
            let failed = self.halt(&t).await;
            match desired {
                Desired::Gone => {
                    let state = if failed.is_some() {
                        "FAILED"
                    } else {
                        "UNASSIGNED"
                    };
                    self.write_status(&t, state, failed.as_deref()).await;
                }
                Desired::Idle(state) => {
                    self.write_status(&t, state, None).await;
                    self.slots.insert(t, Slot::Idle { state });
                }
                Desired::Run(config) => {
                    let slot = match self.start(&t, &config).await {
                        Ok((stop, join)) => {
                            self.write_status(&t, "RUNNING", None).await;
                            Slot::Running { config, stop, join }
                        }
                        Err(e) => {
                            let trace = sluice_core::error_chain(&e);
                            tracing::warn!(connector = %t.connector, task = t.task, error = %trace, "task failed to start");
                            self.write_status(&t, "FAILED", Some(&trace)).await;
                            Slot::Ended {
                                config,
                                failed: true,
                            }
                        }
                    };
                    self.slots.insert(t, slot);
                }
            }
        }
    }

    /// Acts on the restart requests read since the last call: each task of this worker that
    /// a request names is stopped (it delivers and commits) and started again; a failed task
    /// is started again. Tasks of a paused or stopped connector stay as they are (they start
    /// when it resumes), as do tasks a connector-only request does not include.
    async fn restart_requested(&mut self) {
        let (requests, missed) = {
            let config = self.config.lock().unwrap_or_else(|e| e.into_inner());
            let out = config.restarts_after(self.restarts_seen);
            self.restarts_seen = config.restart_seq();
            out
        };
        if missed > 0 {
            tracing::warn!(missed, "restart requests came faster than this worker read them; the oldest were skipped (ask again)");
        }
        let mut restart = BTreeSet::new();
        for RestartRequest {
            connector,
            task,
            include_tasks,
            only_failed,
        } in requests
        {
            for (t, slot) in &self.slots {
                let failed = matches!(slot, Slot::Ended { failed: true, .. });
                let named = t.connector == connector
                    && match task {
                        Some(id) => t.task == id,
                        None => include_tasks && (!only_failed || failed),
                    };
                if named && !matches!(slot, Slot::Idle { .. }) {
                    restart.insert(t.clone());
                }
            }
        }
        if restart.is_empty() {
            return;
        }
        for t in &restart {
            tracing::info!(connector = %t.connector, task = t.task, "restart requested: restarting the task");
            self.halt(t).await;
        }
        // Their slots are gone: reconciling starts them again with the current configuration.
        self.reconcile().await;
    }

    /// Exactly-once: fences the task's previous producers (a dead or zombie owner) before its
    /// offsets are read, as Kafka Connect fences zombie source tasks. Initialising a producer
    /// with the task's `transactional.id` aborts the transaction the old owner left open
    /// (whose offset records would otherwise hold `read_committed` readers of the offsets
    /// topic back until it timed out) and makes the old producer's later writes fail.
    async fn fence(&self, config: &ConnectorConfig, task: u32) -> Result<()> {
        let overrides = self.worker.producer_overrides(&config.producer_overrides)?;
        let mut pc = sluice_core::kafka::producer_config(
            &self.worker.bootstrap_servers,
            &self.worker.producer,
            &overrides,
        );
        let id = crate::build::transactional_id(&config.name, task);
        pc.set("transactional.id", &id);
        let fenced = tokio::task::spawn_blocking(move || {
            let p: rdkafka::producer::BaseProducer = pc.create()?;
            rdkafka::producer::Producer::init_transactions(&p, std::time::Duration::from_secs(60))
        })
        .await
        .map_err(|e| crate::Error::Distributed {
            message: format!("fencing {id}: {e}"),
            source: None,
        })?;
        fenced.map_err(|e| crate::Error::Distributed {
            message: format!(
                "cannot fence the previous producers of transactional.id {id:?} before the task starts; is the broker reachable and does it support transactions?"
            ),
            source: Some(Box::new(e)),
        })?;
        tracing::info!(transactional_id = %id, "previous owners of the task fenced");
        Ok(())
    }

    async fn start(
        &self,
        t: &TaskId,
        settings: &Settings,
    ) -> Result<(watch::Sender<bool>, tokio::task::JoinHandle<End>)> {
        let config = ConnectorConfig::from_settings_resolved(
            &crate::registry::builtin(),
            settings,
            Some(&self.worker),
        )?;
        if crate::build::exactly_once(&config, &self.worker) {
            self.fence(&config, t.task).await?;
        }
        // A store of its own, read now: it holds what the previous owner committed.
        let offset_store = open_offset_store(&self.worker, Mode::Continuous).await?;
        let ctx = BuildContext {
            worker: self.worker.clone(),
            offset_store,
            mode: Mode::Continuous,
        };
        let metrics = {
            let mut local = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
            *local
                .starts
                .entry((t.connector.clone(), t.task))
                .or_default() += 1;
            local
                .metrics
                .entry(t.connector.clone())
                .or_default()
                .clone()
        };
        let mut parts = ConnectorParts::build(&ctx, &config, metrics).await?;
        let task = parts.task(t.task)?;
        let (stop, stop_rx) = watch::channel(false);
        let span = tracing::info_span!("task", connector = %t.connector, task = t.task);
        let join = tokio::spawn(
            async move {
                run_task(task.source, task.driver, stop_rx)
                    .await
                    .map_err(|e| sluice_core::error_chain(&e))
            }
            .instrument(span),
        );
        tracing::info!(connector = %t.connector, task = t.task, "task started");
        Ok((stop, join))
    }
}
