//! A connector: `open_connection` and `open_unix_connection` that `interrupt` can end, for a
//! caller that cannot drop an in-flight call (componentize-py's runtime cannot cancel a subtask).
//! An interrupt drops the connect's future, which calls off its attempts and TLS handshake and
//! closes whatever they had opened: nothing is left open or counted against the run's limits.

use crate::Connection;
use crate::timeout::bounded;
use crate::types::{ConnectOptions, ErrorCode, UnixConnectOptions};
use std::future::Future;
use wasio_core::notify::Notify;

/// Opens connections that [`Connector::interrupt`] can end.
#[derive(Default)]
pub struct Connector {
    /// Notified by `interrupt`: ends the calls in progress.
    interrupt: Notify,
}

impl Connector {
    /// A connector with no call in progress (the contract's constructor).
    pub fn new() -> Self {
        Self::default()
    }

    /// [`crate::open_connection`], ended with `interrupted` by [`Connector::interrupt`].
    pub fn open_connection(
        &self,
        host: String,
        port: u16,
        options: ConnectOptions,
    ) -> impl Future<Output = Result<Connection, ErrorCode>> + '_ {
        self.interruptible(crate::open_connection(host, port, options))
    }

    /// [`crate::open_unix_connection`], ended with `interrupted` by [`Connector::interrupt`].
    pub fn open_unix_connection(
        &self,
        path: String,
        options: UnixConnectOptions,
    ) -> impl Future<Output = Result<Connection, ErrorCode>> + '_ {
        self.interruptible(crate::open_unix_connection(path, options))
    }

    /// `connect` bounded by this connector's interrupt. The listener is taken here, when the
    /// call is made, so an `interrupt` after the call ends it even before its future first runs.
    fn interruptible<'a, F>(&'a self, connect: F) -> impl Future<Output = F::Output> + 'a
    where
        F: Future<Output = Result<Connection, ErrorCode>> + 'a,
    {
        bounded(None, self.interrupt.listen(), connect)
    }

    /// Ends every call in progress with `interrupted`; does nothing when none is.
    pub fn interrupt(&self) {
        self.interrupt.notify();
    }
}
