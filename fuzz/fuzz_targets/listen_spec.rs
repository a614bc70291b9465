//! Fuzz target `listen_spec`: see `wasio_fuzz_checks::listen_spec` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasio_fuzz_checks::listen_spec::check(data));
