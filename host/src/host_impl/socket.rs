//! The native socket behind a `host-socket` resource: a connected Unix or TCP stream, or a Unix
//! or TCP listener, with what the guest may take from it once (its receive stream, its send
//! stream, its accept stream) and what is known of it (addresses, peer credentials, the socket
//! file a Unix listener created).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd as _, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use rustix::fs::FileType;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use wasio_host_config::unix_path::{self, FileId};

use super::bindings::types::{ErrorCode, HostAddress, PeerCredentials};

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

/// A connected stream socket.
pub(crate) struct StreamSocket {
    pub(crate) io: Arc<NativeStream>,
    /// `receive` was called (it may be called once).
    pub(crate) receive_taken: bool,
    /// `send` was called (it may be called once).
    pub(crate) send_taken: bool,
    pub(crate) local: HostAddress,
    pub(crate) remote: HostAddress,
    pub(crate) credentials: Option<PeerCredentials>,
}

/// A listening socket.
pub(crate) struct ListenerSocket {
    pub(crate) io: Arc<NativeListener>,
    /// `accept` was called (it may be called once).
    pub(crate) accept_taken: bool,
    pub(crate) local: HostAddress,
    /// The socket file this listener created (Unix paths, not the abstract namespace), shared
    /// with the run's [`SocketFiles`](crate::socket_files::SocketFiles).
    pub(crate) file: Option<Arc<SocketFile>>,
}

/// A connected native stream.
pub(crate) enum NativeStream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

/// A native listener.
pub(crate) enum NativeListener {
    /// With the address the app knows it by, which its accepted connections have as theirs.
    Unix(UnixListener, HostAddress),
    Tcp(TcpListener),
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
        Self::stream(NativeStream::Unix(stream), local, remote, credentials)
    }

    /// A Unix socket the app connected to `path`. A peer that bound its socket through
    /// `/proc/self/fd` (a wasio listener, see `unix.rs`) shows as `path`.
    pub fn unix_connected(stream: UnixStream, path: &str) -> Self {
        let mut socket = Self::unix_stream(stream);
        if let Kind::Stream(s) = &mut socket.kind
            && matches!(&s.remote, HostAddress::Unix(p) if p.starts_with("/proc/self/fd/"))
        {
            s.remote = HostAddress::Unix(path.to_owned());
        }
        socket
    }

    /// A Unix socket accepted on a listener the app knows as `local`.
    fn unix_accepted(stream: UnixStream, local: &HostAddress) -> Self {
        let mut socket = Self::unix_stream(stream);
        if let Kind::Stream(s) = &mut socket.kind {
            s.local = local.clone();
        }
        socket
    }

    /// A connected TCP socket (accepted on a listener the host opened).
    pub fn tcp_stream(stream: TcpStream) -> Self {
        let local = stream.local_addr().map_or_else(|_| unnamed(), inet_address);
        let remote = stream.peer_addr().map_or_else(|_| unnamed(), inet_address);
        Self::stream(NativeStream::Tcp(stream), local, remote, None)
    }

    fn stream(
        io: NativeStream,
        local: HostAddress,
        remote: HostAddress,
        credentials: Option<PeerCredentials>,
    ) -> Self {
        Self {
            kind: Kind::Stream(StreamSocket {
                io: Arc::new(io),
                receive_taken: false,
                send_taken: false,
                local,
                remote,
                credentials,
            }),
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
        let local = HostAddress::Unix(address.to_owned());
        Self::listener(NativeListener::Unix(listener, local.clone()), local, file)
    }

    /// A TCP listener.
    pub fn tcp_listener(listener: TcpListener) -> Self {
        let local = listener
            .local_addr()
            .map_or_else(|_| unnamed(), inet_address);
        Self::listener(NativeListener::Tcp(listener), local, None)
    }

    fn listener(io: NativeListener, local: HostAddress, file: Option<Arc<SocketFile>>) -> Self {
        Self {
            kind: Kind::Listener(ListenerSocket {
                io: Arc::new(io),
                accept_taken: false,
                local,
                file,
            }),
        }
    }

    /// The local address.
    pub(crate) fn local_address(&self) -> HostAddress {
        match &self.kind {
            Kind::Stream(s) => s.local.clone(),
            Kind::Listener(l) => l.local.clone(),
        }
    }
}

impl NativeStream {
    /// The socket's descriptor.
    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Self::Unix(s) => s.as_fd(),
            Self::Tcp(s) => s.as_fd(),
        }
    }

    /// Sets TCP_NODELAY (a Unix socket has no Nagle algorithm: nothing to do).
    pub(crate) fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        match self {
            Self::Unix(_) => Ok(()),
            Self::Tcp(s) => s.set_nodelay(enabled),
        }
    }

    /// A TCP connection's local and peer addresses.
    pub(crate) fn tcp_addresses(&self) -> io::Result<(std::net::SocketAddr, std::net::SocketAddr)> {
        match self {
            Self::Unix(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Unix socket has no internet address",
            )),
            Self::Tcp(s) => Ok((s.local_addr()?, s.peer_addr()?)),
        }
    }

    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Self::Unix(s) => s.poll_read_ready(cx),
            Self::Tcp(s) => s.poll_read_ready(cx),
        }
    }

    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Unix(s) => s.try_read(buf),
            Self::Tcp(s) => s.try_read(buf),
        }
    }

    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Self::Unix(s) => s.poll_write_ready(cx),
            Self::Tcp(s) => s.poll_write_ready(cx),
        }
    }

    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Unix(s) => s.try_write(buf),
            Self::Tcp(s) => s.try_write(buf),
        }
    }

    /// Shuts down one direction; errors (e.g. the peer already gone) are of no use here.
    pub(crate) fn shutdown(&self, how: rustix::net::Shutdown) {
        let _ = match self {
            Self::Unix(s) => rustix::net::shutdown(s, how),
            Self::Tcp(s) => rustix::net::shutdown(s, how),
        };
    }

    /// Reads into `buf`, waiting for readiness: `Ok(0)` at EOF.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            match self.try_read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.poll_read_ready(cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                },
                other => return Poll::Ready(other),
            }
        }
    }

    /// Writes from `buf`, waiting for readiness.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            match self.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self.poll_write_ready(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                other => return Poll::Ready(other),
            }
        }
    }
}

impl NativeListener {
    /// Accepts the next connection as a new [`HostSocket`].
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<HostSocket>> {
        match self {
            Self::Unix(l, local) => l
                .poll_accept(cx)
                .map_ok(|(stream, _)| HostSocket::unix_accepted(stream, local)),
            Self::Tcp(l) => l.poll_accept(cx).map_ok(|(stream, _)| {
                // As on every TCP connection the host makes (see `crate::tcp`); a failure
                // leaves the kernel's default.
                let _ = stream.set_nodelay(true);
                HostSocket::tcp_stream(stream)
            }),
        }
    }
}

/// The socket file a Unix listener created: its name in the directory it was bound in (held
/// open, so that removing it never resolves a path again), identified by device, inode and
/// (where the file system records it) birth time, so that a file that was removed or replaced
/// since is recognised as not ours. CPython compares the inode only; a replacement created right
/// after the removal can get the same inode number back, which the birth time tells apart.
#[derive(Debug)]
pub struct SocketFile {
    dir: OwnedFd,
    name: OsString,
    id: FileId,
    born: Option<(i64, u32)>,
}

impl SocketFile {
    /// Notes the socket file now at `name` in `dir` (just bound).
    pub fn of(dir: OwnedFd, name: OsString) -> io::Result<Self> {
        let Some(entry) = unix_path::stat_entry(dir.as_fd(), &name)? else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the socket file just bound is gone",
            ));
        };
        Ok(Self {
            dir,
            name,
            id: entry.id,
            born: entry.born,
        })
    }

    /// Whether the file at the path is still the socket this listener created.
    pub fn is_ours(&self) -> bool {
        matches!(
            unix_path::stat_entry(self.dir.as_fd(), &self.name),
            Ok(Some(entry)) if entry.kind == FileType::Socket
                && entry.id == self.id
                && entry.born == self.born
        )
    }

    /// Removes the file if it is still the socket this listener created; keeps a file that is
    /// gone or was replaced. Returns whether it removed it.
    pub fn remove_if_ours(&self) -> bool {
        self.is_ours() && unix_path::remove_entry(self.dir.as_fd(), &self.name).is_ok()
    }
}

/// The address of an unbound Unix socket (a client's own, a socketpair end): `""`, as Python
/// reports it.
fn unnamed() -> HostAddress {
    HostAddress::Unix(String::new())
}

/// A Unix socket address as the guest sees it: the path, `\0name` in the abstract namespace,
/// `""` when unnamed.
fn unix_address(addr: &tokio::net::unix::SocketAddr) -> HostAddress {
    if let Some(path) = addr.as_pathname() {
        return HostAddress::Unix(path.to_string_lossy().into_owned());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(name) = addr.as_abstract_name() {
        return HostAddress::Unix(format!("\0{}", String::from_utf8_lossy(name)));
    }
    unnamed()
}

/// An internet address as `ip:port` (`[ip]:port` for IPv6).
fn inet_address(addr: std::net::SocketAddr) -> HostAddress {
    HostAddress::Inet(addr.to_string())
}

/// The error for an operation the socket's kind does not have.
pub(crate) fn wrong_kind(what: &str) -> ErrorCode {
    ErrorCode::NotSupported(format!(
        "{what} is not possible on this kind of host socket"
    ))
}
