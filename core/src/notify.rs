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
    /// The wakers of the listeners waiting now, each in the slot its listener holds.
    wakers: RefCell<Slots>,
}

/// Waker slots: the first inline, because most notifications have one listener at a time (a
/// connection's waiting read, each of its pumps), so waiting allocates nothing; any others in
/// `more`. Slot 0 is `first`, slot i > 0 is `more[i - 1]`; `None` is a free slot, left by a
/// listener dropped before the notification.
#[derive(Default)]
struct Slots {
    first: Option<Waker>,
    more: Vec<Option<Waker>>,
}

impl Slots {
    fn get_mut(&mut self, slot: usize) -> Option<&mut Option<Waker>> {
        match slot.checked_sub(1) {
            None => Some(&mut self.first),
            Some(i) => self.more.get_mut(i),
        }
    }

    /// Puts `waker` in a free slot and returns the slot.
    fn insert(&mut self, waker: Waker) -> usize {
        if self.first.is_none() {
            self.first = Some(waker);
            return 0;
        }
        match self.more.iter().position(Option::is_none) {
            Some(free) => {
                self.more[free] = Some(waker);
                free + 1
            }
            None => {
                self.more.push(Some(waker));
                self.more.len()
            }
        }
    }

    /// Frees `slot`, and the free slots at the end.
    fn remove(&mut self, slot: usize) {
        if let Some(waker) = self.get_mut(slot) {
            *waker = None;
        }
        while self.more.last().is_some_and(Option::is_none) {
            self.more.pop();
        }
    }
}

impl Notify {
    /// Wakes all current listeners.
    pub fn notify(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        let (first, more) = {
            let mut slots = self.wakers.borrow_mut();
            (slots.first.take(), std::mem::take(&mut slots.more))
        };
        for waker in first.into_iter().chain(more.into_iter().flatten()) {
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
        let slots = self.wakers.borrow();
        if slots.more.is_empty() {
            usize::from(slots.first.is_some())
        } else {
            1 + slots.more.len()
        }
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
        let slot = wakers.insert(cx.waker().clone());
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
        self.notify.wakers.borrow_mut().remove(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    /// Counts its wake-ups.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn every_listener_is_woken_once_and_free_slots_are_reused() {
        let notify = Notify::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut listeners: Vec<_> = (0..3).map(|_| Box::pin(notify.listen())).collect();
        for listen in &mut listeners {
            assert_eq!(listen.as_mut().poll(&mut cx), Poll::Pending);
        }
        assert_eq!(notify.registered(), 3);
        // The inline slot is freed and taken again by the next listener.
        drop(listeners.remove(0));
        assert_eq!(notify.registered(), 3);
        let mut again = Box::pin(notify.listen());
        assert_eq!(again.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(notify.registered(), 3);
        // A free slot at the end is given back.
        drop(listeners.pop());
        assert_eq!(notify.registered(), 2);
        notify.notify();
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
        assert_eq!(again.as_mut().poll(&mut cx), Poll::Ready(()));
        assert_eq!(listeners[0].as_mut().poll(&mut cx), Poll::Ready(()));
        assert_eq!(notify.registered(), 0);
    }

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
