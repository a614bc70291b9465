//! The test and bench components, embedded at build time: the probe (`PROBE`, tests/apps/probe),
//! the ported CPython stream tests (`STREAMS_TESTS`), the SDK and TLS test apps (`SDK_APP`,
//! `TLS_APP`), wasio-bench's line server (`LINE_ECHO`, bench/apps/line-echo) and its raw
//! wasi:sockets floor (`FLOOR_ECHO`, bench/apps/floor-echo). Only tests and wasio-bench depend on
//! this crate (the host as a dev-dependency), so editing a test app rebuilds no product crate.
//! `build.rs` builds every member of the wasm workspace (wasm/Cargo.toml) under tests/ or bench/;
//! those that use wasio-sdk are built twice, linked (the statics here) and composed
//! ([`composed`], [`composed_variant`]).

include!(concat!(env!("OUT_DIR"), "/components.rs"));
