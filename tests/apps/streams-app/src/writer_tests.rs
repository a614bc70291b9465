//! Ports of CPython's `StreamWriter` tests (test_streams.py), plus the writer items of wasio's
//! SPEC (flow control, the write-queue cap, close and abort) that CPython has no test for.

use crate::ensure;
use crate::harness::{
    Pair, SECOND, TestResult, connect, connect_options, eq, fail, pair, peer_port, port_of, server,
    sleep_ms,
};
use futures::future::{join, join_all};
use wasio_sdk::raw::{Connection, Reader, Writer, socketpair};
use wasio_types::{AdoptOptions, ErrorCode};

const RESPONSE: &[u8] = b"HTTP/1.0 200 OK\r\nContent-type: text/plain\r\n\r\nTest message";

/// The peer reads everything until EOF and returns the byte count.
async fn peer_read_all(p: &Pair) -> Result<usize, String> {
    let mut total = 0;
    loop {
        let chunk = p
            .peer_reader
            .read(1 << 20, Some(30 * SECOND))
            .await
            .map_err(fail("peer read"))?;
        if chunk.is_empty() {
            return Ok(total);
        }
        total += chunk.len();
    }
}

/// A peer that answers like CPython's test HTTP server and closes.
async fn http_pair() -> Result<Pair, String> {
    let p = pair(None).await?;
    p.peer_writer.write(RESPONSE).map_err(fail("peer write"))?;
    p.peer_writer.close();
    Ok(p)
}

pub async fn test_multiple_drain() -> TestResult {
    let p = pair(None).await?;
    p.writer
        .write(&vec![b'x'; 4 << 20])
        .map_err(fail("write"))?;
    ensure!(p.writer.try_drain().is_none(), "the writer is not paused");
    let drains = join_all((0..10).map(|_| p.writer.drain(Some(30 * SECOND))));
    let (results, read) = join(drains, peer_read_4mib(&p)).await;
    read?;
    let released = results.iter().filter(|r| r.is_ok()).count();
    eq("drains released", released, 10)
}

/// The peer reads the 4 MiB the tests queue (or more).
async fn peer_read_4mib(p: &Pair) -> TestResult {
    let mut total = 0;
    while total < 4 << 20 {
        let chunk = p
            .peer_reader
            .read(1 << 20, Some(30 * SECOND))
            .await
            .map_err(fail("peer read"))?;
        ensure!(!chunk.is_empty(), "EOF after {total} bytes");
        total += chunk.len();
    }
    Ok(())
}

pub async fn test_drain_raises() -> TestResult {
    let srv = server().await?;
    let (_reader, writer) = connect(port_of(&srv)?, connect_options(None)).await?;
    let accepted = srv
        .accept(Some(10 * SECOND))
        .await
        .map_err(fail("accept"))?;
    drop(accepted);
    for _ in 0..100_000 {
        writer.write(b"foo\n").map_err(fail("write"))?;
        match writer.drain(Some(10 * SECOND)).await {
            Ok(()) => sleep_ms(1).await,
            Err(
                ErrorCode::ConnectionReset | ErrorCode::ConnectionAborted | ErrorCode::BrokenPipe,
            ) => {
                return Ok(());
            }
            Err(other) => return Err(format!("drain failed with {other:?}")),
        }
    }
    Err("drain never reported the closed peer".into())
}

pub async fn test_wait_closed_on_close() -> TestResult {
    let p = http_pair().await?;
    let line = p
        .reader
        .readline(Some(10 * SECOND))
        .await
        .map_err(fail("readline"))?;
    eq("status line", line, b"HTTP/1.0 200 OK\r\n".to_vec())?;
    let rest = p
        .reader
        .read(-1, Some(10 * SECOND))
        .await
        .map_err(fail("read"))?;
    ensure!(rest.ends_with(b"\r\n\r\nTest message"), "body {rest:?}");
    ensure!(!p.writer.is_closing(), "closing before close()");
    p.writer.close();
    ensure!(p.writer.is_closing(), "not closing after close()");
    p.writer
        .wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))
}

pub async fn test_wait_closed_on_close_with_unread_data() -> TestResult {
    let p = http_pair().await?;
    let line = p
        .reader
        .readline(Some(10 * SECOND))
        .await
        .map_err(fail("readline"))?;
    eq("status line", line, b"HTTP/1.0 200 OK\r\n".to_vec())?;
    p.writer.close();
    p.writer
        .wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))
}

pub async fn test_async_writer_api() -> TestResult {
    let p = pair(None).await?;
    p.writer
        .write(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(fail("write"))?;
    let request = p
        .peer_reader
        .readline(Some(10 * SECOND))
        .await
        .map_err(fail("peer readline"))?;
    eq("request", request, b"GET / HTTP/1.0\r\n".to_vec())?;
    p.peer_writer.write(RESPONSE).map_err(fail("peer write"))?;
    p.peer_writer.close();
    let line = p
        .reader
        .readline(Some(10 * SECOND))
        .await
        .map_err(fail("readline"))?;
    eq("status line", line, b"HTTP/1.0 200 OK\r\n".to_vec())?;
    let rest = p
        .reader
        .read(-1, Some(10 * SECOND))
        .await
        .map_err(fail("read"))?;
    ensure!(rest.ends_with(b"\r\n\r\nTest message"), "body {rest:?}");
    p.writer.close();
    p.writer
        .wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))
}

pub async fn test_async_writer_api_exception_after_close() -> TestResult {
    let p = http_pair().await?;
    p.reader
        .readline(Some(10 * SECOND))
        .await
        .map_err(fail("readline"))?;
    p.reader
        .read(-1, Some(10 * SECOND))
        .await
        .map_err(fail("read"))?;
    p.writer.close();
    p.writer.write(b"data").map_err(fail("write after close"))?;
    eq(
        "drain after close",
        p.writer.drain(Some(10 * SECOND)).await,
        Err(ErrorCode::ConnectionReset),
    )
}

pub async fn test_eof_feed_when_closing_writer() -> TestResult {
    let p = pair(None).await?;
    p.writer.close();
    p.writer
        .wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))?;
    ensure!(p.reader.at_eof(), "not at EOF after the close");
    eq("read", p.reader.read(-1, Some(SECOND)).await, Ok(vec![]))
}

/// Drops a writer without closing it: the provider closes it and prints one warning (the
/// integration test checks stderr for it).
pub async fn test_unclosed_resource_warnings() -> TestResult {
    let p = pair(None).await?;
    let Pair {
        reader,
        writer,
        peer_reader,
        peer_writer,
        server,
    } = p;
    writer.write(b"bye").map_err(fail("write"))?;
    drop(writer);
    let got = peer_reader
        .read(-1, Some(10 * SECOND))
        .await
        .map_err(fail("peer read"))?;
    eq("flushed before the close", got, b"bye".to_vec())?;
    peer_writer.close();
    drop((reader, peer_writer, server));
    Ok(())
}

pub async fn write_never_waits_and_empty_is_ignored() -> TestResult {
    let p = pair(None).await?;
    for _ in 0..8 {
        p.writer
            .write(&vec![b'w'; 1 << 20])
            .map_err(fail("write"))?;
    }
    let size = p.writer.get_write_buffer_size();
    ensure!(size > 0, "nothing queued");
    p.writer.write(b"").map_err(fail("empty write"))?;
    p.writer
        .writelines(&[b"".to_vec(), b"".to_vec()])
        .map_err(fail("empty writelines"))?;
    eq(
        "size after empty writes",
        p.writer.get_write_buffer_size(),
        size,
    )
}

pub async fn write_queue_cap_is_buffer_full() -> TestResult {
    let srv = server().await?;
    let mut options = connect_options(None);
    options.write_queue_cap = Some(1000);
    let (_reader, writer) = connect(port_of(&srv)?, options).await?;
    writer.write(&[b'a'; 600]).map_err(fail("first write"))?;
    eq(
        "second write",
        writer.write(&[b'b'; 600]),
        Err(ErrorCode::BufferFull),
    )?;
    eq(
        "writelines over the cap",
        writer.writelines(&[vec![b'c'; 300], vec![b'd'; 300]]),
        Err(ErrorCode::BufferFull),
    )?;
    eq("queued", writer.get_write_buffer_size(), 600)?;
    writer
        .write(&[b'e'; 400])
        .map_err(fail("write up to the cap"))
}

pub async fn write_buffer_limits() -> TestResult {
    let p = pair(None).await?;
    eq(
        "defaults (low, high)",
        p.writer.get_write_buffer_limits(),
        (16384, 65536),
    )?;
    p.writer
        .set_write_buffer_limits(None, Some(100))
        .map_err(fail("low only"))?;
    eq("low only", p.writer.get_write_buffer_limits(), (100, 400))?;
    p.writer
        .set_write_buffer_limits(Some(100), None)
        .map_err(fail("high only"))?;
    eq("high only", p.writer.get_write_buffer_limits(), (25, 100))?;
    ensure!(
        matches!(
            p.writer.set_write_buffer_limits(Some(1), Some(2)),
            Err(ErrorCode::InvalidArgument(_))
        ),
        "high < low was accepted"
    );
    eq(
        "unchanged after the error",
        p.writer.get_write_buffer_limits(),
        (25, 100),
    )
}

pub async fn drain_waits_above_high_until_low() -> TestResult {
    let p = pair(None).await?;
    p.writer
        .write(&vec![b'x'; 4 << 20])
        .map_err(fail("write"))?;
    ensure!(
        p.writer.try_drain().is_none(),
        "drain would not wait above high"
    );
    let (drained, read) = join(p.writer.drain(Some(30 * SECOND)), peer_read_4mib(&p)).await;
    read?;
    drained.map_err(fail("drain"))?;
    ensure!(
        p.writer.get_write_buffer_size() <= 16384,
        "released above the low mark"
    );
    eq("drain now", p.writer.try_drain(), Some(Ok(())))
}

/// The native peer (started by the integration test) never reads and resets the connection
/// after a moment: every waiting drain fails with the connection's error.
pub async fn lost_connection_fails_every_drain() -> TestResult {
    let (_reader, writer) = connect(peer_port()?, connect_options(None)).await?;
    writer.write(&vec![b'x'; 60 << 20]).map_err(fail("write"))?;
    let results = join_all((0..5).map(|_| writer.drain(Some(30 * SECOND)))).await;
    for r in &results {
        ensure!(
            matches!(r, Err(ErrorCode::ConnectionReset | ErrorCode::BrokenPipe)),
            "a drain ended otherwise: {results:?}"
        );
    }
    ensure!(writer.is_closing(), "not closing after the reset");
    Ok(())
}

pub async fn close_is_idempotent_and_flushes() -> TestResult {
    let p = pair(None).await?;
    p.writer
        .write(&vec![b'c'; 1 << 20])
        .map_err(fail("write"))?;
    p.writer.close();
    p.writer.close();
    let (got, closed) = join(peer_read_all(&p), p.writer.wait_closed(Some(30 * SECOND))).await;
    eq("flushed", got?, 1 << 20)?;
    closed.map_err(fail("wait_closed"))?;
    p.writer.close();
    p.writer
        .wait_closed(Some(SECOND))
        .await
        .map_err(fail("wait_closed again"))
}

pub async fn abort_drops_the_queue() -> TestResult {
    let p = pair(None).await?;
    p.writer
        .write(&vec![b'a'; 16 << 20])
        .map_err(fail("write"))?;
    p.writer.abort();
    ensure!(p.writer.is_closing(), "not closing after abort");
    p.writer
        .wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))?;
    eq("queue after abort", p.writer.get_write_buffer_size(), 0)?;
    let mut total = 0;
    while let Ok(chunk) = p.peer_reader.read(1 << 20, Some(10 * SECOND)).await {
        if chunk.is_empty() {
            break;
        }
        total += chunk.len();
    }
    ensure!(total < 16 << 20, "all {total} bytes arrived despite abort");
    Ok(())
}

/// The native peer resets the connection: wait_closed reports that error, every time.
pub async fn wait_closed_reports_the_connection_error() -> TestResult {
    let (_reader, writer) = connect(peer_port()?, connect_options(None)).await?;
    let r = writer.wait_closed(Some(10 * SECOND)).await;
    ensure!(
        matches!(r, Err(ErrorCode::ConnectionReset)),
        "wait_closed after a reset: {r:?}"
    );
    eq("again", writer.wait_closed(Some(SECOND)).await, r)
}

pub async fn writes_after_close_are_dropped() -> TestResult {
    let p = pair(None).await?;
    p.writer.close();
    for _ in 0..6 {
        p.writer
            .write(b"dropped")
            .map_err(fail("write after close"))?;
    }
    eq("queued", p.writer.get_write_buffer_size(), 0)
}

pub async fn write_eof_rules() -> TestResult {
    let p = pair(None).await?;
    ensure!(p.writer.can_write_eof(), "TCP cannot write EOF");
    eq("default limit", p.reader.limit(), 65536)?;
    p.writer
        .writelines(&[b"a".to_vec(), vec![], b"b".to_vec()])
        .map_err(fail("writelines"))?;
    p.writer.write_eof().map_err(fail("write_eof"))?;
    p.writer.write_eof().map_err(fail("write_eof twice"))?;
    let got = p
        .peer_reader
        .read(-1, Some(10 * SECOND))
        .await
        .map_err(fail("peer read"))?;
    eq("peer got, then EOF", got, b"ab".to_vec())?;
    // Reading goes on after our FIN.
    p.peer_writer.write(b"reply").map_err(fail("peer write"))?;
    let reply = p
        .reader
        .read(5, Some(10 * SECOND))
        .await
        .map_err(fail("read"))?;
    eq("reply", reply, b"reply".to_vec())?;
    p.writer.close();
    p.writer
        .write_eof()
        .map_err(fail("write_eof while closing is a no-op"))?;
    p.writer
        .wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))
}

/// `abort` while bytes the app never read wait in the socket (more than the reader takes
/// ahead) resets the connection, as closing asyncio's socket does: the peer's read and drain
/// fail with `connection-reset`. Over TCP and over a Unix socketpair.
pub async fn abort_with_unread_bytes_resets_the_peer() -> TestResult {
    let p = pair(None).await?;
    aborted_with_unread_bytes(&p.peer_writer, &p.reader, &p.writer, Transport::Tcp).await?;
    let options = AdoptOptions::default();
    let (a, b) = socketpair(options).map_err(fail("socketpair"))?;
    let (_a_reader, a_writer) = Connection::split(a);
    let (b_reader, b_writer) = Connection::split(b);
    aborted_with_unread_bytes(&a_writer, &b_reader, &b_writer, Transport::Unix)
        .await
        .map_err(|e| format!("over a Unix socketpair: {e}"))
}

/// What the peer of an aborted connection may see.
#[derive(PartialEq)]
enum Transport {
    /// TCP: the abort resets the connection at once.
    Tcp,
    /// A Unix socket has no RST: the peer reads ECONNRESET once the aborted socket is closed
    /// with bytes unread, and EOF if it reads before (the host closes the socket when the
    /// connection's last handle goes).
    Unix,
}

/// `peer_writer` writes 1 MB to `aborting`'s side, which never reads, and `aborting` aborts.
async fn aborted_with_unread_bytes(
    aborting: &Writer,
    peer_reader: &Reader,
    peer_writer: &Writer,
    transport: Transport,
) -> TestResult {
    peer_writer
        .write(&vec![b'x'; 1 << 20])
        .map_err(fail("write"))?;
    sleep_ms(100).await;
    let queued = peer_writer.get_write_buffer_size();
    aborting.abort();
    match peer_reader.read(100, Some(10 * SECOND)).await {
        Err(ErrorCode::ConnectionReset) => {}
        Ok(eof) if eof.is_empty() && transport == Transport::Unix => {}
        other => return Err(format!("the peer's read after the abort: {other:?}")),
    }
    match peer_writer.drain(Some(10 * SECOND)).await {
        Err(ErrorCode::ConnectionReset) => Ok(()),
        Err(ErrorCode::BrokenPipe) if transport == Transport::Unix => Ok(()),
        other => Err(format!(
            "the peer's drain after the abort: {other:?} ({queued} bytes were queued before the abort, {} now)",
            peer_writer.get_write_buffer_size()
        )),
    }
}

/// `set-tcp-nodelay` / `set-keep-alive`: set on a TCP connection; `not-supported` on a Unix
/// socket; `closed` once the connection is closed.
pub async fn socket_options_by_transport() -> TestResult {
    let p = pair(None).await?;
    p.writer
        .set_tcp_nodelay(false)
        .map_err(fail("TCP_NODELAY off"))?;
    p.writer
        .set_tcp_nodelay(true)
        .map_err(fail("TCP_NODELAY on"))?;
    p.peer_writer
        .set_keep_alive(true)
        .map_err(fail("SO_KEEPALIVE on an accepted connection"))?;
    p.writer.close();
    p.writer
        .wait_closed(Some(10 * SECOND))
        .await
        .map_err(fail("wait_closed"))?;
    match p.writer.set_tcp_nodelay(true) {
        Err(ErrorCode::Closed(_)) => {}
        other => return Err(format!("TCP_NODELAY once closed: {other:?}")),
    }
    let options = AdoptOptions::default();
    let (a, _b) = socketpair(options).map_err(fail("socketpair"))?;
    let (_reader, writer) = Connection::split(a);
    for (what, result) in [
        ("TCP_NODELAY", writer.set_tcp_nodelay(false)),
        ("SO_KEEPALIVE", writer.set_keep_alive(true)),
    ] {
        match result {
            Err(ErrorCode::NotSupported(message)) if message.contains(what) => {}
            other => return Err(format!("{what} on a Unix socket: {other:?}")),
        }
    }
    Ok(())
}

pub async fn connect_by_host_name() -> TestResult {
    let srv = server().await?;
    let conn =
        wasio_sdk::raw::open_connection("localhost".into(), port_of(&srv)?, connect_options(None))
            .await
            .map_err(fail("open_connection(localhost)"))?;
    let (_r, w) = Connection::split(conn);
    ensure!(w.extra_info().peername.is_some(), "no peername");
    let r = wasio_sdk::raw::open_connection(
        "no-such-host.invalid".into(),
        port_of(&srv)?,
        connect_options(None),
    )
    .await;
    ensure!(
        matches!(r, Err(ErrorCode::NameUnresolvable)),
        "unknown host: {:?}",
        r.map(|_| ())
    );
    Ok(())
}
