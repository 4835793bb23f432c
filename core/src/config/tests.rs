use super::*;

/// A stand-in for the `local` backend's keys (declared in `sluice-sources`).
const LOCAL: KeySet = KeySet {
    owner: Owner::Backend {
        name: "local",
        classes: &[],
    },
    doc: "Test backend.",
    keys: &[
        defs::optional("local.path", Kind::String, "Folder."),
        defs::key(
            "local.file.min.age.ms",
            Kind::Int {
                min: 0,
                max: i64::MAX,
            },
            "5000",
            "Age.",
        ),
        defs::key(
            "local.file.ignore.patterns",
            Kind::List,
            "*.tmp",
            "Ignored.",
        ),
    ],
    prefixes: &[],
    check: None,
};

fn registry() -> Registry {
    Registry::new(CONNECTOR_SETS.into_iter().chain([LOCAL])).unwrap()
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn problems(r: Result<ConnectorConfig>) -> Vec<String> {
    match r {
        Err(Error::Config { problems, .. }) => problems,
        other => panic!("expected config problems, got {other:?}"),
    }
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let s = settings(&[
        ("name", "c"),
        ("connector.class", "local"),
        ("local.path", "/tmp"),
        ("topic", "t"),
        ("input.fromat", "jsonl"),
    ]);
    let p = problems(ConnectorConfig::from_settings(&registry(), &s));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("input.fromat") && p[0].contains("\"input.format\""),
        "{p:?}"
    );
}

#[test]
fn every_problem_is_listed() {
    let s = settings(&[
        ("tasks.max", "zero"),
        ("errors.tolerance", "al"),
        ("record.headers.enable", "yes"),
    ]);
    let p = problems(ConnectorConfig::from_settings(&registry(), &s));
    let joined = p.join("\n");
    for needle in [
        "tasks.max",
        "errors.tolerance",
        "\"all\"",
        "record.headers.enable",
        "name: required",
        "connector.class: required",
    ] {
        assert!(joined.contains(needle), "{needle} missing from {joined}");
    }
}

#[test]
fn defaults_come_from_the_table() {
    let s = settings(&[
        ("name", "c"),
        ("connector.class", "local"),
        ("local.path", "/tmp"),
        ("topic", "t"),
    ]);
    let c = ConnectorConfig::from_settings(&registry(), &s).unwrap();
    assert_eq!(c.tasks_max, 1);
    assert_eq!(c.max_poll_records, 500);
    assert_eq!(c.input_format, "bytes");
    assert_eq!(c.errors_tolerance, ErrorsTolerance::None);
    assert!(c.record_headers);
}

#[test]
fn topic_may_come_from_the_template() {
    let s = settings(&[
        ("name", "c"),
        ("connector.class", "local"),
        ("local.path", "/tmp"),
        ("file.name.template", "{{topic}}-{{partition}}.jsonl"),
        ("distribution.type", "partition"),
    ]);
    let c = ConnectorConfig::from_settings(&registry(), &s).unwrap();
    assert!(c.topic.is_none());
    let s = settings(&[
        ("name", "c"),
        ("connector.class", "local"),
        ("local.path", "/tmp"),
        ("file.name.template", "x-{{partition}}.jsonl"),
    ]);
    let p = problems(ConnectorConfig::from_settings(&registry(), &s));
    assert!(p.iter().any(|p| p.starts_with("topic: required")), "{p:?}");
}

#[test]
fn partition_distribution_needs_a_partition_placeholder() {
    let s = settings(&[
        ("name", "c"),
        ("connector.class", "local"),
        ("local.path", "/tmp"),
        ("topic", "t"),
        ("distribution.type", "partition"),
    ]);
    let p = problems(ConnectorConfig::from_settings(&registry(), &s));
    assert!(
        p.iter().any(|p| p.starts_with("distribution.type")),
        "{p:?}"
    );
}

#[test]
fn connect_json_body_is_accepted() {
    let s = parse_json(r#"{"name":"c","config":{"connector.class":"local","tasks.max":3,"topic":"t","local.path":"/x"}}"#).unwrap();
    assert_eq!(s.get("name").unwrap(), "c");
    assert_eq!(s.get("tasks.max").unwrap(), "3");
    let c = ConnectorConfig::from_settings(&registry(), &s).unwrap();
    assert_eq!(c.tasks_max, 3);
}

#[test]
fn worker_collects_librdkafka_settings() {
    let s = settings(&[
        ("bootstrap.servers", "localhost:9092"),
        ("producer.linger.ms", "20"),
        ("kafka.compression.type", "zstd"),
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        ("value.converter.schemas.enable", "false"),
    ]);
    let w = WorkerConfig::from_settings(&s).unwrap();
    assert_eq!(w.producer.get("linger.ms").unwrap(), "20");
    assert_eq!(w.producer.get("compression.type").unwrap(), "zstd");
    assert_eq!(w.producer.get("security.protocol").unwrap(), "SASL_SSL");
    assert_eq!(w.producer.get("sasl.mechanisms").unwrap(), "PLAIN");
    assert_eq!(w.security.settings.get("sasl.mechanisms").unwrap(), "PLAIN");
    assert!(!w.security.settings.contains_key("linger.ms"));
    assert_eq!(
        w.value_converter.settings.get("schemas.enable").unwrap(),
        "false"
    );
    assert_eq!(w.offset_flush_interval_ms, 5000);
    let bad = settings(&[
        ("bootstrap.servers", "x"),
        ("value.converter.schemas.enabled", "false"),
    ]);
    let err = WorkerConfig::from_settings(&bad).unwrap_err().to_string();
    assert!(
        err.contains("schemas.enabled")
            && err.contains("did you mean value.converter.schemas.enable?"),
        "{err}"
    );
    let bad = settings(&[("bootstrap.server", "x")]);
    let err = WorkerConfig::from_settings(&bad).unwrap_err().to_string();
    assert!(err.contains("did you mean \"bootstrap.servers\""), "{err}");
}

#[test]
fn worker_secrets_never_show_in_debug_output() {
    let s = settings(&[
        ("bootstrap.servers", "b:9093"),
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"jaas-pa55\";",
        ),
        ("ssl.key.password", "key-pa55"),
        ("producer.sasl.password", "producer-pa55"),
    ]);
    let w = WorkerConfig::from_settings(&s).unwrap();
    assert_eq!(
        w.producer["sasl.password"], "producer-pa55",
        "producer.* wins"
    );
    assert_eq!(w.security.settings["sasl.password"], "jaas-pa55");
    let debug = format!("{w:?}");
    for secret in ["jaas-pa55", "key-pa55", "producer-pa55"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("SCRAM-SHA-512"), "{debug}");
}

#[test]
fn producer_overrides_resolve_providers_and_translate_connect_keys() {
    let s = settings(&[
        ("bootstrap.servers", "b:9093"),
        ("config.providers", "env"),
        (
            "config.providers.env.class",
            "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        ),
    ]);
    let w = WorkerConfig::from_settings(&s).unwrap();
    // PATH is set wherever tests run.
    let path = std::env::var("PATH").unwrap();
    let overrides = settings(&[
        ("linger.ms", "50"),
        ("client.id", "${env:PATH}"),
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";",
        ),
    ]);
    let got = w.producer_overrides(&overrides).unwrap();
    assert_eq!(got["linger.ms"], "50");
    assert_eq!(got["client.id"], path);
    assert_eq!(got["sasl.mechanisms"], "PLAIN");
    assert_eq!(got["sasl.username"], "u");
    assert_eq!(got["sasl.password"], "p");
    assert!(!got.contains_key("sasl.jaas.config") && !got.contains_key("config.providers"));
    assert_eq!(
        got["ssl.ca.location"], "probe",
        "no CA anywhere: the system's"
    );
    let mut with_ca = s.clone();
    with_ca.insert("ssl.truststore.location".into(), "/etc/ca.pem".into());
    let w_ca = WorkerConfig::from_settings(&with_ca).unwrap();
    let got = w_ca.producer_overrides(&overrides).unwrap();
    assert!(
        !got.contains_key("ssl.ca.location"),
        "the worker's CA is kept: {got:?}"
    );
    let err = w
        .producer_overrides(&settings(&[(
            "sasl.password",
            "${env:SLUICE_TEST_UNSET_VAR}",
        )]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("producer.override.sasl.password: ${env:SLUICE_TEST_UNSET_VAR}: the environment variable SLUICE_TEST_UNSET_VAR is not set"),
        "{err}"
    );
}

#[test]
fn properties_files_parse() {
    let s = parse_properties("# comment\nname = c\ntopic:t\nlong=a\\\n  b\n").unwrap();
    assert_eq!(s.get("name").unwrap(), "c");
    assert_eq!(s.get("topic").unwrap(), "t");
    assert_eq!(s.get("long").unwrap(), "ab");
}

#[test]
fn transaction_boundary_is_typed_and_never_defaulted_silently() {
    let base = [
        ("name", "c"),
        ("connector.class", "local"),
        ("local.path", "/tmp"),
        ("topic", "t"),
    ];
    let c = ConnectorConfig::from_settings(&registry(), &settings(&base)).unwrap();
    assert_eq!(
        c.transaction_boundary,
        TransactionBoundary::Poll,
        "the default"
    );
    // Every name the key accepts parses to its own boundary, and only those.
    let def = defs::CONNECTOR_KEYS
        .iter()
        .find(|d| d.name == "transaction.boundary")
        .unwrap();
    let Kind::Enum(names) = def.kind else {
        panic!("transaction.boundary is an enum")
    };
    assert_eq!(names, TransactionBoundary::ALL.map(|b| b.name()));
    for b in TransactionBoundary::ALL {
        let mut s = settings(&base);
        s.insert("transaction.boundary".into(), b.name().into());
        let c = ConnectorConfig::from_settings(&registry(), &s).unwrap();
        assert_eq!(c.transaction_boundary, b);
    }
    let mut s = settings(&base);
    s.insert("transaction.boundary".into(), "objects".into());
    let p = problems(ConnectorConfig::from_settings(&registry(), &s));
    assert!(
        p.iter()
            .any(|p| p.starts_with("transaction.boundary") && p.contains("\"object\"")),
        "{p:?}"
    );
    assert!("Poll".parse::<TransactionBoundary>().is_err());
}

#[test]
fn reading_an_undeclared_key_is_an_error() {
    let s = settings(&[("name", "c")]);
    let registry = registry();
    let keys = Keys::new(&registry, &s);
    assert!(keys.raw("aws.s3.bucket.name").is_err());
    assert_eq!(keys.raw("name").unwrap(), Some("c"));
}
