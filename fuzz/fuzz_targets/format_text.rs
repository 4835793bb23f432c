//! `text` objects in each `read.text.mode`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{read_object, settings};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, object)) = data.split_first() else {
        return;
    };
    let base: &[(&str, &str)] = match mode & 3 {
        0 => &[("read.text.mode", "line")],
        1 => &[
            ("read.text.mode", "regex"),
            ("read.text.regex", "^(?P<level>[A-Z]+) (?P<msg>.*)$"),
        ],
        2 => &[
            ("read.text.mode", "startEndTag"),
            ("read.text.start.tag", "<r>"),
            ("read.text.end.tag", "</r>"),
        ],
        _ => &[
            ("read.text.mode", "startEndLine"),
            ("read.text.start.line", "BEGIN"),
            ("read.text.end.line", "END"),
            ("read.text.last.end.line.missing", "true"),
        ],
    };
    read_object(
        "text",
        &settings(base),
        "o.txt",
        object,
        u64::from(mode >> 6),
    );
});
