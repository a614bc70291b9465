//! asyncio `start_server` and `Server`: binding, listening, an accept pump per listening socket,
//! the queue of accepted connections the app takes with `accept`, and the bookkeeping of the
//! connections it accepted (for `close_clients`, `abort_clients`, `wait_closed`).
//!
//! A listening socket is a wasi:sockets TCP socket or a wasio host socket (a Unix listener, or a
//! listener the host opened); both are served by the same code (see [`Listener`]).

use crate::Connection;
use crate::addr;
use crate::bindings::wasi::sockets::types::TcpSocket;
use crate::bindings::wasio::host::limits as host_limits;
use crate::bindings::wasio::host::tcp;
use crate::bindings::wasio::host::types::HostSocket;
use crate::conn::{CloseObserver, Conn, Settings};
use crate::connect::{resolve, settings, wire, wire_tls};
use crate::errors::{invalid, read_error};
use crate::limits;
use crate::timeout::bounded;
use crate::tls::{self, Timeouts};
use crate::types::{AddressFamily, ErrorCode, ServerOptions, ServerTlsConfig, SocketAddress};
use futures::future::{Either, select};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::rc::{Rc, Weak};
use wasio_core::notify::Notify;
use wit_bindgen::StreamReader;

/// asyncio's default listen backlog.
const DEFAULT_BACKLOG: u32 = 100;

/// A listening socket of either kind.
enum ListenSocket {
    Tcp(TcpSocket),
    Host(HostSocket),
}

/// The stream of accepted sockets of a [`ListenSocket`].
enum AcceptStream {
    Tcp(StreamReader<TcpSocket>),
    Host(StreamReader<HostSocket>),
}

/// One accepted socket.
enum Accepted {
    Tcp(TcpSocket),
    Host(HostSocket),
}

impl AcceptStream {
    /// The next accepted socket; `None` once the listener stopped.
    async fn next(&mut self) -> Option<Accepted> {
        match self {
            Self::Tcp(stream) => stream.next().await.map(Accepted::Tcp),
            Self::Host(stream) => stream.next().await.map(Accepted::Host),
        }
    }
}

/// One listening socket.
pub struct Listener {
    socket: Option<ListenSocket>,
    stream: Option<AcceptStream>,
    address: SocketAddress,
    /// A Unix listener whose socket file is removed on close if it is still ours
    /// (asyncio `cleanup_socket`).
    cleanup: bool,
}

impl Listener {
    /// A listener over a host socket (Unix, or opened by the host) that serves at `address`.
    pub fn host(socket: HostSocket, address: SocketAddress, cleanup: bool) -> Self {
        Self {
            socket: Some(ListenSocket::Host(socket)),
            stream: None,
            address,
            cleanup,
        }
    }

    /// Starts listening: the stream of accepted sockets.
    fn listen(&mut self) -> Result<(), ErrorCode> {
        self.stream = match &self.socket {
            Some(ListenSocket::Tcp(socket)) => Some(AcceptStream::Tcp(socket.listen()?)),
            Some(ListenSocket::Host(socket)) => Some(AcceptStream::Host(socket.accept()?)),
            None => None,
        };
        Ok(())
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Listeners are dropped when the server closes; the socket file goes first.
        if self.cleanup
            && let Some(ListenSocket::Host(socket)) = &self.socket
        {
            socket.cleanup();
        }
    }
}

/// What every connection a server accepts gets.
pub struct ServeConfig {
    /// Listen backlog, also the most accepted connections waiting for the app.
    pub backlog: u32,
    /// TCP keep-alive on accepted TCP connections.
    pub keep_alive: bool,
    /// Reader limit (validated).
    pub limit: usize,
    /// Write queue hard cap.
    pub write_queue_cap: Option<u64>,
    /// `ssl`: every accepted connection does a TLS handshake before it is handed out.
    pub tls: Option<(ServerTlsConfig, Timeouts)>,
}

struct ServerState {
    listeners: Vec<Listener>,
    serving: bool,
    closed: bool,
    /// A `serving` handle (serve_forever) exists.
    forever: bool,
    /// Accepted connections not yet handed to the app; still handed out after `close`.
    pending: VecDeque<Rc<Conn>>,
    /// The app dropped the server: nobody can take `pending` any more.
    discarded: bool,
    /// The connections this server accepted that may still be open (closed ones are pruned now
    /// and then: each `Weak` keeps its connection's allocation alive).
    clients: Vec<Weak<Conn>>,
    /// Prune `clients` once it is this long (twice its length after the last prune, so pruning
    /// costs O(1) per accept on average).
    prune_clients_at: usize,
    /// Accept pumps still running (each holds a listening socket's stream open).
    pumps: usize,
    /// TLS handshakes of accepted clients still running (asyncio counts those connections in
    /// `wait_closed` too; each ends within the handshake timeout).
    handshakes: usize,
    backlog: usize,
    keep_alive: bool,
    limit: usize,
    write_queue_cap: Option<u64>,
    /// `ssl`: every accepted connection does a TLS handshake before it is handed out.
    tls: Option<(ServerTlsConfig, Timeouts)>,
}

/// A server shared by its resource, its accept pumps and its connections.
pub struct ServerShared {
    state: RefCell<ServerState>,
    /// Something changed: a connection is pending, serving started, closed, a client closed.
    changed: Notify,
    /// Notified by `interrupt`: ends the accepts and `wait-closed`s waiting.
    interrupt: Notify,
}

/// `clients` is not pruned below this length.
const MIN_PRUNE: usize = 64;

impl ServerState {
    /// Drops the closed connections from `clients` and sets the next prune length.
    fn prune_clients(&mut self) {
        self.clients
            .retain(|c| c.upgrade().is_some_and(|c| !c.is_closed()));
        self.prune_clients_at = self.clients.len().saturating_mul(2).max(MIN_PRUNE);
    }
}

impl CloseObserver for ServerShared {
    fn connection_closed(&self) {
        self.changed.notify();
    }
}

/// Checks the option rules.
pub fn check_options(options: &ServerOptions) -> Result<usize, ErrorCode> {
    let limit =
        wasio_core::validate_limit(options.limit.unwrap_or(wasio_core::DEFAULT_LIMIT as u64))
            .map_err(read_error)?;
    if options.ssl.is_none()
        && (options.ssl_handshake_timeout.is_some() || options.ssl_shutdown_timeout.is_some())
    {
        return Err(invalid("ssl timeouts are only meaningful with ssl"));
    }
    Ok(limit)
}

/// Binds every address of every host (all interfaces when `hosts` is empty) and starts serving
/// unless `start_serving` is false.
pub async fn start_server(
    hosts: Vec<String>,
    port: u16,
    options: ServerOptions,
) -> Result<Rc<ServerShared>, ErrorCode> {
    let limit = check_options(&options)?;
    let hosts = if hosts.iter().all(|h| h.is_empty()) {
        match options.family {
            AddressFamily::Ipv4 => vec!["0.0.0.0".to_string()],
            AddressFamily::Ipv6 => vec!["::".to_string()],
            AddressFamily::Unspecified => vec!["0.0.0.0".to_string(), "::".to_string()],
        }
    } else {
        hosts
    };
    let backlog = options.backlog.unwrap_or(DEFAULT_BACKLOG);
    // Every host's addresses first, each address once (as asyncio's set of getaddrinfo results:
    // two names for one address are one listener, not a second bind that fails in use).
    let mut ips = Vec::new();
    for host in &hosts {
        for ip in resolve(host, options.family).await? {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    let mut listeners = Vec::new();
    for ip in ips {
        let socket = TcpSocket::create(addr::family_of(ip))?;
        // Options wasi:sockets lacks, through the host (wasio:host/tcp), before the bind.
        if let Some(reuse) = options.reuse_address {
            tcp::set_reuse_address(&socket, reuse)?;
        }
        if options.reuse_port {
            tcp::set_reuse_port(&socket, true)?;
        }
        if let Some(nodelay) = options.tcp_nodelay {
            // A listener's setting applies to the connections it accepts.
            tcp::set_nodelay(&socket, nodelay)?;
        }
        socket.bind(addr::socket_address(ip, port))?;
        socket.set_listen_backlog_size(u64::from(backlog.max(1)))?;
        let address = addr::to_wasio(socket.get_local_address()?);
        listeners.push(Listener {
            socket: Some(ListenSocket::Tcp(socket)),
            stream: None,
            address,
            cleanup: false,
        });
    }
    let config = ServeConfig {
        backlog,
        keep_alive: options.keep_alive,
        limit,
        write_queue_cap: options.write_queue_cap,
        tls: options.ssl.clone().map(|ssl| {
            (
                ssl,
                Timeouts::new(options.ssl_handshake_timeout, options.ssl_shutdown_timeout),
            )
        }),
    };
    serve(listeners, config, options.start_serving.unwrap_or(true))
}

/// A server over `listeners`: spawns an accept pump per listener and starts serving if asked.
pub fn serve(
    listeners: Vec<Listener>,
    config: ServeConfig,
    start_serving: bool,
) -> Result<Rc<ServerShared>, ErrorCode> {
    let count = listeners.len();
    let server = Rc::new(ServerShared {
        state: RefCell::new(ServerState {
            listeners,
            serving: false,
            closed: false,
            forever: false,
            pending: VecDeque::new(),
            discarded: false,
            clients: Vec::new(),
            prune_clients_at: MIN_PRUNE,
            pumps: count,
            handshakes: 0,
            backlog: usize::try_from(config.backlog.max(1)).unwrap_or(usize::MAX),
            keep_alive: config.keep_alive,
            limit: config.limit,
            write_queue_cap: config.write_queue_cap,
            tls: config.tls,
        }),
        changed: Notify::default(),
        interrupt: Notify::default(),
    });
    for index in 0..count {
        wit_bindgen::spawn_local(accept_pump(server.clone(), index));
    }
    crate::shutdown::track_server(&server);
    if start_serving && let Err(e) = server.start_serving() {
        // Lets the accept pumps end instead of waiting for a stream that never comes.
        server.close();
        return Err(e);
    }
    Ok(server)
}

impl ServerShared {
    /// asyncio `start_serving`: listens on every socket; idempotent.
    pub fn start_serving(&self) -> Result<(), ErrorCode> {
        let mut state = self.state.borrow_mut();
        if state.closed {
            return Err(ErrorCode::Closed("the server is closed".to_string()));
        }
        if state.serving {
            return Ok(());
        }
        for listener in state.listeners.iter_mut() {
            listener.listen()?;
        }
        state.serving = true;
        drop(state);
        self.changed.notify();
        Ok(())
    }

    /// asyncio `close`: stops listening. Connections already handed out stay open, and those
    /// accepted from the OS and not yet taken by the app (queued, or in their TLS handshake) are
    /// still handed out by `accept`, as asyncio still runs its handler for every connection its
    /// loop had accepted. Clients still in the kernel's listen backlog are reset when the
    /// listening socket closes (asyncio's too). The listening sockets are released when the
    /// accept tasks next run (in the same turn of the event loop, not inside this call);
    /// `wait_closed` waits for that too.
    pub fn close(&self) {
        let mut state = self.state.borrow_mut();
        if state.closed {
            return;
        }
        state.closed = true;
        state.serving = false;
        let listeners = std::mem::take(&mut state.listeners);
        drop(state);
        drop(listeners);
        self.changed.notify();
    }

    /// The app dropped the server: closes it and aborts the accepted connections nobody can
    /// take now (and those whose TLS handshake ends later, see `enqueue`).
    fn discard(&self) {
        self.close();
        let pending: Vec<Rc<Conn>> = {
            let mut state = self.state.borrow_mut();
            state.discarded = true;
            state.pending.drain(..).collect()
        };
        for conn in pending {
            conn.abort();
        }
    }

    /// Closed, with its accept pumps and its clients' TLS handshakes ended (its accepted
    /// connections aside).
    pub fn is_stopped(&self) -> bool {
        let state = self.state.borrow();
        state.closed && state.pumps == 0 && state.handshakes == 0
    }

    /// Waits until [`is_stopped`](Self::is_stopped).
    pub async fn stopped(&self) {
        loop {
            let listen = self.changed.listen();
            if self.is_stopped() {
                return;
            }
            listen.await;
        }
    }

    fn live_clients(&self) -> Vec<Rc<Conn>> {
        let mut state = self.state.borrow_mut();
        state.prune_clients();
        state.clients.iter().filter_map(Weak::upgrade).collect()
    }

    /// Waits for the next accepted connection.
    pub async fn accept(&self) -> Result<Rc<Conn>, ErrorCode> {
        loop {
            let listen = self.changed.listen();
            if let Some(result) = self.try_accept() {
                return result;
            }
            listen.await;
        }
    }

    /// The next accepted connection if one is pending. After `close`: the ones accepted before
    /// it (waiting for those still in their TLS handshake), then `closed`.
    pub fn try_accept(&self) -> Option<Result<Rc<Conn>, ErrorCode>> {
        let mut state = self.state.borrow_mut();
        if let Some(conn) = state.pending.pop_front() {
            drop(state);
            // Room in the queue: the accept pumps may go on.
            self.changed.notify();
            return Some(Ok(conn));
        }
        if state.closed && state.handshakes == 0 {
            return Some(Err(ErrorCode::Closed("the server is closed".to_string())));
        }
        None
    }
}

/// One unit of a server count that `wait_closed` waits on (running accept pumps, TLS handshakes
/// of accepted clients); counted out, and `wait_closed` woken, when dropped, however its holder
/// ends.
struct Counted {
    server: Rc<ServerShared>,
    count: fn(&mut ServerState) -> &mut usize,
}

impl Counted {
    /// A unit already in the count (the accept pumps are counted when the server is made).
    fn already(server: Rc<ServerShared>, count: fn(&mut ServerState) -> &mut usize) -> Self {
        Self { server, count }
    }

    /// Adds a unit to the count.
    fn add(server: Rc<ServerShared>, count: fn(&mut ServerState) -> &mut usize) -> Self {
        *count(&mut server.state.borrow_mut()) += 1;
        Self { server, count }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut state = self.server.state.borrow_mut();
        let n = (self.count)(&mut state);
        *n = n.saturating_sub(1);
        drop(state);
        self.server.changed.notify();
    }
}

/// Accepts connections on listener `index` while the server serves and the queue has room.
async fn accept_pump(server: Rc<ServerShared>, index: usize) {
    let _running = Counted::already(server.clone(), |state| &mut state.pumps);
    // Wait for `start_serving` to hand us the listen stream.
    let mut stream = loop {
        let listen = server.changed.listen();
        {
            let mut state = server.state.borrow_mut();
            if state.closed {
                return;
            }
            if let Some(stream) = state.listeners.get_mut(index).and_then(|l| l.stream.take()) {
                break stream;
            }
        }
        listen.await;
    };
    let limits = limits::run_limits();
    loop {
        // Wait for room in the queue of accepted connections, for a place under the host's
        // connection limit, and for room in the run's buffer budget (until then clients wait in
        // the listen backlog).
        let slot = loop {
            let listen = server.changed.listen();
            let released = limits.released.listen();
            let pressure = limits.pressure.listen();
            {
                let state = server.state.borrow();
                if state.closed {
                    return;
                }
                if state.pending.len() < state.backlog
                    && !limits.under_pressure()
                    && let Some(slot) = limits.try_slot()
                {
                    break slot;
                }
            }
            select(select(listen, released), pressure).await;
        };
        // And for room under the host's socket limit, which counts every socket of the run.
        {
            let room = pin!(host_limits::socket_room());
            let closed = pin!(server.until_closed());
            // Cancel safety: waiting for room takes nothing; dropping the wait loses nothing.
            if let Either::Right(((), _)) = select(room, closed).await {
                return;
            }
        }
        let accepted = {
            let next = pin!(stream.next());
            let closed = pin!(server.until_closed());
            match select(next, closed).await {
                Either::Left((socket, _)) => socket,
                Either::Right(((), _)) => return,
            }
        };
        let Some(socket) = accepted else {
            return;
        };
        let (keep_alive, settings, tls): (bool, Settings, _) = {
            let state = server.state.borrow();
            (
                state.keep_alive,
                settings(state.limit, state.write_queue_cap, slot),
                state.tls.clone(),
            )
        };
        if keep_alive && let Accepted::Tcp(socket) = &socket {
            // Best effort, as asyncio: a failure to set the option does not refuse the client.
            let _ = socket.set_keep_alive_enabled(true);
        }
        if let Some((config, timeouts)) = tls {
            // The handshake runs on its own, so a slow or broken client never holds up others.
            wit_bindgen::spawn_local(handshake_then_enqueue(
                Counted::add(server.clone(), |state| &mut state.handshakes),
                socket,
                settings,
                config,
                timeouts,
            ));
            continue;
        }
        let conn = match socket {
            Accepted::Tcp(socket) => {
                let Ok(conn) = wire(socket, settings) else {
                    continue;
                };
                conn
            }
            Accepted::Host(socket) => crate::unix::wire_host(socket, settings),
        };
        if !server.enqueue(conn) {
            return;
        }
    }
}

/// Runs the TLS handshake of an accepted socket and queues the connection for the app; a failed
/// handshake is reported on stderr (asyncio logs it) and the server keeps serving.
async fn handshake_then_enqueue(
    handshaking: Counted,
    socket: Accepted,
    settings: Settings,
    config: ServerTlsConfig,
    timeouts: Timeouts,
) {
    let side = tls::server_side(config);
    let secured = match socket {
        Accepted::Tcp(socket) => wire_tls(socket, settings, side, timeouts).await,
        Accepted::Host(socket) => {
            crate::unix::wire_host_tls(socket, settings, side, timeouts).await
        }
    };
    match secured {
        Ok(conn) => {
            handshaking.server.enqueue(conn);
        }
        Err(e) => eprintln!(
            "wasio: TLS handshake with a client failed: {}",
            crate::errors::describe(&e)
        ),
    }
}

impl ServerShared {
    /// Resolves once the server is closed (at once if it is).
    async fn until_closed(&self) {
        loop {
            let listen = self.changed.listen();
            if self.state.borrow().closed {
                return;
            }
            listen.await;
        }
    }

    /// Queues an accepted connection for `accept` (also after `close`: it was accepted before);
    /// false (and the connection aborted) once the app dropped the server.
    fn enqueue(self: &Rc<Self>, conn: Rc<Conn>) -> bool {
        let observer: Weak<dyn CloseObserver> = Rc::downgrade(self) as Weak<dyn CloseObserver>;
        conn.set_observer(observer);
        let mut state = self.state.borrow_mut();
        if state.discarded {
            drop(state);
            conn.abort();
            return false;
        }
        if state.clients.len() >= state.prune_clients_at {
            // Without this a long-running server kept one dead connection's memory per accept
            // (about 1 KiB; found by `wasio-bench soak`).
            state.prune_clients();
        }
        state.clients.push(Rc::downgrade(&conn));
        state.pending.push_back(conn);
        drop(state);
        self.changed.notify();
        true
    }
}

/// A server (asyncio `Server`): its listening sockets, the connections it accepted, and the
/// `serve_forever` in progress, if any. Dropping it closes it.
pub struct Server {
    pub(crate) server: Rc<ServerShared>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.discard();
    }
}

impl Server {
    /// The listening sockets' addresses (asyncio `sockets`).
    pub fn sockets(&self) -> Vec<SocketAddress> {
        let state = self.server.state.borrow();
        state.listeners.iter().map(|l| l.address.clone()).collect()
    }

    /// asyncio `is_serving`.
    pub fn is_serving(&self) -> bool {
        self.server.state.borrow().serving
    }

    /// asyncio `start_serving`: accepting begins (a server made with `start-serving` false).
    pub fn start_serving(&self) -> Result<(), ErrorCode> {
        self.server.start_serving()
    }

    /// The next accepted connection; starts serving if it has not.
    pub fn accept(
        &self,
        timeout: Option<u64>,
    ) -> impl Future<Output = Result<Connection, ErrorCode>> + '_ {
        accept_bounded(&self.server, timeout)
    }

    /// An accepted connection if one is queued now.
    pub fn try_accept(&self) -> Option<Result<Connection, ErrorCode>> {
        self.server.try_accept().map(|r| r.map(Connection::new))
    }

    /// asyncio `serve_forever`: the [`Serving`] hands out the connections; dropping it closes
    /// the server. `busy` if one is already in progress.
    pub fn serve_forever(&self) -> Result<Serving, ErrorCode> {
        {
            let mut state = self.server.state.borrow_mut();
            if state.closed {
                return Err(ErrorCode::Closed("the server is closed".to_string()));
            }
            if state.forever {
                return Err(ErrorCode::Busy);
            }
            state.forever = true;
        }
        self.server.start_serving()?;
        Ok(Serving {
            server: self.server.clone(),
        })
    }

    /// asyncio `close`: stops listening; connections already handed out stay open.
    pub fn close(&self) {
        self.server.close();
    }

    /// asyncio `close_clients`.
    pub fn close_clients(&self) {
        for conn in self.server.live_clients() {
            conn.close();
        }
    }

    /// asyncio `abort_clients`.
    pub fn abort_clients(&self) {
        for conn in self.server.live_clients() {
            conn.abort();
        }
    }

    /// Ends the `accept` or `wait_closed` waiting now, if any, with `interrupted`.
    pub fn interrupt(&self) {
        self.server.interrupt.notify();
    }

    /// asyncio `wait_closed`: returns once the server is closed and its connections are.
    pub fn wait_closed(
        &self,
        timeout: Option<u64>,
    ) -> impl Future<Output = Result<(), ErrorCode>> + '_ {
        let interrupted = self.server.interrupt.listen();
        let server = self.server.clone();
        async move {
            bounded(timeout, interrupted, async move {
                loop {
                    let listen = server.changed.listen();
                    if server.is_stopped() && server.live_clients().is_empty() {
                        return Ok(());
                    }
                    listen.await;
                }
            })
            .await
        }
    }
}

/// `server`'s next accepted connection within `timeout`, ended by its `interrupt`: what
/// [`Server::accept`] and [`Serving::accept`] both wait on. The listener is taken at the call.
fn accept_bounded(
    server: &ServerShared,
    timeout: Option<u64>,
) -> impl Future<Output = Result<Connection, ErrorCode>> + '_ {
    let interrupted = server.interrupt.listen();
    async move {
        let conn = bounded(timeout, interrupted, server.accept()).await?;
        Ok(Connection::new(conn))
    }
}

/// A `serve_forever` in progress; dropping it closes the server.
pub struct Serving {
    server: Rc<ServerShared>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.server.state.borrow_mut().forever = false;
        self.server.close();
    }
}

impl Serving {
    /// The next connection to serve.
    pub fn accept(
        &self,
        timeout: Option<u64>,
    ) -> impl Future<Output = Result<Connection, ErrorCode>> + '_ {
        accept_bounded(&self.server, timeout)
    }
}
