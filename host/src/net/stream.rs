//! A connected Unix or TCP stream: the native I/O both byte-stream directions use, and what a
//! `host-socket` knows of it.

use std::io;
use std::os::fd::{AsFd as _, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::Interest;
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

/// A connected native stream, and whether the app aborted it.
pub(crate) struct NativeStream {
    io: Io,
    /// asyncio `transport.abort()`: the end of the send stream does what closing asyncio's
    /// socket does ([`NativeStream::end_aborted`]) instead of sending a FIN.
    aborted: AtomicBool,
}

/// The TCP options an app may set on a connected socket.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TcpOption {
    /// TCP_NODELAY.
    NoDelay,
    /// SO_KEEPALIVE.
    KeepAlive,
}

impl std::fmt::Display for TcpOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TcpOption::NoDelay => "TCP_NODELAY",
            TcpOption::KeepAlive => "SO_KEEPALIVE",
        })
    }
}

/// The OS socket of a [`NativeStream`].
enum Io {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl NativeStream {
    /// A connected Unix stream.
    pub(crate) fn unix(stream: UnixStream) -> Self {
        Self::of(Io::Unix(stream))
    }

    /// A connected TCP stream.
    pub(crate) fn tcp(stream: TcpStream) -> Self {
        Self::of(Io::Tcp(stream))
    }

    fn of(io: Io) -> Self {
        Self {
            io,
            aborted: AtomicBool::new(false),
        }
    }

    /// Marks the stream aborted (asyncio `transport.abort()`; see `aborted`).
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Relaxed);
    }

    /// Whether the app aborted the stream.
    pub(crate) fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Relaxed)
    }

    /// Ends an aborted stream's sending side as Linux's close(2) would, at once (the descriptor
    /// may outlive the app's use of it, e.g. while a TLS session lets go of it): a TCP
    /// connection with received bytes left unread is reset (connect(2) with `AF_UNSPEC`
    /// disconnects with an RST); otherwise the write side is shut down (a FIN). A Unix socket
    /// has no reset: its peer gets `ECONNRESET` when the descriptor closes with bytes unread.
    pub(crate) fn end_aborted(&self) {
        let unread = rustix::io::ioctl_fionread(self.as_fd()).unwrap_or(0);
        if let Io::Tcp(s) = &self.io
            && unread > 0
            && rustix::net::connect_unspec(s).is_ok()
        {
            return;
        }
        self.shutdown(rustix::net::Shutdown::Write);
    }

    /// The socket's descriptor.
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.io {
            Io::Unix(s) => s.as_fd(),
            Io::Tcp(s) => s.as_fd(),
        }
    }

    /// Sets TCP_NODELAY (a Unix socket has no Nagle algorithm: nothing to do).
    pub(crate) fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        match &self.io {
            Io::Unix(_) => Ok(()),
            Io::Tcp(s) => s.set_nodelay(enabled),
        }
    }

    /// Sets a TCP option the app asked for: `Unsupported` on a Unix socket, which has none.
    pub(crate) fn set_tcp_option(&self, option: TcpOption, enabled: bool) -> io::Result<()> {
        let Io::Tcp(s) = &self.io else {
            return Err(super::unsupported(format!(
                "{option} is a TCP option, and this is a Unix socket"
            )));
        };
        match option {
            TcpOption::NoDelay => s.set_nodelay(enabled),
            TcpOption::KeepAlive => Ok(rustix::net::sockopt::set_socket_keepalive(s, enabled)?),
        }
    }

    /// A TCP connection's local and peer addresses.
    pub(crate) fn tcp_addresses(&self) -> io::Result<(std::net::SocketAddr, std::net::SocketAddr)> {
        match &self.io {
            Io::Unix(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Unix socket has no internet address",
            )),
            Io::Tcp(s) => Ok((s.local_addr()?, s.peer_addr()?)),
        }
    }

    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.io {
            Io::Unix(s) => s.poll_read_ready(cx),
            Io::Tcp(s) => s.poll_read_ready(cx),
        }
    }

    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.io {
            Io::Unix(s) => s.poll_write_ready(cx),
            Io::Tcp(s) => s.poll_write_ready(cx),
        }
    }

    /// Shuts down one direction; errors (e.g. the peer already gone) are of no use here.
    pub(crate) fn shutdown(&self, how: rustix::net::Shutdown) {
        let _ = match &self.io {
            Io::Unix(s) => rustix::net::shutdown(s, how),
            Io::Tcp(s) => rustix::net::shutdown(s, how),
        };
    }

    /// Reads into `buf`, waiting for readiness: `Ok(0)` at EOF.
    ///
    /// A read that fills less than `buf` has drained the socket, so it clears the socket's read
    /// readiness, as tokio's own `AsyncRead` does: the next read (or zero-length readiness
    /// check) then waits for the next epoll event instead of calling `recv` to learn `EAGAIN`.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.poll_io(cx, Interest::READABLE, len, || {
            let (n, _) =
                rustix::net::recv(self.as_fd(), &mut *buf, rustix::net::RecvFlags::empty())?;
            Ok(n)
        })
    }

    /// Writes from `buf`, waiting for readiness.
    ///
    /// A write that takes less than `buf` has filled the socket's send buffer, so it clears the
    /// socket's write readiness, as tokio's own `AsyncWrite` does: the next write then waits for
    /// the next epoll event instead of calling `send` to learn `EAGAIN`.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_io(cx, Interest::WRITABLE, buf.len(), || {
            Ok(rustix::net::send(
                self.as_fd(),
                buf,
                rustix::net::SendFlags::NOSIGNAL,
            )?)
        })
    }

    /// Runs `op` (a `recv` or `send` of `len` bytes) once the socket is ready for `interest`.
    /// An `op` that moves some but fewer than `len` bytes clears that readiness; the readiness
    /// cleared is the one seen before the call (tokio's `try_io`), so an event that comes after
    /// it is never missed.
    fn poll_io(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        len: usize,
        mut op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut short = None;
            let attempt = {
                let once = || {
                    let n = op()?;
                    if n > 0 && n < len {
                        short = Some(n);
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Ok(n)
                };
                match &self.io {
                    Io::Unix(s) => s.try_io(interest, once),
                    Io::Tcp(s) => s.try_io(interest, once),
                }
            };
            match attempt {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(n) = short {
                        return Poll::Ready(Ok(n));
                    }
                    let ready = if interest.is_readable() {
                        self.poll_read_ready(cx)
                    } else {
                        self.poll_write_ready(cx)
                    };
                    match ready {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::sockopt;

    /// The options an app sets land on the TCP socket; a Unix socket refuses them.
    #[tokio::test]
    async fn tcp_options_are_set_on_tcp_and_refused_on_unix() -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let client = TcpStream::connect(listener.local_addr()?).await?;
        client.set_nodelay(true)?;
        let stream = NativeStream::tcp(client);
        stream.set_tcp_option(TcpOption::NoDelay, false)?;
        assert!(!sockopt::tcp_nodelay(stream.as_fd())?);
        stream.set_tcp_option(TcpOption::NoDelay, true)?;
        assert!(sockopt::tcp_nodelay(stream.as_fd())?);
        stream.set_tcp_option(TcpOption::KeepAlive, true)?;
        assert!(sockopt::socket_keepalive(stream.as_fd())?);

        let (a, _b) = UnixStream::pair()?;
        let unix = NativeStream::unix(a);
        for option in [TcpOption::NoDelay, TcpOption::KeepAlive] {
            let Err(error) = unix.set_tcp_option(option, true) else {
                anyhow::bail!("a Unix socket took {option}");
            };
            assert_eq!(error.kind(), io::ErrorKind::Unsupported);
            assert!(error.to_string().contains(&option.to_string()), "{error}");
        }
        Ok(())
    }

    /// The other end of a test connection.
    trait Peer: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin {}
    impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Peer for T {}

    /// A connected TCP stream and a Unix one, each with its peer.
    async fn connected_pairs() -> io::Result<[(NativeStream, Box<dyn Peer>); 2]> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let client = TcpStream::connect(listener.local_addr()?).await?;
        let (tcp_peer, _) = listener.accept().await?;
        let (unix, unix_peer) = UnixStream::pair()?;
        Ok([
            (NativeStream::tcp(client), Box::new(tcp_peer)),
            (NativeStream::unix(unix), Box::new(unix_peer)),
        ])
    }

    /// Whether `stream` reports read readiness now, without waiting.
    fn ready_now(stream: &NativeStream) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        stream.poll_read_ready(&mut cx).is_ready()
    }

    /// Whether `stream` reports write readiness now, without waiting.
    fn writable_now(stream: &NativeStream) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        stream.poll_write_ready(&mut cx).is_ready()
    }

    /// Reads into `buf`, waiting for bytes.
    async fn read(stream: &NativeStream, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| stream.poll_read(cx, buf)).await
    }

    /// Writes from `buf`, waiting for room.
    async fn write(stream: &NativeStream, buf: &[u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| stream.poll_write(cx, buf)).await
    }

    /// A read that drains the socket clears its readiness (the next wait needs no `recv` that
    /// fails with EAGAIN); one that fills its buffer does not; bytes that come after a cleared
    /// readiness are seen. Both socket kinds.
    #[tokio::test]
    async fn a_short_read_clears_readiness_and_later_bytes_are_seen() -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt as _;
        use tokio::time::{Duration, timeout};
        for (stream, mut peer) in connected_pairs().await? {
            let mut buf = [0u8; 4096];
            peer.write_all(&[1; 100]).await?;
            let n = timeout(Duration::from_secs(10), read(&stream, &mut buf)).await??;
            assert_eq!(n, 100);
            assert!(
                !ready_now(&stream),
                "a drained socket still reported readiness"
            );

            peer.write_all(&[2; 300]).await?;
            let n = timeout(Duration::from_secs(10), read(&stream, &mut buf[..200])).await??;
            assert_eq!(n, 200);
            assert!(
                ready_now(&stream),
                "a full read cleared readiness with bytes left"
            );
            let n = timeout(Duration::from_secs(10), read(&stream, &mut buf)).await??;
            assert_eq!((n, buf[0]), (100, 2));
            assert!(!ready_now(&stream));

            drop(peer);
            let n = timeout(Duration::from_secs(10), read(&stream, &mut buf)).await??;
            assert_eq!(n, 0, "EOF after readiness was cleared");
        }
        Ok(())
    }

    /// A write that fills the send buffer (takes less than it was given) clears the socket's
    /// write readiness (the next wait needs no `send` that fails with EAGAIN); once the peer
    /// reads, the writer is woken and its bytes go through, none lost. Both socket kinds.
    #[tokio::test]
    async fn a_short_write_clears_readiness_and_the_writer_is_woken_when_the_peer_reads()
    -> anyhow::Result<()> {
        use tokio::io::AsyncReadExt as _;
        use tokio::time::{Duration, timeout};
        // Far more than any socket buffer takes at once.
        let big: Vec<u8> = (0..16 << 20).map(|i: u32| i as u8).collect();
        for (stream, mut peer) in connected_pairs().await? {
            assert!(writable_now(&stream));
            let mut sent = timeout(Duration::from_secs(10), write(&stream, &big)).await??;
            assert!(
                sent > 0 && sent < big.len(),
                "wrote {sent} of {}",
                big.len()
            );
            assert!(
                !writable_now(&stream),
                "a full send buffer still reported write readiness"
            );
            let reader = async {
                let mut got = vec![0u8; big.len()];
                peer.read_exact(&mut got).await?;
                anyhow::Ok(got)
            };
            let writer = async {
                while sent < big.len() {
                    sent += write(&stream, &big[sent..]).await?;
                }
                anyhow::Ok(())
            };
            let (got, ()) = timeout(Duration::from_secs(60), async {
                tokio::try_join!(reader, writer)
            })
            .await??;
            assert!(
                got == big,
                "the bytes the peer read differ from those written"
            );
        }
        Ok(())
    }
}
