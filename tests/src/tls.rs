//! The TLS side of the harness's tokio-postgres clients: rustls trusting
//! only the CA that signed the server's certificate.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls;

/// A connector that verifies the server against the PEM CA at `ca`.
pub fn connector(ca: &Path) -> MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots.add(cert.expect("CA certificate")).expect("usable CA");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    MakeRustlsConnect::new(config)
}

/// A raw TLS connector for the node transport, as a peer would dial:
/// trusting `ca`, presenting `node.crt`/`node.key` of `identity` if given.
pub fn peer_connector(ca: &Path, identity: Option<&Path>) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::PrivateKeyDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots.add(cert.expect("CA certificate")).expect("usable CA");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots);
    let config = match identity {
        Some(dir) => {
            let certs = CertificateDer::pem_file_iter(dir.join("node.crt"))
                .expect("node.crt")
                .collect::<Result<Vec<_>, _>>()
                .expect("node certificate");
            let key = PrivateKeyDer::from_pem_file(dir.join("node.key")).expect("node.key");
            builder
                .with_client_auth_cert(certs, key)
                .expect("matching key")
        }
        None => builder.with_no_client_auth(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}
