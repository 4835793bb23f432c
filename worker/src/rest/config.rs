//! The REST API's worker keys: `listeners` (`http://` or `https://`), the listener's TLS
//! (`listeners.https.ssl.*`), `rest.advertised.*`, basic auth and `rest.insecure`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use sluice_core::config::Settings;

use super::auth::Credentials;
use super::tls::{ClientAuth, Pem, TlsSettings};
use crate::{Error, Result};

/// Where the REST API listens unless `listeners` says otherwise: loopback only.
pub const DEFAULT_LISTENER: &str = "http://127.0.0.1:8083";

/// The REST API's settings, read from the worker file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// The listener as written (`http://127.0.0.1:8083`).
    pub listener: String,
    /// The address to bind.
    pub addr: SocketAddr,
    /// `rest.insecure=true`: the user accepts an unauthenticated, unencrypted API on a
    /// non-loopback address.
    pub insecure: bool,
    /// `rest.basic.auth.credentials.file`, loaded: every request must carry one of them.
    pub credentials: Option<Credentials>,
    /// HTTPS: the listener's certificate, key and client checks (`listeners=https://...`).
    pub tls: Option<TlsSettings>,
    /// `rest.advertised.host.name`: the host other workers and statuses name this worker by.
    pub advertised_host: Option<String>,
    /// `rest.advertised.port`.
    pub advertised_port: Option<u16>,
}

fn rest_error(message: String) -> Error {
    Error::Rest {
        message,
        source: None,
    }
}

impl RestConfig {
    /// True when the worker settings name a listener (`sluice run` with connector files starts
    /// the REST API only then).
    pub fn is_configured(settings: &Settings) -> bool {
        settings.contains_key("listeners")
    }

    /// Reads `listeners` (one `http://host:port`; default [`DEFAULT_LISTENER`]),
    /// `rest.basic.auth.credentials.file` and `rest.insecure`. A listener that is not a
    /// loopback address is refused unless basic auth is on or `rest.insecure=true`.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        let listener = settings
            .get("listeners")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_LISTENER.to_owned());
        let insecure = match settings.get("rest.insecure").map(|s| s.trim()) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(rest_error(format!(
                    "rest.insecure={other:?}: expected true or false"
                )))
            }
        };
        if listener.contains(',') {
            return Err(rest_error(format!(
                "listeners={listener:?}: Sluice serves one listener; keep one http://host:port"
            )));
        }
        let (https, hostport) = if let Some(rest) = listener.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = listener.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(rest_error(format!(
                "listeners={listener:?}: expected http://host:port or https://host:port, e.g. {DEFAULT_LISTENER}"
            )));
        };
        let hostport = hostport.trim_end_matches('/');
        let (host, port) = hostport.rsplit_once(':').ok_or_else(|| {
            rest_error(format!(
                "listeners={listener:?}: the port is missing; expected http://host:port"
            ))
        })?;
        let port: u16 = port.parse().map_err(|_| {
            rest_error(format!(
                "listeners={listener:?}: {port:?} is not a port number"
            ))
        })?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addr = if host.is_empty() {
            // Kafka Connect's `http://:8083`: every interface.
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            SocketAddr::new(ip, port)
        } else {
            let mut addrs = (host, port).to_socket_addrs().map_err(|e| Error::Rest {
                message: format!("listeners={listener:?}: cannot resolve {host:?}"),
                source: Some(e),
            })?;
            addrs.next().ok_or_else(|| {
                rest_error(format!(
                    "listeners={listener:?}: {host:?} resolves to no address"
                ))
            })?
        };
        let credentials = match settings
            .get("rest.basic.auth.credentials.file")
            .filter(|p| !p.trim().is_empty())
        {
            Some(path) => Some(Credentials::load(std::path::Path::new(path.trim()))?),
            None => None,
        };
        let tls = if https {
            Some(tls_settings(settings)?)
        } else {
            if settings.keys().any(|k| k.starts_with("listeners.https.")) {
                return Err(rest_error(format!(
                    "listeners.https.* is set but listeners={listener:?} is plain HTTP: use https://host:port"
                )));
            }
            None
        };
        let client_certs = tls
            .as_ref()
            .is_some_and(|t| t.client_auth == ClientAuth::Required);
        if !addr.ip().is_loopback() && !insecure && credentials.is_none() && tls.is_none() {
            return Err(rest_error(format!(
                "listeners={listener:?} is not a loopback address and the REST API has neither TLS nor authentication: anyone who reaches it could change connectors. Listen on 127.0.0.1, use https:// with listeners.https.ssl.* (and listeners.https.ssl.client.auth=required or rest.basic.auth.credentials.file), or set rest.insecure=true to accept the risk"
            )));
        }
        if !addr.ip().is_loopback() && !insecure && credentials.is_none() && !client_certs {
            tracing::warn!(%listener, "the REST API is encrypted but anyone who reaches it can change connectors: set rest.basic.auth.credentials.file or listeners.https.ssl.client.auth=required");
        }
        let advertised_host = settings
            .get("rest.advertised.host.name")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let advertised_port = match settings.get("rest.advertised.port").map(|s| s.trim()) {
            None | Some("") => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| {
                rest_error(format!("rest.advertised.port={p:?} is not a port number"))
            })?),
        };
        if let Some(l) = settings.get("rest.advertised.listener").map(|s| s.trim()) {
            let ours = if https { "https" } else { "http" };
            if !l.is_empty() && !l.eq_ignore_ascii_case(ours) {
                return Err(rest_error(format!(
                    "rest.advertised.listener={l:?} does not match listeners={listener:?}: use {ours}"
                )));
            }
        }
        Ok(RestConfig {
            listener,
            addr,
            insecure,
            credentials,
            tls,
            advertised_host,
            advertised_port,
        })
    }

    /// The `host:port` this worker is known by in statuses (`worker_id`): the advertised host
    /// and port when set, else the address the listener is bound to (`bound`).
    pub fn worker_id(&self, bound: SocketAddr) -> String {
        let port = self.advertised_port.unwrap_or(bound.port());
        match &self.advertised_host {
            Some(h) => format!("{h}:{port}"),
            None => SocketAddr::new(bound.ip(), port).to_string(),
        }
    }

    /// The URL clients reach the API at.
    pub fn url(&self, bound: SocketAddr) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.worker_id(bound))
    }
}

/// A PEM source from `{prefix}.location` (a file) or `{prefix}.{inline}` (the text).
fn pem_from(settings: &Settings, location: &str, inline: &str) -> Option<Pem> {
    let get = |k: &str| settings.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    get(inline)
        .map(|t| Pem::Inline(t.to_owned()))
        .or_else(|| get(location).map(|p| Pem::File(p.to_owned())))
}

/// `listeners.https.ssl.*`: PEM only (`ssl.keystore.type=PEM`), as a file holding the chain
/// and the key, or inline.
fn tls_settings(settings: &Settings) -> Result<TlsSettings> {
    const P: &str = "listeners.https.ssl.";
    let get = |k: &str| {
        settings
            .get(&format!("{P}{k}"))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    for (k, what) in [
        ("keystore.type", "keystore"),
        ("truststore.type", "truststore"),
    ] {
        if let Some(t) = get(k) {
            if !t.eq_ignore_ascii_case("PEM") {
                return Err(rest_error(format!(
                    "{P}{k}={t:?}: Sluice reads the {what} as PEM only; convert it (openssl pkcs12 -in store.p12 -nodes > store.pem) and set {P}{k}=PEM"
                )));
            }
        }
    }
    if get("key.password").is_some() || get("keystore.password").is_some() {
        return Err(rest_error(format!(
            "{P}key.password / keystore.password: encrypted keys are not supported; give an unencrypted PEM key (openssl pkey -in key.pem -out plain.pem) in a file only the worker can read"
        )));
    }
    let chain = pem_from(
        settings,
        &format!("{P}keystore.location"),
        &format!("{P}keystore.certificate.chain"),
    )
    .ok_or_else(|| {
        rest_error(format!(
            "listeners=https://... needs a server certificate: set {P}keystore.location (a PEM file with the certificate chain and the private key) or {P}keystore.certificate.chain and {P}keystore.key"
        ))
    })?;
    let key = pem_from(
        settings,
        &format!("{P}keystore.location"),
        &format!("{P}keystore.key"),
    )
    .unwrap_or_else(|| chain.clone());
    let truststore = pem_from(
        settings,
        &format!("{P}truststore.location"),
        &format!("{P}truststore.certificates"),
    );
    let client_auth = match get("client.auth")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("none") => ClientAuth::None,
        Some("requested") => ClientAuth::Requested,
        Some("required") => ClientAuth::Required,
        Some(other) => {
            return Err(rest_error(format!(
                "{P}client.auth={other:?}: expected none, requested or required"
            )))
        }
    };
    let tls = TlsSettings {
        certificate_chain: chain,
        key,
        truststore,
        client_auth,
    };
    // Load it now, so a bad file fails the start with its key named.
    tls.server_config()?;
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<RestConfig> {
        let s: Settings = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RestConfig::from_settings(&s)
    }

    #[test]
    fn loopback_by_default() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.addr, "127.0.0.1:8083".parse().unwrap());
        assert!(!c.insecure);
        let c = cfg(&[("listeners", "http://localhost:9000")]).unwrap();
        assert!(c.addr.ip().is_loopback());
        assert_eq!(c.addr.port(), 9000);
        let c = cfg(&[("listeners", "http://[::1]:9001")]).unwrap();
        assert_eq!(c.addr, "[::1]:9001".parse().unwrap());
    }

    #[test]
    fn a_non_loopback_listener_needs_rest_insecure() {
        for l in [
            "http://0.0.0.0:8083",
            "http://:8083",
            "http://10.1.2.3:8083",
        ] {
            let e = cfg(&[("listeners", l)]).unwrap_err().to_string();
            assert!(e.contains("rest.insecure=true"), "{l}: {e}");
            let c = cfg(&[("listeners", l), ("rest.insecure", "true")]).unwrap();
            assert!(!c.addr.ip().is_loopback());
        }
    }

    #[test]
    fn basic_auth_allows_a_non_loopback_listener() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users");
        std::fs::write(&file, "ops:pw\n").unwrap();
        let c = cfg(&[
            ("listeners", "http://0.0.0.0:8083"),
            ("rest.basic.auth.credentials.file", file.to_str().unwrap()),
        ])
        .unwrap();
        assert!(c.credentials.is_some());
        let missing = dir.path().join("none");
        let e = cfg(&[(
            "rest.basic.auth.credentials.file",
            missing.to_str().unwrap(),
        )])
        .unwrap_err();
        assert!(
            sluice_core::error_chain(&e).contains("cannot be read"),
            "{e}"
        );
    }

    #[test]
    fn bad_listeners_are_explained() {
        for (l, want) in [
            ("https://127.0.0.1:8443", "needs a server certificate"),
            ("http://127.0.0.1", "port is missing"),
            ("http://127.0.0.1:x", "not a port"),
            (
                "127.0.0.1:8083",
                "expected http://host:port or https://host:port",
            ),
            ("http://127.0.0.1:1,http://127.0.0.1:2", "one listener"),
        ] {
            let e = cfg(&[("listeners", l)]).unwrap_err().to_string();
            assert!(e.contains(want), "{l}: {e}");
        }
        let e = cfg(&[("rest.insecure", "yes")]).unwrap_err().to_string();
        assert!(e.contains("expected true or false"), "{e}");
    }
}
