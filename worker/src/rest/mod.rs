//! Kafka Connect's REST API over a [`Worker`]: the same paths, JSON shapes and status codes,
//! served by axum. `docs/operations.md` shows every endpoint with curl.
//!
//! - Connectors: `GET|POST /connectors`, `GET|DELETE /connectors/{name}`,
//!   `GET|PUT|PATCH /connectors/{name}/config`, `GET /connectors/{name}/status`,
//!   `GET /connectors/{name}/tasks`, `GET /connectors/{name}/tasks/{id}/status`,
//!   `POST /connectors/{name}/restart`, `POST /connectors/{name}/tasks/{id}/restart`,
//!   `PUT /connectors/{name}/pause|resume|stop`, `GET /connectors/{name}/topics`.
//! - Offsets (KIP-875): `GET|PATCH|DELETE /connectors/{name}/offsets`, changes only while the
//!   connector is `STOPPED`.
//! - Plugins: `GET /connector-plugins`, `PUT /connector-plugins/{class}/config/validate`.
//! - `GET /` (version, commit, Kafka cluster id), `GET /metrics` (Prometheus), and a status
//!   page for browsers at `GET /ui` (or `GET /` with `Accept: text/html`).
//!
//! Every change made through the API is written to the worker's [`ConfigFile`] when it has
//! one, so the connectors come back, in their target state, after a restart. Errors are
//! Kafka Connect's `{"error_code": <status>, "message": "..."}`.
//!
//! The API has no TLS yet and authenticates only with optional HTTP basic auth
//! ([`Credentials`], `rest.basic.auth.credentials.file`): it listens on loopback by default and
//! refuses another address unless basic auth is on or `rest.insecure=true` ([`RestConfig`]).

mod auth;
mod config;
mod error;
mod handlers;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

pub use auth::Credentials;
pub use config::{RestConfig, DEFAULT_LISTENER};
pub(crate) use error::ApiError;

use crate::persist::ConfigFile;
use crate::{Error, Result, Worker};

/// What the handlers share.
pub struct App {
    worker: Arc<Worker>,
    store: Option<ConfigFile>,
    /// Serialises the changes (and their writes to `store`).
    ops: tokio::sync::Mutex<()>,
    worker_id: String,
    cluster_id: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("worker_id", &self.worker_id)
            .field("store", &self.store)
            .finish()
    }
}

impl App {
    /// The API over `worker`, reporting `worker_id` (`host:port`) in statuses and saving
    /// changes to `store` when given.
    pub fn new(worker: Arc<Worker>, store: Option<ConfigFile>, worker_id: String) -> Self {
        App {
            worker,
            store,
            ops: tokio::sync::Mutex::new(()),
            worker_id,
            cluster_id: std::sync::Mutex::new(None),
        }
    }

    /// Saves the worker's connectors to the configuration file, if there is one.
    fn persist(&self) -> Result<(), ApiError> {
        if let Some(store) = &self.store {
            store.save_worker(&self.worker).map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "the change was made but not saved, so it will not survive a restart: {}",
                        sluice_core::error_chain(&e)
                    ),
                )
            })?;
        }
        Ok(())
    }
}

/// The API's routes over `app`, behind basic auth when `credentials` are given.
pub fn router(app: Arc<App>, credentials: Option<Credentials>) -> axum::Router {
    let router = handlers::routes().with_state(app);
    match credentials {
        Some(c) => router.layer(axum::middleware::from_fn_with_state(
            Arc::new(c),
            auth::require,
        )),
        None => router,
    }
}

/// A running REST server; [`shutdown`](Self::shutdown) stops it.
#[derive(Debug)]
pub struct RestServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl RestServer {
    /// Binds `config.addr` and serves the API over `worker`, saving changes to `store`.
    pub async fn start(
        worker: Arc<Worker>,
        config: &RestConfig,
        store: Option<ConfigFile>,
    ) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| Error::Rest {
                message: format!(
                    "cannot listen on {} (listeners={}): set listeners to a free address",
                    config.addr, config.listener
                ),
                source: Some(e),
            })?;
        let addr = listener.local_addr().map_err(|e| Error::Rest {
            message: "cannot read the listening address".into(),
            source: Some(e),
        })?;
        let app = Arc::new(App::new(worker, store, addr.to_string()));
        let (stop, mut stop_rx) = watch::channel(false);
        let routes = router(app, config.credentials.clone());
        let server = axum::serve(listener, routes).with_graceful_shutdown(async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        });
        let join = tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "the REST server stopped");
            }
        });
        tracing::info!(url = %format!("http://{addr}"), "REST API listening");
        Ok(RestServer { addr, stop, join })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests and waits for the ones in progress.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }
}
