//! Config provider references (`${file:...}`, `${env:...}`) in every connector value, as Kafka
//! Connect resolves them (`WorkerConfigTransformer`): with the providers the worker declares,
//! when the connector is validated and built; the configuration stays as written
//! ([`ConnectorConfig::raw`]) for storage and the REST API, so a secret referenced is never
//! shown there.

use super::providers::{self, Lookup};
use super::{ConnectorConfig, Registry, Settings, WorkerConfig};
use crate::error::{Error, Result};

/// True when `value` holds a `${provider:...}` reference.
fn has_reference(value: &str) -> bool {
    value
        .find("${")
        .is_some_and(|start| value[start..].contains(':') && value[start..].contains('}'))
}

impl ConnectorConfig {
    /// [`ConnectorConfig::from_settings`] after replacing every `${provider:...}` reference in
    /// `settings` with its value, read with the config providers `worker` declares
    /// (`config.providers`); [`ConnectorConfig::raw`] keeps `settings` as written. Without a
    /// worker (`sluice validate` of a connector file alone) no provider is declared, so a
    /// reference is a problem naming its key.
    ///
    /// # Errors
    /// [`Error::Config`] listing every problem: a reference that cannot be resolved (naming the
    /// key, never a resolved value), then the resolved configuration's.
    pub fn from_settings_resolved(
        registry: &Registry,
        settings: &Settings,
        worker: Option<&WorkerConfig>,
    ) -> Result<Self> {
        Self::resolve_with(registry, settings, worker, &providers::System)
    }

    /// [`ConnectorConfig::from_settings_resolved`] reading files and variables through
    /// `lookup`.
    ///
    /// # Errors
    /// As [`ConnectorConfig::from_settings_resolved`].
    pub fn resolve_with(
        registry: &Registry,
        settings: &Settings,
        worker: Option<&WorkerConfig>,
        lookup: &dyn Lookup,
    ) -> Result<Self> {
        if !settings.values().any(|v| has_reference(v)) {
            return Self::from_settings(registry, settings);
        }
        let declared = worker
            .map(|w| w.config_providers.clone())
            .unwrap_or_default();
        let mut with_providers = declared.clone();
        with_providers.extend(
            settings
                .iter()
                .filter(|(k, _)| !declared.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let resolved =
            providers::resolve(&with_providers, lookup).map_err(|problems| Error::Config {
                context: settings.get("name").map(|n| format!("connector {n:?}")),
                problems,
            })?;
        let resolved: Settings = resolved
            .into_iter()
            .filter(|(k, _)| settings.contains_key(k))
            .collect();
        let mut config = Self::from_settings(registry, &resolved)?;
        config.raw = settings.clone();
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeySet, Owner, CONNECTOR_SETS};

    const LOCAL: KeySet = KeySet {
        owner: Owner::Backend {
            name: "local",
            classes: &[],
        },
        doc: "Test backend.",
        keys: &[
            crate::config::defs::key(
                "local.file.min.age.ms",
                crate::config::defs::Kind::Int {
                    min: 0,
                    max: i64::MAX,
                },
                "5000",
                "Age.",
            ),
            crate::config::defs::key(
                "local.file.ignore.patterns",
                crate::config::defs::Kind::List,
                "*.tmp",
                "Ignored.",
            ),
        ],
        prefixes: &[],
        check: None,
    };

    struct Fake;

    impl Lookup for Fake {
        fn file(&self, path: &str) -> std::io::Result<String> {
            match path {
                "/secrets.properties" => Ok("topic=from-file\n".into()),
                _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
            }
        }
        fn env(&self, name: &str) -> Option<String> {
            (name == "TASKS").then(|| "3".into())
        }
    }

    fn s(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_value_resolves_and_raw_keeps_the_reference() {
        let worker = WorkerConfig::from_settings(&s(&[
            ("bootstrap.servers", "b:9092"),
            ("config.providers", "file,env"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
            (
                "config.providers.env.class",
                "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            ),
        ]))
        .unwrap();
        let registry = Registry::new(CONNECTOR_SETS.into_iter().chain([LOCAL])).unwrap();
        let settings = s(&[
            ("name", "c"),
            ("connector.class", "local"),
            ("topic", "${file:/secrets.properties:topic}"),
            ("tasks.max", "${env:TASKS}"),
        ]);
        let c = ConnectorConfig::resolve_with(&registry, &settings, Some(&worker), &Fake);
        let c = match c {
            Ok(c) => c,
            Err(e) => {
                let text = e.to_string();
                assert!(!text.contains("from-file"), "{text}");
                panic!("{text}");
            }
        };
        assert_eq!(c.topic.as_deref(), Some("from-file"));
        assert_eq!(c.tasks_max, 3);
        assert_eq!(c.settings["topic"], "from-file");
        assert_eq!(c.raw, settings, "as written");

        let err = ConnectorConfig::resolve_with(&registry, &settings, None, &Fake)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("topic: ${file:...}: no config provider \"file\" is declared"),
            "{err}"
        );
        let plain = s(&[("name", "c"), ("connector.class", "local"), ("topic", "t")]);
        let c = ConnectorConfig::resolve_with(&registry, &plain, None, &Fake).unwrap();
        assert_eq!(c.raw, plain);
    }
}
