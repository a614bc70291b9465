//! Integration tests: the provider and example components run for real in wasmtime, against
//! native tokio peers and CPython's asyncio. One test binary, so each component is compiled once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod capabilities;
mod client;
mod echo_server;
mod faults;
mod interop;
mod limits;
mod pressure;
mod sdk;
mod streams;
mod tcp_options;
mod tls;
#[cfg(unix)]
mod unix;
