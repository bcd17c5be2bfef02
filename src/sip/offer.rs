//! Our own SDP offer when we dial a room codec (dial-out), and reading its
//! answer, pure. We offer what a dial-in call takes: audio Opus, G.722,
//! PCMU, PCMA (in our order of preference) with telephone-event, video H.264
//! packetization mode 1 then 0 at level 4.0. The answer names what the
//! codec will send; we take the first of its audio formats we know (the
//! answerer's preference, RFC 3264 §6.1) so both directions use one codec.
//! Over TLS we offer RTP/SAVP with an SDES key of ours per m-line
//! (AES_CM_128_HMAC_SHA1_80, tag 1); the answer's key is the codec's.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::sdes;
use super::sdp::{AudioChoice, AudioCodec, Negotiated, Offer, SdpError};
use super::srtp::{MasterKey, Suite};

/// The tag and suite of the `a=crypto` line we offer.
const CRYPTO_TAG: u32 = 1;
const CRYPTO_SUITE: Suite = Suite::AesCm128HmacSha1_80;

/// Our SDES keys of a dial-out offer: audio, video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferKeys {
    pub audio: MasterKey,
    pub video: MasterKey,
}

impl OfferKeys {
    pub fn random() -> OfferKeys {
        OfferKeys {
            audio: MasterKey::random(),
            video: MasterKey::random(),
        }
    }
}

/// Our dynamic payload types in the offer (the codec may answer others:
/// the answer's numbers are used from then on).
pub const PT_OPUS: u8 = 111;
pub const PT_DTMF: u8 = 101;
pub const PT_H264_MODE1: u8 = 97;
pub const PT_H264_MODE0: u8 = 96;
/// Constrained baseline, level 4.0 (1080p30): what the gateway and the
/// composite's encoder send and what hardware codecs all decode.
const PROFILE_LEVEL_ID: &str = "42e028";

/// The SDP offer of a dial-out call on our four RTP ports; with `keys`,
/// RTP/SAVP.
pub fn offer(
    local_ip: IpAddr,
    audio_port: u16,
    video_port: u16,
    session_id: u64,
    keys: Option<&OfferKeys>,
) -> String {
    let fam = if local_ip.is_ipv6() { "IP6" } else { "IP4" };
    let proto = if keys.is_some() {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let crypto = |k: Option<&MasterKey>| {
        k.map(|k| sdes::line(CRYPTO_TAG, CRYPTO_SUITE, k))
            .unwrap_or_default()
    };
    let (audio_crypto, video_crypto) = (
        crypto(keys.map(|k| &k.audio)),
        crypto(keys.map(|k| &k.video)),
    );
    let mut s = String::new();
    let _ = write!(
        s,
        "v=0\r\no=diemcau {session_id} {session_id} IN {fam} {local_ip}\r\ns=diemcau\r\n\
         c=IN {fam} {local_ip}\r\nt=0 0\r\n\
         m=audio {audio_port} {proto} {PT_OPUS} 9 0 8 {PT_DTMF}\r\n{audio_crypto}\
         a=rtpmap:{PT_OPUS} opus/48000/2\r\na=fmtp:{PT_OPUS} useinbandfec=1\r\n\
         a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:{PT_DTMF} telephone-event/8000\r\na=fmtp:{PT_DTMF} 0-15\r\n\
         a=ptime:20\r\na=sendrecv\r\n\
         m=video {video_port} {proto} {PT_H264_MODE1} {PT_H264_MODE0}\r\n{video_crypto}\
         a=rtpmap:{PT_H264_MODE1} H264/90000\r\n\
         a=fmtp:{PT_H264_MODE1} profile-level-id={PROFILE_LEVEL_ID};packetization-mode=1\r\n\
         a=rtpmap:{PT_H264_MODE0} H264/90000\r\n\
         a=fmtp:{PT_H264_MODE0} profile-level-id={PROFILE_LEVEL_ID};packetization-mode=0\r\n\
         a=rtcp-fb:* nack pli\r\na=rtcp-fb:* ccm fir\r\na=sendrecv\r\n"
    );
    s
}

/// The codecs of a call from the codec's answer to our offer: the first
/// audio format of the answer we know, H.264 as a dial-in call picks it.
/// An answer with neither is [`SdpError::NoCommonCodec`]. With `keys`
/// (we offered RTP/SAVP), an SRTP line's key for what we send is ours.
pub fn read_answer(body: &[u8], keys: Option<&OfferKeys>) -> Result<Negotiated, SdpError> {
    let answer = Offer::parse(body)?;
    // What a dial-in offer negotiates, for the video and the addresses.
    let mut neg = answer.negotiate()?;
    if let Some(a) = neg.audio.as_mut().and_then(|a| a.srtp.as_mut()) {
        // An SRTP answer to a plain offer has no key of ours: refused.
        a.local = keys.ok_or(SdpError::NoCommonCodec)?.audio;
    }
    if let Some(v) = neg.video.as_mut().and_then(|v| v.srtp.as_mut()) {
        v.local = keys.ok_or(SdpError::NoCommonCodec)?.video;
    }
    if let Some(a) = neg.audio {
        let m = &answer.media[a.index];
        let first = m.formats.iter().copied().find_map(|pt| {
            let codec = match m.rtpmap.get(&pt) {
                Some((n, 48000, _)) if n == "opus" => AudioCodec::Opus,
                Some((n, 8000, _)) if n == "g722" => AudioCodec::G722,
                Some((n, 8000, _)) if n == "pcmu" => AudioCodec::Pcmu,
                Some((n, 8000, _)) if n == "pcma" => AudioCodec::Pcma,
                None if pt == 9 => AudioCodec::G722,
                None if pt == 0 => AudioCodec::Pcmu,
                None if pt == 8 => AudioCodec::Pcma,
                _ => return None,
            };
            Some((codec, pt))
        });
        if let Some((codec, pt)) = first {
            neg.audio = Some(AudioChoice { codec, pt, ..a });
        }
    }
    Ok(neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_offer_parses_as_an_offer_a_dial_in_call_would_accept() {
        let sdp = offer("127.0.0.1".parse().unwrap(), 40000, 40002, 7, None);
        let neg = Offer::parse(sdp.as_bytes()).unwrap().negotiate().unwrap();
        let a = neg.audio.unwrap();
        assert_eq!(
            (a.codec, a.pt, a.dtmf_pt),
            (AudioCodec::Opus, PT_OPUS, Some(PT_DTMF))
        );
        let v = neg.video.unwrap();
        assert_eq!((v.pt, v.packetization_mode), (PT_H264_MODE1, 1));
        assert_eq!(v.remote.port(), 40002);
    }

    #[test]
    fn the_answer_s_first_known_audio_format_is_the_call_s_codec() {
        let answer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                      m=audio 5004 RTP/AVP 0 111 101\r\na=rtpmap:111 opus/48000/2\r\n\
                      a=rtpmap:101 telephone-event/8000\r\n";
        let neg = read_answer(answer.as_bytes(), None).unwrap();
        let a = neg.audio.unwrap();
        assert_eq!((a.codec, a.pt, a.dtmf_pt), (AudioCodec::Pcmu, 0, Some(101)));
        assert!(neg.video.is_none());
    }

    #[test]
    fn an_answer_refusing_every_stream_has_no_common_codec() {
        let answer =
            "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n";
        assert_eq!(
            read_answer(answer.as_bytes(), None),
            Err(SdpError::NoCommonCodec)
        );
    }

    #[test]
    fn over_tls_we_offer_savp_with_our_keys_and_keep_them_for_what_we_send() {
        let keys = OfferKeys::random();
        let sdp = offer("127.0.0.1".parse().unwrap(), 40000, 40002, 7, Some(&keys));
        assert!(sdp.contains("m=audio 40000 RTP/SAVP "));
        assert!(sdp.contains(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}",
            keys.video.to_inline()
        )));
        // The codec answers with its own key, which is what we open with.
        let theirs = MasterKey::random();
        let answer = format!(
            "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/SAVP 0\r\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
            theirs.to_inline()
        );
        let c = read_answer(answer.as_bytes(), Some(&keys))
            .unwrap()
            .audio
            .unwrap()
            .srtp
            .unwrap();
        assert_eq!((c.remote, c.local), (theirs, keys.audio));
        assert_eq!(
            read_answer(answer.as_bytes(), None),
            Err(SdpError::NoCommonCodec)
        );
    }
}
