//! The Schema Registry's REST client: Confluent's API for the calls the converters make
//! (register, look up, latest version), with URL failover, basic or bearer authentication, an
//! optional CA, retries of what a retry can fix, and a cache so each (subject, schema) pair costs
//! one request for the life of the converter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tracing::warn;

use crate::backoff::IdleBackoff;
use crate::error::{Error, Result};

/// The media type Confluent's client sends and accepts.
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// How long one request may take before it counts as failed (and is retried).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest pause between two attempts while the registry cannot be reached.
pub(crate) const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(5);

/// How requests authenticate.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No credentials.
    None,
    /// HTTP basic authentication (`basic.auth.credentials.source` `USER_INFO`, or `URL` with
    /// `user:password@` in the URL).
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// A static bearer token (`bearer.auth.credentials.source=STATIC_TOKEN`).
    Bearer {
        /// The token.
        token: String,
        /// `bearer.auth.logical.cluster` (Confluent Cloud's `target-sr-cluster` header).
        logical_cluster: Option<String>,
        /// `bearer.auth.identity.pool.id` (`Confluent-Identity-Pool-Id`).
        identity_pool: Option<String>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, [hidden])"),
            Auth::Bearer { .. } => f.write_str("Bearer([hidden])"),
        }
    }
}

/// Where the registry is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientConfig {
    /// `schema.registry.url`: base URLs, tried in turn (failover), user info removed.
    pub(crate) urls: Vec<String>,
    /// Credentials.
    pub(crate) auth: Auth,
    /// `schema.registry.ssl.truststore.location` (PEM): the CA certificates to trust instead of
    /// the system's.
    pub(crate) ca_pem: Option<std::path::PathBuf>,
}

/// A failure of one request.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The registry answered with an error (`{"error_code", "message"}`).
    Registry {
        /// The HTTP status.
        status: u16,
        /// Confluent's `error_code` (e.g. 40401 subject not found, 409 incompatible).
        code: i64,
        /// The registry's message.
        message: String,
    },
    /// No answer: connection refused, DNS, TLS, timeout, or an answer that is not the API's.
    Unreachable(String),
}

impl Failure {
    /// Whether the same request may succeed later (Confluent's client: 408, 429, 5xx and
    /// network failures).
    fn retriable(&self) -> bool {
        match self {
            Failure::Unreachable(_) => true,
            Failure::Registry { status, .. } => matches!(status, 408 | 429 | 500..=599),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Registry {
                status,
                code,
                message,
            } => write!(f, "HTTP {status}, error code {code}: {message}"),
            Failure::Unreachable(m) => f.write_str(m),
        }
    }
}

/// A registered schema as the registry returns it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Registered {
    /// The schema id written in each record.
    pub(crate) id: u32,
    /// The version under the subject (absent from a register response).
    pub(crate) version: Option<i64>,
    /// The schema text (absent from a register response).
    pub(crate) schema: Option<String>,
}

/// The Schema Registry client; cheap to clone (shared state).
#[derive(Clone)]
pub(crate) struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    /// The URL that answered last: requests start there.
    current: AtomicUsize,
    /// `(subject, schema text, lookup or register)` → what the registry said.
    ids: Mutex<HashMap<(String, String, bool), Registered>>,
    /// Latest version per subject (`use.latest.version`).
    latest: Mutex<HashMap<String, Registered>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("urls", &self.inner.config.urls)
            .field("auth", &self.inner.config.auth)
            .finish()
    }
}

/// Which call, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// `POST /subjects/{subject}/versions`.
    Register,
    /// `POST /subjects/{subject}`.
    Lookup,
    /// `GET /subjects/{subject}/versions/latest`.
    Latest,
}

impl RegistryClient {
    /// A client for `config`.
    ///
    /// # Errors
    /// [`Error::Config`] when the CA file cannot be read or the HTTP client cannot be built.
    pub(crate) fn new(config: ClientConfig, prefix: &str) -> Result<Self> {
        // reqwest is built without a bundled crypto provider; the process's default is ring
        // (the sources crate installs it too; installing twice is harmless).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10));
        if let Some(path) = &config.ca_pem {
            let pem = std::fs::read(path).map_err(|e| {
                Error::config(format!(
                    "{prefix}.schema.registry.ssl.truststore.location: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::config(format!(
                    "{prefix}.schema.registry.ssl.truststore.location: {} holds no PEM \
                     certificate: {e}",
                    path.display()
                ))
            })?;
            builder = builder.tls_certs_only(certs);
        }
        let http = builder.build().map_err(|e| {
            Error::config(format!(
                "{prefix}.schema.registry.url: cannot build the HTTP client: {e}"
            ))
        })?;
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                config,
                http,
                current: AtomicUsize::new(0),
                ids: Mutex::default(),
                latest: Mutex::default(),
            }),
        })
    }

    /// The id of `schema` under `subject`: registered (`register`, Confluent's
    /// `auto.register.schemas=true`) or looked up. Answers come from the cache after the
    /// first; while the registry is unreachable (or says 5xx) the request is retried with a
    /// backoff of at most 5 s, for as long as it takes.
    ///
    /// # Errors
    /// The registry's refusal (incompatible schema, unknown subject, authentication), with the
    /// subject and the registry's message.
    pub(crate) async fn id(
        &self,
        subject: &str,
        schema_type: Option<&str>,
        schema: &str,
        register: bool,
        normalize: bool,
    ) -> Result<Registered> {
        let key = (subject.to_owned(), schema.to_owned(), register);
        if let Some(r) = self.inner.ids.lock().expect("cache lock").get(&key) {
            return Ok(r.clone());
        }
        let mut body = json!({ "schema": schema });
        if let Some(t) = schema_type {
            body["schemaType"] = json!(t);
        }
        let (call, path) = if register {
            (
                Call::Register,
                format!("/subjects/{}/versions", encode(subject)),
            )
        } else {
            (Call::Lookup, format!("/subjects/{}", encode(subject)))
        };
        let path = if normalize {
            format!("{path}?normalize=true")
        } else {
            path
        };
        let answer = self
            .retrying(call, subject, reqwest::Method::POST, &path, Some(&body))
            .await?;
        let r = registered(&answer, call, subject)?;
        self.inner
            .ids
            .lock()
            .expect("cache lock")
            .insert(key, r.clone());
        Ok(r)
    }

    /// The latest version registered under `subject` (cached: asked once).
    ///
    /// # Errors
    /// As [`RegistryClient::id`].
    pub(crate) async fn latest(&self, subject: &str) -> Result<Registered> {
        if let Some(r) = self.inner.latest.lock().expect("cache lock").get(subject) {
            return Ok(r.clone());
        }
        let path = format!("/subjects/{}/versions/latest", encode(subject));
        let answer = self
            .retrying(Call::Latest, subject, reqwest::Method::GET, &path, None)
            .await?;
        let r = registered(&answer, Call::Latest, subject)?;
        self.inner
            .latest
            .lock()
            .expect("cache lock")
            .insert(subject.to_owned(), r.clone());
        Ok(r)
    }

    /// One call, retried while the failure is retriable.
    async fn retrying(
        &self,
        call: Call,
        subject: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let mut backoff = IdleBackoff::new(Duration::from_millis(200), MAX_RETRY_BACKOFF);
        let mut attempt = 0u32;
        loop {
            match self.once(method.clone(), path, body).await {
                Ok(v) => return Ok(v),
                Err(f) if f.retriable() => {
                    attempt += 1;
                    let delay = backoff.next_delay();
                    warn!(subject, call = ?call, attempt, ?delay, error = %f,
                        "the schema registry failed; retrying (records wait, in order)");
                    tokio::time::sleep(delay).await;
                }
                Err(f) => return Err(refused(call, subject, f)),
            }
        }
    }

    /// One call, tried on each URL in turn from the last that answered; a URL that cannot be
    /// reached passes the call to the next.
    async fn once(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> std::result::Result<serde_json::Value, Failure> {
        let urls = &self.inner.config.urls;
        let start = self.inner.current.load(Ordering::Relaxed) % urls.len();
        let mut last = None;
        for i in 0..urls.len() {
            let at = (start + i) % urls.len();
            let url = format!("{}{path}", urls[at].trim_end_matches('/'));
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::ACCEPT, CONTENT_TYPE);
            if let Some(b) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                    .body(b.to_string());
            }
            req = match &self.inner.config.auth {
                Auth::None => req,
                Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
                Auth::Bearer {
                    token,
                    logical_cluster,
                    identity_pool,
                } => {
                    let mut r = req.bearer_auth(token);
                    if let Some(c) = logical_cluster {
                        r = r.header("target-sr-cluster", c);
                    }
                    if let Some(p) = identity_pool {
                        r = r.header("Confluent-Identity-Pool-Id", p);
                    }
                    r
                }
            };
            let answer = match req.send().await {
                Ok(a) => a,
                Err(e) => {
                    last = Some(Failure::Unreachable(format!(
                        "{}: {}",
                        urls[at],
                        crate::error_chain(&e)
                    )));
                    continue;
                }
            };
            let status = answer.status().as_u16();
            let text = match answer.text().await {
                Ok(t) => t,
                Err(e) => {
                    last = Some(Failure::Unreachable(format!(
                        "{}: reading the answer: {e}",
                        urls[at]
                    )));
                    continue;
                }
            };
            self.inner.current.store(at, Ordering::Relaxed);
            let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
            if (200..300).contains(&status) {
                return json.ok_or_else(|| {
                    Failure::Unreachable(format!(
                        "{}: the answer is not JSON: {}",
                        urls[at],
                        clip(&text)
                    ))
                });
            }
            let code = json
                .as_ref()
                .and_then(|j| j.get("error_code"))
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(i64::from(status));
            let message = json
                .as_ref()
                .and_then(|j| j.get("message"))
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| clip(&text), str::to_owned);
            let failure = Failure::Registry {
                status,
                code,
                message,
            };
            // A server error at one URL: another may answer.
            if failure.retriable() {
                last = Some(failure);
                continue;
            }
            return Err(failure);
        }
        Err(last.unwrap_or_else(|| Failure::Unreachable("no schema.registry.url".into())))
    }
}

/// The error for a call the registry refused.
fn refused(call: Call, subject: &str, f: Failure) -> Error {
    let what = match call {
        Call::Register => "registering the schema under subject",
        Call::Lookup => "looking up the schema under subject",
        Call::Latest => "reading the latest schema of subject",
    };
    let hint = match &f {
        Failure::Registry { status: 409, .. } => {
            ": the schema is not compatible with the versions registered under the subject \
             (its compatibility level decides); register a compatible schema or change the \
             subject's compatibility"
        }
        Failure::Registry {
            status: 401 | 403, ..
        } => ": check basic.auth.user.info / bearer.auth.token and the account's permissions",
        Failure::Registry { code: 40401, .. } if call != Call::Register => {
            ": the subject has no schema; register one or set auto.register.schemas=true"
        }
        Failure::Registry { code: 40403, .. } => {
            ": this schema is not registered under the subject; register it or set \
             auto.register.schemas=true"
        }
        _ => "",
    };
    Error::Data(format!("schema registry: {what} {subject:?}: {f}{hint}"))
}

/// The id (and version, schema) of an answer.
fn registered(v: &serde_json::Value, call: Call, subject: &str) -> Result<Registered> {
    let id = v
        .get("id")
        .and_then(serde_json::Value::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| {
            Error::Data(format!(
                "schema registry: {call:?} of subject {subject:?} answered without a schema id: {}",
                clip(&v.to_string())
            ))
        })?;
    Ok(Registered {
        id,
        version: v.get("version").and_then(serde_json::Value::as_i64),
        schema: v
            .get("schema")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    })
}

/// At most 300 characters of `s`, for messages.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(300).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Percent-encodes a path segment (a subject).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A URL of `schema.registry.url` without its user info, and the user info (`user:password`)
/// when it has one.
pub(crate) fn split_user_info(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((info, host)) => {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            (
                format!("{scheme}://{host}{path}"),
                Some((percent_decode(user), percent_decode(password))),
            )
        }
        None => (url.to_owned(), None),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_split_from_the_url() {
        assert_eq!(
            split_user_info("https://key:se%40cret@sr.example:8081/base"),
            (
                "https://sr.example:8081/base".to_owned(),
                Some(("key".to_owned(), "se@cret".to_owned()))
            )
        );
        assert_eq!(
            split_user_info("http://localhost:8081"),
            ("http://localhost:8081".to_owned(), None)
        );
    }

    #[test]
    fn subjects_are_encoded_in_paths() {
        assert_eq!(encode("orders-value"), "orders-value");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn only_network_and_server_errors_are_retried() {
        let reg = |status| Failure::Registry {
            status,
            code: 0,
            message: String::new(),
        };
        assert!(Failure::Unreachable("refused".into()).retriable());
        assert!(reg(503).retriable() && reg(429).retriable() && reg(408).retriable());
        assert!(!reg(409).retriable() && !reg(401).retriable() && !reg(404).retriable());
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let a = Auth::Basic {
            user: "u".into(),
            password: "pw-secret".into(),
        };
        assert!(!format!("{a:?}").contains("pw-secret"));
        let b = Auth::Bearer {
            token: "tok-secret".into(),
            logical_cluster: None,
            identity_pool: None,
        };
        assert!(!format!("{b:?}").contains("tok-secret"));
    }
}
