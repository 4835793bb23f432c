//! `jsonl` objects: schemaless and with inferred schemas, from the start and resumed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{read_object, settings};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, object)) = data.split_first() else {
        return;
    };
    let infer = if mode & 1 == 1 { "true" } else { "false" };
    let s = settings(&[("transformer.json.infer.schema", infer)]);
    read_object("jsonl", &s, "o.jsonl", object, u64::from(mode >> 6));
});
