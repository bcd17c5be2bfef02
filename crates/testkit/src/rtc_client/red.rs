//! RFC 2198 RED for the client, as a browser does it: the publisher wraps
//! each Opus packet with the one before it; a subscriber takes the primary
//! and refills a lost packet from the redundancy of the packet after it.
//! (The server has its own parser; the client stays independent of the code
//! it tests.)

/// The codec a client offers for RED over Opus.
pub const MIME_TYPE_RED: &str = "audio/red";

/// Redundant block headers: F=1, PT, 14-bit timestamp offset, 10-bit length.
const F_BIT: u8 = 0x80;

/// A RED payload: `redundant` (ts offset, payload) oldest first, then the
/// primary.
pub fn build(pt: u8, primary: &[u8], redundant: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(primary.len() + redundant.len() * 84 + 1);
    let ok = |(off, p): &&(u32, &[u8])| *off > 0 && *off <= 0x3fff && p.len() <= 0x3ff;
    for (off, p) in redundant.iter().filter(ok) {
        let len = p.len() as u32;
        out.extend_from_slice(&[
            F_BIT | (pt & 0x7f),
            (off >> 6) as u8,
            (((off & 0x3f) << 2) | (len >> 8)) as u8,
            len as u8,
        ]);
    }
    out.push(pt & 0x7f);
    for (_, p) in redundant.iter().filter(ok) {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(primary);
    out
}

/// Redundant blocks as (ts offset, payload), oldest first.
pub type Blocks<'a> = Vec<(u32, &'a [u8])>;

/// (primary, redundant blocks), or `None` if the payload is malformed.
pub fn parse(data: &[u8]) -> Option<(&[u8], Blocks<'_>)> {
    let mut heads = Vec::new();
    let mut i = 0;
    loop {
        let b = *data.get(i)?;
        if b & F_BIT == 0 {
            i += 1;
            break;
        }
        let h = data.get(i..i + 4)?;
        let off = (u32::from(h[1]) << 6) | (u32::from(h[2]) >> 2);
        let len = ((usize::from(h[2]) & 3) << 8) | usize::from(h[3]);
        heads.push((off, len));
        i += 4;
        if heads.len() > 8 {
            return None;
        }
    }
    let mut blocks = Vec::with_capacity(heads.len());
    for (off, len) in heads {
        blocks.push((off, data.get(i..i + len)?));
        i += len;
    }
    Some((&data[i..], blocks))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_built_payload_parses_back() {
        let p = super::build(111, b"now", &[(960, b"before")]);
        let (primary, blocks) = super::parse(&p).unwrap();
        assert_eq!(primary, b"now");
        assert_eq!(blocks, vec![(960, &b"before"[..])]);
        assert!(super::parse(&[0x80 | 111, 0]).is_none());
    }
}
