//! The key registry: every component (the connector itself, each backend, each format) declares
//! its own keys in a [`KeySet`] beside its code; a [`Registry`] collects them. Config loading,
//! `validate` and the reference docs (`sluice config-docs`) all read the registry, so adding a
//! backend or a format means declaring its keys in its own file and registering its set once.
//!
//! Reading a key no set declares is an error ([`Keys::raw`]), never a panic. Two sets declaring
//! the same key are refused by [`Registry::new`].

use super::components::Factories;
use super::defs::{KeyDef, Kind, PrefixDef};
use super::{nearest, parse_bool, shown, split_list, Settings};
use crate::error::{Error, Result};

/// Who declares a [`KeySet`] and when its keys apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Owner {
    /// Keys every connector reads (`name`, `topic`, `errors.*`, `object.*`, ...).
    Connector,
    /// A backend: its name and the `connector.class` values that select it.
    Backend {
        /// The backend's name (`local`, `s3`, ...), also its short `connector.class` value.
        name: &'static str,
        /// Further `connector.class` values that select it (Kafka Connect class names).
        classes: &'static [&'static str],
    },
    /// An input format, by its `input.format` value.
    Format(&'static str),
    /// Options shared by several formats (record size, compression, ...).
    Formats,
    /// The worker file's keys.
    Worker,
    /// A part of every connector with keys of its own (`routing`, `rate limits`), by name.
    Part(&'static str),
    /// A converter a program registered ([`Registry::with_converter`]): the class name that
    /// selects it in `key.converter`, `value.converter` or `header.converter`, and further names
    /// that select it. Its keys are read after the converter's prefix
    /// (`value.converter.<key>`).
    Converter {
        /// The class name (`com.example.MyConverter`).
        class: &'static str,
        /// Further names that select it (a short name).
        aliases: &'static [&'static str],
    },
    /// A single message transform a program registered ([`Registry::with_transform`]): the
    /// class name that selects it in `transforms.<alias>.type`, and further names that select
    /// it. Its keys are read after the transform's prefix (`transforms.<alias>.<key>`).
    Transform {
        /// The class name (`com.example.MyTransform`).
        class: &'static str,
        /// Further names that select it (a short name).
        aliases: &'static [&'static str],
    },
}

/// A validation of a component's keys beyond their types (keys needed together, values that
/// must parse): one line per problem. Reads the settings through [`Keys`].
pub type CheckFn = fn(&Keys<'_>) -> Result<Vec<String>>;

/// The keys one component declares.
#[derive(Debug, Clone, Copy)]
pub struct KeySet {
    /// Who declares them.
    pub owner: Owner,
    /// One sentence for the reference docs, above the table.
    pub doc: &'static str,
    /// The keys.
    pub keys: &'static [KeyDef],
    /// Families of keys passed through by prefix.
    pub prefixes: &'static [PrefixDef],
    /// Checks beyond each value's type. A backend's run only when it is the selected backend,
    /// with the key checks; the others' run on every connector once every value has its type.
    pub check: Option<CheckFn>,
}

impl KeySet {
    /// The backend's name, when this set is a backend's.
    pub fn backend(&self) -> Option<&'static str> {
        match self.owner {
            Owner::Backend { name, .. } => Some(name),
            _ => None,
        }
    }

    /// True when `key` is one of this set's keys or under one of its prefixes.
    pub fn declares(&self, key: &str) -> bool {
        self.keys.iter().any(|d| d.name == key)
            || self.prefixes.iter().any(|p| key.starts_with(p.prefix))
    }

    pub(super) fn title(&self) -> String {
        match self.owner {
            Owner::Connector => "Connector keys".into(),
            Owner::Backend { name, .. } => format!("Backend `{name}`"),
            Owner::Format(name) => format!("Format `{name}`"),
            Owner::Formats => "Keys of every format".into(),
            Owner::Worker => "Worker keys".into(),
            Owner::Part(name) => format!("Connector keys: {name}"),
            Owner::Converter { class, .. } => format!("Converter `{class}`"),
            Owner::Transform { class, .. } => format!("Transform `{class}`"),
        }
    }
}

/// Every key set of a build: the one place keys are looked up.
#[derive(Debug, Clone)]
pub struct Registry {
    pub(super) sets: Vec<KeySet>,
    /// Constructors of the components a program registered (`with_backend`, `with_format`).
    pub(super) factories: Factories,
}

impl Registry {
    /// Collects `sets`.
    ///
    /// # Errors
    /// [`Error::Config`] listing every key declared by two sets, and every backend or format
    /// registered twice.
    pub fn new(sets: impl IntoIterator<Item = KeySet>) -> Result<Self> {
        let sets: Vec<KeySet> = sets.into_iter().collect();
        let mut problems = Vec::new();
        for (i, a) in sets.iter().enumerate() {
            for b in &sets[..i] {
                for k in a
                    .keys
                    .iter()
                    .filter(|k| b.keys.iter().any(|d| d.name == k.name))
                {
                    problems.push(format!(
                        "{}: declared by both {} and {}",
                        k.name,
                        b.title(),
                        a.title()
                    ));
                }
                if a.owner == b.owner {
                    problems.push(format!("{} registered twice", a.title()));
                }
            }
        }
        if problems.is_empty() {
            Ok(Registry {
                sets,
                factories: Factories::default(),
            })
        } else {
            Err(Error::Config {
                context: Some("key registry".into()),
                problems,
            })
        }
    }

    /// The sets, in registration order.
    pub fn sets(&self) -> &[KeySet] {
        &self.sets
    }

    /// The backend a `connector.class` value selects.
    pub fn backend_of(&self, connector_class: &str) -> Option<&'static str> {
        self.sets.iter().find_map(|s| match s.owner {
            Owner::Backend { name, classes }
                if name == connector_class || classes.contains(&connector_class) =>
            {
                Some(name)
            }
            _ => None,
        })
    }

    /// Every accepted `connector.class` value: each backend's name, then its class names.
    pub fn connector_classes(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for s in &self.sets {
            if let Owner::Backend { name, .. } = s.owner {
                out.push(name);
            }
        }
        for s in &self.sets {
            if let Owner::Backend { classes, .. } = s.owner {
                out.extend_from_slice(classes);
            }
        }
        out
    }

    /// Every registered `input.format` value.
    pub fn formats(&self) -> Vec<&'static str> {
        self.sets
            .iter()
            .filter_map(|s| match s.owner {
                Owner::Format(name) => Some(name),
                _ => None,
            })
            .collect()
    }

    /// The declaration of `name`.
    ///
    /// # Errors
    /// [`Error::Config`] when no set declares it.
    pub fn key(&self, name: &str) -> Result<&KeyDef> {
        self.sets
            .iter()
            .flat_map(|s| s.keys)
            .find(|d| d.name == name)
            .ok_or_else(|| {
                Error::config(format!(
                    "{name}: read but declared by no component; declare it in its component's KeySet"
                ))
            })
    }

    /// The values a key of `kind` accepts, when they are a list (an enum, a format, a
    /// backend's class, a converter's class).
    pub fn values(&self, kind: Kind) -> Option<Vec<&'static str>> {
        match kind {
            Kind::Enum(values) => Some(values.to_vec()),
            Kind::Format => Some(self.formats()),
            Kind::Backend => Some(self.connector_classes()),
            Kind::Converter => Some(self.converter_classes()),
            Kind::HeaderConverter => Some(self.header_converter_classes()),
            _ => None,
        }
    }

    /// A short description of `kind` for the reference docs.
    pub fn describe(&self, kind: Kind) -> String {
        match self.values(kind) {
            Some(values) => format!("one of {}", values.join(", ")),
            None => kind.describe(),
        }
    }

    /// Checks every key against the registry: unknown keys (with the nearest declared key),
    /// values of the wrong type, missing required keys, keys of another backend than the one
    /// `connector.class` selects, and the selected backend's own checks. One line per problem.
    pub fn check_keys(&self, settings: &Settings) -> Vec<String> {
        let mut problems = Vec::new();
        let class = settings.get("connector.class").map(String::as_str);
        let backend = class.and_then(|c| self.backend_of(c));
        let active = |s: &KeySet| s.backend().is_none_or(|b| Some(b) == backend);
        let mut prefixes: Vec<&str> = self
            .sets
            .iter()
            .flat_map(|s| s.prefixes)
            .map(|p| p.prefix)
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        let key_count = self.sets.iter().map(|s| s.keys.len()).sum::<usize>() + prefixes.len();
        for (k, v) in settings {
            if let Ok(def) = self.key(k) {
                if let Err(e) = self.check_value(def, v) {
                    problems.push(format!("{k}: {e}"));
                }
            } else if let Some(p) = self
                .sets
                .iter()
                .flat_map(|s| s.prefixes)
                .find(|p| k.starts_with(p.prefix))
            {
                if k.len() == p.prefix.len() {
                    problems.push(format!("{k}: a setting name must follow the prefix"));
                }
            } else {
                let names = self.sets.iter().flat_map(|s| s.keys).map(|d| d.name);
                let suggestion = nearest(k, names)
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_else(|| {
                        format!("; see docs/config.md for the {key_count} valid keys")
                    });
                problems.push(format!("{k}: unknown key{suggestion}"));
            }
        }
        for def in self
            .sets
            .iter()
            .filter(|s| active(s))
            .flat_map(|s| s.keys)
            .filter(|d| d.required)
        {
            if settings.get(def.name).is_none_or(|v| v.is_empty()) {
                problems.push(format!("{}: required; {}", def.name, def.doc));
            }
        }
        if let (Some(class), Some(backend)) = (class, backend) {
            for key in settings.keys() {
                let owners: Vec<&str> = self
                    .sets
                    .iter()
                    .filter(|s| s.declares(key))
                    .filter_map(KeySet::backend)
                    .collect();
                if owners.is_empty() || owners.contains(&backend) {
                    continue;
                }
                let by = match owners.as_slice() {
                    [one] => format!("connector.class={one}"),
                    [first @ .., last] => {
                        format!("the {} and {last} backends", first.join(", "))
                    }
                    [] => unreachable!("owners is not empty"),
                };
                problems.push(format!(
                    "{key}: only used by {by}, but connector.class is {class}; remove it or fix connector.class"
                ));
            }
            let keys = Keys::new(self, settings);
            for s in self.sets.iter().filter(|s| s.backend() == Some(backend)) {
                problems.extend(run_check(s, &keys));
            }
        }
        problems
    }

    /// The checks of every set that is not a backend's (formats, ...): run once every value
    /// has its type.
    pub fn component_problems(&self, settings: &Settings) -> Vec<String> {
        let keys = Keys::new(self, settings);
        self.sets
            .iter()
            .filter(|s| s.backend().is_none())
            .flat_map(|s| run_check(s, &keys))
            .collect()
    }

    pub(super) fn check_value(&self, def: &KeyDef, v: &str) -> std::result::Result<(), String> {
        match def.kind {
            Kind::Bool => parse_bool(v).map(|_| ()),
            Kind::Int { min, max } => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("{} is not an integer", shown(def, v)))?;
                if n < min || n > max {
                    Err(format!(
                        "{n} is out of range; expected {}",
                        def.kind.describe()
                    ))
                } else {
                    Ok(())
                }
            }
            Kind::Enum(_)
            | Kind::Format
            | Kind::Backend
            | Kind::Converter
            | Kind::HeaderConverter => {
                let values = self.values(def.kind).unwrap_or_default();
                if values.contains(&v) {
                    Ok(())
                } else {
                    let hint = nearest(v, values.iter().copied())
                        .map(|s| format!(" (did you mean {s:?}?)"))
                        .unwrap_or_default();
                    Err(format!(
                        "{} is not valid{hint}; expected one of {}",
                        shown(def, v),
                        values.join(", ")
                    ))
                }
            }
            Kind::String | Kind::Password | Kind::List => Ok(()),
        }
    }

    /// The reference tables of these sets (`docs/config.md`'s connector part), grouped by owner.
    pub fn reference_markdown(&self) -> String {
        let mut out = String::new();
        for s in &self.sets {
            let title = s.title();
            let classes = match s.owner {
                Owner::Backend { classes, .. } if !classes.is_empty() => format!(
                    " Also selected by {}.",
                    classes
                        .iter()
                        .map(|c| format!("`connector.class={c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => String::new(),
            };
            out.push_str(&format!("## {title}\n\n{}{classes}\n\n", s.doc));
            if s.keys.is_empty() && s.prefixes.is_empty() {
                out.push_str("No keys of its own.\n\n");
                continue;
            }
            out.push_str(&table(s.keys, s.prefixes, |k| self.describe(k)));
        }
        out.push_str(&self.plugins_reference());
        out
    }
}

/// A markdown table of `keys` and `prefixes`.
pub(super) fn table(
    keys: &[KeyDef],
    prefixes: &[PrefixDef],
    describe: impl Fn(Kind) -> String,
) -> String {
    let mut out = String::from("| key | type | default | description |\n|---|---|---|---|\n");
    for k in keys {
        let default = match (k.default, k.required) {
            (Some(d), _) => format!("`{d}`"),
            (None, true) => "required".into(),
            (None, false) => "unset".into(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            k.name,
            describe(k.kind),
            default,
            k.doc
        ));
    }
    for p in prefixes {
        out.push_str(&format!(
            "| `{}*` | pass-through | | {} |\n",
            p.prefix, p.doc
        ));
    }
    out.push('\n');
    out
}

fn run_check(set: &KeySet, keys: &Keys<'_>) -> Vec<String> {
    match set.check.map(|check| check(keys)) {
        None => Vec::new(),
        Some(Ok(problems)) => problems,
        Some(Err(Error::Config { problems, .. })) => problems,
        Some(Err(e)) => vec![e.to_string()],
    }
}

/// Typed access to checked settings, falling back to the defaults their sets declare.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    settings: &'a Settings,
    registry: &'a Registry,
}

impl<'a> Keys<'a> {
    /// Reads `settings` with the declarations of `registry`.
    pub fn new(registry: &'a Registry, settings: &'a Settings) -> Self {
        Keys { settings, registry }
    }

    /// Every setting as given.
    pub fn settings(&self) -> &'a Settings {
        self.settings
    }

    /// The registry the keys are declared in.
    pub fn registry(&self) -> &'a Registry {
        self.registry
    }

    /// The value of `name` (an empty value counts as unset), else its default.
    ///
    /// # Errors
    /// [`Error::Config`] when no set declares `name`.
    pub fn raw(&self, name: &str) -> Result<Option<&'a str>> {
        let def = self.registry.key(name)?;
        Ok(self
            .settings
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .or(def.default))
    }

    /// True when `name` has a value or a default.
    ///
    /// # Errors
    /// As [`Keys::raw`].
    pub fn is_set(&self, name: &str) -> Result<bool> {
        Ok(self.raw(name)?.is_some())
    }

    /// [`Keys::raw`], owned.
    ///
    /// # Errors
    /// As [`Keys::raw`].
    pub fn string(&self, name: &str) -> Result<Option<String>> {
        Ok(self.raw(name)?.map(str::to_owned))
    }

    /// An integer key that has a value or a default.
    ///
    /// # Errors
    /// As [`Keys::raw`], and when the value is missing or not an integer.
    pub fn int(&self, name: &str) -> Result<i64> {
        let v = self.raw(name)?;
        v.and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::config(format!("{name}: expected an integer, got {v:?}")))
    }

    /// A boolean key: true only when it (or its default) is `true`.
    ///
    /// # Errors
    /// As [`Keys::raw`].
    pub fn bool(&self, name: &str) -> Result<bool> {
        Ok(self
            .raw(name)?
            .is_some_and(|v| v.eq_ignore_ascii_case("true")))
    }

    /// A list key; set to an empty value it is an empty list (not its default).
    ///
    /// # Errors
    /// As [`Keys::raw`].
    pub fn list(&self, name: &str) -> Result<Vec<String>> {
        let default = self.raw(name)?;
        Ok(match self.settings.get(name) {
            Some(v) => split_list(v),
            None => default.map(split_list).unwrap_or_default(),
        })
    }

    /// The settings under `prefix`, prefix removed.
    pub fn prefixed(&self, prefix: &str) -> Settings {
        self.settings
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|s| (s.to_owned(), v.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[KeyDef] = &[KeyDef {
        name: "a.path",
        kind: Kind::String,
        default: None,
        required: false,
        doc: "A path.",
    }];

    fn set(owner: Owner, keys: &'static [KeyDef]) -> KeySet {
        KeySet {
            owner,
            doc: "Test keys.",
            keys,
            prefixes: &[],
            check: None,
        }
    }

    fn backend(name: &'static str) -> Owner {
        Owner::Backend { name, classes: &[] }
    }

    #[test]
    fn an_undeclared_key_is_an_error_not_a_panic() {
        let r = Registry::new([set(backend("a"), A)]).unwrap();
        let settings = Settings::new();
        let keys = Keys::new(&r, &settings);
        let err = keys.raw("b.path").unwrap_err().to_string();
        assert!(
            err.contains("b.path") && err.contains("declared by no component"),
            "{err}"
        );
        assert!(keys.int("b.path").is_err());
        assert!(keys.bool("b.path").is_err());
        assert!(keys.list("b.path").is_err());
        assert_eq!(keys.raw("a.path").unwrap(), None);
    }

    #[test]
    fn two_components_declaring_the_same_key_are_refused() {
        let err = Registry::new([set(backend("a"), A), set(Owner::Format("f"), A)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.path: declared by both Backend `a` and Format `f`"),
            "{err}"
        );
        let err = Registry::new([set(backend("a"), &[]), set(backend("a"), &[])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("registered twice"), "{err}");
    }

    #[test]
    fn unknown_keys_suggest_the_closest_of_every_component() {
        let r = Registry::new([set(backend("a"), A), set(Owner::Format("f"), &[])]).unwrap();
        let settings: Settings = [("connector.class".to_string(), "a".to_string())]
            .into_iter()
            .chain([("a.pth".to_string(), "x".to_string())])
            .collect();
        let p = r.check_keys(&settings);
        assert!(
            p.iter()
                .any(|p| p == "a.pth: unknown key; did you mean \"a.path\"?"),
            "{p:?}"
        );
    }

    #[test]
    fn another_backends_key_is_named_with_its_backend() {
        let r = Registry::new([set(backend("a"), A), set(backend("b"), &[])]).unwrap();
        let settings: Settings = [("connector.class", "b"), ("a.path", "/x")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let p = r.check_keys(&settings);
        assert!(
            p.iter()
                .any(|p| p.starts_with("a.path: only used by connector.class=a")),
            "{p:?}"
        );
        assert_eq!(r.formats(), Vec::<&str>::new());
        assert_eq!(r.connector_classes(), ["a", "b"]);
    }
}
