//! `json` objects: one document or a streamed top-level array, schemaless or inferred.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{read_object, settings};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, object)) = data.split_first() else {
        return;
    };
    let infer = if mode & 1 == 1 { "true" } else { "false" };
    let split = if mode & 2 == 2 { "true" } else { "false" };
    let s = settings(&[
        ("transformer.json.infer.schema", infer),
        ("transformer.json.split.array", split),
    ]);
    read_object("json", &s, "o.json", object, u64::from(mode >> 6));
});
