//! The receive pump: pulls from the transport's receive stream into the reader buffer, within
//! read-side flow control and the run's memory budget.

use super::{Completion, Conn};
use futures::future::{Either, select};
use std::pin::pin;
use std::rc::Rc;
use wasio_core::budget::{self, Pull};
use wasio_core::lifecycle::Pump;
use wasio_core::{ChunkSizer, chunk_size};
use wit_bindgen::{StreamReader, StreamResult};

/// Pulls bytes from the transport into the reader buffer until EOF, an error, or a stop.
///
/// Over a socket (`readiness`: its stream's zero-length read completes when bytes arrive) an
/// idle pump waits with a zero-length read, holding no buffer; over TLS, whose stream is ready
/// at once, with a small one (see [`ChunkSizer`]).
pub(super) async fn receive_pump(
    conn: Rc<Conn>,
    mut rx: StreamReader<u8>,
    done: Completion,
    readiness: bool,
) {
    let mut chunk: Vec<u8> = Vec::new();
    // Small requests while idle, big ones while bytes keep coming (see ChunkSizer).
    let mut sizer = if readiness {
        ChunkSizer::with_readiness()
    } else {
        ChunkSizer::new()
    };
    let ended = loop {
        // Wait until flow control and the budget let us pull, or we must stop. Before waiting,
        // the pump gives back its receive buffer and what the read buffer does not need.
        let mut trimmed = false;
        let want = loop {
            let listen = conn.pump_event.listen();
            let pressure = conn.limits.pressure.listen();
            if conn.receive_should_stop() {
                break None;
            }
            {
                let mut state = conn.state.borrow_mut();
                let read = &mut state.read;
                let (len, limit, demand) = (read.buffer.len(), read.limit, read.demand);
                let spent = conn.limits.under_pressure();
                match budget::pull(&mut read.flow, len, limit, demand, spent, sizer.next()) {
                    Pull::Receive(want) => break Some(want),
                    Pull::Wait if !trimmed => {
                        read.buffer.trim();
                        chunk = Vec::new();
                        read.receiving = 0;
                    }
                    Pull::Wait => {}
                }
            }
            if !trimmed {
                trimmed = true;
                conn.account();
            }
            select(listen, pressure).await;
        };
        let Some(want) = want else {
            break false;
        };
        if chunk_size::too_big(chunk.capacity(), want) {
            chunk = Vec::new();
        }
        if chunk.capacity() < want {
            chunk.reserve_exact(want);
        }
        let requested = chunk.capacity();
        {
            let mut state = conn.state.borrow_mut();
            state.read.receiving = requested;
            state.read.in_flight = true;
        }
        conn.account();
        let (result, buf, stopped) = {
            let mut read = pin!(rx.read(chunk));
            // Stop, or cancel a read-ahead receive once the budget is spent.
            let interrupt = pin!(async {
                loop {
                    let listen = conn.pump_event.listen();
                    let pressure = conn.limits.pressure.listen();
                    if conn.receive_should_stop() || conn.read_ahead_under_pressure() {
                        return;
                    }
                    select(listen, pressure).await;
                }
            });
            match select(read.as_mut(), interrupt).await {
                Either::Left(((result, buf), _)) => (result, buf, false),
                Either::Right(((), _)) => {
                    // Cancel the in-flight read, keeping what it already got.
                    let (result, buf) = read.as_mut().cancel();
                    (result, buf, conn.receive_should_stop())
                }
            }
        };
        conn.state.borrow_mut().read.in_flight = false;
        chunk = buf;
        match (requested, &result) {
            (0, StreamResult::Complete(_)) => sizer.ready(),
            // A zero-length read called off: still waiting for bytes.
            (0, _) => {}
            _ => sizer.record(requested, chunk.len()),
        }
        if !chunk.is_empty() {
            let mut state = conn.state.borrow_mut();
            chunk = state.read.buffer.absorb(std::mem::take(&mut chunk));
            drop(state);
            conn.read_event.notify();
        }
        conn.state.borrow_mut().read.receiving = chunk.capacity();
        conn.account();
        match result {
            StreamResult::Dropped => break true,
            _ if stopped => break false,
            StreamResult::Complete(_) | StreamResult::Cancelled => continue,
        }
    };
    drop(chunk);
    conn.state.borrow_mut().read.receiving = 0;
    conn.account();
    if !ended && conn.handing_back() {
        conn.handback.borrow_mut().receive = Some((rx, done));
        conn.state.borrow_mut().life.pump_stopped(Pump::Receive);
        conn.detach_event.notify();
        return;
    }
    drop(rx);
    // Never drop the completion: it says whether the receive side ended cleanly.
    let result = done.await;
    conn.detach_event.notify();
    {
        let mut state = conn.state.borrow_mut();
        state.life.pump_stopped(Pump::Receive);
        if ended && result.is_ok() {
            state.read.buffer.set_eof();
        }
    }
    match result {
        Err(error) if ended => conn.lose(error),
        _ => conn.read_event.notify(),
    }
    conn.maybe_finish();
}
