//! `/` (version, commit, Kafka cluster id) and `/metrics`.

use super::*;

pub(super) async fn root(State(app): AppState) -> Reply {
    ok(json!({
        "version": VERSION,
        "commit": option_env!("SLUICE_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": cluster_id(&app).await,
    }))
}

/// The Kafka cluster id, asked once (5 s at most) and remembered.
pub(super) async fn cluster_id(app: &App) -> Option<String> {
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

pub(super) async fn metrics(State(app): AppState) -> Response {
    (
        [(header::CONTENT_TYPE, crate::prometheus::CONTENT_TYPE)],
        crate::prometheus::render(&app.worker),
    )
        .into_response()
}
