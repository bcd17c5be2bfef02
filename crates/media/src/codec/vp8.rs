//! VP8 over RTP (RFC 7741) and the VP8 frame header (RFC 6386 §9.1):
//! what the forwarder and the recorder read of a payload. Hostile or
//! truncated payloads answer `None`/`false`, never panic.

/// Splits the payload descriptor off: (starts a frame, VP8 bytes).
pub fn descriptor(p: &[u8]) -> Option<(bool, &[u8])> {
    let b0 = *p.first()?;
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let x = *p.get(i)?;
        i += 1;
        if x & 0x80 != 0 {
            let pid = *p.get(i)?;
            i += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    let body = p.get(i..)?;
    if body.is_empty() {
        return None;
    }
    let start = b0 & 0x10 != 0 && b0 & 0x0f == 0;
    Some((start, body))
}

/// Width and height from a VP8 key frame header (RFC 6386 §9.1), or `None`
/// when the start code is wrong.
pub fn keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    if frame.len() < 10 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let h = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    (w > 0 && h > 0).then_some((w, h))
}

/// True when `p` is the first RTP packet of a key frame: the start of
/// partition 0 whose frame tag's lowest bit is 0.
pub fn starts_keyframe(p: &[u8]) -> bool {
    descriptor(p).is_some_and(|(start, body)| start && body[0] & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::super::{VideoCodec, starts_keyframe};
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
    fn a_key_frame_header_gives_its_size() {
        let mut frame = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        frame.extend_from_slice(&1280u16.to_le_bytes());
        frame.extend_from_slice(&720u16.to_le_bytes());
        assert_eq!(keyframe_size(&frame), Some((1280, 720)));
        frame[4] = 0;
        assert_eq!(keyframe_size(&frame), None);
        assert_eq!(descriptor(&[0x10]), None);
    }
}
