//! TLS for the TLS workloads: a CA and a server certificate for 127.0.0.1 made at start
//! (rcgen; written under `bench/work/tls/` for the server processes), the tokio-rustls
//! acceptor of the native baseline and the connector of the load generator.

use anyhow::Context as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Where the certificate files live while the benchmark runs.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("work")
        .join("tls")
}

/// The server certificate chain (PEM) file.
pub fn cert_path() -> PathBuf {
    dir().join("server.pem")
}

/// The server key (PEM) file.
pub fn key_path() -> PathBuf {
    dir().join("server.key")
}

fn ca_path() -> PathBuf {
    dir().join("ca.pem")
}

/// Makes a fresh CA and a server certificate for 127.0.0.1 and writes them to [`dir`].
pub fn make_certificates() -> anyhow::Result<()> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "wasio-bench CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(Vec::<String>::new())?;
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    leaf.subject_alt_names = vec![SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
    let cert = leaf.signed_by(&key, &issuer)?;
    std::fs::create_dir_all(dir())?;
    std::fs::write(ca_path(), ca_cert.pem())?;
    std::fs::write(cert_path(), cert.pem())?;
    std::fs::write(key_path(), key.serialize_pem())?;
    Ok(())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The native baseline's acceptor, with the certificate from [`make_certificates`].
pub fn acceptor() -> anyhow::Result<TlsAcceptor> {
    let certs = CertificateDer::pem_file_iter(cert_path())?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key_path())?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The load generator's connector, trusting the CA from [`make_certificates`].
pub fn connector() -> anyhow::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_path())? {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name the load generator checks the server's certificate against.
pub fn server_name() -> ServerName<'static> {
    ServerName::IpAddress(Ipv4Addr::LOCALHOST.into())
}

/// The PEM texts the wasio echo server example takes as arguments (a component reads no files).
pub fn pem_args() -> anyhow::Result<[String; 4]> {
    let read = |p: PathBuf| std::fs::read_to_string(&p).with_context(|| p.display().to_string());
    Ok([
        "--tls-cert-pem".to_owned(),
        read(cert_path())?,
        "--tls-key-pem".to_owned(),
        read(key_path())?,
    ])
}
