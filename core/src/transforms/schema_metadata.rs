//! `SetSchemaMetadata$Value` / `SetSchemaMetadata$Key`: sets the schema's name and/or version.

use std::sync::Arc;

use super::options::Options;
use super::util::{require_schema, with_part, Part};
use super::Transformation;
use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use crate::error::Result;
use crate::record::SourceRecord;

#[derive(Debug)]
struct SetSchemaMetadata {
    part: Part,
    name: Option<String>,
    version: Option<i32>,
}

pub(super) fn build(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let name = o.string("schema.name");
    let version = o.int("schema.version");
    // Accepted as in Connect; the struct's field values are copied as they are either way.
    o.bool("replace.null.with.default", true);
    if name.is_none() && version.is_none() {
        o.general_problem("neither schema.name nor schema.version is set; set one or both");
    }
    Some(Arc::new(SetSchemaMetadata {
        part,
        name,
        version,
    }))
}

/// `schema` with `name` and `version` where given, everything else kept.
fn renamed(schema: &Schema, name: Option<&str>, version: Option<i32>) -> Result<Schema> {
    let mut b = match schema.type_() {
        Type::Array => SchemaBuilder::array(
            schema
                .value_schema()
                .cloned()
                .unwrap_or_else(Schema::string),
        ),
        Type::Map => SchemaBuilder::map(
            schema.key_schema().cloned().unwrap_or_else(Schema::string),
            schema
                .value_schema()
                .cloned()
                .unwrap_or_else(Schema::string),
        ),
        t => SchemaBuilder::new(t),
    };
    if schema.is_optional() {
        b = b.optional();
    }
    if let Some(d) = schema.default_value() {
        b = b.default_value(d.clone());
    }
    if let Some(n) = name.or(schema.name()) {
        b = b.name(n);
    }
    if let Some(v) = version.or(schema.version()) {
        b = b.version(v);
    }
    if let Some(d) = schema.doc() {
        b = b.doc(d);
    }
    for (k, v) in schema.parameters() {
        b = b.parameter(k, v);
    }
    for f in schema.fields() {
        b = b.field(f.name(), f.schema().clone());
    }
    b.try_build()
}

impl Transformation for SetSchemaMetadata {
    fn apply(&self, r: SourceRecord) -> Result<Option<SourceRecord>> {
        let sv = self.part.get(&r);
        if sv.schema.is_none() && sv.value == Value::Null {
            return Ok(Some(r));
        }
        let schema = require_schema(sv.schema.as_ref(), "updating schema metadata")?;
        let updated = renamed(schema, self.name.as_deref(), self.version)?;
        // A struct carries its schema: it gets the new one, with the same values.
        let value = match &sv.value {
            Value::Struct(s) => {
                let mut out = Struct::new(updated.clone())?;
                for (f, v) in updated.fields().iter().zip(s.values()) {
                    out.set(f.name(), v.clone())?;
                }
                Value::Struct(out)
            }
            other => other.clone(),
        };
        Ok(Some(with_part(
            r,
            self.part,
            SchemaAndValue::new(updated, value),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, err, record, run, schemaless};
    use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value};

    const T: &str = "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value";

    #[test]
    fn sets_name_and_version_and_keeps_the_rest() {
        let schema = SchemaBuilder::struct_()
            .name("old")
            .version(1)
            .doc("d")
            .optional()
            .field("a", Schema::optional_int32())
            .build();
        let v = Struct::new(schema.clone()).unwrap().put("a", 7i32).unwrap();
        let cases = [
            (vec![("schema.name", "foo")], Some("foo"), Some(1)),
            (vec![("schema.version", "42")], Some("old"), Some(42)),
            (
                vec![("schema.name", "foo"), ("schema.version", "42")],
                Some("foo"),
                Some(42),
            ),
        ];
        for (opts, name, version) in cases {
            let mut all = vec![("type", T)];
            all.extend(opts);
            let out = run(
                &chain(&all),
                record(SchemaAndValue::new(
                    schema.clone(),
                    Value::Struct(v.clone()),
                )),
            )
            .value;
            let s = out.schema.unwrap();
            assert_eq!(
                (s.name(), s.version(), s.doc(), s.is_optional()),
                (name, version, Some("d"), true)
            );
            let Value::Struct(sv) = out.value else {
                panic!()
            };
            assert_eq!(sv.schema(), &s, "the struct carries the new schema");
            assert_eq!(sv.get("a"), Some(&Value::Int32(7)));
        }
        // A primitive, and a null with a schema.
        let c = chain(&[("type", T), ("schema.name", "n")]);
        let out = run(
            &c,
            record(SchemaAndValue::new(Schema::optional_string(), Value::Null)),
        )
        .value;
        assert_eq!(out.schema.unwrap().name(), Some("n"));
    }

    #[test]
    fn schemaless_null_passes_and_schemaless_data_fails() {
        let c = chain(&[("type", T), ("schema.name", "n")]);
        let r = record(SchemaAndValue::null());
        assert_eq!(run(&c, r.clone()), r);
        let e = err(&c, record(schemaless(Value::from("x"))));
        assert!(
            e.contains("schema required for [updating schema metadata]"),
            "{e}"
        );
        let e = config_err(&[("type", T)]);
        assert!(
            e.contains("neither schema.name nor schema.version is set"),
            "{e}"
        );
        let e = config_err(&[("type", T), ("schema.version", "x")]);
        assert!(
            e.contains("transforms.a.schema.version: \"x\" is not an int32"),
            "{e}"
        );
    }
}
