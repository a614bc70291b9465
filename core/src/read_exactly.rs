//! asyncio `StreamReader.readexactly(n)`.

use crate::{Attempt, ReadBuffer, ReadError};

/// Tries `readexactly(n)`: exactly `n` bytes, or `IncompleteRead` with everything buffered (which
/// empties the buffer) when EOF came first. An `n` beyond what the platform's memory can hold
/// (above `usize::MAX` on wasm32) is never met, so it waits for EOF, as asyncio's does.
pub fn read_exactly(buf: &mut ReadBuffer, n: u64) -> Attempt<Result<Vec<u8>, ReadError>> {
    if let Ok(want) = usize::try_from(n)
        && buf.len() >= want
    {
        return Attempt::Done(Ok(buf.consume(want)));
    }
    if buf.eof() {
        return Attempt::Done(Err(ReadError::IncompleteRead {
            partial: buf.take_all(),
            expected: Some(n),
        }));
    }
    Attempt::NeedMore
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_incomplete() {
        let mut b = ReadBuffer::new();
        assert_eq!(read_exactly(&mut b, 0), Attempt::Done(Ok(vec![])));
        b.extend_from_slice(b"12345");
        assert_eq!(read_exactly(&mut b, 6), Attempt::NeedMore);
        assert_eq!(read_exactly(&mut b, 2), Attempt::Done(Ok(b"12".to_vec())));
        b.set_eof();
        let err = read_exactly(&mut b, 36);
        assert_eq!(
            err,
            Attempt::Done(Err(ReadError::IncompleteRead {
                partial: b"345".to_vec(),
                expected: Some(36)
            }))
        );
        assert!(b.at_eof());
    }
}
