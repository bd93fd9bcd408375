#![no_main]
// One call, so that tests/integration/tier2/fuzz_corpus.rs replays this corpus under stable.
libfuzzer_sys::fuzz_target!(|data: &[u8]| svcmgr::fuzzing::fetch_answer(data));
