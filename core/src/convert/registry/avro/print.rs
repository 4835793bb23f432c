//! An Avro schema printed as JSON, as Avro's `Schema.toString` prints it.

use super::*;

/// Serialises named types once, then by name, as Avro's `Schema.toString` does.
#[derive(Default)]
pub(super) struct Writer {
    pub(super) defined: std::collections::HashSet<String>,
    pub(super) namespace: Option<String>,
}

pub(super) fn named_json(
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

pub(super) fn to_json(node: &Node, w: &mut Writer) -> Json {
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
