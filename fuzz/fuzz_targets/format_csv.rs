//! `csv` objects: with a header row or named columns, typed by inference or declared types.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{read_object, settings};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, object)) = data.split_first() else {
        return;
    };
    let mut base = vec![];
    if mode & 1 == 1 {
        base.push(("csv.first.row.as.header", "false"));
        base.push(("csv.column.names", "a,b,c"));
        if mode & 8 == 8 {
            base.push(("csv.column.types", "a:int64,b:float64,c:boolean"));
        }
    }
    if mode & 2 == 2 {
        base.push(("csv.separator.char", ";"));
    }
    if mode & 4 == 4 {
        base.push(("csv.infer.types", "true"));
    }
    read_object(
        "csv",
        &settings(&base),
        "o.csv",
        object,
        u64::from(mode >> 6),
    );
});
