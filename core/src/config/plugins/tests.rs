use std::sync::Arc;

use super::*;
use crate::config::defs::{key, optional, required, Kind};
use crate::config::CONNECTOR_SETS;
use crate::data::{SchemaAndValue, Value};
use crate::offsets::OffsetMap;
use crate::record::SourceRecord;
use crate::transforms::{TransformChain, Transformed};

/// Writes a string value with a suffix; `is_key` is kept to show it reaches the constructor.
#[derive(Debug)]
struct Suffix {
    suffix: String,
    is_key: bool,
}

impl Converter for Suffix {
    fn from_connect_data(&self, _topic: &str, data: &SchemaAndValue) -> Result<Option<Vec<u8>>> {
        let side = if self.is_key { "k" } else { "v" };
        match &data.value {
            Value::String(s) => Ok(Some(format!("{s}{}{side}", self.suffix).into_bytes())),
            other => Err(Error::Data(format!("not a string: {other:?}"))),
        }
    }
}

const SUFFIX: KeySet = KeySet {
    owner: Owner::Converter {
        class: "com.example.SuffixConverter",
        aliases: &["suffix"],
    },
    doc: "Strings with a suffix.",
    keys: &[
        key("suffix.text", Kind::String, "!", "The suffix."),
        optional("suffix.repeat", Kind::Int { min: 1, max: 3 }, "Unused."),
        optional("suffix.token", Kind::Password, "A secret."),
    ],
    prefixes: &[],
    check: None,
};

/// Sets the record's topic to `topic.name`.
#[derive(Debug)]
struct Retopic(String);

impl Transformation for Retopic {
    fn apply(&self, mut record: SourceRecord) -> Result<Option<SourceRecord>> {
        record.topic = self.0.clone();
        Ok(Some(record))
    }
}

fn no_dashes(keys: &Keys<'_>) -> Result<Vec<String>> {
    Ok(match keys.string("topic.name")? {
        Some(t) if t.contains('-') => vec![format!("topic.name {t:?} has a dash")],
        _ => Vec::new(),
    })
}

const RETOPIC: KeySet = KeySet {
    owner: Owner::Transform {
        class: "com.example.Retopic",
        aliases: &[],
    },
    doc: "Sends every record to one topic.",
    keys: &[required("topic.name", Kind::String, "The topic.")],
    prefixes: &[],
    check: Some(no_dashes),
};

fn registry() -> Registry {
    Registry::new(CONNECTOR_SETS)
        .unwrap()
        .with_converter(SUFFIX, |keys, is_key| {
            Ok(Arc::new(Suffix {
                suffix: keys.string("suffix.text")?.unwrap_or_default(),
                is_key,
            }))
        })
        .unwrap()
        .with_transform(RETOPIC, |keys| {
            Ok(Arc::new(Retopic(
                keys.string("topic.name")?.unwrap_or_default(),
            )))
        })
        .unwrap()
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn problems<T: std::fmt::Debug>(r: Result<T>) -> Vec<String> {
    match r {
        Err(Error::Config { problems, .. }) => problems,
        other => panic!("expected config problems, got {other:?}"),
    }
}

fn string(s: &str) -> SchemaAndValue {
    SchemaAndValue::schemaless(Value::String(s.into()))
}

#[test]
fn a_registered_converter_is_built_with_its_defaults_and_side() {
    let r = registry();
    let c = r
        .build_converter("key.converter", "suffix", &Settings::new(), true)
        .unwrap();
    assert_eq!(
        c.from_connect_data("t", &string("a")).unwrap().unwrap(),
        b"a!k"
    );
    let given = settings(&[("suffix.text", "?")]);
    let c = r
        .build_converter(
            "value.converter",
            "com.example.SuffixConverter",
            &given,
            false,
        )
        .unwrap();
    assert_eq!(
        c.from_connect_data("t", &string("a")).unwrap().unwrap(),
        b"a?v"
    );
    let h = r.build_header_converter("suffix", &given).unwrap();
    assert!(!h.is_simple());
}

#[test]
fn a_registered_converters_keys_are_checked_strictly() {
    let given = settings(&[("suffix.txt", "?"), ("suffix.repeat", "9")]);
    let p = problems(registry().build_converter("value.converter", "suffix", &given, false));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p.iter()
            .any(|l| l.starts_with("value.converter.suffix.txt: unknown key")
                && l.contains("did you mean \"value.converter.suffix.text\"?")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("value.converter.suffix.repeat: 9 is out of range")),
        "{p:?}"
    );
    let p = problems(registry().build_header_converter("suffix", &settings(&[("x", "1")])));
    assert!(p[0].starts_with("header.converter.x: unknown key"), "{p:?}");
}

#[test]
fn an_unknown_converter_class_suggests_registered_and_built_in_ones() {
    let r = registry();
    let p = problems(r.build_converter(
        "value.converter",
        "com.example.SufixConverter",
        &Settings::new(),
        false,
    ));
    assert!(
        p[0].contains("did you mean \"com.example.SuffixConverter\"?"),
        "{p:?}"
    );
    let p = problems(r.build_converter("value.converter", "JsonConvertr", &Settings::new(), false));
    assert!(p[0].contains("did you mean \"JsonConverter\"?"), "{p:?}");
    // The key itself is checked against the same list.
    let s = settings(&[("value.converter", "sufix"), ("key.converter", "suffix")]);
    let p: Vec<String> = r
        .check_keys(&s)
        .into_iter()
        .filter(|l| l.contains("converter"))
        .collect();
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("value.converter: \"sufix\" is not valid (did you mean \"suffix\"?)"),
        "{p:?}"
    );
    // A built-in converter keeps its own checks, under the key it is given for.
    let p = problems(r.build_converter(
        "key.converter",
        "json",
        &settings(&[("schemas.enabled", "x")]),
        true,
    ));
    assert!(p[0].starts_with("key.converter.schemas.enabled"), "{p:?}");
}

#[test]
fn names_and_keys_are_registered_once() {
    let twice = registry().with_converter(SUFFIX, |_, _| {
        Ok(Arc::new(crate::convert::StringConverter::new()))
    });
    let p = problems(twice);
    assert!(
        p.iter()
            .any(|l| l.contains("\"suffix\" is registered already")),
        "{p:?}"
    );
    let builtin = KeySet {
        owner: Owner::Converter {
            class: "org.apache.kafka.connect.json.JsonConverter",
            aliases: &[],
        },
        ..SUFFIX
    };
    let p = problems(Registry::new([]).unwrap().with_converter(builtin, |_, _| {
        Ok(Arc::new(crate::convert::StringConverter::new()))
    }));
    assert!(p[0].contains("registered already"), "{p:?}");
    let transform_as_converter = Registry::new([]).unwrap().with_transform(SUFFIX, |_| {
        Ok(Arc::new(Retopic(String::new())) as Arc<dyn Transformation>)
    });
    assert!(problems(transform_as_converter)[0].contains("give it Owner::Transform"));
    let builtin_transform = KeySet {
        owner: Owner::Transform {
            class: "org.apache.kafka.connect.transforms.RegexRouter",
            aliases: &[],
        },
        ..RETOPIC
    };
    let p = problems(
        Registry::new([])
            .unwrap()
            .with_transform(builtin_transform, |_| {
                Ok(Arc::new(Retopic(String::new())) as Arc<dyn Transformation>)
            }),
    );
    assert!(p[0].contains("registered already"), "{p:?}");
}

fn chain(r: &Registry, pairs: &[(&str, &str)]) -> Result<TransformChain> {
    TransformChain::from_settings_with(&settings(pairs), r)
}

#[test]
fn a_registered_transform_runs_in_the_chain_with_built_in_ones() {
    let r = registry();
    let c = chain(
        &r,
        &[
            ("transforms", "to,route"),
            ("transforms.to.type", "com.example.Retopic"),
            ("transforms.to.topic.name", "orders"),
            (
                "transforms.route.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
            ("transforms.route.regex", "(.*)"),
            ("transforms.route.replacement", "$1_copy"),
        ],
    )
    .unwrap();
    let record = SourceRecord {
        source_partition: OffsetMap::new(),
        source_offset: OffsetMap::new(),
        topic: "in".into(),
        kafka_partition: None,
        key: SchemaAndValue::null(),
        value: string("v"),
        timestamp: None,
        headers: Vec::new(),
        origin: None,
    };
    match c.apply(record).unwrap() {
        Transformed::Record(r) => assert_eq!(r.topic, "orders_copy"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_registered_transforms_keys_and_class_are_checked() {
    let r = registry();
    let p = problems(chain(
        &r,
        &[
            ("transforms", "to"),
            ("transforms.to.type", "com.example.Retopic"),
            ("transforms.to.topic.nam", "x"),
        ],
    ));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains("did you mean \"transforms.to.topic.name\"?"),
        "{p:?}"
    );
    assert!(
        p[1].starts_with("transforms.to.topic.name: required"),
        "{p:?}"
    );
    let p = problems(chain(
        &r,
        &[
            ("transforms", "to"),
            ("transforms.to.type", "com.example.Retopic"),
            ("transforms.to.topic.name", "a-b"),
        ],
    ));
    assert_eq!(p, ["transforms.to: topic.name \"a-b\" has a dash"]);
    let p = problems(chain(
        &r,
        &[
            ("transforms", "to"),
            ("transforms.to.type", "com.example.Retopik"),
        ],
    ));
    assert!(
        p[0].contains("did you mean \"com.example.Retopic\"?"),
        "{p:?}"
    );
    // Without the registry the class is unknown.
    let p = problems(chain(
        &Registry::new([]).unwrap(),
        &[
            ("transforms", "to"),
            ("transforms.to.type", "com.example.Retopic"),
        ],
    ));
    assert!(p[0].contains("is not a supported transform"), "{p:?}");
}

#[test]
fn the_reference_documents_registered_components() {
    let doc = registry().reference_markdown();
    assert!(
        doc.contains("## Converter `com.example.SuffixConverter`\n\nStrings with a suffix."),
        "{doc}"
    );
    assert!(
        doc.contains("| `suffix.text` | string | `!` | The suffix. |"),
        "{doc}"
    );
    assert!(doc.contains("## Transform `com.example.Retopic`"), "{doc}");
    assert!(
        doc.contains("| `topic.name` | string | required | The topic. |"),
        "{doc}"
    );
    let worker = registry().with_sets([]).unwrap();
    assert!(worker.converter_classes().contains(&"suffix"));
    assert!(worker
        .transform_classes()
        .iter()
        .any(|c| c == "com.example.Retopic"));
}

#[test]
fn a_registered_password_key_is_a_secret_under_any_prefix() {
    let r = registry();
    assert!(r.is_registered_secret("value.converter.suffix.token"));
    assert!(r.is_registered_secret("header.converter.suffix.token"));
    assert!(!r.is_registered_secret("value.converter.suffix.text"));
    assert!(!r.is_registered_secret("transforms.to.topic.name"));
    assert!(!r.is_registered_secret("suffix.token"));
}
