//! [`TopicRules`]: `topic.regex.list`, the topic of each object chosen by the first regex its
//! key matches.

use regex::Regex;

/// `topicA:regexA,topicB:regexB`: an object goes to the topic of the first rule whose regex
/// matches somewhere in its key (anchor with `^` and `$` to match the whole key).
#[derive(Debug, Clone)]
pub struct TopicRules {
    rules: Vec<(String, Regex)>,
}

impl PartialEq for TopicRules {
    fn eq(&self, other: &Self) -> bool {
        self.rules.len() == other.rules.len()
            && self
                .rules
                .iter()
                .zip(&other.rules)
                .all(|(a, b)| a.0 == b.0 && a.1.as_str() == b.1.as_str())
    }
}

/// True when `s` starts a new rule: a topic name (Kafka's characters) followed by `:`.
fn starts_rule(s: &str) -> bool {
    s.trim_start().split_once(':').is_some_and(|(topic, _)| {
        !topic.is_empty()
            && topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    })
}

impl TopicRules {
    /// Parses `topic:regex` rules separated by commas. A comma inside a regex (`a{1,3}`) stays
    /// in it: a piece that does not start with `topic:` continues the previous rule's regex.
    ///
    /// # Errors
    /// One sentence per bad rule (no `topic:`, an empty regex, a regex that does not compile).
    pub fn parse(list: &str) -> std::result::Result<Self, Vec<String>> {
        let mut pieces: Vec<String> = Vec::new();
        for piece in list.split(',') {
            match pieces.last_mut() {
                Some(last) if !starts_rule(piece) => {
                    last.push(',');
                    last.push_str(piece);
                }
                _ => pieces.push(piece.to_owned()),
            }
        }
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        for piece in pieces.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let Some((topic, regex)) = piece.split_once(':').filter(|_| starts_rule(piece)) else {
                problems.push(format!(
                    "rule {piece:?} is not of the form topic:regex (e.g. orders:^orders/.*\\.jsonl$)"
                ));
                continue;
            };
            let regex = regex.trim();
            if regex.is_empty() {
                problems.push(format!(
                    "rule {piece:?} has an empty regex; use .* to match every object"
                ));
                continue;
            }
            match Regex::new(regex) {
                Ok(r) => rules.push((topic.trim().to_owned(), r)),
                Err(e) => problems.push(format!("rule {piece:?}: the regex does not compile: {e}")),
            }
        }
        if rules.is_empty() && problems.is_empty() {
            problems.push("no rule given; write topic:regex pairs separated by commas".into());
        }
        if problems.is_empty() {
            Ok(TopicRules { rules })
        } else {
            Err(problems)
        }
    }

    /// The topics of the rules, in order.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|(t, _)| t.as_str())
    }

    /// The topic of the first rule matching `object_key`, or `None` when no rule does.
    pub fn topic_for(&self, object_key: &str) -> Option<&str> {
        self.rules
            .iter()
            .find(|(_, r)| r.is_match(object_key))
            .map(|(t, _)| t.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_wins() {
        let r = TopicRules::parse(r"orders:^orders/.*\.jsonl$, clicks:^clicks/, all:.*").unwrap();
        assert_eq!(r.topics().collect::<Vec<_>>(), ["orders", "clicks", "all"]);
        assert_eq!(r.topic_for("orders/2024/a.jsonl"), Some("orders"));
        assert_eq!(r.topic_for("orders/2024/a.csv"), Some("all"));
        assert_eq!(r.topic_for("clicks/x"), Some("clicks"));
        let r = TopicRules::parse(r"orders:^orders/").unwrap();
        assert_eq!(r.topic_for("other/orders/x"), None, "anchored by ^");
    }

    #[test]
    fn a_comma_inside_a_regex_stays_in_it() {
        let r = TopicRules::parse(r"a:^x{1,3}$,b:^y").unwrap();
        assert_eq!(r.topics().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(r.topic_for("xx"), Some("a"));
        assert_eq!(r.topic_for("xxxx"), None);
        assert_eq!(r.topic_for("yes"), Some("b"));
    }

    #[test]
    fn bad_rules_are_each_named() {
        let e = TopicRules::parse("a:(,:x,b:").unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("does not compile"), "{e:?}");
        assert!(e[1].contains("empty regex"), "{e:?}");
        let e = TopicRules::parse("justaregex").unwrap_err();
        assert!(e[0].contains("not of the form topic:regex"), "{e:?}");
        assert!(TopicRules::parse(" , ").is_err());
    }
}
