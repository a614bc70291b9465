//! Ports of CPython's `StreamReader` tests (test_streams.py), plus the reader items of wasio's
//! SPEC that CPython has no test for. Where a port departs from CPython, a comment says why.

use crate::ensure;
use crate::harness::{
    SECOND, TestResult, connect_options, eq, fail, incomplete, overrun, pair, port_of, sleep_ms,
    wait_until,
};
use futures::future::{Either, join, select};
use std::pin::pin;
use wasio_sdk::raw::{self as streams, Reader};
use wasio_types::ErrorCode;

const DATA: &[u8] = b"line1\nline2\nline3\n";

async fn readline(r: &Reader) -> Result<Vec<u8>, ErrorCode> {
    r.readline(Some(10 * SECOND)).await
}

async fn readuntil(r: &Reader, seps: &[&[u8]]) -> Result<Vec<u8>, ErrorCode> {
    let seps = seps.iter().map(|s| s.to_vec()).collect();
    r.readuntil(seps, Some(10 * SECOND)).await
}

async fn read(r: &Reader, n: i64) -> Result<Vec<u8>, ErrorCode> {
    r.read(n, Some(10 * SECOND)).await
}

async fn readexactly(r: &Reader, n: u64) -> Result<Vec<u8>, ErrorCode> {
    r.readexactly(n, Some(10 * SECOND)).await
}

fn ok<T>(what: &str, r: Result<T, ErrorCode>) -> Result<T, String> {
    r.map_err(fail(what))
}

/// Reads what is buffered without waiting (the reader's buffer, as CPython's `_buffer`).
fn buffer(r: &Reader) -> Result<Vec<u8>, String> {
    let n = r.buffered();
    if n == 0 {
        return Ok(Vec::new());
    }
    match r.try_readexactly(n) {
        Some(result) => ok("draining the buffer", result),
        None => Err("buffered bytes could not be read".into()),
    }
}

pub async fn test_feed_empty_data() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"").await?;
    eq("buffered", p.reader.buffered(), 0)
}

pub async fn test_feed_nonempty_data() -> TestResult {
    let p = pair(None).await?;
    p.feed(DATA).await?;
    eq("buffer", buffer(&p.reader)?, DATA.to_vec())
}

pub async fn test_read_zero() -> TestResult {
    let p = pair(None).await?;
    p.feed(DATA).await?;
    eq("read(0)", ok("read", read(&p.reader, 0).await)?, vec![])?;
    eq("buffer", buffer(&p.reader)?, DATA.to_vec())
}

pub async fn test_read() -> TestResult {
    let p = pair(None).await?;
    let (data, fed) = join(read(&p.reader, 30), async {
        sleep_ms(10).await;
        p.feed(DATA).await
    })
    .await;
    fed?;
    eq("read(30)", ok("read", data)?, DATA.to_vec())?;
    eq("buffered", p.reader.buffered(), 0)
}

pub async fn test_read_line_breaks() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"line1").await?;
    p.feed(b"line2").await?;
    eq(
        "read(5)",
        ok("read", read(&p.reader, 5).await)?,
        b"line1".to_vec(),
    )?;
    eq("buffer", buffer(&p.reader)?, b"line2".to_vec())
}

pub async fn test_read_eof() -> TestResult {
    let p = pair(None).await?;
    let (data, fed) = join(read(&p.reader, 1024), async {
        sleep_ms(10).await;
        p.feed_eof().await
    })
    .await;
    fed?;
    eq("read at EOF", ok("read", data)?, vec![])?;
    eq("buffered", p.reader.buffered(), 0)
}

pub async fn test_read_until_eof() -> TestResult {
    let p = pair(None).await?;
    let (data, fed) = join(read(&p.reader, -1), async {
        sleep_ms(10).await;
        p.feed(b"chunk1\n").await?;
        p.feed(b"chunk2").await?;
        p.feed_eof().await
    })
    .await;
    fed?;
    eq("read(-1)", ok("read", data)?, b"chunk1\nchunk2".to_vec())?;
    eq("buffered", p.reader.buffered(), 0)
}

/// CPython raises the stored error at once; wasio first delivers the bytes already buffered
/// (SPEC, better than CPython gh-75044), then reports the error.
pub async fn test_read_exception() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"line\n").await?;
    eq(
        "read(2)",
        ok("read", read(&p.reader, 2).await)?,
        b"li".to_vec(),
    )?;
    p.reader
        .set_exception(&ErrorCode::InvalidArgument("ValueError".into()));
    eq(
        "read(2) after",
        ok("read", read(&p.reader, 2).await)?,
        b"ne".to_vec(),
    )?;
    eq(
        "read(2) after",
        ok("read", read(&p.reader, 2).await)?,
        b"\n".to_vec(),
    )?;
    eq(
        "read once the buffer is empty",
        read(&p.reader, 2).await,
        Err(ErrorCode::InvalidArgument("ValueError".into())),
    )
}

pub async fn test_invalid_limit() -> TestResult {
    let server = crate::harness::server().await?;
    let port = port_of(&server)?;
    let r = streams::open_connection("127.0.0.1".into(), port, connect_options(Some(0))).await;
    ensure!(
        matches!(r, Err(ErrorCode::InvalidArgument(_))),
        "limit=0 gave {:?}",
        r.map(|_| ())
    );
    let p = pair(None).await?;
    ensure!(
        matches!(p.reader.set_limit(0), Err(ErrorCode::InvalidArgument(_))),
        "set_limit(0) was accepted"
    );
    Ok(())
}

pub async fn test_read_limit() -> TestResult {
    let p = pair(Some(3)).await?;
    p.feed(b"chunk").await?;
    eq(
        "read(5)",
        ok("read", read(&p.reader, 5).await)?,
        b"chunk".to_vec(),
    )?;
    eq("buffered", p.reader.buffered(), 0)
}

pub async fn test_readline() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"chunk1 ").await?;
    let (line, fed) = join(readline(&p.reader), async {
        sleep_ms(10).await;
        p.feed(b"chunk2 ").await?;
        p.feed(b"chunk3 ").await?;
        p.feed(b"\n chunk4").await
    })
    .await;
    fed?;
    eq(
        "line",
        ok("readline", line)?,
        b"chunk1 chunk2 chunk3 \n".to_vec(),
    )?;
    wait_until("the rest arrived", || p.reader.buffered() == 7).await?;
    eq("buffer", buffer(&p.reader)?, b" chunk4".to_vec())
}

pub async fn test_readline_limit_with_existing_data() -> TestResult {
    let p = pair(Some(3)).await?;
    p.feed(b"li").await?;
    p.feed(b"ne1\nline2\n").await?;
    let r = readline(&p.reader).await;
    eq(
        "overrun",
        overrun(r.err().ok_or("readline succeeded")?)?,
        (true, 5),
    )?;
    eq("buffer", buffer(&p.reader)?, b"line2\n".to_vec())?;

    let p = pair(Some(3)).await?;
    p.feed(b"li").await?;
    p.feed(b"ne1").await?;
    p.feed(b"li").await?;
    let r = readline(&p.reader).await;
    eq(
        "overrun",
        overrun(r.err().ok_or("readline succeeded")?)?,
        (false, 7),
    )?;
    eq("buffered", p.reader.buffered(), 0)
}

pub async fn test_at_eof() -> TestResult {
    let p = pair(None).await?;
    ensure!(!p.reader.at_eof(), "at_eof before data");
    p.feed(b"some data\n").await?;
    ensure!(!p.reader.at_eof(), "at_eof with data");
    ok("readline", readline(&p.reader).await)?;
    ensure!(!p.reader.at_eof(), "at_eof without EOF");
    p.feed_eof().await?;
    wait_until("at_eof", || p.reader.at_eof()).await
}

/// CPython feeds the chunks in one callback; here the peer writes them as one write, so they
/// arrive together as CPython's do.
pub async fn test_readline_limit() -> TestResult {
    let p = pair(Some(7)).await?;
    let (r, fed) = join(readline(&p.reader), async {
        sleep_ms(10).await;
        p.feed(b"chunk1chunk2chunk3\n").await?;
        p.feed_eof().await
    })
    .await;
    fed?;
    eq(
        "overrun",
        overrun(r.err().ok_or("readline succeeded")?)?,
        (true, 18),
    )?;
    eq("buffered", p.reader.buffered(), 0)?;

    let p = pair(Some(7)).await?;
    let (r, fed) = join(readline(&p.reader), async {
        sleep_ms(10).await;
        p.feed(b"chunk1chunk2\nchunk3\n").await?;
        p.feed_eof().await
    })
    .await;
    fed?;
    eq(
        "overrun",
        overrun(r.err().ok_or("readline succeeded")?)?,
        (true, 12),
    )?;
    eq("buffer", buffer(&p.reader)?, b"chunk3\n".to_vec())?;

    // Strictness of the limit.
    let p = pair(Some(7)).await?;
    p.feed(b"1234567\n").await?;
    eq(
        "line",
        ok("readline", readline(&p.reader).await)?,
        b"1234567\n".to_vec(),
    )?;
    eq("buffered", p.reader.buffered(), 0)?;
    p.feed(b"12345678\n").await?;
    let r = readline(&p.reader).await;
    eq(
        "overrun",
        overrun(r.err().ok_or("readline succeeded")?)?,
        (true, 8),
    )?;
    eq("buffered", p.reader.buffered(), 0)?;
    p.feed(b"12345678").await?;
    let r = readline(&p.reader).await;
    eq(
        "overrun",
        overrun(r.err().ok_or("readline succeeded")?)?,
        (false, 8),
    )?;
    eq("buffered", p.reader.buffered(), 0)
}

pub async fn test_readline_nolimit_nowait() -> TestResult {
    let p = pair(None).await?;
    p.feed(&DATA[..6]).await?;
    p.feed(&DATA[6..]).await?;
    eq(
        "line",
        ok("readline", readline(&p.reader).await)?,
        b"line1\n".to_vec(),
    )?;
    eq("buffer", buffer(&p.reader)?, DATA[6..].to_vec())
}

pub async fn test_readline_eof() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"some data").await?;
    p.feed_eof().await?;
    eq(
        "line",
        ok("readline", readline(&p.reader).await)?,
        b"some data".to_vec(),
    )
}

pub async fn test_readline_empty_eof() -> TestResult {
    let p = pair(None).await?;
    p.feed_eof().await?;
    eq("line", ok("readline", readline(&p.reader).await)?, vec![])
}

pub async fn test_readline_read_byte_count() -> TestResult {
    let p = pair(None).await?;
    p.feed(DATA).await?;
    ok("readline", readline(&p.reader).await)?;
    eq(
        "read(7)",
        ok("read", read(&p.reader, 7).await)?,
        b"line2\nl".to_vec(),
    )?;
    eq("buffer", buffer(&p.reader)?, DATA[13..].to_vec())
}

pub async fn test_readline_exception() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"line\n").await?;
    eq(
        "line",
        ok("readline", readline(&p.reader).await)?,
        b"line\n".to_vec(),
    )?;
    let error = ErrorCode::InvalidArgument("ValueError".into());
    p.reader.set_exception(&error);
    eq(
        "readline after set_exception",
        readline(&p.reader).await,
        Err(error),
    )?;
    eq("buffered", p.reader.buffered(), 0)
}

pub async fn test_readuntil_separator() -> TestResult {
    let p = pair(None).await?;
    for seps in [&[&b""[..]][..], &[], &[b"a", b""]] {
        let r = readuntil(&p.reader, seps).await;
        ensure!(
            matches!(r, Err(ErrorCode::InvalidArgument(_))),
            "separators {seps:?} gave {r:?}"
        );
    }
    Ok(())
}

pub async fn test_readuntil_multi_chunks() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"lineAAA").await?;
    eq(
        "1",
        ok("readuntil", readuntil(&p.reader, &[b"AAA"]).await)?,
        b"lineAAA".to_vec(),
    )?;
    eq("buffered", p.reader.buffered(), 0)?;
    p.feed(b"lineAAA").await?;
    eq(
        "2",
        ok("readuntil", readuntil(&p.reader, &[b"AAA"]).await)?,
        b"lineAAA".to_vec(),
    )?;
    eq("buffered", p.reader.buffered(), 0)?;
    p.feed(b"lineAAAxxx").await?;
    eq(
        "3",
        ok("readuntil", readuntil(&p.reader, &[b"AAA"]).await)?,
        b"lineAAA".to_vec(),
    )?;
    eq("buffer", buffer(&p.reader)?, b"xxx".to_vec())
}

pub async fn test_readuntil_multi_chunks_1() -> TestResult {
    let p = pair(None).await?;
    let cases: [(&[&[u8]], &[u8]); 5] = [
        (&[b"QWEaa", b"XYaa", b"a"], b"QWEaaXYaaa"),
        (&[b"QWEaa", b"XYa", b"aa"], b"QWEaaXYaaa"),
        (&[b"aaa"], b"aaa"),
        (&[b"Xaaa"], b"Xaaa"),
        (&[b"XXX", b"", b"XXXaaa"], b"XXXXXXaaa"),
    ];
    for (chunks, want) in cases {
        for chunk in chunks {
            p.feed(chunk).await?;
        }
        let got = ok("readuntil", readuntil(&p.reader, &[b"aaa"]).await)?;
        eq("readuntil", got, want.to_vec())?;
        eq("buffered", p.reader.buffered(), 0)?;
    }
    // A separator split across arrivals while readuntil waits.
    let (got, fed) = join(readuntil(&p.reader, &[b"aaa"]), async {
        for chunk in [&b"split a"[..], b"a", b"a tail"] {
            sleep_ms(5).await;
            p.feed(chunk).await?;
        }
        Ok::<(), String>(())
    })
    .await;
    fed?;
    eq(
        "split separator",
        ok("readuntil", got)?,
        b"split aaa".to_vec(),
    )
}

pub async fn test_readuntil_eof() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"some dataAA").await?;
    p.feed_eof().await?;
    let r = readuntil(&p.reader, &[b"AAA"]).await;
    let (partial, expected) = incomplete(r.err().ok_or("readuntil succeeded")?)?;
    eq("partial", partial, b"some dataAA".to_vec())?;
    eq("expected", expected, None)?;
    eq("buffered", p.reader.buffered(), 0)
}

/// CPython feeds one more "A" into a buffer already above 2 x limit; wasio's flow control does
/// not pull more in that state (SPEC), so the second half uses a fresh connection with all bytes.
pub async fn test_readuntil_limit_found_sep() -> TestResult {
    let p = pair(Some(3)).await?;
    p.feed(b"some dataAA").await?;
    let r = readuntil(&p.reader, &[b"AAA"]).await;
    eq(
        "not found",
        overrun(r.err().ok_or("readuntil succeeded")?)?,
        (false, 9),
    )?;
    eq("buffer intact", p.reader.buffered(), 11)?;

    let p = pair(Some(3)).await?;
    p.feed(b"some dataAAA").await?;
    let r = readuntil(&p.reader, &[b"AAA"]).await;
    eq(
        "found",
        overrun(r.err().ok_or("readuntil succeeded")?)?,
        (true, 9),
    )?;
    eq("buffer", buffer(&p.reader)?, b"some dataAAA".to_vec())
}

pub async fn test_readuntil_multi_separator() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"line 1\nline 2\r").await?;
    let crlf: &[&[u8]] = &[b"\r", b"\n"];
    eq(
        "1",
        ok("readuntil", readuntil(&p.reader, crlf).await)?,
        b"line 1\n".to_vec(),
    )?;
    eq(
        "2",
        ok("readuntil", readuntil(&p.reader, crlf).await)?,
        b"line 2\r".to_vec(),
    )?;
    eq("buffered", p.reader.buffered(), 0)?;
    p.feed(b"ABCDEFG").await?;
    let got = ok("readuntil", readuntil(&p.reader, &[b"DEF", b"BCDE"]).await)?;
    eq("first end wins", got, b"ABCDE".to_vec())?;
    eq("buffer", buffer(&p.reader)?, b"FG".to_vec())
}

pub async fn test_readuntil_multi_separator_limit() -> TestResult {
    let p = pair(Some(3)).await?;
    p.feed(b"some dataA").await?;
    let r = readuntil(&p.reader, &[b"A", b"ome dataA"]).await;
    eq(
        "found",
        overrun(r.err().ok_or("readuntil succeeded")?)?,
        (true, 9),
    )?;
    eq("buffer", buffer(&p.reader)?, b"some dataA".to_vec())
}

pub async fn test_readuntil_multi_separator_negative_offset() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"data").await?;
    let (got, fed) = join(readuntil(&p.reader, &[b"A", b"long sep"]), async {
        sleep_ms(10).await;
        p.feed(b"Z").await?;
        sleep_ms(10).await;
        p.feed(b"Aaaa").await
    })
    .await;
    fed?;
    eq("readuntil", ok("readuntil", got)?, b"dataZA".to_vec())?;
    eq("buffer", buffer(&p.reader)?, b"aaa".to_vec())
}

/// readexactly(-1) has no form here (the count is unsigned in the contract); 0 is checked.
pub async fn test_readexactly_zero_or_less() -> TestResult {
    let p = pair(None).await?;
    p.feed(DATA).await?;
    eq(
        "readexactly(0)",
        ok("readexactly", readexactly(&p.reader, 0).await)?,
        vec![],
    )?;
    eq("buffer", buffer(&p.reader)?, DATA.to_vec())
}

pub async fn test_readexactly() -> TestResult {
    let p = pair(None).await?;
    let n = 2 * DATA.len() as u64;
    let (data, fed) = join(readexactly(&p.reader, n), async {
        sleep_ms(10).await;
        p.feed(&DATA.repeat(3)).await
    })
    .await;
    fed?;
    eq("data", ok("readexactly", data)?, DATA.repeat(2))?;
    eq("buffer", buffer(&p.reader)?, DATA.to_vec())
}

pub async fn test_readexactly_limit() -> TestResult {
    let p = pair(Some(3)).await?;
    p.feed(b"chunk").await?;
    eq(
        "readexactly(5)",
        ok("readexactly", readexactly(&p.reader, 5).await)?,
        b"chunk".to_vec(),
    )?;
    eq("buffered", p.reader.buffered(), 0)
}

pub async fn test_readexactly_eof() -> TestResult {
    let p = pair(None).await?;
    let n = 2 * DATA.len() as u64;
    let (r, fed) = join(readexactly(&p.reader, n), async {
        sleep_ms(10).await;
        p.feed(DATA).await?;
        p.feed_eof().await
    })
    .await;
    fed?;
    let (partial, expected) = incomplete(r.err().ok_or("readexactly succeeded")?)?;
    eq("partial", partial, DATA.to_vec())?;
    eq("expected", expected, Some(n))?;
    eq("buffered", p.reader.buffered(), 0)
}

pub async fn test_readexactly_exception() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"line\n").await?;
    eq(
        "readexactly(2)",
        ok("readexactly", readexactly(&p.reader, 2).await)?,
        b"li".to_vec(),
    )?;
    let error = ErrorCode::InvalidArgument("ValueError".into());
    p.reader.set_exception(&error);
    // Better than CPython: the 3 buffered bytes satisfy readexactly(2) first.
    eq(
        "buffered first",
        ok("readexactly", readexactly(&p.reader, 2).await)?,
        b"ne".to_vec(),
    )?;
    eq(
        "then the error",
        readexactly(&p.reader, 2).await,
        Err(error),
    )
}

pub async fn test_exception() -> TestResult {
    let p = pair(None).await?;
    eq("no exception", p.reader.exception(), None)?;
    let error = ErrorCode::InvalidArgument("ValueError".into());
    p.reader.set_exception(&error);
    eq("exception", p.reader.exception(), Some(error))
}

pub async fn test_exception_waiter() -> TestResult {
    let p = pair(None).await?;
    let error = ErrorCode::InvalidArgument("ValueError".into());
    let (r, ()) = join(readline(&p.reader), async {
        sleep_ms(10).await;
        p.reader.set_exception(&error);
    })
    .await;
    eq("the waiting readline", r, Err(error))
}

/// Cancelling a waiting readline (dropping its call) and then storing an error must leave the
/// reader usable: the next read reports the error, with no stale waiter left.
pub async fn test_exception_cancel() -> TestResult {
    let p = pair(None).await?;
    {
        let line = pin!(readline(&p.reader));
        let nap = pin!(sleep_ms(20));
        match select(line, nap).await {
            Either::Left((r, _)) => return Err(format!("readline finished early: {r:?}")),
            Either::Right(((), _)) => {}
        }
    }
    let error = ErrorCode::Other(Some("message".into()));
    p.reader.set_exception(&error);
    eq("next readline", readline(&p.reader).await, Err(error))
}

pub async fn concurrent_read_is_busy() -> TestResult {
    let p = pair(None).await?;
    let (first, second) = join(readline(&p.reader), async {
        sleep_ms(10).await;
        let second = read(&p.reader, 10).await;
        let sync = p.reader.try_read(10);
        p.feed(b"done\n").await?;
        Ok::<_, String>((second, sync))
    })
    .await;
    let (second, sync) = second?;
    eq("second read", second, Err(ErrorCode::Busy))?;
    eq(
        "sync read while one waits",
        sync,
        Some(Err(ErrorCode::Busy)),
    )?;
    eq("first read", ok("readline", first)?, b"done\n".to_vec())
}

pub async fn readexactly_beyond_twice_the_limit() -> TestResult {
    let p = pair(Some(16)).await?;
    let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let (got, sent) = join(readexactly(&p.reader, data.len() as u64), async {
        p.peer_writer.write(&data).map_err(fail("write"))
    })
    .await;
    sent?;
    eq(
        "readexactly(10000) with limit 16",
        ok("readexactly", got)?,
        data,
    )
}

/// Above 2 x limit the provider stops pulling: the rest waits in the socket, not in wasm memory,
/// and reading resumes it.
pub async fn reading_pauses_above_twice_the_limit() -> TestResult {
    let limit = 1024u64;
    let p = pair(Some(limit)).await?;
    let data = vec![b'x'; 1 << 20];
    p.peer_writer.write(&data).map_err(fail("write"))?;
    sleep_ms(200).await;
    let buffered = p.reader.buffered();
    ensure!(buffered > 2 * limit, "only {buffered} bytes buffered");
    // One receive may overshoot the mark, by at most one receive chunk (64 KiB).
    ensure!(
        buffered <= 2 * limit + 65536,
        "{buffered} bytes buffered with limit {limit}"
    );
    let mut total = 0;
    while total < data.len() {
        total += ok("read", read(&p.reader, 65536).await)?.len();
    }
    eq("everything arrived", total, data.len())
}

/// Sync `try-read` alone (no async read, so no waiting read tells the pump what it needs) gets
/// every byte: reading ahead stops at 64 KiB buffered, and a read that makes room wakes the pump.
pub async fn try_read_alone_gets_everything() -> TestResult {
    let p = pair(None).await?;
    let data = vec![b'y'; 512 * 1024];
    p.peer_writer.write(&data).map_err(fail("write"))?;
    let mut total = 0;
    for _ in 0..5000 {
        match p.reader.try_read(65536) {
            Some(Ok(bytes)) => total += bytes.len(),
            Some(Err(e)) => return Err(format!("try_read: {e:?}")),
            None => {}
        }
        if total == data.len() {
            return Ok(());
        }
        sleep_ms(2).await;
    }
    Err(format!("try_read got {total} of {} bytes", data.len()))
}

/// A connection reset after data: the data is read first, then the error (better than CPython
/// gh-75044, which drops the buffer). The native peer (started by the integration test) sends
/// "hello" and then resets the connection (SO_LINGER 0), which no wasio socket can do.
pub async fn stored_error_comes_after_the_buffered_bytes() -> TestResult {
    let (reader, _writer) =
        crate::harness::connect(crate::harness::peer_port()?, connect_options(None)).await?;
    wait_until("the reset arrived", || reader.exception().is_some()).await?;
    eq(
        "bytes first",
        ok("read", read(&reader, 100).await)?,
        b"hello".to_vec(),
    )?;
    eq(
        "then the reset",
        read(&reader, 100).await,
        Err(ErrorCode::ConnectionReset),
    )?;
    eq(
        "and again",
        reader.readline(Some(SECOND)).await,
        Err(ErrorCode::ConnectionReset),
    )
}

pub async fn cancelled_read_loses_no_bytes() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"partial line").await?;
    {
        let line = pin!(readline(&p.reader));
        let nap = pin!(sleep_ms(20));
        if let Either::Left((r, _)) = select(line, nap).await {
            return Err(format!("readline finished early: {r:?}"));
        }
    }
    p.feed(b" ends\n").await?;
    eq(
        "line",
        ok("readline", readline(&p.reader).await)?,
        b"partial line ends\n".to_vec(),
    )
}

pub async fn read_timeout_changes_nothing() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"no newline").await?;
    let r = p.reader.readline(Some(SECOND / 50)).await;
    eq("timeout", r, Err(ErrorCode::Timeout))?;
    eq("buffer intact", p.reader.buffered(), 10)?;
    p.feed(b"\n").await?;
    eq(
        "line",
        ok("readline", readline(&p.reader).await)?,
        b"no newline\n".to_vec(),
    )
}

/// asyncio's `async for line in reader`: readline until it returns empty.
pub async fn line_iteration() -> TestResult {
    let p = pair(None).await?;
    p.feed(DATA).await?;
    p.feed(b"last").await?;
    p.feed_eof().await?;
    let mut lines = Vec::new();
    loop {
        let line = ok("readline", readline(&p.reader).await)?;
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    eq(
        "lines",
        lines,
        vec![
            b"line1\n".to_vec(),
            b"line2\n".to_vec(),
            b"line3\n".to_vec(),
            b"last".to_vec(),
        ],
    )?;
    ensure!(p.reader.at_eof(), "at_eof after the lines");
    Ok(())
}

/// `wait-readable` waits for bytes, EOF or an error and consumes nothing.
pub async fn wait_readable_consumes_nothing() -> TestResult {
    let p = pair(None).await?;
    eq(
        "nothing arrives",
        p.reader.wait_readable(Some(SECOND / 50)).await,
        Err(ErrorCode::Timeout),
    )?;
    let (waited, fed) = join(p.reader.wait_readable(Some(10 * SECOND)), async {
        sleep_ms(20).await;
        p.feed(b"hello").await
    })
    .await;
    fed?;
    eq("woken by bytes, told how many", waited, Ok(5))?;
    eq("nothing consumed", p.reader.buffered(), 5)?;
    eq(
        "readable at once",
        p.reader.wait_readable(Some(SECOND)).await,
        Ok(5),
    )?;
    let (line, busy) = join(p.reader.readline(Some(10 * SECOND)), async {
        sleep_ms(10).await;
        let busy = p.reader.wait_readable(Some(SECOND)).await;
        p.feed(b"\n").await?;
        Ok::<_, String>(busy)
    })
    .await;
    eq("while a read waits", busy?, Err(ErrorCode::Busy))?;
    eq("readline", line, Ok(b"hello\n".to_vec()))?;
    p.feed_eof().await?;
    eq(
        "readable at EOF, nothing buffered",
        p.reader.wait_readable(Some(SECOND)).await,
        Ok(0),
    )
}
