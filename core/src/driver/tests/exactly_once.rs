//! Exactly-once: transactions, their commits and aborts.

use super::*;

/// Exactly-once: the task's transactional producer and the offsets topic.
async fn transactional(
    mock: &Mock,
    store: &Arc<MemoryOffsetStore>,
    offsets: &Arc<KafkaOffsetStore>,
) -> DriverConfig {
    let p = producer(mock, &[("transactional.id", "c-0")]);
    let mut cfg = driver_config(p, store.clone());
    cfg.exactly_once = Some(ExactlyOnce {
        boundary: TransactionBoundary::Object,
        interval: Duration::from_secs(60),
        offsets: offsets.clone(),
        transactional_id: "c-0".into(),
    });
    cfg
}

async fn offsets_topic(mock: &Mock) -> Arc<KafkaOffsetStore> {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", mock.bootstrap_servers());
    let settings = TopicSettings {
        partitions: 1,
        replication_factor: 1,
    };
    Arc::new(
        KafkaOffsetStore::open(&client, OFFSETS, &settings, false)
            .await
            .unwrap(),
    )
}

/// `(session, transaction number)` of a record's `sluice.transaction` header.
fn transaction_of(c: &Consumed) -> (String, u64) {
    let (session, n) = c.headers[commit::HEADER_TRANSACTION]
        .rsplit_once('/')
        .unwrap();
    (session.to_owned(), n.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retriable_commit_error_is_retried_and_the_transaction_commits() {
    let mock = cluster(1, 1);
    mock.request_errors(
        RDKafkaApiKey::EndTxn,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        ],
    );
    let store = Arc::new(MemoryOffsetStore::new());
    let offsets = offsets_topic(&mock).await;
    let cfg = transactional(&mock, &store, &offsets).await;
    let steps = object("a", 30).into_iter().chain(object("b", 20));
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(cfg.metrics.offset_commits.load(Ordering::Relaxed), 2);
    assert_eq!(stored(&*offsets, "a").await, Some(offset(30, true)));
    assert_eq!(stored(&*offsets, "b").await, Some(offset(20, true)));
    assert!(
        store.list(CONNECTOR).await.unwrap().is_empty(),
        "exactly-once offsets go to the offsets topic only"
    );
    let got = consume(&mock, TOPIC, 1, 50);
    assert_eq!(got.len(), 50);
    for c in &got {
        let (object, _) = c.id();
        let (_, n) = transaction_of(c);
        assert_eq!(
            n,
            if object == "a" { 1 } else { 2 },
            "one transaction per object"
        );
    }
    // The offsets went to the offsets topic, one record per object.
    let written: Vec<(String, String)> = consume(&mock, OFFSETS, 1, 3)
        .into_iter()
        .filter(|c| !c.key.contains("__sluice.sentinel"))
        .map(|c| (c.key, String::from_utf8(c.value.unwrap()).unwrap()))
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(written[0].0.contains("\"a\"") && written[0].1.contains("\"finished\":true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_aborts_the_transaction_and_a_restart_delivers_it_again() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let offsets = offsets_topic(&mock).await;
    let cfg = transactional(&mock, &store, &offsets).await;
    let gate = Arc::new(Notify::new());
    let steps = object("a", 30)
        .into_iter()
        .chain([Step::Gate(gate.clone())])
        .chain(object("b", 20));
    let (_stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(FakeSource::new(steps), cfg.clone(), stop));
    eventually("the first transaction", async || {
        cfg.metrics.offset_commits.load(Ordering::Relaxed) == 1
    })
    .await;
    // The next commit fails with an error librdkafka does not retry: the transaction aborts
    // and the task stops.
    mock.request_errors(
        RDKafkaApiKey::EndTxn,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_REQUEST],
    );
    gate.notify_one();
    let err = task.await.unwrap().unwrap_err();
    let message = crate::error_chain(&err);
    assert!(message.contains("committing the transaction"), "{message}");
    assert_eq!(cfg.metrics.offset_commits.load(Ordering::Relaxed), 1);
    assert_eq!(stored(&*offsets, "a").await, Some(offset(30, true)));
    assert_eq!(
        stored(&*offsets, "b").await,
        None,
        "b's offsets were aborted"
    );

    // The restarted task (same transactional.id, new producer) reads "b" again, as its
    // offsets say, and commits it.
    let restarted = transactional(&mock, &store, &offsets).await;
    assert_eq!(
        run(FakeSource::new(object("b", 20)), &restarted)
            .await
            .unwrap(),
        TaskEnd::Completed
    );
    assert_eq!(stored(&*offsets, "b").await, Some(offset(20, true)));

    // The mock cluster keeps aborted records visible: match records to the transactions that
    // committed, through their `sluice.transaction` header.
    let got = consume(&mock, TOPIC, 1, 70);
    assert_eq!(got.len(), 70, "a, the aborted b, and b again");
    let first = transaction_of(&got[0]).0;
    let (mut committed, mut aborted) = (Vec::new(), Vec::new());
    for c in &got {
        match transaction_of(c) {
            (s, 2) if s == first => aborted.push(c.id()),
            (s, 1) => committed.push((s == first, c.id())),
            other => panic!("unexpected transaction {other:?}"),
        }
    }
    assert_eq!(
        aborted,
        (0..20).map(|i| ("b".to_owned(), i)).collect::<Vec<_>>(),
        "the aborted transaction held b"
    );
    let expected: Vec<(bool, (String, u64))> = (0..30)
        .map(|i| (true, ("a".to_owned(), i)))
        .chain((0..20).map(|i| (false, ("b".to_owned(), i))))
        .collect();
    assert_eq!(
        committed, expected,
        "committed: a in the first session, b in the second, each record once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_task_stops_says_so_and_commits_nothing_more() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let offsets = offsets_topic(&mock).await;
    let cfg = transactional(&mock, &store, &offsets).await;
    let gate = Arc::new(Notify::new());
    let steps = object("a", 30)
        .into_iter()
        .chain([Step::Gate(gate.clone())])
        .chain(object("b", 20));
    let (_stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(FakeSource::new(steps), cfg.clone(), stop));
    eventually("the first transaction", async || {
        cfg.metrics.offset_commits.load(Ordering::Relaxed) == 1
    })
    .await;
    // A newer instance of the task took over the transactional.id. (The mock cluster gives
    // every producer its own producer id, so a second producer does not fence the first: the
    // coordinator's answer to a fenced producer is injected instead.)
    mock.request_errors(
        RDKafkaApiKey::EndTxn,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_PRODUCER_FENCED],
    );
    gate.notify_one();
    let err = task.await.unwrap().unwrap_err();
    let message = crate::error_chain(&err);
    assert!(
        message.contains("committing the transaction: this task was fenced"),
        "{message}"
    );
    assert_eq!(cfg.metrics.offset_commits.load(Ordering::Relaxed), 1);
    assert_eq!(stored(&*offsets, "a").await, Some(offset(30, true)));
    assert_eq!(stored(&*offsets, "b").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_transaction_a_rejected_record_is_never_skipped() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let offsets = offsets_topic(&mock).await;
    let (steps, settings) = with_a_record_too_large();
    let mut cfg = transactional(&mock, &store, &offsets).await;
    cfg.producer = producer(&mock, &[("transactional.id", "c-0"), settings[0]]);
    // Even under tolerance all with a dead letter queue: skipping it would commit the
    // transaction without it.
    cfg.tolerance = ErrorsTolerance::All;
    cfg.dead_letter_queue = Some(DeadLetterQueue {
        topic: DLQ.into(),
        context_headers: true,
    });
    let err = run(FakeSource::new(steps), &cfg).await.unwrap_err();
    let message = crate::error_chain(&err);
    assert!(message.contains("object \"o\" record 3"), "{message}");
    assert_eq!(cfg.metrics.offset_commits.load(Ordering::Relaxed), 0);
    assert_eq!(cfg.metrics.records_failed.load(Ordering::Relaxed), 0);
    assert_eq!(stored(&*offsets, "o").await, None);
    assert_eq!(records_in(&mock, DLQ), 0);
}

/// Five records of object `o`: record 1 marked `drop`, record 3 marked `bad`; a chain that
/// drops the first and fails on the second (a string cast to int32).
fn with_transforms() -> (Vec<Step>, crate::transforms::TransformChain) {
    let mut steps = object("o", 5);
    for (i, mark) in [(1, "drop"), (3, "bad")] {
        if let Step::Yield(Poll::Record(r)) = &mut steps[i] {
            r.headers.push(crate::record::Header::string(mark, "1"));
        }
    }
    let settings: BTreeMap<String, String> = [
        ("transforms", "dropMarked,castBad"),
        ("transforms.dropMarked.type", "Filter"),
        ("transforms.dropMarked.predicate", "drop"),
        ("transforms.castBad.type", "Cast$Value"),
        ("transforms.castBad.spec", "int32"),
        ("transforms.castBad.predicate", "bad"),
        ("predicates", "drop,bad"),
        ("predicates.drop.type", "HasHeaderKey"),
        ("predicates.drop.name", "drop"),
        ("predicates.bad.type", "HasHeaderKey"),
        ("predicates.bad.name", "bad"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let chain = crate::transforms::TransformChain::from_settings(&settings).unwrap();
    (steps, chain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transform_goes_to_the_dead_letter_queue_under_tolerance_all() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let (steps, chain) = with_transforms();
    let mut cfg = driver_config(producer(&mock, &[]), store.clone());
    cfg.transforms = chain;
    cfg.tolerance = ErrorsTolerance::All;
    cfg.dead_letter_queue = Some(DeadLetterQueue {
        topic: DLQ.into(),
        context_headers: true,
    });
    assert_eq!(
        run(FakeSource::new(steps), &cfg).await.unwrap(),
        TaskEnd::Completed
    );
    let ids: Vec<u64> = consume(&mock, TOPIC, 1, 3)
        .iter()
        .map(|c| c.id().1)
        .collect();
    assert_eq!(ids, [0, 2, 4], "record 1 dropped, record 3 failed");
    let dead = consume(&mock, DLQ, 1, 1);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key, "o");
    assert_eq!(dead[0].headers[header::STAGE], "TRANSFORMATION");
    assert_eq!(dead[0].headers[header::RECORD_INDEX], "3");
    let message = &dead[0].headers[header::MESSAGE];
    assert!(
        message.contains("transform \"castBad\" (Cast$Value) failed"),
        "{message}"
    );
    assert_eq!(cfg.metrics.records_failed.load(Ordering::Relaxed), 1);
    // Dropped and failed records alike let the object finish.
    assert_eq!(stored(&*store, "o").await, Some(offset(5, true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transform_stops_the_task_under_tolerance_none() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let (steps, chain) = with_transforms();
    let mut cfg = driver_config(producer(&mock, &[]), store.clone());
    cfg.transforms = chain;
    let err = run(FakeSource::new(steps), &cfg).await.unwrap_err();
    let message = crate::error_chain(&err);
    assert!(
        message.contains("object \"o\", record 3: transform \"castBad\" (Cast$Value) failed")
            && message.contains("cannot be cast to int32"),
        "{message}"
    );
    // Everything before it (record 1 dropped) is committed, nothing after.
    assert_eq!(stored(&*store, "o").await, Some(offset(3, false)));
    let ids: Vec<u64> = consume(&mock, TOPIC, 1, 2)
        .iter()
        .map(|c| c.id().1)
        .collect();
    assert_eq!(ids, [0, 2]);
}

/// A string converter whose records from index `from` on wait for something that never comes
/// (a Schema Registry that does not answer).
#[derive(Debug)]
struct NeverReady {
    from: u64,
}

impl crate::convert::Converter for NeverReady {
    fn from_connect_data(&self, topic: &str, data: &SchemaAndValue) -> Result<Option<Vec<u8>>> {
        StringConverter.from_connect_data(topic, data)
    }

    fn prepare<'a>(
        &'a self,
        _topic: &'a str,
        data: &'a SchemaAndValue,
    ) -> Option<futures::future::BoxFuture<'a, Result<()>>> {
        let index: u64 = data.value.as_str()?.split(':').nth(1)?.parse().ok()?;
        (index >= self.from).then(|| {
            Box::pin(futures::future::pending()) as futures::future::BoxFuture<'a, Result<()>>
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_waiting_for_its_converter_holds_back_the_rest_and_a_stop_ends_the_wait() {
    let mock = cluster(1, 1);
    let store = Arc::new(MemoryOffsetStore::new());
    let mut cfg = driver_config(producer(&mock, &[]), store.clone());
    cfg.value_converter = Arc::new(NeverReady { from: 100 });
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_task(
        FakeSource::new(object("a", 300)),
        cfg.clone(),
        stop,
    ));
    eventually("the first 100 records acknowledged", async || {
        cfg.metrics.records_acked.load(Ordering::Relaxed) == 100
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cfg.metrics.records_acked.load(Ordering::Relaxed), 100);
    stop_tx.send(true).unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the stop ends the wait")
        .unwrap()
        .unwrap();
    assert_eq!(end, TaskEnd::Stopped);
    // The waiting record was not sent and its offset not committed: it is read again next run.
    assert_eq!(stored(&*store, "a").await, Some(offset(100, false)));
    let ids: Vec<(String, u64)> = consume(&mock, TOPIC, 1, 100)
        .iter()
        .map(Consumed::id)
        .collect();
    let expected: Vec<(String, u64)> = (0..100).map(|i| ("a".to_owned(), i)).collect();
    assert_eq!(ids, expected);
}
