//! `sluice validate`: checks worker and connector files by building what they would build.

use std::path::{Path, PathBuf};

use sluice_core::config;
use sluice_core::error_chain;

use super::{load_connector, load_worker};

/// Warnings about values a `.properties` file changed on reading (a dropped backslash, a line
/// continued by a trailing one); JSON files have no such trap.
fn escape_warnings(path: &Path) -> Vec<String> {
    let is_properties = path.extension().is_none_or(|e| e != "json");
    match std::fs::read_to_string(path) {
        Ok(text) if is_properties && !text.trim_start().starts_with('{') => {
            config::properties_escape_warnings(&text)
        }
        _ => Vec::new(),
    }
}

pub(super) fn validate(worker: Option<&Path>, connectors: &[PathBuf], connect: bool) -> bool {
    let mut ok = true;
    // The connectors' config provider references resolve with the worker's providers.
    let worker_cfg = worker.and_then(|w| load_worker(w).ok());
    let mut report = |what: &Path, r: sluice_core::Result<()>| {
        for w in escape_warnings(what) {
            println!("{}: WARNING {w}", what.display());
        }
        match r {
            Ok(()) => println!("{}: OK", what.display()),
            Err(e) => {
                ok = false;
                println!("{}: {}", what.display(), error_chain(&e));
            }
        }
    };
    if let Some(w) = worker {
        report(
            w,
            load_worker(w).and_then(|w| {
                let client = sluice_core::kafka::producer_config(
                    &w.bootstrap_servers,
                    &w.producer,
                    &Default::default(),
                );
                // librdkafka's message may echo a setting's value: never a secret.
                sluice_core::kafka::create_producer(&client).map_err(|e| {
                    sluice_core::Error::config(sluice_core::kafka::security::redact(
                        &error_chain(&e),
                        &w.security.secrets,
                    ))
                })?;
                // The offsets file must be writable before a record is sent (opening it reads it
                // and proves its directory writable; nothing is created).
                if let (Some(path), None) = (&w.offset_file, &w.offset_topic) {
                    sluice_core::offsets::FileOffsetStore::open(path)?;
                }
                if connect {
                    // The connectors' fixed topics: the client must be allowed to write them.
                    let topics: Vec<String> = connectors
                        .iter()
                        .filter_map(|c| load_connector(c, Some(&w)).ok()?.topic)
                        .collect();
                    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                    sluice_core::kafka::probe::check_connection(
                        &client,
                        &topics,
                        std::time::Duration::from_secs(10),
                        &w.security.secrets,
                    )?;
                }
                Ok(())
            }),
        );
    }
    for c in connectors {
        if let Ok(settings) = config::load_file(c) {
            for notice in config::aiven::notices(&settings) {
                println!("{}: NOTICE {notice}", c.display());
            }
        }
        report(
            c,
            load_connector(c, worker_cfg.as_ref()).and_then(|c| {
                // Build what the connector would build, so every problem shows up now.
                let mut problems = Vec::new();
                let registry = sluice_worker::registry::current();
                if let Err(e) = sluice_worker::registry::build_backend(&registry, &c) {
                    problems.push(format!("backend: {e}"));
                }
                if let Err(e) = sluice_worker::registry::build_transformer(&registry, &c) {
                    problems.push(format!("input.format {:?}: {e}", c.input_format));
                }
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(sluice_core::Error::Config {
                        context: None,
                        problems,
                    })
                }
            }),
        );
    }
    ok
}
