use super::*;
use crate::test_util::chunked;
use futures::executor::block_on;
use futures::StreamExt;
use proptest::prelude::*;

type Item = Result<String, (u64, Option<u64>, bool, String)>;

fn run(mode: TextMode, trim: bool, input: &[u8], cuts: &[usize], skip: u64) -> Vec<Item> {
    run_limit(mode, trim, input, cuts, skip, 1000)
}

fn run_limit(
    mode: TextMode,
    trim: bool,
    input: &[u8],
    cuts: &[usize],
    skip: u64,
    limit: usize,
) -> Vec<Item> {
    let t = TextTransformer::new(&TransformerOptions {
        text: TextOptions { mode, trim },
        max_record_size: limit,
        ..Default::default()
    })
    .unwrap();
    block_on(
        t.records("o.txt".into(), chunked(input, cuts), skip)
            .collect::<Vec<_>>(),
    )
    .into_iter()
    .map(|r| match r {
        Ok(SchemaAndValue {
            value: Value::String(s),
            schema: Some(schema),
        }) => {
            assert_eq!(schema, Schema::string());
            Ok(s)
        }
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

fn ok(items: &[&str]) -> Vec<Item> {
    items.iter().map(|s| Ok(s.to_string())).collect()
}

#[test]
fn lines_are_records_empty_ones_too() {
    let input = b"a\r\n\n  b  \nlast";
    assert_eq!(
        run(TextMode::Line, false, input, &[], 0),
        ok(&["a", "", "  b  ", "last"])
    );
    assert_eq!(
        run(TextMode::Line, true, input, &[2, 5], 2),
        ok(&["b", "last"])
    );
    let items = run(TextMode::Line, false, b"x\n\xff\ny", &[], 0);
    let (i, off, rec, msg) = items[1].clone().unwrap_err();
    assert_eq!((i, off, rec), (1, Some(2), true));
    assert!(msg.contains("UTF-8"), "{msg}");
    assert_eq!(items[2], Ok("y".into()));
}

#[test]
fn regex_mode_keeps_matching_lines() {
    let mode = TextMode::Regex("^[0-9]+,".into());
    let input = b"header\n1,a\nskip me\n22,b\n,c\n";
    assert_eq!(
        run(mode.clone(), false, input, &[3], 0),
        ok(&["1,a", "22,b"])
    );
    assert_eq!(run(mode, false, input, &[3], 1), ok(&["22,b"]));
}

#[test]
fn named_groups_make_struct_records() {
    let t = TextTransformer::new(&TransformerOptions {
        text: TextOptions {
            mode: TextMode::Regex(
                r"^(?P<date>\S+) ERROR (?P<msg>.*?)(?: \[(?P<code>\d+)\])?$".into(),
            ),
            trim: false,
        },
        ..Default::default()
    })
    .unwrap();
    let input = b"2024-01-01 INFO fine\n2024-01-02 ERROR disk full [28]\n2024-01-03 ERROR boom\n";
    let got = block_on(
        t.records("o.log".into(), chunked(input, &[7]), 0)
            .collect::<Vec<_>>(),
    );
    let rows: Vec<Vec<Value>> = got
        .into_iter()
        .map(|r| {
            let sv = r.unwrap();
            let schema = sv.schema.as_ref().unwrap();
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name()).collect();
            assert_eq!(names, ["date", "msg", "code"]);
            let Value::Struct(s) = sv.value else { panic!() };
            s.values().to_vec()
        })
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                Value::from("2024-01-02"),
                Value::from("disk full"),
                Value::from("28")
            ],
            vec![Value::from("2024-01-03"), Value::from("boom"), Value::Null],
        ]
    );
}

#[test]
fn a_regex_that_lost_its_backslash_matches_nothing_and_says_so() {
    // `\S` read from a .properties file arrives as `S`: no line matches; the run warns
    // (checked by the end-to-end test) and yields no record rather than failing.
    let mode = TextMode::Regex("^(?P<date>S+) ERROR (?P<msg>.*)$".into());
    assert_eq!(run(mode, false, b"2024-01-02 ERROR x\n", &[], 0), ok(&[]));
}

#[test]
fn tags_mode_spans_lines_and_chunks() {
    let mode = TextMode::StartEndTag {
        start: "<r>".into(),
        end: "</r>".into(),
    };
    let input = b"junk <r>one\ntwo</r> between <r></r><r>three</r>tail";
    for cuts in [
        vec![],
        vec![6, 7, 8, 17, 18, 19],
        (0..input.len()).collect(),
    ] {
        assert_eq!(
            run(mode.clone(), false, input, &cuts, 0),
            ok(&["<r>one\ntwo</r>", "<r></r>", "<r>three</r>"]),
            "{cuts:?}"
        );
        assert_eq!(
            run(mode.clone(), false, input, &cuts, 2),
            ok(&["<r>three</r>"])
        );
    }
    let items = run(mode.clone(), false, b"<r>a</r><r>unfinished", &[], 0);
    assert_eq!(items[0], Ok("<r>a</r>".into()));
    let (i, off, rec, msg) = items[1].clone().unwrap_err();
    assert_eq!((i, off, rec), (1, Some(8), false));
    assert!(msg.contains("end tag"), "{msg}");
    let items = run_limit(mode, false, b"<r>0123456789</r><r>x</r>", &[4], 0, 10);
    let (i, off, rec, msg) = items[0].clone().unwrap_err();
    assert_eq!((i, off, rec), (0, Some(0), true));
    assert!(msg.contains("17 bytes"), "{msg}");
    assert_eq!(items[1], Ok("<r>x</r>".into()));
}

#[test]
fn start_end_lines_group_lines() {
    let mode = |last| TextMode::StartEndLine {
        start: "BEGIN".into(),
        end: "END".into(),
        last_end_line_missing: last,
    };
    let input = b"x\nBEGIN\na\nb\nEND\nnoise\n BEGIN \nc\n END\nBEGIN\nopen";
    assert_eq!(
        run(mode(false), false, input, &[], 0),
        ok(&["BEGIN\na\nb\nEND"])
    );
    assert_eq!(
        run(mode(true), true, input, &[5, 9], 0),
        ok(&["BEGIN\na\nb\nEND", "BEGIN \nc\n END", "BEGIN\nopen"])
    );
    assert_eq!(run(mode(true), true, input, &[], 2), ok(&["BEGIN\nopen"]));
    let blank = TextMode::StartEndLine {
        start: "R".into(),
        end: String::new(),
        last_end_line_missing: true,
    };
    assert_eq!(
        run(blank, true, b"R\n1\n\nR\n2\n", &[], 0),
        ok(&["R\n1", "R\n2"])
    );
}

#[test]
fn config_needs_the_mode_keys() {
    let mut s = TextSettings {
        mode: "regex".into(),
        regex: None,
        start_tag: None,
        end_tag: None,
        start_line: None,
        end_line: None,
        trim: false,
        last_end_line_missing: false,
    };
    assert!(TextOptions::from_settings(&s).is_err());
    s.regex = Some("(".into());
    assert!(TextOptions::from_settings(&s)
        .unwrap_err()
        .to_string()
        .contains("read.text.regex"));
    s.regex = Some("a+".into());
    assert_eq!(
        TextOptions::from_settings(&s).unwrap().mode,
        TextMode::Regex("a+".into())
    );
}

proptest! {
    #[test]
    fn resuming_tags_yields_the_remaining_records(
        parts in proptest::collection::vec("[a-c<>/r\n]{0,6}", 0..10),
        cuts in proptest::collection::vec(0usize..100, 0..10),
    ) {
        let doc: String = parts.iter().map(|p| format!("<r>{p}</r>..")).collect();
        let mode = TextMode::StartEndTag { start: "<r>".into(), end: "</r>".into() };
        let full = run(mode.clone(), false, doc.as_bytes(), &[], 0);
        let n = full.len();
        for skip in [0, 1, n / 2, n, n + 1] {
            let resumed = run(mode.clone(), false, doc.as_bytes(), &cuts, skip as u64);
            prop_assert_eq!(&resumed[..], &full[skip.min(n)..]);
        }
    }
}
