//! The SFU engine, sans-IO: rooms, participants and their sessions, published
//! tracks and simulcast layers, receive slots, forwarders, layer selection,
//! active speaker and the stage policy.
//!
//! **Architecture invariant:** nothing here touches tokio, axum, sqlx, sockets
//! or the clock. Time comes in as an argument (`now`), datagrams come in as
//! byte slices and go out as [`Datagram`] values, commands come in as
//! [`Command`] values and answers/events go out as plain data. A check in
//! `tests/it/invariants.rs` fails the build's tests when an import sneaks in.
//!
//! Ownership: the [`Engine`] owns every [`session::Session`] (one str0m `Rtc`
//! each) and every [`room::Room`]. A relay to another node or a recorder is
//! just another participant: a relay publishes many tracks and subscribes
//! with many slots; a recorder only subscribes.

pub mod addrs;
pub mod audio;
pub mod bridge;
pub mod codec;
pub mod composite;
pub mod engine;
pub mod forwarder;

pub mod police;
pub mod policy;
pub mod quality;
pub mod red;
pub mod room;
pub mod route;
pub mod session;
pub mod span;
pub mod speaker;
pub mod stun;
pub mod tap;
mod tick;

use core::net::SocketAddr;

pub use engine::{Engine, EngineConfig};
pub use policy::SlotRole;

/// A participant (one connected peer). One session per participant.
pub type ParticipantId = u64;
/// A published track, unique within an engine.
pub type TrackId = u32;

/// Video tracks a relay link carries each way besides its main picture:
/// thumbnails of rooms on its side, sent only while an operator on the
/// other side watches them (which ones: `Command::PinThumbs`).
pub const RELAY_THUMBS: usize = 8;

/// What the speaker detector, the policy and the slots choose among: a
/// participant's own tracks, or one of the extra tracks a relay link
/// carries for its side of the tree. A number only at the wire
/// ([`SourceId::wire`]), where a console matches slots to rooms.
///
/// The variants are ordered as their wire numbers are, so ties broken by
/// id (the speaker's ranking) fall the same way on every engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceId {
    /// A participant: a room's camera and microphone, a relay's main
    /// picture and first voice.
    Participant(ParticipantId),
    /// A relay's `index`-th thumbnail track: a room on its side, for
    /// consoles' thumbnail slots only (never the stage or the speaker).
    RelayThumb { relay: ParticipantId, index: u8 },
    /// A relay's further audio track (one more of the loudest voices of
    /// its side): a source of its own for the speaker detector and the
    /// loudest-K, heard as its relay.
    RelayAudio {
        track: TrackId,
        relay: ParticipantId,
    },
}

/// Wire tag of a relay's thumbnail: below 2^53, so a console's script
/// reads the number exactly; participant ids are allocated far below it.
const WIRE_THUMB_BIT: u64 = 1 << 50;
/// Wire tag of a relay's extra audio (never shown to a client today: a
/// slot names the relay instead, but the number must not collide).
const WIRE_AUDIO_BIT: u64 = 1 << 62;

impl SourceId {
    /// The participant whose session carries this source.
    pub fn owner(self) -> ParticipantId {
        match self {
            SourceId::Participant(p) => p,
            SourceId::RelayThumb { relay, .. } | SourceId::RelayAudio { relay, .. } => relay,
        }
    }

    /// The participant, when this source is one.
    pub fn participant(self) -> Option<ParticipantId> {
        match self {
            SourceId::Participant(p) => Some(p),
            _ => None,
        }
    }

    /// Whether this is a relay's thumbnail (thumbnail slots only).
    pub fn is_thumb(self) -> bool {
        matches!(self, SourceId::RelayThumb { .. })
    }

    /// The number consoles see (slots' `participant`, the roll call's
    /// `thumb_participant`): unique per source, stable while it lasts.
    pub fn wire(self) -> u64 {
        match self {
            SourceId::Participant(p) => p,
            SourceId::RelayThumb { relay, index } => {
                WIRE_THUMB_BIT | (relay << 4) | u64::from(index & 0xf)
            }
            SourceId::RelayAudio { track, .. } => WIRE_AUDIO_BIT | u64::from(track),
        }
    }
}

impl From<ParticipantId> for SourceId {
    fn from(p: ParticipantId) -> Self {
        SourceId::Participant(p)
    }
}

/// One simulcast layer of one published track (layer 0 = lowest quality).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackRef {
    pub track: TrackId,
    pub layer: u8,
}

/// A datagram to send: UDP, or one RFC 4571 frame on an ICE-TCP
/// connection (`tcp`; the connection is the (source, destination) pair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Local address to send from (one of the advertised candidates).
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
    pub tcp: bool,
}

/// What kind of peer joins; decides its default receive slots and rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A room endpoint (điểm cầu): publishes and receives.
    Room,
    /// An operator console: receives every thumbnail.
    Console,
    /// Receive only (WHEP players, recorders).
    Viewer,
    /// Publish only (WHIP encoders).
    Publisher,
    /// Another diemcau node (a relay link): publishes what its side shows
    /// (stage video, selected audio) and receives this side's stage and
    /// audio. Never parsed from a client's join: only the cascade routes
    /// create it.
    Relay,
    /// A hall screen (WHEP `…/composite`): receives the meeting's
    /// composite picture and program mix (`composite`), nothing else;
    /// nobody's source. Never parsed from a client's join.
    Screen,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Room => "room",
            Role::Console => "console",
            Role::Viewer => "viewer",
            Role::Publisher => "publisher",
            Role::Relay => "relay",
            Role::Screen => "screen",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "room" => Some(Role::Room),
            "console" => Some(Role::Console),
            "viewer" => Some(Role::Viewer),
            "publisher" => Some(Role::Publisher),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// Allocated by the caller (unique across engines of one process).
    pub participant: ParticipantId,
    pub room: String,
    pub name: String,
    pub role: Role,
    /// Link cap for everything this participant receives, kbit/s.
    pub max_kbps: Option<u32>,
    pub offer: String,
}

/// Commands from control/signalling into the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Join(JoinRequest),
    /// A new offer from an already joined participant (renegotiation).
    Renegotiate {
        participant: ParticipantId,
        offer: String,
    },
    Leave {
        participant: ParticipantId,
    },
    /// Set the room's stage, in order (empty: see `StageVoice`).
    SetStage {
        room: String,
        participants: Vec<ParticipantId>,
    },
    /// Whether the stage may follow the voice: when on, a stage with nobody
    /// to show falls back to the active speaker; when off (a new room's
    /// default), to whoever the slot showed, then join order — a commune
    /// that coughs is heard and shown in the speaker slot, never put on the
    /// main stage. Only a scene that asks for it (Thảo luận) or an
    /// operator's "automatic stage" turns it on.
    StageVoice {
        room: String,
        on: bool,
    },
    /// Mute or unmute; `None` leaves that kind unchanged. An operator's mute
    /// holds until an operator lifts it, whatever the participant does.
    Mute {
        participant: ParticipantId,
        audio: Option<bool>,
        video: Option<bool>,
        by_operator: bool,
    },
    SetMaxBitrate {
        participant: ParticipantId,
        kbps: Option<u32>,
    },
    /// What a relay's thumbnail slots show, in order (`None`: nothing, so
    /// nothing crosses the link for that slot).
    PinThumbs {
        participant: ParticipantId,
        sources: Vec<Option<SourceId>>,
    },
    /// Start (or stop) handing a room's media to the recorder. The room
    /// need not exist yet: its first publisher is recorded from the start.
    Record {
        room: String,
        on: bool,
    },
    /// A tap's consumer (the composite) needs a keyframe of `track`: a
    /// PLI for the layer the tap forwards, paced like any other request.
    TapKeyframe {
        room: String,
        track: TrackId,
    },
    /// The layer the composite wants of each video track it shows (the
    /// smallest whose picture fills the track's tile; others are not
    /// tapped for it): tapped apart from the recording's best layer.
    TapLayers {
        room: String,
        layers: Vec<(TrackId, u8)>,
    },
    Stats,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Joined {
        answer: String,
        ice_ufrag: String,
        slots: Vec<SlotState>,
    },
    Answer {
        answer: String,
        slots: Vec<SlotState>,
    },
    Done,
    Stats(EngineStats),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown participant {0}")]
    UnknownParticipant(ParticipantId),
    #[error("unknown room {0:?}")]
    UnknownRoom(String),
    #[error("participant {0} already exists")]
    DuplicateParticipant(ParticipantId),
    #[error("invalid sdp: {0}")]
    BadSdp(String),
    #[error("the offer has no media with a codec this server forwards (opus, vp8, h264)")]
    NoUsableCodec,
    #[error("participant {0} is not in room {1:?}")]
    NotInRoom(ParticipantId, String),
    #[error("internal error in the session; it was closed")]
    SessionFailed,
    #[error("participant {0} is not a relay")]
    NotARelay(ParticipantId),
}

/// What one receive slot shows, as told to its subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    pub mid: String,
    pub video: bool,
    pub role: SlotRole,
    /// Whom it shows: a participant (a relay's extra voice is named as its
    /// relay), or a relay's thumbnail, which the roll call's
    /// `thumb_participant` maps to a room below.
    pub source: Option<SourceId>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaveReason {
    Requested,
    Disconnected,
    IceTimeout,
    Failed,
}

/// Events out of the engine (past tense).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Joined {
        room: String,
        participant: ParticipantId,
        name: String,
        role: Role,
    },
    Connected {
        participant: ParticipantId,
    },
    Left {
        room: String,
        participant: ParticipantId,
        reason: LeaveReason,
    },
    TrackPublished {
        room: String,
        participant: ParticipantId,
        video: bool,
    },
    SlotsChanged {
        participant: ParticipantId,
        slots: Vec<SlotState>,
    },
    SpeakerChanged {
        room: String,
        participant: Option<ParticipantId>,
        name: Option<String>,
    },
    StageChanged {
        room: String,
        participants: Vec<ParticipantId>,
    },
    MuteChanged {
        room: String,
        participant: ParticipantId,
        mute: MuteState,
    },
    /// A screen of `room` needs a keyframe of the composite.
    CompositeKeyframe {
        room: String,
    },
}

/// Who muted what. Media is dropped when either the participant or an
/// operator muted it; the participant cannot lift an operator's mute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MuteState {
    pub own_audio: bool,
    pub own_video: bool,
    pub operator_audio: bool,
    pub operator_video: bool,
}

impl MuteState {
    pub fn audio(&self) -> bool {
        self.own_audio || self.operator_audio
    }
    pub fn video(&self) -> bool {
        self.own_video || self.operator_video
    }
}

/// Counters of one room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomStats {
    pub room: String,
    pub participants: u64,
    pub tracks: u64,
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub nacks_received: u64,
    pub plis_sent: u64,
    pub keyframe_requests_received: u64,
    pub dropped_muted: u64,
    /// Packets from a relay beyond its link budget (`police`).
    pub dropped_over_budget: u64,
    /// Audio packets publishers sent as RED.
    pub red_packets_in: u64,
    /// Audio frames lost on a publisher's uplink and rebuilt from the
    /// redundancy (RED) of the packet after them.
    pub red_recovered: u64,
    /// RED payloads that did not parse, or wrapped another codec: dropped.
    pub red_malformed: u64,
    /// Audio packets sent as RED (the publisher's or the engine's).
    pub red_packets_out: u64,
    /// Of those, RED the engine built for a lossy subscriber.
    pub red_generated: u64,
    /// Bytes of redundancy sent beyond the primary frames: RED's cost.
    pub red_bytes_out: u64,
    /// Packets of a room held across engines (`span`): handed to other
    /// engines (one per engine that needs the track), and taken from them.
    pub handoff_packets_out: u64,
    pub remote_packets_in: u64,
}

/// Link quality of one participant, as its RTCP reports it (for the
/// operator's view of every endpoint).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParticipantStats {
    pub room: String,
    pub participant: ParticipantId,
    pub name: String,
    pub connected: bool,
    /// Share of the participant's packets lost on the way to us, per mille.
    pub loss_in_permille: u32,
    /// Share of our packets lost on the way to the participant, per mille.
    pub loss_out_permille: u32,
    pub rtt_ms: u32,
    /// Send-side bandwidth estimate towards the participant, bit/s.
    pub bwe_bps: u64,
    /// What the participant publishes, summed over its tracks' layers as
    /// last measured (bit/s, RTP payload + header).
    pub bitrate_in_bps: u64,
    /// Its media runs over ICE-TCP (the selected candidate pair is TCP:
    /// its UDP is blocked somewhere on the way).
    pub tcp: bool,
    /// Interarrival jitter of its audio at the server, ms.
    pub jitter_ms: u32,
    /// Its audio frames sent (by sequence number) and arrived here, RED's
    /// refills included (`media::quality`), over the session.
    pub audio_frames_expected: u64,
    pub audio_frames_received: u64,
    /// Stalls of its video on the way in, and their total length, ms.
    pub video_freezes: u32,
    pub video_freeze_ms: u64,
    /// Time its stage slot showed each simulcast layer (low, mid, high), ms.
    pub stage_layer_ms: [u64; room::MAX_LAYERS],
}

/// Counters of one engine (a worker thread's share of the server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub rooms: Vec<RoomStats>,
    pub participants: Vec<ParticipantStats>,
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    /// Datagrams from an address no session knows, that are not a valid STUN
    /// request for a known ICE username.
    pub dropped_unknown_source: u64,
    /// Datagrams a session refused (garbage, bad integrity, truncated).
    pub dropped_malformed: u64,
    pub sessions_failed: u64,
    /// How subscribers were driven after media was written to them: a
    /// light flush (send queues and pacer only, str0m patch
    /// "light-flush") or a whole session timeout (a session that never
    /// had one yet). Light flushes far outnumber timeouts once media flows.
    pub light_flushes: u64,
    pub flush_timeouts: u64,
    /// Forwarded packets sent in the call that wrote them (str0m patch
    /// "direct-send": nothing queued before them, the pacer within its
    /// burst) and packets written to a send queue, sent after the batch's
    /// flush.
    pub direct_sends: u64,
    pub queued_writes: u64,
    /// Direct sends sealed into a buffer the driver gave back after an
    /// earlier send (`Engine::recycle`) rather than a new one.
    pub direct_sends_reused: u64,
    /// Runs of the fan-out: one track's packets of one batch of input,
    /// each subscriber written all of them before the next
    /// (`Engine::fan_out_pending`), and the packets they held. Their ratio
    /// is how many packets a subscriber's session is read once for.
    pub fanout_runs: u64,
    pub fanout_run_packets: u64,
    /// Session timeouts found no longer due when their turn came: direct
    /// sends had moved str0m's deadline later (its pacer's periodic
    /// handle), so the session was re-armed instead of run.
    pub timeouts_deferred: u64,
    /// Whole session timeouts run from the timer heap (str0m's reports,
    /// feedback, estimator and pacer timers): what a session costs when
    /// no media is written to it.
    pub session_timeouts: u64,
    /// Remote addresses forgotten by the per-session cap or for silence
    /// (`addrs`): a steady climb is a STUN flood.
    pub addrs_evicted: u64,
    /// Entries in the engine's maps now: a map that grows with the number
    /// of rejoins rather than with who is connected is a leak (the
    /// endurance scenario, `diemcau-load s6`, watches them).
    pub maps: MapSizes,
}

/// Entries in an engine's maps (see [`EngineStats::maps`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapSizes {
    pub sessions: usize,
    pub rooms: usize,
    pub tracks: usize,
    pub ufrags: usize,
    /// Remote addresses (UDP and ICE-TCP) → session.
    pub addresses: usize,
    /// Receive slots over all sessions (each holds a forwarder).
    pub slots: usize,
    /// Members of shared rooms whose sessions run on other engines.
    pub remote_members: usize,
    pub timers: usize,
    pub taps: usize,
}

impl MapSizes {
    /// (name, entries), for /metrics.
    pub fn named(&self) -> [(&'static str, usize); 9] {
        [
            ("sessions", self.sessions),
            ("rooms", self.rooms),
            ("tracks", self.tracks),
            ("ufrags", self.ufrags),
            ("addresses", self.addresses),
            ("slots", self.slots),
            ("remote_members", self.remote_members),
            ("timers", self.timers),
            ("taps", self.taps),
        ]
    }
}
