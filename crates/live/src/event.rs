//! The consoles' event stream: one event per state change, past tense.

use serde::{Deserialize, Serialize};

use super::{ConnectionKind, Quorum, Scene};
use diemcau_media::ParticipantId;

/// What changed in a live meeting. Serialized as `{"type": "<snake_case>", …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A room joined (or rejoined: `reconnect`), as the participant given.
    /// `guest`: not expected (listed apart from the roll call). The mute
    /// flags are the operator mutes now applied to it.
    SiteConnected {
        endpoint_id: String,
        name: String,
        participant: ParticipantId,
        guest: bool,
        reconnect: bool,
        muted_audio: bool,
        muted_video: bool,
    },
    /// A room's connection dropped; `drops` counts them for the meeting.
    SiteDisconnected {
        endpoint_id: String,
        drops: u32,
    },
    /// A connection that is not a room's sending session: a receive-only
    /// player (with the room it belongs to, if it named one), or a client
    /// that named no endpoint (a demo room page).
    OtherConnected {
        participant: ParticipantId,
        endpoint_id: Option<String>,
        name: String,
        kind: ConnectionKind,
    },
    OtherDisconnected {
        participant: ParticipantId,
    },
    /// A room that is not planned knocked at an open meeting's lobby.
    LobbyWaiting {
        entry: super::LobbyEntry,
    },
    /// An operator let a waiting room in.
    LobbyAdmitted {
        endpoint_id: String,
    },
    /// An operator turned a waiting room away.
    LobbyDenied {
        endpoint_id: String,
    },
    /// An operator confirmed how many people are in a room.
    Headcount {
        endpoint_id: String,
        headcount: u32,
        confirmed_by: String,
    },
    /// A room's operator mutes now (`true`: muted).
    Muted {
        endpoint_id: String,
        audio: bool,
        video: bool,
    },
    /// The stage everyone sees, as endpoint ids, in order (empty: automatic).
    StageChanged {
        endpoints: Vec<String>,
    },
    ScanStarted {
        order: Vec<String>,
        dwell_ms: u64,
        current: Option<String>,
    },
    /// The scan moved on (`None`: no site of the order is connected).
    ScanAdvanced {
        endpoint_id: Option<String>,
    },
    ScanStopped,
    /// A room registered to speak, at `position` (1-based).
    FloorRequested {
        endpoint_id: String,
        position: u32,
    },
    FloorWithdrawn {
        endpoint_id: String,
    },
    /// The whole queue, in order, after any change to it.
    FloorQueue {
        order: Vec<String>,
    },
    FloorGranted {
        endpoint_id: String,
        limit_ms: Option<u64>,
        granted_at_ms: u64,
    },
    FloorRevoked {
        endpoint_id: String,
        spoke_ms: u64,
    },
    /// The speaker has `remaining_ms` left (fires once, 30 s before the limit).
    FloorWarning {
        endpoint_id: String,
        remaining_ms: u64,
    },
    /// The speaking limit is reached (fires once; nobody is cut off).
    FloorTimeUp {
        endpoint_id: String,
        limit_ms: u64,
    },
    Locked,
    Unlocked,
    /// An operator removed the room; it is refused until re-admitted.
    Removed {
        endpoint_id: String,
    },
    Readmitted {
        endpoint_id: String,
    },
    SceneChanged {
        scene: Scene,
        label: String,
    },
    /// Whether rooms other than the hub now join muted.
    MuteOnEntry {
        on: bool,
    },
    /// The composite live stream started, changed layout (`layout`:
    /// `stage`, `one_plus7`, …; none: automatic) or stopped.
    LiveStream {
        on: bool,
        layout: Option<String>,
    },
    /// A composite output (`stream`, `recording`, `sip`, `screen`) took its
    /// own layout, or follows the meeting's again (`layout` none).
    OutputLayout {
        output: String,
        layout: Option<String>,
    },
    /// The rooms a node below reports present (its own and its children's),
    /// through its relay link `participant`; an empty list when the link
    /// went down.
    RelaySites {
        node: String,
        participant: ParticipantId,
        endpoints: Vec<String>,
    },
    /// The thumbnails of rooms below that reach this node changed (an
    /// operator here started or stopped watching): the roll call's
    /// `thumb_participant` names them.
    RelayThumbs {
        node: String,
        thumbs: Vec<RelayThumb>,
    },
    /// This node's relay link to its parent node came up or went down.
    ParentRelay {
        up: bool,
    },
    /// Attendance changed (a room joined or left, a headcount was confirmed).
    QuorumChanged {
        quorum: Quorum,
        people_present: u32,
        connected_sites: u32,
    },
}

/// A room below and the source id its thumbnail arrives under here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RelayThumb {
    pub endpoint_id: String,
    /// The thumbnail's source as a number (`SourceId::wire`): what the
    /// console's thumbnail slot names.
    pub participant: u64,
}
