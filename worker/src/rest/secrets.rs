//! Secrets never appear in REST responses: the literal value of every secret key of a
//! connector is replaced by [`MASK`] in what the API shows (`GET /connectors/{name}/config`,
//! `/connectors/{name}`, `?expand=info`, `/tasks`, validation). Secret keys are the keys
//! declared as passwords (`aws.secret.access.key`, ...), the Kafka client's secret settings under
//! `producer.override.` (`sasl.jaas.config`, `*.password`, `*.secret`, key PEMs), and
//! `object_store.*` options whose name says secret, key, token, password, credential, signature
//! or SAS, and the password keys of a registered converter or transform. A value holding a config provider reference (`${file:...}`, `${env:...}`) is shown as
//! written: it names where the secret is, not the secret.
//!
//! Round trip: a client that GETs a configuration and PUTs (or PATCHes) it back sends the mask;
//! [`unmask`] then keeps the stored value of that key. Sending the mask for a key that has no
//! stored value is refused.

use sluice_core::config::defs::Kind;
use sluice_core::config::Settings;

use crate::registry::current;

/// What a hidden value is shown as.
pub const MASK: &str = "[hidden]";

/// True when the value of connector key `key` is a secret.
pub fn is_secret(key: &str) -> bool {
    if sluice_core::convert::is_secret_converter_key(key) {
        return true;
    }
    if let Some(client) = key.strip_prefix("producer.override.") {
        return sluice_core::kafka::security::is_secret_key(client);
    }
    if let Some(option) = key.strip_prefix("object_store.") {
        let o = option.to_ascii_lowercase();
        return [
            "secret",
            "key",
            "token",
            "password",
            "sas",
            "credential",
            "signature",
        ]
        .iter()
        .any(|w| o.contains(w));
    }
    let registry = current();
    registry.is_registered_secret(key)
        || registry
            .key(key)
            .is_ok_and(|def| def.kind == Kind::Password)
}

/// True when `value` holds a config provider reference.
fn is_reference(value: &str) -> bool {
    value
        .find("${")
        .is_some_and(|i| value[i..].contains(':') && value[i..].contains('}'))
}

/// `value` of `key` as the API shows it.
pub fn shown(key: &str, value: &str) -> String {
    if !value.is_empty() && !is_reference(value) && is_secret(key) {
        MASK.to_owned()
    } else {
        value.to_owned()
    }
}

/// `settings` as the API shows them: literal secrets masked.
pub fn masked(settings: &Settings) -> Settings {
    settings
        .iter()
        .map(|(k, v)| (k.clone(), shown(k, v)))
        .collect()
}

/// Puts the stored values of `current` back where `settings` (a configuration sent by a
/// client) holds the mask for a secret key.
///
/// # Errors
/// One line per masked key with no stored value to keep.
pub fn unmask(settings: &mut Settings, current: Option<&Settings>) -> Result<(), String> {
    let mut problems = Vec::new();
    for (key, value) in settings.iter_mut() {
        if value != MASK || !is_secret(key) {
            continue;
        }
        match current.and_then(|c| c.get(key)) {
            Some(stored) => value.clone_from(stored),
            None => problems.push(format!(
                "{key}: {MASK:?} stands for the stored secret, but this connector has none for {key}; send the secret itself (or a ${{file:...}} / ${{env:...}} reference)"
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn literal_secrets_are_masked_references_and_others_shown() {
        let given = s(&[
            ("aws.secret.access.key", "s3-literal"),
            ("aws.s3.region", "eu-west-1"),
            (
                "producer.override.sasl.jaas.config",
                "x required password=\"p\";",
            ),
            ("producer.override.ssl.key.password", "kp"),
            (
                "producer.override.ssl.key.pem",
                "-----BEGIN PRIVATE KEY-----",
            ),
            ("producer.override.linger.ms", "20"),
            ("producer.override.sasl.password", "${env:PASS}"),
            ("object_store.aws_session_token", "tok"),
            ("topic", "t"),
        ]);
        let shown = masked(&given);
        for k in [
            "aws.secret.access.key",
            "producer.override.sasl.jaas.config",
            "producer.override.ssl.key.password",
            "producer.override.ssl.key.pem",
            "object_store.aws_session_token",
        ] {
            assert_eq!(shown[k], MASK, "{k}");
        }
        for k in [
            "aws.s3.region",
            "producer.override.linger.ms",
            "producer.override.sasl.password",
            "topic",
        ] {
            assert_eq!(shown[k], given[k], "{k}");
        }
    }

    #[test]
    fn the_mask_sent_back_keeps_the_stored_secret() {
        let stored = s(&[("aws.secret.access.key", "s3-literal"), ("topic", "t")]);
        let mut back = masked(&stored);
        back.insert("topic".into(), "t2".into());
        unmask(&mut back, Some(&stored)).unwrap();
        assert_eq!(back["aws.secret.access.key"], "s3-literal");
        assert_eq!(back["topic"], "t2");
        // A mask for a secret that was never stored is refused; a non-secret "[hidden]" is a value.
        let mut new = s(&[("producer.override.sasl.password", MASK), ("topic", MASK)]);
        let err = unmask(&mut new, Some(&stored)).unwrap_err();
        assert!(err.starts_with("producer.override.sasl.password:"), "{err}");
        assert!(!err.contains("topic"), "{err}");
    }
}
