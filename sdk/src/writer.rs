//! [`Writer`]: the write half of a connection (asyncio `StreamWriter`).
//!
//! `write` never waits; [`Writer::drain`] tries the contract's sync `try-drain` first and makes
//! the async call only when it has to wait for the queue to shrink.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use crate::bulk;
use crate::error::Result;
use crate::options::nanos;
use crate::raw;
use crate::read_ahead::SharedReadAhead;
use wasio_types::{ErrorCode, ExtraInfo, SocketAddress, TlsConfig};

/// A drain or close call kept in the writer between polls of `AsyncWrite`.
pub(crate) type PendingUnit = Pin<Box<dyn Future<Output = Result<(), ErrorCode>>>>;

/// The write half of a connection (asyncio `StreamWriter`).
///
/// Cloning gives another handle to the same connection (e.g. for a second task); the connection
/// closes when [`close`](Writer::close) is called, or when the last handle is dropped (the provider
/// then prints asyncio's "unclosed writer" warning). It also implements `futures::io::AsyncWrite`
/// (see the `io_write` module).
///
/// ```no_run
/// # // no_run: the calls need a wasio host (wasi:sockets and wasio:host), only inside a component.
/// # async fn demo() -> wasio_sdk::Result<()> {
/// let (_reader, writer) = wasio_sdk::open_connection("127.0.0.1", 8888).await?;
/// writer.write(b"GET / HTTP/1.0\r\n")?;
/// writer.writelines([&b"Host: example\r\n"[..], b"\r\n"])?;
/// writer.drain().await?;
/// writer.close();
/// writer.wait_closed().await?;
/// # Ok(()) }
/// ```
pub struct Writer {
    /// The contract's writer; shared by clones and calls in flight.
    pub(crate) inner: Rc<raw::Writer>,
    /// The timeout of every wait; `None` waits as long as it takes.
    timeout: Option<Duration>,
    /// An `AsyncWrite` drain in flight.
    pub(crate) draining: Option<PendingUnit>,
    /// An `AsyncWrite` close (`wait_closed`) in flight.
    pub(crate) closing: Option<PendingUnit>,
    /// The lines the connection's reader took ahead, which `start_tls` passes on.
    pub(crate) ahead: SharedReadAhead,
}

impl Clone for Writer {
    /// Another handle to the same connection (calls in flight stay with the original).
    fn clone(&self) -> Self {
        Writer {
            inner: self.inner.clone(),
            timeout: self.timeout,
            draining: None,
            closing: None,
            ahead: self.ahead.clone(),
        }
    }
}

impl Writer {
    /// Wraps the contract's writer.
    pub(crate) fn from_raw(inner: raw::Writer) -> Self {
        Writer {
            inner: Rc::new(inner),
            timeout: None,
            draining: None,
            closing: None,
            ahead: SharedReadAhead::default(),
        }
    }

    /// The contract's writer, for what the SDK does not wrap (e.g. the bulk `write-stream`).
    pub fn raw(&self) -> &raw::Writer {
        &self.inner
    }

    /// Sets the timeout of every later wait of this handle (`drain`, `wait_closed`, `start_tls`;
    /// `None`, the default: no timeout). A wait that runs out fails with
    /// [`Error::Timeout`](crate::Error::Timeout).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The timeout set by [`set_timeout`](Writer::set_timeout).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// asyncio `write(data)`: queues `data`, never waits and does no I/O. Empty data is ignored;
    /// after close or connection loss the data is dropped (call [`drain`](Writer::drain) to learn
    /// of it: a send that fails is reported from the next drain on).
    /// Errors: [`Error::Closed`](crate::Error::Closed) after `write_eof`
    /// ("Cannot call write() after write_eof()"); [`Error::BufferFull`](crate::Error::BufferFull)
    /// beyond the queue's hard cap (nothing queued then).
    pub fn write(&self, data: impl AsRef<[u8]>) -> Result<()> {
        let data = data.as_ref();
        if bulk::worth(data.len() as u64) {
            // `write-from` never waits, so this returns at once.
            return Ok(wit_bindgen::block_on(bulk::write(&self.inner, data))?);
        }
        Ok(self.inner.write(data)?)
    }

    /// [`write`](Writer::write) of bytes the app hands over, such as what a read returned: in
    /// linked mode, into an empty queue they are queued as they are, without a copy (a copy costs
    /// most at large writes, whose buffers leave the CPU's caches). Composed, it is `write`.
    pub fn write_vec(&self, data: Vec<u8>) -> Result<()> {
        #[cfg(not(feature = "composed"))]
        return Ok(self.inner.write_vec(data)?);
        #[cfg(feature = "composed")]
        self.write(data)
    }

    /// asyncio `writelines(lines)`: queues every item as one write; empty items are fine.
    /// Errors: as [`write`](Writer::write).
    pub fn writelines<I>(&self, lines: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let lines: Vec<Vec<u8>> = lines.into_iter().map(|l| l.as_ref().to_vec()).collect();
        Ok(self.inner.writelines(&lines)?)
    }

    /// asyncio `drain()`: returns at once while the queue is at or below the high-water mark,
    /// otherwise waits until it falls to the low-water mark. Many drains may wait at once. On a
    /// closing writer it waits for the flush, then fails with "Connection lost"; after the peer's
    /// EOF it first waits for the socket's answer to what was written, so a send to a peer that
    /// is gone fails it.
    /// Errors: the reader's stored error; [`Error::ConnectionReset`](crate::Error::ConnectionReset)
    /// when the connection is lost; [`Error::Timeout`](crate::Error::Timeout).
    pub async fn drain(&self) -> Result<()> {
        match self.inner.try_drain() {
            Some(result) => Ok(result?),
            None => Ok(self.inner.drain(nanos(self.timeout)).await?),
        }
    }

    /// Bytes queued and not yet taken by the socket (asyncio
    /// `transport.get_write_buffer_size()`).
    pub fn write_buffer_size(&self) -> u64 {
        self.inner.get_write_buffer_size()
    }

    /// The `(low, high)` water marks (asyncio `transport.get_write_buffer_limits()`).
    pub fn write_buffer_limits(&self) -> (u64, u64) {
        self.inner.get_write_buffer_limits()
    }

    /// Sets the water marks (asyncio `transport.set_write_buffer_limits(high, low)`): defaults
    /// high 65536 and low high / 4; only `low` given: high = 4 x low.
    /// Errors: [`Error::InvalidArgument`](crate::Error::InvalidArgument) unless high >= low.
    pub fn set_write_buffer_limits(&self, high: Option<u64>, low: Option<u64>) -> Result<()> {
        Ok(self.inner.set_write_buffer_limits(high, low)?)
    }

    /// Sets TCP_NODELAY on the connection's TCP socket (asyncio apps'
    /// `setsockopt(IPPROTO_TCP, TCP_NODELAY, ...)`); the host turns it on for every connection
    /// unless [`ConnectOptions::tcp_nodelay`](crate::ConnectOptions::tcp_nodelay) said otherwise.
    /// `false` lets the kernel batch small writes (Nagle's algorithm). Over TLS it applies to the
    /// TCP socket underneath. Errors: [`Error::NotSupported`](crate::Error::NotSupported) on a Unix
    /// socket; [`Error::Closed`](crate::Error::Closed) once closed.
    pub fn set_tcp_nodelay(&self, enabled: bool) -> Result<()> {
        Ok(self.inner.set_tcp_nodelay(enabled)?)
    }

    /// Sets SO_KEEPALIVE on the connection's TCP socket (asyncio apps'
    /// `setsockopt(SOL_SOCKET, SO_KEEPALIVE, ...)`). Errors: as
    /// [`set_tcp_nodelay`](Writer::set_tcp_nodelay).
    pub fn set_keep_alive(&self, enabled: bool) -> Result<()> {
        Ok(self.inner.set_keep_alive(enabled)?)
    }

    /// True for TCP and Unix connections, false over TLS (asyncio `can_write_eof()`).
    pub fn can_write_eof(&self) -> bool {
        self.inner.can_write_eof()
    }

    /// asyncio `write_eof()`: flushes the queue, then shuts down the write half (FIN); reading
    /// goes on. Errors: [`Error::NotSupported`](crate::Error::NotSupported) over TLS.
    pub fn write_eof(&self) -> Result<()> {
        Ok(self.inner.write_eof()?)
    }

    /// asyncio `close()`: flushes the queue, then closes the connection. Idempotent; follow with
    /// [`wait_closed`](Writer::wait_closed).
    pub fn close(&self) {
        self.inner.close();
    }

    /// asyncio `transport.abort()`: closes at once, dropping the queue.
    pub fn abort(&self) {
        self.inner.abort();
    }

    /// True once `close` or `abort` was called or the connection was lost (asyncio
    /// `is_closing()`).
    pub fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    /// asyncio `wait_closed()`: waits until the connection is really closed; may be awaited many
    /// times. Errors: the error the connection was lost with; [`Error::Timeout`](crate::Error::Timeout).
    pub async fn wait_closed(&self) -> Result<()> {
        Ok(self.inner.wait_closed(nanos(self.timeout)).await?)
    }

    /// Everything asyncio's `get_extra_info` knows (peername, sockname, TLS details).
    pub fn extra_info(&self) -> ExtraInfo {
        self.inner.extra_info()
    }

    /// asyncio `get_extra_info("peername")`: the remote address.
    pub fn peername(&self) -> Option<SocketAddress> {
        self.inner.extra_info().peername
    }

    /// asyncio `get_extra_info("sockname")`: the local address.
    pub fn sockname(&self) -> Option<SocketAddress> {
        self.inner.extra_info().sockname
    }

    /// asyncio `start_tls(sslcontext, server_hostname=..., ssl_handshake_timeout=...,
    /// ssl_shutdown_timeout=...)`: drains, then upgrades this connection to TLS in place; the
    /// reader and writer go on over TLS. Bytes the reader already holds are fed into the session.
    /// The side is `config`'s. Timeouts default to 60 s and 30 s.
    /// Errors: [`Error::Tls`](crate::Error::Tls); [`Error::Timeout`](crate::Error::Timeout) (the
    /// connection is closed then); [`Error::InvalidArgument`](crate::Error::InvalidArgument);
    /// [`Error::NotSupported`](crate::Error::NotSupported) where the host has no TLS.
    pub async fn start_tls(
        &self,
        config: TlsConfig,
        server_hostname: Option<&str>,
        handshake_timeout: Option<Duration>,
        shutdown_timeout: Option<Duration>,
    ) -> Result<()> {
        // Lines the reader took ahead are the provider's again before anything else happens.
        let ahead = self.ahead.borrow_mut().take_rest();
        Ok(self
            .inner
            .start_tls(
                config,
                server_hostname.map(str::to_string),
                nanos(handshake_timeout),
                nanos(shutdown_timeout),
                ahead,
            )
            .await?)
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("closing", &self.is_closing())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
