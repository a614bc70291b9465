//! Listeners shared by the workers of one run (`wasio run --workers N`).
//!
//! Every worker runs the same app, which binds the same addresses: the first worker to bind an
//! address makes the socket, and every other worker that binds it gets a duplicate of that
//! socket's descriptor instead of a socket of its own. So all workers accept from one accept
//! queue, and the kernel hands each connection to one of them. Sharing is keyed by the address
//! as the app asked for it (port 0 included: every worker's first listener on `127.0.0.1:0`
//! is the same socket, on the port the first bind got) and by how many times the app bound that
//! address before (an app with two servers on `127.0.0.1:0` gets two shared sockets).
//!
//! A shared socket stays open while any worker holds it (the table lets go of it once every
//! worker has taken it); a Unix socket file is registered once, by the first worker, in the run's
//! [`SocketFiles`](crate::socket_files::SocketFiles).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};

/// What an app bound, as it asked for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ShareKey {
    /// A TCP bind, with the options that decide whether two binds could share a port.
    Tcp {
        /// The address the app bound (port 0 when it let the OS choose).
        requested: SocketAddr,
        /// SO_REUSEADDR.
        reuse_address: bool,
        /// SO_REUSEPORT.
        reuse_port: bool,
    },
    /// A Unix listener at this address (a path as the app gave it, or `\0` and an abstract name).
    Unix(String),
}

/// The run-wide table of shared sockets: give every worker's context a clone
/// ([`WasioCtxBuilder::share_listeners`](crate::WasioCtxBuilder::share_listeners)).
///
/// The table holds a socket only until every worker has taken it: then the workers alone keep
/// it open, and it closes when they close it. At most [`MOST_WAITING`] sockets wait in the table
/// for workers that have not bound them yet; beyond that a bind is not shared (the worker gets
/// a socket of its own), so an app that binds ever more addresses in one worker only cannot
/// make the table hold descriptors without bound.
#[derive(Clone, Debug)]
pub struct ListenerShare {
    workers: usize,
    table: Arc<Mutex<HashMap<(ShareKey, usize), Waiting>>>,
}

/// The most sockets the table holds for workers that have not taken them yet.
pub const MOST_WAITING: usize = 64;

/// A shared socket in the table, and how many workers have taken it.
#[derive(Debug)]
struct Waiting {
    fd: OwnedFd,
    taken: usize,
}

impl ListenerShare {
    /// An empty share for a run of `workers` workers.
    pub fn new(workers: usize) -> Self {
        Self {
            workers,
            table: Arc::default(),
        }
    }

    /// The `nth` socket (from 0) bound as `key` in this run: a duplicate of the one another
    /// worker made, or the one `make` makes now (kept for the others). Made under the table's
    /// lock, so two workers binding at once cannot both make it.
    fn claim<S: AsFd, E: From<io::Error>>(
        &self,
        key: ShareKey,
        nth: usize,
        make: impl FnOnce() -> Result<S, E>,
        adopt: impl FnOnce(OwnedFd) -> Result<S, E>,
    ) -> Result<Shared<S>, E> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let place = (key, nth);
        if let Some(waiting) = table.get_mut(&place) {
            let socket = adopt(waiting.fd.try_clone()?)?;
            waiting.taken += 1;
            if waiting.taken >= self.workers {
                table.remove(&place);
            }
            return Ok(Shared::Adopted(socket));
        }
        let socket = make()?;
        if self.workers > 1 && table.len() < MOST_WAITING {
            let fd = socket.as_fd().try_clone_to_owned()?;
            table.insert(place, Waiting { fd, taken: 1 });
        }
        Ok(Shared::Made(socket))
    }

    /// How many sockets wait in the table.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A socket from [`Sharing::claim`].
pub enum Shared<S> {
    /// This worker made it.
    Made(S),
    /// Another worker made it; this is a duplicate of its descriptor.
    Adopted(S),
}

/// One worker's view of a [`ListenerShare`]: counts its own binds per key, so that its `nth`
/// bind of an address meets every other worker's `nth`.
#[derive(Debug)]
pub struct Sharing {
    share: ListenerShare,
    counts: HashMap<ShareKey, usize>,
}

impl Sharing {
    pub(crate) fn new(share: ListenerShare) -> Self {
        Self {
            share,
            counts: HashMap::new(),
        }
    }

    /// The socket this worker's next bind as `key` gets (see [`ListenerShare::claim`]).
    pub fn claim<S: AsFd, E: From<io::Error>>(
        &mut self,
        key: ShareKey,
        make: impl FnOnce() -> Result<S, E>,
        adopt: impl FnOnce(OwnedFd) -> Result<S, E>,
    ) -> Result<Shared<S>, E> {
        let count = self.counts.entry(key.clone()).or_default();
        let nth = *count;
        let claimed = self.share.claim(key, nth, make, adopt)?;
        *count += 1;
        Ok(claimed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::os::fd::AsRawFd as _;

    fn listener() -> io::Result<std::net::TcpListener> {
        std::net::TcpListener::bind("127.0.0.1:0")
    }

    fn adopt(fd: OwnedFd) -> io::Result<std::net::TcpListener> {
        Ok(std::net::TcpListener::from(fd))
    }

    fn key() -> ShareKey {
        ShareKey::Tcp {
            requested: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
            reuse_address: true,
            reuse_port: false,
        }
    }

    /// The socket and whether this worker made it.
    fn split(shared: Shared<std::net::TcpListener>) -> (std::net::TcpListener, bool) {
        match shared {
            Shared::Made(s) => (s, true),
            Shared::Adopted(s) => (s, false),
        }
    }

    #[test]
    fn the_nth_bind_of_an_address_is_one_socket_across_workers() -> io::Result<()> {
        let share = ListenerShare::new(2);
        let (mut one, mut two) = (Sharing::new(share.clone()), Sharing::new(share.clone()));
        let (first, made_first) = split(one.claim(key(), listener, adopt)?);
        let (second, made_second) = split(one.claim(key(), listener, adopt)?);
        let (first_again, made_first_again) = split(two.claim(key(), listener, adopt)?);
        let (second_again, made_second_again) = split(two.claim(key(), listener, adopt)?);
        assert!(made_first && made_second, "the first worker made both");
        assert!(
            !made_first_again && !made_second_again,
            "the second adopted both"
        );
        assert_eq!(first_again.local_addr()?, first.local_addr()?);
        assert_eq!(second_again.local_addr()?, second.local_addr()?);
        assert_ne!(first.local_addr()?, second.local_addr()?);
        assert_ne!(first_again.as_raw_fd(), first.as_raw_fd());
        assert_eq!(
            share.waiting(),
            0,
            "every worker took both: the table holds neither"
        );
        Ok(())
    }

    #[test]
    fn a_failed_make_takes_no_place() -> io::Result<()> {
        let mut one = Sharing::new(ListenerShare::new(2));
        let failed = one.claim(key(), || Err(io::Error::other("no")), adopt);
        assert!(failed.is_err());
        assert!(split(one.claim(key(), listener, adopt)?).1);
        Ok(())
    }

    #[test]
    fn binds_no_other_worker_takes_hold_at_most_the_bound() -> io::Result<()> {
        let share = ListenerShare::new(2);
        let mut one = Sharing::new(share.clone());
        let mut sockets = Vec::new();
        for _ in 0..2 * MOST_WAITING {
            sockets.push(split(one.claim(key(), listener, adopt)?).0);
        }
        assert_eq!(share.waiting(), MOST_WAITING);
        Ok(())
    }
}
