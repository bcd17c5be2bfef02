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

/// A relay publishes several audio tracks (the loudest of its side of the
/// link). Each one after its first is an audio source of its own — for
/// the speaker detector and the policy's loudest-K — under an id made from
/// the track's, with this bit set (participant ids are allocated far
/// below it).
pub const AUDIO_SOURCE_BIT: ParticipantId = 1 << 62;

/// The source id of a relay's extra audio track.
pub fn audio_source_id(track: TrackId) -> ParticipantId {
    AUDIO_SOURCE_BIT | ParticipantId::from(track)
}

/// The track behind an extra-audio source id; `None` for a participant.
pub fn audio_source_track(id: ParticipantId) -> Option<TrackId> {
    (id & AUDIO_SOURCE_BIT != 0).then_some((id & 0xffff_ffff) as TrackId)
}

/// Video tracks a relay link carries each way besides its main picture:
/// thumbnails of rooms on its side, sent only while an operator on the
/// other side watches them (which ones: `Command::PinThumbs`).
pub const RELAY_THUMBS: usize = 8;

/// A relay's thumbnail tracks are video sources of their own, for consoles'
/// thumbnail slots (never the stage or the speaker): ids with this bit, the
/// relay's participant id and the track's index. Below 2^53, so a console's
/// script reads them exactly.
pub const THUMB_SOURCE_BIT: ParticipantId = 1 << 50;

/// The source id of a relay's `index`-th thumbnail track.
pub fn thumb_source_id(relay: ParticipantId, index: usize) -> ParticipantId {
    THUMB_SOURCE_BIT | (relay << 4) | (index as ParticipantId & 0xf)
}

/// The relay and index behind a thumbnail source id; `None` otherwise.
pub fn thumb_source(id: ParticipantId) -> Option<(ParticipantId, usize)> {
    (id & THUMB_SOURCE_BIT != 0 && id & AUDIO_SOURCE_BIT == 0)
        .then_some(((id & !THUMB_SOURCE_BIT) >> 4, (id & 0xf) as usize))
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
        sources: Vec<Option<ParticipantId>>,
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
    pub participant: Option<ParticipantId>,
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
    /// Remote addresses forgotten by the per-session cap or for silence
    /// (`addrs`): a steady climb is a STUN flood.
    pub addrs_evicted: u64,
}
