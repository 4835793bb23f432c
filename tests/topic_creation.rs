//! Topic creation (Kafka Connect's KIP-158) end to end against the tansu broker (librdkafka's
//! mock cluster has no CreateTopics): the real `sluice` binary reads jsonl objects from a folder,
//! routes them to three topics by `topic.regex.list`, and creates the missing ones before their
//! first record, each with its group's partitions; the partition counts are read back from the
//! cluster's metadata and every record is consumed back and counted.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use support::*;

/// Partitions of `topic` by the cluster's metadata (0 when it does not exist).
fn partitions(bootstrap: &str, topic: &str) -> usize {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    md.topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map_or(0, |t| t.partitions().len())
}

/// Every record of every partition of `topics`, counted per topic (stops `settle` after the
/// last new record once `expected` arrived, or after `idle` without one).
fn count_all(bootstrap: &str, topics: &[&str], expected: usize) -> BTreeMap<String, usize> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("topic-creation-{}", free_port()))
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        for p in 0..partitions(bootstrap, t) {
            tpl.add_partition_offset(t, p as i32, Offset::Beginning)
                .unwrap();
        }
    }
    consumer.assign(&tpl).unwrap();
    let mut counts = BTreeMap::new();
    let mut total = 0;
    let mut last = Instant::now();
    loop {
        let waited = last.elapsed();
        if (total >= expected && waited > Duration::from_millis(1500))
            || waited > Duration::from_secs(20)
        {
            break;
        }
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            *counts.entry(m.topic().to_owned()).or_insert(0) += 1;
            total += 1;
            last = Instant::now();
        }
    }
    counts
}

fn write_objects(dir: &Path, prefix: &str, records: usize) {
    let folder = dir.join(prefix);
    std::fs::create_dir_all(&folder).unwrap();
    let body: String = (0..records)
        .map(|r| format!("{{\"prefix\":\"{prefix}\",\"r\":{r}}}\n"))
        .collect();
    std::fs::write(folder.join("part-0.jsonl"), body).unwrap();
}

/// Runs a backfill of a connector over `data` with `extra` settings.
fn backfill_with(
    broker: &Broker,
    dir: &Path,
    name: &str,
    data: &Path,
    extra: &[(&str, &str)],
) -> std::process::Output {
    let bootstrap = broker.bootstrap();
    let offsets = dir.join(format!("{name}.offsets.jsonl"));
    let worker = dir.join(format!("{name}.worker.properties"));
    write_props(
        &worker,
        &[
            ("bootstrap.servers", &bootstrap),
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("value.converter.schemas.enable", "false"),
        ],
    );
    let mut c = vec![
        ("name", name),
        ("connector.class", "local"),
        ("local.path", data.to_str().unwrap()),
        ("local.file.min.age.ms", "0"),
        ("object.partial.line.wait.ms", "0"),
        ("input.format", "jsonl"),
    ];
    c.extend_from_slice(extra);
    let connector = dir.join(format!("{name}.connector.properties"));
    write_props(&connector, &c);
    backfill(&worker, &connector)
}

#[test]
fn topics_are_created_with_their_groups_partitions_and_existing_ones_kept() {
    let broker = Broker::start(BrokerKind::Tansu);
    let bootstrap = broker.bootstrap();
    // An existing topic keeps its partition count (testkit's PARTITIONS).
    broker.create_topic("tc-existing");
    assert_eq!(partitions(&bootstrap, "tc-existing"), PARTITIONS as usize);
    assert_eq!(partitions(&bootstrap, "tc-plain"), 0, "not there yet");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bucket");
    write_objects(&data, "plain", 30);
    write_objects(&data, "logs", 20);
    write_objects(&data, "existing", 10);
    let out = backfill_with(
        &broker,
        dir.path(),
        "creator",
        &data,
        &[
            (
                "topic.regex.list",
                "tc-plain:^plain/,tc-logs-a:^logs/,tc-existing:^existing/",
            ),
            ("topic.creation.groups", "logs"),
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.retention.ms", "86400000"),
            ("topic.creation.logs.include", "tc-logs-.*"),
            ("topic.creation.logs.partitions", "5"),
        ],
    );
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("created topic"), "{text}");

    assert_eq!(partitions(&bootstrap, "tc-plain"), 3, "the default group");
    assert_eq!(partitions(&bootstrap, "tc-logs-a"), 5, "the logs group");
    assert_eq!(
        partitions(&bootstrap, "tc-existing"),
        PARTITIONS as usize,
        "an existing topic is left as it is"
    );
    let counts = count_all(&bootstrap, &["tc-plain", "tc-logs-a", "tc-existing"], 60);
    assert_eq!(
        counts,
        BTreeMap::from([
            ("tc-existing".to_owned(), 10),
            ("tc-logs-a".to_owned(), 20),
            ("tc-plain".to_owned(), 30),
        ])
    );
}

#[test]
fn minus_one_takes_the_brokers_defaults() {
    let broker = Broker::start(BrokerKind::Tansu);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bucket");
    write_objects(&data, "plain", 5);
    let out = backfill_with(
        &broker,
        dir.path(),
        "defaults",
        &data,
        &[
            ("topic", "tc-defaults"),
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.partitions", "-1"),
        ],
    );
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let n = partitions(&broker.bootstrap(), "tc-defaults");
    assert!(
        n > 0,
        "created with the broker's default partitions: {text}"
    );
    assert_eq!(
        count_all(&broker.bootstrap(), &["tc-defaults"], 5)["tc-defaults"],
        5
    );
}

#[test]
fn a_topic_the_broker_cannot_create_fails_the_task_naming_it_and_the_reason() {
    // librdkafka's mock cluster does not create topics through the admin API.
    let broker = Broker::start(BrokerKind::Mock);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bucket");
    write_objects(&data, "plain", 5);
    let started = Instant::now();
    let out = backfill_with(
        &broker,
        dir.path(),
        "refused",
        &data,
        &[
            ("topic", "tc-refused"),
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "2"),
        ],
    );
    let text = output_text(&out);
    eprintln!("took {:?}", started.elapsed());
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("cannot create topic \"tc-refused\"")
            && text.contains("partitions 2, replication factor 1"),
        "{text}"
    );
}

#[test]
fn without_topic_creation_keys_or_with_the_worker_switch_off_nothing_is_created() {
    let broker = Broker::start(BrokerKind::Tansu);
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bucket");
    write_objects(&data, "plain", 5);
    broker.create_topic("tc-off");
    let offsets = dir.path().join("off.offsets.jsonl");
    let worker = dir.path().join("off.worker.properties");
    write_props(
        &worker,
        &[
            ("bootstrap.servers", &bootstrap),
            ("offset.storage.file.filename", offsets.to_str().unwrap()),
            ("topic.creation.enable", "false"),
        ],
    );
    let connector = dir.path().join("off.connector.properties");
    write_props(
        &connector,
        &[
            ("name", "off"),
            ("connector.class", "local"),
            ("local.path", data.to_str().unwrap()),
            ("local.file.min.age.ms", "0"),
            ("input.format", "jsonl"),
            ("topic", "tc-off"),
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "7"),
        ],
    );
    let out = backfill(&worker, &connector);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("topic.creation.* keys are ignored"), "{text}");
    assert_eq!(partitions(&bootstrap, "tc-off"), PARTITIONS as usize);
    assert_eq!(count_all(&bootstrap, &["tc-off"], 5)["tc-off"], 5);
}
