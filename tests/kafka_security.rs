//! Kafka over TLS and mutual TLS against a real broker: tansu behind stunnel (Debian's
//! `stunnel4`, installed by scripts/install-test-servers.sh), a TLS-terminating proxy that
//! requires a client certificate signed by the test's CA, with tansu advertising the proxy's
//! address. Certificates are made by `openssl` for the test. Plaintext to the TLS port, a
//! client without a certificate and one that does not trust the broker's certificate each fail
//! with the reason named; with certificates (PEM files, a PKCS#12 keystore whose password comes
//! from a `${file:...}` provider, inline PEM from `${env:...}`) Sluice connects, and a backfill
//! through the proxy delivers every record (consumed over TLS and counted).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use support::tls::{make_certificates, openssl};
use support::*;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// stunnel's binary: `stunnel4` (Debian) or `stunnel`.
fn stunnel_bin() -> String {
    for bin in ["stunnel4", "stunnel"] {
        if Command::new(bin)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
        {
            return bin.into();
        }
    }
    panic!("stunnel is not installed: run scripts/install-test-servers.sh (Debian's stunnel4)")
}

/// tansu on a plaintext loopback port advertising `tls_port`, and stunnel terminating mutual
/// TLS on `tls_port` in front of it.
struct TlsKafka {
    _tansu: ChildGuard,
    _stunnel: ChildGuard,
    /// `127.0.0.1:<tls port>`.
    bootstrap: String,
    certs: PathBuf,
}

impl TlsKafka {
    fn start(dir: &Path) -> TlsKafka {
        let certs = dir.join("certs");
        std::fs::create_dir(&certs).unwrap();
        make_certificates(&certs);
        let (plain, tls) = (free_port(), free_port());
        let tansu = ChildGuard::spawn(
            Command::new(tansu_bin())
                .args([
                    "broker",
                    "--listener-url",
                    &format!("tcp://127.0.0.1:{plain}"),
                    "--advertised-listener-url",
                    &format!("tcp://127.0.0.1:{tls}"),
                    "--storage-engine",
                    "memory://tansu/",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_port(&format!("127.0.0.1:{plain}"), Duration::from_secs(20)).unwrap();
        let conf = dir.join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\ndebug = 4\n[kafka]\naccept = 127.0.0.1:{tls}\nconnect = 127.0.0.1:{plain}\ncert = {c}/server.pem\nkey = {c}/server.key\nCAfile = {c}/ca.pem\nverifyChain = yes\nrequireCert = yes\n",
                c = certs.display()
            ),
        )
        .unwrap();
        let stunnel = ChildGuard::spawn(
            Command::new(stunnel_bin())
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("stunnel.log")).unwrap()),
        );
        let bootstrap = format!("127.0.0.1:{tls}");
        wait_port(&bootstrap, Duration::from_secs(20)).unwrap();
        TlsKafka {
            _tansu: tansu,
            _stunnel: stunnel,
            bootstrap,
            certs,
        }
    }

    fn cert(&self, name: &str) -> String {
        self.certs.join(name).to_str().unwrap().to_owned()
    }

    /// librdkafka settings of a client holding the test's client certificate.
    fn client_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("security.protocol", "SSL".into()),
            ("ssl.ca.location", self.cert("ca.pem")),
            ("ssl.certificate.location", self.cert("client.pem")),
            ("ssl.key.location", self.cert("client.key")),
        ]
    }

    fn create_topic(&self, topic: &str) {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in self.client_settings() {
            cfg.set(k, v);
        }
        let admin: AdminClient<DefaultClientContext> = cfg.create().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let res = rt
            .block_on(admin.create_topics(
                &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            ))
            .unwrap();
        for r in res {
            r.unwrap();
        }
    }
}

/// `sluice validate --worker <file>` with `pairs` (+ `env`): (success, stdout and stderr).
fn validate(
    dir: &Path,
    name: &str,
    pairs: &[(&str, &str)],
    env: &[(&str, &str)],
) -> (bool, String) {
    let worker = dir.join(format!("{name}.properties"));
    write_props(&worker, pairs);
    let mut cmd = sluice();
    cmd.args(["validate", "--worker"]).arg(&worker);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), output_text(&out))
}

/// A named way of giving the client certificate: worker settings and environment variables.
type Form<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<(&'a str, String)>);

#[test]
fn tls_and_mutual_tls_through_a_proxy_that_checks_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = TlsKafka::start(dir.path());
    let bootstrap = kafka.bootstrap.as_str();
    let (ca, other_ca) = (kafka.cert("ca.pem"), kafka.cert("other-ca.pem"));
    let (keystore, p12) = (kafka.cert("client-keystore.pem"), kafka.cert("client.p12"));

    // Plaintext to the TLS port: the proxy hangs up; the reason says to set security.protocol.
    let (ok, text) = validate(
        dir.path(),
        "plain",
        &[("bootstrap.servers", bootstrap)],
        &[],
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("cannot connect to Kafka at \"{bootstrap}\"")),
        "{text}"
    );
    assert!(text.contains("set security.protocol"), "{text}");

    // TLS, but the broker's certificate is signed by a CA the client does not trust.
    let (ok, text) = validate(
        dir.path(),
        "untrusted",
        &[
            ("bootstrap.servers", bootstrap),
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", &other_ca),
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", &keystore),
        ],
        &[],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("TLS handshake failed: the broker's certificate is not signed by a CA this client trusts"), "{text}");

    // TLS without a client certificate: the proxy requires one.
    let (ok, text) = validate(
        dir.path(),
        "no-cert",
        &[
            ("bootstrap.servers", bootstrap),
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", &ca),
        ],
        &[],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("client certificate"), "{text}");

    // With a client certificate, in each form a worker file may give it: Sluice connects.
    let secrets = dir.path().join("secrets.properties");
    std::fs::write(&secrets, "keystore.password=p12pass\n").unwrap();
    let providers = [
        ("config.providers", "file,env"),
        (
            "config.providers.file.class",
            "org.apache.kafka.common.config.provider.FileConfigProvider",
        ),
        (
            "config.providers.env.class",
            "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        ),
    ];
    let p12_password = format!("${{file:{}:keystore.password}}", secrets.display());
    let forms: Vec<Form<'_>> = vec![
        (
            "pem-files",
            vec![
                ("security.protocol", "SSL"),
                ("ssl.truststore.type", "PEM"),
                ("ssl.truststore.location", &ca),
                ("ssl.keystore.type", "PEM"),
                ("ssl.keystore.location", &keystore),
            ],
            vec![],
        ),
        (
            "pkcs12-password-from-a-file",
            vec![
                ("security.protocol", "SSL"),
                ("ssl.truststore.location", &ca),
                ("ssl.keystore.type", "PKCS12"),
                ("ssl.keystore.location", &p12),
                ("ssl.keystore.password", &p12_password),
            ],
            vec![],
        ),
        (
            "inline-pem-from-the-environment",
            vec![
                ("security.protocol", "SSL"),
                ("ssl.truststore.certificates", "${env:TEST_KAFKA_CA}"),
                ("ssl.keystore.certificate.chain", "${env:TEST_KAFKA_CERT}"),
                ("ssl.keystore.key", "${env:TEST_KAFKA_KEY}"),
            ],
            vec![
                ("TEST_KAFKA_CA", read(&kafka.certs, "ca.pem")),
                ("TEST_KAFKA_CERT", read(&kafka.certs, "client.pem")),
                ("TEST_KAFKA_KEY", read(&kafka.certs, "client.key")),
            ],
        ),
    ];
    for (name, pairs, env) in &forms {
        let mut all = vec![("bootstrap.servers", bootstrap)];
        all.extend(providers);
        all.extend(pairs.iter().copied());
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (ok, text) = validate(dir.path(), name, &all, &env);
        assert!(ok, "{name}: {text}");
        assert!(
            !text.contains("p12pass") && !text.contains("PRIVATE KEY"),
            "{name}: {text}"
        );
    }

    // A backfill through the proxy (mutual TLS, PEM files): every record arrives.
    let topic = "tls-orders";
    kafka.create_topic(topic);
    let data = dir.path().join("bucket");
    std::fs::create_dir(&data).unwrap();
    let (objects, records) = (6, 500);
    write_jsonl(&data, objects, records);
    let worker = dir.path().join("worker.properties");
    // Offsets in a topic: the offsets store's admin client and consumer need the TLS settings too.
    let mut w = vec![
        ("bootstrap.servers", bootstrap),
        ("value.converter.schemas.enable", "false"),
        ("offset.storage.topic", "sluice-offsets"),
        ("offset.storage.partitions", "1"),
    ];
    w.extend(forms[0].1.iter().copied());
    write_props(&worker, &w);
    let connector = dir.path().join("connector.properties");
    write_props(
        &connector,
        &[
            ("name", "tls"),
            ("connector.class", "local"),
            ("local.path", data.to_str().unwrap()),
            ("local.file.min.age.ms", "0"),
            ("topic", topic),
            ("input.format", "jsonl"),
            ("tasks.max", "2"),
        ],
    );
    let out = backfill(&worker, &connector);
    assert!(out.status.success(), "{}", output_text(&out));
    let settings = kafka.client_settings();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let got = consume_all_with(
        bootstrap,
        &settings,
        &[topic],
        objects * records,
        Duration::from_secs(30),
    );
    assert_eq!(got.len(), objects * records, "every record, once");
    let mut seen: Vec<(String, u64)> = got
        .iter()
        .map(|g| (g.object().to_owned(), g.index()))
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), objects * records, "no duplicates");
    // The offsets went to the offsets topic over TLS, and read back over TLS.
    let out = sluice()
        .args(["offsets", "list"])
        .arg(&worker)
        .args(["--connector", "tls"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("\tfinished\t").count(), objects, "{text}");
}

/// Every worker file example of docs/kafka.md passes `sluice validate --offline`: its keys,
/// the config providers and librdkafka's own checks (the certificate files and keys it names
/// are read: the test puts generated ones where the example says).
#[test]
fn every_example_of_the_kafka_docs_validates() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let certs = root.join("certs");
    std::fs::create_dir(&certs).unwrap();
    make_certificates(&certs);
    let etc = root.join("etc");
    for sub in ["aiven", "redpanda"] {
        std::fs::create_dir_all(etc.join(sub)).unwrap();
        std::fs::copy(certs.join("ca.pem"), etc.join(sub).join("ca.pem")).unwrap();
    }
    std::fs::copy(certs.join("client.pem"), etc.join("aiven/service.cert")).unwrap();
    std::fs::copy(certs.join("client.key"), etc.join("aiven/service.key")).unwrap();
    // The Schema Registry example's private CA.
    std::fs::copy(certs.join("ca.pem"), etc.join("registry-ca.pem")).unwrap();
    // Redpanda's example: an encrypted key, its password from the secrets file.
    openssl(
        &certs,
        &[
            "pkey",
            "-in",
            "client.key",
            "-aes256",
            "-passout",
            "pass:keypass",
            "-out",
            "client-encrypted.key",
        ],
    );
    let keystore = [
        read(&certs, "client.pem"),
        read(&certs, "client-encrypted.key"),
    ]
    .concat();
    std::fs::write(etc.join("redpanda/client-keystore.pem"), keystore).unwrap();
    std::fs::write(
        etc.join("secrets.properties"),
        "msk.password=msk-secret\nredpanda.key.password=keypass\n",
    )
    .unwrap();
    let var = root.join("var");
    std::fs::create_dir(&var).unwrap();

    let doc = std::fs::read_to_string(workspace_root().join("docs/kafka.md")).unwrap();
    let examples: Vec<&str> = doc
        .split("```properties\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.contains("bootstrap.servers="))
        .collect();
    assert!(examples.len() >= 6, "found {} examples", examples.len());
    for (i, example) in examples.iter().enumerate() {
        let text = example
            .replace("/etc/sluice/", &format!("{}/", etc.display()))
            .replace("/var/lib/sluice/", &format!("{}/", var.display()));
        let worker = root.join(format!("example-{i}.properties"));
        std::fs::write(&worker, &text).unwrap();
        let out = sluice()
            .args(["validate", "--offline", "--worker"])
            .arg(&worker)
            .env("CONFLUENT_API_SECRET", "confluent-secret")
            .env("REDPANDA_PASSWORD", "redpanda-secret")
            .env("SCHEMA_REGISTRY_API_SECRET", "registry-secret")
            .output()
            .unwrap();
        let text_out = output_text(&out);
        assert!(out.status.success(), "example {i}:\n{example}\n{text_out}");
        for secret in [
            "msk-secret",
            "confluent-secret",
            "redpanda-secret",
            "registry-secret",
            "keypass",
        ] {
            assert!(!text_out.contains(secret), "example {i}: {text_out}");
        }
    }
    // A wrong key password is caught offline too, and named without the password.
    let wrong = root.join("wrong.properties");
    std::fs::write(
        &wrong,
        examples
            .iter()
            .find(|e| e.contains("redpanda.key.password"))
            .unwrap()
            .replace("/etc/sluice/", &format!("{}/", etc.display()))
            .replace("/var/lib/sluice/", &format!("{}/", var.display()))
            .replace("redpanda.key.password", "msk.password"),
    )
    .unwrap();
    let out = sluice()
        .args(["validate", "--offline", "--worker"])
        .arg(&wrong)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("ssl.key"), "{text}");
    assert!(!text.contains("msk-secret"), "{text}");
}

/// SASL against tansu started with `--authentication` (it knows no user, so every password is
/// wrong): `sluice validate` names the authentication failure, and a backfill stops with it
/// instead of retrying forever; the password shows nowhere.
#[test]
fn a_refused_password_is_named_and_stops_the_backfill() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let _tansu = ChildGuard::spawn(
        Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
                "--authentication",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let bootstrap = format!("127.0.0.1:{port}");
    wait_port(&bootstrap, Duration::from_secs(20)).unwrap();
    let worker = [
        ("bootstrap.servers", bootstrap.as_str()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        (
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="wrong-pa55word";"#,
        ),
        ("value.converter.schemas.enable", "false"),
    ];
    let (ok, text) = validate(dir.path(), "sasl", &worker, &[]);
    assert!(!ok, "{text}");
    assert!(text.contains("SASL authentication failed"), "{text}");
    assert!(!text.contains("wrong-pa55word"), "{text}");

    let data = dir.path().join("bucket");
    std::fs::create_dir(&data).unwrap();
    write_jsonl(&data, 1, 10);
    let worker_file = dir.path().join("worker.properties");
    write_props(&worker_file, &worker);
    let connector = dir.path().join("connector.properties");
    write_props(
        &connector,
        &[
            ("name", "sasl"),
            ("connector.class", "local"),
            ("local.path", data.to_str().unwrap()),
            ("local.file.min.age.ms", "0"),
            ("topic", "t"),
            ("input.format", "jsonl"),
        ],
    );
    let started = std::time::Instant::now();
    let out = backfill(&worker_file, &connector);
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "no retry loop: {text}"
    );
    assert!(text.contains("SASL authentication failed"), "{text}");
    assert!(!text.contains("wrong-pa55word"), "{text}");
}

/// A broker host that does not resolve and a port nobody listens on: each named as such.
#[test]
fn unreachable_brokers_are_named_dns_or_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let closed = format!("127.0.0.1:{}", free_port());
    for (name, bootstrap, reason) in [
        (
            "dns",
            "nohost.invalid:9092",
            "DNS: a broker's host name cannot be resolved",
        ),
        ("tcp", closed.as_str(), "TCP: cannot connect to a broker"),
    ] {
        let (ok, text) = validate(dir.path(), name, &[("bootstrap.servers", bootstrap)], &[]);
        assert!(!ok, "{text}");
        assert!(
            text.contains(&format!(
                "cannot connect to Kafka at \"{bootstrap}\": {reason}"
            )),
            "{text}"
        );
    }
}
