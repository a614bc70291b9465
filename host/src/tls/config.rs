//! rustls configurations from `wasio:host/tls`'s `client-config` and `server-config`.
//!
//! Both sides offer TLS 1.2 and 1.3 with rustls' safe defaults and the ring crypto provider.
//! Client roots are the bundled web PKI roots (webpki-roots, compiled in: no download at run
//! time), the host's platform store (read once per process), or PEM CAs. With
//! `verify-hostname` off the chain is still verified, only the name check is skipped.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use x509_parser::prelude::{FromDer, X509Certificate};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::errors::invalid;
use crate::host_impl::bindings::tls::{ClientConfig, Roots, ServerConfig};
use crate::host_impl::bindings::types::ErrorCode;

/// The crypto provider of every session.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// A client configuration and the name to connect to (SNI and certificate name).
pub struct Client {
    /// The rustls configuration.
    pub config: Arc<rustls::ClientConfig>,
    /// The name given to rustls; a placeholder when no name was configured (then no SNI is sent
    /// and no name is checked).
    pub server_name: ServerName<'static>,
}

/// Builds a client configuration. Errors: `invalid-argument` for bad PEM, names or ALPN values.
pub fn client(config: &ClientConfig) -> Result<Client, ErrorCode> {
    let (server_name, verify_name, sni) = match config.server_name.as_deref() {
        Some(name) if !name.is_empty() => {
            let parsed = ServerName::try_from(name.to_owned())
                .map_err(|e| invalid(format!("server_hostname {name:?}: {e}")))?;
            (parsed, config.verify_hostname, true)
        }
        // No name: no SNI, no name check; rustls still wants some name to carry around.
        _ => (
            ServerName::DnsName("wasio.invalid".try_into().map_err(|_| invalid("name"))?),
            false,
            false,
        ),
    };
    let verifier: Arc<dyn ServerCertVerifier> =
        Arc::new(server_verifier(&config.roots, verify_name)?);
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut tls = match &config.client_cert {
        Some((chain, key)) => builder
            .with_client_auth_cert(certs(chain, "client certificate")?, key_of(key)?)
            .map_err(|e| invalid(format!("client certificate: {}", identity_error(&e))))?,
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = alpn(&config.alpn_protocols)?;
    tls.enable_sni = sni;
    Ok(Client {
        config: Arc::new(tls),
        server_name,
    })
}

/// The verifier of a client's peer: trusting `roots`, checking names when `verify_name`.
fn server_verifier(roots_config: &Roots, verify_name: bool) -> Result<Verifier, ErrorCode> {
    let webpki =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots(roots_config)?), provider())
            .build()
            .map_err(|e| invalid(format!("trusted roots: {e}")))?;
    let trusted = match roots_config {
        Roots::Pem(pem) => certs(pem, "CA bundle")?,
        Roots::WebRoots | Roots::Platform => Vec::new(),
    };
    Ok(Verifier {
        webpki,
        verify_name,
        trusted,
    })
}

/// Builds a server configuration. Errors: `invalid-argument` for bad PEM or ALPN values.
pub fn server(config: &ServerConfig) -> Result<Arc<rustls::ServerConfig>, ErrorCode> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS versions: {e}")))?;
    let builder = match &config.client_auth_ca_pem {
        Some(pem) => {
            let store = root_store(pem, "client-auth CA")?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider());
            let verifier = if config.client_auth_required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| invalid(format!("client-auth CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut tls = builder
        .with_single_cert(
            certs(&config.cert_chain_pem, "certificate chain")?,
            key_of(&config.private_key_pem)?,
        )
        .map_err(|e| invalid(identity_error(&e)))?;
    tls.alpn_protocols = alpn(&config.alpn_protocols)?;
    // Each session gets its own configuration, so its session cache could never resume one of
    // these tickets (they once also cost a delayed ACK, before the host set TCP_NODELAY:
    // WORKAROUNDS.md, W6).
    tls.send_tls13_tickets = 0;
    Ok(Arc::new(tls))
}

/// Checks a server identity (PEM certificate chain and private key) as [`server`] would use
/// it, so that a host taking one from outside (`wasio demo echo-server --tls-cert --tls-key`)
/// refuses it at start rather than failing every handshake. The error is one sentence.
pub fn check_identity(cert_chain_pem: &str, private_key_pem: &str) -> Result<(), String> {
    let chain = wasio_host_config::pem::certs(cert_chain_pem, "certificate")?;
    let key = wasio_host_config::pem::private_key(private_key_pem)?;
    rustls::sign::CertifiedKey::from_der(chain, key, &provider())
        .map(drop)
        .map_err(|e| identity_error(&e))
}

/// Checks a PEM CA bundle as a client's trusted roots would use it (one sentence on error).
pub fn check_ca(pem: &str) -> Result<(), String> {
    wasio_host_config::pem::root_store(pem, "CA bundle").map(drop)
}

/// Why rustls refused a certificate chain and private key, in a sentence.
fn identity_error(error: &rustls::Error) -> String {
    use rustls::{Error, InconsistentKeys};
    match error {
        Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
            "the private key does not belong to the certificate (the chain's first certificate \
             must be the key's)"
                .to_owned()
        }
        Error::InconsistentKeys(InconsistentKeys::Unknown) => {
            "cannot tell whether the private key belongs to the certificate".to_owned()
        }
        Error::General(_) => "the private key is of a type wasio cannot sign with (use an RSA \
                              key of 2048 bits or more, an ECDSA P-256 or P-384 key, or an \
                              Ed25519 key)"
            .to_owned(),
        Error::InvalidCertificate(CertificateError::BadEncoding) => {
            "the certificate is not a valid X.509 certificate (its DER cannot be parsed)".to_owned()
        }
        other => format!("the certificate and key are not usable: {other}"),
    }
}

/// The trusted roots of a client.
fn roots(roots: &Roots) -> Result<RootCertStore, ErrorCode> {
    match roots {
        Roots::WebRoots => Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
        Roots::Platform => Ok(platform_roots().clone()),
        Roots::Pem(pem) => root_store(pem, "CA bundle"),
    }
}

/// The host's platform trust store, read once; unreadable entries are skipped.
fn platform_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
        store
    })
}

/// Every certificate of a PEM text; at least one (see [`wasio_host_config::pem::certs`]).
fn certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, ErrorCode> {
    wasio_host_config::pem::certs(pem, what).map_err(invalid)
}

/// The private key of a PEM text (PKCS#8, PKCS#1 or SEC1).
fn key_of(pem: &str) -> Result<PrivateKeyDer<'static>, ErrorCode> {
    wasio_host_config::pem::private_key(pem).map_err(invalid)
}

/// A trust store of every certificate of a PEM CA bundle.
fn root_store(pem: &str, what: &str) -> Result<RootCertStore, ErrorCode> {
    wasio_host_config::pem::root_store(pem, what).map_err(invalid)
}

/// ALPN protocol names as bytes; each must be 1..=255 bytes.
fn alpn(protocols: &[String]) -> Result<Vec<Vec<u8>>, ErrorCode> {
    protocols
        .iter()
        .map(|p| {
            if p.is_empty() || p.len() > 255 {
                Err(invalid(format!(
                    "ALPN protocol {p:?} must be 1 to 255 bytes"
                )))
            } else {
                Ok(p.as_bytes().to_vec())
            }
        })
        .collect()
}

/// Verifies the peer's certificate as OpenSSL does for asyncio's default context: webpki's
/// chain, signature, time and name checks, with two differences. A certificate that is itself
/// in the given CA bundle is trusted as it is (OpenSSL's trusted self-signed certificates,
/// which `openssl req -x509` makes with CA:TRUE, and CPython 3.13's
/// `VERIFY_X509_PARTIAL_CHAIN`), once its validity period and name are checked; and with
/// `verify_name` off (`server_hostname=''`, `check_hostname=False`) any name is accepted.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    verify_name: bool,
    /// The certificates of the CA bundle (none for the bundled or platform roots).
    trusted: Vec<CertificateDer<'static>>,
}

impl Verifier {
    /// Checks a certificate of the CA bundle itself: its validity period and name.
    fn directly_trusted(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let bad = rustls::Error::InvalidCertificate;
        let (_, cert) = X509Certificate::from_der(end_entity.as_ref())
            .map_err(|_| bad(CertificateError::BadEncoding))?;
        let at =
            |seconds: i64| UnixTime::since_unix_epoch(Duration::from_secs(seconds.max(0) as u64));
        let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let validity = cert.validity();
        if now_secs < validity.not_before.timestamp() {
            return Err(bad(CertificateError::NotValidYetContext {
                time: now,
                not_before: at(validity.not_before.timestamp()),
            }));
        }
        if now_secs > validity.not_after.timestamp() {
            return Err(bad(CertificateError::ExpiredContext {
                time: now,
                not_after: at(validity.not_after.timestamp()),
            }));
        }
        if self.verify_name {
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let verified = match verified {
            // webpki wants a chain to a root (an anchor of the peer's own name is taken for
            // its issuer: a bad signature), and no CA certificate as the peer's own.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
                | CertificateError::BadSignature
                | CertificateError::Other(_),
            )) if self
                .trusted
                .iter()
                .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                self.directly_trusted(end_entity, server_name, now)
            }
            other => other,
        };
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.verify_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's verifier trusting `ca_pem`, checking names.
    fn verifier(ca_pem: &str) -> Verifier {
        server_verifier(&Roots::Pem(ca_pem.to_owned()), true)
            .unwrap_or_else(|_| unreachable!("a valid CA bundle"))
    }

    fn verify(
        verifier: &Verifier,
        cert: &CertificateDer<'_>,
        name: &str,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = ServerName::try_from(name.to_owned()).unwrap_or_else(|e| unreachable!("{e}"));
        verifier.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
    }

    /// A certificate for `names`, self-signed, a CA's when `ca`.
    fn self_signed(names: &[&str], ca: bool) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| unreachable!("{e}"));
        let mut params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let cert = params
            .self_signed(&key)
            .unwrap_or_else(|e| unreachable!("{e}"));
        (cert, key)
    }

    /// `openssl req -x509` makes a self-signed certificate with CA:TRUE; trusted through the
    /// CA bundle, OpenSSL (so CPython) accepts it as the server's own, as wasio does now.
    #[test]
    fn a_certificate_in_the_ca_bundle_is_trusted_as_it_is() {
        let (cert, _) = self_signed(&["localhost"], true);
        let trusting = verifier(&cert.pem());
        assert!(verify(&trusting, cert.der(), "localhost").is_ok());
        // Its name is still checked.
        let wrong = verify(&trusting, cert.der(), "example.com");
        assert!(
            matches!(
                wrong,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{wrong:?}"
        );
        // A CA leaf not in the bundle is still refused.
        let (other, _) = self_signed(&["localhost"], true);
        assert!(verify(&trusting, other.der(), "localhost").is_err());

        // A leaf issued by a CA, trusted directly (CPython 3.13's VERIFY_X509_PARTIAL_CHAIN).
        let ca_key = rcgen::KeyPair::generate().unwrap_or_else(|e| unreachable!("{e}"));
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| unreachable!("{e}"));
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params
            .self_signed(&ca_key)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap_or_else(|e| unreachable!("{e}"));
        let mut leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap_or_else(|e| unreachable!("{e}"));
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(verify(&verifier(&ca.pem()), leaf.der(), "localhost").is_ok());
        let direct = verify(&verifier(&leaf.pem()), leaf.der(), "localhost");
        assert!(direct.is_ok(), "{direct:?}");
        let (unrelated, _) = self_signed(&["localhost"], false);
        assert!(verify(&verifier(&unrelated.pem()), leaf.der(), "localhost").is_err());
    }

    /// The default roots are compiled into the host (no file, no download at run time) and hold
    /// the roots public sites chain to, e.g. Let's Encrypt's ISRG Root X1.
    #[test]
    fn web_roots_are_bundled() {
        let Ok(store) = roots(&Roots::WebRoots) else {
            unreachable!("the bundled roots need no parsing")
        };
        assert!(store.len() > 100, "{} roots", store.len());
        let isrg = store
            .roots
            .iter()
            .any(|root| String::from_utf8_lossy(root.subject.as_ref()).contains("ISRG Root X1"));
        assert!(isrg, "ISRG Root X1 missing");
    }
}
