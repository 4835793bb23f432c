//! Confluent's S3 sink: values in `<topic>+<partition>+<start offset>.<ext>` (under
//! `topics/<topic>/partition=<p>/` by default), with `store.kafka.keys=true` the keys in
//! `<…>.keys.<ext>` and with `store.kafka.headers=true` the headers in `<…>.headers.<ext>`, one
//! record per line (row) in the same order as the values.
//!
//! Sluice reads the value object with the configured format and, beside it, each side file
//! asked for (`input.envelope.confluent.keys`, `input.envelope.confluent.headers`) with the same
//! format, record by record ([`records`]); the pieces meet in one map `{"value", "key",
//! "headers", "partition"}` that [`restore`] takes apart. In JSON the sink writes bytes as Base64
//! text (`input.envelope.*.encoding`), and each headers line as `{"headers": [{"key", "value"},
//! …]}` with values as Kafka Connect's `Values.convertToString` makes them. The layout has no
//! timestamp; the partition comes from the file name when `input.envelope.restore.partition`.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};

use crate::config::EnvelopeSettings;
use crate::data::{SchemaAndValue, Value};
use crate::error::{BoxError, Error, Result};
use crate::object::{ObjectInput, ReadRetry};
use crate::record::Header;
use crate::transformer::{RecordStream, Transformer};

use super::{data, field, fields, header_bytes, Restored};

/// The key of the side file `kind` (`keys`, `headers`) of value object `key`: `.keys` /
/// `.headers` before the extension that follows the start offset.
pub fn side_key(key: &str, kind: &str) -> String {
    let (dir, name) = key.rsplit_once('/').map_or(("", key), |(d, n)| (d, n));
    let after_plus = name.rfind('+').map_or(0, |i| i + 1);
    let (stem, ext) = match name[after_plus..].find('.') {
        Some(dot) => name.split_at(after_plus + dot),
        None => (name, ""),
    };
    let file = format!("{stem}.{kind}{ext}");
    if dir.is_empty() {
        file
    } else {
        format!("{dir}/{file}")
    }
}

/// True when `key` names a keys or headers side file (never read as values).
pub fn is_side_file(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    let tail = &name[name.rfind('+').map_or(0, |i| i + 1)..];
    let mut parts = tail.split('.');
    parts.next();
    matches!(parts.next(), Some("keys" | "headers"))
}

/// The partition in a Confluent file name `<topic>+<partition>+<start offset>.<ext>`.
pub fn partition_in(key: &str) -> Option<i32> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let mut parts = name.rsplit('+');
    parts.next()?;
    parts.next()?.parse().ok()
}

/// What [`records`] needs to open the side files.
#[derive(Debug, Clone)]
pub struct SideFiles {
    /// The bucket, for messages.
    pub bucket: String,
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// How reads retry.
    pub retry: ReadRetry,
}

/// The records of value object `input` joined with those of its side files, from record
/// `skip`: each a map `{"value", "keys"?, "headers"?, "partition"?}`. A side file missing, or
/// holding fewer or more records than the values, is an error naming both objects.
pub fn records(
    settings: &EnvelopeSettings,
    transformer: Arc<dyn Transformer>,
    side: SideFiles,
    input: ObjectInput,
    skip: u64,
) -> RecordStream {
    let key = input.key().to_owned();
    let partition = if settings.restore_partition {
        partition_in(&key)
    } else {
        None
    };
    let mut kinds = Vec::new();
    if settings.confluent_keys {
        kinds.push("keys");
    }
    if settings.confluent_headers {
        kinds.push("headers");
    }
    let mut values = Some(transformer.transform(input, skip));
    let object = key.clone();
    let opened = async move {
        let mut sides: Vec<Side> = Vec::new();
        for kind in kinds {
            let path = side_key(&key, kind);
            let meta = side
                .store
                .head(&Path::from(path.as_str()))
                .await
                .map_err(|e| Error::Store {
                    bucket: side.bucket.clone(),
                    object: Some(path.clone()),
                    source: format!(
                        "the {kind} file of {key:?} cannot be read ({e}); Confluent's sink writes it beside the values with store.kafka.{kind}=true: set input.envelope.confluent.{kind}=false if it did not"
                    )
                    .into(),
                })?;
            let input = ObjectInput::new(side.bucket.clone(), side.store.clone(), meta)
                .with_retry(side.retry);
            let records = transformer.transform(input, skip);
            sides.push(Side {
                kind,
                path,
                records,
            });
        }
        Ok::<_, Error>(sides)
    };
    stream::once(opened)
        .flat_map(move |sides| -> RecordStream {
            let values = values.take().expect("opened once");
            match sides {
                Err(e) => stream::once(async move { Err(e) }).boxed(),
                Ok(sides) => join(values, sides, partition, object.clone(), skip),
            }
        })
        .boxed()
}

/// A side file being read.
struct Side {
    kind: &'static str,
    path: String,
    records: RecordStream,
}

struct Join {
    values: RecordStream,
    sides: Vec<Side>,
    partition: Option<i32>,
    object: String,
    index: u64,
    done: bool,
}

impl Join {
    /// An unrecoverable error at the current record: the pairing is broken.
    fn broken(&mut self, source: BoxError) -> Error {
        self.done = true;
        Error::Record {
            object: self.object.clone(),
            record_index: self.index,
            byte_offset: None,
            recoverable: false,
            raw: None,
            source,
        }
    }

    async fn next(&mut self) -> Option<Result<SchemaAndValue>> {
        if self.done {
            return None;
        }
        let value = match self.values.next().await {
            None => {
                for side in &mut self.sides {
                    if side.records.next().await.is_some() {
                        let msg = format!(
                            "the {} file {:?} has more records than the values ({})",
                            side.kind, side.path, self.index
                        );
                        return Some(Err(self.broken(msg.into())));
                    }
                }
                return None;
            }
            Some(v) => v,
        };
        let mut entries = Vec::with_capacity(4);
        let failed = value.is_err();
        if let Ok(v) = value.as_ref() {
            entries.push((Value::from("value"), v.value.clone()));
        }
        for i in 0..self.sides.len() {
            let next = self.sides[i].records.next().await;
            let (kind, path) = (self.sides[i].kind, self.sides[i].path.clone());
            match next {
                Some(Ok(x)) => entries.push((Value::from(kind), x.value)),
                Some(Err(e)) => {
                    let msg = format!("record {} of the {kind} file {path:?}: {e}", self.index);
                    return Some(Err(self.broken(msg.into())));
                }
                None => {
                    let msg = format!(
                        "the {kind} file {path:?} has fewer records than the values (it ends at record {})",
                        self.index
                    );
                    return Some(Err(self.broken(msg.into())));
                }
            }
        }
        self.index += 1;
        if failed {
            // The value's own error (a malformed line), its side records consumed: the pairing holds.
            return Some(value);
        }
        if let Some(p) = self.partition {
            entries.push((Value::from("partition"), Value::Int32(p)));
        }
        Some(Ok(SchemaAndValue::schemaless(Value::Map(entries))))
    }
}

fn join(
    values: RecordStream,
    sides: Vec<Side>,
    partition: Option<i32>,
    object: String,
    skip: u64,
) -> RecordStream {
    let state = Join {
        values,
        sides,
        partition,
        object,
        index: skip,
        done: false,
    };
    stream::unfold(state, |mut j| async move { j.next().await.map(|r| (r, j)) }).boxed()
}

/// Takes apart one joined record (see [`records`]).
pub fn restore(settings: &EnvelopeSettings, joined: Value) -> Result<Restored, BoxError> {
    let f = fields(&joined).ok_or("a Confluent record is not a joined value")?;
    let mut headers = Vec::new();
    if let Some(h) = field(&f, "headers") {
        // `{"headers": [...]}` (JSON: the view is wrapped in a struct), or the list itself.
        let list = match fields(h) {
            Some(inner) => field(&inner, "headers").unwrap_or(&Value::Null),
            None => h,
        };
        let Value::Array(items) = list else {
            return Err("a line of the headers file is not a list of {key, value} (nor {\"headers\": [...]})".into());
        };
        for item in items {
            let h =
                fields(item).ok_or("a header of the headers file is not a {key, value} object")?;
            let name = field(&h, "key")
                .and_then(Value::as_str)
                .ok_or("a header of the headers file has no key")?;
            headers.push(Header {
                key: name.to_owned(),
                value: header_bytes(
                    field(&h, "value").unwrap_or(&Value::Null),
                    settings.headers_encoding,
                    name,
                )?,
            });
        }
    }
    // Avro and Parquet wrap a key view in a record `RecordKey {key}`.
    let key = match field(&f, "keys") {
        Some(Value::Struct(s)) if s.schema().name() == Some("RecordKey") => {
            s.get("key").filter(|v| !matches!(v, Value::Null))
        }
        other => other,
    };
    Ok(Restored {
        key: data(key, settings.key_encoding, "the key")?,
        value: data(field(&f, "value"), settings.value_encoding, "the value")?,
        headers,
        timestamp: None,
        partition: match field(&f, "partition") {
            Some(Value::Int32(p)) => Some(*p),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EnvelopeKind, FieldEncoding};
    use bytes::Bytes;
    use futures::TryStreamExt;
    use object_store::memory::InMemory;

    /// One string record per line.
    #[derive(Debug)]
    struct Lines;

    impl Transformer for Lines {
        fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
            stream::once(async move {
                let chunks: Vec<Bytes> = input.stream().await.unwrap().try_collect().await.unwrap();
                let text = String::from_utf8(chunks.concat()).unwrap();
                let items: Vec<Result<SchemaAndValue>> = text
                    .lines()
                    .skip(skip as usize)
                    .map(|l| Ok(SchemaAndValue::schemaless(Value::from(l))))
                    .collect();
                stream::iter(items)
            })
            .flatten()
            .boxed()
        }

        fn name(&self) -> &'static str {
            "lines"
        }
    }

    async fn read(files: &[(&str, &str)], skip: u64) -> Vec<Result<Restored, String>> {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        for (k, v) in files {
            store
                .put(&Path::from(*k), v.to_string().into())
                .await
                .unwrap();
        }
        let settings = EnvelopeSettings {
            kind: EnvelopeKind::Confluent,
            key_encoding: FieldEncoding::None,
            value_encoding: FieldEncoding::None,
            headers_encoding: FieldEncoding::None,
            restore_partition: true,
            confluent_keys: true,
            confluent_headers: false,
        };
        let meta = store.head(&Path::from(files[0].0)).await.unwrap();
        let input = ObjectInput::new("b", store.clone(), meta);
        let side = SideFiles {
            bucket: "b".into(),
            store,
            retry: ReadRetry::default(),
        };
        records(&settings, Arc::new(Lines), side, input, skip)
            .map(|r| match r {
                Ok(v) => restore(&settings, v.value).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            })
            .collect()
            .await
    }

    #[tokio::test]
    async fn values_meet_their_keys_line_by_line() {
        let got = read(
            &[
                ("t+2+0.txt", "a\nb\nc\n"),
                ("t+2+0.keys.txt", "ka\nkb\nkc\n"),
            ],
            1,
        )
        .await;
        let got: Vec<(Value, Value, Option<i32>)> = got
            .into_iter()
            .map(|r| {
                let r = r.unwrap();
                (r.key.value, r.value.value, r.partition)
            })
            .collect();
        assert_eq!(
            got,
            [
                (Value::from("kb"), Value::from("b"), Some(2)),
                (Value::from("kc"), Value::from("c"), Some(2)),
            ]
        );
    }

    #[tokio::test]
    async fn a_missing_short_or_long_side_file_names_both_objects() {
        let got = read(&[("t+0+0.txt", "a\nb\n")], 0).await;
        assert_eq!(got.len(), 1);
        let e = got[0].as_ref().unwrap_err();
        assert!(
            e.contains("t+0+0.keys.txt") && e.contains("store.kafka.keys"),
            "{e}"
        );

        let got = read(&[("t+0+0.txt", "a\nb\n"), ("t+0+0.keys.txt", "ka\n")], 0).await;
        assert!(got[0].is_ok());
        let e = got[1].as_ref().unwrap_err();
        assert!(
            e.contains("t+0+0.txt") && e.contains("fewer records"),
            "{e}"
        );
        assert_eq!(got.len(), 2, "nothing after the pairing broke");

        let got = read(&[("t+0+0.txt", "a\n"), ("t+0+0.keys.txt", "ka\nkb\n")], 0).await;
        let e = got[1].as_ref().unwrap_err();
        assert!(e.contains("more records than the values"), "{e}");
    }

    #[test]
    fn side_files_are_named_after_the_values() {
        assert_eq!(
            side_key(
                "topics/my.topic/partition=3/my.topic+3+0000000042.json",
                "keys"
            ),
            "topics/my.topic/partition=3/my.topic+3+0000000042.keys.json"
        );
        assert_eq!(
            side_key("t+0+7.json.gz", "headers"),
            "t+0+7.headers.json.gz"
        );
        assert!(is_side_file("topics/t/partition=0/t+0+7.keys.json"));
        assert!(is_side_file("t+0+7.headers.avro"));
        assert!(!is_side_file("topics/my.keys/partition=0/my.keys+0+7.json"));
        assert_eq!(
            partition_in("topics/t/partition=3/t+3+0000000042.json"),
            Some(3)
        );
        assert_eq!(partition_in("a.json"), None);
    }
}
