//! Unix domain sockets and adopted host sockets over `wasio:host`: asyncio's
//! `open_unix_connection`, `start_unix_server`, `socket.socketpair` and `sock=` (listeners the
//! host opened for the run).
//!
//! Only the wiring lives here: a host socket's `receive` / `send` streams become the same
//! [`Streams`] a TCP socket gives, so the one [`Conn`] implements every reader and writer
//! behaviour for both; a host listener becomes a [`Listener`] of the one server implementation.

use crate::bindings::wasio::host::types::{HostAddress, HostSocket};
use crate::bindings::wasio::host::{preopens, unix};
use crate::conn::{Conn, Opened, Settings, Streams, Transport};
use crate::connect::settings;
use crate::errors::{invalid, read_error};
use crate::limits;
use crate::server::{self, Listener, ServeConfig, ServerShared};
use crate::tls::{self, Side, Timeouts};
use crate::types::{
    AdoptOptions, ErrorCode, InetAddress, PeerCredentials, ServerOptions, SocketAddress,
    UnixConnectOptions, UnixServerOptions,
};
use std::net::SocketAddr;
use std::rc::Rc;

/// asyncio's default listen backlog.
const DEFAULT_BACKLOG: u32 = 100;

/// Opens the byte streams of a connected host socket.
fn open_streams(socket: HostSocket) -> Opened {
    let peername = socket.remote_address().ok().map(to_wasio);
    let sockname = socket.local_address().ok().map(to_wasio);
    let credentials = socket.peer_credentials().ok().map(|c| PeerCredentials {
        pid: c.pid,
        uid: c.uid,
        gid: c.gid,
    });
    let streams = Streams::of_socket(socket.receive(), |data| socket.send(data));
    Opened {
        transport: Transport::Host(socket),
        streams,
        peername,
        sockname,
        credentials,
    }
}

/// Starts a [`Conn`] over a connected host socket: the twin of [`crate::connect::wire`].
pub fn wire_host(socket: HostSocket, settings: Settings) -> Rc<Conn> {
    open_streams(socket).start(settings)
}

/// Starts a [`Conn`] over a TLS session on a connected host socket, once the handshake is done:
/// the twin of [`crate::connect::wire_tls`].
pub async fn wire_host_tls(
    socket: HostSocket,
    settings: Settings,
    side: Side,
    timeouts: Timeouts,
) -> Result<Rc<Conn>, ErrorCode> {
    open_streams(socket)
        .start_tls(settings, side, timeouts)
        .await
}

/// asyncio's `peername` / `sockname` form of a host address: a Unix path as is (`""` unnamed,
/// `\0name` abstract), an internet address as host and port.
fn to_wasio(address: HostAddress) -> SocketAddress {
    match address {
        HostAddress::Unix(path) => SocketAddress::Unix(path),
        HostAddress::Inet(text) => match text.parse::<SocketAddr>() {
            Ok(SocketAddr::V4(a)) => SocketAddress::Inet(InetAddress {
                host: a.ip().to_string(),
                port: a.port(),
                flow_info: 0,
                scope_id: 0,
            }),
            Ok(SocketAddr::V6(a)) => SocketAddress::Inet(InetAddress {
                host: a.ip().to_string(),
                port: a.port(),
                flow_info: a.flowinfo(),
                scope_id: a.scope_id(),
            }),
            // The host always writes `ip:port`; keep anything else readable rather than lose it.
            Err(_) => SocketAddress::Unix(text),
        },
    }
}

/// The rule shared by the Unix functions: TLS settings only with `ssl`.
fn check_tls(
    ssl: bool,
    server_hostname: bool,
    handshake_timeout: bool,
    shutdown_timeout: bool,
) -> Result<(), ErrorCode> {
    if ssl {
        return Ok(());
    }
    if server_hostname {
        return Err(invalid("server_hostname is only meaningful with ssl"));
    }
    if handshake_timeout {
        return Err(invalid("ssl_handshake_timeout is only meaningful with ssl"));
    }
    if shutdown_timeout {
        return Err(invalid("ssl_shutdown_timeout is only meaningful with ssl"));
    }
    Ok(())
}

/// The validated reader limit, default 65536.
fn limit(limit: Option<u64>) -> Result<usize, ErrorCode> {
    wasio_core::validate_limit(limit.unwrap_or(wasio_core::DEFAULT_LIMIT as u64))
        .map_err(read_error)
}

/// asyncio `open_unix_connection(path)`.
pub async fn open_unix_connection(
    path: String,
    options: UnixConnectOptions,
) -> Result<Rc<Conn>, ErrorCode> {
    let limit = limit(options.limit)?;
    check_tls(
        options.ssl.is_some(),
        options.server_hostname.is_some(),
        options.ssl_handshake_timeout.is_some(),
        options.ssl_shutdown_timeout.is_some(),
    )?;
    let settings = settings(limit, options.write_queue_cap, limits::slot()?);
    match options.ssl {
        // A Unix path names no host, so asyncio requires server_hostname with ssl.
        Some(config) => {
            let side = tls::client_side(config, options.server_hostname)?;
            let timeouts =
                Timeouts::new(options.ssl_handshake_timeout, options.ssl_shutdown_timeout);
            let socket = unix::connect(path).await?;
            wire_host_tls(socket, settings, side, timeouts).await
        }
        None => {
            let socket = unix::connect(path).await?;
            Ok(wire_host(socket, settings))
        }
    }
}

/// asyncio `start_unix_server(path)`: binds and listens through the host; the server's
/// `cleanup_socket` (default on) removes the socket file on close if it is still ours.
pub fn start_unix_server(
    path: String,
    options: UnixServerOptions,
) -> Result<Rc<ServerShared>, ErrorCode> {
    let limit = limit(options.limit)?;
    check_tls(
        options.ssl.is_some(),
        false,
        options.ssl_handshake_timeout.is_some(),
        options.ssl_shutdown_timeout.is_some(),
    )?;
    let backlog = options.backlog.unwrap_or(DEFAULT_BACKLOG);
    let socket = unix::listen(&path, backlog.max(1))?;
    let address = socket
        .local_address()
        .map_or(SocketAddress::Unix(path), to_wasio);
    let cleanup = options.cleanup_socket.unwrap_or(true);
    let listener = Listener::host(socket, address, cleanup);
    let config = ServeConfig {
        backlog,
        keep_alive: false,
        limit,
        write_queue_cap: options.write_queue_cap,
        tls: options.ssl.clone().map(|ssl| {
            (
                ssl,
                Timeouts::new(options.ssl_handshake_timeout, options.ssl_shutdown_timeout),
            )
        }),
    };
    server::serve(
        vec![listener],
        config,
        options.start_serving.unwrap_or(true),
    )
}

/// A connected pair of Unix sockets as two connections (Python `socket.socketpair`).
pub fn socketpair(options: AdoptOptions) -> Result<(Rc<Conn>, Rc<Conn>), ErrorCode> {
    let limit = limit(options.limit)?;
    let (slot_a, slot_b) = (limits::slot()?, limits::slot()?);
    let (a, b) = unix::socketpair()?;
    Ok((
        wire_host(a, settings(limit, options.write_queue_cap, slot_a)),
        wire_host(b, settings(limit, options.write_queue_cap, slot_b)),
    ))
}

/// The listeners the host opened for the run, each adopted as a server under its name.
pub fn preopened_servers(
    options: ServerOptions,
) -> Result<Vec<(String, Rc<ServerShared>)>, ErrorCode> {
    let limit = server::check_options(&options)?;
    let start_serving = options.start_serving.unwrap_or(true);
    let mut servers = Vec::new();
    for (name, socket) in preopens::take_listeners() {
        let address = match socket.local_address() {
            Ok(address) => to_wasio(address),
            Err(e) => return Err(e.into()),
        };
        let config = ServeConfig {
            backlog: options.backlog.unwrap_or(DEFAULT_BACKLOG),
            keep_alive: false,
            limit,
            write_queue_cap: options.write_queue_cap,
            tls: options.ssl.clone().map(|ssl| {
                (
                    ssl,
                    Timeouts::new(options.ssl_handshake_timeout, options.ssl_shutdown_timeout),
                )
            }),
        };
        // The host opened these; their socket files are the host's to remove.
        let listener = Listener::host(socket, address, false);
        servers.push((name, server::serve(vec![listener], config, start_serving)?));
    }
    Ok(servers)
}
