//! SDP offer/answer for a SIP call (RFC 3264), pure and bounded: read a room
//! codec's offer, pick one audio codec (Opus, else G.722, else G.711
//! µ-law, else A-law; telephone-event accepted) and H.264 video (packetization mode 1
//! before 0, profile-level-id kept, level capped at ours), write the answer
//! with every offered m-line in its place (refused ones on port 0).
//! RTP/SAVP m-lines carry SDES keys (`sdes`): taken with a suite we know,
//! answered with our own key; whether the call may use them at all
//! (signalling over TLS) is the listener's decision.
//! The offer comes from the network: fuzz target `sip_sdp`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::sdes::{self, Crypto, MAX_CRYPTO, SdesError, SrtpChoice};

/// Most m-lines read from one offer; a codec offers 2–4 (audio, video,
/// content/BFCP). More is refused rather than answered line by line.
pub const MAX_MEDIA: usize = 8;
/// Most payload formats read on one m-line.
pub const MAX_FORMATS: usize = 32;
/// Highest H.264 level we take: 4.0 (0x28) is 1080p30, the ceiling.
pub const MAX_H264_LEVEL: u8 = 0x28;
/// profile-level-id when the offer names none (RFC 6184 §8.1: baseline 1.0).
const DEFAULT_PROFILE_LEVEL: [u8; 3] = [0x42, 0x00, 0x0a];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("sdp is not utf-8")]
    NotText,
    #[error("sdp line {0} is malformed")]
    Line(usize),
    #[error("sdp has more than {MAX_MEDIA} m-lines")]
    TooManyMedia,
    #[error("sdp m-line has more than {MAX_FORMATS} formats")]
    TooManyFormats,
    #[error("sdp names no connection address for an accepted m-line")]
    NoAddress,
    #[error("sdp offers no codec in common (need Opus, G722, PCMU, PCMA or H.264)")]
    NoCommonCodec,
    #[error("sdp line {line}: {error}")]
    Crypto { line: usize, error: SdesError },
}

/// One offered m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferMedia {
    pub kind: String,
    pub port: u16,
    pub proto: String,
    pub formats: Vec<u8>,
    /// payload type → (encoding name lower-case, clock rate, channels)
    pub rtpmap: HashMap<u8, (String, u32, u8)>,
    pub fmtp: HashMap<u8, String>,
    pub addr: Option<IpAddr>,
    /// Its usable `a=crypto` lines (RTP/SAVP), at most `sdes::MAX_CRYPTO`.
    pub crypto: Vec<Crypto>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub session_addr: Option<IpAddr>,
    pub media: Vec<OfferMedia>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    Opus,
    /// 7 kHz wideband, what room codecs prefer after Opus (RFC 3551: its
    /// RTP clock is 8000 though it samples at 16 kHz).
    G722,
    Pcmu,
    Pcma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioChoice {
    pub index: usize,
    pub remote: SocketAddr,
    pub codec: AudioCodec,
    pub pt: u8,
    pub dtmf_pt: Option<u8>,
    /// RTP/SAVP: the keys each way.
    pub srtp: Option<SrtpChoice>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoChoice {
    pub index: usize,
    pub remote: SocketAddr,
    pub pt: u8,
    pub packetization_mode: u8,
    pub profile_level_id: [u8; 3],
    /// RTP/SAVP: the keys each way.
    pub srtp: Option<SrtpChoice>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub audio: Option<AudioChoice>,
    pub video: Option<VideoChoice>,
}

impl Offer {
    pub fn parse(body: &[u8]) -> Result<Offer, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
        let mut offer = Offer {
            session_addr: None,
            media: Vec::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let (k, v) = line.split_once('=').ok_or(SdpError::Line(i + 1))?;
            match k {
                "m" => {
                    if offer.media.len() == MAX_MEDIA {
                        return Err(SdpError::TooManyMedia);
                    }
                    offer.media.push(parse_m(v).ok_or(SdpError::Line(i + 1))?);
                }
                "c" => {
                    let addr = parse_c(v).ok_or(SdpError::Line(i + 1))?;
                    match offer.media.last_mut() {
                        Some(m) => m.addr = Some(addr),
                        None => offer.session_addr = Some(addr),
                    }
                }
                "a" if v.starts_with("crypto:") => {
                    if let Some(m) = offer.media.last_mut() {
                        let crypto = |error| SdpError::Crypto { line: i + 1, error };
                        let parsed = sdes::parse(&v["crypto:".len()..]).map_err(crypto)?;
                        if m.crypto.len() == MAX_CRYPTO {
                            return Err(crypto(SdesError::TooMany));
                        }
                        m.crypto.extend(parsed);
                    }
                }
                "a" => {
                    if let Some(m) = offer.media.last_mut() {
                        parse_a(m, v).ok_or(SdpError::Line(i + 1))?;
                    }
                }
                _ => {}
            }
        }
        Ok(offer)
    }

    /// Pick the call's codecs; 488 ([`SdpError::NoCommonCodec`]) when
    /// neither audio nor video has one.
    pub fn negotiate(&self) -> Result<Negotiated, SdpError> {
        let mut neg = Negotiated {
            audio: None,
            video: None,
        };
        for (index, m) in self.media.iter().enumerate() {
            let srtp = match m.proto.as_str() {
                "RTP/AVP" => None,
                // No suite we know: the line is refused like a codec we lack.
                "RTP/SAVP" => match sdes::choose(&m.crypto) {
                    Some(c) => Some(c),
                    None => continue,
                },
                _ => continue,
            };
            if m.port == 0 {
                continue;
            }
            let addr = m.addr.or(self.session_addr);
            if m.kind == "audio" && neg.audio.is_none() {
                if let Some((codec, pt)) = pick_audio(m) {
                    let ip = addr.ok_or(SdpError::NoAddress)?;
                    let dtmf_pt = m.formats.iter().copied().find(|pt| {
                        m.rtpmap
                            .get(pt)
                            .is_some_and(|(n, c, _)| n == "telephone-event" && *c == 8000)
                    });
                    neg.audio = Some(AudioChoice {
                        index,
                        remote: SocketAddr::new(ip, m.port),
                        codec,
                        pt,
                        dtmf_pt,
                        srtp,
                    });
                }
            } else if m.kind == "video"
                && neg.video.is_none()
                && let Some((pt, mode, pli)) = pick_h264(m)
            {
                let ip = addr.ok_or(SdpError::NoAddress)?;
                neg.video = Some(VideoChoice {
                    index,
                    remote: SocketAddr::new(ip, m.port),
                    pt,
                    packetization_mode: mode,
                    profile_level_id: pli,
                    srtp,
                });
            }
        }
        if neg.audio.is_none() && neg.video.is_none() {
            return Err(SdpError::NoCommonCodec);
        }
        Ok(neg)
    }
}

fn parse_m(v: &str) -> Option<OfferMedia> {
    let mut it = v.split_ascii_whitespace();
    let kind = it.next()?.to_owned();
    let port: u16 = it.next()?.split('/').next()?.parse().ok()?;
    let proto = it.next()?.to_owned();
    let mut formats = Vec::new();
    for f in it {
        if formats.len() == MAX_FORMATS {
            return None;
        }
        // Non-RTP protocols (BFCP's TCP/BFCP *) carry non-numeric formats.
        if let Ok(pt) = f.parse::<u8>() {
            formats.push(pt);
        }
    }
    Some(OfferMedia {
        kind,
        port,
        proto,
        formats,
        rtpmap: HashMap::new(),
        fmtp: HashMap::new(),
        addr: None,
        crypto: Vec::new(),
    })
}

fn parse_c(v: &str) -> Option<IpAddr> {
    let mut it = v.split_ascii_whitespace();
    let (_, _, addr) = (it.next()?, it.next()?, it.next()?);
    addr.split('/').next()?.parse().ok()
}

fn parse_a(m: &mut OfferMedia, v: &str) -> Option<()> {
    if let Some(rest) = v.strip_prefix("rtpmap:") {
        let (pt, enc) = rest.split_once(' ')?;
        let pt: u8 = pt.parse().ok()?;
        let mut parts = enc.trim().split('/');
        let name = parts.next()?.to_ascii_lowercase();
        let clock: u32 = parts.next()?.parse().ok()?;
        let ch: u8 = parts.next().map_or(Some(1), |c| c.parse().ok())?;
        if m.rtpmap.len() < MAX_FORMATS {
            m.rtpmap.insert(pt, (name, clock, ch));
        }
    } else if let Some(rest) = v.strip_prefix("fmtp:") {
        let (pt, params) = rest.split_once(' ')?;
        let pt: u8 = pt.parse().ok()?;
        if m.fmtp.len() < MAX_FORMATS {
            m.fmtp.insert(pt, params.trim().to_owned());
        }
    }
    Some(())
}

fn pick_audio(m: &OfferMedia) -> Option<(AudioCodec, u8)> {
    let named = |want: &str, clock: u32| {
        m.formats.iter().copied().find(|pt| {
            m.rtpmap
                .get(pt)
                .is_some_and(|(n, c, _)| n == want && *c == clock)
        })
    };
    if let Some(pt) = named("opus", 48000) {
        return Some((AudioCodec::Opus, pt));
    }
    // Static payload types 0, 8 and 9 need no rtpmap (RFC 3551).
    let stat = |pt: u8, name: &str| {
        (m.formats.contains(&pt))
            .then_some(pt)
            .filter(|_| m.rtpmap.get(&pt).is_none_or(|(n, _, _)| n == name))
    };
    if let Some(pt) = stat(9, "g722").or_else(|| named("g722", 8000)) {
        return Some((AudioCodec::G722, pt));
    }
    if let Some(pt) = stat(0, "pcmu").or_else(|| named("pcmu", 8000)) {
        return Some((AudioCodec::Pcmu, pt));
    }
    stat(8, "pcma")
        .or_else(|| named("pcma", 8000))
        .map(|pt| (AudioCodec::Pcma, pt))
}

fn fmtp_param<'a>(fmtp: &'a str, key: &str) -> Option<&'a str> {
    fmtp.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
    })
}

fn pick_h264(m: &OfferMedia) -> Option<(u8, u8, [u8; 3])> {
    let mut best: Option<(u8, u8, [u8; 3])> = None;
    for pt in &m.formats {
        if !m
            .rtpmap
            .get(pt)
            .is_some_and(|(n, c, _)| n == "h264" && *c == 90000)
        {
            continue;
        }
        let fmtp = m.fmtp.get(pt).map(String::as_str).unwrap_or_default();
        let mode = match fmtp_param(fmtp, "packetization-mode") {
            None | Some("0") => 0,
            Some("1") => 1,
            _ => continue, // mode 2 (interleaved) is not supported
        };
        let pli = match fmtp_param(fmtp, "profile-level-id") {
            Some(h) => match hex::decode(h)
                .ok()
                .and_then(|b| <[u8; 3]>::try_from(b).ok())
            {
                Some(p) => p,
                None => continue,
            },
            None => DEFAULT_PROFILE_LEVEL,
        };
        let pli = [pli[0], pli[1], pli[2].min(MAX_H264_LEVEL)];
        if best.is_none_or(|(_, bm, _)| mode > bm) {
            best = Some((*pt, mode, pli));
        }
    }
    best
}

fn proto(srtp: Option<SrtpChoice>) -> &'static str {
    if srtp.is_some() {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    }
}

impl Negotiated {
    /// Whether the call carries SDES keys (some m-line is RTP/SAVP).
    pub fn uses_sdes(&self) -> bool {
        self.audio.is_some_and(|a| a.srtp.is_some()) || self.video.is_some_and(|v| v.srtp.is_some())
    }

    /// What the call carries, as the console's wall tile names it:
    /// "H.264 · G.722 · SRTP".
    pub fn describe(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        if self.video.is_some() {
            parts.push("H.264");
        }
        if let Some(a) = self.audio {
            parts.push(match a.codec {
                AudioCodec::Opus => "Opus",
                AudioCodec::G722 => "G.722",
                AudioCodec::Pcmu => "G.711 µ",
                AudioCodec::Pcma => "G.711 A",
            });
        }
        if self.uses_sdes() {
            parts.push("SRTP");
        }
        parts.join(" · ")
    }
}

/// Our answer: every offered m-line in order; the chosen ones on our
/// ports with only the chosen formats, the others on port 0.
pub fn answer(
    offer: &Offer,
    neg: &Negotiated,
    local_ip: IpAddr,
    audio_port: u16,
    video_port: u16,
    session_id: u64,
) -> String {
    let fam = if local_ip.is_ipv6() { "IP6" } else { "IP4" };
    let mut s = String::new();
    let _ = write!(
        s,
        "v=0\r\no=diemcau {session_id} {session_id} IN {fam} {local_ip}\r\ns=diemcau\r\n\
         c=IN {fam} {local_ip}\r\nt=0 0\r\n"
    );
    for (i, m) in offer.media.iter().enumerate() {
        if let Some(a) = neg.audio.filter(|a| a.index == i) {
            let mut fmts = a.pt.to_string();
            if let Some(d) = a.dtmf_pt {
                let _ = write!(fmts, " {d}");
            }
            let _ = write!(s, "m=audio {audio_port} {} {fmts}\r\n", proto(a.srtp));
            if let Some(c) = a.srtp {
                s.push_str(&sdes::line(c.tag, c.suite, &c.local));
            }
            let rtpmap = match a.codec {
                AudioCodec::Opus => "opus/48000/2",
                AudioCodec::G722 => "G722/8000",
                AudioCodec::Pcmu => "PCMU/8000",
                AudioCodec::Pcma => "PCMA/8000",
            };
            let _ = write!(s, "a=rtpmap:{} {rtpmap}\r\n", a.pt);
            if let Some(d) = a.dtmf_pt {
                let _ = write!(
                    s,
                    "a=rtpmap:{d} telephone-event/8000\r\na=fmtp:{d} 0-15\r\n"
                );
            }
            s.push_str("a=ptime:20\r\na=sendrecv\r\n");
        } else if let Some(v) = neg.video.filter(|v| v.index == i) {
            let _ = write!(s, "m=video {video_port} {} {}\r\n", proto(v.srtp), v.pt);
            if let Some(c) = v.srtp {
                s.push_str(&sdes::line(c.tag, c.suite, &c.local));
            }
            let _ = write!(
                s,
                "a=rtpmap:{pt} H264/90000\r\n\
                 a=fmtp:{pt} profile-level-id={pli};packetization-mode={mode}\r\n\
                 a=rtcp-fb:{pt} nack pli\r\na=rtcp-fb:{pt} ccm fir\r\na=sendrecv\r\n",
                pt = v.pt,
                pli = hex::encode(v.profile_level_id),
                mode = v.packetization_mode,
            );
        } else {
            let fmt = m.formats.first().map_or("0".to_owned(), u8::to_string);
            let _ = write!(s, "m={} 0 {} {fmt}\r\n", m.kind, m.proto);
        }
    }
    s
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
pub(crate) mod tests;
