//! Kafka Connect's REST API over a [`Cluster`]: any worker answers for the whole cluster
//! (connectors from the config topic, task states from the status topic) and its writes go to
//! the config topic, so they take effect on every worker. A write returns once this worker has
//! read it back, so a read that follows on the same worker sees it.
//!
//! Served here (connectors, cluster-wide): `GET|POST /connectors` (`?expand=status|info`),
//! `GET|DELETE /connectors/{name}`, `GET|PUT|PATCH /connectors/{name}/config`,
//! `GET /connectors/{name}/status`, `GET /connectors/{name}/tasks`,
//! `GET /connectors/{name}/tasks/{id}/status`, `PUT /connectors/{name}/pause|resume|stop`.
//! In `ops.rs`: restarts, offsets and topics (cluster-wide), connector plugins, and what is this
//! worker's own: `GET /` (and the status page), `GET /metrics`, `/admin/loggers`,
//! `GET /connectors/{name}/metrics`.

mod ops;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sluice_core::config::Settings;

use super::records::TaskState;
use super::Cluster;
use crate::loggers::LogLevels;
use crate::rest::{
    config_values, parse_body, put_name, query_pairs, settings_of, validate, ApiError,
};
use crate::state::TargetState;

/// What the handlers share: the cluster, and this process's log levels when the API may
/// change them.
pub struct Front {
    cluster: Arc<Cluster>,
    loggers: Option<Arc<LogLevels>>,
    /// The Kafka cluster id, once known.
    kafka_cluster_id: std::sync::Mutex<Option<String>>,
}

impl std::ops::Deref for Front {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

type AppState = State<Arc<Front>>;
type Reply = Result<Response, ApiError>;

/// The routes of the cluster API; `/admin/loggers` changes `loggers` when given.
pub fn routes(cluster: Arc<Cluster>, loggers: Option<Arc<LogLevels>>) -> Router {
    Router::new()
        .route("/", get(ops::root))
        .route("/ui", get(crate::rest::ui))
        .route("/metrics", get(ops::prometheus))
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
            post(ops::restart_task),
        )
        .route("/connectors/{name}/restart", post(ops::restart))
        .route("/connectors/{name}/metrics", get(ops::metrics))
        .route("/connectors/{name}/topics", get(ops::topics))
        .route("/connectors/{name}/topics/reset", put(ops::reset_topics))
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route(
            "/connectors/{name}/offsets",
            get(ops::get_offsets)
                .patch(ops::alter_offsets)
                .delete(ops::reset_offsets),
        )
        .route("/connector-plugins", get(crate::rest::plugins))
        .route(
            "/connector-plugins/{class}/config/validate",
            put(ops::validate_config),
        )
        .route("/admin/loggers", get(ops::list_loggers))
        .route(
            "/admin/loggers/{name}",
            get(ops::get_logger).put(ops::set_logger),
        )
        .fallback(|| async {
            ApiError::not_found(
                "HTTP 404 Not Found: no such endpoint in distributed mode; see docs/distributed.md",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed: this endpoint does not take this method; see docs/distributed.md",
            )
        })
        .with_state(Arc::new(Front {
            cluster,
            loggers,
            kafka_cluster_id: std::sync::Mutex::new(None),
        }))
}

fn ok(v: Value) -> Reply {
    Ok(Json(v).into_response())
}

fn checked(cluster: &Cluster, settings: &Settings) -> Result<(), ApiError> {
    validate::check(settings, Some(cluster.worker_config()))
        .map(|_| ())
        .map_err(|p| ApiError::bad_request(validate::invalid_message(&p)))
}

fn info_json(cluster: &Cluster, name: &str) -> Result<Value, ApiError> {
    let config = cluster.connector_config(name)?;
    let tasks: Vec<Value> = (0..cluster.task_states(name)?.len())
        .map(|t| json!({"connector": name, "task": t}))
        .collect();
    Ok(json!({
        "name": name,
        "config": crate::rest::secrets::masked(&config),
        "tasks": tasks,
        "type": "source",
    }))
}

/// The connector's state: its target state (it has no instance of its own to fail).
fn connector_state(cluster: &Cluster, name: &str) -> Result<&'static str, ApiError> {
    Ok(match cluster.target(name)? {
        TargetState::Running => "RUNNING",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    })
}

fn task_json(id: usize, t: TaskState) -> Value {
    let mut v = json!({"id": id, "state": t.state, "worker_id": t.worker_id});
    if let Some(trace) = t.trace {
        v["trace"] = trace.into();
    }
    v
}

fn status_json(cluster: &Cluster, name: &str) -> Result<Value, ApiError> {
    let state = connector_state(cluster, name)?;
    let tasks: Vec<Value> = cluster
        .task_states(name)?
        .into_iter()
        .enumerate()
        .map(|(id, t)| task_json(id, t))
        .collect();
    Ok(json!({
        "name": name,
        "connector": {"state": state, "worker_id": cluster.worker_id()},
        "tasks": tasks,
        "type": "source",
    }))
}

async fn list(State(c): AppState, RawQuery(q): RawQuery) -> Reply {
    let expand: Vec<String> = query_pairs(&q)
        .into_iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v)
        .collect();
    let names = c.names();
    if expand.is_empty() {
        return ok(json!(names));
    }
    let mut out = Map::new();
    for name in names {
        let mut entry = Map::new();
        for e in &expand {
            // A connector deleted meanwhile is left out, as Kafka Connect does.
            let value = match e.as_str() {
                "status" => status_json(&c, &name).ok(),
                "info" => info_json(&c, &name).ok(),
                other => {
                    tracing::debug!(expand = other, "unknown expansion ignored");
                    None
                }
            };
            if let Some(v) = value {
                entry.insert(e.clone(), v);
            }
        }
        out.insert(name, Value::Object(entry));
    }
    ok(Value::Object(out))
}

async fn create(State(c): AppState, body: Bytes) -> Reply {
    let v = parse_body(&body)?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("the body needs a \"name\" (a non-empty string)"))?
        .to_owned();
    let config = v.get("config").ok_or_else(|| {
        ApiError::bad_request("the body needs a \"config\" object of string values")
    })?;
    let mut settings = settings_of(config, "config")?;
    put_name(&name, &mut settings)?;
    checked(&c, &settings)?;
    if !c.create(&name, &settings).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("connector {name:?} already exists (possibly created at the same moment through another worker); change it with PUT /connectors/{name}/config"),
        ));
    }
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/connectors/{name}"))],
        Json(info_json(&c, &name)?),
    )
        .into_response())
}

async fn info(State(c): AppState, Path(name): Path<String>) -> Reply {
    ok(info_json(&c, &name)?)
}

async fn get_config(State(c): AppState, Path(name): Path<String>) -> Reply {
    ok(json!(crate::rest::secrets::masked(
        &c.connector_config(&name)?
    )))
}

async fn put_config(State(c): AppState, Path(name): Path<String>, body: Bytes) -> Reply {
    let mut settings = settings_of(&parse_body(&body)?, "the configuration")?;
    put_name(&name, &mut settings)?;
    let current = c.connector_config(&name).ok();
    crate::rest::secrets::unmask(&mut settings, current.as_ref()).map_err(ApiError::bad_request)?;
    checked(&c, &settings)?;
    c.put_config(&name, &settings).await?;
    let body = info_json(&c, &name)?;
    if current.is_some() {
        ok(body)
    } else {
        Ok((StatusCode::CREATED, Json(body)).into_response())
    }
}

/// Merges a patch into the stored configuration (a `null` value removes the key), checks
/// the result and writes it cluster-wide.
async fn patch_config(State(c): AppState, Path(name): Path<String>, body: Bytes) -> Reply {
    let patch = config_values(&parse_body(&body)?, "the configuration patch")?;
    let current = c.connector_config(&name)?;
    let mut settings = current.clone();
    for (k, v) in patch {
        match v {
            Some(v) => settings.insert(k, v),
            None => settings.remove(&k),
        };
    }
    put_name(&name, &mut settings)?;
    crate::rest::secrets::unmask(&mut settings, Some(&current)).map_err(ApiError::bad_request)?;
    checked(&c, &settings)?;
    c.put_config(&name, &settings).await?;
    ok(info_json(&c, &name)?)
}

async fn delete(State(c): AppState, Path(name): Path<String>) -> Reply {
    c.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn status(State(c): AppState, Path(name): Path<String>) -> Reply {
    ok(status_json(&c, &name)?)
}

async fn tasks(State(c): AppState, Path(name): Path<String>) -> Reply {
    let config = crate::rest::secrets::masked(&c.connector_config(&name)?);
    let n = c.task_states(&name)?.len();
    ok(json!((0..n)
        .map(|t| {
            // As the standalone API: each task's configuration names its id.
            let mut config = config.clone();
            config.insert("task.id".into(), t.to_string());
            json!({"id": {"connector": name, "task": t}, "config": config})
        })
        .collect::<Vec<_>>()))
}

async fn task_status(State(c): AppState, Path((name, task)): Path<(String, String)>) -> Reply {
    let states = c.task_states(&name)?;
    let tasks = states.len() as u32;
    let unknown = || crate::Error::UnknownTask {
        name: name.clone(),
        task: task.parse().unwrap_or(u32::MAX),
        tasks,
    };
    let id: usize = task.parse().map_err(|_| unknown())?;
    let t = states.into_iter().nth(id).ok_or_else(unknown)?;
    ok(task_json(id, t))
}

async fn set_target(c: &Front, name: &str, target: TargetState) -> Reply {
    c.set_target(name, target).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn pause(State(c): AppState, Path(name): Path<String>) -> Reply {
    set_target(&c, &name, TargetState::Paused).await
}

async fn resume(State(c): AppState, Path(name): Path<String>) -> Reply {
    set_target(&c, &name, TargetState::Running).await
}

async fn stop(State(c): AppState, Path(name): Path<String>) -> Reply {
    // Kafka Connect answers a stop with 204 (pause and resume with 202).
    c.set_target(&name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
