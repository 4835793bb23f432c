//! Parquet files (footer, then row groups by range reads).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{read_object, settings};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, object)) = data.split_first() else {
        return;
    };
    read_object(
        "parquet",
        &settings(&[]),
        "o.parquet",
        object,
        u64::from(mode >> 6),
    );
});
