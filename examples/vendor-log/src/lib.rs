//! The `vendorlog` format: each line of a vendor's log is matched against a regular expression
//! (`vendorlog.pattern`) whose named groups become the fields of a Connect struct, in the order
//! of the groups; groups listed in `vendorlog.int.fields` are 64-bit integers, the others
//! strings, and a group that did not take part in the match is null. A line that does not match,
//! or whose integer field is not an integer, is a bad record: Sluice applies `errors.tolerance`
//! to it (stop, or log, count and send the raw line to the dead letter queue) and goes on with
//! the next line.
//!
//! The crate also has a single message transform, [`route`]'s `LevelRouter`, that sends the
//! records of chosen levels to a topic of their own.
//!
//! Built only on `sluice-api`; `docs/extending.md` walks through it.

pub mod route;

use std::sync::Arc;

use futures::StreamExt;
use regex::Regex;
use sluice_api::config::{key, optional, KeySet, Keys, Kind, Owner};
use sluice_api::data::{Schema, SchemaAndValue, SchemaBuilder, Struct, Value};
use sluice_api::format::{record_error, ObjectInput, RecordStream, Transformer};
use sluice_api::{Error, Result};

/// The format's name, its `input.format` value.
pub const NAME: &str = "vendorlog";

/// The format's keys: declared once, checked strictly, listed by `config-docs`.
pub const KEYS: KeySet = KeySet {
    owner: Owner::Format(NAME),
    doc: "A vendor's line-oriented log: the named groups of a regular expression become the fields of a struct (examples/vendor-log).",
    keys: &[
        optional(
            "vendorlog.pattern",
            Kind::String,
            "`vendorlog` format (required with it): the regular expression (Rust `regex` syntax) a whole line must match; each named group `(?P<name>...)` is a field of the record's struct, in order.",
        ),
        key(
            "vendorlog.int.fields",
            Kind::List,
            "",
            "`vendorlog` format: the named groups that are 64-bit integers (the others are strings).",
        ),
        key(
            "vendorlog.schema.name",
            Kind::String,
            "com.example.VendorLog",
            "`vendorlog` format: the name of the records' struct schema.",
        ),
    ],
    prefixes: &[],
    check: Some(check),
};

/// The problems of the `vendorlog` keys of a connector that reads this format (none for a
/// connector reading another format: a format's checks run on every connector).
fn check(keys: &Keys<'_>) -> Result<Vec<String>> {
    if keys.raw("input.format")? != Some(NAME) {
        return Ok(Vec::new());
    }
    Ok(match Parser::from_keys(keys) {
        Ok(_) => Vec::new(),
        Err(Error::Config { problems, .. }) => problems,
        Err(e) => vec![e.to_string()],
    })
}

/// Builds the format for a connector: what [`KEYS`] is registered with.
///
/// # Errors
/// [`Error::Config`] when the pattern is missing, does not compile, has no named group, or an
/// integer field is not one of its groups.
pub fn build(keys: &Keys<'_>) -> Result<Arc<dyn Transformer>> {
    Ok(Arc::new(VendorLog {
        parser: Arc::new(Parser::from_keys(keys)?),
        lines: sluice_api::format::lines(keys)?,
    }))
}

/// A line's fields, by the pattern's named groups.
#[derive(Debug)]
struct Parser {
    pattern: Regex,
    /// Each named group's name and whether it is an integer.
    fields: Vec<(String, bool)>,
    schema: Schema,
}

impl Parser {
    fn from_keys(keys: &Keys<'_>) -> Result<Parser> {
        let problem = |p: String| Error::Config {
            context: None,
            problems: vec![p],
        };
        let Some(pattern) = keys.raw("vendorlog.pattern")? else {
            return Err(problem(
                "vendorlog.pattern: required with input.format=vendorlog; a regular expression with named groups".into(),
            ));
        };
        // Anchored: the whole line must match, so a line with trailing garbage is a bad record.
        let pattern = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| problem(format!("vendorlog.pattern: does not compile: {e}")))?;
        let ints = keys.list("vendorlog.int.fields")?;
        let names: Vec<&str> = pattern.capture_names().flatten().collect();
        if names.is_empty() {
            return Err(problem(
                "vendorlog.pattern: has no named group; name the fields with (?P<name>...)".into(),
            ));
        }
        if let Some(unknown) = ints.iter().find(|i| !names.contains(&i.as_str())) {
            return Err(problem(format!(
                "vendorlog.int.fields: {unknown:?} is not a named group of vendorlog.pattern ({})",
                names.join(", ")
            )));
        }
        let mut schema = SchemaBuilder::struct_()
            .name(keys.string("vendorlog.schema.name")?.unwrap_or_default());
        let mut fields = Vec::new();
        for name in names {
            let int = ints.iter().any(|i| i == name);
            let field_schema = if int {
                Schema::optional_int64()
            } else {
                Schema::optional_string()
            };
            schema = schema.field(name, field_schema);
            fields.push((name.to_owned(), int));
        }
        Ok(Parser {
            pattern,
            fields,
            schema: schema.try_build()?,
        })
    }

    /// The record of `line`, or why it is not one.
    fn parse(&self, line: &str) -> std::result::Result<SchemaAndValue, String> {
        let caps = self
            .pattern
            .captures(line)
            .ok_or("the line does not match vendorlog.pattern")?;
        let mut record = Struct::new(self.schema.clone()).map_err(|e| e.to_string())?;
        for (name, int) in &self.fields {
            let value = match (caps.name(name), int) {
                (None, _) => Value::Null,
                (Some(m), false) => Value::String(m.as_str().to_owned()),
                (Some(m), true) => Value::Int64(m.as_str().parse().map_err(|_| {
                    format!("field {name}: {:?} is not a 64-bit integer", m.as_str())
                })?),
            };
            record.set(name, value).map_err(|e| e.to_string())?;
        }
        Ok(SchemaAndValue::new(
            self.schema.clone(),
            Value::Struct(record),
        ))
    }
}

/// The format: Sluice's line reader, each line parsed by [`Parser`].
#[derive(Debug)]
struct VendorLog {
    parser: Arc<Parser>,
    lines: Arc<dyn Transformer>,
}

impl Transformer for VendorLog {
    fn transform(&self, input: ObjectInput, skip: u64) -> RecordStream {
        let parser = self.parser.clone();
        let object = input.clone();
        // Record indexes count from the object's first line, skipped ones included.
        let mut index = skip;
        self.lines
            .transform(input, skip)
            .map(move |line| {
                let i = index;
                index += 1;
                let line = line?;
                let text = line.value.as_str().unwrap_or_default();
                parser.parse(text).map_err(|why| {
                    let raw = bytes::Bytes::copy_from_slice(text.as_bytes());
                    record_error(&object, i, Some(raw), why)
                })
            })
            .boxed()
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::config::Settings;

    fn registry() -> sluice_api::config::Registry {
        sluice_api::builtin().with_format(KEYS, build).unwrap()
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const PATTERN: &str = r"(?P<ts>\S+) \[(?P<level>[A-Z]+)\] (?P<latency_ms>\S+)(?: (?P<msg>.*))?";

    fn parser(pairs: &[(&str, &str)]) -> Result<Parser> {
        let r = registry();
        let s = settings(pairs);
        Parser::from_keys(&Keys::new(&r, &s))
    }

    #[test]
    fn named_groups_become_typed_fields_in_order() {
        let p = parser(&[
            ("vendorlog.pattern", PATTERN),
            ("vendorlog.int.fields", "latency_ms"),
        ])
        .unwrap();
        let names: Vec<&str> = p.schema.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["ts", "level", "latency_ms", "msg"]);
        assert_eq!(p.schema.name(), Some("com.example.VendorLog"));
        let r = p
            .parse("2026-12-03T10:00:00Z [WARN] 120 slow disk")
            .unwrap();
        let Value::Struct(s) = r.value else {
            panic!("{r:?}")
        };
        assert_eq!(s.get("latency_ms"), Some(&Value::Int64(120)));
        assert_eq!(s.get("msg"), Some(&Value::String("slow disk".into())));
        // A group that took no part in the match is null.
        let r = p.parse("2026-12-03T10:00:00Z [INFO] 7").unwrap();
        let Value::Struct(s) = r.value else {
            panic!("{r:?}")
        };
        assert_eq!(s.get("msg"), Some(&Value::Null));
    }

    #[test]
    fn bad_lines_say_why() {
        let p = parser(&[
            ("vendorlog.pattern", PATTERN),
            ("vendorlog.int.fields", "latency_ms"),
        ])
        .unwrap();
        assert_eq!(
            p.parse("garbage").unwrap_err(),
            "the line does not match vendorlog.pattern"
        );
        assert_eq!(
            p.parse("t [INFO] fast").unwrap_err(),
            "field latency_ms: \"fast\" is not a 64-bit integer"
        );
    }

    #[test]
    fn config_problems_name_the_key() {
        let problems = |pairs: &[(&str, &str)]| {
            let r = registry();
            let mut s = settings(pairs);
            s.insert("input.format".into(), NAME.into());
            check(&Keys::new(&r, &s)).unwrap()
        };
        assert_eq!(
            problems(&[]),
            ["vendorlog.pattern: required with input.format=vendorlog; a regular expression with named groups"]
        );
        assert!(problems(&[("vendorlog.pattern", "(")])[0]
            .starts_with("vendorlog.pattern: does not compile"));
        assert!(problems(&[("vendorlog.pattern", r"\S+")])[0].contains("no named group"));
        assert!(problems(&[
            ("vendorlog.pattern", PATTERN),
            ("vendorlog.int.fields", "latency")
        ])[0]
            .starts_with("vendorlog.int.fields: \"latency\" is not a named group"));
        // Another format's connector is not this format's business.
        let r = registry();
        let s = settings(&[("input.format", "jsonl")]);
        assert!(check(&Keys::new(&r, &s)).unwrap().is_empty());
    }

    #[test]
    fn a_misspelt_key_gets_did_you_mean_and_the_docs_list_the_format() {
        let r = registry();
        let p = r.check_keys(&settings(&[("vendorlog.patern", "x")]));
        assert!(
            p.iter()
                .any(|p| p.contains("did you mean \"vendorlog.pattern\"")),
            "{p:?}"
        );
        let docs = r.reference_markdown();
        assert!(docs.contains("## Format `vendorlog`"), "{docs}");
        assert!(docs.contains("| `vendorlog.int.fields` |"));
    }
}
