//! The relay bridge, sans-IO: two WebRTC client sessions (str0m, full ICE,
//! controlling, RTP mode) — one to the parent node, one to this node's own
//! engine — and the forwarding between them.
//!
//! Each leg is an ordinary participant of its node's room with role
//! `relay`: it publishes one video and [`AUDIO_TRACKS`] audio tracks (what
//! the *other* side's room selected: its stage and its loudest voices) and
//! receives one stage slot and as many audio slots; the receiving engine
//! treats each audio track after the first as a voice of its own (speaker
//! detection, loudest-K). Each way also carries [`RELAY_THUMBS`] thumbnail
//! video tracks: the engine leaves a relay's thumbnail slots empty until
//! the link pins rooms to them (an operator on the other side watches), so
//! they cost nothing until then. Both servers already turn a slot into one
//! continuous stream (sequence numbers and timestamps rewritten across
//! source switches), so the bridge passes packets through unchanged: same
//! sequence number, timestamp, marker and RFC 6464 level (the next room's
//! speaker detection needs it). Both legs are offered with the same codec
//! list, so a payload type means the same codec on both.
//!
//! A keyframe request on one leg's sent video becomes a PLI on the other
//! leg's received stage: the request travels to whoever publishes the
//! picture, however many nodes away.

use core::net::SocketAddr;
use std::collections::VecDeque;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

pub use crate::RELAY_THUMBS;

/// Audio tracks each way: the stage's voice and the loudest of the other
/// side, as many as a room's subscriber gets (the engine's audio slots).
pub const AUDIO_TRACKS: usize = 3;

/// Which leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// To the parent node.
    Up,
    /// To this node's own engine.
    Local,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Up => Side::Local,
            Side::Local => Side::Up,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("building the relay offer failed: {0}")]
    Offer(String),
    #[error("the {side:?} answer was refused: {why}")]
    Answer { side: Side, why: String },
    #[error("the {0:?} answer names no usable candidate")]
    NoCandidate(Side),
}

/// Counters of one leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub keyframe_requests_in: u64,
}

struct Leg {
    rtc: Rtc,
    pending: Option<SdpPendingOffer>,
    /// The main picture, then the thumbnails.
    send_video: Vec<Mid>,
    send_audio: Vec<Mid>,
    recv_video: Vec<Mid>,
    recv_audio: Vec<Mid>,
    local: Option<SocketAddr>,
    next_timeout: Instant,
    connected: bool,
    dead: bool,
    stats: LegStats,
}

/// A received track, by kind and position: it leaves on the other leg's
/// track of the same kind and position.
#[derive(Debug, Clone, Copy)]
enum Track {
    Video(usize),
    Audio(usize),
}

/// One datagram to send from a leg's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub side: Side,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// What the driver learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeEvent {
    Connected(Side),
    Disconnected(Side),
}

pub struct Bridge {
    up: Leg,
    local: Leg,
    out: Vec<Transmit>,
    events: VecDeque<BridgeEvent>,
}

fn new_leg(now: Instant) -> Result<(Leg, String), BridgeError> {
    // The same codecs as the server's sessions, in the same order: the
    // payload types of both legs then mean the same codec.
    let mut rtc = Rtc::builder()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .enable_h264(true)
        .build(now);
    let mut change = rtc.sdp_api();
    let send_video: Vec<Mid> = (0..1 + RELAY_THUMBS)
        .map(|_| {
            change.add_media(
                MediaKind::Video,
                Direction::SendOnly,
                Some("relay".into()),
                None,
                None,
            )
        })
        .collect();
    let send_audio: Vec<Mid> = (0..AUDIO_TRACKS)
        .map(|_| {
            change.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                Some("relay".into()),
                None,
                None,
            )
        })
        .collect();
    let recv_video: Vec<Mid> = (0..1 + RELAY_THUMBS)
        .map(|_| change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None))
        .collect();
    let recv_audio: Vec<Mid> = (0..AUDIO_TRACKS)
        .map(|_| change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None))
        .collect();
    let (offer, pending) = change
        .apply()
        .ok_or_else(|| BridgeError::Offer("no change to offer".into()))?;
    Ok((
        Leg {
            rtc,
            pending: Some(pending),
            send_video,
            send_audio,
            recv_video,
            recv_audio,
            local: None,
            next_timeout: now,
            connected: false,
            dead: false,
            stats: LegStats::default(),
        },
        offer.to_sdp_string(),
    ))
}

/// The first UDP host candidate of an SDP answer: where the server listens.
pub fn answer_address(sdp: &str) -> Option<SocketAddr> {
    sdp.lines().find_map(|l| {
        let c = l.trim().strip_prefix("a=candidate:")?;
        let f: Vec<&str> = c.split_whitespace().collect();
        // foundation component transport priority address port typ host
        if f.len() >= 8 && f[2].eq_ignore_ascii_case("udp") && f[7] == "host" {
            format!("{}:{}", f[4], f[5])
                .parse()
                .ok()
                .or_else(|| format!("[{}]:{}", f[4], f[5]).parse().ok())
        } else {
            None
        }
    })
}

impl Bridge {
    /// Two fresh legs and their offers (up, local).
    pub fn new(now: Instant) -> Result<(Bridge, String, String), BridgeError> {
        let (up, up_offer) = new_leg(now)?;
        let (local, local_offer) = new_leg(now)?;
        Ok((
            Bridge {
                up,
                local,
                out: Vec::new(),
                events: VecDeque::new(),
            },
            up_offer,
            local_offer,
        ))
    }

    fn leg(&mut self, side: Side) -> &mut Leg {
        match side {
            Side::Up => &mut self.up,
            Side::Local => &mut self.local,
        }
    }

    /// The server's answer for `side`, and the local address of the socket
    /// that talks to it (bound by the driver, connected to the answer's
    /// candidate): str0m's agent pairs that host candidate with the
    /// server's and checks it.
    pub fn accept_answer(
        &mut self,
        side: Side,
        answer: &str,
        local: SocketAddr,
    ) -> Result<(), BridgeError> {
        let bad = |why: String| BridgeError::Answer { side, why };
        let parsed = SdpAnswer::from_sdp_string(answer).map_err(|e| bad(e.to_string()))?;
        let leg = self.leg(side);
        let pending = leg
            .pending
            .take()
            .ok_or_else(|| bad("answer already accepted".into()))?;
        leg.rtc
            .sdp_api()
            .accept_answer(pending, parsed)
            .map_err(|e| bad(e.to_string()))?;
        let c = Candidate::host(local, "udp").map_err(|e| bad(e.to_string()))?;
        leg.rtc.add_local_candidate(c);
        leg.local = Some(local);
        self.drain(side);
        Ok(())
    }

    /// A datagram arrived on `side`'s socket.
    pub fn handle_receive(&mut self, now: Instant, side: Side, source: SocketAddr, bytes: &[u8]) {
        let leg = self.leg(side);
        let Some(local) = leg.local else { return };
        let Ok(contents) = bytes.try_into() else {
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
        if leg.rtc.handle_input(input).is_err() {
            leg.dead = true;
        }
        self.drain(side);
    }

    /// Time passed: both legs' timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        for side in [Side::Up, Side::Local] {
            let leg = self.leg(side);
            if leg.dead || now < leg.next_timeout {
                continue;
            }
            if leg.rtc.handle_input(Input::Timeout(now)).is_err() {
                leg.dead = true;
            }
            self.drain(side);
        }
    }

    pub fn next_timeout(&self) -> Instant {
        self.up.next_timeout.min(self.local.next_timeout)
    }

    pub fn poll_transmit(&mut self) -> impl Iterator<Item = Transmit> + '_ {
        self.out.drain(..)
    }

    pub fn poll_event(&mut self) -> Option<BridgeEvent> {
        self.events.pop_front()
    }

    /// A leg failed for good (str0m error): the driver starts over.
    pub fn is_dead(&self) -> bool {
        self.up.dead || self.local.dead
    }

    pub fn is_connected(&self, side: Side) -> bool {
        match side {
            Side::Up => self.up.connected,
            Side::Local => self.local.connected,
        }
    }

    pub fn stats(&self, side: Side) -> LegStats {
        match side {
            Side::Up => self.up.stats,
            Side::Local => self.local.stats,
        }
    }

    /// str0m's rule: drain after every mutation. Packets and keyframe
    /// requests found cross to the other leg, which is drained in turn.
    fn drain(&mut self, side: Side) {
        let mut crossing: Vec<RtpPacket> = Vec::new();
        // Which of this leg's sent videos the far end lost a picture on.
        let mut keyframes: Vec<usize> = Vec::new();
        {
            let Bridge {
                up,
                local,
                out,
                events,
            } = self;
            let leg = match side {
                Side::Up => up,
                Side::Local => local,
            };
            loop {
                match leg.rtc.poll_output() {
                    Ok(Output::Timeout(t)) => {
                        leg.next_timeout = t;
                        break;
                    }
                    Ok(Output::Transmit(t)) => {
                        let contents: Vec<u8> = t.contents.into();
                        out.push(Transmit {
                            side,
                            destination: t.destination,
                            contents,
                        });
                    }
                    Ok(Output::Event(e)) => match e {
                        Event::RtpPacket(p) => crossing.push(p),
                        Event::KeyframeRequest(r) => {
                            if let Some(i) = leg.send_video.iter().position(|m| *m == r.mid) {
                                leg.stats.keyframe_requests_in += 1;
                                keyframes.push(i);
                            }
                        }
                        Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                            if std::mem::take(&mut leg.connected) =>
                        {
                            events.push_back(BridgeEvent::Disconnected(side));
                        }
                        Event::Connected => {
                            leg.connected = true;
                            events.push_back(BridgeEvent::Connected(side));
                        }
                        _ => {}
                    },
                    Err(e) => {
                        tracing::debug!(?side, error = %e, "relay leg failed");
                        leg.dead = true;
                        break;
                    }
                }
            }
        }
        if crossing.is_empty() && keyframes.is_empty() {
            return;
        }
        // (write, the i-th video or audio track)
        let mut writes: Vec<(RtpWrite, Track)> = Vec::with_capacity(crossing.len());
        {
            let leg = self.leg(side);
            for p in crossing {
                let mid = leg
                    .rtc
                    .direct_api()
                    .stream_rx(&p.header.ssrc)
                    .map(|s| s.mid());
                let Some(mid) = mid else { continue };
                let track = if let Some(i) = leg.recv_video.iter().position(|m| *m == mid) {
                    Track::Video(i)
                } else if let Some(i) = leg.recv_audio.iter().position(|m| *m == mid) {
                    Track::Audio(i)
                } else {
                    continue;
                };
                let video = matches!(track, Track::Video(_));
                leg.stats.packets_in += 1;
                leg.stats.bytes_in += p.payload.len() as u64;
                let ext = ExtensionValues {
                    audio_level: p.header.ext_vals.audio_level,
                    voice_activity: p.header.ext_vals.voice_activity,
                    video_orientation: p.header.ext_vals.video_orientation,
                    ..Default::default()
                };
                let w = RtpWrite::new(
                    p.header.payload_type,
                    p.seq_no,
                    p.header.timestamp,
                    p.timestamp,
                    p.payload,
                )
                .marker(p.header.marker)
                .ext_vals(ext)
                .nackable(video);
                writes.push((w, track));
            }
        }
        let other = side.other();
        let peer = self.leg(other);
        if !peer.dead {
            for i in keyframes {
                let mid = peer.recv_video[i];
                if let Some(rx) = peer.rtc.direct_api().stream_rx_by_mid(mid, None) {
                    rx.request_keyframe(KeyframeRequestKind::Pli);
                }
            }
            for (w, track) in writes {
                if !peer.connected {
                    break;
                }
                let mid = match track {
                    Track::Video(i) => peer.send_video[i],
                    Track::Audio(i) => peer.send_audio[i],
                };
                let mut api = peer.rtc.direct_api();
                if let Some(tx) = api.stream_tx_by_mid(mid, None) {
                    tx.write_rtp(w);
                    peer.stats.packets_out += 1;
                }
            }
            self.drain(other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_host_candidate_is_where_the_server_listens() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.3 50000 typ host\r\n";
        assert_eq!(
            answer_address(sdp),
            Some("127.0.0.3:50000".parse().unwrap())
        );
        assert_eq!(answer_address("v=0\r\n"), None);
        let tcp = "a=candidate:1 1 tcp 2130706431 127.0.0.3 50000 typ host\r\n";
        assert_eq!(answer_address(tcp), None);
    }

    #[test]
    fn both_legs_offer_the_picture_the_thumbnails_and_the_audio_tracks_each_way() {
        let (_, up, local) = Bridge::new(Instant::now()).unwrap();
        let each_way = 1 + RELAY_THUMBS + AUDIO_TRACKS;
        for sdp in [up, local] {
            assert_eq!(sdp.matches("a=sendonly").count(), each_way, "{sdp}");
            assert_eq!(sdp.matches("a=recvonly").count(), each_way, "{sdp}");
            assert!(sdp.contains("VP8") && sdp.contains("opus"), "{sdp}");
        }
    }
}
