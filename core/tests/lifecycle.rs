//! Property test: random sequences of what an app asks of a connection and what its transport
//! and pumps report, against the lifecycle's invariants (asyncio's transport rules): closing,
//! failure and `write_eof` are never undone, the first loss is the one reported, a connection
//! closes once and only after both pumps stopped, and a closed connection never changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use wasio_core::lifecycle::{End, Lifecycle, Loss, Phase, Pump, WriteRule};

#[derive(Debug, Clone)]
enum Event {
    WriteEof,
    Close,
    Abort,
    Lose(u8),
    Stop(Pump),
    BeginDetach,
    EndDetach,
    Finish,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::WriteEof),
        Just(Event::Close),
        Just(Event::Abort),
        (0u8..4).prop_map(Event::Lose),
        Just(Event::Stop(Pump::Receive)),
        Just(Event::Stop(Pump::Send)),
        Just(Event::BeginDetach),
        Just(Event::EndDetach),
        Just(Event::Finish),
    ]
}

proptest! {
    #[test]
    fn lifecycle_invariants(events in proptest::collection::vec(event(), 0..40)) {
        let mut l: Lifecycle<u8> = Lifecycle::new();
        let mut first_loss: Option<u8> = None;
        let mut aborted_first = false;
        let mut finished = 0;
        for e in events {
            let before = l.clone();
            match e {
                Event::WriteEof => { l.write_eof(); }
                Event::Close => { l.close(); }
                Event::Abort => {
                    if l.abort() && first_loss.is_none() {
                        aborted_first = true;
                    }
                }
                Event::Lose(n) => {
                    if l.lose(n) == Loss::First {
                        prop_assert!(first_loss.is_none() && !aborted_first);
                        first_loss = Some(n);
                    }
                }
                Event::Stop(pump) => l.pump_stopped(pump),
                Event::BeginDetach => {
                    if l.begin_detach() {
                        prop_assert_eq!(before.phase(), &Phase::Open);
                        prop_assert_eq!(before.write_rule(), WriteRule::Accept);
                    }
                }
                Event::EndDetach => {
                    let was = l.detaching();
                    l.end_detach();
                    if was {
                        l.pumps_started();
                    }
                }
                Event::Finish => {
                    if l.finish() {
                        finished += 1;
                        prop_assert!(!before.running(Pump::Receive) && !before.running(Pump::Send));
                    }
                }
            }
            // Nothing is undone.
            prop_assert!(!before.is_closing() || l.is_closing());
            prop_assert!(!before.failed() || l.failed());
            prop_assert!(before.write_rule() != WriteRule::AfterEof || l.write_rule() == WriteRule::AfterEof);
            if before.is_closed() {
                prop_assert_eq!(before.phase(), l.phase());
            }
            // Lost means the first loss, and a closed connection reports it.
            if let Phase::Lost(n) | Phase::Closed(End::Lost(n)) = l.phase() {
                prop_assert_eq!(Some(*n), first_loss);
            }
            prop_assert_eq!(l.close_error().copied(), if l.is_closed() { first_loss } else { None });
            // A closing or failed connection takes no write.
            if l.is_closing() {
                prop_assert!(l.write_rule() != WriteRule::Accept);
            }
            prop_assert!(finished <= 1);
            prop_assert_eq!(finished == 1, l.is_closed());
        }
    }
}
