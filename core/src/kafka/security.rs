//! Kafka Connect's client security keys, translated to librdkafka's: one pure function,
//! [`client_settings`], from the worker file's `security.protocol`, `ssl.*` and `sasl.*` to the
//! settings every Kafka client of the worker gets (producers, the offsets topic's consumer and
//! admin client, the cluster id probe).
//!
//! Connect's names are translated where librdkafka reads the same material under another name
//! (`ssl.truststore.location` of type PEM is `ssl.ca.location`, `sasl.mechanism` is
//! `sasl.mechanisms`, `sasl.jaas.config` becomes `sasl.username` / `sasl.password`, ...);
//! librdkafka's own names pass through as written. What librdkafka cannot read (a JKS store, a
//! PKCS#12 truststore, Kerberos) is refused with the command that converts it.

use super::super::config::Settings;

/// The accepted `security.protocol` values.
pub const SECURITY_PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// The SASL mechanisms this build supports (no Kerberos: GSSAPI is not built in).
pub const SASL_MECHANISMS: [&str; 4] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/// Why OAUTHBEARER with an OIDC token endpoint is refused.
const OIDC_MISSING: &str = "sasl.oauthbearer.token.endpoint.url: OAUTHBEARER with an OIDC token endpoint (Kafka's OAuthBearerLoginModule) is not built into Sluice (librdkafka fetches the tokens with libcurl, which is not linked); use SCRAM, PLAIN or mutual TLS";

/// Keys whose values are secrets: never logged, never shown in an error.
pub const SECRET_KEYS: [&str; 9] = [
    "sasl.jaas.config",
    "sasl.password",
    "sasl.oauthbearer.client.secret",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.truststore.password",
    "ssl.key.pem",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
];

/// Kafka Connect (Java) keys with no librdkafka equivalent: JVM tuning that has nothing to
/// configure here. Accepted so Connect worker files load, and reported as ignored.
const JAVA_ONLY: [&str; 8] = [
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
    "sasl.login.callback.handler.class",
    "sasl.client.callback.handler.class",
];

/// The librdkafka client settings of a worker file.
#[derive(Clone, Default, PartialEq)]
pub struct ClientSecurity {
    /// librdkafka settings, by librdkafka's names.
    pub settings: Settings,
    /// The secret values among them (to redact from any message).
    pub secrets: Vec<String>,
    /// Connect keys accepted but with nothing to do (Java-only tuning), one line each.
    pub ignored: Vec<String>,
}

impl std::fmt::Debug for ClientSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Settings = self
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), redact_value(k, v)))
            .collect();
        f.debug_struct("ClientSecurity")
            .field("settings", &shown)
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("ignored", &self.ignored)
            .finish()
    }
}

/// True when the value of librdkafka or Connect key `key` is a secret.
pub fn is_secret_key(key: &str) -> bool {
    let key = key
        .strip_prefix("producer.override.")
        .or_else(|| key.strip_prefix("producer."))
        .or_else(|| key.strip_prefix("kafka."))
        .unwrap_or(key);
    SECRET_KEYS.contains(&key) || key.ends_with(".password") || key.ends_with(".secret")
}

/// `value`, or `[hidden]` when `key` holds a secret.
pub fn redact_value(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        "[hidden]".into()
    } else {
        value.to_owned()
    }
}

/// `text` with every one of `secrets` (4 characters or longer) replaced by `[hidden]`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| s.len() >= 4).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for s in sorted {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[hidden]");
        }
    }
    out
}

/// The store type of `ssl.keystore.*` / `ssl.truststore.*`: the `.type` key, else guessed from
/// the file name (`.jks` JKS, `.p12` / `.pfx` PKCS12, anything else PEM).
fn store_type(settings: &Settings, store: &str) -> String {
    if let Some(t) = settings.get(&format!("ssl.{store}.type")) {
        return t.trim().to_ascii_uppercase();
    }
    let location = settings
        .get(&format!("ssl.{store}.location"))
        .map(|l| l.to_ascii_lowercase())
        .unwrap_or_default();
    if location.ends_with(".jks") {
        "JKS".into()
    } else if location.ends_with(".p12") || location.ends_with(".pfx") {
        "PKCS12".into()
    } else {
        "PEM".into()
    }
}

/// One JAAS login module line: `<class> <flag> key="value" ...;`.
#[derive(Debug, PartialEq)]
struct Jaas {
    module: String,
    options: Vec<(String, String)>,
}

/// Parses `sasl.jaas.config`. The message never quotes the value (it holds a password).
fn parse_jaas(text: &str) -> Result<Jaas, String> {
    let mut chars = text.trim().chars().peekable();
    let word = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut w = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '=' || c == ';' {
                break;
            }
            w.push(c);
            chars.next();
        }
        w
    };
    let module = word(&mut chars);
    let flag = word(&mut chars);
    if module.is_empty()
        || !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str())
    {
        return Err("expected `<LoginModule class> required key=\"value\" ...;`".into());
    }
    let mut options = Vec::new();
    loop {
        let key = word(&mut chars);
        if key.is_empty() {
            match chars.next() {
                Some(';') | None => break,
                Some(_) => {
                    return Err("expected an option `key=\"value\"` or the closing `;`".into())
                }
            }
        }
        if chars.next() != Some('=') {
            return Err(format!("option {key}: expected `{key}=\"value\"`"));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(format!("option {key}: unterminated quoted value")),
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("option {key}: unterminated quoted value")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == ';' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        options.push((key, value));
    }
    if chars.any(|c| !c.is_whitespace()) {
        return Err("text after the closing `;`: give one login module".into());
    }
    Ok(Jaas { module, options })
}

/// Translates the worker's security keys (`security.protocol`, `ssl.*`, `sasl.*`, as Kafka
/// Connect or librdkafka names them) to librdkafka settings. Other keys of `settings` are not
/// looked at. Every problem is returned, one line each, naming its key and never a secret.
pub fn client_settings(settings: &Settings) -> Result<ClientSecurity, Vec<String>> {
    let mut out = ClientSecurity::default();
    let mut problems = Vec::new();
    let set = |out: &mut ClientSecurity, k: &str, v: &str| {
        if is_secret_key(k) {
            out.secrets.push(v.to_owned());
        }
        out.settings.insert(k.to_owned(), v.to_owned());
    };
    let get = |k: &str| settings.get(k).map(String::as_str);
    let protocol = get("security.protocol").map(|p| p.trim().to_ascii_uppercase());
    if let Some(p) = &protocol {
        if SECURITY_PROTOCOLS.contains(&p.as_str()) {
            set(&mut out, "security.protocol", p);
        } else {
            problems.push(format!(
                "security.protocol: {p:?} is not valid; expected one of {}",
                SECURITY_PROTOCOLS.join(", ")
            ));
        }
    }
    let uses_sasl = protocol.as_deref().is_some_and(|p| p.starts_with("SASL_"));

    // Truststore: the CA certificates the broker's certificate must chain to.
    let truststore = store_type(settings, "truststore");
    if let Some(location) = get("ssl.truststore.location") {
        match truststore.as_str() {
            "PEM" => set(&mut out, "ssl.ca.location", location),
            "PKCS12" => problems.push(format!(
                "ssl.truststore.location: librdkafka reads no PKCS#12 truststore; convert it to PEM (openssl pkcs12 -in {location} -nokeys -out ca.pem) and set ssl.truststore.type=PEM"
            )),
            other => problems.push(format!(
                "ssl.truststore.location: a {other} truststore cannot be read; export its CA certificates as PEM (keytool -exportcert -rfc -alias <alias> -keystore {location} -file ca.pem) and set ssl.truststore.type=PEM"
            )),
        }
    }
    if let Some(pem) = get("ssl.truststore.certificates") {
        set(&mut out, "ssl.ca.pem", pem);
    }
    if get("ssl.truststore.type").is_some()
        && !["PEM", "PKCS12", "JKS"].contains(&truststore.as_str())
    {
        problems.push(format!(
            "ssl.truststore.type: {truststore:?} is not valid; expected PEM (PKCS12 and JKS must be converted to PEM)"
        ));
    }

    // Keystore: the client's own certificate and key (mutual TLS).
    let keystore = store_type(settings, "keystore");
    if let Some(location) = get("ssl.keystore.location") {
        match keystore.as_str() {
            // A PEM file with the certificate chain and the key: OpenSSL reads each from it.
            "PEM" => {
                set(&mut out, "ssl.certificate.location", location);
                set(&mut out, "ssl.key.location", location);
            }
            "PKCS12" => {
                set(&mut out, "ssl.keystore.location", location);
                if let Some(p) = get("ssl.keystore.password") {
                    set(&mut out, "ssl.keystore.password", p);
                }
            }
            other => problems.push(format!(
                "ssl.keystore.location: a {other} keystore cannot be read; convert it to PKCS#12 (keytool -importkeystore -srckeystore {location} -destkeystore client.p12 -deststoretype PKCS12) and set ssl.keystore.type=PKCS12"
            )),
        }
    }
    if let Some(chain) = get("ssl.keystore.certificate.chain") {
        set(&mut out, "ssl.certificate.pem", chain);
    }
    if let Some(key) = get("ssl.keystore.key") {
        set(&mut out, "ssl.key.pem", key);
    }
    if get("ssl.keystore.type").is_some() && !["PEM", "PKCS12", "JKS"].contains(&keystore.as_str())
    {
        problems.push(format!(
            "ssl.keystore.type: {keystore:?} is not valid; expected PEM or PKCS12"
        ));
    }

    // Host name verification: Connect's "" turns it off, as librdkafka's "none".
    if let Some(alg) = get("ssl.endpoint.identification.algorithm") {
        match alg.trim().to_ascii_lowercase().as_str() {
            "" | "none" => set(&mut out, "ssl.endpoint.identification.algorithm", "none"),
            "https" => set(&mut out, "ssl.endpoint.identification.algorithm", "https"),
            _ => problems.push(format!(
                "ssl.endpoint.identification.algorithm: {alg:?} is not valid; expected https (check the broker's host name, the default) or an empty value (do not)"
            )),
        }
    }

    // SASL: the mechanism and its credentials.
    let mechanism = get("sasl.mechanism")
        .or_else(|| get("sasl.mechanisms"))
        .map(|m| m.trim().to_ascii_uppercase());
    if let Some(m) = &mechanism {
        if SASL_MECHANISMS.contains(&m.as_str()) {
            set(&mut out, "sasl.mechanisms", m);
        } else if m == "GSSAPI" {
            problems.push("sasl.mechanism: GSSAPI (Kerberos) is not built into Sluice; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER".into());
        } else {
            problems.push(format!(
                "sasl.mechanism: {m:?} is not valid; expected one of {}",
                SASL_MECHANISMS.join(", ")
            ));
        }
    }
    if let Some(jaas) = get("sasl.jaas.config") {
        match parse_jaas(jaas) {
            Err(e) => problems.push(format!("sasl.jaas.config: {e}")),
            Ok(j) => {
                let class = j.module.rsplit('.').next().unwrap_or_default().to_owned();
                let option = |name: &str| {
                    j.options
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str())
                };
                let expected = match mechanism.as_deref().unwrap_or("GSSAPI") {
                    "PLAIN" => "PlainLoginModule",
                    "SCRAM-SHA-256" | "SCRAM-SHA-512" => "ScramLoginModule",
                    "OAUTHBEARER" => "OAuthBearerLoginModule",
                    _ => "",
                };
                if mechanism.is_none() {
                    problems.push("sasl.mechanism: required with sasl.jaas.config (Kafka's default, GSSAPI, is not built in); set PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER".into());
                } else if !expected.is_empty() && class != expected {
                    problems.push(format!(
                        "sasl.jaas.config: the login module is {class}, but sasl.mechanism={} needs {expected}",
                        mechanism.as_deref().unwrap_or_default()
                    ));
                } else if class == "OAuthBearerLoginModule" {
                    problems.push(OIDC_MISSING.into());
                } else if !expected.is_empty() {
                    match (option("username"), option("password")) {
                        (Some(u), Some(p)) => {
                            set(&mut out, "sasl.username", u);
                            set(&mut out, "sasl.password", p);
                        }
                        _ => problems.push(format!(
                            "sasl.jaas.config: {class} needs username=\"...\" and password=\"...\""
                        )),
                    }
                }
            }
        }
    }
    if get("sasl.oauthbearer.token.endpoint.url").is_some()
        || get("sasl.oauthbearer.method").is_some_and(|m| m.eq_ignore_ascii_case("oidc"))
    {
        problems.push(OIDC_MISSING.into());
    }
    if uses_sasl && mechanism.is_none() {
        problems.push(format!(
            "sasl.mechanism: required with security.protocol={}; one of {}",
            protocol.as_deref().unwrap_or_default(),
            SASL_MECHANISMS.join(", ")
        ));
    }

    // Everything else under ssl. / sasl.: librdkafka's own names, as written (librdkafka
    // rejects the ones it does not know when the client is created).
    const TRANSLATED: [&str; 15] = [
        "ssl.truststore.location",
        "ssl.truststore.type",
        "ssl.truststore.certificates",
        "ssl.truststore.password",
        "ssl.keystore.location",
        "ssl.keystore.type",
        "ssl.keystore.password",
        "ssl.keystore.certificate.chain",
        "ssl.keystore.key",
        "ssl.endpoint.identification.algorithm",
        "sasl.mechanism",
        "sasl.mechanisms",
        "sasl.jaas.config",
        "sasl.oauthbearer.token.endpoint.url",
        "security.protocol",
    ];
    for (k, v) in settings {
        if !(k.starts_with("ssl.") || k.starts_with("sasl.")) || TRANSLATED.contains(&k.as_str()) {
            continue;
        }
        if JAVA_ONLY.contains(&k.as_str()) {
            out.ignored.push(format!(
                "{k}: a Java client setting with no librdkafka equivalent; ignored"
            ));
        } else if k == "sasl.kerberos.service.name" || k.starts_with("sasl.kerberos.") {
            problems.push(format!(
                "{k}: Kerberos (GSSAPI) is not built into Sluice; use PLAIN, SCRAM or OAUTHBEARER"
            ));
        } else {
            set(&mut out, k, v);
        }
    }
    if get("ssl.keystore.password").is_some() && keystore == "PEM" {
        out.secrets.push(settings["ssl.keystore.password"].clone());
        out.ignored.push("ssl.keystore.password: a PEM keystore has no store password (an encrypted key's is ssl.key.password); ignored".into());
    }
    if let Some(p) = get("ssl.truststore.password") {
        out.secrets.push(p.to_owned());
        out.ignored
            .push("ssl.truststore.password: a PEM truststore has no password; ignored".into());
    }
    // OpenSSL is built into Sluice, so its default CA folder is not the system's: without a
    // CA given, librdkafka looks for the system's CA bundle in the usual places.
    let tls = protocol.as_deref().is_some_and(|p| p.ends_with("SSL"));
    let has_ca = ["ssl.ca.location", "ssl.ca.pem", "ssl.ca.certificate.stores"]
        .iter()
        .any(|k| out.settings.contains_key(*k));
    if tls && !has_ca {
        set(&mut out, "ssl.ca.location", "probe");
    }
    out.secrets.sort();
    out.secrets.dedup();
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
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

    const PLAIN_JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cr\"et";"#;
    const SCRAM_JAAS: &str = "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=bob\n  password=\"hunter22\";";

    /// A named input and the librdkafka settings it must become.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static [(&'static str, &'static str)],
    );

    /// Each form a user writes, and the exact librdkafka settings it becomes.
    #[test]
    fn every_form_translates_to_librdkafka_settings() {
        let cases: &[Case] = &[
            ("nothing: plaintext", &[("bootstrap.servers", "b:9092")], &[]),
            (
                "TLS with a PEM truststore file (Connect)",
                &[
                    ("security.protocol", "SSL"),
                    ("ssl.truststore.type", "PEM"),
                    ("ssl.truststore.location", "/etc/ca.pem"),
                ],
                &[("security.protocol", "SSL"), ("ssl.ca.location", "/etc/ca.pem")],
            ),
            (
                "truststore type guessed from the file name",
                &[("security.protocol", "ssl"), ("ssl.truststore.location", "/etc/ca.crt")],
                &[("security.protocol", "SSL"), ("ssl.ca.location", "/etc/ca.crt")],
            ),
            (
                "inline PEM truststore and keystore (Connect)",
                &[
                    ("security.protocol", "SSL"),
                    ("ssl.truststore.type", "PEM"),
                    ("ssl.truststore.certificates", "-----BEGIN CERTIFICATE-----\nCA"),
                    ("ssl.keystore.type", "PEM"),
                    ("ssl.keystore.certificate.chain", "-----BEGIN CERTIFICATE-----\nME"),
                    ("ssl.keystore.key", "-----BEGIN PRIVATE KEY-----\nK"),
                ],
                &[
                    ("security.protocol", "SSL"),
                    ("ssl.ca.pem", "-----BEGIN CERTIFICATE-----\nCA"),
                    ("ssl.certificate.pem", "-----BEGIN CERTIFICATE-----\nME"),
                    ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----\nK"),
                ],
            ),
            (
                "PEM keystore file: certificate chain and key in one file",
                &[
                    ("security.protocol", "SSL"),
                    ("ssl.keystore.type", "PEM"),
                    ("ssl.keystore.location", "/etc/me.pem"),
                    ("ssl.key.password", "keypass"),
                ],
                &[
                    ("security.protocol", "SSL"),
                    ("ssl.certificate.location", "/etc/me.pem"),
                    ("ssl.key.location", "/etc/me.pem"),
                    ("ssl.key.password", "keypass"),
                    ("ssl.ca.location", "probe"),
                ],
            ),
            (
                "PKCS#12 keystore with its password",
                &[
                    ("security.protocol", "SSL"),
                    ("ssl.keystore.location", "/etc/me.p12"),
                    ("ssl.keystore.password", "storepass"),
                    ("ssl.truststore.location", "/etc/ca.pem"),
                    ("ssl.truststore.password", "ignoredpass"),
                ],
                &[
                    ("security.protocol", "SSL"),
                    ("ssl.keystore.location", "/etc/me.p12"),
                    ("ssl.keystore.password", "storepass"),
                    ("ssl.ca.location", "/etc/ca.pem"),
                ],
            ),
            (
                "Connect's empty endpoint identification turns host name checks off; no CA given: the system's",
                &[("security.protocol", "SSL"), ("ssl.endpoint.identification.algorithm", "")],
                &[
                    ("security.protocol", "SSL"),
                    ("ssl.endpoint.identification.algorithm", "none"),
                    ("ssl.ca.location", "probe"),
                ],
            ),
            (
                "librdkafka's own names pass through",
                &[
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", "/ca.pem"),
                    ("ssl.certificate.pem", "C"),
                    ("ssl.key.pem", "K"),
                    ("sasl.mechanisms", "SCRAM-SHA-512"),
                    ("sasl.username", "u"),
                    ("sasl.password", "p"),
                ],
                &[
                    ("security.protocol", "SASL_SSL"),
                    ("ssl.ca.location", "/ca.pem"),
                    ("ssl.certificate.pem", "C"),
                    ("ssl.key.pem", "K"),
                    ("sasl.mechanisms", "SCRAM-SHA-512"),
                    ("sasl.username", "u"),
                    ("sasl.password", "p"),
                ],
            ),
            (
                "SASL PLAIN through a JAAS line (Confluent Cloud)",
                &[
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "PLAIN"),
                    ("sasl.jaas.config", PLAIN_JAAS),
                ],
                &[
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanisms", "PLAIN"),
                    ("sasl.username", "alice"),
                    ("sasl.password", "s3cr\"et"),
                    ("ssl.ca.location", "probe"),
                ],
            ),
            (
                "SASL SCRAM through a JAAS line over several lines, unquoted user (MSK)",
                &[
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "SCRAM-SHA-512"),
                    ("sasl.jaas.config", SCRAM_JAAS),
                ],
                &[
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanisms", "SCRAM-SHA-512"),
                    ("sasl.username", "bob"),
                    ("sasl.password", "hunter22"),
                    ("ssl.ca.location", "probe"),
                ],
            ),
        ];
        for (name, input, expected) in cases {
            let got = client_settings(&s(input)).unwrap_or_else(|p| panic!("{name}: {p:?}"));
            assert_eq!(got.settings, s(expected), "{name}");
        }
    }

    /// What cannot be read is refused with the key named and what to do; no secret is quoted.
    #[test]
    fn unreadable_forms_are_refused_with_what_to_do() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("security.protocol", "TLS")], "security.protocol: \"TLS\" is not valid"),
            (&[("ssl.truststore.location", "/x/trust.jks")], "keytool -exportcert"),
            (&[("ssl.truststore.type", "PKCS12"), ("ssl.truststore.location", "/t.p12")], "openssl pkcs12 -in /t.p12 -nokeys"),
            (&[("ssl.keystore.type", "JKS"), ("ssl.keystore.location", "/k.jks")], "deststoretype PKCS12"),
            (&[("ssl.endpoint.identification.algorithm", "ldap")], "ssl.endpoint.identification.algorithm"),
            (&[("security.protocol", "SASL_SSL")], "sasl.mechanism: required with security.protocol=SASL_SSL"),
            (&[("sasl.mechanism", "GSSAPI")], "GSSAPI (Kerberos) is not built"),
            (&[("sasl.kerberos.service.name", "kafka")], "Kerberos"),
            (&[("sasl.mechanism", "PLAIN"), ("sasl.jaas.config", SCRAM_JAAS)], "login module is ScramLoginModule, but sasl.mechanism=PLAIN needs PlainLoginModule"),
            (&[("sasl.mechanism", "PLAIN"), ("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";")], "needs username=\"...\" and password"),
            (&[("sasl.mechanism", "PLAIN"), ("sasl.jaas.config", "PlainLoginModule username=\"u\" password=\"pw123456\";")], "expected `<LoginModule class> required"),
            (&[("sasl.mechanism", "PLAIN"), ("sasl.jaas.config", "org.x.PlainLoginModule required password=\"pw123456;")], "unterminated quoted value"),
            (&[("sasl.jaas.config", PLAIN_JAAS)], "sasl.mechanism: required with sasl.jaas.config"),
            (
                &[
                    ("sasl.mechanism", "OAUTHBEARER"),
                    ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
                    ("sasl.jaas.config", r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="app" clientSecret="pw123456";"#),
                ],
                "OIDC token endpoint (Kafka's OAuthBearerLoginModule) is not built into Sluice",
            ),
        ];
        for (input, needle) in cases {
            let problems = client_settings(&s(input)).expect_err(needle).join("\n");
            assert!(problems.contains(needle), "{needle:?} not in {problems}");
            for secret in ["s3cr", "hunter22", "pw123456"] {
                assert!(!problems.contains(secret), "{problems}");
            }
        }
    }

    #[test]
    fn secrets_are_collected_and_hidden_from_debug() {
        let got = client_settings(&s(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", PLAIN_JAAS),
            ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----\nKEYDATA"),
            ("ssl.truststore.password", "trustpass"),
            ("ssl.protocol", "TLSv1.3"),
        ]))
        .unwrap();
        for secret in [
            "s3cr\"et",
            "trustpass",
            "-----BEGIN PRIVATE KEY-----\nKEYDATA",
        ] {
            assert!(
                got.secrets.iter().any(|s| s == secret),
                "{secret} not collected"
            );
        }
        let debug = format!("{got:?}");
        for leak in ["s3cr", "KEYDATA", "trustpass"] {
            assert!(!debug.contains(leak), "{debug}");
        }
        assert!(debug.contains("alice"), "non-secrets stay visible: {debug}");
        assert_eq!(
            redact("auth failed for alice with s3cr\"et", &got.secrets),
            "auth failed for alice with [hidden]"
        );
        assert!(
            got.ignored.iter().any(|l| l.starts_with("ssl.protocol:")),
            "{:?}",
            got.ignored
        );
    }

    #[test]
    fn jaas_parsing() {
        let j = parse_jaas(PLAIN_JAAS).unwrap();
        assert_eq!(
            j.module,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        assert_eq!(
            j.options,
            vec![
                ("username".into(), "alice".into()),
                ("password".into(), "s3cr\"et".into())
            ]
        );
        let j = parse_jaas("a.B optional ;").unwrap();
        assert!(j.options.is_empty());
        assert!(parse_jaas("a.B required x=1; trailing").is_err());
        assert!(parse_jaas("a.B required x").is_err());
    }
}
