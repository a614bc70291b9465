//! PEM loading (TLS certificate chains, private keys, CA bundles): any text is accepted or
//! rejected without a panic; an accepted chain has at least one certificate, and its certificates
//! written out again as PEM load back to the same DER; an accepted key written out again under its
//! kind's label loads back to the same key; a CA bundle loads exactly when its certificates do,
//! with one trust anchor per certificate.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::PrivateKeyDer;
use wasio_host_config::pem::{certs, private_key, root_store};

/// `der` as one PEM section under `label`, base64 in 64-character lines.
fn pem_section(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Loads `data` (lossily as UTF-8: the app hands the host strings) in all three ways.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let chain = certs(&text, "certificate chain");
    if let Ok(chain) = &chain {
        assert!(!chain.is_empty(), "an accepted chain is empty");
        let written: String = chain
            .iter()
            .map(|c| pem_section("CERTIFICATE", c.as_ref()))
            .collect();
        match certs(&written, "rewritten") {
            Ok(again) => assert_eq!(&again, chain, "{text:?}: rewritten chain differs"),
            Err(e) => panic!("{text:?}: rewritten chain does not load: {e}"),
        }
    }
    match (root_store(&text, "CA bundle"), &chain) {
        (Ok(store), Ok(chain)) => assert_eq!(store.len(), chain.len(), "{text:?}: anchors"),
        (Ok(_), Err(e)) => {
            panic!("{text:?}: a CA bundle loads though its certificates do not: {e}")
        }
        (Err(_), _) => {}
    }
    if let Ok(key) = private_key(&text) {
        let label = match &key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            PrivateKeyDer::Pkcs8(_) => "PRIVATE KEY",
            // A kind added to rustls-pki-types later: nothing to write it under.
            _ => return,
        };
        let written = pem_section(label, key.secret_der());
        match private_key(&written) {
            Ok(again) => assert_eq!(again, key, "{text:?}: rewritten key differs"),
            Err(e) => panic!("{text:?}: rewritten key does not load: {e}"),
        }
    }
}
