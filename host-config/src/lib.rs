//! The wasio host's parsers of outside input, free of wasmtime and tokio so that they can be
//! tested and fuzzed on their own (see `fuzz/`). `wasio-host` re-exports each module where it
//! uses it; the host's API is unchanged.
//!
//! - [`pattern`]: TCP address patterns (`--allow-connect`, `--allow-listen`).
//! - [`unix_grants`]: Unix socket path grants (`--allow-unix`).
//! - [`unix_path`]: Unix socket paths held by descriptor (what the grants check and the host uses).
//! - [`listen`]: pre-opened listener specs (`--listen`).
//! - [`pem`]: certificates, private keys and CA bundles in PEM, as apps hand them to the host's TLS.

pub mod listen;
pub mod pattern;
pub mod pem;
pub mod unix_grants;
pub mod unix_path;
