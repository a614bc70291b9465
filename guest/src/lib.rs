//! The wasio provider component: exports `wasio:streams` (asyncio's Streams API) and implements
//! every stream semantic over `wasi:sockets@0.3.0` (TCP) and `wasio:host` (Unix sockets, TLS).
//!
//! Stream logic that needs no I/O (buffering, limits, separator search, watermarks) lives in
//! `wasio-core`; this crate wires it to sockets: each connection has a receive pump and a send
//! pump running as spawned tasks (see `conn`), and the exported resources only touch buffers.

mod addr;
mod conn;
mod connect;
mod errors;
mod handover;
mod limits;
mod reader;
mod server;
mod shutdown;
mod task_exit;
mod timeout;
mod timer;
mod tls;
mod unix;
mod writer;

/// Generated bindings of the `wasio:streams/provider` world (generated code uses `unsafe`).
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "wasio:streams/provider",
        generate_all,
    });
}

use bindings::exports::wasio::streams::streams::{
    Connection, Guest, GuestConnection, Reader, Server, Writer,
};
use bindings::exports::wasio::streams::types::{
    AdoptOptions, ConnectOptions, ErrorCode, ExtraInfo, ServerOptions, UnixConnectOptions,
    UnixServerOptions,
};
use conn::Conn;
use reader::ReaderImpl;
use server::{ServerImpl, ServingImpl};
use std::cell::RefCell;
use std::rc::Rc;
use timer::TimerImpl;
use writer::WriterImpl;

/// The `connection` resource: a reader/writer pair not yet split.
pub struct ConnectionImpl {
    conn: RefCell<Option<Rc<Conn>>>,
}

impl ConnectionImpl {
    pub(crate) fn new(conn: Rc<Conn>) -> Self {
        Self {
            conn: RefCell::new(Some(conn)),
        }
    }
}

impl Drop for ConnectionImpl {
    fn drop(&mut self) {
        // A connection dropped without being split has no reader or writer to close it.
        if let Some(conn) = self.conn.borrow_mut().take() {
            conn.close();
        }
    }
}

impl GuestConnection for ConnectionImpl {
    fn extra_info(&self) -> ExtraInfo {
        match &*self.conn.borrow() {
            Some(conn) => conn.extra_info(),
            None => ExtraInfo {
                peername: None,
                sockname: None,
                peercert: None,
                cipher: None,
                tls_version: None,
                alpn_protocol: None,
                server_hostname: None,
                peer_credentials: None,
            },
        }
    }

    fn split(this: Connection) -> (Reader, Writer) {
        let conn = this.get::<ConnectionImpl>().conn.borrow_mut().take();
        // `split` consumes the connection, so its state is always still there; a fresh closed
        // pair would only arise from a bug, never from caller input.
        match conn {
            Some(conn) => (
                Reader::new(ReaderImpl::new(conn.clone())),
                Writer::new(WriterImpl::new(conn)),
            ),
            None => unreachable_split(),
        }
    }
}

/// `split` takes its connection by value, so the state cannot be gone; this traps as a provider bug.
#[allow(
    clippy::panic,
    reason = "only reachable through a provider bug, never through input"
)]
fn unreachable_split() -> ! {
    panic!("connection state missing in split")
}

/// The exported `wasio:streams/streams` functions.
struct Provider;

impl Guest for Provider {
    type Reader = ReaderImpl;
    type Writer = WriterImpl;
    type Connection = ConnectionImpl;
    type Server = ServerImpl;
    type Serving = ServingImpl;
    type Timer = TimerImpl;

    async fn open_connection(
        host: String,
        port: u16,
        options: ConnectOptions,
    ) -> Result<Connection, ErrorCode> {
        task_exit::deferred(shutdown::unless_shutting_down(async move {
            let timeout = options.timeout;
            let conn =
                timeout::with_timeout(timeout, connect::open_connection(host, port, options))
                    .await?;
            Ok(Connection::new(ConnectionImpl::new(conn)))
        }))
        .await
    }

    async fn start_server(
        hosts: Vec<String>,
        port: u16,
        options: ServerOptions,
    ) -> Result<Server, ErrorCode> {
        task_exit::deferred(shutdown::unless_shutting_down(async move {
            let server = server::start_server(hosts, port, options).await?;
            Ok(Server::new(ServerImpl { server }))
        }))
        .await
    }

    async fn open_unix_connection(
        path: String,
        options: UnixConnectOptions,
    ) -> Result<Connection, ErrorCode> {
        task_exit::deferred(shutdown::unless_shutting_down(async move {
            let timeout = options.timeout;
            let conn =
                timeout::with_timeout(timeout, unix::open_unix_connection(path, options)).await?;
            Ok(Connection::new(ConnectionImpl::new(conn)))
        }))
        .await
    }

    async fn start_unix_server(
        path: String,
        options: UnixServerOptions,
    ) -> Result<Server, ErrorCode> {
        task_exit::deferred(shutdown::unless_shutting_down(async move {
            let server = unix::start_unix_server(path, options)?;
            Ok(Server::new(ServerImpl { server }))
        }))
        .await
    }

    fn socketpair(options: AdoptOptions) -> Result<(Connection, Connection), ErrorCode> {
        shutdown::refuse_while_shutting_down()?;
        let (a, b) = unix::socketpair(options)?;
        Ok((
            Connection::new(ConnectionImpl::new(a)),
            Connection::new(ConnectionImpl::new(b)),
        ))
    }

    async fn preopened_servers(options: ServerOptions) -> Result<Vec<(String, Server)>, ErrorCode> {
        task_exit::deferred(shutdown::unless_shutting_down(async move {
            Ok(unix::preopened_servers(options)?
                .into_iter()
                .map(|(name, server)| (name, Server::new(ServerImpl { server })))
                .collect())
        }))
        .await
    }
}

/// The component's exports (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::Provider;
    crate::bindings::export!(Provider with_types_in crate::bindings);
}
