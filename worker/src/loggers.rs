//! Log levels changed at run time, as Kafka Connect's `/admin/loggers` does (KIP-495).
//!
//! A logger is a tracing target: a Rust module path such as `sluice_core::source`,
//! `sluice_worker::rest` or `rdkafka`; `root` is the level of every target not named. Setting a
//! logger's level also sets its descendants' (`sluice_core` covers `sluice_core::source`), as
//! Connect's does; the levels are applied through a filter the process installed
//! ([`LogLevels::new`]'s `apply`), so they take effect on the next line logged.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// Applies a filter in `RUST_LOG` syntax (`info,rdkafka=warn`); says why it cannot.
pub type ApplyFilter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// The level of one logger as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggerLevel {
    /// `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `OFF`.
    pub level: String,
    /// When it was last set through the API (ms since the epoch); `None` for the levels the
    /// process started with.
    pub last_modified: Option<i64>,
}

#[derive(Debug)]
struct Levels {
    root: LoggerLevel,
    loggers: BTreeMap<String, LoggerLevel>,
}

/// The process's log levels, changed through the REST API.
pub struct LogLevels {
    levels: Mutex<Levels>,
    apply: ApplyFilter,
}

impl std::fmt::Debug for LogLevels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogLevels")
            .field("levels", &self.levels)
            .finish()
    }
}

/// The root logger's name.
pub const ROOT: &str = "root";

/// A level as the API writes it, from Connect's (log4j) or tracing's spelling; `None` if
/// unknown.
pub fn normalize_level(level: &str) -> Option<&'static str> {
    Some(match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" | "ALL" => "TRACE",
        "DEBUG" => "DEBUG",
        "INFO" => "INFO",
        "WARN" | "WARNING" => "WARN",
        "ERROR" | "FATAL" => "ERROR",
        "OFF" => "OFF",
        _ => return None,
    })
}

/// Whether `name` is `ancestor` or below it (`a::b` is below `a`).
fn is_within(name: &str, ancestor: &str) -> bool {
    name == ancestor
        || name
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with("::"))
}

impl LogLevels {
    /// The levels of `initial` (a `RUST_LOG` filter such as `info,rdkafka=warn`; directives
    /// other than `target=level` and a bare level are kept as they are by the process but not
    /// listed), changed through `apply`.
    pub fn new(initial: &str, apply: ApplyFilter) -> Self {
        let mut root = "INFO";
        let mut loggers = BTreeMap::new();
        for d in initial.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            match d.split_once('=') {
                None => {
                    if let Some(l) = normalize_level(d) {
                        root = l;
                    }
                }
                Some((target, level)) => {
                    if let Some(l) = normalize_level(level) {
                        if !target.contains(['[', '{']) {
                            loggers.insert(
                                target.to_owned(),
                                LoggerLevel {
                                    level: l.to_owned(),
                                    last_modified: None,
                                },
                            );
                        }
                    }
                }
            }
        }
        LogLevels {
            levels: Mutex::new(Levels {
                root: LoggerLevel {
                    level: root.to_owned(),
                    last_modified: None,
                },
                loggers,
            }),
            apply,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Levels> {
        self.levels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every logger with a level of its own, and `root`.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        let levels = self.lock();
        let mut all = levels.loggers.clone();
        all.insert(ROOT.to_owned(), levels.root.clone());
        all
    }

    /// The level `name` logs at: its own, or its closest ancestor's, or root's.
    pub fn get(&self, name: &str) -> LoggerLevel {
        let levels = self.lock();
        if name == ROOT {
            return levels.root.clone();
        }
        levels
            .loggers
            .iter()
            .filter(|(n, _)| is_within(name, n))
            .max_by_key(|(n, _)| n.len())
            .map_or_else(|| levels.root.clone(), |(_, l)| l.clone())
    }

    /// Sets `name` and its descendants (every logger, for `root`) to `level`; returns the
    /// loggers changed, `name` first.
    pub fn set(&self, name: &str, level: &str) -> Result<Vec<String>, String> {
        let level = normalize_level(level).ok_or_else(|| {
            format!(
                "invalid log level {level:?}: use one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF"
            )
        })?;
        if name.is_empty() || name.contains([',', '=', '[', '{', ' ']) {
            return Err(format!(
                "invalid logger name {name:?}: use a Rust module path such as sluice_core::source, or root"
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let set = LoggerLevel {
            level: level.to_owned(),
            last_modified: Some(now),
        };
        let mut levels = self.lock();
        let mut next = Levels {
            root: levels.root.clone(),
            loggers: levels.loggers.clone(),
        };
        let mut changed = vec![name.to_owned()];
        if name == ROOT {
            next.root = set.clone();
        }
        for (n, l) in next.loggers.iter_mut() {
            if (name == ROOT || is_within(n, name)) && n != name {
                *l = set.clone();
                changed.push(n.clone());
            }
        }
        if name != ROOT {
            next.loggers.insert(name.to_owned(), set);
        }
        (self.apply)(&directives(&next))?;
        *levels = next;
        Ok(changed)
    }
}

/// The `RUST_LOG` filter of `levels`.
fn directives(levels: &Levels) -> String {
    let mut out = levels.root.level.to_ascii_lowercase();
    for (name, l) in &levels.loggers {
        out.push_str(&format!(",{name}={}", l.level.to_ascii_lowercase()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn levels(initial: &str) -> (LogLevels, Arc<Mutex<Vec<String>>>) {
        let applied = Arc::new(Mutex::new(Vec::new()));
        let seen = applied.clone();
        let l = LogLevels::new(
            initial,
            Box::new(move |d| {
                seen.lock().unwrap().push(d.to_owned());
                Ok(())
            }),
        );
        (l, applied)
    }

    #[test]
    fn the_initial_filter_is_listed_and_inherited() {
        let (l, _) = levels("info,rdkafka=warn,sluice_core::source=debug");
        let all = l.all();
        assert_eq!(all[ROOT].level, "INFO");
        assert_eq!(all["rdkafka"].level, "WARN");
        assert_eq!(all["rdkafka"].last_modified, None);
        assert_eq!(l.get("sluice_core::source::plan").level, "DEBUG");
        assert_eq!(l.get("sluice_core::sourcex").level, "INFO");
        assert_eq!(l.get("rdkafka::client").level, "WARN");
    }

    #[test]
    fn setting_a_logger_sets_its_descendants_and_applies_the_filter() {
        let (l, applied) = levels("info,sluice_core::source=debug,rdkafka=warn");
        let changed = l.set("sluice_core", "trace").unwrap();
        assert_eq!(changed, ["sluice_core", "sluice_core::source"]);
        assert_eq!(
            applied.lock().unwrap().last().unwrap(),
            "info,rdkafka=warn,sluice_core=trace,sluice_core::source=trace"
        );
        assert!(l.get("sluice_core::driver").last_modified.is_some());
        let changed = l.set(ROOT, "FATAL").unwrap();
        assert_eq!(changed.len(), 4);
        assert_eq!(l.get("rdkafka").level, "ERROR");
        assert!(l
            .set("x", "LOUD")
            .unwrap_err()
            .contains("invalid log level"));
        assert!(l
            .set("a=b", "INFO")
            .unwrap_err()
            .contains("invalid logger name"));
    }

    #[test]
    fn a_filter_the_process_refuses_changes_nothing() {
        let l = LogLevels::new("info", Box::new(|_| Err("no".into())));
        assert_eq!(l.set("sluice_core", "debug").unwrap_err(), "no");
        assert_eq!(l.all().len(), 1);
    }
}
