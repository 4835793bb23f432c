//! Test helpers shared by the transforms' conformance tables, and the chain's own tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{TransformChain, Transformed};
use crate::data::{SchemaAndValue, Value};
use crate::error_chain;
use crate::offsets::{OffsetMap, OffsetValue};
use crate::record::{Header, RecordOrigin, SourceObject, SourceRecord};

/// A chain of one transform `a` with `options` (`type` included).
pub(super) fn chain(options: &[(&str, &str)]) -> TransformChain {
    TransformChain::from_settings(&settings(options)).unwrap_or_else(|e| panic!("{e}"))
}

fn settings(options: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut s: BTreeMap<String, String> = options
        .iter()
        .map(|(k, v)| (format!("transforms.a.{k}"), (*v).to_owned()))
        .collect();
    s.insert("transforms".into(), "a".into());
    s
}

/// The configuration error of a chain of one transform `a` with `options`.
pub(super) fn config_err(options: &[(&str, &str)]) -> String {
    match TransformChain::from_settings(&settings(options)) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// A record for topic `test`, partition 0, timestamp 1500000000000, key null, read from
/// `bkt/obj.jsonl` record 7.
pub(super) fn record(value: SchemaAndValue) -> SourceRecord {
    let mut partition = OffsetMap::new();
    partition.insert("object".into(), OffsetValue::String("obj.jsonl".into()));
    let mut offset = OffsetMap::new();
    offset.insert("recordCount".into(), OffsetValue::Long(8));
    SourceRecord {
        source_partition: partition,
        source_offset: offset,
        topic: "test".into(),
        kafka_partition: Some(0),
        key: SchemaAndValue::null(),
        value,
        timestamp: Some(1_500_000_000_000),
        headers: Vec::new(),
        origin: Some(RecordOrigin {
            object: Arc::new(SourceObject {
                bucket: "bkt".into(),
                key: "obj.jsonl".into(),
            }),
            index: 7,
        }),
    }
}

/// The record `c` makes of `r`, which must be kept.
pub(super) fn run(c: &TransformChain, r: SourceRecord) -> SourceRecord {
    match c.apply(r) {
        Ok(Transformed::Record(r)) => r,
        Ok(other) => panic!("not kept: {other:?}"),
        Err(f) => panic!("failed: {}", error_chain(&f.error)),
    }
}

/// The error (with its causes) `c` fails `r` with.
pub(super) fn err(c: &TransformChain, r: SourceRecord) -> String {
    match c.apply(r) {
        Err(f) => error_chain(&f.error),
        Ok(other) => panic!("did not fail: {other:?}"),
    }
}

/// A schemaless map with string keys.
pub(super) fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (Value::from(*k), v.clone()))
            .collect(),
    )
}

/// A schemaless map of strings.
pub(super) fn string_map(entries: &[(&str, &str)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (Value::from(*k), Value::from(*v)))
            .collect(),
    )
}

/// A value without a schema.
pub(super) fn schemaless(v: Value) -> SchemaAndValue {
    SchemaAndValue::schemaless(v)
}

fn full(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn no_transforms_is_an_empty_chain() {
    let c = TransformChain::from_settings(&BTreeMap::new()).unwrap();
    assert!(c.is_empty());
    let r = record(SchemaAndValue::null());
    assert_eq!(run(&c, r.clone()), r);
}

#[test]
fn transforms_run_in_order_with_predicates_and_negate() {
    let c = TransformChain::from_settings(&full(&[
        ("transforms", "hoist, route ,drop"),
        ("transforms.hoist.type", "HoistField$Value"),
        ("transforms.hoist.field", "line"),
        (
            "transforms.route.type",
            "org.apache.kafka.connect.transforms.RegexRouter",
        ),
        ("transforms.route.regex", "(.*)"),
        ("transforms.route.replacement", "$1-routed"),
        ("transforms.route.predicate", "isTest"),
        (
            "transforms.drop.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.drop.predicate", "isRouted"),
        ("transforms.drop.negate", "true"),
        ("predicates", "isTest,isRouted"),
        (
            "predicates.isTest.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.isTest.pattern", "te.t"),
        ("predicates.isRouted.type", "TopicNameMatches"),
        ("predicates.isRouted.pattern", ".*-routed"),
    ]))
    .unwrap();
    assert_eq!(c.len(), 3);
    let out = run(&c, record(schemaless(Value::from("x"))));
    assert_eq!(out.topic, "test-routed");
    assert_eq!(out.value, schemaless(map(&[("line", Value::from("x"))])));
    // Where the record came from survives the chain.
    assert_eq!(out.origin.as_ref().unwrap().index, 7);
    assert_eq!(
        out.source_offset.get("recordCount"),
        Some(&OffsetValue::Long(8))
    );

    // Not matching isTest: not routed, so dropped (negated isRouted), with its offset.
    let mut r = record(schemaless(Value::from("x")));
    r.topic = "other".into();
    match c.apply(r).unwrap() {
        Transformed::Dropped { offset, partition } => {
            assert_eq!(offset.get("recordCount"), Some(&OffsetValue::Long(8)));
            assert!(partition.contains_key("object"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn header_and_tombstone_predicates() {
    let c = TransformChain::from_settings(&full(&[
        ("transforms", "dropTombstones,dropMarked"),
        (
            "transforms.dropTombstones.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.dropTombstones.predicate", "tomb"),
        (
            "transforms.dropMarked.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.dropMarked.predicate", "marked"),
        ("predicates", "tomb,marked"),
        (
            "predicates.tomb.type",
            "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
        ),
        (
            "predicates.marked.type",
            "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        ),
        ("predicates.marked.name", "skip"),
    ]))
    .unwrap();
    assert!(matches!(
        c.apply(record(SchemaAndValue::null())),
        Ok(Transformed::Dropped { .. })
    ));
    let mut r = record(schemaless(Value::from("v")));
    r.headers.push(Header::string("skip", "yes"));
    assert!(matches!(c.apply(r), Ok(Transformed::Dropped { .. })));
    let mut r = record(schemaless(Value::from("v")));
    r.headers.push(Header::string("other", "yes"));
    assert!(matches!(c.apply(r), Ok(Transformed::Record(_))));
}

#[test]
fn a_failure_names_the_alias_and_keeps_the_origin() {
    let c = TransformChain::from_settings(&full(&[
        ("transforms", "extract"),
        (
            "transforms.extract.type",
            "org.apache.kafka.connect.transforms.ExtractField$Value",
        ),
        ("transforms.extract.field", "id"),
    ]))
    .unwrap();
    let f = c
        .apply(record(schemaless(Value::from("text"))))
        .unwrap_err();
    assert_eq!(f.origin.as_ref().unwrap().object.key, "obj.jsonl");
    assert_eq!(f.offset.get("recordCount"), Some(&OffsetValue::Long(8)));
    let msg = error_chain(&f.error);
    assert!(
        msg.starts_with("transform \"extract\" (ExtractField$Value) failed: invalid data: only map values are supported in absence of schema for [field extraction], found: string"),
        "{msg}"
    );
}

#[test]
fn every_config_problem_is_listed() {
    let e = TransformChain::from_settings(&full(&[
        ("transforms", "a,b,c,d,a"),
        (
            "transforms.a.type",
            "org.apache.kafka.connect.transforms.InsertFeld$Value",
        ),
        (
            "transforms.b.type",
            "org.apache.kafka.connect.transforms.HoistField$Value",
        ),
        ("transforms.b.feild", "x"),
        (
            "transforms.c.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.c.predicate", "nope"),
        (
            "transforms.d.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.d.negate", "true"),
        (
            "transforms.e.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("predicates", "p"),
        (
            "predicates.p.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.p.pattern", "("),
    ]))
    .unwrap_err()
    .to_string();
    for expected in [
        "transforms: alias \"a\" is listed twice",
        "transforms.a.type: \"org.apache.kafka.connect.transforms.InsertFeld$Value\" is not a supported transform; did you mean \"org.apache.kafka.connect.transforms.InsertField$Value\"? supported: org.apache.kafka.connect.transforms.InsertField$Value,",
        "transforms.b.field: required",
        "transforms.b.feild: unknown option; did you mean \"field\"? its options are field (transform \"b\", HoistField$Value)",
        "transforms.c.predicate: \"nope\" is not a defined predicate",
        "transforms.d.negate: set without transforms.d.predicate",
        "transforms.e.type: \"e\" is not listed in transforms= (a,b,c,d)",
        "predicates.p.pattern: invalid regular expression \"(\"",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    let e = TransformChain::from_settings(&full(&[("transforms", "x")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("transforms.x.type: required; the transform's class, one of"),
        "{e}"
    );
    let e = TransformChain::from_settings(&full(&[
        ("predicates", "p"),
        ("predicates.p.type", "RecordIsTombstone"),
        ("predicates.p.pattern", "x"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("predicates.p.pattern: unknown option; it takes no options (predicate \"p\", RecordIsTombstone)"), "{e}");
}
