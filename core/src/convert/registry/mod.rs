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
mod build;
pub(crate) mod client;
pub(crate) mod json_schema;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

/// Short name of the Protobuf converter.
pub use super::protobuf::PROTOBUF;
use super::protobuf::{ProtobufOptions, ProtobufPlan};
use super::Converter;
use crate::data::{Schema, SchemaAndValue, Value};
use crate::error::{Error, Result};
use avro::{AvroOptions, AvroPlan};
pub(crate) use build::build;
use client::RegistryClient;
use json_schema::{JsonSchemaOptions, JsonSchemaPlan};
pub use settings::{is_secret_setting, AVRO, JSON_SCHEMA};
pub(crate) use settings::{CLASSES, SETTINGS};

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
