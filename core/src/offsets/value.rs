//! [`OffsetValue`] and [`OffsetMap`]: source partition / source offset maps with every integer
//! normalised to i64 ("Long"), as Kafka Connect stores them.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// A source partition or source offset map. Keys are sorted, so the JSON form is canonical.
pub type OffsetMap = BTreeMap<String, OffsetValue>;

/// An offset map held as a boxed slice of its entries, in key order: for maps kept in numbers
/// (one per record or object in flight). A `BTreeMap` allocates a node for eleven entries
/// (about 600 bytes) whatever it holds, and offsets and partitions hold two to four; a task may
/// have tens of thousands of records in flight, one per object when the objects are small
/// (docs/benchmarks/2026-12-05-small-reads.md).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompactMap(Box<[(String, OffsetValue)]>);

impl From<OffsetMap> for CompactMap {
    fn from(map: OffsetMap) -> Self {
        CompactMap(map.into_iter().collect())
    }
}

impl CompactMap {
    /// The map again (the entries are in key order, so it is built without a search).
    pub(crate) fn into_map(self) -> OffsetMap {
        self.0.into_vec().into_iter().collect()
    }

    /// A copy as a map.
    pub(crate) fn to_map(&self) -> OffsetMap {
        self.0.iter().cloned().collect()
    }

    /// Whether it holds the same entries as `map`.
    pub(crate) fn is(&self, map: &OffsetMap) -> bool {
        self.0.len() == map.len()
            && self
                .0
                .iter()
                .zip(map)
                .all(|((k, v), (mk, mv))| k == mk && v == mv)
    }
}

/// A value in an offset map. Integers of every width are stored as `Long(i64)`, so a value written
/// as an `i32` reads back equal after a JSON round trip.
#[derive(Debug, Clone, PartialEq)]
pub enum OffsetValue {
    /// JSON null.
    Null,
    /// Boolean.
    Bool(bool),
    /// Every integer, normalised to i64.
    Long(i64),
    /// Floating point.
    Double(f64),
    /// String.
    String(String),
}

impl OffsetValue {
    /// The integer, if this is one.
    pub fn as_long(&self) -> Option<i64> {
        match self {
            OffsetValue::Long(v) => Some(*v),
            _ => None,
        }
    }
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            OffsetValue::String(v) => Some(v),
            _ => None,
        }
    }
    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            OffsetValue::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// Converts a JSON value; integers become `Long`. Arrays and objects are not offset values.
    pub fn from_json(v: &serde_json::Value) -> Result<Self> {
        Ok(match v {
            serde_json::Value::Null => OffsetValue::Null,
            serde_json::Value::Bool(b) => OffsetValue::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    OffsetValue::Long(i)
                } else if n.is_u64() {
                    return Err(Error::Offset(format!(
                        "integer {n} does not fit in a Long (i64)"
                    )));
                } else {
                    OffsetValue::Double(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => OffsetValue::String(s.clone()),
            other => {
                return Err(Error::Offset(format!(
                    "{other} is not a primitive offset value"
                )))
            }
        })
    }

    /// The JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            OffsetValue::Null => serde_json::Value::Null,
            OffsetValue::Bool(b) => (*b).into(),
            OffsetValue::Long(i) => (*i).into(),
            OffsetValue::Double(d) => serde_json::Number::from_f64(*d)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            OffsetValue::String(s) => s.clone().into(),
        }
    }
}

macro_rules! long_from {
    ($($t:ty),*) => {$(
        impl From<$t> for OffsetValue { fn from(v: $t) -> Self { OffsetValue::Long(i64::from(v)) } }
    )*};
}
long_from!(i8, i16, i32, i64, u8, u16, u32);

impl TryFrom<u64> for OffsetValue {
    type Error = Error;
    fn try_from(v: u64) -> Result<Self> {
        i64::try_from(v)
            .map(OffsetValue::Long)
            .map_err(|_| Error::Offset(format!("integer {v} does not fit in a Long (i64)")))
    }
}

impl From<bool> for OffsetValue {
    fn from(v: bool) -> Self {
        OffsetValue::Bool(v)
    }
}
impl From<f64> for OffsetValue {
    fn from(v: f64) -> Self {
        OffsetValue::Double(v)
    }
}
impl From<&str> for OffsetValue {
    fn from(v: &str) -> Self {
        OffsetValue::String(v.to_owned())
    }
}
impl From<String> for OffsetValue {
    fn from(v: String) -> Self {
        OffsetValue::String(v)
    }
}

/// The JSON object form of a map (keys sorted).
pub fn map_to_json(map: &OffsetMap) -> serde_json::Value {
    serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// Writes `map` as compact JSON, byte for byte as `map_to_json(map).to_string()` does, without
/// building the JSON value on the way (the canonical partition and the Connect offset key are
/// rendered for every object, several times).
pub(crate) fn write_map_json(map: &OffsetMap, out: &mut Vec<u8>) {
    use serde::ser::{Serialize, Serializer};
    struct Json<'a>(&'a OffsetValue);
    impl Serialize for Json<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            match self.0 {
                OffsetValue::Null => s.serialize_unit(),
                OffsetValue::Bool(b) => s.serialize_bool(*b),
                OffsetValue::Long(i) => s.serialize_i64(*i),
                // As `to_json`: a number JSON cannot hold is null.
                OffsetValue::Double(d) if d.is_finite() => s.serialize_f64(*d),
                OffsetValue::Double(_) => s.serialize_unit(),
                OffsetValue::String(v) => s.serialize_str(v),
            }
        }
    }
    serde_json::Serializer::new(out)
        .collect_map(map.iter().map(|(k, v)| (k, Json(v))))
        .expect("JSON written to memory");
}

/// Parses a JSON object into a map, normalising integers to i64.
pub fn map_from_json(v: &serde_json::Value) -> Result<OffsetMap> {
    let obj = v
        .as_object()
        .ok_or_else(|| Error::Offset(format!("{v} is not a JSON object")))?;
    obj.iter()
        .map(|(k, v)| Ok((k.clone(), OffsetValue::from_json(v)?)))
        .collect()
}

/// An offset map from (key, value) pairs (tests).
#[cfg(test)]
pub(crate) fn map_of(pairs: &[(&str, OffsetValue)]) -> OffsetMap {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_value() -> impl proptest::strategy::Strategy<Value = OffsetValue> {
        use proptest::prelude::*;
        prop_oneof![
            Just(OffsetValue::Null),
            any::<bool>().prop_map(OffsetValue::Bool),
            any::<i64>().prop_map(OffsetValue::Long),
            any::<f64>().prop_map(OffsetValue::Double),
            prop_oneof![
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(-0.0),
                Just(1e300),
                Just(0.1)
            ]
            .prop_map(OffsetValue::Double),
            ".{0,12}".prop_map(OffsetValue::String),
            "[\\x00-\\x1f\"\\\\/é😀]{0,6}".prop_map(OffsetValue::String),
        ]
    }

    proptest::proptest! {
        /// The direct writer gives the bytes of the JSON value's text, whatever the keys and
        /// values (escapes, control characters, non-finite and negative-zero doubles).
        #[test]
        fn write_map_json_is_the_json_values_text(
            map in proptest::collection::btree_map(".{0,8}|[\\x00-\\x1f\"\\\\é]{0,4}", any_value(), 0..6),
            connector in ".{0,6}|[\"\\\\\\x00]{1,3}",
        ) {
            let mut out = Vec::new();
            write_map_json(&map, &mut out);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), map_to_json(&map).to_string());
            // And the Connect offset key built on it.
            let key = serde_json::Value::Array(vec![connector.as_str().into(), map_to_json(&map)]);
            proptest::prop_assert_eq!(
                crate::offsets::connect_offset_key(&connector, &map),
                key.to_string()
            );
        }
    }

    #[test]
    fn a_compact_map_gives_back_the_map_it_was_made_of() {
        let maps = [
            OffsetMap::new(),
            map_of(&[("recordCount", OffsetValue::Long(0))]),
            map_of(&[
                ("bucket", OffsetValue::String("b".into())),
                ("object", OffsetValue::String("dir/o.jsonl".into())),
            ]),
            map_of(&[
                ("etag", OffsetValue::String("\"x\"".into())),
                ("finished", OffsetValue::Bool(true)),
                ("recordCount", OffsetValue::Long(-3)),
                ("ratio", OffsetValue::Double(0.5)),
                ("z", OffsetValue::Null),
            ]),
        ];
        for map in &maps {
            let compact = CompactMap::from(map.clone());
            assert!(compact.is(map));
            assert_eq!(&compact.to_map(), map);
            assert_eq!(&compact.into_map(), map);
        }
        // Another map of the same size, or one entry more or less, is not the same.
        let compact = CompactMap::from(maps[2].clone());
        let mut other = maps[2].clone();
        other.insert("object".into(), OffsetValue::String("dir/p.jsonl".into()));
        assert!(!compact.is(&other));
        other.insert("x".into(), OffsetValue::Null);
        assert!(!compact.is(&other));
        assert!(!compact.is(&maps[1]));
    }
}
