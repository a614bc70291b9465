//! What keeps a connection's socket open and its byte streams: the same for wasi:sockets TCP,
//! wasio:host sockets and TLS sessions over either.

use super::Conn;
use crate::bindings::exports::wasio::streams::types::{ErrorCode, PeerCredentials, SocketAddress};
use crate::bindings::wasi::sockets::types::TcpSocket;
use crate::bindings::wasio::host::tls::Session;
use crate::bindings::wasio::host::types::HostSocket;
use crate::bindings::wit_future::FuturePayload;
use crate::bindings::wit_stream;
use crate::limits::Slot;
use crate::tls::{Side, Timeouts};
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
    /// asyncio `transport.abort()`: tells the socket at the bottom that closing it is an abort,
    /// so the connection is reset when received bytes were left unread, not ended with a FIN.
    pub fn abort(&self) {
        match self {
            Transport::Tcp(socket) => crate::bindings::wasio::host::tcp::abort(socket),
            Transport::Host(socket) => socket.abort(),
            Transport::Tls(_, inner) => inner.abort(),
        }
    }

    /// The wasi:sockets TCP socket at the bottom of the transport, if it is one (under TLS too).
    fn tcp_socket(&self) -> Option<&TcpSocket> {
        match self {
            Transport::Tcp(socket) => Some(socket),
            Transport::Tls(_, inner) => inner.tcp_socket(),
            Transport::Host(_) => None,
        }
    }
}

impl Conn {
    /// Sets a TCP socket option (`what` names it in errors) with `set` on the connection's TCP
    /// socket: `not-supported` for a host socket (Unix, or accepted on a pre-opened listener),
    /// `closed` once the connection is closed.
    pub fn set_tcp_option(
        &self,
        what: &str,
        set: impl FnOnce(&TcpSocket) -> Result<(), ErrorCode>,
    ) -> Result<(), ErrorCode> {
        match &*self.transport.borrow() {
            None => Err(ErrorCode::Closed(format!(
                "{what} cannot be set: the connection is closed"
            ))),
            Some(transport) => match transport.tcp_socket() {
                Some(socket) => set(socket),
                None => Err(ErrorCode::NotSupported(format!(
                    "{what} can be set only on a TCP connection the app opened or accepted itself \
                     (not on a Unix socket, nor on a connection accepted on a listener the host \
                     pre-opened)"
                ))),
            },
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
        conn.set_tls(secured.info);
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
