//! [`SourceTask`]: a source of records, and [`Poll`]: what it has for the driver.

use async_trait::async_trait;

use super::Failure;
use crate::error::Result;
use crate::offsets::OffsetMap;
use crate::record::SourceRecord;

/// What a [`SourceTask`] has for the driver.
#[derive(Debug)]
pub enum Poll {
    /// A record to produce.
    Record(SourceRecord),
    /// Progress without a record (an object finished): the offset is committed once every
    /// earlier record of the partition is acknowledged.
    Progress {
        /// The source partition.
        partition: OffsetMap,
        /// Its new offset.
        offset: OffsetMap,
    },
    /// A record or object that could not be read, under `errors.tolerance=all`: logged,
    /// counted, sent to the dead letter queue if configured, then its offset committed.
    Failed {
        /// The source partition.
        partition: OffsetMap,
        /// Its offset after the failed record.
        offset: OffsetMap,
        /// What failed.
        failure: Box<Failure>,
    },
    /// Nothing new right now; the driver backs off and polls again.
    Idle,
    /// The source is exhausted for good (a backfill's single pass is over).
    Done,
}

/// A source of records, driven by the task driver (`driver::run_task`).
#[async_trait]
pub trait SourceTask: Send + 'static {
    /// Prepares the task (connects, loads offsets). Called once before the first poll.
    async fn configure(&mut self) -> Result<()>;
    /// The next record or state. Errors stop the task (tolerated errors come as
    /// [`Poll::Failed`]).
    async fn poll(&mut self) -> Result<Poll>;
    /// Whether the next [`poll`](Self::poll) has a record at hand without waiting. The driver
    /// hands records on in batches while this holds, and at once when it does not.
    fn has_ready(&self) -> bool {
        false
    }
    /// Resolves when the source has new work after answering [`Poll::Idle`] (a notification
    /// arrived): the driver then polls again at once instead of sleeping out its backoff.
    /// Dropped unfinished when the backoff ends first, so it must not lose anything when dropped.
    /// The default never resolves.
    async fn wake(&mut self) {
        std::future::pending::<()>().await
    }
    /// Releases resources; called once after the last poll.
    async fn close_resources(&mut self);
}
