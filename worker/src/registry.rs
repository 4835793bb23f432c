//! The registry of every key this build knows: the connector's own keys, then each backend's
//! (`sluice-sources`) and each format's (`sluice-transformers`), then the components a program
//! built on Sluice registered ([`Registry::with_backend`], [`Registry::with_format`],
//! [`Registry::with_converter`], [`Registry::with_transform`]) and [`install`]ed for its
//! process. Converters and transforms are looked up by class name through it, the built-in ones
//! and the registered ones alike. Config loading, `validate`, the REST API and
//! `sluice config-docs` all use [`current`]; a new built-in backend or format registers its keys
//! in its own crate's `keys()`, not here.

use std::sync::{Arc, OnceLock};

use sluice_core::config::{defs, providers, ConnectorConfig, Keys, Settings, WorkerConfig};
use sluice_core::config::{Registry, CONNECTOR_SETS};
use sluice_core::contract::ObjectBackend;
use sluice_core::transformer::Transformer;
use sluice_core::BoxError;

/// The registry [`install`]ed for this process.
static INSTALLED: OnceLock<Registry> = OnceLock::new();

/// Makes `registry` (usually [`builtin`] plus the program's own components) the registry of
/// this process: every later configuration check, connector build, REST answer and
/// `config-docs` uses it. Call it once, before anything reads a configuration.
///
/// # Errors
/// Gives `registry` back when a registry was installed already.
pub fn install(registry: Registry) -> Result<(), Box<Registry>> {
    INSTALLED.set(registry).map_err(Box::new)
}

/// The registry of this process: the [`install`]ed one, else [`builtin`].
pub fn current() -> Registry {
    INSTALLED.get().cloned().unwrap_or_else(builtin)
}

/// The worker file's `settings` checked with [`current`]'s converters: a converter the program
/// registered may be the worker's `key.converter`, `value.converter` or `header.converter`.
///
/// # Errors
/// [`sluice_core::Error::Config`] listing every problem.
pub fn worker_config(settings: &Settings) -> sluice_core::Result<WorkerConfig> {
    WorkerConfig::from_settings_in(&current(), settings, &providers::System)
}

/// The backend `config` selects: a registered component's constructor, or a built-in backend.
///
/// # Errors
/// The constructor's error, as built (its message says what to change).
pub fn build_backend(
    registry: &Registry,
    config: &ConnectorConfig,
) -> Result<Arc<dyn ObjectBackend>, BoxError> {
    match registry.backend_factory(config.store.backend) {
        Some(build) => Ok(build(&Keys::new(registry, &config.settings))?),
        None => Ok(sluice_sources::build_backend(config)?),
    }
}

/// The transformer of `config`'s `input.format`: a registered component's constructor, or a
/// built-in format.
///
/// # Errors
/// As [`build_backend`].
pub fn build_transformer(
    registry: &Registry,
    config: &ConnectorConfig,
) -> Result<Arc<dyn Transformer>, BoxError> {
    match registry.format_factory(&config.input_format) {
        Some(build) => Ok(build(&Keys::new(registry, &config.settings))?),
        None => Ok(sluice_transformers::build_from_config(config)?),
    }
}

/// Every key set of this build.
///
/// # Panics
/// Never in a released build: two components declaring the same key is a programming error that
/// the tests below catch.
pub fn builtin() -> Registry {
    Registry::new(
        CONNECTOR_SETS
            .into_iter()
            .chain(sluice_sources::keys())
            .chain(sluice_transformers::keys()),
    )
    .expect("no two components declare the same key (tested)")
}

/// The configuration reference (`docs/config.md`), from [`current`]: the built-ins' keys and
/// those of the components installed for this process.
pub fn reference_markdown() -> String {
    defs::reference_markdown(&current())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::config::ConnectorConfig;

    #[test]
    fn no_two_components_declare_the_same_key() {
        let sets = CONNECTOR_SETS
            .into_iter()
            .chain(sluice_sources::keys())
            .chain(sluice_transformers::keys());
        if let Err(e) = Registry::new(sets) {
            panic!("{e}");
        }
    }

    #[test]
    fn lists_come_from_the_registry() {
        let r = builtin();
        assert_eq!(
            r.formats(),
            ["jsonl", "bytes", "json", "csv", "text", "avro", "parquet"]
        );
        assert_eq!(
            r.connector_classes(),
            [
                "local",
                "s3",
                "gcs",
                "azure",
                "io.aiven.kafka.connect.s3.source.S3SourceConnector",
                "io.aiven.kafka.connect.s3.S3SourceConnector",
                "io.lenses.streamreactor.connect.aws.s3.source.S3SourceConnector",
                "io.aiven.kafka.connect.azure.source.AzureBlobSourceConnector",
            ]
        );
        assert_eq!(
            r.backend_of("io.aiven.kafka.connect.s3.source.S3SourceConnector"),
            Some("s3")
        );
    }

    #[test]
    fn a_backends_key_is_documented_under_its_backend() {
        let doc = reference_markdown();
        let section = |title: &str| {
            let start = doc
                .find(&format!("## {title}\n"))
                .unwrap_or_else(|| panic!("{title}"));
            let rest = &doc[start + 3..];
            rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
        };
        assert!(section("Backend `s3`").contains("| `aws.s3.bucket.name` |"));
        assert!(section("Backend `local`").contains("| `local.file.min.age.ms` |"));
        assert!(!section("Connector keys").contains("`aws.s3.bucket.name`"));
        assert!(section("Backend `azure`").contains("| `object_store.*` |"));
    }

    #[test]
    fn an_unknown_key_suggests_the_closest_of_any_component() {
        let s: Settings = [
            ("name", "c"),
            ("connector.class", "s3"),
            ("topic", "t"),
            ("aws.s3.bucket.nam", "b"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let err = ConnectorConfig::from_settings(&builtin(), &s)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("aws.s3.bucket.nam: unknown key; did you mean \"aws.s3.bucket.name\"?"),
            "{err}"
        );
    }

    #[test]
    fn reference_docs_are_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/config.md");
        let expected = reference_markdown();
        if std::env::var_os("SLUICE_UPDATE_DOCS").is_some() {
            std::fs::write(path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/config.md is out of date: run `cargo run -- config-docs > docs/config.md` (or SLUICE_UPDATE_DOCS=1 cargo test -p sluice-worker registry)"
        );
    }
}
