//! TLS failures in words: rustls errors (certificates, alerts, protocol) become `error-code.tls`,
//! a transport that ends early gets its own message, other I/O errors go through the host's
//! usual io::Error conversion.

use std::io;

use crate::host_impl::bindings::types::ErrorCode;

/// What happened when a TLS read or handshake failed.
#[derive(Clone, Copy, Debug)]
pub enum Stage {
    /// During the handshake.
    Handshake,
    /// Reading application data after the handshake.
    Receive,
    /// Writing application data or close_notify.
    Send,
}

/// Converts an I/O error of a tokio-rustls stream (which wraps rustls errors) into an error code.
pub fn from_io(error: io::Error, stage: Stage) -> ErrorCode {
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return from_rustls(tls, stage);
    }
    match (error.kind(), stage) {
        (io::ErrorKind::UnexpectedEof, Stage::Handshake) => {
            ErrorCode::Tls("the peer closed the connection during the TLS handshake".to_owned())
        }
        (io::ErrorKind::UnexpectedEof, _) => ErrorCode::Tls(
            "the peer closed the connection without a TLS close_notify (the data may be truncated)"
                .to_owned(),
        ),
        _ => ErrorCode::from(error),
    }
}

/// A rustls error as `error-code.tls`, with the stage in front.
pub fn from_rustls(error: &rustls::Error, stage: Stage) -> ErrorCode {
    let stage = match stage {
        Stage::Handshake => "TLS handshake failed",
        Stage::Receive => "TLS receive failed",
        Stage::Send => "TLS send failed",
    };
    ErrorCode::Tls(format!("{stage}: {}", describe(error)))
}

/// A rustls error in words (rustls's own text shows Rust names and values, e.g.
/// `Other(OtherError(CaUsedAsEndEntity))`, `DnsName("localhost")`, Unix times). The
/// certificate failures keep rustls's "invalid peer certificate: " in front and the alerts its
/// "received fatal alert: NAME" (the Python package's `ssl` reads both).
fn describe(error: &rustls::Error) -> String {
    use rustls::Error;
    match error {
        Error::InvalidCertificate(e) => format!("invalid peer certificate: {}", certificate(e)),
        Error::AlertReceived(alert) => format!("received fatal alert: {alert:?}"),
        Error::InvalidMessage(e) => format!(
            "the peer sent a message that is not valid TLS ({}); is it speaking TLS?",
            words(&format!("{e:?}"))
        ),
        Error::PeerIncompatible(e) => format!(
            "the peer and wasio have no TLS version, cipher suite or option in common ({})",
            words(&format!("{e:?}"))
        ),
        Error::PeerMisbehaved(e) => {
            format!(
                "the peer broke the TLS protocol ({})",
                words(&format!("{e:?}"))
            )
        }
        Error::NoCertificatesPresented => "the peer sent no certificate".to_owned(),
        Error::DecryptError => "a TLS record from the peer could not be decrypted".to_owned(),
        Error::General(text) => text.clone(),
        Error::Other(other) => words(&other.to_string()),
        other => words(&format!("{other:?}")),
    }
}

/// A certificate failure in words.
fn certificate(error: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    let date = |t: &rustls::pki_types::UnixTime| {
        super::info::rfc3339(i64::try_from(t.as_secs()).unwrap_or(i64::MAX))
    };
    match error {
        E::BadEncoding => "the certificate is malformed".to_owned(),
        E::Expired => "the certificate has expired".to_owned(),
        E::ExpiredContext { time, not_after } => format!(
            "the certificate has expired (valid until {}, now {})",
            date(not_after),
            date(time)
        ),
        E::NotValidYet => "the certificate is not valid yet".to_owned(),
        E::NotValidYetContext { time, not_before } => format!(
            "the certificate is not valid yet (valid from {}, now {})",
            date(not_before),
            date(time)
        ),
        E::Revoked => "the certificate was revoked".to_owned(),
        E::UnknownIssuer => {
            "the certificate's issuer is unknown (no trusted certificate authority signed it)"
                .to_owned()
        }
        E::BadSignature => "the certificate has a bad signature".to_owned(),
        E::NotValidForName => "the certificate is not valid for the name asked for".to_owned(),
        E::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<String> = presented.iter().map(|n| general_name(n)).collect();
            let valid = if names.is_empty() {
                "no names".to_owned()
            } else {
                names.join(", ")
            };
            format!(
                "certificate not valid for name \"{}\" (it is valid for {valid})",
                expected.to_str()
            )
        }
        E::InvalidPurpose | E::InvalidPurposeContext { .. } => {
            "the certificate is not meant for this use (its extended key usage)".to_owned()
        }
        E::Other(other) if other.to_string() == "CaUsedAsEndEntity" => {
            "the certificate is a certificate authority's (CA:TRUE), which cannot identify a \
             server or a client"
                .to_owned()
        }
        E::Other(other) => words(&other.to_string()),
        other => words(&format!("{other:?}")),
    }
}

/// A subject alternative name as rustls shows it (`DnsName("a")`, `IpAddress(1.2.3.4)`), as
/// OpenSSL does (`DNS:a`, `IP:1.2.3.4`).
fn general_name(shown: &str) -> String {
    if let Some(dns) = shown
        .strip_prefix("DnsName(\"")
        .and_then(|s| s.strip_suffix("\")"))
    {
        return format!("DNS:{dns}");
    }
    if let Some(ip) = shown
        .strip_prefix("IpAddress(")
        .and_then(|s| s.strip_suffix(')'))
    {
        return format!("IP:{ip}");
    }
    shown.to_owned()
}

/// A Rust value's name as words: `InvalidContentType` as "invalid content type", a variant
/// with fields by its name alone.
fn words(name: &str) -> String {
    let name = name.split(['(', '{', ' ']).next().unwrap_or(name);
    let mut out = String::new();
    for (i, c) in name.char_indices() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// A bad configuration value (PEM, names, ALPN) as `invalid-argument`.
pub fn invalid(what: impl Into<String>) -> ErrorCode {
    ErrorCode::InvalidArgument(what.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError;
    use std::sync::Arc;

    #[derive(Debug)]
    struct Named(&'static str);
    impl std::fmt::Display for Named {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Named {}

    fn text(error: rustls::Error) -> String {
        describe(&error)
    }

    #[test]
    fn failures_read_as_sentences_without_rust_names() {
        let name = rustls::pki_types::ServerName::try_from("localhost")
            .unwrap_or_else(|e| unreachable!("{e}"));
        let wrong_name = text(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForNameContext {
                expected: name.to_owned(),
                presented: vec!["DnsName(\"other\")".into(), "IpAddress(127.0.0.1)".into()],
            },
        ));
        assert_eq!(
            wrong_name,
            "invalid peer certificate: certificate not valid for name \"localhost\" (it is valid \
             for DNS:other, IP:127.0.0.1)"
        );
        let ca = text(rustls::Error::InvalidCertificate(CertificateError::Other(
            rustls::OtherError(Arc::new(Named("CaUsedAsEndEntity"))),
        )));
        assert!(ca.contains("certificate authority's (CA:TRUE)"), "{ca}");
        let expired = text(rustls::Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(1_796_590_156),
                ),
                not_after: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(1_796_500_000),
                ),
            },
        ));
        assert!(
            expired.contains("has expired (valid until 2026-"),
            "{expired}"
        );
        let corrupt = text(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert!(corrupt.contains("(invalid content type)"), "{corrupt}");
        for shown in [wrong_name, ca, expired, corrupt] {
            assert!(
                !shown.contains("(\"") && !shown.contains("Error(") && !shown.contains("UNIX"),
                "{shown}"
            );
        }
    }
}
