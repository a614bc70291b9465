//! What the ported tests share: a loopback connection pair made inside the component, feeding
//! bytes from the peer side, sleeping, and small assertion helpers.

use crate::bindings::wasi::clocks::monotonic_clock;
use std::cell::Cell;
use std::fmt::Debug;
use wasio_sdk::raw::{self as streams, Connection, Reader, Server, Writer};
use wasio_types::{ConnectOptions, ErrorCode, ServerOptions, SocketAddress};

thread_local! {
    static PEER_PORT: Cell<Option<u16>> = const { Cell::new(None) };
}

/// Records the port of the native peer the integration test started (`NAME:PORT` argument).
pub fn set_peer_port(port: Option<u16>) {
    PEER_PORT.with(|p| p.set(port));
}

/// The native peer's port, for tests that need a peer doing what no wasio socket can (a reset).
pub fn peer_port() -> Result<u16, String> {
    PEER_PORT
        .with(Cell::get)
        .ok_or_else(|| "this test needs a native peer: run it as NAME:PORT".to_string())
}

/// A test's outcome: `Err` says what did not hold.
pub type TestResult = Result<(), String>;

/// Fails the test with a message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Fails unless `got == want`.
pub fn eq<T: PartialEq + Debug>(what: &str, got: T, want: T) -> TestResult {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Turns an error into the test's failure message.
pub fn fail<E: Debug>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e:?}")
}

/// Sleeps `ms` milliseconds.
pub async fn sleep_ms(ms: u64) {
    monotonic_clock::wait_for(ms * 1_000_000).await;
}

/// One second, in the nanoseconds the contract's timeouts use.
pub const SECOND: u64 = 1_000_000_000;

/// Waits (polling every millisecond, at most 10 s) until `cond` holds.
pub async fn wait_until(what: &str, cond: impl Fn() -> bool) -> TestResult {
    for _ in 0..10_000 {
        if cond() {
            return Ok(());
        }
        sleep_ms(1).await;
    }
    Err(format!("timed out waiting until {what}"))
}

/// Default connect options with an optional reader limit.
pub fn connect_options(limit: Option<u64>) -> ConnectOptions {
    ConnectOptions {
        limit,
        timeout: Some(10 * SECOND),
        ..Default::default()
    }
}

/// Default server options.
pub fn server_options() -> ServerOptions {
    ServerOptions::default()
}

/// The port of a server's first socket.
pub fn port_of(server: &Server) -> Result<u16, String> {
    match server.sockets().first() {
        Some(SocketAddress::Inet(a)) => Ok(a.port),
        other => Err(format!("server has no inet socket: {other:?}")),
    }
}

/// A server on 127.0.0.1, port 0.
pub async fn server() -> Result<Server, String> {
    streams::start_server(vec!["127.0.0.1".into()], 0, server_options())
        .await
        .map_err(fail("start_server"))
}

/// Connects to 127.0.0.1:`port` with `options`.
pub async fn connect(port: u16, options: ConnectOptions) -> Result<(Reader, Writer), String> {
    let conn = streams::open_connection("127.0.0.1".into(), port, options)
        .await
        .map_err(fail("open_connection"))?;
    Ok(Connection::split(conn))
}

/// A connection made inside the component: the side under test and its peer.
pub struct Pair {
    /// The reader under test (the client side).
    pub reader: Reader,
    /// The client's writer.
    pub writer: Writer,
    /// The accepted side's reader.
    pub peer_reader: Reader,
    /// The accepted side's writer: what CPython's tests `feed_data`.
    pub peer_writer: Writer,
    /// The server that accepted the peer side.
    pub server: Server,
}

/// A loopback pair whose client reader has `limit` (default 65536).
pub async fn pair(limit: Option<u64>) -> Result<Pair, String> {
    let server = server().await?;
    let (reader, writer) = connect(port_of(&server)?, connect_options(limit)).await?;
    let accepted = server
        .accept(Some(10 * SECOND))
        .await
        .map_err(fail("accept"))?;
    let (peer_reader, peer_writer) = Connection::split(accepted);
    Ok(Pair {
        reader,
        writer,
        peer_reader,
        peer_writer,
        server,
    })
}

impl Pair {
    /// Sends `data` from the peer and waits until the reader has it buffered (or until the
    /// reader's flow control stops taking more).
    pub async fn feed(&self, data: &[u8]) -> TestResult {
        let target = self.reader.buffered() + data.len() as u64;
        self.peer_writer.write(data).map_err(fail("peer write"))?;
        let mut last = self.reader.buffered();
        let mut stable = 0;
        while self.reader.buffered() < target && stable < 50 {
            sleep_ms(1).await;
            let now = self.reader.buffered();
            stable = if now == last { stable + 1 } else { 0 };
            last = now;
        }
        Ok(())
    }

    /// Half-closes the peer (CPython's `feed_eof`) and gives the FIN time to arrive.
    pub async fn feed_eof(&self) -> TestResult {
        self.peer_writer
            .write_eof()
            .map_err(fail("peer write_eof"))?;
        sleep_ms(30).await;
        Ok(())
    }
}

/// The incomplete-read record of an error, or a failure message.
pub fn incomplete(e: ErrorCode) -> Result<(Vec<u8>, Option<u64>), String> {
    match e {
        ErrorCode::IncompleteRead(i) => Ok((i.partial, i.expected)),
        other => Err(format!("expected incomplete-read, got {other:?}")),
    }
}

/// The limit-overrun record of an error, or a failure message.
pub fn overrun(e: ErrorCode) -> Result<(bool, u64), String> {
    match e {
        ErrorCode::LimitOverrun(o) => Ok((o.found, o.consumed)),
        other => Err(format!("expected limit-overrun, got {other:?}")),
    }
}
