//! Sans-IO halves of a SIP room's VP8 rendition (`transcode` runs the
//! codecs): the codec's H.264 RTP assembled into access units (Annex B,
//! parameter sets before each IDR) for the decoder, and the encoder's VP8
//! pictures cut into RTP payloads (RFC 7741) for the local leg.

use crate::record::RtpPacket;
use crate::record::depack::{Depacketizer, H264Depacketizer};

/// VP8 payload bytes per packet: with the 1-byte descriptor, the RTP
/// header, SRTP's tag and the engine's header extensions, a packet stays
/// well under a 1280-byte path MTU.
pub const VP8_PAYLOAD_BYTES: usize = 1100;
/// Access units larger than this are not plausible up to 1080p; one is
/// dropped rather than handed to the decoder.
const MAX_PICTURE_BYTES: usize = 2 << 20;

/// One access unit for the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub annex_b: Vec<u8>,
    pub ts: u32,
    pub keyframe: bool,
}

/// The assembling side, alive while the rendition is wanted.
pub struct Assembly {
    depack: H264Depacketizer,
    pictures: Vec<Picture>,
}

impl Default for Assembly {
    fn default() -> Self {
        Self::new()
    }
}

impl Assembly {
    /// A fresh assembly waits for an IDR (the caller asks the codec).
    pub fn new() -> Assembly {
        Assembly {
            depack: H264Depacketizer::new(),
            pictures: Vec::new(),
        }
    }

    /// One RTP packet of the codec's H.264, in arrival order.
    pub fn push(&mut self, seq: u16, ts: u32, marker: bool, payload: &[u8]) {
        let pkt = RtpPacket {
            seq,
            timestamp: ts,
            marker,
            payload,
        };
        let Some(f) = self.depack.push(&pkt) else {
            return;
        };
        let params = if f.keyframe {
            self.depack.param_sets()
        } else {
            None
        };
        let Some(annex_b) = crate::compose::codec::avcc_to_annex_b(&f.data, params) else {
            return;
        };
        if annex_b.len() <= MAX_PICTURE_BYTES {
            self.pictures.push(Picture {
                annex_b,
                ts: f.rtp_ts,
                keyframe: f.keyframe,
            });
        }
    }

    /// Frames are being dropped until an IDR (a loss, or the start).
    pub fn needs_idr(&self) -> bool {
        self.depack.needs_keyframe()
    }

    pub fn take_pictures(&mut self) -> std::vec::Drain<'_, Picture> {
        self.pictures.drain(..)
    }
}

/// One VP8 frame as RTP payloads: a 1-byte descriptor (S on the first,
/// partition 0, no picture id), the frame cut in `max`-byte pieces.
pub fn vp8_payloads(frame: &[u8], max: usize) -> Vec<Vec<u8>> {
    let max = max.max(1);
    frame
        .chunks(max)
        .enumerate()
        .map(|(i, chunk)| {
            let mut p = Vec::with_capacity(chunk.len() + 1);
            p.push(if i == 0 { 0x10 } else { 0x00 });
            p.extend_from_slice(chunk);
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vp8_frame_is_cut_with_the_start_bit_only_on_its_first_payload() {
        let frame: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let p = vp8_payloads(&frame, 1000);
        assert_eq!(p.len(), 3);
        assert_eq!([p[0][0], p[1][0], p[2][0]], [0x10, 0, 0]);
        let back: Vec<u8> = p.iter().flat_map(|x| x[1..].to_vec()).collect();
        assert_eq!(back, frame);
    }

    #[test]
    fn h264_packets_become_annex_b_pictures_with_parameter_sets_before_the_idr() {
        let mut a = Assembly::new();
        assert!(a.needs_idr(), "a fresh assembly waits for an IDR");
        // A delta picture first: dropped (nothing to decode it from).
        a.push(1, 100, true, &[0x41, 0x9a, 1]);
        // SPS, PPS, then an IDR in two FU-A fragments.
        a.push(2, 200, false, &[0x67, 0x42, 0xc0, 0x1f]);
        a.push(3, 200, false, &[0x68, 0xce, 0x3c]);
        a.push(4, 200, false, &[0x7c, 0x85, 0xaa]);
        a.push(5, 200, true, &[0x7c, 0x45, 0xbb]);
        a.push(6, 300, true, &[0x41, 0x9a, 2]);
        let got: Vec<Picture> = a.take_pictures().collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].keyframe && !got[1].keyframe);
        assert_eq!(got[0].ts, 200);
        let nals = crate::compose::codec::nal_units(&got[0].annex_b);
        let types: Vec<u8> = nals.iter().map(|n| n[0] & 0x1f).collect();
        assert_eq!(&types[types.len() - 3..], &[7, 8, 5]);
        assert_eq!(nals.last().unwrap(), &[0x65, 0xaa, 0xbb]);
        assert!(!a.needs_idr());
        // A lost packet: the next delta cannot decode, an IDR is needed.
        a.push(9, 400, true, &[0x41, 0x9a, 3]);
        assert!(a.needs_idr());
    }
}
