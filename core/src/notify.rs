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
    /// The wakers of the listeners waiting now, each in the slot its listener holds (`None`: a
    /// free slot, left by a listener dropped before the notification).
    wakers: RefCell<Vec<Option<Waker>>>,
}

impl Notify {
    /// Wakes all current listeners.
    pub fn notify(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        let wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }

    /// A future that completes at the next `notify` after this call.
    pub fn listen(&self) -> Listen<'_> {
        Listen {
            notify: self,
            generation: self.generation.get(),
            slot: None,
        }
    }

    /// How many waker slots are held (registered wakers and free slots between them).
    #[cfg(test)]
    fn registered(&self) -> usize {
        self.wakers.borrow().len()
    }
}

/// See [`Notify::listen`]. Cancel safe: dropping it unregisters its waker.
pub struct Listen<'a> {
    notify: &'a Notify,
    generation: u64,
    /// This listener's slot in the wakers once it has registered one (valid while the
    /// generation has not moved: a notification empties every slot).
    slot: Option<usize>,
}

impl Future for Listen<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let notify = self.notify;
        if notify.generation.get() != self.generation {
            // `notify` took every registered waker, this one's included.
            self.slot = None;
            return Poll::Ready(());
        }
        let mut wakers = notify.wakers.borrow_mut();
        if let Some(Some(waker)) = self.slot.and_then(|i| wakers.get_mut(i)) {
            waker.clone_from(cx.waker());
            return Poll::Pending;
        }
        let waker = Some(cx.waker().clone());
        let slot = match wakers.iter().position(Option::is_none) {
            Some(free) => {
                wakers[free] = waker;
                free
            }
            None => {
                wakers.push(waker);
                wakers.len() - 1
            }
        };
        self.slot = Some(slot);
        Poll::Pending
    }
}

impl Drop for Listen<'_> {
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        if self.notify.generation.get() != self.generation {
            return;
        }
        let mut wakers = self.notify.wakers.borrow_mut();
        if let Some(waker) = wakers.get_mut(slot) {
            *waker = None;
        }
        while wakers.last().is_some_and(Option::is_none) {
            wakers.pop();
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
