//! `ReplaceField$Value` / `ReplaceField$Key`: keeps, drops and renames fields.

use std::collections::HashMap;
use std::sync::Arc;

use super::options::Options;
use super::util::{
    build_schema, copy_basics, field_value, require_struct, take_map, with_part, Part, SchemaCache,
};
use super::Transformation;
use crate::data::{SchemaAndValue, Struct, Value};
use crate::error::Result;
use crate::record::SourceRecord;

const PURPOSE: &str = "field replacement";

#[derive(Debug)]
struct ReplaceField {
    part: Part,
    exclude: Vec<String>,
    include: Vec<String>,
    /// `from` → `to`, in a list: there are few, and a scan of a few short names costs less
    /// than hashing each field name of every record.
    renames: Vec<(String, String)>,
    reverse: HashMap<String, String>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

/// `exclude` / `include` with their pre-3.0 names `blacklist` / `whitelist` (removed from
/// Connect in 4.0, still accepted here).
fn list_with_deprecated(o: &mut Options<'_>, name: &'static str, old: &'static str) -> Vec<String> {
    let given = o.string(name).is_some();
    let current = o.list(name);
    let old_given = o.string(old).is_some();
    let deprecated = o.list(old);
    match (given, old_given) {
        (true, true) => {
            o.problem(
                old,
                format!("the deprecated name of {name}, which is set too; keep only {name}"),
            );
            current
        }
        (false, true) => {
            tracing::warn!("{} is deprecated; use {}", o.key(old), o.key(name));
            deprecated
        }
        _ => current,
    }
}

pub(super) fn build(o: &mut Options<'_>, part: Part) -> Option<Arc<dyn Transformation>> {
    let exclude = list_with_deprecated(o, "exclude", "blacklist");
    let include = list_with_deprecated(o, "include", "whitelist");
    let mut renames: Vec<(String, String)> = Vec::new();
    for mapping in o.list("renames") {
        // Java's String.split(":") drops trailing empty strings.
        let mut parts: Vec<&str> = mapping.split(':').collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        if let [from, to] = parts[..] {
            // A later mapping of the same field wins, as Connect's map.
            match renames.iter_mut().find(|(f, _)| f == from) {
                Some(r) => r.1 = to.to_owned(),
                None => renames.push((from.to_owned(), to.to_owned())),
            }
        } else {
            o.problem(
                "renames",
                format!("invalid rename mapping {mapping:?}; expected colon-delimited pairs, e.g. foo:bar,abc:xyz"),
            );
        }
    }
    let replace_null_with_default = o.bool("replace.null.with.default", true);
    let reverse = renames
        .iter()
        .map(|(k, v)| (v.clone(), k.clone()))
        .collect();
    Some(Arc::new(ReplaceField {
        part,
        exclude,
        include,
        renames,
        reverse,
        replace_null_with_default,
        schemas: SchemaCache::default(),
    }))
}

impl ReplaceField {
    fn keep(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }
    fn rename_of(&self, name: &str) -> Option<&String> {
        self.renames
            .iter()
            .find(|(from, _)| from == name)
            .map(|(_, to)| to)
    }
    fn renamed<'n>(&'n self, name: &'n str) -> &'n str {
        self.rename_of(name).map_or(name, String::as_str)
    }
    /// Whether a field may land on the name of another: when it is renamed, or named as a
    /// rename's target (names are otherwise unique in a map).
    fn may_collide(&self, name: &str, renamed: bool) -> bool {
        renamed || self.renames.iter().any(|(_, to)| to == name)
    }
}

impl Transformation for ReplaceField {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        if self.part.get(&r).value == Value::Null {
            return Ok(Some(r));
        }
        let mut sv = std::mem::replace(self.part.get_mut(&mut r), SchemaAndValue::null());
        let updated = match &sv.schema {
            None => {
                // The entries move into the new map: no copy of a key or a value is made.
                let entries = take_map(&mut sv, PURPOSE)?;
                let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let Value::String(name) = &k else {
                        out.push((k, v));
                        continue;
                    };
                    if !self.keep(name) {
                        continue;
                    }
                    let to = self.rename_of(name);
                    let key = to.map_or(name.as_str(), String::as_str);
                    // As Connect's HashMap.put: a later entry of the same name wins.
                    let existing = if self.may_collide(key, to.is_some()) {
                        out.iter_mut()
                            .find(|(o, _)| matches!(o, Value::String(s) if s == key))
                    } else {
                        None
                    };
                    match (existing, to) {
                        (Some(entry), _) => entry.1 = v,
                        (None, Some(to)) => out.push((Value::String(to.clone()), v)),
                        (None, None) => out.push((k, v)),
                    }
                }
                SchemaAndValue::schemaless(Value::Map(out))
            }
            Some(_) => {
                let value = require_struct(&sv.value, PURPOSE)?;
                let schema = self.schemas.get_or_build(value.schema(), || {
                    let mut b = copy_basics(value.schema());
                    for f in value.schema().fields() {
                        if self.keep(f.name()) {
                            b = b.field(self.renamed(f.name()), f.schema().clone());
                        }
                    }
                    build_schema(b)
                })?;
                let mut out = Struct::new(schema.clone())?;
                for f in schema.fields() {
                    let from = self.reverse.get(f.name()).map_or(f.name(), String::as_str);
                    out.set(
                        f.name(),
                        field_value(value, from, self.replace_null_with_default),
                    )?;
                }
                SchemaAndValue::new(schema, Value::Struct(out))
            }
        };
        Ok(Some(with_part(r, self.part, updated)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, map, record, run, schemaless};
    use crate::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value};

    const T: &str = "org.apache.kafka.connect.transforms.ReplaceField$Value";

    fn input() -> SchemaAndValue {
        schemaless(map(&[
            ("dont", Value::from("whatever")),
            ("abc", Value::Int32(42)),
            ("foo", Value::Boolean(true)),
            ("etc", Value::from("etc")),
        ]))
    }

    #[test]
    fn schemaless_table() {
        // (options, expected output) on Connect's test input.
        let cases: &[(&[(&str, &str)], SchemaAndValue)] = &[
            (
                &[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")],
                schemaless(map(&[
                    ("xyz", Value::Int32(42)),
                    ("bar", Value::Boolean(true)),
                    ("etc", Value::from("etc")),
                ])),
            ),
            (
                &[("include", "abc,foo")],
                schemaless(map(&[
                    ("abc", Value::Int32(42)),
                    ("foo", Value::Boolean(true)),
                ])),
            ),
            (
                &[("include", "abc,foo"), ("exclude", "foo")],
                schemaless(map(&[("abc", Value::Int32(42))])),
            ),
            (
                &[("blacklist", "dont,etc")],
                schemaless(map(&[
                    ("abc", Value::Int32(42)),
                    ("foo", Value::Boolean(true)),
                ])),
            ),
            (
                &[("whitelist", "etc")],
                schemaless(map(&[("etc", Value::from("etc"))])),
            ),
            // Renamed onto a field that exists: the later entry of the name wins, as a Java
            // map's put (after, then before the field it lands on).
            (
                &[("renames", "abc:etc")],
                schemaless(map(&[
                    ("dont", Value::from("whatever")),
                    ("etc", Value::from("etc")),
                    ("foo", Value::Boolean(true)),
                ])),
            ),
            (
                &[("renames", "etc:abc")],
                schemaless(map(&[
                    ("dont", Value::from("whatever")),
                    ("abc", Value::from("etc")),
                    ("foo", Value::Boolean(true)),
                ])),
            ),
            (
                &[("renames", "abc:x,abc:y")],
                schemaless(map(&[
                    ("dont", Value::from("whatever")),
                    ("y", Value::Int32(42)),
                    ("foo", Value::Boolean(true)),
                    ("etc", Value::from("etc")),
                ])),
            ),
        ];
        for (opts, expected) in cases {
            let mut all = vec![("type", T)];
            all.extend_from_slice(opts);
            assert_eq!(
                &run(&chain(&all), record(input())).value,
                expected,
                "{opts:?}"
            );
        }
    }

    #[test]
    fn struct_keeps_schema_metadata_and_renames() {
        let schema = SchemaBuilder::struct_()
            .name("n")
            .field("dont", Schema::string())
            .field("abc", Schema::int32())
            .field("foo", Schema::boolean())
            .field("etc", Schema::optional_string())
            .build();
        let v = Struct::new(schema.clone())
            .unwrap()
            .put("dont", "whatever")
            .unwrap()
            .put("abc", 42i32)
            .unwrap()
            .put("foo", true)
            .unwrap();
        let c = chain(&[
            ("type", T),
            ("exclude", "dont"),
            ("renames", "abc:xyz,foo:bar"),
        ]);
        let out = run(&c, record(SchemaAndValue::new(schema, Value::Struct(v)))).value;
        let s = out.schema.unwrap();
        assert_eq!(s.name(), Some("n"));
        let names: Vec<&str> = s.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["xyz", "bar", "etc"]);
        assert_eq!(s.field("etc").unwrap().schema(), &Schema::optional_string());
        let Value::Struct(v) = out.value else {
            panic!()
        };
        assert_eq!(v.get("xyz"), Some(&Value::Int32(42)));
        assert_eq!(v.get("bar"), Some(&Value::Boolean(true)));
        assert_eq!(v.get("etc"), Some(&Value::Null));
    }

    #[test]
    fn null_passes_and_bad_configs_are_reported() {
        let c = chain(&[("type", T), ("exclude", "a")]);
        let r = record(SchemaAndValue::null());
        assert_eq!(run(&c, r.clone()), r);
        let e = config_err(&[("type", T), ("renames", "abc")]);
        assert!(
            e.contains("transforms.a.renames: invalid rename mapping \"abc\""),
            "{e}"
        );
        let e = config_err(&[("type", T), ("exclude", "a"), ("blacklist", "b")]);
        assert!(
            e.contains("transforms.a.blacklist: the deprecated name of exclude"),
            "{e}"
        );
        let e = config_err(&[("type", T), ("exlude", "a")]);
        assert!(
            e.contains("transforms.a.exlude: unknown option; did you mean \"exclude\"?"),
            "{e}"
        );
    }
}
