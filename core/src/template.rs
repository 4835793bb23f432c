//! File name templates (`file.name.template`), as in Aiven's object-store source connectors.
//!
//! A template describes the WHOLE object key, e.g. `{{topic}}-{{partition}}-{{start_offset}}.jsonl`.
//! Matching is anchored: an object whose key merely contains a match (garbage before or after)
//! does not match. Literal text is matched literally (regex metacharacters such as `.`, `+`, `(`
//! have no special meaning).
//!
//! | Placeholder | Matches | Options |
//! |---|---|---|
//! | `{{topic}}` | Kafka's legal topic characters `[a-zA-Z0-9._-]+` | none |
//! | `{{partition}}` | ASCII digits `[0-9]+`, parsed as i32 | `padding=true\|false` |
//! | `{{start_offset}}` | ASCII digits `[0-9]+`, parsed as i64 | `padding=true\|false` |
//! | `{{timestamp}}` | ASCII digits `[0-9]+` | `unit=yyyy` (4 digits), `unit=MM\|dd\|HH` (2 digits) |
//!
//! `padding=true` (how Aiven's sink connectors zero-pad the numbers) is accepted and matches the
//! same digits: leading zeros parse fine. Each placeholder may appear at most once. Whitespace
//! inside the braces is ignored (`{{ topic }}`). Two placeholders with no literal between them
//! are allowed; the regex engine decides how the digits are split.
//!
//! A key whose `{{partition}}` does not fit in an i32, or whose `{{start_offset}}` does not fit in
//! an i64, does **not** match (the object is ignored like any other non-matching key).

use std::fmt;

use regex::Regex;

use crate::error::{Error, Result};

/// A placeholder of a [`FileNameTemplate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `{{topic}}`: the destination topic.
    Topic,
    /// `{{partition}}`: the destination Kafka partition.
    Partition,
    /// `{{start_offset}}`: the Kafka offset of the object's first record.
    StartOffset,
    /// `{{timestamp}}`: a timestamp (or one unit of it).
    Timestamp,
}

impl Placeholder {
    /// Every placeholder.
    pub const ALL: [Placeholder; 4] = [
        Placeholder::Topic,
        Placeholder::Partition,
        Placeholder::StartOffset,
        Placeholder::Timestamp,
    ];

    /// The name used in templates (`"topic"`, `"partition"`, `"start_offset"`, `"timestamp"`).
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Topic => "topic",
            Placeholder::Partition => "partition",
            Placeholder::StartOffset => "start_offset",
            Placeholder::Timestamp => "timestamp",
        }
    }

    /// The placeholder called `name` in templates (`"topic"`, ...), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }

    fn bit(self) -> u8 {
        match self {
            Placeholder::Topic => 1,
            Placeholder::Partition => 2,
            Placeholder::StartOffset => 4,
            Placeholder::Timestamp => 8,
        }
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{{}}}}}", self.name())
    }
}

/// What a matching object key says, per placeholder of the template (`None` for placeholders the
/// template does not have).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateMatch {
    /// `{{topic}}`.
    pub topic: Option<String>,
    /// `{{partition}}`.
    pub partition: Option<i32>,
    /// `{{start_offset}}`.
    pub start_offset: Option<i64>,
    /// `{{timestamp}}`, as the matched digits.
    pub timestamp: Option<String>,
}

/// A parsed `file.name.template`: see the [module documentation](self) for the syntax.
#[derive(Debug, Clone)]
pub struct FileNameTemplate {
    template: String,
    regex: Regex,
    placeholders: u8,
}

impl PartialEq for FileNameTemplate {
    fn eq(&self, other: &Self) -> bool {
        self.template == other.template
    }
}
impl Eq for FileNameTemplate {}

impl fmt::Display for FileNameTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template)
    }
}

impl FileNameTemplate {
    /// Parses a template. Errors ([`Error::Config`]) name the template and the problem: empty
    /// template, unbalanced braces, unknown placeholder or option, repeated placeholder.
    pub fn parse(template: &str) -> Result<Self> {
        let bad = |problem: String| Error::config(format!("template {template:?}: {problem}"));
        if template.trim().is_empty() {
            return Err(bad(
                "the template is empty; give the object key layout, e.g. {{topic}}-{{partition}}-{{start_offset}}.jsonl".into(),
            ));
        }
        let mut pattern = String::from("^");
        let mut placeholders = 0u8;
        let mut rest = template;
        let mut pos = 0usize; // byte position of `rest` in `template`, for messages
        loop {
            let open = rest.find("{{");
            let close = rest.find("}}");
            match (open, close) {
                (None, None) => {
                    pattern.push_str(&regex::escape(rest));
                    break;
                }
                (Some(o), Some(c)) if o < c => {
                    pattern.push_str(&regex::escape(&rest[..o]));
                    let inner = &rest[o + 2..c];
                    if let Some(nested) = inner.find("{{") {
                        return Err(bad(format!(
                            "unbalanced braces: \"{{{{\" at byte {} is not closed before the next \"{{{{\" at byte {}",
                            pos + o,
                            pos + o + 2 + nested
                        )));
                    }
                    let (p, regex) = parse_placeholder(inner).map_err(bad)?;
                    if placeholders & p.bit() != 0 {
                        return Err(bad(format!(
                            "{p} appears more than once; each placeholder may be used once"
                        )));
                    }
                    placeholders |= p.bit();
                    pattern.push_str(&format!("(?P<{}>{regex})", p.name()));
                    pos += c + 2;
                    rest = &rest[c + 2..];
                }
                (Some(o), None) => {
                    return Err(bad(format!(
                        "unbalanced braces: \"{{{{\" at byte {} is never closed with \"}}}}\"",
                        pos + o
                    )));
                }
                (_, Some(c)) => {
                    return Err(bad(format!(
                        "unbalanced braces: \"}}}}\" at byte {} has no matching \"{{{{\"",
                        pos + c
                    )));
                }
            }
        }
        pattern.push('$');
        let regex = Regex::new(&pattern)
            .map_err(|e| bad(format!("cannot build the matching pattern: {e}")))?;
        Ok(FileNameTemplate {
            template: template.to_owned(),
            regex,
            placeholders,
        })
    }

    /// Matches a WHOLE object key against the template; `None` when it does not match, including
    /// when `{{partition}}` does not fit in an i32 or `{{start_offset}}` in an i64.
    pub fn matches(&self, key: &str) -> Option<TemplateMatch> {
        let caps = self.regex.captures(key)?;
        let mut m = TemplateMatch::default();
        if let Some(t) = caps.name(Placeholder::Topic.name()) {
            m.topic = Some(t.as_str().to_owned());
        }
        if let Some(p) = caps.name(Placeholder::Partition.name()) {
            m.partition = Some(p.as_str().parse::<i32>().ok()?);
        }
        if let Some(o) = caps.name(Placeholder::StartOffset.name()) {
            m.start_offset = Some(o.as_str().parse::<i64>().ok()?);
        }
        if let Some(t) = caps.name(Placeholder::Timestamp.name()) {
            m.timestamp = Some(t.as_str().to_owned());
        }
        Some(m)
    }

    /// True when the template contains `placeholder`.
    pub fn has(&self, placeholder: Placeholder) -> bool {
        self.placeholders & placeholder.bit() != 0
    }

    /// The template as given.
    pub fn as_str(&self) -> &str {
        &self.template
    }
}

/// Parses the inside of `{{...}}`: the placeholder and the regex its value must match.
fn parse_placeholder(inner: &str) -> std::result::Result<(Placeholder, &'static str), String> {
    let (name, options) = match inner.split_once(':') {
        Some((n, o)) => (n.trim(), Some(o)),
        None => (inner.trim(), None),
    };
    if name.is_empty() {
        return Err(format!(
            "empty placeholder {{{{{inner}}}}}; use one of {}",
            known_names()
        ));
    }
    let p = Placeholder::from_name(name).ok_or_else(|| {
        let nearest = Placeholder::ALL
            .into_iter()
            .map(|p| (strsim::jaro_winkler(name, p.name()), p))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(score, _)| *score >= 0.7)
            .map(|(_, p)| format!("did you mean {p}? "))
            .unwrap_or_default();
        format!(
            "unknown placeholder {{{{{name}}}}}; {nearest}known placeholders: {}",
            known_names()
        )
    })?;
    let mut regex = match p {
        Placeholder::Topic => "[a-zA-Z0-9._-]+",
        _ => "[0-9]+",
    };
    let mut seen: Vec<&str> = Vec::new();
    for option in options.into_iter().flat_map(|o| o.split(',')) {
        let option = option.trim();
        let (key, value) = option
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .ok_or_else(|| {
                format!("option {option:?} of {p} is not of the form name=value (e.g. {{{{partition:padding=true}}}})")
            })?;
        if seen.contains(&key) {
            return Err(format!("option {key:?} of {p} is given more than once"));
        }
        seen.push(key);
        match (p, key) {
            (Placeholder::Partition | Placeholder::StartOffset, "padding") => match value {
                "true" | "false" => {}
                _ => {
                    return Err(format!(
                        "option padding={value:?} of {p}: padding must be true or false"
                    ))
                }
            },
            (Placeholder::Timestamp, "unit") => {
                regex = match value {
                    "yyyy" => "[0-9]{4}",
                    "MM" | "dd" | "HH" => "[0-9]{2}",
                    _ => {
                        return Err(format!(
                            "option unit={value:?} of {p}: unit must be one of yyyy, MM, dd, HH"
                        ))
                    }
                }
            }
            _ => {
                let allowed = match p {
                    Placeholder::Topic => "it takes no options",
                    Placeholder::Partition | Placeholder::StartOffset => {
                        "its only option is padding=true|false"
                    }
                    Placeholder::Timestamp => "its only option is unit=yyyy|MM|dd|HH",
                };
                return Err(format!("unknown option {key:?} of {p}: {allowed}"));
            }
        }
    }
    Ok((p, regex))
}

fn known_names() -> String {
    Placeholder::ALL
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> FileNameTemplate {
        FileNameTemplate::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn err(s: &str) -> String {
        FileNameTemplate::parse(s)
            .expect_err(&format!("{s:?} should be rejected"))
            .to_string()
    }

    #[test]
    fn every_placeholder() {
        let tpl = t("{{topic}}/{{partition}}/{{start_offset}}-{{timestamp}}.jsonl");
        let m = tpl
            .matches("my.topic_1-x/7/00042-1700000000000.jsonl")
            .unwrap();
        assert_eq!(
            m,
            TemplateMatch {
                topic: Some("my.topic_1-x".into()),
                partition: Some(7),
                start_offset: Some(42),
                timestamp: Some("1700000000000".into()),
            }
        );
        for p in Placeholder::ALL {
            assert!(tpl.has(p), "{p}");
        }
        assert_eq!(
            tpl.as_str(),
            "{{topic}}/{{partition}}/{{start_offset}}-{{timestamp}}.jsonl"
        );
    }

    #[test]
    fn absent_placeholders_are_none() {
        let tpl = t("data-{{partition}}.csv");
        assert!(tpl.has(Placeholder::Partition));
        assert!(!tpl.has(Placeholder::Topic));
        assert!(!tpl.has(Placeholder::StartOffset));
        assert!(!tpl.has(Placeholder::Timestamp));
        let m = tpl.matches("data-3.csv").unwrap();
        assert_eq!(
            m,
            TemplateMatch {
                partition: Some(3),
                ..Default::default()
            }
        );
    }

    #[test]
    fn literal_only_template() {
        let tpl = t("exactly.json");
        assert_eq!(tpl.matches("exactly.json"), Some(TemplateMatch::default()));
        assert_eq!(tpl.matches("exactlyXjson"), None);
    }

    #[test]
    fn matching_is_anchored() {
        let tpl = t("{{topic}}-{{partition}}-{{start_offset}}.jsonl");
        assert!(tpl.matches("t-0-1.jsonl").is_some());
        assert!(
            tpl.matches("prefix/t-0-1.jsonl").is_none(),
            "prefix garbage"
        );
        assert!(tpl.matches("t-0-1.jsonl.gz").is_none(), "suffix garbage");
        assert!(tpl.matches("t-0-1.jsonl\n").is_none(), "trailing newline");
        assert!(tpl.matches(" t-0-1.jsonl").is_none(), "leading space");
        assert!(tpl.matches("").is_none());
    }

    #[test]
    fn regex_metacharacters_in_literals_are_literal() {
        let tpl = t("a.b+c(d)[e]^$|?*\\{{partition}}.x");
        assert_eq!(
            tpl.matches("a.b+c(d)[e]^$|?*\\5.x").unwrap().partition,
            Some(5)
        );
        assert!(
            tpl.matches("aXb+c(d)[e]^$|?*\\5.x").is_none(),
            ". is literal"
        );
        assert!(
            tpl.matches("a.bbc(d)[e]^$|?*\\5.x").is_none(),
            "+ is literal"
        );
        assert!(tpl.matches("a.b+cd[e]^$|?*\\5.x").is_none(), "( is literal");
        let tpl = t("{{topic}}.json");
        assert!(tpl.matches("tXjson").is_none());
    }

    #[test]
    fn topic_uses_kafka_legal_characters() {
        let tpl = t("{{topic}}.json");
        assert!(tpl.matches("a-b_c.d9.json").is_some());
        assert!(tpl.matches("a/b.json").is_none());
        assert!(tpl.matches("a b.json").is_none());
        assert!(tpl.matches("é.json").is_none());
        assert!(tpl.matches(".json").is_none(), "empty topic");
    }

    #[test]
    fn numbers_are_ascii_digits_only() {
        let tpl = t("p{{partition}}");
        assert!(tpl.matches("p١٢").is_none(), "Arabic-Indic digits");
        assert!(tpl.matches("p-1").is_none());
        assert!(tpl.matches("p").is_none());
    }

    #[test]
    fn out_of_range_numbers_do_not_match() {
        let tpl = t("{{partition}}-{{start_offset}}");
        assert_eq!(
            tpl.matches("2147483647-9223372036854775807").unwrap(),
            TemplateMatch {
                partition: Some(i32::MAX),
                start_offset: Some(i64::MAX),
                ..Default::default()
            }
        );
        assert!(tpl.matches("2147483648-1").is_none(), "partition > i32");
        assert!(
            tpl.matches("1-9223372036854775808").is_none(),
            "offset > i64"
        );
    }

    #[test]
    fn padding_forms() {
        let tpl = t("{{topic}}-{{partition:padding=true}}-{{start_offset:padding=true}}.jsonl");
        let m = tpl
            .matches("t-0000000003-00000000000000000042.jsonl")
            .unwrap();
        assert_eq!(m.partition, Some(3));
        assert_eq!(m.start_offset, Some(42));
        assert!(tpl.has(Placeholder::Partition));
        let tpl = t("{{ partition : padding = false }}.x");
        assert_eq!(tpl.matches("12.x").unwrap().partition, Some(12));
    }

    #[test]
    fn timestamp_units() {
        let tpl = t("{{timestamp:unit=yyyy}}/{{topic}}.json");
        assert_eq!(
            tpl.matches("2024/t.json").unwrap().timestamp.as_deref(),
            Some("2024")
        );
        assert!(tpl.matches("24/t.json").is_none());
        assert!(tpl.matches("20245/t.json").is_none());
        for unit in ["MM", "dd", "HH"] {
            let tpl = t(&format!("x{{{{timestamp:unit={unit}}}}}x"));
            assert_eq!(
                tpl.matches("x07x").unwrap().timestamp.as_deref(),
                Some("07")
            );
            assert!(tpl.matches("x7x").is_none());
            assert!(tpl.matches("x007x").is_none());
        }
        let tpl = t("{{timestamp}}");
        assert_eq!(
            tpl.matches("1700000000").unwrap().timestamp.as_deref(),
            Some("1700000000")
        );
    }

    #[test]
    fn adjacent_placeholders_let_the_regex_decide() {
        let tpl = t("{{topic}}{{partition}}");
        // The topic is greedy but must leave at least one digit for the partition.
        let m = tpl.matches("abc12").unwrap();
        assert_eq!(m.topic.as_deref(), Some("abc1"));
        assert_eq!(m.partition, Some(2));
        let tpl = t("{{partition}}{{start_offset}}");
        let m = tpl.matches("123").unwrap();
        assert_eq!((m.partition, m.start_offset), (Some(12), Some(3)));
    }

    #[test]
    fn bad_templates_are_rejected_with_the_reason() {
        let e = err("");
        assert!(e.contains("empty"), "{e}");
        let e = err("   ");
        assert!(e.contains("empty"), "{e}");
        let e = err("{{topic}-x");
        assert!(
            e.contains("unbalanced") && e.contains("never closed"),
            "{e}"
        );
        let e = err("{{topic");
        assert!(e.contains("unbalanced"), "{e}");
        let e = err("{{a{{partition}}");
        assert!(e.contains("unbalanced") && e.contains("next"), "{e}");
        let e = err("topic}}-x");
        assert!(e.contains("unbalanced") && e.contains("no matching"), "{e}");
        let e = err("{{topc}}.json");
        assert!(e.contains("unknown placeholder {{topc}}"), "{e}");
        assert!(e.contains("did you mean {{topic}}"), "{e}");
        let e = err("{{key}}.json");
        assert!(e.contains("unknown placeholder {{key}}"), "{e}");
        let e = err("{{}}.json");
        assert!(e.contains("empty placeholder"), "{e}");
        let e = err("{{topic}}-{{topic}}");
        assert!(e.contains("more than once"), "{e}");
        let e = err("{{partition:pad=true}}");
        assert!(e.contains("unknown option \"pad\""), "{e}");
        let e = err("{{partition:padding=yes}}");
        assert!(e.contains("true or false"), "{e}");
        let e = err("{{timestamp:unit=ss}}");
        assert!(e.contains("yyyy, MM, dd, HH"), "{e}");
        let e = err("{{topic:padding=true}}");
        assert!(e.contains("takes no options"), "{e}");
        let e = err("{{partition:padding}}");
        assert!(e.contains("name=value"), "{e}");
        let e = err("{{partition:padding=true,padding=false}}");
        assert!(e.contains("more than once"), "{e}");
        // Every error names the template.
        let e = err("{{nope}}");
        assert!(e.contains("\"{{nope}}\""), "{e}");
        assert!(matches!(
            FileNameTemplate::parse("{{nope}}"),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn single_braces_are_literal() {
        let tpl = t("{a}-{{partition}}");
        assert_eq!(tpl.matches("{a}-1").unwrap().partition, Some(1));
    }
}
