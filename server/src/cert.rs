//! `bucketdb cert …`: the certificate files TLS needs, without openssl. A
//! cluster's CA (`ca.crt`, `ca.key`) signs each node's certificate
//! (`node.crt`, `node.key`, for the names clients and peers reach it by)
//! and client certificates (`client.<user>.crt`, `.key`). A node's
//! certificate also names the node ids it may speak Raft as, which a
//! client's lacks.
//!
//! The CA's subject is fixed, so its issuer identity is rebuilt from
//! `ca.key` alone when it signs (the key identifier is the key's hash).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bucketdb_consensus::node_cert_name;
use chrono::Datelike;
use clap::Subcommand;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

const CA_NAME: &str = "bucketdb CA";

#[derive(Subcommand, Debug)]
pub enum CertCommand {
    /// Make the cluster's certificate authority: ca.crt and ca.key
    #[command(name = "create-ca")]
    Ca {
        #[arg(long)]
        certs_dir: PathBuf,
        /// Replace an existing CA (every certificate it signed stops working)
        #[arg(long)]
        overwrite: bool,
    },
    /// Make a node's certificate, signed by the CA: node.crt and node.key
    #[command(name = "create-node")]
    Node {
        #[arg(long)]
        certs_dir: PathBuf,
        /// A host name or IP address the node is reached at (repeat for more)
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// The node id the certificate's holder may speak Raft as (repeat
        /// only for a certificate shared by several nodes)
        #[arg(long = "node-id", required = true)]
        node_ids: Vec<u64>,
    },
    /// Make a client certificate for a role, signed by the CA
    #[command(name = "create-client")]
    Client {
        #[arg(long)]
        certs_dir: PathBuf,
        #[arg(long)]
        user: String,
    },
}

fn validity(params: &mut CertificateParams, years: i32) {
    let now = chrono::Utc::now();
    params.not_before = rcgen::date_time_ymd(now.year(), now.month() as u8, now.day() as u8);
    params.not_after = rcgen::date_time_ymd(now.year() + years, now.month() as u8, 1);
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

/// Writes `text` to `path`; private keys readable by the owner only.
fn write(path: &Path, text: &str, private: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

fn ca_issuer(dir: &Path) -> anyhow::Result<Issuer<'static, KeyPair>> {
    let path = dir.join("ca.key");
    let pem = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (make it with `bucketdb cert create-ca`)",
            path.display()
        )
    })?;
    let key = KeyPair::from_pem(&pem).with_context(|| format!("parsing {}", path.display()))?;
    Ok(Issuer::new(ca_params(), key))
}

/// Signs a leaf certificate with `params` and writes `<name>.crt/.key`.
fn issue(dir: &Path, mut params: CertificateParams, name: &str) -> anyhow::Result<()> {
    let issuer = ca_issuer(dir)?;
    validity(&mut params, 5);
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    write(&dir.join(format!("{name}.crt")), &cert.pem(), false)?;
    write(&dir.join(format!("{name}.key")), &key.serialize_pem(), true)
}

pub fn run(command: CertCommand) -> anyhow::Result<()> {
    match command {
        CertCommand::Ca {
            certs_dir,
            overwrite,
        } => {
            std::fs::create_dir_all(&certs_dir)
                .with_context(|| format!("creating {}", certs_dir.display()))?;
            let key_path = certs_dir.join("ca.key");
            anyhow::ensure!(
                overwrite || !key_path.exists(),
                "{} exists; give --overwrite to replace the CA",
                key_path.display()
            );
            let mut params = ca_params();
            validity(&mut params, 10);
            let key = KeyPair::generate()?;
            let cert = params.self_signed(&key)?;
            write(&certs_dir.join("ca.crt"), &cert.pem(), false)?;
            write(&key_path, &key.serialize_pem(), true)
        }
        CertCommand::Node {
            certs_dir,
            hosts,
            node_ids,
        } => {
            // The node ids go in as names too: the node transport admits a
            // peer only as a node its certificate names.
            let names = node_ids.iter().map(|id| node_cert_name(*id));
            let mut params =
                CertificateParams::new(hosts.iter().cloned().chain(names).collect::<Vec<_>>())?;
            params
                .distinguished_name
                .push(DnType::CommonName, hosts[0].as_str());
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            // Nodes are servers to clients and both ends between nodes.
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            issue(&certs_dir, params, "node")
        }
        CertCommand::Client { certs_dir, user } => {
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params
                .distinguished_name
                .push(DnType::CommonName, user.as_str());
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            issue(&certs_dir, params, &format!("client.{user}"))
        }
    }
}
