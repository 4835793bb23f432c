//! `/connectors`: create, read, change, operate and delete connectors.

use super::*;

/// Kafka Connect's rule: a `name` in the configuration must be the connector's name; when
/// missing it is added.
pub(crate) fn put_name(name: &str, settings: &mut Settings) -> Result<(), ApiError> {
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

/// A configuration sent back with the mask where a secret was (`GET` then `PUT`): the
/// connector's stored secrets put back (see `rest::secrets`).
pub(super) fn unmasked(app: &App, name: &str, settings: &mut Settings) -> Result<(), ApiError> {
    let current = app.worker.connector_config(name).ok().map(|c| c.raw);
    crate::rest::secrets::unmask(settings, current.as_ref()).map_err(ApiError::bad_request)
}

pub(super) fn checked(
    app: &App,
    settings: &Settings,
) -> Result<sluice_core::config::ConnectorConfig, ApiError> {
    validate::check(settings, Some(app.worker.config()))
        .map_err(|p| ApiError::bad_request(validate::invalid_message(&p)))
}

pub(super) fn status_json(app: &App, st: &ConnectorStatus) -> Value {
    let mut connector = json!({"state": st.state.name(), "worker_id": app.worker_id});
    if let Some(t) = st.state.trace() {
        connector["trace"] = t.into();
    }
    let tasks: Vec<Value> = st.tasks.iter().map(|t| task_json(app, t)).collect();
    json!({"name": st.name, "connector": connector, "tasks": tasks, "type": "source"})
}

/// A task's status as Kafka Connect's REST API gives it; a running task that waits (for the
/// object store) says why in `trace`.
pub(super) fn task_json(app: &App, t: &crate::state::TaskStatus) -> Value {
    let mut v = json!({"id": t.id, "state": t.state.name(), "worker_id": app.worker_id});
    if let Some(trace) = t.state.trace().or(t.waiting.as_deref()) {
        v["trace"] = trace.into();
    }
    v
}

pub(super) fn info_json(app: &App, name: &str) -> Result<Value, Error> {
    let config = app.worker.connector_config(name)?;
    let tasks: Vec<Value> = (0..config.tasks_max)
        .map(|t| json!({"connector": name, "task": t}))
        .collect();
    Ok(
        json!({"name": name, "config": crate::rest::secrets::masked(&config.raw), "tasks": tasks, "type": "source"}),
    )
}

/// Starts a connector's tasks in the background (building its parts may wait for Kafka); a
/// failure shows in its status.
pub(super) fn start_later(app: &Arc<App>, name: &str) {
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
pub(super) fn started(r: crate::Result<()>) -> Result<(), ApiError> {
    match r {
        Err(Error::Connector { name, source }) => {
            tracing::warn!(connector = %name, error = %sluice_core::error_chain(&*source), "connector failed to start");
            Ok(())
        }
        other => Ok(other?),
    }
}

pub(super) async fn list(State(app): AppState, RawQuery(q): RawQuery) -> Reply {
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

pub(super) async fn create(State(app): AppState, body: Bytes) -> Reply {
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
    unmasked(&app, &name, &mut settings)?;
    let config = checked(&app, &settings)?;
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

pub(super) async fn info(State(app): AppState, Path(name): Path<String>) -> Reply {
    ok(info_json(&app, &name)?)
}

pub(super) async fn get_config(State(app): AppState, Path(name): Path<String>) -> Reply {
    ok(json!(crate::rest::secrets::masked(
        &app.worker.connector_config(&name)?.raw
    )))
}

pub(super) async fn put_config(
    State(app): AppState,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    let mut settings = settings_of(&parse_body(&body)?, "the configuration")?;
    put_name(&name, &mut settings)?;
    unmasked(&app, &name, &mut settings)?;
    let config = checked(&app, &settings)?;
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

pub(super) async fn patch_config(
    State(app): AppState,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    let patch = config_values(&parse_body(&body)?, "the configuration patch")?;
    let _ops = app.ops.lock().await;
    let mut settings = app.worker.connector_config(&name)?.raw;
    for (k, v) in patch {
        match v {
            Some(v) => settings.insert(k, v),
            None => settings.remove(&k),
        };
    }
    put_name(&name, &mut settings)?;
    unmasked(&app, &name, &mut settings)?;
    let config = checked(&app, &settings)?;
    started(app.worker.reconfigure(config).await)?;
    app.persist()?;
    ok(info_json(&app, &name)?)
}

pub(super) async fn delete(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    app.worker.delete(&name).await?;
    app.persist()?;
    no_content()
}

pub(super) async fn status(State(app): AppState, Path(name): Path<String>) -> Reply {
    ok(status_json(&app, &app.worker.status(&name)?))
}

pub(super) async fn tasks(State(app): AppState, Path(name): Path<String>) -> Reply {
    let config = app.worker.connector_config(&name)?;
    let tasks: Vec<Value> = (0..config.tasks_max)
        .map(|t| {
            let mut c = crate::rest::secrets::masked(&config.raw);
            c.insert("task.id".into(), t.to_string());
            json!({"id": {"connector": name, "task": t}, "config": c})
        })
        .collect();
    ok(json!(tasks))
}

pub(super) fn task_id(name: &str, task: &str) -> Result<u32, ApiError> {
    task.parse().map_err(|_| {
        ApiError::not_found(format!(
            "connector {name:?} has no task {task:?}: task ids are numbers from 0"
        ))
    })
}

pub(super) async fn task_status(
    State(app): AppState,
    Path((name, task)): Path<(String, String)>,
) -> Reply {
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
    ok(task_json(&app, t))
}

pub(super) async fn restart_task(
    State(app): AppState,
    Path((name, task)): Path<(String, String)>,
) -> Reply {
    let id = task_id(&name, &task)?;
    let _ops = app.ops.lock().await;
    started(app.worker.restart_task(&name, id).await)?;
    no_content()
}

pub(super) async fn restart(
    State(app): AppState,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
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

pub(super) async fn pause(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    app.worker.pause(&name).await?;
    app.persist()?;
    accepted()
}

pub(super) async fn resume(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    started(app.worker.resume(&name).await)?;
    app.persist()?;
    accepted()
}

pub(super) async fn stop(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    app.worker.stop(&name).await?;
    app.persist()?;
    no_content()
}

/// The topics a connector wrote to (records Kafka acknowledged, whatever chose the topic:
/// `topic`, `{{topic}}`, `topic.regex.list`, a `RegexRouter`), plus its dead letter queue topic
/// once it skipped a record; since the worker started or the last reset.
pub(super) async fn topics(State(app): AppState, Path(name): Path<String>) -> Reply {
    let config = app.worker.connector_config(&name)?;
    let m = app.worker.metrics(&name)?;
    let mut topics = app.worker.topics(&name)?;
    if let Some(t) = config.dlq_topic.filter(|_| m.records_failed > 0) {
        if !topics.contains(&t) {
            topics.push(t);
        }
    }
    ok(json!({ name: {"topics": topics} }))
}

/// `PUT /connectors/{name}/topics/reset`: forgets the topics written to.
pub(super) async fn reset_topics(State(app): AppState, Path(name): Path<String>) -> Reply {
    app.worker.reset_topics(&name)?;
    accepted()
}
