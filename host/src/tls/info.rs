//! What a finished handshake settled, as `wasio:host/tls`'s `session-info`: the peer
//! certificate (DER plus a readable subject, issuer, SANs and validity), the cipher suite, the
//! protocol version, the ALPN protocol and the server name (sent by a client, seen by a server).

use std::net::{Ipv4Addr, Ipv6Addr};

use rustls::{CommonState, ProtocolVersion};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::host_impl::bindings::tls::{Certificate, SessionInfo};

/// Describes the session in `state`; `server_name` is the SNI name sent or received.
pub fn session_info(state: &CommonState, server_name: Option<String>) -> SessionInfo {
    SessionInfo {
        peer_certificate: state
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| certificate(leaf.as_ref())),
        cipher: state
            .negotiated_cipher_suite()
            .map(|suite| format!("{:?}", suite.suite()))
            .unwrap_or_default(),
        version: state
            .protocol_version()
            .map(version_name)
            .unwrap_or_default(),
        alpn_protocol: state
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        server_name,
    }
}

/// Python's names for the protocol versions ("TLSv1.3").
fn version_name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The readable summary of a DER certificate; a certificate x509-parser cannot read keeps its
/// DER with empty descriptions (rustls has verified it already where verification applies).
pub fn certificate(der: &[u8]) -> Certificate {
    let mut out = Certificate {
        der: der.to_vec(),
        subject: String::new(),
        issuer: String::new(),
        subject_alt_names: Vec::new(),
        not_before: String::new(),
        not_after: String::new(),
    };
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return out;
    };
    out.subject = cert.subject().to_string();
    out.issuer = cert.issuer().to_string();
    out.not_before = rfc3339(cert.validity().not_before.timestamp());
    out.not_after = rfc3339(cert.validity().not_after.timestamp());
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        out.subject_alt_names = san.value.general_names.iter().map(san_name).collect();
    }
    out
}

/// One subject alternative name as OpenSSL prints it ("DNS:example.com", "IP:127.0.0.1").
fn san_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(dns) => format!("DNS:{dns}"),
        GeneralName::RFC822Name(mail) => format!("email:{mail}"),
        GeneralName::URI(uri) => format!("URI:{uri}"),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => {
                let octets: [u8; 4] = [bytes[0], bytes[1], bytes[2], bytes[3]];
                format!("IP:{}", Ipv4Addr::from(octets))
            }
            16 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(bytes);
                format!("IP:{}", Ipv6Addr::from(octets))
            }
            _ => format!("IP:{bytes:02x?}"),
        },
        GeneralName::DirectoryName(dn) => format!("DirName:{dn}"),
        other => format!("{other:?}"),
    }
}

/// Seconds since the Unix epoch as an RFC 3339 UTC time ("2026-01-27T00:00:00Z").
pub(super) fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rem = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
