//! One TLS session over a pair of ciphertext byte streams.
//!
//! The plumbing, for a session the guest created with `client` / `server`:
//! ```text
//! guest ciphertext-in ──ByteConsumer───▶ pipe ───┐                   ┌─▶ ReadHalf ──ByteProducer──▶ guest cleartext
//!         `received` bytes (read first) ─────────┴▶ rustls TlsStream ┤
//! guest ciphertext-out ◀──ByteProducer── pipe ◀──┘                   └─◀ WriteHalf ◀── send task ◀── pipe ◀── guest cleartext
//! ```
//! The handshake runs inside the `handshake` call, bounded by its timeout. The receive side is a
//! producer straight over the TLS read half (EOF at close_notify; a transport that ends without
//! one is a truncation error). The send side is a task that writes and flushes every cleartext
//! chunk, then sends close_notify within the shutdown timeout and ends the ciphertext stream.
//! Dropping the session ends every task and pipe.

use std::future::Future;
use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, Chain, Join, ReadHalf, WriteHalf};
use tokio::task::AbortHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use super::config;
use super::errors::{Stage, from_io, invalid};
use super::info::session_info;
use crate::host_impl::bindings::tls::{ClientConfig, ServerConfig, SessionInfo};
use crate::host_impl::bindings::types::ErrorCode;
use crate::pipe::{PipeReader, PipeWriter, pipe};

/// Bytes each in-memory pipe holds before its writer waits. An emptied pipe frees its buffer,
/// so this costs an idle connection nothing; 256 KiB moved about 15% more TLS bulk than 64 KiB.
const PIPE_CAPACITY: usize = 256 * 1024;

/// Cleartext bytes the send task moves at once.
const SEND_CHUNK: usize = 16 * 1024;

/// What rustls reads ciphertext from and writes ciphertext to.
type Transport = Join<Chain<Cursor<Vec<u8>>, PipeReader>, PipeWriter>;

/// An established TLS stream, either side.
type Stream = TlsStream<Transport>;

/// Which side a session plays, with what it needs to start.
enum Side {
    Client {
        connector: TlsConnector,
        name: rustls_pki_types::ServerName<'static>,
        /// The SNI name reported in the session info.
        sni: Option<String>,
    },
    Server {
        acceptor: TlsAcceptor,
    },
}

/// A session before its handshake: the side and the ciphertext transport.
pub struct Handshake {
    side: Side,
    transport: Transport,
}

/// The pipe ends the host interface connects to the guest's streams.
pub struct CiphertextEnds {
    /// Write the guest's incoming ciphertext here (a `ByteConsumer` over the guest's stream).
    pub incoming: PipeWriter,
    /// Read the ciphertext for the peer from here (a `ByteProducer` for the guest).
    pub outgoing: PipeReader,
}

/// The state of one `wasio:host/tls` session resource.
pub struct TlsSession {
    handshake: Option<Handshake>,
    handshake_done: bool,
    read: Option<ReadHalf<Stream>>,
    write: Option<WriteHalf<Stream>>,
    tasks: Vec<AbortHandle>,
    /// Set when the session is dropped (the guest's abort): the send task must not send
    /// close_notify even if it sees the end of the cleartext before its abort takes effect.
    dropped: Arc<AtomicBool>,
}

impl Drop for TlsSession {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::Release);
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl TlsSession {
    /// A client session (nothing is sent before [`Handshake::run`]).
    pub fn client(
        config: &ClientConfig,
        received: Vec<u8>,
    ) -> Result<(Self, CiphertextEnds), ErrorCode> {
        let client = config::client(config)?;
        let sni = match config.server_name.as_deref() {
            Some(name) if !name.is_empty() => Some(name.to_owned()),
            _ => None,
        };
        let side = Side::Client {
            connector: TlsConnector::from(client.config),
            name: client.server_name,
            sni,
        };
        Ok(Self::new(side, received))
    }

    /// A server session (nothing is sent before [`Handshake::run`]).
    pub fn server(
        config: &ServerConfig,
        received: Vec<u8>,
    ) -> Result<(Self, CiphertextEnds), ErrorCode> {
        let side = Side::Server {
            acceptor: TlsAcceptor::from(config::server(config)?),
        };
        Ok(Self::new(side, received))
    }

    fn new(side: Side, received: Vec<u8>) -> (Self, CiphertextEnds) {
        let (incoming, from_peer) = pipe(PIPE_CAPACITY);
        let (to_peer, outgoing) = pipe(PIPE_CAPACITY);
        let transport = tokio::io::join(Cursor::new(received).chain(from_peer), to_peer);
        let session = Self {
            handshake: Some(Handshake { side, transport }),
            handshake_done: false,
            read: None,
            write: None,
            tasks: Vec::new(),
            dropped: Arc::default(),
        };
        (session, CiphertextEnds { incoming, outgoing })
    }

    /// Takes the handshake to run; `invalid-argument` when it was taken before.
    pub fn take_handshake(&mut self) -> Result<Handshake, ErrorCode> {
        self.handshake
            .take()
            .ok_or_else(|| invalid("the TLS handshake was already started"))
    }

    /// Stores the established stream for `receive` and `send`.
    pub fn established(&mut self, stream: Stream) {
        let (read, write) = tokio::io::split(stream);
        self.read = Some(read);
        self.write = Some(write);
        self.handshake_done = true;
    }

    /// The cleartext read side, once. Errors when the handshake has not succeeded or it was
    /// taken already.
    pub fn take_reader(&mut self) -> Result<impl AsyncRead + Send + Unpin + 'static, ErrorCode> {
        if !self.handshake_done {
            return Err(invalid("receive needs a finished TLS handshake"));
        }
        self.read
            .take()
            .ok_or_else(|| invalid("the TLS receive side was already taken"))
    }

    /// Starts the send side, once: returns the pipe end to write cleartext into (dropping it ends
    /// the data, which sends close_notify) and the future of the outcome.
    pub fn start_sending(
        &mut self,
        shutdown_timeout: Option<Duration>,
    ) -> Result<
        (
            PipeWriter,
            impl Future<Output = Result<(), ErrorCode>> + Send + 'static,
        ),
        ErrorCode,
    > {
        if !self.handshake_done {
            return Err(invalid("send needs a finished TLS handshake"));
        }
        let tls = self
            .write
            .take()
            .ok_or_else(|| invalid("the TLS send side was already taken"))?;
        let (cleartext_in, cleartext) = pipe(PIPE_CAPACITY);
        let task = tokio::spawn(send_loop(
            cleartext,
            tls,
            shutdown_timeout,
            self.dropped.clone(),
        ));
        self.tasks.push(task.abort_handle());
        let outcome = async move {
            match task.await {
                Ok(result) => result,
                Err(_) => Err(ErrorCode::ConnectionAborted),
            }
        };
        Ok((cleartext_in, outcome))
    }
}

impl Handshake {
    /// Runs the handshake, giving up with `timeout` after `limit`.
    pub async fn run(self, limit: Option<Duration>) -> Result<(Stream, SessionInfo), ErrorCode> {
        let handshake = async move {
            match self.side {
                Side::Client {
                    connector,
                    name,
                    sni,
                } => {
                    let stream = connector
                        .connect(name, self.transport)
                        .await
                        .map_err(|e| from_io(e, Stage::Handshake))?;
                    let info = session_info(stream.get_ref().1, sni);
                    Ok((TlsStream::Client(stream), info))
                }
                Side::Server { acceptor } => {
                    let stream = acceptor
                        .accept(self.transport)
                        .await
                        .map_err(|e| from_io(e, Stage::Handshake))?;
                    let connection = stream.get_ref().1;
                    let sni = connection.server_name().map(str::to_owned);
                    let info = session_info(connection, sni);
                    Ok((TlsStream::Server(stream), info))
                }
            }
        };
        match limit {
            Some(limit) => tokio::time::timeout(limit, handshake)
                .await
                .unwrap_or(Err(ErrorCode::Timeout)),
            None => handshake.await,
        }
    }
}

/// Moves cleartext into the TLS stream, flushing after each chunk; at the end of the data sends
/// close_notify (bounded by `shutdown_timeout`), which also ends the ciphertext stream.
async fn send_loop(
    mut cleartext: PipeReader,
    mut tls: WriteHalf<Stream>,
    shutdown_timeout: Option<Duration>,
    dropped: Arc<AtomicBool>,
) -> Result<(), ErrorCode> {
    let mut buf = vec![0u8; SEND_CHUNK];
    loop {
        let n = cleartext
            .read(&mut buf)
            .await
            .map_err(|e| from_io(e, Stage::Send))?;
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n])
            .await
            .map_err(|e| from_io(e, Stage::Send))?;
        tls.flush().await.map_err(|e| from_io(e, Stage::Send))?;
    }
    // The guest drops the session before its cleartext stream when it aborts, so this sees it.
    if dropped.load(Ordering::Acquire) {
        return Err(ErrorCode::ConnectionAborted);
    }
    let shutdown = async { tls.shutdown().await.map_err(|e| from_io(e, Stage::Send)) };
    match shutdown_timeout {
        Some(limit) => tokio::time::timeout(limit, shutdown)
            .await
            .unwrap_or(Err(ErrorCode::Timeout)),
        None => shutdown.await,
    }
}

/// The outcome of a receive side that ended by itself: ok at close_notify, else its error.
pub fn receive_outcome(result: std::io::Result<()>) -> Result<(), ErrorCode> {
    result.map_err(|e| from_io(e, Stage::Receive))
}
