//! Tests of [`ObjectSource`] over an in-memory store.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{stream, StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::data::{Schema, SchemaAndValue, Value};
use crate::distribution::DistributionType;
use crate::offsets::{MemoryOffsetStore, ObjectOffsetEntry, OffsetManagerEntry as _, OffsetStore};

/// InMemory behind the trait's default listing, recording each listing's start-after.
#[derive(Debug)]
struct Mem {
    store: Arc<dyn ObjectStore>,
    listings: Mutex<Vec<Option<String>>>,
}

impl ObjectBackend for Mem {
    fn bucket(&self) -> &str {
        "mem"
    }
    fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
    fn prefix(&self) -> Option<&str> {
        None
    }
    fn list(
        &self,
        start_after: Option<&Path>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.listings
            .lock()
            .unwrap()
            .push(start_after.map(|p| p.to_string()));
        let store = self.store.clone();
        let start_after = start_after.cloned();
        store
            .list(None)
            .try_filter(move |m| {
                futures::future::ready(start_after.as_ref().is_none_or(|s| m.location > *s))
            })
            .boxed()
    }
}

/// One record per line; a line `BAD` is an unrecoverable record error.
#[derive(Debug)]
struct Lines;

impl Transformer for Lines {
    fn transform(&self, input: ObjectInput, skip: u64) -> crate::transformer::RecordStream {
        stream::once(async move {
            let bytes: Vec<Bytes> = match input.stream().await {
                Ok(s) => s.try_collect().await.unwrap(),
                Err(e) => return stream::iter(vec![Err(e)]).boxed(),
            };
            let text = String::from_utf8(bytes.concat()).unwrap();
            let key = input.key().to_owned();
            let items: Vec<Result<SchemaAndValue>> = text
                .lines()
                .enumerate()
                .skip(skip as usize)
                .map(|(i, l)| {
                    if l == "BAD" {
                        Err(Error::Record {
                            object: key.clone(),
                            record_index: i as u64,
                            byte_offset: None,
                            recoverable: false,
                            raw: None,
                            source: "bad line".into(),
                        })
                    } else {
                        Ok(SchemaAndValue::new(
                            Schema::string(),
                            Value::String(l.into()),
                        ))
                    }
                })
                .collect();
            // An unrecoverable error ends the stream.
            let end = items
                .iter()
                .position(|r| r.is_err())
                .map_or(items.len(), |i| i + 1);
            stream::iter(items.into_iter().take(end).collect::<Vec<_>>()).boxed()
        })
        .flatten()
        .boxed()
    }
    fn name(&self) -> &'static str {
        "lines"
    }
}

struct Harness {
    backend: Arc<Mem>,
    offsets: Arc<MemoryOffsetStore>,
}

async fn harness(objects: &[(&str, String)]) -> Harness {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    for (k, v) in objects {
        store.put(&Path::from(*k), v.clone().into()).await.unwrap();
    }
    Harness {
        backend: Arc::new(Mem {
            store,
            listings: Mutex::new(Vec::new()),
        }),
        offsets: Arc::new(MemoryOffsetStore::new()),
    }
}

fn source(h: &Harness, once: bool, tolerance: ErrorsTolerance, interval: Duration) -> ObjectSource {
    ObjectSource::new(
        h.backend.clone(),
        Arc::new(Lines),
        Arc::new(OffsetManager::new("c", h.offsets.clone())),
        ObjectSourceConfig {
            topic: Some("t".into()),
            template: None,
            template_match: crate::matcher::MatchMode::Aiven,
            start_after_key: None,
            distribution: Distribution::new(DistributionType::ObjectHash, 0, 1).unwrap(),
            tolerance,
            routing: Routing::default(),
            record_timestamp: RecordTimestamp::None,
            headers: true,
            once,
            task_name: "c-0".into(),
            concurrency: 3,
            overwrite: OverwritePolicy::Ignore,
            full_listing_interval: interval,
            read_retry: ReadRetry::default(),
            min_age: Duration::ZERO,
            partial_line_wait: Duration::ZERO,
            envelope: None,
            post_read: false,
        },
        Arc::new(Metrics::default()),
    )
}

fn lines(key: &str, n: usize) -> String {
    (0..n).map(|i| format!("{key}:{i}\n")).collect()
}

/// Polls until Done/Idle (or an error); returns records as (object, value) and progress.
async fn drain(src: &mut ObjectSource) -> (Vec<(String, String)>, Vec<OffsetMap>, Option<Error>) {
    let (mut records, mut progress) = (Vec::new(), Vec::new());
    loop {
        match src.poll().await {
            Ok(Poll::Record(r)) => {
                let obj = r.source_partition["object"].as_str().unwrap().to_owned();
                let Value::String(v) = r.value.value.clone() else {
                    panic!()
                };
                records.push((obj, v));
            }
            Ok(Poll::Progress { partition, offset }) => {
                let mut p = partition;
                p.extend(offset);
                progress.push(p);
            }
            Ok(Poll::Failed { .. }) => {}
            Ok(Poll::Idle | Poll::Done) => return (records, progress, None),
            Err(e) => return (records, progress, Some(e)),
        }
    }
}

#[tokio::test]
async fn concurrent_reads_keep_each_objects_order() {
    let objects: Vec<(String, String)> = (0..7)
        .map(|i| {
            let k = format!("o{i}");
            let v = lines(&k, 50 + i * 10);
            (k, v)
        })
        .collect();
    let refs: Vec<(&str, String)> = objects
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let h = harness(&refs).await;
    let mut src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
    src.configure().await.unwrap();
    let (records, progress, err) = drain(&mut src).await;
    assert!(err.is_none());
    for (k, v) in &objects {
        let got: Vec<String> = records
            .iter()
            .filter(|(o, _)| o == k)
            .map(|(_, v)| format!("{v}\n"))
            .collect();
        assert_eq!(got.concat(), *v, "{k}: every record, in order");
    }
    let opened: Vec<&str> = progress
        .iter()
        .filter(|p| p.get(RECORD_COUNT) == Some(&OffsetValue::Long(0)))
        .map(|p| p["object"].as_str().unwrap())
        .collect();
    assert_eq!(
        opened,
        ["o0", "o1", "o2", "o3", "o4", "o5", "o6"],
        "opened in key order"
    );
}

#[tokio::test]
async fn an_error_stops_the_task_after_the_earlier_objects() {
    let mut bad = lines("b", 3);
    bad.push_str("BAD\n");
    let h = harness(&[("a", lines("a", 2000)), ("b", bad), ("c", lines("c", 5))]).await;
    let mut src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
    src.configure().await.unwrap();
    let (records, progress, err) = drain(&mut src).await;
    assert!(
        matches!(
            err,
            Some(Error::Record {
                record_index: 3,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        records.iter().filter(|(o, _)| o == "a").count(),
        2000,
        "object a delivered whole first"
    );
    assert!(progress
        .iter()
        .any(|p| p["object"].as_str() == Some("a")
            && p.get(FINISHED) == Some(&OffsetValue::Bool(true))));
    assert!(!progress
        .iter()
        .any(|p| p["object"].as_str() == Some("b") && p.get(FINISHED).is_some()));
}

#[tokio::test]
async fn listings_resume_after_the_greatest_key_and_relist_fully_on_schedule() {
    let h = harness(&[("k1", lines("k1", 2)), ("k2", lines("k2", 2))]).await;
    let mut src = source(&h, false, ErrorsTolerance::None, Duration::from_millis(200));
    src.configure().await.unwrap();
    drain(&mut src).await;
    // A late arrival before the keys seen, and a new key after them.
    h.backend
        .store
        .put(&Path::from("k0"), lines("k0", 1).into())
        .await
        .unwrap();
    h.backend
        .store
        .put(&Path::from("k3"), lines("k3", 1).into())
        .await
        .unwrap();
    let (r, _, _) = drain(&mut src).await;
    assert_eq!(
        r,
        [("k3".to_owned(), "k3:0".to_owned())],
        "incremental: only the new key"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (r, _, _) = drain(&mut src).await;
    assert_eq!(
        r,
        [("k0".to_owned(), "k0:0".to_owned())],
        "full: the late arrival"
    );
    let listings = h.backend.listings.lock().unwrap().clone();
    assert_eq!(listings, [None, Some("k2".into()), None]);
}

#[tokio::test]
async fn a_restart_lists_from_the_restart_position() {
    let h = harness(&[
        ("k1", lines("k1", 1)),
        ("k2", lines("k2", 1)),
        ("k3", lines("k3", 1)),
    ])
    .await;
    let entry = |k: &str, count: i64, finished: bool| {
        let mut e = ObjectOffsetEntry::new("bucket", "mem", "object", k);
        e.set_property(RECORD_COUNT, OffsetValue::Long(count));
        if finished {
            e.set_property(FINISHED, OffsetValue::Bool(true));
        }
        (e.manager_key(), Some(e.properties()))
    };
    // k1 and k3 finished, k2 opened but not finished: the restart position is k1.
    h.offsets
        .put(
            "c",
            vec![
                entry("k1", 1, true),
                entry("k2", 0, false),
                entry("k3", 1, true),
            ],
        )
        .await
        .unwrap();
    let mut src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
    src.configure().await.unwrap();
    let (records, _, err) = drain(&mut src).await;
    assert!(err.is_none());
    assert_eq!(records, [("k2".to_owned(), "k2:0".to_owned())]);
    // Backfill: after the restart position first, then the keys up to it.
    let listings = h.backend.listings.lock().unwrap().clone();
    assert_eq!(listings, [Some("k1".into()), None]);
}

/// An offset store counting its reads.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryOffsetStore,
    lists: AtomicUsize,
    gets: AtomicUsize,
}

#[async_trait]
impl OffsetStore for CountingStore {
    async fn get(
        &self,
        connector: &str,
        partitions: &[OffsetMap],
    ) -> Result<Vec<Option<OffsetMap>>> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get(connector, partitions).await
    }
    async fn list(&self, connector: &str) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list(connector).await
    }
    async fn connectors(&self) -> Result<Vec<String>> {
        self.inner.connectors().await
    }
    async fn put(&self, connector: &str, batch: Vec<(OffsetMap, Option<OffsetMap>)>) -> Result<()> {
        self.inner.put(connector, batch).await
    }
    fn location(&self) -> String {
        "counting".into()
    }
}

#[tokio::test]
async fn each_task_reads_the_stored_offsets_once() {
    let keys = ["k1", "k2", "k3", "k4", "k5", "k6"];
    let objects: Vec<(&str, String)> = keys.iter().map(|k| (*k, lines(k, 1))).collect();
    let h = harness(&objects).await;
    let store = Arc::new(CountingStore::default());
    // Every object finished but k4, opened and not finished.
    let batch = keys
        .iter()
        .map(|k| {
            let mut e = ObjectOffsetEntry::new("bucket", "mem", "object", k);
            let finished = *k != "k4";
            e.set_property(RECORD_COUNT, OffsetValue::Long(i64::from(finished)));
            if finished {
                e.set_property(FINISHED, OffsetValue::Bool(true));
            }
            (e.manager_key(), Some(e.properties()))
        })
        .collect();
    store.inner.put("c", batch).await.unwrap();
    // Two tasks over one manager, as the runtime builds them.
    let offsets = Arc::new(OffsetManager::new("c", store.clone()));
    let mut records = Vec::new();
    for task in 0..2 {
        let mut src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
        src.offsets = offsets.clone();
        src.cfg.distribution = Distribution::new(DistributionType::ObjectHash, task, 2).unwrap();
        src.configure().await.unwrap();
        assert_eq!(
            store.lists.load(Ordering::Relaxed),
            task as usize + 1,
            "one read of the store per task"
        );
        let (r, _, err) = drain(&mut src).await;
        assert!(err.is_none(), "{err:?}");
        records.extend(r);
    }
    assert_eq!(
        records,
        [("k4".to_owned(), "k4:0".to_owned())],
        "finished objects skipped"
    );
    assert_eq!(store.lists.load(Ordering::Relaxed), 2);
    assert_eq!(
        store.gets.load(Ordering::Relaxed),
        0,
        "no reads of single entries"
    );
}

#[tokio::test]
async fn an_object_no_topic_rule_matches_is_counted_once_and_not_read() {
    let h = harness(&[
        ("a/1", lines("a", 2)),
        ("b/2", lines("b", 3)),
        ("c/3", lines("c", 4)),
    ])
    .await;
    let mut src = source(&h, false, ErrorsTolerance::None, Duration::ZERO);
    src.cfg.topic = None;
    src.cfg.routing.topic_rules = Some(crate::routing::TopicRules::parse("ta:^a/,tb:^b/").unwrap());
    src.configure().await.unwrap();
    let mut topics = Vec::new();
    let mut progress = Vec::new();
    // Two passes: every listing is a full one (interval 0), so c/3 is listed twice.
    for _ in 0..2 {
        loop {
            match src.poll().await.unwrap() {
                Poll::Record(r) => topics.push((
                    r.source_partition["object"].as_str().unwrap().to_owned(),
                    r.topic,
                )),
                Poll::Progress { partition, .. } => {
                    progress.push(partition["object"].as_str().unwrap().to_owned())
                }
                Poll::Failed { .. } => panic!("no failure expected"),
                Poll::Idle | Poll::Done => break,
            }
        }
    }
    topics.dedup();
    assert_eq!(
        topics,
        [("a/1".into(), "ta".into()), ("b/2".into(), "tb".into())]
    );
    assert!(
        !progress.iter().any(|o| o == "c/3"),
        "no offset for the unrouted object: {progress:?}"
    );
    assert_eq!(
        src.metrics
            .objects_unrouted
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "counted once per version, not once per listing"
    );
    assert_eq!(h.backend.listings.lock().unwrap().len(), 2);
}

fn with_template(src: ObjectSource, template: &str, mode: MatchMode) -> ObjectSource {
    let mut cfg = src.cfg.clone();
    cfg.template = Some(FileNameTemplate::parse(template).unwrap());
    cfg.template_match = mode;
    cfg.topic = Some("t".into());
    ObjectSource::new(
        src.backend.clone(),
        src.transformer.clone(),
        src.offsets.clone(),
        cfg,
        src.metrics.clone(),
    )
}

#[tokio::test]
async fn objects_not_taken_are_counted_by_reason_and_a_pass_taking_none_is_reported() {
    let h = harness(&[
        ("a.txt", lines("a", 2)),
        ("b.txt", lines("b", 2)),
        ("empty-0.jsonl", String::new()),
    ])
    .await;
    let src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
    let mut src = with_template(src, "{{topic}}-{{partition}}.jsonl", MatchMode::Aiven);
    src.configure().await.unwrap();
    let (records, _, err) = drain(&mut src).await;
    assert!(err.is_none() && records.is_empty());
    let m = src.metrics.snapshot();
    assert_eq!(m.objects_skipped[SkipReason::NoTemplateMatch.index()], 2);
    assert_eq!(m.objects_skipped[SkipReason::Empty.index()], 1);
    assert_eq!(m.objects_skipped[SkipReason::OtherTask.index()], 0);
    assert_eq!(m.listings_took_nothing, 1);
}

#[tokio::test]
async fn keys_only_aivens_search_finds_are_read_unless_anchored() {
    let objects = [("t-0.log", lines("x", 3)), ("t-1.log", lines("y", 2))];
    let h = harness(&objects).await;
    let src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
    let mut src = with_template(src, "{{topic}}-{{partition}}", MatchMode::Aiven);
    src.configure().await.unwrap();
    let (records, _, err) = drain(&mut src).await;
    assert!(err.is_none());
    assert_eq!(records.len(), 5);
    assert_eq!(src.metrics.snapshot().listings_took_nothing, 0);

    let h = harness(&objects).await;
    let src = source(&h, true, ErrorsTolerance::None, Duration::from_secs(300));
    let mut src = with_template(src, "{{topic}}-{{partition}}", MatchMode::Anchored);
    src.configure().await.unwrap();
    let (records, _, _) = drain(&mut src).await;
    assert!(records.is_empty());
    let m = src.metrics.snapshot();
    assert_eq!(m.objects_skipped[SkipReason::NoTemplateMatch.index()], 2);
    assert_eq!(m.listings_took_nothing, 1);
}
