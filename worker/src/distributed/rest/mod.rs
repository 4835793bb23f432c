//! Kafka Connect's REST API over a [`Cluster`]: any worker answers for the whole cluster
//! (connectors from the config topic, task states from the status topic) and its writes go to
//! the config topic, so they take effect on every worker. A write returns once this worker has
//! read it back, so a read that follows on the same worker sees it.
//!
//! Served here: `GET /`, `GET|POST /connectors`, `GET|DELETE /connectors/{name}`,
//! `GET|PUT /connectors/{name}/config`, `GET /connectors/{name}/status`,
//! `GET /connectors/{name}/tasks`, `PUT /connectors/{name}/pause|resume|stop`, and
//! `GET /connectors/{name}/metrics` (for each task of the connector that ran on this worker: how
//! many times it started here and its counters).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use sluice_core::config::Settings;

use super::Cluster;
use crate::rest::{parse_body, put_name, settings_of, validate, ApiError};
use crate::state::TargetState;

type AppState = State<Arc<Cluster>>;
type Reply = Result<Response, ApiError>;

/// The routes of the cluster API.
pub fn routes(cluster: Arc<Cluster>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/connectors", get(list).post(create))
        .route("/connectors/{name}", get(info).delete(delete))
        .route("/connectors/{name}/config", get(get_config).put(put_config))
        .route("/connectors/{name}/status", get(status))
        .route("/connectors/{name}/tasks", get(tasks))
        .route("/connectors/{name}/metrics", get(metrics))
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .fallback(|| async {
            ApiError::not_found(
                "HTTP 404 Not Found: no such endpoint in distributed mode; see docs/distributed.md",
            )
        })
        .with_state(cluster)
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

fn status_json(cluster: &Cluster, name: &str) -> Result<Value, ApiError> {
    let target = cluster.target(name)?;
    let state = match target {
        TargetState::Running => "RUNNING",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    };
    let tasks: Vec<Value> = cluster
        .task_states(name)?
        .into_iter()
        .enumerate()
        .map(|(id, t)| {
            let mut v = json!({"id": id, "state": t.state, "worker_id": t.worker_id});
            if let Some(trace) = t.trace {
                v["trace"] = trace.into();
            }
            v
        })
        .collect();
    Ok(json!({
        "name": name,
        "connector": {"state": state, "worker_id": cluster.worker_id()},
        "tasks": tasks,
        "type": "source",
    }))
}

async fn root(State(c): AppState) -> Reply {
    ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "worker_id": c.worker_id(),
        "mode": "distributed",
    }))
}

async fn list(State(c): AppState) -> Reply {
    ok(json!(c.names()))
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
        .map(|t| json!({"id": {"connector": name, "task": t}, "config": config}))
        .collect::<Vec<_>>()))
}

async fn metrics(State(c): AppState, Path(name): Path<String>) -> Reply {
    c.connector_config(&name)?;
    let counters = c
        .local_metrics(&name)
        .map(|m| m.tasks())
        .unwrap_or_default();
    let tasks: Vec<Value> = c
        .local_starts(&name)
        .into_iter()
        .map(|(id, starts)| {
            let m = counters.get(id as usize).cloned().unwrap_or_default();
            json!({"id": id, "starts": starts, "records_acked": m.records_acked, "objects_finished": m.objects_finished})
        })
        .collect();
    ok(json!({"worker_id": c.worker_id(), "tasks": tasks}))
}

async fn set_target(c: &Cluster, name: &str, target: TargetState) -> Reply {
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
    set_target(&c, &name, TargetState::Stopped).await
}
