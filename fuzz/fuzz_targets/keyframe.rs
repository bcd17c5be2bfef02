//! Keyframe detection reads every forwarded video payload.
#![no_main]
use diemcau::media::codec::{VideoCodec, starts_keyframe};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = starts_keyframe(VideoCodec::Vp8, data);
    let _ = starts_keyframe(VideoCodec::H264, data);
});
