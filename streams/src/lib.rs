//! # wasio-streams: asyncio's Streams semantics over `wasi:sockets` 0.3 and `wasio:host`
//!
//! The one implementation of wasio's stream semantics, as a library. It imports
//! `wasi:sockets@0.3.0` (TCP, name lookup), `wasi:clocks` and `wasio:host` (Unix sockets, TLS, the
//! run's limits and shutdown) and offers the `wasio:streams` contract's operations as Rust:
//! [`open_connection`], [`start_server`], [`Reader`], [`Writer`], [`Server`], [`Timer`],
//! [`Connector`], with the contract's own types ([`types`]).
//!
//! Two things are built on it:
//! - the provider component (`provider/`), a thin layer that exports these operations as
//!   `wasio:streams` for apps in any language (the composed mode);
//! - wasio-sdk's linked mode, where a Rust app calls them directly: no component boundary and no
//!   cross-component call per operation.
//!
//! Stream logic that needs no I/O (buffering, limits, separator search, watermarks, the
//! connection's lifecycle) lives in `wasio-core`; this crate wires it to sockets: each connection
//! has a receive pump and a send pump running as spawned tasks (see `conn`), and the read and
//! write halves only touch buffers. Everything here must run inside a component task
//! (`wit_bindgen::spawn` needs one): an export call, or a task it spawned.

mod addr;
mod conn;
mod connect;
mod connector;
mod errors;
mod limits;
mod reader;
mod server;
mod shutdown;
mod timeout;
mod timer;
mod tls;
mod unix;
mod writer;

/// Generated bindings of the `wasio:streams/linked` world: the imports this library needs; the
/// contract's types are wasio-types' (generated code uses `unsafe`).
#[allow(unsafe_code, missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "wasio:streams/linked",
        generate_all,
    });
}

/// The `wasio:streams` contract's types: the error variant, option records, addresses and
/// connection facts (the wasio-types crate).
pub use wasio_types as types;

pub use connector::Connector;
pub use reader::{Chunks, Reader};
pub use server::{Server, Serving};
pub use timer::Timer;
pub use writer::Writer;

use conn::Conn;
use std::rc::Rc;
use types::{
    AdoptOptions, ConnectOptions, ErrorCode, ExtraInfo, ServerOptions, UnixConnectOptions,
    UnixServerOptions,
};

/// A connection not yet split into its [`Reader`] and [`Writer`]. Dropping it closes it.
pub struct Connection {
    conn: Option<Rc<Conn>>,
}

impl Connection {
    pub(crate) fn new(conn: Rc<Conn>) -> Self {
        Self { conn: Some(conn) }
    }

    /// asyncio `get_extra_info`'s values.
    pub fn extra_info(&self) -> ExtraInfo {
        self.conn
            .as_ref()
            .map(|conn| conn.extra_info())
            .unwrap_or_default()
    }

    /// The connection's two halves.
    pub fn split(mut self) -> (Reader, Writer) {
        match self.conn.take() {
            Some(conn) => (Reader::new(conn.clone()), Writer::new(conn)),
            None => unreachable_split(),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // A connection dropped without being split has no reader or writer to close it.
        if let Some(conn) = self.conn.take() {
            conn.close();
        }
    }
}

/// `split` consumes the connection, and only `split` and `drop` take its state, so the state
/// cannot be gone; this traps as a bug in this crate, never through input.
#[allow(
    clippy::panic,
    reason = "only reachable through a bug in this crate, never through input"
)]
fn unreachable_split() -> ! {
    panic!("connection state missing in split")
}

/// The halves and handles print as their kind only (like the contract's resource handles).
macro_rules! opaque_debug {
    ($($t:ty),*) => {
        $(impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        })*
    };
}
opaque_debug!(
    Connection, Connector, Reader, Writer, Server, Serving, Timer, Chunks
);

/// asyncio `open_connection`: connects (TCP, optionally TLS) to `host`:`port`.
pub async fn open_connection(
    host: String,
    port: u16,
    options: ConnectOptions,
) -> Result<Connection, ErrorCode> {
    shutdown::unless_shutting_down(async move {
        let timeout = options.timeout;
        let conn =
            timeout::with_timeout(timeout, connect::open_connection(host, port, options)).await?;
        Ok(Connection::new(conn))
    })
    .await
}

/// asyncio `start_server`: listens on every address of `hosts` (all interfaces when empty).
pub async fn start_server(
    hosts: Vec<String>,
    port: u16,
    options: ServerOptions,
) -> Result<Server, ErrorCode> {
    shutdown::unless_shutting_down(async move {
        let server = server::start_server(hosts, port, options).await?;
        Ok(Server { server })
    })
    .await
}

/// asyncio `open_unix_connection`.
pub async fn open_unix_connection(
    path: String,
    options: UnixConnectOptions,
) -> Result<Connection, ErrorCode> {
    shutdown::unless_shutting_down(async move {
        let timeout = options.timeout;
        let conn =
            timeout::with_timeout(timeout, unix::open_unix_connection(path, options)).await?;
        Ok(Connection::new(conn))
    })
    .await
}

/// asyncio `start_unix_server`.
pub async fn start_unix_server(
    path: String,
    options: UnixServerOptions,
) -> Result<Server, ErrorCode> {
    shutdown::unless_shutting_down(async move {
        let server = unix::start_unix_server(path, options)?;
        Ok(Server { server })
    })
    .await
}

/// A connected pair of Unix sockets (`socket.socketpair()` handed to asyncio), both ends ours.
pub fn socketpair(options: AdoptOptions) -> Result<(Connection, Connection), ErrorCode> {
    shutdown::refuse_while_shutting_down()?;
    let (a, b) = unix::socketpair(options)?;
    Ok((Connection::new(a), Connection::new(b)))
}

/// The status the run ends with if the app's `run` returns an error (Python's `sys.exit(3)`);
/// see the contract's `set-exit-status`. The host keeps it: nothing ends here.
pub fn set_exit_status(status: u8) {
    bindings::wasio::host::exit::set_status(status);
}

/// The listeners the host opened for this run (`wasio run --listen`), by name.
pub async fn preopened_servers(options: ServerOptions) -> Result<Vec<(String, Server)>, ErrorCode> {
    shutdown::unless_shutting_down(async move {
        Ok(unix::preopened_servers(options)?
            .into_iter()
            .map(|(name, server)| (name, Server { server }))
            .collect())
    })
    .await
}
