//! The protocol-free core of wasio's streams: everything asyncio's `StreamReader` and the write
//! side of its transports decide without touching a socket. No WASI types appear here, so this is
//! unit- and property-tested natively; the provider component wires it to `wasi:sockets`.
//!
//! Reads are modelled as attempts: each operation looks at the [`ReadBuffer`] and either finishes
//! ([`Attempt::Done`]) or says it needs more bytes ([`Attempt::NeedMore`]); the caller then waits
//! for data and tries again. An attempt that needs more consumes nothing, which is what makes every
//! read cancel safe.

pub mod budget;
pub mod buffer;
pub mod chunk_size;
pub mod error;
pub mod flow;
pub mod lifecycle;
#[cfg(feature = "model")]
pub mod model;
pub mod notify;
pub mod read;
pub mod read_exactly;
pub mod read_line;
pub mod read_lines;
pub mod read_until;
pub mod separator;
pub mod staggered;
pub mod watermarks;
pub mod write_queue;

pub use budget::Budget;
pub use buffer::ReadBuffer;
pub use chunk_size::ChunkSizer;
pub use error::ReadError;
pub use flow::Demand;
pub use watermarks::WaterMarks;
pub use write_queue::{QueueFull, WriteQueue};

/// asyncio's default reader limit (`_DEFAULT_LIMIT`, 64 KiB).
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// The default hard cap of a write queue (better than CPython gh-116279, which has none); the
/// wasio host passes its own cap (`wasio run --write-queue-cap`, the same 64 MiB by default).
pub const DEFAULT_WRITE_QUEUE_CAP: usize = 64 * 1024 * 1024;

/// The result of trying a read operation against what is buffered now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    /// The operation finished (with its value or its error).
    Done(T),
    /// The operation needs more bytes and EOF has not been seen; nothing was consumed.
    NeedMore,
}

/// Checks a reader limit: asyncio rejects a limit <= 0 with `ValueError`. A limit beyond what
/// the platform's memory can hold (above `usize::MAX` on wasm32) is never reached: no limit.
pub fn validate_limit(limit: u64) -> Result<usize, ReadError> {
    match limit {
        0 => Err(ReadError::InvalidArgument("limit must be greater than 0")),
        limit => Ok(usize::try_from(limit).unwrap_or(usize::MAX)),
    }
}
