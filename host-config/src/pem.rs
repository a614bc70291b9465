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
        .map_err(|e| format!("{what}: not valid PEM ({})", problem(&e)))?;
    if certs.is_empty() {
        return Err(if pem.trim().is_empty() {
            format!("{what}: the PEM text is empty")
        } else if pem.contains("PRIVATE KEY-----") {
            format!(
                "{what}: the PEM text holds a private key and no certificate (are the \
                 certificate and the key swapped?)"
            )
        } else {
            format!("{what}: no CERTIFICATE in the PEM text")
        });
    }
    Ok(certs)
}

/// The first private key of a PEM text (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound if pem.trim().is_empty() => {
            "private key: the PEM text is empty".to_owned()
        }
        rustls_pki_types::pem::Error::NoItemsFound if pem.contains("CERTIFICATE-----") => {
            "private key: the PEM text holds a certificate and no private key (are the \
             certificate and the key swapped?)"
                .to_owned()
        }
        rustls_pki_types::pem::Error::NoItemsFound => {
            "private key: no PRIVATE KEY in the PEM text (PKCS#8, PKCS#1 RSA or SEC1 EC)".to_owned()
        }
        e => format!("private key: not valid PEM ({})", problem(&e)),
    })
}

/// What is wrong with a PEM text, as a sentence: rustls-pki-types' own messages show bytes and
/// base64 errors in Rust's debug notation (`InvalidCharacter(195)`, `[45, 45, ...]`).
fn problem(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { end_marker } => format!(
            "a {} section has no END line",
            String::from_utf8_lossy(end_marker)
        ),
        Error::IllegalSectionStart { line } => format!(
            "a section starts with the malformed line `{}`",
            String::from_utf8_lossy(line)
        ),
        Error::Base64Decode(_) => {
            "a section's body is not valid base64 (a character that is not base64, or a \
             wrong length)"
                .to_owned()
        }
        other => other.to_string(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_pem_texts_are_named_in_sentences() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        fn err<T>(r: Result<T, String>) -> String {
            r.err().unwrap_or_default()
        }
        assert_eq!(err(certs("", "chain")), "chain: the PEM text is empty");
        assert!(err(certs(key, "chain")).contains("swapped"));
        assert_eq!(
            err(certs("garbage", "chain")),
            "chain: no CERTIFICATE in the PEM text"
        );
        assert_eq!(
            err(private_key(" \n")),
            "private key: the PEM text is empty"
        );
        assert!(err(private_key(cert)).contains("swapped"));
        assert!(err(private_key("garbage")).contains("no PRIVATE KEY"));
        // Malformed sections: sentences, no byte lists or Debug names.
        let bad_base64 = "-----BEGIN CERTIFICATE-----\nAA\u{e9}A\n-----END CERTIFICATE-----\n";
        let unended = "-----BEGIN CERTIFICATE-----\nAAAA\n";
        for (pem, says) in [
            (bad_base64, "not valid base64"),
            (unended, "a CERTIFICATE section has no END line"),
        ] {
            let message = err(certs(pem, "CA bundle"));
            assert!(message.contains(says), "{message}");
            assert!(!message.contains('['), "{message}");
            assert!(!message.contains("InvalidCharacter"), "{message}");
        }
    }
}
