//! A Unix or TCP listener, as a `host-socket` holds it.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::net::{TcpListener, UnixListener};

use super::socket::HostSocket;
use super::unix::SocketFile;
use super::{Address, invalid};

/// A listening socket, with its accept stream that the guest may take once.
pub(crate) struct ListenerSocket {
    pub(crate) io: Arc<NativeListener>,
    /// `accept` was called (it may be called once).
    accept_taken: bool,
    pub(crate) local: Address,
    /// The socket file this listener created (Unix paths, not the abstract namespace), shared
    /// with the run's [`SocketFiles`](crate::socket_files::SocketFiles).
    file: Option<Arc<SocketFile>>,
}

impl ListenerSocket {
    /// A listener over `io` known as `local`, which created `file`.
    pub(crate) fn new(io: NativeListener, local: Address, file: Option<Arc<SocketFile>>) -> Self {
        Self {
            io: Arc::new(io),
            accept_taken: false,
            local,
            file,
        }
    }

    /// The listener to accept from, once.
    pub(crate) fn take_accept(&mut self) -> io::Result<Arc<NativeListener>> {
        if std::mem::replace(&mut self.accept_taken, true) {
            return Err(invalid("accept was already called on this listener"));
        }
        Ok(self.io.clone())
    }

    /// Removes the socket file this listener created if it is still the one it created; once
    /// only, so that a second call never removes a file that replaced ours meanwhile. Returns
    /// whether it removed it.
    pub(crate) fn cleanup(&mut self) -> bool {
        self.file.take().is_some_and(|f| f.remove_if_ours())
    }
}

/// A native listener.
pub(crate) enum NativeListener {
    /// With the address the app knows it by, which its accepted connections have as theirs.
    Unix(UnixListener, Address),
    Tcp(TcpListener),
}

impl NativeListener {
    /// Accepts the next connection as a new [`HostSocket`].
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<HostSocket>> {
        match self {
            Self::Unix(l, local) => l
                .poll_accept(cx)
                .map_ok(|(stream, _)| HostSocket::unix_accepted(stream, local)),
            Self::Tcp(l) => l.poll_accept(cx).map_ok(|(stream, _)| {
                // As on every TCP connection the host makes (see `super::tcp`); a failure
                // leaves the kernel's default.
                let _ = stream.set_nodelay(true);
                HostSocket::tcp_stream(stream)
            }),
        }
    }
}
