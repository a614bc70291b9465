//! The wasm32-wasip2 components wasio ships, embedded at build time: the provider (`PROVIDER`,
//! exports `wasio:streams`) and the example apps (the asyncio docs' examples: `ECHO_SERVER`,
//! `ECHO_CLIENT`, `HTTP_HEADERS`, `SOCKETPAIR`). `build.rs` builds every member of the wasm
//! workspace (wasm/Cargo.toml) outside tests/ and bench/ with a nested cargo, so `cargo build`
//! alone builds everything; the test components are `wasio-test-components`' (tests/components).

include!(concat!(env!("OUT_DIR"), "/components.rs"));
