//! Lenses stream-reactor's S3 source configuration: `connect.s3.kcql` and its `connect.s3.*`
//! keys, turned into Sluice's keys so a Lenses connector file runs as written.
//!
//! The KCQL subset read (Lenses' source grammar, keywords in any case):
//!
//! ```text
//! INSERT INTO <topic> SELECT * FROM <bucket>[:<prefix>] [STOREAS <format>] [PROPERTIES('k'='v', ...)]
//! ```
//!
//! `STOREAS` (backticks optional; Lenses' default is `JSON`): `JSON` → `input.format=jsonl`
//! (Lenses reads one JSON value per line), `AVRO`, `PARQUET`, `TEXT`, `CSV`,
//! `CSV_WITHHEADERS` (+ `csv.first.row.as.header=true`), `BYTES` (the whole object as one record:
//! `transformer.bytes.mode=object`). `PROPERTIES`: `read.text.*` (the same names in Sluice),
//! `store.envelope=true` (`input.envelope=lenses`), `post.process.action=DELETE|MOVE` with
//! `post.process.action.prefix` (`object.post.read`). Any other clause, format or property is
//! an error naming it: nothing is ignored silently.

use super::Settings;

/// The Lenses S3 source keys Sluice reads, with the Sluice key each becomes.
pub const LENSES_KEYS: &[(&str, &str)] = &[
    ("connect.s3.aws.region", "aws.s3.region"),
    ("connect.s3.aws.access.key", "aws.access.key.id"),
    ("connect.s3.aws.secret.key", "aws.secret.access.key"),
    ("connect.s3.custom.endpoint", "aws.s3.endpoint"),
];

/// A parsed KCQL statement of the supported subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kcql {
    /// `INSERT INTO <topic>`.
    pub topic: String,
    /// The bucket of `FROM <bucket>[:<prefix>]`.
    pub bucket: String,
    /// The prefix of `FROM <bucket>:<prefix>`.
    pub prefix: Option<String>,
    /// `STOREAS <format>`, backticks removed.
    pub store_as: Option<String>,
    /// `PROPERTIES(...)`, in order.
    pub properties: Vec<(String, String)>,
}

/// Splits KCQL into tokens: words (backticks and single quotes delimit one token), `(`, `)`,
/// `,`, `=`.
fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "(),=".contains(c) {
            out.push(c.to_string());
            chars.next();
        } else if c == '`' || c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some(x) if x == c => break,
                    Some(x) => s.push(x),
                    None => return Err(format!("a {c} quote is never closed")),
                }
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() || "(),=".contains(x) {
                    break;
                }
                s.push(x);
                chars.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

/// Parses the supported subset; the error names the clause that is not supported.
pub fn parse(text: &str) -> Result<Kcql, String> {
    let t = tokens(text.trim().trim_end_matches(';'))?;
    let mut i = 0;
    let expect = |word: &str, i: &mut usize| -> Result<(), String> {
        match t.get(*i) {
            Some(w) if w.eq_ignore_ascii_case(word) => {
                *i += 1;
                Ok(())
            }
            Some(w) => Err(format!("expected {word} at {w:?}")),
            None => Err(format!("expected {word} at the end")),
        }
    };
    let word = |what: &str, i: &mut usize| -> Result<String, String> {
        let w = t.get(*i).ok_or(format!("{what} is missing"))?.clone();
        *i += 1;
        Ok(w)
    };
    expect("INSERT", &mut i)?;
    expect("INTO", &mut i)?;
    let topic = word("the topic after INSERT INTO", &mut i)?;
    expect("SELECT", &mut i)?;
    match t.get(i).map(String::as_str) {
        Some("*") => i += 1,
        Some(other) => {
            return Err(format!(
                "SELECT {other}: only SELECT * is supported (Sluice reads whole records; use transforms= to pick fields)"
            ))
        }
        None => return Err("SELECT needs *".into()),
    }
    expect("FROM", &mut i)?;
    let from = word("the bucket after FROM", &mut i)?;
    let (bucket, prefix) = match from.split_once(':') {
        Some((b, p)) => (b.to_owned(), (!p.is_empty()).then(|| p.to_owned())),
        None => (from, None),
    };
    let mut kcql = Kcql {
        topic,
        bucket,
        prefix,
        store_as: None,
        properties: Vec::new(),
    };
    while let Some(clause) = t.get(i) {
        i += 1;
        if clause.eq_ignore_ascii_case("STOREAS") {
            kcql.store_as = Some(word("the format after STOREAS", &mut i)?);
        } else if clause.eq_ignore_ascii_case("PROPERTIES") {
            if t.get(i).map(String::as_str) != Some("(") {
                return Err("PROPERTIES needs ('key'='value', ...)".into());
            }
            i += 1;
            loop {
                match t.get(i).map(String::as_str) {
                    Some(")") => {
                        i += 1;
                        break;
                    }
                    Some(",") => i += 1,
                    Some(k) => {
                        let k = k.to_owned();
                        if t.get(i + 1).map(String::as_str) != Some("=") {
                            return Err(format!("PROPERTIES: {k:?} needs ='value'"));
                        }
                        let v = t
                            .get(i + 2)
                            .ok_or(format!("PROPERTIES: {k:?} has no value"))?;
                        kcql.properties.push((k, v.clone()));
                        i += 3;
                    }
                    None => return Err("PROPERTIES( is never closed".into()),
                }
            }
        } else {
            return Err(format!(
                "the clause {clause} is not supported by Sluice (supported: INSERT INTO topic SELECT * FROM bucket:prefix STOREAS format PROPERTIES(...)); see docs/migrating.md for its equivalent"
            ));
        }
    }
    Ok(kcql)
}

/// The Sluice settings a KCQL statement stands for; the error names the format or property
/// that is not supported.
pub fn to_settings(k: &Kcql) -> Result<Vec<(String, String)>, String> {
    let mut out = vec![
        ("topic".to_owned(), k.topic.clone()),
        ("aws.s3.bucket.name".to_owned(), k.bucket.clone()),
    ];
    if let Some(p) = &k.prefix {
        out.push(("aws.s3.prefix".into(), p.clone()));
    }
    let format = k.store_as.as_deref().unwrap_or("JSON").to_ascii_uppercase();
    let mut set = |key: &str, v: &str| out.push((key.to_owned(), v.to_owned()));
    match format.as_str() {
        "JSON" => set("input.format", "jsonl"),
        "AVRO" => set("input.format", "avro"),
        "PARQUET" => set("input.format", "parquet"),
        "TEXT" => set("input.format", "text"),
        "CSV" => set("input.format", "csv"),
        "CSV_WITHHEADERS" => {
            set("input.format", "csv");
            set("csv.first.row.as.header", "true");
        }
        "BYTES" => {
            set("input.format", "bytes");
            set("transformer.bytes.mode", "object");
        }
        other => {
            return Err(format!(
                "STOREAS {other}: not a format Sluice reads (JSON, AVRO, PARQUET, TEXT, CSV, CSV_WITHHEADERS, BYTES)"
            ))
        }
    }
    for (key, value) in &k.properties {
        match key.as_str() {
            "read.text.mode" | "read.text.regex" | "read.text.start.tag" | "read.text.end.tag"
            | "read.text.start.line" | "read.text.end.line" | "read.text.trim"
            | "read.text.last.end.line.missing" => {
                // Lenses' mode names are Sluice's; Lenses writes them in any case.
                let v = if key == "read.text.mode" {
                    match value.to_ascii_lowercase().as_str() {
                        "regex" => "regex".to_owned(),
                        "startendtag" => "startEndTag".to_owned(),
                        "startendline" => "startEndLine".to_owned(),
                        "line" => "line".to_owned(),
                        _ => value.clone(),
                    }
                } else {
                    value.clone()
                };
                set(key, &v);
            }
            "store.envelope" => {
                if value.eq_ignore_ascii_case("true") {
                    set("input.envelope", "lenses");
                }
            }
            "post.process.action" => match value.to_ascii_uppercase().as_str() {
                "DELETE" => set("object.post.read", "delete"),
                "MOVE" => set("object.post.read", "move"),
                other => {
                    return Err(format!(
                        "PROPERTIES post.process.action={other}: Sluice does DELETE or MOVE"
                    ))
                }
            },
            "post.process.action.prefix" => set("object.post.read.move.prefix", value),
            other => {
                return Err(format!(
                    "PROPERTIES {other:?}: not supported by Sluice (supported: read.text.*, store.envelope, post.process.action, post.process.action.prefix); see docs/migrating.md"
                ))
            }
        }
    }
    Ok(out)
}

/// Settings with `connect.s3.kcql` and Lenses' `connect.s3.*` keys translated into Sluice's
/// keys (which win when also given); `None` when there is nothing to translate. The error
/// names the KCQL clause, format or property that is not supported.
pub fn translate(settings: &Settings) -> Result<Option<Settings>, String> {
    let has_lenses = settings.contains_key("connect.s3.kcql")
        || LENSES_KEYS.iter().any(|(k, _)| settings.contains_key(*k));
    if !has_lenses {
        return Ok(None);
    }
    let mut out = settings.clone();
    let mut add = |k: String, v: String| {
        out.entry(k).or_insert(v);
    };
    if let Some(text) = settings.get("connect.s3.kcql") {
        let statements: Vec<&str> = text.split(';').filter(|s| !s.trim().is_empty()).collect();
        if statements.len() > 1 {
            return Err(format!(
                "{} statements: a Sluice connector reads one bucket and prefix; make one connector per statement",
                statements.len()
            ));
        }
        let k = parse(text)?;
        for (key, value) in to_settings(&k)? {
            add(key, value);
        }
    }
    for (lenses, sluice) in LENSES_KEYS {
        if let Some(v) = settings.get(*lenses) {
            add((*sluice).to_owned(), v.clone());
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_statement_parses() {
        let k = parse(
            "INSERT INTO orders SELECT * FROM my-bucket:data/2024 STOREAS `JSON` PROPERTIES('store.envelope'='true', 'post.process.action'='MOVE', 'post.process.action.prefix'='done/')",
        )
        .unwrap();
        assert_eq!(k.topic, "orders");
        assert_eq!(k.bucket, "my-bucket");
        assert_eq!(k.prefix.as_deref(), Some("data/2024"));
        assert_eq!(k.store_as.as_deref(), Some("JSON"));
        assert_eq!(k.properties.len(), 3);
        let s = to_settings(&k).unwrap();
        for pair in [
            ("input.format", "jsonl"),
            ("input.envelope", "lenses"),
            ("object.post.read", "move"),
            ("object.post.read.move.prefix", "done/"),
            ("aws.s3.prefix", "data/2024"),
        ] {
            assert!(
                s.contains(&(pair.0.to_owned(), pair.1.to_owned())),
                "{pair:?} in {s:?}"
            );
        }
    }

    #[test]
    fn keywords_in_any_case_and_no_format_means_json() {
        let k = parse("insert into t select * from b").unwrap();
        assert_eq!((k.bucket.as_str(), k.prefix.as_deref()), ("b", None));
        let s = to_settings(&k).unwrap();
        assert!(s.contains(&("input.format".into(), "jsonl".into())));
        let k = parse("INSERT INTO t SELECT * FROM b:p STOREAS `CSV_WITHHEADERS`").unwrap();
        let s = to_settings(&k).unwrap();
        assert!(s.contains(&("csv.first.row.as.header".into(), "true".into())));
    }

    #[test]
    fn unsupported_clauses_are_named() {
        let e = parse("INSERT INTO t SELECT * FROM b:p STOREAS `JSON` LIMIT 100").unwrap_err();
        assert!(e.contains("the clause LIMIT is not supported"), "{e}");
        let e = parse("INSERT INTO t SELECT a, b FROM b").unwrap_err();
        assert!(e.contains("only SELECT *"), "{e}");
        let k = parse("INSERT INTO t SELECT * FROM b PROPERTIES('flush.count'='5')").unwrap();
        let e = to_settings(&k).unwrap_err();
        assert!(e.contains("\"flush.count\""), "{e}");
        let k = parse("INSERT INTO t SELECT * FROM b STOREAS `PROTOBUF`").unwrap();
        assert!(to_settings(&k).unwrap_err().contains("PROTOBUF"));
    }
}
