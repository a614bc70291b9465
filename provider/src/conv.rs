//! The one conversion module of the export boundary: the contract's types as wasio-streams
//! speaks them (`lib`, generated for an import) and as this component exports them (`wit`). They
//! are generated from the same WIT, so every conversion is field by field.

use crate::bindings::exports::wasio::streams::types as wit;
use wasio_streams::types as lib;

/// Converts a record field by field; the second list names the fields that need `into`, the
/// third the `option`s whose value needs it.
macro_rules! record {
    ($from:ty => $to:ty { $($same:ident),* ; $($nested:ident),* ; $($optional:ident),* }) => {
        impl Convert<$to> for $from {
            fn convert(self) -> $to {
                <$to>::from_parts(self)
            }
        }
        impl FromParts<$from> for $to {
            #[allow(clippy::redundant_field_names)]
            fn from_parts(v: $from) -> Self {
                Self {
                    $($same: v.$same,)*
                    $($nested: v.$nested.convert(),)*
                    $($optional: v.$optional.map(Convert::convert),)*
                }
            }
        }
    };
}

/// A conversion across the boundary (a local trait, so both directions can be implemented for
/// types generated in another crate).
pub trait Convert<T> {
    /// The same value as the other side's type.
    fn convert(self) -> T;
}

/// Builds a record from the other side's; what [`record!`] expands to.
trait FromParts<T> {
    fn from_parts(v: T) -> Self;
}

record!(lib::IncompleteRead => wit::IncompleteRead { partial, expected ; ; });
record!(wit::IncompleteRead => lib::IncompleteRead { partial, expected ; ; });
record!(lib::LimitOverrun => wit::LimitOverrun { found, consumed ; ; });
record!(wit::LimitOverrun => lib::LimitOverrun { found, consumed ; ; });

/// `error-code` in both directions: results go out, `set-exception` brings one in.
macro_rules! error_code {
    ($from:ident => $to:ident) => {
        impl Convert<$to::ErrorCode> for $from::ErrorCode {
            fn convert(self) -> $to::ErrorCode {
                use $from::ErrorCode as F;
                use $to::ErrorCode as T;
                match self {
                    F::IncompleteRead(e) => T::IncompleteRead(e.convert()),
                    F::LimitOverrun(e) => T::LimitOverrun(e.convert()),
                    F::InvalidArgument(m) => T::InvalidArgument(m),
                    F::Busy => T::Busy,
                    F::Closed(m) => T::Closed(m),
                    F::ConnectionReset => T::ConnectionReset,
                    F::ConnectionRefused => T::ConnectionRefused,
                    F::ConnectionAborted => T::ConnectionAborted,
                    F::BrokenPipe => T::BrokenPipe,
                    F::Timeout => T::Timeout,
                    F::Interrupted => T::Interrupted,
                    F::AddressInUse => T::AddressInUse,
                    F::AddressNotAvailable => T::AddressNotAvailable,
                    F::NotFound => T::NotFound,
                    F::NameUnresolvable => T::NameUnresolvable,
                    F::AccessDenied(m) => T::AccessDenied(m),
                    F::NotSupported(m) => T::NotSupported(m),
                    F::BufferFull => T::BufferFull,
                    F::Tls(m) => T::Tls(m),
                    F::Other(m) => T::Other(m),
                }
            }
        }
    };
}
error_code!(lib => wit);
error_code!(wit => lib);

/// A library result as the export returns it.
pub fn out<T, U>(result: Result<T, lib::ErrorCode>) -> Result<U, wit::ErrorCode>
where
    T: Convert<U>,
{
    result.map(Convert::convert).map_err(Convert::convert)
}

/// A library error as the export returns it.
pub fn err(e: lib::ErrorCode) -> wit::ErrorCode {
    e.convert()
}

impl Convert<()> for () {
    fn convert(self) {}
}

impl Convert<u64> for u64 {
    fn convert(self) -> u64 {
        self
    }
}

impl Convert<Vec<u8>> for Vec<u8> {
    fn convert(self) -> Vec<u8> {
        self
    }
}

record!(lib::InetAddress => wit::InetAddress { host, port, flow_info, scope_id ; ; });

impl Convert<wit::SocketAddress> for lib::SocketAddress {
    fn convert(self) -> wit::SocketAddress {
        match self {
            lib::SocketAddress::Inet(a) => wit::SocketAddress::Inet(a.convert()),
            lib::SocketAddress::Unix(path) => wit::SocketAddress::Unix(path),
        }
    }
}

record!(lib::PeerCertificate => wit::PeerCertificate {
    der, subject, issuer, subject_alt_names, not_before, not_after ; ;
});
record!(lib::PeerCredentials => wit::PeerCredentials { pid, uid, gid ; ; });
record!(lib::ExtraInfo => wit::ExtraInfo {
    cipher, tls_version, alpn_protocol, server_hostname ;
    ;
    peername, sockname, peercert, peer_credentials
});

impl Convert<lib::AddressFamily> for wit::AddressFamily {
    fn convert(self) -> lib::AddressFamily {
        match self {
            wit::AddressFamily::Unspecified => lib::AddressFamily::Unspecified,
            wit::AddressFamily::Ipv4 => lib::AddressFamily::Ipv4,
            wit::AddressFamily::Ipv6 => lib::AddressFamily::Ipv6,
        }
    }
}

record!(wit::CertifiedKey => lib::CertifiedKey { cert_chain_pem, private_key_pem ; ; });

impl Convert<lib::TrustRoots> for wit::TrustRoots {
    fn convert(self) -> lib::TrustRoots {
        match self {
            wit::TrustRoots::WebRoots => lib::TrustRoots::WebRoots,
            wit::TrustRoots::Platform => lib::TrustRoots::Platform,
            wit::TrustRoots::Pem(pem) => lib::TrustRoots::Pem(pem),
        }
    }
}

record!(wit::ClientTlsConfig => lib::ClientTlsConfig {
    alpn_protocols ; roots ; client_cert
});
record!(wit::ServerTlsConfig => lib::ServerTlsConfig {
    client_auth_ca_pem, client_auth_required, alpn_protocols ; identity ;
});

impl Convert<lib::TlsConfig> for wit::TlsConfig {
    fn convert(self) -> lib::TlsConfig {
        match self {
            wit::TlsConfig::Client(c) => lib::TlsConfig::Client(c.convert()),
            wit::TlsConfig::Server(c) => lib::TlsConfig::Server(c.convert()),
        }
    }
}

record!(wit::ConnectOptions => lib::ConnectOptions {
    limit, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout, local_addr,
    happy_eyeballs_delay, interleave, timeout, write_queue_cap, tcp_nodelay ;
    family ;
    ssl
});
record!(wit::ServerOptions => lib::ServerOptions {
    limit, backlog, reuse_address, reuse_port, keep_alive, ssl_handshake_timeout,
    ssl_shutdown_timeout, start_serving, write_queue_cap, tcp_nodelay ;
    family ;
    ssl
});
record!(wit::UnixConnectOptions => lib::UnixConnectOptions {
    limit, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout, timeout,
    write_queue_cap ; ;
    ssl
});
record!(wit::UnixServerOptions => lib::UnixServerOptions {
    limit, backlog, ssl_handshake_timeout, ssl_shutdown_timeout, start_serving, cleanup_socket,
    write_queue_cap ; ;
    ssl
});
record!(wit::AdoptOptions => lib::AdoptOptions { limit, write_queue_cap ; ; });

/// The bytes a Latin-1 form's string carries (the contract's `*-latin1`): code point U+0000-U+00FF
/// is that byte. An ASCII string is taken as it is, without a copy.
pub fn latin1(text: String) -> Result<Vec<u8>, wit::ErrorCode> {
    if text.is_ascii() {
        return Ok(text.into_bytes());
    }
    text.chars()
        .map(|c| {
            u8::try_from(c).map_err(|_| {
                wit::ErrorCode::InvalidArgument(format!(
                    "a Latin-1 form carries one byte per code point, U+0000 to U+00FF, and got U+{:04X}",
                    u32::from(c)
                ))
            })
        })
        .collect()
}

/// [`latin1`] of every item.
pub fn latin1_all(texts: Vec<String>) -> Result<Vec<Vec<u8>>, wit::ErrorCode> {
    texts.into_iter().map(latin1).collect()
}

#[cfg(test)]
mod tests {
    use super::latin1;

    #[test]
    fn latin1_carries_every_byte_and_refuses_wider_code_points() {
        let all: Vec<u8> = (0..=255).collect();
        let text: String = all.iter().map(|&b| char::from(b)).collect();
        assert_eq!(latin1(text).ok(), Some(all));
        assert_eq!(latin1("GET /\r\n".into()).ok(), Some(b"GET /\r\n".to_vec()));
        let Err(e) = latin1("caf\u{e9} \u{20ac}".into()) else {
            panic!("U+20AC was taken as a byte");
        };
        assert!(format!("{e:?}").contains("U+20AC"), "{e:?}");
    }
}
