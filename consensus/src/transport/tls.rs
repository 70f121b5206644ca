//! Mutual TLS between nodes, from the files of `--certs-dir` (made by
//! `bucketdb cert`): `ca.crt` is the cluster's CA, `node.crt`/`node.key`
//! this node's certificate. A node accepts a connection only from a peer
//! presenting a certificate the CA signed, and connects only to peers that
//! present one for the address it dialled; a plaintext or foreign peer
//! fails the TLS handshake, before any frame is read.
//!
//! The CA signs SQL clients' certificates too, so being signed by it does
//! not make a peer a node. A node's certificate also names the node ids
//! its holder may act as ([`node_cert_name`]); a caller's hello must claim one
//! of them, and a callee must be the node the caller meant to reach.

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

/// The name a node certificate carries (as a DNS subject alternative name,
/// under the reserved `.invalid` domain that no host is reached by) to say
/// its holder is node `id`.
pub fn node_cert_name(id: u64) -> String {
    format!("node-{id}.bucketdb.invalid")
}

/// Whether `cert` names node `id` (see [`node_cert_name`]). A certificate that
/// does not parse names no node.
fn names_node(cert: &CertificateDer<'_>, id: u64) -> bool {
    let Ok(name) = ServerName::try_from(node_cert_name(id)) else {
        return false;
    };
    webpki::EndEntityCert::try_from(cert)
        .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok())
}

/// The certificate a peer proved it holds in the TLS handshake.
pub struct PeerCertificate(CertificateDer<'static>);

impl PeerCertificate {
    fn of(certs: Option<&[CertificateDer<'static>]>) -> std::io::Result<PeerCertificate> {
        certs
            .and_then(<[_]>::first)
            .map(|c| PeerCertificate(c.clone()))
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no certificate"))
    }

    /// Why the holder may not act as node `id`, if it may not.
    pub fn refuses(&self, id: u64) -> Option<String> {
        (!names_node(&self.0, id)).then(|| {
            format!(
                "the certificate presented does not name node {id} ({}): a client's certificate, or another node's",
                node_cert_name(id)
            )
        })
    }
}

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
    /// Loads `ca.crt`, `node.crt` and `node.key` from `dir`, for node `me`,
    /// which `node.crt` must name.
    pub fn load(dir: &Path, me: u64) -> Result<NodeTls, ConsensusError> {
        let ca_path = dir.join("ca.crt");
        let mut roots = RootCertStore::empty();
        for cert in certificates(&ca_path)? {
            roots
                .add(cert)
                .map_err(|e| fatal(format!("{}: {e}", ca_path.display())))?;
        }
        let roots = Arc::new(roots);
        let certs = certificates(&dir.join("node.crt"))?;
        if !names_node(&certs[0], me) {
            return Err(fatal(format!(
                "{} does not name node {me}: make it with `bucketdb cert create-node --node-id {me}`",
                dir.join("node.crt").display()
            )));
        }
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
    /// certificate; the certificate, to check the node the peer claims to be.
    pub async fn accept(&self, conn: TcpStream) -> std::io::Result<(BoxLink, PeerCertificate)> {
        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(conn))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        let cert = PeerCertificate::of(tls.get_ref().1.peer_certificates())?;
        Ok((Box::new(tls), cert))
    }

    /// A connection to node `target` at `addr` (`host:port`), verified
    /// against the CA, the host, and the node id.
    pub async fn connect(
        &self,
        addr: &str,
        target: u64,
        conn: TcpStream,
    ) -> std::io::Result<BoxLink> {
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}"))
        })?;
        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.connector.connect(name, conn))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        let cert = PeerCertificate::of(tls.get_ref().1.peer_certificates())?;
        if let Some(why) = cert.refuses(target) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                why,
            ));
        }
        Ok(Box::new(tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(names: &[String]) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(names.to_vec()).unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn a_certificate_names_the_node_ids_it_was_made_for_and_no_other() {
        let node = certificate(&["127.0.0.1".into(), node_cert_name(2), node_cert_name(7)]);
        assert!(names_node(&node, 2));
        assert!(names_node(&node, 7));
        for other in [1, 3, 22, 27, 70] {
            assert!(!names_node(&node, other), "{other}");
        }
        // A client's certificate names no host and no node.
        let client = certificate(&[]);
        assert!(!names_node(&client, 1));
        let refusal = PeerCertificate(client).refuses(1).unwrap();
        assert!(refusal.contains("does not name node 1"), "{refusal}");
        // Neither does one for a host alone, or bytes that are no certificate.
        assert!(!names_node(&certificate(&["node-1.example".into()]), 1));
        assert!(!names_node(
            &CertificateDer::from(vec![0x30, 0x03, 1, 2, 3]),
            1
        ));
    }
}
