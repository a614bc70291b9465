//! The contract the SDK's types wrap, in the mode the app was built for: the provider's
//! `wasio:streams` imports (feature `composed`), or wasio-streams called directly (linked mode,
//! the default). Both have the same functions and methods, with the same signatures, so the rest
//! of the SDK is the same code in both modes; only the bulk paths differ (see `bulk`).

#[cfg(feature = "composed")]
pub use crate::bindings::wasio::streams::streams::{
    Connection, Reader, Server, Serving, Timer, Writer, open_connection, open_unix_connection,
    preopened_servers, set_exit_status, socketpair, start_server, start_unix_server,
};

#[cfg(not(feature = "composed"))]
pub use wasio_streams::{
    Connection, Reader, Server, Serving, Timer, Writer, open_connection, open_unix_connection,
    preopened_servers, set_exit_status, socketpair, start_server, start_unix_server,
};
