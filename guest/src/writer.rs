//! The `writer` resource (asyncio `StreamWriter` plus its transport's flow-control methods).
//! `write` never waits: it queues and wakes the send pump. `drain` waits only above the high mark.

use crate::bindings::exports::wasio::streams::streams::GuestWriter;
use crate::bindings::exports::wasio::streams::types::{ErrorCode, ExtraInfo, TlsConfig};
use crate::conn::{Conn, TcpOption, Transport};
use crate::errors::invalid;
use crate::handover;
use crate::task_exit;
use crate::timeout::bounded;
use crate::tls::{self, Timeouts};
use std::rc::Rc;
use wasio_core::WaterMarks;
use wasio_core::notify::Notify;
use wit_bindgen::{StreamReader, StreamResult};

/// Bytes `write-stream` takes from its stream at once.
const STREAM_CHUNK: usize = 64 * 1024;

/// The write half of a connection.
pub struct WriterImpl {
    pub(crate) conn: Rc<Conn>,
    /// Notified by `interrupt`: ends the `drain` or `wait-closed` waiting, if any.
    interrupt: Notify,
}

impl WriterImpl {
    /// The writer of `conn`.
    pub(crate) fn new(conn: Rc<Conn>) -> Self {
        Self {
            conn,
            interrupt: Notify::default(),
        }
    }
}

impl Drop for WriterImpl {
    fn drop(&mut self) {
        if !self.conn.is_closing() {
            eprintln!(
                "wasio: unclosed writer dropped; closing it (call close() and wait_closed())"
            );
            self.conn.close();
        }
    }
}

impl GuestWriter for WriterImpl {
    fn write(&self, data: Vec<u8>) -> Result<(), ErrorCode> {
        self.conn.write_vec(data)
    }

    fn writelines(&self, data: Vec<Vec<u8>>) -> Result<(), ErrorCode> {
        let parts: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        self.conn.write(&parts)
    }

    async fn write_from(&self, n: u64, data: StreamReader<u8>) -> Result<(), ErrorCode> {
        task_exit::deferred(async move {
            let n = self.conn.admit_write(n)?;
            if n == 0 {
                return Ok(());
            }
            let bytes = handover::take(data, n).await;
            if bytes.len() != n {
                return Err(invalid(
                    "write-from: the stream did not hand over its n bytes at once; nothing was queued",
                ));
            }
            self.conn.write_vec(bytes)
        })
        .await
    }

    async fn write_stream(&self, mut data: StreamReader<u8>) -> Result<u64, ErrorCode> {
        task_exit::deferred(async move {
            let mut total = 0u64;
            let mut buf = Vec::with_capacity(STREAM_CHUNK);
            loop {
                let (result, chunk) = data.read(buf).await;
                buf = chunk;
                if !buf.is_empty() {
                    total += buf.len() as u64;
                    // The chunk itself is queued (no copy into an empty queue); the next read
                    // gets a fresh buffer.
                    let chunk = std::mem::replace(&mut buf, Vec::with_capacity(STREAM_CHUNK));
                    self.conn.write_vec(chunk)?;
                    self.conn.drain().await?;
                }
                if result == StreamResult::Dropped {
                    return Ok(total);
                }
            }
        })
        .await
    }

    fn try_drain(&self) -> Option<Result<(), ErrorCode>> {
        self.conn.try_drain()
    }

    async fn drain(&self, timeout: Option<u64>) -> Result<(), ErrorCode> {
        let interrupted = self.interrupt.listen();
        task_exit::deferred(async move { bounded(timeout, interrupted, self.conn.drain()).await })
            .await
    }

    fn get_write_buffer_size(&self) -> u64 {
        self.conn.state.borrow().write_queue.size() as u64
    }

    fn get_write_buffer_limits(&self) -> (u64, u64) {
        let marks = self.conn.state.borrow().write_queue.marks();
        (marks.low, marks.high)
    }

    fn set_write_buffer_limits(
        &self,
        high: Option<u64>,
        low: Option<u64>,
    ) -> Result<(), ErrorCode> {
        self.conn
            .set_write_buffer_limits(WaterMarks::new(high, low)?);
        Ok(())
    }

    fn set_tcp_nodelay(&self, enabled: bool) -> Result<(), ErrorCode> {
        self.conn.set_tcp_option(TcpOption::NoDelay, enabled)
    }

    fn set_keep_alive(&self, enabled: bool) -> Result<(), ErrorCode> {
        self.conn.set_tcp_option(TcpOption::KeepAlive, enabled)
    }

    fn can_write_eof(&self) -> bool {
        !self.conn.is_tls()
    }

    fn write_eof(&self) -> Result<(), ErrorCode> {
        if self.conn.is_tls() {
            return Err(ErrorCode::NotSupported(
                "write_eof is not supported over TLS (TLS has no half-close)".to_string(),
            ));
        }
        self.conn.write_eof();
        Ok(())
    }

    fn close(&self) {
        self.conn.close();
    }

    fn abort(&self) {
        self.conn.abort();
    }

    fn is_closing(&self) -> bool {
        self.conn.is_closing()
    }

    async fn wait_closed(&self, timeout: Option<u64>) -> Result<(), ErrorCode> {
        let interrupted = self.interrupt.listen();
        task_exit::deferred(
            async move { bounded(timeout, interrupted, self.conn.wait_closed()).await },
        )
        .await
    }

    fn interrupt(&self) {
        self.interrupt.notify();
    }

    fn extra_info(&self) -> ExtraInfo {
        self.conn.extra_info()
    }

    async fn start_tls(
        &self,
        config: TlsConfig,
        server_hostname: Option<String>,
        handshake_timeout: Option<u64>,
        shutdown_timeout: Option<u64>,
        ahead: Vec<u8>,
    ) -> Result<(), ErrorCode> {
        task_exit::deferred(async move {
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
            self.conn.drain().await?;
            // Stops the pumps once the queue is flushed; the reader's buffered bytes (which may hold
            // the peer's first handshake message) go into the session first (CPython gh-142352).
            let (raw, buffered) = self.conn.detach().await?;
            match tls::secure(raw, buffered, side, timeouts).await {
                Ok(secured) => {
                    let session = secured.session;
                    self.conn.reattach(secured.streams, move |socket| {
                        Transport::Tls(session, Box::new(socket))
                    });
                    self.conn.set_tls(secured.info);
                    Ok(())
                }
                Err(e) => {
                    self.conn.fail_detached(e.clone());
                    Err(e)
                }
            }
        })
        .await
    }
}
