//! A body's members CSV arrives from the network (`POST /api/v1/bodies/{id}/import`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = diemcau::control::bodies::parse_member_csv(text);
    }
});
