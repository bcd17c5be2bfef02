//! What a SIP room system sends on an SRTP leg is checked and opened
//! before anything else reads it (`sip::secure`): any datagram, with a
//! fixed key, must be refused or opened, never panic. The first byte picks
//! the suite; the key-params of an offer (`a=crypto … inline:`) are parsed
//! from the same bytes.
#![no_main]
use diemcau::sip::srtp::{Context, MasterKey, Suite};

/// 30 bytes of key and salt, base64: a fixed key the input cannot know.
const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = MasterKey::from_inline(text);
    }
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let suite = if first & 1 == 0 {
        Suite::AesCm128HmacSha1_80
    } else {
        Suite::AesCm128HmacSha1_32
    };
    let key = MasterKey::from_inline(KEY).expect("the fixed key is valid");
    let mut rx = Context::new(suite, &key);
    // Several packets in one input: the replay window and the rollover
    // state move between them.
    for chunk in rest.split(|b| *b == 0xff) {
        let _ = rx.unprotect_rtp(chunk);
        let _ = rx.unprotect_rtcp(chunk);
    }
});
