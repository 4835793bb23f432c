//! The API's handlers, one per Kafka Connect endpoint, by resource: connectors, their offsets,
//! connector plugins, the worker itself; the request and response helpers they share.

mod connectors;
mod loggers;
mod offsets;
mod plugins;
mod worker;

pub(crate) use connectors::put_name;
use connectors::*;
use loggers::*;
pub(crate) use loggers::{logger_json, loggers_json, set_level};
use offsets::*;
pub(crate) use offsets::{altered_json, offsets_batch, offsets_json, reset_json};
use plugins::*;
pub(crate) use plugins::{plugins, validated};
use worker::*;
pub(crate) use worker::{kafka_cluster_id, ui, wants_html};

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sluice_core::config::Settings;
use sluice_core::offsets::{map_from_json, map_to_json, OffsetMap, RECORD_COUNT};

use super::error::ApiError;
use super::{validate, App};
use crate::persist::parse_target;
use crate::{ConnectorStatus, Error, TargetState};

type AppState = State<Arc<App>>;
type Reply = Result<Response, ApiError>;

/// The version every response reports.
const VERSION: &str = env!("CARGO_PKG_VERSION");

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(root))
        .route("/ui", get(ui))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/connectors", get(list).post(create))
        .route("/connectors/{name}", get(info).delete(delete))
        .route(
            "/connectors/{name}/config",
            get(get_config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{name}/status", get(status))
        .route("/connectors/{name}/tasks", get(tasks))
        .route("/connectors/{name}/tasks/{task}/status", get(task_status))
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(restart_task),
        )
        .route("/connectors/{name}/restart", post(restart))
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route("/connectors/{name}/topics", get(topics))
        .route("/connectors/{name}/topics/reset", put(reset_topics))
        .route(
            "/connectors/{name}/offsets",
            get(get_offsets).patch(alter_offsets).delete(reset_offsets),
        )
        .route("/admin/loggers", get(list_loggers))
        .route("/admin/loggers/{name}", get(get_logger).put(set_logger))
        .route("/connector-plugins", get(plugins))
        .route(
            "/connector-plugins/{class}/config/validate",
            put(validate_config),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ApiError {
    ApiError::not_found("HTTP 404 Not Found: no such endpoint; see docs/operations.md")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed: this endpoint does not take this method; see docs/operations.md",
    )
}

fn ok(v: Value) -> Reply {
    Ok(Json(v).into_response())
}

fn with_status(status: StatusCode, v: Value) -> Reply {
    Ok((status, Json(v)).into_response())
}

fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn accepted() -> Reply {
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `key=value` pairs of a query string (values are plain words here: no decoding needed).
pub(crate) fn query_pairs(q: &Option<String>) -> Vec<(String, String)> {
    q.as_deref()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

pub(crate) fn query_bool(q: &Option<String>, key: &str) -> Result<bool, ApiError> {
    match query_pairs(q).into_iter().find(|(k, _)| k == key) {
        None => Ok(false),
        Some((_, v)) => match v.to_ascii_lowercase().as_str() {
            "true" | "" => Ok(true),
            "false" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "query parameter {key}={v:?}: expected true or false"
            ))),
        },
    }
}

pub(crate) fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request needs a JSON body; see docs/operations.md for its shape",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// A configuration object's values as strings (numbers and booleans as written; `null` kept as
/// `None`, which only PATCH accepts).
pub(crate) fn config_values(
    v: &Value,
    what: &str,
) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let obj = v.as_object().ok_or_else(|| {
        ApiError::bad_request(format!(
            "{what} must be a JSON object of string values, e.g. {{\"connector.class\": \"s3\"}}"
        ))
    })?;
    obj.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Null => None,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "{what}: the value of {k:?} must be a string"
                    )))
                }
            };
            Ok((k.clone(), s))
        })
        .collect()
}

pub(crate) fn settings_of(v: &Value, what: &str) -> Result<Settings, ApiError> {
    config_values(v, what)?
        .into_iter()
        .map(|(k, v)| match v {
            Some(v) => Ok((k, v)),
            None => Err(ApiError::bad_request(format!(
                "{what}: the value of {k:?} is null; give a string or leave the key out"
            ))),
        })
        .collect()
}
