//! Components registered by a program built on Sluice: a backend or a format with its
//! [`KeySet`] and the function that builds it from checked settings. The built-in backends and
//! formats are built by their own crates (`sluice-sources`, `sluice-transformers`); a registered
//! component is looked up by the same name (`connector.class`, `input.format`) in the same
//! [`Registry`](super::Registry), so its keys get the same strict checking, "did you mean" and
//! reference docs as the built-ins'.

use std::fmt;
use std::sync::Arc;

use super::plugins::{ConverterFactory, TransformFactory};
use super::registry::{KeySet, Keys, Owner, Registry};
use crate::contract::ObjectBackend;
use crate::error::{Error, Result};
use crate::transformer::Transformer;

/// Builds a backend from a connector's checked settings (read them through [`Keys`]: typed, with
/// the defaults the backend's [`KeySet`](super::KeySet) declares).
pub type BackendFactory =
    Arc<dyn Fn(&Keys<'_>) -> Result<Arc<dyn ObjectBackend>> + Send + Sync + 'static>;

/// Builds a format's transformer from a connector's checked settings.
pub type FormatFactory =
    Arc<dyn Fn(&Keys<'_>) -> Result<Arc<dyn Transformer>> + Send + Sync + 'static>;

/// The registered components' constructors, by name.
#[derive(Clone, Default)]
pub(super) struct Factories {
    pub(super) backends: Vec<(&'static str, BackendFactory)>,
    pub(super) formats: Vec<(&'static str, FormatFactory)>,
    /// Registered converters, each with its key set (owner [`Owner::Converter`]).
    pub(super) converters: Vec<(KeySet, ConverterFactory)>,
    /// Registered transforms, each with its key set (owner [`Owner::Transform`]).
    pub(super) transforms: Vec<(KeySet, TransformFactory)>,
}

impl fmt::Debug for Factories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn names<T>(v: &[(&'static str, T)]) -> Vec<&'static str> {
            v.iter().map(|(n, _)| *n).collect()
        }
        f.debug_struct("Factories")
            .field("backends", &names(&self.backends))
            .field("formats", &names(&self.formats))
            .field(
                "converters",
                &self
                    .converters
                    .iter()
                    .map(|(s, _)| s.owner)
                    .collect::<Vec<_>>(),
            )
            .field(
                "transforms",
                &self
                    .transforms
                    .iter()
                    .map(|(s, _)| s.owner)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Registry {
    /// This registry plus a backend of the program's own: `keys` declares it (owner
    /// [`Owner::Backend`], whose name and classes are its `connector.class` values) and `build`
    /// makes it from a connector's settings once they passed the checks.
    ///
    /// # Errors
    /// [`Error::Config`] when `keys` is not a backend's, or when its name, a class or a key is
    /// registered already (by a built-in or an earlier registration).
    pub fn with_backend<F>(self, keys: KeySet, build: F) -> Result<Self>
    where
        F: Fn(&Keys<'_>) -> Result<Arc<dyn ObjectBackend>> + Send + Sync + 'static,
    {
        let Owner::Backend { name, classes } = keys.owner else {
            return Err(not_a(
                &keys,
                "Owner::Backend { name, classes }",
                "with_backend",
            ));
        };
        let taken: Vec<String> = std::iter::once(name)
            .chain(classes.iter().copied())
            .filter(|c| self.backend_of(c).is_some())
            .map(|c| format!("connector.class={c}: registered already"))
            .collect();
        let mut registry = self.adding(keys, taken)?;
        registry.factories.backends.push((name, Arc::new(build)));
        Ok(registry)
    }

    /// This registry plus a format of the program's own: `keys` declares it (owner
    /// [`Owner::Format`], whose name is its `input.format` value) and `build` makes its
    /// transformer from a connector's settings once they passed the checks.
    ///
    /// # Errors
    /// [`Error::Config`] when `keys` is not a format's, or when its name or a key is registered
    /// already.
    pub fn with_format<F>(self, keys: KeySet, build: F) -> Result<Self>
    where
        F: Fn(&Keys<'_>) -> Result<Arc<dyn Transformer>> + Send + Sync + 'static,
    {
        let Owner::Format(name) = keys.owner else {
            return Err(not_a(&keys, "Owner::Format(name)", "with_format"));
        };
        let mut registry = self.adding(keys, Vec::new())?;
        registry.factories.formats.push((name, Arc::new(build)));
        Ok(registry)
    }

    /// The constructor registered for backend `name` (a program's own backend), if any.
    pub fn backend_factory(&self, name: &str) -> Option<&BackendFactory> {
        self.factories
            .backends
            .iter()
            .find_map(|(n, f)| (*n == name).then_some(f))
    }

    /// The constructor registered for format `name` (a program's own format), if any.
    pub fn format_factory(&self, name: &str) -> Option<&FormatFactory> {
        self.factories
            .formats
            .iter()
            .find_map(|(n, f)| (*n == name).then_some(f))
    }

    /// The registry with `keys` added, checked as [`Registry::new`] checks, plus `problems`.
    fn adding(self, keys: KeySet, mut problems: Vec<String>) -> Result<Self> {
        let factories = self.factories;
        let registry = Registry::new(self.sets.into_iter().chain([keys]));
        match registry {
            Ok(mut r) if problems.is_empty() => {
                r.factories = factories;
                Ok(r)
            }
            Ok(_) => Err(Error::Config {
                context: Some("key registry".into()),
                problems,
            }),
            Err(Error::Config {
                context,
                problems: more,
            }) => {
                problems.extend(more);
                Err(Error::Config { context, problems })
            }
            Err(e) => Err(e),
        }
    }
}

pub(super) fn not_a(keys: &KeySet, owner: &str, method: &str) -> Error {
    Error::config(format!(
        "Registry::{method}: the key set \"{}\" has owner {:?}; give it {owner}",
        keys.doc, keys.owner
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::defs::{optional, KeyDef, Kind};
    use crate::config::Settings;

    const KEYS: &[KeyDef] = &[optional("mine.path", Kind::String, "A path.")];

    fn set(owner: Owner, keys: &'static [KeyDef]) -> KeySet {
        KeySet {
            owner,
            doc: "Test keys.",
            keys,
            prefixes: &[],
            check: None,
        }
    }

    fn no_format(_: &Keys<'_>) -> Result<Arc<dyn Transformer>> {
        Err(Error::config("not built in this test"))
    }

    fn base() -> Registry {
        Registry::new([
            set(Owner::Format("jsonl"), &[]),
            set(
                Owner::Backend {
                    name: "s3",
                    classes: &["S3Source"],
                },
                &[],
            ),
        ])
        .unwrap()
    }

    #[test]
    fn a_registered_format_is_accepted_documented_and_built_by_its_factory() {
        let r = base()
            .with_format(set(Owner::Format("mine"), KEYS), no_format)
            .unwrap();
        assert_eq!(r.formats(), ["jsonl", "mine"]);
        assert!(r.format_factory("mine").is_some());
        assert!(r.format_factory("jsonl").is_none());
        assert!(r.reference_markdown().contains("## Format `mine`"));
        let settings: Settings = [("mine.pth".to_string(), "x".to_string())].into();
        let p = r.check_keys(&settings);
        assert!(
            p.iter().any(|p| p.contains("did you mean \"mine.path\"")),
            "{p:?}"
        );
    }

    #[test]
    fn a_registration_that_clashes_is_refused_with_every_reason() {
        let err = base()
            .with_format(set(Owner::Format("jsonl"), &[]), no_format)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Format `jsonl` registered twice"), "{err}");
        let err = base()
            .with_backend(
                set(
                    Owner::Backend {
                        name: "mine",
                        classes: &["S3Source"],
                    },
                    &[],
                ),
                |_| Err(Error::config("unused")),
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("connector.class=S3Source: registered already"),
            "{err}"
        );
        let err = base()
            .with_format(set(Owner::Format("mine"), KEYS), no_format)
            .and_then(|r| r.with_format(set(Owner::Format("other"), KEYS), no_format))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mine.path: declared by both Format `mine` and Format `other`"),
            "{err}"
        );
        let err = base()
            .with_format(set(Owner::Connector, &[]), no_format)
            .unwrap_err()
            .to_string();
        assert!(err.contains("give it Owner::Format(name)"), "{err}");
    }
}
