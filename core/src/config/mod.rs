//! Configuration: Kafka Connect style flat `key=value` files, validated strictly.
//!
//! Every key is declared once, by the component that reads it, with its type, default and
//! documentation: the connector's own keys in [`defs`], each backend's in `sluice-sources`, each
//! format's in `sluice-transformers`; a [`Registry`] collects them. Unknown keys are rejected with
//! the nearest valid key; every problem in a file is reported at once.

pub mod aiven;
mod backend;
mod components;
pub mod defs;
mod escapes;
pub mod kcql;
mod plugins;
pub mod providers;
pub mod registry;
mod resolve;
mod routing;
mod topic;
pub mod topic_creation;
mod worker;

pub use escapes::properties_escape_warnings;
pub use topic::{topic_name_problem, MAX_TOPIC_LENGTH};
pub use worker::WorkerConfig;

pub use backend::{
    post_read_problems, EnvelopeKind, EnvelopeSettings, FieldEncoding, OverwritePolicy, PostRead,
    PostReadSettings, RetrySettings, StoreSettings, OBJECT_STORE_PREFIX,
};
pub use components::{BackendFactory, FormatFactory};
pub use plugins::{ConverterFactory, TransformFactory};
pub use registry::{CheckFn, KeySet, Keys, Owner, Registry};
pub use routing::{RateLimitSettings, RATE_LIMITS, RATE_LIMIT_KEYS, ROUTING, ROUTING_KEYS};
pub use topic_creation::{TopicCreationGroup, TopicCreationSettings, TOPIC_CREATION};

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use crate::distribution::DistributionType;
use crate::error::{Error, Result};
use crate::template::{FileNameTemplate, Placeholder};
use defs::{KeyDef, Kind};

/// The key sets every connector reads, whatever its backend and format: its own keys, the
/// routing's, the rate limits', topic creation's and the Aiven compatibility keys.
pub const CONNECTOR_SETS: [KeySet; 5] = [
    defs::CONNECTOR,
    ROUTING,
    RATE_LIMITS,
    TOPIC_CREATION,
    aiven::AIVEN,
];

/// Flat settings as read from a file.
pub type Settings = BTreeMap<String, String>;

/// Reads a `.properties` file, or a JSON file holding either Kafka Connect's REST body
/// `{"name": ..., "config": {...}}` or a flat object of settings. A `name` outside `config` is
/// copied into the settings.
pub fn load_file(path: &Path) -> Result<Settings> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read config file {}", path.display()), e))?;
    let is_json =
        path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    let parsed = if is_json {
        parse_json(&text)
    } else {
        parse_properties(&text)
    };
    parsed.map_err(|e| match e {
        Error::Config { problems, .. } => Error::Config {
            context: Some(path.display().to_string()),
            problems,
        },
        other => other,
    })
}

/// Parses Java `.properties` text.
pub fn parse_properties(text: &str) -> Result<Settings> {
    let map = java_properties::read(text.as_bytes())
        .map_err(|e| Error::config(format!("not a valid .properties file: {e}")))?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

/// Parses Connect's JSON connector body, or a flat JSON object of settings.
pub fn parse_json(text: &str) -> Result<Settings> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::config(format!("not valid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| Error::config("expected a JSON object"))?;
    let (flat, name) = match obj.get("config") {
        Some(serde_json::Value::Object(c)) => (c, obj.get("name")),
        Some(_) => {
            return Err(Error::config(
                "\"config\" must be a JSON object of settings",
            ))
        }
        None => (obj, None),
    };
    let mut out = Settings::new();
    let mut problems = Vec::new();
    for (k, v) in flat {
        match v {
            serde_json::Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            serde_json::Value::Number(n) => {
                out.insert(k.clone(), n.to_string());
            }
            serde_json::Value::Bool(b) => {
                out.insert(k.clone(), b.to_string());
            }
            other => problems.push(format!(
                "{k}: expected a string, number or boolean, got {other}"
            )),
        }
    }
    if let Some(serde_json::Value::String(n)) = name {
        if let Some(inner) = out.get("name").filter(|inner| *inner != n) {
            problems.push(format!(
                "name: the body says {n:?} but config.name says {inner:?}; make them equal"
            ));
        }
        out.insert("name".into(), n.clone());
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Config {
            context: None,
            problems,
        })
    }
}

/// The problem lines of a nested configuration error, each prefixed with `key`.
fn inner_problems(key: &str, e: Error) -> Vec<String> {
    match e {
        Error::Config { problems, .. } => problems
            .into_iter()
            .map(|p| format!("{key}: {p}"))
            .collect(),
        other => vec![format!("{key}: {other}")],
    }
}

/// A secret-safe rendering of a value for messages.
fn shown(def: &KeyDef, value: &str) -> String {
    if def.kind == Kind::Password {
        "[hidden]".into()
    } else {
        format!("{value:?}")
    }
}

/// The nearest of `candidates` to `word`, if close enough to be a useful suggestion.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn parse_bool(v: &str) -> std::result::Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{v:?} is not a boolean; expected true or false")),
    }
}

/// Problems of the converter `which` (`key.converter` / `value.converter`) and its settings.
fn converter_problems(r: &Keys<'_>, which: &str) -> Result<Vec<String>> {
    let class = r.raw(which)?.unwrap_or_default();
    let settings = r.prefixed(&format!("{which}."));
    let is_key = which == "key.converter";
    Ok(
        match r
            .registry()
            .build_converter(which, class, &settings, is_key)
        {
            Ok(_) => Vec::new(),
            // The converter's own messages already name the full key.
            Err(Error::Config { problems, .. }) => problems,
            Err(e) => vec![format!("{which}: {e}")],
        },
    )
}

/// Problems of `header.converter` and its settings (none when it is unset and has none).
fn header_converter_problems(r: &Keys<'_>) -> Result<Vec<String>> {
    let settings = r.prefixed("header.converter.");
    let class = match r.raw("header.converter")? {
        Some(class) => class,
        None if settings.is_empty() => return Ok(Vec::new()),
        None => crate::convert::SIMPLE_HEADER_CONVERTER,
    };
    Ok(
        match r.registry().build_header_converter(class, &settings) {
            Ok(_) => Vec::new(),
            Err(Error::Config { problems, .. }) => problems,
            Err(e) => vec![format!("header.converter: {e}")],
        },
    )
}

/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorsTolerance {
    /// Stop the task at the first bad record.
    None,
    /// Skip bad records, count and log them.
    All,
}

/// `record.timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordTimestamp {
    /// The object's last-modified time.
    ObjectLastModified,
    /// Let the producer stamp the record.
    None,
}

/// `transaction.boundary`: when an exactly-once task commits its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBoundary {
    /// `poll`: after every batch the task polled (when the source has nothing more right now,
    /// or after `max.poll.records` records).
    Poll,
    /// `object`: at the end of every object (an object's records and its finished offset
    /// commit together).
    Object,
    /// `interval`: every `transaction.boundary.interval.ms`.
    Interval,
}

impl TransactionBoundary {
    /// Every boundary, in the order `defs` lists their names.
    pub const ALL: [TransactionBoundary; 3] = [
        TransactionBoundary::Poll,
        TransactionBoundary::Object,
        TransactionBoundary::Interval,
    ];

    /// The configuration name (`"poll"`, `"object"`, `"interval"`).
    pub fn name(self) -> &'static str {
        match self {
            TransactionBoundary::Poll => "poll",
            TransactionBoundary::Object => "object",
            TransactionBoundary::Interval => "interval",
        }
    }
}

impl FromStr for TransactionBoundary {
    type Err = Error;

    /// Parses the configuration name exactly; anything else is an error (never a default).
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                Error::config(format!(
                    "transaction.boundary: unknown value {s:?}; expected one of {}",
                    Self::ALL.map(|b| b.name()).join(", ")
                ))
            })
    }
}

/// A converter choice with its settings.
#[derive(Clone, PartialEq)]
pub struct ConverterConfig {
    /// Class name or alias.
    pub class: String,
    /// Settings under the converter's prefix, prefix removed.
    pub settings: Settings,
}

impl std::fmt::Debug for ConverterConfig {
    /// Secret settings (a Schema Registry's credentials) are hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Settings = self
            .settings
            .iter()
            .map(|(k, v)| {
                let v = if crate::convert::registry::is_secret_setting(k) {
                    "[hidden]".to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        f.debug_struct("ConverterConfig")
            .field("class", &self.class)
            .field("settings", &shown)
            .finish()
    }
}

/// A comma-separated list, items trimmed, empty items dropped.
fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A validated connector configuration.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// `name`.
    pub name: String,
    /// `connector.class`.
    pub connector_class: String,
    /// `tasks.max`.
    pub tasks_max: u32,
    /// `topic`.
    pub topic: Option<String>,
    /// `file.name.template`.
    pub file_name_template: Option<FileNameTemplate>,
    /// `file.name.template.match`.
    pub template_match: crate::matcher::MatchMode,
    /// `native.start.key`: only objects whose key sorts after it are read.
    pub native_start_key: Option<String>,
    /// `distribution.type`.
    pub distribution_type: DistributionType,
    /// `input.format`.
    pub input_format: String,
    /// `errors.tolerance`.
    pub errors_tolerance: ErrorsTolerance,
    /// `errors.log.enable`.
    pub errors_log_enable: bool,
    /// `errors.log.include.messages`.
    pub errors_log_include_messages: bool,
    /// `errors.deadletterqueue.topic.name`.
    pub dlq_topic: Option<String>,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub dlq_context_headers: bool,
    /// `exactly.once.support=required`.
    pub exactly_once_required: bool,
    /// `transaction.boundary`.
    pub transaction_boundary: TransactionBoundary,
    /// `transaction.boundary.interval.ms`.
    pub transaction_boundary_interval_ms: Option<u64>,
    /// `max.poll.records`.
    pub max_poll_records: usize,
    /// `object.in.flight.max`.
    pub max_objects_in_flight: usize,
    /// `record.key`, `record.partition`, `topic.regex.list` and their options.
    pub routing: crate::routing::Routing,
    /// `max.records.per.second`, `max.bytes.per.second`.
    pub rate_limits: RateLimitSettings,
    /// `record.timestamp`.
    pub record_timestamp: RecordTimestamp,
    /// `record.headers.enable`.
    pub record_headers: bool,
    /// `key.converter` (+ `key.converter.*`) when overridden for this connector.
    pub key_converter: Option<ConverterConfig>,
    /// `value.converter` (+ `value.converter.*`) when overridden for this connector.
    pub value_converter: Option<ConverterConfig>,
    /// `header.converter` (+ `header.converter.*`) when overridden for this connector.
    pub header_converter: Option<ConverterConfig>,
    /// `producer.override.*`, prefix removed.
    pub producer_overrides: Settings,
    /// `transforms` and `predicates`: the single message transforms, built and checked.
    pub transforms: crate::transforms::TransformChain,
    /// `input.envelope.*`: restoring records a sink connector wrote.
    pub envelope: EnvelopeSettings,
    /// `topic.creation.*` (KIP-158): how the topics the connector writes to are created;
    /// `None` when no `topic.creation.` key is set.
    pub topic_creation: Option<TopicCreationSettings>,
    /// The object store: which backend, read concurrency, overwrite policy, listing, retries.
    pub store: StoreSettings,
    /// Every setting, config provider references resolved, for the backend and the format to
    /// read their own keys.
    pub settings: Settings,
    /// Every setting as written (config provider references unresolved): what is stored and
    /// what the REST API shows.
    pub raw: Settings,
}

impl ConnectorConfig {
    /// Validates `settings` against the keys `registry` declares, reporting every problem at
    /// once.
    ///
    /// # Errors
    /// [`Error::Config`] listing every problem.
    pub fn from_settings(registry: &Registry, settings: &Settings) -> Result<Self> {
        // Lenses' `connect.s3.kcql` and `connect.s3.*` keys stand for Sluice's.
        let translated = kcql::translate(settings).map_err(|e| Error::Config {
            context: settings.get("name").map(|n| format!("connector {n:?}")),
            problems: vec![format!("connect.s3.kcql: {e}")],
        })?;
        let settings = translated.as_ref().unwrap_or(settings);
        // Aiven's deprecated S3 names stand for the new ones when those are unset.
        let mut renamed = None;
        for (old, new) in aiven::DEPRECATED_NAMES {
            if let (Some(v), false) = (settings.get(*old), settings.contains_key(*new)) {
                renamed
                    .get_or_insert_with(|| settings.clone())
                    .insert((*new).to_owned(), v.clone());
            }
        }
        // Aiven's connector reads these values in any case (`OBJECT_HASH`, `JSONL`, `ALL`).
        for key in aiven::CASE_INSENSITIVE {
            if let Some(v) = settings
                .get(*key)
                .filter(|v| v.chars().any(char::is_uppercase))
            {
                let lower = v.to_ascii_lowercase();
                renamed
                    .get_or_insert_with(|| settings.clone())
                    .insert((*key).to_owned(), lower);
            }
        }
        let settings = renamed.as_ref().unwrap_or(settings);
        // The selected backend's checks read raw strings only, so they run with the key checks.
        let mut problems = registry.check_keys(settings);
        let r = Keys::new(registry, settings);
        if !problems.is_empty() {
            return Err(Error::Config {
                context: settings.get("name").map(|n| format!("connector {n:?}")),
                problems,
            });
        }
        let template = match r.string("file.name.template")? {
            Some(t) => match FileNameTemplate::parse(&t) {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.extend(inner_problems("file.name.template", e));
                    None
                }
            },
            None => None,
        };
        let topic = r.string("topic")?;
        for key in ["topic", "errors.deadletterqueue.topic.name"] {
            if let Some(problem) = r.raw(key)?.and_then(topic_name_problem) {
                problems.push(format!("{key}: {problem}"));
            }
        }
        let template_has_topic = template.as_ref().is_some_and(|t| t.has(Placeholder::Topic));
        if topic.is_none() && !template_has_topic && r.raw("topic.regex.list")?.is_none() {
            problems.push(
                "topic: required (or use {{topic}} in file.name.template, or topic.regex.list); the topic records are written to"
                    .into(),
            );
        }
        let routing = match routing::routing(&r, template.as_ref(), topic.is_some())? {
            Ok(routing) => routing,
            Err(p) => {
                problems.extend(p);
                Default::default()
            }
        };
        let distribution_type =
            DistributionType::from_str(r.raw("distribution.type")?.unwrap_or("object_hash"))?;
        if let Err(e) = crate::distribution::validate(distribution_type, template.as_ref()) {
            problems.extend(inner_problems("distribution.type", e));
        }
        if r.raw("errors.deadletterqueue.topic.name")?.is_some()
            && r.raw("errors.tolerance")? != Some("all")
        {
            problems.push(
                "errors.deadletterqueue.topic.name: set, but errors.tolerance is none, so no record would ever go there; set errors.tolerance=all"
                    .into(),
            );
        }
        let transaction_boundary =
            TransactionBoundary::from_str(r.raw("transaction.boundary")?.unwrap_or_default())?;
        let connector_class = r.string("connector.class")?.unwrap_or_default();
        problems.extend(registry.component_problems(settings));
        for which in ["key.converter", "value.converter"] {
            if r.raw(which)?.is_some() {
                problems.extend(converter_problems(&r, which)?);
            }
        }
        problems.extend(header_converter_problems(&r)?);
        let transforms =
            match crate::transforms::TransformChain::from_settings_with(settings, registry) {
                Ok(chain) => chain,
                // Each problem already names its full key.
                Err(Error::Config { problems: p, .. }) => {
                    problems.extend(p);
                    Default::default()
                }
                Err(e) => {
                    problems.push(format!("transforms: {e}"));
                    Default::default()
                }
            };
        let topic_creation = match topic_creation::topic_creation(&r)? {
            Ok(t) => t,
            Err(p) => {
                problems.extend(p);
                None
            }
        };
        let converter = |which: &str| {
            r.raw(which).ok().flatten().map(|class| ConverterConfig {
                class: class.to_owned(),
                settings: r.prefixed(&format!("{which}.")),
            })
        };
        if !problems.is_empty() {
            return Err(Error::Config {
                context: settings.get("name").map(|n| format!("connector {n:?}")),
                problems,
            });
        }
        Ok(ConnectorConfig {
            name: r.string("name")?.unwrap_or_default(),
            connector_class,
            tasks_max: r.int("tasks.max")? as u32,
            topic,
            file_name_template: template,
            template_match: crate::matcher::MatchMode::from_config(
                r.raw("file.name.template.match")?.unwrap_or("aiven"),
            )
            .unwrap_or_default(),
            native_start_key: r.string("native.start.key")?,
            distribution_type,
            input_format: r.string("input.format")?.unwrap_or_default(),
            errors_tolerance: match r.raw("errors.tolerance")? {
                Some("all") => ErrorsTolerance::All,
                _ => ErrorsTolerance::None,
            },
            errors_log_enable: r.bool("errors.log.enable")?,
            errors_log_include_messages: r.bool("errors.log.include.messages")?,
            dlq_topic: r.string("errors.deadletterqueue.topic.name")?,
            dlq_context_headers: r.bool("errors.deadletterqueue.context.headers.enable")?,
            exactly_once_required: r.raw("exactly.once.support")? == Some("required"),
            transaction_boundary,
            transaction_boundary_interval_ms: r
                .raw("transaction.boundary.interval.ms")?
                .and_then(|v| v.parse().ok()),
            max_poll_records: r.int("max.poll.records")? as usize,
            max_objects_in_flight: r.int("object.in.flight.max")? as usize,
            routing,
            rate_limits: routing::rate_limits(&r)?,
            record_timestamp: match r.raw("record.timestamp")? {
                Some("none") => RecordTimestamp::None,
                _ => RecordTimestamp::ObjectLastModified,
            },
            record_headers: r.bool("record.headers.enable")?,
            key_converter: converter("key.converter"),
            value_converter: converter("value.converter"),
            header_converter: converter("header.converter"),
            producer_overrides: r.prefixed("producer.override."),
            transforms,
            envelope: EnvelopeSettings::read(&r)?,
            topic_creation,
            store: StoreSettings::read(&r)?,
            settings: settings.clone(),
            raw: settings.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
