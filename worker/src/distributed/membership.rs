//! [`Membership`]: this worker as a member of the Kafka group `group.id`. Each connector's
//! tasks are the partitions of its task topic; every worker subscribes to the task topics of
//! every connector with the cooperative-sticky assignor, and owning a partition means running
//! that task. The broker's group coordinator detects joins, leaves and failures.
//!
//! A revoke blocks the group member until the runner has stopped the revoked tasks (each
//! delivers what it read and commits), so a partition is only assigned elsewhere after its
//! task's last offsets are written: with the cooperative protocol a revoked partition is
//! handed to another member only in the rebalance that follows the revoking member's rejoin.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientConfig, ClientContext, TopicPartitionList};
use tokio::sync::mpsc;

use super::config::DistributedConfig;
use crate::{Error, Result};

/// One task of the cluster: connector name, task id and the connector's task count (its task
/// topic), as the group assigns it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId {
    /// The connector.
    pub connector: String,
    /// The task, `0..tasks`.
    pub task: u32,
    /// The connector's `tasks.max` when its task topic was made.
    pub tasks: u32,
}

/// What the group tells the runner.
#[derive(Debug)]
pub enum GroupEvent {
    /// These tasks are now this worker's.
    Assigned(Vec<TaskId>),
    /// These tasks are no longer this worker's: stop them (deliver, commit), then answer.
    /// `lost`: the group already gave them to others (this worker's session had expired), so
    /// their states are the new owners' to write.
    Revoked {
        /// The tasks.
        tasks: Vec<TaskId>,
        /// The assignment was lost rather than revoked.
        lost: bool,
        /// Answered once they stopped.
        done: std::sync::mpsc::Sender<()>,
    },
}

struct Context {
    config: DistributedConfig,
    events: mpsc::UnboundedSender<GroupEvent>,
}

impl Context {
    fn tasks(&self, tpl: &TopicPartitionList) -> Vec<TaskId> {
        tpl.elements()
            .iter()
            .filter_map(|e| {
                let (connector, tasks) = self.config.parse_task_topic(e.topic())?;
                Some(TaskId {
                    connector,
                    task: u32::try_from(e.partition()).ok()?,
                    tasks,
                })
            })
            .filter(|t| t.task < t.tasks)
            .collect()
    }
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let tasks = self.tasks(tpl);
            let lost = consumer.assignment_lost();
            tracing::info!(
                ?tasks,
                lost,
                "group: tasks revoked; stopping them before giving them up"
            );
            if tasks.is_empty() {
                return;
            }
            let (tx, rx) = std::sync::mpsc::channel();
            let event = GroupEvent::Revoked {
                tasks,
                lost,
                done: tx,
            };
            if self.events.send(event).is_ok() {
                // The runner answers once the tasks have stopped (or it has gone).
                if rx.recv_timeout(self.config.rebalance_timeout).is_err() {
                    tracing::error!("group: revoked tasks did not stop within rebalance.timeout.ms; giving them up anyway (another worker may duplicate records they had not committed)");
                }
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let tasks = self.tasks(tpl);
                tracing::info!(?tasks, "group: tasks assigned");
                if !tasks.is_empty() {
                    let _ = self.events.send(GroupEvent::Assigned(tasks));
                }
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "group: rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }
}

/// The group member: a thread polling a consumer of the task topics.
pub struct Membership {
    topics: std::sync::mpsc::Sender<Vec<String>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership").finish_non_exhaustive()
    }
}

impl Membership {
    /// Joins the group; assignments and revocations go to `events`.
    pub fn start(
        client: &ClientConfig,
        config: &DistributedConfig,
        events: mpsc::UnboundedSender<GroupEvent>,
    ) -> Result<Self> {
        let mut c = client.clone();
        c.set("group.id", &config.group_id)
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set(
                "session.timeout.ms",
                config.session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                config.heartbeat_interval.as_millis().to_string(),
            )
            .set(
                "max.poll.interval.ms",
                config.rebalance_timeout.as_millis().to_string(),
            )
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("topic.metadata.refresh.interval.ms", "2000");
        let consumer: BaseConsumer<Context> = c
            .create_with_context(Context {
                config: config.clone(),
                events,
            })
            .map_err(|e| Error::Distributed {
                message: format!("cannot join group {:?}", config.group_id),
                source: Some(Box::new(e)),
            })?;
        let (topics, topics_rx) = std::sync::mpsc::channel::<Vec<String>>();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("group-member".into())
                .spawn(move || member_loop(consumer, topics_rx, stop))
                .map_err(|e| Error::Distributed {
                    message: "cannot start the group member thread".into(),
                    source: Some(Box::new(e)),
                })?
        };
        Ok(Membership {
            topics,
            stop,
            thread: Some(thread),
        })
    }

    /// Subscribes to exactly these task topics (an empty list leaves the group's assignment).
    pub fn subscribe(&self, topics: Vec<String>) {
        let _ = self.topics.send(topics);
    }

    /// Leaves the group (after the runner has stopped every task) and waits for the member
    /// thread.
    pub fn leave(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn member_loop(
    consumer: BaseConsumer<Context>,
    topics: std::sync::mpsc::Receiver<Vec<String>>,
    stop: Arc<AtomicBool>,
) {
    let mut current: Vec<String> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut latest = None;
        while let Ok(t) = topics.try_recv() {
            latest = Some(t);
        }
        if let Some(mut t) = latest {
            t.sort();
            if t != current {
                tracing::info!(topics = ?t, "group: subscribing");
                let refs: Vec<&str> = t.iter().map(String::as_str).collect();
                let res = if refs.is_empty() {
                    consumer.unsubscribe();
                    Ok(())
                } else {
                    consumer.subscribe(&refs)
                };
                match res {
                    Ok(()) => current = t,
                    Err(e) => tracing::error!(error = %e, "group: cannot subscribe"),
                }
            }
        }
        if let Some(Err(e)) = consumer.poll(Duration::from_millis(100)) {
            tracing::warn!(error = %e, "group member");
        }
    }
    // Leaving: the consumer's close revokes what is left (the runner has stopped it all).
    consumer.unsubscribe();
    for _ in 0..20 {
        let _ = consumer.poll(Duration::from_millis(50));
    }
    drop(consumer);
}
