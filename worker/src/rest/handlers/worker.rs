//! `/` (version, commit, Kafka cluster id; the status page for a browser), `/ui` and
//! `/metrics`.

use super::*;

/// The status page: connectors, tasks, states and traces, counts and throughput, with pause,
/// resume and restart buttons. One self-contained file (no external assets: it works on a
/// closed network) that reads the public API from the browser.
const STATUS_PAGE: &str = include_str!("../status.html");

/// The API's OpenAPI document, `docs/openapi.json` (checked against the running API by
/// `tests/operations.rs` with schemathesis).
pub(super) const OPENAPI: &str = include_str!("../../../../docs/openapi.json");

/// `GET /openapi.json`.
pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /`: the worker's version and Kafka cluster id as JSON, or the status page when the
/// client prefers HTML (a browser's `Accept: text/html`).
pub(super) async fn root(State(app): AppState, headers: axum::http::HeaderMap) -> Reply {
    if wants_html(&headers) {
        return ui().await;
    }
    ok(json!({
        "version": VERSION,
        "commit": option_env!("SLUICE_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": cluster_id(&app).await,
    }))
}

/// True when the client prefers HTML (a browser's `Accept: text/html`).
pub(crate) fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// The Kafka cluster id, asked once (5 s at most) and remembered.
pub(super) async fn cluster_id(app: &App) -> Option<String> {
    kafka_cluster_id(app.worker.config(), &app.cluster_id).await
}

/// The Kafka cluster id of `worker`'s brokers, asked once (5 s at most) and kept in `cache`.
pub(crate) async fn kafka_cluster_id(
    worker: &sluice_core::config::WorkerConfig,
    cache: &std::sync::Mutex<Option<String>>,
) -> Option<String> {
    if let Some(id) = cache.lock().ok().and_then(|g| g.clone()) {
        return Some(id);
    }
    let worker = worker.clone();
    let id = tokio::task::spawn_blocking(move || {
        let mut client = rdkafka::ClientConfig::new();
        client.set("bootstrap.servers", &worker.bootstrap_servers);
        for (k, v) in &worker.security.settings {
            client.set(k, v);
        }
        let producer: rdkafka::producer::BaseProducer = client.create().ok()?;
        use rdkafka::producer::Producer;
        producer.client().fetch_cluster_id(Duration::from_secs(5))
    })
    .await
    .ok()
    .flatten();
    if let (Some(id), Ok(mut g)) = (&id, cache.lock()) {
        *g = Some(id.clone());
    }
    id
}

pub(super) async fn metrics(State(app): AppState) -> Response {
    (
        [(header::CONTENT_TYPE, crate::prometheus::CONTENT_TYPE)],
        crate::prometheus::render(&app.worker),
    )
        .into_response()
}

/// `GET /ui`: the status page.
pub(crate) async fn ui() -> Reply {
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        STATUS_PAGE,
    )
        .into_response())
}
