//! The benchmark's cases: formats, backends, contenders, report sections, and the list of
//! cases `sluice-bench run` measures with the datasets they read.

use crate::data::{Encoding, Spec};
use crate::kafka::BrokerKind;

/// Input format of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Format {
    Jsonl,
    Bytes,
    Csv,
    Avro,
    Parquet,
}

/// Chunk size of the bytes format.
pub(crate) const CHUNK: u64 = 65536;

impl Format {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Bytes => "bytes",
            Format::Csv => "csv",
            Format::Avro => "avro",
            Format::Parquet => "parquet",
        }
    }
    pub(crate) fn chunk(self) -> Option<u64> {
        (self == Format::Bytes).then_some(CHUNK)
    }
    /// The baseline script's `--format`, when it covers this format.
    pub(crate) fn python(self) -> Option<&'static str> {
        match self {
            Format::Jsonl => Some("jsonl"),
            Format::Bytes => Some("bytes"),
            Format::Csv => Some("csv"),
            _ => None,
        }
    }
    /// Target: Sluice's rate over min(raw produce, raw read).
    pub(crate) fn bound_target(self) -> Option<f64> {
        match self {
            Format::Jsonl | Format::Bytes => Some(0.8),
            Format::Avro | Format::Parquet => Some(0.5),
            Format::Csv => None,
        }
    }
}

/// Object store of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Backend {
    Local,
    S3,
    Gcs,
    Azure,
}

impl Backend {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::S3 => "s3 (moto)",
            Backend::Gcs => "gcs (fake-gcs-server)",
            Backend::Azure => "azure (Azurite)",
        }
    }
}

/// Who runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Contender {
    Sluice,
    RawProduce,
    RawRead,
    PyParse,
    PyPass,
}

impl Contender {
    pub(crate) fn name(self, format: Format) -> &'static str {
        match self {
            Contender::Sluice => "sluice",
            Contender::RawProduce => "raw produce limit",
            Contender::RawRead => "raw read limit",
            Contender::PyParse if format == Format::Bytes => "python baseline",
            Contender::PyParse => "python baseline (parse)",
            Contender::PyPass => "python baseline (passthrough)",
        }
    }
}

/// Report section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    Formats,
    Backends,
    Brokers,
    Big,
    Many,
    Offsets,
    Restart,
    Idle,
}

/// What a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Throughput,
    Restart,
    Idle,
}

/// One benchmark case.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub id: String,
    pub section: Section,
    pub kind: Kind,
    pub format: Format,
    pub backend: Backend,
    pub broker: BrokerKind,
    pub dataset: &'static str,
    /// Only the dataset's keys starting with this (S3: a smaller share of the 100k objects).
    pub subset: &'static str,
    pub tasks: u32,
    pub contenders: Vec<Contender>,
    /// Sluice runs [`SMT_CHAIN`] on every record (compared with the same case without it).
    pub transforms: bool,
    /// Where and when Sluice writes its offsets.
    pub offsets: OffsetMode,
}

/// The offset store and `offset.flush.continuous` of a case (the offset-write cost cases
/// compare the four; every other case uses the file store with the default, continuous).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OffsetMode {
    /// `offset.storage.file.filename`, written continuously (the default).
    File,
    /// The file, written every `offset.flush.interval.ms` only (Kafka Connect's way).
    FileInterval,
    /// `offset.storage.topic`, written continuously.
    Topic,
    /// The topic, written every `offset.flush.interval.ms` only.
    TopicInterval,
}

impl OffsetMode {
    pub(crate) const ALL: [OffsetMode; 4] = [
        OffsetMode::File,
        OffsetMode::FileInterval,
        OffsetMode::Topic,
        OffsetMode::TopicInterval,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            OffsetMode::File => "offsets file, continuous",
            OffsetMode::FileInterval => "offsets file, every 5 s",
            OffsetMode::Topic => "offsets topic, continuous",
            OffsetMode::TopicInterval => "offsets topic, every 5 s",
        }
    }
}

/// The three single message transforms of the transforms case: a static field inserted, two
/// fields renamed, two cast (every record of the jsonl data has these fields).
pub(crate) const SMT_CHAIN: &[(&str, &str)] = &[
    ("transforms", "insert,rename,cast"),
    (
        "transforms.insert.type",
        "org.apache.kafka.connect.transforms.InsertField$Value",
    ),
    ("transforms.insert.static.field", "source"),
    ("transforms.insert.static.value", "sluice-bench"),
    (
        "transforms.rename.type",
        "org.apache.kafka.connect.transforms.ReplaceField$Value",
    ),
    ("transforms.rename.renames", "user:customer,tier:level"),
    (
        "transforms.cast.type",
        "org.apache.kafka.connect.transforms.Cast$Value",
    ),
    ("transforms.cast.spec", "index:int32,amount:string"),
];

pub(crate) fn specs(quick: bool) -> Vec<Spec> {
    // Full: 64 objects of 16384 ~1 KiB records (1 GiB) per format; one 2 GiB object; 100k
    // objects of one 1 KiB record. Quick: the same shapes, small.
    let (objects, records) = if quick { (8, 2048) } else { (64, 16384) };
    let std = |name, encoding| Spec {
        name,
        encoding,
        objects,
        records,
        sharded: false,
    };
    vec![
        std("jsonl-std", Encoding::Jsonl),
        std("csv-std", Encoding::Csv),
        std("avro-std", Encoding::Avro),
        std("parquet-std", Encoding::Parquet),
        Spec {
            name: "jsonl-2g",
            encoding: Encoding::Jsonl,
            objects: 1,
            records: if quick { 65536 } else { 2 << 20 },
            sharded: false,
        },
        Spec {
            name: "jsonl-100k",
            encoding: Encoding::Jsonl,
            objects: if quick { 2000 } else { 100_000 },
            records: 1,
            sharded: true,
        },
        Spec {
            name: "jsonl-1m",
            encoding: Encoding::Jsonl,
            objects: if quick { 5000 } else { 1_000_000 },
            records: 1,
            sharded: true,
        },
    ]
}

pub(crate) fn cases(quick: bool) -> Vec<Case> {
    use BrokerKind::{Mock, Tansu};
    use Contender::*;
    let mut v = Vec::new();
    let mut add = |section,
                   kind,
                   format: Format,
                   backend: Backend,
                   broker: BrokerKind,
                   dataset: &'static str,
                   tasks: u32,
                   contenders: Vec<Contender>| {
        let what = match (kind, dataset) {
            (Kind::Restart, "jsonl-1m") if quick => {
                "restart, 5000 finished objects (quick)".to_owned()
            }
            (Kind::Restart, "jsonl-1m") => "restart, 1M finished objects".to_owned(),
            (Kind::Restart, _) if quick => "restart, 2000 finished objects (quick)".to_owned(),
            (Kind::Restart, _) => "restart, 100k finished objects".to_owned(),
            (Kind::Idle, _) => "idle, empty bucket".to_owned(),
            (_, "jsonl-2g") if quick => format!("{} · 1 object of 64 MiB (quick)", format.name()),
            (_, "jsonl-2g") => format!("{} · 1 object of 2 GiB", format.name()),
            (_, "jsonl-100k") if quick => {
                format!("{} · 2000 objects of 1 KiB (quick)", format.name())
            }
            (_, "jsonl-100k") => format!("{} · 100k objects of 1 KiB", format.name()),
            _ => format.name().to_owned(),
        };
        let tasks_text = if tasks == 1 { "1 task" } else { "2 tasks" };
        let id = format!(
            "{what} · {} · {} · {tasks_text}",
            backend.name(),
            broker.name()
        );
        v.push(Case {
            id,
            section,
            kind,
            format,
            backend,
            broker,
            dataset,
            subset: "",
            tasks,
            contenders,
            transforms: false,
            offsets: OffsetMode::File,
        });
    };
    let all = vec![Sluice, RawProduce, RawRead, PyParse, PyPass];
    let no_py = vec![Sluice, RawProduce, RawRead];
    let bytes = vec![Sluice, RawProduce, RawRead, PyParse];
    use Backend::{Azure, Gcs, Local, S3};
    use Format::*;
    use Section::*;
    let t = Kind::Throughput;
    // Formats, local folder, tansu.
    add(Formats, t, Jsonl, Local, Tansu, "jsonl-std", 1, all.clone());
    add(Formats, t, Jsonl, Local, Tansu, "jsonl-std", 2, all.clone());
    add(
        Formats,
        t,
        Bytes,
        Local,
        Tansu,
        "jsonl-std",
        1,
        bytes.clone(),
    );
    add(
        Formats,
        t,
        Bytes,
        Local,
        Tansu,
        "jsonl-std",
        2,
        bytes.clone(),
    );
    add(Formats, t, Csv, Local, Tansu, "csv-std", 1, all.clone());
    add(Formats, t, Avro, Local, Tansu, "avro-std", 1, no_py.clone());
    add(
        Formats,
        t,
        Parquet,
        Local,
        Tansu,
        "parquet-std",
        1,
        no_py.clone(),
    );
    // Backends.
    add(Backends, t, Jsonl, S3, Tansu, "jsonl-std", 1, all.clone());
    add(Backends, t, Jsonl, S3, Tansu, "jsonl-std", 2, all.clone());
    add(Backends, t, Bytes, S3, Tansu, "jsonl-std", 1, bytes.clone());
    add(
        Backends,
        t,
        Parquet,
        S3,
        Tansu,
        "parquet-std",
        1,
        no_py.clone(),
    );
    add(
        Backends,
        t,
        Jsonl,
        Gcs,
        Tansu,
        "jsonl-std",
        1,
        no_py.clone(),
    );
    add(
        Backends,
        t,
        Jsonl,
        Azure,
        Tansu,
        "jsonl-std",
        1,
        no_py.clone(),
    );
    // Brokers: the in-process mock cluster (client-side bound).
    add(Brokers, t, Jsonl, Local, Mock, "jsonl-std", 1, all.clone());
    add(
        Brokers,
        t,
        Bytes,
        Local,
        Mock,
        "jsonl-std",
        1,
        bytes.clone(),
    );
    // Scale: one 2 GiB object (streaming: RSS must stay flat).
    add(Big, t, Jsonl, Local, Tansu, "jsonl-2g", 1, all.clone());
    add(Big, t, Bytes, Local, Tansu, "jsonl-2g", 1, bytes.clone());
    add(Big, t, Jsonl, S3, Tansu, "jsonl-2g", 1, no_py.clone());
    // Scale: 100k objects of 1 KiB (listing and per-object overhead).
    add(Many, t, Jsonl, Local, Tansu, "jsonl-100k", 1, all.clone());
    add(Many, t, Jsonl, Local, Tansu, "jsonl-100k", 2, all.clone());
    add(
        Many,
        t,
        Jsonl,
        S3,
        Tansu,
        "jsonl-100k",
        1,
        vec![Sluice, RawProduce, RawRead, PyParse],
    );
    // Restart with 100k finished objects; idle.
    add(
        Restart,
        Kind::Restart,
        Jsonl,
        Local,
        Tansu,
        "jsonl-100k",
        1,
        vec![Sluice],
    );
    add(
        Restart,
        Kind::Restart,
        Jsonl,
        S3,
        Tansu,
        "jsonl-100k",
        1,
        vec![Sluice],
    );
    // A million finished objects: the offsets are written by the harness (as a backfill
    // would write them) rather than by a backfill of a million objects.
    add(
        Restart,
        Kind::Restart,
        Jsonl,
        Local,
        Tansu,
        "jsonl-1m",
        1,
        vec![Sluice],
    );
    add(
        Idle,
        Kind::Idle,
        Jsonl,
        Local,
        Tansu,
        "empty",
        1,
        vec![Sluice],
    );
    add(Idle, Kind::Idle, Jsonl, S3, Tansu, "empty", 1, vec![Sluice]);
    // moto serves ~250 GETs/s: on S3 the per-object case reads the first 10k of the objects
    // (keys d000/ to d009/); the restart case still has all 100k finished.
    // The cost of single message transforms: the first jsonl case again with a three-SMT chain.
    let plain = v
        .iter()
        .position(|c| c.section == Formats && c.format == Jsonl && c.tasks == 1)
        .expect("the jsonl case");
    let mut smt = v[plain].clone();
    smt.id = smt.id.replacen("jsonl", "jsonl + 3 SMTs", 1);
    smt.contenders = vec![Sluice];
    smt.transforms = true;
    v.insert(plain + 1, smt);
    // The cost of writing offsets continuously (issue 16): Sluice alone, with each store, written
    // continuously and only on Kafka Connect's 5 s timer; many records per object, and one.
    for (dataset, what) in [
        ("jsonl-std", "jsonl"),
        (
            "jsonl-100k",
            if quick {
                "jsonl · 2000 objects of 1 KiB (quick)"
            } else {
                "jsonl · 100k objects of 1 KiB"
            },
        ),
    ] {
        for mode in OffsetMode::ALL {
            v.push(Case {
                id: format!("{what} · local · tansu · 1 task · {}", mode.name()),
                section: Offsets,
                kind: t,
                format: Jsonl,
                backend: Local,
                broker: Tansu,
                dataset,
                subset: "",
                tasks: 1,
                contenders: vec![Sluice],
                transforms: false,
                offsets: mode,
            });
        }
    }
    for c in v.iter_mut() {
        if c.section == Many && c.backend == S3 {
            c.subset = "d00";
            let n = if quick {
                "2000 objects of 1 KiB (quick)"
            } else {
                "10k objects of 1 KiB"
            };
            c.id = format!(
                "{} · {n} · {} · {} · 1 task",
                c.format.name(),
                c.backend.name(),
                c.broker.name()
            );
        }
    }
    v
}
