//! # wasio-types: the `wasio:streams` contract's types for Rust
//!
//! One Rust definition of the contract's records and variants (the error variant, the option
//! records with asyncio's defaults, addresses, connection facts), generated from `wit/types.wit`.
//! wasio-streams (the semantics) and wasio-sdk (the app-facing API) both use these, in linked
//! and in composed mode, so an app sees the same types either way. The provider component
//! exports the contract, which wit-bindgen generates anew; it converts at that boundary.

use std::fmt;

/// Generated from the `wasio:streams/contract-types` world: types only, no functions (generated
/// code uses `unsafe`). The world exports the interface, and with `pub_export_macro` wit-bindgen
/// declares exports only where the (never invoked) export macro is, so linking this crate adds no
/// import or export to a component: only the crates that call or export the contract do.
#[allow(unsafe_code, missing_docs, unused_macros, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "wasio:streams/contract-types",
        additional_derives: [PartialEq, Eq],
        pub_export_macro: true,
        export_macro_name: "__never_exported",
        generate_all,
    });
}

pub use bindings::exports::wasio::streams::types::*;

impl Default for AddressFamily {
    /// Any family (`socket.AF_UNSPEC`).
    fn default() -> Self {
        AddressFamily::Unspecified
    }
}

impl Default for TrustRoots {
    /// The web PKI roots bundled into the host.
    fn default() -> Self {
        TrustRoots::WebRoots
    }
}

impl Default for ClientTlsConfig {
    /// Web PKI roots, no client certificate, no ALPN.
    fn default() -> Self {
        ClientTlsConfig {
            roots: TrustRoots::WebRoots,
            client_cert: None,
            alpn_protocols: Vec::new(),
        }
    }
}

impl Default for ConnectOptions {
    /// asyncio's `open_connection` defaults: plain TCP with TCP_NODELAY, limit 64 KiB, no
    /// timeout.
    fn default() -> Self {
        ConnectOptions {
            limit: None,
            ssl: None,
            server_hostname: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
            family: AddressFamily::Unspecified,
            local_addr: None,
            happy_eyeballs_delay: None,
            interleave: None,
            timeout: None,
            write_queue_cap: None,
            tcp_nodelay: None,
        }
    }
}

impl Default for ServerOptions {
    /// asyncio's `start_server` defaults: backlog 100, reuse-address on, reuse-port off,
    /// TCP_NODELAY on accepted connections, serving at once.
    fn default() -> Self {
        ServerOptions {
            limit: None,
            family: AddressFamily::Unspecified,
            backlog: None,
            reuse_address: None,
            reuse_port: false,
            keep_alive: false,
            ssl: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
            start_serving: None,
            write_queue_cap: None,
            tcp_nodelay: None,
        }
    }
}

impl Default for UnixConnectOptions {
    /// asyncio's `open_unix_connection` defaults.
    fn default() -> Self {
        UnixConnectOptions {
            limit: None,
            ssl: None,
            server_hostname: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
            timeout: None,
            write_queue_cap: None,
        }
    }
}

impl Default for UnixServerOptions {
    /// asyncio's `start_unix_server` defaults: backlog 100, cleanup-socket on.
    fn default() -> Self {
        UnixServerOptions {
            limit: None,
            backlog: None,
            ssl: None,
            ssl_handshake_timeout: None,
            ssl_shutdown_timeout: None,
            start_serving: None,
            cleanup_socket: None,
            write_queue_cap: None,
        }
    }
}

/// Nothing known: a connection that is gone, or not split yet and taken.
impl Default for ExtraInfo {
    fn default() -> Self {
        ExtraInfo {
            peername: None,
            sockname: None,
            peercert: None,
            cipher: None,
            tls_version: None,
            alpn_protocol: None,
            server_hostname: None,
            peer_credentials: None,
        }
    }
}

impl Default for AdoptOptions {
    /// Limit 64 KiB, write queue cap the host's (64 MiB unless the host sets another).
    fn default() -> Self {
        AdoptOptions {
            limit: None,
            write_queue_cap: None,
        }
    }
}

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
    /// use wasio_types::{InetAddress, SocketAddress};
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
/// assert_eq!(wasio_types::python_str_repr("Hello World!"), "'Hello World!'");
/// assert_eq!(wasio_types::python_str_repr("it's"), "\"it's\"");
/// assert_eq!(wasio_types::python_str_repr("a\n"), "'a\\n'");
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
