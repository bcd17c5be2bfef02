//! An uploaded document is parsed once to plan the reader's watermark
//! (`pdf::stamp::plan`): a hostile PDF must be refused, never panic out.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = diemcau::pdf::stamp::plan(data);
});
