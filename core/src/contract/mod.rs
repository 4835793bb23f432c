//! The contracts between the parts of a task, below all of them: what a source yields to the
//! task driver ([`SourceTask`], [`Poll`]), what could not be delivered ([`Failure`], [`Stage`]),
//! an object store as the object source reads it ([`ObjectBackend`]), and the queue of object
//! notifications a backend may have ([`NotificationQueue`], [`CommitListener`]).
//!
//! The object source (`source`), the task driver (`driver`) and the producer (`kafka`) depend
//! on these and not on each other; this module depends on none of them. The record itself,
//! [`SourceRecord`](crate::record::SourceRecord) with its typed
//! [`RecordOrigin`](crate::record::RecordOrigin), is in [`crate::record`], also below them.

mod backend;
mod failure;
mod notify;
mod task;

pub use backend::ObjectBackend;
pub use failure::{Failure, Stage};
pub use notify::{
    CommitListener, IgnoreReason, NotificationQueue, Notifications, ObjectEvent, QueueMessage,
};
pub use task::{Poll, SourceTask};
