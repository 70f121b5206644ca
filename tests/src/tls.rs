//! The TLS side of the harness's clients: rustls trusting only the CA
//! that signed the server's certificate.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls;

/// A client configuration trusting `ca`, presenting the certificate file
/// `identity` (`….crt`, its key in `….key` beside it) if given.
fn client_config(ca: &Path, identity: Option<&Path>) -> rustls::ClientConfig {
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
    match identity {
        Some(crt) => {
            let certs = CertificateDer::pem_file_iter(crt)
                .expect("certificate file")
                .collect::<Result<Vec<_>, _>>()
                .expect("certificate");
            let key = PrivateKeyDer::from_pem_file(crt.with_extension("key")).expect("key file");
            builder
                .with_client_auth_cert(certs, key)
                .expect("matching key")
        }
        None => builder.with_no_client_auth(),
    }
}

/// A tokio-postgres connector that verifies the server against `ca`.
pub fn connector(ca: &Path) -> MakeRustlsConnect {
    MakeRustlsConnect::new(client_config(ca, None))
}

/// A raw TLS connector for the node transport, as a peer would dial:
/// trusting `ca`, presenting the certificate file `identity` (its key
/// beside it) if given.
pub fn peer_connector(ca: &Path, identity: Option<&Path>) -> tokio_rustls::TlsConnector {
    tokio_rustls::TlsConnector::from(Arc::new(client_config(ca, identity)))
}
