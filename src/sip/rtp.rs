//! Plain RTP (RFC 3550) on the SIP leg, pure: read a packet's header from
//! a codec's datagram (bounded, never panics) and write ours.

/// The fields of a received RTP packet we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    /// Where the payload starts and ends (padding removed).
    pub payload_start: usize,
    pub payload_end: usize,
}

/// Whether a datagram on the RTP socket is RTCP (RFC 5761 §4: PT 64–95
/// in the second byte's low seven bits).
pub fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 8 && data[0] >> 6 == 2 && (64..96).contains(&(data[1] & 0x7f))
}

pub fn parse(data: &[u8]) -> Option<RtpHeader> {
    if data.len() < 12 || data[0] >> 6 != 2 || is_rtcp(data) {
        return None;
    }
    let cc = usize::from(data[0] & 0x0f);
    let mut start = 12 + 4 * cc;
    if data[0] & 0x10 != 0 {
        let ext = data.get(start..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    let mut end = data.len();
    if data[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*data.last()?))?;
    }
    if start > end {
        return None;
    }
    Some(RtpHeader {
        pt: data[1] & 0x7f,
        marker: data[1] & 0x80 != 0,
        seq: u16::from_be_bytes([data[2], data[3]]),
        ts: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
        ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
        payload_start: start,
        payload_end: end,
    })
}

/// One RTP packet: a 12-byte header and the payload.
pub fn write(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + payload.len());
    out.push(0x80);
    out.push((u8::from(marker) << 7) | (pt & 0x7f));
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An RTCP FIR (RFC 5104 §4.3.1) asking `media_ssrc` for a keyframe:
/// room codecs answer FIR more reliably than PLI.
pub fn fir(sender_ssrc: u32, media_ssrc: u32, seq: u8) -> Vec<u8> {
    let mut out = vec![0x80 | 4, 206, 0, 4];
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
    out.extend_from_slice(&[seq, 0, 0, 0]);
    out
}

/// An RTCP PLI (RFC 4585 §6.3.1) for `media_ssrc`: software codecs
/// (baresip among them) answer PLI where hardware answers FIR, so both go.
pub fn pli(sender_ssrc: u32, media_ssrc: u32) -> Vec<u8> {
    let mut out = vec![0x80 | 1, 206, 0, 2];
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
    out
}

/// Whether an RTCP compound packet holds a PLI or a FIR (a keyframe
/// request from the codec for what we send it).
pub fn asks_keyframe(data: &[u8]) -> bool {
    let mut at = 0;
    while let Some(h) = data.get(at..at + 4) {
        let (fmt, pt) = (h[0] & 0x1f, h[1]);
        if (pt == 206 && (fmt == 1 || fmt == 4)) || (pt == 192) {
            return true;
        }
        at += 4 + 4 * usize::from(u16::from_be_bytes([h[2], h[3]]));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_packet_parses_back_and_junk_is_refused() {
        let p = write(0, true, 7, 160, 0xdead_beef, &[1, 2, 3]);
        let h = parse(&p).unwrap();
        assert_eq!(
            (h.pt, h.marker, h.seq, h.ts, h.ssrc),
            (0, true, 7, 160, 0xdead_beef)
        );
        assert_eq!(&p[h.payload_start..h.payload_end], &[1, 2, 3]);
        assert_eq!(parse(&[0x80; 11]), None);
        let mut padded = p.clone();
        padded[0] |= 0x20;
        *padded.last_mut().unwrap() = 200;
        assert_eq!(parse(&padded), None, "padding longer than the packet");
        assert!(!is_rtcp(&p));
    }

    #[test]
    fn fir_and_pli_are_keyframe_requests() {
        let f = fir(1, 2, 0);
        assert!(is_rtcp(&f) && asks_keyframe(&f));
        let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 1];
        assert!(!asks_keyframe(&rr));
        let pli = pli(1, 2);
        assert!(asks_keyframe(&[&rr[..], &pli[..]].concat()));
    }
}
