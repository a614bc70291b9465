//! Native TCP sockets on tokio, as `wasi:sockets@0.3.0` defines a `tcp-socket`'s life: created,
//! maybe bound, then either connecting and connected, or listening. No WIT types here: the glue
//! serving the WIT interface is [`crate::host_impl::wasi_tcp`].
//!
//! What this adds to the standard interface (through `wasio:host/tcp`): TCP_NODELAY, on by
//! default on every connected and accepted socket (as asyncio sets it), SO_REUSEPORT when asked,
//! and SO_REUSEADDR off when asked (wasi:sockets sets it on every bind).
//!
//! # Where listeners are made
//!
//! A TCP socket is bound only in [`bind_socket`], from a parsed address and [`BindOptions`]:
//! by wasi:sockets `bind` (or the implicit bind of `listen`), and by [`open_listener`] for the
//! listeners the host opens itself (`--listen`). It starts listening in [`listen_socket`] (the
//! wasi:sockets path) or in [`open_listener`]. A change that shares listeners across stores
//! hooks [`bind_socket`] (with SO_REUSEPORT every store's listener can bind the same address)
//! or, to hand every store one shared listener, `TcpSocket::listen` and [`open_listener`].
//!
//! Errors are wasmtime-wasi's native [`ErrorCode`] (no WIT type), converted from OS errors
//! exactly as wasmtime-wasi's own TCP does, so that apps see the same error codes as before.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::sockopt;
use wasmtime_wasi::sockets::{ErrorCode, SocketAddrUse};

use super::stream::NativeStream;
use crate::listener_share::{ShareKey, Shared, Sharing};

/// The listen backlog when the app sets none (Rust std's).
const DEFAULT_BACKLOG: u32 = 128;

/// An address family of a TCP socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6 (IPV6_V6ONLY, as wasi:sockets requires).
    V6,
}

impl Family {
    /// The wildcard address with port 0 in this family: what an implicit bind uses.
    pub fn unspecified(self) -> SocketAddr {
        match self {
            Self::V4 => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            Self::V6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        }
    }

    /// Whether `ip` may be used on a socket of this family (wasi:sockets rejects IPv4-mapped
    /// and IPv4-compatible addresses on IPv6 sockets).
    fn admits(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Self::V4, IpAddr::V4(_)) => true,
            (Self::V6, IpAddr::V6(v6)) => {
                let compatible = matches!(v6.segments(), [0, 0, 0, 0, 0, 0, _, _])
                    && v6 != Ipv6Addr::UNSPECIFIED
                    && v6 != Ipv6Addr::LOCALHOST;
                !compatible && v6.to_ipv4_mapped().is_none()
            }
            _ => false,
        }
    }
}

/// The options that decide how a socket is bound (and so whether two listeners can share a
/// port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindOptions {
    /// SO_REUSEADDR (default on, as wasi:sockets and asyncio's `start_server` set it).
    pub reuse_address: bool,
    /// SO_REUSEPORT (default off).
    pub reuse_port: bool,
}

impl Default for BindOptions {
    fn default() -> Self {
        Self {
            reuse_address: true,
            reuse_port: false,
        }
    }
}

/// The address check a socket operation must pass: the run's grants
/// ([`crate::capabilities::Capabilities::check`]), reporting what it refuses.
pub type AddrCheck<'a> = &'a dyn Fn(SocketAddr, SocketAddrUse) -> bool;

/// Where a [`TcpSocket`] is in its life.
enum State {
    /// Created, not bound: can be bound, connected (binding implicitly) or listen.
    Unbound(tokio::net::TcpSocket),
    /// Bound by `bind`: can connect or listen.
    Bound(tokio::net::TcpSocket),
    /// A connect is under way (the socket is with the connecting task).
    Connecting,
    /// Listening; the accept stream holds the listener too.
    Listening(Arc<tokio::net::TcpListener>),
    /// Connected (by connect, or accepted): bytes flow both ways. Each direction's stream may be
    /// taken once.
    Connected {
        stream: Arc<NativeStream>,
        send_taken: bool,
        receive_taken: bool,
        /// The local and peer addresses, as they were when the connection was made: asyncio
        /// reads them then too, and a peer that resets at once must not take them away (the
        /// kernel answers `getpeername` with ENOTCONN after a reset).
        addresses: Option<(SocketAddr, SocketAddr)>,
    },
    /// A connect failed; every later operation fails with its error.
    Closed(ErrorCode),
}

/// A TCP socket as a `wasi:sockets` `tcp-socket` resource holds it.
pub struct TcpSocket {
    state: State,
    family: Family,
    /// The backlog the next `listen` uses.
    backlog: u32,
    bind: BindOptions,
    /// TCP_NODELAY for the connection a connect makes, or (on a listener) for accepted ones.
    nodelay: bool,
    /// The address `bind` was asked for, when the bound socket is one the run's workers share
    /// ([`crate::listener_share`]): a connect then binds a socket of its own there instead.
    shared_bind: Option<SocketAddr>,
}

impl TcpSocket {
    /// A new, unbound socket.
    pub fn new(family: Family) -> io::Result<Self> {
        let socket = match family {
            Family::V4 => tokio::net::TcpSocket::new_v4()?,
            Family::V6 => {
                let socket = tokio::net::TcpSocket::new_v6()?;
                sockopt::set_ipv6_v6only(&socket, true)?;
                socket
            }
        };
        Ok(Self::with_state(State::Unbound(socket), family))
    }

    /// A connection from `peer` accepted on a listener of `family`, with TCP_NODELAY as
    /// `nodelay`.
    pub fn accepted(
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        family: Family,
        nodelay: bool,
    ) -> Self {
        // A failure leaves the kernel's default; the connection itself is fine.
        let _ = stream.set_nodelay(nodelay);
        let addresses = stream.local_addr().ok().map(|local| (local, peer));
        let mut socket = Self::with_state(
            State::Connected {
                stream: Arc::new(NativeStream::tcp(stream)),
                send_taken: false,
                receive_taken: false,
                addresses,
            },
            family,
        );
        socket.nodelay = nodelay;
        socket
    }

    fn with_state(state: State, family: Family) -> Self {
        Self {
            state,
            family,
            backlog: DEFAULT_BACKLOG,
            bind: BindOptions::default(),
            nodelay: true,
            shared_bind: None,
        }
    }

    /// The socket's address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Whether the socket listens.
    pub fn is_listening(&self) -> bool {
        matches!(self.state, State::Listening(_))
    }

    fn fd(&self) -> Result<BorrowedFd<'_>, ErrorCode> {
        match &self.state {
            State::Unbound(s) | State::Bound(s) => Ok(s.as_fd()),
            State::Listening(l) => Ok(l.as_fd()),
            State::Connected { stream, .. } => Ok(stream.as_fd()),
            State::Connecting => Err(ErrorCode::InvalidState),
            State::Closed(e) => Err(*e),
        }
    }

    /// The socket of an unbound or bound socket, leaving it `Connecting` until the caller sets
    /// the next state; `None` (state unchanged) in any other state.
    fn take_socket(&mut self) -> Option<tokio::net::TcpSocket> {
        match std::mem::replace(&mut self.state, State::Connecting) {
            State::Unbound(socket) | State::Bound(socket) => Some(socket),
            other => {
                self.state = other;
                None
            }
        }
    }

    /// Binds to `addr` (wasi:sockets `bind`); with `sharing` (one of several workers), the
    /// socket is the one every worker's same bind shares ([`crate::listener_share`]).
    pub fn bind(
        &mut self,
        addr: SocketAddr,
        check: AddrCheck<'_>,
        sharing: Option<&Mutex<Sharing>>,
    ) -> Result<(), ErrorCode> {
        if !matches!(self.state, State::Unbound(_)) {
            return Err(ErrorCode::InvalidState);
        }
        if !is_unicast(addr.ip()) || !self.family.admits(addr.ip()) {
            return Err(ErrorCode::InvalidArgument);
        }
        if !check(addr, SocketAddrUse::TcpBind) {
            return Err(ErrorCode::AccessDenied);
        }
        self.bind_unbound(addr, sharing)
    }

    /// Binds the unbound socket to `addr` (its checks passed), or, with `sharing`, adopts the
    /// socket another worker bound there (see [`crate::listener_share`]).
    fn bind_unbound(
        &mut self,
        addr: SocketAddr,
        sharing: Option<&Mutex<Sharing>>,
    ) -> Result<(), ErrorCode> {
        let State::Unbound(socket) = &self.state else {
            return Err(ErrorCode::InvalidState);
        };
        let options = self.bind;
        let Some(sharing) = sharing else {
            bind_socket(socket, addr, options)?;
            if let Some(socket) = self.take_socket() {
                self.state = State::Bound(socket);
            }
            return Ok(());
        };
        let key = ShareKey::Tcp {
            requested: addr,
            reuse_address: options.reuse_address,
            reuse_port: options.reuse_port,
        };
        let claimed = sharing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .claim(
                key,
                || {
                    bind_socket(socket, addr, options)?;
                    Ok::<_, ErrorCode>(socket.as_fd().try_clone_to_owned()?)
                },
                Ok,
            )?;
        match claimed {
            Shared::Made(_) => {
                if let Some(socket) = self.take_socket() {
                    self.state = State::Bound(socket);
                }
            }
            Shared::Adopted(fd) => {
                let socket = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(fd));
                self.state = State::Bound(socket);
            }
        }
        self.shared_bind = Some(addr);
        Ok(())
    }

    /// Starts a connect to `addr`: checks the state, the address and the grants, and hands out
    /// the socket to connect (the socket is `Connecting` until [`finish_connect`]).
    ///
    /// [`finish_connect`]: Self::finish_connect
    pub fn start_connect(
        &mut self,
        addr: SocketAddr,
        check: AddrCheck<'_>,
    ) -> Result<tokio::net::TcpSocket, ErrorCode> {
        let bound = match &self.state {
            State::Unbound(_) => false,
            State::Bound(_) => true,
            _ => return Err(ErrorCode::InvalidState),
        };
        if !is_unicast(addr.ip())
            || addr.ip().to_canonical().is_unspecified()
            || addr.port() == 0
            || !self.family.admits(addr.ip())
        {
            return Err(ErrorCode::InvalidArgument);
        }
        let Some(mut socket) = self.take_socket() else {
            return Err(ErrorCode::InvalidState);
        };
        if let Some(requested) = self.shared_bind.take() {
            // The workers share this bound socket: connect from one of this worker's own.
            match self.own_socket_bound_at(requested) {
                Ok(own) => socket = own,
                Err(code) => {
                    self.state = State::Closed(code);
                    return Err(code);
                }
            }
        }
        // The connect itself, then (an unbound socket is bound by the OS to an ephemeral port)
        // that bind, which is checked but not made here (that would hasten port exhaustion).
        // The connect first, so that a refusal names the connect.
        let allowed = check(addr, SocketAddrUse::TcpConnect)
            && (bound || check(self.family.unspecified(), SocketAddrUse::TcpBind));
        if !allowed {
            drop(socket);
            self.state = State::Closed(ErrorCode::AccessDenied);
            return Err(ErrorCode::AccessDenied);
        }
        Ok(socket)
    }

    /// A new socket of this family bound at `addr` with this socket's options, shared with
    /// no one.
    fn own_socket_bound_at(&self, addr: SocketAddr) -> Result<tokio::net::TcpSocket, ErrorCode> {
        let State::Unbound(socket) = Self::new(self.family)?.state else {
            return Err(ErrorCode::InvalidState);
        };
        bind_socket(&socket, addr, self.bind)?;
        Ok(socket)
    }

    /// Ends a connect started by [`start_connect`](Self::start_connect) with its outcome.
    pub fn finish_connect(
        &mut self,
        connected: io::Result<tokio::net::TcpStream>,
    ) -> Result<(), ErrorCode> {
        match connected {
            Ok(stream) => {
                let _ = stream.set_nodelay(self.nodelay);
                let addresses = stream.local_addr().ok().zip(stream.peer_addr().ok());
                self.state = State::Connected {
                    stream: Arc::new(NativeStream::tcp(stream)),
                    send_taken: false,
                    receive_taken: false,
                    addresses,
                };
                Ok(())
            }
            Err(e) => {
                let code = ErrorCode::from(e);
                self.state = State::Closed(code);
                Err(code)
            }
        }
    }

    /// Listens (wasi:sockets `listen`), binding to the wildcard address first if unbound.
    /// Returns the listener for the accept stream.
    ///
    /// With `sharing` (one of several workers), an implicit bind is shared as `bind`'s is, and
    /// a shared socket may already listen (another worker's `listen`): listening again only
    /// sets the backlog, and this worker then accepts from the same queue.
    pub fn listen(
        &mut self,
        check: AddrCheck<'_>,
        sharing: Option<&Mutex<Sharing>>,
    ) -> Result<Arc<tokio::net::TcpListener>, ErrorCode> {
        let allowed = match &self.state {
            State::Unbound(_) => {
                let any = self.family.unspecified();
                check(any, SocketAddrUse::TcpBind) && check(any, SocketAddrUse::TcpListen)
            }
            State::Bound(socket) => check(socket.local_addr()?, SocketAddrUse::TcpListen),
            _ => return Err(ErrorCode::InvalidState),
        };
        if !allowed {
            return Err(ErrorCode::AccessDenied);
        }
        if let State::Unbound(_) = &self.state {
            // Linux binds implicitly on listen, not every OS does: bind as wasi:sockets says.
            self.bind_unbound(self.family.unspecified(), sharing)?;
        }
        let Some(socket) = self.take_socket() else {
            return Err(ErrorCode::InvalidState);
        };
        match listen_socket(socket, self.backlog) {
            Ok(listener) => {
                let listener = Arc::new(listener);
                self.state = State::Listening(listener.clone());
                Ok(listener)
            }
            Err(e) => {
                let code = ErrorCode::from(e);
                self.state = State::Closed(code);
                Err(code)
            }
        }
    }

    /// TCP_NODELAY for accepted connections (a listener's setting).
    pub fn nodelay(&self) -> bool {
        self.nodelay
    }

    /// The stream to send on (once).
    pub(crate) fn take_send(&mut self) -> Result<Arc<NativeStream>, ErrorCode> {
        match &mut self.state {
            State::Connected {
                stream, send_taken, ..
            } if !*send_taken => {
                *send_taken = true;
                Ok(stream.clone())
            }
            State::Closed(e) => Err(*e),
            _ => Err(ErrorCode::InvalidState),
        }
    }

    /// The stream to receive from (once).
    pub(crate) fn take_receive(&mut self) -> Result<Arc<NativeStream>, ErrorCode> {
        match &mut self.state {
            State::Connected {
                stream,
                receive_taken,
                ..
            } if !*receive_taken => {
                *receive_taken = true;
                Ok(stream.clone())
            }
            State::Closed(e) => Err(*e),
            _ => Err(ErrorCode::InvalidState),
        }
    }

    /// The local address; `invalid-state` before the socket is bound.
    pub fn local_address(&self) -> Result<SocketAddr, ErrorCode> {
        match &self.state {
            State::Unbound(_) | State::Connecting => Err(ErrorCode::InvalidState),
            State::Bound(s) => Ok(s.local_addr()?),
            State::Listening(l) => Ok(l.local_addr()?),
            State::Connected {
                addresses: Some((local, _)),
                ..
            } => Ok(*local),
            State::Connected { stream, .. } => Ok(stream.tcp_addresses()?.0),
            State::Closed(e) => Err(*e),
        }
    }

    /// The peer's address; `invalid-state` unless connected.
    pub fn remote_address(&self) -> Result<SocketAddr, ErrorCode> {
        match &self.state {
            State::Connected {
                addresses: Some((_, peer)),
                ..
            } => Ok(*peer),
            State::Connected { stream, .. } => Ok(stream.tcp_addresses()?.1),
            State::Closed(e) => Err(*e),
            _ => Err(ErrorCode::InvalidState),
        }
    }

    /// The backlog of the coming `listen`, or (listening) a new one if the OS allows.
    pub fn set_listen_backlog_size(&mut self, value: u64) -> Result<(), ErrorCode> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument);
        }
        let value = u32::try_from(value)
            .unwrap_or(i32::MAX as u32)
            .clamp(1, i32::MAX as u32);
        match &self.state {
            State::Unbound(_) | State::Bound(_) => {
                self.backlog = value;
                Ok(())
            }
            State::Listening(l) => {
                rustix::net::listen(&**l, value as i32).map_err(|_| ErrorCode::NotSupported)?;
                self.backlog = value;
                Ok(())
            }
            State::Closed(e) => Err(*e),
            _ => Err(ErrorCode::InvalidState),
        }
    }

    /// Sets TCP_NODELAY: now on a connection; on a socket not yet connected, for the connection
    /// its connect makes or (a listener) the connections it accepts.
    pub fn set_nodelay(&mut self, enabled: bool) -> Result<(), ErrorCode> {
        match &self.state {
            State::Connected { stream, .. } => stream.set_nodelay(enabled)?,
            State::Closed(e) => return Err(*e),
            _ => {}
        }
        self.nodelay = enabled;
        Ok(())
    }

    /// asyncio `transport.abort()`: a connected socket's send stream ends without a FIN (see
    /// [`NativeStream::abort`]); nothing to do in any other state.
    pub fn abort(&self) {
        if let State::Connected { stream, .. } = &self.state {
            stream.abort();
        }
    }

    /// Sets SO_REUSEADDR for the coming bind; `invalid-state` once bound.
    pub fn set_reuse_address(&mut self, enabled: bool) -> Result<(), ErrorCode> {
        self.before_bind()?;
        self.bind.reuse_address = enabled;
        Ok(())
    }

    /// Sets SO_REUSEPORT for the coming bind; `invalid-state` once bound.
    pub fn set_reuse_port(&mut self, enabled: bool) -> Result<(), ErrorCode> {
        self.before_bind()?;
        self.bind.reuse_port = enabled;
        Ok(())
    }

    fn before_bind(&self) -> Result<(), ErrorCode> {
        match &self.state {
            State::Unbound(_) => Ok(()),
            State::Closed(e) => Err(*e),
            _ => Err(ErrorCode::InvalidState),
        }
    }

    /// SO_KEEPALIVE.
    pub fn keep_alive_enabled(&self) -> Result<bool, ErrorCode> {
        Ok(sockopt::socket_keepalive(self.fd()?)?)
    }

    /// Sets SO_KEEPALIVE.
    pub fn set_keep_alive_enabled(&self, value: bool) -> Result<(), ErrorCode> {
        Ok(sockopt::set_socket_keepalive(self.fd()?, value)?)
    }

    /// TCP_KEEPIDLE, in nanoseconds.
    pub fn keep_alive_idle_time(&self) -> Result<u64, ErrorCode> {
        Ok(nanos(sockopt::tcp_keepidle(self.fd()?)?))
    }

    /// Sets TCP_KEEPIDLE (nanoseconds; 0 is `invalid-argument`, others clamped to what Linux
    /// takes, 1 s to 32767 s).
    pub fn set_keep_alive_idle_time(&self, value: u64) -> Result<(), ErrorCode> {
        let value = keep_alive_time(value)?;
        Ok(sockopt::set_tcp_keepidle(self.fd()?, value)?)
    }

    /// TCP_KEEPINTVL, in nanoseconds.
    pub fn keep_alive_interval(&self) -> Result<u64, ErrorCode> {
        Ok(nanos(sockopt::tcp_keepintvl(self.fd()?)?))
    }

    /// Sets TCP_KEEPINTVL (as [`set_keep_alive_idle_time`](Self::set_keep_alive_idle_time)).
    pub fn set_keep_alive_interval(&self, value: u64) -> Result<(), ErrorCode> {
        let value = keep_alive_time(value)?;
        Ok(sockopt::set_tcp_keepintvl(self.fd()?, value)?)
    }

    /// TCP_KEEPCNT.
    pub fn keep_alive_count(&self) -> Result<u32, ErrorCode> {
        Ok(sockopt::tcp_keepcnt(self.fd()?)?)
    }

    /// Sets TCP_KEEPCNT (0 is `invalid-argument`; clamped to 1..=127, Linux's range).
    pub fn set_keep_alive_count(&self, value: u32) -> Result<(), ErrorCode> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument);
        }
        Ok(sockopt::set_tcp_keepcnt(
            self.fd()?,
            value.clamp(1, i8::MAX as u32),
        )?)
    }

    /// IP_TTL or IPV6_UNICAST_HOPS.
    pub fn hop_limit(&self) -> Result<u8, ErrorCode> {
        let fd = self.fd()?;
        match self.family {
            Family::V4 => u8::try_from(sockopt::ip_ttl(fd)?).map_err(|_| ErrorCode::NotSupported),
            Family::V6 => Ok(sockopt::ipv6_unicast_hops(fd)?),
        }
    }

    /// Sets IP_TTL or IPV6_UNICAST_HOPS (0 is `invalid-argument`).
    pub fn set_hop_limit(&self, value: u8) -> Result<(), ErrorCode> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument);
        }
        let fd = self.fd()?;
        match self.family {
            Family::V4 => sockopt::set_ip_ttl(fd, value.into())?,
            Family::V6 => sockopt::set_ipv6_unicast_hops(fd, Some(value))?,
        }
        Ok(())
    }

    /// SO_RCVBUF, as the app set it (Linux reports it doubled).
    pub fn receive_buffer_size(&self) -> Result<u64, ErrorCode> {
        Ok(reported_size(sockopt::socket_recv_buffer_size(self.fd()?)?))
    }

    /// Sets SO_RCVBUF (a hint: 0 is `invalid-argument`, the OS clamps the rest).
    pub fn set_receive_buffer_size(&self, value: u64) -> Result<(), ErrorCode> {
        let size = buffer_size(value)?;
        hint(sockopt::set_socket_recv_buffer_size(self.fd()?, size))
    }

    /// SO_SNDBUF, as the app set it.
    pub fn send_buffer_size(&self) -> Result<u64, ErrorCode> {
        Ok(reported_size(sockopt::socket_send_buffer_size(self.fd()?)?))
    }

    /// Sets SO_SNDBUF (as [`set_receive_buffer_size`](Self::set_receive_buffer_size)).
    pub fn set_send_buffer_size(&self, value: u64) -> Result<(), ErrorCode> {
        let size = buffer_size(value)?;
        hint(sockopt::set_socket_send_buffer_size(self.fd()?, size))
    }
}

/// Binds `socket` to `addr` with `options`: the one place a TCP socket is bound. SO_REUSEADDR
/// is set unless `options` turn it off (wasi:sockets wants a bind unaffected by TIME_WAIT).
pub fn bind_socket(
    socket: impl AsFd,
    addr: SocketAddr,
    options: BindOptions,
) -> Result<(), ErrorCode> {
    sockopt::set_socket_reuseaddr(&socket, options.reuse_address)?;
    if options.reuse_port {
        sockopt::set_socket_reuseport(&socket, true)?;
    }
    rustix::net::bind(&socket, &addr).map_err(|e| match e {
        Errno::AFNOSUPPORT => ErrorCode::InvalidArgument,
        e => ErrorCode::from(e),
    })
}

/// Starts `socket` (bound by [`bind_socket`]) listening with `backlog`: the one place a TCP
/// socket of the wasi:sockets path starts listening.
pub fn listen_socket(
    socket: tokio::net::TcpSocket,
    backlog: u32,
) -> io::Result<tokio::net::TcpListener> {
    socket.listen(backlog)
}

/// A non-blocking listener on `addr` with `options` and `backlog`, for a listener the host
/// opens itself (`--listen`): created, bound by [`bind_socket`], listening. Needs no async
/// runtime. An IPv6 wildcard listener takes IPv4 clients too (the OS default), as before.
pub fn open_listener(
    addr: SocketAddr,
    options: BindOptions,
    backlog: u32,
) -> io::Result<std::net::TcpListener> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let socket = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    bind_socket(&socket, addr, options).map_err(|code| match code {
        ErrorCode::AddressInUse => io::Error::from(io::ErrorKind::AddrInUse),
        ErrorCode::AddressNotBindable => io::ErrorKind::AddrNotAvailable.into(),
        ErrorCode::AccessDenied => io::ErrorKind::PermissionDenied.into(),
        ErrorCode::InvalidArgument => io::ErrorKind::InvalidInput.into(),
        _ => io::Error::other("the address could not be bound"),
    })?;
    rustix::net::listen(&socket, i32::try_from(backlog.max(1)).unwrap_or(i32::MAX))?;
    Ok(std::net::TcpListener::from(socket))
}

/// Accepts the next connection on `listener` whose peer `check` admits (with the peer's
/// address); a refused peer is reset and the next one accepted. Errors of one client that Linux
/// reports from accept(2) are `connection-aborted`, as in wasmtime-wasi.
pub fn poll_accept(
    listener: &tokio::net::TcpListener,
    cx: &mut Context<'_>,
    check: AddrCheck<'_>,
) -> Poll<io::Result<(tokio::net::TcpStream, SocketAddr)>> {
    loop {
        match listener.poll_accept(cx) {
            Poll::Ready(Ok((stream, peer))) => {
                if check(peer, SocketAddrUse::TcpAccept) {
                    return Poll::Ready(Ok((stream, peer)));
                }
                let _ = stream.set_zero_linger();
            }
            Poll::Ready(Err(e)) => {
                let aborted = matches!(
                    Errno::from_io_error(&e),
                    Some(
                        Errno::CONNRESET
                            | Errno::NETRESET
                            | Errno::HOSTUNREACH
                            | Errno::HOSTDOWN
                            | Errno::NETDOWN
                            | Errno::NETUNREACH
                            | Errno::PROTO
                            | Errno::NOPROTOOPT
                            | Errno::OPNOTSUPP
                    )
                );
                return Poll::Ready(Err(if aborted {
                    io::ErrorKind::ConnectionAborted.into()
                } else {
                    e
                }));
            }
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Whether `ip` is a unicast address (not multicast, not IPv4 broadcast).
fn is_unicast(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A keep-alive time from nanoseconds: 0 is `invalid-argument`; the rest is clamped to 1 s ..
/// 32767 s, so that the OS never sees 0 and Linux takes it.
fn keep_alive_time(value: u64) -> Result<Duration, ErrorCode> {
    const SECOND: u64 = 1_000_000_000;
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(Duration::from_nanos(
        value.clamp(SECOND, i16::MAX as u64 * SECOND),
    ))
}

/// A buffer size to set: 0 is `invalid-argument`; the rest is clamped to what setsockopt takes.
fn buffer_size(value: u64) -> Result<usize, ErrorCode> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(usize::try_from(value)
        .unwrap_or(usize::MAX)
        .clamp(1, i32::MAX as usize))
}

/// A buffer size as read back: Linux reports twice what was set (its bookkeeping).
fn reported_size(value: usize) -> u64 {
    let value = if cfg!(target_os = "linux") {
        value / 2
    } else {
        value
    };
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// A buffer size is a hint: a BSD's ENOBUFS for a size too large is not an error.
fn hint(result: rustix::io::Result<()>) -> Result<(), ErrorCode> {
    match result {
        Ok(()) | Err(Errno::NOBUFS) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    fn allow(_: SocketAddr, _: SocketAddrUse) -> bool {
        true
    }

    fn at(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    }

    /// A listener on 127.0.0.1 (a free port) with `reuse_port`, through the wasi:sockets path.
    fn listener(port: u16, reuse_port: bool) -> Result<(TcpSocket, u16), ErrorCode> {
        let mut socket = TcpSocket::new(Family::V4)?;
        socket.set_reuse_port(reuse_port)?;
        socket.bind(at(port), &allow, None)?;
        let port = socket.listen(&allow, None)?.local_addr()?.port();
        Ok((socket, port))
    }

    #[tokio::test]
    async fn reuse_port_shares_a_port_only_among_listeners_that_ask() -> anyhow::Result<()> {
        let (_first, port) = listener(0, true).map_err(|e| anyhow::anyhow!("{e}"))?;
        let second = listener(port, true);
        assert!(second.is_ok(), "a second SO_REUSEPORT listener was refused");
        let plain = listener(port, false);
        assert!(
            matches!(plain, Err(ErrorCode::AddressInUse)),
            "{plain:?}",
            plain = plain.err()
        );
        let (_plain, port) = listener(0, false).map_err(|e| anyhow::anyhow!("{e}"))?;
        let asking = listener(port, true);
        assert!(
            matches!(asking, Err(ErrorCode::AddressInUse)),
            "{asking:?}",
            asking = asking.err()
        );
        Ok(())
    }

    /// SO_REUSEADDR decides whether a port whose last connection lingers in TIME_WAIT can be
    /// bound again: on by default (wasi:sockets, asyncio), refused when turned off.
    #[tokio::test]
    async fn reuse_address_off_refuses_a_port_in_time_wait() -> anyhow::Result<()> {
        let listener =
            tokio::net::TcpListener::from_std(open_listener(at(0), BindOptions::default(), 1)?)?;
        let port = listener.local_addr()?.port();
        let mut client = tokio::net::TcpStream::connect(at(port)).await?;
        let (server_side, _) = listener.accept().await?;
        // The server closes first, so its side of the connection goes to TIME_WAIT.
        drop(server_side);
        let mut buf = [0u8; 1];
        assert_eq!(client.read(&mut buf).await?, 0);
        drop(client);
        drop(listener);
        let mut strict = TcpSocket::new(Family::V4)?;
        strict
            .set_reuse_address(false)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let refused = strict.bind(at(port), &allow, None);
        assert!(
            matches!(refused, Err(ErrorCode::AddressInUse)),
            "{:?}",
            refused.err()
        );
        let mut default = TcpSocket::new(Family::V4)?;
        default
            .bind(at(port), &allow, None)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // Once bound, the option can no longer change.
        assert!(matches!(
            default.set_reuse_address(false),
            Err(ErrorCode::InvalidState)
        ));
        Ok(())
    }

    #[tokio::test]
    async fn connections_have_nodelay_unless_turned_off() -> anyhow::Result<()> {
        let listener =
            tokio::net::TcpListener::from_std(open_listener(at(0), BindOptions::default(), 4)?)?;
        let port = listener.local_addr()?.port();
        let nodelay = |socket: &TcpSocket| -> anyhow::Result<bool> {
            let fd = socket.fd().map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(sockopt::tcp_nodelay(fd)?)
        };
        for wanted in [true, false] {
            let mut socket = TcpSocket::new(Family::V4)?;
            if !wanted {
                socket
                    .set_nodelay(false)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            let native = socket
                .start_connect(at(port), &allow)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let connected = native.connect(at(port)).await;
            socket
                .finish_connect(connected)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            assert_eq!(nodelay(&socket)?, wanted);
            let (stream, peer) = listener.accept().await?;
            let accepted = TcpSocket::accepted(stream, peer, Family::V4, wanted);
            assert_eq!(nodelay(&accepted)?, wanted);
        }
        Ok(())
    }

    #[test]
    fn refused_addresses_are_access_denied_and_leave_no_socket_behind() -> anyhow::Result<()> {
        let deny = |_: SocketAddr, _: SocketAddrUse| false;
        let mut socket = TcpSocket::new(Family::V4)?;
        assert!(matches!(
            socket.bind(at(0), &deny, None),
            Err(ErrorCode::AccessDenied)
        ));
        assert!(matches!(
            socket.listen(&deny, None),
            Err(ErrorCode::AccessDenied)
        ));
        // Still unbound and usable: a refused listen changes nothing.
        assert!(matches!(
            socket.local_address(),
            Err(ErrorCode::InvalidState)
        ));
        assert!(matches!(
            socket.start_connect(at(9), &deny),
            Err(ErrorCode::AccessDenied)
        ));
        // A refused connect ends the socket, as in wasmtime-wasi.
        assert!(matches!(socket.take_send(), Err(ErrorCode::AccessDenied)));
        let mut v6 = TcpSocket::new(Family::V6)?;
        assert!(matches!(
            v6.bind(at(0), &allow, None),
            Err(ErrorCode::InvalidArgument)
        ));
        Ok(())
    }
}
