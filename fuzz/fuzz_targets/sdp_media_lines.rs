//! Offers from WHIP/WHEP/WS clients: str0m parses them, then we read the
//! answer's m-lines.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = diemcau::media::session::media_lines(s);
        let _ = str0m::change::SdpOffer::from_sdp_string(s);
    }
});
