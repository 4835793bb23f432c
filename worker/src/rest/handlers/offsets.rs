//! `/connectors/{name}/offsets` (KIP-875): read any time, change only while STOPPED.

use super::*;

pub(super) async fn get_offsets(State(app): AppState, Path(name): Path<String>) -> Reply {
    ok(offsets_json(&app.worker.offsets(&name).await?))
}

/// Kafka Connect's `ConnectorOffsets`: `{"offsets": [{"partition": {...}, "offset": {...}}]}`.
pub(crate) fn offsets_json(entries: &[(OffsetMap, OffsetMap)]) -> Value {
    let offsets: Vec<Value> = entries
        .iter()
        .map(|(p, o)| json!({"partition": map_to_json(p), "offset": map_to_json(o)}))
        .collect();
    json!({ "offsets": offsets })
}

/// The body of `PATCH /connectors/{name}/offsets`, checked: (partition, offset or `None`).
pub(crate) fn offsets_batch(body: &Bytes) -> Result<Vec<(OffsetMap, Option<OffsetMap>)>, ApiError> {
    let v = parse_body(body)?;
    let entries = v
        .get("offsets")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "give the partitions and offsets to change: {\"offsets\": [{\"partition\": {...}, \"offset\": {...} or null}]}",
            )
        })?;
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| offset_entry(i, e))
        .collect()
}

/// Kafka Connect's answer to a successful `PATCH` of a connector's offsets.
pub(crate) fn altered_json(name: &str) -> Value {
    json!({"message": format!("The offsets of connector {name:?} were altered; resume it to read from them.")})
}

/// Kafka Connect's answer to a successful `DELETE` of a connector's offsets.
pub(crate) fn reset_json(name: &str) -> Value {
    json!({"message": format!("The offsets of connector {name:?} were reset; resumed, it reads every object again.")})
}

fn offset_entry(i: usize, e: &Value) -> Result<(OffsetMap, Option<OffsetMap>), ApiError> {
    let bad = |m: String| ApiError::bad_request(format!("offsets[{i}]: {m}"));
    let partition = e
        .get("partition")
        .filter(|p| p.as_object().is_some_and(|o| !o.is_empty()))
        .ok_or_else(|| bad("needs a non-empty \"partition\" object, e.g. {\"bucket\": ..., \"object\": ...} as GET /connectors/{name}/offsets shows".into()))?;
    let partition = map_from_json(partition).map_err(|e| bad(e.to_string()))?;
    let offset = match e.get("offset") {
        None | Some(Value::Null) => None,
        Some(o) if o.is_object() => {
            let map = map_from_json(o).map_err(|e| bad(e.to_string()))?;
            let count = map.get(RECORD_COUNT).and_then(|v| v.as_long());
            if count.is_none_or(|c| c < 0) {
                return Err(bad(format!(
                    "the offset needs \"{RECORD_COUNT}\": the number of records already delivered (≥ 0); use null to read the object again from its start"
                )));
            }
            Some(map)
        }
        Some(other) => {
            return Err(bad(format!(
                "the offset must be an object or null, not {other}"
            )))
        }
    };
    Ok((partition, offset))
}

pub(super) async fn alter_offsets(
    State(app): AppState,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    let batch = offsets_batch(&body)?;
    let _ops = app.ops.lock().await;
    app.worker.alter_offsets(&name, batch).await?;
    ok(altered_json(&name))
}

pub(super) async fn reset_offsets(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    app.worker.reset_offsets(&name).await?;
    ok(reset_json(&name))
}
