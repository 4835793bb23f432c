use super::*;
use crate::test_util::chunked;
use apache_avro::Writer;
use futures::executor::block_on;
use futures::StreamExt;

const SCHEMA: &str = r#"{"type":"record","name":"R","namespace":"ns","fields":[
        {"name":"id","type":"long"},
        {"name":"name","type":["null","string"]},
        {"name":"u","type":["int","string","null"]},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
        {"name":"m","type":{"type":"map","values":"int"}},
        {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
        {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}}
    ]}"#;

fn file(codec: Codec, n: i64, per_block: usize) -> Vec<u8> {
    let schema = AvroSchema::parse_str(SCHEMA).unwrap();
    let mut w = Writer::builder()
        .schema(&schema)
        .writer(Vec::new())
        .codec(codec)
        .block_size(per_block)
        .build()
        .unwrap();
    for i in 0..n {
        let mut m = HashMap::new();
        m.insert("b".to_string(), AvroValue::Int(2));
        m.insert("a".to_string(), AvroValue::Int(1));
        let rec = AvroValue::Record(vec![
            ("id".into(), AvroValue::Long(i)),
            (
                "name".into(),
                if i % 2 == 0 {
                    AvroValue::Union(1, Box::new(AvroValue::String(format!("n{i}"))))
                } else {
                    AvroValue::Union(0, Box::new(AvroValue::Null))
                },
            ),
            (
                "u".into(),
                AvroValue::Union(0, Box::new(AvroValue::Int(i as i32))),
            ),
            ("e".into(), AvroValue::Enum(1, "B".into())),
            ("m".into(), AvroValue::Map(m)),
            (
                "d".into(),
                AvroValue::Decimal(apache_avro::Decimal::from(vec![0x00, 0x00, 0x7b])),
            ),
            ("ts".into(), AvroValue::TimestampMicros(-1500)),
        ]);
        w.append_value(rec).unwrap();
    }
    w.into_inner().unwrap()
}

fn run(data: &[u8], cuts: &[usize], skip: u64) -> Vec<sluice_core::Result<SchemaAndValue>> {
    let t = AvroTransformer::new(&TransformerOptions::default()).unwrap();
    block_on(
        t.records("o.avro".into(), chunked(data, cuts), skip)
            .collect::<Vec<_>>(),
    )
}

fn ids(items: &[sluice_core::Result<SchemaAndValue>]) -> Vec<Result<i64, String>> {
    items
        .iter()
        .map(|r| match r {
            Ok(sv) => match &sv.value {
                Value::Struct(s) => match s.get("id") {
                    Some(Value::Int64(i)) => Ok(*i),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            },
            Err(e) => Err(e.to_string()),
        })
        .collect()
}

#[test]
fn record_and_field_docs_become_avro_data_parameters() {
    let schema = AvroSchema::parse_str(
        r#"{"type":"record","name":"Doc","namespace":"ns","doc":"a record",
                "fields":[{"name":"a","type":"long","doc":"the a"},{"name":"b","type":"long"}]}"#,
    )
    .unwrap();
    let mut w = Writer::builder()
        .schema(&schema)
        .writer(Vec::new())
        .build()
        .unwrap();
    w.append_value(AvroValue::Record(vec![
        ("a".into(), AvroValue::Long(1)),
        ("b".into(), AvroValue::Long(2)),
    ]))
    .unwrap();
    let data = w.into_inner().unwrap();
    let items = run(&data, &[], 0);
    let schema = items[0].as_ref().unwrap().schema.clone().unwrap();
    let params: Vec<(&str, &str)> = schema
        .parameters()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        params,
        [
            ("io.confluent.connect.avro.field.doc.a", "the a"),
            ("io.confluent.connect.avro.record.doc", "a record")
        ]
    );
}

#[test]
fn maps_types_and_values() {
    let data = file(Codec::Null, 2, 100);
    let items = run(&data, &[1, 7, 30], 0);
    assert_eq!(items.len(), 2);
    let sv = items[0].as_ref().unwrap();
    let schema = sv.schema.as_ref().unwrap();
    assert_eq!(schema.name(), Some("ns.R"));
    assert_eq!(
        schema.field("name").unwrap().schema(),
        &Schema::optional_string()
    );
    let u = schema.field("u").unwrap().schema();
    assert_eq!(u.name(), Some(UNION_NAME));
    assert!(u.is_optional());
    assert_eq!(
        u.fields().iter().map(|f| f.name()).collect::<Vec<_>>(),
        ["int", "string"]
    );
    assert_eq!(schema.field("e").unwrap().schema().name(), Some("ns.E"));
    let Value::Struct(s) = &sv.value else {
        panic!()
    };
    assert_eq!(s.get("name"), Some(&Value::from("n0")));
    assert_eq!(s.get("e"), Some(&Value::from("B")));
    assert_eq!(
        s.get("m"),
        Some(&Value::Map(vec![
            (Value::from("a"), Value::Int32(1)),
            (Value::from("b"), Value::Int32(2))
        ]))
    );
    assert_eq!(s.get("d"), Some(&logical::decimal_value(123)));
    assert_eq!(s.get("ts"), Some(&Value::Int64(-2)));
    let Value::Struct(union) = s.get("u").unwrap() else {
        panic!()
    };
    assert_eq!(union.get("int"), Some(&Value::Int32(0)));
    let Value::Struct(s1) = &items[1].as_ref().unwrap().value else {
        panic!()
    };
    assert_eq!(s1.get("name"), Some(&Value::Null));
}

#[test]
fn every_codec_reads_and_resumes_by_block() {
    for codec in [
        Codec::Null,
        Codec::Deflate(Default::default()),
        Codec::Snappy,
        Codec::Zstandard(Default::default()),
        Codec::Bzip2(Default::default()),
        Codec::Xz(Default::default()),
    ] {
        let data = file(codec, 300, 200);
        let all = ids(&run(&data, &[100, 101, 2000], 0));
        assert_eq!(all, (0..300).map(Ok).collect::<Vec<_>>(), "{codec:?}");
        for skip in [1u64, 17, 150, 299, 300, 301] {
            let resumed = ids(&run(&data, &[333], skip));
            assert_eq!(
                resumed[..],
                all[(skip as usize).min(300)..],
                "{codec:?} skip {skip}"
            );
        }
    }
}

#[test]
fn corrupt_files() {
    // Bad magic.
    let items = run(b"PAR1xxxx", &[], 0);
    let e = items[0].as_ref().unwrap_err().to_string();
    assert!(e.contains("bad magic"), "{e}");
    assert_eq!(items.len(), 1);
    // Empty object.
    let e = run(b"", &[], 0)[0].as_ref().unwrap_err().to_string();
    assert!(e.contains("truncated"), "{e}");
    // Truncated in a block.
    let data = file(Codec::Null, 300, 200);
    let items = run(&data[..data.len() - 100], &[], 0);
    let last = items.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(last.contains("truncated"), "{last}");
    assert!(items.len() > 1);
    // A damaged block: the next blocks are still read.
    let data = file(Codec::Snappy, 300, 200);
    let mut bad = data.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 8] {
        *b ^= 0xff;
    }
    let items = run(&bad, &[], 0);
    let errors: Vec<&sluice_core::Error> = items.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!errors.is_empty());
    assert!(
        matches!(
            errors[0],
            sluice_core::Error::Record {
                recoverable: true,
                ..
            }
        ),
        "{:?}",
        errors[0]
    );
    let good = ids(&items).into_iter().filter(|r| r.is_ok()).count();
    assert!(good > 200 && good < 300, "{good}");
    // Indexes keep counting: the last record is still 299.
    assert_eq!(ids(&items).last().unwrap(), &Ok(299));
}

#[test]
fn resuming_over_bad_blocks_yields_the_same_items() {
    let data = file(Codec::Snappy, 300, 200);
    let mut bad = data.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 40] {
        *b ^= 0xff;
    }
    let render = |items: Vec<sluice_core::Result<SchemaAndValue>>, start: u64| {
        let mut next = start;
        items
            .into_iter()
            .map(|r| match r {
                Ok(sv) => {
                    next += 1;
                    let Value::Struct(st) = &sv.value else {
                        panic!("{sv:?}")
                    };
                    (next - 1, format!("{:?}", st.get("id")))
                }
                Err(sluice_core::Error::Record {
                    record_index,
                    source,
                    ..
                }) => {
                    next = record_index + 1;
                    (record_index, source.to_string())
                }
                Err(e) => panic!("{e}"),
            })
            .collect::<Vec<(u64, String)>>()
    };
    let full = render(run(&bad, &[], 0), 0);
    assert!(full.iter().any(|(_, s)| !s.starts_with("Some")));
    for skip in 0..300u64 {
        let resumed = render(run(&bad, &[1000], skip), skip);
        let expected: Vec<_> = full.iter().filter(|(i, _)| *i >= skip).cloned().collect();
        assert_eq!(resumed, expected, "skip {skip}");
    }
    // Blocks over the limit: one error each, passed over.
    let t = AvroTransformer::new(&TransformerOptions {
        max_record_size: 100,
        ..Default::default()
    })
    .unwrap();
    let items = block_on(
        t.records("o.avro".into(), chunked(&data, &[]), 0)
            .collect::<Vec<_>>(),
    );
    // Nearly every block is over 100 bytes (compressed sizes vary a little with the map order).
    let errors = items.iter().filter(|r| r.is_err()).count();
    assert!(errors >= 25, "{errors} errors of {}", items.len());
    let e = items[0].as_ref().unwrap_err().to_string();
    assert!(e.contains("more than the limit of 100 bytes"), "{e}");
}

#[test]
fn recursive_schemas_cannot_be_mapped() {
    let schema = AvroSchema::parse_str(
        r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#,
    )
    .unwrap();
    let w = Writer::new(&schema, Vec::new()).unwrap();
    let data = w.into_inner().unwrap();
    let items = run(&data, &[], 0);
    let e = items[0].as_ref().unwrap_err().to_string();
    assert!(e.contains("contains itself"), "{e}");
}
