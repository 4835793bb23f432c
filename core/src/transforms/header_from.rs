//! `HeaderFrom$Value` / `HeaderFrom$Key`: copies or moves fields into headers, written as Kafka
//! Connect's `SimpleHeaderConverter` writes them (`Values.convertToString`).

use std::sync::Arc;

use base64::Engine as _;

use super::java::DateFormat;
use super::options::Options;
use super::util::{
    copy_basics, decimal_text, field_value, map_get, require_map, require_struct, with_part, Part,
};
use super::Transformation;
use crate::convert::{java_double_to_string, java_float_to_string};
use crate::data::{logical, Schema, SchemaAndValue, Struct, Value};
use crate::error::{Error, Result};
use crate::record::{Header, SourceRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Move,
    Copy,
}

#[derive(Debug)]
struct HeaderFrom {
    part: Part,
    /// (field, header) pairs.
    pairs: Vec<(String, String)>,
    operation: Operation,
    replace_null_with_default: bool,
}

pub(super) fn build(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let fields = o.list("fields");
    let headers = o.list("headers");
    let operation = o.string("operation");
    let replace_null_with_default = o.bool("replace.null.with.default", true);
    if fields.is_empty() {
        o.problem(
            "fields",
            "required: the fields to copy or move into headers, comma-separated",
        );
    }
    if headers.is_empty() {
        o.problem(
            "headers",
            "required: the header names, in the order of fields",
        );
    } else if headers.len() != fields.len() {
        o.problem(
            "headers",
            format!(
                "{} header names for {} fields; give one header per field",
                headers.len(),
                fields.len()
            ),
        );
    }
    let operation = match operation.as_deref() {
        Some("move") => Some(Operation::Move),
        Some("copy") => Some(Operation::Copy),
        Some(other) => {
            o.problem(
                "operation",
                format!("{other:?} is not valid; expected move or copy"),
            );
            None
        }
        None => {
            o.problem(
                "operation",
                "required: move (remove the fields) or copy (keep them)",
            );
            None
        }
    };
    Some(Arc::new(HeaderFrom {
        part,
        pairs: fields.into_iter().zip(headers).collect(),
        operation: operation?,
        replace_null_with_default,
    }))
}

/// `v` as Connect's `Values.convertToString` writes it; `embedded` inside an array, map or
/// struct (strings quoted there). `schema` tells logical types and Decimals apart.
fn connect_string(
    out: &mut String,
    schema: Option<&Schema>,
    v: &Value,
    embedded: bool,
) -> Result<()> {
    let name = schema.and_then(|s| s.name());
    match (v, name) {
        (Value::Null, _) => out.push_str("null"),
        (Value::Bytes(b), Some(logical::DECIMAL_NAME)) => {
            let scale = schema
                .and_then(|s| s.parameters().get(logical::DECIMAL_SCALE))
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(0);
            let unscaled = logical::decimal_unscaled(b).ok_or_else(|| {
                Error::Data("a Decimal beyond 128 bits cannot be written to a header".into())
            })?;
            out.push_str(&decimal_text(unscaled, scale));
        }
        (Value::Int32(n), Some(logical::DATE_NAME)) => {
            out.push_str(&date_text(i64::from(*n) * 86_400_000)?)
        }
        (Value::Int32(n), Some(logical::TIME_NAME)) => out.push_str(&date_text(i64::from(*n))?),
        (Value::Int64(n), Some(logical::TIMESTAMP_NAME)) => out.push_str(&date_text(*n)?),
        (Value::Float32(f), _) => out.push_str(&java_float_to_string(*f)),
        (Value::Float64(f), _) => out.push_str(&java_double_to_string(*f)),
        (Value::String(s), _) if embedded => {
            out.push('"');
            out.push_str(&s.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
        }
        (Value::String(s), _) => out.push_str(s),
        (Value::Bytes(b), _) => {
            let text = base64::engine::general_purpose::STANDARD.encode(b);
            if embedded {
                out.push('"');
                out.push_str(&text);
                out.push('"');
            } else {
                out.push_str(&text);
            }
        }
        (Value::Array(items), _) => {
            out.push('[');
            let es = schema.and_then(|s| s.value_schema());
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                connect_string(out, es, item, true)?;
            }
            out.push(']');
        }
        (Value::Map(entries), _) => {
            out.push('{');
            let ks = schema.and_then(|s| s.key_schema());
            let vs = schema.and_then(|s| s.value_schema());
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                connect_string(out, ks, k, true)?;
                out.push(':');
                connect_string(out, vs, v, true)?;
            }
            out.push('}');
        }
        (Value::Struct(s), _) => {
            out.push('{');
            for (i, f) in s.schema().fields().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                connect_string(out, None, &Value::String(f.name().to_owned()), true)?;
                out.push(':');
                let v = s.get(f.name()).cloned().unwrap_or(Value::Null);
                connect_string(out, Some(f.schema()), &v, true)?;
            }
            out.push('}');
        }
        (other, _) => out.push_str(&other.to_string()),
    }
    Ok(())
}

/// A date as Connect's `Values.dateFormatFor`: a time of day, a date or a timestamp.
fn date_text(ms: i64) -> Result<String> {
    let pattern = if ms < 86_400_000 {
        "HH:mm:ss.SSS'Z'"
    } else if ms % 86_400_000 == 0 {
        "yyyy-MM-dd"
    } else {
        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
    };
    Ok(DateFormat::parse(pattern).map_err(Error::Data)?.format(ms))
}

/// The header for `value`: its Connect text. A null value gives an empty header value:
/// Sluice's headers always carry bytes, where Connect would write a null header value.
fn header(name: &str, schema: Option<&Schema>, value: &Value) -> Result<Header> {
    let mut text = String::new();
    if *value != Value::Null {
        connect_string(&mut text, schema, value, false)?;
    }
    Ok(Header::string(name, text))
}

impl Transformation for HeaderFrom {
    fn apply(&self, r: SourceRecord) -> Result<Option<SourceRecord>> {
        let purpose = match self.operation {
            Operation::Move => "header move",
            Operation::Copy => "header copy",
        };
        let sv = self.part.get(&r);
        let mut headers = Vec::with_capacity(self.pairs.len());
        let moved = |name: &str| self.pairs.iter().any(|(f, _)| f == name);
        let updated = match &sv.schema {
            None => {
                let entries = require_map(&sv.value, purpose)?;
                for (field, name) in &self.pairs {
                    let v = map_get(entries, field).cloned().unwrap_or(Value::Null);
                    headers.push(header(name, None, &v)?);
                }
                (self.operation == Operation::Move).then(|| {
                    let kept = entries
                        .iter()
                        .filter(|(k, _)| !matches!(k, Value::String(s) if moved(s)))
                        .cloned()
                        .collect();
                    SchemaAndValue::schemaless(Value::Map(kept))
                })
            }
            Some(schema) => {
                let value = require_struct(&sv.value, purpose)?;
                for (field, name) in &self.pairs {
                    let f = schema.field(field).ok_or_else(|| {
                        Error::Data(format!(
                            "the value has no field {field:?} to put in header {name:?}"
                        ))
                    })?;
                    let v = field_value(value, field, self.replace_null_with_default);
                    headers.push(header(name, Some(f.schema()), &v)?);
                }
                if self.operation == Operation::Move {
                    let mut b = copy_basics(schema);
                    for f in schema.fields() {
                        if !moved(f.name()) {
                            b = b.field(f.name(), f.schema().clone());
                        }
                    }
                    let updated = b.try_build()?;
                    let mut out = Struct::new(updated.clone())?;
                    for f in updated.fields() {
                        let v = field_value(value, f.name(), self.replace_null_with_default);
                        out.set(f.name(), v)?;
                    }
                    Some(SchemaAndValue::new(updated, Value::Struct(out)))
                } else {
                    None
                }
            }
        };
        let mut r = match updated {
            Some(sv) => with_part(r, self.part, sv),
            None => r,
        };
        r.headers.extend(headers);
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, err, map, record, run, schemaless};
    use crate::data::{logical, Schema, SchemaAndValue, SchemaBuilder, Struct, Value};
    use crate::record::Header;

    const T: &str = "org.apache.kafka.connect.transforms.HeaderFrom$Value";

    #[test]
    fn schemaless_copy_and_move() {
        let tags = Value::Array(vec![Value::from("a"), Value::Int32(1)]);
        let input = map(&[
            ("id", Value::Int32(42)),
            ("name", Value::from("ann")),
            ("tags", tags.clone()),
            ("gone", Value::Null),
        ]);
        let c = chain(&[
            ("type", T),
            ("fields", "id,tags,gone"),
            ("headers", "h_id,h_tags,h_gone"),
            ("operation", "copy"),
        ]);
        let out = run(&c, record(schemaless(input.clone())));
        assert_eq!(out.value, schemaless(input.clone()));
        assert_eq!(
            out.headers,
            vec![
                Header::string("h_id", "42"),
                Header::string("h_tags", "[\"a\",1]"),
                Header::string("h_gone", ""),
            ]
        );
        let c = chain(&[
            ("type", T),
            ("fields", "id"),
            ("headers", "h_id"),
            ("operation", "move"),
        ]);
        let out = run(&c, record(schemaless(input)));
        assert_eq!(
            out.value,
            schemaless(map(&[
                ("name", Value::from("ann")),
                ("tags", tags),
                ("gone", Value::Null),
            ]))
        );
        assert_eq!(out.headers, vec![Header::string("h_id", "42")]);
    }

    #[test]
    fn struct_move_with_connect_text() {
        let inner = SchemaBuilder::struct_()
            .field("x", Schema::float64())
            .field("s", Schema::optional_string())
            .build();
        let schema = SchemaBuilder::struct_()
            .name("n")
            .field("ts", logical::timestamp().build())
            .field("inner", inner.clone())
            .field("b", Schema::bytes())
            .field("keep", Schema::int32())
            .build();
        let i = Struct::new(inner)
            .unwrap()
            .put("x", 1.5f64)
            .unwrap()
            .put("s", "q\"")
            .unwrap();
        let v = Struct::new(schema.clone())
            .unwrap()
            .put("ts", 1_500_000_000_123i64)
            .unwrap()
            .put("inner", i)
            .unwrap()
            .put("b", b"hi".to_vec())
            .unwrap()
            .put("keep", 7i32)
            .unwrap();
        let c = chain(&[
            ("type", T),
            ("fields", "ts,inner,b"),
            ("headers", "a,b,c"),
            ("operation", "move"),
        ]);
        let out = run(&c, record(SchemaAndValue::new(schema, Value::Struct(v))));
        assert_eq!(
            out.headers,
            vec![
                Header::string("a", "2017-07-14T02:40:00.123Z"),
                Header::string("b", r#"{"x":1.5,"s":"q\""}"#),
                Header::string("c", "aGk="),
            ]
        );
        let s = out.value.schema.unwrap();
        assert_eq!(s.name(), Some("n"));
        let names: Vec<&str> = s.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["keep"]);
        let Value::Struct(kept) = out.value.value else {
            panic!()
        };
        assert_eq!(kept.get("keep"), Some(&Value::Int32(7)));
    }

    #[test]
    fn errors() {
        let c = chain(&[
            ("type", T),
            ("fields", "x"),
            ("headers", "h"),
            ("operation", "copy"),
        ]);
        let schema = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let v = Struct::new(schema.clone()).unwrap().put("a", 1i32).unwrap();
        let e = err(&c, record(SchemaAndValue::new(schema, Value::Struct(v))));
        assert!(
            e.contains("the value has no field \"x\" to put in header \"h\""),
            "{e}"
        );
        let e = err(&c, record(SchemaAndValue::null()));
        assert!(e.contains("[header copy], found: null"), "{e}");
        let e = config_err(&[
            ("type", T),
            ("fields", "a,b"),
            ("headers", "h"),
            ("operation", "swap"),
        ]);
        assert!(
            e.contains("transforms.a.headers: 1 header names for 2 fields"),
            "{e}"
        );
        assert!(
            e.contains("transforms.a.operation: \"swap\" is not valid"),
            "{e}"
        );
    }
}
