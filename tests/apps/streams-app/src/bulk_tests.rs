//! The bulk forms of read and write (`bulk-channel` + `try-read-into`, `write-from`,
//! `into-stream`) through the raw contract: bytes arrive whole and in order, and every misuse is an
//! error that consumes or queues nothing. They exist only at the component boundary, so only the
//! composed build has them.

use crate::ensure;
use crate::harness::{
    SECOND, TestResult, connect, connect_options, eq, fail, pair, port_of, server, sleep_ms,
};
use futures::future::{Either, join, select};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::Poll;
use wasio_sdk::bindings::wit_stream;
use wasio_sdk::raw::Reader;
use wasio_types::ErrorCode;
use wit_bindgen::StreamReader;

/// Polls `op` once, which starts a stream operation.
async fn poll_once<F: Future>(op: Pin<&mut F>) -> Poll<F::Output> {
    let mut op = Some(op);
    std::future::poll_fn(|cx| Poll::Ready(op.take().map_or(Poll::Pending, |op| op.poll(cx)))).await
}

/// A pattern that shows any reordering or loss.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// `try-read-into(n)` with a read of `room` bytes waiting on `channel`: the call's result and
/// the bytes the read got.
async fn read_into(
    reader: &Reader,
    channel: &mut StreamReader<u8>,
    n: u64,
    room: usize,
) -> (Option<Result<u64, ErrorCode>>, Vec<u8>) {
    let mut read = pin!(channel.read(Vec::with_capacity(room)));
    let early = poll_once(read.as_mut()).await;
    let result = reader.try_read_into(n).await;
    let data = match early {
        Poll::Ready((_, data)) => data,
        Poll::Pending => {
            // The hand-over, if any, is done; anything else would wait forever.
            let nap = pin!(sleep_ms(100));
            match select(read.as_mut(), nap).await {
                Either::Left(((_, data), _)) => data,
                Either::Right(((), _)) => read.as_mut().cancel().1,
            }
        }
    };
    (result, data)
}

pub async fn bulk_read_hands_bytes_over_in_order() -> TestResult {
    let p = pair(None).await?;
    let data = pattern(20_000);
    p.feed(&data).await?;
    let mut channel = p.reader.bulk_channel();
    let (result, first) = read_into(&p.reader, &mut channel, 12_000, 12_000).await;
    eq("first hand-over", result, Some(Ok(12_000)))?;
    eq("first bytes", first, data[..12_000].to_vec())?;
    // A list read in between keeps the order.
    let middle = p.reader.try_read(3).ok_or("nothing buffered")?;
    eq("list read", middle, Ok(data[12_000..12_003].to_vec()))?;
    let (result, rest) = read_into(&p.reader, &mut channel, 100_000, 100_000).await;
    eq("second hand-over", result, Some(Ok(7_997)))?;
    eq("rest", rest, data[12_003..].to_vec())?;
    eq("buffer empty", p.reader.buffered(), 0)?;
    let (result, _) = read_into(&p.reader, &mut channel, 10, 10).await;
    eq("nothing buffered", result, None)?;
    p.feed_eof().await?;
    let (result, got) = read_into(&p.reader, &mut channel, 10, 10).await;
    eq("at EOF", result, Some(Ok(0)))?;
    eq("no bytes at EOF", got, Vec::new())
}

pub async fn bulk_read_misuse_consumes_nothing() -> TestResult {
    let p = pair(None).await?;
    p.feed(b"abcdef").await?;
    ensure!(
        matches!(
            p.reader.try_read_into(4).await,
            Some(Err(ErrorCode::InvalidArgument(_)))
        ),
        "without a channel: invalid-argument"
    );
    let mut channel = p.reader.bulk_channel();
    ensure!(
        matches!(
            p.reader.try_read_into(0).await,
            Some(Err(ErrorCode::InvalidArgument(_)))
        ),
        "n = 0: invalid-argument"
    );
    ensure!(
        matches!(
            p.reader.try_read_into(4).await,
            Some(Err(ErrorCode::InvalidArgument(_)))
        ),
        "nobody reading the channel: invalid-argument"
    );
    eq("still buffered", p.reader.buffered(), 6)?;
    // A reader with less room than n takes what fits; the rest stays buffered, in order.
    let (result, got) = read_into(&p.reader, &mut channel, 5, 2).await;
    eq("partial hand-over", result, Some(Ok(2)))?;
    eq("partial bytes", got, b"ab".to_vec())?;
    eq(
        "the rest",
        p.reader.try_read(10),
        Some(Ok(b"cdef".to_vec())),
    )?;
    // A new channel replaces the old one, which ends.
    let mut second = p.reader.bulk_channel();
    let (_, old) = channel.read(Vec::with_capacity(4)).await;
    eq("old channel ended", old, Vec::new())?;
    p.feed(b"xyz").await?;
    let (result, got) = read_into(&p.reader, &mut second, 3, 3).await;
    eq("through the new channel", result, Some(Ok(3)))?;
    eq("new channel bytes", got, b"xyz".to_vec())?;
    let error = ErrorCode::Other(Some("stored".into()));
    p.reader.set_exception(&error);
    eq(
        "stored error",
        p.reader.try_read_into(3).await,
        Some(Err(error)),
    )
}

/// `write-from(n)` with a write of `data` waiting on the stream.
async fn write_from(
    writer: &wasio_sdk::raw::Writer,
    n: u64,
    data: Vec<u8>,
) -> Result<(), ErrorCode> {
    let (mut tx, rx) = wit_stream::new::<u8>();
    let mut write = pin!(tx.write(data));
    let _ = poll_once(write.as_mut()).await;
    let result = writer.write_from(n, rx).await;
    let nap = pin!(sleep_ms(100));
    if let Either::Right(_) = select(write.as_mut(), nap).await {
        write.as_mut().cancel();
    }
    result
}

pub async fn bulk_write_queues_the_streams_bytes() -> TestResult {
    let p = pair(None).await?;
    let data = pattern(50_000);
    write_from(&p.writer, data.len() as u64, data.clone())
        .await
        .map_err(fail("write-from"))?;
    p.writer.write(b"tail").map_err(fail("list write"))?;
    let mut want = data;
    want.extend_from_slice(b"tail");
    let got = p
        .peer_reader
        .readexactly(want.len() as u64, Some(10 * SECOND))
        .await
        .map_err(fail("peer readexactly"))?;
    eq("peer got", got, want)?;
    // Nobody writing the stream: nothing queued.
    let (_tx, rx) = wit_stream::new::<u8>();
    ensure!(
        matches!(
            p.writer.write_from(10, rx).await,
            Err(ErrorCode::InvalidArgument(_))
        ),
        "no write waiting: invalid-argument"
    );
    // Fewer bytes than announced: nothing queued.
    ensure!(
        matches!(
            write_from(&p.writer, 10, b"short".to_vec()).await,
            Err(ErrorCode::InvalidArgument(_))
        ),
        "short write: invalid-argument"
    );
    eq("nothing queued", p.writer.get_write_buffer_size(), 0)?;
    p.writer.write_eof().map_err(fail("write_eof"))?;
    ensure!(
        matches!(
            write_from(&p.writer, 3, b"abc".to_vec()).await,
            Err(ErrorCode::Closed(_))
        ),
        "after write_eof: closed"
    );
    Ok(())
}

pub async fn bulk_write_respects_the_cap() -> TestResult {
    let srv = server().await?;
    let mut options = connect_options(None);
    options.write_queue_cap = Some(1000);
    let (_reader, writer) = connect(port_of(&srv)?, options).await?;
    // The cap is checked before anything is taken: an absurd n allocates nothing.
    let (_tx, rx) = wit_stream::new::<u8>();
    eq(
        "n past the cap",
        writer.write_from(u64::MAX, rx).await,
        Err(ErrorCode::BufferFull),
    )?;
    write_from(&writer, 600, vec![b'a'; 600])
        .await
        .map_err(fail("first write"))?;
    eq(
        "second write",
        write_from(&writer, 600, vec![b'b'; 600]).await,
        Err(ErrorCode::BufferFull),
    )?;
    eq("queued", writer.get_write_buffer_size(), 600)?;
    writer.close();
    // A closing writer drops the write, like `write`.
    write_from(&writer, 4, b"gone".to_vec())
        .await
        .map_err(fail("write while closing"))?;
    let _ = writer.wait_closed(Some(10 * SECOND)).await;
    Ok(())
}

/// `write-stream` queues everything its stream yields, and `into-stream` delivers everything
/// until EOF, in order; then `into-stream`'s future reports the clean end.
pub async fn stream_forms_carry_every_byte_in_order() -> TestResult {
    let p = pair(None).await?;
    let data = pattern(1_000_003);
    let (received, done) = Reader::into_stream(p.peer_reader)
        .await
        .map_err(fail("into-stream"))?;
    let (mut tx, rx) = wit_stream::new::<u8>();
    let produce = async {
        for chunk in data.chunks(70_000) {
            let rest = tx.write_all(chunk.to_vec()).await;
            ensure!(rest.is_empty(), "write-stream stopped taking bytes");
        }
        drop(tx);
        Ok(())
    };
    let send = async {
        let queued = p.writer.write_stream(rx).await;
        p.writer.close();
        queued
    };
    let ((produced, queued), got) = join(join(produce, send), received.collect()).await;
    produced?;
    eq("queued by write-stream", queued, Ok(data.len() as u64))?;
    ensure!(
        got == data,
        "into-stream delivered {} bytes, not the {} sent in order",
        got.len(),
        data.len()
    );
    eq("into-stream's end", done.await, Ok(()))
}
