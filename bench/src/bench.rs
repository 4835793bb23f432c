//! The benchmark runner: the `Bench` state, the servers and data sets it starts on demand, the
//! property files it writes, and one case's set-up before the throughput, restart or idle run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::cases::{specs, Backend, Case, Contender, Format, Kind, OffsetMode, CHUNK, SMT_CHAIN};
use crate::data::{self, Dataset};
use crate::measure;
use crate::results::{CaseResult, ContenderResult, Extra};
use crate::stores::{self, Azurite, FakeGcs, Moto};
use crate::RunArgs;

pub(crate) const TOPIC: &str = "bench";
pub(crate) const NEW_KEY: &str = "zzz-new/new-000.jsonl";
pub(crate) const NEW_RECORDS: u64 = 100;

pub(crate) struct Bench {
    pub(crate) args: RunArgs,
    pub(crate) reps: usize,
    pub(crate) idle_secs: u64,
    pub(crate) root: PathBuf,
    pub(crate) base: PathBuf,
    pub(crate) sluice: PathBuf,
    pub(crate) me: PathBuf,
    pub(crate) tansu: PathBuf,
    pub(crate) python: Option<PathBuf>,
    pub(crate) moto_bin: Option<PathBuf>,
    pub(crate) moto: Option<Moto>,
    pub(crate) gcs_bin: Option<PathBuf>,
    pub(crate) gcs: Option<FakeGcs>,
    /// Datasets fake-gcs-server was started with (it reads them only at start).
    pub(crate) gcs_loaded: Vec<Dataset>,
    pub(crate) azurite_js: Option<PathBuf>,
    pub(crate) azurite: Option<Azurite>,
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) datasets: HashMap<&'static str, Dataset>,
    pub(crate) reuse: HashMap<String, (String, ContenderResult)>,
    /// Offsets of a finished 100k-objects run, per backend (the restart case starts from them).
    pub(crate) finished_offsets: HashMap<(Backend, &'static str), PathBuf>,
}

pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

fn props(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

pub(crate) fn number_before(text: &str, marker: &str) -> Option<u64> {
    let pos = text.find(marker)?;
    text[..pos].split_whitespace().last()?.parse().ok()
}

pub(crate) fn number_after(text: &str, marker: &str) -> Option<u64> {
    let pos = text.find(marker)?;
    text[pos + marker.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Bench {
    pub(crate) fn mode_dir(&self) -> PathBuf {
        self.base
            .join(if self.args.quick { "quick" } else { "full" })
    }

    fn dataset(&mut self, name: &'static str) -> anyhow::Result<Dataset> {
        if let Some(d) = self.datasets.get(name) {
            return Ok(d.clone());
        }
        let spec = specs(self.args.quick)
            .into_iter()
            .find(|s| s.name == name)
            .with_context(|| format!("no dataset {name}"))?;
        let d = data::ensure(&self.mode_dir(), &spec)?;
        self.datasets.insert(name, d.clone());
        Ok(d)
    }

    fn moto(&mut self) -> anyhow::Result<&mut Moto> {
        if self.moto.is_none() {
            let bin = self
                .moto_bin
                .clone()
                .context("moto is not installed (scripts/install-test-servers.sh installs it)")?;
            let log = self.mode_dir().join("moto.log");
            self.moto = Some(Moto::start(&bin, log)?);
        }
        Ok(self.moto.as_mut().expect("moto"))
    }

    fn gcs(&mut self, ds: &Dataset) -> anyhow::Result<()> {
        if self.gcs.is_some() && self.gcs_loaded.iter().any(|d| d.name == ds.name) {
            return Ok(());
        }
        let bin = self.gcs_bin.clone().context(
            "fake-gcs-server is not installed (scripts/install-test-servers.sh installs it)",
        )?;
        self.gcs = None;
        self.gcs_loaded.push(ds.clone());
        let loaded: Vec<&Dataset> = self.gcs_loaded.iter().collect();
        let log = self.mode_dir().join("fake-gcs.log");
        self.gcs = Some(FakeGcs::start(&bin, &self.mode_dir(), &loaded, log)?);
        Ok(())
    }

    fn azurite(&mut self) -> anyhow::Result<&mut Azurite> {
        if self.azurite.is_none() {
            let js = self.azurite_js.clone().context(
                "Azurite is not installed (scripts/install-test-servers.sh installs it)",
            )?;
            let log = self.mode_dir().join("azurite.log");
            self.azurite = Some(Azurite::start(&js, log)?);
        }
        Ok(self.azurite.as_mut().expect("azurite"))
    }

    /// Connector settings of `case` reading `prefix` of the dataset (`None`: the empty bucket).
    fn connector(&mut self, case: &Case, ds: Option<&Dataset>) -> anyhow::Result<String> {
        let mut c = vec![
            ("name", "bench".to_owned()),
            ("topic", TOPIC.to_owned()),
            ("tasks.max", case.tasks.to_string()),
            ("input.format", case.format.name().to_owned()),
        ];
        if case.format == Format::Bytes {
            c.push(("transformer.max.buffer.size", CHUNK.to_string()));
        }
        if case.transforms {
            c.extend(SMT_CHAIN.iter().map(|(k, v)| (*k, (*v).to_owned())));
        }
        match case.backend {
            Backend::Local => {
                let root = match ds {
                    Some(d) => d.root.clone(),
                    None => data::empty_dir(&self.mode_dir())?,
                };
                c.push(("connector.class", "local".into()));
                c.push(("local.path", root.display().to_string()));
                // The data set is written before the run starts.
                c.push(("local.file.min.age.ms", "0".into()));
                c.push(("object.partial.line.wait.ms", "0".into()));
            }
            Backend::S3 => {
                let endpoint = self
                    .moto
                    .as_ref()
                    .map(|m| m.endpoint.clone())
                    .unwrap_or_else(|| "http://127.0.0.1:9".into());
                let prefix = match ds {
                    Some(d) => format!("{}/{}", d.name, case.subset),
                    None => "empty/".into(),
                };
                c.extend([
                    ("connector.class", "s3".to_owned()),
                    ("aws.s3.bucket.name", "bench".to_owned()),
                    ("aws.s3.prefix", prefix),
                    ("aws.s3.endpoint", endpoint),
                    ("aws.s3.region", "us-east-1".to_owned()),
                    ("aws.access.key.id", "test".to_owned()),
                    ("aws.secret.access.key", "test".to_owned()),
                ]);
            }
            Backend::Gcs => c.extend([
                ("connector.class", "gcs".to_owned()),
                ("gcs.bucket.name", "bench".to_owned()),
                (
                    "gcs.prefix",
                    ds.map(|d| format!("{}/", d.name)).unwrap_or_default(),
                ),
                (
                    "gcs.endpoint.url",
                    self.gcs
                        .as_ref()
                        .map(|g| g.endpoint.clone())
                        .unwrap_or_else(|| "http://127.0.0.1:9".into()),
                ),
                ("gcs.credentials.json", stores::GCS_EMULATOR_KEY.to_owned()),
            ]),
            Backend::Azure => c.extend([
                ("connector.class", "azure".to_owned()),
                (
                    "azure.storage.connection.string",
                    self.azurite
                        .as_ref()
                        .map(|a| a.connection_string())
                        .unwrap_or_else(|| "UseDevelopmentStorage=true".into()),
                ),
                ("azure.storage.container.name", "bench".to_owned()),
                (
                    "azure.blob.prefix",
                    ds.map(|d| format!("{}/", d.name)).unwrap_or_default(),
                ),
            ]),
        }
        Ok(props(&c))
    }

    pub(crate) fn worker(&self, case: &Case, bootstrap: &str, offsets: &Path) -> String {
        let mut w = vec![("bootstrap.servers", bootstrap.to_owned())];
        match case.offsets {
            OffsetMode::File | OffsetMode::FileInterval => w.push((
                "offset.storage.file.filename",
                offsets.display().to_string(),
            )),
            OffsetMode::Topic | OffsetMode::TopicInterval => w.extend([
                ("offset.storage.topic", "sluice-bench-offsets".to_owned()),
                ("offset.storage.replication.factor", "1".to_owned()),
            ]),
        }
        if matches!(
            case.offsets,
            OffsetMode::FileInterval | OffsetMode::TopicInterval
        ) {
            w.push(("offset.flush.continuous", "false".to_owned()));
        }
        if case.format == Format::Bytes {
            w.push((
                "value.converter",
                "org.apache.kafka.connect.converters.ByteArrayConverter".to_owned(),
            ));
        } else {
            w.push(("value.converter.schemas.enable", "false".to_owned()));
        }
        props(&w)
    }

    /// `sluice validate`: Err(problems) when this build cannot run the case.
    fn validate(
        &self,
        dir: &Path,
        worker: &str,
        connector: &str,
    ) -> anyhow::Result<Option<String>> {
        let w = dir.join("validate-worker.properties");
        let c = dir.join("validate-connector.properties");
        std::fs::write(&w, worker)?;
        std::fs::write(&c, connector)?;
        let out = Command::new(&self.sluice)
            .arg("validate")
            .arg("--offline")
            .arg("--worker")
            .arg(&w)
            .arg(&c)
            .output()?;
        if out.status.success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let reason = text
            .lines()
            .filter(|l| !l.ends_with(": OK") && !l.trim().is_empty())
            .map(|l| {
                l.replace(&c.display().to_string(), "connector")
                    .replace(&w.display().to_string(), "worker")
            })
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Some(measure::strip_ansi(&reason)))
    }

    pub(crate) fn run_case(&mut self, case: &Case) -> CaseResult {
        let mut result = CaseResult {
            case: case.clone(),
            records: 0,
            bytes: 0,
            objects: 0,
            contenders: Vec::new(),
            skipped: None,
            extra: Extra::default(),
        };
        if let Err(e) = self.try_case(case, &mut result) {
            eprintln!("  case failed: {e:#}");
            if result.skipped.is_none() && result.contenders.is_empty() {
                result.skipped = Some(format!("harness error: {e:#}"));
            } else if result.skipped.is_none() {
                result.skipped = Some(format!("harness error after some runs: {e:#}"));
            }
        }
        result
    }

    fn try_case(&mut self, case: &Case, result: &mut CaseResult) -> anyhow::Result<()> {
        let dir = self.mode_dir().join("runs").join(slug(&case.id));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let ds = if case.dataset == "empty" {
            None
        } else {
            Some(self.dataset(case.dataset)?)
        };
        let ds = ds.map(|mut d| {
            d.objects.retain(|o| o.key.starts_with(case.subset));
            d
        });
        if let Some(d) = &ds {
            result.records = d.records(case.format.chunk());
            result.bytes = d.bytes();
            result.objects = d.objects.len() as u64;
        }
        // Can this build run it at all?
        let connector = self.connector(case, ds.as_ref())?;
        let dummy_worker = self.worker(case, "127.0.0.1:9", &dir.join("offsets.jsonl"));
        if let Some(reason) = self.validate(&dir, &dummy_worker, &connector)? {
            result.skipped = Some(format!("not available yet: {reason}"));
            return Ok(());
        }
        match case.backend {
            Backend::Local => {}
            Backend::S3 => {
                if let Err(e) = self.moto() {
                    result.skipped = Some(format!("not available: {e:#}"));
                    return Ok(());
                }
                if let (Some(d), Some(moto)) = (&ds, self.moto.as_mut()) {
                    self.rt.block_on(moto.stage(d))?;
                }
            }
            Backend::Gcs => {
                let d = ds.as_ref().context("no GCS idle case")?;
                if let Err(e) = self.gcs(d) {
                    result.skipped = Some(format!("not available: {e:#}"));
                    return Ok(());
                }
            }
            Backend::Azure => {
                if let Err(e) = self.azurite() {
                    result.skipped = Some(format!("not available: {e:#}"));
                    return Ok(());
                }
                if let (Some(d), Some(az)) = (&ds, self.azurite.as_mut()) {
                    self.rt.block_on(az.stage(d))?;
                }
            }
        }
        // The connector file again, now that the store's endpoint is known.
        let connector = self.connector(case, ds.as_ref())?;
        let cfile = dir.join("connector.properties");
        std::fs::write(&cfile, &connector)?;
        match case.kind {
            Kind::Throughput => {
                self.throughput(case, ds.as_ref().expect("dataset"), &dir, &cfile, result)
            }
            Kind::Restart => {
                self.restart(case, ds.as_ref().expect("dataset"), &dir, &cfile, result)
            }
            Kind::Idle => self.idle(case, &dir, &cfile, result),
        }
    }

    pub(crate) fn reuse_key(case: &Case, c: Contender) -> String {
        match c {
            Contender::RawRead => format!(
                "{c:?}|{:?}|{:?}|{}|{}|{}",
                case.format, case.backend, case.dataset, case.subset, case.tasks
            ),
            _ => format!(
                "{c:?}|{:?}|{:?}|{:?}|{}|{}",
                case.format, case.backend, case.broker, case.dataset, case.subset
            ),
        }
    }
}
