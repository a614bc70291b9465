//! Host TLS (rustls): sessions that turn a connection's ciphertext byte streams into cleartext
//! streams, client and server side, for `wasio:host/tls`.
//!
//! - [`config`] builds rustls client and server configurations from the WIT records (trusted
//!   roots, client certificates, hostname rules, ALPN).
//! - [`session`] runs one session: the ciphertext pipes, the handshake with its timeout, the
//!   cleartext receive side and the send side with close_notify and its shutdown timeout.
//! - [`info`] describes a finished handshake: peer certificate summary, cipher, version, ALPN.
//! - [`errors`] turns rustls and I/O failures into readable `error-code` values.

pub mod config;
pub mod errors;
pub mod info;
pub mod session;

pub use session::TlsSession;
