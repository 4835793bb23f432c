//! Connector configuration files (Java properties and Connect's JSON), loaded and checked
//! against every key of this build as `sluice run` / `validate` do.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sluice_core::config::{
    parse_json, parse_properties, ConnectorConfig, Registry, CONNECTOR_SETS,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let registry = Registry::new(
        CONNECTOR_SETS
            .into_iter()
            .chain(sluice_sources::keys())
            .chain(sluice_transformers::keys()),
    )
    .expect("the built-in registry");
    for parsed in [parse_properties(text), parse_json(text)] {
        if let Ok(settings) = parsed {
            if let Ok(config) = ConnectorConfig::from_settings(&registry, &settings) {
                let _ = sluice_transformers::build_from_config(&config);
            }
        }
    }
});
