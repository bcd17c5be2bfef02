//! SRTP on a call's SIP leg, sans-IO: with SDES keys negotiated
//! (RTP/SAVP), every datagram from the codec is checked and decrypted
//! before the gateway sees it and everything the gateway sends the codec
//! is encrypted, RTP and RTCP alike (RTCP told apart by its packet type,
//! so RTCP on the RTP port, RFC 5761, works too). One context per
//! direction and m-line: the codec's key for what it sends, ours for what
//! we send. A packet that fails its tag or is replayed is dropped, and
//! the caller counts it; the gateway never learns it came.

use super::gateway::Leg;
use super::rtp;
use super::sdes::SrtpChoice;
use super::sdp::Negotiated;
use super::srtp::{Context, SrtpError};

struct Pair {
    rx: Context,
    tx: Context,
}

impl Pair {
    fn new(c: &SrtpChoice) -> Pair {
        Pair {
            rx: Context::new(c.suite, &c.remote),
            tx: Context::new(c.suite, &c.local),
        }
    }
}

/// A call's SRTP state; plain RTP legs pass through unchanged.
pub struct MediaKeys {
    audio: Option<Pair>,
    video: Option<Pair>,
}

impl MediaKeys {
    pub fn new(neg: &Negotiated) -> MediaKeys {
        MediaKeys {
            audio: neg.audio.and_then(|a| a.srtp).as_ref().map(Pair::new),
            video: neg.video.and_then(|v| v.srtp).as_ref().map(Pair::new),
        }
    }

    fn pair(&mut self, leg: Leg) -> Option<&mut Pair> {
        match leg {
            Leg::Local => None,
            Leg::SipAudio | Leg::SipAudioRtcp => self.audio.as_mut(),
            Leg::SipVideo | Leg::SipVideoRtcp => self.video.as_mut(),
        }
    }

    /// A datagram from the codec on `leg`: `Ok(None)` when the leg is
    /// plain (use it as it came), else its clear bytes or why it is dropped.
    pub fn inbound(&mut self, leg: Leg, data: &[u8]) -> Result<Option<Vec<u8>>, SrtpError> {
        let Some(p) = self.pair(leg) else {
            return Ok(None);
        };
        if rtp::is_rtcp(data) {
            p.rx.unprotect_rtcp(data).map(Some)
        } else {
            p.rx.unprotect_rtp(data).map(Some)
        }
    }

    /// A datagram to the codec on `leg`: `Ok(None)` when plain.
    pub fn outbound(&mut self, leg: Leg, data: &[u8]) -> Result<Option<Vec<u8>>, SrtpError> {
        let Some(p) = self.pair(leg) else {
            return Ok(None);
        };
        if rtp::is_rtcp(data) {
            p.tx.protect_rtcp(data).map(Some)
        } else {
            p.tx.protect_rtp(data).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::sdp::Offer;

    const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    fn neg(proto_audio: &str) -> Negotiated {
        let crypto = if proto_audio == "RTP/SAVP" {
            format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n")
        } else {
            String::new()
        };
        let sdp = format!(
            "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 {proto_audio} 0\r\n{crypto}\
             m=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
             a=fmtp:96 packetization-mode=1\r\n"
        );
        Offer::parse(sdp.as_bytes()).unwrap().negotiate().unwrap()
    }

    #[test]
    fn what_the_codec_seals_with_its_key_opens_once_and_a_forgery_or_replay_is_refused() {
        let n = neg("RTP/SAVP");
        let theirs = n.audio.unwrap().srtp.unwrap();
        let mut keys = MediaKeys::new(&n);
        let mut codec = Context::new(theirs.suite, &theirs.remote);
        let clear = rtp::write(0, false, 7, 160, 0x1234, &[0xff; 160]);
        let sealed = codec.protect_rtp(&clear).unwrap();
        assert_eq!(
            keys.inbound(Leg::SipAudio, &sealed),
            Ok(Some(clear.clone()))
        );
        assert_eq!(keys.inbound(Leg::SipAudio, &sealed), Err(SrtpError::Replay));
        let mut forged = codec
            .protect_rtp(&rtp::write(0, false, 8, 320, 0x1234, &[1; 160]))
            .unwrap();
        forged[20] ^= 1;
        assert_eq!(keys.inbound(Leg::SipAudio, &forged), Err(SrtpError::Auth));
        // In clear, it is refused too: an SRTP leg takes nothing plain.
        assert!(keys.inbound(Leg::SipAudio, &clear).is_err());
        // RTCP on the RTCP port, sealed as SRTCP.
        let pli = rtp::pli(1, 2);
        let srtcp = codec.protect_rtcp(&pli).unwrap();
        assert_eq!(keys.inbound(Leg::SipAudioRtcp, &srtcp), Ok(Some(pli)));
    }

    #[test]
    fn what_we_send_opens_with_our_key_only_and_plain_legs_pass_through() {
        let n = neg("RTP/SAVP");
        let ours = n.audio.unwrap().srtp.unwrap();
        let mut keys = MediaKeys::new(&n);
        let clear = rtp::write(0, false, 1, 0, 9, &[0x55; 160]);
        let sealed = keys.outbound(Leg::SipAudio, &clear).unwrap().unwrap();
        assert_ne!(sealed[12..172], clear[12..]);
        let mut codec = Context::new(ours.suite, &ours.local);
        assert_eq!(codec.unprotect_rtp(&sealed), Ok(clear.clone()));
        let mut wrong = Context::new(ours.suite, &ours.remote);
        assert_eq!(wrong.unprotect_rtp(&sealed), Err(SrtpError::Auth));
        // Video was offered as RTP/AVP: untouched.
        assert_eq!(keys.outbound(Leg::SipVideo, &clear), Ok(None));
        assert_eq!(keys.inbound(Leg::SipVideo, &clear), Ok(None));
        let mut plain = MediaKeys::new(&neg("RTP/AVP"));
        assert_eq!(plain.inbound(Leg::SipAudio, &clear), Ok(None));
    }
}
