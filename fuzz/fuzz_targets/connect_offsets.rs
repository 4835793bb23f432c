//! Records of Kafka Connect's offsets topic (key `["connector", {partition}]`, value the offset
//! map), decoded as the Kafka offsets store does, then read as an object's offset entry.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_core::offsets::{
    connect_offset_key, map_from_json, map_to_json, parse_connect_offset_key, ObjectOffsetEntry,
    OffsetManagerEntry,
};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (key, value) = data.split_at(split);
    let value = value.get(1..).unwrap_or_default();
    let Ok(key_json) = serde_json::from_slice::<serde_json::Value>(key) else {
        return;
    };
    let Ok((connector, partition)) = parse_connect_offset_key(&key_json) else {
        return;
    };
    // The canonical key is stable: decoding it again gives the same connector and partition.
    let canonical = connect_offset_key(&connector, &partition);
    let again: serde_json::Value = serde_json::from_str(&canonical).expect("canonical key is JSON");
    let (c2, p2) = parse_connect_offset_key(&again).expect("canonical key parses");
    assert_eq!((c2, &p2), (connector, &partition));
    let Ok(value_json) = serde_json::from_slice::<serde_json::Value>(value) else {
        return;
    };
    if let Ok(offset) = map_from_json(&value_json) {
        assert_eq!(
            map_from_json(&map_to_json(&offset)).ok().as_ref(),
            Some(&offset)
        );
        let entry = ObjectOffsetEntry::from_properties(partition, offset);
        let _ = entry.is_finished();
        let _ = entry.record_count();
        let _ = entry.etag();
    }
});
