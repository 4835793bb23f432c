//! `RegexRouter` (a new topic from the old one by a regular expression) and `TimestampRouter`
//! (a new topic from the old one and the record's timestamp).

use std::sync::Arc;

use regex::Regex;

use super::java::DateFormat;
use super::options::Options;
use super::Transformation;
use crate::error::{Error, Result};
use crate::record::SourceRecord;

/// `pattern` compiled to match whole strings (Java's `Matcher.matches`), and as written.
pub(super) fn compile_java_regex(
    o: &mut Options<'_>,
    name: &'static str,
    pattern: &str,
) -> Option<(Regex, Regex)> {
    let whole = Regex::new(&format!("^(?:{pattern})$"));
    let first = Regex::new(pattern);
    match (whole, first) {
        (Ok(w), Ok(f)) => Some((w, f)),
        (Err(e), _) | (_, Err(e)) => {
            o.problem(
                name,
                format!("invalid regular expression {pattern:?}: {e} (Rust's regex syntax: no look-around or back-references)"),
            );
            None
        }
    }
}

/// A Java `Matcher.replaceFirst` replacement (`$1`, `${name}`, `\$` for a literal `$`) in the
/// `regex` crate's syntax, checking group references against `groups` (the capture count).
fn java_replacement(rep: &str, groups: usize) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(rep.len() + 8);
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(n) => out.push(n),
                None => return Err("character to be escaped is missing at the end".into()),
            },
            '$' => match chars.peek() {
                Some('{') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return Err(format!("invalid group name {name:?}"));
                    }
                    out.push_str(&format!("${{{name}}}"));
                }
                Some(d) if d.is_ascii_digit() => {
                    // Java takes the first digit, then more while the number is still a group.
                    let mut n = chars.next().and_then(|d| d.to_digit(10)).unwrap_or(0) as usize;
                    if n > groups {
                        return Err(format!("no group {n}"));
                    }
                    while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                        let next = n * 10 + d as usize;
                        if next > groups {
                            break;
                        }
                        n = next;
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                _ => return Err("illegal group reference: '$' must be followed by a group number or {name}; write \\$ for a literal $".into()),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

#[derive(Debug)]
struct RegexRouter {
    whole: Regex,
    first: Regex,
    replacement: String,
}

pub(super) fn build_regex(o: &mut Options<'_>) -> Option<Arc<dyn Transformation>> {
    let regex = o.required("regex", "the regular expression the topic must match");
    let replacement = o.required("replacement", "the new topic, with $1... for the groups");
    let (whole, first) = compile_java_regex(o, "regex", &regex?)?;
    let replacement = match java_replacement(&replacement?, first.captures_len() - 1) {
        Ok(r) => r,
        Err(e) => {
            o.problem("replacement", e);
            return None;
        }
    };
    Some(Arc::new(RegexRouter {
        whole,
        first,
        replacement,
    }))
}

impl Transformation for RegexRouter {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        if self.whole.is_match(&r.topic) {
            let topic = self
                .first
                .replacen(&r.topic, 1, self.replacement.as_str())
                .into_owned();
            tracing::trace!(from = %r.topic, to = %topic, "rerouting");
            r.topic = topic;
        }
        Ok(Some(r))
    }
}

#[derive(Debug)]
struct TimestampRouter {
    topic_format: String,
    timestamp_format: DateFormat,
}

pub(super) fn build_timestamp(o: &mut Options<'_>) -> Option<Arc<dyn Transformation>> {
    let topic_format = o
        .string("topic.format")
        .unwrap_or_else(|| "${topic}-${timestamp}".into());
    let pattern = o
        .string("timestamp.format")
        .unwrap_or_else(|| "yyyyMMdd".into());
    match DateFormat::parse(&pattern) {
        Ok(timestamp_format) => Some(Arc::new(TimestampRouter {
            topic_format,
            timestamp_format,
        })),
        Err(e) => {
            o.problem("timestamp.format", e);
            None
        }
    }
}

impl Transformation for TimestampRouter {
    fn apply(&self, mut r: SourceRecord) -> Result<Option<SourceRecord>> {
        let Some(ts) = r.timestamp else {
            return Err(Error::Data(
                "the record has no timestamp to route by (record.timestamp=none?)".into(),
            ));
        };
        let formatted = self.timestamp_format.format(ts);
        r.topic = self
            .topic_format
            .replace("${topic}", &r.topic)
            .replace("${timestamp}", &formatted);
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, config_err, record, run};
    use super::java_replacement;
    use crate::data::SchemaAndValue;

    const T: &str = "org.apache.kafka.connect.transforms.RegexRouter";

    #[test]
    fn regex_router_table() {
        // (regex, replacement, topic, expected), Connect's RegexRouterTest cases.
        let cases = [
            ("(.*)", "prefix-$1", "orig", "prefix-orig"),
            ("(.*)", "$1-suffix", "orig", "orig-suffix"),
            ("(.*)-(.*)", "$2-$1", "foo-bar", "bar-foo"),
            ("(.*)", "$1", "orig", "orig"),
            ("my-topic", "renamed", "my-topic-extra", "my-topic-extra"),
            (
                "(.*)-(\\d\\d\\d\\d\\d\\d\\d\\d)",
                "$1",
                "index-20160117",
                "index",
            ),
            ("(.*)", "\\$x-$1", "orig", "$x-orig"),
            ("(.*)", "$10", "orig", "orig0"),
        ];
        for (regex, rep, topic, expected) in cases {
            let c = chain(&[("type", T), ("regex", regex), ("replacement", rep)]);
            let mut r = record(SchemaAndValue::null());
            r.topic = topic.into();
            assert_eq!(run(&c, r).topic, expected, "{regex} {rep} {topic}");
        }
    }

    #[test]
    fn timestamp_router() {
        // Connect's example: the default formats give "test-20170714".
        let c = chain(&[(
            "type",
            "org.apache.kafka.connect.transforms.TimestampRouter",
        )]);
        assert_eq!(
            run(&c, record(SchemaAndValue::null())).topic,
            "test-20170714"
        );
        let c = chain(&[
            (
                "type",
                "org.apache.kafka.connect.transforms.TimestampRouter",
            ),
            ("topic.format", "${timestamp}_${topic}_${topic}"),
            ("timestamp.format", "yyyy-MM-dd-HH"),
        ]);
        assert_eq!(
            run(&c, record(SchemaAndValue::null())).topic,
            "2017-07-14-02_test_test"
        );
        let mut r = record(SchemaAndValue::null());
        r.timestamp = None;
        let e = super::super::tests::err(&c, r);
        assert!(e.contains("the record has no timestamp"), "{e}");
        let e = config_err(&[
            (
                "type",
                "org.apache.kafka.connect.transforms.TimestampRouter",
            ),
            ("timestamp.format", "yyyyww"),
        ]);
        assert!(
            e.contains("transforms.a.timestamp.format: pattern letter 'w' is not supported"),
            "{e}"
        );
    }

    #[test]
    fn bad_configs() {
        let e = config_err(&[("type", T), ("regex", "(a"), ("replacement", "x")]);
        assert!(
            e.contains("transforms.a.regex: invalid regular expression"),
            "{e}"
        );
        let e = config_err(&[("type", T), ("regex", "(a)"), ("replacement", "$2")]);
        assert!(e.contains("transforms.a.replacement: no group 2"), "{e}");
        let e = config_err(&[("type", T), ("regex", "a")]);
        assert!(e.contains("transforms.a.replacement: required"), "{e}");
        assert!(java_replacement("a$", 1).is_err());
        assert_eq!(java_replacement("${g}\\\\", 1).unwrap(), "${g}\\");
    }
}
