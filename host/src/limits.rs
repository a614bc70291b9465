//! Resource limits of one run, each with a default and a `wasio run` flag:
//!
//! | limit | default | flag | enforced by | when hit |
//! |---|---|---|---|---|
//! | linear memory ([`Limits::max_memory`]) | 1 GiB | `--max-memory` | the host ([`MemoryLimiter`], a wasmtime `ResourceLimiter`) | the run ends: [`Exit::MemoryLimit`](crate::Exit::MemoryLimit), exit status 137 |
//! | open sockets ([`Limits::max_connections`]) | 4 096 | `--max-connections` | the host ([`crate::socket_budget`]), for every socket resource whichever interface opened it | accepts wait (clients queue in the listen backlog); opening a socket fails with an error the app sees (`other("too many open sockets ...")`, WASI 0.2 `new-socket-limit`) |
//! | write queue per connection ([`Limits::write_queue_cap`]) | 64 MiB | `--write-queue-cap` | the provider (`wasio:host/limits`) | `write` fails with `buffer-full` and queues nothing |
//! | run time ([`Limits::timeout`]) | none | `--timeout` | the host (a wall-clock deadline, checked by epoch interruption while wasm runs) | the run ends: [`Exit::Timeout`](crate::Exit::Timeout), exit status 124 |
//!
//! The memory limit counts every linear memory of the run together (a composed app has the app's
//! and the provider's), from their initial sizes on; memories only grow, so the limit caps the
//! run's peak. [`MemoryUsage`] reports the current total, for embedders and tests.
//!
//! The defaults are consistent: peers cannot push a run with default limits past its memory cap.
//! The provider keeps its connection buffers under an eighth of the memory limit (128 MiB of
//! 1 GiB; above it, it stops reading ahead and accepting), and beyond that budget a connection
//! pins at most its write queue up to the app's high-water mark plus one write (64 + 64 KiB for
//! an app that drains with the default marks), one small receive (4 KiB) and its state (about
//! 5 KiB): 4 096 connections x 137 KiB + 128 MiB is about 680 MiB, leaving the rest for the
//! app's own memory. Whoever lowers the memory limit keeps `max_connections` at most one per
//! 256 KiB of it ([`connections_for_memory`]; `wasio run` does so when `--max-connections` is not
//! given).
//!
//! The provider learns the write-queue cap and the memory limit through the `wasio:host/limits` import (see
//! `wit/host.wit`), which [`crate::add_to_linker`] serves from the store's
//! [`WasioHostCtx`](crate::ctx::WasioHostCtx).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Default [`Limits::max_memory`]: 1 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;
/// Default [`Limits::max_connections`]: 4 096, a 256 KiB connection per [`DEFAULT_MAX_MEMORY`]
/// (see the module docs).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4_096;
/// Linear memory per connection that [`connections_for_memory`] budgets: what a connection can
/// pin beyond the provider's buffer budget, with room to spare (see the module docs).
pub const MEMORY_PER_CONNECTION: u64 = 256 << 10;

/// The default connection cap for a memory cap: [`DEFAULT_MAX_CONNECTIONS`], or one connection
/// per [`MEMORY_PER_CONNECTION`] of a lower `max_memory` (at least one), so that peers cannot
/// push a run past a lowered memory cap either. `wasio run` uses it when `--max-connections` is
/// not given.
pub fn connections_for_memory(max_memory: Option<u64>) -> Option<u32> {
    let by_memory = max_memory.map_or(u64::MAX, |m| (m / MEMORY_PER_CONNECTION).max(1));
    Some(
        u32::try_from(by_memory)
            .map_or(DEFAULT_MAX_CONNECTIONS, |n| n.min(DEFAULT_MAX_CONNECTIONS)),
    )
}

/// Default [`Limits::write_queue_cap`]: 64 MiB (the provider's own default).
pub const DEFAULT_WRITE_QUEUE_CAP: u64 = 64 << 20;
/// The most table elements one table may grow to (wasmtime's own default cap is 10 000 instances
/// and memories; tables are bounded here so a runaway `table.grow` cannot eat host memory).
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// The resource limits of one run; see the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Total linear memory of the run in bytes; `None`: only wasm's own 4 GiB per memory.
    pub max_memory: Option<u64>,
    /// The most sockets open at once (connections, listeners, UDP sockets; see
    /// [`crate::socket_budget`]); `None`: no limit.
    pub max_connections: Option<u32>,
    /// The largest write queue of a connection in bytes: the default of the app's
    /// `write-queue-cap` option and its ceiling.
    pub write_queue_cap: u64,
    /// Wall-clock time the run may take; `None`: no limit.
    pub timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory: Some(DEFAULT_MAX_MEMORY),
            max_connections: Some(DEFAULT_MAX_CONNECTIONS),
            write_queue_cap: DEFAULT_WRITE_QUEUE_CAP,
            timeout: None,
        }
    }
}

impl Limits {
    /// No limits at all (for trusted components and benchmarks): memory, connections and write
    /// queues unbounded (an app's own `write-queue-cap` option still applies), no deadline.
    pub fn unlimited() -> Self {
        Self {
            max_memory: None,
            max_connections: None,
            write_queue_cap: u64::MAX,
            timeout: None,
        }
    }
}

/// The run ended because its linear memory would have grown beyond [`Limits::max_memory`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryLimitExceeded {
    /// The limit, bytes.
    pub limit: u64,
    /// The total the growth asked for, bytes.
    pub requested: u64,
}

impl fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the app's linear memory would grow to {} (all memories together), beyond the run's \
             limit of {} (--max-memory)",
            Size(self.requested),
            Size(self.limit)
        )
    }
}

impl std::error::Error for MemoryLimitExceeded {}

/// The run ended because it reached [`Limits::timeout`] while wasm was running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlineExceeded(pub Duration);

impl fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the run reached its time limit of {:?} (--timeout)",
            self.0
        )
    }
}

impl std::error::Error for DeadlineExceeded {}

/// The total linear memory of a run as it goes (shared: clone it before the run to read it
/// during or after).
#[derive(Clone, Debug, Default)]
pub struct MemoryUsage(Arc<AtomicU64>);

impl MemoryUsage {
    /// Bytes of linear memory over every memory of the run, right now. Memories never shrink,
    /// so this is also the peak so far.
    pub fn bytes(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The wasmtime `ResourceLimiter` of a run: caps the total linear memory and counts it.
#[derive(Debug)]
pub struct MemoryLimiter {
    max: Option<u64>,
    usage: MemoryUsage,
    /// The growth last allowed, undone if the growth then failed.
    last_growth: u64,
}

impl MemoryLimiter {
    /// A limiter capping the total at `max` bytes (`None`: no cap), counting into `usage`.
    pub fn new(max: Option<u64>, usage: MemoryUsage) -> Self {
        Self {
            max,
            usage,
            last_growth: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = u64::try_from(desired.saturating_sub(current)).unwrap_or(u64::MAX);
        let total = self.usage.bytes().saturating_add(growth);
        if let Some(limit) = self.max
            && total > limit
        {
            // An error (not `Ok(false)`) makes wasmtime trap at once with it, instead of letting
            // the guest's allocator fail and abort with a bare `unreachable`.
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit,
                requested: total,
            }));
        }
        self.usage.0.fetch_add(growth, Ordering::Relaxed);
        self.last_growth = growth;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.usage.0.fetch_sub(self.last_growth, Ordering::Relaxed);
        self.last_growth = 0;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// A byte count as written on the command line: `1048576`, `64K`, `64KiB`, `1M`, `1MiB`,
/// `2G`, `2GiB` (binary multiples; `k`/`m`/`g` too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(digits);
        let number: u64 = number.parse().map_err(|_| {
            format!("`{s}` is not a size: write bytes, or e.g. 64KiB, 256MiB, 1GiB")
        })?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            _ => {
                return Err(format!(
                    "`{s}`: unknown unit `{unit}` (use K, M, G or KiB, MiB, GiB: binary multiples)"
                ));
            }
        };
        number
            .checked_mul(1u64 << shift)
            .map(Size)
            .ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
            if n >= 1 << shift && n.is_multiple_of(1 << shift) {
                return write!(f, "{} {unit}", n >> shift);
            }
        }
        write!(f, "{n} bytes")
    }
}

/// A duration as written on the command line: `30s`, `500ms`, `2m`, `1h`, or plain seconds
/// (`1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write e.g. 30s, 500ms, 2m or 1h"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!("`{s}`: unknown unit `{other}` (use ms, s, m or h)"));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{s}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_default_follows_a_lower_memory_cap() {
        assert_eq!(
            connections_for_memory(Some(DEFAULT_MAX_MEMORY)),
            Some(4_096)
        );
        assert_eq!(connections_for_memory(None), Some(4_096));
        assert_eq!(connections_for_memory(Some(64 << 20)), Some(256));
        assert_eq!(connections_for_memory(Some(1)), Some(1));
        assert_eq!(connections_for_memory(Some(u64::MAX)), Some(4_096));
    }
    use wasmtime::ResourceLimiter;

    #[test]
    fn sizes_parse_and_display() {
        assert_eq!("1048576".parse(), Ok(Size(1 << 20)));
        assert_eq!("64K".parse(), Ok(Size(64 << 10)));
        assert_eq!("64KiB".parse(), Ok(Size(64 << 10)));
        assert_eq!("256 MiB".parse(), Ok(Size(256 << 20)));
        assert_eq!("1g".parse(), Ok(Size(1 << 30)));
        assert!("".parse::<Size>().is_err());
        assert!(
            "12 parsecs"
                .parse::<Size>()
                .is_err_and(|e| e.contains("unknown unit"))
        );
        assert!("-1".parse::<Size>().is_err());
        assert!(
            "99999999999T"
                .parse::<Size>()
                .is_err_and(|e| e.contains("too large"))
        );
        assert_eq!(Size(1 << 30).to_string(), "1 GiB");
        assert_eq!(Size(3 << 20).to_string(), "3 MiB");
        assert_eq!(Size(1000).to_string(), "1000 bytes");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 days").is_err_and(|e| e.contains("unknown unit")));
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn the_limiter_caps_the_total_of_all_memories() {
        let usage = MemoryUsage::default();
        let mut limiter = MemoryLimiter::new(Some(4 << 20), usage.clone());
        // Two memories created (current 0), then grown.
        assert!(matches!(limiter.memory_growing(0, 1 << 20, None), Ok(true)));
        assert!(matches!(limiter.memory_growing(0, 2 << 20, None), Ok(true)));
        assert_eq!(usage.bytes(), 3 << 20);
        assert!(matches!(
            limiter.memory_growing(1 << 20, 2 << 20, None),
            Ok(true)
        ));
        assert_eq!(usage.bytes(), 4 << 20);
        let Err(e) = limiter.memory_growing(2 << 20, (2 << 20) + 65536, None) else {
            unreachable!("grew beyond the limit")
        };
        let hit = e.downcast_ref::<MemoryLimitExceeded>().cloned();
        assert_eq!(
            hit,
            Some(MemoryLimitExceeded {
                limit: 4 << 20,
                requested: (4 << 20) + 65536
            })
        );
        assert!(
            e.to_string().contains("beyond the run's limit of 4 MiB"),
            "{e}"
        );
        assert_eq!(usage.bytes(), 4 << 20);
        // A growth allowed here but failed later is not counted.
        let mut unlimited = MemoryLimiter::new(None, MemoryUsage::default());
        assert!(matches!(unlimited.memory_growing(0, 65536, None), Ok(true)));
        assert!(matches!(
            unlimited.memory_growing(65536, 131072, None),
            Ok(true)
        ));
        assert!(
            unlimited
                .memory_grow_failed(wasmtime::Error::msg("no"))
                .is_ok()
        );
        assert_eq!(unlimited.usage.bytes(), 65536);
    }
}
