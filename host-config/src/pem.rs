//! PEM text from the app (`wasio:host/tls` configurations): certificate chains, private keys and
//! CA bundles. Errors are messages for the app's `invalid-argument`; no input panics.

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Every `CERTIFICATE` of a PEM text, in order; at least one. Other sections are skipped.
/// `what` names the text in the error message (e.g. "certificate chain").
pub fn certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no CERTIFICATE in the PEM text"));
    }
    Ok(certs)
}

/// The first private key of a PEM text (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("private key: no usable PEM key: {e}"))
}

/// A trust store of every certificate of a PEM text (a CA bundle); each must be usable as a
/// trust anchor. `what` names the text in the error message (e.g. "CA bundle").
pub fn root_store(pem: &str, what: &str) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    for cert in certs(pem, what)? {
        store.add(cert).map_err(|e| format!("{what}: {e}"))?;
    }
    Ok(store)
}
