//! The host's native sockets, free of WIT types: what the glue in [`crate::host_impl`] hands to
//! the guest.
//!
//! - [`tcp`]: TCP sockets through their `wasi:sockets` life (glue: `host_impl::wasi_tcp`).
//! - [`unix`]: Unix domain sockets, checked against the run's `--allow-unix` grants through held
//!   directories, and the socket files their listeners create.
//! - [`stream`] and [`listener`]: a connected Unix or TCP stream and a Unix or TCP listener;
//!   [`socket::HostSocket`] is either, as the `host-socket` resource holds it.
//! - [`preopen`]: the listeners the host opens before a run (`--listen`).
//!
//! Failures are [`std::io::Error`]s; the glue converts them to `wasio:host`'s `error-code` in
//! one place (`host_impl::conv`). A failure the OS does not make (a refused grant, a call on
//! the wrong kind of socket) is an error of the kind the app's exception follows from:
//! `PermissionDenied`, `Unsupported`, `InvalidInput`.

pub mod listener;
pub mod preopen;
pub mod socket;
pub mod stream;
pub mod tcp;
pub mod unix;

use std::io;
use std::net::SocketAddr;

/// A socket address as the app knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A Unix socket: its path, `\0name` in the abstract namespace, `""` when unnamed.
    Unix(String),
    /// An internet socket.
    Inet(SocketAddr),
}

/// The credentials of a Unix socket's peer process (SO_PEERCRED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The peer's process id, where the OS reports it.
    pub pid: Option<i32>,
    /// The peer's user id.
    pub uid: u32,
    /// The peer's group id.
    pub gid: u32,
}

/// An argument the host refuses (`invalid-argument` for the app).
pub(crate) fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why.into())
}

/// An operation this socket or platform does not have (`not-supported` for the app).
pub(crate) fn unsupported(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, why.into())
}

/// A use the run's grants refuse (`access-denied` for the app).
pub(crate) fn denied(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why.into())
}
