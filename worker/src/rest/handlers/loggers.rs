//! `/admin/loggers`: log levels read and changed at run time (Kafka Connect's KIP-495 shapes).
//! Each worker's levels are its own (distributed mode serves the same endpoints per worker).

use super::*;
use crate::loggers::{LogLevels, LoggerLevel};

fn levels(l: Option<&LogLevels>) -> Result<&LogLevels, ApiError> {
    l.ok_or_else(|| {
        ApiError::not_found("this process does not let the REST API change its log levels")
    })
}

fn level_json(l: &LoggerLevel) -> Value {
    json!({"level": l.level, "last_modified": l.last_modified})
}

/// `GET /admin/loggers`: every logger with a level of its own, and `root`.
pub(crate) fn loggers_json(l: Option<&LogLevels>) -> Reply {
    let all: Map<String, Value> = levels(l)?
        .all()
        .iter()
        .map(|(name, l)| (name.clone(), level_json(l)))
        .collect();
    ok(Value::Object(all))
}

/// `GET /admin/loggers/{name}`: the level `name` logs at (its own or inherited).
pub(crate) fn logger_json(l: Option<&LogLevels>, name: &str) -> Reply {
    ok(level_json(&levels(l)?.get(name)))
}

/// `PUT /admin/loggers/{name}` with `{"level": "DEBUG"}`: sets `name` and its descendants;
/// answers the loggers changed.
pub(crate) fn set_level(
    l: Option<&LogLevels>,
    name: &str,
    q: &Option<String>,
    body: &Bytes,
) -> Reply {
    let levels = levels(l)?;
    if let Some((_, scope)) = query_pairs(q).into_iter().find(|(k, _)| k == "scope") {
        if !scope.eq_ignore_ascii_case("worker") && !scope.eq_ignore_ascii_case("cluster") {
            return Err(ApiError::bad_request(format!(
                "query parameter scope={scope:?}: expected worker or cluster"
            )));
        }
    }
    let body = parse_body(body)?;
    let level = body
        .get("level")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::bad_request(
                "the body must be {\"level\": \"DEBUG\"} (TRACE, DEBUG, INFO, WARN, ERROR, FATAL or OFF)",
            )
        })?;
    let changed = levels.set(name, level).map_err(ApiError::bad_request)?;
    tracing::info!(logger = %name, level, "log level changed through the REST API");
    ok(json!(changed))
}

pub(super) async fn list_loggers(State(app): AppState) -> Reply {
    loggers_json(app.loggers.as_deref())
}

pub(super) async fn get_logger(State(app): AppState, Path(name): Path<String>) -> Reply {
    logger_json(app.loggers.as_deref(), &name)
}

pub(super) async fn set_logger(
    State(app): AppState,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    set_level(app.loggers.as_deref(), &name, &q, &body)
}
