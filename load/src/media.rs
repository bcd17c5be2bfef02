//! Synthetic media: VP8 frames and Opus packets the SFU can route, each RTP
//! payload ending in a 16-byte probe trailer the SFU never touches (it
//! forwards payloads as they are and rewrites only RTP headers):
//!
//! ```text
//! ... payload ... | "DLP1" | stream tag u32 LE | send time u64 LE (CLOCK_MONOTONIC ns)
//! ```
//!
//! CLOCK_MONOTONIC is one clock for every process on the machine, so a
//! receiver in another process could compute the same one-way delay.
//!
//! The VP8 frames are well formed as far as an SFU looks (RFC 7741
//! descriptor, frame tag, keyframe start code and size) but their data is
//! filler: nobody decodes them. Sizes follow the layer's bitrate at 30 fps,
//! keyframes 3× larger, one every 2 s.

/// Marks a payload that carries our trailer.
pub const PROBE_MAGIC: [u8; 4] = *b"DLP1";
pub const TRAILER_BYTES: usize = 16;
/// 20 ms of Opus at 48 kHz.
pub const AUDIO_TICKS_PER_FRAME: u32 = 960;
/// Opus TOC byte: config 31 (CELT FB 20 ms), mono, one frame.
pub const OPUS_TOC: u8 = 0xfc;
/// An Opus packet at 32 kbit/s: 80 bytes per 20 ms.
pub const OPUS_PAYLOAD_BYTES: usize = 80;
/// VP8 data per RTP packet, so packets stay near 1100 bytes with headers.
pub const MAX_VP8_CHUNK_BYTES: usize = 1000;

/// CLOCK_MONOTONIC in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Append the probe trailer to a payload under construction.
pub fn push_trailer(p: &mut Vec<u8>, tag: u32, sent_ns: u64) {
    p.extend_from_slice(&PROBE_MAGIC);
    p.extend_from_slice(&tag.to_le_bytes());
    p.extend_from_slice(&sent_ns.to_le_bytes());
}

/// Overwrite the send time of a payload that already ends in a trailer
/// (stamped right before it is handed to the stack).
pub fn stamp(p: &mut [u8], sent_ns: u64) {
    let n = p.len();
    if n >= TRAILER_BYTES {
        p[n - 8..].copy_from_slice(&sent_ns.to_le_bytes());
    }
}

/// (stream tag, send time) of a payload that ends in our trailer.
pub fn read_trailer(p: &[u8]) -> Option<(u32, u64)> {
    let n = p.len();
    if n < TRAILER_BYTES || p[n - 16..n - 12] != PROBE_MAGIC {
        return None;
    }
    let tag = u32::from_le_bytes(p[n - 12..n - 8].try_into().ok()?);
    let sent = u64::from_le_bytes(p[n - 8..].try_into().ok()?);
    Some((tag, sent))
}

pub use diemcau_testkit::rtc_client::{LayerSpec, default_layers, vp8_frame_kind};

/// One VP8 frame as RTP payloads, each ending in a trailer (send time 0;
/// [`stamp`] sets it at send time).
pub fn vp8_frame(
    spec: &LayerSpec,
    tag: u32,
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
    let frame_tag = (first_part << 5) | 0x10 | if keyframe { 0 } else { 1 };
    frame.extend_from_slice(&[
        frame_tag as u8,
        (frame_tag >> 8) as u8,
        (frame_tag >> 16) as u8,
    ]);
    if keyframe {
        frame.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        frame.extend_from_slice(&spec.width.to_le_bytes());
        frame.extend_from_slice(&spec.height.to_le_bytes());
    }
    while frame.len() < size {
        frame.push((frame_no as u8) ^ (frame.len() as u8));
    }
    let pid = picture_id & 0x7fff;
    frame
        .chunks(MAX_VP8_CHUNK_BYTES)
        .enumerate()
        .map(|(i, chunk)| {
            let s = if i == 0 { 0x10 } else { 0x00 };
            let mut p = Vec::with_capacity(4 + chunk.len() + TRAILER_BYTES);
            p.extend_from_slice(&[0x80 | s, 0x80, 0x80 | (pid >> 8) as u8, pid as u8]);
            p.extend_from_slice(chunk);
            push_trailer(&mut p, tag, 0);
            p
        })
        .collect()
}

/// One 20 ms Opus packet (TOC + filler + trailer).
pub fn opus_packet(tag: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(OPUS_PAYLOAD_BYTES);
    p.push(OPUS_TOC);
    p.resize(OPUS_PAYLOAD_BYTES - TRAILER_BYTES, 0xa5);
    push_trailer(&mut p, tag, 0);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_round_trips_and_frames_parse() {
        let spec = &default_layers()[2];
        let key = vp8_frame(spec, 7, 5, true, 0);
        assert!(key.len() > 1);
        assert_eq!(vp8_frame_kind(&key[0]), (true, true));
        assert!(!vp8_frame_kind(&key[1]).0);
        let mut p = key[0].clone();
        stamp(&mut p, 123_456);
        assert_eq!(read_trailer(&p), Some((7, 123_456)));
        let delta = vp8_frame(spec, 7, 6, false, 1);
        assert_eq!(vp8_frame_kind(&delta[0]), (true, false));
        let a = opus_packet(9);
        assert_eq!(a.len(), OPUS_PAYLOAD_BYTES);
        assert_eq!(read_trailer(&a), Some((9, 0)));
        assert_eq!(read_trailer(b"short"), None);
    }
}
