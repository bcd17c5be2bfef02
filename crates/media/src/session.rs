//! One participant's peer connection: a str0m `Rtc` in RTP mode plus what the
//! engine needs to know about it (published tracks, receive slots).
//!
//! Owns the single-mutation rule for its `Rtc`: every mutation is followed by
//! [`Session::drain`], which moves transmits and events out until str0m
//! returns its next timeout.

use core::net::SocketAddr;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::config::DtlsCert;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt, Rid};
use str0m::net::{Protocol, TcpType};
use str0m::rtp::Ssrc;
use str0m::{Candidate, Event as RtcEvent, Output, Rtc, RtcConfig};

use super::forwarder::Forwarder;
use super::{
    CommandError, Datagram, JoinRequest, ParticipantId, Role, SlotRole, SourceId, TrackId, TrackRef,
};

/// A session that has not completed ICE + DTLS in this time is dropped: the
/// peer never arrived (closed tab, blocked UDP).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// One receive slot: an outgoing m-line fed by a forwarder.
#[derive(Debug)]
pub struct Slot {
    pub mid: Mid,
    pub video: bool,
    pub role: SlotRole,
    pub fwd: Forwarder,
    /// The source this slot is assigned to show.
    pub shows: Option<SourceId>,
    /// Outgoing SSRC (learned from str0m after negotiation).
    pub tx_ssrc: Option<Ssrc>,
    /// Negotiated payload type per codec on this m-line.
    pub pts: Vec<(Codec, Pt)>,
    /// The subscriber's RED payload type for Opus (`None`: it did not
    /// negotiate RED); learned with the slot's first audio packet.
    pub red_pt: Option<Option<Pt>>,
    /// An audio slot's last frames sent (output timestamp, Opus payload),
    /// newest last: the redundancy the engine adds for a lossy subscriber.
    pub history: VecDeque<(u32, std::sync::Arc<[u8]>)>,
}

pub struct Session {
    pub id: ParticipantId,
    pub room: String,
    pub name: String,
    pub role: Role,
    pub rtc: Rtc,
    pub ice_ufrag: String,
    pub created_at: Instant,
    pub connected: bool,
    pub next_timeout: Instant,
    /// Written to and waiting for the engine's flush (`Engine::defer`).
    pub deferred: bool,
    /// A packet left by the direct path since the last drain: str0m's
    /// next timeout may be later than the one in the engine's timer heap
    /// (the pacer's periodic handle counts from the last send).
    pub sent_direct: bool,
    /// Set when the session must be removed (disconnected, failed).
    pub dead: bool,
    pub mute: super::MuteState,
    pub max_kbps: Option<u32>,
    /// A relay's inbound budget (its link's, the same as `max_kbps`).
    pub inbound: Option<super::police::Policer>,
    /// Latest send-side bandwidth estimate towards this peer, bit/s.
    pub bwe_bps: Option<u64>,
    /// (minimum, desired) last given to str0m's estimator, bit/s.
    pub bwe_target: Option<(u64, u64)>,
    /// A TWCC estimate arrived: REMB is ignored from then on.
    pub bwe_twcc: bool,
    /// Tracks this participant publishes, by mid.
    pub published: Vec<(Mid, TrackId)>,
    /// Incoming SSRC -> track layer, learned from str0m's receive streams.
    pub rx_ssrc: HashMap<Ssrc, TrackRef>,
    pub slots: Vec<Slot>,
    /// A relay's thumbnail slots, in order: the source each must show
    /// (`Command::PinThumbs`); the policy's choice is not used for them.
    pub pinned: Vec<Option<SourceId>>,
    pub link: LinkStats,
    /// Loss towards this peer, smoothed over its receiver reports and its
    /// transport-wide feedback (0..1).
    pub loss_rr: Option<f32>,
    pub loss_twcc: Option<f32>,
    /// Until then the engine wraps this subscriber's audio in RED itself
    /// (its smoothed link loss was last above [`super::audio::RED_ON_LOSS`]).
    pub red_until: Option<Instant>,
    /// Until then that redundancy is two frames deep (the loss was last
    /// above [`super::audio::RED_DEEP_LOSS`]).
    pub red_deep_until: Option<Instant>,
    /// Time its stage slot showed each simulcast layer (low, mid, high),
    /// ms: what the room actually saw, for the report after the meeting.
    pub stage_layer_ms: [u64; super::room::MAX_LAYERS],
    /// Some subscriber (here or on another engine of the room) shows this
    /// participant's alternative video track (`Engine::video_for`): as
    /// last told to the driver (`Engine::drain_renditions`).
    pub rendition_wanted: bool,
}

/// Link quality of one peer, from RTCP as str0m reports it each second.
#[derive(Debug, Clone, Default)]
pub struct LinkStats {
    /// Cumulative NACKs the peer sent us, per outgoing (mid, rid).
    pub nacks_in: HashMap<(Mid, Option<Rid>), u64>,
    /// Cumulative NACKs we sent the peer, per incoming (mid, rid).
    pub nacks_out: HashMap<(Mid, Option<Rid>), u64>,
    /// Fraction lost on the way to us (0..1).
    pub loss_in: f32,
    /// Fraction lost on the way to the peer, from its receiver reports.
    pub loss_out: f32,
    pub rtt_ms: u32,
    /// Interarrival jitter of what it sends us, ms (its audio: the
    /// stream a listener notices first).
    pub jitter_ms: u32,
    /// The selected ICE candidate pair is TCP (from str0m's peer stats).
    pub tcp: bool,
}

/// Build the `Rtc` every session uses: ICE-lite, RTP mode, only the codecs
/// we forward, BWE for layer selection, stats for /metrics.
///
/// A relay link gets no estimator and so no pacer: its capacity is the
/// link budget it was configured with (and its far end polices it). A
/// delay-based estimate on a node-to-node link only hurts: when either
/// node is busy the estimate dips, the pacer holds packets, the queue adds
/// delay and the estimate dips further — every room below waits.
/// A console neither: its thumbnails are every room's lowest layer whatever
/// the estimate says, so a pacer could only queue them (a 150-room wall
/// starts far above the initial estimate: seconds of delay while it ramps).
/// A screen neither: the composite is one stream at the composer's fixed
/// rate, there is no layer to choose, and a ramping pacer only delays it.
pub fn new_rtc(now: Instant, cert: &DtlsCert, role: Role) -> Rtc {
    let config = RtcConfig::new()
        .set_ice_lite(true)
        // The DTLS client (RFC 5763 §5's recommendation to an answerer):
        // our ClientHello follows the reply to the peer's nomination, so the
        // handshake never waits on the peer to start it (str0m patch 8).
        .set_dtls_active_answer(true)
        .set_rtp_mode(true)
        .set_dtls_cert(cert.clone())
        .clear_codecs()
        // RED (RFC 2198) with whoever offers it: str0m answers `red/48000/2`
        // (fmtp `111/111`) ahead of Opus, so a browser sends it too; Opus
        // keeps `useinbandfec=1`, and the receiver reports we send make the
        // publisher's encoder raise its FEC on a lossy uplink.
        .enable_opus(true, true)
        .enable_vp8(true)
        .enable_h264(true)
        .set_stats_interval(Some(Duration::from_secs(1)))
        // Receiver reports on a publisher's audio each second, not five:
        // its Opus encoder raises in-band FEC from the loss they report,
        // and a lossy uplink should be answered within a second or two.
        .set_rtcp_report_interval_audio(AUDIO_REPORT_INTERVAL);
    if matches!(role, Role::Relay | Role::Console | Role::Screen) {
        config.build(now)
    } else {
        config
            .enable_bwe(Some(str0m::bwe::Bitrate::kbps(1500)))
            .build(now)
    }
}

impl Session {
    pub fn new(
        now: Instant,
        req: &JoinRequest,
        cert: &DtlsCert,
        local_addrs: &[SocketAddr],
        tcp_addrs: &[SocketAddr],
    ) -> Session {
        let mut rtc = new_rtc(now, cert, req.role);
        for a in local_addrs {
            if let Ok(c) = Candidate::host(*a, "udp") {
                rtc.add_local_candidate(c);
            }
        }
        // ICE-TCP (RFC 6544): passive, the peer connects to us. Its
        // priority is below UDP's, so a peer that can use UDP does.
        for a in tcp_addrs {
            if let Ok(c) = Candidate::builder()
                .tcp()
                .host(*a)
                .tcptype(TcpType::Passive)
                .build()
            {
                rtc.add_local_candidate(c);
            }
        }
        let ice_ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        Session {
            id: req.participant,
            room: req.room.clone(),
            name: req.name.clone(),
            role: req.role,
            rtc,
            ice_ufrag,
            created_at: now,
            connected: false,
            next_timeout: now,
            deferred: false,
            sent_direct: false,
            dead: false,
            mute: super::MuteState::default(),
            max_kbps: req.max_kbps,
            inbound: match (req.role, req.max_kbps) {
                (super::Role::Relay, Some(k)) => Some(super::police::Policer::new(k)),
                _ => None,
            },
            // A relay's capacity is its budget (it has no estimator).
            bwe_bps: match req.role {
                Role::Relay => req.max_kbps.map(|k| u64::from(k) * 1000),
                _ => None,
            },
            bwe_target: None,
            bwe_twcc: false,
            published: Vec::new(),
            rx_ssrc: HashMap::new(),
            slots: Vec::new(),
            pinned: Vec::new(),
            link: LinkStats::default(),
            loss_rr: None,
            loss_twcc: None,
            red_until: None,
            red_deep_until: None,
            stage_layer_ms: [0; super::room::MAX_LAYERS],
            rendition_wanted: false,
        }
    }

    /// Accept an offer; returns the answer SDP and the m-lines it set up
    /// (mid, kind, our direction), so slots exist before the reply is sent
    /// rather than when str0m's media events arrive.
    pub fn accept_offer(&mut self, offer: &str) -> Result<(String, Vec<MediaLine>), CommandError> {
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| CommandError::BadSdp(e.to_string()))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| CommandError::BadSdp(e.to_string()))?;
        let answer = answer.to_sdp_string();
        let lines = media_lines(&answer);
        Ok((answer, lines))
    }

    /// Drain str0m until its next timeout: datagrams go to `out`, events to
    /// `events` (tagged with this session). Marks the session dead on error.
    pub fn drain(
        &mut self,
        out: &mut Vec<Datagram>,
        events: &mut VecDeque<(ParticipantId, RtcEvent)>,
    ) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) => out.push(Datagram {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.into(),
                    tcp: t.proto == Protocol::Tcp,
                }),
                Ok(Output::Event(e)) => events.push_back((self.id, e)),
                Err(e) => {
                    tracing::debug!(participant = self.id, error = %e, "session poll failed");
                    self.dead = true;
                    return;
                }
            }
        }
    }

    /// Register a slot or publish entry for an m-line str0m added.
    /// Returns `Some(video)` when the remote publishes on this mid.
    pub fn classify_media(&mut self, mid: Mid, kind: MediaKind, dir: Direction) -> Option<bool> {
        let video = kind == MediaKind::Video;
        // `dir` is our direction for this m-line.
        let we_send = matches!(dir, Direction::SendOnly | Direction::SendRecv);
        let we_recv = matches!(dir, Direction::RecvOnly | Direction::SendRecv);
        if we_send && !self.slots.iter().any(|s| s.mid == mid) {
            let video_slots = self.slots.iter().filter(|s| s.video).count();
            let role = if !video {
                SlotRole::Audio
            } else if matches!(self.role, Role::Console | Role::Relay) && video_slots > 0 {
                // A relay's further video slots carry thumbnails up.
                SlotRole::Thumbnail
            } else {
                match video_slots {
                    0 => SlotRole::Stage,
                    1 => SlotRole::Speaker,
                    _ => SlotRole::Thumbnail,
                }
            };
            self.slots.push(Slot {
                mid,
                video,
                role,
                fwd: Forwarder::new(video),
                shows: None,
                tx_ssrc: None,
                pts: Vec::new(),
                red_pt: None,
                history: VecDeque::new(),
            });
        }
        we_recv.then_some(video)
    }

    /// Outgoing SSRC and payload type for a slot and codec; learned lazily
    /// because str0m creates the send stream during negotiation.
    pub fn slot_send_params(&mut self, slot: usize, codec: Codec) -> Option<(Ssrc, Pt)> {
        let mid = self.slots.get(slot)?.mid;
        if self.slots[slot].tx_ssrc.is_none() {
            let (packets, age) = rtx_cache_size(self.slots[slot].role);
            let mut api = self.rtc.direct_api();
            let stream = api.stream_tx_by_mid(mid, None)?;
            stream.set_rtx_cache(packets, age, Some(RTX_RATIO_CAP));
            self.slots[slot].tx_ssrc = Some(stream.ssrc());
        }
        let pt = match self.slots[slot].pts.iter().find(|(c, _)| *c == codec) {
            Some((_, pt)) => *pt,
            None => {
                let media = self.rtc.media(mid)?;
                let remote: Vec<Pt> = media.remote_pts().to_vec();
                let pt = self
                    .rtc
                    .codec_config()
                    .params()
                    .iter()
                    .find(|p| {
                        p.spec().codec == codec && (remote.is_empty() || remote.contains(&p.pt()))
                    })?
                    .pt();
                self.slots[slot].pts.push((codec, pt));
                pt
            }
        };
        Some((self.slots[slot].tx_ssrc?, pt))
    }

    /// Whether slot `slot` can carry `codec`: the subscriber negotiated it
    /// on that m-line (what `slot_send_params` needs, without learning it).
    pub fn can_send(&self, slot: usize, codec: Codec) -> bool {
        let Some(media) = self.slots.get(slot).and_then(|sl| self.rtc.media(sl.mid)) else {
            return false;
        };
        let remote = media.remote_pts();
        self.rtc
            .codec_config()
            .params()
            .iter()
            .any(|p| p.spec().codec == codec && (remote.is_empty() || remote.contains(&p.pt())))
    }

    /// A relay's tracks of one kind after its first, each a source of its
    /// own: audio, more voices from its side ([`SourceId::RelayAudio`]);
    /// video, thumbnails of rooms on its side ([`SourceId::RelayThumb`]).
    pub fn extra_tracks<'a>(
        &'a self,
        video: bool,
        tracks: &'a HashMap<TrackId, super::room::PublishedTrack>,
    ) -> impl Iterator<Item = TrackId> + 'a {
        self.published
            .iter()
            .map(|(_, t)| *t)
            .filter(move |t| tracks.get(t).is_some_and(|pt| pt.video == video))
            .skip(1)
            .filter(move |_| self.role == super::Role::Relay)
    }

    /// The first track of one kind this participant publishes (a room's
    /// camera or microphone; a relay's main picture or first voice).
    pub fn track_of_kind(
        &self,
        video: bool,
        tracks: &HashMap<TrackId, super::room::PublishedTrack>,
    ) -> Option<TrackId> {
        self.published
            .iter()
            .map(|(_, t)| *t)
            .find(|t| tracks.get(t).is_some_and(|pt| pt.video == video))
    }
}

/// How often we send RTCP reports on audio streams (str0m's default is 5 s).
/// About 80 bytes a second per stream: nothing beside the audio itself.
const AUDIO_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Retransmissions may take at most this share of a stream's bytes (str0m's
/// default): on a lossy commune link, more RTX only deepens the congestion.
const RTX_RATIO_CAP: f32 = 0.15;

/// How much of a slot's sent stream is kept to answer NACKs. A repair older
/// than ~1.5 s (a VSAT round trip plus the receiver's jitter buffer) arrives
/// too late to be played, and each cached packet holds a header copy, so
/// the cache is sized per role: ~120 packets/s for a 1.2 Mbit/s stage layer,
/// ~15 packets/s for a thumbnail, and audio is never retransmitted.
fn rtx_cache_size(role: SlotRole) -> (usize, Duration) {
    let age = Duration::from_millis(1500);
    match role {
        SlotRole::Stage | SlotRole::Speaker => (256, age),
        SlotRole::Thumbnail => (64, age),
        SlotRole::Audio => (1, age),
    }
}

/// One negotiated m-line: mid, kind, and our direction.
pub type MediaLine = (Mid, MediaKind, Direction);

/// Active m-lines of an SDP: (mid, kind, direction); rejected (port 0),
/// inactive and data-channel sections are left out.
pub fn media_lines(sdp: &str) -> Vec<(Mid, MediaKind, Direction)> {
    let mut out = Vec::new();
    let mut cur: Option<(Option<Mid>, MediaKind, Direction, bool)> = None;
    let mut flush = |c: Option<(Option<Mid>, MediaKind, Direction, bool)>| {
        if let Some((Some(mid), kind, dir, true)) = c
            && dir != Direction::Inactive
        {
            out.push((mid, kind, dir));
        }
    };
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("m=") {
            flush(cur.take());
            let mut parts = rest.split_whitespace();
            let kind = match parts.next() {
                Some("audio") => MediaKind::Audio,
                Some("video") => MediaKind::Video,
                _ => continue,
            };
            let active = parts.next().is_some_and(|p| p != "0");
            cur = Some((None, kind, Direction::SendRecv, active));
        } else if let Some(c) = cur.as_mut() {
            match line {
                "a=sendonly" => c.2 = Direction::SendOnly,
                "a=recvonly" => c.2 = Direction::RecvOnly,
                "a=sendrecv" => c.2 = Direction::SendRecv,
                "a=inactive" => c.2 = Direction::Inactive,
                _ => {
                    if let Some(m) = line.strip_prefix("a=mid:") {
                        c.0 = Some(Mid::from(m));
                    }
                }
            }
        }
    }
    flush(cur.take());
    out
}
