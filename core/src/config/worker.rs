//! [`WorkerConfig`]: the worker file's settings (Kafka, offsets, converters, producer and
//! security settings, config providers), validated.

use super::{
    converter_problems, defs, header_converter_problems, providers, ConverterConfig, Keys,
    Registry, Settings,
};
use crate::error::{Error, Result};

/// A validated worker configuration (standalone mode).
#[derive(Clone)]
pub struct WorkerConfig {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `offset.storage.file.filename`.
    pub offset_file: Option<String>,
    /// `offset.storage.topic`.
    pub offset_topic: Option<String>,
    /// `offset.storage.partitions`.
    pub offset_topic_partitions: i32,
    /// `offset.storage.replication.factor`.
    pub offset_topic_replication: i32,
    /// `offset.storage.missing=create`.
    pub offset_create_missing: bool,
    /// `offset.flush.interval.ms`.
    pub offset_flush_interval_ms: u64,
    /// `offset.flush.continuous`.
    pub offset_flush_continuous: bool,
    /// `task.shutdown.graceful.timeout.ms`.
    pub shutdown_timeout_ms: u64,
    /// `exactly.once.source.support=enabled`.
    pub exactly_once_enabled: bool,
    /// `topic.creation.enable`: connectors with `topic.creation.*` keys create their topics.
    pub topic_creation_enable: bool,
    /// `key.converter` with its settings.
    pub key_converter: ConverterConfig,
    /// `value.converter` with its settings.
    pub value_converter: ConverterConfig,
    /// `header.converter` with its settings.
    pub header_converter: ConverterConfig,
    /// The producers' librdkafka settings: [`WorkerConfig::security`]'s, then `kafka.*` and
    /// `producer.*`.
    pub producer: Settings,
    /// The security settings every Kafka client gets (`security.protocol`, `ssl.*`, `sasl.*`
    /// translated to librdkafka's names), with the secrets among them.
    pub security: crate::kafka::security::ClientSecurity,
    /// `config.providers` and `config.providers.*`: the config providers connectors'
    /// `producer.override.*` values may reference too.
    pub config_providers: Settings,
}

impl WorkerConfig {
    /// A connector's `producer.override.*` settings (prefix removed) as librdkafka takes them:
    /// `${file:...}` / `${env:...}` references resolved with this worker's config providers
    /// (so the connector's configuration, as the REST API shows it, holds no secret), and
    /// Kafka Connect's security keys translated as the worker's are.
    ///
    /// # Errors
    /// [`Error::Config`] listing every problem, each naming its `producer.override.` key.
    pub fn producer_overrides(&self, overrides: &Settings) -> Result<Settings> {
        let problems = |p: Vec<String>| Error::Config {
            context: Some("producer.override.*".into()),
            problems: p
                .into_iter()
                .map(|p| format!("producer.override.{p}"))
                .collect(),
        };
        let mut with_providers = self.config_providers.clone();
        with_providers.extend(overrides.clone());
        let resolved = providers::resolve(&with_providers, &providers::System).map_err(problems)?;
        let mut out: Settings = resolved
            .into_iter()
            .filter(|(k, _)| overrides.contains_key(k))
            .collect();
        let security_keys =
            |k: &str| k == "security.protocol" || k.starts_with("ssl.") || k.starts_with("sasl.");
        if out.keys().any(|k| security_keys(k)) {
            let security: Settings = out
                .iter()
                .filter(|(k, _)| security_keys(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut translated =
                crate::kafka::security::client_settings(&security).map_err(problems)?;
            // The system CAs are only the default when no CA is given, the worker's included.
            let worker_ca = ["ssl.ca.location", "ssl.ca.pem", "ssl.ca.certificate.stores"]
                .iter()
                .any(|k| self.security.settings.contains_key(*k));
            if worker_ca
                && translated
                    .settings
                    .get("ssl.ca.location")
                    .map(String::as_str)
                    == Some("probe")
            {
                translated.settings.remove("ssl.ca.location");
            }
            out.retain(|k, _| !security_keys(k));
            out.extend(translated.settings);
        }
        Ok(out)
    }
}

impl std::fmt::Debug for WorkerConfig {
    /// Every field but secrets: the values of secret librdkafka settings are hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let producer: Settings = self
            .producer
            .iter()
            .map(|(k, v)| (k.clone(), crate::kafka::security::redact_value(k, v)))
            .collect();
        f.debug_struct("WorkerConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("offset_file", &self.offset_file)
            .field("offset_topic", &self.offset_topic)
            .field("exactly_once_enabled", &self.exactly_once_enabled)
            .field("key_converter", &self.key_converter)
            .field("value_converter", &self.value_converter)
            .field("producer", &producer)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl WorkerConfig {
    /// Validates `settings`, reporting every problem at once. Its converters are the built-in
    /// ones; [`WorkerConfig::from_settings_in`] also accepts a registry's.
    ///
    /// # Errors
    /// [`Error::Config`] listing every problem.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        Self::from_settings_with(settings, &providers::System)
    }

    /// [`WorkerConfig::from_settings`], with config provider references (`${file:...}`,
    /// `${env:...}`) read through `lookup`.
    ///
    /// # Errors
    /// [`Error::Config`] listing every problem.
    pub fn from_settings_with(settings: &Settings, lookup: &dyn providers::Lookup) -> Result<Self> {
        Self::from_settings_in(&Registry::new([])?, settings, lookup)
    }

    /// [`WorkerConfig::from_settings_with`], where `key.converter`, `value.converter` and
    /// `header.converter` may also name a converter registered in `plugins`
    /// ([`Registry::with_converter`]).
    ///
    /// # Errors
    /// [`Error::Config`] listing every problem.
    pub fn from_settings_in(
        plugins: &Registry,
        settings: &Settings,
        lookup: &dyn providers::Lookup,
    ) -> Result<Self> {
        let worker_problems = |problems| Error::Config {
            context: Some("worker".into()),
            problems,
        };
        let settings = &providers::resolve(settings, lookup).map_err(worker_problems)?;
        let registry = plugins.with_sets([defs::WORKER])?;
        let mut problems = registry.check_keys(settings);
        let r = Keys::new(&registry, settings);
        if problems.is_empty() {
            for which in ["key.converter", "value.converter"] {
                problems.extend(converter_problems(&r, which)?);
            }
            problems.extend(header_converter_problems(&r)?);
        }
        let security = match crate::kafka::security::client_settings(settings) {
            Ok(s) => s,
            Err(p) => {
                problems.extend(p);
                Default::default()
            }
        };
        if !problems.is_empty() {
            // A librdkafka setting's own message may echo a value: never a secret.
            let problems = problems
                .iter()
                .map(|p| crate::kafka::security::redact(p, &security.secrets))
                .collect();
            return Err(worker_problems(problems));
        }
        for line in &security.ignored {
            tracing::warn!("worker file: {line}");
        }
        let mut producer = security.settings.clone();
        producer.extend(r.prefixed("kafka."));
        producer.extend(r.prefixed("producer."));
        let converter = |which: &str| -> Result<ConverterConfig> {
            Ok(ConverterConfig {
                class: r.string(which)?.unwrap_or_default(),
                settings: r.prefixed(&format!("{which}.")),
            })
        };
        Ok(WorkerConfig {
            bootstrap_servers: r.string("bootstrap.servers")?.unwrap_or_default(),
            offset_file: r.string("offset.storage.file.filename")?,
            offset_topic: r.string("offset.storage.topic")?,
            offset_topic_partitions: r.int("offset.storage.partitions")? as i32,
            offset_topic_replication: r.int("offset.storage.replication.factor")? as i32,
            offset_create_missing: r.raw("offset.storage.missing")? != Some("fail"),
            offset_flush_interval_ms: r.int("offset.flush.interval.ms")? as u64,
            offset_flush_continuous: r.bool("offset.flush.continuous")?,
            shutdown_timeout_ms: r.int("task.shutdown.graceful.timeout.ms")? as u64,
            exactly_once_enabled: r.raw("exactly.once.source.support")? == Some("enabled"),
            topic_creation_enable: r.bool("topic.creation.enable")?,
            key_converter: converter("key.converter")?,
            value_converter: converter("value.converter")?,
            header_converter: converter("header.converter")?,
            producer,
            security,
            config_providers: settings
                .iter()
                .filter(|(k, _)| k.starts_with("config.providers"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}
