//! Our own SDP offer when we dial a room codec (dial-out), and reading its
//! answer, pure. We offer what a dial-in call takes: audio Opus, PCMU,
//! PCMA (in our order of preference) with telephone-event, video H.264
//! packetization mode 1 then 0 at level 4.0. The answer names what the
//! codec will send; we take the first of its audio formats we know (the
//! answerer's preference, RFC 3264 §6.1) so both directions use one codec.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::sdp::{AudioChoice, AudioCodec, Negotiated, Offer, SdpError};

/// Our dynamic payload types in the offer (the codec may answer others:
/// the answer's numbers are used from then on).
pub const PT_OPUS: u8 = 111;
pub const PT_DTMF: u8 = 101;
pub const PT_H264_MODE1: u8 = 97;
pub const PT_H264_MODE0: u8 = 96;
/// Constrained baseline, level 4.0 (1080p30): what the gateway and the
/// composite's encoder send and what hardware codecs all decode.
const PROFILE_LEVEL_ID: &str = "42e028";

/// The SDP offer of a dial-out call on our four RTP ports.
pub fn offer(local_ip: IpAddr, audio_port: u16, video_port: u16, session_id: u64) -> String {
    let fam = if local_ip.is_ipv6() { "IP6" } else { "IP4" };
    let mut s = String::new();
    let _ = write!(
        s,
        "v=0\r\no=diemcau {session_id} {session_id} IN {fam} {local_ip}\r\ns=diemcau\r\n\
         c=IN {fam} {local_ip}\r\nt=0 0\r\n\
         m=audio {audio_port} RTP/AVP {PT_OPUS} 0 8 {PT_DTMF}\r\n\
         a=rtpmap:{PT_OPUS} opus/48000/2\r\na=fmtp:{PT_OPUS} useinbandfec=1\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:{PT_DTMF} telephone-event/8000\r\na=fmtp:{PT_DTMF} 0-15\r\n\
         a=ptime:20\r\na=sendrecv\r\n\
         m=video {video_port} RTP/AVP {PT_H264_MODE1} {PT_H264_MODE0}\r\n\
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
/// An answer with neither is [`SdpError::NoCommonCodec`].
pub fn read_answer(body: &[u8]) -> Result<Negotiated, SdpError> {
    let answer = Offer::parse(body)?;
    // What a dial-in offer negotiates, for the video and the addresses.
    let mut neg = answer.negotiate()?;
    if let Some(a) = neg.audio {
        let m = &answer.media[a.index];
        let first = m.formats.iter().copied().find_map(|pt| {
            let codec = match m.rtpmap.get(&pt) {
                Some((n, 48000, _)) if n == "opus" => AudioCodec::Opus,
                Some((n, 8000, _)) if n == "pcmu" => AudioCodec::Pcmu,
                Some((n, 8000, _)) if n == "pcma" => AudioCodec::Pcma,
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
        let sdp = offer("127.0.0.1".parse().unwrap(), 40000, 40002, 7);
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
        let neg = read_answer(answer.as_bytes()).unwrap();
        let a = neg.audio.unwrap();
        assert_eq!((a.codec, a.pt, a.dtmf_pt), (AudioCodec::Pcmu, 0, Some(101)));
        assert!(neg.video.is_none());
    }

    #[test]
    fn an_answer_refusing_every_stream_has_no_common_codec() {
        let answer =
            "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n";
        assert_eq!(read_answer(answer.as_bytes()), Err(SdpError::NoCommonCodec));
    }
}
