//! Opening connections: [`open_connection`], [`open_unix_connection`], [`socketpair`] — each gives
//! asyncio's `(reader, writer)` pair.

use crate::error::Result;
use crate::options::{AdoptOptions, ConnectOptions, UnixConnectOptions};
use crate::raw::{self, Connection};
use crate::reader::Reader;
use crate::writer::Writer;

/// A connection's halves as SDK types.
pub(crate) fn split(connection: Connection) -> (Reader, Writer) {
    let (reader, writer) = Connection::split(connection);
    let (reader, mut writer) = (Reader::from_raw(reader), Writer::from_raw(writer));
    // The writer's `start_tls` passes on the lines the reader took ahead.
    writer.ahead = reader.ahead.clone();
    (reader, writer)
}

/// asyncio `open_connection(host, port)`: resolves `host`, tries every address, and returns the
/// first connection made, with asyncio's defaults (see [`open_connection_with`] for options).
///
/// Errors: [`Error::NameUnresolvable`](crate::Error::NameUnresolvable);
/// [`Error::AccessDenied`](crate::Error::AccessDenied) when `wasio run` did not grant the address
/// (`--allow-connect`); [`Error::ConnectionRefused`](crate::Error::ConnectionRefused) and the other
/// connect errors of the last attempt.
///
/// ```no_run
/// # // no_run: the calls need a wasio host (wasi:sockets and wasio:host), only inside a component.
/// # async fn demo() -> wasio_sdk::Result<()> {
/// let (mut reader, writer) = wasio_sdk::open_connection("127.0.0.1", 8888).await?;
/// writer.write(b"ping\n")?;
/// let answer = reader.readline().await?;
/// # Ok(()) }
/// ```
pub async fn open_connection(host: &str, port: u16) -> Result<(Reader, Writer)> {
    open_connection_with(host, port, ConnectOptions::default()).await
}

/// [`open_connection`] with options (asyncio's keyword arguments: `limit`, `ssl`,
/// `server_hostname`, `family`, `local_addr`, `happy_eyeballs_delay`, a whole-connect `timeout`...).
///
/// ```no_run
/// # // no_run: the calls need a wasio host (wasi:sockets and wasio:host), only inside a component.
/// use wasio_sdk::ConnectOptions;
/// # async fn demo() -> wasio_sdk::Result<()> {
/// let options = ConnectOptions { limit: Some(1 << 20), ..Default::default() };
/// let (reader, writer) = wasio_sdk::open_connection_with("example.com", 80, options).await?;
/// # Ok(()) }
/// ```
pub async fn open_connection_with(
    host: &str,
    port: u16,
    options: ConnectOptions,
) -> Result<(Reader, Writer)> {
    Ok(split(
        raw::open_connection(host.to_string(), port, options).await?,
    ))
}

/// asyncio `open_unix_connection(path)`: connects to a Unix domain socket (the host must grant the
/// path). Errors: [`Error::AccessDenied`](crate::Error::AccessDenied);
/// [`Error::ConnectionRefused`](crate::Error::ConnectionRefused);
/// [`Error::NotSupported`](crate::Error::NotSupported) where the host has no Unix sockets.
pub async fn open_unix_connection(path: &str) -> Result<(Reader, Writer)> {
    open_unix_connection_with(path, UnixConnectOptions::default()).await
}

/// [`open_unix_connection`] with options (`limit`, `ssl`, `server_hostname`, `timeout`...).
pub async fn open_unix_connection_with(
    path: &str,
    options: UnixConnectOptions,
) -> Result<(Reader, Writer)> {
    Ok(split(
        raw::open_unix_connection(path.to_string(), options).await?,
    ))
}

/// Python `socket.socketpair()` adopted as two connections: two connected `(reader, writer)`
/// pairs. Errors: [`Error::NotSupported`](crate::Error::NotSupported) where the host has no Unix
/// sockets.
pub async fn socketpair() -> Result<((Reader, Writer), (Reader, Writer))> {
    let (a, b) = raw::socketpair(AdoptOptions::default())?;
    Ok((split(a), split(b)))
}
