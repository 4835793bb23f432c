//! The `parquet` format, read with the `parquet` crate's async reader straight from the object
//! store with range requests: the footer first, then the column chunks of one row group at a time
//! (never the whole object, never a temporary file, no size limit).
//!
//! Each row group is read by its own stream built from the footer read once, so resuming at
//! record N skips whole row groups by their row counts (without reading them) and then rows
//! within the first one needed; a row group that cannot be decoded is reported as one record
//! error and the next row groups are still read. Arrow arrays are converted column by column to
//! Connect values; see `docs/formats.md` for the mapping.

use std::sync::Arc;

use std::ops::Range;

use ::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use ::parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use ::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, TimeUnit};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use futures::TryFutureExt;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};
use sluice_core::data::{logical, Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use sluice_core::object::ObjectInput;
use sluice_core::transformer::{RecordStream, Transformer};

use crate::{record_error_at, record_stream, Error, ReadRecords, TransformerOptions};
use sluice_core::config::{KeySet, Keys, Owner};
use sluice_core::data::logical::minimal_twos_complement;

/// The keys of the `parquet` format, declared beside its code.
pub(crate) const KEYS: KeySet = KeySet {
    owner: Owner::Format("parquet"),
    doc: "Parquet files, read with range requests (see docs/formats.md).",
    keys: &[],
    prefixes: &[],
    check: Some(check),
};

/// A parquet object's pages carry their own compression: no outer one.
fn check(r: &Keys<'_>) -> sluice_core::Result<Vec<String>> {
    let mut problems = Vec::new();
    if r.raw("input.format")? == Some("parquet")
        && !matches!(
            r.raw("file.compression.type")?,
            None | Some("none") | Some("auto")
        )
    {
        problems.push(
            "file.compression.type: parquet objects cannot be read with an outer compression (their pages are compressed inside the file and read with range requests); use none"
                .into(),
        );
    }
    Ok(problems)
}

/// Rows decoded at a time.
const BATCH_SIZE: usize = 1024;

/// Parameter giving a decimal's precision (Confluent's).
const PRECISION_PARAM: &str = "connect.decimal.precision";

/// Reads `parquet` objects; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct ParquetTransformer {
    batch_size: usize,
}

impl ParquetTransformer {
    pub(crate) fn new(_options: &TransformerOptions) -> Result<Self, Error> {
        Ok(ParquetTransformer {
            batch_size: BATCH_SIZE,
        })
    }
}

impl Transformer for ParquetTransformer {
    fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
        let batch_size = self.batch_size;
        stream::once(async move { records(input, skip, batch_size).await })
            .flatten()
            .boxed()
    }

    fn name(&self) -> &'static str {
        "parquet"
    }
}

/// Bytes of the footer read at once (most footers fit; a larger one costs one more request).
const FOOTER_PREFETCH: usize = 64 * 1024;

/// Range reads of one object for the Parquet reader, so only the footer and the column chunks
/// of the row groups read are fetched. Every range is read with `If-Match` the listed ETag
/// (when the store gives one): the footer and the row groups all come from one version of the
/// object, and a rewrite while it is being read fails the next read with `Precondition`
/// (the source then treats the object as replaced, per `object.overwrite.policy`) instead of
/// decoding new column chunks with the old footer.
#[derive(Debug, Clone)]
struct StoreReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    etag: Option<String>,
}

impl StoreReader {
    /// One range of the listed version of the object.
    fn fetch(
        &self,
        range: Range<u64>,
    ) -> impl std::future::Future<Output = object_store::Result<Bytes>> + Send + 'static {
        let store = self.store.clone();
        let path = self.path.clone();
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            if_match: self.etag.clone(),
            ..GetOptions::default()
        };
        async move { store.get_opts(&path, options).await?.bytes().await }
    }
}

fn external(e: object_store::Error) -> ::parquet::errors::ParquetError {
    ::parquet::errors::ParquetError::External(Box::new(e))
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, ::parquet::errors::Result<Bytes>> {
        Box::pin(self.fetch(range).map_err(external))
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, ::parquet::errors::Result<Vec<Bytes>>> {
        Box::pin(async move {
            // Nearby ranges in one request, as `ObjectStore::get_ranges` does.
            object_store::coalesce_ranges(
                &ranges,
                |r| self.fetch(r),
                object_store::OBJECT_STORE_COALESCE_DEFAULT,
            )
            .await
            .map_err(external)
        })
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, ::parquet::errors::Result<Arc<ParquetMetaData>>> {
        Box::pin(async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        })
    }
}

/// The store's error when `e` is one (the Parquet reader wraps what [`StoreReader`] returns),
/// as the [`sluice_core::Error::Store`] of the object; otherwise `e` back.
fn store_failure(
    e: ::parquet::errors::ParquetError,
    bucket: &str,
    key: &str,
) -> Result<sluice_core::Error, ::parquet::errors::ParquetError> {
    match e {
        ::parquet::errors::ParquetError::External(e) if e.is::<object_store::Error>() => {
            Ok(sluice_core::Error::Store {
                bucket: bucket.to_owned(),
                object: Some(key.to_owned()),
                source: e,
            })
        }
        other => Err(other),
    }
}

/// The state of reading one object.
struct Run {
    bucket: String,
    key: String,
    reader: StoreReader,
    metadata: ArrowReaderMetadata,
    schema: Schema,
    /// Row counts of the row groups.
    groups: Vec<u64>,
    /// The row group being read and its first record's index.
    group: usize,
    group_first: u64,
    /// The current row group's batches.
    batches: Option<BoxStream<'static, ::parquet::errors::Result<RecordBatch>>>,
    /// Converted rows of the current batch, with their index.
    rows: std::vec::IntoIter<(u64, Result<Value, String>)>,
    /// Index of the next row to come out of `batches`.
    next_index: u64,
    skip: u64,
    batch_size: usize,
}

async fn records(input: ObjectInput, skip: u64, batch_size: usize) -> RecordStream {
    let key = input.key().to_owned();
    let fail = |e: Error| {
        let key = key.clone();
        stream::once(async move { Err(record_error_at(&key, 0, None, false, None, e)) }).boxed()
    };
    let mut reader = StoreReader {
        store: input.store().clone(),
        path: input.meta().location.clone(),
        size: input.meta().size,
        etag: input.meta().e_tag.clone(),
    };
    let metadata =
        match ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new()).await {
            Ok(m) => m,
            Err(source) => match store_failure(source, input.bucket(), &key) {
                // The store failed (not found, no access, changed, ...), not the file.
                Ok(e) => return stream::once(async move { Err(e) }).boxed(),
                Err(source) => return fail(Error::Parquet { source }),
            },
        };
    let schema = match connect_schema(metadata.schema().fields()) {
        Ok(s) => s,
        Err(message) => return fail(Error::UnmappableSchema { message }),
    };
    let groups: Vec<u64> = metadata
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows().max(0) as u64)
        .collect();
    // Resume: skip whole row groups by their row counts.
    let mut group = 0;
    let mut group_first = 0u64;
    while group < groups.len() && group_first + groups[group] <= skip {
        group_first += groups[group];
        group += 1;
    }
    let run = Run {
        bucket: input.bucket().to_owned(),
        key,
        reader,
        metadata,
        schema,
        groups,
        group,
        group_first,
        batches: None,
        rows: Vec::new().into_iter(),
        next_index: group_first,
        skip,
        batch_size,
    };
    record_stream(run)
}

impl ReadRecords for Run {
    async fn next(&mut self) -> Option<sluice_core::Result<SchemaAndValue>> {
        loop {
            if let Some((index, row)) = self.rows.next() {
                return Some(
                    row.map(|v| SchemaAndValue::new(self.schema.clone(), v))
                        .map_err(|message| {
                            record_error_at(
                                &self.key,
                                index,
                                None,
                                true,
                                None,
                                Error::UnmappableValue { message },
                            )
                        }),
                );
            }
            if self.batches.is_none() {
                if self.group >= self.groups.len() {
                    return None;
                }
                // Rows of this group already delivered before a restart.
                let offset = self.skip.saturating_sub(self.group_first) as usize;
                let built = ParquetRecordBatchStreamBuilder::new_with_metadata(
                    self.reader.clone(),
                    self.metadata.clone(),
                )
                .with_row_groups(vec![self.group])
                .with_offset(offset)
                .with_batch_size(self.batch_size)
                .build();
                match built {
                    Ok(s) => {
                        // A corrupt file can make the decoder panic instead of failing (found by
                        // the format_parquet fuzz target in parquet 60.1.0): that becomes an
                        // error of this row group, never the end of the task.
                        let caught = std::panic::AssertUnwindSafe(s).catch_unwind().map(|item| {
                            item.unwrap_or_else(|panic| {
                                let what = crate::panic_message(panic.as_ref());
                                Err(::parquet::errors::ParquetError::General(format!(
                                    "the Parquet decoder failed on corrupt data ({what})"
                                )))
                            })
                        });
                        self.batches = Some(caught.boxed());
                        self.next_index = self.group_first + offset as u64;
                    }
                    Err(source) => {
                        if let Some(e) = self.group_failed(source) {
                            return Some(Err(e));
                        }
                        continue;
                    }
                }
            }
            let batches = self.batches.as_mut().expect("set above");
            match batches.next().await {
                Some(Ok(batch)) => {
                    let first = self.next_index;
                    self.next_index += batch.num_rows() as u64;
                    self.rows = match batch_rows(&batch, &self.schema) {
                        Ok(rows) => (first..).zip(rows).collect::<Vec<_>>().into_iter(),
                        Err(message) => (first..self.next_index)
                            .map(|i| (i, Err(message.clone())))
                            .collect::<Vec<_>>()
                            .into_iter(),
                    };
                }
                Some(Err(source)) => {
                    if let Some(e) = self.group_failed(source) {
                        return Some(Err(e));
                    }
                }
                None => {
                    self.group_first += self.groups[self.group];
                    self.group += 1;
                    self.batches = None;
                }
            }
        }
    }
}

impl Run {
    /// The current row group cannot be read further: one recoverable error standing for its
    /// remaining rows (index of its last row), then the next row group.
    ///
    /// A failure of the store (the object changed or vanished, or reads kept failing) is not
    /// the file's: it ends the read with the store's error, which the source recognises.
    fn group_failed(
        &mut self,
        source: ::parquet::errors::ParquetError,
    ) -> Option<sluice_core::Error> {
        let source = match store_failure(source, &self.bucket, &self.key) {
            Ok(e) => {
                self.group = self.groups.len();
                self.batches = None;
                return Some(e);
            }
            Err(source) => Error::Parquet { source },
        };
        let group = self.group;
        let last = (self.group_first + self.groups[group]).saturating_sub(1);
        let (first, unread) = (self.group_first, self.next_index);
        self.group_first += self.groups[group];
        self.group += 1;
        self.batches = None;
        if unread > last {
            return None;
        }
        let more = self.group < self.groups.len();
        Some(record_error_at(
            &self.key,
            last,
            None,
            more,
            None,
            Error::Malformed {
                format: "parquet",
                message: format!(
                    "row group {group} (records {first}..={last}) cannot be read{}: {source}",
                    if more {
                        ", reading goes on with the next row group"
                    } else {
                        ""
                    }
                ),
            },
        ))
    }
}

mod mapping;
use mapping::*;

#[cfg(test)]
mod tests;
