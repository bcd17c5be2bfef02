//! One SIP call's media, sans-IO: the SIP leg (plain RTP/RTCP with the
//! codec, symmetric — we answer where its packets come from, comedia) and
//! the local leg (a str0m client session, full ICE, joined to this node's
//! own engine as the codec's room — like a relay link's local leg).
//!
//! Up: the codec's G.711 is decoded and published as Opus with an RFC 6464
//! level (Opus from the codec passes through); its H.264 is published as
//! it came. Down: the engine's audio slots (stage + loudest K; never the
//! room's own voice) are mixed into the codec's codec every 20 ms; the
//! stage slot's video reaches the codec only when it is H.264 — the
//! meeting's composite, encoded once in H.264, is what a codec is sent when a
//! composer runs (`sip::call`), so a browser's VP8 stage reaches it there.
//! The codec's H.264 is also offered as a VP8 rendition for subscribers
//! without H.264, made only while wanted (`sip::transcode`).
//! A PLI/FIR from the codec becomes a PLI on the stage slot; the engine's
//! keyframe requests reach the codec as FIR (rate-limited both ways).
//!
//! The VP8 rendition: the local leg publishes a second video track, which
//! the engine shows to subscribers that cannot receive H.264 instead of the
//! codec's own (`media::Engine::video_for`). It carries pictures only while
//! the engine wants it (`set_rendition`): the codec's H.264 is then also
//! assembled into access units (`rendition`) for the call's transcoder,
//! whose VP8 comes back through `send_vp8`; a PLI on it asks the encoder
//! for a keyframe, never the codec (that only when the decoder needs one).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, ExtensionValues, RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use super::audio::{Down, FRAME_48K, Up};
use super::rtp;
use super::sdp::Negotiated;

/// Audio slots the room receives (the engine's default K).
pub const AUDIO_SLOTS: usize = 3;
/// Keyframe requests passed on at most this often each way: a codec that
/// sends FIR on every loss would otherwise flood the stage's publisher.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);
const MIX_INTERVAL: Duration = Duration::from_millis(20);

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    Local,
    SipAudio,
    /// The audio RTCP port (RTP port + 1): reports only, read and dropped.
    SipAudioRtcp,
    SipVideo,
    /// The video RTCP port: the codec's PLI/FIR, our FIR to it.
    SipVideoRtcp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub leg: Leg,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatewayStats {
    pub audio_in: u64,
    pub audio_out: u64,
    pub video_in: u64,
    pub video_out: u64,
    pub opus_published: u64,
    /// Video packets published on the local leg, and stage packets it got.
    pub video_published: u64,
    pub stage_in: u64,
    /// Codec video the local leg could not publish (it negotiated no
    /// H.264 with the engine).
    pub video_unpublishable: u64,
    /// Keyframes the codec sent, keyframe requests the engine made.
    pub keyframes_in: u64,
    pub keyframe_requests: u64,
    /// VP8 rendition packets published, and keyframe requests on it.
    pub vp8_published: u64,
    pub vp8_keyframe_requests: u64,
}

pub struct Gateway {
    rtc: Rtc,
    pending: Option<SdpPendingOffer>,
    local: Option<SocketAddr>,
    connected: bool,
    dead: bool,
    next_timeout: Instant,
    send_audio: Mid,
    send_video: Mid,
    /// The VP8 rendition's track (`set_rendition`).
    send_vp8: Mid,
    /// Assembling the codec's H.264 for the transcoder while wanted.
    rendition: Option<super::rendition::Assembly>,
    vp8_seq: u64,
    /// A VP8 subscriber asked for a keyframe since the last call, and the
    /// last time one was passed on.
    vp8_keyframe: bool,
    last_vp8_key: Option<Instant>,
    recv_audio: Vec<Mid>,
    recv_video: Mid,
    neg: Negotiated,
    audio_to: Option<SocketAddr>,
    video_to: Option<SocketAddr>,
    video_rtcp_to: Option<SocketAddr>,
    now: Instant,
    up: Up,
    down: Down,
    up_seq: u64,
    up_ts: u32,
    down_seq: u16,
    down_ts: u32,
    video_seq: u16,
    ssrc: u32,
    codec_video_ssrc: Option<u32>,
    /// The codec's video sequence numbers, extended past 16 bits.
    video_up_seq: Option<u64>,
    next_mix: Instant,
    last_pli: Option<Instant>,
    last_fir: Option<Instant>,
    fir_seq: u8,
    out: Vec<Transmit>,
    pub stats: GatewayStats,
    /// The meeting's composite picture (H.264, encoded once for every SIP
    /// room) replaces the stage slot's video while set.
    composite: bool,
    /// The codec asked for a keyframe of the composite.
    composite_keyframe: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("sip gateway: {0}")]
    Setup(String),
}

impl Gateway {
    /// A gateway for a negotiated call, and the local leg's offer.
    pub fn new(now: Instant, neg: Negotiated) -> Result<(Gateway, String), GatewayError> {
        let bad = |e: String| GatewayError::Setup(e);
        // No transport-wide congestion control on this leg: it runs over
        // loopback to our own engine, and the engine's estimator, seeing
        // only the slots' audio, would hold its estimate near 80 kbit/s and
        // never start the stage's video. The codec's link cap (its link
        // profile, from the admission) is what limits what it receives.
        let mut rtc = Rtc::builder()
            .clear_extension_map()
            .set_extension(1, Extension::AudioLevel)
            .set_extension(2, Extension::AbsoluteSendTime)
            .set_extension(4, Extension::RtpMid)
            .set_extension(10, Extension::RtpStreamId)
            .set_extension(11, Extension::RepairedRtpStreamId)
            .set_extension(13, Extension::VideoOrientation)
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_h264(true)
            .build(now);
        let mut change = rtc.sdp_api();
        let name = Some("sip".to_string());
        let send_audio = change.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            name.clone(),
            None,
            None,
        );
        let send_video = change.add_media(
            MediaKind::Video,
            Direction::SendOnly,
            name.clone(),
            None,
            None,
        );
        // After the codec's own video: the engine takes a room's first
        // video track as its camera, the second as its alternative.
        let send_vp8 = change.add_media(MediaKind::Video, Direction::SendOnly, name, None, None);
        let recv_video = change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let recv_audio = (0..AUDIO_SLOTS)
            .map(|_| change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None))
            .collect();
        let (offer, pending) = change
            .apply()
            .ok_or_else(|| bad("no change to offer".into()))?;
        let codec = neg.audio.map_or(super::sdp::AudioCodec::Pcmu, |a| a.codec);
        let up = Up::new(codec).map_err(|e| bad(e.to_string()))?;
        let down = Down::new(codec, AUDIO_SLOTS).map_err(|e| bad(e.to_string()))?;
        let gw = Gateway {
            rtc,
            pending: Some(pending),
            local: None,
            connected: false,
            dead: false,
            next_timeout: now,
            send_audio,
            send_video,
            send_vp8,
            rendition: None,
            vp8_seq: 1,
            vp8_keyframe: false,
            last_vp8_key: None,
            recv_audio,
            recv_video,
            audio_to: neg.audio.map(|a| a.remote),
            video_to: neg.video.map(|v| v.remote),
            video_rtcp_to: neg
                .video
                .map(|v| SocketAddr::new(v.remote.ip(), v.remote.port().saturating_add(1))),
            now,
            neg,
            up,
            down,
            up_seq: 1,
            up_ts: rand::random::<u32>(),
            down_seq: rand::random(),
            down_ts: rand::random(),
            video_seq: rand::random(),
            ssrc: rand::random(),
            codec_video_ssrc: None,
            video_up_seq: None,
            next_mix: now,
            last_pli: None,
            last_fir: None,
            fir_seq: 0,
            out: Vec::new(),
            stats: GatewayStats::default(),
            composite: false,
            composite_keyframe: false,
        };
        Ok((gw, offer.to_sdp_string()))
    }

    /// The engine's answer, and the local address of the socket that talks
    /// to it.
    pub fn accept_answer(&mut self, answer: &str, local: SocketAddr) -> Result<(), GatewayError> {
        let bad = |e: String| GatewayError::Setup(e);
        let parsed = SdpAnswer::from_sdp_string(answer).map_err(|e| bad(e.to_string()))?;
        let pending = self
            .pending
            .take()
            .ok_or_else(|| bad("answer already taken".into()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, parsed)
            .map_err(|e| bad(e.to_string()))?;
        let c = Candidate::host(local, "udp").map_err(|e| bad(e.to_string()))?;
        self.rtc.add_local_candidate(c);
        self.local = Some(local);
        self.drain();
        Ok(())
    }

    fn pt_of(&self, codec: Codec, mode: Option<u8>) -> Option<Pt> {
        self.rtc
            .codec_config()
            .find(|p| {
                let s = p.spec();
                s.codec == codec && (mode.is_none() || s.format.packetization_mode == mode)
            })
            .map(|p| p.pt())
    }

    /// A datagram on one of the call's sockets.
    pub fn handle_receive(&mut self, now: Instant, leg: Leg, source: SocketAddr, data: &[u8]) {
        self.now = now;
        match leg {
            Leg::Local => {
                let Some(local) = self.local else { return };
                let Ok(contents) = data.try_into() else {
                    return;
                };
                let input = Input::Receive(
                    now,
                    Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: local,
                        contents,
                    },
                );
                if self.rtc.handle_input(input).is_err() {
                    self.dead = true;
                }
                self.drain();
            }
            Leg::SipAudio => self.sip_audio(now, source, data),
            Leg::SipVideo => self.sip_video(now, source, data),
            Leg::SipAudioRtcp => {}
            Leg::SipVideoRtcp => {
                self.video_rtcp_to = Some(source);
                self.sip_video(now, source, data);
            }
        }
    }

    fn sip_audio(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        // Comedia: the codec behind NAT is answered where it sends from.
        self.audio_to = Some(source);
        let (Some(a), Some(h)) = (self.neg.audio, rtp::parse(data)) else {
            return;
        };
        if h.pt != a.pt {
            return; // telephone-event, comfort noise: not voice
        }
        self.stats.audio_in += 1;
        let frames = self.up.push(&data[h.payload_start..h.payload_end]);
        let Some(pt) = self.pt_of(Codec::Opus, None) else {
            return;
        };
        if !self.connected {
            return;
        }
        for f in frames {
            let ext = ExtensionValues {
                audio_level: Some(-(f.level.min(127) as i8)),
                voice_activity: Some(f.level < 50),
                ..Default::default()
            };
            let w =
                RtpWrite::new(pt, SeqNo::from(self.up_seq), self.up_ts, now, f.opus).ext_vals(ext);
            self.up_seq += 1;
            self.up_ts = self.up_ts.wrapping_add(FRAME_48K as u32);
            if let Some(tx) = self
                .rtc
                .direct_api()
                .stream_tx_by_mid(self.send_audio, None)
            {
                tx.write_rtp(w);
                self.stats.opus_published += 1;
            }
        }
        self.drain();
    }

    fn sip_video(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        if rtp::is_rtcp(data) {
            if rtp::asks_keyframe(data) && self.composite {
                self.composite_keyframe = true;
                return;
            }
            if rtp::asks_keyframe(data) && self.may(now, false) {
                if let Some(rx) = self
                    .rtc
                    .direct_api()
                    .stream_rx_by_mid(self.recv_video, None)
                {
                    rx.request_keyframe(KeyframeRequestKind::Pli);
                }
                self.drain();
            }
            return;
        }
        self.video_to = Some(source);
        let (Some(v), Some(h)) = (self.neg.video, rtp::parse(data)) else {
            return;
        };
        if h.pt != v.pt || !self.connected {
            return;
        }
        self.codec_video_ssrc = Some(h.ssrc);
        self.stats.video_in += 1;
        let Some(pt) = self.pt_of(Codec::H264, Some(v.packetization_mode)) else {
            self.stats.video_unpublishable += 1;
            return;
        };
        let payload: Vec<u8> = data[h.payload_start..h.payload_end].to_vec();
        if crate::media::codec::starts_keyframe(crate::media::codec::VideoCodec::H264, &payload) {
            self.stats.keyframes_in += 1;
        }
        let seq = extend_seq(&mut self.video_up_seq, h.seq);
        let lost = self.rendition.as_mut().is_some_and(|r| {
            r.push(h.seq, h.ts, h.marker, &payload);
            r.needs_idr()
        });
        if lost {
            self.ask_codec_keyframe(now);
        }
        let w = RtpWrite::new(pt, SeqNo::from(seq), h.ts, now, payload)
            .marker(h.marker)
            .nackable(true);
        if let Some(tx) = self
            .rtc
            .direct_api()
            .stream_tx_by_mid(self.send_video, None)
        {
            tx.write_rtp(w);
            self.stats.video_published += 1;
        }
        self.drain();
    }

    /// Rate limit for keyframe requests: `fir` the engine → codec way.
    fn may(&mut self, now: Instant, fir: bool) -> bool {
        let last = if fir {
            &mut self.last_fir
        } else {
            &mut self.last_pli
        };
        if last.is_some_and(|t| now.duration_since(t) < KEYFRAME_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Whether the engine wants the VP8 rendition (some subscriber cannot
    /// take H.264). Turned on, assembly starts and the codec is asked for
    /// an IDR (the decoder starts at one); turned off, it stops.
    pub fn set_rendition(&mut self, now: Instant, on: bool) {
        match (on, self.rendition.is_some()) {
            (true, false) if self.neg.video.is_some() => {
                self.rendition = Some(super::rendition::Assembly::new());
                self.ask_codec_keyframe(now);
            }
            (false, true) => self.rendition = None,
            _ => {}
        }
    }

    /// Access units assembled for the transcoder since the last call.
    pub fn take_pictures(&mut self) -> Vec<super::rendition::Picture> {
        self.rendition
            .as_mut()
            .map(|r| r.take_pictures().collect())
            .unwrap_or_default()
    }

    /// A VP8 subscriber asked for a keyframe (rate-limited): the encoder's
    /// next picture should be one.
    pub fn take_vp8_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.vp8_keyframe)
    }

    /// The transcoder's decoder needs an IDR: ask the codec (rate-limited).
    pub fn request_idr(&mut self, now: Instant) {
        self.ask_codec_keyframe(now);
    }

    /// One VP8 picture of the rendition to the local leg, with the H.264
    /// picture's timestamp.
    pub fn send_vp8(&mut self, now: Instant, vp8: &[u8], ts: u32) {
        if !self.connected || self.rendition.is_none() {
            return;
        }
        let Some(pt) = self.pt_of(Codec::Vp8, None) else {
            return;
        };
        let payloads = super::rendition::vp8_payloads(vp8, super::rendition::VP8_PAYLOAD_BYTES);
        let last = payloads.len().saturating_sub(1);
        for (i, p) in payloads.into_iter().enumerate() {
            let w = RtpWrite::new(pt, SeqNo::from(self.vp8_seq), ts, now, p)
                .marker(i == last)
                .nackable(true);
            self.vp8_seq += 1;
            if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(self.send_vp8, None) {
                tx.write_rtp(w);
                self.stats.vp8_published += 1;
            }
            self.drain();
        }
    }

    /// A PLI and a FIR to the codec, at most every [`KEYFRAME_INTERVAL`].
    fn ask_codec_keyframe(&mut self, now: Instant) {
        let (Some(ssrc), Some(to)) = (self.codec_video_ssrc, self.video_rtcp_to) else {
            return;
        };
        if !self.may(now, true) {
            return;
        }
        self.fir_seq = self.fir_seq.wrapping_add(1);
        let mut fir = rtp::pli(self.ssrc ^ 1, ssrc);
        fir.extend(rtp::fir(self.ssrc ^ 1, ssrc, self.fir_seq));
        self.out.push(Transmit {
            leg: Leg::SipVideoRtcp,
            destination: to,
            contents: fir,
        });
    }

    /// Whether the call negotiated video with the codec.
    pub fn takes_video(&self) -> bool {
        self.neg.video.is_some()
    }

    /// From now on the codec receives the meeting's composite picture
    /// (`send_picture`) instead of the stage slot.
    pub fn use_composite(&mut self) {
        self.composite = true;
    }

    /// Whether the codec asked for a keyframe since the last call.
    pub fn take_composite_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.composite_keyframe)
    }

    /// One composite picture (Annex B, its 90 kHz timestamp) to the codec.
    pub fn send_picture(&mut self, annex_b: &[u8], ts: u32) {
        let (Some(v), Some(to)) = (self.neg.video, self.video_to) else {
            return;
        };
        let payloads = super::h264_pack::packetize(annex_b, v.packetization_mode);
        let last = payloads.len().saturating_sub(1);
        for (i, p) in payloads.into_iter().enumerate() {
            self.video_seq = self.video_seq.wrapping_add(1);
            let pkt = rtp::write(v.pt, i == last, self.video_seq, ts, self.ssrc ^ 1, &p);
            self.stats.video_out += 1;
            self.out.push(Transmit {
                leg: Leg::SipVideo,
                destination: to,
                contents: pkt,
            });
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if now >= self.next_timeout && !self.dead {
            if self.rtc.handle_input(Input::Timeout(now)).is_err() {
                self.dead = true;
            }
            self.drain();
        }
        while now >= self.next_mix {
            self.next_mix += MIX_INTERVAL;
            // After a stall, skip ahead rather than burst the missed frames.
            if now.duration_since(self.next_mix) > 5 * MIX_INTERVAL {
                self.next_mix = now + MIX_INTERVAL;
            }
            let (Some(a), Some(to)) = (self.neg.audio, self.audio_to) else {
                continue;
            };
            let payload = self.down.mix();
            let pkt = rtp::write(
                a.pt,
                false,
                self.down_seq,
                self.down_ts,
                self.ssrc,
                &payload,
            );
            self.down_seq = self.down_seq.wrapping_add(1);
            self.down_ts = self.down_ts.wrapping_add(self.down.ts_step());
            self.stats.audio_out += 1;
            self.out.push(Transmit {
                leg: Leg::SipAudio,
                destination: to,
                contents: pkt,
            });
        }
    }

    pub fn next_timeout(&self) -> Instant {
        self.next_timeout.min(self.next_mix)
    }

    pub fn poll_transmit(&mut self) -> impl Iterator<Item = Transmit> + '_ {
        self.out.drain(..)
    }

    pub fn is_dead(&self) -> bool {
        self.dead
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// str0m's rule: drain after every mutation.
    fn drain(&mut self) {
        let mut packets = Vec::new();
        let mut want_keyframe = false;
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    break;
                }
                Ok(Output::Transmit(t)) => self.out.push(Transmit {
                    leg: Leg::Local,
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Ok(Output::Event(e)) => match e {
                    Event::RtpPacket(p) => packets.push(p),
                    Event::KeyframeRequest(r) if r.mid == self.send_video => {
                        self.stats.keyframe_requests += 1;
                        want_keyframe = true
                    }
                    Event::KeyframeRequest(r) if r.mid == self.send_vp8 => {
                        self.stats.vp8_keyframe_requests += 1;
                        let now = self.now;
                        if self
                            .last_vp8_key
                            .is_none_or(|t| now.duration_since(t) >= KEYFRAME_INTERVAL)
                        {
                            self.last_vp8_key = Some(now);
                            self.vp8_keyframe = true;
                        }
                    }
                    Event::Connected => self.connected = true,
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        self.dead = true
                    }
                    _ => {}
                },
                Err(e) => {
                    tracing::debug!(error = %e, "sip gateway: local leg failed");
                    self.dead = true;
                    break;
                }
            }
        }
        let h264 = self.neg.video.map(|_| self.pt_of(Codec::H264, None));
        for p in packets {
            let mid = self
                .rtc
                .direct_api()
                .stream_rx(&p.header.ssrc)
                .map(|s| s.mid());
            let Some(mid) = mid else { continue };
            if let Some(slot) = self.recv_audio.iter().position(|m| *m == mid) {
                self.down.push(slot, &p.payload);
            } else if mid == self.recv_video
                && let (Some(v), Some(to)) = (self.neg.video, self.video_to)
            {
                self.stats.stage_in += 1;
                // Only H.264 reaches the codec; VP8 would be garbage to it.
                let is_h264 = self
                    .rtc
                    .codec_config()
                    .find(|c| c.pt() == p.header.payload_type)
                    .is_some_and(|c| c.spec().codec == Codec::H264);
                // The composite, when the meeting has one, is what the
                // codec shows instead.
                if !is_h264 || h264.is_none() || self.composite {
                    continue;
                }
                self.video_seq = self.video_seq.wrapping_add(1);
                let pkt = rtp::write(
                    v.pt,
                    p.header.marker,
                    self.video_seq,
                    p.header.timestamp,
                    self.ssrc ^ 1,
                    &p.payload,
                );
                self.stats.video_out += 1;
                self.out.push(Transmit {
                    leg: Leg::SipVideo,
                    destination: to,
                    contents: pkt,
                });
            }
        }
        if want_keyframe {
            self.ask_codec_keyframe(self.now);
        }
    }
}

/// A 16-bit sequence number extended against the last one (RFC 3550
/// appendix A.1): a jump back of more than half the space is a wrap.
fn extend_seq(last: &mut Option<u64>, seq: u16) -> u64 {
    let ext = match *last {
        // The first packet's rollover count is 0: the extended number's
        // upper bits are the SRTP ROC the engine expects to start at 0.
        None => u64::from(seq),
        Some(l) => {
            let base = l & !0xffff;
            let cand = base | u64::from(seq);
            if cand + 0x8000 < l {
                cand + 0x1_0000
            } else if cand > l + 0x8000 && cand >= 0x1_0000 {
                cand - 0x1_0000
            } else {
                cand
            }
        }
    };
    if last.is_none_or(|l| ext > l) {
        *last = Some(ext);
    }
    ext
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_extend_across_the_wrap_and_stay_put_when_reordered() {
        let mut last = None;
        let got: Vec<u64> = [65534u16, 65535, 0, 65535, 1]
            .iter()
            .map(|s| extend_seq(&mut last, *s))
            .collect();
        assert_eq!(got, [65534, 65535, 65536, 65535, 65537]);
    }
}
