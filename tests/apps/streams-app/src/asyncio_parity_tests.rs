//! Where wasio once differed from CPython 3.13 asyncio (issue 16, item 5): each test states what
//! CPython does, naming the code path, and checks that wasio does the same. The integration
//! tests (tests/tests/integration/streams.rs) run the ones that need a native peer against it;
//! tests/python/parity.py runs the same scenarios in CPython.

use crate::ensure;
use crate::harness::{
    SECOND, TestResult, connect, connect_options, eq, fail, pair, peer_port, port_of,
    server_options, sleep_ms, wait_until,
};
use wasio_sdk::raw::{self as streams, Connection, Reader};
use wasio_types::ErrorCode;

async fn read(r: &Reader, n: i64) -> Result<Vec<u8>, ErrorCode> {
    r.read(n, Some(10 * SECOND)).await
}

/// A peer that sends `hello`, then resets the connection 200 ms later.
///
/// CPython: `_SelectorSocketTransport._read_ready__data_received` gets ECONNRESET and calls
/// `_fatal_error` -> `_force_close(exc)` -> `connection_lost(exc)`, and
/// `StreamReaderProtocol.connection_lost` calls `reader.set_exception(exc)`, never `feed_eof()`:
/// `at_eof()` stays false for good (`at_eof` is `self._eof and not self._buffer`).
pub async fn at_eof_stays_false_after_a_reset() -> TestResult {
    let (reader, writer) = connect(peer_port()?, connect_options(None)).await?;
    wait_until("the reset arrived", || reader.exception().is_some()).await?;
    eq("at_eof with the error stored", reader.at_eof(), false)?;
    // wasio delivers the buffered bytes first (README: bytes before errors); EOF never comes.
    eq("bytes", read(&reader, 100).await, Ok(b"hello".to_vec()))?;
    eq("at_eof with the buffer empty", reader.at_eof(), false)?;
    eq(
        "then",
        read(&reader, 100).await,
        Err(ErrorCode::ConnectionReset),
    )?;
    eq(
        "wait_closed",
        writer.wait_closed(Some(10 * SECOND)).await,
        Err(ErrorCode::ConnectionReset),
    )?;
    eq("at_eof once closed", reader.at_eof(), false)
}

/// A peer that closes 200 ms after accepting without reading what the app sent: its kernel
/// answers with a reset. CPython: as after any reset, `set_exception` and no `feed_eof`, so
/// `at_eof()` stays false.
pub async fn at_eof_stays_false_when_the_peer_closes_with_unread_data() -> TestResult {
    let (reader, writer) = connect(peer_port()?, connect_options(None)).await?;
    writer.write(b"data nobody reads").map_err(fail("write"))?;
    wait_until("the reset arrived", || reader.exception().is_some()).await?;
    eq("at_eof", reader.at_eof(), false)?;
    let closed = writer.wait_closed(Some(10 * SECOND)).await;
    ensure!(closed.is_err(), "wait_closed after a reset: {closed:?}");
    eq("at_eof once closed", reader.at_eof(), false)
}

/// A peer that closes at once (FIN) and is gone: the app reads EOF; its first write makes the
/// peer's kernel answer with a reset, so its second write fails.
///
/// CPython (checked by the same scenario in tests/python/parity.py): `write(b"y")` calls
/// `sock.send`, which raises EPIPE; `_fatal_error` -> `_force_close(exc)` makes `is_closing()`
/// true at once and schedules `connection_lost(exc)`; the next `drain()` sees `is_closing()`,
/// yields once (`sleep(0)`, in which `connection_lost` stores the error in the reader) and
/// raises `ConnectionResetError('Connection lost')` from `_drain_helper`; `exception()` is then
/// the `BrokenPipeError`, `wait_closed()` raises it, and `at_eof()` stays true (EOF came first).
/// wasio's `write` never does I/O, so the send error can only show from the `drain` on.
pub async fn a_send_error_fails_the_next_drain() -> TestResult {
    let (reader, writer) = connect(peer_port()?, connect_options(None)).await?;
    eq("EOF", read(&reader, -1).await, Ok(Vec::new()))?;
    eq("at_eof", reader.at_eof(), true)?;
    writer.write(b"x").map_err(fail("first write"))?;
    eq(
        "the first drain",
        writer.drain(Some(10 * SECOND)).await,
        Ok(()),
    )?;
    // The peer's reset to the first write arrives.
    sleep_ms(100).await;
    ensure!(!writer.is_closing(), "closing before the second write");
    writer.write(b"y").map_err(fail("second write"))?;
    // The sync fast path (wasio-sdk's `drain` tries it first) must not answer before the send.
    let fast = writer.try_drain();
    ensure!(
        !matches!(fast, Some(Ok(()))),
        "try_drain before the send was answered: {fast:?}"
    );
    eq(
        "the drain after the failed send",
        writer.drain(Some(10 * SECOND)).await,
        Err(ErrorCode::ConnectionReset),
    )?;
    ensure!(writer.is_closing(), "not closing after the failed send");
    let error = reader.exception();
    ensure!(
        matches!(
            error,
            Some(ErrorCode::BrokenPipe | ErrorCode::ConnectionReset)
        ),
        "the stored error after the failed send: {error:?}"
    );
    eq("at_eof", reader.at_eof(), true)?;
    eq(
        "wait_closed",
        writer.wait_closed(Some(10 * SECOND)).await.err(),
        error,
    )
}

/// A peer that resets 100 ms after accepting while the app neither reads nor writes. CPython: the transport
/// still reads, so `_read_ready` gets ECONNRESET and `connection_lost(exc)` runs within a loop
/// turn: `is_closing()` is true and `exception()` is the reset before any write, and `drain()`
/// raises the stored `ConnectionResetError`. wasio's receive pump notices it the same way.
pub async fn a_reset_shows_before_any_write() -> TestResult {
    let (reader, writer) = connect(peer_port()?, connect_options(None)).await?;
    sleep_ms(400).await;
    ensure!(writer.is_closing(), "not closing 300 ms after the reset");
    eq(
        "exception",
        reader.exception(),
        Some(ErrorCode::ConnectionReset),
    )?;
    writer.write(b"x").map_err(fail("write"))?;
    eq(
        "drain",
        writer.drain(Some(10 * SECOND)).await,
        Err(ErrorCode::ConnectionReset),
    )?;
    eq("at_eof", reader.at_eof(), false)
}

/// `write(); close(); drain()`. CPython: `write` hands the bytes to the socket at once, `close`
/// with an empty buffer schedules `connection_lost(None)`; `StreamWriter.drain` sees
/// `is_closing()`, yields once (`sleep(0)`), and `_drain_helper` raises
/// `ConnectionResetError('Connection lost')` since the protocol's connection is lost. The same
/// with nothing written. The bytes are still delivered.
pub async fn drain_after_close_is_connection_lost() -> TestResult {
    for size in [0usize, 1, 32 * 1024] {
        let p = pair(None).await?;
        p.writer.write(&vec![b'w'; size]).map_err(fail("write"))?;
        p.writer.close();
        let fast = p.writer.try_drain();
        ensure!(
            matches!(fast, None | Some(Err(ErrorCode::ConnectionReset))),
            "try_drain after {size} bytes and close: {fast:?}"
        );
        eq(
            &format!("drain after {size} bytes and close"),
            p.writer.drain(Some(10 * SECOND)).await,
            Err(ErrorCode::ConnectionReset),
        )?;
        eq(
            "delivered",
            read(&p.peer_reader, -1).await.map(|b| b.len()),
            Ok(size),
        )?;
        p.writer
            .wait_closed(Some(10 * SECOND))
            .await
            .map_err(fail("wait_closed"))?;
    }
    Ok(())
}

/// `server.close()` with a client the provider already accepted but the app had not taken, and
/// one still in the kernel's listen backlog (the provider stops accepting at `backlog`
/// connections waiting for the app).
///
/// CPython: `BaseSelectorEventLoop._accept_connection` takes connections from the listening
/// socket as soon as it is readable and starts `client_connected_cb` for each; `Server.close`
/// only stops reading the listening socket and closes it, so a connection already accepted is
/// still served, and one left in the kernel's backlog is reset when the listening socket closes.
/// wasio: `accept` after `close` hands out the connections accepted before it, then fails with
/// `closed`.
pub async fn close_hands_out_accepted_connections() -> TestResult {
    let mut options = server_options();
    options.backlog = Some(1);
    let srv = streams::start_server(vec!["127.0.0.1".into()], 0, options)
        .await
        .map_err(fail("start_server"))?;
    let port = port_of(&srv)?;
    let (first_reader, first_writer) = connect(port, connect_options(None)).await?;
    // Time for the provider to accept it; the next one then waits in the kernel's backlog.
    sleep_ms(200).await;
    let (second_reader, _second_writer) = connect(port, connect_options(None)).await?;
    sleep_ms(100).await;
    srv.close();
    ensure!(!srv.is_serving(), "serving after close");
    let (reader, writer) = Connection::split(
        srv.accept(Some(SECOND))
            .await
            .map_err(fail("accept of the connection accepted before close"))?,
    );
    first_writer
        .write(b"ping\n")
        .map_err(fail("client write"))?;
    eq(
        "the server reads",
        reader.readline(Some(10 * SECOND)).await,
        Ok(b"ping\n".to_vec()),
    )?;
    writer.write(b"served\n").map_err(fail("server write"))?;
    writer.close();
    eq(
        "the client is served",
        read(&first_reader, -1).await,
        Ok(b"served\n".to_vec()),
    )?;
    match srv.accept(Some(SECOND)).await {
        Err(ErrorCode::Closed(_)) => {}
        Err(other) => return Err(format!("accept once none is left: {other:?}")),
        Ok(_) => return Err("the client in the kernel's backlog was accepted after close".into()),
    }
    match read(&second_reader, -1).await {
        Ok(data) => eq("the backlogged client reads", data, Vec::new())?,
        Err(ErrorCode::ConnectionReset | ErrorCode::ConnectionAborted) => {}
        Err(e) => return Err(format!("the backlogged client: {e:?}")),
    }
    srv.wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))
}
