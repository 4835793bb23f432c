//! Kafka's config providers, so no secret has to sit in a worker file: a value
//! `${file:/path/to/secrets.properties:key}` is the value of `key` in that properties file
//! (Kafka's `FileConfigProvider`), `${env:NAME}` the environment variable `NAME`
//! (`EnvVarConfigProvider`). As in Kafka Connect they are declared first:
//! `config.providers=file,env` with `config.providers.file.class=...FileConfigProvider` and
//! `config.providers.env.class=...EnvVarConfigProvider`.

use std::collections::BTreeMap;

use super::Settings;

/// The provider classes Sluice implements, by their Kafka class names.
pub const PROVIDER_CLASSES: [(&str, Provider); 2] = [
    (
        "org.apache.kafka.common.config.provider.FileConfigProvider",
        Provider::File,
    ),
    (
        "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        Provider::Env,
    ),
];

/// A config provider implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `FileConfigProvider`: `${name:path:key}`.
    File,
    /// `EnvVarConfigProvider`: `${name:VARIABLE}`.
    Env,
}

/// Where providers read from: the file system and the environment (a stand-in in tests).
pub trait Lookup {
    /// The text of the file at `path`.
    fn file(&self, path: &str) -> std::io::Result<String>;
    /// The environment variable `name`.
    fn env(&self, name: &str) -> Option<String>;
}

/// The real file system and environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct System;

impl Lookup for System {
    fn file(&self, path: &str) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// `settings` with every `${provider:...}` reference replaced by its value. Every problem is
/// returned, one line each, naming the key (never a resolved value).
pub fn resolve(settings: &Settings, lookup: &dyn Lookup) -> Result<Settings, Vec<String>> {
    let mut problems = Vec::new();
    let mut providers: BTreeMap<String, Provider> = BTreeMap::new();
    if let Some(names) = settings.get("config.providers") {
        for name in super::split_list(names) {
            let class_key = format!("config.providers.{name}.class");
            match settings.get(&class_key) {
                None => problems.push(format!(
                    "{class_key}: required for the provider {name:?} named in config.providers; e.g. {}",
                    PROVIDER_CLASSES[0].0
                )),
                Some(class) => match PROVIDER_CLASSES.iter().find(|(c, _)| c == class) {
                    Some((_, p)) => {
                        providers.insert(name, *p);
                    }
                    None => problems.push(format!(
                        "{class_key}: {class:?} is not a provider Sluice has; use {}",
                        PROVIDER_CLASSES.map(|(c, _)| c).join(" or ")
                    )),
                },
            }
        }
    }
    for key in settings.keys() {
        if let Some(name) = key
            .strip_prefix("config.providers.")
            .and_then(|rest| rest.strip_suffix(".class"))
        {
            if !providers.contains_key(name) && !problems.iter().any(|p| p.starts_with(key)) {
                problems.push(format!(
                    "{key}: the provider {name:?} is not listed in config.providers; add it there"
                ));
            }
        }
    }
    let mut files: BTreeMap<String, Result<Settings, String>> = BTreeMap::new();
    let mut out = Settings::new();
    for (key, value) in settings {
        let mut resolved = String::new();
        let mut rest = value.as_str();
        let mut ok = true;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            resolved.push_str(&rest[..start]);
            let reference = &rest[start + 2..start + len];
            rest = &rest[start + len + 1..];
            match reference_value(reference, &providers, lookup, &mut files) {
                Ok(v) => resolved.push_str(&v),
                Err(e) => {
                    problems.push(format!("{key}: {e}"));
                    ok = false;
                }
            }
        }
        resolved.push_str(rest);
        if ok {
            out.insert(key.clone(), resolved);
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The value of one reference (`provider:path:key` or `provider:key`).
fn reference_value(
    reference: &str,
    providers: &BTreeMap<String, Provider>,
    lookup: &dyn Lookup,
    files: &mut BTreeMap<String, Result<Settings, String>>,
) -> Result<String, String> {
    let Some((name, rest)) = reference.split_once(':') else {
        return Err(format!(
            "${{{reference}}}: expected ${{provider:path:key}} or ${{provider:key}}"
        ));
    };
    let Some(provider) = providers.get(name) else {
        return Err(format!(
            "${{{name}:...}}: no config provider {name:?} is declared; add config.providers={name} and config.providers.{name}.class=<its class>"
        ));
    };
    match provider {
        Provider::Env => lookup.env(rest).ok_or_else(|| {
            format!("${{{name}:{rest}}}: the environment variable {rest} is not set")
        }),
        Provider::File => {
            let Some((path, key)) = rest.rsplit_once(':') else {
                return Err(format!(
                    "${{{name}:{rest}}}: expected ${{{name}:/path/to/file.properties:key}}"
                ));
            };
            let file = files.entry(path.to_owned()).or_insert_with(|| {
                lookup
                    .file(path)
                    .map_err(|e| format!("cannot read {path}: {e}"))
                    .and_then(|text| {
                        super::parse_properties(&text)
                            .map_err(|e| format!("{path} is not a properties file: {e}"))
                    })
            });
            match file {
                Err(e) => Err(format!("${{{name}:{path}:{key}}}: {e}")),
                Ok(values) => values
                    .get(key)
                    .cloned()
                    .ok_or_else(|| format!("${{{name}:{path}:{key}}}: {path} has no key {key:?}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;

    impl Lookup for Fake {
        fn file(&self, path: &str) -> std::io::Result<String> {
            match path {
                "/run/secrets/kafka.properties" => Ok("username=alice\npassword=pa55word\n".into()),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file",
                )),
            }
        }
        fn env(&self, name: &str) -> Option<String> {
            (name == "KAFKA_PASSWORD").then(|| "from-env".into())
        }
    }

    fn s(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const DECLARED: [(&str, &str); 3] = [
        ("config.providers", "file,env"),
        (
            "config.providers.file.class",
            "org.apache.kafka.common.config.provider.FileConfigProvider",
        ),
        (
            "config.providers.env.class",
            "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        ),
    ];

    #[test]
    fn file_and_env_references_resolve() {
        let mut input = s(&DECLARED);
        input.extend(s(&[
            ("sasl.jaas.config", "x.PlainLoginModule required username=\"${file:/run/secrets/kafka.properties:username}\" password=\"${file:/run/secrets/kafka.properties:password}\";"),
            ("ssl.key.password", "${env:KAFKA_PASSWORD}"),
            ("plain", "no reference; a lone $ and { stay"),
        ]));
        let out = resolve(&input, &Fake).unwrap();
        assert_eq!(
            out["sasl.jaas.config"],
            "x.PlainLoginModule required username=\"alice\" password=\"pa55word\";"
        );
        assert_eq!(out["ssl.key.password"], "from-env");
        assert_eq!(out["plain"], "no reference; a lone $ and { stay");
    }

    #[test]
    fn every_problem_names_its_key_and_no_secret() {
        let mut input = s(&DECLARED);
        input.extend(s(&[
            ("a", "${env:MISSING}"),
            ("b", "${file:/run/secrets/kafka.properties:nokey}"),
            ("c", "${file:/nope.properties:k}"),
            ("d", "${vault:secret/x}"),
            ("e", "${file:nopath}"),
        ]));
        let problems = resolve(&input, &Fake).unwrap_err().join("\n");
        for needle in [
            "a: ${env:MISSING}: the environment variable MISSING is not set",
            "b: ${file:/run/secrets/kafka.properties:nokey}: /run/secrets/kafka.properties has no key \"nokey\"",
            "c: ${file:/nope.properties:k}: cannot read /nope.properties",
            "d: ${vault:...}: no config provider \"vault\" is declared",
            "e: ${file:nopath}: expected ${file:/path/to/file.properties:key}",
        ] {
            assert!(problems.contains(needle), "{needle:?} not in\n{problems}");
        }
        assert!(!problems.contains("pa55word") && !problems.contains("alice"));
    }

    #[test]
    fn providers_must_be_declared_with_a_known_class() {
        let problems = resolve(&s(&[("x", "${env:KAFKA_PASSWORD}")]), &Fake)
            .unwrap_err()
            .join("\n");
        assert!(problems.contains("add config.providers=env"), "{problems}");
        let problems = resolve(
            &s(&[
                ("config.providers", "vault,file"),
                ("config.providers.vault.class", "com.example.Vault"),
                (
                    "config.providers.env.class",
                    "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
                ),
            ]),
            &Fake,
        )
        .unwrap_err()
        .join("\n");
        for needle in [
            "config.providers.vault.class: \"com.example.Vault\" is not a provider",
            "config.providers.file.class: required",
            "config.providers.env.class: the provider \"env\" is not listed",
        ] {
            assert!(problems.contains(needle), "{needle:?} not in\n{problems}");
        }
    }
}
