//! The native socket behind a `host-socket` resource: a connected Unix or TCP stream
//! ([`super::stream`]), or a Unix or TCP listener ([`super::listener`]).

use std::io;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use super::listener::{ListenerSocket, NativeListener};
use super::stream::{NativeStream, StreamSocket, TcpOption};
use super::unix::SocketFile;
use super::{Address, PeerCredentials, unsupported};

/// A native socket owned by the host, as the guest's `host-socket` resource.
pub struct HostSocket {
    pub(crate) kind: Kind,
}

/// What kind of socket a [`HostSocket`] is.
pub(crate) enum Kind {
    /// Connected: bytes flow both ways.
    Stream(StreamSocket),
    /// Listening: connections come in.
    Listener(ListenerSocket),
}

impl HostSocket {
    /// A connected Unix socket: its addresses and peer credentials are read now.
    pub fn unix_stream(stream: UnixStream) -> Self {
        let local = stream
            .local_addr()
            .map_or_else(|_| unnamed(), |a| unix_address(&a));
        let remote = stream
            .peer_addr()
            .map_or_else(|_| unnamed(), |a| unix_address(&a));
        let credentials = stream.peer_cred().ok().map(|c| PeerCredentials {
            pid: c.pid(),
            uid: c.uid(),
            gid: c.gid(),
        });
        Self::stream(NativeStream::unix(stream), local, remote, credentials)
    }

    /// A Unix socket the app connected to `path`. A peer that bound its socket through
    /// `/proc/self/fd` (a wasio listener, see [`super::unix`]) shows as `path`.
    pub fn unix_connected(stream: UnixStream, path: &str) -> Self {
        let mut socket = Self::unix_stream(stream);
        if let Kind::Stream(s) = &mut socket.kind
            && matches!(&s.remote, Address::Unix(p) if p.starts_with("/proc/self/fd/"))
        {
            s.remote = Address::Unix(path.to_owned());
        }
        socket
    }

    /// A Unix socket accepted on a listener the app knows as `local`.
    pub(crate) fn unix_accepted(stream: UnixStream, local: &Address) -> Self {
        let mut socket = Self::unix_stream(stream);
        if let Kind::Stream(s) = &mut socket.kind {
            s.local = local.clone();
        }
        socket
    }

    /// A connected TCP socket (accepted on a listener the host opened).
    pub fn tcp_stream(stream: TcpStream) -> Self {
        let local = stream
            .local_addr()
            .map_or_else(|_| unnamed(), Address::Inet);
        let remote = stream.peer_addr().map_or_else(|_| unnamed(), Address::Inet);
        Self::stream(NativeStream::tcp(stream), local, remote, None)
    }

    fn stream(
        io: NativeStream,
        local: Address,
        remote: Address,
        credentials: Option<PeerCredentials>,
    ) -> Self {
        Self {
            kind: Kind::Stream(StreamSocket::new(io, local, remote, credentials)),
        }
    }

    /// A Unix listener bound at `address` (as the app asked for it: the host binds paths through
    /// `/proc/self/fd`, which the app must not see); `file` is the socket file it created, for
    /// `cleanup`.
    pub fn unix_listener(
        listener: UnixListener,
        address: &str,
        file: Option<Arc<SocketFile>>,
    ) -> Self {
        let local = Address::Unix(address.to_owned());
        Self::listener(NativeListener::Unix(listener, local.clone()), local, file)
    }

    /// A TCP listener.
    pub fn tcp_listener(listener: TcpListener) -> Self {
        let local = listener
            .local_addr()
            .map_or_else(|_| unnamed(), Address::Inet);
        Self::listener(NativeListener::Tcp(listener), local, None)
    }

    fn listener(io: NativeListener, local: Address, file: Option<Arc<SocketFile>>) -> Self {
        Self {
            kind: Kind::Listener(ListenerSocket::new(io, local, file)),
        }
    }

    /// The local address.
    pub fn local_address(&self) -> Address {
        match &self.kind {
            Kind::Stream(s) => s.local.clone(),
            Kind::Listener(l) => l.local.clone(),
        }
    }

    /// The peer's address; a listener has none.
    pub fn remote_address(&self) -> io::Result<Address> {
        match &self.kind {
            Kind::Stream(s) => Ok(s.remote.clone()),
            Kind::Listener(_) => Err(wrong_kind("remote-address of a listener")),
        }
    }

    /// The peer process's credentials (a connected Unix socket's).
    pub fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        match &self.kind {
            Kind::Stream(s) => s
                .credentials
                .ok_or_else(|| unsupported("no peer credentials for this socket")),
            Kind::Listener(_) => Err(wrong_kind("peer-credentials of a listener")),
        }
    }

    /// The stream to receive from, once (a connected socket's).
    pub(crate) fn take_receive(&mut self) -> io::Result<Arc<NativeStream>> {
        match &mut self.kind {
            Kind::Stream(s) => s.take_receive(),
            Kind::Listener(_) => Err(wrong_kind("receive on a listener")),
        }
    }

    /// The stream to send on, once (a connected socket's).
    pub(crate) fn take_send(&mut self) -> io::Result<Arc<NativeStream>> {
        match &mut self.kind {
            Kind::Stream(s) => s.take_send(),
            Kind::Listener(_) => Err(wrong_kind("send on a listener")),
        }
    }

    /// The listener to accept from, once (a listener's).
    pub(crate) fn take_accept(&mut self) -> io::Result<Arc<NativeListener>> {
        match &mut self.kind {
            Kind::Listener(l) => l.take_accept(),
            Kind::Stream(_) => Err(wrong_kind("accept on a connected socket")),
        }
    }

    /// Removes the socket file a Unix listener created, if it is still ours (see
    /// [`ListenerSocket::cleanup`]). Returns whether it removed it.
    pub fn cleanup(&mut self) -> bool {
        match &mut self.kind {
            Kind::Listener(l) => l.cleanup(),
            Kind::Stream(_) => false,
        }
    }

    /// Sets TCP_NODELAY or SO_KEEPALIVE on a connected TCP socket.
    pub(crate) fn set_tcp_option(&self, option: TcpOption, enabled: bool) -> io::Result<()> {
        match &self.kind {
            Kind::Stream(s) => s.io.set_tcp_option(option, enabled),
            Kind::Listener(_) => Err(wrong_kind("a connection's option on a listener")),
        }
    }

    /// asyncio `transport.abort()` of a connected socket (see [`NativeStream::abort`]); nothing
    /// for a listener.
    pub fn abort(&self) {
        if let Kind::Stream(s) = &self.kind {
            s.io.abort();
        }
    }
}

/// The address of an unbound Unix socket (a client's own, a socketpair end): `""`, as Python
/// reports it.
fn unnamed() -> Address {
    Address::Unix(String::new())
}

/// A Unix socket address as the guest sees it: the path, `\0name` in the abstract namespace,
/// `""` when unnamed.
fn unix_address(addr: &tokio::net::unix::SocketAddr) -> Address {
    if let Some(path) = addr.as_pathname() {
        return Address::Unix(path.to_string_lossy().into_owned());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(name) = addr.as_abstract_name() {
        return Address::Unix(format!("\0{}", String::from_utf8_lossy(name)));
    }
    unnamed()
}

/// The error for an operation the socket's kind does not have.
fn wrong_kind(what: &str) -> io::Error {
    unsupported(format!(
        "{what} is not possible on this kind of host socket"
    ))
}
