//! What SRTP costs a SIP call per packet, against plain RTP: the path a
//! call's SIP leg takes (`sip::secure::MediaKeys`, as `sip::call` uses it)
//! for a G.711 packet (20 ms, 172 bytes) and an H.264 packet (1 200
//! bytes), each way — `protect` for what we send the codec, `unprotect`
//! for what it sends us (tag check, replay window, decryption). `plain`
//! is the same call on a leg negotiated without keys (it hands the packet
//! back untouched): the floor. Best of the rounds, nanoseconds a packet.
//!
//! Run: `cargo bench --bench sip_srtp` (or `--profile dev` for a quick
//! figure: the crate unoptimised, aws-lc's AES and HMAC optimised anyway).
//!
//! On the 2-core development machine (shared, load ~4.5), with the crate
//! at opt-level 3 (`CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo bench --profile
//! dev --bench sip_srtp`), ns a packet:
//!
//! ```text
//! packet            bytes     plain ns   protect ns unprotect ns
//! g711 20 ms          172            6          596          701
//! h264               1200            8         1813         2274
//! ```
//!
//! A call at 50 audio and ~200 video packets a second each way: about
//! 1.1 ms of CPU a second, 0.1 % of a core (unoptimised crate: 1.3/1.8 µs
//! and 2.4/2.6 µs).

use std::hint::black_box;
use std::time::Instant;

use diemcau::sip::gateway::Leg;
use diemcau::sip::rtp;
use diemcau::sip::sdp::{Negotiated, Offer};
use diemcau::sip::secure::MediaKeys;
use diemcau::sip::srtp::{Context, MasterKey};

const ROUNDS: usize = 7;
const PACKETS: u16 = 20_000;

fn negotiated(savp: bool) -> Negotiated {
    let (proto, crypto) = if savp {
        (
            "RTP/SAVP",
            format!(
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
                MasterKey::random().to_inline()
            ),
        )
    } else {
        ("RTP/AVP", String::new())
    };
    let sdp = format!(
        "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 {proto} 0\r\n{crypto}\
         m=video 4002 {proto} 96\r\n{crypto}a=rtpmap:96 H264/90000\r\n"
    );
    Offer::parse(sdp.as_bytes())
        .expect("offer")
        .negotiate()
        .expect("codecs")
}

/// Best ns per packet of `f` over `PACKETS` packets of `size` bytes.
fn time(size: usize, mut f: impl FnMut(&[u8])) -> f64 {
    let payload = vec![0x5au8; size - 12];
    let packets: Vec<Vec<u8>> = (0..PACKETS)
        .map(|seq| rtp::write(0, false, seq, u32::from(seq) * 160, 7, &payload))
        .collect();
    let t = Instant::now();
    for p in &packets {
        f(black_box(p));
    }
    t.elapsed().as_nanos() as f64 / f64::from(PACKETS)
}

fn main() {
    println!(
        "{:<14} {:>8} {:>12} {:>12} {:>12}",
        "packet", "bytes", "plain ns", "protect ns", "unprotect ns"
    );
    for (label, leg, size) in [
        ("g711 20 ms", Leg::SipAudio, 172),
        ("h264", Leg::SipVideo, 1200),
    ] {
        let (mut plain, mut protect, mut unprotect) = (f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..ROUNDS {
            let mut keys = MediaKeys::new(&negotiated(false));
            plain = plain.min(time(size, |p| {
                black_box(keys.outbound(leg, p).expect("plain"));
            }));
            let neg = negotiated(true);
            let mut keys = MediaKeys::new(&neg);
            protect = protect.min(time(size, |p| {
                black_box(keys.outbound(leg, p).expect("protect"));
            }));
            // What a codec seals with its key, opened by ours.
            let c = neg.audio.and_then(|a| a.srtp).expect("keys");
            let mut codec = Context::new(c.suite, &c.remote);
            let mut keys = MediaKeys::new(&neg);
            let sealed: Vec<Vec<u8>> = (0..PACKETS)
                .map(|seq| {
                    let p = rtp::write(0, false, seq, 0, 9, &vec![0x5au8; size - 12]);
                    codec.protect_rtp(&p).expect("seal")
                })
                .collect();
            let mut i = 0;
            let leg_audio = Leg::SipAudio; // the audio line's keys
            unprotect = unprotect.min(time(size, |_| {
                black_box(keys.inbound(leg_audio, &sealed[i]).expect("open"));
                i += 1;
            }));
        }
        println!("{label:<14} {size:>8} {plain:>12.0} {protect:>12.0} {unprotect:>12.0}");
    }
}
