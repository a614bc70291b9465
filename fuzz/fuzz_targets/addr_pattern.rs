//! Fuzz target `addr_pattern`: see `wasio_fuzz_checks::addr_pattern` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasio_fuzz_checks::addr_pattern::check(data));
