//! Socket addresses and connection metadata: [`SocketAddress`] (asyncio's `peername` /
//! `sockname`) shown as `host:port` or as Python's tuple `repr`, and [`ExtraInfo`].

use std::fmt;

pub use crate::bindings::wasio::streams::types::{
    ExtraInfo, InetAddress, PeerCertificate, PeerCredentials, SocketAddress,
};

impl fmt::Display for SocketAddress {
    /// `127.0.0.1:8888`, `[::1]:8888`, or a Unix socket path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketAddress::Inet(a) if a.host.contains(':') => write!(f, "[{}]:{}", a.host, a.port),
            SocketAddress::Inet(a) => write!(f, "{}:{}", a.host, a.port),
            SocketAddress::Unix(path) => f.write_str(path),
        }
    }
}

impl SocketAddress {
    /// Python's `repr` of the address as asyncio gives it: `('127.0.0.1', 8888)`,
    /// `('::1', 8888, 0, 0)`, or `'/path'`.
    ///
    /// ```
    /// use wasio_sdk::{InetAddress, SocketAddress};
    ///
    /// let addr = SocketAddress::Inet(InetAddress {
    ///     host: "127.0.0.1".into(), port: 8888, flow_info: 0, scope_id: 0,
    /// });
    /// assert_eq!(addr.python_repr(), "('127.0.0.1', 8888)");
    /// assert_eq!(addr.to_string(), "127.0.0.1:8888");
    /// ```
    pub fn python_repr(&self) -> String {
        match self {
            SocketAddress::Inet(a) if a.host.contains(':') => {
                format!(
                    "('{}', {}, {}, {})",
                    a.host, a.port, a.flow_info, a.scope_id
                )
            }
            SocketAddress::Inet(a) => format!("('{}', {})", a.host, a.port),
            SocketAddress::Unix(path) => python_str_repr(path),
        }
    }
}

/// Python's `repr` of a `str`, as asyncio's docs' examples print messages
/// (`print(f"Received {message!r}")`): single quotes, or double quotes when the text has a single
/// quote and no double one; backslashes and control characters escaped.
///
/// ```
/// assert_eq!(wasio_sdk::python_str_repr("Hello World!"), "'Hello World!'");
/// assert_eq!(wasio_sdk::python_str_repr("it's"), "\"it's\"");
/// assert_eq!(wasio_sdk::python_str_repr("a\n"), "'a\\n'");
/// ```
pub fn python_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}
