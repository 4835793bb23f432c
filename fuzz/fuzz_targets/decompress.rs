//! Every decompressor (`file.compression.type`), reading the decompressed bytes as `jsonl`
//! lines and as `bytes` chunks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{read_object, settings};

const CODECS: [&str; 8] = [
    "gzip", "zstd", "snappy", "bzip2", "lz4", "deflate", "auto", "none",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, object)) = data.split_first() else {
        return;
    };
    let codec = CODECS[usize::from(mode & 7)];
    let format = if mode & 8 == 8 { "bytes" } else { "jsonl" };
    let s = settings(&[("file.compression.type", codec)]);
    read_object(format, &s, "object", object, 0);
});
