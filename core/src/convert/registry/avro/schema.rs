//! The Avro schema of a Connect schema (`AvroData.fromConnectSchema`).

use super::*;

pub(super) struct Gen {
    pub(super) options: AvroOptions,
    pub(super) name_index: u32,
    /// Non-optional Connect schemas already converted (AvroData's `schemaMap`).
    pub(super) cache: Vec<(Schema, Node)>,
}

impl Gen {
    pub(super) fn name_or_default(&mut self, name: Option<&str>) -> (Option<String>, String) {
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

    pub(super) fn schema(&mut self, schema: &Schema, ignore_optional: bool) -> Result<Node> {
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
    pub(super) fn field(
        &mut self,
        name: &str,
        schema: &Schema,
        doc: Option<String>,
    ) -> Result<AvroField> {
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

pub(super) fn set_prop(props: &mut Props, key: &str, value: Json) {
    if !props.iter().any(|(k, _)| k == key) {
        props.push((key.to_owned(), value));
    }
}

pub(super) fn with_props(node: Node, props: Props) -> Node {
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
pub(super) fn split_name(name: &str) -> (Option<String>, String) {
    match name.rsplit_once('.') {
        Some((ns, n)) => (Some(ns.to_owned()), n.to_owned()),
        None => (None, name.to_owned()),
    }
}

pub(super) fn is_union(schema: &Schema) -> bool {
    schema.type_() == Type::Struct && schema.name() == Some(UNION_NAME)
}

pub(super) fn is_fixed(schema: &Schema) -> bool {
    schema.type_() == Type::Bytes
        && schema.name().is_some()
        && schema.parameters().contains_key(FIXED_SIZE)
}

pub(super) fn param_int(schema: &Schema, key: &str) -> Result<i64> {
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

pub(super) fn inner<'a>(s: Option<&'a Schema>, what: &str) -> Result<&'a Schema> {
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

pub(super) fn copy_meta(
    mut b: crate::data::SchemaBuilder,
    s: &Schema,
) -> crate::data::SchemaBuilder {
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
pub(super) fn default_json(schema: &Schema, value: &Value) -> Result<Json> {
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
                minimal_twos_complement(b).to_vec()
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
pub(super) fn valid_default(node: &Node, d: &Json) -> bool {
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
