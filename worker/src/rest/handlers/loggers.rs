//! `/admin/loggers`: log levels read and changed at run time (Kafka Connect's KIP-495 shapes).

use super::*;
use crate::loggers::{LogLevels, LoggerLevel};

fn levels(app: &App) -> Result<&LogLevels, ApiError> {
    app.loggers.as_deref().ok_or_else(|| {
        ApiError::not_found("this process does not let the REST API change its log levels")
    })
}

fn level_json(l: &LoggerLevel) -> Value {
    json!({"level": l.level, "last_modified": l.last_modified})
}

/// `GET /admin/loggers`: every logger with a level of its own, and `root`.
pub(super) async fn list_loggers(State(app): AppState) -> Reply {
    let all: Map<String, Value> = levels(&app)?
        .all()
        .iter()
        .map(|(name, l)| (name.clone(), level_json(l)))
        .collect();
    ok(Value::Object(all))
}

/// `GET /admin/loggers/{name}`: the level `name` logs at (its own or inherited).
pub(super) async fn get_logger(State(app): AppState, Path(name): Path<String>) -> Reply {
    ok(level_json(&levels(&app)?.get(&name)))
}

/// `PUT /admin/loggers/{name}` with `{"level": "DEBUG"}`: sets `name` and its descendants;
/// answers the loggers changed.
pub(super) async fn set_logger(
    State(app): AppState,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let levels = levels(&app)?;
    if let Some((_, scope)) = query_pairs(&q).into_iter().find(|(k, _)| k == "scope") {
        if !scope.eq_ignore_ascii_case("worker") && !scope.eq_ignore_ascii_case("cluster") {
            return Err(ApiError::bad_request(format!(
                "query parameter scope={scope:?}: expected worker or cluster"
            )));
        }
    }
    let body = parse_body(&body)?;
    let level = body
        .get("level")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::bad_request(
                "the body must be {\"level\": \"DEBUG\"} (TRACE, DEBUG, INFO, WARN, ERROR, FATAL or OFF)",
            )
        })?;
    let changed = levels.set(&name, level).map_err(ApiError::bad_request)?;
    tracing::info!(logger = %name, level, "log level changed through the REST API");
    ok(json!(changed))
}
