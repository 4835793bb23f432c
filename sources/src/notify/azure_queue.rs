//! An Azure Storage queue of Event Grid `BlobCreated` events (`azure.notifications.queue`), over
//! reqwest with the Queue service's REST API (Get Messages, Delete Message, Update Message),
//! authorized by `object_store`'s Azure authorizer with the container's credentials (Shared Key,
//! SAS or a token of the default chain).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use object_store::azure::{AzureAuthorizer, AzureCredentialProvider};
use sluice_core::contract::{NotificationQueue, QueueMessage};
use sluice_core::BoxError;

use super::event_grid;

/// Messages per Get Messages (the service's maximum).
const MAX_MESSAGES: u32 = 32;
/// The Queue service has no long polling: an empty answer waits this long before the next.
const EMPTY_WAIT: Duration = Duration::from_millis(500);

/// An Azure Storage queue.
pub struct AzureQueue {
    /// `<queue endpoint>/<queue>`.
    url: String,
    account: String,
    visibility: Duration,
    credentials: AzureCredentialProvider,
    client: reqwest::Client,
}

impl fmt::Debug for AzureQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureQueue")
            .field("url", &self.url)
            .finish()
    }
}

impl AzureQueue {
    /// Queue `queue` of the queue service at `endpoint` (`https://<account>.queue.core.windows.net`
    /// or an emulator's `http://127.0.0.1:10001/<account>`) of `account`; messages received stay
    /// invisible to others for `visibility`.
    pub fn new(
        endpoint: &str,
        queue: &str,
        account: &str,
        visibility: Duration,
        credentials: AzureCredentialProvider,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(AzureQueue {
            url: format!("{}/{queue}", endpoint.trim_end_matches('/')),
            account: account.to_owned(),
            visibility,
            credentials,
            client,
        })
    }

    /// Sends `method` to `url` (authorized); the answer's text.
    async fn call(&self, method: &str, url: String) -> Result<String, BoxError> {
        let credential = self.credentials.get_credential().await?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("content-length", "0")
            .body(object_store::client::HttpRequestBody::from(Vec::new()))?;
        if method == "GET" {
            request.headers_mut().remove("content-length");
        }
        AzureAuthorizer::new(&credential, &self.account).try_authorize(&mut request)?;
        let response = self
            .client
            .request(method.parse()?, request.uri().to_string())
            .headers(request.headers().clone())
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(format!("{method} {} answered {status}: {}", self.url, text.trim()).into());
        }
        Ok(text)
    }

    fn message_url(&self, m: &QueueMessage) -> String {
        format!(
            "{}/messages/{}?popreceipt={}",
            self.url,
            encode(&m.id),
            encode(&m.receipt)
        )
    }
}

#[async_trait]
impl NotificationQueue for AzureQueue {
    fn name(&self) -> &str {
        &self.url
    }

    async fn receive(&self) -> Result<Vec<QueueMessage>, BoxError> {
        let xml = self
            .call(
                "GET",
                format!(
                    "{}/messages?numofmessages={MAX_MESSAGES}&visibilitytimeout={}",
                    self.url,
                    self.visibility.as_secs().max(1)
                ),
            )
            .await?;
        let messages: Vec<QueueMessage> = parse_messages(&xml);
        if messages.is_empty() {
            tokio::time::sleep(EMPTY_WAIT).await;
        }
        Ok(messages)
    }

    async fn delete(&self, message: &QueueMessage) -> Result<(), BoxError> {
        self.call("DELETE", self.message_url(message))
            .await
            .map(drop)
    }

    async fn release(&self, message: &QueueMessage) -> Result<(), BoxError> {
        self.call(
            "PUT",
            format!("{}&visibilitytimeout=0", self.message_url(message)),
        )
        .await
        .map(drop)
    }
}

/// The messages of a Get Messages answer (`<QueueMessagesList><QueueMessage>...`).
fn parse_messages(xml: &str) -> Vec<QueueMessage> {
    xml.split("<QueueMessage>")
        .skip(1)
        .filter_map(|m| {
            let m = m.split("</QueueMessage>").next()?;
            Some(QueueMessage {
                id: tag(m, "MessageId")?,
                receipt: tag(m, "PopReceipt")?,
                events: event_grid::parse(&tag(m, "MessageText").unwrap_or_default()),
            })
        })
        .collect()
}

/// The unescaped text of `<name>...</name>` in `xml`.
fn tag(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::contract::{IgnoreReason, ObjectEvent};

    #[test]
    fn get_messages_answers_parse() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage><MessageId>id-1</MessageId><InsertionTime>Fri, 09 Oct 2009 21:04:30 GMT</InsertionTime><ExpirationTime>Fri, 16 Oct 2009 21:04:30 GMT</ExpirationTime><PopReceipt>AgAAAAMA+Z/b&amp;c=</PopReceipt><TimeNextVisible>Fri, 09 Oct 2009 23:29:20 GMT</TimeNextVisible><DequeueCount>1</DequeueCount><MessageText>bm90IGpzb24=</MessageText></QueueMessage><QueueMessage><MessageId>id-2</MessageId><PopReceipt>r2</PopReceipt><MessageText>{"eventType":"Microsoft.Storage.BlobCreated","subject":"/blobServices/default/containers/c/blobs/k"}</MessageText></QueueMessage></QueueMessagesList>"#;
        let got = parse_messages(xml);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].id, "id-1");
        assert_eq!(got[0].receipt, "AgAAAAMA+Z/b&c=");
        assert_eq!(
            got[0].events,
            vec![ObjectEvent::Ignored(IgnoreReason::Malformed)]
        );
        assert_eq!(
            got[1].events,
            vec![ObjectEvent::Created {
                bucket: Some("c".into()),
                key: "k".into()
            }]
        );
        assert!(parse_messages("<QueueMessagesList />").is_empty());
        assert_eq!(encode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
