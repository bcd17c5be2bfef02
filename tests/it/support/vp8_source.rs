//! Real VP8 for test publishers: clips encoded by Debian's `ffmpeg`
//! (libvpx) at test time, an IVF reader and an RFC 7741 packetizer.
//!
//! Owns: generating and caching the clips (`target/test-fixtures/`), reading
//! them, turning frames into RTP payloads, and the frame fingerprints that
//! let a receiver tell "frames of our clips" from anyone else's real VP8.
//! The synthetic publisher in `rtc_client` writes a source tag into each
//! frame; a decodable frame has no room for one, hence the fingerprints.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use super::rtc_client::LayerSpec;

/// Largest VP8 RTP payload (descriptor + frame bytes) we send. With the RTP
/// header, mid/rid extensions and the SRTP tag a packet stays near 1150
/// bytes, like Chromium's own.
pub const MAX_VP8_PAYLOAD_BYTES: usize = 1100;
/// Clip length: two keyframe intervals, then the clip loops.
const CLIP_SECONDS: u32 = 4;
/// One keyframe every 60 frames = 2 s at 30 fps; the clip's first frame is
/// always a keyframe, so a restart (on PLI) starts decodable.
const CLIP_KEYFRAME_INTERVAL_FRAMES: u32 = 60;
/// Fingerprints hash at most this many bytes from the start of a frame:
/// always inside the first RTP packet, and enough to never match another
/// encoder's frame.
const FINGERPRINT_BYTES: usize = 64;
const IVF_FILE_HEADER_BYTES: usize = 32;
const IVF_FRAME_HEADER_BYTES: usize = 12;

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

/// Where generated clips are cached (`target/test-fixtures/`).
pub fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-fixtures");
    std::fs::create_dir_all(&dir).expect("create target/test-fixtures");
    dir
}

/// A `testsrc2` VP8 clip of `width`×`height` at `kbps`, generated with
/// ffmpeg (libvpx) on first use and cached by name. Panics (never skips)
/// when ffmpeg is missing or fails.
pub fn testsrc_clip(width: u16, height: u16, kbps: u32) -> PathBuf {
    let name = format!(
        "testsrc2-{width}x{height}-{kbps}k-g{CLIP_KEYFRAME_INTERVAL_FRAMES}-{CLIP_SECONDS}s.ivf"
    );
    encode_clip(
        &name,
        &format!("testsrc2=size={width}x{height}:rate=30"),
        kbps,
    )
}

/// A clip of one solid colour (an ffmpeg colour name, e.g. `red`): what a
/// composite test looks for in a tile.
pub fn solid_clip(color: &str, width: u16, height: u16) -> PathBuf {
    let name = format!("solid-{color}-{width}x{height}-g{CLIP_KEYFRAME_INTERVAL_FRAMES}.ivf");
    encode_clip(
        &name,
        &format!("color=c={color}:size={width}x{height}:rate=30"),
        200,
    )
}

fn encode_clip(name: &str, source: &str, kbps: u32) -> PathBuf {
    let path = fixtures_dir().join(name);
    if path.exists() {
        return path;
    }
    // Tests run as parallel processes: encode to a private name, then rename
    // (atomic), so nobody reads a half-written clip.
    let tmp = fixtures_dir().join(format!(".{name}.{}.tmp", std::process::id()));
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i"])
        .arg(source)
        .args(["-t", &CLIP_SECONDS.to_string()])
        .args(["-c:v", "libvpx", "-b:v", &format!("{kbps}k")])
        .args(["-g", &CLIP_KEYFRAME_INTERVAL_FRAMES.to_string()])
        .args(["-keyint_min", &CLIP_KEYFRAME_INTERVAL_FRAMES.to_string()])
        .args(["-deadline", "realtime", "-cpu-used", "8"])
        .args(["-auto-alt-ref", "0", "-lag-in-frames", "0"])
        .args(["-f", "ivf"])
        .arg(&tmp)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "ffmpeg is not installed: real-VP8 tests encode their clips with Debian's `ffmpeg` \
             (libvpx). Run `.ci/setup` (it installs ffmpeg) and try again"
        ),
        Err(e) => panic!("run ffmpeg: {e}"),
    };
    assert!(
        out.status.success(),
        "ffmpeg failed to encode {name} ({}): {}\nRun `.ci/setup` to install Debian's ffmpeg \
         with libvpx",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &path)
        .unwrap_or_else(|e| panic!("rename {} -> {}: {e}", tmp.display(), path.display()));
    path
}

/// One clip per layer, sized and rated like the layer.
pub fn testsrc_clips(layers: &[LayerSpec]) -> Vec<PathBuf> {
    layers
        .iter()
        .map(|l| testsrc_clip(l.width, l.height, l.kbps))
        .collect()
}

/// Fingerprints of every frame of every clip: what a receiver matches its
/// frame starts against to know they came from a publisher of these clips.
pub fn clip_fingerprints(paths: &[PathBuf]) -> HashSet<u64> {
    paths
        .iter()
        .flat_map(|p| {
            IvfClip::open(p)
                .unwrap_or_else(|e| panic!("{e}"))
                .fingerprints()
        })
        .collect()
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
