//! Fuzz target `pem`: see `wasio_fuzz_checks::pem` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasio_fuzz_checks::pem::check(data));
