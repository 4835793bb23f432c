//! Azure Event Grid `Microsoft.Storage.BlobCreated` events as an Azure Storage queue holds them:
//! the message text is the event's JSON, base64-encoded (Event Grid's default for queue
//! destinations) or as it is; Event Grid schema or CloudEvents 1.0 schema, one event or an
//! array. The blob comes from the event's `subject`
//! (`/blobServices/default/containers/<container>/blobs/<name>`).

use base64::Engine as _;
use serde_json::Value;
use sluice_core::contract::{IgnoreReason, ObjectEvent};

/// The events of one queue message's text.
pub fn parse(text: &str) -> Vec<ObjectEvent> {
    let trimmed = text.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let value = decoded.or_else(|| serde_json::from_str::<Value>(trimmed).ok());
    match value {
        Some(Value::Array(events)) if !events.is_empty() => events.iter().map(event).collect(),
        Some(v @ Value::Object(_)) => vec![event(&v)],
        _ => vec![ObjectEvent::Ignored(IgnoreReason::Malformed)],
    }
}

/// One event, either schema: `eventType` (Event Grid) or `type` (CloudEvents).
fn event(v: &Value) -> ObjectEvent {
    let kind = v
        .get("eventType")
        .or_else(|| v.get("type"))
        .and_then(Value::as_str);
    match kind {
        Some("Microsoft.Storage.BlobCreated") => {}
        Some(_) => return ObjectEvent::Ignored(IgnoreReason::OtherEvent),
        None => return ObjectEvent::Ignored(IgnoreReason::Malformed),
    }
    let subject = v.get("subject").and_then(Value::as_str).unwrap_or("");
    match subject
        .strip_prefix("/blobServices/default/containers/")
        .and_then(|rest| rest.split_once("/blobs/"))
    {
        Some((container, blob)) if !container.is_empty() && !blob.is_empty() => {
            ObjectEvent::Created {
                bucket: Some(container.to_owned()),
                key: blob.to_owned(),
            }
        }
        _ => ObjectEvent::Ignored(IgnoreReason::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT_GRID: &str = r#"{
      "topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/acct",
      "subject": "/blobServices/default/containers/logs/blobs/2024/05/a b.json",
      "eventType": "Microsoft.Storage.BlobCreated",
      "id": "831e1650-001e-001b-66ab-eeb76e069631",
      "data": {"api": "PutBlob", "contentType": "application/json", "contentLength": 524288,
               "blobType": "BlockBlob", "url": "https://acct.blob.core.windows.net/logs/2024/05/a%20b.json"},
      "dataVersion": "", "metadataVersion": "1", "eventTime": "2024-05-01T00:00:00Z"}"#;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn created(c: &str, k: &str) -> ObjectEvent {
        ObjectEvent::Created {
            bucket: Some(c.into()),
            key: k.into(),
        }
    }

    #[test]
    fn event_grid_events_base64_or_plain() {
        let want = vec![created("logs", "2024/05/a b.json")];
        assert_eq!(parse(&b64(EVENT_GRID)), want);
        assert_eq!(parse(EVENT_GRID), want);
        assert_eq!(parse(&b64(&format!("[{EVENT_GRID}]"))), want);
    }

    #[test]
    fn cloud_events_use_type() {
        let ce = r#"{"specversion": "1.0", "type": "Microsoft.Storage.BlobCreated",
          "source": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/acct",
          "id": "1", "time": "2024-05-01T00:00:00Z",
          "subject": "/blobServices/default/containers/c/blobs/x/y.csv",
          "data": {"api": "PutBlob", "blobType": "BlockBlob"}}"#;
        assert_eq!(parse(&b64(ce)), vec![created("c", "x/y.csv")]);
    }

    #[test]
    fn other_events_and_garbage_are_ignored() {
        let deleted = EVENT_GRID.replace("BlobCreated", "BlobDeleted");
        assert_eq!(
            parse(&b64(&deleted)),
            vec![ObjectEvent::Ignored(IgnoreReason::OtherEvent)]
        );
        let no_subject = EVENT_GRID.replace("\"subject\"", "\"subjectx\"");
        for text in [
            "hello".to_owned(),
            b64("not json"),
            "[]".into(),
            no_subject,
            r#"{"data":{}}"#.into(),
        ] {
            assert_eq!(
                parse(&text),
                vec![ObjectEvent::Ignored(IgnoreReason::Malformed)],
                "{text}"
            );
        }
    }
}
