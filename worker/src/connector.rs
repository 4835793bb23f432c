//! [`ConnectorHandle`]: one named connector of a worker, its target state and its tasks.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use sluice_core::config::ConnectorConfig;
use sluice_core::driver::{run_task, TaskEnd};
use sluice_core::offsets::OffsetMap;
use tokio::sync::watch;
use tracing::{info, warn, Instrument};

use crate::build::{BuildContext, ConnectorParts};
use crate::metrics::ConnectorMetrics;
use crate::state::{ConnectorStatus, State, TargetState, TaskStatus};
use crate::{ConnectorSummary, Error, Result};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running task: how to stop it and how to wait for it.
struct Running {
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

/// What status readers see, behind a short-lived lock (never held across an await).
struct Shared {
    config: ConnectorConfig,
    target: TargetState,
    /// Why the connector itself failed (its parts could not be built).
    failure: Option<String>,
    tasks: Vec<State>,
    /// How each task's last run ended (`None` while it runs or before it ran).
    ends: Vec<Option<std::result::Result<TaskEnd, String>>>,
}

/// One connector: its configuration, target state, tasks and counters. Operations on one
/// connector are serialised; status reads never wait for them.
pub(crate) struct ConnectorHandle {
    name: String,
    shared: Arc<Mutex<Shared>>,
    /// The parts (built when the connector starts) and the running tasks.
    ops: tokio::sync::Mutex<Ops>,
    metrics: Arc<ConnectorMetrics>,
    started: Instant,
    /// Bumped whenever a task ends (the worker's waiters watch it).
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct Ops {
    parts: Option<ConnectorParts>,
    running: Vec<Option<Running>>,
}

impl ConnectorHandle {
    pub(crate) fn new(
        config: ConnectorConfig,
        target: TargetState,
        changed: watch::Sender<u64>,
    ) -> Self {
        let n = config.tasks_max as usize;
        let task_state = match target {
            TargetState::Running => State::Unassigned,
            TargetState::Paused => State::Paused,
            TargetState::Stopped => State::Stopped,
        };
        ConnectorHandle {
            name: config.name.clone(),
            shared: Arc::new(Mutex::new(Shared {
                config,
                target,
                failure: None,
                tasks: vec![task_state; n],
                ends: vec![None; n],
            })),
            ops: tokio::sync::Mutex::new(Ops::default()),
            metrics: Arc::new(ConnectorMetrics::default()),
            started: Instant::now(),
            changed,
        }
    }

    pub(crate) fn metrics(&self) -> &Arc<ConnectorMetrics> {
        &self.metrics
    }

    pub(crate) fn config(&self) -> ConnectorConfig {
        lock(&self.shared).config.clone()
    }

    pub(crate) fn target(&self) -> TargetState {
        lock(&self.shared).target
    }

    fn tasks_max(&self) -> u32 {
        lock(&self.shared).config.tasks_max
    }

    fn check_task(&self, id: u32) -> Result<()> {
        let tasks = self.tasks_max();
        if id >= tasks {
            return Err(Error::UnknownTask {
                name: self.name.clone(),
                task: id,
                tasks,
            });
        }
        Ok(())
    }

    /// The connector's and its tasks' states.
    pub(crate) fn status(&self) -> ConnectorStatus {
        let s = lock(&self.shared);
        let state = match (&s.failure, s.target) {
            (Some(trace), _) => State::Failed(trace.clone()),
            (None, TargetState::Running) => State::Running,
            (None, TargetState::Paused) => State::Paused,
            (None, TargetState::Stopped) => State::Stopped,
        };
        // The tasks share the connector's store client: when it waits for the store, they do.
        let waiting = self.metrics.store().waiting();
        ConnectorStatus {
            name: self.name.clone(),
            state,
            tasks: s
                .tasks
                .iter()
                .enumerate()
                .map(|(id, state)| TaskStatus {
                    id: id as u32,
                    state: state.clone(),
                    waiting: waiting.clone().filter(|_| *state == State::Running),
                })
                .collect(),
        }
    }

    /// True when no task of the connector runs.
    pub(crate) fn idle(&self) -> bool {
        let s = lock(&self.shared);
        s.failure.is_some() || s.tasks.iter().all(State::is_idle)
    }

    /// What the connector did so far.
    pub(crate) fn summary(&self) -> ConnectorSummary {
        let s = lock(&self.shared);
        let tasks = s
            .ends
            .iter()
            .zip(&s.tasks)
            .map(|(end, state)| match (end, state) {
                (Some(end), _) => end.clone(),
                (None, State::Failed(t)) => Err(t.clone()),
                (None, _) => Ok(TaskEnd::Stopped),
            })
            .collect();
        let tasks = match &s.failure {
            Some(trace) => vec![Err(trace.clone())],
            None => tasks,
        };
        ConnectorSummary {
            name: self.name.clone(),
            metrics: self.metrics.snapshot(),
            tasks,
            elapsed: self.started.elapsed(),
        }
    }

    /// Starts every task that does not run (when the target state is running): builds the
    /// connector's parts first if needed. A build failure marks the connector failed and is
    /// returned.
    pub(crate) async fn start(&self, ctx: &BuildContext) -> Result<()> {
        let mut ops = self.ops.lock().await;
        if self.target() != TargetState::Running {
            return Ok(());
        }
        let ids: Vec<u32> = (0..self.tasks_max()).collect();
        self.start_tasks(&mut ops, ctx, &ids).await
    }

    async fn start_tasks(&self, ops: &mut Ops, ctx: &BuildContext, ids: &[u32]) -> Result<()> {
        if ops.parts.is_none() {
            let config = self.config();
            match ConnectorParts::build(ctx, &config, self.metrics.clone()).await {
                Ok(parts) => {
                    lock(&self.shared).failure = None;
                    ops.parts = Some(parts);
                }
                Err(e) => {
                    let trace = sluice_core::error_chain(&e);
                    warn!(connector = %self.name, error = %trace, "connector failed to start");
                    lock(&self.shared).failure = Some(trace);
                    self.changed.send_modify(|g| *g += 1);
                    return Err(Error::Connector {
                        name: self.name.clone(),
                        source: Box::new(e),
                    });
                }
            }
        }
        let parts = ops.parts.as_mut().expect("built above");
        ops.running
            .resize_with(parts.config().tasks_max as usize, || None);
        for &id in ids {
            if ops.running[id as usize]
                .as_ref()
                .is_some_and(|r| !r.join.is_finished())
            {
                continue;
            }
            let task = match parts.task(id) {
                Ok(t) => t,
                Err(e) => {
                    let trace = sluice_core::error_chain(&e);
                    self.set_task(id, State::Failed(trace.clone()), Some(Err(trace)));
                    continue;
                }
            };
            let (stop, stop_rx) = watch::channel(false);
            self.set_task(id, State::Running, None);
            let shared = self.shared.clone();
            let changed = self.changed.clone();
            let span = tracing::info_span!("task", connector = %self.name, task = id);
            let join = tokio::spawn(
                async move {
                    let end = run_task(task.source, task.driver, stop_rx).await;
                    let mut s = lock(&shared);
                    let i = id as usize;
                    match end {
                        Ok(TaskEnd::Completed) => {
                            s.tasks[i] = State::Completed;
                            s.ends[i] = Some(Ok(TaskEnd::Completed));
                        }
                        Ok(TaskEnd::Stopped) => {
                            // Whoever stopped it says what it is now.
                            if s.tasks[i] == State::Running {
                                s.tasks[i] = State::Unassigned;
                            }
                            s.ends[i] = Some(Ok(TaskEnd::Stopped));
                        }
                        Err(e) => {
                            let trace = sluice_core::error_chain(&e);
                            s.tasks[i] = State::Failed(trace.clone());
                            s.ends[i] = Some(Err(trace));
                        }
                    }
                    drop(s);
                    changed.send_modify(|g| *g += 1);
                }
                .instrument(span),
            );
            ops.running[id as usize] = Some(Running { stop, join });
        }
        Ok(())
    }

    fn set_task(&self, id: u32, state: State, end: Option<std::result::Result<TaskEnd, String>>) {
        let mut s = lock(&self.shared);
        if let Some(t) = s.tasks.get_mut(id as usize) {
            *t = state;
        }
        if let Some(e) = s.ends.get_mut(id as usize) {
            *e = end;
        }
        drop(s);
        self.changed.send_modify(|g| *g += 1);
    }

    /// Stops the given tasks gracefully (each delivers what it read and commits) and waits for
    /// them; their state becomes `then` unless they failed or completed meanwhile.
    async fn stop_tasks(&self, ops: &mut Ops, ids: &[u32], then: &State) {
        let mut waits = Vec::new();
        for &id in ids {
            if let Some(run) = ops.running.get_mut(id as usize).and_then(Option::take) {
                let _ = run.stop.send(true);
                waits.push((id, run.join));
            }
        }
        for (id, join) in waits {
            if let Err(e) = join.await {
                warn!(connector = %self.name, task = id, error = %e, "task ended abnormally");
            }
        }
        let mut s = lock(&self.shared);
        for &id in ids {
            if let Some(t) = s.tasks.get_mut(id as usize) {
                if !matches!(t, State::Failed(_) | State::Completed) {
                    *t = then.clone();
                }
            }
        }
        drop(s);
        self.changed.send_modify(|g| *g += 1);
    }

    fn all_ids(&self) -> Vec<u32> {
        (0..self.tasks_max()).collect()
    }

    /// Pauses: tasks stop after delivering and committing what they read, and stay stopped
    /// until [`resume`](Self::resume).
    pub(crate) async fn pause(&self) {
        let mut ops = self.ops.lock().await;
        lock(&self.shared).target = TargetState::Paused;
        let ids = self.all_ids();
        self.stop_tasks(&mut ops, &ids, &State::Paused).await;
        info!(connector = %self.name, "connector paused");
    }

    /// Resumes a paused or stopped connector.
    pub(crate) async fn resume(&self, ctx: &BuildContext) -> Result<()> {
        lock(&self.shared).target = TargetState::Running;
        info!(connector = %self.name, "connector resumed");
        self.start(ctx).await
    }

    /// Stops: tasks stop, and the connector releases its parts (producers, store clients).
    pub(crate) async fn stop(&self) {
        let mut ops = self.ops.lock().await;
        lock(&self.shared).target = TargetState::Stopped;
        let ids = self.all_ids();
        self.stop_tasks(&mut ops, &ids, &State::Stopped).await;
        ops.parts = None;
        info!(connector = %self.name, "connector stopped");
    }

    /// Stops every task, then forgets the connector's parts (for a delete or a worker
    /// shutdown). Tasks keep the state they ended in.
    pub(crate) async fn shut_down(&self) {
        let mut ops = self.ops.lock().await;
        let ids = self.all_ids();
        self.stop_tasks(&mut ops, &ids, &State::Unassigned).await;
        ops.parts = None;
    }

    /// Restarts the connector (its parts are rebuilt from its configuration) and, with
    /// `include_tasks`, its tasks — only the failed ones with `only_failed`.
    pub(crate) async fn restart(
        &self,
        ctx: &BuildContext,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<()> {
        let mut ops = self.ops.lock().await;
        let ids: Vec<u32> = {
            let s = lock(&self.shared);
            s.tasks
                .iter()
                .enumerate()
                .filter(|(_, st)| include_tasks && (!only_failed || matches!(st, State::Failed(_))))
                .map(|(i, _)| i as u32)
                .collect()
        };
        let connector_failed = lock(&self.shared).failure.is_some();
        if !only_failed || connector_failed {
            // Rebuilt on the next start; running tasks keep the parts they were made from.
            ops.parts = None;
        }
        self.stop_tasks(&mut ops, &ids, &State::Unassigned).await;
        if self.target() == TargetState::Running {
            let mut start: Vec<u32> = ids;
            if connector_failed {
                start = self.all_ids();
            }
            self.start_tasks(&mut ops, ctx, &start).await?;
        }
        info!(connector = %self.name, include_tasks, only_failed, "connector restarted");
        Ok(())
    }

    /// Restarts one task (the others are not touched).
    pub(crate) async fn restart_task(&self, ctx: &BuildContext, id: u32) -> Result<()> {
        self.check_task(id)?;
        let mut ops = self.ops.lock().await;
        self.stop_tasks(&mut ops, &[id], &State::Unassigned).await;
        if self.target() == TargetState::Running {
            self.start_tasks(&mut ops, ctx, &[id]).await?;
        }
        info!(connector = %self.name, task = id, "task restarted");
        Ok(())
    }

    /// Runs `change` on the connector's stored offsets, only while the connector is stopped
    /// (Kafka Connect's KIP-875 rule: a running task would overwrite the change at its next
    /// commit). The connector cannot be resumed while the change runs.
    pub(crate) async fn modify_offsets(
        &self,
        ctx: &BuildContext,
        batch: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<()> {
        let _ops = self.ops.lock().await;
        let target = self.target();
        if target != TargetState::Stopped {
            return Err(Error::NotStopped {
                name: self.name.clone(),
                state: self.status().state.name(),
            });
        }
        ctx.offset_store
            .put(&self.name, batch)
            .await
            .map_err(|e| Error::Connector {
                name: self.name.clone(),
                source: Box::new(e),
            })?;
        info!(connector = %self.name, "offsets changed");
        Ok(())
    }

    /// Replaces the configuration: tasks stop, the parts are rebuilt from the new
    /// configuration, and the tasks start again if the connector is running.
    pub(crate) async fn reconfigure(
        &self,
        ctx: &BuildContext,
        config: ConnectorConfig,
    ) -> Result<()> {
        let mut ops = self.ops.lock().await;
        let ids = self.all_ids();
        self.stop_tasks(&mut ops, &ids, &State::Unassigned).await;
        ops.parts = None;
        ops.running.clear();
        {
            let mut s = lock(&self.shared);
            let n = config.tasks_max as usize;
            s.config = config;
            s.failure = None;
            s.tasks = vec![State::Unassigned; n];
            s.ends = vec![None; n];
        }
        match self.target() {
            TargetState::Running => {
                let ids = self.all_ids();
                self.start_tasks(&mut ops, ctx, &ids).await
            }
            TargetState::Paused => {
                let mut s = lock(&self.shared);
                s.tasks.iter_mut().for_each(|t| *t = State::Paused);
                Ok(())
            }
            TargetState::Stopped => {
                let mut s = lock(&self.shared);
                s.tasks.iter_mut().for_each(|t| *t = State::Stopped);
                Ok(())
            }
        }
    }
}
