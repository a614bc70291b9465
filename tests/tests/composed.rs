//! The integration suite again, with the test apps that use wasio-sdk in their composed builds
//! (`wasio_tests::sdk_mode` picks them by this binary's name): every SDK test runs against the
//! linked library (the `integration` binary) and against the composed provider (this one).

#[path = "integration/main.rs"]
mod integration;
