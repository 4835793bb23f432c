//! [`Options`]: the strict reading of one transform's or predicate's options.

use std::collections::BTreeMap;

/// The options of one transform (`transforms.<alias>.*`) or predicate (`predicates.<alias>.*`),
/// read strictly: every option a builder asks for is remembered, and [`Options::finish`] reports
/// the ones given that nobody asked for, with a suggestion.
#[derive(Debug)]
pub(crate) struct Options<'a> {
    family: &'static str,
    alias: &'a str,
    type_name: &'a str,
    given: BTreeMap<&'a str, &'a str>,
    known: Vec<&'static str>,
    problems: Vec<String>,
}

impl<'a> Options<'a> {
    /// The options `given` (prefix removed) of `family.alias`, a `type_name`.
    pub(crate) fn new(
        family: &'static str,
        alias: &'a str,
        type_name: &'a str,
        given: BTreeMap<&'a str, &'a str>,
    ) -> Self {
        Options {
            family,
            alias,
            type_name,
            given,
            known: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The full key of option `name`, e.g. `transforms.a.field`.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}.{}.{name}", self.family, self.alias)
    }

    /// The value of option `name`, as given.
    pub(crate) fn string(&mut self, name: &'static str) -> Option<String> {
        self.known.push(name);
        self.given.get(name).map(|v| (*v).to_owned())
    }

    /// The value of option `name`, which must be given and not empty; `what` says what it is.
    pub(crate) fn required(&mut self, name: &'static str, what: &str) -> Option<String> {
        match self.string(name) {
            Some(v) if !v.is_empty() => Some(v),
            _ => {
                self.problem(name, format!("required: {what}"));
                None
            }
        }
    }

    /// Option `name` as a comma-separated list (items trimmed, empty items dropped).
    pub(crate) fn list(&mut self, name: &'static str) -> Vec<String> {
        self.string(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Option `name` as a boolean (`true` / `false`, any case), `default` when not given.
    pub(crate) fn bool(&mut self, name: &'static str, default: bool) -> bool {
        match self.string(name) {
            None => default,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                self.problem(
                    name,
                    format!("{v:?} is not a boolean; expected true or false"),
                );
                default
            }
        }
    }

    /// Option `name` as an int32, if given.
    pub(crate) fn int(&mut self, name: &'static str) -> Option<i32> {
        let v = self.string(name)?;
        match v.trim().parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.problem(name, format!("{v:?} is not an int32"));
                None
            }
        }
    }

    /// Records a problem with option `name`.
    pub(crate) fn problem(&mut self, name: &str, message: impl AsRef<str>) {
        let key = self.key(name);
        self.problems.push(format!(
            "{key}: {} ({} {:?}, {})",
            message.as_ref(),
            &self.family[..self.family.len() - 1],
            self.alias,
            self.type_name
        ));
    }

    /// Records a problem of the whole transform or predicate (not of one option).
    pub(crate) fn general_problem(&mut self, message: impl AsRef<str>) {
        self.problems.push(format!(
            "{}.{}: {} ({})",
            self.family,
            self.alias,
            message.as_ref(),
            self.type_name
        ));
    }

    /// Every problem: those recorded, then one per option given that no builder asked for.
    pub(crate) fn finish(mut self) -> Vec<String> {
        let unknown: Vec<&str> = self
            .given
            .keys()
            .copied()
            .filter(|k| !self.known.contains(k))
            .collect();
        for name in unknown {
            let hint = self
                .known
                .iter()
                .map(|c| (strsim::jaro_winkler(name, c), *c))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, c)| format!("did you mean {c:?}? "))
                .unwrap_or_default();
            let options = if self.known.is_empty() {
                "it takes no options".to_owned()
            } else {
                let mut known = self.known.clone();
                known.dedup();
                format!("its options are {}", known.join(", "))
            };
            let msg = format!("unknown option; {hint}{options}");
            self.problem(name, msg);
        }
        self.problems
    }
}
