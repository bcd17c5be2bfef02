//! H.264 access units (Annex B, as our encoder writes them) to RTP payloads
//! (RFC 6184): a NAL unit that fits goes as it is (single NAL unit
//! packet); a larger one is cut into FU-A fragments in packetization mode
//! one. In mode 0 a large NAL unit still goes whole — the IP layer
//! fragments it — since mode 0 has no fragments to offer.

use crate::compose::codec::nal_units;

/// Largest RTP payload we build: the packet with its 12-byte header stays
/// under a 1 280-byte path MTU with room for SRTP, should the call use it.
pub const MAX_PAYLOAD: usize = 1_200;

/// The RTP payloads of one access unit, in order (the last carries the
/// marker).
pub fn packetize(annex_b: &[u8], mode: u8) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for nal in nal_units(annex_b) {
        // Access unit delimiters mean nothing to the receiver.
        if nal[0] & 0x1f == 9 {
            continue;
        }
        if nal.len() <= MAX_PAYLOAD || mode == 0 {
            out.push(nal.to_vec());
            continue;
        }
        let (header, body) = (nal[0], &nal[1..]);
        let indicator = (header & 0xe0) | 28;
        let kind = header & 0x1f;
        let chunks: Vec<&[u8]> = body.chunks(MAX_PAYLOAD - 2).collect();
        let last = chunks.len() - 1;
        for (i, c) in chunks.into_iter().enumerate() {
            let mut fu = Vec::with_capacity(2 + c.len());
            fu.push(indicator);
            let start = if i == 0 { 0x80 } else { 0 };
            let end = if i == last { 0x40 } else { 0 };
            fu.push(start | end | kind);
            fu.extend_from_slice(c);
            out.push(fu);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_units_go_whole_and_a_large_one_in_fu_a_fragments_that_rebuild_it() {
        let big: Vec<u8> = std::iter::once(0x65)
            .chain((0..3000u32).map(|i| (i % 251) as u8 + 1))
            .collect();
        let mut au = vec![0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 1];
        au.extend_from_slice(&big);
        let p = packetize(&au, 1);
        assert_eq!(
            (p[0].as_slice(), p[1].as_slice()),
            (&[0x67, 1, 2][..], &[0x68, 3][..])
        );
        let frags = &p[2..];
        assert!(frags.len() >= 3 && frags.iter().all(|f| f.len() <= MAX_PAYLOAD));
        assert_eq!(frags[0][1] & 0xc0, 0x80, "start bit");
        assert_eq!(frags[frags.len() - 1][1] & 0xc0, 0x40, "end bit");
        let mut rebuilt = vec![(frags[0][0] & 0xe0) | (frags[0][1] & 0x1f)];
        for f in frags {
            rebuilt.extend_from_slice(&f[2..]);
        }
        assert_eq!(rebuilt, big);
    }

    #[test]
    fn mode_zero_sends_every_unit_whole() {
        let mut au = vec![0, 0, 0, 1, 0x65];
        au.extend(std::iter::repeat_n(7u8, 5000));
        let p = packetize(&au, 0);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].len(), 5001);
    }
}
