//! Declaring a component's keys and registering the component.
//!
//! Every component (a backend, a format, a converter, a transform) declares the keys it reads
//! in a [`KeySet`]: each key's name, [`Kind`], default and documentation ([`key`],
//! [`required`], [`optional`]), families of pass-through keys ([`PrefixDef`]) and an optional [`CheckFn`] for what the types alone do not catch. A
//! [`Registry`] collects the sets: a connector's settings are checked against all of them
//! (unknown keys rejected with the nearest declared key, values of the wrong type, required keys
//! missing, another backend's keys), `sluice config-docs` prints their reference, and the
//! component's constructor reads its values through [`Keys`], typed and with the declared
//! defaults.
//!
//! ```
//! use sluice_api::config::{key, optional, KeySet, Kind, Owner, Settings, Keys};
//!
//! const KEYS: KeySet = KeySet {
//!     owner: Owner::Format("greeting"),
//!     doc: "Greets.",
//!     keys: &[
//!         key("greeting.word", Kind::String, "hello", "The word."),
//!         optional("greeting.name", Kind::String, "Whom to greet."),
//!     ],
//!     prefixes: &[],
//!     check: None,
//! };
//!
//! let registry = sluice_api::builtin()
//!     .with_format(KEYS, |keys| sluice_api::format::lines(keys))
//!     .unwrap();
//! assert!(registry.formats().contains(&"greeting"));
//!
//! let mut settings = Settings::new();
//! settings.insert("greeting.nme".into(), "world".into());
//! let problems = registry.check_keys(&settings);
//! assert!(problems.iter().any(|p| p.contains("did you mean \"greeting.name\"")), "{problems:?}");
//!
//! let keys = Keys::new(&registry, &settings);
//! assert_eq!(keys.string("greeting.word").unwrap().as_deref(), Some("hello"));
//! ```

pub use sluice_core::config::defs::{key, optional, required, KeyDef, Kind, PrefixDef};
pub use sluice_core::config::{
    BackendFactory, CheckFn, ConverterFactory, FormatFactory, KeySet, Keys, Owner, Registry,
    Settings, TransformFactory,
};
