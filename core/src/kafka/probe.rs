//! Connecting to Kafka once, and saying precisely why it failed: DNS, TCP, the TLS handshake
//! (with the certificate problem named), SASL authentication, authorization on a topic.
//! librdkafka reports these only as text in its error and log callbacks; [`diagnose`] maps that
//! text to a reason and what to do, and [`check_connection`] collects it from a real client.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;

use crate::error::{Error, Result};

/// Why a connection failed, from librdkafka's error and log lines (`events`, oldest first):
/// the most telling line's reason and what to do, or `None` when no line says.
pub fn diagnose(events: &[String]) -> Option<String> {
    // The most specific cause wins: an authentication failure comes after a TCP connect that
    // worked, a TLS failure after the TCP connect, so look for them first.
    let find = |needles: &[&str]| {
        events.iter().rev().find(|e| {
            let lower = e.to_ascii_lowercase();
            needles.iter().any(|n| lower.contains(n))
        })
    };
    if let Some(e) = find(&["topic authorization failed", "topic_authorization_failed"]) {
        return Some(format!(
            "authorization denied: the broker refuses this client access to a topic ({e}); grant the principal WRITE and DESCRIBE on it (kafka-acls --add --producer --topic ...)"
        ));
    }
    if let Some(e) = find(&[
        "sasl authentication error",
        "authentication failed",
        "sasl_authentication_failed",
        "invalid username or password",
    ]) {
        return Some(format!(
            "SASL authentication failed: the broker refused the credentials ({e}); check sasl.mechanism and the username and password in sasl.jaas.config (or sasl.username / sasl.password)"
        ));
    }
    if let Some(e) = find(&[
        "unsupported sasl mechanism",
        "sasl mechanism",
        "sasl handshake",
    ]) {
        return Some(format!(
            "SASL handshake failed: the broker does not offer this mechanism ({e}); set sasl.mechanism to one the listener enables"
        ));
    }
    if let Some(e) = find(&["ssl handshake failed", "ssl routines", "ssl_do_handshake"]) {
        let lower = e.to_ascii_lowercase();
        let why = if lower.contains("hostname mismatch")
            || lower.contains("host name mismatch")
            || lower.contains("ip address mismatch")
        {
            "the broker's certificate does not name the host connected to: connect by a name it holds, or (not recommended) set ssl.endpoint.identification.algorithm to an empty value"
        } else if lower.contains("certificate has expired") || lower.contains("expired") {
            "the broker's certificate has expired: renew it on the broker"
        } else if lower.contains("self-signed")
            || lower.contains("self signed")
            || lower.contains("unable to get local issuer")
            || lower.contains("certificate verify failed")
            || lower.contains("could not be verified")
        {
            "the broker's certificate is not signed by a CA this client trusts: set ssl.truststore.location (PEM) or ssl.ca.location to the CA that signed it"
        } else if lower.contains("certificate required")
            || lower.contains("peer did not return a certificate")
            || lower.contains("handshake failure")
            || lower.contains("unknown ca")
            || lower.contains("bad certificate")
        {
            "the broker wants a client certificate it trusts (mutual TLS): set ssl.keystore.location (PEM or PKCS#12) or ssl.keystore.certificate.chain and ssl.keystore.key, signed by a CA the broker trusts"
        } else if lower.contains("wrong version number")
            || lower.contains("packet length too long")
            || lower.contains("record layer failure")
        {
            "the port does not speak TLS: check the port in bootstrap.servers, or set security.protocol=PLAINTEXT (SASL_PLAINTEXT) for a plaintext listener"
        } else {
            "check the truststore (ssl.truststore.location) and, for mutual TLS, the keystore"
        };
        return Some(format!("TLS handshake failed: {why} ({e})"));
    }
    if let Some(e) = find(&[
        "connecting to a ssl listener",
        "in state apiversion_query",
        "connecting to a plaintext",
        "disconnected while requesting apiversion",
        "disconnected while requesting api",
    ]) {
        return Some(format!(
            "the broker closed the connection before answering, as a TLS or SASL listener does to a plaintext client ({e}); set security.protocol (SSL or SASL_SSL) and the TLS settings for this port"
        ));
    }
    if let Some(e) = find(&[
        "failed to resolve",
        "name or service not known",
        "nodename nor servname",
        "temporary failure in name resolution",
    ]) {
        return Some(format!(
            "DNS: a broker's host name cannot be resolved ({e}); check the host names in bootstrap.servers (and the brokers' advertised listeners)"
        ));
    }
    if let Some(e) = find(&[
        "connection refused",
        "connect to ",
        "timed out",
        "no route to host",
        "network is unreachable",
    ]) {
        return Some(format!(
            "TCP: cannot connect to a broker ({e}); check the host and port in bootstrap.servers, that the broker listens there and that no firewall is in the way"
        ));
    }
    events
        .last()
        .map(|e| format!("{e}; check bootstrap.servers and the security settings"))
}

/// True for a reason no retry mends: a TLS or SASL failure, a plaintext client on a TLS port.
fn is_final(reason: &str) -> bool {
    let retried = ["DNS:", "TCP:"].iter().any(|p| reason.starts_with(p))
        || reason.ends_with("; check bootstrap.servers and the security settings");
    !retried
}

/// Records librdkafka's error and log lines (all but debug) of one client.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
}

impl Recorder {
    fn push(&self, line: String) {
        if let Ok(mut events) = self.events.lock() {
            if events.len() < 200 {
                events.push(line);
            }
        }
    }
}

impl rdkafka::producer::ProducerContext for Recorder {
    type DeliveryOpaque = ();

    /// The probe sends nothing.
    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: ()) {}
}

impl ClientContext for Recorder {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if !matches!(level, RDKafkaLogLevel::Debug) {
            self.push(format!("{fac}: {message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.push(format!("{error}: {reason}"));
    }
}

/// Connects with `cfg` (a client's settings, security included), asks for the cluster's
/// metadata (and `topics`' when given) within `timeout`, and says precisely why when that
/// fails. Blocks: call it from `spawn_blocking`. Messages never show one of `secrets`.
///
/// # Errors
/// [`Error::KafkaConnection`] with the reason and what to do; [`Error::Kafka`] when the client
/// cannot even be created (a bad setting).
pub fn check_connection(
    cfg: &ClientConfig,
    topics: &[&str],
    timeout: Duration,
    secrets: &[String],
) -> Result<()> {
    let bootstrap = cfg.get("bootstrap.servers").unwrap_or_default().to_owned();
    let mut cfg = cfg.clone();
    // Asking for a topic's metadata must not create it.
    cfg.set("allow.auto.create.topics", "false");
    // Log lines carry the details (the TLS alert, the host that did not resolve, a
    // disconnect while asking for API versions is logged at INFO).
    cfg.set_log_level(RDKafkaLogLevel::Info);
    let producer: BaseProducer<Recorder> =
        cfg.create_with_context(Recorder::default())
            .map_err(|e| {
                Error::Kafka {
            context:
                "creating a Kafka client (check the security.protocol, ssl.* and sasl.* settings)"
                    .into(),
            source: e,
        }
            })?;
    let events = |producer: &BaseProducer<Recorder>| {
        // Error and log events are queued until the client is polled.
        for _ in 0..10 {
            producer.poll(Duration::from_millis(20));
        }
        producer
            .context()
            .events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    };
    let fail = |reason: String| Error::KafkaConnection {
        bootstrap: bootstrap.clone(),
        reason: super::security::redact(&reason, secrets),
    };
    // Asked again every second: a failure no retry can mend (TLS, SASL, a plaintext client on
    // a TLS port) is reported at once; DNS and TCP failures wait out `timeout`, as another
    // bootstrap server or a starting broker may still answer.
    let deadline = std::time::Instant::now() + timeout;
    let metadata = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match producer
            .client()
            .fetch_metadata(None, left.min(Duration::from_secs(1)))
        {
            Ok(m) => break m,
            Err(e) => {
                let reason = diagnose(&events(&producer));
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match reason {
                    Some(r) if left.is_zero() || is_final(&r) => return Err(fail(r)),
                    None if left.is_zero() => {
                        return Err(fail(format!(
                            "no answer within {} s ({e})",
                            timeout.as_secs()
                        )))
                    }
                    _ => {}
                }
            }
        }
    };
    for topic in topics {
        let t = producer
            .client()
            .fetch_metadata(Some(topic), timeout)
            .map_err(|e| {
                fail(
                    diagnose(&events(&producer))
                        .unwrap_or_else(|| format!("metadata of topic {topic:?}: {e}")),
                )
            })?;
        if let Some(err) = t.topics().first().and_then(|t| t.error()) {
            let code = RDKafkaErrorCode::from(err);
            if code == RDKafkaErrorCode::TopicAuthorizationFailed {
                return Err(Error::KafkaConnection {
                    bootstrap,
                    reason: format!(
                        "authorization denied on topic {topic:?}: grant this client's principal WRITE and DESCRIBE on it (kafka-acls --add --producer --topic {topic})"
                    ),
                });
            }
        }
    }
    drop(metadata);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// librdkafka's own lines (2.12) for each failure, and the reason each must give.
    #[test]
    fn librdkafka_lines_map_to_reasons() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["FAIL: 127.0.0.1:35829/bootstrap: Disconnected: connection reset by peer (after 5ms in state APIVERSION_QUERY)"],
                "as a TLS or SASL listener does to a plaintext client",
            ),
            (&["Local: Host resolution failure: nohost.invalid:9092/bootstrap: Failed to resolve 'nohost.invalid:9092': Name or service not known (after 3ms in state CONNECT)"], "DNS: a broker's host name cannot be resolved"),
            (&["Local: Broker transport failure: 127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection refused (after 0ms in state CONNECT)"], "TCP: cannot connect to a broker"),
            (&["Local: SSL error: ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed (install ca-certificates package) (after 5ms in state SSL_HANDSHAKE)"], "not signed by a CA this client trusts"),
            (&["Local: SSL error: ssl://localhost:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: Hostname mismatch (after 4ms in state SSL_HANDSHAKE)"], "does not name the host connected to"),
            (&["Local: SSL error: ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A00045C:SSL routines::tlsv13 alert certificate required: SSL alert number 116 (after 8ms in state SSL_HANDSHAKE)"], "wants a client certificate"),
            (&["Local: SSL error: ssl://127.0.0.1:9092/bootstrap: SSL handshake failed: error:0A00010B:SSL routines::wrong version number (after 1ms in state SSL_HANDSHAKE)"], "the port does not speak TLS"),
            (&["Local: Broker transport failure: 127.0.0.1:9093/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10 (see api.version.request) (after 2ms in state APIVERSION_QUERY)"], "as a TLS or SASL listener does to a plaintext client"),
            (&["Local: Broker transport failure: connect refused", "Local: Authentication failure: sasl_ssl://b:9096/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 310ms in state AUTH_REQ)"], "SASL authentication failed: the broker refused the credentials"),
            (&["Broker: Topic authorization failed"], "authorization denied"),
            (&["something new"], "something new; check bootstrap.servers"),
        ];
        for (events, needle) in cases {
            let events: Vec<String> = events.iter().map(|s| s.to_string()).collect();
            let got = diagnose(&events).unwrap();
            assert!(got.contains(needle), "{needle:?} not in {got}");
        }
        assert_eq!(diagnose(&[]), None);
        let line = |l: &str| diagnose(&[l.to_owned()]).unwrap();
        assert!(!is_final(&line(
            "Connect to ipv4#127.0.0.1:9 failed: Connection refused"
        )));
        assert!(!is_final(&line("Failed to resolve 'x:9092'")));
        assert!(!is_final(&line("something new")));
        assert!(is_final(&line(
            "SASL authentication error: Authentication failed"
        )));
        assert!(is_final(&line(
            "SSL handshake failed: certificate verify failed"
        )));
    }
}
