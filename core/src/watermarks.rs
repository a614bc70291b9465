//! Write-side flow control limits (asyncio `set_write_buffer_limits`).

use crate::ReadError;

/// asyncio's default high-water mark (64 KiB); the low mark defaults to a quarter of the high.
pub const DEFAULT_HIGH: u64 = 64 * 1024;

/// High and low water marks of a write queue: `drain` waits once the queue is above `high` and
/// resumes when it falls to `low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaterMarks {
    /// Above this, writers should wait (drain blocks).
    pub high: u64,
    /// Waiting drains are released at or below this.
    pub low: u64,
}

impl Default for WaterMarks {
    fn default() -> Self {
        Self {
            high: DEFAULT_HIGH,
            low: DEFAULT_HIGH / 4,
        }
    }
}

impl WaterMarks {
    /// asyncio's rules: neither given: 64 KiB / 16 KiB; only high: low = high / 4; only low:
    /// high = 4 x low; invalid unless high >= low.
    pub fn new(high: Option<u64>, low: Option<u64>) -> Result<Self, ReadError> {
        let (high, low) = match (high, low) {
            (None, None) => (DEFAULT_HIGH, DEFAULT_HIGH / 4),
            (Some(high), None) => (high, high / 4),
            (None, Some(low)) => (low.saturating_mul(4), low),
            (Some(high), Some(low)) => (high, low),
        };
        if high < low {
            return Err(ReadError::InvalidArgument(
                "high must be >= low must be >= 0",
            ));
        }
        Ok(Self { high, low })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asyncio_defaults_and_rules() {
        assert_eq!(WaterMarks::new(None, None), Ok(WaterMarks::default()));
        assert_eq!(
            WaterMarks::new(Some(100), None),
            Ok(WaterMarks { high: 100, low: 25 })
        );
        assert_eq!(
            WaterMarks::new(None, Some(10)),
            Ok(WaterMarks { high: 40, low: 10 })
        );
        assert_eq!(
            WaterMarks::new(Some(0), Some(0)),
            Ok(WaterMarks { high: 0, low: 0 })
        );
        assert!(WaterMarks::new(Some(1), Some(2)).is_err());
    }
}
