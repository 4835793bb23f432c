//! `ExtractField$Value|$Key` (a struct or map's field becomes the whole key or value) and
//! `HoistField$Value|$Key` (the whole key or value becomes a field of a new struct or map).

use std::sync::Arc;

use super::options::Options;
use super::util::{field_value, map_get, type_of, with_part, Part};
use super::Transformation;
use crate::data::{SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::error::{Error, Result};
use crate::record::SourceRecord;

const EXTRACT: &str = "field extraction";

#[derive(Debug)]
struct ExtractField {
    part: Part,
    field: String,
    replace_null_with_default: bool,
}

pub(super) fn build_extract(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let field = o.required("field", "the name of the field to extract");
    if let Some(v) = o.string("field.syntax.version") {
        if !v.eq_ignore_ascii_case("V1") {
            o.problem(
                "field.syntax.version",
                format!("{v:?} is not supported: only V1 (a top-level field name, dots included) is; nested paths (V2) are not implemented"),
            );
        }
    }
    let replace_null_with_default = o.bool("replace.null.with.default", true);
    Some(Arc::new(ExtractField {
        part,
        field: field?,
        replace_null_with_default,
    }))
}

impl Transformation for ExtractField {
    fn apply(&self, r: SourceRecord) -> Result<Option<SourceRecord>> {
        let sv = self.part.get(&r);
        let updated = match (&sv.schema, &sv.value) {
            (None, Value::Null) => SchemaAndValue::null(),
            (None, Value::Map(entries)) => SchemaAndValue::schemaless(
                map_get(entries, &self.field)
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
            (None, other) => {
                return Err(Error::Data(format!(
                    "only map values are supported in absence of schema for [{EXTRACT}], found: {}",
                    type_of(other)
                )))
            }
            (Some(schema), value) => {
                let field = schema.field(&self.field).ok_or_else(|| {
                    Error::Data(format!(
                        "unknown field {:?}; the schema has {}",
                        self.field,
                        schema
                            .fields()
                            .iter()
                            .map(|f| f.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                let v = match value {
                    Value::Null => Value::Null,
                    Value::Struct(s) => field_value(s, &self.field, self.replace_null_with_default),
                    other => {
                        return Err(Error::Data(format!(
                            "only struct values are supported for [{EXTRACT}], found: {}",
                            type_of(other)
                        )))
                    }
                };
                SchemaAndValue::new(field.schema().clone(), v)
            }
        };
        Ok(Some(with_part(r, self.part, updated)))
    }
}

#[derive(Debug)]
struct HoistField {
    part: Part,
    field: String,
}

pub(super) fn build_hoist(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let field = o.required(
        "field",
        "the name of the single field of the new struct or map",
    );
    Some(Arc::new(HoistField {
        part,
        field: field?,
    }))
}

impl Transformation for HoistField {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        let sv = std::mem::replace(self.part.get_mut(&mut r), SchemaAndValue::null());
        let updated = match sv.schema {
            None => SchemaAndValue::schemaless(Value::Map(vec![(
                Value::String(self.field.clone()),
                sv.value,
            )])),
            Some(schema) => {
                let s = SchemaBuilder::struct_()
                    .field(self.field.clone(), schema)
                    .try_build()?;
                let v = Struct::new(s.clone())?.put(&self.field, sv.value)?;
                SchemaAndValue::new(s, Value::Struct(v))
            }
        };
        Ok(Some(with_part(r, self.part, updated)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, err, map, record, run, schemaless};
    use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value};

    const EXTRACT_KEY: &str = "org.apache.kafka.connect.transforms.ExtractField$Key";
    const EXTRACT_VALUE: &str = "org.apache.kafka.connect.transforms.ExtractField$Value";
    const HOIST_KEY: &str = "org.apache.kafka.connect.transforms.HoistField$Key";
    const HOIST_VALUE: &str = "org.apache.kafka.connect.transforms.HoistField$Value";

    fn with_key(key: SchemaAndValue) -> crate::record::SourceRecord {
        let mut r = record(SchemaAndValue::null());
        r.key = key;
        r
    }

    #[test]
    fn extract_table() {
        let schema = SchemaBuilder::struct_()
            .field("magic", Schema::int32())
            .field("opt", Schema::optional_string())
            .build();
        let st = Struct::new(schema.clone())
            .unwrap()
            .put("magic", 42i32)
            .unwrap();
        let cases: Vec<(&str, SchemaAndValue, SchemaAndValue)> = vec![
            // Connect's example: {"magic": 42} with field=magic gives 42.
            (
                "magic",
                schemaless(map(&[("magic", Value::Int32(42))])),
                schemaless(Value::Int32(42)),
            ),
            (
                "nonexistent",
                schemaless(map(&[("magic", Value::Int32(42))])),
                SchemaAndValue::null(),
            ),
            ("magic", SchemaAndValue::null(), SchemaAndValue::null()),
            (
                "magic",
                SchemaAndValue::new(schema.clone(), Value::Struct(st.clone())),
                SchemaAndValue::new(Schema::int32(), Value::Int32(42)),
            ),
            (
                "opt",
                SchemaAndValue::new(schema.clone(), Value::Struct(st)),
                SchemaAndValue::new(Schema::optional_string(), Value::Null),
            ),
            (
                "magic",
                SchemaAndValue::new(schema, Value::Null),
                SchemaAndValue::new(Schema::int32(), Value::Null),
            ),
        ];
        for (field, input, expected) in cases {
            let c = chain(&[("type", EXTRACT_KEY), ("field", field)]);
            assert_eq!(
                run(&c, with_key(input.clone())).key,
                expected,
                "{field} of {input:?}"
            );
            let c = chain(&[("type", EXTRACT_VALUE), ("field", field)]);
            assert_eq!(run(&c, record(input)).value, expected);
        }
    }

    #[test]
    fn extract_errors() {
        let c = chain(&[("type", EXTRACT_VALUE), ("field", "nope")]);
        let schema = SchemaBuilder::struct_()
            .field("magic", Schema::int32())
            .build();
        let st = Struct::new(schema.clone())
            .unwrap()
            .put("magic", 1i32)
            .unwrap();
        let e = err(&c, record(SchemaAndValue::new(schema, Value::Struct(st))));
        assert!(
            e.contains("unknown field \"nope\"; the schema has magic"),
            "{e}"
        );
        let e = err(&c, record(schemaless(Value::from("x"))));
        assert!(e.contains("found: string"), "{e}");
        let e = config_err(&[
            ("type", EXTRACT_VALUE),
            ("field", "a.b"),
            ("field.syntax.version", "V2"),
        ]);
        assert!(
            e.contains("transforms.a.field.syntax.version: \"V2\" is not supported"),
            "{e}"
        );
        let e = config_err(&[("type", EXTRACT_VALUE)]);
        assert!(e.contains("transforms.a.field: required"), "{e}");
    }

    #[test]
    fn hoist_table() {
        // Connect's example: 42 with field=magic gives {"magic": 42} / Struct{magic=42}.
        let c = chain(&[("type", HOIST_KEY), ("field", "magic")]);
        let out = run(&c, with_key(schemaless(Value::Int32(42))));
        assert_eq!(out.key, schemaless(map(&[("magic", Value::Int32(42))])));
        let out = run(&c, with_key(SchemaAndValue::null()));
        assert_eq!(out.key, schemaless(map(&[("magic", Value::Null)])));

        let c = chain(&[("type", HOIST_VALUE), ("field", "magic")]);
        let out = run(
            &c,
            record(SchemaAndValue::new(Schema::int32(), Value::Int32(42))),
        )
        .value;
        let expected = SchemaBuilder::struct_()
            .field("magic", Schema::int32())
            .build();
        assert_eq!(out.schema.as_ref(), Some(&expected));
        let Value::Struct(s) = out.value else {
            panic!()
        };
        assert_eq!(s.get("magic"), Some(&Value::Int32(42)));
        let out = run(
            &c,
            record(SchemaAndValue::new(Schema::optional_int32(), Value::Null)),
        )
        .value;
        let Value::Struct(s) = out.value else {
            panic!()
        };
        assert_eq!(s.get("magic"), Some(&Value::Null));
        let e = err(
            &c,
            record(SchemaAndValue::new(Schema::int32(), Value::Null)),
        );
        assert!(e.contains("null value for a required int32 schema"), "{e}");
    }
}
