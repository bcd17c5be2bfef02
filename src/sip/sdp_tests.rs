use super::*;

/// A Poly-like offer: G.722, µ-law, A-law, DTMF; H.264 modes 0 and 1 at
/// level 5.1; a BFCP content line.
pub(crate) const POLY_OFFER: &str = "v=0\r\n\
o=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 9 0 8 101\r\n\
a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
m=video 49172 RTP/AVP 109 110\r\n\
a=rtpmap:109 H264/90000\r\na=fmtp:109 profile-level-id=428033\r\n\
a=rtpmap:110 H264/90000\r\na=fmtp:110 profile-level-id=428033;packetization-mode=1\r\n\
m=application 5070 TCP/BFCP *\r\n";

#[test]
fn g722_and_h264_mode_1_are_chosen_with_the_level_capped() {
    let offer = Offer::parse(POLY_OFFER.as_bytes()).unwrap();
    let neg = offer.negotiate().unwrap();
    let a = neg.audio.unwrap();
    assert_eq!((a.codec, a.pt, a.dtmf_pt), (AudioCodec::G722, 9, Some(101)));
    assert_eq!(a.remote, "127.0.0.1:49170".parse::<SocketAddr>().unwrap());
    let v = neg.video.unwrap();
    assert_eq!((v.pt, v.packetization_mode), (110, 1));
    assert_eq!(v.profile_level_id, [0x42, 0x80, MAX_H264_LEVEL]);
}

#[test]
fn opus_is_preferred_when_offered() {
    let sdp = POLY_OFFER.replace(
        "m=audio 49170 RTP/AVP 9 0 8 101\r\n",
        "m=audio 49170 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\n",
    );
    let neg = Offer::parse(sdp.as_bytes()).unwrap().negotiate().unwrap();
    assert_eq!(
        neg.audio.map(|a| (a.codec, a.pt)),
        Some((AudioCodec::Opus, 96))
    );
}

#[test]
fn the_answer_keeps_every_m_line_in_place_and_refuses_the_others_on_port_0() {
    let offer = Offer::parse(POLY_OFFER.as_bytes()).unwrap();
    let neg = offer.negotiate().unwrap();
    let ans = answer(&offer, &neg, "127.0.0.1".parse().unwrap(), 30000, 30002, 7);
    let m: Vec<&str> = ans.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        m,
        [
            "m=audio 30000 RTP/AVP 9 101",
            "m=video 30002 RTP/AVP 110",
            "m=application 0 TCP/BFCP 0"
        ]
    );
    assert!(ans.contains("a=fmtp:110 profile-level-id=428028;packetization-mode=1"));
    // The answer is itself a valid offer to our parser, naming our ports.
    let back = Offer::parse(ans.as_bytes()).unwrap().negotiate().unwrap();
    assert_eq!(back.audio.unwrap().remote.port(), 30000);
}

#[test]
fn without_g722_pcmu_is_chosen_then_pcma() {
    let sdp = POLY_OFFER.replace("RTP/AVP 9 0 8 101", "RTP/AVP 8 0 101");
    let neg = Offer::parse(sdp.as_bytes()).unwrap().negotiate().unwrap();
    assert_eq!(
        neg.audio.map(|a| (a.codec, a.pt)),
        Some((AudioCodec::Pcmu, 0))
    );
    let sdp = POLY_OFFER.replace("RTP/AVP 9 0 8 101", "RTP/AVP 8 101");
    let neg = Offer::parse(sdp.as_bytes()).unwrap().negotiate().unwrap();
    assert_eq!(
        neg.audio.map(|a| (a.codec, a.pt)),
        Some((AudioCodec::Pcma, 8))
    );
}

#[test]
fn an_offer_without_a_common_codec_is_488() {
    let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 3 18\r\na=rtpmap:3 GSM/8000\r\n\
               m=video 4002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
    let offer = Offer::parse(sdp.as_bytes()).unwrap();
    assert_eq!(offer.negotiate(), Err(SdpError::NoCommonCodec));
}

#[test]
fn srtp_media_lines_without_a_suite_we_know_are_refused() {
    let sdp = POLY_OFFER.replace("RTP/AVP", "RTP/SAVP");
    let offer = Offer::parse(sdp.as_bytes()).unwrap();
    assert_eq!(offer.negotiate(), Err(SdpError::NoCommonCodec));
    let sdp = POLY_OFFER.replace(
        "m=audio 49170 RTP/AVP 9 0 8 101\r\n",
        "m=audio 49170 RTP/SAVP 0\r\na=crypto:1 AEAD_AES_256_GCM inline:x\r\n",
    );
    let neg = Offer::parse(sdp.as_bytes()).unwrap().negotiate().unwrap();
    assert!(
        neg.audio.is_none(),
        "the audio line is refused, video stays"
    );
}

const THEIR_KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

/// baresip's `mediaenc=srtp-mand` offer, shortened.
fn savp_offer() -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/SAVP 0\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY}\r\n\
         a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}|2^31\r\n"
    )
}

#[test]
fn an_sdes_offer_is_answered_on_rtp_savp_with_the_80_bit_suite_and_our_own_key() {
    let offer = Offer::parse(savp_offer().as_bytes()).unwrap();
    let neg = offer.negotiate().unwrap();
    assert!(neg.uses_sdes());
    let c = neg.audio.unwrap().srtp.unwrap();
    assert_eq!(
        (c.tag, c.suite),
        (2, crate::sip::srtp::Suite::AesCm128HmacSha1_80)
    );
    let ans = answer(&offer, &neg, "127.0.0.1".parse().unwrap(), 30000, 30002, 7);
    assert!(ans.contains("m=audio 30000 RTP/SAVP 0\r\n"), "{ans}");
    assert!(ans.contains(&format!(
        "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
        c.local.to_inline()
    )));
    assert!(!ans.contains(THEIR_KEY), "never their key back");
    let back = Offer::parse(ans.as_bytes()).unwrap().negotiate().unwrap();
    assert_eq!(back.audio.unwrap().srtp.unwrap().remote, c.local);
}

#[test]
fn an_sdes_key_that_does_not_parse_is_a_typed_error_naming_its_line() {
    let sdp = savp_offer().replace(&format!("inline:{THEIR_KEY}|2^31"), "inline:c2hvcnQ=");
    assert!(matches!(
        Offer::parse(sdp.as_bytes()),
        Err(SdpError::Crypto {
            line: 8,
            error: crate::sip::sdes::SdesError::BadKey { tag: 2, .. }
        })
    ));
    let many: String = (0..=crate::sip::sdes::MAX_CRYPTO)
        .map(|i| format!("a=crypto:{i} AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}\r\n"))
        .collect();
    let sdp = format!("v=0\r\nm=audio 1 RTP/SAVP 0\r\n{many}");
    assert!(matches!(
        Offer::parse(sdp.as_bytes()),
        Err(SdpError::Crypto {
            error: crate::sip::sdes::SdesError::TooMany,
            ..
        })
    ));
}

#[test]
fn a_plain_offer_uses_no_sdes() {
    let neg = Offer::parse(POLY_OFFER.as_bytes())
        .unwrap()
        .negotiate()
        .unwrap();
    assert!(!neg.uses_sdes());
}

#[test]
fn an_accepted_line_without_any_address_is_refused() {
    let sdp = "v=0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let offer = Offer::parse(sdp.as_bytes()).unwrap();
    assert_eq!(offer.negotiate(), Err(SdpError::NoAddress));
}

#[test]
fn too_many_media_lines_or_formats_are_refused() {
    let many: String = (0..=MAX_MEDIA).map(|_| "m=audio 1 RTP/AVP 0\r\n").collect();
    assert_eq!(Offer::parse(many.as_bytes()), Err(SdpError::TooManyMedia));
    let fmts: Vec<String> = (0..=MAX_FORMATS).map(|i| i.to_string()).collect();
    let line = format!("m=audio 1 RTP/AVP {}\r\n", fmts.join(" "));
    assert_eq!(Offer::parse(line.as_bytes()), Err(SdpError::Line(1)));
}

#[test]
fn malformed_lines_are_named() {
    assert_eq!(
        Offer::parse(b"v=0\r\nc=IN IP4 not-an-ip\r\n"),
        Err(SdpError::Line(2))
    );
    assert_eq!(
        Offer::parse(b"v=0\r\nm=audio x RTP/AVP 0\r\n"),
        Err(SdpError::Line(2))
    );
    assert_eq!(Offer::parse(b"garbage"), Err(SdpError::Line(1)));
    assert_eq!(Offer::parse(&[0xff, 0xfe]), Err(SdpError::NotText));
}
