//! [`S3Store`]: an S3-compatible store for a test of a pipeline, in a few lines of a
//! `#[tokio::test]` (see `docs/testing-your-pipeline.md`).
//!
//! By default it starts moto's S3 server (installed by `scripts/install-test-servers.sh`, or
//! found through `SLUICE_MOTO_BIN`) on a free loopback port with a fresh bucket. With
//! `SLUICE_TESTKIT_S3_URL` set it uses that store instead — a MinIO, a real S3 — and the bucket
//! named by `SLUICE_TESTKIT_S3_BUCKET` (which must exist), each store under a prefix of its own
//! so tests never see each other's objects; credentials from `SLUICE_TESTKIT_S3_ACCESS_KEY_ID`
//! and `SLUICE_TESTKIT_S3_SECRET_ACCESS_KEY` (default `test` / `test`), region from
//! `SLUICE_TESTKIT_S3_REGION` (default `us-east-1`).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::servers::{moto_bin, wait_for_port};
use crate::{free_port, ChildGuard};

/// The environment variable that selects an external S3-compatible store.
pub const S3_URL_ENV: &str = "SLUICE_TESTKIT_S3_URL";

/// A bucket (or, on an external store, a prefix of one) for one test; a moto server it started
/// stops on drop.
pub struct S3Store {
    endpoint: String,
    bucket: String,
    prefix: String,
    region: String,
    key_id: String,
    secret: String,
    store: Arc<dyn ObjectStore>,
    // Declared last: the server is killed after the client is gone.
    _server: Option<(ChildGuard, tempfile::TempDir)>,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

impl S3Store {
    /// Starts moto with a fresh bucket, or takes a prefix of `$SLUICE_TESTKIT_S3_BUCKET` on
    /// the store at `$SLUICE_TESTKIT_S3_URL`.
    ///
    /// # Errors
    /// moto is not installed or does not start, or the external store's bucket is not named.
    pub async fn start() -> anyhow::Result<S3Store> {
        // The store's HTTP client needs a rustls crypto provider (Sluice uses ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (endpoint, bucket, prefix, server) = match std::env::var(S3_URL_ENV) {
            Ok(url) => {
                static N: AtomicU32 = AtomicU32::new(0);
                let bucket = std::env::var("SLUICE_TESTKIT_S3_BUCKET").with_context(|| {
                    format!(
                        "{S3_URL_ENV} is set: name an existing bucket in SLUICE_TESTKIT_S3_BUCKET"
                    )
                })?;
                let prefix = format!(
                    "sluice-test-{}-{}-{}/",
                    std::process::id(),
                    chrono::Utc::now().timestamp_millis(),
                    N.fetch_add(1, Ordering::Relaxed)
                );
                (url.trim_end_matches('/').to_owned(), bucket, prefix, None)
            }
            Err(_) => {
                let (addr, server) = tokio::task::spawn_blocking(start_moto).await??;
                (
                    format!("http://{addr}"),
                    "sluice-test".to_owned(),
                    String::new(),
                    Some(server),
                )
            }
        };
        let region = env_or("SLUICE_TESTKIT_S3_REGION", "us-east-1");
        let key_id = env_or("SLUICE_TESTKIT_S3_ACCESS_KEY_ID", "test");
        let secret = env_or("SLUICE_TESTKIT_S3_SECRET_ACCESS_KEY", "test");
        let store = AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_allow_http(true)
            .with_bucket_name(&bucket)
            .with_region(&region)
            .with_access_key_id(&key_id)
            .with_secret_access_key(&secret)
            .with_virtual_hosted_style_request(false)
            .build()
            .context("the S3 client")?;
        Ok(S3Store {
            endpoint,
            bucket,
            prefix,
            region,
            key_id,
            secret,
            store: Arc::new(store),
            _server: server,
        })
    }

    /// Uploads `data` as object `key` (under this store's prefix).
    ///
    /// # Errors
    /// The store refused it.
    pub async fn put(&self, key: &str, data: impl Into<Vec<u8>>) -> anyhow::Result<()> {
        let path = Path::from(format!("{}{key}", self.prefix));
        self.store
            .put(&path, PutPayload::from(data.into()))
            .await
            .with_context(|| format!("uploading {path}"))?;
        Ok(())
    }

    /// Uploads every file under `dir` (fixtures), keyed by its path below `dir`.
    ///
    /// # Errors
    /// A file cannot be read, or the store refused it.
    pub async fn put_dir(&self, dir: &std::path::Path) -> anyhow::Result<usize> {
        let mut pending = vec![dir.to_path_buf()];
        let mut n = 0;
        while let Some(d) = pending.pop() {
            for e in std::fs::read_dir(&d).with_context(|| d.display().to_string())? {
                let p = e?.path();
                if p.is_dir() {
                    pending.push(p);
                } else {
                    let key = p.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
                    self.put(&key, std::fs::read(&p)?).await?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix of this store's objects (empty on a moto of its own).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The client the fixtures are uploaded with.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// A connector's settings reading this store: `connector.class=s3`, the bucket, endpoint,
    /// region, credentials and prefix. Add `name`, `topic`, `input.format`, ...
    pub fn connector_settings(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("connector.class", "s3".to_owned()),
            ("aws.s3.bucket.name", self.bucket.clone()),
            ("aws.s3.endpoint", self.endpoint.clone()),
            ("aws.s3.region", self.region.clone()),
            ("aws.access.key.id", self.key_id.clone()),
            ("aws.secret.access.key", self.secret.clone()),
        ];
        if !self.prefix.is_empty() {
            v.push(("aws.s3.prefix", self.prefix.clone()));
        }
        v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

/// Starts moto on a free port with bucket `sluice-test`.
fn start_moto() -> anyhow::Result<(String, (ChildGuard, tempfile::TempDir))> {
    let dir = tempfile::tempdir()?;
    let log_path = dir.path().join("moto.log");
    let log = || std::fs::File::create(&log_path);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = ChildGuard::spawn(
        Command::new(moto_bin())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log()?)
            .stderr(Stdio::from(log()?)),
    );
    wait_for_port(&addr, "moto", &log_path, &mut child);
    let r = crate::http::request(&addr, "PUT", "/sluice-test", &[], b"")?;
    anyhow::ensure!(r.status == 200, "creating the bucket: {}", r.text());
    Ok((addr, (child, dir)))
}
