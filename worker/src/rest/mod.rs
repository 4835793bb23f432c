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
//! The API serves HTTP, or HTTPS with `listeners=https://...` (PEM certificate and key,
//! optional client certificates: [`tls`]), with optional HTTP basic auth ([`Credentials`],
//! `rest.basic.auth.credentials.file`): it listens on loopback by default and refuses another
//! address unless TLS or basic auth is on, or `rest.insecure=true` ([`RestConfig`]).
//! `/admin/loggers` changes log levels at run time when the process hands over its
//! [`LogLevels`].

mod auth;
mod config;
mod error;
mod handlers;
pub mod secrets;
pub mod tls;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

pub use auth::Credentials;
pub use config::{RestConfig, DEFAULT_LISTENER};
pub(crate) use error::ApiError;
pub(crate) use handlers::{
    altered_json, config_values, kafka_cluster_id, logger_json, loggers_json, offsets_batch,
    offsets_json, parse_body, plugins, put_name, query_bool, query_pairs, reset_json, set_level,
    settings_of, ui, validated, wants_html,
};

use crate::loggers::LogLevels;
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
    /// The process's log levels, when the API may change them (`/admin/loggers`).
    loggers: Option<Arc<LogLevels>>,
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
            loggers: None,
        }
    }

    /// The same API, letting `/admin/loggers` change `loggers`.
    pub fn with_loggers(mut self, loggers: Arc<LogLevels>) -> Self {
        self.loggers = Some(loggers);
        self
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

/// Serves `routes` on `listener` until `stop` turns true.
fn serve<L>(
    listener: L,
    routes: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let server = axum::serve(listener, routes).with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "the REST server stopped");
        }
    })
}

/// A running REST server; [`shutdown`](Self::shutdown) stops it.
#[derive(Debug)]
pub struct RestServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

/// A listener bound to `listeners`, not serving yet: its address names the worker
/// (`worker_id`) before the routes that report it are made.
#[derive(Debug)]
pub struct BoundRest {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    config: RestConfig,
}

impl BoundRest {
    /// Binds `config.addr`.
    pub async fn bind(config: &RestConfig) -> Result<Self> {
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
        Ok(BoundRest {
            listener,
            addr,
            config: config.clone(),
        })
    }

    /// The worker's id in statuses (`host:port`, advertised or bound).
    pub fn worker_id(&self) -> String {
        self.config.worker_id(self.addr)
    }

    /// Serves `routes` (behind basic auth and TLS when configured).
    pub fn serve(self, routes: axum::Router) -> Result<RestServer> {
        let BoundRest {
            listener,
            addr,
            config,
        } = self;
        let routes = match config.credentials.clone() {
            Some(c) => routes.layer(axum::middleware::from_fn_with_state(
                Arc::new(c),
                auth::require,
            )),
            None => routes,
        };
        let (stop, stop_rx) = watch::channel(false);
        let join = match &config.tls {
            None => serve(listener, routes, stop_rx),
            Some(tls) => {
                let listener =
                    tls::TlsListener::new(listener, tls.server_config()?).map_err(|e| {
                        Error::Rest {
                            message: "cannot read the listening address".into(),
                            source: Some(e),
                        }
                    })?;
                serve(listener, routes, stop_rx)
            }
        };
        tracing::info!(url = %config.url(addr), bound = %addr, "REST API listening");
        Ok(RestServer { addr, stop, join })
    }
}

impl RestServer {
    /// Binds `config.addr` and serves the API over `worker`, saving changes to `store` and
    /// changing `loggers` through `/admin/loggers`.
    pub async fn start(
        worker: Arc<Worker>,
        config: &RestConfig,
        store: Option<ConfigFile>,
        loggers: Option<Arc<LogLevels>>,
    ) -> Result<Self> {
        let bound = BoundRest::bind(config).await?;
        let mut app = App::new(worker, store, bound.worker_id());
        if let Some(l) = loggers {
            app = app.with_loggers(l);
        }
        bound.serve(handlers::routes().with_state(Arc::new(app)))
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
