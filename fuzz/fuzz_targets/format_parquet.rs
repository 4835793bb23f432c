//! Parquet files (footer, then row groups by range reads).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{read_object, settings};

/// Sluice catches a panic of the Parquet decoder and makes it an error of the row group
/// (docs/fuzzing.md, finding 2), but libfuzzer-sys's panic hook aborts at the panic itself,
/// caught or not. The default hook instead: a panic that escapes Sluice still ends the run as a
/// crash (libfuzzer-sys catches it at the end of the target and aborts).
static DEFAULT_PANIC_HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    DEFAULT_PANIC_HOOK.call_once(|| drop(std::panic::take_hook()));
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
