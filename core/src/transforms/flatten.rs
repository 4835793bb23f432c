//! `Flatten$Value` / `Flatten$Key`: nested structs (or maps) become top-level fields named by
//! their path, joined with a delimiter.

use std::sync::Arc;

use super::options::Options;
use super::util::{
    copy_basics, map_put, require_map, require_struct, type_of, with_part, Part, SchemaCache,
};
use super::Transformation;
use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use crate::error::{Error, Result};
use crate::record::SourceRecord;

const PURPOSE: &str = "flattening";

#[derive(Debug)]
struct Flatten {
    part: Part,
    delimiter: String,
    schemas: SchemaCache,
}

pub(super) fn build(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let delimiter = o.string("delimiter").unwrap_or_else(|| ".".into());
    Some(Arc::new(Flatten {
        part,
        delimiter,
        schemas: SchemaCache::default(),
    }))
}

impl Flatten {
    fn name(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn flatten_map(
        &self,
        entries: &[(Value, Value)],
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<()> {
        for (k, v) in entries {
            let key = match k {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let name = self.name(prefix, &key);
            match v {
                Value::Map(inner) => self.flatten_map(inner, &name, out)?,
                Value::Struct(_) => {
                    return Err(Error::Data(format!(
                        "cannot flatten a struct inside schemaless data (field {name:?})"
                    )))
                }
                other => map_put(out, &name, other.clone()),
            }
        }
        Ok(())
    }

    /// Adds the flattened fields of struct schema `schema` to `b`; `optional` when an ancestor
    /// is, `parent_default` the default an ancestor gives.
    fn flatten_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        mut b: SchemaBuilder,
        optional: bool,
        parent_default: Option<&Struct>,
    ) -> Result<SchemaBuilder> {
        for f in schema.fields() {
            let name = self.name(prefix, f.name());
            let fs = f.schema();
            let optional = optional || fs.is_optional();
            let default = fs
                .default_value()
                .cloned()
                .or_else(|| parent_default.and_then(|d| d.get(f.name()).cloned()))
                .filter(|d| *d != Value::Null);
            match fs.type_() {
                Type::Struct => {
                    let d = match &default {
                        Some(Value::Struct(s)) => Some(s),
                        _ => None,
                    };
                    b = self.flatten_schema(fs, &name, b, optional, d)?;
                }
                Type::Map => {
                    return Err(Error::Data(format!(
                        "cannot flatten a map field of a struct (field {name:?}); only structs nest"
                    )))
                }
                t => {
                    let mut fb = match t {
                        Type::Array => SchemaBuilder::array(
                            fs.value_schema().cloned().unwrap_or_else(Schema::string),
                        ),
                        t => SchemaBuilder::new(t),
                    };
                    if let Some(n) = fs.name() {
                        fb = fb.name(n);
                    }
                    if let Some(v) = fs.version() {
                        fb = fb.version(v);
                    }
                    if let Some(d) = fs.doc() {
                        fb = fb.doc(d);
                    }
                    for (k, v) in fs.parameters() {
                        fb = fb.parameter(k, v);
                    }
                    if optional {
                        fb = fb.optional();
                    }
                    if let Some(d) = default {
                        fb = fb.default_value(d);
                    }
                    b = b.field(name, fb.try_build()?);
                }
            }
        }
        Ok(b)
    }

    fn flatten_struct(&self, s: &Struct, prefix: &str, out: &mut Struct) -> Result<()> {
        for f in s.schema().fields() {
            let name = self.name(prefix, f.name());
            match (f.schema().type_(), s.get(f.name())) {
                (Type::Struct, Some(Value::Struct(inner))) => {
                    self.flatten_struct(inner, &name, out)?
                }
                (Type::Struct, _) => {}
                (_, Some(v)) => out.set(&name, v.clone())?,
                (_, None) => {}
            }
        }
        Ok(())
    }
}

impl Transformation for Flatten {
    fn apply(&self, r: SourceRecord) -> Result<Option<SourceRecord>> {
        let sv = self.part.get(&r);
        if sv.value == Value::Null {
            return Ok(Some(r));
        }
        let updated = match &sv.schema {
            None => {
                let entries = require_map(&sv.value, PURPOSE)?;
                let mut out = Vec::with_capacity(entries.len());
                self.flatten_map(entries, "", &mut out)?;
                SchemaAndValue::schemaless(Value::Map(out))
            }
            Some(schema) => {
                let value = require_struct(&sv.value, PURPOSE)?;
                if schema.type_() != Type::Struct {
                    return Err(Error::Data(format!(
                        "cannot flatten a {}",
                        type_of(&sv.value)
                    )));
                }
                let default = match schema.default_value() {
                    Some(Value::Struct(d)) => Some(d),
                    _ => None,
                };
                let updated = self.schemas.get_or_build(schema, || {
                    self.flatten_schema(
                        schema,
                        "",
                        copy_basics(schema),
                        schema.is_optional(),
                        default,
                    )?
                    .try_build()
                })?;
                let mut out = Struct::new(updated.clone())?;
                self.flatten_struct(value, "", &mut out)?;
                SchemaAndValue::new(updated, Value::Struct(out))
            }
        };
        Ok(Some(with_part(r, self.part, updated)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, err, map, record, run, schemaless};
    use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value};

    const T: &str = "org.apache.kafka.connect.transforms.Flatten$Value";

    #[test]
    fn schemaless_nested_maps() {
        // Connect's example: {"content": {"id": 42, "name": {"first": "David", "middle": null}}}.
        let name = map(&[("first", Value::from("David")), ("middle", Value::Null)]);
        let input = map(&[
            ("content", map(&[("id", Value::Int32(42)), ("name", name)])),
            ("tags", Value::Array(vec![Value::from("a")])),
        ]);
        let out = run(&chain(&[("type", T)]), record(schemaless(input.clone()))).value;
        assert_eq!(
            out,
            schemaless(map(&[
                ("content.id", Value::Int32(42)),
                ("content.name.first", Value::from("David")),
                ("content.name.middle", Value::Null),
                ("tags", Value::Array(vec![Value::from("a")])),
            ]))
        );
        let out = run(
            &chain(&[("type", T), ("delimiter", "_")]),
            record(schemaless(input)),
        )
        .value;
        let Value::Map(entries) = out.value else {
            panic!()
        };
        assert_eq!(entries[1].0, Value::from("content_name_first"));
    }

    #[test]
    fn structs_with_optional_parents_and_defaults() {
        let inner = SchemaBuilder::struct_()
            .field("int8", Schema::int8())
            .field(
                "str",
                SchemaBuilder::new(crate::data::Type::String)
                    .default_value(Value::from("d"))
                    .build(),
            )
            .build();
        let opt_inner = SchemaBuilder::struct_()
            .optional()
            .field("x", Schema::int32())
            .build();
        let schema = SchemaBuilder::struct_()
            .name("top")
            .field("A", inner.clone())
            .field("B", opt_inner.clone())
            .field("c", Schema::boolean())
            .build();
        let a = Struct::new(inner).unwrap().put("int8", 8i8).unwrap();
        let v = Struct::new(schema.clone())
            .unwrap()
            .put("A", a)
            .unwrap()
            .put("c", true)
            .unwrap();
        let out = run(
            &chain(&[("type", T)]),
            record(SchemaAndValue::new(schema, Value::Struct(v))),
        )
        .value;
        let s = out.schema.unwrap();
        assert_eq!(s.name(), Some("top"));
        let names: Vec<&str> = s.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["A.int8", "A.str", "B.x", "c"]);
        assert_eq!(
            s.field("B.x").unwrap().schema(),
            &Schema::optional_int32(),
            "optional because B is"
        );
        assert_eq!(s.field("A.int8").unwrap().schema(), &Schema::int8());
        let Value::Struct(o) = out.value else {
            panic!()
        };
        assert_eq!(o.get("A.int8"), Some(&Value::Int8(8)));
        assert_eq!(o.get("A.str"), Some(&Value::from("d")));
        assert_eq!(o.get("B.x"), Some(&Value::Null));
        assert_eq!(o.get("c"), Some(&Value::Boolean(true)));
    }

    #[test]
    fn null_passes_and_maps_in_structs_fail() {
        let c = chain(&[("type", T)]);
        let r = record(SchemaAndValue::null());
        assert_eq!(run(&c, r.clone()), r);
        let schema = SchemaBuilder::struct_()
            .field(
                "m",
                SchemaBuilder::map(Schema::string(), Schema::string())
                    .optional()
                    .build(),
            )
            .build();
        let v = Struct::new(schema.clone()).unwrap();
        let e = err(&c, record(SchemaAndValue::new(schema, Value::Struct(v))));
        assert!(
            e.contains("cannot flatten a map field of a struct (field \"m\")"),
            "{e}"
        );
        let e = err(&c, record(schemaless(Value::from("x"))));
        assert!(e.contains("found: string"), "{e}");
    }
}
