use super::options::{parse_char, parse_column_types};
use super::types::parse_decimal;
use super::*;
use crate::test_util::{chunked, failing};
use futures::executor::block_on;
use futures::StreamExt;
use proptest::prelude::*;

fn run_with(
    options: CsvOptions,
    input: &[u8],
    cuts: &[usize],
    skip: u64,
) -> Vec<sluice_core::Result<SchemaAndValue>> {
    let t = CsvTransformer::new(&TransformerOptions {
        csv: options,
        max_record_size: 256,
        ..Default::default()
    })
    .unwrap();
    block_on(
        t.records("o.csv".into(), chunked(input, cuts), skip)
            .collect::<Vec<_>>(),
    )
}

/// A row's fields, or the error's (index, offset, recoverable, message).
type RowResult = Result<Vec<String>, (u64, Option<u64>, bool, String)>;

/// Each record as its fields' display strings, or the error's (index, offset, recoverable, message).
fn rows(options: CsvOptions, input: &[u8], cuts: &[usize], skip: u64) -> Vec<RowResult> {
    run_with(options, input, cuts, skip)
        .into_iter()
        .map(|r| match r {
            Ok(SchemaAndValue {
                value: Value::Struct(s),
                ..
            }) => Ok(s.values().iter().map(|v| v.to_string()).collect()),
            Ok(other) => panic!("{other:?}"),
            Err(sluice_core::Error::Record {
                record_index,
                byte_offset,
                recoverable,
                source,
                ..
            }) => Err((record_index, byte_offset, recoverable, source.to_string())),
            Err(other) => panic!("{other:?}"),
        })
        .collect()
}

fn ok(rows: &[&[&str]]) -> Vec<RowResult> {
    rows.iter()
        .map(|r| Ok(r.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[test]
fn header_quotes_and_escapes() {
    let input = b"id,name\r\n1,\"a, \"\"quoted\"\"\nname\"\n2,plain\n\n3,\n";
    assert_eq!(
        rows(CsvOptions::default(), input, &[3, 9, 20], 0),
        ok(&[&["1", "a, \"quoted\"\nname"], &["2", "plain"], &["3", ""]])
    );
    let schema = run_with(CsvOptions::default(), input, &[], 0)[0]
        .as_ref()
        .unwrap()
        .schema
        .clone()
        .unwrap();
    assert_eq!(
        schema.field("name").unwrap().schema(),
        &Schema::optional_string()
    );
    let o = CsvOptions {
        separator: b';',
        escape: Some(b'\\'),
        header: false,
        ..Default::default()
    };
    assert_eq!(
        rows(o, b"a;\"b\\\"c\";d\n", &[], 0),
        ok(&[&["a", "b\"c", "d"]])
    );
}

#[test]
fn configured_names_no_header_and_generated_names() {
    let o = CsvOptions {
        header: false,
        column_names: Some(vec!["x".into(), "y".into()]),
        ..Default::default()
    };
    let r = run_with(o, b"1,2\n", &[], 0);
    let s = r[0].as_ref().unwrap().schema.clone().unwrap();
    assert_eq!(s.fields()[1].name(), "y");
    let o = CsvOptions {
        header: false,
        ..Default::default()
    };
    let r = run_with(o.clone(), b"1,2\n3,4\n", &[], 1);
    assert_eq!(r.len(), 1);
    let s = r[0].as_ref().unwrap().schema.clone().unwrap();
    assert_eq!(s.fields()[0].name(), "_c0");
    assert_eq!(rows(o, b"1,2\n3,4\n", &[], 1), ok(&[&["3", "4"]]));
}

#[test]
fn ragged_rows_and_bad_values_are_recoverable() {
    let o = CsvOptions {
        column_types: vec![("n".into(), ColumnType::Int32)],
        ..Default::default()
    };
    let input = b"n,s\n1,a\n2\n3,b,c\nx,d\n\xff,e\n4,\"f\"\n,g\n";
    let r = rows(o, input, &[], 0);
    assert_eq!(r.len(), 7, "{r:?}");
    assert_eq!(r[0], Ok(vec!["1".into(), "a".into()]));
    let (i, off, rec, msg) = r[1].clone().unwrap_err();
    assert_eq!((i, off, rec), (1, Some(8), true));
    assert!(msg.contains("1 fields but there are 2 columns"), "{msg}");
    assert!(r[2].clone().unwrap_err().3.contains("3 fields"));
    assert!(r[3]
        .clone()
        .unwrap_err()
        .3
        .contains("\"x\" is not a valid int32"));
    assert!(r[4].clone().unwrap_err().3.contains("UTF-8"));
    assert_eq!(r[5], Ok(vec!["4".into(), "f".into()]));
    assert_eq!(r[6], Ok(vec!["null".into(), "g".into()]));
}

#[test]
fn types_parse_and_infer() {
    let o = CsvOptions {
        column_types: parse_column_types(
            "d:date, t:time, ts:timestamp, p:decimal(5,2), b:boolean, f:float32",
        )
        .unwrap(),
        infer_types: true,
        infer_rows: 2,
        ..Default::default()
    };
    let input = b"d,t,ts,p,b,f,i,x\n1970-01-02,00:00:01.5,1970-01-01T00:00:01.250Z,-1.5,TRUE,0.5,7,1\n,,1970-01-01 01:00:00+01:00,123.45,false,,8,y\n2000-01-01,,,,,,z,\n";
    let r = run_with(o, input, &[10], 0);
    assert_eq!(r.len(), 3, "{r:?}");
    let first = r[0].as_ref().unwrap();
    let schema = first.schema.as_ref().unwrap();
    assert_eq!(
        schema.field("i").unwrap().schema(),
        &Schema::optional_int64()
    );
    assert_eq!(
        schema.field("x").unwrap().schema(),
        &Schema::optional_string()
    );
    assert_eq!(
        schema
            .field("p")
            .unwrap()
            .schema()
            .parameters()
            .get("scale")
            .map(String::as_str),
        Some("2")
    );
    let Value::Struct(s) = &first.value else {
        panic!()
    };
    assert_eq!(s.get("d"), Some(&Value::Int32(1)));
    assert_eq!(s.get("t"), Some(&Value::Int32(1500)));
    assert_eq!(s.get("ts"), Some(&Value::Int64(1250)));
    assert_eq!(s.get("p"), Some(&logical::decimal_value(-150)));
    assert_eq!(s.get("b"), Some(&Value::Boolean(true)));
    assert_eq!(s.get("f"), Some(&Value::Float32(0.5)));
    let Value::Struct(s) = &r[1].as_ref().unwrap().value else {
        panic!()
    };
    assert_eq!(s.get("ts"), Some(&Value::Int64(0)));
    assert_eq!(s.get("p"), Some(&logical::decimal_value(12345)));
    assert_eq!(s.get("d"), Some(&Value::Null));
    // A later value that does not fit the inferred type.
    let e = r[2].as_ref().unwrap_err().to_string();
    assert!(
        e.contains("column \"i\": \"z\" is not a valid int64"),
        "{e}"
    );
    assert!(parse_column_types("a:decimal(2,3)").is_err());
    assert!(parse_column_types("a").is_err());
    assert!(parse_char("csv.separator.char", "59").unwrap() == b';');
    assert!(parse_char("csv.separator.char", "\\t").unwrap() == b'\t');
    assert!(parse_char("csv.separator.char", "ab").is_err());
    assert_eq!(parse_decimal("1.230", 2), Some(123));
    assert_eq!(parse_decimal("1.234", 2), None);
    assert_eq!(parse_decimal(".5", 1), Some(5));
}

#[test]
fn an_over_long_row_is_skipped_and_an_io_error_ends() {
    let long = "y".repeat(300);
    let input = format!("a\n1\n{long}\n2\n");
    let r = rows(CsvOptions::default(), input.as_bytes(), &[7, 50], 0);
    assert_eq!(r.len(), 3, "{r:?}");
    let (i, off, rec, msg) = r[1].clone().unwrap_err();
    assert_eq!((i, off, rec), (1, Some(4), true));
    assert!(msg.contains("bytes long"), "{msg}");
    assert_eq!(r[2], Ok(vec!["2".into()]));

    let t = CsvTransformer::new(&TransformerOptions::default()).unwrap();
    let items = block_on(
        t.records("o.csv".into(), failing(&[b"a\n1\n2"], b"\n3\n"), 0)
            .collect::<Vec<_>>(),
    );
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("connection reset"));
}

#[test]
fn empty_objects_have_no_records() {
    assert!(rows(CsvOptions::default(), b"", &[], 0).is_empty());
    assert!(rows(CsvOptions::default(), b"a,b\n", &[], 0).is_empty());
}

proptest! {
    #[test]
    fn chunking_and_resuming_never_change_the_records(
        cells in proptest::collection::vec(proptest::collection::vec("[a-c,\"\n ]{0,5}", 2), 0..12),
        cuts in proptest::collection::vec(0usize..200, 0..20),
        infer in any::<bool>(),
    ) {
        let mut doc = String::from("a,b\n");
        for row in &cells {
            let quoted: Vec<String> = row.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
            doc.push_str(&quoted.join(","));
            doc.push('\n');
        }
        let o = CsvOptions { infer_types: infer, infer_rows: 3, ..Default::default() };
        let full = rows(o.clone(), doc.as_bytes(), &[], 0);
        prop_assert_eq!(full.len(), cells.len());
        let n = full.len();
        for skip in [0, 1, n / 2, n, n + 1] {
            let resumed = rows(o.clone(), doc.as_bytes(), &cuts, skip as u64);
            prop_assert_eq!(&resumed[..], &full[skip.min(n)..]);
        }
    }
}

#[test]
fn a_duplicate_header_name_names_the_header_row_and_the_column() {
    let got = rows(CsvOptions::default(), b"id,name,id\n1,a,2\n", &[], 0);
    let Err((0, _, false, err)) = &got[0] else {
        panic!("{got:?}")
    };
    assert!(
        err.contains("header row names column \"id\" twice (columns 1 and 3)"),
        "{err}"
    );
    assert!(!err.contains("invalid csv.column.names"), "{err}");
    let configured = CsvOptions {
        column_names: Some(vec!["a".into(), "a".into()]),
        ..CsvOptions::default()
    };
    let got = rows(configured, b"x,y\n1,2\n", &[], 0);
    let Err((_, _, _, err)) = &got[0] else {
        panic!("{got:?}")
    };
    assert!(
        err.contains("csv.column.names") && err.contains("\"a\" twice"),
        "{err}"
    );
}
