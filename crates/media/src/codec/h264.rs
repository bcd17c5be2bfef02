//! H.264 over RTP (RFC 6184) and the sequence parameter set (H.264
//! §7.3.2.1.1): what the forwarder, the recorder and the compositor read of
//! a payload. Hostile or truncated input answers `None`/`false`, never
//! panics.

/// RFC 6184: an IDR slice (5) or a sequence parameter set (7, which encoders
/// send right before an IDR) as a single NAL unit, inside a STAP-A, or at the
/// start of an FU-A.
pub fn starts_keyframe(p: &[u8]) -> bool {
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

/// Reads an RBSP (emulation-prevention bytes removed) bit by bit.
struct Bits {
    rbsp: Vec<u8>,
    pos: usize,
}

impl Bits {
    fn new(nal: &[u8]) -> Self {
        let mut rbsp = Vec::with_capacity(nal.len());
        let mut zeros = 0;
        for &b in nal {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            rbsp.push(b);
        }
        Self { rbsp, pos: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let b = *self.rbsp.get(self.pos / 8)?;
        let v = (b >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(v as u32)
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some(((1u64 << zeros) - 1 + self.bits(zeros)? as u64).min(u32::MAX as u64) as u32)
    }

    fn se(&mut self) -> Option<i32> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) } as i32)
    }
}

/// What the recorder needs from a sequence parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    pub width: u16,
    pub height: u16,
    pub profile: u8,
    pub chroma_format: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
}

/// Cropped picture size from an SPS NAL unit.
pub fn sps_size(sps: &[u8]) -> Option<(u16, u16)> {
    parse_sps(sps).map(|i| (i.width, i.height))
}

/// Parses an SPS NAL unit (H.264 §7.3.2.1.1) up to the frame cropping.
pub fn parse_sps(sps: &[u8]) -> Option<SpsInfo> {
    let mut r = Bits::new(sps.get(1..)?);
    let profile = r.bits(8)?;
    r.bits(16)?; // constraint flags, level
    r.ue()?; // seq_parameter_set_id
    let (mut chroma_format, mut depth_luma, mut depth_chroma) = (1, 0, 0);
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format = r.ue()?;
        if chroma_format == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        depth_luma = r.ue()?;
        depth_chroma = r.ue()?;
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? == 1 {
            let lists = if chroma_format == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last as i64 + r.se()? as i64).rem_euclid(256) as i32;
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return None;
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let w_mbs = r.ue()? as u64 + 1;
    let h_units = r.ue()? as u64 + 1;
    let frame_mbs_only = r.bit()? as u64;
    if frame_mbs_only == 0 {
        r.bit()?;
    }
    r.bit()?; // direct_8x8_inference_flag
    let (mut cl, mut cr, mut ct, mut cb) = (0u64, 0u64, 0u64, 0u64);
    if r.bit()? == 1 {
        cl = r.ue()? as u64;
        cr = r.ue()? as u64;
        ct = r.ue()? as u64;
        cb = r.ue()? as u64;
    }
    let (sub_w, sub_h) = match chroma_format {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let crop_x = if chroma_format == 0 { 1 } else { sub_w };
    let crop_y = (if chroma_format == 0 { 1 } else { sub_h }) * (2 - frame_mbs_only);
    let w = (w_mbs * 16).checked_sub((cl + cr) * crop_x)?;
    let h = (h_units * 16 * (2 - frame_mbs_only)).checked_sub((ct + cb) * crop_y)?;
    let ok = |v: u64| (1..=u16::MAX as u64).contains(&v).then_some(v as u16);
    let small = |v: u32| u8::try_from(v).ok();
    Some(SpsInfo {
        width: ok(w)?,
        height: ok(h)?,
        profile: profile as u8,
        chroma_format: small(chroma_format)?,
        bit_depth_luma: small(depth_luma)?.checked_add(8)?,
        bit_depth_chroma: small(depth_chroma)?.checked_add(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{VideoCodec, starts_keyframe};
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
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
    fn sps_size_is_cropped() {
        // Parameter sets written by libx264 (Debian's ffmpeg).
        let cases: [(&str, (u16, u16)); 5] = [
            (
                "6742c01fd9005005bb0110000003001000000303c0f1832480",
                (1280, 720),
            ),
            (
                "6742c00dd90141fb0110000003001000000303c0f142a480",
                (320, 240),
            ),
            (
                "6742c01ed900a02ff970110000030001000003003c0f162e48",
                (640, 360),
            ),
            (
                "67640028acd940780227e5c044000003000400000300f03c60c658",
                (1920, 1080),
            ),
            (
                "6764001eacd940b424d8088000000300800000190f8a14cb",
                (720, 576),
            ),
        ];
        for (hex, size) in cases {
            assert_eq!(sps_size(&self::hex(hex)), Some(size), "{hex}");
        }
        assert_eq!(sps_size(&[0x67]), None);
        let high = parse_sps(&hex(cases[3].0)).expect("1080p high profile SPS");
        assert_eq!(
            (high.profile, high.chroma_format, high.bit_depth_luma),
            (100, 1, 8)
        );
    }
}
