//! TLS in the provider: the host's `wasio:host/tls` sessions plumbed into connections.
//!
//! A connection's raw byte streams (a TCP socket's, or a live connection's handed back by
//! [`Conn::detach`](crate::conn::Conn::detach) for `start_tls`) are re-plumbed through a host
//! session: the raw receive stream becomes the session's ciphertext input (after any bytes that
//! were already received, e.g. a ClientHello that came with the last plaintext line), the
//! session's ciphertext output is forwarded into the raw send stream, and the session's cleartext
//! streams become the [`Streams`] of an ordinary connection. So every stream semantic is the same
//! code with or without TLS.
//!
//! The raw receive side's completion is not awaited: once TLS runs, the session reports how the
//! receive side ended (close_notify, truncation, alert), and it ends with the raw stream.

use crate::bindings::wasio::host::tls::{ClientConfig, Roots, ServerConfig, Session, SessionInfo};
use crate::bindings::wit_stream;
use crate::conn::{Completion, Streams};
use crate::errors::invalid;
use crate::timeout::with_timeout;
use crate::types::{
    ClientTlsConfig, ErrorCode, ExtraInfo, PeerCertificate, ServerTlsConfig, TrustRoots,
};
use std::cell::RefCell;
use std::rc::Rc;
use wasio_core::notify::Notify;
use wit_bindgen::{StreamReader, StreamResult, StreamWriter};

/// asyncio's default TLS handshake timeout: 60 s, in nanoseconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT: u64 = 60_000_000_000;

/// asyncio's default TLS shutdown timeout: 30 s, in nanoseconds.
pub const DEFAULT_SHUTDOWN_TIMEOUT: u64 = 30_000_000_000;

/// Ciphertext bytes the forwarder moves at once.
const FORWARD_CHUNK: usize = 64 * 1024;

/// How long a TLS failure waits for the socket under it to say how it ended (nanoseconds): a
/// reset shows through TLS as ciphertext that ended without close_notify, and the socket's own
/// completion, which says "reset", comes at about the same time. Only the failure path waits.
const SOCKET_OUTCOME_WAIT: u64 = 100_000_000;

/// Which side of the handshake this end plays, with its host configuration.
pub enum Side {
    /// A TLS client.
    Client(ClientConfig),
    /// A TLS server.
    Server(ServerConfig),
}

/// The TLS timeouts of a connection, in nanoseconds.
#[derive(Clone, Copy)]
pub struct Timeouts {
    /// Handshake timeout.
    pub handshake: u64,
    /// Shutdown (close_notify) timeout.
    pub shutdown: u64,
}

impl Timeouts {
    /// The timeouts from optional values, with asyncio's defaults.
    pub fn new(handshake: Option<u64>, shutdown: Option<u64>) -> Self {
        Self {
            handshake: handshake.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT),
            shutdown: shutdown.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
        }
    }
}

/// The client side for `config`. `server_hostname`: the name to send as SNI and to check the
/// certificate against; empty disables the name check (and SNI); `None` is an error (asyncio:
/// "check_hostname requires server_hostname").
pub fn client_side(
    config: ClientTlsConfig,
    server_hostname: Option<String>,
) -> Result<Side, ErrorCode> {
    let Some(name) = server_hostname else {
        return Err(invalid(
            "server_hostname is required with ssl when there is no host to take it from",
        ));
    };
    let name = name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let verify = !name.is_empty();
    Ok(Side::Client(ClientConfig {
        server_name: verify.then_some(name),
        verify_hostname: verify,
        roots: match config.roots {
            TrustRoots::WebRoots => Roots::WebRoots,
            TrustRoots::Platform => Roots::Platform,
            TrustRoots::Pem(pem) => Roots::Pem(pem),
        },
        client_cert: config
            .client_cert
            .map(|key| (key.cert_chain_pem, key.private_key_pem)),
        alpn_protocols: config.alpn_protocols,
    }))
}

/// The server side for `config`.
pub fn server_side(config: ServerTlsConfig) -> Side {
    Side::Server(ServerConfig {
        cert_chain_pem: config.identity.cert_chain_pem,
        private_key_pem: config.identity.private_key_pem,
        client_auth_ca_pem: config.client_auth_ca_pem,
        client_auth_required: config.client_auth_required,
        alpn_protocols: config.alpn_protocols,
    })
}

/// What a connection's TLS handshake settled (asyncio's TLS `get_extra_info` values).
pub struct TlsInfo(SessionInfo);

impl TlsInfo {
    /// Fills the TLS fields of `info`.
    pub fn fill(&self, info: &mut ExtraInfo) {
        let s = &self.0;
        info.peercert = s.peer_certificate.as_ref().map(|c| PeerCertificate {
            der: c.der.clone(),
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            subject_alt_names: c.subject_alt_names.clone(),
            not_before: c.not_before.clone(),
            not_after: c.not_after.clone(),
        });
        info.cipher = (!s.cipher.is_empty()).then(|| s.cipher.clone());
        info.tls_version = (!s.version.is_empty()).then(|| s.version.clone());
        info.alpn_protocol = s.alpn_protocol.clone();
        info.server_hostname = s.server_name.clone();
    }
}

/// A connection's streams after the TLS handshake.
pub struct Secured {
    /// The cleartext streams, for [`Conn`](crate::conn::Conn).
    pub streams: Streams,
    /// The session; dropping it ends the TLS session.
    pub session: Session,
    /// What the handshake settled.
    pub info: TlsInfo,
    /// The shutdown timeout, nanoseconds: how long a close may take once asked.
    pub shutdown_timeout: u64,
}

/// Runs a TLS handshake over `raw` (ciphertext), `received` being ciphertext that already
/// arrived, and returns cleartext streams. Errors: `tls`, `timeout` (after the handshake
/// timeout), `invalid-argument` (bad configuration), the transport's errors. On error the raw
/// streams are closed.
pub async fn secure(
    raw: Streams,
    received: Vec<u8>,
    side: Side,
    timeouts: Timeouts,
) -> Result<Secured, ErrorCode> {
    let Streams {
        receive,
        receive_done,
        send,
        send_done,
    } = raw;
    // Never dropped: when the socket under the session fails, its error is the connection's
    // (`cause`), as asyncio reports a reset under TLS as `ConnectionResetError`.
    let socket_received = Rc::new(Outcome::default());
    {
        let outcome = socket_received.clone();
        wit_bindgen::spawn_local(async move { outcome.set(receive_done.await) });
    }
    let made = match &side {
        Side::Client(config) => Session::client(config, receive, &received),
        Side::Server(config) => Session::server(config, receive, &received),
    };
    let (session, ciphertext_out) = match made {
        Ok(made) => made,
        Err(e) => {
            // Dropping the raw send stream ends the connection's write side.
            drop(send);
            let _ = send_done.await;
            return Err(e.into());
        }
    };
    let forwarded = Rc::new(Outcome::default());
    wit_bindgen::spawn_local(forward(ciphertext_out, send, send_done, forwarded.clone()));
    let info = match session.handshake(Some(timeouts.handshake)).await {
        Ok(info) => info,
        Err(e) => return Err(cause(e.into(), &socket_received).await),
    };
    let (cleartext_in, cleartext_in_done) = session.receive();
    let (cleartext_out, cleartext_out_rx) = wit_stream::new::<u8>();
    let cleartext_out_done = session.send(cleartext_out_rx, Some(timeouts.shutdown));
    let receive_done: Completion = Box::pin(async move {
        match cleartext_in_done.await {
            Ok(()) => Ok(()),
            Err(e) => Err(cause(e.into(), &socket_received).await),
        }
    });
    let send_done: Completion = Box::pin(async move {
        if let Err(e) = cleartext_out_done.await {
            return Err(cause(e.into(), &forwarded).await);
        }
        // close_notify is in the ciphertext stream; wait until the socket took it (bounded).
        with_timeout(Some(timeouts.shutdown), forwarded.wait()).await
    });
    Ok(Secured {
        streams: Streams {
            receive: cleartext_in,
            receive_done,
            send: cleartext_out,
            send_done,
        },
        session,
        info: TlsInfo(info),
        shutdown_timeout: timeouts.shutdown,
    })
}

/// What to report for `error`, a TLS session's failure: the error of the socket under it when
/// that side of the socket failed (a reset reaches TLS as ciphertext that ended early), else
/// `error`. Waits for the socket's outcome at most [`SOCKET_OUTCOME_WAIT`], and only for
/// `tls` errors (the others are the socket's already).
async fn cause(error: ErrorCode, socket: &Outcome) -> ErrorCode {
    if !matches!(error, ErrorCode::Tls(_)) {
        return error;
    }
    let outcome = async { Ok::<_, ErrorCode>(socket.wait().await) };
    match with_timeout(Some(SOCKET_OUTCOME_WAIT), outcome).await {
        Ok(Err(socket_error)) => socket_error,
        _ => error,
    }
}

/// The outcome of a spawned task, awaited by someone else.
#[derive(Default)]
struct Outcome {
    result: RefCell<Option<Result<(), ErrorCode>>>,
    result_set: Notify,
}

impl Outcome {
    fn set(&self, result: Result<(), ErrorCode>) {
        *self.result.borrow_mut() = Some(result);
        self.result_set.notify();
    }

    async fn wait(&self) -> Result<(), ErrorCode> {
        loop {
            let listen = self.result_set.listen();
            if let Some(result) = self.result.borrow().clone() {
                return result;
            }
            listen.await;
        }
    }
}

/// Moves the session's ciphertext into the raw send stream until either ends, then ends the
/// raw stream (FIN) and records how the raw send side finished.
async fn forward(
    mut from: StreamReader<u8>,
    mut to: StreamWriter<u8>,
    to_done: Completion,
    outcome: Rc<Outcome>,
) {
    let mut buf = Vec::with_capacity(FORWARD_CHUNK);
    loop {
        let (result, chunk) = from.read(buf).await;
        buf = chunk;
        if !buf.is_empty() {
            let unwritten = to.write_all(std::mem::take(&mut buf)).await;
            if !unwritten.is_empty() {
                break;
            }
            buf = unwritten;
            buf.reserve(FORWARD_CHUNK);
        }
        if result == StreamResult::Dropped {
            break;
        }
    }
    drop(from);
    drop(to);
    outcome.set(to_done.await);
}
