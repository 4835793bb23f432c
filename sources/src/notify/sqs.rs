//! An SQS queue of S3 event notifications (`aws.s3.notifications.sqs.url`), over reqwest with
//! SQS's JSON protocol (`X-Amz-Target: AmazonSQS.ReceiveMessage`, ...) signed with SigV4 by
//! `object_store`'s own signer and the S3 store's credentials (the keys given, else the default
//! chain), so no AWS SDK is needed.

use std::fmt;

use async_trait::async_trait;
use object_store::aws::{AwsAuthorizer, AwsCredentialProvider};
use serde_json::{json, Value};
use sluice_core::contract::{NotificationQueue, QueueMessage};
use sluice_core::BoxError;

use super::s3_events;

/// How long a receive waits for a message (SQS long polling, at most 20 s).
const WAIT_SECONDS: u64 = 10;
/// Messages per receive (SQS's maximum).
const MAX_MESSAGES: u64 = 10;

/// An SQS queue.
pub struct SqsQueue {
    url: String,
    /// Where the JSON protocol's requests go: the queue URL's scheme and authority.
    endpoint: String,
    region: String,
    credentials: AwsCredentialProvider,
    client: reqwest::Client,
}

impl fmt::Debug for SqsQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsQueue")
            .field("url", &self.url)
            .field("region", &self.region)
            .finish()
    }
}

/// What is wrong with a queue URL.
pub fn check_url(url: &str) -> Result<(), String> {
    endpoint_of(url).map(|_| ())
}

/// `scheme://authority` of a queue URL `scheme://authority/<account>/<name>`.
fn endpoint_of(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http"))
        .ok_or_else(|| format!("{url:?} is not a queue URL; expected https://sqs.<region>.amazonaws.com/<account>/<queue>"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() || path.trim_matches('/').split('/').count() != 2 {
        return Err(format!(
            "{url:?} is not a queue URL; expected https://sqs.<region>.amazonaws.com/<account>/<queue> (the QueueUrl that `aws sqs get-queue-url` prints)"
        ));
    }
    Ok(format!("{scheme}://{authority}"))
}

/// The region an AWS queue URL names (`sqs.<region>.amazonaws.com`), if any.
fn region_of(url: &str) -> Option<String> {
    let host = url.split_once("://")?.1.split('/').next()?;
    let rest = host.strip_prefix("sqs.")?;
    let region = rest.split('.').next()?;
    (!region.is_empty() && rest.contains(".amazonaws.com")).then(|| region.to_owned())
}

impl SqsQueue {
    /// The queue at `url`, signed for `region` (unless the URL names another) with
    /// `credentials`.
    pub fn new(
        url: &str,
        region: &str,
        credentials: AwsCredentialProvider,
    ) -> Result<Self, String> {
        let endpoint = endpoint_of(url)?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(WAIT_SECONDS + 20))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(SqsQueue {
            url: url.to_owned(),
            endpoint,
            region: region_of(url).unwrap_or_else(|| region.to_owned()),
            credentials,
            client,
        })
    }

    /// Calls `action` with `body` (JSON protocol) and returns the answer's JSON.
    async fn call(&self, action: &str, body: Value) -> Result<Value, BoxError> {
        let credential = self.credentials.get_credential().await?;
        let body = body.to_string();
        let mut request = http::Request::builder()
            .method("POST")
            .uri(format!("{}/", self.endpoint))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .body(object_store::client::HttpRequestBody::from(body.clone()))?;
        AwsAuthorizer::new(&credential, "sqs", &self.region).try_authorize(&mut request, None)?;
        let response = self
            .client
            .post(format!("{}/", self.endpoint))
            .headers(request.headers().clone())
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(format!("SQS {action} answered {status}: {}", text.trim()).into());
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text)?)
    }
}

#[async_trait]
impl NotificationQueue for SqsQueue {
    fn name(&self) -> &str {
        &self.url
    }

    async fn receive(&self) -> Result<Vec<QueueMessage>, BoxError> {
        let answer = self
            .call(
                "ReceiveMessage",
                json!({
                    "QueueUrl": self.url,
                    "MaxNumberOfMessages": MAX_MESSAGES,
                    "WaitTimeSeconds": WAIT_SECONDS,
                }),
            )
            .await?;
        let messages = answer
            .get("Messages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(messages
            .iter()
            .filter_map(|m| {
                let text = |k: &str| m.get(k).and_then(Value::as_str);
                Some(QueueMessage {
                    id: text("MessageId")?.to_owned(),
                    receipt: text("ReceiptHandle")?.to_owned(),
                    events: s3_events::parse(text("Body").unwrap_or("")),
                })
            })
            .collect())
    }

    async fn delete(&self, message: &QueueMessage) -> Result<(), BoxError> {
        self.call(
            "DeleteMessage",
            json!({"QueueUrl": self.url, "ReceiptHandle": message.receipt}),
        )
        .await
        .map(drop)
    }

    async fn release(&self, message: &QueueMessage) -> Result<(), BoxError> {
        self.call(
            "ChangeMessageVisibility",
            json!({"QueueUrl": self.url, "ReceiptHandle": message.receipt, "VisibilityTimeout": 0}),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_give_endpoint_and_region() {
        let aws = "https://sqs.eu-west-1.amazonaws.com/123456789012/events";
        assert_eq!(
            endpoint_of(aws).unwrap(),
            "https://sqs.eu-west-1.amazonaws.com"
        );
        assert_eq!(region_of(aws).as_deref(), Some("eu-west-1"));
        let local = "http://127.0.0.1:5000/123456789012/q";
        assert_eq!(endpoint_of(local).unwrap(), "http://127.0.0.1:5000");
        assert_eq!(region_of(local), None);
        for bad in [
            "sqs.amazonaws.com/1/q",
            "https://host/q",
            "ftp://h/1/q",
            "https:///1/q",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
