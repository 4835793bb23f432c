//! At-least-once: order, continuous commits, a full queue, records the broker rejects.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_every_record_in_order_and_commits_each_objects_end() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let cfg = driver_config(producer(&mock, &[]), store.clone());
    let steps = object("a", 300).into_iter().chain(object("b", 200));
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "a").await, Some(offset(300, true)));
    assert_eq!(stored(&*store, "b").await, Some(offset(200, true)));
    assert_eq!(cfg.metrics.records_acked.load(Ordering::Relaxed), 500);
    let got = consume(&mock, TOPIC, 1, 500);
    let ids: Vec<(String, u64)> = got.iter().map(Consumed::id).collect();
    let expected: Vec<(String, u64)> = (0..300)
        .map(|i| ("a".to_owned(), i))
        .chain((0..200).map(|i| ("b".to_owned(), i)))
        .collect();
    assert_eq!(ids, expected, "every record once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_out_of_order_commit_only_the_contiguous_prefix() {
    // Partition 0's leader (broker 1) is down: its records wait, partition 1's are acknowledged.
    let mock = cluster(2, 2);
    mock.partition_leader(TOPIC, 0, Some(1)).unwrap();
    mock.partition_leader(TOPIC, 1, Some(2)).unwrap();
    mock.broker_down(1).unwrap();
    let store = Arc::new(MemoryOffsetStore::new());
    let cfg = driver_config(
        producer(&mock, &[("reconnect.backoff.max.ms", "200")]),
        store.clone(),
    );
    // Object "o": record 1 goes to the stuck partition, the nine others are acknowledged.
    let o = source_object("o");
    let mut steps: Vec<Step> = (0..10)
        .map(|i| record(&o, i, 16, Some(if i == 1 { 0 } else { 1 })))
        .collect();
    steps.push(finished("o", 10));
    // Object "p" is all on the healthy partition.
    let p = source_object("p");
    steps.extend((0..5).map(|i| record(&p, i, 16, Some(1))));
    steps.push(finished("p", 5));
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(
        FakeSource::new(steps).then_idle(),
        cfg.clone(),
        stop,
    ));

    eventually("the healthy partition's acks", async || {
        cfg.metrics.records_acked.load(Ordering::Relaxed) == 14
    })
    .await;
    eventually("object p committed", async || {
        stored(&*store, "p").await == Some(offset(5, true))
    })
    .await;
    // Several flushes later "o" is still at its prefix: record 0 only.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored(&*store, "o").await, Some(offset(1, false)));

    mock.broker_up(1).unwrap();
    eventually(
        "object o committed once record 1 is acknowledged",
        async || stored(&*store, "o").await == Some(offset(10, true)),
    )
    .await;
    stop_tx.send(true).unwrap();
    assert_eq!(task.await.unwrap().unwrap(), TaskEnd::Stopped);
    let mut ids: Vec<(String, u64)> = consume(&mock, TOPIC, 2, 15)
        .iter()
        .map(Consumed::id)
        .collect();
    ids.sort();
    let expected: Vec<(String, u64)> = (0..10)
        .map(|i| ("o".to_owned(), i))
        .chain((0..5).map(|i| ("p".to_owned(), i)))
        .collect();
    assert_eq!(ids, expected);
}

/// An offset store that takes `delay` per write and counts writes, how many overlap and the
/// most partitions one write carried.
#[derive(Debug)]
struct SlowStore {
    inner: MemoryOffsetStore,
    delay: Duration,
    active: std::sync::atomic::AtomicUsize,
    most_active: std::sync::atomic::AtomicUsize,
    puts: std::sync::atomic::AtomicUsize,
    largest: std::sync::atomic::AtomicUsize,
}

impl SlowStore {
    /// An empty store whose puts take `delay`.
    fn new(delay: Duration) -> Arc<Self> {
        Arc::new(SlowStore {
            inner: MemoryOffsetStore::new(),
            delay,
            active: Default::default(),
            most_active: Default::default(),
            puts: Default::default(),
            largest: Default::default(),
        })
    }
}

#[async_trait]
impl OffsetStore for SlowStore {
    async fn get(
        &self,
        connector: &str,
        partitions: &[OffsetMap],
    ) -> Result<Vec<Option<OffsetMap>>> {
        self.inner.get(connector, partitions).await
    }
    async fn list(&self, connector: &str) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        self.inner.list(connector).await
    }
    async fn connectors(&self) -> Result<Vec<String>> {
        self.inner.connectors().await
    }
    async fn put(&self, connector: &str, batch: Vec<(OffsetMap, Option<OffsetMap>)>) -> Result<()> {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_active.fetch_max(now, Ordering::SeqCst);
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.largest.fetch_max(batch.len(), Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let r = self.inner.put(connector, batch).await;
        self.active.fetch_sub(1, Ordering::SeqCst);
        r
    }
    fn location(&self) -> String {
        "slow memory".into()
    }
}

/// With `offset.flush.interval.ms` at an hour, offsets still reach the store while the task
/// runs (continuous commits), one write at a time however fast the acks come, and each write
/// carries what was acknowledged meanwhile (far fewer writes than records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_committed_continuously_one_write_at_a_time() {
    let mock = cluster(1, 1);
    let store = SlowStore::new(Duration::from_millis(30));
    let mut cfg = driver_config(producer(&mock, &[]), Arc::new(MemoryOffsetStore::new()));
    cfg.offset_store = store.clone();
    cfg.flush_interval = Duration::from_secs(3600);
    let gate = Arc::new(Notify::new());
    let mut steps: Vec<Step> = Vec::new();
    for o in 0..8 {
        steps.extend(object(&format!("o{o}"), 500));
    }
    let last = source_object("last");
    steps.extend((0..10).map(|i| record(&last, i, 16, Some(0))));
    // The task waits here, alive, until the test has seen the offsets.
    steps.push(Step::Gate(gate.clone()));
    steps.push(finished("last", 10));
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(
        FakeSource::new(steps).then_idle(),
        cfg.clone(),
        stop,
    ));
    for o in 0..8 {
        let object = format!("o{o}");
        eventually(
            &format!("{object} committed while the task runs"),
            async || stored(&*store, &object).await == Some(offset(500, true)),
        )
        .await;
    }
    eventually(
        "the acknowledged records of the open object committed",
        async || stored(&*store, "last").await == Some(offset(10, false)),
    )
    .await;
    assert!(!task.is_finished());
    gate.notify_one();
    eventually("the last object committed", async || {
        stored(&*store, "last").await == Some(offset(10, true))
    })
    .await;
    stop_tx.send(true).unwrap();
    assert_eq!(task.await.unwrap().unwrap(), TaskEnd::Stopped);
    let puts = store.puts.load(Ordering::SeqCst);
    assert_eq!(
        store.most_active.load(Ordering::SeqCst),
        1,
        "writes overlapped"
    );
    assert!(puts >= 2, "{puts} writes");
    assert!(
        puts < 4010 / 10,
        "{puts} writes for 4,010 records: not coalesced"
    );
    assert_eq!(cfg.metrics.records_acked.load(Ordering::Relaxed), 4010);
}

/// `object.in.flight.max`: a task with many one-record objects and a slow offset store holds
/// at most about that many objects (a write carries every partition the task held, as its
/// offsets are taken off when the write starts), and everything still arrives and is
/// committed. Without the bound the same run holds many more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_in_flight_max_bounds_the_objects_a_task_holds() {
    const OBJECTS: u64 = 2000;
    const BOUND: usize = 20;
    // A batch from the reading side is taken whole: 64 items, two per object here.
    const SLACK: usize = 32;
    let mut largest = Vec::new();
    for bound in [BOUND, 0] {
        let mock = cluster(1, 1);
        let store = SlowStore::new(Duration::from_millis(40));
        let mut cfg = driver_config(producer(&mock, &[]), Arc::new(MemoryOffsetStore::new()));
        cfg.offset_store = store.clone();
        cfg.max_poll_records = 500;
        cfg.max_objects_in_flight = bound;
        let steps = (0..OBJECTS).flat_map(|o| object(&format!("o{o:05}"), 1));
        let (_stop_tx, stop) = watch::channel(false);
        let end = run_task(FakeSource::new(steps), cfg.clone(), stop).await;
        assert_eq!(end.unwrap(), TaskEnd::Completed);
        for o in [0, OBJECTS / 2, OBJECTS - 1] {
            let object = format!("o{o:05}");
            assert_eq!(
                stored(&*store, &object).await,
                Some(offset(1, true)),
                "{object}"
            );
        }
        assert_eq!(
            store.inner.list(CONNECTOR).await.unwrap().len(),
            OBJECTS as usize
        );
        let mut ids: Vec<(String, u64)> = consume(&mock, TOPIC, 1, OBJECTS as usize)
            .iter()
            .map(Consumed::id)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), OBJECTS as usize, "every record arrived");
        largest.push(store.largest.load(Ordering::SeqCst));
    }
    eprintln!("largest writes (bounded, unbounded): {largest:?}");
    assert!(
        largest[0] <= BOUND + SLACK,
        "a write carried {} objects with object.in.flight.max={BOUND}",
        largest[0]
    );
    assert!(
        largest[1] > BOUND + SLACK,
        "without the bound the largest write carried only {} objects: the test shows nothing",
        largest[1]
    );
}

/// With `offset.flush.continuous=false` and an hour's flush interval, a task at
/// `object.in.flight.max` writes its offsets early instead of waiting for the timer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_object_in_flight_max_offsets_are_written_before_the_timer() {
    const OBJECTS: u64 = 300;
    let mock = cluster(1, 1);
    // Slow enough that acks land while a write is in flight.
    let store = SlowStore::new(Duration::from_millis(20));
    let mut cfg = driver_config(producer(&mock, &[]), Arc::new(MemoryOffsetStore::new()));
    cfg.offset_store = store.clone();
    cfg.continuous_commits = false;
    cfg.flush_interval = Duration::from_secs(3600);
    cfg.max_objects_in_flight = 10;
    let steps = (0..OBJECTS).flat_map(|o| object(&format!("o{o:05}"), 1));
    let (_stop_tx, stop) = watch::channel(false);
    let end = tokio::time::timeout(
        Duration::from_secs(60),
        run_task(FakeSource::new(steps), cfg.clone(), stop),
    )
    .await
    .expect("the task waited for the flush timer");
    assert_eq!(end.unwrap(), TaskEnd::Completed);
    assert_eq!(
        store.inner.list(CONNECTOR).await.unwrap().len(),
        OBJECTS as usize
    );
    let puts = store.puts.load(Ordering::SeqCst);
    assert!(
        puts >= 5,
        "{puts} writes for {OBJECTS} objects held 10 at a time"
    );
}

/// `offset.flush.continuous=false`: offsets are written only on the flush timer (Kafka
/// Connect's way). With an hour's interval nothing reaches the store while the task runs, and
/// everything acknowledged is written on stop; with a 300 ms interval the writes follow the
/// timer, not the acknowledgements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_continuous_commits_offsets_are_written_on_the_timer_and_on_stop() {
    for (interval, wanted_while_running) in [(3_600_000, false), (300, true)] {
        let mock = cluster(1, 1);
        let store = SlowStore::new(Duration::from_millis(1));
        let mut cfg = driver_config(producer(&mock, &[]), Arc::new(MemoryOffsetStore::new()));
        cfg.offset_store = store.clone();
        cfg.flush_interval = Duration::from_millis(interval);
        cfg.continuous_commits = false;
        let gate = Arc::new(Notify::new());
        let mut steps: Vec<Step> = object("a", 500);
        steps.push(Step::Gate(gate.clone()));
        steps.extend(object("b", 500));
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(run_task(
            FakeSource::new(steps).then_idle(),
            cfg.clone(),
            stop,
        ));
        eventually("every record of a acknowledged", async || {
            cfg.metrics.records_acked.load(Ordering::Relaxed) == 500
        })
        .await;
        // Continuous commits write within milliseconds of the acks: give them a second.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let while_running = stored(&*store, "a").await;
        if wanted_while_running {
            assert_eq!(while_running, Some(offset(500, true)), "the timer wrote it");
            let puts = store.puts.load(Ordering::SeqCst);
            assert!(puts <= 5, "{puts} writes in about a second of 300 ms ticks");
        } else {
            assert_eq!(while_running, None, "written before the timer ticked");
            assert_eq!(store.puts.load(Ordering::SeqCst), 0);
        }
        gate.notify_one();
        eventually("every record of b acknowledged", async || {
            cfg.metrics.records_acked.load(Ordering::Relaxed) == 1000
        })
        .await;
        stop_tx.send(true).unwrap();
        assert_eq!(task.await.unwrap().unwrap(), TaskEnd::Stopped);
        assert_eq!(stored(&*store, "a").await, Some(offset(500, true)));
        assert_eq!(stored(&*store, "b").await, Some(offset(500, true)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_producer_queue_is_waited_out_and_nothing_is_lost() {
    let mock = cluster(1, 1);
    let tiny = [("queue.buffering.max.messages", "4"), ("linger.ms", "0")];
    // The setting does make librdkafka refuse records while four are queued.
    let probe: ThreadedProducer<DefaultProducerContext> = producer_config(
        &mock.bootstrap_servers(),
        &Settings::new(),
        &Settings::new(),
    )
    .set(tiny[0].0, tiny[0].1)
    .create()
    .unwrap();
    let full = (0..100)
        .filter(|_| {
            matches!(
                probe.send(BaseRecord::<(), [u8]>::to(DLQ).payload(b"probe")),
                Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull)
            )
        })
        .count();
    assert!(full > 0, "the queue never filled up");
    drop(probe);

    let store = Arc::new(MemoryOffsetStore::new());
    let cfg = driver_config(producer(&mock, &tiny), store.clone());
    let steps = object("a", 1000).into_iter().chain(object("b", 1000));
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "a").await, Some(offset(1000, true)));
    assert_eq!(stored(&*store, "b").await, Some(offset(1000, true)));
    let ids: Vec<(String, u64)> = consume(&mock, TOPIC, 1, 2000)
        .iter()
        .map(Consumed::id)
        .collect();
    let expected: Vec<(String, u64)> = (0..1000)
        .map(|i| ("a".to_owned(), i))
        .chain((0..1000).map(|i| ("b".to_owned(), i)))
        .collect();
    assert_eq!(ids, expected, "every record once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_goes_to_the_dead_letter_queue_under_tolerance_all() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let (steps, settings) = with_a_record_too_large();
    let mut cfg = driver_config(producer(&mock, &settings), store.clone());
    cfg.tolerance = ErrorsTolerance::All;
    cfg.dead_letter_queue = Some(DeadLetterQueue {
        topic: DLQ.into(),
        context_headers: true,
    });
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "o").await, Some(offset(6, true)));
    assert_eq!(cfg.metrics.records_failed.load(Ordering::Relaxed), 1);
    let ids: Vec<u64> = consume(&mock, TOPIC, 1, 5)
        .iter()
        .map(|c| c.id().1)
        .collect();
    assert_eq!(ids, [0, 1, 2, 4, 5]);
    let dead = consume(&mock, DLQ, 1, 1);
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(d.key, "o");
    assert_eq!(d.value, None, "Kafka's rejection has no raw bytes");
    let h = &d.headers;
    assert_eq!(h[header::CONNECTOR], CONNECTOR);
    assert_eq!(h[header::TASK], "c-0");
    assert_eq!(h[header::STAGE], "KAFKA_PRODUCE");
    assert_eq!(h[header::BUCKET], BUCKET);
    assert_eq!(h[header::OBJECT], "o");
    assert_eq!(h[header::RECORD_INDEX], "3");
    assert_eq!(h[header::CLASS], "Kafka");
    assert!(
        h[header::MESSAGE].contains("MessageSizeTooLarge")
            || h[header::MESSAGE].contains("too large"),
        "{h:?}"
    );
    assert!(!h.contains_key(header::BYTE_OFFSET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_is_skipped_and_counted_without_a_dead_letter_queue() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let (steps, settings) = with_a_record_too_large();
    let mut cfg = driver_config(producer(&mock, &settings), store.clone());
    cfg.tolerance = ErrorsTolerance::All;
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "o").await, Some(offset(6, true)));
    assert_eq!(cfg.metrics.records_failed.load(Ordering::Relaxed), 1);
    assert_eq!(cfg.metrics.records_acked.load(Ordering::Relaxed), 5);
    let ids: Vec<u64> = consume(&mock, TOPIC, 1, 5)
        .iter()
        .map(|c| c.id().1)
        .collect();
    assert_eq!(ids, [0, 1, 2, 4, 5]);
    assert_eq!(records_in(&mock, DLQ), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_large_stops_the_task_under_tolerance_none() {
    for with_dlq in [false, true] {
        let mock = cluster(1, 1);
        let store = Arc::new(MemoryOffsetStore::new());
        let (steps, settings) = with_a_record_too_large();
        let mut cfg = driver_config(producer(&mock, &settings), store.clone());
        // A dead letter queue does not matter under tolerance none.
        cfg.dead_letter_queue = with_dlq.then(|| DeadLetterQueue {
            topic: DLQ.into(),
            context_headers: true,
        });
        let err = run(FakeSource::new(steps), &cfg).await.unwrap_err();
        let message = crate::error_chain(&err);
        assert!(
            message.contains("object \"o\" record 3 to topic \"t\"")
                && message.contains("raise producer.message.max.bytes"),
            "{message}"
        );
        // What was acknowledged before it is committed, nothing after.
        assert_eq!(stored(&*store, "o").await, Some(offset(3, false)));
        let ids: Vec<u64> = consume(&mock, TOPIC, 1, 3)
            .iter()
            .map(|c| c.id().1)
            .collect();
        assert_eq!(ids, [0, 1, 2]);
        assert_eq!(records_in(&mock, DLQ), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_broker_rejects_go_to_the_dead_letter_queue_and_none_is_lost() {
    // The broker refuses the first produce request as too large: each record of that request
    // fails in its delivery report (not when sent).
    let mock = cluster(1, 1);
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let store = Arc::new(MemoryOffsetStore::new());
    let mut cfg = driver_config(producer(&mock, &[]), store.clone());
    cfg.tolerance = ErrorsTolerance::All;
    cfg.dead_letter_queue = Some(DeadLetterQueue {
        topic: DLQ.into(),
        context_headers: true,
    });
    assert_eq!(
        run(FakeSource::new(object("o", 50)), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*store, "o").await, Some(offset(50, true)));
    let failed = cfg.metrics.records_failed.load(Ordering::Relaxed) as usize;
    assert!(failed > 0, "the injected error failed no record");
    let delivered = consume(&mock, TOPIC, 1, 50 - failed);
    let dead = consume(&mock, DLQ, 1, failed);
    assert_eq!(dead.len(), failed);
    let mut indexes: Vec<u64> = delivered.iter().map(|c| c.id().1).collect();
    indexes.extend(
        dead.iter()
            .map(|d| d.headers[header::RECORD_INDEX].parse::<u64>().unwrap()),
    );
    indexes.sort();
    assert_eq!(indexes, (0..50).collect::<Vec<_>>(), "each record once");
}

/// The offset writer tells the connector's offset manager what it stored: the manager's
/// copies of finished offsets the store now holds are dropped, so a finished object is held
/// once, not twice for as long as the task runs; the store answers for every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_offsets_written_are_held_once() {
    const OBJECTS: u64 = 300;
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(crate::offsets::FileOffsetStore::open(dir.path().join("offsets")).unwrap());
    let manager = Arc::new(crate::offsets::OffsetManager::new(CONNECTOR, store.clone()));
    // As the source does when it finishes an object: the cache holds its offset first.
    for o in 0..OBJECTS {
        let entry = crate::offsets::ObjectOffsetEntry::from_properties(
            partition(&format!("o{o:05}")),
            offset(1, true),
        );
        manager.add_object_entry(&entry);
    }
    assert_eq!(manager.cached_finished_len(), OBJECTS as usize);
    let mock = cluster(1, 1);
    let mut cfg = driver_config(producer(&mock, &[]), Arc::new(MemoryOffsetStore::new()));
    cfg.offset_store = store.clone();
    cfg.offset_manager = Some(manager.clone());
    // Writes during the run (the bound) and the last one at the task's end.
    cfg.max_objects_in_flight = 16;
    let steps = (0..OBJECTS).flat_map(|o| object(&format!("o{o:05}"), 1));
    let (_stop_tx, stop) = watch::channel(false);
    let end = run_task(FakeSource::new(steps), cfg, stop).await;
    assert_eq!(end.unwrap(), TaskEnd::Completed);
    assert_eq!(manager.cached_finished_len(), 0, "held by the store alone");
    for o in 0..OBJECTS {
        let key = partition(&format!("o{o:05}"));
        assert_eq!(manager.cached(&key), Some(offset(1, true)), "o{o:05}");
    }
}
