//! Live meeting control, sans-IO: roll call, mute, stage and lecture scan, floor queue, lock, scenes.
//!
//! One [`LiveMeeting`] per running meeting. It works in endpoint ids (the
//! rooms, điểm cầu) and maps each to the participant id of its current
//! connection. It never calls the media engine, the clock or the network:
//! every call takes `now_ms` where time matters and returns [`Effect`]s, which
//! the caller applies **in order** — [`MediaAction`]s to the engine
//! (`Command::SetStage` / `Mute { by_operator: true }` / `Leave`) and
//! [`LiveEvent`]s to the consoles' WebSocket stream. A console that just
//! connected takes [`LiveMeeting::snapshot`], then stays in sync from events
//! alone: every state change emits its event.
//!
//! Split by concept:
//! - `connection`: joins, drops, reconnects, lock, remove / re-admit;
//! - `roll_call`: điểm danh, headcounts, quorum;
//! - `mute`: operator mutes, mass mutes;
//! - `entry`: rooms other than the hub joining muted (per meeting, live);
//! - `stage`: the operator's stage;
//! - `scan`: lecture mode (the hub watches the sites in turn);
//! - `floor`: đăng ký phát biểu — queue, grant, revoke, speaking timer;
//! - `scene`: one action per phase of the meeting (Khai mạc … Bế mạc);
//! - `snapshot`: the whole state for a console;
//! - `links`: each endpoint's link quality over the last minutes, with
//!   degrade/recover hysteresis;
//! - `quality`: the same samples added up over the whole meeting (time
//!   connected, loss and RTT p50/p95), stored when it ends.
//!
//! How state becomes effects: an operation changes the state only (after
//! validating everything — a call that returns an error changes nothing),
//! then `reconcile` compares what the engine was last told with what the
//! state now asks for and emits just the difference (mutes per participant,
//! the stage as participant ids), plus the `muted`, `stage_changed` and
//! `quorum_changed` events. This is what makes a reconnect re-apply an
//! endpoint's operator mute, its place on stage and its floor grant to the
//! new participant id without special cases, and what guarantees that no
//! effect ever names a participant that is not connected.
//!
//! The effective stage is layered: the floor holder (`[speaker, hub]`: the province watches the speaker, the speaker watches the chair) over
//! the lecture scan (`[hub, current site]`) over the operator's stage. Taking
//! the top layer away reveals the one below, which is how `revoke_floor` and
//! `stop_scan` "restore the stage it had before". An explicit stage action
//! (`set_stage`, `start_scan`) is the operator's latest word: it stops a scan
//! and takes the stage from a floor holder, who keeps the open microphone and
//! the timer until the chair revokes.
//!
//! The hub (the provincial room, which chairs) is never muted by a mass
//! mute or a scene, is never scanned and never holds the floor: it already
//! speaks.

mod connection;
mod entry;
mod error;
mod event;
mod floor;
pub mod kind;
pub mod layout;
mod links;
mod lobby;
mod mute;
mod quality;
pub mod relay;
mod roll_call;
mod scan;
mod scene;
mod sip_call;
mod snapshot;
mod stage;
mod stream;

#[cfg(test)]
mod invariants;
#[cfg(test)]
mod test_support;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use diemcau_media::{ParticipantId, SourceId};

pub use error::{LiveError, Refusal};
pub use event::LiveEvent;
pub use links::{
    EndpointLinks, LINK_SAMPLE_MS, LINK_WINDOW_MS, LinkAlert, LinkMeasure, LinkMonitor, LinkSample,
    LinksView, MediaCounters,
};
pub use lobby::{Knock, LobbyEntry};
pub use quality::{QualityLog, QualitySummary};
pub use roll_call::{FloorStatus, OtherConnection, Quorum, QuorumBasis, RollCall, RollCallSite};
pub use scene::{Scene, ScenePolicy, SceneStage};
pub use snapshot::{FloorView, LiveSnapshot, QueueEntry, ScanView, SpeakerView};

/// How long after a drop an endpoint may come back into a locked meeting.
pub const RECONNECT_GRACE_MS: u64 = 60_000;
/// How long before the speaking limit `floor_warning` fires.
pub const FLOOR_WARNING_MS: u64 = 30_000;
/// Lecture-scan dwell bounds.
pub const MIN_DWELL_MS: u64 = 5_000;
pub const MAX_DWELL_MS: u64 = 600_000;
/// The largest headcount an operator may confirm for one room.
pub const MAX_HEADCOUNT: u32 = 10_000;
/// The shortest speaking limit.
pub const MIN_FLOOR_LIMIT_MS: u64 = 1_000;

/// A room expected in the meeting (from the meeting's participant list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExpectedSite {
    pub endpoint_id: String,
    pub name: String,
    pub unit_name: Option<String>,
}

/// What kind of client a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    /// The room page (sends and receives).
    Room,
    /// An operator's console: never a site, never muted or staged, and
    /// always admitted (a locked meeting must stay operable).
    Console,
    /// A receive-only player (WHEP).
    Viewer,
    /// A send-only client (WHIP).
    Publisher,
    /// Another diemcau node's relay link: never a site; it stands for the
    /// sites behind it (`relay` module).
    Relay,
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// To the media engine.
    Media(MediaAction),
    /// To the composer: start (or re-lay) the live stream with these
    /// layouts and the sites connected now, or stop it.
    Stream(Option<StreamOrder>),
    /// To the composer: the meeting's layouts changed (its own or an
    /// output's).
    Layouts(crate::layout::Layouts),
    /// To the consoles' event stream.
    Event(LiveEvent),
    /// To the SIP listener: call this SIP room (dial-out, "Gọi lại").
    SipCall(String),
}

/// The live stream as the composer must run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOrder {
    pub layouts: crate::layout::Layouts,
    /// (participant, name) of every connected site.
    pub sites: Vec<(ParticipantId, String)>,
}

/// A command for the media engine; every one names only connected participants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaAction {
    /// `Command::SetStage` for the meeting's room (empty: nobody chosen).
    SetStage(Vec<ParticipantId>),
    /// `Command::StageVoice`: whether the stage may follow the active
    /// speaker (only Thảo luận or an operator's automatic stage).
    StageVoice(bool),
    /// `Command::Mute { by_operator: true }`; `Some(true)` mutes, `Some(false)`
    /// lifts the operator's mute, `None` leaves that kind alone.
    Mute {
        participant: ParticipantId,
        audio: Option<bool>,
        video: Option<bool>,
    },
    /// `Command::Leave`.
    Remove { participant: ParticipantId },
    /// `Command::PinThumbs` for the relay to the parent.
    PinThumbs {
        relay: ParticipantId,
        sources: Vec<Option<SourceId>>,
    },
}

/// One room endpoint's live state (expected, the hub, or a guest). Sites are
/// never deleted during a meeting, so indices into `LiveMeeting::sites` are
/// stable and used internally instead of ids.
#[derive(Debug, Clone)]
struct Site {
    id: String,
    name: String,
    unit_name: Option<String>,
    /// On the roll call: expected, or the hub. `false`: a guest.
    on_roll: bool,
    hub: bool,
    /// The hub was not in the expected list: its name comes from its connection.
    named_by_connection: bool,
    participant: Option<ParticipantId>,
    kind: Option<ConnectionKind>,
    connected_since_ms: Option<u64>,
    /// When its last connection dropped (not when it was removed).
    dropped_at_ms: Option<u64>,
    drops: u32,
    headcount: Option<u32>,
    headcount_by: Option<String>,
    /// The room reported its headcount itself: it counts for the quorum,
    /// but a vote weighs only a headcount someone else confirmed.
    headcount_self: bool,
    /// Present on another node, reached through this child relay
    /// participant (its last report named this site).
    via: Option<ParticipantId>,
    /// Its thumbnail's source id here, while the relay it is behind sends
    /// one (an operator here watches).
    thumb: Option<SourceId>,
    /// Operator mutes, remembered across reconnects.
    muted_audio: bool,
    muted_video: bool,
    /// Removed by an operator; refused until re-admitted.
    barred: bool,
    /// Re-admitted by name: may come back once even into a locked meeting.
    readmitted: bool,
    ever_connected: bool,
}

impl Site {
    fn new(id: String, name: String, unit_name: Option<String>, on_roll: bool) -> Self {
        Site {
            id,
            name,
            unit_name,
            on_roll,
            hub: false,
            named_by_connection: false,
            participant: None,
            via: None,
            thumb: None,
            kind: None,
            connected_since_ms: None,
            dropped_at_ms: None,
            drops: 0,
            headcount: None,
            headcount_by: None,
            headcount_self: false,
            muted_audio: false,
            muted_video: false,
            barred: false,
            readmitted: false,
            ever_connected: false,
        }
    }
}

/// What a connected participant id stands for.
#[derive(Debug, Clone)]
enum Conn {
    Site(usize),
    /// A child node's relay link (the sites it reports are `via` it).
    ChildRelay {
        node: String,
    },
    /// This node's relay link to its parent.
    ParentRelay,
    /// Not a room's sending session: a receive-only player (even one that
    /// names its room), or a client that named no endpoint.
    Other {
        endpoint: Option<String>,
        name: String,
        kind: ConnectionKind,
        since_ms: u64,
        /// The person behind a console, player or publisher (none for a
        /// room's own player or a demo guest).
        user: Option<String>,
        /// That person runs the meeting (an operator of it).
        runs: bool,
    },
}

/// Lecture mode.
#[derive(Debug, Clone)]
struct Scan {
    /// Site indices, in the operator's order.
    order: Vec<usize>,
    dwell_ms: u64,
    /// Position in `order` of the site on stage; `None` while no site of
    /// the order is connected.
    current: Option<usize>,
    /// Where the next search starts from (the last position shown).
    cursor: usize,
    /// When the current site came on (or the scan resumed).
    since_ms: u64,
}

/// The floor holder.
#[derive(Debug, Clone)]
struct Speaker {
    site: usize,
    granted_at_ms: u64,
    limit_ms: Option<u64>,
    warned: bool,
    time_up: bool,
    /// `[speaker, hub]` is the stage; cleared by an explicit stage action.
    on_stage: bool,
}

#[derive(Debug, Clone)]
struct FloorRequest {
    site: usize,
    requested_at_ms: u64,
}

/// What the last events said about attendance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attendance {
    quorum: Quorum,
    people_present: u32,
    connected_sites: u32,
}

/// The state before an operation, for `reconcile`.
struct Before {
    mutes: Vec<(bool, bool)>,
    stage: Vec<usize>,
}

/// The live control state of one running meeting.
#[derive(Debug, Clone)]
pub struct LiveMeeting {
    sites: Vec<Site>,
    index: HashMap<String, usize>,
    hub: Option<usize>,
    expected_people: Option<u32>,
    quorum_percent: u8,
    participants: HashMap<ParticipantId, Conn>,
    /// Per connected site participant: the operator mute the engine was last told.
    sent_mute: HashMap<ParticipantId, (bool, bool)>,
    /// The stage the engine was last told.
    sent_stage: Vec<ParticipantId>,
    /// The operator's stage (site indices): the hub when the meeting opens;
    /// empty = nobody chosen (automatic when `voice`).
    base_stage: Vec<usize>,
    /// An empty operator stage follows the voice: set by Thảo luận and by
    /// an operator's automatic stage, cleared by any other stage or scene.
    voice: bool,
    /// What the engine was last told about following the voice (a new
    /// engine room starts without).
    sent_voice: bool,
    /// Rooms other than the hub join with their microphone muted by the
    /// operator (`entry` module).
    mute_on_entry: bool,
    /// The composite live stream (HLS) runs — the `stream` module.
    streaming: bool,
    /// The composite's layouts: the meeting's and each output's own.
    layouts: crate::layout::Layouts,
    scan: Option<Scan>,
    queue: Vec<FloorRequest>,
    speaker: Option<Speaker>,
    locked: bool,
    scene: Option<Scene>,
    attendance: Attendance,
    /// The latest `now_ms` any call brought, for the few operations that
    /// take no time argument (a removal revokes the floor with it).
    clock_ms: u64,
    /// This node's relay to its parent node, while connected.
    parent_relay: Option<ParticipantId>,
    /// The stage the parent node's meeting shows (endpoint ids), while the
    /// relay to it is up: the one logical meeting has one stage.
    upper_stage: Option<Vec<usize>>,
    /// The parent's last view: only what changes in it is taken, so this
    /// node's own operator (a sub-operator for its subtree) may act in
    /// between and the top overrides when it acts again.
    last_upper: Option<relay::UpperView>,
    /// The rooms the parent's operators watch (endpoint ids, in order):
    /// their thumbnails go up the relay while they are here or below.
    upper_watch: Vec<String>,
    /// Site indices on the parent relay's thumbnail slots, in order.
    pins: Vec<Option<usize>>,
    /// The thumbnail sources the engine was last told for them.
    sent_pins: Vec<Option<SourceId>>,
    /// The lobby of an open meeting and the people sent away (`lobby`).
    door: lobby::Door,
    /// Each planned SIP room's last dial-out state (the `sip_call` event's
    /// fields), so a console that opens mid-call sees it (`sip_call`).
    sip_calls: std::collections::BTreeMap<String, serde_json::Value>,
}

fn event(e: LiveEvent) -> Effect {
    Effect::Event(e)
}

impl LiveMeeting {
    /// A meeting with its expected rooms (roll-call order), the hub's
    /// endpoint (added to the head of the roll call if it is not among the
    /// expected rooms: its headcount counts — the chair and the standing
    /// committee sit there), the expected number of people (quorum by
    /// people when set, else by sites) and the quorum percentage.
    pub fn new(
        expected: Vec<ExpectedSite>,
        hub: Option<String>,
        expected_people: Option<u32>,
        quorum_percent: u8,
    ) -> Result<Self, LiveError> {
        if quorum_percent > 100 {
            return Err(LiveError::BadQuorumPercent(quorum_percent));
        }
        let mut sites = Vec::with_capacity(expected.len() + 1);
        let mut index = HashMap::with_capacity(expected.len() + 1);
        if let Some(h) = &hub
            && !expected.iter().any(|s| &s.endpoint_id == h)
        {
            let mut s = Site::new(h.clone(), h.clone(), None, true);
            s.named_by_connection = true;
            index.insert(h.clone(), 0);
            sites.push(s);
        }
        for e in expected {
            if index.contains_key(&e.endpoint_id) {
                return Err(LiveError::DuplicateEndpoint(e.endpoint_id));
            }
            index.insert(e.endpoint_id.clone(), sites.len());
            sites.push(Site::new(e.endpoint_id, e.name, e.unit_name, true));
        }
        let hub = hub.map(|h| index[&h]);
        if let Some(h) = hub {
            sites[h].hub = true;
        }
        let mut m = LiveMeeting {
            sites,
            index,
            hub,
            expected_people,
            quorum_percent,
            participants: HashMap::new(),
            sent_mute: HashMap::new(),
            sent_stage: Vec::new(),
            // A provincial meeting is run from the hub: everyone sees the
            // chair until an operator, a floor grant or a scene moves it.
            base_stage: hub.into_iter().collect(),
            voice: false,
            sent_voice: false,
            mute_on_entry: false,
            streaming: false,
            layouts: Default::default(),
            scan: None,
            queue: Vec::new(),
            speaker: None,
            locked: false,
            scene: None,
            door: lobby::Door::default(),
            sip_calls: Default::default(),
            clock_ms: 0,
            parent_relay: None,
            upper_stage: None,
            last_upper: None,
            upper_watch: Vec::new(),
            pins: Vec::new(),
            sent_pins: Vec::new(),
            attendance: Attendance {
                quorum: Quorum {
                    basis: QuorumBasis::Sites,
                    required: 0,
                    present: 0,
                    met: true,
                },
                people_present: 0,
                connected_sites: 0,
            },
        };
        m.attendance = m.attendance_now();
        Ok(m)
    }

    /// The hub's endpoint id.
    pub fn hub(&self) -> Option<&str> {
        self.hub.map(|h| self.sites[h].id.as_str())
    }

    pub fn is_locked(&self) -> bool {
        self.locked
    }

    pub fn scene(&self) -> Option<Scene> {
        self.scene
    }

    /// The endpoint a participant id is connected as, if any.
    pub fn endpoint_of(&self, participant: ParticipantId) -> Option<&str> {
        match self.participants.get(&participant) {
            Some(Conn::Site(i)) => Some(self.sites[*i].id.as_str()),
            _ => None,
        }
    }

    /// The participant id of an endpoint's current connection.
    pub fn participant_of(&self, endpoint_id: &str) -> Option<ParticipantId> {
        self.index
            .get(endpoint_id)
            .and_then(|&i| self.sites[i].participant)
    }

    /// The stage as endpoint ids, as everyone sees it now (empty: automatic).
    pub fn stage(&self) -> Vec<String> {
        self.ids(&self.effective_stage())
    }

    /// Time passes: the speaking timer's warning and time-up, the lecture
    /// scan's next site.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Effect> {
        self.saw(now_ms);
        let before = self.before();
        let mut fx = Vec::new();
        self.tick_floor(now_ms, &mut fx);
        self.tick_scan(now_ms, &mut fx);
        self.reconcile(before, &mut fx);
        fx
    }

    /// Everything the engine should hold, sent again in full: each connected
    /// room's operator mutes (both kinds) and the stage. For when the engine
    /// may have lost track (a worker restarted, the room was re-created).
    pub fn resync(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        for s in &self.sites {
            if let Some(p) = s.participant {
                fx.push(Effect::Media(MediaAction::Mute {
                    participant: p,
                    audio: Some(s.muted_audio),
                    video: Some(s.muted_video),
                }));
                self.sent_mute.insert(p, (s.muted_audio, s.muted_video));
            }
        }
        let parts = self.stage_route(&self.effective_stage());
        fx.push(Effect::Media(MediaAction::SetStage(parts.clone())));
        self.sent_stage = parts;
        let voice = self.wants_voice();
        fx.push(Effect::Media(MediaAction::StageVoice(voice)));
        self.sent_voice = voice;
        fx
    }

    /// Remember the latest clock reading.
    fn saw(&mut self, now_ms: u64) {
        self.clock_ms = self.clock_ms.max(now_ms);
    }

    fn site_idx(&self, endpoint_id: &str) -> Result<usize, LiveError> {
        self.index
            .get(endpoint_id)
            .copied()
            .ok_or_else(|| LiveError::UnknownEndpoint(endpoint_id.to_string()))
    }

    /// Connected here, or on a node below this one.
    fn is_connected(&self, i: usize) -> bool {
        self.sites[i].participant.is_some() || self.sites[i].via.is_some()
    }

    fn ids(&self, v: &[usize]) -> Vec<String> {
        v.iter().map(|&i| self.sites[i].id.clone()).collect()
    }

    /// `[hub, x]`, or `[x]` without a hub, or `[hub]` when x is the hub.
    fn hub_and(&self, x: Option<usize>) -> Vec<usize> {
        let mut v: Vec<usize> = self.hub.into_iter().collect();
        if let Some(x) = x
            && Some(x) != self.hub
        {
            v.push(x);
        }
        v
    }

    /// `[x, hub]`: the room with the floor is what the province watches
    /// (every other room and the hub see it on stage), and the speaker
    /// itself watches the chair. `[x]` without a hub.
    fn speaker_then_hub(&self, x: usize) -> Vec<usize> {
        let mut v = vec![x];
        if let Some(h) = self.hub
            && h != x
        {
            v.push(h);
        }
        v
    }

    /// The stage everyone sees, top layer first: floor holder, the parent
    /// node's stage, scan, operator.
    fn effective_stage(&self) -> Vec<usize> {
        if let Some(sp) = &self.speaker
            && sp.on_stage
        {
            return self.speaker_then_hub(sp.site);
        }
        if let Some(up) = &self.upper_stage {
            return up.clone();
        }
        if let Some(scan) = &self.scan {
            return self.hub_and(scan.current.map(|p| scan.order[p]));
        }
        self.base_stage.clone()
    }

    fn before(&self) -> Before {
        Before {
            mutes: self
                .sites
                .iter()
                .map(|s| (s.muted_audio, s.muted_video))
                .collect(),
            stage: self.effective_stage(),
        }
    }

    /// Emit what changed since `before`: media mutes (only to connected
    /// participants, only what differs from what the engine was told), the
    /// stage, and the `muted` / `stage_changed` / `quorum_changed` events.
    fn reconcile(&mut self, before: Before, fx: &mut Vec<Effect>) {
        let mut media = Vec::new();
        let mut events = Vec::new();
        for (i, s) in self.sites.iter().enumerate() {
            let want = (s.muted_audio, s.muted_video);
            if before.mutes.get(i).copied().unwrap_or((false, false)) != want {
                events.push(event(LiveEvent::Muted {
                    endpoint_id: s.id.clone(),
                    audio: want.0,
                    video: want.1,
                }));
            }
            if let Some(p) = s.participant {
                let sent = self.sent_mute.entry(p).or_insert((false, false));
                if *sent != want {
                    media.push(Effect::Media(MediaAction::Mute {
                        participant: p,
                        audio: (sent.0 != want.0).then_some(want.0),
                        video: (sent.1 != want.1).then_some(want.1),
                    }));
                    *sent = want;
                }
            }
        }
        let stage = self.effective_stage();
        let parts = self.stage_route(&stage);
        if parts != self.sent_stage {
            media.push(Effect::Media(MediaAction::SetStage(parts.clone())));
            self.sent_stage = parts;
        }
        media.extend(self.sync_voice());
        if let Some(pins) = self.repin() {
            media.push(Effect::Media(pins));
        }
        if stage != before.stage {
            events.push(event(LiveEvent::StageChanged {
                endpoints: self.ids(&stage),
            }));
        }
        let att = self.attendance_now();
        if att != self.attendance {
            self.attendance = att;
            events.push(event(LiveEvent::QuorumChanged {
                quorum: att.quorum,
                people_present: att.people_present,
                connected_sites: att.connected_sites,
            }));
        }
        fx.extend(media);
        fx.extend(events);
    }
}
