//! The API's handlers: one per Kafka Connect endpoint.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sluice_core::config::defs::{backend_of, CONNECTOR_CLASSES};
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
        .route("/metrics", get(metrics))
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
        .route(
            "/connectors/{name}/offsets",
            get(get_offsets).patch(alter_offsets).delete(reset_offsets),
        )
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
fn query_pairs(q: &Option<String>) -> Vec<(String, String)> {
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

fn query_bool(q: &Option<String>, key: &str) -> Result<bool, ApiError> {
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

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
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
fn config_values(v: &Value, what: &str) -> Result<Vec<(String, Option<String>)>, ApiError> {
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

fn settings_of(v: &Value, what: &str) -> Result<Settings, ApiError> {
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

/// Kafka Connect's rule: a `name` in the configuration must be the connector's name; when
/// missing it is added.
fn put_name(name: &str, settings: &mut Settings) -> Result<(), ApiError> {
    match settings.get("name") {
        Some(n) if n != name => Err(ApiError::bad_request(format!(
            "the configuration's name ({n:?}) is not the connector's name in the request ({name:?}); they must be equal"
        ))),
        Some(_) => Ok(()),
        None => {
            settings.insert("name".into(), name.to_owned());
            Ok(())
        }
    }
}

fn checked(settings: &Settings) -> Result<sluice_core::config::ConnectorConfig, ApiError> {
    validate::check(settings).map_err(|p| ApiError::bad_request(validate::invalid_message(&p)))
}

fn status_json(app: &App, st: &ConnectorStatus) -> Value {
    let mut connector = json!({"state": st.state.name(), "worker_id": app.worker_id});
    if let Some(t) = st.state.trace() {
        connector["trace"] = t.into();
    }
    let tasks: Vec<Value> = st
        .tasks
        .iter()
        .map(|t| task_json(app, t.id, &t.state))
        .collect();
    json!({"name": st.name, "connector": connector, "tasks": tasks, "type": "source"})
}

fn task_json(app: &App, id: u32, state: &crate::State) -> Value {
    let mut v = json!({"id": id, "state": state.name(), "worker_id": app.worker_id});
    if let Some(t) = state.trace() {
        v["trace"] = t.into();
    }
    v
}

fn info_json(app: &App, name: &str) -> Result<Value, Error> {
    let config = app.worker.connector_config(name)?;
    let tasks: Vec<Value> = (0..config.tasks_max)
        .map(|t| json!({"connector": name, "task": t}))
        .collect();
    Ok(json!({"name": name, "config": config.settings, "tasks": tasks, "type": "source"}))
}

/// Starts a connector's tasks in the background (building its parts may wait for Kafka); a
/// failure shows in its status.
fn start_later(app: &Arc<App>, name: &str) {
    let worker = app.worker.clone();
    let name = name.to_owned();
    tokio::spawn(async move {
        if let Err(e) = worker.start(&name).await {
            tracing::warn!(connector = %name, error = %sluice_core::error_chain(&e), "connector did not start");
        }
    });
}

/// A start or restart whose failure to build is the connector's `FAILED` status, not the
/// request's error.
fn started(r: crate::Result<()>) -> Result<(), ApiError> {
    match r {
        Err(Error::Connector { name, source }) => {
            tracing::warn!(connector = %name, error = %sluice_core::error_chain(&*source), "connector failed to start");
            Ok(())
        }
        other => Ok(other?),
    }
}

async fn root(State(app): AppState) -> Reply {
    ok(json!({
        "version": VERSION,
        "commit": option_env!("SLUICE_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": cluster_id(&app).await,
    }))
}

/// The Kafka cluster id, asked once (5 s at most) and remembered.
async fn cluster_id(app: &App) -> Option<String> {
    if let Some(id) = app.cluster_id.lock().ok().and_then(|g| g.clone()) {
        return Some(id);
    }
    let worker = app.worker.config().clone();
    let id = tokio::task::spawn_blocking(move || {
        let mut client = rdkafka::ClientConfig::new();
        client.set("bootstrap.servers", &worker.bootstrap_servers);
        for (k, v) in &worker.producer {
            if k == "security.protocol" || k.starts_with("ssl.") || k.starts_with("sasl.") {
                client.set(k, v);
            }
        }
        let producer: rdkafka::producer::BaseProducer = client.create().ok()?;
        use rdkafka::producer::Producer;
        producer.client().fetch_cluster_id(Duration::from_secs(5))
    })
    .await
    .ok()
    .flatten();
    if let (Some(id), Ok(mut g)) = (&id, app.cluster_id.lock()) {
        *g = Some(id.clone());
    }
    id
}

async fn metrics(State(app): AppState) -> Response {
    (
        [(header::CONTENT_TYPE, crate::prometheus::CONTENT_TYPE)],
        crate::prometheus::render(&app.worker),
    )
        .into_response()
}

async fn list(State(app): AppState, RawQuery(q): RawQuery) -> Reply {
    let expand: Vec<String> = query_pairs(&q)
        .into_iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v)
        .collect();
    let names = app.worker.names();
    if expand.is_empty() {
        return ok(json!(names));
    }
    let mut out = Map::new();
    for name in names {
        let mut entry = Map::new();
        for e in &expand {
            // A connector deleted meanwhile is left out, as Kafka Connect does.
            match e.as_str() {
                "status" => {
                    if let Ok(st) = app.worker.status(&name) {
                        entry.insert("status".into(), status_json(&app, &st));
                    }
                }
                "info" => {
                    if let Ok(i) = info_json(&app, &name) {
                        entry.insert("info".into(), i);
                    }
                }
                other => tracing::debug!(expand = other, "unknown expansion ignored"),
            }
        }
        out.insert(name, Value::Object(entry));
    }
    ok(Value::Object(out))
}

async fn create(State(app): AppState, body: Bytes) -> Reply {
    let v = parse_body(&body)?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "the request needs a non-empty \"name\": {\"name\": ..., \"config\": {...}}",
            )
        })?
        .to_owned();
    let config = v.get("config").ok_or_else(|| {
        ApiError::bad_request(
            "the request needs a \"config\" object: {\"name\": ..., \"config\": {...}}",
        )
    })?;
    let mut settings = settings_of(config, "config")?;
    let target = match v.get("initial_state") {
        None | Some(Value::Null) => TargetState::Running,
        Some(s) => s.as_str().and_then(parse_target).ok_or_else(|| {
            ApiError::bad_request(format!(
                "initial_state {s}: expected RUNNING, PAUSED or STOPPED"
            ))
        })?,
    };
    put_name(&name, &mut settings)?;
    let config = checked(&settings)?;
    let _ops = app.ops.lock().await;
    app.worker.add(config, target)?;
    app.persist()?;
    start_later(&app, &name);
    let body = info_json(&app, &name)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/connectors/{name}"))],
        Json(body),
    )
        .into_response())
}

async fn info(State(app): AppState, Path(name): Path<String>) -> Reply {
    ok(info_json(&app, &name)?)
}

async fn get_config(State(app): AppState, Path(name): Path<String>) -> Reply {
    ok(json!(app.worker.connector_config(&name)?.settings))
}

async fn put_config(State(app): AppState, Path(name): Path<String>, body: Bytes) -> Reply {
    let mut settings = settings_of(&parse_body(&body)?, "the configuration")?;
    put_name(&name, &mut settings)?;
    let config = checked(&settings)?;
    let _ops = app.ops.lock().await;
    if app.worker.names().contains(&name) {
        started(app.worker.reconfigure(config).await)?;
        app.persist()?;
        ok(info_json(&app, &name)?)
    } else {
        app.worker.add(config, TargetState::Running)?;
        app.persist()?;
        start_later(&app, &name);
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, format!("/connectors/{name}"))],
            Json(info_json(&app, &name)?),
        )
            .into_response())
    }
}

async fn patch_config(State(app): AppState, Path(name): Path<String>, body: Bytes) -> Reply {
    let patch = config_values(&parse_body(&body)?, "the configuration patch")?;
    let _ops = app.ops.lock().await;
    let mut settings = app.worker.connector_config(&name)?.settings;
    for (k, v) in patch {
        match v {
            Some(v) => settings.insert(k, v),
            None => settings.remove(&k),
        };
    }
    put_name(&name, &mut settings)?;
    let config = checked(&settings)?;
    started(app.worker.reconfigure(config).await)?;
    app.persist()?;
    ok(info_json(&app, &name)?)
}

async fn delete(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    app.worker.delete(&name).await?;
    app.persist()?;
    no_content()
}

async fn status(State(app): AppState, Path(name): Path<String>) -> Reply {
    ok(status_json(&app, &app.worker.status(&name)?))
}

async fn tasks(State(app): AppState, Path(name): Path<String>) -> Reply {
    let config = app.worker.connector_config(&name)?;
    let tasks: Vec<Value> = (0..config.tasks_max)
        .map(|t| {
            let mut c = config.settings.clone();
            c.insert("task.id".into(), t.to_string());
            json!({"id": {"connector": name, "task": t}, "config": c})
        })
        .collect();
    ok(json!(tasks))
}

fn task_id(name: &str, task: &str) -> Result<u32, ApiError> {
    task.parse().map_err(|_| {
        ApiError::not_found(format!(
            "connector {name:?} has no task {task:?}: task ids are numbers from 0"
        ))
    })
}

async fn task_status(State(app): AppState, Path((name, task)): Path<(String, String)>) -> Reply {
    let id = task_id(&name, &task)?;
    let st = app.worker.status(&name)?;
    let t = st
        .tasks
        .iter()
        .find(|t| t.id == id)
        .ok_or(Error::UnknownTask {
            name: name.clone(),
            task: id,
            tasks: st.tasks.len() as u32,
        })?;
    ok(task_json(&app, t.id, &t.state))
}

async fn restart_task(State(app): AppState, Path((name, task)): Path<(String, String)>) -> Reply {
    let id = task_id(&name, &task)?;
    let _ops = app.ops.lock().await;
    started(app.worker.restart_task(&name, id).await)?;
    no_content()
}

async fn restart(State(app): AppState, Path(name): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let include_tasks = query_bool(&q, "includeTasks")?;
    let only_failed = query_bool(&q, "onlyFailed")?;
    let _ops = app.ops.lock().await;
    started(app.worker.restart(&name, include_tasks, only_failed).await)?;
    if !include_tasks && !only_failed {
        // Kafka Connect's original form: the connector only, no body.
        return no_content();
    }
    with_status(
        StatusCode::ACCEPTED,
        status_json(&app, &app.worker.status(&name)?),
    )
}

async fn pause(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    app.worker.pause(&name).await?;
    app.persist()?;
    accepted()
}

async fn resume(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    started(app.worker.resume(&name).await)?;
    app.persist()?;
    accepted()
}

async fn stop(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    app.worker.stop(&name).await?;
    app.persist()?;
    no_content()
}

/// The topics a connector wrote to: its `topic` once it wrote a record, plus its dead letter
/// queue topic once it skipped one. Topics chosen per object by `{{topic}}` in
/// `file.name.template` are not tracked yet.
async fn topics(State(app): AppState, Path(name): Path<String>) -> Reply {
    let config = app.worker.connector_config(&name)?;
    let m = app.worker.metrics(&name)?;
    let mut topics = Vec::new();
    if let Some(t) = config.topic.filter(|_| m.records_acked > 0) {
        topics.push(t);
    }
    if let Some(t) = config.dlq_topic.filter(|_| m.records_failed > 0) {
        topics.push(t);
    }
    ok(json!({ name: {"topics": topics} }))
}

async fn get_offsets(State(app): AppState, Path(name): Path<String>) -> Reply {
    let entries = app.worker.offsets(&name).await?;
    let offsets: Vec<Value> = entries
        .iter()
        .map(|(p, o)| json!({"partition": map_to_json(p), "offset": map_to_json(o)}))
        .collect();
    ok(json!({ "offsets": offsets }))
}

fn offset_entry(i: usize, e: &Value) -> Result<(OffsetMap, Option<OffsetMap>), ApiError> {
    let bad = |m: String| ApiError::bad_request(format!("offsets[{i}]: {m}"));
    let partition = e
        .get("partition")
        .filter(|p| p.as_object().is_some_and(|o| !o.is_empty()))
        .ok_or_else(|| bad("needs a non-empty \"partition\" object, e.g. {\"bucket\": ..., \"object\": ...} as GET /connectors/{name}/offsets shows".into()))?;
    let partition = map_from_json(partition).map_err(|e| bad(e.to_string()))?;
    let offset = match e.get("offset") {
        None | Some(Value::Null) => None,
        Some(o) if o.is_object() => {
            let map = map_from_json(o).map_err(|e| bad(e.to_string()))?;
            let count = map.get(RECORD_COUNT).and_then(|v| v.as_long());
            if count.is_none_or(|c| c < 0) {
                return Err(bad(format!(
                    "the offset needs \"{RECORD_COUNT}\": the number of records already delivered (≥ 0); use null to read the object again from its start"
                )));
            }
            Some(map)
        }
        Some(other) => {
            return Err(bad(format!(
                "the offset must be an object or null, not {other}"
            )))
        }
    };
    Ok((partition, offset))
}

async fn alter_offsets(State(app): AppState, Path(name): Path<String>, body: Bytes) -> Reply {
    let v = parse_body(&body)?;
    let entries = v
        .get("offsets")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "give the partitions and offsets to change: {\"offsets\": [{\"partition\": {...}, \"offset\": {...} or null}]}",
            )
        })?;
    let batch = entries
        .iter()
        .enumerate()
        .map(|(i, e)| offset_entry(i, e))
        .collect::<Result<Vec<_>, _>>()?;
    let _ops = app.ops.lock().await;
    app.worker.alter_offsets(&name, batch).await?;
    ok(
        json!({"message": format!("The offsets of connector {name:?} were altered; resume it to read from them.")}),
    )
}

async fn reset_offsets(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    app.worker.reset_offsets(&name).await?;
    ok(
        json!({"message": format!("The offsets of connector {name:?} were reset; resumed, it reads every object again.")}),
    )
}

async fn plugins() -> Reply {
    let list: Vec<Value> = CONNECTOR_CLASSES
        .iter()
        .map(|c| json!({"class": c, "type": "source", "version": VERSION}))
        .collect();
    ok(json!(list))
}

async fn validate_config(Path(class): Path<String>, body: Bytes) -> Reply {
    let Some(backend) = backend_of(&class) else {
        return Err(ApiError::bad_request(format!(
            "unknown connector plugin {class:?}; GET /connector-plugins lists them"
        )));
    };
    let mut settings = settings_of(&parse_body(&body)?, "the configuration")?;
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
    ok(validate::config_infos(&class, &settings))
}
