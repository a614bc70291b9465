//! asyncio `StreamReader.readexactly(n)`.

use crate::{Attempt, ReadBuffer, ReadError};

/// Tries `readexactly(n)`: exactly `n` bytes, or `IncompleteRead` with everything buffered (which
/// empties the buffer) when EOF came first.
pub fn read_exactly(buf: &mut ReadBuffer, n: u64) -> Attempt<Result<Vec<u8>, ReadError>> {
    let Ok(n) = usize::try_from(n) else {
        return Attempt::Done(Err(ReadError::InvalidArgument(
            "readexactly size is too large for this platform",
        )));
    };
    if buf.len() >= n {
        return Attempt::Done(Ok(buf.consume(n)));
    }
    if buf.eof() {
        return Attempt::Done(Err(ReadError::IncompleteRead {
            partial: buf.take_all(),
            expected: Some(n as u64),
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
