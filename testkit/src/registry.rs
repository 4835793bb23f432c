//! A small Schema Registry for the tests: Confluent's REST API for the calls the converters and
//! Python's `confluent-kafka` deserializers make, in memory, on a 127.0.0.1 port, in this test
//! process (its own thread and runtime, so sync and async tests can use it), stoppable and
//! restartable on the same port to simulate an outage.
//!
//! Served: `POST /subjects/{s}/versions` (register; the same schema keeps its id across
//! subjects; `?normalize=` ignored), `POST /subjects/{s}` (look up), `GET /subjects`,
//! `GET /subjects/{s}/versions`, `GET /subjects/{s}/versions/{v|latest}`, `GET /schemas/ids/{id}`
//! (and `/schemas/ids/{id}/subjects`, `/schemas/ids/{id}/versions`), `GET|PUT /config` and
//! `/config/{s}`. A new version must be compatible with the subject's latest under BACKWARD (the
//! default) or FULL: Avro schemas are checked with apache-avro's schema resolution (the new
//! schema must read data written with the latest); JSON schemas by comparing the `type` of every
//! property both have; anything else is accepted. Refusals are 409 (incompatible), 422 (not a
//! schema), 404 (unknown subject, version or schema: error codes 40401, 40402, 40403), in
//! Confluent's `{"error_code","message"}` shape. Schema references are ignored.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

/// A registered schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Its id.
    pub id: u32,
    /// `AVRO`, `JSON` or `PROTOBUF`.
    pub schema_type: String,
    /// The schema text as registered.
    pub schema: String,
}

#[derive(Debug, Default)]
struct Data {
    /// Every distinct schema, by id - 1.
    schemas: Vec<Stored>,
    /// Subject → ids of its versions (version n at n - 1).
    subjects: BTreeMap<String, Vec<u32>>,
    /// Compatibility per subject; `None` key: the global level.
    compatibility: BTreeMap<Option<String>, String>,
}

#[derive(Default)]
struct Shared {
    data: Mutex<Data>,
    requests: AtomicUsize,
}

/// A running (or stopped) test registry.
pub struct TestRegistry {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<(tokio::sync::oneshot::Sender<()>, JoinHandle<()>)>,
}

impl TestRegistry {
    /// Starts a registry on a free 127.0.0.1 port.
    pub fn start() -> TestRegistry {
        let mut r = TestRegistry {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            shared: Arc::default(),
            server: None,
        };
        r.serve();
        r
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops answering: the port is closed, open connections are dropped. What was registered
    /// is kept for [`TestRegistry::restart`].
    pub fn stop(&mut self) {
        if let Some((tx, thread)) = self.server.take() {
            let _ = tx.send(());
            let _ = thread.join();
        }
    }

    /// Serves again on the same port, with the same schemas.
    pub fn restart(&mut self) {
        self.stop();
        self.serve();
    }

    /// Requests answered so far (every route).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The ids of the versions of `subject`, oldest first.
    pub fn versions(&self, subject: &str) -> Vec<u32> {
        let d = self.shared.data.lock().unwrap();
        d.subjects.get(subject).cloned().unwrap_or_default()
    }

    /// Every subject.
    pub fn subjects(&self) -> Vec<String> {
        let d = self.shared.data.lock().unwrap();
        d.subjects.keys().cloned().collect()
    }

    /// The schema with `id`.
    pub fn schema(&self, id: u32) -> Option<Stored> {
        let d = self.shared.data.lock().unwrap();
        d.schemas.get((id as usize).checked_sub(1)?).cloned()
    }

    /// Registers `schema` under `subject` as a client would (compatibility checked).
    pub fn register(&self, subject: &str, schema_type: &str, schema: &str) -> Result<u32, String> {
        let mut d = self.shared.data.lock().unwrap();
        register(&mut d, subject, schema_type, schema).map_err(|(_, v)| v.to_string())
    }

    /// Sets the compatibility level of `subject` (`None`: the global default), e.g. `NONE`.
    pub fn set_compatibility(&self, subject: Option<&str>, level: &str) {
        let mut d = self.shared.data.lock().unwrap();
        d.compatibility
            .insert(subject.map(str::to_owned), level.to_owned());
    }

    fn serve(&mut self) {
        let socket = std::net::TcpListener::bind(self.addr)
            .or_else(|_| {
                // The old socket may linger a moment after a stop.
                std::thread::sleep(std::time::Duration::from_millis(200));
                std::net::TcpListener::bind(self.addr)
            })
            .expect("bind the test registry's port");
        socket.set_nonblocking(true).unwrap();
        self.addr = socket.local_addr().unwrap();
        let shared = self.shared.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(socket).unwrap();
                let app = routes(shared);
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = rx => {}
                }
            });
            // Dropping the runtime drops every connection task: clients see them closed.
            drop(rt);
        });
        self.server = Some((tx, thread));
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup))
        .route(
            "/subjects/{subject}/versions",
            post(register_route).get(list_versions),
        )
        .route("/subjects/{subject}/versions/{version}", get(version))
        .route("/schemas/ids/{id}", get(by_id))
        .route("/schemas/ids/{id}/subjects", get(id_subjects))
        .route("/schemas/ids/{id}/versions", get(id_versions))
        .route("/config", get(get_global).put(put_global))
        .route("/config/{subject}", get(get_config).put(put_config))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            |State(s): State<Arc<Shared>>, req, next: axum::middleware::Next| async move {
                s.requests.fetch_add(1, Ordering::Relaxed);
                next.run(req).await
            },
        ))
        .with_state(shared)
}

type Answer = Result<Response, (StatusCode, Value)>;

fn error(status: StatusCode, code: u32, message: String) -> (StatusCode, Value) {
    (status, json!({"error_code": code, "message": message}))
}

fn ok(v: Value) -> Answer {
    Ok((
        [("content-type", "application/vnd.schemaregistry.v1+json")],
        v.to_string(),
    )
        .into_response())
}

fn answer(a: Answer) -> Response {
    match a {
        Ok(r) => r,
        Err((status, v)) => (
            status,
            [("content-type", "application/vnd.schemaregistry.v1+json")],
            v.to_string(),
        )
            .into_response(),
    }
}

/// `schema` and `schemaType` of a request body.
fn body_schema(body: &Bytes) -> Result<(String, String), (StatusCode, Value)> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            format!("Invalid schema: the body is not JSON: {e}"),
        )
    })?;
    let schema = v["schema"].as_str().ok_or_else(|| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            "Invalid schema: no \"schema\" string in the body".into(),
        )
    })?;
    let t = v["schemaType"].as_str().unwrap_or("AVRO").to_owned();
    Ok((schema.to_owned(), t))
}

/// The text two schemas are compared by: the JSON re-serialised (so spacing does not matter).
fn canonical(schema: &str) -> String {
    serde_json::from_str::<Value>(schema).map_or_else(|_| schema.to_owned(), |v| v.to_string())
}

fn register(
    d: &mut Data,
    subject: &str,
    schema_type: &str,
    schema: &str,
) -> Result<u32, (StatusCode, Value)> {
    if schema_type == "AVRO" {
        apache_avro::Schema::parse_str(schema).map_err(|e| {
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                42201,
                format!("Invalid schema {schema}: {e}"),
            )
        })?;
    } else if schema_type == "JSON" && serde_json::from_str::<Value>(schema).is_err() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            format!("Invalid schema {schema}: not JSON"),
        ));
    }
    let canon = canonical(schema);
    let existing = d
        .schemas
        .iter()
        .find(|s| s.schema_type == schema_type && canonical(&s.schema) == canon)
        .map(|s| s.id);
    let versions = d.subjects.get(subject).cloned().unwrap_or_default();
    if let Some(id) = existing {
        if versions.contains(&id) {
            return Ok(id);
        }
    }
    let level = d
        .compatibility
        .get(&Some(subject.to_owned()))
        .or_else(|| d.compatibility.get(&None))
        .cloned()
        .unwrap_or_else(|| "BACKWARD".into());
    if let Some(&latest) = versions.last() {
        let old = &d.schemas[latest as usize - 1];
        if old.schema_type == schema_type && level != "NONE" {
            let mut problems = compatible(schema_type, &old.schema, schema);
            if level.starts_with("FULL") {
                problems.extend(compatible(schema_type, schema, &old.schema));
            }
            if !problems.is_empty() {
                return Err(error(
                    StatusCode::CONFLICT,
                    409,
                    format!(
                        "Schema being registered is incompatible with an earlier schema for \
                         subject \"{subject}\", details: [{}]",
                        problems.join(", ")
                    ),
                ));
            }
        }
    }
    let id = match existing {
        Some(id) => id,
        None => {
            let id = d.schemas.len() as u32 + 1;
            d.schemas.push(Stored {
                id,
                schema_type: schema_type.to_owned(),
                schema: schema.to_owned(),
            });
            id
        }
    };
    d.subjects.entry(subject.to_owned()).or_default().push(id);
    Ok(id)
}

/// Why a reader with `new` cannot read what `old` wrote (empty when it can).
fn compatible(schema_type: &str, old: &str, new: &str) -> Vec<String> {
    match schema_type {
        "AVRO" => {
            let (Ok(o), Ok(n)) = (
                apache_avro::Schema::parse_str(old),
                apache_avro::Schema::parse_str(new),
            ) else {
                return vec!["a schema does not parse".into()];
            };
            use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
            // A partial match (a union branch or enum symbol the reader lacks) is incompatible,
            // as Confluent's checker says.
            match SchemaCompatibility::can_read(&o, &n) {
                Ok(Compatibility::Full) => Vec::new(),
                Ok(Compatibility::Partial) => vec![
                    "{errorType:'MISSING_UNION_BRANCH', description:'the reader cannot read every \
                     value the writer can write'}"
                        .into(),
                ],
                Err(e) => vec![format!(
                    "{{errorType:'READER_CANNOT_READ_WRITER', description:'{e}'}}"
                )],
            }
        }
        "JSON" => {
            let (Ok(o), Ok(n)) = (
                serde_json::from_str::<Value>(old),
                serde_json::from_str::<Value>(new),
            ) else {
                return vec!["a schema does not parse".into()];
            };
            let mut out = Vec::new();
            json_types(&o, &n, "#", &mut out);
            out
        }
        _ => Vec::new(),
    }
}

fn json_types(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    if let (Some(a), Some(b)) = (old.get("type"), new.get("type")) {
        if a != b {
            out.push(format!(
                "{{errorType:'TYPE_CHANGED', description:'{path}: {a} became {b}'}}"
            ));
            return;
        }
    }
    if let (Some(a), Some(b)) = (old.get("oneOf"), new.get("oneOf")) {
        if let (Some(a), Some(b)) = (a.as_array(), b.as_array()) {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                json_types(x, y, &format!("{path}/oneOf/{i}"), out);
            }
        }
    }
    for key in ["properties"] {
        if let (Some(a), Some(b)) = (
            old.get(key).and_then(Value::as_object),
            new.get(key).and_then(Value::as_object),
        ) {
            for (name, x) in a {
                if let Some(y) = b.get(name) {
                    json_types(x, y, &format!("{path}/{key}/{name}"), out);
                }
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let (Some(x), Some(y)) = (old.get(key), new.get(key)) {
            json_types(x, y, &format!("{path}/{key}"), out);
        }
    }
}

async fn register_route(
    State(s): State<Arc<Shared>>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    answer((|| {
        let (schema, t) = body_schema(&body)?;
        let mut d = s.data.lock().unwrap();
        let id = register(&mut d, &subject, &t, &schema)?;
        ok(json!({ "id": id }))
    })())
}

fn entry(d: &Data, subject: &str, version: usize) -> Value {
    let id = d.subjects[subject][version - 1];
    let s = &d.schemas[id as usize - 1];
    let mut v = json!({"subject": subject, "version": version, "id": id, "schema": s.schema});
    if s.schema_type != "AVRO" {
        v["schemaType"] = json!(s.schema_type);
    }
    v
}

fn subject_not_found(subject: &str) -> (StatusCode, Value) {
    error(
        StatusCode::NOT_FOUND,
        40401,
        format!("Subject '{subject}' not found."),
    )
}

async fn lookup(
    State(s): State<Arc<Shared>>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    answer((|| {
        let (schema, t) = body_schema(&body)?;
        let d = s.data.lock().unwrap();
        let versions = d
            .subjects
            .get(&subject)
            .ok_or_else(|| subject_not_found(&subject))?;
        let canon = canonical(&schema);
        let at = versions
            .iter()
            .position(|id| {
                let s = &d.schemas[*id as usize - 1];
                s.schema_type == t && canonical(&s.schema) == canon
            })
            .ok_or_else(|| error(StatusCode::NOT_FOUND, 40403, "Schema not found".into()))?;
        ok(entry(&d, &subject, at + 1))
    })())
}

async fn list_subjects(State(s): State<Arc<Shared>>) -> Response {
    let d = s.data.lock().unwrap();
    answer(ok(json!(d.subjects.keys().collect::<Vec<_>>())))
}

async fn list_versions(State(s): State<Arc<Shared>>, Path(subject): Path<String>) -> Response {
    let d = s.data.lock().unwrap();
    answer(match d.subjects.get(&subject) {
        Some(v) => ok(json!((1..=v.len()).collect::<Vec<_>>())),
        None => Err(subject_not_found(&subject)),
    })
}

async fn version(
    State(s): State<Arc<Shared>>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    let d = s.data.lock().unwrap();
    answer((|| {
        let versions = d
            .subjects
            .get(&subject)
            .ok_or_else(|| subject_not_found(&subject))?;
        let n = if version == "latest" || version == "-1" {
            versions.len()
        } else {
            version.parse::<usize>().map_err(|_| {
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    42202,
                    format!("The specified version '{version}' is not a valid version id."),
                )
            })?
        };
        if n == 0 || n > versions.len() {
            return Err(error(
                StatusCode::NOT_FOUND,
                40402,
                format!("Version {version} not found."),
            ));
        }
        ok(entry(&d, &subject, n))
    })())
}

fn stored(d: &Data, id: &str) -> Result<Stored, (StatusCode, Value)> {
    id.parse::<usize>()
        .ok()
        .and_then(|i| d.schemas.get(i.checked_sub(1)?))
        .cloned()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, 40403, "Schema not found".into()))
}

async fn by_id(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let d = s.data.lock().unwrap();
    answer(stored(&d, &id).and_then(|st| {
        let mut v = json!({ "schema": st.schema });
        if st.schema_type != "AVRO" {
            v["schemaType"] = json!(st.schema_type);
        }
        ok(v)
    }))
}

async fn id_subjects(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let d = s.data.lock().unwrap();
    answer(stored(&d, &id).and_then(|st| {
        let subjects: Vec<&String> = d
            .subjects
            .iter()
            .filter(|(_, v)| v.contains(&st.id))
            .map(|(k, _)| k)
            .collect();
        ok(json!(subjects))
    }))
}

async fn id_versions(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let d = s.data.lock().unwrap();
    answer(stored(&d, &id).and_then(|st| {
        let pairs: Vec<Value> = d
            .subjects
            .iter()
            .flat_map(|(k, v)| {
                v.iter()
                    .enumerate()
                    .filter(|(_, i)| **i == st.id)
                    .map(move |(n, _)| json!({"subject": k, "version": n + 1}))
            })
            .collect();
        ok(json!(pairs))
    }))
}

fn level(d: &Data, subject: Option<String>) -> Value {
    let l = d
        .compatibility
        .get(&subject)
        .or_else(|| d.compatibility.get(&None))
        .cloned()
        .unwrap_or_else(|| "BACKWARD".into());
    json!({ "compatibilityLevel": l })
}

async fn get_global(State(s): State<Arc<Shared>>) -> Response {
    answer(ok(level(&s.data.lock().unwrap(), None)))
}

async fn get_config(State(s): State<Arc<Shared>>, Path(subject): Path<String>) -> Response {
    answer(ok(level(&s.data.lock().unwrap(), Some(subject))))
}

fn put_level(s: &Shared, subject: Option<String>, body: &Bytes) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    answer(match v["compatibility"].as_str() {
        Some(l) => {
            s.data
                .lock()
                .unwrap()
                .compatibility
                .insert(subject, l.to_owned());
            ok(json!({ "compatibility": l }))
        }
        None => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42203,
            "Invalid compatibility level".into(),
        )),
    })
}

async fn put_global(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    put_level(&s, None, &body)
}

async fn put_config(
    State(s): State<Arc<Shared>>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    put_level(&s, Some(subject), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request;

    fn call(r: &TestRegistry, method: &str, path: &str, body: &str) -> (u16, Value) {
        let addr = r.url().trim_start_matches("http://").to_owned();
        let resp = request(
            &addr,
            method,
            path,
            &[(
                "Content-Type",
                "application/vnd.schemaregistry.v1+json".into(),
            )],
            body.as_bytes(),
        )
        .unwrap();
        (
            resp.status,
            serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn registers_looks_up_and_refuses_an_incompatible_change() {
        let mut r = TestRegistry::start();
        let v1 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#;
        let body = json!({ "schema": v1 }).to_string();
        let (status, v) = call(&r, "POST", "/subjects/t-value/versions", &body);
        assert_eq!((status, v["id"].as_u64()), (200, Some(1)));
        // The same schema again: the same id, no new version.
        assert_eq!(
            call(&r, "POST", "/subjects/t-value/versions", &body).1["id"],
            1
        );
        assert_eq!(r.versions("t-value"), vec![1]);
        let (status, v) = call(&r, "POST", "/subjects/t-value", &body);
        assert_eq!((status, v["version"].as_u64()), (200, Some(1)));
        let (_, v) = call(&r, "GET", "/schemas/ids/1", "");
        assert_eq!(v["schema"], v1);
        let (_, v) = call(&r, "GET", "/subjects/t-value/versions/latest", "");
        assert_eq!(v["id"], 1);
        // long -> string cannot read old data: 409 with Confluent's error shape.
        let v2 = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#;
        let (status, v) = call(
            &r,
            "POST",
            "/subjects/t-value/versions",
            &json!({ "schema": v2 }).to_string(),
        );
        assert_eq!(status, 409);
        assert_eq!(v["error_code"], 409);
        assert!(v["message"].as_str().unwrap().contains("t-value"), "{v}");
        // Unknown subject: 40401.
        let (status, v) = call(&r, "POST", "/subjects/other", &body);
        assert_eq!((status, v["error_code"].as_u64()), (404, Some(40401)));
        // A stop closes the port; a restart serves the same schemas on it.
        let url = r.url();
        r.stop();
        assert!(std::net::TcpStream::connect(url.trim_start_matches("http://")).is_err());
        r.restart();
        assert_eq!(r.url(), url);
        assert_eq!(call(&r, "GET", "/schemas/ids/1", "").1["schema"], v1);
    }
}
