//! `/connector-plugins`: the backends, and validating a configuration for one.

use super::*;

/// `GET /connector-plugins`.
pub(crate) async fn plugins() -> Reply {
    let list: Vec<Value> = crate::registry::current()
        .connector_classes()
        .iter()
        .map(|c| json!({"class": c, "type": "source", "version": VERSION}))
        .collect();
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
