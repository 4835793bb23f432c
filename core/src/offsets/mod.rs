//! Offsets: source partition / offset maps, the [`OffsetManager`] and its stores.
//!
//! - [`OffsetMap`] / [`OffsetValue`]: Kafka Connect source partitions and offsets, integers
//!   normalised to i64.
//! - [`OffsetManagerEntry`] / [`ObjectOffsetEntry`]: one source partition's key and data.
//! - [`OffsetStore`]: where committed offsets live; [`MemoryOffsetStore`], [`FileOffsetStore`]
//!   (standalone mode, atomic rewrites).
//! - [`OffsetManager`]: a connector's offsets cached in front of its store; finished objects
//!   cached compactly (`finished.rs`).
//! - [`SubmittedRecords`]: which offsets may be committed (contiguous acknowledged prefix per
//!   source partition).

mod entries;
mod entry;
mod file;
mod finished;
mod kafka;
mod manager;
mod store;
mod submitted;
mod value;

pub use entry::{
    ObjectOffsetEntry, OffsetManagerEntry, OffsetManagerEntryExt, ETAG, FINISHED,
    LAST_LINE_UNTERMINATED, RECORD_COUNT, SIZE,
};
pub use file::FileOffsetStore;
pub use finished::ObjectVersion;
pub use kafka::{KafkaOffsetStore, TopicSettings};
pub use manager::{OffsetManager, StoredFinished};
pub use store::{
    canonical_partition, connect_offset_key, parse_connect_offset_key, MemoryOffsetStore,
    OffsetStore, PartitionKey, Peek, DEFAULT_WRITE_SPACING,
};
pub use submitted::{SubmittedId, SubmittedRecords};
pub use value::{map_from_json, map_to_json, OffsetMap, OffsetValue};
