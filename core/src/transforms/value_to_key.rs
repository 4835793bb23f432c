//! `ValueToKey`: the key becomes a struct (or map) of fields copied from the value.

use std::sync::Arc;

use super::options::Options;
use super::util::{field_value, map_get, require_map, require_struct};
use super::Transformation;
use crate::data::{SchemaAndValue, SchemaBuilder, Struct, Value};
use crate::error::{Error, Result};
use crate::record::SourceRecord;

const PURPOSE: &str = "copying fields from value to key";

#[derive(Debug)]
struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
}

pub(super) fn build(o: &mut Options<'_>) -> Option<Arc<dyn Transformation>> {
    let fields = o.list("fields");
    if fields.is_empty() {
        o.problem(
            "fields",
            "required: the value's fields that make the key, comma-separated",
        );
    }
    let replace_null_with_default = o.bool("replace.null.with.default", true);
    Some(Arc::new(ValueToKey {
        fields,
        replace_null_with_default,
    }))
}

impl Transformation for ValueToKey {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        r.key = match &r.value.schema {
            None => {
                let entries = require_map(&r.value.value, PURPOSE)?;
                let key = self
                    .fields
                    .iter()
                    .map(|f| {
                        let v = map_get(entries, f).cloned().unwrap_or(Value::Null);
                        (Value::String(f.clone()), v)
                    })
                    .collect();
                SchemaAndValue::schemaless(Value::Map(key))
            }
            Some(_) => {
                let value = require_struct(&r.value.value, PURPOSE)?;
                let mut b = SchemaBuilder::struct_();
                for f in &self.fields {
                    let field = value.schema().field(f).ok_or_else(|| {
                        Error::Data(format!("field {f:?} does not exist in the value"))
                    })?;
                    b = b.field(f.clone(), field.schema().clone());
                }
                let schema = b.try_build()?;
                let mut key = Struct::new(schema.clone())?;
                for f in &self.fields {
                    key.set(f, field_value(value, f, self.replace_null_with_default))?;
                }
                SchemaAndValue::new(schema, Value::Struct(key))
            }
        };
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, err, map, record, run, schemaless};
    use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value};

    const T: &str = "org.apache.kafka.connect.transforms.ValueToKey";

    #[test]
    fn schemaless_and_struct() {
        let c = chain(&[("type", T), ("fields", "a,b")]);
        let value = schemaless(map(&[
            ("a", Value::Int32(1)),
            ("b", Value::Int32(2)),
            ("c", Value::Int32(3)),
        ]));
        let out = run(&c, record(value.clone()));
        assert_eq!(
            out.key,
            schemaless(map(&[("a", Value::Int32(1)), ("b", Value::Int32(2))]))
        );
        assert_eq!(out.value, value);

        let schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::optional_int32())
            .field("c", Schema::int32())
            .build();
        let v = Struct::new(schema.clone())
            .unwrap()
            .put("a", 1i32)
            .unwrap()
            .put("c", 3i32)
            .unwrap();
        let out = run(&c, record(SchemaAndValue::new(schema, Value::Struct(v))));
        let ks = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::optional_int32())
            .build();
        assert_eq!(out.key.schema.as_ref(), Some(&ks));
        let Value::Struct(k) = out.key.value else {
            panic!()
        };
        assert_eq!(
            (k.get("a"), k.get("b")),
            (Some(&Value::Int32(1)), Some(&Value::Null))
        );
    }

    #[test]
    fn errors() {
        let c = chain(&[("type", T), ("fields", "x")]);
        let schema = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let v = Struct::new(schema.clone()).unwrap().put("a", 1i32).unwrap();
        let e = err(&c, record(SchemaAndValue::new(schema, Value::Struct(v))));
        assert!(e.contains("field \"x\" does not exist in the value"), "{e}");
        let e = err(&c, record(SchemaAndValue::null()));
        assert!(e.contains("found: null"), "{e}");
        assert!(config_err(&[("type", T)]).contains("transforms.a.fields: required"));
    }
}
