//! Converters: Connect data to the exact bytes Kafka Connect's own converters write.
//!
//! * [`JsonConverter`] — `org.apache.kafka.connect.json.JsonConverter` (JSON, with the
//!   `{"schema":...,"payload":...}` envelope when `schemas.enable=true`);
//! * [`StringConverter`] — `org.apache.kafka.connect.storage.StringConverter` (Java `toString()`
//!   as UTF-8);
//! * [`ByteArrayConverter`] — `org.apache.kafka.connect.converters.ByteArrayConverter` (bytes
//!   passed through);
//! * [`RegistryConverter`] — Confluent's `io.confluent.connect.avro.AvroConverter` and
//!   `io.confluent.connect.json.JsonSchemaConverter`, with a Schema Registry (see [`registry`]).
//!
//! [`converter_from_config`] builds one from the `key.converter` / `value.converter` class name and
//! its settings; [`converter_settings`] lists the settings each class accepts.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::data::SchemaAndValue;
use crate::error::{Error, Result};

mod bytes;
mod header;
mod json;
mod number;
pub(crate) mod protobuf;
pub mod registry;
mod string;

pub use bytes::ByteArrayConverter;
pub use header::{HeaderConverter, HEADER_CONVERTERS, SIMPLE_HEADER_CONVERTER};
pub use json::{DecimalFormat, JsonConverter, JsonConverterConfig};
pub use number::{java_double_to_string, java_float_to_string};
pub use registry::RegistryConverter;
pub use string::StringConverter;

/// Turns Connect data into record key or value bytes (Connect's `Converter.fromConnectData`).
pub trait Converter: Send + Sync + std::fmt::Debug {
    /// Connect's `fromConnectData`: the bytes for `data`, or `None` for a null (tombstone) result.
    ///
    /// # Errors
    /// [`Error::Data`] when the value does not fit its schema or cannot be written by this
    /// converter.
    #[allow(clippy::wrong_self_convention)] // Connect's name for it
    fn from_connect_data(&self, topic: &str, data: &SchemaAndValue) -> Result<Option<Vec<u8>>>;

    /// [`Converter::from_connect_data`] for data the caller has no further use for once it is
    /// converted: a converter that passes bytes through takes them instead of copying them.
    /// On an error `data` is left as it was. The default converts a copy.
    ///
    /// # Errors
    /// As [`Converter::from_connect_data`].
    #[allow(clippy::wrong_self_convention)] // Connect's name, as above
    fn from_connect_data_taking(
        &self,
        topic: &str,
        data: &mut SchemaAndValue,
    ) -> Result<Option<Vec<u8>>> {
        self.from_connect_data(topic, data)
    }

    /// What [`Converter::from_connect_data`] needs from outside the process for `data` (a Schema
    /// Registry id): `None` when it is at hand (every converter but the registry ones, and a
    /// registry converter's known schemas), else a future to await first, on the caller's task.
    /// The future retries what a retry can fix; its error is the record's conversion error.
    fn prepare<'a>(
        &'a self,
        _topic: &'a str,
        _data: &'a SchemaAndValue,
    ) -> Option<futures::future::BoxFuture<'a, Result<()>>> {
        None
    }
    /// Whether this converter writes every schemaless value exactly as Kafka Connect's
    /// `JsonConverter` with `schemas.enable=false` does (that converter so configured): then a
    /// transformer's [plain JSON form](crate::transformer::Transformer::plain_json) may stand
    /// in for it.
    fn writes_plain_json(&self) -> bool {
        false
    }
}

/// Short name of the JSON converter (see [`ConverterSetting::classes`]).
pub const JSON: &str = "json";
/// Short name of the string converter.
pub const STRING: &str = "string";
/// Short name of the byte array converter.
pub const BYTES: &str = "bytes";

/// Every accepted converter class name with the short name it stands for (the registry
/// converters' are in [`registry::CLASSES`]).
const CLASSES: &[(&str, &str)] = &[
    ("org.apache.kafka.connect.json.JsonConverter", JSON),
    ("org.apache.kafka.connect.storage.StringConverter", STRING),
    (
        "org.apache.kafka.connect.converters.ByteArrayConverter",
        BYTES,
    ),
    ("json", JSON),
    ("string", STRING),
    ("bytes", BYTES),
    ("JsonConverter", JSON),
    ("StringConverter", STRING),
    ("ByteArrayConverter", BYTES),
];

/// One setting a converter class accepts (after the `key.converter.` / `value.converter.` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConverterSetting {
    /// Short names of the converter classes that accept it ([`JSON`], [`STRING`], [`BYTES`]).
    pub classes: &'static [&'static str],
    /// The key, without the converter prefix (e.g. `schemas.enable`).
    pub name: &'static str,
    /// The default value, as written in a properties file.
    pub default: &'static str,
    /// What it does and which values it takes.
    pub doc: &'static str,
}

const SCHEMAS_ENABLE: &str = "schemas.enable";
const DECIMAL_FORMAT: &str = "decimal.format";
const SCHEMAS_CACHE_SIZE: &str = "schemas.cache.size";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
const ENCODING: &str = "converter.encoding";

static SETTINGS: &[ConverterSetting] = &[
    ConverterSetting {
        classes: &[JSON],
        name: SCHEMAS_ENABLE,
        default: "true",
        doc: "Include the schema with each value in a {\"schema\":...,\"payload\":...} envelope \
              (true or false).",
    },
    ConverterSetting {
        classes: &[JSON],
        name: DECIMAL_FORMAT,
        default: "BASE64",
        doc: "How Decimal values are written: BASE64 (base64 of the unscaled bytes) or NUMERIC \
              (a JSON number).",
    },
    ConverterSetting {
        classes: &[JSON],
        name: SCHEMAS_CACHE_SIZE,
        default: "1000",
        doc: "Accepted for compatibility with Kafka Connect (an integer); has no effect.",
    },
    ConverterSetting {
        classes: &[JSON],
        name: REPLACE_NULL_WITH_DEFAULT,
        default: "true",
        doc: "Write a field's default value in place of null (true or false).",
    },
    ConverterSetting {
        classes: &[STRING],
        name: ENCODING,
        default: "UTF-8",
        doc: "Character set of the written strings; only UTF-8 is supported.",
    },
];

/// The settings each converter class accepts, for config validation and documentation.
pub fn converter_settings() -> impl Iterator<Item = &'static ConverterSetting> {
    SETTINGS
        .iter()
        .chain(registry::SETTINGS)
        .chain(protobuf::SETTINGS)
}

/// Every accepted converter class name with the short name it stands for.
fn classes() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    CLASSES.iter().chain(registry::CLASSES)
}

/// Whether the value of a connector or worker key is a converter's secret
/// (`value.converter.basic.auth.user.info`, `key.converter.bearer.auth.token`, ...).
pub fn is_secret_converter_key(key: &str) -> bool {
    key.strip_prefix("key.converter.")
        .or_else(|| key.strip_prefix("value.converter."))
        .is_some_and(registry::is_secret_setting)
}

/// The short name ([`JSON`], [`STRING`] or [`BYTES`]) of an accepted converter class name, or
/// `None` when the class is not supported.
pub fn converter_short_name(class: &str) -> Option<&'static str> {
    let class = class.trim();
    classes().find(|(c, _)| *c == class).map(|(_, s)| *s)
}

/// Builds a converter from its class name and its own settings (the `key.converter.` /
/// `value.converter.` prefix already stripped); `is_key` says which of the two it is for.
///
/// # Errors
/// [`Error::Config`] for an unknown class (with the nearest accepted name), an unknown setting
/// (with the nearest valid key) or an invalid setting value; every problem is reported at once.
pub fn converter_from_config(
    class: &str,
    settings: &BTreeMap<String, String>,
    is_key: bool,
) -> Result<Arc<dyn Converter>> {
    let prefix = if is_key {
        "key.converter"
    } else {
        "value.converter"
    };
    let Some(short) = converter_short_name(class) else {
        let accepted = classes().map(|(c, _)| *c).collect::<Vec<_>>().join(", ");
        let hint = suggest(class.trim(), classes().map(|(c, _)| *c))
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_else(|| ".".to_owned());
        return Err(Error::config(format!(
            "{prefix}: unknown converter class {class:?}{hint} Accepted: {accepted}"
        )));
    };

    let valid: Vec<&'static str> = converter_settings()
        .filter(|s| s.classes.contains(&short))
        .map(|s| s.name)
        .collect();
    let mut problems = Vec::new();
    for key in settings.keys() {
        if valid.contains(&key.as_str()) {
            continue;
        }
        let hint = match suggest(key, valid.iter().copied()) {
            Some(s) => format!("; did you mean {prefix}.{s}?"),
            None => String::new(),
        };
        let list = if valid.is_empty() {
            "it takes no settings".to_owned()
        } else {
            format!(
                "valid settings: {}",
                valid
                    .iter()
                    .map(|v| format!("{prefix}.{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        problems.push(format!(
            "{prefix}.{key}: unknown setting for the {} converter{hint} ({list})",
            class.trim()
        ));
    }

    let get = |name: &str| settings.get(name).map(|v| (v, v.trim()));
    let mut bad = |name: &str, raw: &str, expected: &str| {
        problems.push(format!(
            "{prefix}.{name} = {raw:?} is not valid: expected {expected}"
        ));
    };
    let boolean = |name: &str, default: bool, bad: &mut dyn FnMut(&str, &str, &str)| match get(name)
    {
        None => default,
        Some((_, v)) if v.eq_ignore_ascii_case("true") => true,
        Some((_, v)) if v.eq_ignore_ascii_case("false") => false,
        Some((raw, _)) => {
            bad(name, raw, "true or false");
            default
        }
    };

    let converter: Arc<dyn Converter> = match short {
        JSON => {
            let defaults = JsonConverterConfig::default();
            let schemas_enable = boolean(SCHEMAS_ENABLE, defaults.schemas_enable, &mut bad);
            let replace_null_with_default = boolean(
                REPLACE_NULL_WITH_DEFAULT,
                defaults.replace_null_with_default,
                &mut bad,
            );
            let decimal_format = match get(DECIMAL_FORMAT) {
                None => defaults.decimal_format,
                Some((_, v)) if v.eq_ignore_ascii_case("BASE64") => DecimalFormat::Base64,
                Some((_, v)) if v.eq_ignore_ascii_case("NUMERIC") => DecimalFormat::Numeric,
                Some((raw, _)) => {
                    bad(DECIMAL_FORMAT, raw, "BASE64 or NUMERIC");
                    defaults.decimal_format
                }
            };
            let schemas_cache_size = match get(SCHEMAS_CACHE_SIZE) {
                None => defaults.schemas_cache_size,
                Some((raw, v)) => v.parse::<i32>().unwrap_or_else(|_| {
                    bad(SCHEMAS_CACHE_SIZE, raw, "an integer");
                    defaults.schemas_cache_size
                }),
            };
            Arc::new(JsonConverter::new(JsonConverterConfig {
                schemas_enable,
                decimal_format,
                schemas_cache_size,
                replace_null_with_default,
            }))
        }
        STRING => {
            if let Some((raw, v)) = get(ENCODING) {
                if !(v.eq_ignore_ascii_case("UTF-8") || v.eq_ignore_ascii_case("UTF8")) {
                    bad(ENCODING, raw, "UTF-8 (the only encoding supported)");
                }
            }
            Arc::new(StringConverter::new())
        }
        registry::AVRO | registry::JSON_SCHEMA | registry::PROTOBUF => {
            match registry::build(short, settings, is_key, prefix, &mut problems) {
                Some(c) => c,
                None => Arc::new(ByteArrayConverter::new()),
            }
        }
        _ => Arc::new(ByteArrayConverter::new()),
    };
    if problems.is_empty() {
        Ok(converter)
    } else {
        Err(Error::Config {
            context: None,
            problems,
        })
    }
}

/// The candidate closest to `input`: a case-insensitive match, a dotted suffix (`encoding` for
/// `converter.encoding`, `a.b.JsonConverter` for `JsonConverter`), or a near spelling.
fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    let dotted_suffix = |long: &str, short: &str| {
        long.len() > short.len()
            && long.ends_with(short)
            && long.as_bytes()[long.len() - short.len() - 1] == b'.'
    };
    candidates
        .into_iter()
        .map(|c| {
            let lc = c.to_ascii_lowercase();
            let score = if lc == input {
                2.0
            } else if dotted_suffix(&lc, &input) || dotted_suffix(&input, &lc) {
                1.5
            } else {
                strsim::jaro_winkler(&input, &lc)
            };
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests;
