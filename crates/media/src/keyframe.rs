//! Keyframe detection from RTP payloads (VP8, H.264).
//!
//! A forwarder may only switch a subscriber to another source or layer at the
//! first packet of a keyframe; this module answers "does this packet start
//! one?" from the payload bytes alone. Hostile or truncated payloads answer
//! `false`, never panic.

/// Video codecs the engine forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    Vp8,
    H264,
}

/// True when `payload` is the first RTP packet of a keyframe.
pub fn starts_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::Vp8 => vp8_starts_keyframe(payload),
        VideoCodec::H264 => h264_starts_keyframe(payload),
    }
}

/// RFC 7741: payload descriptor, then (on the first packet of a partition 0)
/// the VP8 frame tag whose lowest bit is 0 for a key frame.
fn vp8_starts_keyframe(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let extended = b0 & 0x80 != 0;
    let start_of_partition = b0 & 0x10 != 0;
    let partition_id = b0 & 0x0f;
    if !start_of_partition || partition_id != 0 {
        return false;
    }
    let mut i = 1;
    if extended {
        let Some(&x) = p.get(i) else { return false };
        i += 1;
        if x & 0x80 != 0 {
            // PictureID: 7 or 15 bits.
            let Some(&pid) = p.get(i) else { return false };
            i += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    match p.get(i) {
        Some(tag) => tag & 0x01 == 0,
        None => false,
    }
}

/// RFC 6184: an IDR slice (5) or a sequence parameter set (7, which encoders
/// send right before an IDR) as a single NAL unit, inside a STAP-A, or at the
/// start of an FU-A.
fn h264_starts_keyframe(p: &[u8]) -> bool {
    let Some(&b0) = p.first() else { return false };
    let is_key = |nal_type: u8| nal_type == 5 || nal_type == 7;
    match b0 & 0x1f {
        24 => {
            // STAP-A: [hdr][size16][nal]...
            let mut i = 1;
            while i + 2 < p.len() {
                let size = u16::from_be_bytes([p[i], p[i + 1]]) as usize;
                let Some(&nal) = p.get(i + 2) else {
                    return false;
                };
                if is_key(nal & 0x1f) {
                    return true;
                }
                i += 2 + size;
            }
            false
        }
        28 => match p.get(1) {
            Some(&fu) => fu & 0x80 != 0 && is_key(fu & 0x1f),
            None => false,
        },
        t => is_key(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_keyframe_and_delta_frames_are_told_apart() {
        assert!(starts_keyframe(
            VideoCodec::Vp8,
            &[0x10, 0x00, 0x9d, 0x01, 0x2a]
        ));
        assert!(!starts_keyframe(VideoCodec::Vp8, &[0x10, 0x01, 0x00]));
        // Continuation packet of a keyframe (S=0) does not start one.
        assert!(!starts_keyframe(VideoCodec::Vp8, &[0x00, 0x00, 0x9d]));
        // Extended descriptor with 15-bit picture id, then key frame tag.
        assert!(starts_keyframe(
            VideoCodec::Vp8,
            &[0x90, 0x80, 0x81, 0x23, 0x00]
        ));
        assert!(!starts_keyframe(
            VideoCodec::Vp8,
            &[0x90, 0x80, 0x81, 0x23, 0x01]
        ));
    }

    #[test]
    fn h264_idr_in_single_stap_a_and_fu_a() {
        assert!(starts_keyframe(VideoCodec::H264, &[0x65, 0x88]));
        assert!(starts_keyframe(VideoCodec::H264, &[0x67, 0x42]));
        assert!(!starts_keyframe(VideoCodec::H264, &[0x41, 0x9a]));
        assert!(starts_keyframe(
            VideoCodec::H264,
            &[0x18, 0x00, 0x02, 0x67, 0x42]
        ));
        assert!(starts_keyframe(VideoCodec::H264, &[0x7c, 0x85, 0x00]));
        assert!(!starts_keyframe(VideoCodec::H264, &[0x7c, 0x05, 0x00]));
    }

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
