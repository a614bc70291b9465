//! The properties wasio's fuzz targets check. Each target is a function from the fuzzer's bytes
//! that panics (the fuzzer's crash signal) when a property fails; the cargo-fuzz crate in `fuzz/`
//! wraps each in `fuzz_target!`, and `tests/corpus.rs` replays the committed seed corpora through
//! them on stable Rust, so CI checks the seeds without nightly.
//!
//! Panicking on a failed property is this crate's purpose, hence the `clippy::panic` allowance.

#![allow(clippy::panic)]

pub mod addr_pattern;
pub mod listen_spec;
pub mod pem;
pub mod stream_core;
pub mod unix_grant;

/// A target's check: panics when a property fails for the input.
pub type Check = fn(&[u8]);

/// Every target: its name (the cargo-fuzz target and the `fuzz/corpus/` folder) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("stream_core", stream_core::check),
    ("addr_pattern", addr_pattern::check),
    ("unix_grant", unix_grant::check),
    ("listen_spec", listen_spec::check),
    ("pem", pem::check),
];
