//! [`KeyMatcher`]: which listed object keys `file.name.template` takes, and what they say.
//!
//! Sluice's own rule is an anchored match of the whole template (see [`crate::template`]).
//! Aiven's source connectors do it differently: they turn the template into a Java regular
//! expression (the placeholders become groups, the rest of the text is regex syntax, so `.`
//! matches any character and `.*` is a valid template) and search for it ANYWHERE in the full
//! object key (`Matcher.find()`). A template written for Aiven, such as
//! `{{topic}}-{{partition}}-{{start_offset}}` with `aws.s3.prefix=data/`, would match no key
//! under Sluice's anchored rule alone. So a key is tried, in this order:
//!
//! 1. the whole key, anchored (Sluice's templates that spell out the prefix keep working);
//! 2. the key relative to the backend's prefix (the key without its leading prefix), anchored:
//!    the template describes the file name under the prefix, as Aiven documents it;
//! 3. with `file.name.template.match=aiven` (the default), Aiven's own rule: the template as
//!    Aiven compiles it, searched anywhere in the whole key. A key taken only this way is
//!    read as Aiven would read it (its values are Aiven's), and reported
//!    ([`How::AivenSearch`]).
//!
//! When an anchored match (1 or 2) and Aiven's search both match but give different values
//! (Aiven's search may find the pattern earlier in the key, e.g. in a dated folder name), the
//! anchored values are used and [`KeyMatch::aiven_differs`] carries what Aiven would have read,
//! so the source can warn. [`KeyMatcher::start_warnings`] lists, once at start, the template
//! features whose meaning differs between the two (regex metacharacters, a template Aiven
//! could not compile).

use std::fmt;

use regex::Regex;

use crate::template::{FileNameTemplate, Placeholder, TemplateMatch};

/// `file.name.template.match`: whether Aiven's unanchored search is tried after the anchored
/// matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchMode {
    /// Anchored (whole key, then relative to the prefix), then Aiven's unanchored search.
    #[default]
    Aiven,
    /// Anchored only: a key the template does not describe entirely is not read.
    Anchored,
}

impl MatchMode {
    /// The config value (`aiven`, `anchored`).
    pub fn from_config(value: &str) -> Option<Self> {
        match value {
            "aiven" => Some(MatchMode::Aiven),
            "anchored" => Some(MatchMode::Anchored),
            _ => None,
        }
    }
}

/// How a key matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// The whole key, anchored.
    WholeKey,
    /// The key without the backend's prefix, anchored.
    UnderPrefix,
    /// Only Aiven's unanchored search (regex literals, anywhere in the key) found it.
    AivenSearch,
}

impl fmt::Display for How {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            How::WholeKey => "whole key",
            How::UnderPrefix => "relative to the prefix",
            How::AivenSearch => "Aiven's unanchored search",
        })
    }
}

/// A key the template takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMatch {
    /// The placeholders' values.
    pub values: TemplateMatch,
    /// Which rule matched.
    pub how: How,
    /// What Aiven's connector would have read instead, when its search matches the key with
    /// other values than the anchored match used.
    pub aiven_differs: Option<TemplateMatch>,
}

/// A template with the backend's prefix: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct KeyMatcher {
    template: FileNameTemplate,
    prefix: String,
    mode: MatchMode,
    /// The template as Aiven compiles it; `None` when Aiven could not compile it either.
    aiven: Option<Regex>,
}

impl KeyMatcher {
    /// A matcher for `template` over keys listed under `prefix`.
    pub fn new(template: &FileNameTemplate, prefix: Option<&str>, mode: MatchMode) -> Self {
        KeyMatcher {
            template: template.clone(),
            prefix: prefix.unwrap_or_default().to_owned(),
            mode,
            aiven: aiven_regex(template.as_str()),
        }
    }

    /// The template.
    pub fn template(&self) -> &FileNameTemplate {
        &self.template
    }

    /// The prefix keys are listed under (empty: none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// What the template says about `key`, or `None` when it does not take it.
    pub fn matches(&self, key: &str) -> Option<KeyMatch> {
        let anchored = self
            .template
            .matches(key)
            .map(|m| (m, How::WholeKey))
            .or_else(|| {
                let rest = key.strip_prefix(self.prefix.as_str())?;
                if self.prefix.is_empty() {
                    return None;
                }
                self.template.matches(rest).map(|m| (m, How::UnderPrefix))
            });
        let aiven = self.aiven.as_ref().and_then(|r| aiven_match(r, key));
        match (anchored, aiven) {
            (Some((values, how)), aiven) => {
                let aiven_differs = aiven.filter(|a| differs(&values, a));
                Some(KeyMatch {
                    values,
                    how,
                    aiven_differs,
                })
            }
            (None, Some(values)) if self.mode == MatchMode::Aiven => Some(KeyMatch {
                values,
                how: How::AivenSearch,
                aiven_differs: None,
            }),
            _ => None,
        }
    }

    /// True when Aiven's connector would read `key` (its search finds the template in it).
    pub fn aiven_would_match(&self, key: &str) -> bool {
        self.aiven
            .as_ref()
            .is_some_and(|r| aiven_match(r, key).is_some())
    }

    /// The ways this template means something else to Aiven's connector, one sentence each,
    /// for a warning at start (empty when there is none).
    pub fn start_warnings(&self) -> Vec<String> {
        let t = self.template.as_str();
        let mut out = Vec::new();
        let literal: String = literal_text(t);
        if self.aiven.is_none() {
            out.push(format!(
                "file.name.template {t:?}: Aiven's connector could not compile it as a regular expression (it rejects `{{{{ name }}}}` with spaces and `:padding=`/`:unit=` options); Sluice matches it anchored only"
            ));
        } else if literal.chars().any(|c| "\\^$|?*+()[]{}".contains(c)) {
            out.push(format!(
                "file.name.template {t:?}: its text holds regular-expression characters; Aiven's connector reads them as a regex, Sluice's anchored match as literal text, so the two may take different keys (keys only the regex takes are read the way Aiven reads them{})",
                if self.mode == MatchMode::Anchored { "; not with file.name.template.match=anchored" } else { "" }
            ));
        } else if literal.contains('.') && self.mode == MatchMode::Anchored {
            // With `aiven` matching such keys are read as Aiven reads them (and noted in the log
            // when it happens): nothing differs, so a template with a file extension, the common
            // case, warns about nothing.
            out.push(format!(
                "file.name.template {t:?}: a `.` is any character to Aiven's connector and a dot to Sluice's anchored match; a key where it stands for another character is skipped with file.name.template.match=anchored (Aiven's connector reads it)"
            ));
        }
        out
    }
}

/// The text of a template outside its placeholders.
fn literal_text(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        match rest[open..].find("}}") {
            Some(close) => rest = &rest[open + close + 2..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// True when the two matches disagree on a value both have.
fn differs(a: &TemplateMatch, b: &TemplateMatch) -> bool {
    a.topic != b.topic
        || a.partition != b.partition
        || a.start_offset != b.start_offset
        || a.timestamp != b.timestamp
}

/// The template as Aiven's `FilePatternUtils` compiles it: the four exact placeholders
/// `{{start_offset}}`, `{{timestamp}}`, `{{topic}}`, `{{partition}}` become groups (digits,
/// Kafka's topic characters), everything else is regex syntax. `None` when it does not compile.
fn aiven_regex(template: &str) -> Option<Regex> {
    let pattern = template
        .replace(
            "{{start_offset}}",
            &format!("(?P<{}>[0-9]+)", Placeholder::StartOffset.name()),
        )
        .replace(
            "{{timestamp}}",
            &format!("(?P<{}>[0-9]+)", Placeholder::Timestamp.name()),
        )
        .replace(
            "{{topic}}",
            &format!("(?P<{}>[a-zA-Z0-9_.-]+)", Placeholder::Topic.name()),
        )
        .replace(
            "{{partition}}",
            &format!("(?P<{}>[0-9]+)", Placeholder::Partition.name()),
        );
    // Java's `\d` is ASCII digits; Rust's is any Unicode digit.
    let pattern = pattern.replace("\\d", "[0-9]");
    Regex::new(&pattern).ok()
}

/// Aiven's search of `key`: the first place the pattern occurs; `None` when it does not, or
/// when a number does not fit (Aiven would fail the object; Sluice skips it).
fn aiven_match(regex: &Regex, key: &str) -> Option<TemplateMatch> {
    let caps = regex.captures(key)?;
    let mut m = TemplateMatch::default();
    if let Some(t) = caps.name(Placeholder::Topic.name()) {
        m.topic = Some(t.as_str().to_owned());
    }
    if let Some(p) = caps.name(Placeholder::Partition.name()) {
        m.partition = Some(p.as_str().parse().ok()?);
    }
    if let Some(o) = caps.name(Placeholder::StartOffset.name()) {
        m.start_offset = Some(o.as_str().parse().ok()?);
    }
    // Aiven does not capture the timestamp.
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(t: &str, prefix: Option<&str>) -> KeyMatcher {
        KeyMatcher::new(
            &FileNameTemplate::parse(t).unwrap(),
            prefix,
            MatchMode::Aiven,
        )
    }

    fn values(topic: &str, partition: i32, offset: i64) -> TemplateMatch {
        TemplateMatch {
            topic: Some(topic.into()),
            partition: Some(partition),
            start_offset: Some(offset),
            timestamp: None,
        }
    }

    #[test]
    fn aivens_documented_template_matches_relative_to_the_prefix() {
        let m = matcher("{{topic}}-{{partition}}-{{start_offset}}", Some("data/"));
        let km = m.matches("data/orders-3-120").unwrap();
        assert_eq!(km.values, values("orders", 3, 120));
        assert_eq!(km.how, How::UnderPrefix);
        assert_eq!(km.aiven_differs, None);
    }

    #[test]
    fn full_key_templates_keep_working() {
        let m = matcher("data/{{topic}}-{{partition}}.jsonl", Some("data/"));
        let km = m.matches("data/t-1.jsonl").unwrap();
        assert_eq!(km.how, How::WholeKey);
        assert_eq!(km.values.partition, Some(1));
    }

    #[test]
    fn a_suffix_after_the_template_is_taken_as_aiven_takes_it() {
        let m = matcher("{{topic}}-{{partition}}-{{start_offset}}", Some("data/"));
        let km = m.matches("data/orders-0-5.jsonl").unwrap();
        assert_eq!(km.how, How::AivenSearch);
        assert_eq!(km.values, values("orders", 0, 5));
        let strict = KeyMatcher::new(m.template(), Some("data/"), MatchMode::Anchored);
        assert_eq!(strict.matches("data/orders-0-5.jsonl"), None);
        assert!(strict.aiven_would_match("data/orders-0-5.jsonl"));
    }

    #[test]
    fn aivens_own_readme_example_differs_and_is_reported() {
        // Aiven's README: this template on `22-10-12/customer-topic-1-1734445664111.txt`
        // gives topic 22 to Aiven's connector (it finds the pattern in the folder name).
        let m = matcher(
            "{{topic}}-{{partition}}-{{start_offset}}",
            Some("22-10-12/"),
        );
        let km = m
            .matches("22-10-12/customer-topic-1-1734445664111")
            .unwrap();
        assert_eq!(km.values, values("customer-topic", 1, 1734445664111));
        assert_eq!(km.how, How::UnderPrefix);
        let aiven = km.aiven_differs.expect("Aiven reads other values");
        assert_eq!(aiven, values("22", 10, 12));
        // With the `.txt` of the README's key, only Aiven's search takes it: read as Aiven
        // reads it.
        let km = m
            .matches("22-10-12/customer-topic-1-1734445664111.txt")
            .unwrap();
        assert_eq!(km.how, How::AivenSearch);
        assert_eq!(km.values, values("22", 10, 12));
    }

    #[test]
    fn regex_templates_aiven_accepts_match_every_key() {
        let m = matcher(".*", None);
        let km = m.matches("any/key.json").unwrap();
        assert_eq!(km.how, How::AivenSearch);
        assert_eq!(km.values, TemplateMatch::default());
        assert!(!m.start_warnings().is_empty());
    }

    #[test]
    fn keys_that_do_not_match_at_all_are_none() {
        let m = matcher("{{topic}}-{{partition}}-{{start_offset}}", Some("data/"));
        assert_eq!(m.matches("data/readme.txt"), None);
        assert!(!m.aiven_would_match("data/readme.txt"));
    }

    #[test]
    fn templates_aiven_cannot_compile_are_matched_anchored_and_warned_about() {
        let m = matcher("{{topic}}-{{partition:padding=true}}.jsonl", Some("p/"));
        assert_eq!(
            m.matches("p/t-0001.jsonl").unwrap().values.partition,
            Some(1)
        );
        assert_eq!(m.matches("p/t-0001.jsonl.gz"), None);
        let w = m.start_warnings();
        assert!(w[0].contains("could not compile"), "{w:?}");
    }

    #[test]
    fn a_dot_in_the_template_is_warned_about_only_when_matching_anchored() {
        let m = matcher("{{topic}}-{{partition}}.jsonl", None);
        // Aiven's `.` takes `x`: read through Aiven's search, as Aiven reads it: no warning.
        assert!(m.start_warnings().is_empty(), "{:?}", m.start_warnings());
        assert_eq!(m.matches("t-1xjsonl").unwrap().how, How::AivenSearch);
        let anchored = KeyMatcher::new(
            &FileNameTemplate::parse("{{topic}}-{{partition}}.jsonl").unwrap(),
            None,
            MatchMode::Anchored,
        );
        assert!(anchored.start_warnings()[0].contains("any character"));
        assert!(anchored.matches("t-1xjsonl").is_none());
        let plain = matcher("{{topic}}/{{partition}}", None);
        assert!(plain.start_warnings().is_empty());
    }
}
