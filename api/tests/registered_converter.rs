//! A converter registered by class name, end to end through the real broker: named by the
//! worker's `value.converter` (and its key after that prefix), and overridden by a connector's
//! own `value.converter`, with `sluice_api::run::backfill` in this process.

use std::sync::Arc;
use std::time::Duration;

use sluice_api::config::{key, KeySet, Kind, Owner, Settings};
use sluice_api::convert::Converter;
use sluice_api::data::{SchemaAndValue, Value};
use sluice_testkit::{consume_all, Broker, BrokerKind};

/// Writes string values upper-cased, followed by its `shout.suffix`.
#[derive(Debug)]
struct Shout {
    suffix: String,
}

impl Converter for Shout {
    fn from_connect_data(
        &self,
        topic: &str,
        data: &SchemaAndValue,
    ) -> sluice_api::Result<Option<Vec<u8>>> {
        match &data.value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(
                format!("{}{}", s.to_uppercase(), self.suffix).into_bytes(),
            )),
            other => Err(sluice_api::Error::Data(format!(
                "topic {topic}: Shout writes strings, not {other:?}"
            ))),
        }
    }
}

const SHOUT: KeySet = KeySet {
    owner: Owner::Converter {
        class: "com.example.ShoutConverter",
        aliases: &["shout"],
    },
    doc: "String values, upper-cased.",
    keys: &[key(
        "shout.suffix",
        Kind::String,
        "!",
        "Written after each value.",
    )],
    prefixes: &[],
    check: None,
};

fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registered_converter_writes_what_lands_in_kafka() {
    let registry = sluice_api::builtin()
        .with_converter(SHOUT, |keys, _is_key| {
            Ok(Arc::new(Shout {
                suffix: keys.string("shout.suffix")?.unwrap_or_default(),
            }))
        })
        .unwrap();
    sluice_api::install(registry).expect("the only registry of this test binary");

    let broker = Broker::start(BrokerKind::Tansu);
    broker.create_topic("worker-side");
    broker.create_topic("connector-side");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("a.txt"), "one\ntwo\n").unwrap();
    let bootstrap = broker.bootstrap();
    let offsets = dir.path().join("offsets.jsonl");
    let worker = settings(&[
        ("bootstrap.servers", &bootstrap),
        ("offset.storage.file.filename", offsets.to_str().unwrap()),
        ("value.converter", "com.example.ShoutConverter"),
        ("value.converter.shout.suffix", "?"),
    ]);
    let connector = |name: &str, topic: &str, extra: &[(&str, &str)]| {
        let mut c = settings(&[
            ("name", name),
            ("connector.class", "local"),
            ("local.path", data.to_str().unwrap()),
            ("local.file.min.age.ms", "0"),
            ("topic", topic),
            ("input.format", "text"),
        ]);
        c.extend(settings(extra));
        c
    };

    // The worker's converter, with the worker's setting.
    let summary = sluice_api::run::backfill(&worker, &connector("w", "worker-side", &[]))
        .await
        .unwrap();
    assert!(summary.ok(), "{:?}", summary.tasks);
    // The connector's own, with its declared default suffix.
    let summary = sluice_api::run::backfill(
        &worker,
        &connector("c", "connector-side", &[("value.converter", "shout")]),
    )
    .await
    .unwrap();
    assert!(summary.ok(), "{:?}", summary.tasks);

    let got = consume_all(
        &bootstrap,
        &["worker-side", "connector-side"],
        4,
        Duration::from_secs(20),
    );
    let mut values: Vec<(String, String)> = got
        .into_iter()
        .map(|g| (g.topic, g.value.unwrap_or_default()))
        .collect();
    values.sort();
    let pair = |t: &str, v: &str| (t.to_owned(), v.to_owned());
    assert_eq!(
        values,
        [
            pair("connector-side", "ONE!"),
            pair("connector-side", "TWO!"),
            pair("worker-side", "ONE?"),
            pair("worker-side", "TWO?"),
        ]
    );

    // A misspelt key of the converter is refused, named in full, with the nearest one.
    let err = sluice_api::run::backfill(
        &worker,
        &connector(
            "bad",
            "connector-side",
            &[
                ("value.converter", "shout"),
                ("value.converter.shout.sufix", "x"),
            ],
        ),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("value.converter.shout.sufix: unknown key")
            && err.contains("did you mean \"value.converter.shout.suffix\"?"),
        "{err}"
    );
}
