//! Avro object container files.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{read_object, settings};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, object)) = data.split_first() else {
        return;
    };
    read_object(
        "avro",
        &settings(&[]),
        "o.avro",
        object,
        u64::from(mode >> 6),
    );
});
