//! Checking a connector configuration as the worker would build it, and Kafka Connect's
//! validation response (`PUT /connector-plugins/{class}/config/validate`).

use serde_json::{json, Value};
use sluice_core::config::defs::{KeyDef, Kind};
use sluice_core::config::{ConnectorConfig, Settings};

use crate::registry::current;

/// Checks `settings` as `sluice validate` does: every key, then the backend and the input
/// format are built (no network). Returns the configuration, or one line per problem, each
/// starting with the key it is about (`key: what to do`).
///
/// Config provider references (`${file:...}`, `${env:...}`) are resolved with the providers
/// `worker` declares; the configuration's [`ConnectorConfig::raw`] keeps them as written.
pub fn check(
    settings: &Settings,
    worker: Option<&sluice_core::config::WorkerConfig>,
) -> Result<ConnectorConfig, Vec<String>> {
    let registry = current();
    let config = match ConnectorConfig::from_settings_resolved(&registry, settings, worker) {
        Ok(c) => c,
        Err(sluice_core::Error::Config { problems, .. }) => return Err(problems),
        Err(e) => return Err(vec![sluice_core::error_chain(&e)]),
    };
    let mut problems = Vec::new();
    if let Err(e) = crate::registry::build_backend(&registry, &config) {
        problems.push(format!(
            "connector.class: {}",
            sluice_core::error_chain(&*e)
        ));
    }
    if let Err(e) = crate::registry::build_transformer(&registry, &config) {
        problems.push(format!("input.format: {}", sluice_core::error_chain(&*e)));
    }
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

/// Kafka Connect's message for a configuration with errors (400 on create or update).
pub fn invalid_message(problems: &[String]) -> String {
    let mut m = format!(
        "Connector configuration is invalid: {} error(s):",
        problems.len()
    );
    for p in problems {
        m.push('\n');
        m.push_str(p);
    }
    m.push_str("\nPUT /connector-plugins/{class}/config/validate lists them by key.");
    m
}

/// The key a problem line is about: the text before its first `": "`.
fn problem_key(problem: &str) -> &str {
    problem.split_once(": ").map_or("", |(k, _)| k.trim())
}

fn definition(def: &KeyDef, order: usize) -> Value {
    json!({
        "name": def.name,
        "type": def.kind.connect_type(),
        "required": def.required,
        "default_value": def.default,
        "importance": if def.required { "HIGH" } else { "MEDIUM" },
        "documentation": def.doc,
        "group": "Common",
        "order": order,
        "width": "NONE",
        "display_name": def.name,
        "dependents": [],
    })
}

fn value(name: &str, value: Option<String>, recommended: Vec<&str>, errors: Vec<String>) -> Value {
    json!({
        "name": name,
        "value": value,
        "recommended_values": recommended,
        "errors": errors,
        "visible": true,
    })
}

/// Kafka Connect's `ConfigInfos` for `settings` of connector plugin `class`: one entry per
/// connector key (with the value given or its default) plus one per key that is not a known
/// key, each with its errors (Sluice's "did you mean" included).
pub fn config_infos(
    class: &str,
    settings: &Settings,
    worker: Option<&sluice_core::config::WorkerConfig>,
) -> Value {
    let problems = check(settings, worker).err().unwrap_or_default();
    let mut used = vec![false; problems.len()];
    let mut errors_of = |key: &str| -> Vec<String> {
        problems
            .iter()
            .zip(used.iter_mut())
            .filter(|(p, _)| problem_key(p) == key)
            .map(|(p, u)| {
                *u = true;
                p.clone()
            })
            .collect()
    };
    // The keys of every connector, of the formats and of the plugin's own backend.
    let registry = current();
    let backend = settings
        .get("connector.class")
        .and_then(|c| registry.backend_of(c));
    let defs: Vec<&KeyDef> = registry
        .sets()
        .iter()
        .filter(|set| set.backend().is_none_or(|b| Some(b) == backend))
        .flat_map(|set| set.keys.iter())
        .collect();
    let (formats, classes) = (registry.formats(), registry.connector_classes());
    let mut configs = Vec::new();
    for (i, def) in defs.iter().copied().enumerate() {
        let given = settings.get(def.name).cloned();
        let shown = match (&def.kind, given) {
            (Kind::Password, Some(_)) => Some("[hidden]".to_owned()),
            (_, Some(v)) => Some(v),
            (_, None) => def.default.map(str::to_owned),
        };
        let recommended = match def.kind {
            Kind::Enum(values) => values.to_vec(),
            Kind::Format => formats.clone(),
            Kind::Backend => classes.clone(),
            Kind::Converter | Kind::HeaderConverter => {
                registry.values(def.kind).unwrap_or_default()
            }
            Kind::Bool => vec!["true", "false"],
            _ => Vec::new(),
        };
        configs.push(json!({
            "definition": definition(def, i + 1),
            "value": value(def.name, shown, recommended, errors_of(def.name)),
        }));
    }
    // Keys given that are not connector keys (prefixed pass-through keys, or unknown ones).
    for (k, v) in settings {
        if defs.iter().any(|d| d.name == k) {
            continue;
        }
        let errors = errors_of(k);
        configs.push(json!({
            "definition": {
                "name": k, "type": "STRING", "required": false, "default_value": null,
                "importance": "LOW", "documentation": "", "group": "Common",
                "order": configs.len() + 1, "width": "NONE", "display_name": k, "dependents": [],
            },
            "value": value(k, Some(super::secrets::shown(k, v)), Vec::new(), errors),
        }));
    }
    // Problems about no single given key (e.g. a missing combination) go to connector.class.
    let rest: Vec<String> = problems
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(p, _)| p.clone())
        .collect();
    if !rest.is_empty() {
        if let Some(entry) = configs
            .iter_mut()
            .find(|c| c["definition"]["name"] == "connector.class")
        {
            if let Some(errs) = entry["value"]["errors"].as_array_mut() {
                errs.extend(rest.into_iter().map(Value::String));
            }
        }
    }
    json!({
        "name": class,
        "error_count": problems.len(),
        "groups": ["Common"],
        "configs": configs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn entry<'a>(infos: &'a Value, key: &str) -> &'a Value {
        infos["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["definition"]["name"] == key)
            .unwrap_or_else(|| panic!("no entry for {key}"))
    }

    #[test]
    fn each_problem_lands_on_its_key_with_the_suggestion() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(&[
            ("name", "n"),
            ("connector.class", "local"),
            ("local.path", dir.path().to_str().unwrap()),
            ("topic", "t"),
            ("tasks.max", "0"),
            ("topik", "t"),
        ]);
        let infos = config_infos("local", &s, None);
        assert_eq!(infos["name"], "local");
        assert_eq!(infos["error_count"], 2, "{infos}");
        let tasks = &entry(&infos, "tasks.max")["value"];
        assert_eq!(tasks["value"], "0");
        assert!(tasks["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("tasks.max: "));
        let topik = &entry(&infos, "topik")["value"];
        assert!(topik["errors"][0]
            .as_str()
            .unwrap()
            .contains("did you mean \"topic\""));
        // A key not given shows its default, with no error.
        let format = &entry(&infos, "input.format")["value"];
        assert_eq!(format["value"], "bytes");
        assert_eq!(format["errors"], json!([]));
        assert!(check(&s, None).is_err());
    }

    #[test]
    fn secrets_are_hidden_and_a_valid_configuration_has_no_error() {
        let s = settings(&[
            ("name", "n"),
            ("connector.class", "s3"),
            ("aws.s3.bucket.name", "b"),
            ("aws.access.key.id", "AKIA-SECRET-ID"),
            ("value.converter", "io.confluent.connect.avro.AvroConverter"),
            (
                "value.converter.schema.registry.url",
                "https://sr.example:8081",
            ),
            ("value.converter.basic.auth.credentials.source", "USER_INFO"),
            (
                "value.converter.basic.auth.user.info",
                "SRKEY:sr-very-secret",
            ),
            ("aws.secret.access.key", "very-secret"),
            ("topic", "t"),
        ]);
        let infos = config_infos("s3", &s, None);
        assert_eq!(infos["error_count"], 0, "{infos}");
        let text = infos.to_string();
        assert!(!text.contains("very-secret") && !text.contains("AKIA-SECRET-ID"));
        assert!(!text.contains("SRKEY"), "{text}");
        assert_eq!(
            entry(&infos, "aws.secret.access.key")["value"]["value"],
            "[hidden]"
        );
        assert!(check(&s, None).is_ok());
    }
}
