//! The run-wide budget of bytes the provider buffers for its connections, and what a receive
//! pump may pull under it.
//!
//! Every connection's buffers count: its read buffer and the receive it has in flight (bytes
//! pulled ahead of the app), and its write queue (bytes the peer has not taken yet). Peers that
//! send and never read can make these grow on every connection at once, so together they are
//! kept under a budget derived from the run's memory limit ([`Budget::for_memory_limit`]), and
//! each connection reads ahead at most [`READ_AHEAD`] bytes. While
//! the budget is spent the provider applies backpressure instead of growing: receive pumps stop
//! reading ahead (and cancel a read-ahead receive in flight), a waiting read is served in small
//! receives ([`PRESSURE_CHUNK`]), and servers stop accepting. A read that waits is never starved,
//! so a run whose every connection waits on a read still makes progress; what a connection can
//! pin beyond the budget is then its write queue up to the app's high-water mark plus one small
//! receive.
//!
//! The budget has hysteresis, so a run hovering at the cap does not wake every connection on
//! every byte: it is spent once the buffers exceed the cap and has room again once they fall to
//! three quarters of it.

use crate::flow::{Demand, ReadFlow};

/// The budget is this fraction of the run's memory limit (`--max-memory`): an eighth. The rest
/// covers the connections' own state, the app's memory and what each connection may pin beyond
/// the budget (see the README's "Capabilities and limits").
pub const MEMORY_LIMIT_DIVISOR: u64 = 8;

/// The largest receive for a waiting read while the budget is spent.
pub const PRESSURE_CHUNK: usize = 4 * 1024;

/// The most a connection reads ahead of the app's reads, with room in the budget: 64 KiB (or
/// flow control's 2 x limit when that is lower). asyncio reads ahead up to 2 x limit (128 KiB
/// with the default limit); more buffered here only pins memory, the rest waits in the socket.
pub const READ_AHEAD: usize = 64 * 1024;

/// What changed when a connection's holdings were updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The budget stayed spent, or stayed with room.
    None,
    /// The buffers went over the cap: backpressure starts.
    Spent,
    /// The buffers fell to the low mark: reading ahead and accepting resume.
    Room,
}

/// The bytes all connections of a run hold in buffers, against a cap.
#[derive(Debug, Clone)]
pub struct Budget {
    /// `None`: no cap (`--max-memory none`).
    cap: Option<usize>,
    held: usize,
    spent: bool,
}

impl Budget {
    /// A budget of `cap` bytes (`None`: never spent).
    pub fn new(cap: Option<usize>) -> Self {
        Self {
            cap,
            held: 0,
            spent: false,
        }
    }

    /// The budget of a run whose linear memory is capped at `max_memory` bytes: an
    /// [`MEMORY_LIMIT_DIVISOR`]th of it. No memory limit: no budget.
    pub fn for_memory_limit(max_memory: Option<u64>) -> Self {
        Self::new(
            max_memory.map(|m| usize::try_from(m / MEMORY_LIMIT_DIVISOR).unwrap_or(usize::MAX)),
        )
    }

    /// The cap, if any.
    pub fn cap(&self) -> Option<usize> {
        self.cap
    }

    /// Bytes held now, all connections together.
    pub fn held(&self) -> usize {
        self.held
    }

    /// True while backpressure applies: since the buffers went over the cap, until they fell to
    /// three quarters of it.
    pub fn spent(&self) -> bool {
        self.spent
    }

    /// Records that a connection holds `now` bytes where it held `before`.
    pub fn change(&mut self, before: usize, now: usize) -> Transition {
        self.held = self.held.saturating_sub(before).saturating_add(now);
        let Some(cap) = self.cap else {
            return Transition::None;
        };
        if !self.spent && self.held > cap {
            self.spent = true;
            Transition::Spent
        } else if self.spent && self.held <= cap - cap / 4 {
            self.spent = false;
            Transition::Room
        } else {
            Transition::None
        }
    }
}

/// What a receive pump does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pull {
    /// Receive at most this many bytes.
    Receive(usize),
    /// Nothing for now: wait until a read needs bytes, a read makes room under flow control, or
    /// the budget has room again.
    Wait,
}

/// What a receive pump may pull, given read flow control (`flow`, `buffered`, `limit`), the
/// waiting read's `demand`, whether the budget is `spent`, and the size it would ask for
/// (`size`, from [`ChunkSizer`](crate::ChunkSizer)). A read that needs bytes is always served,
/// in receives of at most [`PRESSURE_CHUNK`] while the budget is spent; reading ahead needs flow
/// control and the budget to allow it, and stops at [`READ_AHEAD`] buffered (its receive asks
/// for no more than the room left).
pub fn pull(
    flow: &mut ReadFlow,
    buffered: usize,
    limit: usize,
    demand: Demand,
    spent: bool,
    size: usize,
) -> Pull {
    let allowed = flow.should_pull(buffered, limit, demand);
    if demand.needs_more(buffered) {
        Pull::Receive(if spent {
            size.min(PRESSURE_CHUNK)
        } else {
            size
        })
    } else if allowed && !spent && buffered < READ_AHEAD {
        Pull::Receive(size.min(READ_AHEAD - buffered))
    } else {
        Pull::Wait
    }
}

/// Whether a receive in flight should be cancelled (keeping what it got): it reads ahead of any
/// read while the budget is spent.
pub fn cancel_read_ahead(buffered: usize, demand: Demand, spent: bool) -> bool {
    spent && !demand.needs_more(buffered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spent_above_the_cap_until_three_quarters() {
        let mut b = Budget::new(Some(100));
        assert_eq!(b.change(0, 60), Transition::None);
        assert_eq!(b.change(0, 40), Transition::None);
        assert!(!b.spent());
        assert_eq!(b.change(40, 41), Transition::Spent);
        assert!(b.spent());
        assert_eq!(b.held(), 101);
        // Hysteresis: still spent down to 75.
        assert_eq!(b.change(60, 35), Transition::None);
        assert!(b.spent());
        assert_eq!(b.change(41, 40), Transition::Room);
        assert!(!b.spent());
        assert_eq!(b.held(), 75);
        // Releasing more than was counted never underflows.
        assert_eq!(b.change(1000, 0), Transition::None);
        assert_eq!(b.held(), 0);
    }

    #[test]
    fn no_cap_is_never_spent() {
        let mut b = Budget::for_memory_limit(None);
        assert_eq!(b.change(0, usize::MAX), Transition::None);
        assert!(!b.spent());
        assert_eq!(
            Budget::for_memory_limit(Some(1 << 30)).cap(),
            Some(128 << 20)
        );
    }

    #[test]
    fn a_waiting_read_is_served_in_small_receives_when_spent() {
        let mut f = ReadFlow::default();
        let size = 64 * 1024;
        // Room: read ahead at full size, as flow control allows.
        assert_eq!(
            pull(&mut f, 0, 100, Demand::None, false, size),
            Pull::Receive(size)
        );
        // Spent: no reading ahead...
        assert_eq!(pull(&mut f, 0, 100, Demand::None, true, size), Pull::Wait);
        // ...but a read that needs bytes gets them, in small receives.
        assert_eq!(
            pull(&mut f, 0, 100, Demand::AtLeast(1), true, size),
            Pull::Receive(PRESSURE_CHUNK)
        );
        assert_eq!(
            pull(&mut f, 10, 100, Demand::UntilEof, true, 512),
            Pull::Receive(512)
        );
        // A demand already met is read-ahead again.
        assert_eq!(
            pull(&mut f, 10, 100, Demand::AtLeast(10), true, size),
            Pull::Wait
        );
    }

    #[test]
    fn flow_control_still_pauses_reading_ahead_with_room() {
        let mut f = ReadFlow::default();
        assert_eq!(pull(&mut f, 201, 100, Demand::None, false, 512), Pull::Wait);
        assert_eq!(
            pull(&mut f, 201, 100, Demand::AtLeast(300), false, 512),
            Pull::Receive(512)
        );
        assert_eq!(
            pull(&mut f, 100, 100, Demand::None, false, 512),
            Pull::Receive(512)
        );
    }

    #[test]
    fn reading_ahead_stops_at_read_ahead() {
        let mut f = ReadFlow::default();
        let limit = 1 << 20;
        assert_eq!(
            pull(&mut f, READ_AHEAD - 100, limit, Demand::None, false, 4096),
            Pull::Receive(100)
        );
        assert_eq!(
            pull(&mut f, READ_AHEAD, limit, Demand::None, false, 4096),
            Pull::Wait
        );
        // A read that needs more still gets it, at full size.
        assert_eq!(
            pull(&mut f, READ_AHEAD, limit, Demand::UntilEof, false, 4096),
            Pull::Receive(4096)
        );
    }

    #[test]
    fn only_read_ahead_is_cancelled() {
        assert!(cancel_read_ahead(0, Demand::None, true));
        assert!(cancel_read_ahead(10, Demand::AtLeast(10), true));
        assert!(!cancel_read_ahead(0, Demand::AtLeast(1), true));
        assert!(!cancel_read_ahead(0, Demand::UntilEof, true));
        assert!(!cancel_read_ahead(0, Demand::None, false));
    }
}
