//! Video codecs as the server reads them from RTP payloads, in one place:
//! keyframe detection (a forwarder switches a subscriber only at the first
//! packet of a keyframe), the VP8 payload descriptor and frame header, H.264
//! packetization and the sequence parameter set. The forwarder, the
//! recorder's depacketizers (`diemcau-record`), the SIP gateway and the
//! compositor all read headers here. Pure; fuzz targets `keyframe` and
//! `depack_*`.

pub mod h264;
pub mod vp8;

/// Video codecs the engine forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    Vp8,
    H264,
}

/// True when `payload` is the first RTP packet of a keyframe.
pub fn starts_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::Vp8 => vp8::starts_keyframe(payload),
        VideoCodec::H264 => h264::starts_keyframe(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_payloads_are_not_keyframes_and_do_not_panic() {
        for codec in [VideoCodec::Vp8, VideoCodec::H264] {
            assert!(!starts_keyframe(codec, &[]));
            for b in 0..=255u8 {
                let _ = starts_keyframe(codec, &[b]);
                let _ = starts_keyframe(codec, &[b, 0x80]);
                let _ = starts_keyframe(codec, &[b, 0xff, 0xff]);
            }
        }
        assert!(!starts_keyframe(VideoCodec::H264, &[0x18, 0xff, 0xff]));
    }
}
