//! Read failures, with asyncio's messages.

use std::fmt;

/// Why a read operation failed, independent of any transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// EOF came first (asyncio `IncompleteReadError`); the buffer has been emptied into `partial`.
    IncompleteRead {
        /// Everything that was buffered.
        partial: Vec<u8>,
        /// The byte count asked for; `None` for `readuntil`.
        expected: Option<u64>,
    },
    /// No separator within the limit (asyncio `LimitOverrunError`); the buffer is intact, except
    /// after `readline`, which discards as asyncio does.
    LimitOverrun {
        /// Whether a separator was found (beyond the limit).
        found: bool,
        /// Where the separator starts when found, else the scan offset.
        consumed: u64,
    },
    /// A bad argument (asyncio `ValueError`).
    InvalidArgument(&'static str),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::IncompleteRead {
                partial,
                expected: Some(expected),
            } => write!(
                f,
                "{} bytes read on a total of {expected} expected bytes",
                partial.len()
            ),
            ReadError::IncompleteRead {
                partial,
                expected: None,
            } => write!(
                f,
                "{} bytes read on a total of undefined expected bytes",
                partial.len()
            ),
            ReadError::LimitOverrun { found: true, .. } => {
                f.write_str("Separator is found, but chunk is longer than limit")
            }
            ReadError::LimitOverrun { found: false, .. } => {
                f.write_str("Separator is not found, and chunk exceed the limit")
            }
            ReadError::InvalidArgument(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ReadError {}
