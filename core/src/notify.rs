//! A single-threaded notification: tasks wait for "something changed" and re-check their state.
//! Waiting captures a generation number, so a notification between capture and await is not lost.
//!
//! A listener's waker is registered only while the listener exists: dropping a [`Listen`] that
//! was never notified (a read that finished some other way, the losing side of a `select`)
//! removes its waker. Without that, a notification that rarely fires (an `interrupt`) would
//! collect one waker per wait for the life of its object, and each poll would scan them all.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Wakes every listener registered before the next [`Notify::notify`].
#[derive(Default)]
pub struct Notify {
    generation: Cell<u64>,
    /// The id the next registering listener gets.
    next_id: Cell<u64>,
    /// The wakers of the listeners waiting now, by listener id.
    wakers: RefCell<Vec<(u64, Waker)>>,
}

impl Notify {
    /// Wakes all current listeners.
    pub fn notify(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        let wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        for (_, waker) in wakers {
            waker.wake();
        }
    }

    /// A future that completes at the next `notify` after this call.
    pub fn listen(&self) -> Listen<'_> {
        Listen {
            notify: self,
            generation: self.generation.get(),
            id: None,
        }
    }

    /// How many listeners have a waker registered.
    #[cfg(test)]
    fn registered(&self) -> usize {
        self.wakers.borrow().len()
    }
}

/// See [`Notify::listen`]. Cancel safe: dropping it unregisters its waker.
pub struct Listen<'a> {
    notify: &'a Notify,
    generation: u64,
    /// This listener's id once it has registered a waker.
    id: Option<u64>,
}

impl Future for Listen<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let notify = self.notify;
        if notify.generation.get() != self.generation {
            // `notify` took every registered waker, this one's included.
            self.id = None;
            return Poll::Ready(());
        }
        let mut wakers = notify.wakers.borrow_mut();
        let registered = self
            .id
            .and_then(|id| wakers.iter_mut().find(|(other, _)| *other == id));
        match registered {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => {
                let id = notify.next_id.get();
                notify.next_id.set(id.wrapping_add(1));
                wakers.push((id, cx.waker().clone()));
                self.id = Some(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for Listen<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            let mut wakers = self.notify.wakers.borrow_mut();
            if let Some(at) = wakers.iter().position(|(other, _)| *other == id) {
                wakers.swap_remove(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::Waker;

    fn poll_once(listen: Pin<&mut Listen<'_>>) -> Poll<()> {
        listen.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_dropped_listener_leaves_no_waker() {
        let notify = Notify::default();
        for _ in 0..1000 {
            let mut listen = pin!(notify.listen());
            assert_eq!(poll_once(listen.as_mut()), Poll::Pending);
            assert_eq!(poll_once(listen.as_mut()), Poll::Pending);
        }
        assert_eq!(notify.registered(), 0);
    }

    #[test]
    fn a_notification_wakes_listeners_that_wait_and_ones_not_yet_polled() {
        let notify = Notify::default();
        let mut waiting = pin!(notify.listen());
        assert_eq!(poll_once(waiting.as_mut()), Poll::Pending);
        let mut not_polled = pin!(notify.listen());
        notify.notify();
        assert_eq!(poll_once(waiting.as_mut()), Poll::Ready(()));
        assert_eq!(poll_once(not_polled.as_mut()), Poll::Ready(()));
        let mut later = pin!(notify.listen());
        assert_eq!(poll_once(later.as_mut()), Poll::Pending);
        assert_eq!(notify.registered(), 1);
    }
}
