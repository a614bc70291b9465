//! Read-side flow control (asyncio's `_maybe_resume_transport` / `pause_reading`): stop pulling from
//! the socket while more than 2 x limit bytes are buffered, resume once a read leaves <= limit; but
//! always pull for a waiting read that needs more than is buffered, so `readexactly(n)` with
//! n > 2 x limit cannot deadlock.

/// How many bytes the waiting read (if any) needs to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Demand {
    /// No read is waiting.
    #[default]
    None,
    /// The waiting read needs at least this many bytes buffered in total.
    AtLeast(usize),
    /// The waiting read consumes everything until EOF (`read(-1)`).
    UntilEof,
}

impl Demand {
    /// Whether the waiting read needs more than the `buffered` bytes.
    pub fn needs_more(self, buffered: usize) -> bool {
        match self {
            Demand::None => false,
            Demand::AtLeast(n) => buffered < n,
            Demand::UntilEof => true,
        }
    }
}

/// The pause state of one reader.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadFlow {
    paused: bool,
}

impl ReadFlow {
    /// Whether the pump may pull more bytes now, given the buffered count, the limit and the
    /// waiting read's demand. Updates the pause state (pause above 2 x limit, resume at <= limit).
    pub fn should_pull(&mut self, buffered: usize, limit: usize, demand: Demand) -> bool {
        if buffered > limit.saturating_mul(2) {
            self.paused = true;
        } else if buffered <= limit {
            self.paused = false;
        }
        !self.paused || demand.needs_more(buffered)
    }

    /// True while pulling is paused by the high mark.
    pub fn is_paused(&self) -> bool {
        self.paused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis_between_limit_and_twice_limit() {
        let mut f = ReadFlow::default();
        assert!(f.should_pull(150, 100, Demand::None));
        assert!(!f.should_pull(201, 100, Demand::None));
        // Still paused between limit and 2 x limit.
        assert!(!f.should_pull(150, 100, Demand::None));
        assert!(f.should_pull(100, 100, Demand::None));
    }

    #[test]
    fn large_demand_overrides_pause() {
        let mut f = ReadFlow::default();
        assert!(!f.should_pull(300, 100, Demand::None));
        assert!(f.should_pull(300, 100, Demand::AtLeast(500)));
        assert!(!f.should_pull(500, 100, Demand::AtLeast(500)));
        assert!(f.should_pull(5000, 100, Demand::UntilEof));
    }
}
