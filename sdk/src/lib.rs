//! # wasio-sdk: asyncio Streams for Rust WebAssembly components
//!
//! Write a component that talks TCP the way asyncio's Streams API does — [`open_connection`],
//! [`start_server`], [`Reader`] (`StreamReader`), [`Writer`] (`StreamWriter`), [`Server`] — and
//! run it with `wasio run`.
//!
//! Two modes, one API and the same semantics:
//! - **linked** (the default feature `linked`): the stream semantics (the wasio-streams library)
//!   are linked into your component, and every call is a Rust call. Your component imports
//!   `wasi:sockets` and `wasio:host`, and `wasio run` runs it as it is. Pick it for Rust apps.
//! - **composed** (feature `composed`): your component imports the `wasio:streams` contract,
//!   and `wasio run` (or `wasio compose`) composes it with the wasio provider component, which
//!   implements it over the same library. Every call crosses the component boundary.
//!
//! ```no_run
//! # // no_run: the calls need a wasio host (wasi:sockets and wasio:host), only inside a component.
//! // An echo server: every line comes back.
//! wasio_sdk::main!(echo);
//!
//! async fn echo() -> wasio_sdk::Result<()> {
//!     let server = wasio_sdk::start_server("127.0.0.1", 8888).await?;
//!     println!("Serving on {}", server.sockets()[0]);
//!     server
//!         .serve_forever(|mut reader, writer| async move {
//!             loop {
//!                 let line = reader.readline().await?;
//!                 if line.is_empty() {
//!                     break;
//!                 }
//!                 writer.write(&line)?;
//!                 writer.drain().await?;
//!             }
//!             writer.close();
//!             writer.wait_closed().await
//!         })
//!         .await
//! }
//! # fn main() {}
//! ```
//!
//! - Reads take the contract's sync fast path first and make an async call only to wait. After a
//!   `read` that emptied the buffer, the next one waits first (request/response traffic).
//! - In composed mode, from 4 KiB on, `read`, `readexactly`, `AsyncRead` / `AsyncBufRead`, `write` and `AsyncWrite`
//!   move the bytes through a `stream<u8>` (the contract's `try-read-into` and `write-from`): the
//!   component model copies a stream in one go, a `list<u8>` element by element. `readline` and
//!   `readuntil` use lists.
//! - [`Writer::write_vec`] queues bytes the app hands over (such as what a read returned) without
//!   a copy in linked mode, where [`Writer::write`] copies its slice: at 100 KiB echoes that copy
//!   was a third of the server's time.
//! - [`Reader`] implements `futures::io::AsyncRead` and `AsyncBufRead`, [`Writer`] implements
//!   `AsyncWrite`, and [`Reader::lines`] is a `futures::Stream`, so futures-based code runs on
//!   wasio (e.g. `futures::io::copy(&mut reader, &mut writer)`).
//! - Every failure is an [`Error`] whose `Display` is asyncio's message.
//! - The crate targets `wasm32-wasip2`. It also compiles natively (for docs and type checks), but
//!   its calls work only inside a component run by a wasio host.
//!
//! The repository's README has the five-minute guide: a new crate, this dependency, build, `wasio
//! run`, and the composed mode with `wasio compose`.

// The generated bindings name the runtime through this crate's name, so that crates using the
// SDK's `main!` need no `wit-bindgen` dependency of their own.
extern crate self as wasio_sdk;

#[cfg(not(any(feature = "linked", feature = "composed")))]
compile_error!(
    "wasio-sdk needs one of its features: `linked` (the default: wasio-streams linked into the app) or `composed` (the provider component)"
);

pub mod bindings;

mod address;
mod bulk;
mod connect;
mod error;
mod io_read;
mod io_write;
mod lines;
mod options;
pub mod raw;
mod read_ahead;
mod reader;
mod run;
mod separators;
mod server;
mod writer;

pub use address::{
    ExtraInfo, InetAddress, PeerCertificate, PeerCredentials, SocketAddress, python_str_repr,
};
pub use connect::{
    open_connection, open_connection_with, open_unix_connection, open_unix_connection_with,
    socketpair,
};
pub use error::{Error, Result};
pub use lines::Lines;
pub use options::{
    AddressFamily, AdoptOptions, CertifiedKey, ClientTlsConfig, ConnectOptions, ServerOptions,
    ServerTlsConfig, TlsConfig, TrustRoots, UnixConnectOptions, UnixServerOptions,
};
pub use reader::Reader;
pub use run::{MainResult, set_exit_status, spawn};
pub use separators::Separators;
pub use server::{
    HANDLER_FAILED, Server, preopened_servers, start_server, start_server_with, start_unix_server,
    start_unix_server_with,
};
pub use writer::Writer;

/// Not public API: what the SDK's macros expand to.
#[doc(hidden)]
pub mod __private {
    pub use crate::run::MainResult;
    pub use wit_bindgen;
}
