//! The transformers end to end: objects in an in-memory store, read through `build`.

use std::sync::Arc;

use futures::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use sluice_core::data::{Schema, SchemaAndValue, Value};
use sluice_core::object::ObjectInput;
use sluice_transformers::{build, TransformerOptions};

async fn object(key: &str, bytes: &[u8]) -> ObjectInput {
    let store = Arc::new(InMemory::new());
    let path = Path::from(key);
    store.put(&path, bytes.to_vec().into()).await.unwrap();
    let meta = store.head(&path).await.unwrap();
    ObjectInput::new("bucket", store, meta)
}

/// Each item rendered comparably: the value, or the error's index, offset, recoverability.
async fn read(
    format: &str,
    options: &TransformerOptions,
    input: ObjectInput,
    skip: u64,
) -> Vec<Result<SchemaAndValue, (u64, Option<u64>, bool, String)>> {
    let t = build(format, options).unwrap();
    t.transform(input, skip)
        .map(|r| {
            r.map_err(|e| match e {
                sluice_core::Error::Record {
                    record_index,
                    byte_offset,
                    recoverable,
                    ref object,
                    ..
                } => {
                    assert_eq!(object, "in/data.jsonl");
                    (record_index, byte_offset, recoverable, e.to_string())
                }
                other => panic!("{other:?}"),
            })
        })
        .collect()
        .await
}

const JSONL: &[u8] = b"{\"id\":1,\"name\":\"a\"}\n\n{\"id\":2}\r\nnot json\n  \n[1,2.5]\n\"last\"";

#[tokio::test]
async fn jsonl_reads_an_object_and_resumes_at_any_record() {
    let options = TransformerOptions::default();
    let input = object("in/data.jsonl", JSONL).await;
    let full = read("jsonl", &options, input.clone(), 0).await;
    assert_eq!(full.len(), 5, "{full:?}");
    assert_eq!(
        full[0],
        Ok(SchemaAndValue::schemaless(Value::Map(vec![
            (Value::from("id"), Value::Int64(1)),
            (Value::from("name"), Value::from("a")),
        ])))
    );
    let (index, offset, recoverable, message) = full[2].clone().unwrap_err();
    assert_eq!((index, offset, recoverable), (2, Some(31), true));
    assert!(
        message.contains("object \"in/data.jsonl\", record 2 (byte offset 31): invalid JSON"),
        "{message}"
    );
    assert_eq!(full[4], Ok(SchemaAndValue::schemaless(Value::from("last"))));

    for skip in 0..=7u64 {
        let resumed = read("jsonl", &options, input.clone(), skip).await;
        assert_eq!(
            resumed[..],
            full[(skip as usize).min(full.len())..],
            "skip {skip}"
        );
    }
}

#[tokio::test]
async fn jsonl_infers_schemas_when_asked() {
    let options = TransformerOptions {
        infer_schema: true,
        ..Default::default()
    };
    let input = object("in/data.jsonl", b"{\"id\":1}\n").await;
    let items = read("jsonl", &options, input, 0).await;
    let sv = items[0].clone().unwrap();
    let schema = sv.schema.unwrap();
    assert_eq!(
        schema.field("id").unwrap().schema(),
        &Schema::optional_int64()
    );
    assert!(!schema.is_optional());
}

#[tokio::test]
async fn bytes_cuts_an_object_and_resumes_at_any_chunk() {
    let options = TransformerOptions {
        max_buffer_size: 3,
        ..Default::default()
    };
    let input = object("in/data.jsonl", b"0123456").await;
    let full = read("bytes", &options, input.clone(), 0).await;
    let expected: Vec<_> = [&b"012"[..], b"345", b"6"]
        .iter()
        .map(|c| {
            Ok(SchemaAndValue::new(
                Schema::bytes(),
                Value::Bytes(c.to_vec()),
            ))
        })
        .collect();
    assert_eq!(full, expected);
    for skip in 0..=5u64 {
        let resumed = read("bytes", &options, input.clone(), skip).await;
        assert_eq!(
            resumed[..],
            full[(skip as usize).min(full.len())..],
            "skip {skip}"
        );
    }

    let empty = object("in/data.jsonl", b"").await;
    assert!(read("bytes", &options, empty, 0).await.is_empty());
}

#[tokio::test]
async fn an_object_that_cannot_be_opened_is_a_store_error() {
    let store = Arc::new(InMemory::new());
    let path = Path::from("gone.jsonl");
    // Long enough for a Parquet footer, so that format asks the store too.
    store
        .put(&path, b"1\n2\n3\n4\n5\n".to_vec().into())
        .await
        .unwrap();
    let meta = store.head(&path).await.unwrap();
    store.delete(&path).await.unwrap();
    let input = ObjectInput::new("bucket", store as Arc<dyn ObjectStore>, meta);
    for format in sluice_transformers::formats() {
        let t = build(format, &TransformerOptions::default()).unwrap();
        let items: Vec<_> = t.transform(input.clone(), 0).collect().await;
        assert_eq!(items.len(), 1, "{format}");
        assert!(
            matches!(&items[0], Err(sluice_core::Error::Store { object: Some(o), .. }) if o == "gone.jsonl"),
            "{format}: {:?}",
            items[0]
        );
    }
}
