//! Test certificates made at test time with rcgen (none are downloaded or checked in): a CA, a
//! server certificate for `localhost`, `127.0.0.1` and `::1`, an expired server certificate, a
//! client certificate, and an unrelated CA. Each is also written to a temporary directory for
//! peers that read files (openssl, CPython).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType, date_time_ymd,
};
use tempfile::TempDir;

/// PEM texts and their files.
pub struct Pki {
    dir: TempDir,
    /// The CA that signed the server and client certificates.
    pub ca: String,
    /// Server certificate (localhost, 127.0.0.1, ::1) and key.
    pub server_cert: String,
    /// The server certificate's key.
    pub server_key: String,
    /// An expired server certificate (2000-2001) for the same names, and its key.
    pub expired_cert: String,
    /// The expired certificate's key.
    pub expired_key: String,
    /// A client certificate (CN wasio test client) and key.
    pub client_cert: String,
    /// The client certificate's key.
    pub client_key: String,
    /// A CA that signed nothing here.
    pub other_ca: String,
}

fn leaf(names: bool, cn: &str) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    if names {
        params.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into()?),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ];
    }
    Ok(params)
}

fn ca(cn: &str) -> anyhow::Result<(String, Issuer<'static, KeyPair>)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

impl Pki {
    /// Makes every certificate and writes the files.
    pub fn new() -> anyhow::Result<Self> {
        let (ca_pem, issuer) = ca("wasio test CA")?;
        let (other_ca, _) = ca("wasio other CA")?;
        let server_key = KeyPair::generate()?;
        let server_cert = leaf(true, "localhost")?.signed_by(&server_key, &issuer)?;
        let expired_key = KeyPair::generate()?;
        let mut expired = leaf(true, "localhost")?;
        expired.not_before = date_time_ymd(2000, 1, 1);
        expired.not_after = date_time_ymd(2001, 1, 1);
        let expired_cert = expired.signed_by(&expired_key, &issuer)?;
        let client_key = KeyPair::generate()?;
        let client_cert = leaf(false, "wasio test client")?.signed_by(&client_key, &issuer)?;
        let pki = Self {
            dir: tempfile::tempdir()?,
            ca: ca_pem,
            server_cert: server_cert.pem(),
            server_key: server_key.serialize_pem(),
            expired_cert: expired_cert.pem(),
            expired_key: expired_key.serialize_pem(),
            client_cert: client_cert.pem(),
            client_key: client_key.serialize_pem(),
            other_ca,
        };
        for (name, text) in [
            ("ca.pem", &pki.ca),
            ("server.pem", &pki.server_cert),
            ("server.key", &pki.server_key),
            ("expired.pem", &pki.expired_cert),
            ("expired.key", &pki.expired_key),
            ("client.pem", &pki.client_cert),
            ("client.key", &pki.client_key),
            ("other-ca.pem", &pki.other_ca),
        ] {
            std::fs::write(pki.dir.path().join(name), text)?;
        }
        Ok(pki)
    }

    /// The path of one of the files (`ca.pem`, `server.pem`, `server.key`, `expired.pem`,
    /// `expired.key`, `client.pem`, `client.key`, `other-ca.pem`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The path as a string argument.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}
