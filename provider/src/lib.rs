//! The wasio provider component: exports `wasio:streams` (asyncio's Streams API) for apps in any
//! language, implemented by the wasio-streams library.
//!
//! This crate is only the export layer: each exported resource holds the library's object and
//! forwards to it, converting the contract's types at the boundary (`conv`). What exists only
//! because of the boundary lives here too: byte hand-over through `stream<u8>` for bulk reads and
//! writes (`handover`), and the deferred exit of export tasks that wasmtime 48 needs (`task_exit`).

mod conv;
mod handover;
mod task_exit;

/// Generated bindings of the `wasio:streams/provider` world. The imports are wasio-streams' own
/// bindings, so resources such as sockets are one type on both sides (generated code uses
/// `unsafe`).
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "wasio:streams/provider",
        with: {
            "wasi:sockets/types@0.3.0": wasio_streams::bindings::wasi::sockets::types,
            "wasi:sockets/ip-name-lookup@0.3.0": wasio_streams::bindings::wasi::sockets::ip_name_lookup,
            "wasi:clocks/monotonic-clock@0.3.0": wasio_streams::bindings::wasi::clocks::monotonic_clock,
            "wasi:clocks/types@0.3.0": wasio_streams::bindings::wasi::clocks::types,
            "wasio:host/types@0.1.0": wasio_streams::bindings::wasio::host::types,
            "wasio:host/unix@0.1.0": wasio_streams::bindings::wasio::host::unix,
            "wasio:host/tcp@0.1.0": wasio_streams::bindings::wasio::host::tcp,
            "wasio:host/preopens@0.1.0": wasio_streams::bindings::wasio::host::preopens,
            "wasio:host/tls@0.1.0": wasio_streams::bindings::wasio::host::tls,
            "wasio:host/limits@0.1.0": wasio_streams::bindings::wasio::host::limits,
            "wasio:host/shutdown@0.1.0": wasio_streams::bindings::wasio::host::shutdown,
            "wasio:host/exit@0.1.0": wasio_streams::bindings::wasio::host::exit,
        },
    });
}

use bindings::exports::wasio::streams::streams::{
    Connection, Guest, GuestConnection, GuestConnector, GuestReader, GuestServer, GuestServing,
    GuestTimer, GuestWriter, Reader, Server, Serving, Writer,
};
use bindings::exports::wasio::streams::types::{
    AdoptOptions, ConnectOptions, ErrorCode, ExtraInfo, ServerOptions, SocketAddress, TlsConfig,
    UnixConnectOptions, UnixServerOptions,
};
use bindings::{wit_future, wit_stream};
use conv::{Convert, err, out};
use std::cell::RefCell;
use wit_bindgen::{FutureReader, StreamReader, StreamResult, StreamWriter};

/// Bytes `write-stream` takes from its stream at once.
const STREAM_CHUNK: usize = 64 * 1024;

/// The contract's `invalid-argument`, for misuse of the stream-based exports.
fn invalid(message: &str) -> ErrorCode {
    ErrorCode::InvalidArgument(message.to_string())
}

/// A `try-*` result as the export returns it.
fn out_now<T>(
    attempt: Option<Result<T, wasio_streams::types::ErrorCode>>,
) -> Option<Result<T, ErrorCode>> {
    attempt.map(|r| r.map_err(err))
}

/// The `connection` resource.
pub struct ConnectionExport(RefCell<Option<wasio_streams::Connection>>);

impl ConnectionExport {
    fn handle(conn: wasio_streams::Connection) -> Connection {
        Connection::new(Self(RefCell::new(Some(conn))))
    }
}

impl GuestConnection for ConnectionExport {
    fn extra_info(&self) -> ExtraInfo {
        let info = self.0.borrow().as_ref().map(|conn| conn.extra_info());
        info.unwrap_or_default().convert()
    }

    fn split(this: Connection) -> (Reader, Writer) {
        let conn = this.get::<ConnectionExport>().0.borrow_mut().take();
        match conn {
            Some(conn) => {
                let (reader, writer) = conn.split();
                (
                    Reader::new(ReaderExport {
                        reader,
                        channel: RefCell::new(None),
                    }),
                    Writer::new(WriterExport(writer)),
                )
            }
            None => unreachable_split(),
        }
    }
}

/// `split` takes its connection by value, so the state cannot be gone; this traps as a provider bug.
#[allow(
    clippy::panic,
    reason = "only reachable through a provider bug, never through input"
)]
fn unreachable_split() -> ! {
    panic!("connection state missing in split")
}

/// The `reader` resource.
pub struct ReaderExport {
    reader: wasio_streams::Reader,
    /// The sending end of the `bulk-channel` stream, once opened.
    channel: RefCell<Option<StreamWriter<u8>>>,
}

impl ReaderExport {
    /// `try-read-into`'s work once the channel is known.
    async fn hand_over(&self, tx: &mut StreamWriter<u8>, n: u64) -> Option<Result<u64, ErrorCode>> {
        let bytes = match self.reader.try_read_some(n)? {
            Ok(bytes) => bytes,
            Err(e) => return Some(Err(err(e))),
        };
        if bytes.is_empty() {
            return Some(Ok(0));
        }
        let offered = bytes.len();
        let rest = handover::give(tx, bytes).await;
        let given = offered - rest.len();
        self.reader.unread(&rest);
        if given == 0 {
            return Some(Err(invalid(
                "try-read-into: nobody was reading the bulk channel; nothing was consumed",
            )));
        }
        Some(Ok(given as u64))
    }
}

impl GuestReader for ReaderExport {
    fn limit(&self) -> u64 {
        self.reader.limit()
    }

    fn set_limit(&self, limit: u64) -> Result<(), ErrorCode> {
        out(self.reader.set_limit(limit))
    }

    fn buffered(&self) -> u64 {
        self.reader.buffered()
    }

    fn at_eof(&self) -> bool {
        self.reader.at_eof()
    }

    fn exception(&self) -> Option<ErrorCode> {
        self.reader.exception().map(err)
    }

    fn set_exception(&self, error: ErrorCode) {
        self.reader.set_exception(&error.convert());
    }

    fn try_read(&self, n: i64) -> Option<Result<Vec<u8>, ErrorCode>> {
        out_now(self.reader.try_read(n))
    }

    fn bulk_channel(&self) -> StreamReader<u8> {
        let (tx, rx) = wit_stream::new();
        *self.channel.borrow_mut() = Some(tx);
        rx
    }

    async fn try_read_into(&self, n: u64) -> Option<Result<u64, ErrorCode>> {
        task_exit::deferred(async move {
            if n == 0 {
                return Some(Err(invalid("try-read-into needs n > 0")));
            }
            // Taken out for the hand-over, so no borrow is held across it.
            let Some(mut tx) = self.channel.take() else {
                return Some(Err(invalid("try-read-into needs a bulk-channel first")));
            };
            let result = self.hand_over(&mut tx, n).await;
            self.channel.replace(Some(tx));
            result
        })
        .await
    }

    async fn wait_readable(&self, timeout: Option<u64>) -> Result<u64, ErrorCode> {
        out(task_exit::deferred(self.reader.wait_readable(timeout)).await)
    }

    async fn read(&self, n: i64, timeout: Option<u64>) -> Result<Vec<u8>, ErrorCode> {
        out(task_exit::deferred(self.reader.read(n, timeout)).await)
    }

    fn try_readexactly(&self, n: u64) -> Option<Result<Vec<u8>, ErrorCode>> {
        out_now(self.reader.try_readexactly(n))
    }

    async fn readexactly(&self, n: u64, timeout: Option<u64>) -> Result<Vec<u8>, ErrorCode> {
        out(task_exit::deferred(self.reader.readexactly(n, timeout)).await)
    }

    fn try_readuntil(&self, separators: Vec<Vec<u8>>) -> Option<Result<Vec<u8>, ErrorCode>> {
        out_now(self.reader.try_readuntil(&separators))
    }

    async fn readuntil(
        &self,
        separators: Vec<Vec<u8>>,
        timeout: Option<u64>,
    ) -> Result<Vec<u8>, ErrorCode> {
        out(task_exit::deferred(self.reader.readuntil(separators, timeout)).await)
    }

    fn try_readline(&self) -> Option<Result<Vec<u8>, ErrorCode>> {
        out_now(self.reader.try_readline())
    }

    fn try_readlines(&self, max: u64) -> Option<Result<Vec<u8>, ErrorCode>> {
        out_now(self.reader.try_readlines(max))
    }

    fn unread(&self, data: Vec<u8>) {
        self.reader.unread(&data);
    }

    fn try_readuntil_latin1(&self, separators: Vec<String>) -> Option<Result<Vec<u8>, ErrorCode>> {
        match conv::latin1_all(separators) {
            Ok(separators) => self.try_readuntil(separators),
            Err(e) => Some(Err(e)),
        }
    }

    async fn readuntil_latin1(
        &self,
        separators: Vec<String>,
        timeout: Option<u64>,
    ) -> Result<Vec<u8>, ErrorCode> {
        let separators = conv::latin1_all(separators)?;
        self.readuntil(separators, timeout).await
    }

    fn unread_latin1(&self, data: String) -> Result<(), ErrorCode> {
        self.unread(conv::latin1(data)?);
        Ok(())
    }

    fn interrupt(&self) {
        self.reader.interrupt();
    }

    async fn readline(&self, timeout: Option<u64>) -> Result<Vec<u8>, ErrorCode> {
        out(task_exit::deferred(self.reader.readline(timeout)).await)
    }

    async fn into_stream(
        this: Reader,
    ) -> Result<(StreamReader<u8>, FutureReader<Result<(), ErrorCode>>), ErrorCode> {
        task_exit::deferred(async move {
            let ReaderExport { reader, .. } = this.into_inner::<ReaderExport>();
            let chunks = reader.into_chunks().map_err(err)?;
            let (mut tx, rx) = wit_stream::new::<u8>();
            let (done_tx, done_rx) = wit_future::new::<Result<(), ErrorCode>>(|| {
                Err(ErrorCode::Other(Some(
                    "the byte stream was dropped".to_string(),
                )))
            });
            wit_bindgen::spawn_local(async move {
                let result = loop {
                    match chunks.next().await {
                        Ok(bytes) if bytes.is_empty() => break Ok(()),
                        Ok(bytes) => {
                            let rest = tx.write_all(bytes).await;
                            if !rest.is_empty() {
                                // The consumer dropped the stream; nothing more to deliver.
                                break Ok(());
                            }
                        }
                        Err(e) => break Err(err(e)),
                    }
                };
                drop(tx);
                let _ = done_tx.write(result).await;
            });
            Ok((rx, done_rx))
        })
        .await
    }
}

/// The `writer` resource.
pub struct WriterExport(wasio_streams::Writer);

impl GuestWriter for WriterExport {
    fn write(&self, data: Vec<u8>) -> Result<(), ErrorCode> {
        out(self.0.write_vec(data))
    }

    fn writelines(&self, data: Vec<Vec<u8>>) -> Result<(), ErrorCode> {
        out(self.0.writelines(&data))
    }

    fn write_latin1(&self, data: String) -> Result<(), ErrorCode> {
        self.write(conv::latin1(data)?)
    }

    fn writelines_latin1(&self, data: Vec<String>) -> Result<(), ErrorCode> {
        self.writelines(conv::latin1_all(data)?)
    }

    async fn write_from(&self, n: u64, data: StreamReader<u8>) -> Result<(), ErrorCode> {
        task_exit::deferred(async move {
            let n = self.0.admit_write(n).map_err(err)?;
            if n == 0 {
                return Ok(());
            }
            let bytes = handover::take(data, n).await;
            if bytes.len() != n {
                return Err(invalid(
                    "write-from: the stream did not hand over its n bytes at once; nothing was queued",
                ));
            }
            out(self.0.write_vec(bytes))
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
                    self.0.write_vec(chunk).map_err(err)?;
                    self.0.flush().await.map_err(err)?;
                }
                if result == StreamResult::Dropped {
                    return Ok(total);
                }
            }
        })
        .await
    }

    fn try_drain(&self) -> Option<Result<(), ErrorCode>> {
        out_now(self.0.try_drain())
    }

    async fn drain(&self, timeout: Option<u64>) -> Result<(), ErrorCode> {
        out(task_exit::deferred(self.0.drain(timeout)).await)
    }

    fn get_write_buffer_size(&self) -> u64 {
        self.0.get_write_buffer_size()
    }

    fn get_write_buffer_limits(&self) -> (u64, u64) {
        self.0.get_write_buffer_limits()
    }

    fn set_write_buffer_limits(
        &self,
        high: Option<u64>,
        low: Option<u64>,
    ) -> Result<(), ErrorCode> {
        out(self.0.set_write_buffer_limits(high, low))
    }

    fn set_tcp_nodelay(&self, enabled: bool) -> Result<(), ErrorCode> {
        out(self.0.set_tcp_nodelay(enabled))
    }

    fn set_keep_alive(&self, enabled: bool) -> Result<(), ErrorCode> {
        out(self.0.set_keep_alive(enabled))
    }

    fn can_write_eof(&self) -> bool {
        self.0.can_write_eof()
    }

    fn write_eof(&self) -> Result<(), ErrorCode> {
        out(self.0.write_eof())
    }

    fn close(&self) {
        self.0.close();
    }

    fn abort(&self) {
        self.0.abort();
    }

    fn is_closing(&self) -> bool {
        self.0.is_closing()
    }

    async fn wait_closed(&self, timeout: Option<u64>) -> Result<(), ErrorCode> {
        out(task_exit::deferred(self.0.wait_closed(timeout)).await)
    }

    fn interrupt(&self) {
        self.0.interrupt();
    }

    fn extra_info(&self) -> ExtraInfo {
        self.0.extra_info().convert()
    }

    async fn start_tls(
        &self,
        config: TlsConfig,
        server_hostname: Option<String>,
        handshake_timeout: Option<u64>,
        shutdown_timeout: Option<u64>,
        ahead: Vec<u8>,
    ) -> Result<(), ErrorCode> {
        let started = self.0.start_tls(
            config.convert(),
            server_hostname,
            handshake_timeout,
            shutdown_timeout,
            ahead,
        );
        out(task_exit::deferred(started).await)
    }
}

/// The `server` resource.
pub struct ServerExport(wasio_streams::Server);

impl GuestServer for ServerExport {
    fn sockets(&self) -> Vec<SocketAddress> {
        self.0.sockets().into_iter().map(Convert::convert).collect()
    }

    fn is_serving(&self) -> bool {
        self.0.is_serving()
    }

    fn start_serving(&self) -> Result<(), ErrorCode> {
        out(self.0.start_serving())
    }

    async fn accept(&self, timeout: Option<u64>) -> Result<Connection, ErrorCode> {
        let accepted = task_exit::deferred(self.0.accept(timeout)).await;
        accepted.map(ConnectionExport::handle).map_err(err)
    }

    fn try_accept(&self) -> Option<Result<Connection, ErrorCode>> {
        self.0
            .try_accept()
            .map(|r| r.map(ConnectionExport::handle).map_err(err))
    }

    fn serve_forever(&self) -> Result<Serving, ErrorCode> {
        let serving = self.0.serve_forever().map_err(err)?;
        Ok(Serving::new(ServingExport(serving)))
    }

    fn close(&self) {
        self.0.close();
    }

    fn close_clients(&self) {
        self.0.close_clients();
    }

    fn abort_clients(&self) {
        self.0.abort_clients();
    }

    fn interrupt(&self) {
        self.0.interrupt();
    }

    async fn wait_closed(&self, timeout: Option<u64>) -> Result<(), ErrorCode> {
        out(task_exit::deferred(self.0.wait_closed(timeout)).await)
    }
}

/// The `serving` resource: a serve_forever in progress; dropping it closes the server.
pub struct ServingExport(wasio_streams::Serving);

impl GuestServing for ServingExport {
    async fn accept(&self, timeout: Option<u64>) -> Result<Connection, ErrorCode> {
        let accepted = task_exit::deferred(self.0.accept(timeout)).await;
        accepted.map(ConnectionExport::handle).map_err(err)
    }
}

/// The `timer` resource.
pub struct TimerExport(wasio_streams::Timer);

impl GuestTimer for TimerExport {
    fn new() -> Self {
        Self(wasio_streams::Timer::default())
    }

    async fn wait(&self, duration: u64) -> Result<(), ErrorCode> {
        out(task_exit::deferred(self.0.wait(duration)).await)
    }

    fn interrupt(&self) {
        self.0.interrupt();
    }
}

/// The `connector` resource.
pub struct ConnectorExport(wasio_streams::Connector);

impl GuestConnector for ConnectorExport {
    fn new() -> Self {
        Self(wasio_streams::Connector::new())
    }

    async fn open_connection(
        &self,
        host: String,
        port: u16,
        options: ConnectOptions,
    ) -> Result<Connection, ErrorCode> {
        let opened = self.0.open_connection(host, port, options.convert());
        let conn = task_exit::deferred(opened).await.map_err(err)?;
        Ok(ConnectionExport::handle(conn))
    }

    async fn open_unix_connection(
        &self,
        path: String,
        options: UnixConnectOptions,
    ) -> Result<Connection, ErrorCode> {
        let opened = self.0.open_unix_connection(path, options.convert());
        let conn = task_exit::deferred(opened).await.map_err(err)?;
        Ok(ConnectionExport::handle(conn))
    }

    fn interrupt(&self) {
        self.0.interrupt();
    }
}

/// A server as the export hands it out.
fn server_handle(server: wasio_streams::Server) -> Server {
    Server::new(ServerExport(server))
}

/// The exported `wasio:streams/streams` functions.
struct Provider;

impl Guest for Provider {
    type Reader = ReaderExport;
    type Writer = WriterExport;
    type Connection = ConnectionExport;
    type Server = ServerExport;
    type Serving = ServingExport;
    type Timer = TimerExport;
    type Connector = ConnectorExport;

    async fn open_connection(
        host: String,
        port: u16,
        options: ConnectOptions,
    ) -> Result<Connection, ErrorCode> {
        let opened = wasio_streams::open_connection(host, port, options.convert());
        let conn = task_exit::deferred(opened).await.map_err(err)?;
        Ok(ConnectionExport::handle(conn))
    }

    async fn start_server(
        hosts: Vec<String>,
        port: u16,
        options: ServerOptions,
    ) -> Result<Server, ErrorCode> {
        let started = wasio_streams::start_server(hosts, port, options.convert());
        let server = task_exit::deferred(started).await.map_err(err)?;
        Ok(server_handle(server))
    }

    async fn open_unix_connection(
        path: String,
        options: UnixConnectOptions,
    ) -> Result<Connection, ErrorCode> {
        let opened = wasio_streams::open_unix_connection(path, options.convert());
        let conn = task_exit::deferred(opened).await.map_err(err)?;
        Ok(ConnectionExport::handle(conn))
    }

    async fn start_unix_server(
        path: String,
        options: UnixServerOptions,
    ) -> Result<Server, ErrorCode> {
        let started = wasio_streams::start_unix_server(path, options.convert());
        let server = task_exit::deferred(started).await.map_err(err)?;
        Ok(server_handle(server))
    }

    fn socketpair(options: AdoptOptions) -> Result<(Connection, Connection), ErrorCode> {
        let (a, b) = wasio_streams::socketpair(options.convert()).map_err(err)?;
        Ok((ConnectionExport::handle(a), ConnectionExport::handle(b)))
    }

    fn set_exit_status(status: u8) {
        wasio_streams::set_exit_status(status);
    }

    async fn preopened_servers(options: ServerOptions) -> Result<Vec<(String, Server)>, ErrorCode> {
        let found = wasio_streams::preopened_servers(options.convert());
        let servers = task_exit::deferred(found).await.map_err(err)?;
        Ok(servers
            .into_iter()
            .map(|(name, server)| (name, server_handle(server)))
            .collect())
    }
}

/// The component's exports (the macro expands to `unsafe` ABI glue).
#[allow(unsafe_code)]
mod export {
    use super::Provider;
    crate::bindings::export!(Provider with_types_in crate::bindings);
}
