//! asyncio `StreamReader.readuntil(separator)`, with one separator or a set of them.

use crate::separator::find_first;
use crate::{Attempt, ReadBuffer, ReadError};

/// Checks a separator set: at least one separator, none empty (asyncio raises `ValueError`).
pub fn validate_separators(separators: &[Vec<u8>]) -> Result<(), ReadError> {
    if separators.is_empty() {
        return Err(ReadError::InvalidArgument(
            "Separator should contain at least one element",
        ));
    }
    if separators.iter().any(|s| s.is_empty()) {
        return Err(ReadError::InvalidArgument(
            "Separator should be at least one-byte string",
        ));
    }
    Ok(())
}

/// Tries `readuntil(separators)` with the reader `limit`.
///
/// The buffer is searched before EOF is looked at. Found within the limit: returns the data through
/// the separator. Found, but starting past the limit: `LimitOverrun { found: true, consumed: start }`.
/// Not found and the scan offset (`max(0, len + 1 - longest separator)`) is past the limit:
/// `LimitOverrun { found: false, consumed: offset }`. Both leave the buffer intact. EOF without a
/// match: `IncompleteRead { expected: None }` with the whole buffer.
///
/// Each attempt scans from the start, so the overrun is reported as soon as the buffered bytes
/// exceed it, whatever the arrival chunks were.
pub fn read_until(
    buf: &mut ReadBuffer,
    separators: &[Vec<u8>],
    limit: usize,
) -> Attempt<Result<Vec<u8>, ReadError>> {
    if let Err(e) = validate_separators(separators) {
        return Attempt::Done(Err(e));
    }
    let min_len = separators.iter().map(Vec::len).min().unwrap_or(1);
    let max_len = separators.iter().map(Vec::len).max().unwrap_or(1);
    let data = buf.as_slice();
    if data.len() >= min_len {
        if let Some(m) = find_first(data, separators, 0) {
            if m.start > limit {
                return Attempt::Done(Err(ReadError::LimitOverrun {
                    found: true,
                    consumed: m.start as u64,
                }));
            }
            return Attempt::Done(Ok(buf.consume(m.end)));
        }
        let offset = (data.len() + 1).saturating_sub(max_len);
        if offset > limit {
            return Attempt::Done(Err(ReadError::LimitOverrun {
                found: false,
                consumed: offset as u64,
            }));
        }
    }
    if buf.eof() {
        return Attempt::Done(Err(ReadError::IncompleteRead {
            partial: buf.take_all(),
            expected: None,
        }));
    }
    Attempt::NeedMore
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seps(list: &[&[u8]]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.to_vec()).collect()
    }

    #[test]
    fn worked_example_limit_3_separator_aaa() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(b"some dataAA");
        let r = read_until(&mut b, &seps(&[b"AAA"]), 3);
        assert_eq!(
            r,
            Attempt::Done(Err(ReadError::LimitOverrun {
                found: false,
                consumed: 9
            }))
        );
        b.extend_from_slice(b"A");
        let r = read_until(&mut b, &seps(&[b"AAA"]), 3);
        assert_eq!(
            r,
            Attempt::Done(Err(ReadError::LimitOverrun {
                found: true,
                consumed: 9
            }))
        );
        assert_eq!(b.as_slice(), b"some dataAAA");
    }

    #[test]
    fn multiple_separators_shortest_result() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(b"ABCDEFG");
        let r = read_until(&mut b, &seps(&[b"DEF", b"BCDE"]), 100);
        assert_eq!(r, Attempt::Done(Ok(b"ABCDE".to_vec())));
        assert_eq!(b.as_slice(), b"FG");
    }

    #[test]
    fn eof_without_match_is_incomplete() {
        let mut b = ReadBuffer::new();
        b.extend_from_slice(b"partial\r");
        assert_eq!(
            read_until(&mut b, &seps(&[b"\r\n"]), 100),
            Attempt::NeedMore
        );
        b.set_eof();
        let r = read_until(&mut b, &seps(&[b"\r\n"]), 100);
        assert_eq!(
            r,
            Attempt::Done(Err(ReadError::IncompleteRead {
                partial: b"partial\r".to_vec(),
                expected: None
            }))
        );
    }

    #[test]
    fn invalid_separators() {
        let mut b = ReadBuffer::new();
        assert!(matches!(
            read_until(&mut b, &[], 10),
            Attempt::Done(Err(ReadError::InvalidArgument(_)))
        ));
        assert!(matches!(
            read_until(&mut b, &seps(&[b"a", b""]), 10),
            Attempt::Done(Err(ReadError::InvalidArgument(_)))
        ));
    }
}
