//! [`Separators`]: what [`Reader::readuntil`](crate::Reader::readuntil) accepts — one separator or
//! several.

/// One separator or a set of them, for [`Reader::readuntil`](crate::Reader::readuntil).
///
/// One: `b"\r\n"`, `"\r\n"`, `vec![b'\n']`. Several: `["\r\n", "\n"]`, `[&b"DEF"[..], b"BCDE"]`,
/// `vec![b"a".to_vec(), b"bc".to_vec()]`. With several, the match that ends first wins, and on a tie
/// the shorter separator (asyncio 3.13's rule).
///
/// ```
/// use wasio_sdk::Separators;
///
/// assert_eq!(b"\r\n".into_separators(), vec![b"\r\n".to_vec()]);
/// assert_eq!(["DEF", "BCDE"].into_separators(), vec![b"DEF".to_vec(), b"BCDE".to_vec()]);
/// ```
pub trait Separators {
    /// The separators as the contract's list.
    fn into_separators(self) -> Vec<Vec<u8>>;
}

impl Separators for &[u8] {
    fn into_separators(self) -> Vec<Vec<u8>> {
        vec![self.to_vec()]
    }
}

impl<const N: usize> Separators for &[u8; N] {
    fn into_separators(self) -> Vec<Vec<u8>> {
        vec![self.to_vec()]
    }
}

impl Separators for &str {
    fn into_separators(self) -> Vec<Vec<u8>> {
        vec![self.as_bytes().to_vec()]
    }
}

impl Separators for Vec<u8> {
    fn into_separators(self) -> Vec<Vec<u8>> {
        vec![self]
    }
}

impl Separators for Vec<Vec<u8>> {
    fn into_separators(self) -> Vec<Vec<u8>> {
        self
    }
}

impl Separators for &[&[u8]] {
    fn into_separators(self) -> Vec<Vec<u8>> {
        self.iter().map(|s| s.to_vec()).collect()
    }
}

impl<const N: usize> Separators for [&[u8]; N] {
    fn into_separators(self) -> Vec<Vec<u8>> {
        self.iter().map(|s| s.to_vec()).collect()
    }
}

impl Separators for &[&str] {
    fn into_separators(self) -> Vec<Vec<u8>> {
        self.iter().map(|s| s.as_bytes().to_vec()).collect()
    }
}

impl<const N: usize> Separators for [&str; N] {
    fn into_separators(self) -> Vec<Vec<u8>> {
        self.iter().map(|s| s.as_bytes().to_vec()).collect()
    }
}
