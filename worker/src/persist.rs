//! [`ConfigFile`]: the connectors of a worker (their configuration and target state) kept in a
//! JSON file, so connectors created or changed over the REST API come back after a restart.
//!
//! The file is `config.storage.file.filename`, by default `<offset.storage.file.filename>` with
//! `.connectors.json` appended. It is rewritten whole and atomically (a temporary file, fsync,
//! rename) after every change, so a crash leaves the old or the new version, never half of one.
//! Format: `{"connectors": [{"name": ..., "config": {...}, "target_state": "RUNNING"}]}`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sluice_core::config::{Settings, WorkerConfig};

use crate::{Error, Result, TargetState, Worker};

/// The worker key naming the connector configuration file.
pub const CONFIG_FILE_KEY: &str = "config.storage.file.filename";

/// One stored connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredConnector {
    /// Connector name.
    pub name: String,
    /// Its settings, as given.
    pub config: Settings,
    /// `RUNNING`, `PAUSED` or `STOPPED`.
    pub target_state: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileBody {
    connectors: Vec<StoredConnector>,
}

/// Kafka Connect's name of a target state.
pub fn target_name(t: TargetState) -> &'static str {
    match t {
        TargetState::Running => "RUNNING",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    }
}

/// The target state named `RUNNING`, `PAUSED` or `STOPPED` (case-insensitive).
pub fn parse_target(s: &str) -> Option<TargetState> {
    match s.to_ascii_uppercase().as_str() {
        "RUNNING" => Some(TargetState::Running),
        "PAUSED" => Some(TargetState::Paused),
        "STOPPED" => Some(TargetState::Stopped),
        _ => None,
    }
}

/// Where a worker keeps its connectors.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
}

impl ConfigFile {
    /// The file the worker settings name: `config.storage.file.filename`, else the offsets file
    /// with `.connectors.json` appended; `None` when offsets live in a Kafka topic and no file
    /// is named (connectors created over REST then last until the worker stops).
    pub fn from_settings(settings: &Settings, worker: &WorkerConfig) -> Option<Self> {
        let path = match settings.get(CONFIG_FILE_KEY).filter(|p| !p.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(format!("{}.connectors.json", worker.offset_file.as_ref()?)),
        };
        Some(ConfigFile { path })
    }

    /// A file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ConfigFile { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(
        &self,
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::ConfigFile {
            path: self.path.display().to_string(),
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The stored connectors; none when the file does not exist yet.
    pub fn load(&self) -> Result<Vec<StoredConnector>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error("cannot be read; check its permissions", e)),
        };
        let body: FileBody = serde_json::from_str(&text).map_err(|e| {
            self.error(
                "is not a valid connector file ({\"connectors\": [{\"name\", \"config\", \"target_state\"}]}); fix it or move it away to start with no connectors",
                e,
            )
        })?;
        for c in &body.connectors {
            if parse_target(&c.target_state).is_none() {
                return Err(Error::ConfigFile {
                    path: self.path.display().to_string(),
                    message: format!(
                        "connector {:?} has target_state {:?}; expected RUNNING, PAUSED or STOPPED",
                        c.name, c.target_state
                    ),
                    source: None,
                });
            }
        }
        Ok(body.connectors)
    }

    /// Writes `connectors` atomically (temporary file, fsync, rename).
    pub fn save(&self, connectors: Vec<StoredConnector>) -> Result<()> {
        let body = FileBody { connectors };
        let text =
            serde_json::to_string_pretty(&body).map_err(|e| self.error("cannot be encoded", e))?;
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp",
            self.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "connectors.json".into())
        ));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            self.error(
                "cannot be written; check that its folder exists and is writable",
                e,
            )
        })
    }

    /// Writes what `worker` holds now: each connector's settings and target state.
    pub fn save_worker(&self, worker: &Worker) -> Result<()> {
        let connectors = worker
            .names()
            .into_iter()
            .filter_map(|name| {
                let config = worker.connector_config(&name).ok()?;
                let target = worker.target_state(&name).ok()?;
                Some(StoredConnector {
                    name,
                    config: config.raw,
                    target_state: target_name(target).into(),
                })
            })
            .collect();
        self.save(connectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_connectors_with_their_target_state() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::new(dir.path().join("c.json"));
        assert!(
            file.load().unwrap().is_empty(),
            "a missing file is no connectors"
        );
        let stored = vec![StoredConnector {
            name: "a".into(),
            config: [("name".to_string(), "a".to_string())]
                .into_iter()
                .collect(),
            target_state: "PAUSED".into(),
        }];
        file.save(stored.clone()).unwrap();
        assert_eq!(file.load().unwrap(), stored);
    }

    #[test]
    fn a_corrupt_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, "{not json").unwrap();
        let e = ConfigFile::new(&path).load().unwrap_err();
        assert!(e.to_string().contains("c.json"), "{e}");
        std::fs::write(
            &path,
            r#"{"connectors":[{"name":"a","config":{},"target_state":"ASLEEP"}]}"#,
        )
        .unwrap();
        let e = ConfigFile::new(&path).load().unwrap_err();
        assert!(e.to_string().contains("ASLEEP"), "{e}");
    }
}
