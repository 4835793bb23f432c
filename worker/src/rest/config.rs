//! The REST API's worker keys: `listeners` and `rest.insecure`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use sluice_core::config::Settings;

use super::auth::Credentials;
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
        if listener.starts_with("https://") {
            return Err(rest_error(format!(
                "listeners={listener:?}: HTTPS is not supported yet; use http:// on a loopback address and put a TLS-terminating proxy in front"
            )));
        }
        let hostport = listener.strip_prefix("http://").ok_or_else(|| {
            rest_error(format!(
                "listeners={listener:?}: expected http://host:port, e.g. {DEFAULT_LISTENER}"
            ))
        })?;
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
        if !addr.ip().is_loopback() && !insecure && credentials.is_none() {
            return Err(rest_error(format!(
                "listeners={listener:?} is not a loopback address and the REST API has no authentication: anyone who reaches it could change connectors. Listen on 127.0.0.1 (behind an authenticating proxy), set rest.basic.auth.credentials.file, or set rest.insecure=true to accept the risk"
            )));
        }
        Ok(RestConfig {
            listener,
            addr,
            insecure,
            credentials,
        })
    }
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
            ("https://127.0.0.1:8443", "HTTPS is not supported"),
            ("http://127.0.0.1", "port is missing"),
            ("http://127.0.0.1:x", "not a port"),
            ("127.0.0.1:8083", "expected http://host:port"),
            ("http://127.0.0.1:1,http://127.0.0.1:2", "one listener"),
        ] {
            let e = cfg(&[("listeners", l)]).unwrap_err().to_string();
            assert!(e.contains(want), "{l}: {e}");
        }
        let e = cfg(&[("rest.insecure", "yes")]).unwrap_err().to_string();
        assert!(e.contains("expected true or false"), "{e}");
    }
}
