//! `interrupt` on a reader, writer, server and `timer` (wasio's own contract additions for
//! callers that cannot drop an in-flight call, such as componentize-py's Python): an interrupt
//! ends the waits in progress with `interrupted` and changes no state, and one made while nothing
//! waits affects no later wait.

use crate::ensure;
use crate::harness::{
    SECOND, TestResult, connect, connect_options, eq, fail, pair, port_of, sleep_ms,
};
use futures::future::join;
use wasio_sdk::raw::{Connection, Timer};
use wasio_types::ErrorCode;

/// A `readline` waiting on a partial line is interrupted; the partial line stays buffered and
/// the next `readline` returns it whole.
pub async fn interrupted_read_consumes_nothing() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"partial line").await?;
    // An interrupt while nothing waits does not end the next wait.
    p.reader.interrupt();
    let (r, ()) = join(p.reader.readline(None), async {
        sleep_ms(20).await;
        p.reader.interrupt();
    })
    .await;
    eq("interrupted readline", r, Err(ErrorCode::Interrupted))?;
    eq("buffer intact", p.reader.buffered(), 12)?;
    let (r, ()) = join(
        p.reader.readexactly(100, None),
        interrupt_soon(|| p.reader.interrupt()),
    )
    .await;
    eq("interrupted readexactly", r, Err(ErrorCode::Interrupted))?;
    eq("buffer still intact", p.reader.buffered(), 12)?;
    p.feed(b" ends\n").await?;
    eq(
        "line",
        p.reader.readline(Some(SECOND)).await,
        Ok(b"partial line ends\n".to_vec()),
    )
}

async fn interrupt_soon(interrupt: impl FnOnce()) {
    sleep_ms(20).await;
    interrupt();
}

/// `wait-closed` on an open writer is interrupted; the writer still writes.
pub async fn interrupted_wait_closed_leaves_the_writer_open() -> TestResult {
    let p = pair(None).await?;
    p.writer.interrupt();
    let (r, ()) = join(
        p.writer.wait_closed(None),
        interrupt_soon(|| p.writer.interrupt()),
    )
    .await;
    eq("interrupted wait_closed", r, Err(ErrorCode::Interrupted))?;
    ensure!(!p.writer.is_closing(), "the writer is closing");
    p.writer.write(b"still open\n").map_err(fail("write"))?;
    eq(
        "peer line",
        p.peer_reader.readline(Some(SECOND)).await,
        Ok(b"still open\n".to_vec()),
    )
}

/// An `accept` waiting is interrupted; the next client is still accepted, by `accept` and by a
/// `serving`'s `accept`.
pub async fn interrupted_accept_loses_no_connection() -> TestResult {
    let p = pair(None).await?;
    let server = &p.server;
    let (r, ()) = join(server.accept(None), interrupt_soon(|| server.interrupt())).await;
    ensure!(
        matches!(r, Err(ErrorCode::Interrupted)),
        "accept: {:?}",
        r.err()
    );
    let port = port_of(server)?;
    let (_reader, writer) = connect(port, connect_options(None)).await?;
    writer.write(b"hello\n").map_err(fail("write"))?;
    let conn = server.accept(Some(SECOND)).await.map_err(fail("accept"))?;
    let (reader, _w) = Connection::split(conn);
    eq(
        "line",
        reader.readline(Some(SECOND)).await,
        Ok(b"hello\n".to_vec()),
    )?;
    let serving = server.serve_forever().map_err(fail("serve_forever"))?;
    let (r, ()) = join(serving.accept(None), interrupt_soon(|| server.interrupt())).await;
    ensure!(
        matches!(r, Err(ErrorCode::Interrupted)),
        "serving accept: {:?}",
        r.err()
    );
    ensure!(server.is_serving(), "the server stopped serving");
    Ok(())
}

/// A timer waits its duration, an interrupt ends its wait early, and one wait at a time.
pub async fn timer_waits_and_is_interrupted() -> TestResult {
    use crate::bindings::wasi::clocks::monotonic_clock::now;
    let timer = Timer::new();
    let start = now();
    eq("20 ms wait", timer.wait(20_000_000).await, Ok(()))?;
    ensure!(now() - start >= 20_000_000, "the wait ended early");
    timer.interrupt();
    let start = now();
    let (r, ()) = join(
        timer.wait(10 * SECOND),
        interrupt_soon(|| timer.interrupt()),
    )
    .await;
    eq("interrupted wait", r, Err(ErrorCode::Interrupted))?;
    ensure!(
        now() - start < 5 * SECOND,
        "the interrupt did not end the wait"
    );
    let (a, b) = join(timer.wait(30_000_000), async {
        sleep_ms(5).await;
        timer.wait(1).await
    })
    .await;
    eq("first wait", a, Ok(()))?;
    eq("second wait at once", b, Err(ErrorCode::Busy))
}
