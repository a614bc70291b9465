//! The host's integration tests, in one binary: each test binary links all of wasmtime, so one
//! link instead of four saves build time and disk.

mod capabilities;
mod cli;
mod cli_tls;
mod compose;
