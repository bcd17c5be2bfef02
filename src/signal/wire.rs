//! Versioned WebSocket signalling messages (JSON, `"v": 1`).
//!
//! Owns the wire shape only; what the messages *do* lives in `api::ws`.
//! Every message carries `"type"`; unknown types and malformed JSON get an
//! `error` message back and change nothing.
//!
//! Flow: the client opens `/ws`, sends `join` with an SDP offer that holds its
//! send tracks (camera + mic, simulcast allowed) and `recvonly` transceivers
//! for the slots it wants to receive: by convention the first video
//! transceiver is the **stage**, the second the **active speaker**, any
//! further ones **thumbnails**; every audio recvonly transceiver is an audio
//! slot (the loudest speakers plus the stage). The server answers `joined`
//! and from then on tells the client which participant each slot shows
//! (`slots`) and who speaks (`speaker`). A client may re-offer at any time
//! (`offer`) to add or remove transceivers; the server replies `answer`.

use serde::{Deserialize, Serialize};

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Messages from a client to the server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Join a meeting's room with an SDP offer.
    Join {
        /// Protocol version the client speaks; must equal [`PROTOCOL_VERSION`].
        v: u32,
        meeting: String,
        /// Bearer token of the endpoint (the demo token in `diemcau demo`).
        token: String,
        /// Display name shown to others (e.g. "Đảng ủy xã Tân Phú").
        #[serde(default)]
        name: Option<String>,
        /// `room` (an endpoint), `console` (an operator watching every
        /// thumbnail) or `viewer` (receive only).
        #[serde(default)]
        role: Option<String>,
        /// Highest total bitrate this endpoint's link should receive, kbit/s.
        #[serde(default)]
        max_kbps: Option<u32>,
        offer: String,
    },
    /// Renegotiation initiated by the client (tracks or slots changed).
    Offer { sdp: String },
    /// Mute or unmute this participant's own audio/video (self mute).
    Mute {
        #[serde(default)]
        audio: Option<bool>,
        #[serde(default)]
        video: Option<bool>,
    },
    /// Keep-alive; answered with `pong`.
    Ping,
    /// Leave the room; the server closes the session.
    Leave,
}

/// Messages from the server to a client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The join succeeded.
    Joined {
        v: u32,
        participant: String,
        answer: String,
        /// Every slot the answer set up, with its role.
        slots: Vec<SlotInfo>,
    },
    /// Answer to a client `offer`.
    Answer {
        sdp: String,
        slots: Vec<SlotInfo>,
    },
    /// Which participant each slot now shows (sent on every change).
    Slots {
        slots: Vec<SlotInfo>,
    },
    /// The active speaker changed (`None`: nobody speaks).
    Speaker {
        participant: Option<String>,
        name: Option<String>,
    },
    /// The stage changed.
    Stage {
        participants: Vec<String>,
    },
    /// This participant's mute state, as enforced by the server.
    /// `audio`/`video`: whether that media is dropped at the server;
    /// `operator_*`: whether an operator did it (the room cannot undo it).
    Muted {
        audio: bool,
        video: bool,
        operator_audio: bool,
        operator_video: bool,
    },
    /// Everyone in the room (sent on join/leave).
    Participants {
        list: Vec<ParticipantInfo>,
    },
    Pong,
    /// Run the technical check now (kiểm tra kỹ thuật): measure the link,
    /// camera and microphone for `seconds`, play the test tone, ask the
    /// technician, and report to `POST /api/v1/meetings/{id}/checks`.
    Check {
        seconds: u32,
    },
    /// A request was refused; nothing changed.
    Error {
        code: String,
        message: String,
    },
}

/// One receive slot of a subscriber.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct SlotInfo {
    /// The SDP mid of the transceiver.
    pub mid: String,
    /// `audio` or `video`.
    pub kind: String,
    /// `stage`, `speaker`, `thumbnail` or `audio`.
    pub role: String,
    /// Participant currently shown/heard in this slot.
    pub participant: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ParticipantInfo {
    pub id: String,
    pub name: String,
    pub role: String,
    pub audio_muted: bool,
    pub video_muted: bool,
}
