//! The storage emulators the benchmark starts: moto (S3), fake-gcs-server (GCS) and Azurite
//! (Azure Blob), each stopped when dropped, and the uploads that stage datasets into them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::data::Dataset;
pub(crate) use sluice_testkit::servers::{AZURITE_ACCOUNT, AZURITE_KEY, GCS_EMULATOR_KEY};
use sluice_testkit::ChildGuard;

/// A moto S3 server (memory only), its request log and the one bucket the benchmark uses.
pub(crate) struct Moto {
    /// The server process, killed when this is dropped.
    _child: ChildGuard,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Its stderr: one line per request (werkzeug's access log).
    pub log: PathBuf,
    /// The bucket.
    pub bucket: String,
    /// `<dataset>/<key>` of every object uploaded so far.
    pub staged: std::collections::HashSet<String>,
}

impl Moto {
    /// Starts moto on a free port and creates the bucket.
    pub(crate) fn start(bin: &Path, log: PathBuf) -> anyhow::Result<Moto> {
        let port = crate::kafka::free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting moto ({})", bin.display()))?;
        let addr = format!("127.0.0.1:{port}");
        let moto = Moto {
            _child: ChildGuard(child),
            endpoint: format!("http://{addr}"),
            log,
            bucket: "bench".into(),
            staged: Default::default(),
        };
        crate::kafka::wait_port(&addr, Duration::from_secs(30))?;
        // Create the bucket: a bare path-style PUT.
        let mut s = TcpStream::connect(&addr)?;
        write!(
            s,
            "PUT /{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            moto.bucket
        )?;
        let mut resp = String::new();
        s.read_to_string(&mut resp)?;
        if !resp.starts_with("HTTP/1.1 200") {
            bail!(
                "creating the moto bucket: {}",
                resp.lines().next().unwrap_or("")
            );
        }
        Ok(moto)
    }

    /// An object_store client for the bucket.
    pub(crate) fn store(&self) -> anyhow::Result<Arc<dyn ObjectStore>> {
        Ok(Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_bucket_name(&self.bucket)
                .with_region("us-east-1")
                .with_access_key_id("test")
                .with_secret_access_key("test")
                .with_virtual_hosted_style_request(false)
                .build()?,
        ))
    }

    /// Uploads the objects of `ds` not uploaded yet, under the prefix `<name>/`.
    pub(crate) async fn stage(&mut self, ds: &Dataset) -> anyhow::Result<()> {
        let ds = &pending(ds, &self.staged);
        if ds.objects.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        eprintln!(
            "uploading {} ({} objects, {:.1} MB) to moto",
            ds.name,
            ds.objects.len(),
            ds.bytes() as f64 / 1e6
        );
        let store = self.store()?;
        upload_dataset(&store, ds, 16, &mut self.staged).await?;
        eprintln!("  done in {:.1} s", started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Byte length of the request log now (count requests after this mark).
    pub(crate) fn log_mark(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// Requests logged since `mark`: (GETs of objects under `prefix`, LIST requests).
    pub(crate) fn requests_since(&self, mark: u64, prefix: &str) -> (Vec<String>, u64) {
        let mut f = match std::fs::File::open(&self.log) {
            Ok(f) => f,
            Err(_) => return (Vec::new(), 0),
        };
        let mut all = Vec::new();
        let _ = f.read_to_end(&mut all);
        let text = String::from_utf8_lossy(&all[(mark as usize).min(all.len())..]).into_owned();
        let object_get = format!("\"GET /{}/{}", self.bucket, prefix);
        let mut gets = Vec::new();
        let mut lists = 0;
        for line in text.lines() {
            let line = crate::measure::strip_ansi(line);
            if line.contains("list-type=") {
                lists += 1;
            } else if let Some(pos) = line.find(&object_get) {
                let rest = &line[pos + 5..];
                gets.push(rest.split_whitespace().next().unwrap_or("").to_owned());
            }
        }
        (gets, lists)
    }
}

/// The objects of `ds` whose `<name>/<key>` is not in `staged`.
fn pending(ds: &Dataset, staged: &std::collections::HashSet<String>) -> Dataset {
    let mut d = ds.clone();
    d.objects
        .retain(|o| !staged.contains(&format!("{}/{}", ds.name, o.key)));
    d
}

/// Uploads every object of `ds` to `<dataset>/<key>` in `store`, `concurrency` at a time, and
/// records them in `staged`.
async fn upload_dataset(
    store: &Arc<dyn ObjectStore>,
    ds: &Dataset,
    concurrency: usize,
    staged: &mut std::collections::HashSet<String>,
) -> anyhow::Result<()> {
    futures::stream::iter(ds.objects.iter().map(|o| {
        let store = store.clone();
        let src = ds.root.join(&o.key);
        let dst = StorePath::from(format!("{}/{}", ds.name, o.key));
        async move { upload(&store, &src, &dst).await }
    }))
    .buffer_unordered(concurrency)
    .try_collect::<Vec<()>>()
    .await?;
    staged.extend(ds.objects.iter().map(|o| format!("{}/{}", ds.name, o.key)));
    Ok(())
}

/// Puts one file: a single PUT below 32 MiB, a multipart upload above.
pub(crate) async fn upload(
    store: &Arc<dyn ObjectStore>,
    src: &Path,
    dst: &StorePath,
) -> anyhow::Result<()> {
    let len = std::fs::metadata(src)?.len();
    if len < 32 << 20 {
        let data = tokio::fs::read(src).await?;
        store.put(dst, PutPayload::from(data)).await?;
        return Ok(());
    }
    let upload = store.put_multipart(dst).await?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, 16 << 20);
    let mut f = tokio::fs::File::open(src).await?;
    let mut buf = vec![0u8; 8 << 20];
    loop {
        use tokio::io::AsyncReadExt;
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        w.wait_for_capacity(4).await?;
        w.write(&buf[..n]);
    }
    w.finish().await?;
    Ok(())
}

/// fake-gcs-server (memory backend) loaded at start from hard links to the datasets.
pub(crate) struct FakeGcs {
    /// The server process, killed when this is dropped.
    _child: ChildGuard,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

fn hard_link_tree(src: &Path, dst: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let to = dst.join(e.file_name());
        if e.file_type()?.is_dir() {
            hard_link_tree(&e.path(), &to)?;
        } else if !to.exists() {
            std::fs::hard_link(e.path(), &to)
                .or_else(|_| std::fs::copy(e.path(), &to).map(|_| ()))?;
        }
    }
    Ok(())
}

impl FakeGcs {
    /// Starts fake-gcs-server with `datasets` under `<name>/` of bucket `bench`.
    /// It does not take uploads through object_store and reads `-data` only at start.
    pub(crate) fn start(
        bin: &Path,
        work: &Path,
        datasets: &[&Dataset],
        log: PathBuf,
    ) -> anyhow::Result<FakeGcs> {
        let data = work.join("gcs-data");
        if data.exists() {
            std::fs::remove_dir_all(&data)?;
        }
        for ds in datasets {
            hard_link_tree(&ds.root, &data.join("bench").join(&ds.name))?;
        }
        let port = crate::kafka::free_port();
        let addr = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let child = Command::new(bin)
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
            ])
            .args([
                "-public-host",
                &addr,
                "-backend",
                "memory",
                "-log-level",
                "warn",
            ])
            .arg("-data")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting fake-gcs-server ({})", bin.display()))?;
        let gcs = FakeGcs {
            _child: ChildGuard(child),
            endpoint: format!("http://{addr}"),
        };
        crate::kafka::wait_port(&addr, Duration::from_secs(300))?;
        eprintln!(
            "  fake-gcs-server loaded its data in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(gcs)
    }
}

/// Azurite (in-memory) with container `bench`.
pub(crate) struct Azurite {
    /// The server process, killed when this is dropped.
    _child: ChildGuard,
    /// host:port.
    pub addr: String,
    /// The container.
    pub container: String,
    /// `<dataset>/<key>` of every object uploaded so far.
    pub staged: std::collections::HashSet<String>,
}

impl Azurite {
    /// Starts Azurite (`node main.js`) and creates the container.
    pub(crate) fn start(main_js: &Path, log: PathBuf) -> anyhow::Result<Azurite> {
        let port = crate::kafka::free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("node")
            .arg(main_js)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting Azurite (node)")?;
        let az = Azurite {
            _child: ChildGuard(child),
            addr,
            container: "bench".into(),
            staged: Default::default(),
        };
        crate::kafka::wait_port(&az.addr, Duration::from_secs(30))?;
        az.create_container()?;
        Ok(az)
    }

    /// A SharedKey-signed Create Container (Azurite refuses anonymous requests).
    fn create_container(&self) -> anyhow::Result<()> {
        sluice_testkit::servers::azurite_create_container(&self.addr, &self.container)
    }

    /// The connection string Sluice uses.
    pub(crate) fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint=http://{}/{AZURITE_ACCOUNT};",
            self.addr
        )
    }

    /// Uploads the objects of `ds` not uploaded yet, under `<name>/`.
    pub(crate) async fn stage(&mut self, ds: &Dataset) -> anyhow::Result<()> {
        let ds = &pending(ds, &self.staged);
        if ds.objects.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        eprintln!(
            "uploading {} ({} objects, {:.1} MB) to Azurite",
            ds.name,
            ds.objects.len(),
            ds.bytes() as f64 / 1e6
        );
        let store: Arc<dyn ObjectStore> = Arc::new(
            object_store::azure::MicrosoftAzureBuilder::new()
                .with_account(AZURITE_ACCOUNT)
                .with_access_key(AZURITE_KEY)
                .with_endpoint(format!("http://{}/{AZURITE_ACCOUNT}", self.addr))
                .with_allow_http(true)
                .with_container_name(&self.container)
                .build()?,
        );
        upload_dataset(&store, ds, 8, &mut self.staged).await?;
        eprintln!("  done in {:.1} s", started.elapsed().as_secs_f64());
        Ok(())
    }
}
