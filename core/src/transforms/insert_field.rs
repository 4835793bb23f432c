//! `InsertField$Value` / `InsertField$Key`: adds fields from the record's metadata (topic,
//! partition, timestamp) or a static value.

use std::sync::Arc;

use super::options::Options;
use super::util::{
    build_schema, copy_basics, field_value, map_put, require_struct, take_map, with_part, Part,
    SchemaCache,
};
use super::Transformation;
use crate::data::{logical, Schema, SchemaAndValue, Struct, Value};
use crate::error::Result;
use crate::record::SourceRecord;

const PURPOSE: &str = "field insertion";

/// A field to insert: `name` (optional), `name?` (optional) or `name!` (required).
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    name: String,
    optional: bool,
}

impl Spec {
    fn parse(spec: &str) -> Spec {
        if let Some(n) = spec.strip_suffix('?') {
            Spec {
                name: n.to_owned(),
                optional: true,
            }
        } else if let Some(n) = spec.strip_suffix('!') {
            Spec {
                name: n.to_owned(),
                optional: false,
            }
        } else {
            Spec {
                name: spec.to_owned(),
                optional: true,
            }
        }
    }
}

#[derive(Debug)]
struct InsertField {
    part: Part,
    topic: Option<Spec>,
    partition: Option<Spec>,
    timestamp: Option<Spec>,
    static_field: Option<(Spec, String)>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

pub(super) fn build(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let topic = o.string("topic.field").map(|s| Spec::parse(&s));
    let partition = o.string("partition.field").map(|s| Spec::parse(&s));
    if o.string("offset.field").is_some() {
        o.problem(
            "offset.field",
            "the Kafka offset is only known to sink connectors (Kafka Connect fails every source record with it); remove it",
        );
    }
    let timestamp = o.string("timestamp.field").map(|s| Spec::parse(&s));
    let static_field = o.string("static.field").map(|s| Spec::parse(&s));
    let static_value = o.string("static.value");
    let replace_null_with_default = o.bool("replace.null.with.default", true);
    let static_field = match (static_field, static_value) {
        (Some(f), Some(v)) => Some((f, v)),
        (Some(f), None) => {
            o.problem(
                "static.value",
                format!(
                    "required with static.field ({:?}): the value to insert",
                    f.name
                ),
            );
            None
        }
        (None, _) => None,
    };
    if topic.is_none() && partition.is_none() && timestamp.is_none() && static_field.is_none() {
        o.general_problem(
            "no field insertion configured; set topic.field, partition.field, timestamp.field or static.field",
        );
    }
    Some(Arc::new(InsertField {
        part,
        topic,
        partition,
        timestamp,
        static_field,
        replace_null_with_default,
        schemas: SchemaCache::default(),
    }))
}

impl InsertField {
    /// The fields to insert, with their schemas and this record's values.
    fn inserts(&self, r: &SourceRecord) -> Vec<(&Spec, Schema, Option<Value>)> {
        let mut out = Vec::new();
        if let Some(s) = &self.topic {
            let schema = if s.optional {
                Schema::optional_string()
            } else {
                Schema::string()
            };
            out.push((s, schema, Some(Value::String(r.topic.clone()))));
        }
        if let Some(s) = &self.partition {
            let schema = if s.optional {
                Schema::optional_int32()
            } else {
                Schema::int32()
            };
            out.push((s, schema, r.kafka_partition.map(Value::Int32)));
        }
        if let Some(s) = &self.timestamp {
            let b = logical::timestamp();
            let schema = if s.optional {
                b.optional().build()
            } else {
                b.build()
            };
            out.push((s, schema, r.timestamp.map(Value::Int64)));
        }
        if let Some((s, v)) = &self.static_field {
            let schema = if s.optional {
                Schema::optional_string()
            } else {
                Schema::string()
            };
            out.push((s, schema, Some(Value::String(v.clone()))));
        }
        out
    }
}

impl Transformation for InsertField {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        if self.part.get(&r).value == Value::Null {
            return Ok(Some(r));
        }
        let inserts = self.inserts(&r);
        if self.part.get(&r).schema.is_none() {
            // Schemaless: the map is extended in place, without a copy.
            let mut entries = take_map(self.part.get_mut(&mut r), PURPOSE)?;
            for (spec, _, value) in inserts {
                if let Some(v) = value {
                    map_put(&mut entries, &spec.name, v);
                }
            }
            self.part.get_mut(&mut r).value = Value::Map(entries);
            return Ok(Some(r));
        }
        let sv = self.part.get(&r);
        let updated = {
            let value = require_struct(&sv.value, PURPOSE)?;
            let schema = self.schemas.get_or_build(value.schema(), || {
                let mut b = copy_basics(value.schema());
                for f in value.schema().fields() {
                    b = b.field(f.name(), f.schema().clone());
                }
                for (spec, schema, _) in &inserts {
                    b = b.field(spec.name.clone(), schema.clone());
                }
                build_schema(b)
            })?;
            let mut out = Struct::new(schema.clone())?;
            for f in value.schema().fields() {
                out.set(
                    f.name(),
                    field_value(value, f.name(), self.replace_null_with_default),
                )?;
            }
            for (spec, _, v) in inserts {
                if let Some(v) = v {
                    out.set(&spec.name, v)?;
                }
            }
            SchemaAndValue::new(schema, Value::Struct(out))
        };
        Ok(Some(with_part(r, self.part, updated)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, err, map, record, run, schemaless, string_map};
    use crate::data::{logical, Schema, SchemaAndValue, SchemaBuilder, Struct, Value};

    const T: &str = "org.apache.kafka.connect.transforms.InsertField$Value";

    #[test]
    fn schemaless_gets_every_field() {
        // Connect's documented example: topic, partition, timestamp and a static field.
        let c = chain(&[
            ("type", T),
            ("topic.field", "topic_field!"),
            ("partition.field", "partition_field"),
            ("timestamp.field", "timestamp_field?"),
            ("static.field", "instance_id"),
            ("static.value", "my-instance-id"),
        ]);
        let out = run(&c, record(schemaless(map(&[("magic", Value::Int32(42))]))));
        assert_eq!(
            out.value,
            schemaless(map(&[
                ("magic", Value::Int32(42)),
                ("topic_field", Value::from("test")),
                ("partition_field", Value::Int32(0)),
                ("timestamp_field", Value::Int64(1_500_000_000_000)),
                ("instance_id", Value::from("my-instance-id")),
            ]))
        );
    }

    #[test]
    fn struct_gets_typed_fields_with_optionality() {
        let c = chain(&[
            ("type", T),
            ("topic.field", "topic_field!"),
            ("partition.field", "partition_field"),
            ("timestamp.field", "timestamp_field?"),
            ("static.field", "instance_id"),
            ("static.value", "my-instance-id"),
        ]);
        let schema = SchemaBuilder::struct_()
            .name("name")
            .version(1)
            .doc("doc")
            .field("magic", Schema::optional_int64())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .put("magic", 42i64)
            .unwrap();
        let out = run(
            &c,
            record(SchemaAndValue::new(schema, Value::Struct(value))),
        );
        let s = out.value.schema.unwrap();
        assert_eq!(
            (s.name(), s.version(), s.doc()),
            (Some("name"), Some(1), Some("doc"))
        );
        assert_eq!(s.field("topic_field").unwrap().schema(), &Schema::string());
        assert_eq!(
            s.field("partition_field").unwrap().schema(),
            &Schema::optional_int32()
        );
        assert_eq!(
            s.field("timestamp_field").unwrap().schema(),
            &logical::timestamp().optional().build()
        );
        assert_eq!(
            s.field("instance_id").unwrap().schema(),
            &Schema::optional_string()
        );
        let Value::Struct(v) = out.value.value else {
            panic!()
        };
        assert_eq!(v.get("magic"), Some(&Value::Int64(42)));
        assert_eq!(v.get("topic_field"), Some(&Value::from("test")));
        assert_eq!(v.get("partition_field"), Some(&Value::Int32(0)));
        assert_eq!(
            v.get("timestamp_field"),
            Some(&Value::Int64(1_500_000_000_000))
        );
        assert_eq!(v.get("instance_id"), Some(&Value::from("my-instance-id")));
    }

    #[test]
    fn the_schema_is_built_once_per_input_schema() {
        let c = chain(&[("type", T), ("topic.field", "t")]);
        let schema = |name: &str| {
            SchemaBuilder::struct_()
                .name(name)
                .field("a", Schema::int32())
                .build()
        };
        let run_with = |s: Schema| {
            let v = Struct::new(s.clone()).unwrap().put("a", 1i32).unwrap();
            run(&c, record(SchemaAndValue::new(s, Value::Struct(v))))
                .value
                .schema
                .unwrap()
        };
        let first = run_with(schema("x"));
        assert_eq!(run_with(schema("x")), first);
        let other = run_with(schema("y"));
        assert_eq!(
            other.name(),
            Some("y"),
            "a new input schema gets its own output schema"
        );
        assert_eq!(run_with(schema("x")).name(), Some("x"));
    }

    #[test]
    fn null_value_passes_through() {
        let c = chain(&[("type", T), ("topic.field", "t")]);
        let r = record(SchemaAndValue::null());
        assert_eq!(run(&c, r.clone()), r);
        let r = record(SchemaAndValue::new(
            SchemaBuilder::struct_().optional().build(),
            Value::Null,
        ));
        assert_eq!(run(&c, r.clone()), r);
    }

    #[test]
    fn missing_partition_and_timestamp_are_left_out_or_null() {
        let c = chain(&[
            ("type", T),
            ("partition.field", "p"),
            ("timestamp.field", "ts"),
        ]);
        let mut r = record(schemaless(string_map(&[("a", "b")])));
        r.kafka_partition = None;
        r.timestamp = None;
        assert_eq!(run(&c, r).value, schemaless(string_map(&[("a", "b")])));
    }

    #[test]
    fn key_variant_changes_the_key() {
        let c = chain(&[
            (
                "type",
                "org.apache.kafka.connect.transforms.InsertField$Key",
            ),
            ("topic.field", "t"),
        ]);
        let mut r = record(SchemaAndValue::null());
        r.key = schemaless(string_map(&[("k", "v")]));
        let out = run(&c, r);
        assert_eq!(
            out.key,
            schemaless(string_map(&[("k", "v"), ("t", "test")]))
        );
        assert_eq!(out.value, SchemaAndValue::null());
    }

    #[test]
    fn wrong_shapes_and_configs_are_errors() {
        let c = chain(&[("type", T), ("topic.field", "t")]);
        let e = err(&c, record(schemaless(Value::from("text"))));
        assert!(e.contains("only map values are supported in absence of schema for [field insertion], found: string"), "{e}");
        let e = err(
            &c,
            record(SchemaAndValue::new(Schema::string(), Value::from("x"))),
        );
        assert!(e.contains("only struct values"), "{e}");
        let schema = SchemaBuilder::struct_()
            .field("t", Schema::string())
            .build();
        let v = Struct::new(schema.clone()).unwrap().put("t", "x").unwrap();
        let e = err(&c, record(SchemaAndValue::new(schema, Value::Struct(v))));
        assert!(e.contains("duplicate field name \"t\""), "{e}");

        let e = super::super::tests::config_err(&[("type", T)]);
        assert!(e.contains("no field insertion configured"), "{e}");
        let e = super::super::tests::config_err(&[("type", T), ("static.field", "s")]);
        assert!(
            e.contains("transforms.a.static.value: required with static.field"),
            "{e}"
        );
        let e = super::super::tests::config_err(&[("type", T), ("offset.field", "o")]);
        assert!(
            e.contains(
                "transforms.a.offset.field: the Kafka offset is only known to sink connectors"
            ),
            "{e}"
        );
    }
}
