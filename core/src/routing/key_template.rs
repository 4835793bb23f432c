//! [`KeyTemplate`]: a record key built from what `file.name.template` captured in the object
//! key (`record.key.template={{topic}}-{{partition}}`).

use std::fmt;

use crate::template::{Placeholder, TemplateMatch};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Captured(Placeholder),
}

/// Literal text and `{{placeholder}}`s of `file.name.template`, rendered once per object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    template: String,
    parts: Vec<Part>,
}

impl fmt::Display for KeyTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template)
    }
}

impl KeyTemplate {
    /// Parses `template`: literal text and `{{topic}}`, `{{partition}}`, `{{start_offset}}`,
    /// `{{timestamp}}` (whitespace inside the braces ignored, no options).
    ///
    /// # Errors
    /// A sentence naming the problem: unbalanced braces, an unknown placeholder.
    pub fn parse(template: &str) -> std::result::Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            let close = rest[open..]
                .find("}}")
                .map(|c| open + c)
                .ok_or_else(|| format!("{template:?}: \"{{{{\" is never closed with \"}}}}\""))?;
            if rest[..open].contains("}}") {
                return Err(format!("{template:?}: \"}}}}\" has no matching \"{{{{\""));
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let name = rest[open + 2..close].trim();
            let p = Placeholder::from_name(name).ok_or_else(|| {
                format!(
                    "{template:?}: unknown placeholder {{{{{name}}}}}; use {}",
                    Placeholder::ALL.map(|p| p.to_string()).join(", ")
                )
            })?;
            parts.push(Part::Captured(p));
            rest = &rest[close + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("{template:?}: \"}}}}\" has no matching \"{{{{\""));
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(KeyTemplate {
            template: template.to_owned(),
            parts,
        })
    }

    /// The placeholders it uses.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Captured(p) => Some(*p),
            Part::Literal(_) => None,
        })
    }

    /// The key of an object whose key matched with `m` (a placeholder the match lacks renders
    /// as nothing; configuration checks that `file.name.template` has every one used).
    pub fn render(&self, m: Option<&TemplateMatch>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Captured(p) => {
                    let Some(m) = m else { continue };
                    match p {
                        Placeholder::Topic => out.push_str(m.topic.as_deref().unwrap_or("")),
                        Placeholder::Partition => {
                            if let Some(n) = m.partition {
                                out.push_str(&n.to_string());
                            }
                        }
                        Placeholder::StartOffset => {
                            if let Some(n) = m.start_offset {
                                out.push_str(&n.to_string());
                            }
                        }
                        Placeholder::Timestamp => {
                            out.push_str(m.timestamp.as_deref().unwrap_or(""))
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_captures() {
        let t = KeyTemplate::parse("{{topic}}/p{{ partition }}-{{start_offset}}@{{timestamp}}")
            .unwrap();
        let m = TemplateMatch {
            topic: Some("orders".into()),
            partition: Some(3),
            start_offset: Some(42),
            timestamp: Some("2024".into()),
        };
        assert_eq!(t.render(Some(&m)), "orders/p3-42@2024");
        assert_eq!(
            t.placeholders().collect::<Vec<_>>(),
            Placeholder::ALL.to_vec()
        );
        assert_eq!(KeyTemplate::parse("fixed").unwrap().render(None), "fixed");
    }

    #[test]
    fn rejects_bad_templates() {
        let e = KeyTemplate::parse("{{topik}}").unwrap_err();
        assert!(e.contains("unknown placeholder {{topik}}"), "{e}");
        assert!(KeyTemplate::parse("a{{topic")
            .unwrap_err()
            .contains("never closed"));
        assert!(KeyTemplate::parse("a}}b")
            .unwrap_err()
            .contains("no matching"));
        assert!(KeyTemplate::parse("a}}{{topic}}")
            .unwrap_err()
            .contains("no matching"));
    }
}
