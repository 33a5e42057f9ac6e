//! `connection`: see fuzz/README.md; the properties are `uhome_fuzz_checks::connection`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| uhome_fuzz_checks::connection(data));
