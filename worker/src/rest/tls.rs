//! HTTPS for the REST API: `listeners=https://host:port` with the server certificate and key
//! from PEM (`listeners.https.ssl.keystore.*`) and, for mutual TLS, the client CA
//! (`listeners.https.ssl.truststore.*`, `listeners.https.ssl.client.auth`). rustls with ring;
//! handshakes run in their own tasks, so a slow or broken client never holds up the others.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::{Error, Result};

/// Whether and how clients present certificates (`listeners.https.ssl.client.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate asked for.
    None,
    /// Asked for; a client without one is served, one with a bad one refused.
    Requested,
    /// Every client must present a certificate the truststore vouches for.
    Required,
}

/// Where a PEM document comes from: a file, or the configuration itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file path.
    File(String),
    /// The PEM text.
    Inline(String),
}

impl Pem {
    fn bytes(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
            Pem::File(path) => std::fs::read(path).map_err(|e| Error::Rest {
                message: format!("the {what} file {path:?} cannot be read"),
                source: Some(e),
            }),
        }
    }
}

/// The listener's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The certificate chain (leaf first).
    pub certificate_chain: Pem,
    /// The private key (PKCS#8, PKCS#1 or SEC1 PEM).
    pub key: Pem,
    /// CA certificates client certificates are checked against.
    pub truststore: Option<Pem>,
    /// `listeners.https.ssl.client.auth`.
    pub client_auth: ClientAuth,
}

fn tls_error(message: String) -> Error {
    Error::Rest {
        message,
        source: None,
    }
}

impl TlsSettings {
    /// The rustls server configuration, every problem named with its key.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>> {
        let chain_pem = self.certificate_chain.bytes("certificate chain")?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| {
                tls_error(format!(
                    "listeners.https.ssl.keystore: the certificate chain is not valid PEM ({e})"
                ))
            })?;
        if chain.is_empty() {
            return Err(tls_error(
                "listeners.https.ssl.keystore: no certificate found (expected PEM blocks -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        let key_pem = self.key.bytes("private key")?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            tls_error(format!(
                "listeners.https.ssl.keystore: no usable private key ({e}); expected an unencrypted PKCS#8, PKCS#1 or SEC1 PEM key"
            ))
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(format!("TLS setup: {e}")))?;
        let builder = match (self.client_auth, &self.truststore) {
            (ClientAuth::None, _) => builder.with_no_client_auth(),
            (auth, Some(trust)) => {
                let pem = trust.bytes("truststore")?;
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| {
                        tls_error(format!(
                            "listeners.https.ssl.truststore: not valid PEM ({e})"
                        ))
                    })?;
                    roots.add(cert).map_err(|e| {
                        tls_error(format!(
                            "listeners.https.ssl.truststore: a certificate cannot be used as a CA ({e})"
                        ))
                    })?;
                }
                if roots.is_empty() {
                    return Err(tls_error(
                        "listeners.https.ssl.truststore: no CA certificate found".into(),
                    ));
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = if auth == ClientAuth::Requested {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| tls_error(format!("client certificate checks: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            (_, None) => {
                return Err(tls_error(
                    "listeners.https.ssl.client.auth asks for client certificates: set listeners.https.ssl.truststore.location (PEM CA certificates) to check them against".into(),
                ))
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            tls_error(format!(
                "listeners.https.ssl.keystore: the key does not match the certificate or cannot be used ({e})"
            ))
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listener whose connections come out TLS-terminated, for `axum::serve`.
pub(super) struct TlsListener {
    addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub(super) fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let addr = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(64);
        let accept_loop = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::info!(%peer, error = %e, "TLS handshake with a REST client failed");
                        }
                        Err(_) => {
                            tracing::info!(%peer, "a REST client did not finish its TLS handshake in time");
                        }
                    }
                });
            }
        });
        Ok(TlsListener {
            addr,
            ready,
            accept_loop,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept loop never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
