//! Fuzz target `stream_core`: see `wasio_fuzz_checks::stream_core` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasio_fuzz_checks::stream_core::check(data));
