//! Kafka Connect's single message transforms (SMTs) and predicates, configured exactly as
//! Connect configures them and applied, in order, to every record between the source and the
//! converters.
//!
//! ```properties
//! transforms=addTopic,route
//! transforms.addTopic.type=org.apache.kafka.connect.transforms.InsertField$Value
//! transforms.addTopic.topic.field=source_topic
//! transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
//! transforms.route.regex=(.*)
//! transforms.route.replacement=$1-copy
//! transforms.route.predicate=isOrders
//! predicates=isOrders
//! predicates.isOrders.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
//! predicates.isOrders.pattern=orders.*
//! ```
//!
//! Besides Connect's transforms, a chain runs those a program registered by class name
//! ([`TransformPlugins`], which the config `Registry` implements; see
//! [`TransformChain::from_settings_with`]).
//!
//! [`TransformChain::from_settings`] builds the chain from a connector's settings, reporting
//! every problem at once (unknown types with the supported ones, unknown options with a
//! suggestion, missing or invalid options, undefined predicates). [`TransformChain::apply`]
//! runs it on one record; a failure names the transform's alias and keeps the record's source
//! partition, offset and origin so the driver can treat it as a record error under
//! `errors.tolerance`. See `docs/transforms.md`.
//!
//! One file per transform family; `options` is the strict option reader, `util` what the
//! transforms share.

mod cast;
mod extract;
mod filter;
mod flatten;
mod header_from;
mod headers;
mod insert_field;
mod java;
mod mask_field;
mod options;
mod predicates;
mod replace_field;
mod routers;
mod schema_metadata;
mod timestamp_converter;
mod util;
mod value_to_key;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::offsets::OffsetMap;
use crate::record::{RecordOrigin, SourceRecord};
use options::Options;
use util::Part;

/// A single message transform: one record in, the transformed record out, `None` to drop it,
/// or an error (Connect's `Transformation`).
pub trait Transformation: Send + Sync + fmt::Debug {
    /// Transforms `record`; `Ok(None)` drops it.
    ///
    /// # Errors
    /// When the record cannot be transformed (wrong shape, missing field, ...); the message says
    /// what was expected.
    fn apply(&self, record: SourceRecord) -> Result<Option<SourceRecord>>;
}

/// A condition on a record that decides whether a transform applies (Connect's `Predicate`).
pub trait Predicate: Send + Sync + fmt::Debug {
    /// Whether `record` matches.
    fn test(&self, record: &SourceRecord) -> bool;
}

/// Transforms beyond the built-in ones, looked up by class name: those a program registered
/// (the config `Registry` implements it; `()` has none).
pub trait TransformPlugins {
    /// The class names (and aliases) they are selected by, for messages.
    fn transform_classes(&self) -> Vec<&'static str>;

    /// Builds the transform selected by `class` from its `options` (the `prefix`, e.g.
    /// `transforms.a.`, removed), with its class name; `None` when no transform is `class`.
    /// The error lists every problem, each naming its full key.
    #[allow(clippy::type_complexity)]
    fn build_transform(
        &self,
        class: &str,
        prefix: &str,
        options: &BTreeMap<String, String>,
    ) -> Option<(
        &'static str,
        std::result::Result<Arc<dyn Transformation>, Vec<String>>,
    )>;
}

impl TransformPlugins for () {
    fn transform_classes(&self) -> Vec<&'static str> {
        Vec::new()
    }

    fn build_transform(
        &self,
        _class: &str,
        _prefix: &str,
        _options: &BTreeMap<String, String>,
    ) -> Option<(
        &'static str,
        std::result::Result<Arc<dyn Transformation>, Vec<String>>,
    )> {
        None
    }
}

/// The package of Connect's transforms.
const TRANSFORMS_PACKAGE: &str = "org.apache.kafka.connect.transforms.";
/// The package of Connect's predicates.
const PREDICATES_PACKAGE: &str = "org.apache.kafka.connect.transforms.predicates.";

type TransformBuilder = fn(&mut Options<'_>) -> Option<Arc<dyn Transformation>>;
type PredicateBuilder = fn(&mut Options<'_>) -> Option<Arc<dyn Predicate>>;

/// Every supported transform: its class name without the package, and its builder.
const TRANSFORMS: &[(&str, TransformBuilder)] = &[
    ("InsertField$Value", |o| insert_field::build(o, Part::Value)),
    ("InsertField$Key", |o| insert_field::build(o, Part::Key)),
    ("ReplaceField$Value", |o| {
        replace_field::build(o, Part::Value)
    }),
    ("ReplaceField$Key", |o| replace_field::build(o, Part::Key)),
    ("MaskField$Value", |o| mask_field::build(o, Part::Value)),
    ("MaskField$Key", |o| mask_field::build(o, Part::Key)),
    ("Cast$Value", |o| cast::build(o, Part::Value)),
    ("Cast$Key", |o| cast::build(o, Part::Key)),
    ("ExtractField$Value", |o| {
        extract::build_extract(o, Part::Value)
    }),
    ("ExtractField$Key", |o| extract::build_extract(o, Part::Key)),
    ("HoistField$Value", |o| extract::build_hoist(o, Part::Value)),
    ("HoistField$Key", |o| extract::build_hoist(o, Part::Key)),
    ("ValueToKey", value_to_key::build),
    ("Flatten$Value", |o| flatten::build(o, Part::Value)),
    ("Flatten$Key", |o| flatten::build(o, Part::Key)),
    ("RegexRouter", routers::build_regex),
    ("TimestampRouter", routers::build_timestamp),
    ("TimestampConverter$Value", |o| {
        timestamp_converter::build(o, Part::Value)
    }),
    ("TimestampConverter$Key", |o| {
        timestamp_converter::build(o, Part::Key)
    }),
    ("Filter", filter::build),
    ("InsertHeader", headers::build_insert),
    ("DropHeaders", headers::build_drop),
    ("HeaderFrom$Value", |o| header_from::build(o, Part::Value)),
    ("HeaderFrom$Key", |o| header_from::build(o, Part::Key)),
    ("SetSchemaMetadata$Value", |o| {
        schema_metadata::build(o, Part::Value)
    }),
    ("SetSchemaMetadata$Key", |o| {
        schema_metadata::build(o, Part::Key)
    }),
];

/// Every supported predicate: its class name without the package, and its builder.
const PREDICATES: &[(&str, PredicateBuilder)] = &[
    ("TopicNameMatches", predicates::build_topic_name_matches),
    ("HasHeaderKey", predicates::build_has_header_key),
    ("RecordIsTombstone", predicates::build_record_is_tombstone),
];

/// The class names of every supported transform, as Connect names them.
pub fn supported_transforms() -> impl Iterator<Item = String> {
    TRANSFORMS
        .iter()
        .map(|(n, _)| format!("{TRANSFORMS_PACKAGE}{n}"))
}

/// The class names of every supported predicate, as Connect names them.
pub fn supported_predicates() -> impl Iterator<Item = String> {
    PREDICATES
        .iter()
        .map(|(n, _)| format!("{PREDICATES_PACKAGE}{n}"))
}

/// The short name of `class` (package removed) if it names one of `known`; the full class name
/// or the short one are accepted.
fn lookup<'k, T>(class: &str, package: &str, known: &'k [(&str, T)]) -> Option<&'k (&'k str, T)> {
    let short = class.strip_prefix(package).unwrap_or(class);
    known.iter().find(|(n, _)| *n == short)
}

/// The transform a `transforms.<alias>.type` selects: a built-in one with its builder, or a
/// registered one, built already.
enum Chosen {
    Builtin(&'static str, TransformBuilder),
    Registered(
        &'static str,
        std::result::Result<Arc<dyn Transformation>, Vec<String>>,
    ),
}

#[derive(Clone)]
struct PredicateUse {
    alias: String,
    predicate: Arc<dyn Predicate>,
    negate: bool,
}

#[derive(Clone)]
struct Stage {
    alias: String,
    type_name: &'static str,
    transform: Arc<dyn Transformation>,
    predicate: Option<PredicateUse>,
}

/// A connector's transforms, in order (`transforms=a,b`), each with its predicate. Empty when
/// the connector has none; applying an empty chain costs nothing.
#[derive(Clone, Default)]
pub struct TransformChain {
    stages: Vec<Stage>,
}

impl fmt::Debug for TransformChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.stages.iter().map(|s| {
                let p = s
                    .predicate
                    .as_ref()
                    .map(|p| format!(" if {}{}", if p.negate { "not " } else { "" }, p.alias));
                format!("{} ({}){}", s.alias, s.type_name, p.unwrap_or_default())
            }))
            .finish()
    }
}

/// A record a transform failed on: where it came from, and the error naming the transform.
#[derive(Debug)]
pub struct TransformFailure {
    /// The record's source partition.
    pub partition: OffsetMap,
    /// The record's source offset.
    pub offset: OffsetMap,
    /// Where the record was read.
    pub origin: Option<RecordOrigin>,
    /// An [`Error::Transform`] naming the transform's alias and type.
    pub error: Error,
}

/// What the chain made of a record.
#[derive(Debug)]
pub enum Transformed {
    /// The transformed record.
    Record(SourceRecord),
    /// A transform dropped the record (e.g. `Filter`); its offset still advances.
    Dropped {
        /// The record's source partition.
        partition: OffsetMap,
        /// The record's source offset.
        offset: OffsetMap,
    },
}

impl TransformChain {
    /// Builds the chain from a connector's settings (`transforms`, `transforms.*`,
    /// `predicates`, `predicates.*`), with the built-in transforms only.
    ///
    /// # Errors
    /// [`Error::Config`] listing every problem, each naming its key.
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Result<Self> {
        Self::from_settings_with(settings, &())
    }

    /// [`TransformChain::from_settings`], with the transforms of `plugins` besides the
    /// built-in ones.
    ///
    /// # Errors
    /// [`Error::Config`] listing every problem, each naming its key.
    pub fn from_settings_with(
        settings: &BTreeMap<String, String>,
        plugins: &dyn TransformPlugins,
    ) -> Result<Self> {
        let supported = || {
            supported_transforms().chain(plugins.transform_classes().into_iter().map(str::to_owned))
        };
        let mut problems = Vec::new();
        let transform_aliases = aliases(settings, "transforms", &mut problems);
        let predicate_aliases = aliases(settings, "predicates", &mut problems);
        unlisted_keys(settings, "transforms", &transform_aliases, &mut problems);
        unlisted_keys(settings, "predicates", &predicate_aliases, &mut problems);

        let mut predicates: BTreeMap<&str, Arc<dyn Predicate>> = BTreeMap::new();
        for alias in &predicate_aliases {
            let mut given = options_of(settings, "predicates", alias);
            let Some(class) = given.remove("type").filter(|c| !c.is_empty()) else {
                problems.push(format!(
                    "predicates.{alias}.type: required; the predicate's class, one of {}",
                    supported_predicates().collect::<Vec<_>>().join(", ")
                ));
                continue;
            };
            let Some((name, build)) = lookup(class, PREDICATES_PACKAGE, PREDICATES) else {
                problems.push(unknown_type(
                    "predicates",
                    alias,
                    class,
                    supported_predicates(),
                ));
                continue;
            };
            let mut opts = Options::new("predicates", alias, name, given);
            let built = build(&mut opts);
            let p = opts.finish();
            if p.is_empty() {
                if let Some(b) = built {
                    predicates.insert(alias, b);
                }
            }
            problems.extend(p);
        }

        let mut stages = Vec::new();
        for alias in &transform_aliases {
            let mut given = options_of(settings, "transforms", alias);
            let predicate_alias = given.remove("predicate");
            let negate = given.remove("negate");
            let Some(class) = given.remove("type").filter(|c| !c.is_empty()) else {
                problems.push(format!(
                    "transforms.{alias}.type: required; the transform's class, one of {}",
                    supported().collect::<Vec<_>>().join(", ")
                ));
                continue;
            };
            let builtin = lookup(class, TRANSFORMS_PACKAGE, TRANSFORMS);
            let registered = match builtin {
                Some(_) => None,
                None => {
                    let options = given
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect();
                    plugins.build_transform(class, &format!("transforms.{alias}."), &options)
                }
            };
            let chosen = match (builtin, registered) {
                (Some((name, build)), _) => Chosen::Builtin(name, *build),
                (None, Some((name, built))) => Chosen::Registered(name, built),
                (None, None) => {
                    problems.push(unknown_type("transforms", alias, class, supported()));
                    continue;
                }
            };
            let negate = match negate {
                None => false,
                Some(v) if v.eq_ignore_ascii_case("true") => true,
                Some(v) if v.eq_ignore_ascii_case("false") => false,
                Some(v) => {
                    problems.push(format!(
                        "transforms.{alias}.negate: {v:?} is not a boolean; expected true or false"
                    ));
                    false
                }
            };
            let predicate = match predicate_alias {
                None => {
                    if negate {
                        problems.push(format!(
                            "transforms.{alias}.negate: set without transforms.{alias}.predicate; name the predicate to negate"
                        ));
                    }
                    None
                }
                Some(p) if !predicate_aliases.iter().any(|a| a == p) => {
                    problems.push(format!(
                        "transforms.{alias}.predicate: {p:?} is not a defined predicate; list it in predicates= and set predicates.{p}.type"
                    ));
                    None
                }
                Some(p) => predicates.get(p).map(|predicate| PredicateUse {
                    alias: p.to_owned(),
                    predicate: predicate.clone(),
                    negate,
                }),
            };
            let (name, built, p) = match chosen {
                Chosen::Builtin(name, build) => {
                    let mut opts = Options::new("transforms", alias, name, given);
                    let built = build(&mut opts);
                    (name, built, opts.finish())
                }
                Chosen::Registered(name, Ok(built)) => (name, Some(built), Vec::new()),
                Chosen::Registered(name, Err(p)) => (name, None, p),
            };
            if p.is_empty() {
                if let Some(transform) = built {
                    stages.push(Stage {
                        alias: alias.clone(),
                        type_name: name,
                        transform,
                        predicate,
                    });
                }
            }
            problems.extend(p);
        }
        if problems.is_empty() {
            Ok(TransformChain { stages })
        } else {
            Err(Error::Config {
                context: None,
                problems,
            })
        }
    }

    /// True when there is no transform.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The number of transforms.
    pub fn len(&self) -> usize {
        self.stages.len()
    }

    /// Runs every transform whose predicate matches, in order, on `record`.
    ///
    /// # Errors
    /// The first transform failure, with the record's partition, offset and origin.
    pub fn apply(&self, mut record: SourceRecord) -> Result<Transformed, Box<TransformFailure>> {
        if self.stages.is_empty() {
            return Ok(Transformed::Record(record));
        }
        // Transforms never look at where a record came from; keeping it aside means a failure
        // or a drop still knows it without a clone.
        let partition = std::mem::take(&mut record.source_partition);
        let offset = std::mem::take(&mut record.source_offset);
        let origin = record.origin.take();
        for stage in &self.stages {
            if let Some(p) = &stage.predicate {
                if p.predicate.test(&record) == p.negate {
                    continue;
                }
            }
            match stage.transform.apply(record) {
                Ok(Some(r)) => record = r,
                Ok(None) => return Ok(Transformed::Dropped { partition, offset }),
                Err(e) => {
                    return Err(Box::new(TransformFailure {
                        partition,
                        offset,
                        origin,
                        error: Error::Transform {
                            alias: stage.alias.clone(),
                            type_name: stage.type_name,
                            source: Box::new(e),
                        },
                    }))
                }
            }
        }
        record.source_partition = partition;
        record.source_offset = offset;
        record.origin = origin;
        Ok(Transformed::Record(record))
    }
}

/// The aliases listed in `family` (`transforms` / `predicates`), reporting duplicates.
fn aliases(
    settings: &BTreeMap<String, String>,
    family: &str,
    problems: &mut Vec<String>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in settings
        .get(family)
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        if out.iter().any(|o| o == a) {
            problems.push(format!(
                "{family}: alias {a:?} is listed twice; give each a unique alias"
            ));
        } else {
            out.push(a.to_owned());
        }
    }
    out
}

/// Reports keys under `family.` that belong to no listed alias.
fn unlisted_keys(
    settings: &BTreeMap<String, String>,
    family: &str,
    aliases: &[String],
    problems: &mut Vec<String>,
) {
    let prefix = format!("{family}.");
    for key in settings.keys() {
        let Some(rest) = key.strip_prefix(&prefix) else {
            continue;
        };
        if aliases.iter().any(|a| {
            rest.strip_prefix(a.as_str())
                .is_some_and(|r| r.starts_with('.'))
        }) {
            continue;
        }
        let alias = rest.split('.').next().unwrap_or(rest);
        problems.push(format!(
            "{key}: {alias:?} is not listed in {family}= ({}); add it there or remove this key",
            if aliases.is_empty() {
                "empty".to_owned()
            } else {
                aliases.join(",")
            }
        ));
    }
}

/// The options of `family.alias.*`, prefix removed.
fn options_of<'s>(
    settings: &'s BTreeMap<String, String>,
    family: &str,
    alias: &str,
) -> BTreeMap<&'s str, &'s str> {
    let prefix = format!("{family}.{alias}.");
    settings
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|o| (o, v.as_str())))
        .collect()
}

fn unknown_type(
    family: &str,
    alias: &str,
    class: &str,
    supported: impl Iterator<Item = String>,
) -> String {
    let supported: Vec<String> = supported.collect();
    let hint = supported
        .iter()
        .map(|c| (strsim::jaro_winkler(class, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean {c:?}? "))
        .unwrap_or_default();
    format!(
        "{family}.{alias}.type: {class:?} is not a supported {}; {hint}supported: {}",
        if family == "transforms" {
            "transform"
        } else {
            "predicate"
        },
        supported.join(", ")
    )
}

#[cfg(test)]
mod tests;
