//! The write half of a connection (asyncio `StreamWriter` plus its transport's flow-control
//! methods). `write` never waits: it queues and wakes the send pump. `drain` waits only above the
//! high mark. Like the reader's, the async methods take their `interrupt` listener when called.

use crate::conn::{Conn, TcpOption, Transport};
use crate::errors::{invalid, read_error};
use crate::timeout::bounded;
use crate::tls::{self, Timeouts};
use crate::types::{ErrorCode, ExtraInfo, TlsConfig};
use futures::future::{Either, select};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use wasio_core::WaterMarks;
use wasio_core::notify::Notify;

/// The write half of a connection.
pub struct Writer {
    pub(crate) conn: Rc<Conn>,
    /// Notified by `interrupt`: ends the `drain` or `wait_closed` waiting, if any.
    interrupt: Notify,
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.conn.is_closing() {
            eprintln!(
                "wasio: unclosed writer dropped; closing it (call close() and wait_closed())"
            );
            self.conn.close();
        }
    }
}

impl Writer {
    /// The writer of `conn`.
    pub(crate) fn new(conn: Rc<Conn>) -> Self {
        Self {
            conn,
            interrupt: Notify::default(),
        }
    }

    /// asyncio `write`: queues `data` (never waits); `buffer-full` past the queue cap, and the
    /// connection's error once it is lost.
    pub fn write(&self, data: &[u8]) -> Result<(), ErrorCode> {
        self.conn.write(&[data])
    }

    /// `write` of bytes the caller owns: an empty queue takes the buffer without a copy.
    pub fn write_vec(&self, data: Vec<u8>) -> Result<(), ErrorCode> {
        self.conn.write_vec(data)
    }

    /// asyncio `writelines`: all of them or none.
    pub fn writelines(&self, data: &[Vec<u8>]) -> Result<(), ErrorCode> {
        let parts: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        self.conn.write(&parts)
    }

    /// Checks that `n` more bytes may be queued now, as `write` would; the `n` to queue.
    pub fn admit_write(&self, n: u64) -> Result<usize, ErrorCode> {
        self.conn.admit_write(n)
    }

    /// asyncio `drain` if it can finish now; `None` if it would wait.
    pub fn try_drain(&self) -> Option<Result<(), ErrorCode>> {
        self.conn.try_drain()
    }

    /// asyncio `drain`: waits while the queue is above the high mark.
    pub fn drain(&self, timeout: Option<u64>) -> impl Future<Output = Result<(), ErrorCode>> + '_ {
        let interrupted = self.interrupt.listen();
        async move { bounded(timeout, interrupted, self.conn.drain()).await }
    }

    /// Waits until the whole queue is sent (no interrupt, no timeout): a streamed write's pace.
    pub async fn flush(&self) -> Result<(), ErrorCode> {
        self.conn.drain().await
    }

    /// The transport's `get_write_buffer_size`.
    pub fn get_write_buffer_size(&self) -> u64 {
        self.conn.write_buffer_size() as u64
    }

    /// The transport's `get_write_buffer_limits`: `(low, high)`.
    pub fn get_write_buffer_limits(&self) -> (u64, u64) {
        let marks = self.conn.write_buffer_limits();
        (marks.low, marks.high)
    }

    /// The transport's `set_write_buffer_limits`, with asyncio's defaults and checks.
    pub fn set_write_buffer_limits(
        &self,
        high: Option<u64>,
        low: Option<u64>,
    ) -> Result<(), ErrorCode> {
        self.conn
            .set_write_buffer_limits(WaterMarks::new(high, low).map_err(read_error)?);
        Ok(())
    }

    /// TCP_NODELAY on the connection's socket (`not-supported` on a Unix socket).
    pub fn set_tcp_nodelay(&self, enabled: bool) -> Result<(), ErrorCode> {
        self.conn.set_tcp_option(TcpOption::NoDelay, enabled)
    }

    /// SO_KEEPALIVE on the connection's socket (`not-supported` on a Unix socket).
    pub fn set_keep_alive(&self, enabled: bool) -> Result<(), ErrorCode> {
        self.conn.set_tcp_option(TcpOption::KeepAlive, enabled)
    }

    /// asyncio `can_write_eof`: false over TLS.
    pub fn can_write_eof(&self) -> bool {
        !self.conn.is_tls()
    }

    /// asyncio `write_eof`: the peer reads EOF once the queue is flushed.
    pub fn write_eof(&self) -> Result<(), ErrorCode> {
        if self.conn.is_tls() {
            return Err(ErrorCode::NotSupported(
                "write_eof is not supported over TLS (TLS has no half-close)".to_string(),
            ));
        }
        self.conn.write_eof();
        Ok(())
    }

    /// asyncio `close`: the queue is flushed, then the socket closes.
    pub fn close(&self) {
        self.conn.close();
    }

    /// asyncio `transport.abort`: the queue is dropped and the socket closes now.
    pub fn abort(&self) {
        self.conn.abort();
    }

    /// asyncio `is_closing`.
    pub fn is_closing(&self) -> bool {
        self.conn.is_closing()
    }

    /// asyncio `wait_closed`: the connection's error, if it was lost.
    pub fn wait_closed(
        &self,
        timeout: Option<u64>,
    ) -> impl Future<Output = Result<(), ErrorCode>> + '_ {
        let interrupted = self.interrupt.listen();
        async move { bounded(timeout, interrupted, self.conn.wait_closed()).await }
    }

    /// Ends the `drain`, `wait_closed` or `start_tls` waiting now, if any, with `interrupted`
    /// (a `start_tls` past its drain also aborts the connection, as asyncio's closes it).
    pub fn interrupt(&self) {
        self.interrupt.notify();
    }

    /// asyncio `get_extra_info`'s values.
    pub fn extra_info(&self) -> ExtraInfo {
        self.conn.extra_info()
    }

    /// asyncio `start_tls`: upgrades the connection in place. `ahead` is what the caller read
    /// from this connection's reader and did not use; it goes back first.
    ///
    /// [`interrupt`](Self::interrupt) ends it: while it drains, with no change (as a `drain`);
    /// once the handshake has begun, the connection is aborted (`connection-aborted` for its
    /// reads and writes), as asyncio's `start_tls` closes the transport when it is cancelled.
    pub async fn start_tls(
        &self,
        config: TlsConfig,
        server_hostname: Option<String>,
        handshake_timeout: Option<u64>,
        shutdown_timeout: Option<u64>,
        ahead: Vec<u8>,
    ) -> Result<(), ErrorCode> {
        // Back in the reader's buffer first, so no error below loses them.
        self.conn.unread_from_app(ahead);
        if self.conn.is_tls() {
            return Err(invalid("the connection already uses TLS"));
        }
        let side = match config {
            TlsConfig::Client(config) => tls::client_side(config, server_hostname)?,
            TlsConfig::Server(config) => {
                if server_hostname.is_some() {
                    return Err(invalid(
                        "server_hostname is only meaningful for a TLS client",
                    ));
                }
                tls::server_side(config)
            }
        };
        let timeouts = Timeouts::new(handshake_timeout, shutdown_timeout);
        bounded(None, self.interrupt.listen(), self.conn.drain()).await?;
        // Stops the pumps once the queue is flushed; the reader's buffered bytes (which may hold
        // the peer's first handshake message) go into the session first (CPython gh-142352).
        // Outer error: the detach's (nothing changed); inner: the handshake's.
        let upgrade = async {
            let (raw, buffered) = self.conn.detach().await?;
            Ok::<_, ErrorCode>(tls::secure(raw, buffered, side, timeouts).await)
        };
        let upgraded = match select(pin!(upgrade), pin!(self.interrupt.listen())).await {
            Either::Left((upgraded, _)) => upgraded?,
            Either::Right(_) => {
                // Dropping the handshake dropped the session and its socket streams.
                self.conn.fail_detached(ErrorCode::ConnectionAborted);
                return Err(ErrorCode::Interrupted);
            }
        };
        match upgraded {
            Ok(secured) => {
                let session = secured.session;
                self.conn.reattach(secured.streams, move |socket| {
                    Transport::Tls(session, Box::new(socket))
                });
                self.conn.set_tls(secured.info, secured.shutdown_timeout);
                Ok(())
            }
            Err(e) => {
                self.conn.fail_detached(e.clone());
                Err(e)
            }
        }
    }
}
