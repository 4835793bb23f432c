//! The offsets file (`offset.storage.file.filename`) as found at start.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_core::offsets::{FileOffsetStore, OffsetStore};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("offsets.jsonl");
    std::fs::write(&path, data).expect("write the offsets file");
    if let Ok(store) = FileOffsetStore::open(&path) {
        sluice_fuzz::block_on(async {
            for connector in store
                .connectors()
                .await
                .expect("connectors of a loaded store")
            {
                let _ = store
                    .list(&connector)
                    .await
                    .expect("entries of a loaded store");
            }
        });
    }
});
