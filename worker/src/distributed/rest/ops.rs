//! Restarts, offsets and topics (cluster-wide: the config, offsets and status topics),
//! connector plugins, and what is this worker's own as in Kafka Connect: `GET /` (and the
//! status page), `/metrics` (this worker's tasks' counters, the cluster's states),
//! `/admin/loggers` and `GET /connectors/{name}/metrics`.

use super::*;

use crate::prometheus::{render_views, ConnectorView, CONTENT_TYPE};
use crate::rest::{
    altered_json, kafka_cluster_id, logger_json, loggers_json, offsets_batch, offsets_json,
    query_bool, reset_json, set_level, ui, validated, wants_html,
};

/// `GET /`: the version, the Kafka cluster id and this worker's id as JSON, or the status page
/// for a browser.
pub(super) async fn root(State(c): AppState, headers: axum::http::HeaderMap) -> Reply {
    if wants_html(&headers) {
        return ui().await;
    }
    ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("SLUICE_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": kafka_cluster_id(c.worker_config(), &c.kafka_cluster_id).await,
        "worker_id": c.worker_id(),
        "mode": "distributed",
    }))
}

/// `GET /metrics`: every connector's and task's state from the status topic, and the
/// counters of the tasks that ran on this worker (each worker is scraped for its own).
pub(super) async fn prometheus(State(c): AppState) -> Response {
    let views = c.names().into_iter().filter_map(|name| {
        let state = connector_state(&c, &name).ok()?.to_owned();
        let task_states = c
            .task_states(&name)
            .ok()?
            .into_iter()
            .map(|t| t.state)
            .collect();
        let local = c.local_metrics(&name);
        let counters = local.as_ref().map(|m| m.tasks()).unwrap_or_default();
        let tasks = c
            .local_starts(&name)
            .into_keys()
            .map(|id| (id, counters.get(id as usize).cloned().unwrap_or_default()))
            .collect();
        Some(ConnectorView {
            store: local.map(|m| m.store_snapshot()),
            name,
            state,
            task_states,
            tasks,
        })
    });
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render_views(views)).into_response()
}

/// `GET /connectors/{name}/metrics`: for each task of the connector that ran on this worker,
/// how many times it started here and its counters.
pub(super) async fn metrics(State(c): AppState, Path(name): Path<String>) -> Reply {
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

/// `POST /connectors/{name}/restart[?includeTasks=true&onlyFailed=true]`: written to the
/// config topic; the owners of the tasks restart them. Without either parameter (Connect's
/// original form) 204; otherwise 202 with the status, the tasks to restart as `RESTARTING`.
pub(super) async fn restart(
    State(c): AppState,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let include_tasks = query_bool(&q, "includeTasks")?;
    let only_failed = query_bool(&q, "onlyFailed")?;
    let mut body = status_json(&c, &name)?;
    c.restart(&name, include_tasks, only_failed).await?;
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if let Some(tasks) = body["tasks"].as_array_mut() {
        for t in tasks {
            if include_tasks && (!only_failed || t["state"] == "FAILED") {
                t["state"] = "RESTARTING".into();
            }
        }
    }
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `POST /connectors/{name}/tasks/{id}/restart`: the task's owner restarts it (204).
pub(super) async fn restart_task(
    State(c): AppState,
    Path((name, task)): Path<(String, String)>,
) -> Reply {
    let id = task.parse::<u32>().map_err(|_| {
        ApiError::not_found(format!(
            "connector {name:?} has no task {task:?}: task ids are numbers from 0"
        ))
    })?;
    c.restart_task(&name, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /connectors/{name}/offsets`: from the offsets topic.
pub(super) async fn get_offsets(State(c): AppState, Path(name): Path<String>) -> Reply {
    ok(offsets_json(&c.offsets(&name).await?))
}

/// `PATCH /connectors/{name}/offsets`: only while the connector is stopped everywhere.
pub(super) async fn alter_offsets(
    State(c): AppState,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    let batch = offsets_batch(&body)?;
    c.alter_offsets(&name, batch).await?;
    ok(altered_json(&name))
}

/// `DELETE /connectors/{name}/offsets`: only while the connector is stopped everywhere.
pub(super) async fn reset_offsets(State(c): AppState, Path(name): Path<String>) -> Reply {
    c.reset_offsets(&name).await?;
    ok(reset_json(&name))
}

/// `GET /connectors/{name}/topics`: the topics its tasks wrote to on any worker (Kafka
/// Connect's records in the status topic).
pub(super) async fn topics(State(c): AppState, Path(name): Path<String>) -> Reply {
    let topics = c.topics(&name)?;
    ok(json!({ name: {"topics": topics} }))
}

/// `PUT /connectors/{name}/topics/reset`: forgets them cluster-wide (202).
pub(super) async fn reset_topics(State(c): AppState, Path(name): Path<String>) -> Reply {
    c.reset_topics(&name).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `PUT /connector-plugins/{class}/config/validate`.
pub(super) async fn validate_config(
    State(c): AppState,
    Path(class): Path<String>,
    body: Bytes,
) -> Reply {
    validated(&class, &body, c.worker_config())
}

/// `GET /admin/loggers`: this worker's levels.
pub(super) async fn list_loggers(State(c): AppState) -> Reply {
    loggers_json(c.loggers.as_deref())
}

/// `GET /admin/loggers/{name}`.
pub(super) async fn get_logger(State(c): AppState, Path(name): Path<String>) -> Reply {
    logger_json(c.loggers.as_deref(), &name)
}

/// `PUT /admin/loggers/{name}`: this worker only (`scope=cluster` is refused).
pub(super) async fn set_logger(
    State(c): AppState,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    if query_pairs(&q)
        .iter()
        .any(|(k, v)| k == "scope" && v.eq_ignore_ascii_case("cluster"))
    {
        return Err(ApiError::bad_request(
            "scope=cluster is not served: each worker's levels are its own; set them on each worker (scope=worker)",
        ));
    }
    set_level(c.loggers.as_deref(), &name, &q, &body)
}
