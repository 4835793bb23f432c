//! Confluent's Schema Registry converters: `io.confluent.connect.avro.AvroConverter` and
//! `io.confluent.connect.json.JsonSchemaConverter`.
//!
//! Each record's key or value is written in Confluent's wire format: magic byte 0, the schema's
//! registry id (4 bytes, big-endian), then the payload (Avro binary, or JSON text). The Connect
//! schema is translated as Confluent's `AvroData` / `JsonSchemaData` do (`avro`,
//! `json_schema`), registered under the subject its subject name strategy gives
//! (`TopicNameStrategy`: `<topic>-key` / `<topic>-value`; `RecordNameStrategy`: the record's full
//! name; `TopicRecordNameStrategy`: both), and its id written in front of every record.
//!
//! # Registry calls and the synchronous converter
//!
//! [`Converter::from_connect_data`] is synchronous and runs on the task's reading side, a tokio
//! task; a registry request is a network call. So a registry converter works in two steps:
//!
//! 1. [`Converter::prepare`], awaited by the driver before each record's conversion, returns
//!    `None` at once when the record's schema already has an id for its topic (a pointer
//!    comparison with the previous record's schema, else a structural hash lookup): no request,
//!    no allocation. Otherwise it returns a future that translates the schema, asks the registry
//!    (register, look up, or read the latest version) and stores the id. The reading side awaits
//!    it before it reads the next record (the records converted before it are handed to the
//!    producer first), so records keep their order and no tokio worker thread is blocked.
//! 2. `from_connect_data` finds the id in the cache and writes the bytes.
//!
//! While the registry cannot be reached (connection refused, timeout, HTTP 408, 429, 5xx) the
//! request is retried, URL after URL of `schema.registry.url`, with a backoff of at most 5 s,
//! for as long as it takes: records wait, none is lost or reordered, and a task stopped meanwhile
//! stops without sending the waiting record (its offset is not committed, so it is read again).
//! A refusal (409 incompatible schema, 422 invalid schema, 401/403, an unknown subject or schema
//! without `auto.register.schemas`) is a conversion error of that record naming the subject and
//! the registry's message, routed by `errors.tolerance` like any other.

pub(crate) mod avro;
pub(crate) mod client;
pub(crate) mod json_schema;
#[cfg(test)]
mod tests;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

/// Short name of the Protobuf converter.
pub use super::protobuf::PROTOBUF;
use super::protobuf::{ProtobufOptions, ProtobufPlan};
use super::{Converter, ConverterSetting};
use crate::data::{Schema, SchemaAndValue, Value};
use crate::error::{Error, Result};
use avro::{AvroOptions, AvroPlan};
use client::{Auth, ClientConfig, RegistryClient};
use json_schema::{JsonSchemaOptions, JsonSchemaPlan};

/// Short name of the Avro converter.
pub const AVRO: &str = "avro";
/// Short name of the JSON Schema converter.
pub const JSON_SCHEMA: &str = "json_schema";

/// The class names of the registry converters, with their short names.
pub(crate) const CLASSES: &[(&str, &str)] = &[
    ("io.confluent.connect.avro.AvroConverter", AVRO),
    ("io.confluent.connect.json.JsonSchemaConverter", JSON_SCHEMA),
    ("avro", AVRO),
    ("json_schema", JSON_SCHEMA),
    ("protobuf", PROTOBUF),
    ("io.confluent.connect.protobuf.ProtobufConverter", PROTOBUF),
    ("AvroConverter", AVRO),
    ("JsonSchemaConverter", JSON_SCHEMA),
    ("ProtobufConverter", PROTOBUF),
];

const BOTH: &[&str] = &[AVRO, JSON_SCHEMA, PROTOBUF];

const URL: &str = "schema.registry.url";
const CREDENTIALS_SOURCE: &str = "basic.auth.credentials.source";
const USER_INFO: &str = "basic.auth.user.info";
const SR_USER_INFO: &str = "schema.registry.basic.auth.user.info";
const BEARER_SOURCE: &str = "bearer.auth.credentials.source";
const BEARER_TOKEN: &str = "bearer.auth.token";
const BEARER_CLUSTER: &str = "bearer.auth.logical.cluster";
const BEARER_POOL: &str = "bearer.auth.identity.pool.id";
const TRUSTSTORE_LOCATION: &str = "schema.registry.ssl.truststore.location";
const TRUSTSTORE_TYPE: &str = "schema.registry.ssl.truststore.type";
const TRUSTSTORE_PASSWORD: &str = "schema.registry.ssl.truststore.password";
const AUTO_REGISTER: &str = "auto.register.schemas";
const USE_LATEST: &str = "use.latest.version";
const LATEST_STRICT: &str = "latest.compatibility.strict";
const KEY_STRATEGY: &str = "key.subject.name.strategy";
const VALUE_STRATEGY: &str = "value.subject.name.strategy";
const NORMALIZE: &str = "normalize.schemas";
const MAX_SCHEMAS: &str = "max.schemas.per.subject";
const CACHE_SIZE: &str = "schemas.cache.size";
const META_DATA: &str = "connect.meta.data";
const DECIMAL_FORMAT: &str = "decimal.format";
const ADDITIONAL_PROPERTIES: &str = "object.additional.properties";
const OPTIONAL_NONREQUIRED: &str = "use.optional.for.nonrequired";

const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";

/// The settings of the registry converters (see [`super::converter_settings`]).
pub(crate) static SETTINGS: &[ConverterSetting] = &[
    ConverterSetting {
        classes: BOTH,
        name: URL,
        default: "",
        doc: "Required. The Schema Registry's URL; several, comma-separated, are tried in turn \
              (failover). `https://user:password@host` gives basic auth credentials with \
              `basic.auth.credentials.source=URL`.",
    },
    ConverterSetting {
        classes: BOTH,
        name: CREDENTIALS_SOURCE,
        default: "URL",
        doc: "Where basic auth credentials come from: URL (the user info of \
              `schema.registry.url`, none when it has none) or USER_INFO (`basic.auth.user.info`).",
    },
    ConverterSetting {
        classes: BOTH,
        name: USER_INFO,
        default: "",
        doc: "`user:password` for basic auth with `basic.auth.credentials.source=USER_INFO` \
              (Confluent Cloud: the Schema Registry API key and secret). Secret: never shown.",
    },
    ConverterSetting {
        classes: BOTH,
        name: SR_USER_INFO,
        default: "",
        doc: "Same as `basic.auth.user.info`. Secret: never shown.",
    },
    ConverterSetting {
        classes: BOTH,
        name: BEARER_SOURCE,
        default: "",
        doc: "STATIC_TOKEN: authenticate with `bearer.auth.token` instead of basic auth.",
    },
    ConverterSetting {
        classes: BOTH,
        name: BEARER_TOKEN,
        default: "",
        doc: "The bearer token of `bearer.auth.credentials.source=STATIC_TOKEN`. Secret: never \
              shown.",
    },
    ConverterSetting {
        classes: BOTH,
        name: BEARER_CLUSTER,
        default: "",
        doc: "Confluent Cloud's Schema Registry cluster id, sent with a bearer token \
              (`target-sr-cluster`).",
    },
    ConverterSetting {
        classes: BOTH,
        name: BEARER_POOL,
        default: "",
        doc: "Confluent Cloud's identity pool id, sent with a bearer token.",
    },
    ConverterSetting {
        classes: BOTH,
        name: TRUSTSTORE_LOCATION,
        default: "",
        doc: "A PEM file of the CA certificates that sign the registry's HTTPS certificate \
              (instead of the system's).",
    },
    ConverterSetting {
        classes: BOTH,
        name: TRUSTSTORE_TYPE,
        default: "PEM",
        doc: "PEM (the only type read; convert a JKS or PKCS12 store with keytool / openssl).",
    },
    ConverterSetting {
        classes: BOTH,
        name: TRUSTSTORE_PASSWORD,
        default: "",
        doc: "Accepted for Confluent's configurations; a PEM truststore has no password. \
              Secret: never shown.",
    },
    ConverterSetting {
        classes: BOTH,
        name: AUTO_REGISTER,
        default: "true",
        doc: "Register each new schema under its subject (true), or only look it up and fail the \
              record when it is not registered (false).",
    },
    ConverterSetting {
        classes: BOTH,
        name: USE_LATEST,
        default: "false",
        doc: "With `auto.register.schemas=false`: write with the subject's latest registered \
              schema (Avro values are resolved to it).",
    },
    ConverterSetting {
        classes: BOTH,
        name: LATEST_STRICT,
        default: "true",
        doc: "With `use.latest.version`: fail a record whose schema the latest version cannot \
              read (Avro).",
    },
    ConverterSetting {
        classes: BOTH,
        name: KEY_STRATEGY,
        default: TOPIC_NAME_STRATEGY,
        doc: "Subject of key schemas: TopicNameStrategy (`<topic>-key`), RecordNameStrategy \
              (the record's full name) or TopicRecordNameStrategy (`<topic>-<record name>`), \
              with or without the `io.confluent.kafka.serializers.subject.` package.",
    },
    ConverterSetting {
        classes: BOTH,
        name: VALUE_STRATEGY,
        default: TOPIC_NAME_STRATEGY,
        doc: "Subject of value schemas (`<topic>-value` by default); as \
              `key.subject.name.strategy`.",
    },
    ConverterSetting {
        classes: BOTH,
        name: NORMALIZE,
        default: "false",
        doc: "Ask the registry to normalize schemas when registering and looking them up.",
    },
    ConverterSetting {
        classes: BOTH,
        name: MAX_SCHEMAS,
        default: "1000",
        doc: "Accepted for compatibility with Confluent's converters (an integer); schemas are \
              cached for the converter's life.",
    },
    ConverterSetting {
        classes: BOTH,
        name: CACHE_SIZE,
        default: "1000",
        doc: "Accepted for compatibility with Confluent's converters (an integer); has no effect.",
    },
    ConverterSetting {
        classes: &[AVRO],
        name: META_DATA,
        default: "true",
        doc: "Annotate Avro schemas with the Connect schema's name, version, doc, parameters and \
              defaults (`connect.name`, `connect.version`, ...), as AvroData does.",
    },
    ConverterSetting {
        classes: &[JSON_SCHEMA],
        name: DECIMAL_FORMAT,
        default: "BASE64",
        doc: "How Decimal values are written: BASE64 (a string, base64 of the unscaled bytes) or \
              NUMERIC (a JSON number).",
    },
    ConverterSetting {
        classes: &[JSON_SCHEMA],
        name: ADDITIONAL_PROPERTIES,
        default: "true",
        doc: "Whether object schemas allow properties they do not list \
              (`additionalProperties`).",
    },
    ConverterSetting {
        classes: &[JSON_SCHEMA],
        name: OPTIONAL_NONREQUIRED,
        default: "false",
        doc: "Accepted for Confluent's configurations (it changes how JSON is read back into \
              Connect data, not what is written).",
    },
];

/// Whether the value of registry converter setting `name` is a secret (never shown).
pub fn is_secret_setting(name: &str) -> bool {
    matches!(name, USER_INFO | SR_USER_INFO | BEARER_TOKEN) || name.ends_with(".password")
}

/// How subjects are named (Confluent's `SubjectNameStrategy` classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Topic,
    Record,
    TopicRecord,
}

impl Strategy {
    fn parse(v: &str) -> Option<Strategy> {
        let short = v
            .trim()
            .strip_prefix("io.confluent.kafka.serializers.subject.")
            .unwrap_or(v.trim());
        match short {
            "TopicNameStrategy" => Some(Strategy::Topic),
            "RecordNameStrategy" => Some(Strategy::Record),
            "TopicRecordNameStrategy" => Some(Strategy::TopicRecord),
            _ => None,
        }
    }

    fn subject(self, topic: &str, is_key: bool, record_name: Option<&str>) -> Result<String> {
        let named = || {
            record_name.ok_or_else(|| {
                Error::Data(
                    "RecordNameStrategy and TopicRecordNameStrategy need a named schema, and this \
                     record's schema has no name (a JSON Schema title comes from the Connect \
                     schema's name)"
                        .into(),
                )
            })
        };
        Ok(match self {
            Strategy::Topic => format!("{topic}-{}", if is_key { "key" } else { "value" }),
            Strategy::Record => named()?.to_owned(),
            Strategy::TopicRecord => format!("{topic}-{}", named()?),
        })
    }
}

/// Which format, with its options.
#[derive(Debug, Clone, Copy)]
enum Format {
    Avro(AvroOptions),
    Json(JsonSchemaOptions),
    Protobuf(ProtobufOptions),
}

/// A Connect schema translated.
#[derive(Debug)]
enum Plan {
    Avro(AvroPlan),
    Json(JsonSchemaPlan),
    Protobuf(ProtobufPlan),
}

impl Plan {
    fn text(&self) -> &str {
        match self {
            Plan::Avro(p) => &p.text,
            Plan::Json(p) => &p.text,
            Plan::Protobuf(p) => &p.text,
        }
    }

    fn record_name(&self) -> Option<&str> {
        match self {
            Plan::Avro(p) => Some(&p.record_name),
            Plan::Json(p) => p.record_name.as_deref(),
            Plan::Protobuf(p) => Some(&p.record_name),
        }
    }

    fn schema_type(&self) -> Option<&'static str> {
        match self {
            Plan::Avro(_) => None,
            Plan::Json(_) => Some("JSON"),
            Plan::Protobuf(_) => Some("PROTOBUF"),
        }
    }
}

/// What a record of one topic is written with.
#[derive(Debug)]
struct Target {
    id: u32,
    /// With `use.latest.version`, Avro: the schemas to resolve our encoding into the latest
    /// version's (writer, reader), when they differ.
    resolve: Option<(apache_avro::Schema, apache_avro::Schema)>,
}

/// One Connect schema: its translation and its id per topic.
#[derive(Debug)]
struct Entry {
    plan: Plan,
    targets: Mutex<Vec<(Box<str>, Arc<Target>)>>,
}

impl Entry {
    fn target(&self, topic: &str) -> Option<Arc<Target>> {
        let targets = self.targets.lock().expect("targets lock");
        targets
            .iter()
            .find(|(t, _)| **t == *topic)
            .map(|(_, x)| x.clone())
    }
}

#[derive(Debug, Default)]
struct Cache {
    last: Option<(Schema, Arc<Entry>)>,
    by_hash: HashMap<u64, Vec<(Schema, Arc<Entry>)>>,
}

/// A Schema Registry converter (see the module documentation).
#[derive(Debug)]
pub struct RegistryConverter {
    format: Format,
    class: &'static str,
    client: RegistryClient,
    is_key: bool,
    strategy: Strategy,
    auto_register: bool,
    use_latest: bool,
    latest_strict: bool,
    normalize: bool,
    cache: Mutex<Cache>,
}

impl RegistryConverter {
    /// The cached entry of `schema`, if any.
    fn cached(&self, schema: &Schema) -> Option<Arc<Entry>> {
        let mut cache = self.cache.lock().expect("cache lock");
        if let Some((s, e)) = &cache.last {
            if Schema::ptr_eq(s, schema) {
                return Some(e.clone());
            }
        }
        let found = cache
            .by_hash
            .get(&schema_hash(schema))?
            .iter()
            .find(|(s, _)| s == schema)
            .map(|(_, e)| e.clone())?;
        cache.last = Some((schema.clone(), found.clone()));
        Some(found)
    }

    /// The entry of `schema`, translated now when it is new.
    fn entry(&self, schema: &Schema) -> Result<Arc<Entry>> {
        if let Some(e) = self.cached(schema) {
            return Ok(e);
        }
        let plan = match self.format {
            Format::Avro(o) => Plan::Avro(AvroPlan::new(schema, o)?),
            Format::Json(o) => Plan::Json(JsonSchemaPlan::new(schema, o)?),
            Format::Protobuf(o) => Plan::Protobuf(ProtobufPlan::new(schema, o)?),
        };
        let entry = Arc::new(Entry {
            plan,
            targets: Mutex::default(),
        });
        let mut cache = self.cache.lock().expect("cache lock");
        let bucket = cache.by_hash.entry(schema_hash(schema)).or_default();
        if let Some((_, e)) = bucket.iter().find(|(s, _)| s == schema) {
            return Ok(e.clone());
        }
        bucket.push((schema.clone(), entry.clone()));
        cache.last = Some((schema.clone(), entry.clone()));
        Ok(entry)
    }

    /// Registers (or looks up) the schema of a record for `topic` and keeps its id.
    async fn resolve(&self, topic: &str, schema: &Schema) -> Result<()> {
        let entry = self.entry(schema)?;
        let subject = self
            .strategy
            .subject(topic, self.is_key, entry.plan.record_name())?;
        let plan = &entry.plan;
        let target = if self.auto_register || !self.use_latest {
            let r = self
                .client
                .id(
                    &subject,
                    plan.schema_type(),
                    plan.text(),
                    self.auto_register,
                    self.normalize,
                )
                .await?;
            Target {
                id: r.id,
                resolve: None,
            }
        } else {
            let latest = self.client.latest(&subject).await?;
            let resolve = match (plan, latest.schema.as_deref()) {
                (Plan::Avro(p), Some(text)) if text != p.text => {
                    let ours = apache_avro::Schema::parse_str(&p.text).map_err(|e| {
                        Error::Data(format!("the Avro schema of this record is invalid: {e}"))
                    })?;
                    let theirs = apache_avro::Schema::parse_str(text).map_err(|e| {
                        Error::Data(format!(
                            "schema registry: the latest schema of subject {subject:?} is not \
                             Avro this build can read: {e}"
                        ))
                    })?;
                    if self.latest_strict {
                        use apache_avro::error::CompatibilityError;
                        use apache_avro::schema_compatibility::{
                            Compatibility, SchemaCompatibility,
                        };
                        match SchemaCompatibility::can_read(&ours, &theirs) {
                            Ok(Compatibility::Full) => Ok(()),
                            Ok(Compatibility::Partial) => {
                                Err(CompatibilityError::MissingUnionElements)
                            }
                            Err(e) => Err(e),
                        }
                        .map_err(|e| {
                            Error::Data(format!(
                                "schema registry: the latest schema of subject {subject:?} \
                                 (version {}) cannot read this record's schema: {e}. Set \
                                 latest.compatibility.strict=false to write with it anyway",
                                latest.version.unwrap_or(-1)
                            ))
                        })?;
                    }
                    Some((ours, theirs))
                }
                _ => None,
            };
            Target {
                id: latest.id,
                resolve,
            }
        };
        let mut targets = entry.targets.lock().expect("targets lock");
        if !targets.iter().any(|(t, _)| **t == *topic) {
            targets.push((topic.into(), Arc::new(target)));
        }
        Ok(())
    }
}

impl Converter for RegistryConverter {
    fn from_connect_data(&self, topic: &str, data: &SchemaAndValue) -> Result<Option<Vec<u8>>> {
        if data.value == Value::Null {
            return Ok(None);
        }
        let Some(schema) = &data.schema else {
            return Err(self.schemaless());
        };
        schema.validate_value(&data.value)?;
        let entry = self.entry(schema)?;
        let target = entry.target(topic).ok_or_else(|| {
            Error::Data(format!(
                "the {} has no schema id for topic {topic:?}: the schema was not registered \
                 before the conversion (Converter::prepare was not awaited)",
                self.class
            ))
        })?;
        let mut out = Vec::with_capacity(64);
        out.push(0);
        out.extend_from_slice(&target.id.to_be_bytes());
        match &entry.plan {
            Plan::Avro(p) => match &target.resolve {
                None => p.write(schema, &data.value, &mut out)?,
                Some((ours, theirs)) => {
                    let mut mine = Vec::new();
                    p.write(schema, &data.value, &mut mine)?;
                    let v = apache_avro::reader::datum::GenericDatumReader::builder(ours)
                        .reader_schema(theirs)
                        .build()
                        .and_then(|r| r.read_value(&mut mine.as_slice()))
                        .map_err(|e| {
                            Error::Data(format!(
                                "the value does not fit the subject's latest schema: {e}"
                            ))
                        })?;
                    let bytes = apache_avro::writer::datum::GenericDatumWriter::builder(theirs)
                        .build()
                        .and_then(|w| w.write_value_to_vec(v))
                        .map_err(|e| {
                            Error::Data(format!(
                                "the value does not fit the subject's latest schema: {e}"
                            ))
                        })?;
                    out.extend_from_slice(&bytes);
                }
            },
            Plan::Json(p) => p.write(schema, &data.value, &mut out)?,
            Plan::Protobuf(p) => p.write(schema, &data.value, &mut out)?,
        }
        Ok(Some(out))
    }

    fn prepare<'a>(
        &'a self,
        topic: &'a str,
        data: &'a SchemaAndValue,
    ) -> Option<BoxFuture<'a, Result<()>>> {
        if data.value == Value::Null {
            return None;
        }
        let schema = data.schema.as_ref()?;
        if self
            .cached(schema)
            .is_some_and(|e| e.target(topic).is_some())
        {
            return None;
        }
        Some(Box::pin(self.resolve(topic, schema)))
    }
}

impl RegistryConverter {
    fn schemaless(&self) -> Error {
        Error::Data(format!(
            "the {} needs a schema with each value, and this value has none (schemaless JSON \
             input: set transformer.json.infer.schema=true, or use the JsonConverter with \
             schemas.enable=false)",
            self.class
        ))
    }
}

/// A structural hash of a schema (everything `==` compares but default values).
fn schema_hash(schema: &Schema) -> u64 {
    fn walk(s: &Schema, h: &mut DefaultHasher) {
        s.type_().hash(h);
        s.is_optional().hash(h);
        s.name().hash(h);
        s.version().hash(h);
        s.doc().hash(h);
        s.parameters().hash(h);
        s.default_value().is_some().hash(h);
        for f in s.fields() {
            f.name().hash(h);
            walk(f.schema(), h);
        }
        if let Some(k) = s.key_schema() {
            walk(k, h);
        }
        if let Some(v) = s.value_schema() {
            walk(v, h);
        }
    }
    let mut h = DefaultHasher::new();
    walk(schema, &mut h);
    h.finish()
}

/// Builds a registry converter of class `short` ([`AVRO`] or [`JSON_SCHEMA`]) from its settings
/// (the settings were checked against [`SETTINGS`] by the caller); `prefix` is `key.converter` or
/// `value.converter`, for messages. Every problem is added to `problems`.
pub(crate) fn build(
    short: &'static str,
    settings: &BTreeMap<String, String>,
    is_key: bool,
    prefix: &str,
    problems: &mut Vec<String>,
) -> Option<Arc<dyn Converter>> {
    let get = |name: &str| {
        settings
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let boolean = |name: &str, default: bool, problems: &mut Vec<String>| match get(name) {
        None => default,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            problems.push(format!(
                "{prefix}.{name} = {v:?} is not valid: expected true or false"
            ));
            default
        }
    };
    let auto_register = boolean(AUTO_REGISTER, true, problems);
    let use_latest = boolean(USE_LATEST, false, problems);
    let latest_strict = boolean(LATEST_STRICT, true, problems);
    let normalize = boolean(NORMALIZE, false, problems);
    let format = if short == AVRO {
        Format::Avro(AvroOptions {
            connect_meta_data: boolean(META_DATA, true, problems),
        })
    } else if short == PROTOBUF {
        Format::Protobuf(super::protobuf::options(settings, prefix, problems))
    } else {
        let _ = boolean(OPTIONAL_NONREQUIRED, false, problems);
        let decimal_format = match get(DECIMAL_FORMAT) {
            None => super::DecimalFormat::Base64,
            Some(v) if v.eq_ignore_ascii_case("BASE64") => super::DecimalFormat::Base64,
            Some(v) if v.eq_ignore_ascii_case("NUMERIC") => super::DecimalFormat::Numeric,
            Some(v) => {
                problems.push(format!(
                    "{prefix}.{DECIMAL_FORMAT} = {v:?} is not valid: expected BASE64 or NUMERIC"
                ));
                super::DecimalFormat::Base64
            }
        };
        Format::Json(JsonSchemaOptions {
            additional_properties: boolean(ADDITIONAL_PROPERTIES, true, problems),
            decimal_format,
        })
    };
    for name in [MAX_SCHEMAS, CACHE_SIZE] {
        if let Some(v) = get(name) {
            if v.parse::<i32>().is_err() {
                problems.push(format!(
                    "{prefix}.{name} = {v:?} is not valid: expected an integer"
                ));
            }
        }
    }
    let strategy_key = if is_key { KEY_STRATEGY } else { VALUE_STRATEGY };
    let mut strategy = Strategy::Topic;
    for name in [KEY_STRATEGY, VALUE_STRATEGY] {
        if let Some(v) = get(name) {
            match Strategy::parse(v) {
                Some(s) if name == strategy_key => strategy = s,
                Some(_) => {}
                None => problems.push(format!(
                    "{prefix}.{name} = {v:?} is not valid: expected TopicNameStrategy, \
                     RecordNameStrategy or TopicRecordNameStrategy (package \
                     io.confluent.kafka.serializers.subject); custom strategy classes cannot be \
                     loaded"
                )),
            }
        }
    }

    // Where the registry is, and the credentials.
    let mut urls = Vec::new();
    let mut url_info = None;
    match get(URL) {
        None => problems.push(format!(
            "{prefix}.{URL}: required by the {} (the Schema Registry's URL, e.g. \
             http://localhost:8081)",
            class_of(short)
        )),
        Some(list) => {
            for u in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                let (clean, info) = client::split_user_info(u);
                if !(clean.starts_with("http://") || clean.starts_with("https://")) {
                    problems.push(format!(
                        "{prefix}.{URL}: {clean:?} is not an http:// or https:// URL"
                    ));
                }
                if url_info.is_none() {
                    url_info = info;
                }
                urls.push(clean);
            }
        }
    }
    let user_info = get(USER_INFO).or_else(|| get(SR_USER_INFO));
    let bearer = get(BEARER_SOURCE);
    let auth = match (bearer, get(CREDENTIALS_SOURCE).unwrap_or("URL")) {
        (Some(b), _) if b.eq_ignore_ascii_case("STATIC_TOKEN") => match get(BEARER_TOKEN) {
            Some(token) => Auth::Bearer {
                token: token.to_owned(),
                logical_cluster: get(BEARER_CLUSTER).map(str::to_owned),
                identity_pool: get(BEARER_POOL).map(str::to_owned),
            },
            None => {
                problems.push(format!(
                    "{prefix}.{BEARER_TOKEN}: required with {BEARER_SOURCE}=STATIC_TOKEN"
                ));
                Auth::None
            }
        },
        (Some(b), _) => {
            problems.push(format!(
                "{prefix}.{BEARER_SOURCE} = {b:?} is not valid: only STATIC_TOKEN is supported \
                 (OAuth token fetching is not built in; fetch the token and pass it as \
                 {BEARER_TOKEN}, or use basic auth)"
            ));
            Auth::None
        }
        (None, s) if s.eq_ignore_ascii_case("USER_INFO") => match user_info {
            Some(info) => match info.split_once(':') {
                Some((user, password)) => Auth::Basic {
                    user: user.to_owned(),
                    password: password.to_owned(),
                },
                None => {
                    problems.push(format!(
                        "{prefix}.{USER_INFO}: expected user:password (the value is hidden)"
                    ));
                    Auth::None
                }
            },
            None => {
                problems.push(format!(
                    "{prefix}.{USER_INFO}: required with {CREDENTIALS_SOURCE}=USER_INFO \
                     (user:password; Confluent Cloud: API key:secret)"
                ));
                Auth::None
            }
        },
        (None, s) if s.eq_ignore_ascii_case("URL") => match url_info {
            Some((user, password)) => Auth::Basic { user, password },
            None => Auth::None,
        },
        (None, s) => {
            problems.push(format!(
                "{prefix}.{CREDENTIALS_SOURCE} = {s:?} is not valid: expected URL or USER_INFO \
                 (SASL_INHERIT is not supported: give the registry's credentials in \
                 {USER_INFO})"
            ));
            Auth::None
        }
    };
    if let Some(t) = get(TRUSTSTORE_TYPE) {
        if !t.eq_ignore_ascii_case("PEM") {
            problems.push(format!(
                "{prefix}.{TRUSTSTORE_TYPE} = {t:?} is not supported: only PEM is read (convert \
                 a JKS store: keytool -exportcert -rfc -keystore store.jks -alias ALIAS > ca.pem)"
            ));
        }
    }
    if !problems.is_empty() {
        return None;
    }
    let config = ClientConfig {
        urls,
        auth,
        ca_pem: get(TRUSTSTORE_LOCATION).map(std::path::PathBuf::from),
    };
    let client = match RegistryClient::new(config, prefix) {
        Ok(c) => c,
        Err(Error::Config { problems: p, .. }) => {
            problems.extend(p);
            return None;
        }
        Err(e) => {
            problems.push(format!("{prefix}.{URL}: {e}"));
            return None;
        }
    };
    Some(Arc::new(RegistryConverter {
        format,
        class: class_of(short),
        client,
        is_key,
        strategy,
        auto_register,
        use_latest,
        latest_strict,
        normalize,
        cache: Mutex::default(),
    }))
}

fn class_of(short: &str) -> &'static str {
    if short == AVRO {
        "AvroConverter"
    } else if short == PROTOBUF {
        "ProtobufConverter"
    } else {
        "JsonSchemaConverter"
    }
}
