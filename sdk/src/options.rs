//! The option records of `open_connection`, `start_server` and their Unix variants, with asyncio's
//! defaults (`Default`), and the conversion of timeouts to the contract's nanoseconds.
//!
//! Every field left at its default means "asyncio's default" (the WIT documents each one), so
//! set only what you need:
//!
//! ```
//! use wasio_sdk::ConnectOptions;
//!
//! let options = ConnectOptions { limit: Some(1024), ..Default::default() };
//! assert_eq!(options.limit, Some(1024));
//! assert!(options.ssl.is_none());
//! ```
//!
//! TCP connections have TCP_NODELAY, as asyncio's (small writes go out at once);
//! `tcp_nodelay: Some(false)` turns it off, for a connection or for every connection a server
//! accepts, letting Nagle's algorithm coalesce small writes. `ServerOptions::reuse_port` lets
//! several servers share a port (SO_REUSEPORT).
//!
//! ```
//! use wasio_sdk::{ConnectOptions, ServerOptions};
//!
//! let batched = ConnectOptions { tcp_nodelay: Some(false), ..Default::default() };
//! let shared = ServerOptions { reuse_port: true, ..Default::default() };
//! assert_eq!((batched.tcp_nodelay, shared.reuse_port), (Some(false), true));
//! ```

use std::time::Duration;

pub use crate::bindings::wasio::streams::types::{
    AddressFamily, AdoptOptions, CertifiedKey, ClientTlsConfig, ConnectOptions, ServerOptions,
    ServerTlsConfig, TlsConfig, TrustRoots, UnixConnectOptions, UnixServerOptions,
};

/// A timeout as the contract's nanoseconds (saturating at `u64::MAX`, about 584 years).
pub(crate) fn nanos(timeout: Option<Duration>) -> Option<u64> {
    timeout.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

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

impl Default for AdoptOptions {
    /// Limit 64 KiB, write queue cap the host's (64 MiB unless the host sets another).
    fn default() -> Self {
        AdoptOptions {
            limit: None,
            write_queue_cap: None,
        }
    }
}
