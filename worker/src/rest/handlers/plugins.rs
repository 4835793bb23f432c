//! `/connector-plugins`: the backends (with `?connectorsOnly=false`, also the converters,
//! header converters, transforms and predicates, built-in and registered), and validating a
//! configuration for one.

use super::*;

/// `GET /connector-plugins` (`?connectorsOnly=false`: converters, transforms and predicates too).
pub(crate) async fn plugins(RawQuery(q): RawQuery) -> Reply {
    let mut connectors_only = true;
    for (k, v) in query_pairs(&q) {
        if k == "connectorsOnly" {
            connectors_only = match v.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "connectorsOnly={v:?}: expected true or false"
                    )))
                }
            };
        }
    }
    let registry = crate::registry::current();
    let entry = |class: &str, kind: &str| json!({"class": class, "type": kind, "version": VERSION});
    let mut list: Vec<Value> = registry
        .connector_classes()
        .iter()
        .map(|c| entry(c, "source"))
        .collect();
    if !connectors_only {
        list.extend(
            registry
                .converter_classes()
                .iter()
                .map(|c| entry(c, "converter")),
        );
        list.extend(
            registry
                .header_converter_classes()
                .iter()
                .map(|c| entry(c, "header_converter")),
        );
        list.extend(
            registry
                .transform_classes()
                .iter()
                .map(|c| entry(c, "transformation")),
        );
        list.extend(
            sluice_core::transforms::supported_predicates().map(|c| entry(&c, "predicate")),
        );
    }
    ok(json!(list))
}

pub(super) async fn validate_config(
    State(app): AppState,
    Path(class): Path<String>,
    body: Bytes,
) -> Reply {
    validated(&class, &body, app.worker.config())
}

/// `PUT /connector-plugins/{class}/config/validate` for a worker of `worker`'s settings.
pub(crate) fn validated(
    class: &str,
    body: &Bytes,
    worker: &sluice_core::config::WorkerConfig,
) -> Reply {
    let class = class.to_owned();
    let registry = crate::registry::current();
    let backend_of = |c: &str| registry.backend_of(c);
    let Some(backend) = backend_of(&class) else {
        return Err(ApiError::bad_request(format!(
            "unknown connector plugin {class:?}; GET /connector-plugins lists them"
        )));
    };
    let mut settings = settings_of(&parse_body(body)?, "the configuration")?;
    match settings.get("connector.class") {
        Some(c) if backend_of(c) != Some(backend) => {
            return Err(ApiError::bad_request(format!(
                "the configuration's connector.class ({c:?}) is not the plugin in the request ({class:?})"
            )))
        }
        Some(_) => {}
        None => {
            settings.insert("connector.class".into(), class.clone());
        }
    }
    ok(validate::config_infos(&class, &settings, Some(worker)))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn listed(query: Option<&str>) -> Vec<(String, String)> {
        let reply = plugins(RawQuery(query.map(str::to_owned)))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let body = axum::body::to_bytes(reply.into_body(), usize::MAX)
            .await
            .unwrap();
        let list: Vec<Value> = serde_json::from_slice(&body).unwrap();
        list.iter()
            .map(|p| {
                (
                    p["type"].as_str().unwrap().to_owned(),
                    p["class"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn connectors_only_unless_asked_for_every_plugin() {
        let only = listed(None).await;
        assert!(only.iter().all(|(t, _)| t == "source"), "{only:?}");
        assert!(only.contains(&("source".into(), "s3".into())));
        assert_eq!(listed(Some("connectorsOnly=true")).await, only);
        let all = listed(Some("connectorsOnly=false")).await;
        for (kind, class) in [
            ("source", "local"),
            ("converter", "org.apache.kafka.connect.json.JsonConverter"),
            (
                "header_converter",
                "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            ),
            (
                "transformation",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
            (
                "predicate",
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            ),
        ] {
            assert!(
                all.contains(&(kind.into(), class.into())),
                "{kind} {class}: {all:?}"
            );
        }
        assert!(plugins(RawQuery(Some("connectorsOnly=maybe".into())))
            .await
            .is_err());
    }
}
