//! Notification queues for the event-driven discovery tests: moto's SQS (the same moto server
//! that serves S3 delivers the bucket's event notifications to it) and Azurite's Queue service
//! (the tests post Event Grid-shaped messages themselves).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::http;
use crate::servers::{AZURITE_ACCOUNT, AZURITE_KEY};
use crate::{free_port, workspace_root, ChildGuard};

/// moto's account id.
const ACCOUNT: &str = "123456789012";

/// moto's SQS, on the moto server at `addr`.
#[derive(Debug, Clone)]
pub struct Sqs {
    addr: String,
}

impl Sqs {
    /// The SQS of the moto server at `addr` (`host:port`).
    pub fn new(addr: &str) -> Sqs {
        Sqs {
            addr: addr.to_owned(),
        }
    }

    /// Calls SQS's `action` (JSON protocol). moto routes requests by the service named in the
    /// authorization header's scope; it does not check signatures.
    pub fn call(&self, action: &str, body: Value) -> Value {
        let r = http::request(
            &self.addr,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0".into()),
                ("X-Amz-Target", format!("AmazonSQS.{action}")),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0".into(),
                ),
            ],
            body.to_string().as_bytes(),
        )
        .unwrap_or_else(|e| panic!("SQS {action}: {e}"));
        assert_eq!(r.status, 200, "SQS {action}: {}", r.text());
        serde_json::from_slice(&r.body).unwrap_or(Value::Null)
    }

    /// Creates queue `name` whose messages stay invisible `visibility_secs` after a receive;
    /// its URL.
    pub fn create_queue(&self, name: &str, visibility_secs: u32) -> String {
        let v = self.call(
            "CreateQueue",
            json!({"QueueName": name, "Attributes": {"VisibilityTimeout": visibility_secs.to_string()}}),
        );
        v["QueueUrl"].as_str().expect("QueueUrl").to_owned()
    }

    /// The ARN of queue `name`.
    pub fn arn(name: &str) -> String {
        format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}")
    }

    /// Messages in the queue: (visible, received and not deleted yet).
    pub fn counts(&self, url: &str) -> (u64, u64) {
        let v = self.call(
            "GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
        );
        let n = |k: &str| {
            v["Attributes"][k]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        };
        (
            n("ApproximateNumberOfMessages"),
            n("ApproximateNumberOfMessagesNotVisible"),
        )
    }

    /// Sends `body` to the queue (a hand-made notification).
    pub fn send(&self, url: &str, body: &str) {
        self.call("SendMessage", json!({"QueueUrl": url, "MessageBody": body}));
    }

    /// Makes `bucket` send its `s3:ObjectCreated:*` events to queue `name` (moto answers 500
    /// to an empty configuration: send them to another queue to lose them).
    pub fn notify_bucket(&self, bucket: &str, name: &str) {
        let body = format!(
            "<NotificationConfiguration><QueueConfiguration><Id>sluice</Id><Queue>{}</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>",
            Self::arn(name)
        );
        let r = http::request(
            &self.addr,
            "PUT",
            &format!("/{bucket}?notification"),
            &[("Content-Type", "application/xml".into())],
            body.as_bytes(),
        )
        .expect("put bucket notification");
        assert_eq!(r.status, 200, "notification configuration: {}", r.text());
    }

    /// An S3 event for `key` of `bucket`, as S3 writes it (key URL-encoded).
    pub fn s3_event(bucket: &str, key: &str) -> String {
        json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": http::encode(key).replace("%20", "+"), "size": 1}}}]})
        .to_string()
    }
}

fn azurite_queue_js() -> PathBuf {
    let p = std::env::var_os("SLUICE_AZURITE_QUEUE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace_root()
                .join(".test-servers/azurite/node_modules/azurite/dist/src/queue/main.js")
        });
    assert!(
        p.exists(),
        "Azurite (3.35.0) is not installed (looked for {}): run scripts/install-test-servers.sh",
        p.display()
    );
    p
}

/// Azurite's Queue service; stops on drop.
pub struct AzuriteQueues {
    /// `host:port`.
    pub addr: String,
    _dir: tempfile::TempDir,
    _child: ChildGuard,
}

impl AzuriteQueues {
    /// Starts the Queue service on a free port.
    pub fn start() -> AzuriteQueues {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.path().join("queue.log");
        let child = ChildGuard::spawn(
            Command::new("node")
                .arg(azurite_queue_js())
                .args([
                    "--queueHost",
                    "127.0.0.1",
                    "--queuePort",
                    &port.to_string(),
                    "--inMemoryPersistence",
                    "--disableTelemetry",
                    "--skipApiVersionCheck",
                    "--silent",
                ])
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap()),
        );
        crate::wait_port(&addr, Duration::from_secs(60)).expect("Azurite's Queue service starts");
        AzuriteQueues {
            addr,
            _dir: dir,
            _child: child,
        }
    }

    /// The queue service endpoint Sluice is given.
    pub fn endpoint(&self) -> String {
        format!("http://{}/{AZURITE_ACCOUNT}", self.addr)
    }

    /// A SharedKey-signed request (`query`: `name=value` pairs, without `?`).
    fn signed(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &[u8],
    ) -> http::Response {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let date = chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            let version = "2021-08-06";
            let length = if body.is_empty() {
                String::new()
            } else {
                body.len().to_string()
            };
            let mut sorted = query.to_vec();
            sorted.sort();
            let resource: String = sorted.iter().map(|(k, v)| format!("\n{k}:{v}")).collect();
            let to_sign = format!(
                "{method}\n\n\n{length}\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}{path}{resource}"
            );
            let key = base64::engine::general_purpose::STANDARD
                .decode(AZURITE_KEY)
                .unwrap();
            let tag = ring::hmac::sign(
                &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
                to_sign.as_bytes(),
            );
            let sig = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", http::encode(v)))
                .collect();
            let target = if q.is_empty() {
                format!("/{AZURITE_ACCOUNT}{path}")
            } else {
                format!("/{AZURITE_ACCOUNT}{path}?{}", q.join("&"))
            };
            let r = http::request(
                &self.addr,
                method,
                &target,
                &[
                    ("x-ms-date", date),
                    ("x-ms-version", version.into()),
                    (
                        "Authorization",
                        format!("SharedKey {AZURITE_ACCOUNT}:{sig}"),
                    ),
                ],
                body,
            );
            match r {
                Ok(r) => return r,
                Err(e) if Instant::now() > deadline => panic!("Azurite queue {method} {path}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Creates queue `name`.
    pub fn create_queue(&self, name: &str) {
        let r = self.signed("PUT", &format!("/{name}"), &[], b"");
        assert!(
            r.status == 201 || r.status == 204,
            "create queue {name}: {} {}",
            r.status,
            r.text()
        );
    }

    /// Posts a message whose text is `text` base64-encoded (as Event Grid writes events).
    pub fn post_base64(&self, name: &str, text: &str) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(text);
        let body = format!("<QueueMessage><MessageText>{b64}</MessageText></QueueMessage>");
        let r = self.signed("POST", &format!("/{name}/messages"), &[], body.as_bytes());
        assert_eq!(r.status, 201, "put message: {}", r.text());
    }

    /// Messages in queue `name` (visible or not).
    pub fn count(&self, name: &str) -> u64 {
        let r = self.signed("GET", &format!("/{name}"), &[("comp", "metadata")], b"");
        assert_eq!(r.status, 200, "queue metadata: {}", r.text());
        r.header("x-ms-approximate-messages-count")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// An Event Grid `BlobCreated` event (Event Grid schema) for blob `key` of `container`.
    pub fn blob_created(container: &str, key: &str) -> String {
        json!({
            "topic": format!("/subscriptions/0/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/{AZURITE_ACCOUNT}"),
            "subject": format!("/blobServices/default/containers/{container}/blobs/{key}"),
            "eventType": "Microsoft.Storage.BlobCreated",
            "id": format!("{container}/{key}"),
            "data": {"api": "PutBlob", "blobType": "BlockBlob",
                     "url": format!("http://127.0.0.1/{AZURITE_ACCOUNT}/{container}/{key}")},
            "dataVersion": "", "metadataVersion": "1", "eventTime": "2025-01-01T00:00:00Z"
        })
        .to_string()
    }
}
