//! Backends: an object store Sluice lists and reads.
//!
//! A backend is an [`ObjectBackend`]: a bucket name, an [`object_store::ObjectStore`] that
//! lists and reads it, an optional key prefix and the names of its source partition fields. The
//! default [`ObjectBackend::list`] lists in key order after a start key with the store's
//! `list_with_offset`; everything else (matching `file.name.template`, distribution over tasks,
//! offsets, resumable streamed reads, the formats) is Sluice's. A store `object_store` does not
//! cover is an `ObjectStore` implementation of your own (`examples/http-listing` reads a plain
//! HTTP directory listing this way); its `get_opts` must honour ranges, which Sluice uses to
//! resume a read.
//!
//! Register it under a `connector.class` value with
//! [`Registry::with_backend`](crate::config::Registry::with_backend):
//!
//! ```
//! use std::sync::Arc;
//! use sluice_api::backend::object_store::{memory::InMemory, ObjectStore};
//! use sluice_api::backend::ObjectBackend;
//! use sluice_api::config::{required, KeySet, Kind, Owner};
//!
//! /// A bucket in memory (a test double; yours would talk to your store).
//! #[derive(Debug)]
//! struct Memory {
//!     bucket: String,
//!     store: Arc<dyn ObjectStore>,
//! }
//!
//! impl ObjectBackend for Memory {
//!     fn bucket(&self) -> &str {
//!         &self.bucket
//!     }
//!     fn store(&self) -> &Arc<dyn ObjectStore> {
//!         &self.store
//!     }
//!     fn prefix(&self) -> Option<&str> {
//!         None
//!     }
//! }
//!
//! const KEYS: KeySet = KeySet {
//!     owner: Owner::Backend { name: "memory", classes: &["com.example.MemorySource"] },
//!     doc: "A bucket in memory.",
//!     keys: &[required("memory.bucket", Kind::String, "The bucket's name.")],
//!     prefixes: &[],
//!     check: None,
//! };
//!
//! let registry = sluice_api::builtin()
//!     .with_backend(KEYS, |keys| {
//!         let bucket = keys.string("memory.bucket")?.unwrap_or_default();
//!         Ok(Arc::new(Memory { bucket, store: Arc::new(InMemory::new()) }))
//!     })
//!     .unwrap();
//! assert_eq!(registry.backend_of("com.example.MemorySource"), Some("memory"));
//! ```

pub use object_store;
pub use sluice_core::contract::ObjectBackend;
/// Event-driven discovery: what [`ObjectBackend::notifications`] returns (a queue of object
/// events, as S3 → SQS and Azure Event Grid → Storage Queue deliver them).
pub use sluice_core::contract::{NotificationQueue, Notifications, ObjectEvent, QueueMessage};
pub use sluice_sources::install_crypto_provider;
