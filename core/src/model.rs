//! A reference model of the reader and of the write queue, written straight from SPEC-streams.md
//! over plain vectors, and drivers that run a scenario against the crate and the model side by
//! side, comparing every step. The model calls none of the crate's functions; it shares only the
//! vocabulary of outcomes.
//!
//! Test support behind the `model` feature: the property test (`core/tests/model.rs`) and the
//! fuzz targets (`fuzz/`) generate scenarios in their own ways and run them here. A driver returns
//! the first difference as a [`Mismatch`] instead of panicking, so each caller reports it its way.
//!
//! A read scenario is data cut into chunks that arrive over time, EOF after the last chunk, a
//! reader limit and a sequence of operations. Whenever an operation needs more, the driver checks
//! that read-side flow control lets the pump pull (a waiting read must never deadlock), delivers the
//! next chunk (or EOF once none is left) to both sides and retries the same operation, as a waiting
//! read would. Every attempt, the remaining buffer, `at_eof` and the pause state are compared.

use std::fmt;

use crate::flow::{Demand, ReadFlow};
use crate::read::read;
use crate::read_exactly::read_exactly;
use crate::read_line::read_line;
use crate::read_until::read_until;
use crate::watermarks::DEFAULT_HIGH;
use crate::{Attempt, QueueFull, ReadBuffer, ReadError, WaterMarks, WriteQueue, validate_limit};

/// The first difference between the crate and the model, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch(pub String);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Mismatch {}

/// Fails with a [`Mismatch`] when the two sides differ.
fn same<T: PartialEq + fmt::Debug>(
    got: &T,
    want: &T,
    what: impl fmt::Display,
) -> Result<(), Mismatch> {
    if got == want {
        Ok(())
    } else {
        Err(Mismatch(format!("{what}: crate {got:?}, model {want:?}")))
    }
}

// ---------------------------------------------------------------------------------------------
// The read side.

/// What one read attempt gave, on either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The operation waits for more bytes.
    NeedMore,
    /// The operation returned these bytes.
    Data(Vec<u8>),
    /// `IncompleteReadError`.
    Incomplete {
        /// The bytes handed over with the error.
        partial: Vec<u8>,
        /// The byte count asked for (`None` for readuntil).
        expected: Option<u64>,
    },
    /// `LimitOverrunError`.
    Overrun {
        /// Whether a separator was found.
        found: bool,
        /// The error's `consumed`.
        consumed: u64,
    },
    /// `ValueError` (bad separators or limit).
    Invalid,
    /// A limit was set.
    LimitSet,
}

/// One step of a read scenario.
#[derive(Debug, Clone)]
pub enum Op {
    /// `read(n)`.
    Read(i64),
    /// `readline()`.
    ReadLine,
    /// `readuntil(separators)`.
    ReadUntil(Vec<Vec<u8>>),
    /// `readexactly(n)`.
    ReadExactly(u64),
    /// `try-read-into(n)` (n > 0) whose stream reader takes only the first `taken` bytes: the
    /// provider consumes `read(n)` and puts back (`unread`) what was not taken.
    HandOver {
        /// The most bytes asked for (> 0).
        n: u64,
        /// How many of them the other end took.
        taken: usize,
    },
    /// The pump offers the next chunk (or EOF when none is left) while no read is waiting; it is
    /// taken only if flow control lets the pump pull.
    Arrive,
    /// The provider frees an idle buffer's storage (a no-op for the model).
    Release,
    /// The reader's limit is changed (0 is invalid and leaves the limit as it was).
    SetLimit(u64),
}

/// One arrival of bytes.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The bytes received.
    pub bytes: Vec<u8>,
    /// Deliver through `absorb` (storage swap) instead of `extend_from_slice`.
    pub absorb: bool,
}

/// A read scenario: chunks (then EOF), the initial limit and the operations.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What arrives, in order; EOF follows the last chunk.
    pub chunks: Vec<Chunk>,
    /// The initial reader limit (> 0).
    pub limit: usize,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

/// The reference reader: a plain vector, the EOF flag and the read-side pause state.
#[derive(Debug, Default)]
pub struct Model {
    /// Bytes received and not read.
    pub buf: Vec<u8>,
    /// EOF received.
    pub eof: bool,
    /// Pulling is paused (above 2 x limit, until a read leaves <= limit).
    pub paused: bool,
}

impl Model {
    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// read(n): n = 0 -> empty at once; n < 0 -> everything once EOF was received; n > 0 -> waits
    /// only while the buffer is empty and no EOF, then 1..=n bytes (empty at EOF).
    pub fn read(&mut self, n: i64) -> Outcome {
        if n == 0 {
            return Outcome::Data(Vec::new());
        }
        if n < 0 {
            if self.eof {
                let all = self.buf.len();
                return Outcome::Data(self.take(all));
            }
            return Outcome::NeedMore;
        }
        if self.buf.is_empty() && !self.eof {
            return Outcome::NeedMore;
        }
        let n = (n as u64).min(self.buf.len() as u64) as usize;
        Outcome::Data(self.take(n))
    }

    /// A hand-over of `read(n)` (n > 0) of which only the first `taken` bytes are consumed.
    pub fn hand_over(&mut self, n: u64, taken: usize) -> Outcome {
        if self.buf.is_empty() && !self.eof {
            return Outcome::NeedMore;
        }
        let n = n.max(1).min(self.buf.len() as u64).min(taken as u64) as usize;
        Outcome::Data(self.take(n))
    }

    /// readexactly(n): exactly n bytes; EOF first -> IncompleteRead with everything, buffer emptied.
    pub fn read_exactly(&mut self, n: u64) -> Outcome {
        if self.buf.len() as u64 >= n {
            return Outcome::Data(self.take(n as usize));
        }
        if self.eof {
            let all = self.buf.len();
            return Outcome::Incomplete {
                partial: self.take(all),
                expected: Some(n),
            };
        }
        Outcome::NeedMore
    }

    /// The match with the smallest end; on a tie the shorter separator. Brute force: for each end
    /// index in increasing order, test every separator ending there.
    pub fn find(&self, separators: &[Vec<u8>]) -> Option<(usize, usize)> {
        for end in 1..=self.buf.len() {
            let shortest = separators
                .iter()
                .filter(|s| s.len() <= end && self.buf[end - s.len()..end] == s[..])
                .map(Vec::len)
                .min();
            if let Some(len) = shortest {
                return Some((end - len, end));
            }
        }
        None
    }

    /// readuntil(separators) with `limit`, following the SPEC bullets in order.
    pub fn read_until(&mut self, separators: &[Vec<u8>], limit: usize) -> Outcome {
        if separators.iter().any(Vec::is_empty) {
            return Outcome::Invalid;
        }
        let shortest = separators.iter().map(Vec::len).min();
        let longest = separators.iter().map(Vec::len).max();
        let (Some(shortest), Some(longest)) = (shortest, longest) else {
            // No separator at all.
            return Outcome::Invalid;
        };
        if let Some((start, end)) = self.find(separators) {
            if start > limit {
                return Outcome::Overrun {
                    found: true,
                    consumed: start as u64,
                };
            }
            return Outcome::Data(self.take(end));
        }
        if self.buf.len() >= shortest {
            let offset = (self.buf.len() as i128 + 1 - longest as i128).max(0);
            if offset > limit as i128 {
                return Outcome::Overrun {
                    found: false,
                    consumed: offset as u64,
                };
            }
        }
        if self.eof {
            let all = self.buf.len();
            return Outcome::Incomplete {
                partial: self.take(all),
                expected: None,
            };
        }
        Outcome::NeedMore
    }

    /// readline = readuntil("\n"): IncompleteRead gives its partial; an overrun discards through
    /// the newline when the byte at `consumed` is one, else the whole buffer.
    pub fn read_line(&mut self, limit: usize) -> Outcome {
        match self.read_until(&[b"\n".to_vec()], limit) {
            Outcome::Incomplete { partial, .. } => Outcome::Data(partial),
            Outcome::Overrun { found, consumed } => {
                let at = consumed as usize;
                if self.buf.get(at) == Some(&b'\n') {
                    self.buf.drain(..=at);
                } else {
                    self.buf.clear();
                }
                Outcome::Overrun { found, consumed }
            }
            other => other,
        }
    }

    /// Runs one read operation (not `Arrive`, `Release` or `SetLimit`).
    pub fn run(&mut self, op: &Op, limit: usize) -> Outcome {
        match op {
            Op::Read(n) => self.read(*n),
            Op::ReadLine => self.read_line(limit),
            Op::ReadUntil(separators) => self.read_until(separators, limit),
            Op::ReadExactly(n) => self.read_exactly(*n),
            Op::HandOver { n, taken } => self.hand_over(*n, *taken),
            Op::Arrive | Op::Release | Op::SetLimit(_) => Outcome::NeedMore,
        }
    }

    /// Flow control: pause while more than 2 x limit bytes are buffered, resume once at most limit
    /// are; a waiting read that needs more than is buffered is always served.
    pub fn should_pull(&mut self, limit: usize, waiting: Option<&Op>) -> bool {
        let buffered = self.buf.len() as u128;
        if buffered > 2 * limit as u128 {
            self.paused = true;
        } else if buffered <= limit as u128 {
            self.paused = false;
        }
        // Every waiting read needs at least one byte more than is buffered now (readexactly(n)
        // waits only while fewer than n are).
        !self.paused || waiting.is_some()
    }
}

/// What the waiting read `op` tells the pump it needs (as the provider's reader does).
pub fn demand(op: &Op, buf: &ReadBuffer) -> Demand {
    match op {
        Op::Read(n) if *n < 0 => Demand::UntilEof,
        Op::ReadExactly(n) => Demand::AtLeast(usize::try_from(*n).unwrap_or(usize::MAX)),
        Op::Read(_) | Op::HandOver { .. } | Op::ReadLine | Op::ReadUntil(_) => {
            Demand::AtLeast(buf.len().saturating_add(1))
        }
        Op::Arrive | Op::Release | Op::SetLimit(_) => Demand::None,
    }
}

fn outcome(attempt: Attempt<Result<Vec<u8>, ReadError>>) -> Outcome {
    match attempt {
        Attempt::NeedMore => Outcome::NeedMore,
        Attempt::Done(Ok(data)) => Outcome::Data(data),
        Attempt::Done(Err(ReadError::IncompleteRead { partial, expected })) => {
            Outcome::Incomplete { partial, expected }
        }
        Attempt::Done(Err(ReadError::LimitOverrun { found, consumed })) => {
            Outcome::Overrun { found, consumed }
        }
        Attempt::Done(Err(ReadError::InvalidArgument(_))) => Outcome::Invalid,
    }
}

/// Runs one read operation of the crate (not `Arrive`, `Release` or `SetLimit`).
pub fn run_crate(buf: &mut ReadBuffer, op: &Op, limit: usize) -> Outcome {
    match op {
        Op::Read(n) => match read(buf, *n) {
            Attempt::Done(data) => Outcome::Data(data),
            Attempt::NeedMore => Outcome::NeedMore,
        },
        Op::ReadLine => outcome(read_line(buf, limit)),
        Op::ReadUntil(separators) => outcome(read_until(buf, separators, limit)),
        Op::ReadExactly(n) => outcome(read_exactly(buf, *n)),
        Op::HandOver { n, taken } => {
            let n = i64::try_from(*n).unwrap_or(i64::MAX).max(1);
            match read(buf, n) {
                Attempt::Done(mut data) => {
                    let rest = data.split_off((*taken).min(data.len()));
                    buf.unread(rest);
                    Outcome::Data(data)
                }
                Attempt::NeedMore => Outcome::NeedMore,
            }
        }
        Op::Arrive | Op::Release | Op::SetLimit(_) => Outcome::NeedMore,
    }
}

/// Both readers and what is still to arrive.
struct Driver<'a> {
    buf: ReadBuffer,
    flow: ReadFlow,
    limit: usize,
    model: Model,
    model_limit: usize,
    chunks: std::slice::Iter<'a, Chunk>,
}

impl Driver<'_> {
    /// Delivers the next chunk to both sides, or EOF once none is left. False if EOF was already in.
    fn arrive(&mut self) -> Result<bool, Mismatch> {
        if self.model.eof {
            return Ok(false);
        }
        match self.chunks.next() {
            Some(chunk) => {
                if chunk.absorb {
                    let spare = self.buf.absorb(chunk.bytes.clone());
                    same(&spare.len(), &0, "absorb hands back an empty vector")?;
                } else {
                    self.buf.extend_from_slice(&chunk.bytes);
                }
                self.model.buf.extend_from_slice(&chunk.bytes);
            }
            None => {
                self.buf.set_eof();
                self.model.eof = true;
            }
        }
        Ok(true)
    }

    /// Asks both sides whether the pump may pull now, with `waiting` the read that waits (if any).
    fn should_pull(&mut self, waiting: Option<&Op>) -> Result<bool, Mismatch> {
        let want_demand = waiting.map_or(Demand::None, |op| demand(op, &self.buf));
        let got = self
            .flow
            .should_pull(self.buf.len(), self.limit, want_demand);
        let want = self.model.should_pull(self.model_limit, waiting);
        same(
            &got,
            &want,
            format_args!("should_pull with {waiting:?} waiting"),
        )?;
        same(&self.flow.is_paused(), &self.model.paused, "paused")?;
        Ok(got)
    }

    fn check_state(&self) -> Result<(), Mismatch> {
        same(
            &self.buf.as_slice(),
            &&self.model.buf[..],
            "remaining buffer",
        )?;
        same(&self.buf.len(), &self.model.buf.len(), "buffered count")?;
        same(&self.buf.is_empty(), &self.model.buf.is_empty(), "is_empty")?;
        same(&self.buf.eof(), &self.model.eof, "eof")?;
        same(
            &self.buf.at_eof(),
            &(self.model.eof && self.model.buf.is_empty()),
            "at_eof",
        )?;
        same(&self.limit, &self.model_limit, "limit")
    }

    /// Runs a read operation until it finishes, delivering arrivals while it waits.
    fn run_read(&mut self, i: usize, op: &Op, seen: &mut Vec<Outcome>) -> Result<(), Mismatch> {
        loop {
            let got = run_crate(&mut self.buf, op, self.limit);
            let want = self.model.run(op, self.model_limit);
            same(&got, &want, format_args!("op #{i} {op:?}"))?;
            self.check_state()?;
            seen.push(want.clone());
            if want != Outcome::NeedMore {
                return Ok(());
            }
            // The operation waits: flow control must let the pump pull for it, whatever the pause
            // state, and the next arrival (or EOF) wakes it. The model never needs more once EOF
            // is in, so this always makes progress.
            if !self.should_pull(Some(op))? {
                return Err(Mismatch(format!(
                    "op #{i} {op:?} waits but the pump may not pull"
                )));
            }
            if !self.arrive()? {
                return Err(Mismatch(format!("op #{i} {op:?} needs more after EOF")));
            }
        }
    }
}

/// Runs a read scenario against the crate and the model, comparing every attempt and the state
/// after it; returns the outcomes seen (callers check their generators reach every kind).
pub fn run_scenario(s: &Scenario) -> Result<Vec<Outcome>, Mismatch> {
    let mut d = Driver {
        buf: ReadBuffer::new(),
        flow: ReadFlow::default(),
        limit: s.limit,
        model: Model::default(),
        model_limit: s.limit,
        chunks: s.chunks.iter(),
    };
    let mut seen = Vec::new();
    for (i, op) in s.ops.iter().enumerate() {
        match op {
            Op::Arrive => {
                if d.should_pull(None)? {
                    d.arrive()?;
                }
                d.check_state()?;
            }
            Op::Release => {
                d.buf.release_if_empty();
                d.check_state()?;
            }
            Op::SetLimit(limit) => {
                let got = match validate_limit(*limit) {
                    Ok(valid) => {
                        d.limit = valid;
                        Outcome::LimitSet
                    }
                    Err(_) => Outcome::Invalid,
                };
                let want = if *limit == 0 {
                    Outcome::Invalid
                } else {
                    d.model_limit = *limit as usize;
                    Outcome::LimitSet
                };
                same(&got, &want, format_args!("op #{i} {op:?}"))?;
                d.check_state()?;
                seen.push(want);
            }
            _ => d.run_read(i, op, &mut seen)?,
        }
    }
    // Whatever is left is drained by read(-1), which also delivers the remaining chunks and EOF.
    d.run_read(s.ops.len(), &Op::Read(-1), &mut seen)?;
    if !d.buf.at_eof() {
        return Err(Mismatch("not at EOF after the final read(-1)".to_owned()));
    }
    Ok(seen)
}

// ---------------------------------------------------------------------------------------------
// The write side.

/// One step of a write scenario.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// `writelines`: all parts as one write.
    Write(Vec<Vec<u8>>),
    /// `write`: the argument's vector is handed over.
    WriteVec(Vec<u8>),
    /// The sender takes everything queued.
    Take,
    /// The socket took this many in-flight bytes.
    Sent(usize),
    /// Abort: everything queued and in flight is dropped.
    Clear,
    /// `set_write_buffer_limits(high, low)`.
    SetMarks(Option<u64>, Option<u64>),
}

/// A write scenario: the queue's hard cap and the operations.
#[derive(Debug, Clone)]
pub struct WriteScenario {
    /// The hard cap in bytes.
    pub cap: usize,
    /// The operations, in order.
    pub ops: Vec<WriteOp>,
}

/// The reference write queue: a byte count per state and the stream of bytes in order.
#[derive(Debug, Default)]
pub struct WriteModel {
    /// Accepted and not yet taken by the sender.
    pub queued: Vec<u8>,
    /// Taken by the sender and not yet reported sent.
    pub in_flight: u64,
    /// The high and low water marks.
    pub marks: (u64, u64),
}

impl WriteModel {
    /// asyncio's `set_write_buffer_limits` rules: neither -> 64 KiB / 16 KiB, only high -> low =
    /// high / 4, only low -> high = 4 x low; `None` (ValueError) unless high >= low.
    pub fn marks_for(high: Option<u64>, low: Option<u64>) -> Option<(u64, u64)> {
        let high_default = 64 * 1024;
        let (high, low) = match (high, low) {
            (None, None) => (high_default, high_default / 4),
            (Some(h), None) => (h, h / 4),
            (None, Some(l)) => (l.saturating_mul(4), l),
            (Some(h), Some(l)) => (h, l),
        };
        (high >= low).then_some((high, low))
    }

    /// Bytes queued or in flight.
    pub fn size(&self) -> u64 {
        self.queued.len() as u64 + self.in_flight
    }

    /// Queues `parts` as one write unless the queue would pass `cap`; what is queued is also
    /// appended to `accepted`.
    fn write(
        &mut self,
        parts: &[Vec<u8>],
        cap: usize,
        accepted: &mut Vec<u8>,
    ) -> Result<(), QueueFull> {
        let add: u64 = parts.iter().map(|p| p.len() as u64).sum();
        if self.size() + add > cap as u64 {
            return Err(QueueFull);
        }
        for part in parts {
            self.queued.extend_from_slice(part);
            accepted.extend_from_slice(part);
        }
        Ok(())
    }
}

/// Runs a write scenario against [`WriteQueue`] and [`WriteModel`]. Besides every answer, checks
/// that the bytes taken by the sender are exactly the bytes accepted, in order (nothing lost,
/// duplicated or reordered, nothing refused partly), up to each `Clear`.
pub fn run_write_scenario(s: &WriteScenario) -> Result<(), Mismatch> {
    let mut q = WriteQueue::new(s.cap);
    let mut m = WriteModel {
        marks: (DEFAULT_HIGH, DEFAULT_HIGH / 4),
        ..WriteModel::default()
    };
    // The byte streams since the last clear: accepted by `push` and handed to the sender.
    let (mut accepted, mut taken) = (Vec::new(), Vec::new());
    for (i, op) in s.ops.iter().enumerate() {
        match op {
            WriteOp::Write(parts) => {
                let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                let got = q.push(&slices);
                let want = m.write(parts, s.cap, &mut accepted);
                same(&got, &want, format_args!("op #{i} write"))?;
            }
            WriteOp::WriteVec(data) => {
                let got = q.push_vec(data.clone());
                let want = m.write(std::slice::from_ref(data), s.cap, &mut accepted);
                same(&got, &want, format_args!("op #{i} write"))?;
            }
            WriteOp::Take => {
                same(
                    &q.has_queued(),
                    &!m.queued.is_empty(),
                    format_args!("op #{i} has_queued"),
                )?;
                let got = q.take();
                let want = std::mem::take(&mut m.queued);
                m.in_flight += want.len() as u64;
                same(&got, &want, format_args!("op #{i} take"))?;
                taken.extend_from_slice(&got);
            }
            WriteOp::Sent(n) => {
                q.sent(*n);
                m.in_flight = m.in_flight.saturating_sub(*n as u64);
            }
            WriteOp::Clear => {
                q.clear();
                m.queued.clear();
                m.in_flight = 0;
                accepted.clear();
                taken.clear();
            }
            WriteOp::SetMarks(high, low) => {
                let got = WaterMarks::new(*high, *low).ok();
                let want = WriteModel::marks_for(*high, *low);
                same(
                    &got.map(|w| (w.high, w.low)),
                    &want,
                    format_args!("op #{i} {op:?}"),
                )?;
                if let (Some(marks), Some(pair)) = (got, want) {
                    q.set_marks(marks);
                    m.marks = pair;
                }
            }
        }
        same(&(q.size() as u64), &m.size(), format_args!("op #{i} size"))?;
        same(
            &q.is_empty(),
            &(m.size() == 0),
            format_args!("op #{i} is_empty"),
        )?;
        same(
            &q.has_queued(),
            &!m.queued.is_empty(),
            format_args!("op #{i} has_queued"),
        )?;
        same(
            &q.above_high(),
            &(m.size() > m.marks.0),
            format_args!("op #{i} above_high"),
        )?;
        same(
            &q.at_or_below_low(),
            &(m.size() <= m.marks.1),
            format_args!("op #{i} at_or_below_low"),
        )?;
        same(
            &(q.marks().high, q.marks().low),
            &m.marks,
            format_args!("op #{i} marks"),
        )?;
        if q.size() > s.cap {
            return Err(Mismatch(format!(
                "op #{i}: size {} over the cap {}",
                q.size(),
                s.cap
            )));
        }
    }
    // Drain: everything accepted since the last clear reaches the sender, in order.
    taken.extend_from_slice(&q.take());
    same(&taken, &accepted, "bytes taken vs bytes accepted")
}
