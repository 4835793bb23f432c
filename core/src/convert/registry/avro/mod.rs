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

mod encode;
mod print;
mod schema;
#[cfg(test)]
mod tests;

use crate::data::logical::minimal_twos_complement;
use encode::{field_value, write};
use print::{to_json, Writer};
pub(crate) use schema::non_optional;
use schema::{inner, is_union, Gen};
