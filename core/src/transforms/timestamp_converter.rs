//! `TimestampConverter$Value` / `TimestampConverter$Key`: converts a timestamp (the whole value
//! or one field) between string, unix epoch, Date, Time and Timestamp.

use std::sync::Arc;

use super::java::DateFormat;
use super::options::Options;
use super::util::{
    copy_basics, field_value, map_get, map_put, require_map, type_of, with_part, Part,
};
use super::Transformation;
use crate::data::{logical, Schema, SchemaAndValue, Struct, Type, Value};
use crate::error::{Error, Result};
use crate::record::SourceRecord;

const PURPOSE: &str = "converting timestamp formats";
const MILLIS_PER_DAY: i64 = 86_400_000;
const TARGETS: [&str; 5] = ["string", "unix", "Date", "Time", "Timestamp"];
const PRECISIONS: [&str; 4] = ["seconds", "milliseconds", "microseconds", "nanoseconds"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

#[derive(Debug)]
struct TimestampConverter {
    part: Part,
    field: String,
    target: Kind,
    format: Option<DateFormat>,
    precision: &'static str,
    replace_null_with_default: bool,
}

pub(super) fn build(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let field = o.string("field").unwrap_or_default();
    let target = o.string("target.type");
    let pattern = o.string("format").filter(|p| !p.trim().is_empty());
    let precision = o.string("unix.precision");
    let replace_null_with_default = o.bool("replace.null.with.default", true);
    let target = match target.as_deref() {
        Some("string") => Some(Kind::String),
        Some("unix") => Some(Kind::Unix),
        Some("Date") => Some(Kind::Date),
        Some("Time") => Some(Kind::Time),
        Some("Timestamp") => Some(Kind::Timestamp),
        Some(other) => {
            o.problem(
                "target.type",
                format!(
                    "{other:?} is not valid; expected one of {}",
                    TARGETS.join(", ")
                ),
            );
            None
        }
        None => {
            o.problem(
                "target.type",
                format!("required: one of {}", TARGETS.join(", ")),
            );
            None
        }
    };
    let precision = match precision.as_deref() {
        None => "milliseconds",
        Some(p) => match PRECISIONS.iter().find(|x| **x == p) {
            Some(x) => x,
            None => {
                o.problem(
                    "unix.precision",
                    format!(
                        "{p:?} is not valid; expected one of {}",
                        PRECISIONS.join(", ")
                    ),
                );
                "milliseconds"
            }
        },
    };
    let format = match pattern.map(|p| DateFormat::parse(&p)) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            o.problem("format", e);
            None
        }
        None => {
            if target == Some(Kind::String) {
                o.problem("format", "required with target.type=string: a SimpleDateFormat pattern, e.g. yyyy-MM-dd'T'HH:mm:ss.SSSX");
            }
            None
        }
    };
    Some(Arc::new(TimestampConverter {
        part,
        field,
        target: target?,
        format,
        precision,
        replace_null_with_default,
    }))
}

impl TimestampConverter {
    /// The kind of a value with `schema` (Connect's `timestampTypeFromSchema`).
    fn kind_of_schema(schema: &Schema) -> Result<Kind> {
        Ok(match (schema.name(), schema.type_()) {
            (Some(logical::TIMESTAMP_NAME), _) => Kind::Timestamp,
            (Some(logical::DATE_NAME), _) => Kind::Date,
            (Some(logical::TIME_NAME), _) => Kind::Time,
            (_, Type::String) => Kind::String,
            (_, Type::Int64) => Kind::Unix,
            (_, t) => {
                return Err(Error::Data(format!(
                    "a {t} schema is not a timestamp (string, int64, Date, Time or Timestamp)"
                )))
            }
        })
    }

    /// The kind of a schemaless value (Connect's `inferTimestampType`).
    fn kind_of_value(v: &Value) -> Result<Kind> {
        match v {
            Value::Int64(_) => Ok(Kind::Unix),
            Value::String(_) => Ok(Kind::String),
            other => Err(Error::Data(format!(
                "a schemaless {} value is not a timestamp (int64 unix time or string)",
                type_of(other)
            ))),
        }
    }

    fn millis_of(&self, v: &Value, kind: Kind) -> Result<i64> {
        match (kind, v) {
            (Kind::String, Value::String(s)) => {
                let f = self.format.as_ref().ok_or_else(|| {
                    Error::Data("a string timestamp needs the format option to be parsed".into())
                })?;
                f.parse_millis(s)
                    .map_err(|e| Error::Data(format!("could not parse timestamp: {e}")))
            }
            (Kind::Unix, Value::Int64(n)) => Ok(match self.precision {
                "seconds" => n.saturating_mul(1000),
                "microseconds" => n / 1000,
                "nanoseconds" => n / 1_000_000,
                _ => *n,
            }),
            (Kind::Date, Value::Int32(days)) => Ok(i64::from(*days) * MILLIS_PER_DAY),
            (Kind::Time, Value::Int32(ms)) => Ok(i64::from(*ms)),
            (Kind::Timestamp, Value::Int64(ms)) => Ok(*ms),
            (k, other) => Err(Error::Data(format!(
                "expected a {k:?} timestamp, found a {} value",
                type_of(other)
            ))),
        }
    }

    fn target_value(&self, ms: i64) -> Value {
        match self.target {
            Kind::String => Value::String(
                self.format
                    .as_ref()
                    .map(|f| f.format(ms))
                    .unwrap_or_default(),
            ),
            Kind::Unix => Value::Int64(match self.precision {
                "seconds" => ms.div_euclid(1000),
                "microseconds" => ms.saturating_mul(1000),
                "nanoseconds" => ms.saturating_mul(1_000_000),
                _ => ms,
            }),
            Kind::Date => Value::Int32(ms.div_euclid(MILLIS_PER_DAY) as i32),
            Kind::Time => Value::Int32(ms.rem_euclid(MILLIS_PER_DAY) as i32),
            Kind::Timestamp => Value::Int64(ms),
        }
    }

    fn convert(&self, v: Value, kind: Option<Kind>) -> Result<Value> {
        if v == Value::Null {
            return Ok(Value::Null);
        }
        let kind = match kind {
            Some(k) => k,
            None => Self::kind_of_value(&v)?,
        };
        Ok(self.target_value(self.millis_of(&v, kind)?))
    }

    fn target_schema(&self, optional: bool) -> Schema {
        let b = match self.target {
            Kind::String => {
                return if optional {
                    Schema::optional_string()
                } else {
                    Schema::string()
                }
            }
            Kind::Unix => {
                return if optional {
                    Schema::optional_int64()
                } else {
                    Schema::int64()
                }
            }
            Kind::Date => logical::date(),
            Kind::Time => logical::time(),
            Kind::Timestamp => logical::timestamp(),
        };
        if optional {
            b.optional().build()
        } else {
            b.build()
        }
    }
}

impl Transformation for TimestampConverter {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        let sv = std::mem::replace(self.part.get_mut(&mut r), SchemaAndValue::null());
        let updated = match sv.schema {
            None if sv.value == Value::Null || self.field.is_empty() => {
                SchemaAndValue::schemaless(self.convert(sv.value, None)?)
            }
            None => {
                let mut entries = require_map(&sv.value, PURPOSE)?.clone();
                let v = map_get(&entries, &self.field)
                    .cloned()
                    .unwrap_or(Value::Null);
                map_put(&mut entries, &self.field, self.convert(v, None)?);
                SchemaAndValue::schemaless(Value::Map(entries))
            }
            Some(schema) if self.field.is_empty() => {
                let kind = Self::kind_of_schema(&schema)?;
                SchemaAndValue::new(
                    self.target_schema(schema.is_optional()),
                    self.convert(sv.value, Some(kind))?,
                )
            }
            Some(schema) => {
                let field = schema.field(&self.field).ok_or_else(|| {
                    Error::Data(format!("the value has no field {:?}", self.field))
                })?;
                let kind = Self::kind_of_schema(field.schema())?;
                let mut b = copy_basics(&schema);
                for f in schema.fields() {
                    let fs = if f.name() == self.field {
                        self.target_schema(f.schema().is_optional())
                    } else {
                        f.schema().clone()
                    };
                    b = b.field(f.name(), fs);
                }
                if schema.is_optional() {
                    b = b.optional();
                }
                let updated = b.try_build()?;
                let value = match sv.value {
                    Value::Null => Value::Null,
                    Value::Struct(s) => {
                        let mut out = Struct::new(updated.clone())?;
                        for f in schema.fields() {
                            let v = field_value(&s, f.name(), self.replace_null_with_default);
                            let v = if f.name() == self.field {
                                self.convert(v, Some(kind))?
                            } else {
                                v
                            };
                            out.set(f.name(), v)?;
                        }
                        Value::Struct(out)
                    }
                    other => {
                        return Err(Error::Data(format!(
                            "only struct values are supported for [{PURPOSE}], found: {}",
                            type_of(&other)
                        )))
                    }
                };
                SchemaAndValue::new(updated, value)
            }
        };
        Ok(Some(with_part(r, self.part, updated)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, err, map, record, run, schemaless};
    use crate::data::{logical, Schema, SchemaAndValue, SchemaBuilder, Struct, Value};

    const T: &str = "org.apache.kafka.connect.transforms.TimestampConverter$Value";
    // 2017-07-14T02:40:00.123Z (Connect's tests use a similar instant).
    const MS: i64 = 1_500_000_000_123;
    const DAYS: i32 = 17361;
    const TIME: i32 = 9_600_123;
    const FORMAT: &str = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'";
    const TEXT: &str = "2017-07-14T02:40:00.123Z";

    /// (input schema, input, target.type, expected schema, expected value)
    type Case = (Option<Schema>, Value, &'static str, Option<Schema>, Value);

    #[test]
    fn whole_value_table() {
        let ts = || logical::timestamp().build();
        let cases: Vec<Case> = vec![
            (
                Some(ts()),
                Value::Int64(MS),
                "string",
                Some(Schema::string()),
                Value::from(TEXT),
            ),
            (
                Some(ts()),
                Value::Int64(MS),
                "unix",
                Some(Schema::int64()),
                Value::Int64(MS),
            ),
            (
                Some(ts()),
                Value::Int64(MS),
                "Date",
                Some(logical::date().build()),
                Value::Int32(DAYS),
            ),
            (
                Some(ts()),
                Value::Int64(MS),
                "Time",
                Some(logical::time().build()),
                Value::Int32(TIME),
            ),
            (
                Some(Schema::string()),
                Value::from(TEXT),
                "Timestamp",
                Some(ts()),
                Value::Int64(MS),
            ),
            (
                Some(Schema::int64()),
                Value::Int64(MS),
                "Timestamp",
                Some(ts()),
                Value::Int64(MS),
            ),
            (
                Some(logical::date().build()),
                Value::Int32(DAYS),
                "Timestamp",
                Some(ts()),
                Value::Int64(i64::from(DAYS) * 86_400_000),
            ),
            (
                Some(logical::time().build()),
                Value::Int32(TIME),
                "unix",
                Some(Schema::int64()),
                Value::Int64(i64::from(TIME)),
            ),
            (
                Some(logical::timestamp().optional().build()),
                Value::Null,
                "string",
                Some(Schema::optional_string()),
                Value::Null,
            ),
            (None, Value::Int64(MS), "string", None, Value::from(TEXT)),
            (None, Value::from(TEXT), "unix", None, Value::Int64(MS)),
            (None, Value::Null, "unix", None, Value::Null),
        ];
        for (schema, input, target, expected_schema, expected) in cases {
            let c = chain(&[("type", T), ("target.type", target), ("format", FORMAT)]);
            let out = run(
                &c,
                record(SchemaAndValue {
                    schema,
                    value: input.clone(),
                }),
            )
            .value;
            assert_eq!(
                out,
                SchemaAndValue {
                    schema: expected_schema,
                    value: expected
                },
                "{input:?} to {target}"
            );
        }
    }

    #[test]
    fn unix_precisions() {
        for (precision, unix) in [
            ("seconds", MS / 1000),
            ("microseconds", MS * 1000),
            ("nanoseconds", MS * 1_000_000),
        ] {
            let c = chain(&[
                ("type", T),
                ("target.type", "unix"),
                ("unix.precision", precision),
            ]);
            let out = run(
                &c,
                record(SchemaAndValue::new(
                    logical::timestamp().build(),
                    Value::Int64(MS),
                )),
            )
            .value;
            assert_eq!(out.value, Value::Int64(unix), "{precision}");
            let c = chain(&[
                ("type", T),
                ("target.type", "Timestamp"),
                ("unix.precision", precision),
            ]);
            let out = run(&c, record(schemaless(Value::Int64(unix)))).value;
            let expected = if precision == "seconds" {
                MS / 1000 * 1000
            } else {
                MS
            };
            assert_eq!(out.value, Value::Int64(expected), "{precision}");
        }
    }

    #[test]
    fn a_field_of_a_struct_or_map() {
        let schema = SchemaBuilder::struct_()
            .field("ts", logical::timestamp().optional().build())
            .field("other", Schema::string())
            .build();
        let v = Struct::new(schema.clone())
            .unwrap()
            .put("ts", MS)
            .unwrap()
            .put("other", "x")
            .unwrap();
        let c = chain(&[
            ("type", T),
            ("field", "ts"),
            ("target.type", "string"),
            ("format", FORMAT),
        ]);
        let out = run(&c, record(SchemaAndValue::new(schema, Value::Struct(v)))).value;
        let s = out.schema.unwrap();
        assert_eq!(s.field("ts").unwrap().schema(), &Schema::optional_string());
        let Value::Struct(o) = out.value else {
            panic!()
        };
        assert_eq!(o.get("ts"), Some(&Value::from(TEXT)));
        assert_eq!(o.get("other"), Some(&Value::from("x")));

        let out = run(
            &c,
            record(schemaless(map(&[
                ("ts", Value::Int64(MS)),
                ("n", Value::Int32(1)),
            ]))),
        )
        .value;
        assert_eq!(
            out,
            schemaless(map(&[("ts", Value::from(TEXT)), ("n", Value::Int32(1))]))
        );
    }

    #[test]
    fn errors() {
        let c = chain(&[
            ("type", T),
            ("target.type", "unix"),
            ("format", "yyyy-MM-dd"),
        ]);
        let e = err(&c, record(schemaless(Value::from("14/07/2017"))));
        assert!(
            e.contains("could not parse timestamp: \"14/07/2017\" does not match the pattern"),
            "{e}"
        );
        let e = err(&c, record(schemaless(Value::Int32(1))));
        assert!(
            e.contains("a schemaless int32 value is not a timestamp"),
            "{e}"
        );
        let e = err(
            &c,
            record(SchemaAndValue::new(Schema::boolean(), Value::Boolean(true))),
        );
        assert!(e.contains("a boolean schema is not a timestamp"), "{e}");
        let e = config_err(&[("type", T), ("target.type", "string")]);
        assert!(
            e.contains("transforms.a.format: required with target.type=string"),
            "{e}"
        );
        let e = config_err(&[("type", T), ("target.type", "date")]);
        assert!(
            e.contains("transforms.a.target.type: \"date\" is not valid"),
            "{e}"
        );
        let e = config_err(&[
            ("type", T),
            ("target.type", "unix"),
            ("unix.precision", "hours"),
        ]);
        assert!(
            e.contains("transforms.a.unix.precision: \"hours\" is not valid"),
            "{e}"
        );
    }
}
