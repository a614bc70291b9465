//! Native ports of the reader-logic cases of CPython's `Lib/test/test_asyncio/test_streams.py`
//! (3.13+, which added the multi-separator `readuntil`). Each test is named after the CPython test it
//! ports and feeds the data in the same chunks.
//!
//! How the asyncio timing is mapped onto attempts: a CPython read started *before* a `call_soon`
//! callback feeds data becomes one attempt on the state before the callback (which must need more),
//! then all of the callback's `feed_data` / `feed_eof` calls, then the attempt again. That matters for
//! the limit cases, because an attempt that sees only part of the data may fail differently.
//!
//! Not ported, because the core has no such state or I/O: the stored-exception tests
//! (`test_read_exception`, `test_readline_exception`, `test_readexactly_exception`, `test_exception*`;
//! stored errors live in the provider), connection / server / TLS / pipe-transport tests, `__repr__`
//! and pickling tests, loop-constructor tests and `test_multiple_drain` / `test_drain_raises` (the
//! writer's drain lives in the provider). `readexactly(-1)` and `StreamReader(limit=-1)` cannot be
//! expressed: both counts are `u64` here as in the WIT, so the negative check belongs to the binding.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wasio_core::flow::{Demand, ReadFlow};
use wasio_core::read::read;
use wasio_core::read_exactly::read_exactly;
use wasio_core::read_line::read_line;
use wasio_core::read_until::read_until;
use wasio_core::{Attempt, DEFAULT_LIMIT, ReadBuffer, ReadError, validate_limit};

/// CPython's `StreamTests.DATA`.
const DATA: &[u8] = b"line1\nline2\nline3\n";

fn feed(buf: &mut ReadBuffer, chunks: &[&[u8]]) {
    for chunk in chunks {
        buf.extend_from_slice(chunk);
    }
}

fn buffer_with(chunks: &[&[u8]]) -> ReadBuffer {
    let mut buf = ReadBuffer::new();
    feed(&mut buf, chunks);
    buf
}

fn seps(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.to_vec()).collect()
}

/// The finished value of an attempt that must not need more.
fn done<T: std::fmt::Debug>(attempt: Attempt<T>) -> T {
    match attempt {
        Attempt::Done(value) => value,
        Attempt::NeedMore => panic!("the attempt needs more bytes, but it should have finished"),
    }
}

fn overrun(found: bool, consumed: u64) -> ReadError {
    ReadError::LimitOverrun { found, consumed }
}

#[test]
fn test_feed_empty_data() {
    let mut buf = ReadBuffer::new();
    buf.extend_from_slice(b"");
    assert_eq!(buf.as_slice(), b"");
    let spare = buf.absorb(Vec::new());
    assert!(spare.is_empty());
    assert!(buf.is_empty());
    assert!(!buf.eof());
}

#[test]
fn test_feed_nonempty_data() {
    let buf = buffer_with(&[DATA]);
    assert_eq!(buf.as_slice(), DATA);
    assert_eq!(buf.len(), DATA.len());
}

#[test]
fn test_read_zero() {
    let mut buf = buffer_with(&[DATA]);
    assert_eq!(done(read(&mut buf, 0)), b"");
    assert_eq!(buf.as_slice(), DATA);
}

#[test]
fn test_read() {
    let mut buf = ReadBuffer::new();
    assert_eq!(read(&mut buf, 30), Attempt::NeedMore);
    feed(&mut buf, &[DATA]);
    assert_eq!(done(read(&mut buf, 30)), DATA);
    assert_eq!(buf.as_slice(), b"");
}

#[test]
fn test_read_line_breaks() {
    let mut buf = buffer_with(&[b"line1", b"line2"]);
    assert_eq!(done(read(&mut buf, 5)), b"line1");
    assert_eq!(buf.as_slice(), b"line2");
}

#[test]
fn test_read_eof() {
    let mut buf = ReadBuffer::new();
    assert_eq!(read(&mut buf, 1024), Attempt::NeedMore);
    buf.set_eof();
    assert_eq!(done(read(&mut buf, 1024)), b"");
    assert_eq!(buf.as_slice(), b"");
}

#[test]
fn test_read_until_eof() {
    let mut buf = ReadBuffer::new();
    assert_eq!(read(&mut buf, -1), Attempt::NeedMore);
    feed(&mut buf, &[b"chunk1\n", b"chunk2"]);
    // Bytes alone do not finish read(-1); only EOF does.
    assert_eq!(read(&mut buf, -1), Attempt::NeedMore);
    assert_eq!(buf.as_slice(), b"chunk1\nchunk2");
    buf.set_eof();
    assert_eq!(done(read(&mut buf, -1)), b"chunk1\nchunk2");
    assert_eq!(buf.as_slice(), b"");
}

#[test]
fn test_invalid_limit() {
    let err = validate_limit(0).unwrap_err();
    assert!(matches!(err, ReadError::InvalidArgument(_)));
    assert!(err.to_string().contains("imit"), "{err}");
    // limit=-1 has no u64 form; the smallest valid limit and the default are accepted.
    assert_eq!(validate_limit(1), Ok(1));
    assert_eq!(validate_limit(DEFAULT_LIMIT as u64), Ok(65_536));
}

#[test]
fn test_read_limit() {
    // read(n) is not capped by the limit (3 here): it is not even an argument.
    let mut buf = buffer_with(&[b"chunk"]);
    assert_eq!(done(read(&mut buf, 5)), b"chunk");
    assert_eq!(buf.as_slice(), b"");
}

#[test]
fn test_readline() {
    let mut buf = buffer_with(&[b"chunk1 "]);
    assert_eq!(read_line(&mut buf, DEFAULT_LIMIT), Attempt::NeedMore);
    assert_eq!(
        buf.as_slice(),
        b"chunk1 ",
        "a waiting attempt consumes nothing"
    );
    feed(&mut buf, &[b"chunk2 ", b"chunk3 ", b"\n chunk4"]);
    let line = done(read_line(&mut buf, DEFAULT_LIMIT)).unwrap();
    assert_eq!(line, b"chunk1 chunk2 chunk3 \n");
    assert_eq!(buf.as_slice(), b" chunk4");
}

#[test]
fn test_readline_limit_with_existing_data() {
    let mut buf = buffer_with(&[b"li", b"ne1\nline2\n"]);
    // The newline is at 5 > 3: found beyond the limit, discarded through that newline.
    assert_eq!(done(read_line(&mut buf, 3)), Err(overrun(true, 5)));
    assert_eq!(buf.as_slice(), b"line2\n");

    let mut buf = buffer_with(&[b"li", b"ne1", b"li"]);
    // No newline in 7 bytes: the scan offset 7 > 3, so the whole buffer is discarded.
    assert_eq!(done(read_line(&mut buf, 3)), Err(overrun(false, 7)));
    assert_eq!(buf.as_slice(), b"");
}

#[test]
fn test_at_eof() {
    let mut buf = ReadBuffer::new();
    assert!(!buf.at_eof());

    feed(&mut buf, &[b"some data\n"]);
    assert!(!buf.at_eof());

    done(read_line(&mut buf, DEFAULT_LIMIT)).unwrap();
    assert!(!buf.at_eof());

    feed(&mut buf, &[b"some data\n"]);
    buf.set_eof();
    // EOF received but a line is still buffered.
    assert!(!buf.at_eof());
    done(read_line(&mut buf, DEFAULT_LIMIT)).unwrap();
    assert!(buf.at_eof());
}

#[test]
fn test_readline_limit() {
    // The line arrives (with EOF) while readline waits; it is one 19-byte line over limit 7.
    let mut buf = ReadBuffer::new();
    assert_eq!(read_line(&mut buf, 7), Attempt::NeedMore);
    feed(&mut buf, &[b"chunk1", b"chunk2", b"chunk3\n"]);
    buf.set_eof();
    assert_eq!(done(read_line(&mut buf, 7)), Err(overrun(true, 18)));
    assert_eq!(buf.as_slice(), b"");

    let mut buf = ReadBuffer::new();
    assert_eq!(read_line(&mut buf, 7), Attempt::NeedMore);
    feed(&mut buf, &[b"chunk1", b"chunk2\n", b"chunk3\n"]);
    buf.set_eof();
    assert_eq!(done(read_line(&mut buf, 7)), Err(overrun(true, 12)));
    assert_eq!(buf.as_slice(), b"chunk3\n");

    // Strictness of the limit: 7 bytes before the newline pass, 8 do not.
    let mut buf = buffer_with(&[b"1234567\n"]);
    assert_eq!(done(read_line(&mut buf, 7)).unwrap(), b"1234567\n");
    assert_eq!(buf.as_slice(), b"");

    feed(&mut buf, &[b"12345678\n"]);
    assert_eq!(done(read_line(&mut buf, 7)), Err(overrun(true, 8)));
    assert_eq!(buf.as_slice(), b"");

    feed(&mut buf, &[b"12345678"]);
    assert_eq!(done(read_line(&mut buf, 7)), Err(overrun(false, 8)));
    assert_eq!(buf.as_slice(), b"");
}

#[test]
fn test_readline_nolimit_nowait() {
    let mut buf = buffer_with(&[&DATA[..6], &DATA[6..]]);
    assert_eq!(
        done(read_line(&mut buf, DEFAULT_LIMIT)).unwrap(),
        b"line1\n"
    );
    assert_eq!(buf.as_slice(), b"line2\nline3\n");
}

#[test]
fn test_readline_eof() {
    let mut buf = buffer_with(&[b"some data"]);
    buf.set_eof();
    assert_eq!(
        done(read_line(&mut buf, DEFAULT_LIMIT)).unwrap(),
        b"some data"
    );
    assert!(buf.at_eof());
}

#[test]
fn test_readline_empty_eof() {
    let mut buf = ReadBuffer::new();
    buf.set_eof();
    assert_eq!(done(read_line(&mut buf, DEFAULT_LIMIT)).unwrap(), b"");
}

#[test]
fn test_readline_read_byte_count() {
    let mut buf = buffer_with(&[DATA]);
    done(read_line(&mut buf, DEFAULT_LIMIT)).unwrap();
    assert_eq!(done(read(&mut buf, 7)), b"line2\nl");
    assert_eq!(buf.as_slice(), b"ine3\n");
}

#[test]
fn test_readuntil_separator() {
    let mut buf = buffer_with(&[DATA]);
    for bad in [seps(&[b""]), seps(&[b"\n", b""])] {
        let err = done(read_until(&mut buf, &bad, DEFAULT_LIMIT)).unwrap_err();
        assert!(matches!(err, ReadError::InvalidArgument(_)));
        assert!(err.to_string().starts_with("Separator should be"), "{err}");
    }
    let err = done(read_until(&mut buf, &[], DEFAULT_LIMIT)).unwrap_err();
    assert!(matches!(err, ReadError::InvalidArgument(_)));
    assert!(
        err.to_string().starts_with("Separator should contain"),
        "{err}"
    );
    assert_eq!(buf.as_slice(), DATA, "an invalid call consumes nothing");
}

#[test]
fn test_readuntil_multi_chunks() {
    let aaa = seps(&[b"AAA"]);
    let mut buf = ReadBuffer::new();

    feed(&mut buf, &[b"lineAAA"]);
    assert_eq!(
        done(read_until(&mut buf, &aaa, DEFAULT_LIMIT)).unwrap(),
        b"lineAAA"
    );
    assert_eq!(buf.as_slice(), b"");

    feed(&mut buf, &[b"lineAAA"]);
    assert_eq!(
        done(read_until(&mut buf, &aaa, DEFAULT_LIMIT)).unwrap(),
        b"lineAAA"
    );
    assert_eq!(buf.as_slice(), b"");

    feed(&mut buf, &[b"lineAAAxxx"]);
    assert_eq!(
        done(read_until(&mut buf, &aaa, DEFAULT_LIMIT)).unwrap(),
        b"lineAAA"
    );
    assert_eq!(buf.as_slice(), b"xxx");
}

#[test]
fn test_readuntil_multi_chunks_1() {
    let aaa = seps(&[b"aaa"]);
    let cases: [(&[&[u8]], &[u8]); 5] = [
        (&[b"QWEaa", b"XYaa", b"a"], b"QWEaaXYaaa"),
        (&[b"QWEaa", b"XYa", b"aa"], b"QWEaaXYaaa"),
        (&[b"aaa"], b"aaa"),
        (&[b"Xaaa"], b"Xaaa"),
        (&[b"XXX", b"a", b"a", b"a"], b"XXXaaa"),
    ];
    let mut buf = ReadBuffer::new();
    for (chunks, expected) in cases {
        feed(&mut buf, chunks);
        assert_eq!(
            done(read_until(&mut buf, &aaa, DEFAULT_LIMIT)).unwrap(),
            expected
        );
        assert_eq!(buf.as_slice(), b"");
    }

    // The same arrivals with an attempt after each one: the separator split across arrivals is
    // found only once its last byte is in, and waiting attempts consume nothing.
    for (chunks, expected) in cases {
        let (last, init) = chunks.split_last().unwrap();
        for chunk in init {
            feed(&mut buf, &[chunk]);
            assert_eq!(read_until(&mut buf, &aaa, DEFAULT_LIMIT), Attempt::NeedMore);
        }
        feed(&mut buf, &[last]);
        assert_eq!(
            done(read_until(&mut buf, &aaa, DEFAULT_LIMIT)).unwrap(),
            expected
        );
        assert_eq!(buf.as_slice(), b"");
    }
}

#[test]
fn test_readuntil_eof() {
    let data = b"some dataAA";
    let mut buf = buffer_with(&[data]);
    buf.set_eof();
    let err = done(read_until(&mut buf, &seps(&[b"AAA"]), DEFAULT_LIMIT)).unwrap_err();
    assert!(
        err.to_string().contains("undefined expected bytes"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "11 bytes read on a total of undefined expected bytes"
    );
    assert_eq!(
        err,
        ReadError::IncompleteRead {
            partial: data.to_vec(),
            expected: None
        }
    );
    assert_eq!(buf.as_slice(), b"");
    assert!(buf.at_eof());
}

#[test]
fn test_readuntil_limit_found_sep() {
    let aaa = seps(&[b"AAA"]);
    let mut buf = buffer_with(&[b"some dataAA"]);
    let err = done(read_until(&mut buf, &aaa, 3)).unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    // Scan offset: 11 buffered + 1 - 3 (separator length).
    assert_eq!(err, overrun(false, 9));
    assert_eq!(buf.as_slice(), b"some dataAA");

    feed(&mut buf, &[b"A"]);
    let err = done(read_until(&mut buf, &aaa, 3)).unwrap_err();
    assert!(err.to_string().contains("is found"), "{err}");
    assert_eq!(err, overrun(true, 9));
    assert_eq!(buf.as_slice(), b"some dataAAA");
}

#[test]
fn test_readuntil_multi_separator() {
    let cr_lf = seps(&[b"\r", b"\n"]);
    let mut buf = buffer_with(&[b"line 1\nline 2\r"]);
    assert_eq!(
        done(read_until(&mut buf, &cr_lf, DEFAULT_LIMIT)).unwrap(),
        b"line 1\n"
    );
    assert_eq!(
        done(read_until(&mut buf, &cr_lf, DEFAULT_LIMIT)).unwrap(),
        b"line 2\r"
    );
    assert_eq!(buf.as_slice(), b"");

    // The match that ends first wins, even though it is the longer separator.
    feed(&mut buf, &[b"ABCDEFG"]);
    let r = done(read_until(
        &mut buf,
        &seps(&[b"DEF", b"BCDE"]),
        DEFAULT_LIMIT,
    ))
    .unwrap();
    assert_eq!(r, b"ABCDE");
    assert_eq!(buf.as_slice(), b"FG");
}

#[test]
fn test_readuntil_multi_separator_limit() {
    let mut buf = buffer_with(&[b"some dataA"]);
    // Both separators end at 10; the tie goes to the shorter one, "A" at 9 > 3.
    let err = done(read_until(&mut buf, &seps(&[b"A", b"ome dataA"]), 3)).unwrap_err();
    assert!(err.to_string().contains("is found"), "{err}");
    assert_eq!(err, overrun(true, 9));
    assert_eq!(buf.as_slice(), b"some dataA");
}

#[test]
fn test_readuntil_multi_separator_negative_offset() {
    // Enough data for the shortest separator but not for the longest: the scan offset must clamp
    // at 0 instead of going negative (here: underflowing).
    let separators = seps(&[b"A", b"long sep"]);
    let mut buf = buffer_with(&[b"data"]);
    assert_eq!(
        read_until(&mut buf, &separators, DEFAULT_LIMIT),
        Attempt::NeedMore
    );
    feed(&mut buf, &[b"Z"]);
    assert_eq!(
        read_until(&mut buf, &separators, DEFAULT_LIMIT),
        Attempt::NeedMore
    );
    feed(&mut buf, &[b"Aaaa"]);
    assert_eq!(
        done(read_until(&mut buf, &separators, DEFAULT_LIMIT)).unwrap(),
        b"dataZA"
    );
    assert_eq!(buf.as_slice(), b"aaa");
}

#[test]
fn test_readuntil_bytearray() {
    // CPython checks a bytearray separator; here any byte container becomes a Vec<u8>.
    let separator: Vec<Vec<u8>> = vec![Vec::from(&b"\r\n"[..])];
    let mut buf = buffer_with(&[b"some data\r\n"]);
    assert_eq!(
        done(read_until(&mut buf, &separator, DEFAULT_LIMIT)).unwrap(),
        b"some data\r\n"
    );
    assert_eq!(buf.as_slice(), b"");
}

#[test]
fn test_readexactly_zero_or_less() {
    let mut buf = buffer_with(&[DATA]);
    assert_eq!(done(read_exactly(&mut buf, 0)).unwrap(), b"");
    assert_eq!(buf.as_slice(), DATA);

    // readexactly(-1) has no u64 form (the ValueError is the binding's). The nearest case here, a
    // count far beyond what is buffered and no EOF, must not consume anything either.
    assert!(!matches!(
        read_exactly(&mut buf, u64::MAX),
        Attempt::Done(Ok(_))
    ));
    assert_eq!(buf.as_slice(), DATA);
}

#[test]
fn test_readexactly() {
    let n = 2 * DATA.len() as u64;
    let mut buf = ReadBuffer::new();
    assert_eq!(read_exactly(&mut buf, n), Attempt::NeedMore);
    feed(&mut buf, &[DATA, DATA, DATA]);
    assert_eq!(
        done(read_exactly(&mut buf, n)).unwrap(),
        [DATA, DATA].concat()
    );
    assert_eq!(buf.as_slice(), DATA);
}

#[test]
fn test_readexactly_limit() {
    // Not capped by the limit (3 in CPython; not an argument here).
    let mut buf = buffer_with(&[b"chunk"]);
    assert_eq!(done(read_exactly(&mut buf, 5)).unwrap(), b"chunk");
    assert_eq!(buf.as_slice(), b"");
}

#[test]
fn test_readexactly_eof() {
    let n = 2 * DATA.len() as u64;
    let mut buf = ReadBuffer::new();
    assert_eq!(read_exactly(&mut buf, n), Attempt::NeedMore);
    feed(&mut buf, &[DATA]);
    buf.set_eof();
    let err = done(read_exactly(&mut buf, n)).unwrap_err();
    assert_eq!(
        err,
        ReadError::IncompleteRead {
            partial: DATA.to_vec(),
            expected: Some(36)
        }
    );
    assert_eq!(
        err.to_string(),
        "18 bytes read on a total of 36 expected bytes"
    );
    assert_eq!(buf.as_slice(), b"");
}

#[test]
fn test_read_all_from_pipe_reader() {
    // asyncio issue 168: a reader with limit 1 (2 x limit < the 4 bytes sent) must still read(-1)
    // everything. Here: the read-side flow control pauses above 2 x limit, but a waiting read(-1)
    // keeps pulling until EOF.
    let limit = validate_limit(1).unwrap();
    let mut flow = ReadFlow::default();
    let mut buf = ReadBuffer::new();
    assert_eq!(read(&mut buf, -1), Attempt::NeedMore);
    assert!(flow.should_pull(buf.len(), limit, Demand::UntilEof));
    feed(&mut buf, &[b"data"]);
    assert_eq!(read(&mut buf, -1), Attempt::NeedMore);
    assert!(!flow.should_pull(buf.len(), limit, Demand::None));
    assert!(flow.is_paused());
    assert!(flow.should_pull(buf.len(), limit, Demand::UntilEof));
    buf.set_eof();
    assert_eq!(done(read(&mut buf, -1)), b"data");
}
