//! Connect values written in Avro's binary encoding, as `GenericDatumWriter` writes them.

use super::*;

/// Connect's `Struct.get`: a null field value is the field's default when it has one.
pub(super) fn field_value<'a>(schema: &'a Schema, v: &'a Value) -> &'a Value {
    match (v, schema.default_value()) {
        (Value::Null, Some(d)) => d,
        _ => v,
    }
}

pub(super) fn write(schema: &Schema, node: &Node, value: &Value, out: &mut Vec<u8>) -> Result<()> {
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
                minimal_twos_complement(b).to_vec()
            } else {
                b.clone()
            };
            long(out, b.len() as i64);
            out.extend_from_slice(&b);
        }
        (Node::Fixed(f), Value::Bytes(b)) => {
            let b = if schema.name() == Some(DECIMAL_NAME) {
                sign_extend(minimal_twos_complement(b), f.size)
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

pub(super) fn write_union(
    schema: &Schema,
    branches: &[Node],
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<()> {
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

pub(super) fn sign_extend(b: &[u8], size: usize) -> Vec<u8> {
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
pub(super) fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The entries of a string-keyed map in the order a `java.util.HashMap` filled with them in
/// this order iterates (a repeated key keeps its first place and its last value).
pub(super) fn java_hash_map_order(entries: &[(Value, Value)]) -> Result<Vec<(&str, &Value)>> {
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
