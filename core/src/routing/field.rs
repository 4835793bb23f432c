//! [`FieldPath`]: a dotted path into a record's value (`record.key.field=customer.id`), through
//! nested structs and maps with string keys.

use std::fmt;

use crate::data::{Schema, SchemaAndValue, Value};

/// A dotted path into nested structs and string-keyed maps, e.g. `customer.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    path: String,
    segments: Vec<String>,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

impl FieldPath {
    /// Parses `a.b.c`; every segment must be non-empty (a field name containing a dot cannot be
    /// named).
    ///
    /// # Errors
    /// A sentence naming the empty segment.
    pub fn parse(path: &str) -> std::result::Result<Self, String> {
        let path = path.trim();
        if path.is_empty() {
            return Err("the field path is empty; name a field, e.g. id or customer.id".into());
        }
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if let Some(i) = segments.iter().position(String::is_empty) {
            return Err(format!(
                "{path:?}: segment {} is empty; write field names separated by single dots, e.g. customer.id",
                i + 1
            ));
        }
        Ok(FieldPath {
            path: path.to_owned(),
            segments,
        })
    }

    /// The value at this path in `record`, with its schema when `record` has one. A missing
    /// field, a null on the way or a value that is neither a struct nor a map gives a null
    /// (as Kafka Connect's `ExtractField` does for a schemaless value without the field).
    pub fn get(&self, record: &SchemaAndValue) -> SchemaAndValue {
        let mut schema = record.schema.as_ref();
        let mut value = &record.value;
        for segment in &self.segments {
            let next = match value {
                Value::Struct(s) => s
                    .get(segment)
                    .map(|v| (v, s.schema().field(segment).map(|f| f.schema()))),
                Value::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.as_str() == Some(segment.as_str()))
                    .map(|(_, v)| (v, schema.and_then(Schema::value_schema))),
                _ => None,
            };
            match next {
                Some((v, s)) => {
                    value = v;
                    schema = s;
                }
                None => return SchemaAndValue::null(),
            }
        }
        SchemaAndValue {
            schema: schema.cloned(),
            value: value.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{SchemaBuilder, Struct};

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn walks_schemaless_maps() {
        let record = SchemaAndValue::schemaless(Value::Map(vec![
            (s("id"), Value::Int64(7)),
            (
                s("customer"),
                Value::Map(vec![(s("name"), s("ada")), (s("id"), s("c-1"))]),
            ),
        ]));
        let get = |p: &str| FieldPath::parse(p).unwrap().get(&record);
        assert_eq!(get("id"), SchemaAndValue::schemaless(Value::Int64(7)));
        assert_eq!(get("customer.id"), SchemaAndValue::schemaless(s("c-1")));
        assert_eq!(get("customer.age"), SchemaAndValue::null(), "missing");
        assert_eq!(get("id.x"), SchemaAndValue::null(), "not a container");
    }

    #[test]
    fn walks_structs_and_keeps_the_fields_schema() {
        let inner = SchemaBuilder::struct_()
            .field("id", Schema::string())
            .build();
        let outer = SchemaBuilder::struct_()
            .field("n", Schema::int32())
            .field("customer", inner.clone())
            .build();
        let customer = Struct::new(inner).unwrap().put("id", "c-9").unwrap();
        let record = SchemaAndValue::new(
            outer.clone(),
            Value::Struct(
                Struct::new(outer)
                    .unwrap()
                    .put("n", 1i32)
                    .unwrap()
                    .put("customer", Value::Struct(customer))
                    .unwrap(),
            ),
        );
        let got = FieldPath::parse("customer.id").unwrap().get(&record);
        assert_eq!(got, SchemaAndValue::new(Schema::string(), s("c-9")));
        assert_eq!(
            FieldPath::parse("customer.nope").unwrap().get(&record),
            SchemaAndValue::null()
        );
    }

    #[test]
    fn rejects_empty_segments() {
        assert!(FieldPath::parse("").is_err());
        let e = FieldPath::parse("a..b").unwrap_err();
        assert!(e.contains("segment 2 is empty"), "{e}");
        assert!(FieldPath::parse(".a").is_err());
    }
}
