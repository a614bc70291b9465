//! `try-readlines` and `unread` through the raw contract: several lines in one call, each as
//! `readline` would return it, and bytes put back read first.

use crate::harness::{SECOND, TestResult, eq, pair};
use wasio_types::ErrorCode;

pub async fn try_readlines_hands_over_whole_lines_as_readline_would() -> TestResult {
    let p = pair(Some(8)).await?;
    eq("nothing buffered", p.reader.try_readlines(100), None)?;
    p.feed(b"one\ntwo\nthree\nfou").await?;
    eq(
        "within max, stopping at the partial line",
        p.reader.try_readlines(9),
        Some(Ok(b"one\ntwo\n".to_vec())),
    )?;
    eq(
        "the first line even past max",
        p.reader.try_readlines(1),
        Some(Ok(b"three\n".to_vec())),
    )?;
    eq("a partial line waits", p.reader.try_readlines(100), None)?;
    eq("nothing consumed", p.reader.buffered(), 3)?;
    p.feed(b"r\nlonger-than-8\nafter\n").await?;
    eq(
        "stops before a line over the limit",
        p.reader.try_readlines(100),
        Some(Ok(b"four\n".to_vec())),
    )?;
    let overrun = p.reader.try_readlines(100);
    eq(
        "then the limit overrun, as readline",
        matches!(overrun, Some(Err(ErrorCode::LimitOverrun(_)))),
        true,
    )?;
    eq(
        "discarded through the newline",
        p.reader.try_readlines(100),
        Some(Ok(b"after\n".to_vec())),
    )?;
    p.feed(b"tail").await?;
    p.feed_eof().await?;
    eq(
        "the last partial line at EOF",
        p.reader.try_readlines(100),
        Some(Ok(b"tail".to_vec())),
    )?;
    eq(
        "then empty",
        p.reader.try_readlines(100),
        Some(Ok(Vec::new())),
    )
}

pub async fn unread_bytes_are_read_first_and_wake_a_waiting_read() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"world\n").await?;
    p.reader.unread(b"hello ");
    eq("counted", p.reader.buffered(), 12)?;
    eq(
        "read first",
        p.reader.readline(Some(SECOND)).await,
        Ok(b"hello world\n".to_vec()),
    )?;
    let (line, ()) = futures::future::join(p.reader.readline(Some(10 * SECOND)), async {
        crate::harness::sleep_ms(20).await;
        p.reader.unread(b"back\n");
    })
    .await;
    eq("a waiting readline wakes", line, Ok(b"back\n".to_vec()))?;
    p.feed_eof().await?;
    eq("at EOF", p.reader.at_eof(), true)?;
    p.reader.unread(b"x");
    eq("not at EOF with bytes put back", p.reader.at_eof(), false)?;
    eq("read", p.reader.try_read(10), Some(Ok(b"x".to_vec())))?;
    eq(
        "empty is nothing",
        {
            p.reader.unread(b"");
            p.reader.at_eof()
        },
        true,
    )
}
