//! The wasm32-wasip2 components wasio ships, embedded at build time: the provider (exports
//! `wasio:streams`) and the example apps (the asyncio docs' examples). `build.rs` builds them from
//! `guest/` and `examples/` with a nested cargo, so `cargo build` alone builds everything.

/// The provider component: asyncio streams semantics over wasi:sockets and wasio:host.
pub static PROVIDER: &[u8] = include_bytes!(env!("WASIO_PROVIDER_WASM"));

/// The asyncio docs' TCP echo server as an app component (serves many clients at once).
pub static ECHO_SERVER: &[u8] = include_bytes!(env!("WASIO_ECHO_SERVER_WASM"));

/// The asyncio docs' TCP echo client (`tcp_echo_client`) as an app component.
pub static ECHO_CLIENT: &[u8] = include_bytes!(env!("WASIO_ECHO_CLIENT_WASM"));

/// The asyncio docs' "get HTTP headers" example as an app component.
pub static HTTP_HEADERS: &[u8] = include_bytes!(env!("WASIO_HTTP_HEADERS_WASM"));

/// The asyncio docs' "register an open socket to wait for data" example (a socketpair) as an
/// app component; prints `Received: abc`.
pub static SOCKETPAIR: &[u8] = include_bytes!(env!("WASIO_SOCKETPAIR_WASM"));

/// A test app (tests/probe) that runs one named client scenario and prints what it saw; used by
/// the integration tests.
pub static PROBE: &[u8] = include_bytes!(env!("WASIO_PROBE_WASM"));

/// A test app (tests/streams-app): CPython's asyncio stream and server tests, ported, run by name.
pub static STREAMS_TESTS: &[u8] = include_bytes!(env!("WASIO_STREAMS_TESTS_WASM"));

/// wasio-bench's line-protocol server (bench/line-echo): readline and write each line back.
pub static LINE_ECHO: &[u8] = include_bytes!(env!("WASIO_LINE_ECHO_WASM"));

/// A test app (tests/sdk-app) that exercises every wasio-sdk method through the provider, one
/// named scenario per run; used by the integration tests.
pub static SDK_APP: &[u8] = include_bytes!(env!("WASIO_SDK_APP_WASM"));

/// A test app (tests/tls-app): TLS client and server scenarios (ssl=, start_tls, extra info).
pub static TLS_APP: &[u8] = include_bytes!(env!("WASIO_TLS_APP_WASM"));
