//! [`NotificationQueue`]: a queue of object-created events (S3 event notifications in SQS, Event
//! Grid events in an Azure Storage queue) that tells the object source about new objects without
//! a listing pass; [`CommitListener`]: how the driver tells the source which objects' offsets
//! are committed, so a message is deleted only once everything it announced is safe.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::BoxError;
pub use crate::metrics::IgnoreReason;
use crate::offsets::OffsetMap;

/// One delivery of a message from a [`NotificationQueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The queue's id of the message: the same when the message is delivered again.
    pub id: String,
    /// What deleting or releasing this delivery takes (SQS's receipt handle, Azure's pop
    /// receipt); a later delivery of the same message has another one.
    pub receipt: String,
    /// The events the message holds (S3 and Event Grid send one per message).
    pub events: Vec<ObjectEvent>,
}

/// An event of a [`QueueMessage`], as the queue's parser understood it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectEvent {
    /// An object was created (or overwritten).
    Created {
        /// The bucket (container) the event names, when it names one.
        bucket: Option<String>,
        /// The object's key, decoded (S3 events carry it URL-encoded).
        key: String,
    },
    /// Not an object creation Sluice reads: counted and passed over.
    Ignored(IgnoreReason),
}

/// A queue of object notifications. Deliveries are at least once: a message not deleted comes
/// back after the queue's visibility timeout.
#[async_trait]
pub trait NotificationQueue: Send + Sync + fmt::Debug + 'static {
    /// The queue as users name it (its URL or name), for logs; never a secret.
    fn name(&self) -> &str;
    /// The next messages, waiting a few seconds at most (long polling where the queue has it);
    /// empty when none came.
    async fn receive(&self) -> Result<Vec<QueueMessage>, BoxError>;
    /// Deletes the message: every object it announced is committed.
    async fn delete(&self, message: &QueueMessage) -> Result<(), BoxError>;
    /// Makes the message visible again at once, for another task of the connector.
    async fn release(&self, message: &QueueMessage) -> Result<(), BoxError>;
}

/// A backend's notification settings.
#[derive(Debug, Clone)]
pub struct Notifications {
    /// The queue.
    pub queue: Arc<dyn NotificationQueue>,
    /// How often a reconciliation listing looks for objects the queue did not announce.
    pub reconciliation_interval: Duration,
}

/// Told by the task driver which offsets were just committed (the offset store holds them, or
/// the transaction holding them committed).
pub trait CommitListener: Send + Sync + fmt::Debug + 'static {
    /// `committed`: (source partition, offset) pairs now committed.
    fn committed(&self, committed: &[(OffsetMap, OffsetMap)]);
}
