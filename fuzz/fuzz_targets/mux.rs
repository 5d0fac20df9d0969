//! libFuzzer entry for `resp_sentinel_core::fuzzing::mux` (the body is shared with the corpus
//! replay test in core/tests/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| resp_sentinel_core::fuzzing::mux(data));
