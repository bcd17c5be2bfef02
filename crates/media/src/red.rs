//! RFC 2198 redundant audio (RED), pure: parse a RED payload into its
//! primary and redundant blocks, build one, and work out which lost packets
//! a RED packet's redundancy fills.
//!
//! A RED payload comes from the network (a publisher's audio), so the parser
//! is strict and bounded: at most [`MAX_REDUNDANT_BLOCKS`] redundant blocks,
//! every length checked, no allocation (fuzz target `red_depack`).
//!
//! Layout: N redundant block headers (4 bytes: F=1, 7-bit PT, 14-bit
//! timestamp offset, 10-bit length), the primary header (1 byte: F=0, PT),
//! then the block payloads in the same order, the primary's last.

/// Redundant blocks accepted in one RED payload. Browsers send one or two
/// (libwebrtc's encoder: the previous one or two Opus frames); more would
/// only let a hostile peer make us parse and forward more per packet.
pub const MAX_REDUNDANT_BLOCKS: usize = 4;

/// Largest timestamp offset a redundant block header can carry (14 bits).
pub const MAX_TS_OFFSET: u32 = 0x3fff;

/// Largest redundant block (10-bit length field), bytes.
pub const MAX_BLOCK_BYTES: usize = 0x3ff;

const F_BIT: u8 = 0x80;

/// One redundant (older) block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Block<'a> {
    pub pt: u8,
    /// The primary's RTP timestamp minus this block's.
    pub ts_offset: u32,
    pub payload: &'a [u8],
}

/// A parsed RED payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedPacket<'a> {
    pub primary_pt: u8,
    pub primary: &'a [u8],
    blocks: [Block<'a>; MAX_REDUNDANT_BLOCKS],
    count: usize,
}

/// Why a RED payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedError {
    #[error("red payload ends inside a block header")]
    TruncatedHeader,
    #[error("red payload is shorter than its block lengths say")]
    TruncatedBlock,
    #[error("red payload has more than {MAX_REDUNDANT_BLOCKS} redundant blocks")]
    TooManyBlocks,
}

impl<'a> RedPacket<'a> {
    /// Parse a RED payload. Never panics; malformed input is an error.
    pub fn parse(data: &'a [u8]) -> Result<RedPacket<'a>, RedError> {
        let mut blocks = [Block::default(); MAX_REDUNDANT_BLOCKS];
        let mut lens = [0usize; MAX_REDUNDANT_BLOCKS];
        let mut count = 0;
        let mut i = 0;
        let primary_pt = loop {
            let first = *data.get(i).ok_or(RedError::TruncatedHeader)?;
            if first & F_BIT == 0 {
                i += 1;
                break first;
            }
            if count == MAX_REDUNDANT_BLOCKS {
                return Err(RedError::TooManyBlocks);
            }
            let h = data.get(i..i + 4).ok_or(RedError::TruncatedHeader)?;
            blocks[count].pt = h[0] & 0x7f;
            blocks[count].ts_offset = (u32::from(h[1]) << 6) | (u32::from(h[2]) >> 2);
            lens[count] = ((usize::from(h[2]) & 0x03) << 8) | usize::from(h[3]);
            count += 1;
            i += 4;
        };
        for (b, len) in blocks.iter_mut().zip(lens).take(count) {
            b.payload = data.get(i..i + len).ok_or(RedError::TruncatedBlock)?;
            i += len;
        }
        Ok(RedPacket {
            primary_pt,
            primary: &data[i..],
            blocks,
            count,
        })
    }

    /// The redundant blocks, oldest first.
    pub fn redundant(&self) -> &[Block<'a>] {
        &self.blocks[..self.count]
    }
}

/// Build a RED payload into `out` (cleared first): `redundant` oldest first,
/// each `(ts_offset, payload)` in the primary's payload type. Blocks that do
/// not fit the header's fields are left out, so the output always parses.
pub fn build(pt: u8, primary: &[u8], redundant: &[(u32, &[u8])], out: &mut Vec<u8>) {
    out.clear();
    let fits =
        |(off, p): &&(u32, &[u8])| *off > 0 && *off <= MAX_TS_OFFSET && p.len() <= MAX_BLOCK_BYTES;
    for (off, p) in redundant.iter().filter(fits).take(MAX_REDUNDANT_BLOCKS) {
        let len = p.len() as u32;
        out.push(F_BIT | (pt & 0x7f));
        out.push((off >> 6) as u8);
        out.push((((off & 0x3f) << 2) | (len >> 8)) as u8);
        out.push((len & 0xff) as u8);
    }
    out.push(pt & 0x7f);
    for (_, p) in redundant.iter().filter(fits).take(MAX_REDUNDANT_BLOCKS) {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(primary);
}

/// The lost packets a RED packet refills: for each redundant block of the
/// primary's codec, the sequence number and RTP timestamp it stands for.
///
/// A sender's redundancy is its previous packets in order (libwebrtc keeps
/// the last one or two encoded frames), so the k-th block from the end is
/// packet `seq - k`. Only packets after `last` (the newest one received
/// before this; `None` for the first) are missing, and a block must be
/// newer than `last` in time too, or it is stale data from before a gap in
/// the sender's numbering. Oldest first.
pub fn recoverable(
    red: &RedPacket<'_>,
    seq: u64,
    ts: u32,
    last: Option<(u64, u32)>,
) -> impl Iterator<Item = (u64, u32, usize)> {
    let n = red.count;
    let pt = red.primary_pt;
    let blocks = red.blocks;
    (0..n).filter_map(move |i| {
        let b = &blocks[i];
        let k = (n - i) as u64;
        let (lseq, lts) = last?;
        let bseq = seq.checked_sub(k)?;
        let bts = ts.wrapping_sub(b.ts_offset);
        let newer = bts.wrapping_sub(lts) != 0 && bts.wrapping_sub(lts) < u32::MAX / 2;
        (b.pt == pt && b.ts_offset > 0 && !b.payload.is_empty() && bseq > lseq && newer)
            .then_some((bseq, bts, i))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_packet_parses_back_to_its_blocks() {
        let mut out = Vec::new();
        build(111, b"now", &[(1920, b"two"), (960, b"one")], &mut out);
        let p = RedPacket::parse(&out).unwrap();
        assert_eq!((p.primary_pt, p.primary), (111, &b"now"[..]));
        let r = p.redundant();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].ts_offset, r[0].payload), (1920, &b"two"[..]));
        assert_eq!((r[1].ts_offset, r[1].payload), (960, &b"one"[..]));
    }

    #[test]
    fn blocks_that_do_not_fit_the_header_are_left_out() {
        let mut out = Vec::new();
        let big = vec![0u8; MAX_BLOCK_BYTES + 1];
        build(
            111,
            b"p",
            &[(MAX_TS_OFFSET + 1, b"x"), (960, &big)],
            &mut out,
        );
        assert_eq!(out, vec![111, b'p']);
    }

    #[test]
    fn truncated_and_oversized_payloads_are_refused() {
        assert_eq!(RedPacket::parse(&[]), Err(RedError::TruncatedHeader));
        assert_eq!(
            RedPacket::parse(&[0x80 | 111, 0, 0]),
            Err(RedError::TruncatedHeader)
        );
        // One block of 5 bytes announced, 2 present.
        assert_eq!(
            RedPacket::parse(&[0x80 | 111, 0x0f, 0x00, 5, 111, 1, 2]),
            Err(RedError::TruncatedBlock)
        );
        let many: Vec<u8> = std::iter::repeat_n([0x80 | 111, 0, 4, 0], MAX_REDUNDANT_BLOCKS + 1)
            .flatten()
            .chain([111])
            .collect();
        assert_eq!(RedPacket::parse(&many), Err(RedError::TooManyBlocks));
    }

    #[test]
    fn redundancy_refills_only_the_packets_missing_since_the_last() {
        let mut out = Vec::new();
        build(111, b"s", &[(1920, b"s-2"), (960, b"s-1")], &mut out);
        let p = RedPacket::parse(&out).unwrap();
        // Packet 10 arrived, 11 and 12 were lost, 13 carries both.
        let got: Vec<_> = recoverable(&p, 13, 13 * 960, Some((10, 10 * 960))).collect();
        assert_eq!(got, vec![(11, 11 * 960, 0), (12, 12 * 960, 1)]);
        // Only 12 lost.
        let got: Vec<_> = recoverable(&p, 13, 13 * 960, Some((11, 11 * 960))).collect();
        assert_eq!(got, vec![(12, 12 * 960, 1)]);
        // Nothing lost; and nothing before the first packet.
        assert_eq!(
            recoverable(&p, 13, 13 * 960, Some((12, 12 * 960))).count(),
            0
        );
        assert_eq!(recoverable(&p, 13, 13 * 960, None).count(), 0);
    }

    #[test]
    fn random_payloads_never_panic_and_what_parses_builds_back() {
        // The fuzz target's property, on a fixed seed in every test run.
        let mut x: u64 = 0x2198;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        };
        let mut out = Vec::new();
        for _ in 0..20_000 {
            let len = usize::from(next()) % 64;
            // Mostly headers with the F bit, so nested blocks get parsed.
            let data: Vec<u8> = (0..len)
                .map(|i| if i % 4 == 0 { next() | 0x80 } else { next() })
                .collect();
            let Ok(p) = RedPacket::parse(&data) else {
                continue;
            };
            let blocks: Vec<(u32, &[u8])> = p
                .redundant()
                .iter()
                .map(|b| (b.ts_offset, b.payload))
                .collect();
            build(p.primary_pt, p.primary, &blocks, &mut out);
            let again = RedPacket::parse(&out).unwrap();
            assert_eq!(again.primary, p.primary);
            for (s, _, i) in recoverable(&p, 100, 96_000, Some((97, 93_120))) {
                assert!(s > 97 && s < 100 && i < p.redundant().len());
            }
        }
    }
}
