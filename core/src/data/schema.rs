//! [`Schema`] and [`SchemaBuilder`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::Value;
use crate::error::{Error, Result};

/// The physical type of a [`Schema`], as in Connect's `Schema.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// 8-bit signed integer.
    Int8,
    /// 16-bit signed integer.
    Int16,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 32-bit IEEE 754 float.
    Float32,
    /// 64-bit IEEE 754 float.
    Float64,
    /// Boolean.
    Boolean,
    /// UTF-8 string.
    String,
    /// Byte array.
    Bytes,
    /// Ordered list of values of one schema.
    Array,
    /// Map from key schema to value schema.
    Map,
    /// Named, ordered fields.
    Struct,
}

impl Type {
    /// The lower-case name Connect uses in JSON schemas (`"int32"`, `"struct"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Type::Int8 => "int8",
            Type::Int16 => "int16",
            Type::Int32 => "int32",
            Type::Int64 => "int64",
            Type::Float32 => "float32",
            Type::Float64 => "float64",
            Type::Boolean => "boolean",
            Type::String => "string",
            Type::Bytes => "bytes",
            Type::Array => "array",
            Type::Map => "map",
            Type::Struct => "struct",
        }
    }

    /// True for every type but array, map and struct.
    pub fn is_primitive(self) -> bool {
        !matches!(self, Type::Array | Type::Map | Type::Struct)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    name: String,
    index: usize,
    schema: Schema,
}

impl Field {
    /// The field's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The field's position in its struct.
    pub fn index(&self) -> usize {
        self.index
    }
    /// The field's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    type_: Type,
    optional: bool,
    default: Option<Value>,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
    parameters: BTreeMap<String, String>,
    fields: Vec<Field>,
    key_schema: Option<Schema>,
    value_schema: Option<Schema>,
}

/// An immutable, cheaply clonable schema (Connect's `ConnectSchema`).
#[derive(Clone, PartialEq)]
pub struct Schema(Arc<Inner>);

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Schema");
        d.field("type", &self.0.type_)
            .field("optional", &self.0.optional);
        if let Some(n) = &self.0.name {
            d.field("name", n);
        }
        if !self.0.fields.is_empty() {
            d.field("fields", &self.0.fields);
        }
        if let Some(k) = &self.0.key_schema {
            d.field("key", k);
        }
        if let Some(v) = &self.0.value_schema {
            d.field("value", v);
        }
        d.finish()
    }
}

macro_rules! primitive_ctor {
    ($($req:ident, $opt:ident, $t:ident;)*) => {$(
        #[doc = concat!("A required `", stringify!($req), "` schema.")]
        pub fn $req() -> Schema { SchemaBuilder::new(Type::$t).build() }
        #[doc = concat!("An optional `", stringify!($req), "` schema.")]
        pub fn $opt() -> Schema { SchemaBuilder::new(Type::$t).optional().build() }
    )*};
}

impl Schema {
    primitive_ctor! {
        int8, optional_int8, Int8;
        int16, optional_int16, Int16;
        int32, optional_int32, Int32;
        int64, optional_int64, Int64;
        float32, optional_float32, Float32;
        float64, optional_float64, Float64;
        boolean, optional_boolean, Boolean;
        string, optional_string, String;
        bytes, optional_bytes, Bytes;
    }

    /// The physical type.
    pub fn type_(&self) -> Type {
        self.0.type_
    }
    /// Whether null is allowed.
    pub fn is_optional(&self) -> bool {
        self.0.optional
    }
    /// The default value, if any.
    pub fn default_value(&self) -> Option<&Value> {
        self.0.default.as_ref()
    }
    /// The schema's name (logical types are named, e.g. `org.apache.kafka.connect.data.Decimal`).
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The schema's version.
    pub fn version(&self) -> Option<i32> {
        self.0.version
    }
    /// The schema's documentation.
    pub fn doc(&self) -> Option<&str> {
        self.0.doc.as_deref()
    }
    /// The schema's parameters (e.g. `scale` for Decimal). Empty when none were set.
    pub fn parameters(&self) -> &BTreeMap<String, String> {
        &self.0.parameters
    }
    /// The fields of a struct schema (empty for other types).
    pub fn fields(&self) -> &[Field] {
        &self.0.fields
    }
    /// The field called `name`, for a struct schema.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.0.fields.iter().find(|f| f.name == name)
    }
    /// The key schema of a map schema.
    pub fn key_schema(&self) -> Option<&Schema> {
        self.0.key_schema.as_ref()
    }
    /// The element schema of an array, or the value schema of a map.
    pub fn value_schema(&self) -> Option<&Schema> {
        self.0.value_schema.as_ref()
    }

    /// Whether `a` and `b` are the same schema object (clones of one `Schema`): a cheap test
    /// before `==`, which compares the whole structure.
    pub fn ptr_eq(a: &Schema, b: &Schema) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// Checks that `value` conforms to this schema (Connect's `ConnectSchema.validateValue`).
    pub fn validate_value(&self, value: &Value) -> Result<()> {
        super::value::validate(self, value, "")
    }
}

/// Builds a [`Schema`], as Connect's `SchemaBuilder` does.
///
/// ```
/// use sluice_core::data::{Schema, SchemaBuilder};
/// let schema = SchemaBuilder::struct_()
///     .name("com.example.Person")
///     .field("name", Schema::string())
///     .field("age", Schema::optional_int32())
///     .build();
/// assert_eq!(schema.fields().len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct SchemaBuilder {
    inner: Inner,
    error: Option<String>,
}

impl SchemaBuilder {
    /// A builder for a schema of type `type_`.
    pub fn new(type_: Type) -> Self {
        SchemaBuilder {
            inner: Inner {
                type_,
                optional: false,
                default: None,
                name: None,
                version: None,
                doc: None,
                parameters: BTreeMap::new(),
                fields: Vec::new(),
                key_schema: None,
                value_schema: None,
            },
            error: None,
        }
    }
    /// A struct builder; add fields with [`SchemaBuilder::field`].
    pub fn struct_() -> Self {
        Self::new(Type::Struct)
    }
    /// An array builder.
    pub fn array(value_schema: Schema) -> Self {
        let mut b = Self::new(Type::Array);
        b.inner.value_schema = Some(value_schema);
        b
    }
    /// A map builder.
    pub fn map(key_schema: Schema, value_schema: Schema) -> Self {
        let mut b = Self::new(Type::Map);
        b.inner.key_schema = Some(key_schema);
        b.inner.value_schema = Some(value_schema);
        b
    }
    /// Allows null.
    pub fn optional(mut self) -> Self {
        self.inner.optional = true;
        self
    }
    /// Forbids null (the default).
    pub fn required(mut self) -> Self {
        self.inner.optional = false;
        self
    }
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.inner.name = Some(name.into());
        self
    }
    /// Sets the version.
    pub fn version(mut self, version: i32) -> Self {
        self.inner.version = Some(version);
        self
    }
    /// Sets the documentation.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.inner.doc = Some(doc.into());
        self
    }
    /// Sets one parameter.
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.inner.parameters.insert(key.into(), value.into());
        self
    }
    /// Sets the default value; it is validated against the schema in [`SchemaBuilder::try_build`].
    pub fn default_value(mut self, value: Value) -> Self {
        self.inner.default = Some(value);
        self
    }
    /// Adds a field to a struct schema. A duplicate name or a non-struct builder is an error reported
    /// by [`SchemaBuilder::try_build`].
    pub fn field(mut self, name: impl Into<String>, schema: Schema) -> Self {
        let name = name.into();
        if self.inner.type_ != Type::Struct {
            self.error
                .get_or_insert_with(|| format!("cannot add field {name:?} to a non-struct schema"));
        } else if self.inner.fields.iter().any(|f| f.name == name) {
            self.error
                .get_or_insert_with(|| format!("duplicate field name {name:?}"));
        } else {
            let index = self.inner.fields.len();
            self.inner.fields.push(Field {
                name,
                index,
                schema,
            });
        }
        self
    }

    /// Builds the schema, reporting builder misuse and an invalid default value.
    pub fn try_build(self) -> Result<Schema> {
        if let Some(e) = self.error {
            return Err(Error::Schema(e));
        }
        let schema = Schema(Arc::new(self.inner));
        if let Some(d) = schema.default_value() {
            schema.validate_value(d).map_err(|e| {
                Error::Schema(format!(
                    "invalid default value for {} schema: {e}",
                    schema.type_()
                ))
            })?;
        }
        Ok(schema)
    }

    /// Builds the schema.
    ///
    /// # Panics
    /// On builder misuse (see [`SchemaBuilder::try_build`] for the fallible form); builders are
    /// normally written in code, where misuse is a programming error.
    pub fn build(self) -> Schema {
        match self.try_build() {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }
}
