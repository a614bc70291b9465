//! A connected Unix or TCP stream: the native I/O both byte-stream directions use, and what a
//! `host-socket` knows of it.

use std::io;
use std::os::fd::{AsFd as _, BorrowedFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::net::{TcpStream, UnixStream};

use super::{Address, PeerCredentials, invalid};

/// A connected stream socket, with what the guest may take from it once (its receive stream,
/// its send stream).
pub(crate) struct StreamSocket {
    pub(crate) io: Arc<NativeStream>,
    /// `receive` was called (it may be called once).
    receive_taken: bool,
    /// `send` was called (it may be called once).
    send_taken: bool,
    pub(crate) local: Address,
    pub(crate) remote: Address,
    pub(crate) credentials: Option<PeerCredentials>,
}

impl StreamSocket {
    /// A stream socket over `io`, neither direction taken yet.
    pub(crate) fn new(
        io: NativeStream,
        local: Address,
        remote: Address,
        credentials: Option<PeerCredentials>,
    ) -> Self {
        Self {
            io: Arc::new(io),
            receive_taken: false,
            send_taken: false,
            local,
            remote,
            credentials,
        }
    }

    /// The stream to receive from, once.
    pub(crate) fn take_receive(&mut self) -> io::Result<Arc<NativeStream>> {
        if std::mem::replace(&mut self.receive_taken, true) {
            return Err(invalid("receive was already called on this socket"));
        }
        Ok(self.io.clone())
    }

    /// The stream to send on, once.
    pub(crate) fn take_send(&mut self) -> io::Result<Arc<NativeStream>> {
        if std::mem::replace(&mut self.send_taken, true) {
            return Err(invalid("send was already called on this socket"));
        }
        Ok(self.io.clone())
    }
}

/// A connected native stream.
pub(crate) enum NativeStream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl NativeStream {
    /// The socket's descriptor.
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
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
