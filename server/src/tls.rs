//! TLS on the SQL port: the node's certificate and key from `--certs-dir`
//! (`node.crt`, `node.key`, PEM), served with rustls on ring; and the
//! client side a joining node uses, trusting only the cluster's `ca.crt`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates in the PEM file at `path` (at least one).
fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading {}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
    Ok(certs)
}

/// A SQL client connector that verifies the server against `ca.crt` in
/// `dir` (and its name against the certificate's hosts).
pub fn connector(dir: &Path) -> anyhow::Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let ca_path = dir.join("ca.crt");
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(&ca_path)? {
        roots
            .add(cert)
            .with_context(|| format!("{} is not a usable CA", ca_path.display()))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The acceptor for the certificate and key in `dir`.
pub fn acceptor(dir: &Path) -> anyhow::Result<TlsAcceptor> {
    let cert_path = dir.join("node.crt");
    let key_path = dir.join("node.key");
    let certs = certificates(&cert_path)?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the node certificate does not match its key")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
