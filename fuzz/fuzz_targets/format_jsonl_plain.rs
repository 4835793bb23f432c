//! `jsonl` objects through the JSON fast path and the slow path: the same bytes and errors.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::jsonl_both_paths(data));
