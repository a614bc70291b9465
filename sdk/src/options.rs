//! The option records of `open_connection`, `start_server` and their Unix variants, with asyncio's
//! defaults (`Default`, from wasio-types), and the conversion of timeouts to the contract's
//! nanoseconds.
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

pub use wasio_types::{
    AddressFamily, AdoptOptions, CertifiedKey, ClientTlsConfig, ConnectOptions, ServerOptions,
    ServerTlsConfig, TlsConfig, TrustRoots, UnixConnectOptions, UnixServerOptions,
};

/// A timeout as the contract's nanoseconds (saturating at `u64::MAX`, about 584 years).
pub(crate) fn nanos(timeout: Option<Duration>) -> Option<u64> {
    timeout.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
