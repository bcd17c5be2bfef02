//! RTP depacketizers: VP8 (RFC 7741), H.264 (RFC 6184, packetization mode 1:
//! single NAL unit, STAP-A, FU-A) and Opus (RFC 7587, one packet = one frame).
//!
//! Packets are expected in sequence order (the jitter buffer's job); any gap
//! in sequence numbers is a loss. A frame missing a fragment is dropped whole,
//! and a video depacketizer then drops every frame up to the next keyframe
//! (whose decoding does not depend on what was lost), saying so through
//! `needs_keyframe()` so the caller can ask the sender with a PLI.

use super::{Codec, DepackStats, Frame, MAX_FRAME_BYTES, RtpPacket};
use diemcau_media::codec::{h264, vp8};

/// What all three depacketizers offer the per-track pipeline.
pub trait Depacketizer {
    /// Feeds one packet; returns a frame when this packet completes one.
    fn push(&mut self, pkt: &RtpPacket<'_>) -> Option<Frame>;
    /// True while frames are being dropped until a keyframe arrives.
    fn needs_keyframe(&self) -> bool;
    fn stats(&self) -> DepackStats;
}

/// Builds the depacketizer for `codec`.
pub fn for_codec(codec: Codec) -> Box<dyn Depacketizer + Send> {
    match codec {
        Codec::Vp8 => Box::new(Vp8Depacketizer::new()),
        Codec::H264 => Box::new(H264Depacketizer::new()),
        Codec::Opus => Box::new(OpusDepacketizer::new()),
    }
}

/// Sequence continuity: `true` when `seq` does not follow the last one.
#[derive(Debug, Default)]
struct SeqTrack(Option<u16>);

impl SeqTrack {
    fn gap(&mut self, seq: u16) -> bool {
        let gap = self.0.is_some_and(|last| last.wrapping_add(1) != seq);
        self.0 = Some(seq);
        gap
    }
}

/// A frame being assembled from fragments.
#[derive(Debug)]
struct Partial {
    ts: u32,
    data: Vec<u8>,
    keyframe: bool,
}

/// Shared frame bookkeeping for the video depacketizers.
#[derive(Debug)]
struct Assembler {
    seq: SeqTrack,
    cur: Option<Partial>,
    /// Timestamp of a frame already counted as incomplete, so its remaining
    /// fragments are not counted again.
    orphan_ts: Option<u32>,
    waiting_key: bool,
    stats: DepackStats,
}

impl Assembler {
    fn new() -> Self {
        Self {
            seq: SeqTrack::default(),
            cur: None,
            orphan_ts: None,
            // A recording starts at a keyframe: nothing before it decodes.
            waiting_key: true,
            stats: DepackStats::default(),
        }
    }

    /// Counts the packet and handles a sequence gap.
    fn begin_packet(&mut self, seq: u16) {
        self.stats.packets += 1;
        if self.seq.gap(seq) {
            self.abort();
            self.waiting_key = true;
        }
    }

    /// Drops the frame in progress (if any) as incomplete.
    fn abort(&mut self) {
        if let Some(p) = self.cur.take() {
            self.stats.dropped_incomplete += 1;
            self.orphan_ts = Some(p.ts);
        }
    }

    /// A payload that does not parse: whatever frame it belonged to is lost.
    fn malformed(&mut self, ts: u32) {
        self.stats.malformed += 1;
        self.abort();
        self.orphan_ts = Some(ts);
        self.waiting_key = true;
    }

    /// A fragment of a frame whose start we never saw.
    fn orphan(&mut self, ts: u32) {
        if self.orphan_ts != Some(ts) {
            self.stats.dropped_incomplete += 1;
            self.orphan_ts = Some(ts);
        }
        self.waiting_key = true;
    }

    /// Starts a new frame at `ts`; a frame still open at another timestamp
    /// lost its marker packet.
    fn start(&mut self, ts: u32, keyframe: bool) {
        if self.cur.is_some() {
            self.abort();
            self.waiting_key = true;
        }
        self.cur = Some(Partial {
            ts,
            data: Vec::new(),
            keyframe,
        });
    }

    /// Appends to the open frame at `ts`; false (frame dropped) when there
    /// is none or it would grow past the cap.
    fn append(&mut self, ts: u32, parts: &[&[u8]]) -> bool {
        let Some(cur) = self.cur.as_mut().filter(|c| c.ts == ts) else {
            self.abort();
            self.orphan(ts);
            return false;
        };
        let add: usize = parts.iter().map(|p| p.len()).sum();
        if cur.data.len() + add > MAX_FRAME_BYTES {
            self.stats.oversize += 1;
            self.cur = None;
            self.orphan_ts = Some(ts);
            self.waiting_key = true;
            return false;
        }
        for p in parts {
            cur.data.extend_from_slice(p);
        }
        true
    }

    /// Closes the open frame and applies the wait-for-keyframe rule.
    fn finish(&mut self) -> Option<Frame> {
        let p = self.cur.take()?;
        if self.waiting_key && !p.keyframe {
            self.stats.dropped_waiting_keyframe += 1;
            return None;
        }
        self.waiting_key = false;
        self.stats.frames += 1;
        Some(Frame {
            data: p.data,
            rtp_ts: p.ts,
            keyframe: p.keyframe,
        })
    }
}

// ---------------------------------------------------------------- VP8

/// RFC 7741 VP8 depacketizer. Frames are emitted on the marker bit.
#[derive(Debug)]
pub struct Vp8Depacketizer {
    asm: Assembler,
    size: Option<(u16, u16)>,
}

impl Default for Vp8Depacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Vp8Depacketizer {
    pub fn new() -> Self {
        Self {
            asm: Assembler::new(),
            size: None,
        }
    }

    /// Size from the last keyframe seen.
    pub fn video_size(&self) -> Option<(u16, u16)> {
        self.size
    }
}

impl Depacketizer for Vp8Depacketizer {
    fn push(&mut self, pkt: &RtpPacket<'_>) -> Option<Frame> {
        let a = &mut self.asm;
        a.begin_packet(pkt.seq);
        let Some((start, body)) = vp8::descriptor(pkt.payload) else {
            a.malformed(pkt.timestamp);
            return None;
        };
        if start {
            let keyframe = body[0] & 0x01 == 0;
            if keyframe {
                match vp8::keyframe_size(body) {
                    Some(s) => self.size = Some(s),
                    None => {
                        a.malformed(pkt.timestamp);
                        return None;
                    }
                }
            }
            a.start(pkt.timestamp, keyframe);
        }
        if !a.append(pkt.timestamp, &[body]) {
            return None;
        }
        if pkt.marker { a.finish() } else { None }
    }

    fn needs_keyframe(&self) -> bool {
        self.asm.waiting_key
    }

    fn stats(&self) -> DepackStats {
        self.asm.stats
    }
}

// ---------------------------------------------------------------- H.264

/// RFC 6184 depacketizer (mode 1). Emits access units as 4-byte
/// length-prefixed NAL units and keeps the last SPS and PPS for the
/// Matroska `AVCDecoderConfigurationRecord`.
#[derive(Debug)]
pub struct H264Depacketizer {
    asm: Assembler,
    /// Offset in the open frame of the 4-byte length of an FU-A in progress.
    fu_len_at: Option<usize>,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

impl Default for H264Depacketizer {
    fn default() -> Self {
        Self::new()
    }
}

/// Parameter sets larger than this are not plausible.
const MAX_PARAM_SET: usize = 1024;

/// The `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §5.2.4.1) of an
/// SPS and PPS, with 4-byte NAL lengths: a recording's track header, an
/// fMP4 init segment's `avcC`.
pub fn avc_decoder_config(sps: &[u8], pps: &[u8]) -> Option<Vec<u8>> {
    if sps.len() < 4 {
        return None;
    }
    let mut c = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    c.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    c.extend_from_slice(sps);
    c.push(1);
    c.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    c.extend_from_slice(pps);
    // High profiles carry their chroma format and bit depths too (§5.3.3.1.2).
    if matches!(sps[1], 100 | 110 | 122 | 144) {
        let i = h264::parse_sps(sps)?;
        c.extend_from_slice(&[
            0xfc | (i.chroma_format & 3),
            0xf8 | (i.bit_depth_luma.wrapping_sub(8) & 7),
            0xf8 | (i.bit_depth_chroma.wrapping_sub(8) & 7),
            0,
        ]);
    }
    Some(c)
}

impl H264Depacketizer {
    pub fn new() -> Self {
        Self {
            asm: Assembler::new(),
            fu_len_at: None,
            sps: None,
            pps: None,
        }
    }

    /// The `AVCDecoderConfigurationRecord` from the last SPS and PPS seen.
    pub fn avc_config(&self) -> Option<Vec<u8>> {
        avc_decoder_config(self.sps.as_ref()?, self.pps.as_ref()?)
    }

    /// The last SPS and PPS seen (a decoder needs them before a keyframe
    /// that does not carry them).
    pub fn param_sets(&self) -> Option<(&[u8], &[u8])> {
        Some((self.sps.as_deref()?, self.pps.as_deref()?))
    }

    /// Coded picture size from the last SPS.
    pub fn video_size(&self) -> Option<(u16, u16)> {
        h264::sps_size(self.sps.as_deref()?)
    }

    /// Remembers parameter sets and marks IDR frames.
    fn note_nal(&mut self, nal: &[u8]) {
        match nal[0] & 0x1f {
            5 => {
                if let Some(c) = self.asm.cur.as_mut() {
                    c.keyframe = true;
                }
            }
            7 if nal.len() <= MAX_PARAM_SET => self.sps = Some(nal.to_vec()),
            8 if nal.len() <= MAX_PARAM_SET => self.pps = Some(nal.to_vec()),
            _ => {}
        }
    }

    /// Opens a frame at `ts` unless one is open at that timestamp.
    fn ensure_frame(&mut self, ts: u32) {
        if self.asm.cur.as_ref().is_none_or(|c| c.ts != ts) {
            self.fu_len_at = None;
            self.asm.start(ts, false);
        }
    }

    fn malformed(&mut self, ts: u32) {
        self.fu_len_at = None;
        self.asm.malformed(ts);
    }

    fn append_nal(&mut self, ts: u32, nal: &[u8]) -> bool {
        let len = (nal.len() as u32).to_be_bytes();
        if !self.asm.append(ts, &[&len, nal]) {
            self.fu_len_at = None;
            return false;
        }
        self.note_nal(nal);
        true
    }

    /// Handles one payload; false when the frame was dropped.
    fn payload(&mut self, ts: u32, p: &[u8]) -> bool {
        let Some(&hdr) = p.first() else {
            self.malformed(ts);
            return false;
        };
        if hdr & 0x80 != 0 {
            // forbidden_zero_bit
            self.malformed(ts);
            return false;
        }
        match hdr & 0x1f {
            1..=23 => {
                if self.fu_len_at.is_some() {
                    // A new NAL unit while a fragmented one is unfinished.
                    self.malformed(ts);
                    return false;
                }
                self.ensure_frame(ts);
                self.append_nal(ts, p)
            }
            24 => {
                // STAP-A: validate the whole aggregate before taking any of it.
                let mut nals = Vec::new();
                let mut rest = &p[1..];
                while !rest.is_empty() {
                    let ok = rest.len() >= 2 && {
                        let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
                        n > 0
                            && rest.len() >= 2 + n
                            && rest[2] & 0x80 == 0
                            && matches!(rest[2] & 0x1f, 1..=23)
                            && {
                                nals.push(&rest[2..2 + n]);
                                rest = &rest[2 + n..];
                                true
                            }
                    };
                    if !ok {
                        self.malformed(ts);
                        return false;
                    }
                }
                if nals.is_empty() || self.fu_len_at.is_some() {
                    self.malformed(ts);
                    return false;
                }
                self.ensure_frame(ts);
                nals.into_iter().all(|n| self.append_nal(ts, n))
            }
            28 => {
                if p.len() < 3 {
                    self.malformed(ts);
                    return false;
                }
                let fu = p[1];
                let (s, e, ty) = (fu & 0x80 != 0, fu & 0x40 != 0, fu & 0x1f);
                if (s && e) || !matches!(ty, 1..=23) {
                    self.malformed(ts);
                    return false;
                }
                let nal_hdr = (hdr & 0xe0) | ty;
                if s {
                    if self.fu_len_at.is_some() {
                        self.malformed(ts);
                        return false;
                    }
                    self.ensure_frame(ts);
                    let at = self.asm.cur.as_ref().map_or(0, |c| c.data.len());
                    if !self.asm.append(ts, &[&[0; 4], &[nal_hdr], &p[2..]]) {
                        return false;
                    }
                    self.fu_len_at = Some(at);
                } else {
                    let open = self.fu_len_at.is_some()
                        && self.asm.cur.as_ref().is_some_and(|c| c.ts == ts);
                    if !open {
                        self.fu_len_at = None;
                        self.asm.abort();
                        self.asm.orphan(ts);
                        return false;
                    }
                    if !self.asm.append(ts, &[&p[2..]]) {
                        self.fu_len_at = None;
                        return false;
                    }
                }
                if e {
                    let at = self.fu_len_at.take().unwrap_or(0);
                    let Some(cur) = self.asm.cur.as_mut() else {
                        return false;
                    };
                    let len = (cur.data.len() - at - 4) as u32;
                    cur.data[at..at + 4].copy_from_slice(&len.to_be_bytes());
                    if matches!(ty, 7 | 8) {
                        let nal = cur.data[at + 4..].to_vec();
                        self.note_nal(&nal);
                    } else {
                        self.note_nal(&[nal_hdr]);
                    }
                }
                true
            }
            _ => {
                // STAP-B, MTAP, FU-B (mode 2) and reserved types.
                self.malformed(ts);
                false
            }
        }
    }
}

impl Depacketizer for H264Depacketizer {
    fn push(&mut self, pkt: &RtpPacket<'_>) -> Option<Frame> {
        let before = self.asm.stats.dropped_incomplete;
        self.asm.begin_packet(pkt.seq);
        if self.asm.stats.dropped_incomplete != before || self.asm.cur.is_none() {
            self.fu_len_at = None;
        }
        if !self.payload(pkt.timestamp, pkt.payload) {
            return None;
        }
        if !pkt.marker {
            return None;
        }
        if self.fu_len_at.is_some() {
            // Marker inside an unfinished FU-A: the NAL unit is cut short.
            self.malformed(pkt.timestamp);
            return None;
        }
        // Without parameter sets an IDR cannot start a decodable file.
        if let Some(c) = self.asm.cur.as_mut()
            && c.keyframe
            && (self.sps.is_none() || self.pps.is_none())
        {
            c.keyframe = false;
        }
        self.asm.finish()
    }

    fn needs_keyframe(&self) -> bool {
        self.asm.waiting_key
    }

    fn stats(&self) -> DepackStats {
        self.asm.stats
    }
}

// ---------------------------------------------------------------- Opus

/// RFC 7587: each RTP payload is one Opus packet. Packets that break the
/// framing rules of RFC 6716 §3.4 are dropped as malformed.
#[derive(Debug, Default)]
pub struct OpusDepacketizer {
    stats: DepackStats,
}

impl OpusDepacketizer {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Duration of one Opus frame from the TOC byte, in tenths of a millisecond.
fn opus_frame_tenths_ms(toc: u8) -> u32 {
    let config = toc >> 3;
    match config {
        0..=11 => [100, 200, 400, 600][(config % 4) as usize],
        12..=15 => [100, 200][(config % 2) as usize],
        _ => [25, 50, 100, 200][(config % 4) as usize],
    }
}

/// Reads a frame length (1 or 2 bytes, RFC 6716 §3.2.1).
fn opus_len(p: &[u8], i: &mut usize) -> Option<usize> {
    let b = *p.get(*i)? as usize;
    *i += 1;
    if b < 252 {
        return Some(b);
    }
    let b2 = *p.get(*i)? as usize;
    *i += 1;
    Some(b + 4 * b2)
}

/// RFC 6716 §3.4 requirements R1–R7; `Some(duration in 0.1 ms)` if valid.
pub fn opus_packet_duration(p: &[u8]) -> Option<u32> {
    let toc = *p.first()?;
    let frame = opus_frame_tenths_ms(toc);
    let mut i = 1;
    let count = match toc & 3 {
        0 => {
            (p.len() - 1 <= 1275).then_some(())?;
            1
        }
        1 => {
            let n = p.len() - 1;
            (n.is_multiple_of(2) && n / 2 <= 1275).then_some(())?;
            2
        }
        2 => {
            let first = opus_len(p, &mut i)?;
            let rest = p.len().checked_sub(i)?;
            (first <= rest && rest - first <= 1275).then_some(())?;
            2
        }
        _ => {
            let b = *p.get(i)?;
            i += 1;
            let m = (b & 0x3f) as usize;
            if m == 0 || m as u32 * frame > 1200 {
                return None;
            }
            let mut padding = 0usize;
            if b & 0x40 != 0 {
                loop {
                    let v = *p.get(i)? as usize;
                    i += 1;
                    if v == 255 {
                        padding += 254;
                    } else {
                        padding += v;
                        break;
                    }
                }
            }
            let mut used = 0usize;
            if b & 0x80 != 0 {
                for _ in 0..m - 1 {
                    let l = opus_len(p, &mut i)?;
                    (l <= 1275).then_some(())?;
                    used += l;
                }
            }
            let avail = p.len().checked_sub(i)?.checked_sub(padding)?;
            let last = avail.checked_sub(used)?;
            if b & 0x80 != 0 {
                (last <= 1275).then_some(())?;
            } else {
                (last.is_multiple_of(m) && last / m <= 1275).then_some(())?;
            }
            m as u32
        }
    };
    Some(frame * count)
}

impl Depacketizer for OpusDepacketizer {
    fn push(&mut self, pkt: &RtpPacket<'_>) -> Option<Frame> {
        self.stats.packets += 1;
        if opus_packet_duration(pkt.payload).is_none() {
            self.stats.malformed += 1;
            return None;
        }
        self.stats.frames += 1;
        Some(Frame {
            data: pkt.payload.to_vec(),
            rtp_ts: pkt.timestamp,
            keyframe: true,
        })
    }

    fn needs_keyframe(&self) -> bool {
        false
    }

    fn stats(&self) -> DepackStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> RtpPacket<'_> {
        RtpPacket {
            seq,
            timestamp: ts,
            marker,
            payload,
        }
    }

    const VP8_KEY: [u8; 12] = [
        0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, 7, 7,
    ];

    #[test]
    fn vp8_frame_spans_sequence_wraparound() {
        let mut d = Vp8Depacketizer::new();
        let mut first = vec![0x10];
        first.extend_from_slice(&VP8_KEY);
        assert!(d.push(&pkt(65535, 1, false, &first)).is_none());
        let f = d.push(&pkt(0, 1, true, &[0x00, 9, 9])).expect("frame");
        assert!(f.keyframe);
        assert_eq!(f.data.len(), VP8_KEY.len() + 2);
        assert_eq!(d.video_size(), Some((320, 240)));
        assert!(!d.needs_keyframe());
    }

    #[test]
    fn vp8_loss_drops_until_keyframe() {
        let mut d = Vp8Depacketizer::new();
        let mut key = vec![0x10];
        key.extend_from_slice(&VP8_KEY);
        assert!(d.push(&pkt(10, 0, true, &key)).is_some());
        // seq 11 lost: 12 starts a delta frame that must not be emitted.
        assert!(d.push(&pkt(12, 3000, true, &[0x10, 0x01, 5])).is_none());
        assert!(d.needs_keyframe());
        assert_eq!(d.stats().dropped_waiting_keyframe, 1);
        assert!(d.push(&pkt(13, 6000, true, &key)).is_some());
        assert!(!d.needs_keyframe());
    }

    #[test]
    fn h264_fu_a_and_stap_a_make_length_prefixed_access_unit() {
        let mut d = H264Depacketizer::new();
        let sps = [0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10];
        let pps = [0x68, 0xce, 0x3c, 0x80];
        let mut stap = vec![0x18];
        for n in [&sps[..], &pps[..]] {
            stap.extend_from_slice(&(n.len() as u16).to_be_bytes());
            stap.extend_from_slice(n);
        }
        assert!(d.push(&pkt(65534, 9, false, &stap)).is_none());
        assert!(d.push(&pkt(65535, 9, false, &[0x7c, 0x85, 1, 2])).is_none());
        let f = d.push(&pkt(0, 9, true, &[0x7c, 0x45, 3])).expect("frame");
        assert!(f.keyframe);
        let idr = [0, 0, 0, 4, 0x65, 1, 2, 3];
        assert!(f.data.ends_with(&idr));
        assert_eq!(d.avc_config().unwrap()[..4], [1, 0x42, 0xc0, 0x1e]);
        assert_eq!(d.video_size(), Some((320, 240)));
    }

    #[test]
    fn h264_fu_a_missing_middle_is_dropped_whole() {
        let mut d = H264Depacketizer::new();
        assert!(d.push(&pkt(1, 9, false, &[0x7c, 0x85, 1])).is_none());
        assert!(d.push(&pkt(3, 9, true, &[0x7c, 0x45, 3])).is_none());
        assert!(d.stats().dropped_incomplete >= 1);
        assert!(d.needs_keyframe());
    }

    #[test]
    fn opus_framing_rules() {
        assert_eq!(opus_packet_duration(&[0xf8, 1, 2]), Some(200));
        assert_eq!(opus_packet_duration(&[]), None);
        assert_eq!(opus_packet_duration(&[0x01, 1, 2, 3]), None); // code 1, odd
        assert_eq!(opus_packet_duration(&[0x03, 0]), None); // code 3, M = 0
        assert_eq!(opus_packet_duration(&[0xfb, 0x03, 1, 2, 3]), Some(600));
        assert_eq!(opus_packet_duration(&[0xfb, 0x47, 255, 1]), None); // padding overruns
    }
}
