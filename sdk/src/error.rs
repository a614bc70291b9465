//! [`Error`]: every failure of a wasio operation, with asyncio's exception names and messages.

use std::fmt;

use wasio_types::{ErrorCode, IncompleteRead, LimitOverrun};

/// asyncio's message for a read that waits while another read is already waiting.
pub(crate) const READ_BUSY: &str = "read called while another read is already waiting";

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure of a wasio operation. Each case stands for an asyncio exception
/// ([`Error::exception_name`]) and displays asyncio's message for it.
///
/// ```
/// use wasio_sdk::Error;
///
/// let e = Error::IncompleteRead { partial: b"abc".to_vec(), expected: Some(10) };
/// assert_eq!(e.to_string(), "3 bytes read on a total of 10 expected bytes");
/// assert_eq!(e.exception_name(), "IncompleteReadError");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `readexactly` / `readuntil` met EOF first (`asyncio.IncompleteReadError`).
    IncompleteRead {
        /// Every byte that was buffered at EOF; the reader's buffer is empty now.
        partial: Vec<u8>,
        /// How many bytes were asked for; `None` for `readuntil` ("undefined expected bytes").
        expected: Option<u64>,
    },
    /// `readuntil` / `readline` went past the reader's limit (`asyncio.LimitOverrunError`;
    /// asyncio's `readline` raises `ValueError` with the same message).
    LimitOverrun {
        /// True: the separator is there but the chunk before it is longer than the limit.
        found: bool,
        /// Where the separator starts (found), else how far the buffer was scanned.
        consumed: u64,
    },
    /// An argument is out of range or not allowed here (`ValueError`); the text says which.
    InvalidArgument(String),
    /// Another operation is already waiting (`RuntimeError`); the text is asyncio's message.
    Busy(&'static str),
    /// The object is closed or shut down for this operation (`RuntimeError`), e.g.
    /// "Cannot call write() after write_eof()".
    Closed(String),
    /// The peer reset the connection, or it was lost (`ConnectionResetError`).
    ConnectionReset,
    /// Nobody listens at the address (`ConnectionRefusedError`).
    ConnectionRefused,
    /// The connection was aborted locally (`ConnectionAbortedError`).
    ConnectionAborted,
    /// Writing to a connection whose peer is gone (`BrokenPipeError`).
    BrokenPipe,
    /// A timeout ran out (`TimeoutError`); nothing was consumed.
    Timeout,
    /// The wait was ended by an `interrupt` of the object it waited on; nothing was consumed.
    /// (The SDK never interrupts: Rust drops a future instead. It is here for completeness.)
    Interrupted,
    /// The local address is taken (`OSError` EADDRINUSE).
    AddressInUse,
    /// The local address cannot be used here (`OSError` EADDRNOTAVAIL).
    AddressNotAvailable,
    /// The Unix socket path, or a directory on its way, does not exist (`FileNotFoundError`).
    NotFound,
    /// The host name does not resolve (`socket.gaierror`).
    NameUnresolvable,
    /// The host did not grant this address or path (`PermissionError`); names what was denied.
    AccessDenied(String),
    /// Not available here (`NotImplementedError`), e.g. `write_eof` over TLS; names what is missing.
    NotSupported(String),
    /// The write queue would exceed its hard cap; nothing of the write was queued.
    BufferFull,
    /// A TLS failure (`ssl.SSLError`): certificate, alert or protocol, in words.
    Tls(String),
    /// Anything else (`OSError`), with a message when one is known.
    Other(Option<String>),
}

impl Error {
    /// The name of the Python exception this error stands for, e.g. `"ConnectionResetError"`.
    ///
    /// ```
    /// assert_eq!(wasio_sdk::Error::Timeout.exception_name(), "TimeoutError");
    /// ```
    pub fn exception_name(&self) -> &'static str {
        match self {
            Error::IncompleteRead { .. } => "IncompleteReadError",
            Error::LimitOverrun { .. } => "LimitOverrunError",
            Error::InvalidArgument(_) => "ValueError",
            Error::Busy(_) | Error::Closed(_) => "RuntimeError",
            Error::ConnectionReset => "ConnectionResetError",
            Error::ConnectionRefused => "ConnectionRefusedError",
            Error::ConnectionAborted => "ConnectionAbortedError",
            Error::BrokenPipe => "BrokenPipeError",
            Error::Timeout => "TimeoutError",
            Error::Interrupted => "InterruptedError",
            Error::AddressInUse | Error::AddressNotAvailable | Error::Other(_) => "OSError",
            Error::NotFound => "FileNotFoundError",
            Error::NameUnresolvable => "socket.gaierror",
            Error::AccessDenied(_) => "PermissionError",
            Error::NotSupported(_) => "NotImplementedError",
            Error::BufferFull => "BufferError",
            Error::Tls(_) => "ssl.SSLError",
        }
    }

    /// The contract's error value for this error (e.g. for
    /// [`Reader::set_exception`](crate::Reader::set_exception)).
    pub fn to_error_code(&self) -> ErrorCode {
        match self.clone() {
            Error::IncompleteRead { partial, expected } => {
                ErrorCode::IncompleteRead(IncompleteRead { partial, expected })
            }
            Error::LimitOverrun { found, consumed } => {
                ErrorCode::LimitOverrun(LimitOverrun { found, consumed })
            }
            Error::InvalidArgument(s) => ErrorCode::InvalidArgument(s),
            Error::Busy(_) => ErrorCode::Busy,
            Error::Closed(s) => ErrorCode::Closed(s),
            Error::ConnectionReset => ErrorCode::ConnectionReset,
            Error::ConnectionRefused => ErrorCode::ConnectionRefused,
            Error::ConnectionAborted => ErrorCode::ConnectionAborted,
            Error::BrokenPipe => ErrorCode::BrokenPipe,
            Error::Timeout => ErrorCode::Timeout,
            Error::Interrupted => ErrorCode::Interrupted,
            Error::AddressInUse => ErrorCode::AddressInUse,
            Error::AddressNotAvailable => ErrorCode::AddressNotAvailable,
            Error::NotFound => ErrorCode::NotFound,
            Error::NameUnresolvable => ErrorCode::NameUnresolvable,
            Error::AccessDenied(s) => ErrorCode::AccessDenied(s),
            Error::NotSupported(s) => ErrorCode::NotSupported(s),
            Error::BufferFull => ErrorCode::BufferFull,
            Error::Tls(s) => ErrorCode::Tls(s),
            Error::Other(s) => ErrorCode::Other(s),
        }
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::IncompleteRead(IncompleteRead { partial, expected }) => {
                Error::IncompleteRead { partial, expected }
            }
            ErrorCode::LimitOverrun(LimitOverrun { found, consumed }) => {
                Error::LimitOverrun { found, consumed }
            }
            ErrorCode::InvalidArgument(s) => Error::InvalidArgument(s),
            ErrorCode::Busy => Error::Busy(READ_BUSY),
            ErrorCode::Closed(s) => Error::Closed(s),
            ErrorCode::ConnectionReset => Error::ConnectionReset,
            ErrorCode::ConnectionRefused => Error::ConnectionRefused,
            ErrorCode::ConnectionAborted => Error::ConnectionAborted,
            ErrorCode::BrokenPipe => Error::BrokenPipe,
            ErrorCode::Timeout => Error::Timeout,
            ErrorCode::Interrupted => Error::Interrupted,
            ErrorCode::AddressInUse => Error::AddressInUse,
            ErrorCode::AddressNotAvailable => Error::AddressNotAvailable,
            ErrorCode::NotFound => Error::NotFound,
            ErrorCode::NameUnresolvable => Error::NameUnresolvable,
            ErrorCode::AccessDenied(s) => Error::AccessDenied(s),
            ErrorCode::NotSupported(s) => Error::NotSupported(s),
            ErrorCode::BufferFull => Error::BufferFull,
            ErrorCode::Tls(s) => Error::Tls(s),
            ErrorCode::Other(s) => Error::Other(s),
        }
    }
}

impl fmt::Display for Error {
    /// asyncio's message for the error (`str(exc)` in Python).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::IncompleteRead { partial, expected } => {
                let len = partial.len();
                match expected {
                    Some(n) => write!(f, "{len} bytes read on a total of {n} expected bytes"),
                    None => write!(f, "{len} bytes read on a total of undefined expected bytes"),
                }
            }
            Error::LimitOverrun { found: true, .. } => {
                f.write_str("Separator is found, but chunk is longer than limit")
            }
            Error::LimitOverrun { found: false, .. } => {
                f.write_str("Separator is not found, and chunk exceed the limit")
            }
            Error::InvalidArgument(s) | Error::Closed(s) | Error::Tls(s) => f.write_str(s),
            Error::Busy(s) => f.write_str(s),
            Error::ConnectionReset => f.write_str("Connection lost"),
            Error::ConnectionRefused => f.write_str("Connection refused"),
            Error::ConnectionAborted => f.write_str("Software caused connection abort"),
            Error::BrokenPipe => f.write_str("Broken pipe"),
            Error::Timeout => f.write_str("timed out"),
            Error::Interrupted => f.write_str("the wait was interrupted"),
            Error::AddressInUse => f.write_str("Address already in use"),
            Error::AddressNotAvailable => f.write_str("Cannot assign requested address"),
            Error::NotFound => f.write_str("No such file or directory"),
            Error::NameUnresolvable => f.write_str("Name or service not known"),
            Error::AccessDenied(what) if what.is_empty() => f.write_str("Permission denied"),
            Error::AccessDenied(what) => write!(f, "Permission denied: {what}"),
            Error::NotSupported(what) if what.is_empty() => f.write_str("not supported"),
            Error::NotSupported(what) => f.write_str(what),
            Error::BufferFull => f.write_str("write queue is full (its hard cap was reached)"),
            Error::Other(Some(s)) => f.write_str(s),
            Error::Other(None) => f.write_str("I/O error"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    /// For the `futures::io` traits: the matching [`std::io::ErrorKind`], with the error inside.
    fn from(error: Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match &error {
            Error::IncompleteRead { .. } => K::UnexpectedEof,
            Error::LimitOverrun { .. } => K::InvalidData,
            Error::InvalidArgument(_) => K::InvalidInput,
            Error::Busy(_) => K::ResourceBusy,
            Error::Closed(_) => K::NotConnected,
            Error::ConnectionReset => K::ConnectionReset,
            Error::ConnectionRefused => K::ConnectionRefused,
            Error::ConnectionAborted => K::ConnectionAborted,
            Error::BrokenPipe => K::BrokenPipe,
            Error::Timeout => K::TimedOut,
            Error::Interrupted => K::Interrupted,
            Error::AddressInUse => K::AddrInUse,
            Error::AddressNotAvailable => K::AddrNotAvailable,
            Error::NotFound => K::NotFound,
            Error::NameUnresolvable => K::NotFound,
            Error::AccessDenied(_) => K::PermissionDenied,
            Error::NotSupported(_) => K::Unsupported,
            Error::BufferFull => K::OutOfMemory,
            Error::Tls(_) | Error::Other(_) => K::Other,
        };
        std::io::Error::new(kind, error)
    }
}
