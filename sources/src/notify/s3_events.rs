//! S3 event notifications as SQS delivers them: the S3 event itself (`Records[]`), inside an SNS
//! envelope (`Type: Notification`, `Message` a JSON string holding the S3 event), or an
//! EventBridge event (`source: aws.s3`, `detail.object.key`). S3 sends keys URL-encoded
//! (`red flower.jpg` arrives as `red+flower.jpg`): they are decoded here.

use serde_json::Value;
use sluice_core::contract::{IgnoreReason, ObjectEvent};

/// The events of one SQS message body.
pub fn parse(body: &str) -> Vec<ObjectEvent> {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => parse_value(&v, 0),
        Err(_) => vec![ObjectEvent::Ignored(IgnoreReason::Malformed)],
    }
}

fn parse_value(v: &Value, depth: u8) -> Vec<ObjectEvent> {
    let malformed = || vec![ObjectEvent::Ignored(IgnoreReason::Malformed)];
    // SNS envelope (without raw message delivery): the S3 event is a JSON string in `Message`.
    if v.get("Type").and_then(Value::as_str) == Some("Notification") && depth == 0 {
        return match v.get("Message").and_then(Value::as_str) {
            Some(m) => match serde_json::from_str::<Value>(m) {
                Ok(inner) => parse_value(&inner, depth + 1),
                Err(_) => malformed(),
            },
            None => malformed(),
        };
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return vec![ObjectEvent::Ignored(IgnoreReason::TestEvent)];
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        return records.iter().map(record).collect();
    }
    if v.get("source").and_then(Value::as_str) == Some("aws.s3") {
        return vec![event_bridge(v)];
    }
    malformed()
}

/// One record of an S3 event (`Records[]`).
fn record(r: &Value) -> ObjectEvent {
    let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
    // `ObjectCreated:Put` (S3), `s3:ObjectCreated:Put` (MinIO and some compatibles).
    if !name.trim_start_matches("s3:").starts_with("ObjectCreated:") {
        return ObjectEvent::Ignored(IgnoreReason::OtherEvent);
    }
    let s3 = r.get("s3");
    let bucket = s3
        .and_then(|s| s.pointer("/bucket/name"))
        .and_then(Value::as_str);
    match s3
        .and_then(|s| s.pointer("/object/key"))
        .and_then(Value::as_str)
    {
        Some(key) => created(bucket, key),
        None => ObjectEvent::Ignored(IgnoreReason::Malformed),
    }
}

/// An EventBridge event from S3 (`detail-type: Object Created`).
fn event_bridge(v: &Value) -> ObjectEvent {
    if v.get("detail-type").and_then(Value::as_str) != Some("Object Created") {
        return ObjectEvent::Ignored(IgnoreReason::OtherEvent);
    }
    let bucket = v.pointer("/detail/bucket/name").and_then(Value::as_str);
    match v.pointer("/detail/object/key").and_then(Value::as_str) {
        Some(key) => created(bucket, key),
        None => ObjectEvent::Ignored(IgnoreReason::Malformed),
    }
}

fn created(bucket: Option<&str>, key: &str) -> ObjectEvent {
    match url_decode(key) {
        Some(key) => ObjectEvent::Created {
            bucket: bucket.map(str::to_owned),
            key,
        },
        None => ObjectEvent::Ignored(IgnoreReason::Malformed),
    }
}

/// `application/x-www-form-urlencoded` decoding, as S3 encodes keys in events: `+` is a space,
/// `%XX` a byte; `None` when the result is not UTF-8 or an escape is cut short.
pub fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(bucket: &str, key: &str) -> ObjectEvent {
        ObjectEvent::Created {
            bucket: Some(bucket.into()),
            key: key.into(),
        }
    }

    /// What moto 5.2.5 delivered for a PUT of `a b/c+d%.txt` (see TESTBED.md).
    const DIRECT: &str = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-12-03T18:00:24.056Z", "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "configurationId": "x", "bucket": {"name": "bkt1", "arn": "arn:aws:s3:::bkt1"}, "object": {"key": "a+b%2Fc%2Bd%25.txt", "size": 6, "eTag": "b1946ac92492d2347c6235b4d2611184"}}}]}"#;

    #[test]
    fn direct_s3_events_decode_their_keys() {
        assert_eq!(parse(DIRECT), vec![created("bkt1", "a b/c+d%.txt")]);
    }

    #[test]
    fn keys_are_form_url_decoded() {
        assert_eq!(url_decode("red+flower.jpg").unwrap(), "red flower.jpg");
        assert_eq!(url_decode("a%2Fb%3D1%2B2").unwrap(), "a/b=1+2");
        assert_eq!(url_decode("caf%C3%A9").unwrap(), "café");
        assert_eq!(url_decode("plain/key.json").unwrap(), "plain/key.json");
        assert_eq!(url_decode("cut%2"), None);
        assert_eq!(url_decode("bad%zz"), None);
        assert_eq!(url_decode("%FF"), None, "not UTF-8");
    }

    #[test]
    fn test_events_and_other_events_are_ignored() {
        let test = r#"{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-12-03T18:00:24.047Z", "Bucket": "bkt1"}"#;
        assert_eq!(
            parse(test),
            vec![ObjectEvent::Ignored(IgnoreReason::TestEvent)]
        );
        let removed = DIRECT.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert_eq!(
            parse(&removed),
            vec![ObjectEvent::Ignored(IgnoreReason::OtherEvent)]
        );
        let minio = DIRECT.replace("ObjectCreated:Put", "s3:ObjectCreated:Put");
        assert_eq!(parse(&minio), vec![created("bkt1", "a b/c+d%.txt")]);
    }

    #[test]
    fn several_records_give_several_events() {
        let two = r#"{"Records":[
            {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"x%201"}}},
            {"eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"b"},"object":{"key":"y"}}}]}"#;
        assert_eq!(parse(two), vec![created("b", "x 1"), created("b", "y")]);
    }

    #[test]
    fn sns_envelopes_hold_the_event_as_a_string() {
        let envelope = serde_json::json!({
            "Type": "Notification",
            "MessageId": "m-1",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "Subject": "Amazon S3 Notification",
            "Message": DIRECT,
        })
        .to_string();
        assert_eq!(parse(&envelope), vec![created("bkt1", "a b/c+d%.txt")]);
        let test = serde_json::json!({"Type": "Notification",
            "Message": r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#})
        .to_string();
        assert_eq!(
            parse(&test),
            vec![ObjectEvent::Ignored(IgnoreReason::TestEvent)]
        );
        let broken = serde_json::json!({"Type": "Notification", "Message": "not json"}).to_string();
        assert_eq!(
            parse(&broken),
            vec![ObjectEvent::Ignored(IgnoreReason::Malformed)]
        );
    }

    #[test]
    fn event_bridge_events_name_the_object_in_detail() {
        let e = r#"{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3",
            "account":"123456789012","time":"2024-01-01T00:00:00Z","region":"us-east-1",
            "resources":["arn:aws:s3:::my-bucket"],
            "detail":{"version":"0","bucket":{"name":"my-bucket"},
              "object":{"key":"logs/2024/a+b.json","size":1024,"etag":"abc"},
              "reason":"PutObject"}}"#;
        assert_eq!(parse(e), vec![created("my-bucket", "logs/2024/a b.json")]);
        let deleted = e.replace("Object Created", "Object Deleted");
        assert_eq!(
            parse(&deleted),
            vec![ObjectEvent::Ignored(IgnoreReason::OtherEvent)]
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        for body in [
            "",
            "not json",
            "{}",
            "[1,2]",
            r#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#,
        ] {
            assert_eq!(
                parse(body),
                vec![ObjectEvent::Ignored(IgnoreReason::Malformed)],
                "{body}"
            );
        }
    }
}
