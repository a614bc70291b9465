//! The one place where foreign errors become wasio's `error-code`: stream-core read errors,
//! wasi:sockets errors, name-lookup errors and wasio:host errors.

use crate::bindings::wasi::sockets::ip_name_lookup::ErrorCode as LookupError;
use crate::bindings::wasi::sockets::types::ErrorCode as SocketError;
use crate::bindings::wasio::host::types::ErrorCode as HostError;
use crate::types::{ErrorCode, IncompleteRead, LimitOverrun};
use wasio_core::ReadError;

/// asyncio's `RuntimeError` for writes after `write_eof`.
pub const WRITE_AFTER_EOF: &str = "Cannot call write() after write_eof()";

/// A stream-core read error as the contract's `error-code` (a function: both types are foreign
/// here, so `From` cannot be implemented).
pub fn read_error(e: ReadError) -> ErrorCode {
    {
        match e {
            ReadError::IncompleteRead { partial, expected } => {
                ErrorCode::IncompleteRead(IncompleteRead { partial, expected })
            }
            ReadError::LimitOverrun { found, consumed } => {
                ErrorCode::LimitOverrun(LimitOverrun { found, consumed })
            }
            ReadError::InvalidArgument(why) => ErrorCode::InvalidArgument(why.to_string()),
        }
    }
}

impl From<SocketError> for ErrorCode {
    fn from(e: SocketError) -> Self {
        match e {
            SocketError::AccessDenied => {
                ErrorCode::AccessDenied("the host has not granted this network address".to_string())
            }
            SocketError::NotSupported => {
                ErrorCode::NotSupported("not supported by wasi:sockets on this host".to_string())
            }
            SocketError::InvalidArgument => {
                ErrorCode::InvalidArgument("rejected by wasi:sockets".to_string())
            }
            SocketError::OutOfMemory => ErrorCode::Other(Some("out of memory".to_string())),
            SocketError::Timeout => ErrorCode::Timeout,
            SocketError::InvalidState => {
                ErrorCode::Other(Some("socket in an invalid state".to_string()))
            }
            SocketError::AddressNotBindable => ErrorCode::AddressNotAvailable,
            SocketError::AddressInUse => ErrorCode::AddressInUse,
            SocketError::RemoteUnreachable => {
                ErrorCode::Other(Some("remote unreachable".to_string()))
            }
            SocketError::ConnectionRefused => ErrorCode::ConnectionRefused,
            SocketError::ConnectionBroken => ErrorCode::BrokenPipe,
            SocketError::ConnectionReset => ErrorCode::ConnectionReset,
            SocketError::ConnectionAborted => ErrorCode::ConnectionAborted,
            SocketError::DatagramTooLarge => {
                ErrorCode::Other(Some("datagram too large".to_string()))
            }
            SocketError::Other(message) => ErrorCode::Other(message),
        }
    }
}

impl From<LookupError> for ErrorCode {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::AccessDenied => {
                ErrorCode::AccessDenied("the host has not granted name resolution".to_string())
            }
            LookupError::InvalidArgument => {
                ErrorCode::InvalidArgument("not a valid host name".to_string())
            }
            // wasmtime-wasi (the wasio host's wasi:sockets) reports a lookup the run may not
            // make as `permanent-resolver-failure` (every real resolver failure there is
            // `name-unresolvable`), so that is the denial.
            LookupError::PermanentResolverFailure => ErrorCode::AccessDenied(
                "the host has not granted name resolution (it is granted with any connect or \
                 listen address: --allow-connect, --allow-listen)"
                    .to_string(),
            ),
            LookupError::NameUnresolvable | LookupError::TemporaryResolverFailure => {
                ErrorCode::NameUnresolvable
            }
            LookupError::Other(message) => ErrorCode::Other(message),
        }
    }
}

impl From<HostError> for ErrorCode {
    fn from(e: HostError) -> Self {
        match e {
            HostError::AccessDenied(what) => ErrorCode::AccessDenied(what),
            HostError::NotSupported(what) => ErrorCode::NotSupported(what),
            HostError::InvalidArgument(what) => ErrorCode::InvalidArgument(what),
            HostError::AddressInUse => ErrorCode::AddressInUse,
            HostError::AddressNotAvailable => ErrorCode::AddressNotAvailable,
            HostError::NotFound => ErrorCode::NotFound,
            HostError::ConnectionRefused => ErrorCode::ConnectionRefused,
            HostError::ConnectionReset => ErrorCode::ConnectionReset,
            HostError::ConnectionAborted => ErrorCode::ConnectionAborted,
            HostError::BrokenPipe => ErrorCode::BrokenPipe,
            HostError::Timeout => ErrorCode::Timeout,
            HostError::Tls(message) => ErrorCode::Tls(message),
            HostError::Other(message) => ErrorCode::Other(message),
        }
    }
}

/// Shorthand for an `invalid-argument` error.
pub fn invalid(why: &str) -> ErrorCode {
    ErrorCode::InvalidArgument(why.to_string())
}

/// An error code as a sentence, for the messages the provider prints itself (never the Debug
/// form of the variant).
pub fn describe(error: &ErrorCode) -> String {
    let plain = |s: &str| s.to_string();
    match error {
        ErrorCode::IncompleteRead(r) => match r.expected {
            Some(n) => format!("{} bytes read of {n} expected", r.partial.len()),
            None => format!(
                "{} bytes read before the end of the stream",
                r.partial.len()
            ),
        },
        ErrorCode::LimitOverrun(o) if o.found => {
            plain("the separator was found, but the chunk is longer than the limit")
        }
        ErrorCode::LimitOverrun(_) => plain("the separator was not found within the limit"),
        ErrorCode::InvalidArgument(why) => format!("invalid argument: {why}"),
        ErrorCode::Busy => plain("another task is already reading or draining"),
        ErrorCode::Closed(why) => format!("closed: {why}"),
        ErrorCode::ConnectionReset => plain("the connection was reset by the peer"),
        ErrorCode::ConnectionRefused => plain("the connection was refused"),
        ErrorCode::ConnectionAborted => plain("the connection was aborted"),
        ErrorCode::BrokenPipe => plain("the peer is gone (broken pipe)"),
        ErrorCode::Timeout => plain("timed out"),
        ErrorCode::Interrupted => plain("the wait was interrupted"),
        ErrorCode::AddressInUse => plain("the address is already in use"),
        ErrorCode::AddressNotAvailable => plain("the address is not available"),
        ErrorCode::NotFound => plain("no such file or directory"),
        ErrorCode::NameUnresolvable => plain("the name could not be resolved"),
        ErrorCode::AccessDenied(why) => format!("access denied: {why}"),
        ErrorCode::NotSupported(why) => format!("not supported: {why}"),
        ErrorCode::BufferFull => plain("the write queue is full"),
        ErrorCode::Tls(why) => why.clone(),
        ErrorCode::Other(Some(why)) => why.clone(),
        ErrorCode::Other(None) => plain("an unspecified error"),
    }
}
