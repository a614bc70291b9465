//! [`Server`]: listening for connections (asyncio `start_server` and `Server`), and
//! [`Server::serve_forever`], which runs one task per connection.

use pin_project_lite::pin_project;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::connect::split;
use crate::error::{Error, Result};
use crate::options::{ServerOptions, UnixServerOptions, nanos};
use crate::raw;
use crate::reader::Reader;
use crate::writer::Writer;
use wasio_types::{ErrorCode, SocketAddress};

/// asyncio's message for a second `serve_forever`.
const SERVING_BUSY: &str = "server is already being awaited on serve_forever()";

/// What [`Server::serve_forever`] prints to stderr for a handler that failed (asyncio's log line).
pub const HANDLER_FAILED: &str = "Unhandled exception in client connection handler";

/// asyncio `start_server(host=host, port=port)`: listens on `host` (`""`: every interface) and
/// `port` (0 picks a free one, see [`Server::sockets`]), with asyncio's defaults.
///
/// Errors: [`Error::AddressInUse`]; [`Error::AccessDenied`] when `wasio run` did not grant the
/// address (`--allow-listen`); [`Error::NameUnresolvable`].
///
/// ```no_run
/// # // no_run: the calls need a wasio host (wasi:sockets and wasio:host), only inside a component.
/// # async fn demo() -> wasio_sdk::Result<()> {
/// let server = wasio_sdk::start_server("127.0.0.1", 8888).await?;
/// server
///     .serve_forever(|mut reader, writer| async move {
///         let line = reader.readline().await?;
///         writer.write(&line)?;
///         writer.close();
///         writer.wait_closed().await
///     })
///     .await?;
/// # Ok(()) }
/// ```
pub async fn start_server(host: &str, port: u16) -> Result<Server> {
    let hosts: &[&str] = if host.is_empty() { &[] } else { &[host] };
    start_server_with(hosts, port, ServerOptions::default()).await
}

/// [`start_server`] on several hosts (empty: every interface) with options (asyncio's keyword
/// arguments: `limit`, `family`, `backlog`, `ssl`, `start_serving`...).
pub async fn start_server_with(
    hosts: &[&str],
    port: u16,
    options: ServerOptions,
) -> Result<Server> {
    let hosts = hosts.iter().map(|h| h.to_string()).collect();
    Ok(Server::from_raw(
        raw::start_server(hosts, port, options).await?,
    ))
}

/// asyncio `start_unix_server(path=path)`: listens on a Unix domain socket path; closing removes
/// the socket file if it is still this server's. Errors: [`Error::AccessDenied`];
/// [`Error::AddressInUse`]; [`Error::NotSupported`] where the host has no Unix sockets.
pub async fn start_unix_server(path: &str) -> Result<Server> {
    start_unix_server_with(path, UnixServerOptions::default()).await
}

/// [`start_unix_server`] with options (`limit`, `backlog`, `ssl`, `cleanup_socket`...).
pub async fn start_unix_server_with(path: &str, options: UnixServerOptions) -> Result<Server> {
    Ok(Server::from_raw(
        raw::start_unix_server(path.to_string(), options).await?,
    ))
}

/// asyncio `start_server(sock=...)` for the listeners the host opened for this run
/// (`wasio run --listen tcp:127.0.0.1:8080 --listen unix:/run/app.sock`): each with the name it
/// was opened under. Empty when the host opened none.
pub async fn preopened_servers() -> Result<Vec<(String, Server)>> {
    let servers = raw::preopened_servers(ServerOptions::default()).await?;
    Ok(servers
        .into_iter()
        .map(|(name, server)| (name, Server::from_raw(server)))
        .collect())
}

/// A listening server (asyncio `Server`), from [`start_server`], [`start_unix_server`] or
/// [`preopened_servers`].
pub struct Server {
    /// The contract's server.
    inner: raw::Server,
    /// The timeout of every wait; `None` waits as long as it takes.
    timeout: Option<Duration>,
}

impl Server {
    /// Wraps the contract's server.
    fn from_raw(inner: raw::Server) -> Self {
        Server {
            inner,
            timeout: None,
        }
    }

    /// The contract's server, for what the SDK does not wrap.
    pub fn raw(&self) -> &raw::Server {
        &self.inner
    }

    /// Sets the timeout of every later wait (`accept`, `wait_closed`; `None`, the default: no
    /// timeout). [`serve_forever`](Server::serve_forever) never times out.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The listening addresses (asyncio `sockets`); empty after [`close`](Server::close).
    pub fn sockets(&self) -> Vec<SocketAddress> {
        self.inner.sockets()
    }

    /// Whether connections are being accepted (asyncio `is_serving()`).
    pub fn is_serving(&self) -> bool {
        self.inner.is_serving()
    }

    /// Starts accepting (asyncio `start_serving()`); idempotent. Errors: [`Error::Closed`] after
    /// close.
    pub fn start_serving(&self) -> Result<()> {
        Ok(self.inner.start_serving()?)
    }

    /// Waits for the next connection and returns its `(reader, writer)` (the sync fast path
    /// first). After [`close`](Server::close) it still hands out the connections accepted before
    /// it. Errors: [`Error::Closed`] once the server is closed and none of those is left;
    /// [`Error::Timeout`].
    /// Cancel safety: safe, a connection is handed out only when the call returns.
    pub async fn accept(&self) -> Result<(Reader, Writer)> {
        let connection = match self.inner.try_accept() {
            Some(result) => result?,
            None => self.inner.accept(nanos(self.timeout)).await?,
        };
        Ok(split(connection))
    }

    /// asyncio `serve_forever()` with asyncio's `client_connected_cb`: accepts connections and
    /// runs `handler(reader, writer)` for each in a task of its own. A handler that fails gets
    /// its connection closed and its error printed to stderr as
    /// `Unhandled exception in client connection handler: MESSAGE`; the server goes on.
    ///
    /// Returns `Ok(())` once the server is closed. Errors: [`Error::Busy`] if `serve_forever` is
    /// already running ("server is already being awaited on serve_forever()"); [`Error::Closed`]
    /// if the server was closed before; an accept error other than the close.
    pub async fn serve_forever<H, F, E>(&self, handler: H) -> Result<()>
    where
        H: Fn(Reader, Writer) -> F,
        F: Future<Output = Result<(), E>> + 'static,
        E: Display,
    {
        let serving = self.inner.serve_forever().map_err(|e| match e {
            ErrorCode::Busy => Error::Busy(SERVING_BUSY),
            e => e.into(),
        })?;
        loop {
            match serving.accept(None).await {
                Ok(connection) => {
                    let (reader, writer) = split(connection);
                    let closer = writer.clone();
                    crate::spawn(Handled {
                        task: handler(reader, writer),
                        closer,
                    });
                }
                Err(ErrorCode::Closed(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Stops listening (asyncio `close()`); accepted connections stay open, and those not yet
    /// taken are still handed out by [`accept`](Server::accept). Idempotent.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Closes every connection this server accepted, flushing their queues (asyncio
    /// `close_clients()`).
    pub fn close_clients(&self) {
        self.inner.close_clients();
    }

    /// Aborts every connection this server accepted (asyncio `abort_clients()`).
    pub fn abort_clients(&self) {
        self.inner.abort_clients();
    }

    /// asyncio `wait_closed()`: waits until the server is closed and every accepted connection
    /// has finished; returns at once afterwards. Errors: [`Error::Timeout`].
    pub async fn wait_closed(&self) -> Result<()> {
        Ok(self.inner.wait_closed(nanos(self.timeout)).await?)
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("sockets", &self.sockets())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// A connection's handler task as [`Server::serve_forever`] spawns it: an error it returns is
    /// reported as asyncio reports an exception in `client_connected_cb`, and the connection is
    /// closed. A hand-written future, not an `async` block awaiting the handler's: that would
    /// hold the handler's future twice (rust-lang/rust#62958, WORKAROUNDS.md W9), 1456 bytes
    /// instead of 704 per connection for the echo-server example.
    struct Handled<F> {
        #[pin]
        task: F,
        closer: Writer,
    }
}

impl<F, E> Future for Handled<F>
where
    F: Future<Output = Result<(), E>>,
    E: Display,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let Poll::Ready(result) = this.task.poll(cx) else {
            return Poll::Pending;
        };
        if let Err(e) = result {
            eprintln!("{HANDLER_FAILED}: {e}");
            this.closer.close();
        }
        Poll::Ready(())
    }
}
