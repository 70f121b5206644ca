//! TLS on the SQL port: the node's certificate and key from `--certs-dir`
//! (`node.crt`, `node.key`, PEM), served with rustls on ring.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// The acceptor for the certificate and key in `dir`.
pub fn acceptor(dir: &Path) -> anyhow::Result<TlsAcceptor> {
    let cert_path = dir.join("node.crt");
    let key_path = dir.join("node.key");
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading {}", cert_path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{} holds no certificate",
        cert_path.display()
    );
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the node certificate does not match its key")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
