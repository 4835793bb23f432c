//! Connector and task states, as Kafka Connect names them (`RUNNING`, `PAUSED`, `STOPPED`,
//! `FAILED`, `UNASSIGNED`), plus `COMPLETED` for a task whose backfill pass is over.

use std::fmt;

/// What the user asked a connector to be doing (Kafka Connect's target state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    /// Tasks run.
    Running,
    /// Tasks are stopped after delivering and committing what they read; resumed on request.
    Paused,
    /// Tasks are stopped and the connector holds no resources; its configuration and offsets
    /// stay (the state in which offsets may be changed).
    Stopped,
}

/// The state of a connector or a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not started yet (or being restarted).
    Unassigned,
    /// Running.
    Running,
    /// Paused on request.
    Paused,
    /// Stopped on request.
    Stopped,
    /// A task's single pass is over and everything it read was delivered and committed
    /// (backfill).
    Completed,
    /// Failed; the trace says why (the error and its causes).
    Failed(String),
}

impl State {
    /// Kafka Connect's name of the state (`RUNNING`, `FAILED`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Stopped => "STOPPED",
            State::Completed => "COMPLETED",
            State::Failed(_) => "FAILED",
        }
    }

    /// The failure trace, for a failed connector or task.
    pub fn trace(&self) -> Option<&str> {
        match self {
            State::Failed(t) => Some(t),
            _ => None,
        }
    }

    /// True once nothing runs any more for this state (completed, failed, paused, stopped).
    pub fn is_idle(&self) -> bool {
        !matches!(self, State::Running | State::Unassigned)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A task's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    /// Task id, `0..tasks.max`.
    pub id: u32,
    /// Its state.
    pub state: State,
    /// Why a running task waits, when it does (e.g. "waiting for the object store: ..."):
    /// shown as the task's `trace` in the REST status while it is `RUNNING`.
    pub waiting: Option<String>,
}

/// A connector's status: its own state and its tasks'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorStatus {
    /// Connector name.
    pub name: String,
    /// The connector's state: `FAILED` when it could not be built, else what its target state
    /// says.
    pub state: State,
    /// Its tasks.
    pub tasks: Vec<TaskStatus>,
}
