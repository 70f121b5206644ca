//! Mutual TLS between nodes, from the files of `--certs-dir` (made by
//! `bucketdb cert`): `ca.crt` is the cluster's CA, `node.crt`/`node.key`
//! this node's certificate. A node accepts a connection only from a peer
//! presenting a certificate the CA signed, and connects only to peers that
//! present one for the address it dialled; a plaintext or foreign peer
//! fails the TLS handshake, before any frame is read.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, server::WebPkiClientVerifier, RootCertStore};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::ConsensusError;

/// How long a peer may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A byte stream to a peer: plain TCP, or TLS over it.
pub trait Link: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Link for T {}

pub type BoxLink = Box<dyn Link>;

/// This node's side of mutual TLS.
#[derive(Clone)]
pub struct NodeTls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl std::fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeTls")
    }
}

fn fatal(what: String) -> ConsensusError {
    ConsensusError::Fatal(what)
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConsensusError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fatal(format!("reading {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(fatal(format!("{} holds no certificate", path.display())));
    }
    Ok(certs)
}

impl NodeTls {
    /// Loads `ca.crt`, `node.crt` and `node.key` from `dir`.
    pub fn load(dir: &Path) -> Result<NodeTls, ConsensusError> {
        let ca_path = dir.join("ca.crt");
        let mut roots = RootCertStore::empty();
        for cert in certificates(&ca_path)? {
            roots
                .add(cert)
                .map_err(|e| fatal(format!("{}: {e}", ca_path.display())))?;
        }
        let roots = Arc::new(roots);
        let certs = certificates(&dir.join("node.crt"))?;
        let key_path = dir.join("node.key");
        let key = PrivateKeyDer::from_pem_file(&key_path)
            .map_err(|e| fatal(format!("reading {}: {e}", key_path.display())))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| fatal(format!("peer verifier: {e}")))?;
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| fatal(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| fatal(format!("node.crt does not match node.key: {e}")))?;
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fatal(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| fatal(format!("node.crt does not match node.key: {e}")))?;
        Ok(NodeTls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    /// The server side of a peer's connection, once it proved its
    /// certificate.
    pub async fn accept(&self, conn: TcpStream) -> std::io::Result<BoxLink> {
        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(conn))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        Ok(Box::new(tls))
    }

    /// A connection to the peer at `addr` (`host:port`), verified against
    /// the CA and the host.
    pub async fn connect(&self, addr: &str, conn: TcpStream) -> std::io::Result<BoxLink> {
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}"))
        })?;
        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.connector.connect(name, conn))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        Ok(Box::new(tls))
    }
}
