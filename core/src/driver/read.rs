//! The reading side of a task: polls the source, converts each record, and hands the items over
//! to the producing side in batches.

use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tracing::debug;

use super::convert::{located, Converted, Converting, Prepared};
use super::DriverConfig;
use crate::backoff::IdleBackoff;
use crate::config::ErrorsTolerance;
use crate::contract::{Failure, Poll, SourceTask, Stage};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::offsets::OffsetMap;
use crate::transforms::{TransformFailure, Transformed};

/// The most items the reading side hands to the producing side at once.
pub(super) const HAND_OVER_BATCH: usize = 64;

/// What the reading side hands to the producing side.
pub(super) enum Item {
    /// The source has nothing more right now (the end of a Kafka Connect "poll").
    PollEnd,
    /// A record, converted.
    Record(Prepared),
    /// Progress without a record: partition and offset.
    Progress(OffsetMap, OffsetMap),
    /// A tolerated failure: partition, offset after it, and what failed.
    Failed(OffsetMap, OffsetMap, Box<Failure>),
}

/// The reading side: polls the source, converts, queues. Ends when stopped, done, or failed;
/// returns whether the source said it is done.
pub(super) async fn read_loop<S: SourceTask>(
    mut source: S,
    cfg: DriverConfig,
    tx: mpsc::Sender<Vec<Result<Item>>>,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let mut backoff = IdleBackoff::default();
    let mut done = false;
    let mut converting = Converting::new(&cfg, stop.clone());
    // Items go over in batches while the source has more at hand, so the producing side wakes
    // once per batch; an item is never held back waiting for the source.
    let mut batch: Vec<Result<Item>> = Vec::with_capacity(HAND_OVER_BATCH);
    // When the batch being filled started polling (Kafka Connect's poll-batch time).
    let mut batch_started: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        batch_started.get_or_insert_with(Instant::now);
        let item = match source.poll().await {
            Ok(Poll::Record(r)) => {
                backoff.reset();
                match cfg.transforms.apply(r) {
                    Ok(Transformed::Record(r)) => {
                        // What is converted goes over before a record waits for its converter (a
                        // schema registry that does not answer), not held back with it.
                        if !batch.is_empty()
                            && converting.waits(&r)
                            && tx
                                .send(std::mem::replace(
                                    &mut batch,
                                    Vec::with_capacity(HAND_OVER_BATCH),
                                ))
                                .await
                                .is_err()
                        {
                            break;
                        }
                        match converting.convert(r).await {
                            Converted::Ready(p) => Ok(Item::Record(p)),
                            Converted::Failed(failed) => {
                                let (r, failure) = *failed;
                                record_failed(&cfg, r.source_partition, r.source_offset, failure)
                            }
                            Converted::Stopped => break,
                        }
                    }
                    Ok(Transformed::Dropped { partition, offset }) => {
                        Ok(Item::Progress(partition, offset))
                    }
                    Err(failed) => {
                        let TransformFailure {
                            partition,
                            offset,
                            origin,
                            error,
                        } = *failed;
                        let failure = located(Stage::Transformation, origin.as_ref(), error);
                        record_failed(&cfg, partition, offset, failure)
                    }
                }
            }
            Ok(Poll::Progress { partition, offset }) => {
                backoff.reset();
                Ok(Item::Progress(partition, offset))
            }
            Ok(Poll::Failed {
                partition,
                offset,
                failure,
            }) => {
                backoff.reset();
                Ok(Item::Failed(partition, offset, failure))
            }
            Ok(Poll::Idle) => {
                if let Some(started) = batch_started.take().filter(|_| !batch.is_empty()) {
                    cfg.metrics.poll_batch.observe(started.elapsed());
                }
                batch.push(Ok(Item::PollEnd));
                if tx.send(std::mem::take(&mut batch)).await.is_err() {
                    break;
                }
                let delay = backoff.next_delay();
                debug!(task = %cfg.task_name, ?delay, "nothing new; backing off");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => {}
                    _ = source.wake() => backoff.reset(),
                }
                continue;
            }
            Ok(Poll::Done) => {
                done = true;
                break;
            }
            Err(e) => Err(cfg.task_error(e)),
        };
        if let (Ok(Item::Record(p)), Some(limits)) = (&item, &cfg.rate_limits) {
            let wait = limits.reserve(p.size());
            if !wait.is_zero() {
                // What is read so far goes over first, so the producer is not kept waiting too.
                if !batch.is_empty()
                    && tx
                        .send(std::mem::replace(
                            &mut batch,
                            Vec::with_capacity(HAND_OVER_BATCH),
                        ))
                        .await
                        .is_err()
                {
                    break;
                }
                let start = tokio::time::Instant::now();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
                Metrics::add(
                    &cfg.metrics.throttled_ms,
                    start.elapsed().as_millis() as u64,
                );
            }
        }
        let failed = item.is_err();
        batch.push(item);
        if failed || batch.len() >= HAND_OVER_BATCH || !source.has_ready() {
            if let Some(started) = batch_started.take() {
                cfg.metrics.poll_batch.observe(started.elapsed());
            }
            let full = std::mem::replace(&mut batch, Vec::with_capacity(HAND_OVER_BATCH));
            if tx.send(full).await.is_err() || failed {
                break;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    source.close_resources().await;
    done
}

/// A record that failed after it was read (a transform or a converter): tolerated as an
/// [`Item::Failed`] under `errors.tolerance=all`, otherwise the error that stops the task,
/// naming the object and the record.
fn record_failed(
    cfg: &DriverConfig,
    partition: OffsetMap,
    offset: OffsetMap,
    failure: Failure,
) -> Result<Item> {
    if cfg.tolerance == ErrorsTolerance::All {
        Ok(Item::Failed(partition, offset, Box::new(failure)))
    } else {
        Err(cfg.task_error(Error::Record {
            object: failure.object,
            record_index: failure.record_index.unwrap_or(0),
            byte_offset: None,
            recoverable: true,
            raw: None,
            source: Box::new(failure.error),
        }))
    }
}
