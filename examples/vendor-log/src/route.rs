//! `LevelRouter`: a single message transform that sends the records of chosen log levels to a
//! topic of their own (`vendor` -> `vendor-error`), as Kafka Connect's `TimestampRouter` sends
//! records to a topic named from their timestamp. Registered under its class name
//! [`CLASS`] with [`KEYS`] and [`build`]; a connector uses it as any transform:
//!
//! ```properties
//! transforms=route
//! transforms.route.type=com.example.vendorlog.LevelRouter
//! transforms.route.levels=ERROR,FATAL
//! ```
//!
//! Built only on `sluice-api`; `docs/extending.md` walks through it.

use std::sync::Arc;

use sluice_api::config::{key, required, KeySet, Keys, Kind, Owner};
use sluice_api::data::Value;
use sluice_api::record::SourceRecord;
use sluice_api::transform::Transformation;
use sluice_api::{Error, Result};

/// The transform's class name, its `transforms.<alias>.type` value.
pub const CLASS: &str = "com.example.vendorlog.LevelRouter";

/// The transform's keys, written after `transforms.<alias>.`.
pub const KEYS: KeySet = KeySet {
    owner: Owner::Transform {
        class: CLASS,
        aliases: &["LevelRouter"],
    },
    doc: "Sends the records of chosen log levels to a topic of their own (examples/vendor-log).",
    keys: &[
        required(
            "levels",
            Kind::List,
            "The levels (values of the level field, e.g. `ERROR,FATAL`) whose records are rerouted; the others keep their topic.",
        ),
        key(
            "level.field",
            Kind::String,
            "level",
            "The string field of the record's struct value that holds its level.",
        ),
        key(
            "topic.format",
            Kind::String,
            "${topic}-${level}",
            "The topic a rerouted record goes to: `${topic}` is its topic, `${level}` its level in lower case.",
        ),
    ],
    prefixes: &[],
    check: Some(check),
};

/// What the types alone do not catch: a format that does not name the level would send every
/// level to one topic.
fn check(keys: &Keys<'_>) -> Result<Vec<String>> {
    let format = keys.string("topic.format")?.unwrap_or_default();
    Ok(if format.contains("${level}") {
        Vec::new()
    } else {
        vec![format!(
            "topic.format {format:?} has no ${{level}}; every level would go to one topic"
        )]
    })
}

/// Builds the transform for one `transforms.<alias>`: what [`KEYS`] is registered with.
///
/// # Errors
/// Never once the keys passed their checks; the signature is the registry's.
pub fn build(keys: &Keys<'_>) -> Result<Arc<dyn Transformation>> {
    Ok(Arc::new(LevelRouter {
        levels: keys.list("levels")?,
        field: keys.string("level.field")?.unwrap_or_default(),
        format: keys.string("topic.format")?.unwrap_or_default(),
    }))
}

/// See the module documentation.
#[derive(Debug)]
struct LevelRouter {
    levels: Vec<String>,
    field: String,
    format: String,
}

impl Transformation for LevelRouter {
    fn apply(&self, mut record: SourceRecord) -> Result<Option<SourceRecord>> {
        let Value::Struct(s) = &record.value.value else {
            return Err(Error::Data(format!(
                "LevelRouter reads the level from a struct value; this record's value is {:?}",
                record.value.value
            )));
        };
        let level = match s.get(&self.field) {
            Some(Value::String(level)) => level,
            Some(Value::Null) => return Ok(Some(record)),
            other => {
                return Err(Error::Data(format!(
                    "LevelRouter: field {:?} should be a string level, found {other:?}; set level.field to the field that holds it",
                    self.field
                )))
            }
        };
        if self.levels.iter().any(|l| l == level) {
            record.topic = self
                .format
                .replace("${topic}", &record.topic)
                .replace("${level}", &level.to_lowercase());
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::config::Settings;
    use sluice_api::data::{Schema, SchemaAndValue, SchemaBuilder, Struct};

    fn registry() -> sluice_api::config::Registry {
        sluice_api::builtin().with_transform(KEYS, build).unwrap()
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s: Settings = pairs
            .iter()
            .map(|(k, v)| (format!("transforms.r.{k}"), v.to_string()))
            .collect();
        s.insert("transforms".into(), "r".into());
        s
    }

    fn record(level: Value) -> SourceRecord {
        let schema = SchemaBuilder::struct_()
            .field("level", Schema::optional_string())
            .try_build()
            .unwrap();
        let mut s = Struct::new(schema.clone()).unwrap();
        s.set("level", level).unwrap();
        SourceRecord {
            source_partition: Default::default(),
            source_offset: Default::default(),
            topic: "vendor".into(),
            kafka_partition: None,
            key: SchemaAndValue::null(),
            value: SchemaAndValue::new(schema, Value::Struct(s)),
            timestamp: None,
            headers: Vec::new(),
            origin: None,
        }
    }

    fn router(levels: &[&str]) -> LevelRouter {
        LevelRouter {
            levels: levels.iter().map(|l| l.to_string()).collect(),
            field: "level".into(),
            format: "${topic}-${level}".into(),
        }
    }

    #[test]
    fn listed_levels_go_to_their_topic_the_others_stay() {
        let r = router(&["ERROR", "FATAL"]);
        let topic = |level: Value| r.apply(record(level)).unwrap().unwrap().topic;
        assert_eq!(topic(Value::String("ERROR".into())), "vendor-error");
        assert_eq!(topic(Value::String("FATAL".into())), "vendor-fatal");
        assert_eq!(topic(Value::String("WARN".into())), "vendor");
        assert_eq!(topic(Value::Null), "vendor");
    }

    #[test]
    fn a_record_without_a_level_is_an_error_that_says_what_to_set() {
        let r = LevelRouter {
            field: "severity".into(),
            ..router(&["ERROR"])
        };
        let err = r.apply(record(Value::Null)).unwrap_err().to_string();
        assert!(err.contains("set level.field"), "{err}");
        let mut not_a_struct = record(Value::Null);
        not_a_struct.value = SchemaAndValue::schemaless(Value::String("x".into()));
        assert!(router(&["ERROR"]).apply(not_a_struct).is_err());
    }

    #[test]
    fn keys_are_checked_like_a_built_in_transforms() {
        let r = registry();
        let p = r.transform_problems(&settings(&[("type", CLASS), ("levls", "ERROR")]));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("did you mean \"transforms.r.levels\"?"),
            "{p:?}"
        );
        assert!(p[1].starts_with("transforms.r.levels: required"), "{p:?}");
        let p = r.transform_problems(&settings(&[
            ("type", "LevelRouter"),
            ("levels", "ERROR"),
            ("topic.format", "${topic}-urgent"),
        ]));
        assert_eq!(
            p,
            ["transforms.r: topic.format \"${topic}-urgent\" has no ${level}; every level would go to one topic"]
        );
        assert!(r
            .transform_problems(&settings(&[("type", CLASS), ("levels", "ERROR")]))
            .is_empty());
        let p = r.transform_problems(&settings(&[("type", "com.example.vendorlog.LevelRoutr")]));
        assert!(p[0].contains(&format!("did you mean {CLASS:?}?")), "{p:?}");
    }
}
