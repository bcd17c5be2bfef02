//! A room codec's SDP offer is network input: parse, negotiate and answer
//! must never panic, and an answer we write must parse and negotiate to
//! the same codecs on our ports, with our own SDES key (never theirs) on
//! every RTP/SAVP line.
#![no_main]
use diemcau::sip::sdp::{Offer, answer};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(offer) = Offer::parse(data) else {
        return;
    };
    let Ok(neg) = offer.negotiate() else {
        return;
    };
    let ans = answer(&offer, &neg, "127.0.0.1".parse().unwrap(), 30000, 30002, 1);
    let back = Offer::parse(ans.as_bytes()).expect("our answer parses");
    let again = back.negotiate().expect("our answer has a codec");
    assert_eq!(again.audio.map(|a| (a.codec, a.pt)), neg.audio.map(|a| (a.codec, a.pt)));
    assert_eq!(again.video.map(|v| v.pt), neg.video.map(|v| v.pt));
    // What the codec reads back as our key is the key we chose.
    assert_eq!(
        again.audio.and_then(|a| a.srtp).map(|c| (c.tag, c.remote)),
        neg.audio.and_then(|a| a.srtp).map(|c| (c.tag, c.local))
    );
    assert_eq!(
        again.video.and_then(|v| v.srtp).map(|c| (c.tag, c.remote)),
        neg.video.and_then(|v| v.srtp).map(|c| (c.tag, c.local))
    );
});
