//! Distributed mode: several workers share connectors and tasks through Kafka's own group
//! protocol and compacted topics (docs/distributed.md says why it is safe).
//!
//! - [`config`]: the worker keys (`group.id`, `config.storage.topic`, ...).
//! - [`records`]: the config and status records (Kafka Connect's formats) and the state every
//!   worker folds them into; the conflict rules of direct writes.
//! - [`log`]: a tailed compacted topic with writes a writer can wait for.
//! - [`membership`]: the group member; a connector's tasks are the partitions of its task
//!   topic, assigned with the cooperative-sticky assignor.
//! - [`runner`]: this worker's tasks, started and stopped as the group and the config topic
//!   say.
//! - [`rest`]: Kafka Connect's REST API over the whole cluster; `admin.rs`: the cluster-wide
//!   restarts (requests in the config topic) and offset changes behind it.
//! - [`Cluster`]: all of it for one worker process.

mod admin;
pub mod config;
pub mod log;
pub mod membership;
pub mod records;
pub mod rest;
pub mod runner;
pub mod topics;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sluice_core::config::{Settings, WorkerConfig};
use tokio::sync::{mpsc, oneshot};

pub use config::DistributedConfig;
use log::TopicLog;
use membership::Membership;
use records::{ClusterConfig, ClusterStatus, ConfigRecord, TaskState};
use runner::{tasks_of, Control, LocalTasks, Runner};
use topics::{client_config, ensure_topic, NewTopicSpec};

use crate::metrics::ConnectorMetrics;
use crate::state::TargetState;
use crate::{Error, Result};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One worker of a distributed cluster: the config and status topics it tails, its group
/// member, its tasks, and the cluster-wide operations the REST API calls.
pub struct Cluster {
    worker: WorkerConfig,
    config: DistributedConfig,
    worker_id: String,
    state: Arc<Mutex<ClusterConfig>>,
    status: Arc<Mutex<ClusterStatus>>,
    config_log: TopicLog,
    status_log: Arc<TopicLog>,
    control: mpsc::UnboundedSender<Control>,
    membership: Mutex<Option<Membership>>,
    runner: Mutex<Option<tokio::task::JoinHandle<()>>>,
    metrics: Arc<Mutex<LocalTasks>>,
    writes: AtomicU64,
    nonce: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("group", &self.config.group_id)
            .field("worker_id", &self.worker_id)
            .finish()
    }
}

/// The task topics to subscribe to, created when missing; a connector whose configuration
/// does not parse has none (its tasks cannot run anywhere).
async fn task_topics(
    worker: &WorkerConfig,
    config: &DistributedConfig,
    state: &Mutex<ClusterConfig>,
    created: &Mutex<BTreeSet<String>>,
) -> Vec<String> {
    let client = client_config(worker);
    let wanted: Vec<(String, u32)> = lock(state)
        .connectors()
        .iter()
        .filter_map(|(name, e)| Some((name.clone(), tasks_of(&e.config, worker)?)))
        .collect();
    let mut topics = Vec::new();
    for (name, tasks) in wanted {
        let topic = config.task_topic(&name, tasks);
        if !lock(created).contains(&topic) {
            let spec = NewTopicSpec {
                partitions: tasks as i32,
                replication: config.status_replication,
                compact: false,
            };
            match ensure_topic(&client, &topic, spec).await {
                Ok(n) if n == tasks as i32 => {
                    lock(created).insert(topic.clone());
                }
                Ok(n) => {
                    tracing::error!(connector = %name, topic, partitions = n, tasks, "the connector's task topic has another partition count than its tasks.max; delete the topic so it is created again");
                    continue;
                }
                Err(e) => {
                    tracing::error!(connector = %name, error = %sluice_core::error_chain(&e), "cannot create the connector's task topic");
                    continue;
                }
            }
        }
        topics.push(topic);
    }
    topics
}

impl Cluster {
    /// Joins the cluster: creates the config and status topics when missing, reads them to
    /// the end, starts the task runner and joins the group `group.id`.
    pub async fn start(
        worker: WorkerConfig,
        config: DistributedConfig,
        worker_id: String,
    ) -> Result<Arc<Self>> {
        let client = client_config(&worker);
        let state = Arc::new(Mutex::new(ClusterConfig::default()));
        let config_log = {
            let state = state.clone();
            TopicLog::open(
                &client,
                &config.config_topic,
                NewTopicSpec {
                    partitions: 1,
                    replication: config.config_replication,
                    compact: true,
                },
                Box::new(move |r| {
                    let mut s = lock(&state);
                    s.apply(&ConfigRecord {
                        key: r.key,
                        value: r.value,
                        op: r.headers.get(records::OP_HEADER).cloned(),
                        write: r.headers.get(records::WRITE_HEADER).cloned(),
                    });
                    for skipped in s.skipped.drain(..) {
                        tracing::warn!("{skipped}");
                    }
                }),
            )
            .await?
        };
        let status = Arc::new(Mutex::new(ClusterStatus::default()));
        let metrics = Arc::new(Mutex::new(LocalTasks::default()));
        let status_log = {
            let status = status.clone();
            let metrics = metrics.clone();
            Arc::new(
                TopicLog::open(
                    &client,
                    &config.status_topic,
                    NewTopicSpec {
                        partitions: config.status_partitions,
                        replication: config.status_replication,
                        compact: true,
                    },
                    Box::new(move |r| {
                        // A topic record's tombstone is a reset (or a delete): this worker's
                        // tasks of the connector announce the topics they write again.
                        if r.value.is_none() {
                            if let Some((name, _)) = records::parse_topic_status_key(&r.key) {
                                if let Some(m) = lock(&metrics).metrics.get(name) {
                                    m.reset_topics();
                                }
                            }
                        }
                        lock(&status).apply(&r.key, r.value.as_deref());
                    }),
                )
                .await?,
            )
        };
        let (group_tx, group_rx) = mpsc::unbounded_channel();
        let membership = Membership::start(&client, &config, group_tx)?;
        let (control, control_rx) = mpsc::unbounded_channel();
        let runner = Runner::new(
            worker.clone(),
            worker_id.clone(),
            state.clone(),
            status_log.clone(),
            metrics.clone(),
        );
        // Subscriptions follow the config topic; topics are created off the runner's loop.
        let (sub_tx, mut sub_rx) = mpsc::unbounded_channel::<()>();
        let cluster = Arc::new(Cluster {
            worker,
            config,
            worker_id,
            state,
            status,
            config_log,
            status_log,
            control,
            membership: Mutex::new(Some(membership)),
            runner: Mutex::new(None),
            metrics,
            writes: AtomicU64::new(0),
            nonce: format!(
                "{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ),
        });
        {
            let weak = Arc::downgrade(&cluster);
            let created = Mutex::new(BTreeSet::new());
            tokio::spawn(async move {
                loop {
                    let Some(c) = weak.upgrade() else { return };
                    let topics = task_topics(&c.worker, &c.config, &c.state, &created).await;
                    if let Some(m) = lock(&c.membership).as_ref() {
                        m.subscribe(topics);
                    }
                    drop(c);
                    if sub_rx.recv().await.is_none() {
                        return;
                    }
                    while sub_rx.try_recv().is_ok() {}
                }
            });
        }
        let changes = cluster.config_log.changes();
        let join = tokio::spawn(runner.run(group_rx, changes, control_rx, move || {
            let _ = sub_tx.send(());
        }));
        *lock(&cluster.runner) = Some(join);
        tracing::info!(group = %cluster.config.group_id, worker_id = %cluster.worker_id, "joined the cluster");
        Ok(cluster)
    }

    /// Leaves the cluster gracefully: every task of this worker delivers what it read and
    /// commits, then the worker leaves the group (so its tasks move with no duplicate).
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Close(tx)).is_ok() {
            let _ = rx.await;
        }
        let membership = lock(&self.membership).take();
        if let Some(m) = membership {
            let _ = tokio::task::spawn_blocking(move || m.leave()).await;
        }
        let runner = lock(&self.runner).take();
        if let Some(r) = runner {
            let _ = r.await;
        }
        tracing::info!("left the cluster");
    }

    /// This worker's id (`host:port` of its REST API).
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The worker configuration.
    pub fn worker_config(&self) -> &WorkerConfig {
        &self.worker
    }

    /// The connectors of the cluster, sorted.
    pub fn names(&self) -> Vec<String> {
        lock(&self.state).connectors().keys().cloned().collect()
    }

    /// A connector's configuration as stored.
    pub fn connector_config(&self, name: &str) -> Result<Settings> {
        // The guard must be gone before `unknown` locks the state again (a std mutex is not
        // reentrant: a request for an unknown connector used to deadlock the worker's REST
        // API and its config-topic reader).
        let found = lock(&self.state).connector(name).map(|e| e.config.clone());
        found.ok_or_else(|| self.unknown(name))
    }

    fn unknown(&self, name: &str) -> Error {
        let names = self.names();
        Error::UnknownConnector {
            name: name.to_owned(),
            known: if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
        }
    }

    /// A connector's target state.
    pub fn target(&self, name: &str) -> Result<TargetState> {
        self.connector_config(name)?;
        Ok(lock(&self.state).target(name))
    }

    /// The state of each task of a connector, as the status topic holds it (`UNASSIGNED`
    /// where none was written yet).
    pub fn task_states(&self, name: &str) -> Result<Vec<TaskState>> {
        let settings = self.connector_config(name)?;
        let tasks = tasks_of(&settings, &self.worker).unwrap_or(0);
        let status = lock(&self.status);
        Ok((0..tasks)
            .map(|id| {
                status.task(name, id).cloned().unwrap_or(TaskState {
                    state: "UNASSIGNED".into(),
                    trace: None,
                    worker_id: String::new(),
                })
            })
            .collect())
    }

    /// The topics `name`'s tasks wrote to, on any worker, since they were last reset.
    pub fn topics(&self, name: &str) -> Result<Vec<String>> {
        self.connector_config(name)?;
        Ok(lock(&self.status).topics(name))
    }

    /// Forgets the topics `name` wrote to, cluster-wide (tombstones in the status topic; each
    /// worker's tasks announce a topic again when they next write to it).
    pub async fn reset_topics(&self, name: &str) -> Result<()> {
        let topics = self.topics(name)?;
        self.forget_topics(name, topics).await
    }

    async fn forget_topics(&self, name: &str, topics: Vec<String>) -> Result<()> {
        for topic in topics {
            self.status_log
                .send(&records::topic_status_key(&topic, name), None, &[], None)
                .await?;
        }
        Ok(())
    }

    /// The counters of the tasks of `name` that ran on this worker.
    pub fn local_metrics(&self, name: &str) -> Option<Arc<ConnectorMetrics>> {
        lock(&self.metrics).metrics.get(name).cloned()
    }

    /// How many times each task of `name` started on this worker, by task id.
    pub fn local_starts(&self, name: &str) -> BTreeMap<u32, u64> {
        lock(&self.metrics)
            .starts
            .iter()
            .filter(|((c, _), _)| c == name)
            .map(|((_, t), n)| (*t, *n))
            .collect()
    }

    fn write_id(&self) -> String {
        format!(
            "{}-{}-{}",
            self.worker_id,
            self.nonce,
            self.writes.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Creates a connector cluster-wide; `Ok(false)` when a connector of that name exists
    /// (or another worker's concurrent create of it came first in the config topic).
    pub async fn create(&self, name: &str, settings: &Settings) -> Result<bool> {
        if lock(&self.state).connector(name).is_some() {
            return Ok(false);
        }
        let write = self.write_id();
        self.config_log
            .write(
                &records::connector_key(name),
                Some(&records::connector_value(settings)),
                &[
                    (records::OP_HEADER, "create"),
                    (records::WRITE_HEADER, &write),
                ],
            )
            .await?;
        Ok(lock(&self.state)
            .connector(name)
            .is_some_and(|e| e.created_by == write))
    }

    /// Writes a connector's configuration (creating it when missing); returns once this
    /// worker has read it back, so every later read here sees it.
    pub async fn put_config(&self, name: &str, settings: &Settings) -> Result<()> {
        let write = self.write_id();
        self.config_log
            .write(
                &records::connector_key(name),
                Some(&records::connector_value(settings)),
                &[(records::OP_HEADER, "put"), (records::WRITE_HEADER, &write)],
            )
            .await
    }

    /// Sets a connector's target state cluster-wide.
    pub async fn set_target(&self, name: &str, target: TargetState) -> Result<()> {
        self.connector_config(name)?;
        let write = self.write_id();
        self.config_log
            .write(
                &records::target_key(name),
                Some(&records::target_value(target)),
                &[(records::WRITE_HEADER, &write)],
            )
            .await
    }

    /// Deletes a connector cluster-wide (its tasks stop wherever they run; offsets stay).
    pub async fn delete(&self, name: &str) -> Result<()> {
        let settings = self.connector_config(name)?;
        let topics = lock(&self.status).topics(name);
        self.config_log
            .write(&records::connector_key(name), None, &[])
            .await?;
        self.config_log
            .write(&records::target_key(name), None, &[])
            .await?;
        for id in 0..tasks_of(&settings, &self.worker).unwrap_or(0) {
            self.status_log
                .send(&records::task_status_key(name, id), None, &[], None)
                .await?;
        }
        // Its topics go with it (KIP-558).
        self.forget_topics(name, topics).await
    }
}

/// `sluice worker` (or `sluice run` with `group.id`): joins the cluster the worker settings
/// name, serves the cluster's REST API on `listeners`, and leaves gracefully when `stop`
/// turns true (every task of this worker delivers and commits before it leaves the group).
pub async fn serve(
    settings: &Settings,
    worker: WorkerConfig,
    loggers: Option<Arc<crate::loggers::LogLevels>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let config = DistributedConfig::from_settings(settings)?;
    let rest = crate::rest::RestConfig::from_settings(settings)?;
    let bound = crate::rest::BoundRest::bind(&rest).await?;
    let cluster = Cluster::start(worker, config, bound.worker_id()).await?;
    let server = bound.serve(rest::routes(cluster.clone(), loggers))?;
    let _ = stop.wait_for(|s| *s).await;
    cluster.shutdown().await;
    server.shutdown().await;
    Ok(())
}
