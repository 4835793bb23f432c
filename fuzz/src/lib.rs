//! Shared harness of the fuzz targets: each target hands untrusted bytes to one of Sluice's
//! readers or parsers exactly as the runtime would, and fails only on a panic, a hang (libFuzzer's
//! `-timeout`) or an allocation beyond `-rss_limit_mb` / `-malloc_limit_mb`. Errors are expected
//! results: the point is that bad bytes become errors, never crashes.
#![warn(missing_docs)]

use std::sync::Arc;

use futures::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use sluice_core::config::Settings;
use sluice_core::convert::{ByteArrayConverter, Converter, JsonConverter, JsonConverterConfig};
use sluice_core::object::ObjectInput;
use sluice_transformers::TransformerOptions;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
}

/// Runs `f` to completion on this thread's runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(f))
}

/// Settings for one format read: `base` plus the largest record capped at 1 MiB, so that a
/// fuzzer's "length" field cannot make a legitimate 16 MiB buffer look like a leak.
pub fn settings(base: &[(&str, &str)]) -> Settings {
    let mut s: Settings = base
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    s.entry("transformer.max.record.size".into())
        .or_insert_with(|| (1024 * 1024).to_string());
    s
}

/// Reads `data`, stored as object `key`, with the `format` transformer built from `settings`,
/// resuming after `skip` records, and converts every record it yields with Connect's
/// `JsonConverter` (schemas enabled), as the driver would.
///
/// # Panics
/// When the settings are not valid options (a bug in the target, not a finding).
pub fn read_object(format: &str, settings: &Settings, key: &str, data: &[u8], skip: u64) {
    let options = TransformerOptions::from_settings(settings).expect("valid fuzz options");
    let transformer = sluice_transformers::build(format, &options).expect("known format");
    let converter = JsonConverter::new(JsonConverterConfig {
        schemas_enable: true,
        ..Default::default()
    });
    block_on(async {
        let store = Arc::new(InMemory::new());
        let path = Path::from(key);
        store
            .put(&path, data.to_vec().into())
            .await
            .expect("in-memory put");
        let meta = store.head(&path).await.expect("in-memory head");
        let input = ObjectInput::new("fuzz", store as Arc<dyn ObjectStore>, meta);
        let mut records = transformer.transform(input, skip);
        while let Some(record) = records.next().await {
            if let Ok(record) = record {
                let _ = converter.from_connect_data("fuzz", &record);
            }
        }
    });
}

/// Reads `data` as a `jsonl` object twice, as a pipeline without transforms whose value
/// converter is `JsonConverter` with `schemas.enable=false` would: with the transformer and that
/// converter, and with the transformer's plain JSON form and the `ByteArrayConverter` (the fast
/// path the worker picks for it).
///
/// # Panics
/// When the two differ in any record's bytes or error: the fast path must be invisible.
pub fn jsonl_both_paths(data: &[u8]) {
    let options = TransformerOptions::from_settings(&settings(&[])).expect("valid fuzz options");
    let slow = sluice_transformers::build("jsonl", &options).expect("known format");
    let fast = slow.plain_json().expect("jsonl has a plain JSON form");
    let json = JsonConverter::new(JsonConverterConfig {
        schemas_enable: false,
        ..Default::default()
    });
    block_on(async {
        let store = Arc::new(InMemory::new());
        let path = Path::from("o.jsonl");
        store
            .put(&path, data.to_vec().into())
            .await
            .expect("in-memory put");
        let meta = store.head(&path).await.expect("in-memory head");
        let input =
            || ObjectInput::new("fuzz", store.clone() as Arc<dyn ObjectStore>, meta.clone());
        let a = converted(slow.transform(input(), 0), &json).await;
        let b = converted(fast.transform(input(), 0), &ByteArrayConverter).await;
        assert_eq!(a, b, "the fast path differs");
    });
}

/// Every record of `records` converted by `converter`: its bytes, or the error as text.
async fn converted(
    mut records: sluice_core::transformer::RecordStream,
    converter: &dyn Converter,
) -> Vec<Result<Option<Vec<u8>>, String>> {
    let mut out = Vec::new();
    while let Some(record) = records.next().await {
        out.push(match record {
            Ok(r) => converter
                .from_connect_data("fuzz", &r)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        });
    }
    out
}
