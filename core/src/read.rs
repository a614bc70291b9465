//! asyncio `StreamReader.read(n)`.

use crate::{Attempt, ReadBuffer};

/// Tries `read(n)`: n = 0 gives empty; n < 0 gives everything once EOF was received; n > 0 gives
/// 1..=n bytes once any are buffered, or empty at EOF.
pub fn read(buf: &mut ReadBuffer, n: i64) -> Attempt<Vec<u8>> {
    if n == 0 {
        return Attempt::Done(Vec::new());
    }
    if n < 0 {
        return if buf.eof() {
            Attempt::Done(buf.take_all())
        } else {
            Attempt::NeedMore
        };
    }
    if buf.is_empty() && !buf.eof() {
        return Attempt::NeedMore;
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    Attempt::Done(buf.consume(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_variants() {
        let mut b = ReadBuffer::new();
        assert_eq!(read(&mut b, 0), Attempt::Done(vec![]));
        assert_eq!(read(&mut b, 5), Attempt::NeedMore);
        b.extend_from_slice(b"abcdef");
        assert_eq!(read(&mut b, 4), Attempt::Done(b"abcd".to_vec()));
        assert_eq!(read(&mut b, -1), Attempt::NeedMore);
        b.set_eof();
        assert_eq!(read(&mut b, -1), Attempt::Done(b"ef".to_vec()));
        assert_eq!(read(&mut b, 3), Attempt::Done(vec![]));
    }
}
