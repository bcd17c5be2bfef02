//! VP8 for the client: reading RTP payloads (RFC 7741 descriptor, frame
//! start, keyframe, the synthetic publisher's tag), making synthetic frames,
//! and real VP8 — IVF clips (encoded by the tests with Debian's `ffmpeg`),
//! an RFC 7741 packetizer and the frame fingerprints that let a receiver
//! tell "frames of our clips" from anyone else's real VP8 (a decodable frame
//! has no room for a source tag).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

use super::LayerSpec;

/// Largest VP8 RTP payload (descriptor + frame bytes) a real clip is cut
/// into. With the RTP header, mid/rid extensions and the SRTP tag a packet
/// stays near 1150 bytes, like Chromium's own.
pub const MAX_VP8_PAYLOAD_BYTES: usize = 1100;
/// Synthetic frames: VP8 data per RTP packet, well under a 1200-byte
/// loopback MTU budget after SRTP and header extensions.
pub const MAX_VP8_CHUNK_BYTES: usize = 1000;
/// Fingerprints hash at most this many bytes from the start of a frame:
/// always inside the first RTP packet, and enough to never match another
/// encoder's frame.
const FINGERPRINT_BYTES: usize = 64;
const IVF_FILE_HEADER_BYTES: usize = 32;
const IVF_FRAME_HEADER_BYTES: usize = 12;

/// (frame_start, keyframe) from a VP8 RTP payload (RFC 7741 descriptor).
pub fn vp8_frame_kind(p: &[u8]) -> (bool, bool) {
    let (start, key, _) = vp8_parse(p);
    (start, key)
}

/// What this client's publisher wrote into a frame: (layer rid byte,
/// source tag), read from the first packet of a frame.
pub(super) fn vp8_source(p: &[u8]) -> Option<(u8, u32)> {
    let (start, key, off) = vp8_parse(p);
    if !start {
        return None;
    }
    let i = off + if key { 10 } else { 3 };
    let b = p.get(i..i + 5)?;
    Some((b[0], u32::from_le_bytes([b[1], b[2], b[3], b[4]])))
}

/// (frame_start, keyframe, offset of the VP8 payload header).
pub(super) fn vp8_parse(p: &[u8]) -> (bool, bool, usize) {
    if p.is_empty() {
        return (false, false, 0);
    }
    let b0 = p[0];
    let start = b0 & 0x10 != 0 && b0 & 0x07 == 0;
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let Some(&x) = p.get(1) else {
            return (false, false, 0);
        };
        i = 2;
        if x & 0x80 != 0 {
            match p.get(i) {
                Some(m) if m & 0x80 != 0 => i += 2,
                Some(_) => i += 1,
                None => return (false, false, 0),
            }
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    match p.get(i) {
        Some(h) if start => (true, h & 0x01 == 0, i),
        _ => (start, false, i),
    }
}

/// Build one synthetic VP8 frame split into RTP payloads.
pub fn synthetic_frame(
    spec: &LayerSpec,
    source_tag: u32,
    picture_id: u16,
    keyframe: bool,
    frame_no: u64,
) -> Vec<Vec<u8>> {
    let mut size = (spec.kbps as usize * 1000 / 8 / 30).max(60);
    if keyframe {
        size *= 3;
    }
    let mut frame = Vec::with_capacity(size);
    let first_part: u32 = 40;
    let tag = (first_part << 5) | 0x10 | if keyframe { 0 } else { 1 };
    frame.extend_from_slice(&[tag as u8, (tag >> 8) as u8, (tag >> 16) as u8]);
    if keyframe {
        frame.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        frame.extend_from_slice(&spec.width.to_le_bytes());
        frame.extend_from_slice(&spec.height.to_le_bytes());
    }
    frame.push(spec.rid.bytes().next().unwrap_or(b'-'));
    frame.extend_from_slice(&source_tag.to_le_bytes());
    while frame.len() < size {
        frame.push((frame_no as u8) ^ (frame.len() as u8));
    }
    let pid = picture_id & 0x7fff;
    frame
        .chunks(MAX_VP8_CHUNK_BYTES)
        .enumerate()
        .map(|(i, chunk)| {
            let s = if i == 0 { 0x10 } else { 0x00 };
            let mut p = vec![0x80 | s, 0x80, 0x80 | (pid >> 8) as u8, pid as u8];
            p.extend_from_slice(chunk);
            p
        })
        .collect()
}

/// A whole IVF file in memory.
#[derive(Debug, Clone)]
pub struct IvfClip {
    pub fourcc: [u8; 4],
    pub width: u16,
    pub height: u16,
    /// Frame rate as `rate / scale` frames per second.
    pub rate: u32,
    pub scale: u32,
    pub frames: Vec<Vec<u8>>,
}

impl IvfClip {
    /// Parse an IVF file: 32-byte file header ("DKIF"), then frames, each a
    /// 12-byte header (u32 size, u64 pts, little-endian) and its bytes.
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        if data.len() < IVF_FILE_HEADER_BYTES || &data[..4] != b"DKIF" {
            return Err("not an IVF file (no DKIF signature)".into());
        }
        let u16_at = |i: usize| u16::from_le_bytes([data[i], data[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let header_len = (u16_at(6) as usize).max(IVF_FILE_HEADER_BYTES);
        let mut clip = IvfClip {
            fourcc: [data[8], data[9], data[10], data[11]],
            width: u16_at(12),
            height: u16_at(14),
            rate: u32_at(16),
            scale: u32_at(20),
            frames: Vec::new(),
        };
        let mut i = header_len;
        while i < data.len() {
            if data.len() - i < IVF_FRAME_HEADER_BYTES {
                return Err(format!("truncated IVF frame header at byte {i}"));
            }
            let size = u32_at(i) as usize;
            let start = i + IVF_FRAME_HEADER_BYTES;
            let frame = data
                .get(start..start + size)
                .ok_or_else(|| format!("IVF frame at byte {i} claims {size} bytes, file ends"))?;
            clip.frames.push(frame.to_vec());
            i = start + size;
        }
        if clip.frames.is_empty() {
            return Err("IVF file holds no frames".into());
        }
        Ok(clip)
    }

    pub fn open(path: &Path) -> Result<Self, String> {
        let data = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        let clip = Self::parse(&data).map_err(|e| format!("{}: {e}", path.display()))?;
        if &clip.fourcc != b"VP80" {
            return Err(format!(
                "{}: fourcc {:?}, expected VP80",
                path.display(),
                String::from_utf8_lossy(&clip.fourcc)
            ));
        }
        if !is_vp8_keyframe(&clip.frames[0]) {
            return Err(format!("{}: first frame is not a keyframe", path.display()));
        }
        Ok(clip)
    }

    pub fn keyframe_indices(&self) -> Vec<usize> {
        (0..self.frames.len())
            .filter(|&i| is_vp8_keyframe(&self.frames[i]))
            .collect()
    }

    /// Fingerprints of every frame (see [`frame_fingerprint`]).
    pub fn fingerprints(&self) -> HashSet<u64> {
        self.frames.iter().map(|f| frame_fingerprint(f)).collect()
    }
}

/// VP8 frame tag bit 0 (RFC 6386 §9.1): 0 for a key frame.
pub fn is_vp8_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 0x01 == 0)
}

/// Identity of a VP8 frame, computable from its first RTP packet alone (the
/// bytes after the payload descriptor).
pub fn frame_fingerprint(frame_start: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    frame_start[..frame_start.len().min(FINGERPRINT_BYTES)].hash(&mut h);
    h.finish()
}

/// Split one VP8 frame into RTP payloads (RFC 7741): each payload is a
/// descriptor plus at most `max_payload` bytes in all. The S bit (start of
/// partition 0) is set on the first only; PID is 0 throughout. With a
/// `picture_id`, the descriptor carries it as a 15-bit PictureID (M bit).
/// The caller sets the RTP marker on the last payload.
pub fn packetize_vp8(frame: &[u8], picture_id: Option<u16>, max_payload: usize) -> Vec<Vec<u8>> {
    let descriptor = |first: bool| -> Vec<u8> {
        let s = if first { 0x10 } else { 0x00 };
        match picture_id {
            Some(pid) => {
                let pid = pid & 0x7fff;
                // X bit, then I bit, then M bit + 15-bit PictureID.
                vec![0x80 | s, 0x80, 0x80 | (pid >> 8) as u8, pid as u8]
            }
            None => vec![s],
        }
    };
    let room = max_payload.saturating_sub(descriptor(true).len()).max(1);
    if frame.is_empty() {
        return vec![descriptor(true)];
    }
    frame
        .chunks(room)
        .enumerate()
        .map(|(i, chunk)| {
            let mut p = descriptor(i == 0);
            p.extend_from_slice(chunk);
            p
        })
        .collect()
}

/// Plays a clip in a loop, one frame per call.
#[derive(Debug, Clone)]
pub struct ClipPlayer {
    clip: Arc<IvfClip>,
    next: usize,
}

impl ClipPlayer {
    pub fn new(clip: Arc<IvfClip>) -> Self {
        Self { clip, next: 0 }
    }

    /// Go back to frame 0, a real keyframe (answer to a PLI, or a resumed
    /// layer).
    pub fn restart(&mut self) {
        self.next = 0;
    }

    /// The next frame and whether it is a keyframe; wraps to frame 0.
    pub fn next_frame(&mut self) -> (&[u8], bool) {
        if self.next >= self.clip.frames.len() {
            self.next = 0;
        }
        let frame = &self.clip.frames[self.next];
        self.next += 1;
        (frame, is_vp8_keyframe(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packetizer_splits_3000_byte_frame_into_three_packets() {
        let frame: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let payloads = packetize_vp8(&frame, Some(0x1234), MAX_VP8_PAYLOAD_BYTES);
        assert_eq!(payloads.len(), 3, "3000 bytes at ~1100 per packet");
        for (i, p) in payloads.iter().enumerate() {
            assert!(
                p.len() <= MAX_VP8_PAYLOAD_BYTES,
                "payload {i} is {} bytes",
                p.len()
            );
            assert_eq!(p[0] & 0x10 != 0, i == 0, "S bit only on the first packet");
            assert_eq!(p[0] & 0x0f, 0, "PID 0");
            assert_eq!(&p[1..4], &[0x80, 0x92, 0x34], "15-bit PictureID 0x1234");
        }
        let joined: Vec<u8> = payloads.iter().flat_map(|p| p[4..].to_vec()).collect();
        assert_eq!(joined, frame, "payloads reassemble the frame");
        // The marker goes on the last packet: the one the publisher marks.
        let markers: Vec<bool> = (0..payloads.len())
            .map(|k| k + 1 == payloads.len())
            .collect();
        assert_eq!(markers, [false, false, true]);
    }

    #[test]
    fn packetizer_without_picture_id_uses_one_byte_descriptor() {
        let payloads = packetize_vp8(&[0u8; 10], None, MAX_VP8_PAYLOAD_BYTES);
        assert_eq!(payloads, vec![[&[0x10u8][..], &[0u8; 10]].concat()]);
    }

    #[test]
    fn ivf_reader_reads_frames_and_rejects_truncation() {
        let mut f = b"DKIF".to_vec();
        f.extend_from_slice(&0u16.to_le_bytes());
        f.extend_from_slice(&32u16.to_le_bytes());
        f.extend_from_slice(b"VP80");
        f.extend_from_slice(&320u16.to_le_bytes());
        f.extend_from_slice(&180u16.to_le_bytes());
        f.extend_from_slice(&30u32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&2u32.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        for (pts, body) in [(0u64, vec![0x10u8, 1, 2]), (1, vec![0x11, 3])] {
            f.extend_from_slice(&(body.len() as u32).to_le_bytes());
            f.extend_from_slice(&pts.to_le_bytes());
            f.extend_from_slice(&body);
        }
        let clip = IvfClip::parse(&f).unwrap();
        assert_eq!(
            (clip.width, clip.height, clip.rate, clip.scale),
            (320, 180, 30, 1)
        );
        assert_eq!(clip.frames, vec![vec![0x10, 1, 2], vec![0x11, 3]]);
        assert_eq!(clip.keyframe_indices(), vec![0]);
        assert!(IvfClip::parse(&f[..f.len() - 1]).is_err());
    }
}
