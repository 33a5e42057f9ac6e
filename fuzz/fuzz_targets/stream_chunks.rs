//! `stream_chunks`: see fuzz/README.md; the properties are `uhome_fuzz_checks::stream_chunks`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| uhome_fuzz_checks::stream_chunks(data));
