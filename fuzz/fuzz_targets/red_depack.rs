//! The RED (RFC 2198) depacketizer reads audio payloads straight from
//! publishers: parse, then unwrap into the frames to forward (the ones the
//! redundancy refills, then the primary). Nothing may panic; what parses
//! must build back to the same blocks, and a refilled frame must lie
//! strictly between the last packet received and this one.
#![no_main]
use std::sync::Arc;

use diemcau::media::audio;
use diemcau::media::red::{self, RedPacket};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // [seq step][last seq step][payload…]
    let (Some(&step), Some(&back)) = (data.first(), data.get(1)) else {
        return;
    };
    let payload = &data[2.min(data.len())..];
    let seq = 1_000 + u64::from(step);
    let last = seq.checked_sub(u64::from(back)).map(|s| (s, 960 * s as u32));
    let ts = 960 * seq as u32;
    if let Ok(p) = RedPacket::parse(payload) {
        let blocks: Vec<(u32, &[u8])> =
            p.redundant().iter().map(|b| (b.ts_offset, b.payload)).collect();
        let mut out = Vec::new();
        red::build(p.primary_pt, p.primary, &blocks, &mut out);
        let again = RedPacket::parse(&out).expect("a built payload parses");
        assert_eq!(again.primary, p.primary);
        assert!(again.redundant().len() <= p.redundant().len());
        for (s, _, i) in red::recoverable(&p, seq, ts, last) {
            assert!(last.is_some_and(|(l, _)| s > l) && s < seq);
            assert!(i < p.redundant().len());
        }
    }
    let wire: Arc<[u8]> = Arc::from(payload);
    if let Some(units) = audio::unwrap(&wire, 111, seq, ts, last) {
        assert!(!units.is_empty());
        assert_eq!(units.last().map(|u| u.seq), Some(seq));
        assert!(units.windows(2).all(|w| w[0].seq < w[1].seq));
    }
});
