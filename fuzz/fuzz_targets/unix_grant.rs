//! Fuzz target `unix_grant`: see `wasio_fuzz_checks::unix_grant` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasio_fuzz_checks::unix_grant::check(data));
