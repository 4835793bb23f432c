//! Connect schemas and values to Avro, as Confluent's `AvroData.fromConnectSchema` /
//! `fromConnectData` (schema-registry 7.x/8.x, `connect.meta.data=true` by default) do:
//!
//! * a struct is a record named after the Connect name (`ns.Name` split at the last dot) or
//!   `io.confluent.connect.avro.ConnectDefault` (then `ConnectDefault2`, `3`, ... for each further
//!   unnamed one), its doc from the `io.confluent.connect.avro.record.doc` parameter and each
//!   field's doc from `io.confluent.connect.avro.field.doc.<field>`;
//! * int8 / int16 are `int` with `connect.type`; Decimal is `bytes` (or `fixed` when
//!   `connect.fixed.size` is set) with `logicalType` `decimal`, `scale` and `precision`
//!   (`connect.decimal.precision`, else 64); Date, Time, Timestamp are `date`, `time-millis`,
//!   `timestamp-millis`;
//! * an optional schema is `["null", T]` with field default null, or `[T, "null"]` when it has a
//!   default (an optional struct is always `["null", record]`);
//! * a map with string keys is an Avro map; any other map is an array of `MapEntry` records with
//!   `key` and `value` fields;
//! * Confluent's union struct (`io.confluent.connect.avro.Union`) is an Avro union of its fields'
//!   schemas;
//! * with `connect.meta.data`, every schema but a union carries `connect.doc`, `connect.version`,
//!   `connect.parameters`, `connect.default` and `connect.name` when the Connect schema has them.
//!
//! Values are written in Avro's binary encoding as Java's `GenericDatumWriter` writes them;
//! string-keyed maps in the iteration order of the `java.util.HashMap` AvroData puts them in, so
//! the bytes are the same too. A top-level `bytes` schema is written raw, as Confluent's
//! serializer does.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map as JsonMap, Value as Json};

use crate::data::logical::{DATE_NAME, DECIMAL_NAME, DECIMAL_SCALE, TIMESTAMP_NAME, TIME_NAME};
use crate::data::{Schema, Type, Value};
use crate::error::{Error, Result};

/// Confluent's namespace for the names it makes up.
pub(crate) const NAMESPACE: &str = "io.confluent.connect.avro";
const DEFAULT_NAME: &str = "ConnectDefault";
const MAP_ENTRY: &str = "MapEntry";
/// The Connect name of Confluent's union struct.
pub(crate) const UNION_NAME: &str = "io.confluent.connect.avro.Union";
const RECORD_DOC: &str = "io.confluent.connect.avro.record.doc";
const FIELD_DOC_PREFIX: &str = "io.confluent.connect.avro.field.doc.";
const FIELD_DEFAULT_FLAG: &str = "io.confluent.connect.avro.field.default";
const FIXED_SIZE: &str = "connect.fixed.size";
const DECIMAL_PRECISION: &str = "connect.decimal.precision";
const DEFAULT_PRECISION: i64 = 64;

/// How AvroData is configured (`AvroDataConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AvroOptions {
    /// `connect.meta.data`: annotate the Avro schema with the Connect schema's metadata.
    pub(crate) connect_meta_data: bool,
}

impl Default for AvroOptions {
    fn default() -> Self {
        AvroOptions {
            connect_meta_data: true,
        }
    }
}

/// An Avro schema node; named types are shared so a second use is written as a reference.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// `null`.
    Null,
    /// A primitive (`int`, `long`, `float`, `double`, `boolean`, `string`, `bytes`) with its
    /// properties.
    Prim(&'static str, Props),
    /// An array.
    Array(Box<Node>, Props),
    /// A map (string keys).
    Map(Box<Node>, Props),
    /// A union.
    Union(Vec<Node>),
    /// A record.
    Record(Arc<Record>),
    /// A fixed.
    Fixed(Arc<Fixed>),
}

type Props = Vec<(String, Json)>;

/// A record type.
#[derive(Debug)]
pub(crate) struct Record {
    name: String,
    namespace: Option<String>,
    doc: Option<String>,
    fields: Vec<AvroField>,
    props: Props,
}

#[derive(Debug)]
struct AvroField {
    name: String,
    node: Node,
    doc: Option<String>,
    default: Option<Json>,
}

/// A fixed type.
#[derive(Debug)]
pub(crate) struct Fixed {
    name: String,
    namespace: Option<String>,
    size: usize,
    props: Props,
}

fn full_name(namespace: &Option<String>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_owned(),
    }
}

/// The Avro schema of a Connect schema, ready to be registered and to write values with.
#[derive(Debug)]
pub(crate) struct AvroPlan {
    /// The schema as JSON text (what is registered).
    pub(crate) text: String,
    /// The full name of the top-level named type, or the type name (`RecordNameStrategy`).
    pub(crate) record_name: String,
    node: Node,
}

impl AvroPlan {
    /// AvroData's `fromConnectSchema`.
    pub(crate) fn new(schema: &Schema, options: AvroOptions) -> Result<AvroPlan> {
        let mut g = Gen {
            options,
            name_index: 0,
            cache: Vec::new(),
        };
        let node = g.schema(schema, false)?;
        let record_name = match &node {
            Node::Record(r) => full_name(&r.namespace, &r.name),
            Node::Fixed(f) => full_name(&f.namespace, &f.name),
            Node::Prim(t, _) => (*t).to_owned(),
            Node::Array(..) => "array".into(),
            Node::Map(..) => "map".into(),
            Node::Union(_) => "union".into(),
            Node::Null => "null".into(),
        };
        let text = to_json(&node, &mut Writer::default()).to_string();
        Ok(AvroPlan {
            text,
            record_name,
            node,
        })
    }

    /// `value` (of `schema`, the schema this plan was made from) in Avro's binary encoding.
    pub(crate) fn write(&self, schema: &Schema, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        if let (Node::Prim("bytes", _), Value::Bytes(b)) = (&self.node, value) {
            if schema.name() != Some(DECIMAL_NAME) {
                out.extend_from_slice(b);
                return Ok(());
            }
        }
        write(schema, &self.node, value, out)
    }
}

struct Gen {
    options: AvroOptions,
    name_index: u32,
    /// Non-optional Connect schemas already converted (AvroData's `schemaMap`).
    cache: Vec<(Schema, Node)>,
}

impl Gen {
    fn name_or_default(&mut self, name: Option<&str>) -> (Option<String>, String) {
        match name {
            Some(n) => split_name(n),
            None => {
                self.name_index += 1;
                let suffix = if self.name_index > 1 {
                    self.name_index.to_string()
                } else {
                    String::new()
                };
                (Some(NAMESPACE.into()), format!("{DEFAULT_NAME}{suffix}"))
            }
        }
    }

    fn schema(&mut self, schema: &Schema, ignore_optional: bool) -> Result<Node> {
        let is_union = is_union(schema);
        if !is_union && !schema.is_optional() {
            if let Some((_, n)) = self.cache.iter().find(|(s, _)| s == schema) {
                return Ok(n.clone());
            }
        }
        let mut connect_type = None;
        let mut props: Props = Vec::new();
        let base = match schema.type_() {
            Type::Int8 => {
                connect_type = Some("int8");
                Node::Prim("int", Vec::new())
            }
            Type::Int16 => {
                connect_type = Some("int16");
                Node::Prim("int", Vec::new())
            }
            Type::Int32 => Node::Prim("int", Vec::new()),
            Type::Int64 => Node::Prim("long", Vec::new()),
            Type::Float32 => Node::Prim("float", Vec::new()),
            Type::Float64 => Node::Prim("double", Vec::new()),
            Type::Boolean => Node::Prim("boolean", Vec::new()),
            Type::String => Node::Prim("string", Vec::new()),
            Type::Bytes => {
                if schema.name() == Some(DECIMAL_NAME) {
                    let scale: i64 = param_int(schema, DECIMAL_SCALE)?;
                    props.push(("scale".into(), json!(scale)));
                    let precision = match schema.parameters().get(DECIMAL_PRECISION) {
                        Some(p) => p.trim().parse::<i64>().map_err(|_| {
                            Error::Data(format!("{DECIMAL_PRECISION} {p:?} is not an integer"))
                        })?,
                        None => DEFAULT_PRECISION,
                    };
                    props.push(("precision".into(), json!(precision)));
                }
                if is_fixed(schema) {
                    let (namespace, name) = self.name_or_default(schema.name());
                    let size = param_int(schema, FIXED_SIZE)? as usize;
                    Node::Fixed(Arc::new(Fixed {
                        name,
                        namespace,
                        size,
                        props: Vec::new(),
                    }))
                } else {
                    Node::Prim("bytes", Vec::new())
                }
            }
            Type::Array => {
                let items = inner(schema.value_schema(), "array")?;
                Node::Array(Box::new(self.schema(items, false)?), Vec::new())
            }
            Type::Map => {
                let ks = inner(schema.key_schema(), "map")?;
                let vs = inner(schema.value_schema(), "map")?;
                if ks.type_() == Type::String && !ks.is_optional() {
                    Node::Map(Box::new(self.schema(vs, false)?), Vec::new())
                } else {
                    let (namespace, name, props) = match schema.name() {
                        None => (Some(NAMESPACE.to_owned()), MAP_ENTRY.to_owned(), Vec::new()),
                        Some(n) => {
                            let (ns, name) = self.name_or_default(Some(n));
                            (
                                ns,
                                name,
                                vec![("connect.internal.type".into(), json!(MAP_ENTRY))],
                            )
                        }
                    };
                    let fields = vec![self.field("key", ks, None)?, self.field("value", vs, None)?];
                    Node::Array(
                        Box::new(Node::Record(Arc::new(Record {
                            name,
                            namespace,
                            doc: None,
                            fields,
                            props,
                        }))),
                        Vec::new(),
                    )
                }
            }
            Type::Struct if is_union => {
                let mut branches = Vec::new();
                if schema.is_optional() {
                    branches.push(Node::Null);
                }
                for f in schema.fields() {
                    branches.push(self.schema(&non_optional(f.schema()), true)?);
                }
                Node::Union(branches)
            }
            Type::Struct if schema.is_optional() => {
                let record = self.schema(&non_optional(schema), false)?;
                Node::Union(vec![Node::Null, record])
            }
            Type::Struct => {
                let (namespace, name) = self.name_or_default(schema.name());
                let doc = schema.parameters().get(RECORD_DOC).cloned();
                let mut fields = Vec::with_capacity(schema.fields().len());
                for f in schema.fields() {
                    let doc = schema
                        .parameters()
                        .get(&format!("{FIELD_DOC_PREFIX}{}", f.name()))
                        .cloned();
                    fields.push(self.field(f.name(), f.schema(), doc)?);
                }
                Node::Record(Arc::new(Record {
                    name,
                    namespace,
                    doc,
                    fields,
                    props: Vec::new(),
                }))
            }
        };
        if matches!(base, Node::Union(_)) {
            // No metadata on a union (Avro has nowhere to put it), and never made optional again.
            if !schema.is_optional() {
                self.cache.push((schema.clone(), base.clone()));
            }
            return Ok(base);
        }
        if self.options.connect_meta_data {
            if let Some(doc) = schema.doc() {
                props.push(("connect.doc".into(), json!(doc)));
            }
            if let Some(v) = schema.version() {
                props.push(("connect.version".into(), json!(v)));
            }
            let params: JsonMap<String, Json> = schema
                .parameters()
                .iter()
                .filter(|(k, _)| k.as_str() != FIELD_DEFAULT_FLAG)
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            if !params.is_empty() {
                props.push(("connect.parameters".into(), Json::Object(params)));
            }
            if let Some(d) = schema.default_value() {
                if !schema.parameters().contains_key(FIELD_DEFAULT_FLAG) {
                    props.push(("connect.default".into(), default_json(schema, d)?));
                }
            }
            if let Some(n) = schema.name() {
                props.push(("connect.name".into(), json!(n)));
            }
            if let Some(t) = connect_type {
                props.push(("connect.type".into(), json!(t)));
            }
        }
        match schema.name() {
            Some(DECIMAL_NAME) => set_prop(&mut props, "logicalType", json!("decimal")),
            Some(TIME_NAME) => set_prop(&mut props, "logicalType", json!("time-millis")),
            Some(TIMESTAMP_NAME) => set_prop(&mut props, "logicalType", json!("timestamp-millis")),
            Some(DATE_NAME) => set_prop(&mut props, "logicalType", json!("date")),
            _ => {}
        }
        for (k, v) in schema.parameters() {
            if k.starts_with("avro") {
                set_prop(&mut props, k, json!(v));
            }
        }
        let base = with_props(base, props);
        let node = if !ignore_optional && schema.is_optional() {
            if schema.default_value().is_some() {
                Node::Union(vec![base, Node::Null])
            } else {
                Node::Union(vec![Node::Null, base])
            }
        } else {
            base
        };
        if !schema.is_optional() {
            self.cache.push((schema.clone(), node.clone()));
        }
        Ok(node)
    }

    /// AvroData's `addAvroRecordField`: the default is the schema's default, else null for an
    /// optional schema; a default Avro would refuse is left out (as Java logs and drops it).
    fn field(&mut self, name: &str, schema: &Schema, doc: Option<String>) -> Result<AvroField> {
        let node = self.schema(schema, false)?;
        let default = match schema.default_value() {
            Some(d) => Some(default_json(schema, d)?),
            None if schema.is_optional() => Some(Json::Null),
            None => None,
        };
        let default = default.filter(|d| valid_default(&node, d));
        Ok(AvroField {
            name: name.to_owned(),
            node,
            doc,
            default,
        })
    }
}

fn set_prop(props: &mut Props, key: &str, value: Json) {
    if !props.iter().any(|(k, _)| k == key) {
        props.push((key.to_owned(), value));
    }
}

fn with_props(node: Node, props: Props) -> Node {
    match node {
        Node::Prim(t, mut p) => {
            p.extend(props);
            Node::Prim(t, p)
        }
        Node::Array(i, mut p) => {
            p.extend(props);
            Node::Array(i, p)
        }
        Node::Map(v, mut p) => {
            p.extend(props);
            Node::Map(v, p)
        }
        // Freshly built by the caller, so not shared yet.
        Node::Record(mut r) => {
            if let Some(r) = Arc::get_mut(&mut r) {
                r.props.extend(props);
            }
            Node::Record(r)
        }
        Node::Fixed(mut f) => {
            if let Some(f) = Arc::get_mut(&mut f) {
                f.props.extend(props);
            }
            Node::Fixed(f)
        }
        other => other,
    }
}

/// `name` split at its last dot into namespace and name.
fn split_name(name: &str) -> (Option<String>, String) {
    match name.rsplit_once('.') {
        Some((ns, n)) => (Some(ns.to_owned()), n.to_owned()),
        None => (None, name.to_owned()),
    }
}

fn is_union(schema: &Schema) -> bool {
    schema.type_() == Type::Struct && schema.name() == Some(UNION_NAME)
}

fn is_fixed(schema: &Schema) -> bool {
    schema.type_() == Type::Bytes
        && schema.name().is_some()
        && schema.parameters().contains_key(FIXED_SIZE)
}

fn param_int(schema: &Schema, key: &str) -> Result<i64> {
    schema
        .parameters()
        .get(key)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            Error::Data(format!(
                "{} schema without an integer {key:?} parameter",
                schema.name().unwrap_or("bytes")
            ))
        })
}

fn inner<'a>(s: Option<&'a Schema>, what: &str) -> Result<&'a Schema> {
    s.ok_or_else(|| Error::Data(format!("{what} schema without its element schema")))
}

/// Connect's `nonOptional`: the same schema, required.
pub(crate) fn non_optional(s: &Schema) -> Schema {
    if !s.is_optional() {
        return s.clone();
    }
    let b = match (s.type_(), s.key_schema(), s.value_schema()) {
        (Type::Array, _, Some(items)) => crate::data::SchemaBuilder::array(items.clone()),
        (Type::Map, Some(k), Some(v)) => crate::data::SchemaBuilder::map(k.clone(), v.clone()),
        (t, _, _) => crate::data::SchemaBuilder::new(t),
    };
    let mut b = copy_meta(b, s);
    for f in s.fields() {
        b = b.field(f.name(), f.schema().clone());
    }
    b.try_build().unwrap_or_else(|_| s.clone())
}

fn copy_meta(mut b: crate::data::SchemaBuilder, s: &Schema) -> crate::data::SchemaBuilder {
    if let Some(n) = s.name() {
        b = b.name(n);
    }
    if let Some(v) = s.version() {
        b = b.version(v);
    }
    if let Some(d) = s.doc() {
        b = b.doc(d);
    }
    for (k, v) in s.parameters() {
        b = b.parameter(k.clone(), v.clone());
    }
    if let Some(d) = s.default_value() {
        b = b.default_value(d.clone());
    }
    b
}

/// AvroData's `defaultValueFromConnect`.
fn default_json(schema: &Schema, value: &Value) -> Result<Json> {
    Ok(match (schema.type_(), value) {
        (_, Value::Null) => Json::Null,
        (_, Value::Int8(v)) => json!(v),
        (_, Value::Int16(v)) => json!(v),
        (_, Value::Int32(v)) => json!(v),
        (_, Value::Int64(v)) => json!(v),
        (_, Value::Float32(v)) => json!(v),
        (_, Value::Float64(v)) => json!(v),
        (_, Value::Boolean(v)) => json!(v),
        (_, Value::String(v)) => json!(v),
        (_, Value::Bytes(b)) => {
            let b = if schema.name() == Some(DECIMAL_NAME) {
                minimal(b)
            } else {
                b.clone()
            };
            Json::String(b.iter().map(|&c| c as char).collect())
        }
        (Type::Array, Value::Array(items)) => {
            let es = inner(schema.value_schema(), "array")?;
            Json::Array(
                items
                    .iter()
                    .map(|i| default_json(es, i))
                    .collect::<Result<_>>()?,
            )
        }
        (Type::Map, Value::Map(entries)) => {
            let ks = inner(schema.key_schema(), "map")?;
            let vs = inner(schema.value_schema(), "map")?;
            if ks.type_() == Type::String && !ks.is_optional() {
                let mut m = JsonMap::new();
                for (k, v) in entries {
                    m.insert(
                        k.as_str().unwrap_or_default().to_owned(),
                        default_json(vs, v)?,
                    );
                }
                Json::Object(m)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| Ok(json!([default_json(ks, k)?, default_json(vs, v)?])))
                        .collect::<Result<_>>()?,
                )
            }
        }
        (Type::Struct, Value::Struct(s)) => {
            let mut m = JsonMap::new();
            for (f, v) in schema.fields().iter().zip(s.values()) {
                let v = field_value(f.schema(), v);
                let d = default_json(f.schema(), v)?;
                if is_union(schema) {
                    return Ok(d);
                }
                m.insert(f.name().to_owned(), d);
            }
            Json::Object(m)
        }
        (t, v) => {
            return Err(Error::Data(format!(
                "a {} default value for a {t} schema",
                v.inferred_type().map_or("null", Type::name)
            )))
        }
    })
}

/// Whether Avro accepts `d` as the default of a field of type `node` (Avro's
/// `Schema.isValidDefault`: a union's default matches its first branch).
fn valid_default(node: &Node, d: &Json) -> bool {
    match node {
        Node::Null => d.is_null(),
        Node::Prim(t, _) => match *t {
            "int" => d.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
            "long" => d.is_i64() || d.is_u64(),
            "float" | "double" => d.is_number(),
            "boolean" => d.is_boolean(),
            _ => d.is_string(),
        },
        Node::Fixed(_) => d.is_string(),
        Node::Array(items, _) => d
            .as_array()
            .is_some_and(|a| a.iter().all(|i| valid_default(items, i))),
        Node::Map(values, _) => d
            .as_object()
            .is_some_and(|m| m.values().all(|v| valid_default(values, v))),
        Node::Union(branches) => branches.first().is_some_and(|b| valid_default(b, d)),
        Node::Record(r) => d.as_object().is_some_and(|m| {
            r.fields.iter().all(|f| match m.get(&f.name) {
                Some(v) => valid_default(&f.node, v),
                None => f.default.is_some(),
            })
        }),
    }
}

/// Serialises named types once, then by name, as Avro's `Schema.toString` does.
#[derive(Default)]
struct Writer {
    defined: std::collections::HashSet<String>,
    namespace: Option<String>,
}

fn named_json(
    w: &mut Writer,
    kind: &str,
    name: &str,
    namespace: &Option<String>,
) -> std::result::Result<JsonMap<String, Json>, Json> {
    let full = full_name(namespace, name);
    if !w.defined.insert(full.clone()) {
        // Already written: a reference, relative to the enclosing namespace as Java writes it.
        let relative = match (namespace, &w.namespace) {
            (Some(ns), Some(cur)) if ns == cur => name.to_owned(),
            _ => full,
        };
        return Err(Json::String(relative));
    }
    let mut m = JsonMap::new();
    m.insert("type".into(), json!(kind));
    m.insert("name".into(), json!(name));
    let ns = namespace.clone().unwrap_or_default();
    if ns != w.namespace.clone().unwrap_or_default() {
        m.insert("namespace".into(), json!(ns));
    }
    Ok(m)
}

fn to_json(node: &Node, w: &mut Writer) -> Json {
    match node {
        Node::Null => json!("null"),
        Node::Prim(t, props) if props.is_empty() => json!(t),
        Node::Prim(t, props) => {
            let mut m = JsonMap::new();
            m.insert("type".into(), json!(t));
            m.extend(props.iter().cloned());
            Json::Object(m)
        }
        Node::Array(items, props) => {
            let mut m = JsonMap::new();
            m.insert("type".into(), json!("array"));
            m.insert("items".into(), to_json(items, w));
            m.extend(props.iter().cloned());
            Json::Object(m)
        }
        Node::Map(values, props) => {
            let mut m = JsonMap::new();
            m.insert("type".into(), json!("map"));
            m.insert("values".into(), to_json(values, w));
            m.extend(props.iter().cloned());
            Json::Object(m)
        }
        Node::Union(branches) => Json::Array(branches.iter().map(|b| to_json(b, w)).collect()),
        Node::Fixed(f) => match named_json(w, "fixed", &f.name, &f.namespace) {
            Err(reference) => reference,
            Ok(mut m) => {
                m.insert("size".into(), json!(f.size));
                m.extend(f.props.iter().cloned());
                Json::Object(m)
            }
        },
        Node::Record(r) => match named_json(w, "record", &r.name, &r.namespace) {
            Err(reference) => reference,
            Ok(mut m) => {
                if let Some(doc) = &r.doc {
                    m.insert("doc".into(), json!(doc));
                }
                let saved = std::mem::replace(&mut w.namespace, r.namespace.clone());
                let fields = r
                    .fields
                    .iter()
                    .map(|f| {
                        let mut fm = JsonMap::new();
                        fm.insert("name".into(), json!(f.name));
                        fm.insert("type".into(), to_json(&f.node, w));
                        if let Some(doc) = &f.doc {
                            fm.insert("doc".into(), json!(doc));
                        }
                        if let Some(d) = &f.default {
                            fm.insert("default".into(), d.clone());
                        }
                        Json::Object(fm)
                    })
                    .collect();
                w.namespace = saved;
                m.insert("fields".into(), Json::Array(fields));
                m.extend(r.props.iter().cloned());
                Json::Object(m)
            }
        },
    }
}

/// Connect's `Struct.get`: a null field value is the field's default when it has one.
fn field_value<'a>(schema: &'a Schema, v: &'a Value) -> &'a Value {
    match (v, schema.default_value()) {
        (Value::Null, Some(d)) => d,
        _ => v,
    }
}

fn write(schema: &Schema, node: &Node, value: &Value, out: &mut Vec<u8>) -> Result<()> {
    if let Node::Union(branches) = node {
        return write_union(schema, branches, value, out);
    }
    if *value == Value::Null {
        return Err(Error::Data(format!(
            "null value for a required {} schema{}",
            schema.type_(),
            schema.name().map(|n| format!(" ({n})")).unwrap_or_default()
        )));
    }
    let mismatch = || {
        Error::Data(format!(
            "{} value for a {} schema",
            value.inferred_type().map_or("null", Type::name),
            schema.type_()
        ))
    };
    match (node, value) {
        (Node::Prim(..), Value::Int8(v)) => long(out, (*v).into()),
        (Node::Prim(..), Value::Int16(v)) => long(out, (*v).into()),
        (Node::Prim(..), Value::Int32(v)) => long(out, (*v).into()),
        (Node::Prim(..), Value::Int64(v)) => long(out, *v),
        (Node::Prim(..), Value::Float32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Node::Prim(..), Value::Float64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (Node::Prim(..), Value::Boolean(v)) => out.push(u8::from(*v)),
        (Node::Prim(..), Value::String(s)) => {
            long(out, s.len() as i64);
            out.extend_from_slice(s.as_bytes());
        }
        (Node::Prim(..), Value::Bytes(b)) => {
            let b = if schema.name() == Some(DECIMAL_NAME) {
                minimal(b)
            } else {
                b.clone()
            };
            long(out, b.len() as i64);
            out.extend_from_slice(&b);
        }
        (Node::Fixed(f), Value::Bytes(b)) => {
            let b = if schema.name() == Some(DECIMAL_NAME) {
                sign_extend(&minimal(b), f.size)
            } else {
                b.clone()
            };
            if b.len() != f.size {
                return Err(Error::Data(format!(
                    "{} bytes for the fixed {} of size {}",
                    b.len(),
                    f.name,
                    f.size
                )));
            }
            out.extend_from_slice(&b);
        }
        (Node::Array(items, _), Value::Array(vs)) if schema.type_() == Type::Array => {
            let es = inner(schema.value_schema(), "array")?;
            if !vs.is_empty() {
                long(out, vs.len() as i64);
                for v in vs {
                    write(es, items, v, out)?;
                }
            }
            out.push(0);
        }
        (Node::Map(values, _), Value::Map(entries)) => {
            let vs = inner(schema.value_schema(), "map")?;
            let ordered = java_hash_map_order(entries)?;
            if !ordered.is_empty() {
                long(out, ordered.len() as i64);
                for (k, v) in ordered {
                    long(out, k.len() as i64);
                    out.extend_from_slice(k.as_bytes());
                    write(vs, values, v, out)?;
                }
            }
            out.push(0);
        }
        (Node::Array(entry, _), Value::Map(entries)) => {
            let Node::Record(r) = entry.as_ref() else {
                return Err(mismatch());
            };
            let ks = inner(schema.key_schema(), "map")?;
            let vs = inner(schema.value_schema(), "map")?;
            if !entries.is_empty() {
                long(out, entries.len() as i64);
                for (k, v) in entries {
                    write(ks, &r.fields[0].node, k, out)?;
                    write(vs, &r.fields[1].node, v, out)?;
                }
            }
            out.push(0);
        }
        (Node::Record(r), Value::Struct(s)) => {
            // The whole value was checked against its schema before (`validate_value`).
            if s.values().len() != r.fields.len() {
                return Err(mismatch());
            }
            for ((f, af), v) in schema.fields().iter().zip(&r.fields).zip(s.values()) {
                write(f.schema(), &af.node, field_value(f.schema(), v), out).map_err(
                    |e| match e {
                        Error::Data(m) => Error::Data(format!("field {:?}: {m}", f.name())),
                        e => e,
                    },
                )?;
            }
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

fn write_union(schema: &Schema, branches: &[Node], value: &Value, out: &mut Vec<u8>) -> Result<()> {
    let null_at = branches.iter().position(|b| matches!(b, Node::Null));
    if *value == Value::Null {
        let i = null_at.ok_or_else(|| {
            Error::Data(format!(
                "null value for a required {} schema",
                schema.type_()
            ))
        })?;
        long(out, i as i64);
        return Ok(());
    }
    if is_union(schema) {
        let Value::Struct(s) = value else {
            return Err(Error::Data("a union needs a struct value".into()));
        };
        let offset = usize::from(null_at.is_some());
        for (i, (f, v)) in schema.fields().iter().zip(s.values()).enumerate() {
            let v = field_value(f.schema(), v);
            if *v != Value::Null {
                long(out, (i + offset) as i64);
                return write(f.schema(), &branches[i + offset], v, out);
            }
        }
        let i = null_at.ok_or_else(|| Error::Data("a union struct with no field set".into()))?;
        long(out, i as i64);
        return Ok(());
    }
    let (i, branch) = branches
        .iter()
        .enumerate()
        .find(|(_, b)| !matches!(b, Node::Null))
        .ok_or_else(|| Error::Data("a union of only null".into()))?;
    long(out, i as i64);
    write(schema, branch, value, out)
}

/// Zig-zag varint, Avro's `int` and `long`.
pub(crate) fn long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Big-endian two's complement without redundant sign bytes (`BigInteger.toByteArray`).
fn minimal(b: &[u8]) -> Vec<u8> {
    if b.is_empty() {
        return vec![0];
    }
    let mut start = 0;
    while start + 1 < b.len()
        && ((b[start] == 0 && b[start + 1] & 0x80 == 0)
            || (b[start] == 0xff && b[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    b[start..].to_vec()
}

fn sign_extend(b: &[u8], size: usize) -> Vec<u8> {
    if b.len() >= size {
        return b.to_vec();
    }
    let fill = if b.first().is_some_and(|x| x & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut out = vec![fill; size - b.len()];
    out.extend_from_slice(b);
    out
}

/// Java's `String.hashCode`.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The entries of a string-keyed map in the order a `java.util.HashMap` filled with them in
/// this order iterates (a repeated key keeps its first place and its last value).
fn java_hash_map_order(entries: &[(Value, Value)]) -> Result<Vec<(&str, &Value)>> {
    let mut unique: Vec<(&str, &Value)> = Vec::with_capacity(entries.len());
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    for (k, v) in entries {
        let Value::String(k) = k else {
            return Err(Error::Data("a map key that is not a string".into()));
        };
        match at.get(k.as_str()) {
            Some(&i) => unique[i].1 = v,
            None => {
                at.insert(k, unique.len());
                unique.push((k, v));
            }
        }
    }
    let mut capacity = 16usize;
    while unique.len() > capacity * 3 / 4 {
        capacity *= 2;
    }
    let bucket = |k: &str| {
        let h = java_string_hash(k) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    // Stable: within a bucket, entries stay in insertion order (Java keeps it across resizes).
    unique.sort_by_key(|(k, _)| bucket(k));
    Ok(unique)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{logical, SchemaBuilder, Struct};

    fn plan(s: &Schema) -> AvroPlan {
        AvroPlan::new(s, AvroOptions::default()).unwrap()
    }

    fn bytes(s: &Schema, v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        plan(s).write(s, v, &mut out).unwrap();
        out
    }

    /// Our bytes read back by apache-avro with the schema we register.
    fn read_back(s: &Schema, v: &Value) -> apache_avro::types::Value {
        let p = plan(s);
        let avro = apache_avro::Schema::parse_str(&p.text).unwrap();
        let mut out = Vec::new();
        p.write(s, v, &mut out).unwrap();
        apache_avro::reader::datum::GenericDatumReader::builder(&avro)
            .build()
            .unwrap()
            .read_value(&mut out.as_slice())
            .unwrap()
    }

    #[test]
    fn unnamed_structs_are_connect_defaults_with_optional_unions() {
        let inner = SchemaBuilder::struct_()
            .field("x", Schema::int16())
            .optional()
            .build();
        let s = SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field("name", Schema::optional_string())
            .field("inner", inner)
            .build();
        let p = plan(&s);
        let j: Json = serde_json::from_str(&p.text).unwrap();
        assert_eq!(p.record_name, "io.confluent.connect.avro.ConnectDefault");
        assert_eq!(
            j,
            json!({"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro",
            "fields":[
              {"name":"id","type":"long"},
              {"name":"name","type":["null","string"],"default":null},
              {"name":"inner","type":["null",{"type":"record","name":"ConnectDefault2",
                 "fields":[{"name":"x","type":{"type":"int","connect.type":"int16"}}]}],
               "default":null}
            ]})
        );
        apache_avro::Schema::parse_str(&p.text).unwrap();
    }

    #[test]
    fn logical_types_and_metadata_follow_avro_data() {
        let s = SchemaBuilder::struct_()
            .name("com.example.Order")
            .version(3)
            .doc("an order")
            .field("amount", logical::decimal(2).build())
            .field("day", logical::date().optional().build())
            .field("at", logical::timestamp().build())
            .field("t", logical::time().build())
            .field(
                "qty",
                SchemaBuilder::new(Type::Int32)
                    .default_value(Value::Int32(1))
                    .build(),
            )
            .build();
        let j: Json = serde_json::from_str(&plan(&s).text).unwrap();
        assert_eq!(j["name"], "Order");
        assert_eq!(j["namespace"], "com.example");
        assert_eq!(j["connect.version"], 3);
        assert_eq!(j["connect.doc"], "an order");
        assert_eq!(j["connect.name"], "com.example.Order");
        let f = &j["fields"];
        assert_eq!(
            f[0]["type"],
            json!({"type":"bytes","scale":2,"precision":64,"connect.version":1,
                   "connect.parameters":{"scale":"2"},
                   "connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"})
        );
        assert_eq!(f[1]["type"][1]["logicalType"], "date");
        assert_eq!(f[2]["type"]["logicalType"], "timestamp-millis");
        assert_eq!(f[3]["type"]["logicalType"], "time-millis");
        assert_eq!(f[4]["default"], 1);
        assert_eq!(f[4]["type"], json!({"type":"int","connect.default":1}));
    }

    #[test]
    fn values_read_back_with_apache_avro() {
        use apache_avro::types::Value as A;
        let s = SchemaBuilder::struct_()
            .name("ns.R")
            .field("i", Schema::int32())
            .field("s", Schema::optional_string())
            .field("b", Schema::bytes())
            .field("f", Schema::float32())
            .field("l", SchemaBuilder::array(Schema::int64()).build())
            .field(
                "m",
                SchemaBuilder::map(Schema::string(), Schema::boolean()).build(),
            )
            .field(
                "n",
                SchemaBuilder::map(Schema::int32(), Schema::string()).build(),
            )
            .field("d", logical::decimal(2).build())
            .build();
        let v = Value::Struct(
            Struct::new(s.clone())
                .unwrap()
                .put("i", -5i32)
                .unwrap()
                .put("s", Value::Null)
                .unwrap()
                .put("b", Value::Bytes(vec![1, 2]))
                .unwrap()
                .put("f", 1.5f32)
                .unwrap()
                .put("l", Value::Array(vec![Value::Int64(1), Value::Int64(300)]))
                .unwrap()
                .put(
                    "m",
                    Value::Map(vec![(Value::String("k".into()), Value::Boolean(true))]),
                )
                .unwrap()
                .put(
                    "n",
                    Value::Map(vec![(Value::Int32(7), Value::String("seven".into()))]),
                )
                .unwrap()
                .put("d", logical::decimal_value(-12345))
                .unwrap(),
        );
        let A::Record(fields) = read_back(&s, &v) else {
            panic!("a record")
        };
        assert_eq!(fields[0].1, A::Int(-5));
        assert_eq!(fields[1].1, A::Union(0, Box::new(A::Null)));
        assert_eq!(fields[2].1, A::Bytes(vec![1, 2]));
        assert_eq!(fields[3].1, A::Float(1.5));
        assert_eq!(fields[4].1, A::Array(vec![A::Long(1), A::Long(300)]));
        assert_eq!(
            fields[5].1,
            A::Map([("k".to_owned(), A::Boolean(true))].into_iter().collect())
        );
        assert_eq!(
            fields[6].1,
            A::Array(vec![A::Record(vec![
                ("key".into(), A::Int(7)),
                ("value".into(), A::String("seven".into()))
            ])])
        );
        let A::Decimal(d) = &fields[7].1 else {
            panic!("{:?}", fields[7].1)
        };
        let raw: Vec<u8> = d.try_into().unwrap();
        assert_eq!(logical::decimal_unscaled(&raw), Some(-12345));
    }

    #[test]
    fn avro_docs_come_back_from_their_parameters() {
        let s = SchemaBuilder::struct_()
            .name("ns.Doc")
            .parameter("io.confluent.connect.avro.record.doc", "a record")
            .parameter("io.confluent.connect.avro.field.doc.a", "the a")
            .field("a", Schema::int64())
            .build();
        let j: Json = serde_json::from_str(&plan(&s).text).unwrap();
        assert_eq!(j["doc"], "a record");
        assert_eq!(j["fields"][0]["doc"], "the a");
        assert_eq!(
            j["connect.parameters"]["io.confluent.connect.avro.record.doc"],
            "a record"
        );
    }

    #[test]
    fn a_struct_used_twice_is_defined_once() {
        let point = SchemaBuilder::struct_()
            .name("ns.Point")
            .field("x", Schema::int32())
            .build();
        let s = SchemaBuilder::struct_()
            .name("ns.Line")
            .field("a", point.clone())
            .field("b", point)
            .build();
        let j: Json = serde_json::from_str(&plan(&s).text).unwrap();
        assert_eq!(j["fields"][1]["type"], "Point");
        apache_avro::Schema::parse_str(&plan(&s).text).unwrap();
    }

    #[test]
    fn top_level_bytes_are_raw_and_optional_primitives_are_unions() {
        assert_eq!(
            bytes(&Schema::bytes(), &Value::Bytes(vec![9, 8])),
            vec![9, 8]
        );
        assert_eq!(
            plan(&Schema::optional_string()).text,
            r#"["null","string"]"#
        );
        assert_eq!(
            bytes(&Schema::optional_string(), &Value::String("a".into())),
            vec![2, 2, b'a']
        );
    }

    #[test]
    fn maps_iterate_in_java_hash_map_order() {
        // Java: new HashMap<>() with "b", "a", "c" put in that order iterates a, b, c
        // (hashes 98, 97, 99 land in buckets 2, 1, 3).
        let entries: Vec<(Value, Value)> = ["b", "a", "c"]
            .iter()
            .map(|k| (Value::String((*k).into()), Value::Null))
            .collect();
        let keys: Vec<&str> = java_hash_map_order(&entries)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }
}
