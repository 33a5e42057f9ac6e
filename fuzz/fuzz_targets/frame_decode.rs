//! `frame_decode`: see fuzz/README.md; the properties are `uhome_fuzz_checks::frame_decode`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| uhome_fuzz_checks::frame_decode(data));
