//! [`ObjectInput`]: one object handed to a transformer.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::error::{Error, Result};

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// An object to transform: where it lives and how to read it. Streaming formats call
/// [`ObjectInput::stream`]; formats that need random access (Parquet) use
/// [`ObjectInput::store`] and [`ObjectInput::meta`] for range reads.
#[derive(Debug, Clone)]
pub struct ObjectInput {
    bucket: String,
    store: Arc<dyn ObjectStore>,
    meta: ObjectMeta,
}

impl ObjectInput {
    /// An object of `bucket` in `store`, described by `meta`.
    pub fn new(bucket: impl Into<String>, store: Arc<dyn ObjectStore>, meta: ObjectMeta) -> Self {
        ObjectInput {
            bucket: bucket.into(),
            store,
            meta,
        }
    }

    /// The bucket (container, folder) the object is in.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object's key.
    pub fn key(&self) -> &str {
        self.meta.location.as_ref()
    }

    /// The object's metadata (size, last modified, ETag).
    pub fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// The store holding the object, for range reads.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Opens a streaming read of the whole object. Memory use is bounded by the store's chunk
    /// size, whatever the object's size.
    pub async fn stream(&self) -> Result<ByteStream> {
        let result = self
            .store
            .get(&self.meta.location)
            .await
            .map_err(|e| Error::Store {
                bucket: self.bucket.clone(),
                object: Some(self.key().to_owned()),
                source: Box::new(e),
            })?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }
}
