//! An organisation tree arrives as a file from the network
//! (`POST /api/v1/org/import`, CSV or JSON): parsed before any store access.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = diemcau::control::org::parse_import(text, true);
        let _ = diemcau::control::org::parse_import(text, false);
    }
});
