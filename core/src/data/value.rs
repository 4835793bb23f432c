//! [`Value`], [`Struct`] and [`SchemaAndValue`].

use std::fmt;

use super::{logical, Schema, Type};
use crate::error::{Error, Result};

/// A Connect value. Logical types are held in their physical form: Decimal as the big-endian two's
/// complement bytes of the unscaled value, Date as days since the epoch (`Int32`), Time as
/// milliseconds of the day (`Int32`) and Timestamp as milliseconds since the epoch (`Int64`); see
/// [`super::logical`] for constructors.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Null (only valid for optional schemas, or schemaless data).
    Null,
    /// int8.
    Int8(i8),
    /// int16.
    Int16(i16),
    /// int32.
    Int32(i32),
    /// int64.
    Int64(i64),
    /// float32.
    Float32(f32),
    /// float64.
    Float64(f64),
    /// boolean.
    Boolean(bool),
    /// string.
    String(String),
    /// bytes.
    Bytes(Vec<u8>),
    /// array.
    Array(Vec<Value>),
    /// map, entries in insertion order.
    Map(Vec<(Value, Value)>),
    /// struct.
    Struct(Struct),
}

impl Value {
    /// The type this value would have without a schema (Connect's `ConnectSchema.schemaType`), or
    /// `None` for null.
    pub fn inferred_type(&self) -> Option<Type> {
        Some(match self {
            Value::Null => return None,
            Value::Int8(_) => Type::Int8,
            Value::Int16(_) => Type::Int16,
            Value::Int32(_) => Type::Int32,
            Value::Int64(_) => Type::Int64,
            Value::Float32(_) => Type::Float32,
            Value::Float64(_) => Type::Float64,
            Value::Boolean(_) => Type::Boolean,
            Value::String(_) => Type::String,
            Value::Bytes(_) => Type::Bytes,
            Value::Array(_) => Type::Array,
            Value::Map(_) => Type::Map,
            Value::Struct(_) => Type::Struct,
        })
    }

    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Formats the way Java's `toString` does for Connect values (used by the string converter).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int8(v) => write!(f, "{v}"),
            Value::Int16(v) => write!(f, "{v}"),
            Value::Int32(v) => write!(f, "{v}"),
            Value::Int64(v) => write!(f, "{v}"),
            Value::Float32(v) => f.write_str(&crate::convert::java_float_to_string(*v)),
            Value::Float64(v) => f.write_str(&crate::convert::java_double_to_string(*v)),
            Value::Boolean(v) => write!(f, "{v}"),
            Value::String(v) => f.write_str(v),
            Value::Bytes(v) => write!(f, "{v:?}"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
            Value::Struct(s) => write!(f, "{s}"),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Value { fn from(v: $t) -> Self { Value::$v(v.into()) } }
    )*};
}
value_from!(i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64, f32 => Float32, f64 => Float64,
    bool => Boolean, String => String, &str => String, Vec<u8> => Bytes, Struct => Struct);

/// A struct value bound to its struct [`Schema`] (Connect's `Struct`).
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    schema: Schema,
    values: Vec<Value>,
}

impl Struct {
    /// An empty struct for `schema`, every field null until set.
    ///
    /// # Errors
    /// When `schema` is not a struct schema.
    pub fn new(schema: Schema) -> Result<Self> {
        if schema.type_() != Type::Struct {
            return Err(Error::Data(format!(
                "a Struct needs a struct schema, not {}",
                schema.type_()
            )));
        }
        let values = vec![Value::Null; schema.fields().len()];
        Ok(Struct { schema, values })
    }

    /// The struct's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Sets field `name` after validating `value` against the field's schema.
    pub fn put(mut self, name: &str, value: impl Into<Value>) -> Result<Self> {
        self.set(name, value)?;
        Ok(self)
    }

    /// Sets field `name` in place after validating `value` against the field's schema.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> Result<()> {
        let value = value.into();
        let field = self.schema.field(name).ok_or_else(|| {
            Error::Data(format!(
                "{name:?} is not a field of struct {}",
                self.schema.name().unwrap_or("<unnamed>")
            ))
        })?;
        validate(field.schema(), &value, name)?;
        let index = field.index();
        self.values[index] = value;
        Ok(())
    }

    /// The value of field `name` (the field's default when unset); `None` if there is no such
    /// field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let field = self.schema.field(name)?;
        let v = &self.values[field.index()];
        match (v, field.schema().default_value()) {
            (Value::Null, Some(d)) => Some(d),
            _ => Some(v),
        }
    }

    /// The values in field order, without applying defaults.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Checks that every required field is set (Connect's `Struct.validate`).
    pub fn validate(&self) -> Result<()> {
        for field in self.schema.fields() {
            let v = self.get(field.name()).unwrap_or(&Value::Null);
            validate(field.schema(), v, field.name())?;
        }
        Ok(())
    }
}

impl fmt::Display for Struct {
    /// `Struct{a=1,b=x}`, as Connect's `Struct.toString` (null fields omitted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Struct{")?;
        let mut first = true;
        for field in self.schema.fields() {
            let v = &self.values[field.index()];
            if *v == Value::Null {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{}={}", field.name(), v)?;
        }
        f.write_str("}")
    }
}

/// A value with its optional schema (schemaless data has none), as Connect's `SchemaAndValue`.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaAndValue {
    /// The schema, or `None` for schemaless data.
    pub schema: Option<Schema>,
    /// The value.
    pub value: Value,
}

impl SchemaAndValue {
    /// A value with a schema.
    pub fn new(schema: Schema, value: Value) -> Self {
        SchemaAndValue {
            schema: Some(schema),
            value,
        }
    }
    /// A schemaless value.
    pub fn schemaless(value: Value) -> Self {
        SchemaAndValue {
            schema: None,
            value,
        }
    }
    /// Null without a schema (Connect's `SchemaAndValue.NULL`).
    pub fn null() -> Self {
        Self::schemaless(Value::Null)
    }
}

/// Validates `value` against `schema`; `path` names the field for error messages.
pub(super) fn validate(schema: &Schema, value: &Value, path: &str) -> Result<()> {
    let at = |msg: String| {
        if path.is_empty() {
            Error::Data(msg)
        } else {
            Error::Data(format!("field {path:?}: {msg}"))
        }
    };
    let Some(actual) = value.inferred_type() else {
        if schema.is_optional() || schema.default_value().is_some() {
            return Ok(());
        }
        return Err(at(format!(
            "null value for a required {} schema",
            schema.type_()
        )));
    };
    if actual != schema.type_() {
        return Err(at(format!(
            "{} value for a {} schema",
            actual,
            schema.type_()
        )));
    }
    logical::validate(schema, value).map_err(at)?;
    match value {
        Value::Array(items) => {
            let es = schema
                .value_schema()
                .expect("array schema has a value schema");
            for (i, item) in items.iter().enumerate() {
                validate(es, item, &format!("{path}[{i}]"))?;
            }
        }
        Value::Map(entries) => {
            let ks = schema.key_schema().expect("map schema has a key schema");
            let vs = schema
                .value_schema()
                .expect("map schema has a value schema");
            for (k, v) in entries {
                validate(ks, k, &format!("{path}.<key>"))?;
                validate(vs, v, &format!("{path}[{k}]"))?;
            }
        }
        Value::Struct(s) => {
            if s.schema() != schema {
                return Err(at(format!(
                    "struct schema {:?} does not match the expected schema {:?}",
                    s.schema().name(),
                    schema.name()
                )));
            }
            s.validate()?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SchemaBuilder;

    fn person() -> Schema {
        SchemaBuilder::struct_()
            .name("Person")
            .field("name", Schema::string())
            .field("age", Schema::optional_int32())
            .field(
                "tags",
                SchemaBuilder::array(Schema::string()).optional().build(),
            )
            .build()
    }

    #[test]
    fn struct_put_validates_types() {
        let s = Struct::new(person()).unwrap();
        let err = s.clone().put("age", "old").unwrap_err().to_string();
        assert!(err.contains("string value for a int32 schema"), "{err}");
        assert!(s.clone().put("nope", 1i32).is_err());
        let ok = s.put("name", "ann").unwrap().put("age", 42i32).unwrap();
        ok.validate().unwrap();
        assert_eq!(ok.get("age"), Some(&Value::Int32(42)));
        assert_eq!(ok.to_string(), "Struct{name=ann,age=42}");
    }

    #[test]
    fn missing_required_field_fails_validation() {
        let s = Struct::new(person()).unwrap().put("age", 1i32).unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("\"name\""), "{err}");
    }

    #[test]
    fn array_elements_are_validated() {
        let s = Struct::new(person()).unwrap();
        let bad = Value::Array(vec![Value::from("a"), Value::Int32(1)]);
        let err = s.put("tags", bad).unwrap_err().to_string();
        assert!(err.contains("tags[1]"), "{err}");
    }

    #[test]
    fn defaults_apply_and_are_validated() {
        let schema = SchemaBuilder::new(Type::Int32)
            .default_value(Value::Int32(7))
            .build();
        assert_eq!(schema.default_value(), Some(&Value::Int32(7)));
        assert!(SchemaBuilder::new(Type::Int32)
            .default_value(Value::from("x"))
            .try_build()
            .is_err());
        let st = SchemaBuilder::struct_().field("n", schema).build();
        let s = Struct::new(st).unwrap();
        assert_eq!(s.get("n"), Some(&Value::Int32(7)));
        s.validate().unwrap();
    }

    #[test]
    fn builder_rejects_duplicate_fields() {
        let r = SchemaBuilder::struct_()
            .field("a", Schema::int8())
            .field("a", Schema::int8())
            .try_build();
        assert!(r.is_err());
        assert!(SchemaBuilder::new(Type::Int8)
            .field("a", Schema::int8())
            .try_build()
            .is_err());
    }
}
