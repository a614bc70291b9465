//! The one conversion from the host's native socket values ([`crate::net`]) to `wasio:host`'s
//! WIT types: errors, addresses, peer credentials.
//!
//! Native I/O in the host (Unix sockets, TLS transport) fails with [`std::io::Error`]; this maps
//! it to the WIT error the provider turns into asyncio's exceptions. The mapping goes by
//! [`std::io::ErrorKind`], which std derives from the errno portably; cases that carry a message
//! keep the OS's words (or the host's, for a refusal it makes itself).
//!
//! [`HostError`] is what the `wasio:host` functions fail with: an `error-code` for the guest,
//! or a trap.

use std::io;

use wasmtime::component::ResourceTableError;

use super::bindings::types::{ErrorCode, HostAddress, PeerCredentials};
use crate::net;

/// The failure of a `wasio:host` function that returns `result<_, error-code>`: an error the
/// guest gets as its `error-code`, or a host failure that traps it (a resource missing from the
/// table is a host bug, as the component model checks handles). The bindings tell them apart
/// (`trappable_error_type`), so a host function returns one `Result` and uses `?` for both.
#[derive(Debug)]
pub enum HostError {
    /// An error the guest gets as its `error-code`.
    Code(ErrorCode),
    /// A failure that traps the guest.
    Trap(wasmtime::Error),
}

impl HostError {
    /// The guest's `error-code`, or the trap.
    pub fn into_code(self) -> wasmtime::Result<ErrorCode> {
        match self {
            Self::Code(code) => Ok(code),
            Self::Trap(error) => Err(error),
        }
    }
}

impl From<ErrorCode> for HostError {
    fn from(code: ErrorCode) -> Self {
        Self::Code(code)
    }
}

impl From<io::Error> for HostError {
    fn from(error: io::Error) -> Self {
        Self::Code(error.into())
    }
}

impl From<wasmtime::Error> for HostError {
    fn from(error: wasmtime::Error) -> Self {
        Self::Trap(error)
    }
}

impl From<ResourceTableError> for HostError {
    fn from(error: ResourceTableError) -> Self {
        Self::Trap(error.into())
    }
}

impl From<&io::Error> for ErrorCode {
    fn from(error: &io::Error) -> Self {
        use io::ErrorKind as K;
        match error.kind() {
            K::PermissionDenied => Self::AccessDenied(error.to_string()),
            K::Unsupported => Self::NotSupported(error.to_string()),
            K::InvalidInput | K::InvalidFilename => Self::InvalidArgument(error.to_string()),
            K::AddrInUse => Self::AddressInUse,
            // A Unix socket path (or a directory on it) that does not exist: asyncio's
            // FileNotFoundError.
            K::NotFound => Self::NotFound,
            K::AddrNotAvailable | K::NotADirectory => Self::AddressNotAvailable,
            K::ConnectionRefused => Self::ConnectionRefused,
            K::ConnectionReset => Self::ConnectionReset,
            K::ConnectionAborted => Self::ConnectionAborted,
            K::BrokenPipe => Self::BrokenPipe,
            K::TimedOut => Self::Timeout,
            _ => Self::Other(Some(error.to_string())),
        }
    }
}

impl From<io::Error> for ErrorCode {
    fn from(error: io::Error) -> Self {
        Self::from(&error)
    }
}

impl From<net::Address> for HostAddress {
    fn from(address: net::Address) -> Self {
        match address {
            net::Address::Unix(path) => Self::Unix(path),
            // `ip:port`, `[ip]:port` for IPv6.
            net::Address::Inet(addr) => Self::Inet(addr.to_string()),
        }
    }
}

impl From<net::PeerCredentials> for PeerCredentials {
    fn from(credentials: net::PeerCredentials) -> Self {
        Self {
            pid: credentials.pid,
            uid: credentials.uid,
            gid: credentials.gid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(kind: io::ErrorKind) -> ErrorCode {
        io::Error::new(kind, "msg").into()
    }

    #[test]
    fn kinds_map_to_their_cases() {
        use io::ErrorKind as K;
        assert!(matches!(code(K::AddrInUse), ErrorCode::AddressInUse));
        assert!(matches!(
            code(K::AddrNotAvailable),
            ErrorCode::AddressNotAvailable
        ));
        assert!(matches!(code(K::NotFound), ErrorCode::NotFound));
        assert!(matches!(
            code(K::NotADirectory),
            ErrorCode::AddressNotAvailable
        ));
        assert!(matches!(
            code(K::ConnectionRefused),
            ErrorCode::ConnectionRefused
        ));
        assert!(matches!(
            code(K::ConnectionReset),
            ErrorCode::ConnectionReset
        ));
        assert!(matches!(
            code(K::ConnectionAborted),
            ErrorCode::ConnectionAborted
        ));
        assert!(matches!(code(K::BrokenPipe), ErrorCode::BrokenPipe));
        assert!(matches!(code(K::TimedOut), ErrorCode::Timeout));
        assert!(matches!(code(K::PermissionDenied), ErrorCode::AccessDenied(m) if m == "msg"));
        assert!(matches!(code(K::Unsupported), ErrorCode::NotSupported(m) if m == "msg"));
        assert!(matches!(code(K::InvalidInput), ErrorCode::InvalidArgument(m) if m == "msg"));
        assert!(matches!(code(K::Other), ErrorCode::Other(Some(m)) if m == "msg"));
        assert!(matches!(code(K::WouldBlock), ErrorCode::Other(Some(_))));
    }

    #[cfg(unix)]
    #[test]
    fn os_errors_map_by_errno_and_keep_the_os_message() {
        // Linux errno values; std derives the kind from them.
        const EACCES: i32 = 13;
        const EADDRINUSE: i32 = 98;
        const ECONNREFUSED: i32 = 111;
        const ENOENT: i32 = 2;
        const EPIPE: i32 = 32;
        if !cfg!(target_os = "linux") {
            return;
        }
        let os = |n| ErrorCode::from(io::Error::from_raw_os_error(n));
        assert!(matches!(os(EACCES), ErrorCode::AccessDenied(m) if m.contains("ermission denied")));
        assert!(matches!(os(EADDRINUSE), ErrorCode::AddressInUse));
        assert!(matches!(os(ECONNREFUSED), ErrorCode::ConnectionRefused));
        assert!(matches!(os(ENOENT), ErrorCode::NotFound));
        assert!(matches!(os(EPIPE), ErrorCode::BrokenPipe));
    }

    #[test]
    fn host_errors_are_codes_for_the_guest_or_traps() {
        let code = HostError::from(io::Error::from(io::ErrorKind::AddrInUse)).into_code();
        assert!(matches!(code, Ok(ErrorCode::AddressInUse)));
        let code = HostError::from(ErrorCode::Timeout).into_code();
        assert!(matches!(code, Ok(ErrorCode::Timeout)));
        let trap = HostError::from(wasmtime::Error::msg("a host bug")).into_code();
        assert!(trap.is_err_and(|e| e.to_string() == "a host bug"));
    }

    #[test]
    fn real_failures() {
        // Connecting to a port nobody listens on: bind one, note it, close it, connect.
        let refused = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .and_then(std::net::TcpStream::connect);
        if let Err(e) = refused {
            assert!(matches!(ErrorCode::from(e), ErrorCode::ConnectionRefused));
        }
        let missing = std::fs::File::open("/nonexistent/wasio/conv/test");
        if let Err(e) = missing {
            assert!(matches!(ErrorCode::from(e), ErrorCode::NotFound));
        }
    }
}
