//! Converters and single message transforms registered by class name, as Kafka Connect plugins
//! are: a [`KeySet`] whose owner is [`Owner::Converter`] or [`Owner::Transform`] declares the
//! class name and the keys its `configure` reads, and a constructor builds it from those keys.
//!
//! A registered component's keys are written after its prefix (`value.converter.<key>`,
//! `transforms.<alias>.<key>`) and checked as Connect's `ConfigDef` checks a plugin's: an
//! unknown key is refused with the nearest declared one, a value of the wrong type and a missing
//! required key are reported with every other problem, and the set's own [`CheckFn`] runs
//! once the types are right. Class names are looked up through the [`Registry`] together with
//! the built-in ones, so an unknown class gets one "did you mean" over both, and
//! `sluice config-docs` documents a registered component's keys in a section of its own.
//!
//! [`CheckFn`]: super::CheckFn

use std::sync::Arc;

use super::components::{not_a, Factories};
use super::registry::{table, KeySet, Keys, Owner, Registry};
use super::{defs, nearest, Settings};
use crate::convert::{
    converter_from_config, converter_short_name, Converter, HeaderConverter, HEADER_CONVERTERS,
};
use crate::error::{Error, Result};
use crate::transforms::{supported_transforms, TransformChain, TransformPlugins, Transformation};

/// Builds a registered converter from its checked keys (its prefix removed; read them through
/// [`Keys`], typed and with the declared defaults) and whether it converts record keys (Connect's
/// `configure(configs, isKey)`).
pub type ConverterFactory =
    Arc<dyn Fn(&Keys<'_>, bool) -> Result<Arc<dyn Converter>> + Send + Sync + 'static>;

/// Builds a registered transform from its checked keys (the `transforms.<alias>.` prefix
/// removed).
pub type TransformFactory =
    Arc<dyn Fn(&Keys<'_>) -> Result<Arc<dyn Transformation>> + Send + Sync + 'static>;

/// The class name and aliases of a registered converter's or transform's key set.
fn names(set: &KeySet) -> Vec<&'static str> {
    match set.owner {
        Owner::Converter { class, aliases } | Owner::Transform { class, aliases } => {
            std::iter::once(class)
                .chain(aliases.iter().copied())
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The entry of `entries` that `class` selects.
fn find<'r, F>(entries: &'r [(KeySet, F)], class: &str) -> Option<&'r (KeySet, F)> {
    let class = class.trim();
    entries.iter().find(|(s, _)| names(s).contains(&class))
}

impl Registry {
    /// This registry plus a converter of the program's own: `keys` declares it (owner
    /// [`Owner::Converter`], whose class and aliases select it in `key.converter`,
    /// `value.converter` and `header.converter`) and the keys it reads after the converter's
    /// prefix; `build` makes it once those keys passed the checks.
    ///
    /// # Errors
    /// [`Error::Config`] when `keys` is not a converter's, when its class or an alias is taken
    /// (by a built-in or an earlier registration), or when it declares a key twice.
    pub fn with_converter<F>(mut self, keys: KeySet, build: F) -> Result<Self>
    where
        F: Fn(&Keys<'_>, bool) -> Result<Arc<dyn Converter>> + Send + Sync + 'static,
    {
        if !matches!(keys.owner, Owner::Converter { .. }) {
            return Err(not_a(
                &keys,
                "Owner::Converter { class, aliases }",
                "with_converter",
            ));
        }
        let taken = self.converter_classes();
        refuse_taken(&keys, |n| {
            taken.contains(&n) || HEADER_CONVERTERS.contains(&n)
        })?;
        self.factories.converters.push((keys, Arc::new(build)));
        Ok(self)
    }

    /// This registry plus a single message transform of the program's own: `keys` declares it
    /// (owner [`Owner::Transform`], whose class and aliases select it in
    /// `transforms.<alias>.type`) and the keys it reads after `transforms.<alias>.`; `build`
    /// makes it once those keys passed the checks.
    ///
    /// # Errors
    /// As [`Registry::with_converter`], for a transform.
    pub fn with_transform<F>(mut self, keys: KeySet, build: F) -> Result<Self>
    where
        F: Fn(&Keys<'_>) -> Result<Arc<dyn Transformation>> + Send + Sync + 'static,
    {
        if !matches!(keys.owner, Owner::Transform { .. }) {
            return Err(not_a(
                &keys,
                "Owner::Transform { class, aliases }",
                "with_transform",
            ));
        }
        let taken = self.transform_classes();
        refuse_taken(&keys, |n| taken.iter().any(|t| t == n))?;
        self.factories.transforms.push((keys, Arc::new(build)));
        Ok(self)
    }

    /// A registry of `sets` with this one's registered converters and transforms (the worker
    /// file's keys with the program's converters).
    ///
    /// # Errors
    /// As [`Registry::new`].
    pub fn with_sets(&self, sets: impl IntoIterator<Item = KeySet>) -> Result<Registry> {
        let mut registry = Registry::new(sets)?;
        registry.factories.converters = self.factories.converters.clone();
        registry.factories.transforms = self.factories.transforms.clone();
        Ok(registry)
    }

    /// Every accepted `key.converter` / `value.converter` value: the built-in class names,
    /// then each registered converter's class and aliases.
    pub fn converter_classes(&self) -> Vec<&'static str> {
        let registered = self.factories.converters.iter().flat_map(|(s, _)| names(s));
        defs::CONVERTERS.iter().copied().chain(registered).collect()
    }

    /// Every accepted `header.converter` value: the built-in header converters, then each
    /// registered converter's class and aliases (a registered converter writes each header
    /// value as a Connect string, as `StringConverter` and `JsonConverter` do).
    pub fn header_converter_classes(&self) -> Vec<&'static str> {
        let registered = self.factories.converters.iter().flat_map(|(s, _)| names(s));
        HEADER_CONVERTERS
            .iter()
            .copied()
            .chain(registered)
            .collect()
    }

    /// Every accepted `transforms.<alias>.type` value: Connect's transforms by their class
    /// names, then each registered transform's class and aliases. (A built-in transform may
    /// also be named without its package.)
    pub fn transform_classes(&self) -> Vec<String> {
        supported_transforms()
            .chain(self.registered_transforms().into_iter().map(str::to_owned))
            .collect()
    }

    fn registered_transforms(&self) -> Vec<&'static str> {
        self.factories
            .transforms
            .iter()
            .flat_map(|(s, _)| names(s))
            .collect()
    }

    /// The converter `class` with its `settings` (the `which.` prefix removed): a registered
    /// converter or a built-in one. `which` is `key.converter` or `value.converter`.
    ///
    /// # Errors
    /// [`Error::Config`] listing every problem, each naming its full key: an unknown class (with
    /// the nearest accepted one), unknown or invalid settings, the constructor's own errors.
    pub fn build_converter(
        &self,
        which: &str,
        class: &str,
        settings: &Settings,
        is_key: bool,
    ) -> Result<Arc<dyn Converter>> {
        if let Some((set, build)) = find(&self.factories.converters, class) {
            let prefix = format!("{which}.");
            return plugin_build(self, set, &prefix, settings, |keys| build(keys, is_key))
                .map_err(problems_error);
        }
        if converter_short_name(class).is_none() {
            return Err(self.unknown_class(which, class, &self.converter_classes()));
        }
        converter_from_config(class, settings, is_key).map_err(|e| match e {
            Error::Config { context, problems } => Error::Config {
                context,
                problems: problems
                    .into_iter()
                    .map(|p| p.replace("value.converter", which))
                    .collect(),
            },
            other => other,
        })
    }

    /// The header converter `class` with its `settings` (the `header.converter.` prefix
    /// removed): a registered converter or a built-in header converter.
    ///
    /// # Errors
    /// As [`Registry::build_converter`].
    pub fn build_header_converter(
        &self,
        class: &str,
        settings: &Settings,
    ) -> Result<HeaderConverter> {
        if let Some((set, build)) = find(&self.factories.converters, class) {
            return plugin_build(self, set, "header.converter.", settings, |keys| {
                build(keys, false)
            })
            .map(HeaderConverter::Converter)
            .map_err(problems_error);
        }
        if !HEADER_CONVERTERS.contains(&class.trim()) {
            return Err(self.unknown_class(
                "header.converter",
                class,
                &self.header_converter_classes(),
            ));
        }
        HeaderConverter::from_config(class, settings)
    }

    /// Every problem of the transforms and predicates `settings` configure (`transforms=`,
    /// `transforms.<alias>.*`, `predicates=`, `predicates.<alias>.*`), built-in or registered,
    /// checked as a connector's are: one line per problem, each naming its key.
    pub fn transform_problems(&self, settings: &Settings) -> Vec<String> {
        match TransformChain::from_settings_with(settings, self) {
            Ok(_) => Vec::new(),
            Err(Error::Config { problems, .. }) => problems,
            Err(e) => vec![format!("transforms: {e}")],
        }
    }

    /// True when `key` (a connector's or the worker's) is one a registered converter or
    /// transform declares as a [`Kind::Password`](defs::Kind::Password)
    /// (`value.converter.<key>`, `transforms.<alias>.<key>`), whichever is selected: the REST
    /// API hides its value.
    pub fn is_registered_secret(&self, key: &str) -> bool {
        let password = |set: &KeySet, name: &str| {
            set.keys
                .iter()
                .any(|d| d.name == name && d.kind == defs::Kind::Password)
        };
        let converter = ["key.converter.", "value.converter.", "header.converter."]
            .iter()
            .find_map(|p| key.strip_prefix(p));
        if let Some(name) = converter {
            return self
                .factories
                .converters
                .iter()
                .any(|(s, _)| password(s, name));
        }
        match key
            .strip_prefix("transforms.")
            .and_then(|rest| rest.split_once('.'))
        {
            Some((_alias, name)) => self
                .factories
                .transforms
                .iter()
                .any(|(s, _)| password(s, name)),
            None => false,
        }
    }

    fn unknown_class(&self, which: &str, class: &str, accepted: &[&str]) -> Error {
        let hint = nearest(class.trim(), accepted.iter().copied())
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_else(|| ".".to_owned());
        Error::config(format!(
            "{which}: {class:?} is not a converter of this build{hint} Accepted: {}",
            accepted.join(", ")
        ))
    }

    /// The reference sections of the registered converters and transforms.
    pub(super) fn plugins_reference(&self) -> String {
        let Factories {
            converters,
            transforms,
            ..
        } = &self.factories;
        let mut out = String::new();
        let sets = converters
            .iter()
            .map(|(s, _)| {
                (
                    s,
                    "`key.converter`, `value.converter` or `header.converter`",
                    "the converter's prefix (`value.converter.<key>`)",
                )
            })
            .chain(
                transforms
                    .iter()
                    .map(|(s, _)| (s, "`transforms.<alias>.type`", "`transforms.<alias>.`")),
            );
        for (set, selected_by, prefix) in sets {
            let names = names(set)
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!(
                "## {}\n\n{} Selected by {names} in {selected_by}; its keys follow {prefix}.\n\n",
                set.title(),
                set.doc
            ));
            if set.keys.is_empty() && set.prefixes.is_empty() {
                out.push_str("No keys of its own.\n\n");
            } else {
                out.push_str(&table(set.keys, set.prefixes, |k| self.describe(k)));
            }
        }
        out
    }
}

impl TransformPlugins for Registry {
    fn transform_classes(&self) -> Vec<&'static str> {
        self.registered_transforms()
    }

    fn build_transform(
        &self,
        class: &str,
        prefix: &str,
        options: &Settings,
    ) -> Option<(
        &'static str,
        std::result::Result<Arc<dyn Transformation>, Vec<String>>,
    )> {
        let (set, build) = find(&self.factories.transforms, class)?;
        let class = names(set)[0];
        Some((
            class,
            plugin_build(self, set, prefix, options, |keys| build(keys)),
        ))
    }
}

/// Refuses `keys` when one of its names is `taken` or it declares a key twice.
fn refuse_taken(keys: &KeySet, taken: impl Fn(&str) -> bool) -> Result<()> {
    let mut problems: Vec<String> = names(keys)
        .into_iter()
        .filter(|n| taken(n))
        .map(|n| format!("{}: the name {n:?} is registered already", keys.title()))
        .collect();
    for (i, k) in keys.keys.iter().enumerate() {
        if keys.keys[..i].iter().any(|d| d.name == k.name) {
            problems.push(format!("{}: declared twice by {}", k.name, keys.title()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Config {
            context: Some("key registry".into()),
            problems,
        })
    }
}

fn problems_error(problems: Vec<String>) -> Error {
    Error::Config {
        context: None,
        problems,
    }
}

/// Checks `given` (the settings after `prefix`) against `set`, then builds the component with
/// them: one line per problem, each naming its full key.
fn plugin_build<T>(
    registry: &Registry,
    set: &KeySet,
    prefix: &str,
    given: &Settings,
    build: impl FnOnce(&Keys<'_>) -> Result<T>,
) -> std::result::Result<T, Vec<String>> {
    let mut problems = Vec::new();
    for (k, v) in given {
        if let Some(def) = set.keys.iter().find(|d| d.name == k) {
            if let Err(e) = registry.check_value(def, v) {
                problems.push(format!("{prefix}{k}: {e}"));
            }
        } else if let Some(p) = set.prefixes.iter().find(|p| k.starts_with(p.prefix)) {
            if k.len() == p.prefix.len() {
                problems.push(format!(
                    "{prefix}{k}: a setting name must follow the prefix"
                ));
            }
        } else {
            let hint = nearest(k, set.keys.iter().map(|d| d.name))
                .map(|s| format!("; did you mean \"{prefix}{s}\"?"))
                .unwrap_or_default();
            let declared = set
                .keys
                .iter()
                .map(|d| d.name)
                .chain(set.prefixes.iter().map(|p| p.prefix))
                .collect::<Vec<_>>();
            let list = if declared.is_empty() {
                "it takes no keys".to_owned()
            } else {
                format!("its keys: {}", declared.join(", "))
            };
            problems.push(format!(
                "{prefix}{k}: unknown key for {}{hint} ({list})",
                set.title()
            ));
        }
    }
    for def in set.keys.iter().filter(|d| d.required) {
        if given.get(def.name).is_none_or(|v| v.is_empty()) {
            problems.push(format!("{prefix}{}: required; {}", def.name, def.doc));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let own = Registry {
        sets: vec![*set],
        factories: Factories::default(),
    };
    let keys = Keys::new(&own, given);
    let component = prefix.trim_end_matches('.');
    let named = |e: Error| match e {
        Error::Config { problems, .. } => problems
            .into_iter()
            .map(|p| format!("{component}: {p}"))
            .collect(),
        other => vec![format!("{component}: {other}")],
    };
    if let Some(check) = set.check {
        let problems = check(&keys).map_err(named)?;
        if !problems.is_empty() {
            return Err(problems
                .into_iter()
                .map(|p| format!("{component}: {p}"))
                .collect());
        }
    }
    build(&keys).map_err(named)
}

#[cfg(test)]
mod tests;
