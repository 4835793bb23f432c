//! `/connectors/{name}/offsets` (KIP-875): read any time, change only while STOPPED.

use super::*;

pub(super) async fn get_offsets(State(app): AppState, Path(name): Path<String>) -> Reply {
    let entries = app.worker.offsets(&name).await?;
    let offsets: Vec<Value> = entries
        .iter()
        .map(|(p, o)| json!({"partition": map_to_json(p), "offset": map_to_json(o)}))
        .collect();
    ok(json!({ "offsets": offsets }))
}

pub(super) fn offset_entry(
    i: usize,
    e: &Value,
) -> Result<(OffsetMap, Option<OffsetMap>), ApiError> {
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
    let v = parse_body(&body)?;
    let entries = v
        .get("offsets")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "give the partitions and offsets to change: {\"offsets\": [{\"partition\": {...}, \"offset\": {...} or null}]}",
            )
        })?;
    let batch = entries
        .iter()
        .enumerate()
        .map(|(i, e)| offset_entry(i, e))
        .collect::<Result<Vec<_>, _>>()?;
    let _ops = app.ops.lock().await;
    app.worker.alter_offsets(&name, batch).await?;
    ok(
        json!({"message": format!("The offsets of connector {name:?} were altered; resume it to read from them.")}),
    )
}

pub(super) async fn reset_offsets(State(app): AppState, Path(name): Path<String>) -> Reply {
    let _ops = app.ops.lock().await;
    app.worker.reset_offsets(&name).await?;
    ok(
        json!({"message": format!("The offsets of connector {name:?} were reset; resumed, it reads every object again.")}),
    )
}
