//! The Avro schema → Connect schema mapping (Confluent's `AvroData`) and value conversion.

use super::*;

/// An Avro schema with its Connect mapping and the named types it defines.
pub(super) struct Mapping {
    pub(super) avro: AvroSchema,
    pub(super) connect: Schema,
    names: HashMap<String, AvroSchema>,
}

impl Mapping {
    pub(super) fn new(avro: AvroSchema) -> Result<Self, String> {
        let mut names = HashMap::new();
        collect_names(&avro, None, &mut names);
        let mut mapping = Mapping {
            avro,
            connect: Schema::string(),
            names,
        };
        let mut stack = Vec::new();
        mapping.connect = mapping.schema(&mapping.avro, false, &mut stack, "$")?;
        Ok(mapping)
    }

    fn resolve<'a>(&'a self, s: &'a AvroSchema) -> Result<&'a AvroSchema, String> {
        match s {
            AvroSchema::Ref { name } => self
                .names
                .get(&name.fullname(None))
                .ok_or_else(|| format!("unknown type {:?}", name.fullname(None))),
            other => Ok(other),
        }
    }

    /// The Connect schema for `s` (optional when `optional`); `stack` holds the records being
    /// mapped, to refuse recursion; `path` names the field for messages.
    fn schema(
        &self,
        s: &AvroSchema,
        optional: bool,
        stack: &mut Vec<String>,
        path: &str,
    ) -> Result<Schema, String> {
        let opt = |b: SchemaBuilder| if optional { b.optional() } else { b };
        if let AvroSchema::Ref { name } = s {
            let full = name.fullname(None);
            if stack.contains(&full) {
                return Err(format!(
                    "{path}: the record {full:?} contains itself; Connect schemas cannot be recursive"
                ));
            }
        }
        let s = self.resolve(s)?;
        Ok(match s {
            AvroSchema::Null => SchemaBuilder::new(Type::String).optional().build(),
            AvroSchema::Boolean => opt(SchemaBuilder::new(Type::Boolean)).build(),
            AvroSchema::Int => opt(SchemaBuilder::new(Type::Int32)).build(),
            AvroSchema::Long => opt(SchemaBuilder::new(Type::Int64)).build(),
            AvroSchema::Float => opt(SchemaBuilder::new(Type::Float32)).build(),
            AvroSchema::Double => opt(SchemaBuilder::new(Type::Float64)).build(),
            AvroSchema::Bytes => opt(SchemaBuilder::new(Type::Bytes)).build(),
            AvroSchema::String | AvroSchema::Uuid(_) | AvroSchema::BigDecimal => {
                opt(SchemaBuilder::new(Type::String)).build()
            }
            AvroSchema::Array(a) => {
                let items = self.schema(&a.items, false, stack, &format!("{path}[]"))?;
                opt(SchemaBuilder::array(items)).build()
            }
            AvroSchema::Map(m) => {
                let values = self.schema(&m.types, false, stack, &format!("{path}{{}}"))?;
                opt(SchemaBuilder::map(Schema::string(), values)).build()
            }
            AvroSchema::Union(u) => self.union_schema(u, optional, stack, path)?,
            AvroSchema::Record(r) => {
                let full = r.name.fullname(None);
                if stack.contains(&full) {
                    return Err(format!(
                        "{path}: the record {full:?} contains itself; Connect schemas cannot be recursive"
                    ));
                }
                stack.push(full.clone());
                let mut b = SchemaBuilder::struct_().name(full);
                // The docs, where Confluent's AvroData keeps them (`connect.meta.data`), so the
                // AvroConverter writes them back.
                if let Some(doc) = &r.doc {
                    b = b.parameter(RECORD_DOC_PARAM, doc.clone());
                }
                for f in &r.fields {
                    if let Some(doc) = &f.doc {
                        b = b.parameter(format!("{FIELD_DOC_PARAM}{}", f.name), doc.clone());
                    }
                }
                for f in &r.fields {
                    let fs = self.schema(&f.schema, false, stack, &format!("{path}.{}", f.name))?;
                    b = b.field(f.name.clone(), fs);
                }
                stack.pop();
                opt(b).try_build().map_err(|e| format!("{path}: {e}"))?
            }
            AvroSchema::Enum(e) => {
                let full = e.name.fullname(None);
                let mut b = SchemaBuilder::new(Type::String)
                    .name(full.clone())
                    .parameter(ENUM_PARAM, full);
                for sym in &e.symbols {
                    b = b.parameter(format!("{ENUM_PARAM}.{sym}"), sym.clone());
                }
                opt(b).build()
            }
            AvroSchema::Fixed(f) | AvroSchema::Duration(f) => opt(SchemaBuilder::new(Type::Bytes)
                .name(f.name.fullname(None))
                .parameter(FIXED_SIZE_PARAM, f.size.to_string()))
            .build(),
            AvroSchema::Decimal(d) => opt(logical::decimal(d.scale as i32)
                .parameter(PRECISION_PARAM, d.precision.to_string()))
            .build(),
            AvroSchema::Date => opt(logical::date()).build(),
            AvroSchema::TimeMillis | AvroSchema::TimeMicros => opt(logical::time()).build(),
            AvroSchema::TimestampMillis
            | AvroSchema::TimestampMicros
            | AvroSchema::TimestampNanos
            | AvroSchema::LocalTimestampMillis
            | AvroSchema::LocalTimestampMicros
            | AvroSchema::LocalTimestampNanos => opt(logical::timestamp()).build(),
            AvroSchema::Ref { .. } => unreachable!("resolved above"),
        })
    }

    /// `[null, T]` → optional T; `[null]` → optional string (always null); other unions → a
    /// struct with one optional field per non-null branch (Confluent's union struct).
    fn union_schema(
        &self,
        u: &UnionSchema,
        optional: bool,
        stack: &mut Vec<String>,
        path: &str,
    ) -> Result<Schema, String> {
        let nullable = u.variants().iter().any(|v| matches!(v, AvroSchema::Null));
        let branches: Vec<&AvroSchema> = u
            .variants()
            .iter()
            .filter(|v| !matches!(v, AvroSchema::Null))
            .collect();
        match branches.as_slice() {
            [] => Ok(Schema::optional_string()),
            [only] => self.schema(only, nullable || optional, stack, path),
            many => {
                let mut b = SchemaBuilder::struct_().name(UNION_NAME);
                for (name, branch) in self.branch_names(many)?.into_iter().zip(many) {
                    let fs = self.schema(branch, true, stack, &format!("{path}.{name}"))?;
                    b = b.field(name, fs);
                }
                if nullable || optional {
                    b = b.optional();
                }
                b.try_build().map_err(|e| format!("{path}: {e}"))
            }
        }
    }

    /// The union struct's field names: the type name (`int`, `string`, `array`, ...) or a named
    /// type's simple name (its full name when two would be equal).
    fn branch_names(&self, branches: &[&AvroSchema]) -> Result<Vec<String>, String> {
        let simple: Vec<(String, String)> = branches
            .iter()
            .map(|b| -> Result<(String, String), String> {
                let r = self.resolve(b)?;
                Ok(match named(r) {
                    Some(n) => (n.name().to_owned(), n.fullname(None)),
                    None => {
                        let t = type_name(r).to_owned();
                        (t.clone(), t)
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(simple
            .iter()
            .map(|(s, full)| {
                if simple.iter().filter(|(o, _)| o == s).count() > 1 {
                    full.clone()
                } else {
                    s.clone()
                }
            })
            .collect())
    }

    /// The Connect value of `v`, written with schema `s` and mapped to `c`.
    pub(super) fn value(&self, s: &AvroSchema, c: &Schema, v: AvroValue) -> Result<Value, String> {
        let s = self.resolve(s)?;
        if let AvroSchema::Union(u) = s {
            let AvroValue::Union(i, inner) = v else {
                return Err(format!("a {} value for a union", value_kind(&v)));
            };
            let branch = u
                .variants()
                .get(i as usize)
                .ok_or_else(|| format!("union branch {i} does not exist"))?;
            if matches!(*inner, AvroValue::Null) {
                return Ok(Value::Null);
            }
            if c.name() == Some(UNION_NAME) && c.type_() == Type::Struct {
                let branches: Vec<&AvroSchema> = u
                    .variants()
                    .iter()
                    .filter(|v| !matches!(v, AvroSchema::Null))
                    .collect();
                let pos = u.variants()[..i as usize]
                    .iter()
                    .filter(|v| !matches!(v, AvroSchema::Null))
                    .count();
                let name = self.branch_names(&branches)?.swap_remove(pos);
                let field = c.field(&name).ok_or("union field missing")?;
                let fv = self.value(branch, field.schema(), *inner)?;
                let mut st = Struct::new(c.clone()).map_err(|e| e.to_string())?;
                st.set(&name, fv).map_err(|e| e.to_string())?;
                return Ok(Value::Struct(st));
            }
            return self.value(branch, c, *inner);
        }
        Ok(match (s, v) {
            (_, AvroValue::Null) => Value::Null,
            (_, AvroValue::Boolean(b)) => Value::Boolean(b),
            (_, AvroValue::Int(i)) => Value::Int32(i),
            (_, AvroValue::Long(l)) => Value::Int64(l),
            (_, AvroValue::Float(f)) => Value::Float32(f),
            (_, AvroValue::Double(d)) => Value::Float64(d),
            (_, AvroValue::Bytes(b)) => Value::Bytes(b),
            (_, AvroValue::String(s)) => Value::String(s),
            (_, AvroValue::Fixed(_, b)) => Value::Bytes(b),
            (_, AvroValue::Enum(_, sym)) => Value::String(sym),
            (AvroSchema::Array(a), AvroValue::Array(items)) => {
                let es = c.value_schema().ok_or("array schema without items")?;
                Value::Array(
                    items
                        .into_iter()
                        .map(|i| self.value(&a.items, es, i))
                        .collect::<Result<_, _>>()?,
                )
            }
            (AvroSchema::Map(m), AvroValue::Map(entries)) => {
                let vs = c.value_schema().ok_or("map schema without values")?;
                let mut entries: Vec<(String, AvroValue)> = entries.into_iter().collect();
                // Avro maps are unordered; a stable order makes records reproducible.
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| Ok((Value::String(k), self.value(&m.types, vs, v)?)))
                        .collect::<Result<_, String>>()?,
                )
            }
            (AvroSchema::Record(r), AvroValue::Record(fields)) => {
                Value::Struct(self.record(r, c, fields)?)
            }
            (_, AvroValue::Date(d)) => Value::Int32(d),
            (_, AvroValue::TimeMillis(t)) => Value::Int32(t),
            (_, AvroValue::TimeMicros(t)) => Value::Int32(
                i32::try_from(t.div_euclid(1000))
                    .map_err(|_| format!("time-micros {t} is out of range"))?,
            ),
            (_, AvroValue::TimestampMillis(t) | AvroValue::LocalTimestampMillis(t)) => {
                Value::Int64(t)
            }
            (_, AvroValue::TimestampMicros(t) | AvroValue::LocalTimestampMicros(t)) => {
                Value::Int64(t.div_euclid(1000))
            }
            (_, AvroValue::TimestampNanos(t) | AvroValue::LocalTimestampNanos(t)) => {
                Value::Int64(t.div_euclid(1_000_000))
            }
            (_, AvroValue::Decimal(d)) => {
                let bytes: Vec<u8> = d
                    .try_into()
                    .map_err(|e: apache_avro::Error| e.to_string())?;
                Value::Bytes(logical::minimal_twos_complement(&bytes).to_vec())
            }
            (_, AvroValue::BigDecimal(d)) => Value::String(d.to_string()),
            (_, AvroValue::Uuid(u)) => Value::String(u.to_string()),
            (_, AvroValue::Duration(d)) => Value::Bytes(<[u8; 12]>::from(&d).to_vec()),
            (s, v) => {
                return Err(format!(
                    "a {} value does not match its {} schema",
                    value_kind(&v),
                    type_name(s)
                ))
            }
        })
    }

    fn record(
        &self,
        r: &RecordSchema,
        c: &Schema,
        fields: Vec<(String, AvroValue)>,
    ) -> Result<Struct, String> {
        let mut st = Struct::new(c.clone()).map_err(|e| e.to_string())?;
        for ((name, v), f) in fields.into_iter().zip(&r.fields) {
            let field = c.field(&name).ok_or_else(|| format!("no field {name:?}"))?;
            let value = self.value(&f.schema, field.schema(), v)?;
            st.set(&name, value)
                .map_err(|e| format!("field {name:?}: {e}"))?;
        }
        Ok(st)
    }
}

/// Every named type of `s`, by full name.
fn collect_names(s: &AvroSchema, _ns: Option<&str>, out: &mut HashMap<String, AvroSchema>) {
    match s {
        AvroSchema::Record(r) => {
            out.insert(r.name.fullname(None), s.clone());
            for f in &r.fields {
                collect_names(&f.schema, None, out);
            }
        }
        AvroSchema::Enum(e) => {
            out.insert(e.name.fullname(None), s.clone());
        }
        AvroSchema::Fixed(f) | AvroSchema::Duration(f) => {
            out.insert(f.name.fullname(None), s.clone());
        }
        AvroSchema::Decimal(d) => {
            if let apache_avro::schema::InnerDecimalSchema::Fixed(f) = &d.inner {
                out.insert(f.name.fullname(None), AvroSchema::Fixed(f.clone()));
            }
        }
        AvroSchema::Uuid(apache_avro::schema::UuidSchema::Fixed(f)) => {
            out.insert(f.name.fullname(None), AvroSchema::Fixed(f.clone()));
        }
        AvroSchema::Array(a) => collect_names(&a.items, None, out),
        AvroSchema::Map(m) => collect_names(&m.types, None, out),
        AvroSchema::Union(u) => {
            for v in u.variants() {
                collect_names(v, None, out);
            }
        }
        _ => {}
    }
}

fn named(s: &AvroSchema) -> Option<&Name> {
    match s {
        AvroSchema::Record(r) => Some(&r.name),
        AvroSchema::Enum(e) => Some(&e.name),
        AvroSchema::Fixed(f) | AvroSchema::Duration(f) => Some(&f.name),
        _ => None,
    }
}

fn type_name(s: &AvroSchema) -> &'static str {
    match s {
        AvroSchema::Null => "null",
        AvroSchema::Boolean => "boolean",
        AvroSchema::Int | AvroSchema::Date | AvroSchema::TimeMillis => "int",
        AvroSchema::Long
        | AvroSchema::TimeMicros
        | AvroSchema::TimestampMillis
        | AvroSchema::TimestampMicros
        | AvroSchema::TimestampNanos
        | AvroSchema::LocalTimestampMillis
        | AvroSchema::LocalTimestampMicros
        | AvroSchema::LocalTimestampNanos => "long",
        AvroSchema::Float => "float",
        AvroSchema::Double => "double",
        AvroSchema::Bytes | AvroSchema::BigDecimal => "bytes",
        AvroSchema::Decimal(d) => match d.inner {
            apache_avro::schema::InnerDecimalSchema::Bytes => "bytes",
            apache_avro::schema::InnerDecimalSchema::Fixed(_) => "fixed",
        },
        AvroSchema::String => "string",
        AvroSchema::Uuid(u) => match u {
            apache_avro::schema::UuidSchema::String => "string",
            apache_avro::schema::UuidSchema::Bytes => "bytes",
            apache_avro::schema::UuidSchema::Fixed(_) => "fixed",
        },
        AvroSchema::Array(_) => "array",
        AvroSchema::Map(_) => "map",
        AvroSchema::Union(_) => "union",
        AvroSchema::Record(_) => "record",
        AvroSchema::Enum(_) => "enum",
        AvroSchema::Fixed(_) | AvroSchema::Duration(_) => "fixed",
        AvroSchema::Ref { .. } => "reference",
    }
}

fn value_kind(v: &AvroValue) -> &'static str {
    match v {
        AvroValue::Null => "null",
        AvroValue::Boolean(_) => "boolean",
        AvroValue::Int(_) => "int",
        AvroValue::Long(_) => "long",
        AvroValue::Float(_) => "float",
        AvroValue::Double(_) => "double",
        AvroValue::Bytes(_) => "bytes",
        AvroValue::String(_) => "string",
        AvroValue::Fixed(..) => "fixed",
        AvroValue::Enum(..) => "enum",
        AvroValue::Union(..) => "union",
        AvroValue::Array(_) => "array",
        AvroValue::Map(_) => "map",
        AvroValue::Record(_) => "record",
        _ => "logical",
    }
}
