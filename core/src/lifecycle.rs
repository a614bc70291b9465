//! A connection's lifecycle: what the app asked of it (`write_eof`, `close`, `abort`, `start_tls`)
//! and what happened to its transport (lost, closed), as one state machine.
//!
//! The provider keeps one [`Lifecycle`] per connection. Its reader, writer and pumps ask it what
//! to do next ([`Lifecycle::write_rule`], [`Lifecycle::send_step`],
//! [`Lifecycle::receive_should_stop`]) and tell it what happened ([`Lifecycle::lose`],
//! [`Lifecycle::pump_stopped`]); each transition says what the caller must do in return (wake a
//! pump, store the error, drop the transport). The phases follow asyncio's selector transport:
//! `_eof` (write_eof), `_closing` (close, abort and loss), `_conn_lost` (closed).

/// Where a connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase<E> {
    /// Both directions open.
    Open,
    /// `write_eof` was asked: the send side flushes the queue, then shuts (FIN); reading goes on.
    EofSent,
    /// `start_tls` stops both pumps so that their streams can be handed back and re-plumbed
    /// through a TLS session. A `close` asked meanwhile is kept and acted on once the new pumps
    /// run.
    Detaching {
        /// `close` was asked while detaching.
        close_requested: bool,
    },
    /// `close` was asked: the send side flushes the queue, then the receive side stops and the
    /// connection closes.
    Closing,
    /// `abort` was asked: the queue is dropped and both pumps stop. What the transport reports
    /// from then on is a consequence of the abort and is not reported.
    Aborted,
    /// The transport failed with this error (the first one): the queue is dropped and both pumps
    /// stop.
    Lost(E),
    /// Both pumps ended and the transport was dropped.
    Closed(End<E>),
}

/// How a closed connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End<E> {
    /// After `close` (or `write_eof` and the peer's EOF): every queued byte went out.
    Clean,
    /// After `abort`.
    Aborted,
    /// Lost with this error.
    Lost(E),
}

/// What the writer does with a write, by the phase (asyncio's `write` checks, in its order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRule {
    /// Queue it.
    Accept,
    /// Refuse it: `write_eof` was called (asyncio raises, whatever happened since).
    AfterEof,
    /// Drop it silently: the connection is closing or lost (asyncio counts and warns).
    Dropped,
}

/// What the send pump does when its queue is empty (or, for `Stop`, at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendNext {
    /// Send what is queued, or wait for more.
    Send,
    /// Aborted or lost: drop what is queued and stop.
    Stop,
    /// Once the queue is flushed: hand the stream back (`start_tls`).
    HandBack,
    /// Once the queue is flushed: end the stream (FIN) and stop.
    Finish,
}

/// What [`Lifecycle::lose`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// The first failure of a live connection: the caller stores the error for the reader and
    /// drops the write queue.
    First,
    /// After `abort`, or once already lost or closed: nothing to report.
    Unreported,
}

/// The background tasks that move a connection's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pump {
    /// Pulls from the transport into the read buffer.
    Receive,
    /// Moves the write queue into the transport.
    Send,
}

/// A connection's phase, whether `write_eof` was ever asked, and which pumps run.
#[derive(Debug, Clone)]
pub struct Lifecycle<E> {
    phase: Phase<E>,
    /// `write_eof` was asked at some point: asyncio refuses writes from then on, even once the
    /// connection is closing or closed.
    eof_requested: bool,
    receive_running: bool,
    send_running: bool,
}

impl<E> Default for Lifecycle<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Lifecycle<E> {
    /// An open connection whose two pumps run.
    pub fn new() -> Self {
        Lifecycle {
            phase: Phase::Open,
            eof_requested: false,
            receive_running: true,
            send_running: true,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase<E> {
        &self.phase
    }

    /// asyncio `is_closing`: close, abort or a loss happened.
    pub fn is_closing(&self) -> bool {
        !matches!(
            self.phase,
            Phase::Open
                | Phase::EofSent
                | Phase::Detaching {
                    close_requested: false
                }
        )
    }

    /// Fully closed: both pumps ended and the transport was dropped.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
    }

    /// Aborted or lost, now or before it closed: a drain fails with "Connection lost".
    pub fn failed(&self) -> bool {
        matches!(
            self.phase,
            Phase::Aborted | Phase::Lost(_) | Phase::Closed(End::Aborted | End::Lost(_))
        )
    }

    /// No byte will be sent any more: aborted, lost or closed.
    pub fn ended(&self) -> bool {
        self.failed() || self.is_closed()
    }

    /// `close` was asked (and neither abort nor a loss came since): the queue is being flushed
    /// before the connection closes.
    pub fn close_requested(&self) -> bool {
        matches!(
            self.phase,
            Phase::Closing
                | Phase::Detaching {
                    close_requested: true
                }
        )
    }

    /// Whether `start_tls` is stopping the pumps.
    pub fn detaching(&self) -> bool {
        matches!(self.phase, Phase::Detaching { .. })
    }

    /// Whether a pump still runs.
    pub fn running(&self, pump: Pump) -> bool {
        match pump {
            Pump::Receive => self.receive_running,
            Pump::Send => self.send_running,
        }
    }

    /// What `write` does with a write now.
    pub fn write_rule(&self) -> WriteRule {
        if self.eof_requested {
            WriteRule::AfterEof
        } else if self.is_closing() {
            WriteRule::Dropped
        } else {
            WriteRule::Accept
        }
    }

    /// What the send pump does: stop at once when aborted or lost, else send what is queued and
    /// then hand back (detaching), finish (close or write_eof asked) or wait for more.
    pub fn send_step(&self) -> SendNext {
        match self.phase {
            Phase::Aborted | Phase::Lost(_) | Phase::Closed(_) => SendNext::Stop,
            Phase::Detaching { .. } => SendNext::HandBack,
            Phase::Closing | Phase::EofSent => SendNext::Finish,
            Phase::Open => SendNext::Send,
        }
    }

    /// Whether the receive pump stops: when detaching, aborted or lost, and when closing once the
    /// send side has flushed (asyncio reads until its close has written everything).
    pub fn receive_should_stop(&self) -> bool {
        match self.phase {
            Phase::Detaching { .. } | Phase::Aborted | Phase::Lost(_) | Phase::Closed(_) => true,
            Phase::Closing => !self.send_running,
            Phase::Open | Phase::EofSent => false,
        }
    }

    /// The error the connection was lost with, once closed (`wait_closed` reports it).
    pub fn close_error(&self) -> Option<&E> {
        match &self.phase {
            Phase::Closed(End::Lost(error)) => Some(error),
            _ => None,
        }
    }

    /// asyncio `write_eof`: true when this call asked for it (the send pump must be woken). A
    /// no-op once asked, closing, lost or closed; while detaching it is kept for the new pumps.
    pub fn write_eof(&mut self) -> bool {
        match self.phase {
            Phase::Open if !self.eof_requested => {
                self.eof_requested = true;
                self.phase = Phase::EofSent;
                true
            }
            Phase::Detaching {
                close_requested: false,
            } if !self.eof_requested => {
                self.eof_requested = true;
                true
            }
            _ => false,
        }
    }

    /// asyncio `close`: true when this call asked for it (the pumps must be woken). Idempotent; a
    /// no-op once aborted, lost or closed.
    pub fn close(&mut self) -> bool {
        match self.phase {
            Phase::Open | Phase::EofSent => {
                self.phase = Phase::Closing;
                true
            }
            Phase::Detaching {
                close_requested: false,
            } => {
                self.phase = Phase::Detaching {
                    close_requested: true,
                };
                true
            }
            _ => false,
        }
    }

    /// asyncio `abort`: true unless the connection is closed already (the caller drops the queue
    /// and wakes everything). A lost connection stays lost, keeping its error.
    pub fn abort(&mut self) -> bool {
        match self.phase {
            Phase::Closed(_) => false,
            Phase::Lost(_) => true,
            _ => {
                self.phase = Phase::Aborted;
                true
            }
        }
    }

    /// Starts `start_tls`'s hand-over: true when started; false (the caller fails with a
    /// reset) unless the connection is open and `write_eof` was never asked.
    pub fn begin_detach(&mut self) -> bool {
        match self.phase {
            Phase::Open if !self.eof_requested => {
                self.phase = Phase::Detaching {
                    close_requested: false,
                };
                true
            }
            _ => false,
        }
    }

    /// Ends the hand-over: back to open, or on to what was asked meanwhile. A phase that a loss
    /// or an abort set meanwhile stays.
    pub fn end_detach(&mut self) {
        if let Phase::Detaching { close_requested } = self.phase {
            self.phase = if close_requested {
                Phase::Closing
            } else if self.eof_requested {
                Phase::EofSent
            } else {
                Phase::Open
            };
        }
    }
}

impl<E: Clone> Lifecycle<E> {
    /// The transport failed with `error`. The first failure of a live connection is reported
    /// ([`Loss::First`]); after an abort, or a second time, nothing changes.
    pub fn lose(&mut self, error: E) -> Loss {
        match self.phase {
            Phase::Aborted | Phase::Lost(_) | Phase::Closed(_) => Loss::Unreported,
            _ => {
                self.phase = Phase::Lost(error);
                Loss::First
            }
        }
    }

    /// Records that `pump` stopped.
    pub fn pump_stopped(&mut self, pump: Pump) {
        match pump {
            Pump::Receive => self.receive_running = false,
            Pump::Send => self.send_running = false,
        }
    }

    /// Records that fresh pumps run (after `start_tls` re-plumbed the streams).
    pub fn pumps_started(&mut self) {
        self.receive_running = true;
        self.send_running = true;
    }

    /// Closes the connection once both pumps stopped and a close, an abort or a loss ended it:
    /// true when this call closed it (the caller drops the transport and wakes every waiter).
    pub fn finish(&mut self) -> bool {
        if self.receive_running || self.send_running {
            return false;
        }
        let end = match &self.phase {
            Phase::Closing => End::Clean,
            Phase::Aborted => End::Aborted,
            Phase::Lost(error) => End::Lost(error.clone()),
            Phase::Open | Phase::EofSent | Phase::Detaching { .. } | Phase::Closed(_) => {
                return false;
            }
        };
        self.phase = Phase::Closed(end);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type L = Lifecycle<&'static str>;

    fn stop_pumps(l: &mut L) {
        l.pump_stopped(Pump::Receive);
        l.pump_stopped(Pump::Send);
    }

    #[test]
    fn close_flushes_then_stops_receiving_then_closes_cleanly() {
        let mut l = L::new();
        assert!(l.close());
        assert!(!l.close(), "close is idempotent");
        assert!(l.is_closing() && l.close_requested());
        assert_eq!(l.send_step(), SendNext::Finish);
        assert!(
            !l.receive_should_stop(),
            "reads go on until the send side flushed"
        );
        l.pump_stopped(Pump::Send);
        assert!(l.receive_should_stop());
        assert!(!l.finish(), "the receive pump still runs");
        l.pump_stopped(Pump::Receive);
        assert!(l.finish());
        assert_eq!(l.phase(), &Phase::Closed(End::Clean));
        assert!(!l.finish(), "closes once");
        assert!(!l.failed() && l.ended() && l.close_error().is_none());
    }

    #[test]
    fn write_eof_refuses_writes_forever_and_keeps_reading() {
        let mut l = L::new();
        assert!(l.write_eof());
        assert!(!l.write_eof());
        assert!(
            !l.is_closing(),
            "asyncio is_closing stays false after write_eof"
        );
        assert_eq!(l.write_rule(), WriteRule::AfterEof);
        assert_eq!(l.send_step(), SendNext::Finish);
        assert!(!l.receive_should_stop());
        assert!(l.close());
        assert_eq!(
            l.write_rule(),
            WriteRule::AfterEof,
            "asyncio checks _eof first"
        );
        stop_pumps(&mut l);
        assert!(l.finish());
        assert_eq!(l.write_rule(), WriteRule::AfterEof);
    }

    #[test]
    fn writes_are_dropped_once_closing_or_lost() {
        let mut l = L::new();
        assert_eq!(l.write_rule(), WriteRule::Accept);
        l.close();
        assert_eq!(l.write_rule(), WriteRule::Dropped);
        let mut l = L::new();
        assert_eq!(l.lose("reset"), Loss::First);
        assert_eq!(l.write_rule(), WriteRule::Dropped);
        assert!(
            !l.write_eof(),
            "write_eof after a loss is a no-op, as asyncio's after _force_close"
        );
        assert_eq!(l.write_rule(), WriteRule::Dropped);
    }

    #[test]
    fn the_first_loss_wins_and_is_reported_when_closed() {
        let mut l = L::new();
        assert_eq!(l.lose("reset"), Loss::First);
        assert_eq!(l.lose("broken pipe"), Loss::Unreported);
        assert!(!l.close(), "close after a loss changes nothing");
        assert!(l.abort(), "abort after a loss still drops what is left");
        assert_eq!(l.phase(), &Phase::Lost("reset"));
        assert_eq!(l.send_step(), SendNext::Stop);
        assert!(l.receive_should_stop());
        stop_pumps(&mut l);
        assert!(l.finish());
        assert_eq!(l.close_error(), Some(&"reset"));
        assert!(l.failed());
    }

    #[test]
    fn losses_after_abort_are_not_reported() {
        let mut l = L::new();
        assert!(l.abort());
        assert_eq!(l.lose("reset"), Loss::Unreported);
        assert!(l.failed() && l.is_closing());
        assert_eq!(l.send_step(), SendNext::Stop);
        stop_pumps(&mut l);
        assert!(l.finish());
        assert_eq!(l.phase(), &Phase::Closed(End::Aborted));
        assert!(l.failed(), "a drain after an abort fails, also once closed");
        assert!(l.close_error().is_none());
        assert!(!l.abort(), "abort of a closed connection does nothing");
    }

    #[test]
    fn an_open_connection_whose_pumps_stopped_does_not_close_by_itself() {
        let mut l = L::new();
        stop_pumps(&mut l);
        assert!(!l.finish());
        assert!(l.write_eof());
        assert!(
            !l.finish(),
            "write_eof and the peer's EOF leave it open until close"
        );
        assert!(l.close());
        assert!(l.finish());
    }

    #[test]
    fn detach_hands_back_then_reopens() {
        let mut l = L::new();
        assert!(l.begin_detach());
        assert!(l.detaching() && !l.is_closing());
        assert_eq!(l.send_step(), SendNext::HandBack);
        assert!(l.receive_should_stop());
        stop_pumps(&mut l);
        assert!(!l.finish(), "handed-back pumps do not close the connection");
        l.end_detach();
        l.pumps_started();
        assert_eq!(l.phase(), &Phase::Open);
        assert!(!l.receive_should_stop());
    }

    #[test]
    fn detach_is_refused_unless_open() {
        for setup in [L::close, L::write_eof, L::abort] {
            let mut l = L::new();
            setup(&mut l);
            assert!(!l.begin_detach());
        }
        let mut l = L::new();
        l.lose("reset");
        assert!(!l.begin_detach());
        let mut l = L::new();
        assert!(l.begin_detach());
        assert!(!l.begin_detach(), "one hand-over at a time");
    }

    #[test]
    fn requests_while_detaching_are_acted_on_after() {
        let mut l = L::new();
        assert!(l.begin_detach());
        assert!(l.write_eof());
        assert_eq!(l.write_rule(), WriteRule::AfterEof);
        l.end_detach();
        assert_eq!(l.phase(), &Phase::EofSent);

        let mut l = L::new();
        assert!(l.begin_detach());
        assert!(l.close());
        assert!(l.is_closing() && l.close_requested());
        assert_eq!(l.write_rule(), WriteRule::Dropped);
        assert!(!l.write_eof(), "write_eof once closing is a no-op");
        stop_pumps(&mut l);
        assert!(!l.finish(), "the close waits for the new pumps to flush");
        l.end_detach();
        assert_eq!(l.phase(), &Phase::Closing);
    }

    #[test]
    fn a_loss_or_abort_while_detaching_stays() {
        let mut l = L::new();
        assert!(l.begin_detach());
        assert_eq!(l.lose("reset"), Loss::First);
        l.end_detach();
        assert_eq!(l.phase(), &Phase::Lost("reset"));

        let mut l = L::new();
        assert!(l.begin_detach());
        assert!(l.abort());
        l.end_detach();
        assert_eq!(l.phase(), &Phase::Aborted);
    }
}
