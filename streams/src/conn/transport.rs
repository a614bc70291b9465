//! What keeps a connection's socket open and its byte streams: the same for wasi:sockets TCP,
//! wasio:host sockets and TLS sessions over either.

use super::Conn;
use crate::bindings::wasi::sockets::types::TcpSocket;
use crate::bindings::wasio::host::tls::Session;
use crate::bindings::wasio::host::types::HostSocket;
use crate::bindings::wit_future::FuturePayload;
use crate::bindings::wit_stream;
use crate::limits::Slot;
use crate::tls::{Side, Timeouts};
use crate::types::{ErrorCode, PeerCredentials, SocketAddress};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use wit_bindgen::{FutureReader, StreamReader, StreamWriter};

/// The completion of a transport's send or receive side, already in wasio's error terms.
pub type Completion = Pin<Box<dyn Future<Output = Result<(), ErrorCode>>>>;

/// What keeps the OS socket open; dropping it closes the socket.
pub enum Transport {
    /// A wasi:sockets TCP socket.
    Tcp(#[allow(dead_code, reason = "held only so that dropping it closes the socket")] TcpSocket),
    /// A wasio host socket (Unix, or adopted from the host).
    Host(
        #[allow(dead_code, reason = "held only so that dropping it closes the socket")] HostSocket,
    ),
    /// A TLS session over another transport (dropping it ends the session, then the socket).
    Tls(
        #[allow(dead_code, reason = "held only so that dropping it ends the session")] Session,
        #[allow(dead_code, reason = "held only so that dropping it closes the socket")]
        Box<Transport>,
    ),
}

impl Transport {
    /// Whether a zero-length read of its receive stream waits until bytes arrive: a socket's
    /// does (wasi:sockets and wasio:host alike); a TLS session's completes at once.
    pub fn reports_readiness(&self) -> bool {
        matches!(self, Transport::Tcp(_) | Transport::Host(_))
    }

    /// asyncio `transport.abort()`: tells the socket at the bottom that closing it is an abort,
    /// so the connection is reset when received bytes were left unread, not ended with a FIN.
    pub fn abort(&self) {
        match self {
            Transport::Tcp(socket) => crate::bindings::wasio::host::tcp::abort(socket),
            Transport::Host(socket) => socket.abort(),
            Transport::Tls(_, inner) => inner.abort(),
        }
    }
}

/// The TCP options an app may set on a live connection.
#[derive(Clone, Copy)]
pub enum TcpOption {
    /// TCP_NODELAY.
    NoDelay,
    /// SO_KEEPALIVE.
    KeepAlive,
}

impl TcpOption {
    fn name(self) -> &'static str {
        match self {
            TcpOption::NoDelay => "TCP_NODELAY",
            TcpOption::KeepAlive => "SO_KEEPALIVE",
        }
    }
}

impl Transport {
    /// Sets `option` on the socket at the bottom: a wasi:sockets TCP socket through
    /// `wasio:host/tcp`, a host socket (Unix, or accepted on a pre-opened listener) through its
    /// own setter, which refuses it on a Unix socket.
    fn set_tcp_option(&self, option: TcpOption, enabled: bool) -> Result<(), ErrorCode> {
        match (self, option) {
            (Transport::Tcp(socket), TcpOption::NoDelay) => Ok(
                crate::bindings::wasio::host::tcp::set_nodelay(socket, enabled)?,
            ),
            (Transport::Tcp(socket), TcpOption::KeepAlive) => {
                Ok(socket.set_keep_alive_enabled(enabled)?)
            }
            (Transport::Host(socket), TcpOption::NoDelay) => Ok(socket.set_nodelay(enabled)?),
            (Transport::Host(socket), TcpOption::KeepAlive) => Ok(socket.set_keep_alive(enabled)?),
            (Transport::Tls(_, inner), _) => inner.set_tcp_option(option, enabled),
        }
    }
}

impl Conn {
    /// asyncio apps' `setsockopt` of `option` on the connection's socket: `not-supported` on a
    /// Unix socket, `closed` once the connection is closed.
    pub fn set_tcp_option(&self, option: TcpOption, enabled: bool) -> Result<(), ErrorCode> {
        match &*self.transport.borrow() {
            None => Err(ErrorCode::Closed(format!(
                "{} cannot be set: the connection is closed",
                option.name()
            ))),
            Some(transport) => transport.set_tcp_option(option, enabled),
        }
    }
}

/// The byte streams of a freshly made connection, handed to [`Conn::start`].
pub struct Streams {
    /// Bytes from the peer.
    pub receive: StreamReader<u8>,
    /// Resolves when the receive side ends (ok at EOF, else its error).
    pub receive_done: Completion,
    /// Bytes to the peer; dropping it shuts the write half (FIN).
    pub send: StreamWriter<u8>,
    /// Resolves when everything handed to `send` went out, or with the error that stopped it.
    pub send_done: Completion,
}

impl Streams {
    /// A socket's streams from its `receive()` pair and its `send` function (wasi:sockets and
    /// wasio:host sockets have the same shape; only their error types differ).
    pub fn of_socket<R, S>(
        receive: (StreamReader<u8>, FutureReader<Result<(), R>>),
        send: impl FnOnce(StreamReader<u8>) -> FutureReader<Result<(), S>>,
    ) -> Streams
    where
        R: Into<ErrorCode> + 'static,
        S: Into<ErrorCode> + 'static,
        Result<(), R>: FuturePayload,
        Result<(), S>: FuturePayload,
    {
        let (receive, receive_done) = receive;
        let (send_tx, send_rx) = wit_stream::new::<u8>();
        let send_done = send(send_rx);
        Streams {
            receive,
            receive_done: Box::pin(async move { receive_done.await.map_err(Into::into) }),
            send: send_tx,
            send_done: Box::pin(async move { send_done.await.map_err(Into::into) }),
        }
    }
}

/// A connected socket opened for a [`Conn`]: what keeps it open, its byte streams and what is
/// known of its peer. The same for wasi:sockets TCP and wasio:host sockets.
pub struct Opened {
    /// What keeps the socket open.
    pub transport: Transport,
    /// Its byte streams.
    pub streams: Streams,
    /// asyncio `peername`.
    pub peername: Option<SocketAddress>,
    /// asyncio `sockname`.
    pub sockname: Option<SocketAddress>,
    /// Unix peer credentials, where the socket has them.
    pub credentials: Option<PeerCredentials>,
}

impl Opened {
    /// Starts a plain [`Conn`] over the socket.
    pub fn start(self, settings: Settings) -> Rc<Conn> {
        let conn = Conn::start(
            self.transport,
            self.streams,
            settings,
            self.peername,
            self.sockname,
        );
        conn.set_peer_credentials(self.credentials);
        conn
    }

    /// Runs a TLS handshake over the socket and starts a [`Conn`] over the session's cleartext.
    /// On failure the socket is closed.
    pub async fn start_tls(
        self,
        settings: Settings,
        side: Side,
        timeouts: Timeouts,
    ) -> Result<Rc<Conn>, ErrorCode> {
        let secured = crate::tls::secure(self.streams, Vec::new(), side, timeouts).await?;
        let conn = Conn::start(
            Transport::Tls(secured.session, Box::new(self.transport)),
            secured.streams,
            settings,
            self.peername,
            self.sockname,
        );
        conn.set_tls(secured.info, secured.shutdown_timeout);
        conn.set_peer_credentials(self.credentials);
        Ok(conn)
    }
}

/// Settings of one connection.
pub struct Settings {
    /// Reader limit (validated, > 0).
    pub limit: usize,
    /// Write queue hard cap.
    pub write_queue_cap: usize,
    /// The connection's place under the host's connection limit, held until it is fully closed.
    pub slot: Slot,
}
