//! The conference layer: the one place that decides who may do what on a
//! meeting, runs each meeting's live room, and audits every live action
//! together with its effect.
//!
//! Entry points — HTTP routes, the WebSocket room page, WHIP/WHEP, the
//! cascade routes, and any later one (SIP) — are thin adapters: they turn
//! their credential into a [`Who`] and ask [`Conference`]. Nothing else
//! commands the engine's live state (mute, stage, removal): those go
//! through [`Conference::act`], which writes the audit record before the
//! effects go out and refuses the action when it cannot.
//!
//! - `rights`: what a role may ever do (the role table);
//! - `access`: the pure rule — standing × action → allowed, forbidden, hidden;
//! - `admission`: who may connect media to a meeting (rooms, consoles,
//!   players, the lobby of an open meeting);
//! - this module: standing from the store, authorisation, live rooms,
//!   audited live actions, rate-limited audit of refusals.

pub mod access;
pub mod admission;
pub mod checks;
mod refusals;
pub mod resources;
pub mod rights;

use std::sync::Arc;

use crate::control::JoinTokens;
use crate::control::endpoints::Endpoint;
use crate::control::live::{Effect, ExpectedSite, LiveError, LiveMeeting, MediaAction};
use crate::control::meetings::{
    AccessPolicy, Meeting, MeetingError, MeetingState, Meetings, PersonStanding, members,
};
use crate::control::people::{Role, User};
use crate::net::Media;
use crate::signal::hub::Hub;
use crate::signal::live::{LiveRoom, LiveRooms};
use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit};

pub use access::{Refusal, Standing};
pub use admission::{Admission, Credential};
pub use rights::Action;

/// Who is asking, as the conference layer sees it. The adapters build it
/// from their credentials (an API token, a session cookie, a room's token).
#[derive(Debug, Clone)]
pub struct Who {
    pub identity: Identity,
    /// Written into the audit log.
    pub actor: Actor,
}

#[derive(Debug, Clone)]
pub enum Identity {
    Person(User),
    Room(Endpoint),
}

impl Who {
    pub fn person(user: User, address: Option<std::net::IpAddr>) -> Who {
        Who {
            actor: user.actor(address),
            identity: Identity::Person(user),
        }
    }

    pub fn room(endpoint: Endpoint, address: Option<std::net::IpAddr>) -> Who {
        Who {
            actor: Actor {
                id: endpoint.id.clone(),
                name: format!("endpoint:{}", endpoint.details.name),
                address,
            },
            identity: Identity::Room(endpoint),
        }
    }

    /// May this kind of caller ever do `action` (the role table)?
    pub fn permits(&self, action: Action) -> bool {
        match &self.identity {
            Identity::Person(u) => {
                !u.disabled
                    && u.details
                        .roles
                        .iter()
                        .any(|r| rights::role_permits(*r, action))
            }
            Identity::Room(_) => rights::endpoint_permits(action),
        }
    }

    /// Whether this caller, with standing `s` in a meeting under `policy`,
    /// may do `action` there: the same rule as [`Conference::authorize`],
    /// without I/O or an audit record (for shaping an answer, not for
    /// deciding an action).
    pub fn may_in(&self, s: &Standing, policy: AccessPolicy, action: Action) -> bool {
        self.permits(action) && access::decide(s, action, policy).is_ok()
    }

    pub fn endpoint_id(&self) -> Option<&str> {
        match &self.identity {
            Identity::Room(e) => Some(&e.id),
            Identity::Person(_) => None,
        }
    }

    pub fn user(&self) -> Option<&User> {
        match &self.identity {
            Identity::Person(u) => Some(u),
            Identity::Room(_) => None,
        }
    }

    /// A short name for live events ("who muted").
    pub fn label(&self) -> String {
        match &self.identity {
            Identity::Person(u) => u.login.clone(),
            Identity::Room(e) => e.details.name.clone(),
        }
    }
}

/// What the demo's raw room controls may do.
#[derive(Debug, Clone)]
pub enum DemoAction {
    /// Put these participants on the stage (empty: the active speaker).
    Stage(Vec<crate::media::ParticipantId>),
    /// An operator mute of one participant.
    Mute {
        participant: crate::media::ParticipantId,
        audio: Option<bool>,
        video: Option<bool>,
    },
}

/// Why the conference layer said no.
#[derive(Debug, thiserror::Error)]
pub enum ConferenceError {
    /// No standing in the meeting, or no such meeting: the same answer.
    #[error("no meeting {0:?}")]
    Hidden(String),
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("meeting {id} is {state}; rooms connect and live control works once it is open")]
    NotOpen { id: String, state: &'static str },
    /// An unplanned room at an open meeting's door: it waits.
    #[error("the room is waiting in the lobby for an operator to let it in")]
    InLobby,
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Meeting(MeetingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The action's audit record could not be written, so it was not done.
    #[error("the action was not carried out: its audit record could not be written ({0})")]
    NotAudited(StoreError),
    #[error(transparent)]
    Media(crate::net::MediaError),
    /// The live room could not be made from the plan.
    #[error("{message}")]
    BadPlan { code: &'static str, message: String },
    /// The meeting's state does not allow it (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A figure or field out of range: nothing changed.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl From<MeetingError> for ConferenceError {
    fn from(e: MeetingError) -> Self {
        match e {
            MeetingError::Unknown(id) => ConferenceError::Hidden(id),
            other => ConferenceError::Meeting(other),
        }
    }
}

impl ConferenceError {
    fn refused(meeting: &str, r: Refusal) -> ConferenceError {
        match r {
            Refusal::Hidden => ConferenceError::Hidden(meeting.to_string()),
            Refusal::Forbidden(code) => ConferenceError::Forbidden {
                code,
                message: r.message().to_string(),
            },
        }
    }
}

/// The conference layer over the store, the live rooms and the engine.
#[derive(Clone)]
pub struct Conference {
    store: Store,
    live: Arc<LiveRooms>,
    media: Media,
    hub: Arc<Hub>,
    /// Join-token meetings (`diemcau demo --token`): no plan, no members.
    demo: Arc<JoinTokens>,
    refusals: Arc<refusals::RefusalLog>,
    resources: Arc<resources::Resources>,
    /// The server's one `People` (its login throttle and token lifetime).
    people: crate::control::people::People,
    /// This node's id when it is a child in a cascade: its rooms are those
    /// bound in its registered unit's subtree; others join their own node.
    child_node: Option<String>,
}

impl Conference {
    pub fn new(
        store: Store,
        people: crate::control::people::People,
        live: Arc<LiveRooms>,
        media: Media,
        hub: Arc<Hub>,
        demo: Arc<JoinTokens>,
    ) -> Conference {
        Conference {
            store,
            live,
            media,
            hub,
            demo,
            refusals: Arc::new(refusals::RefusalLog::default()),
            resources: Arc::new(resources::Resources::default()),
            people,
            child_node: None,
        }
    }

    /// This node is `node`, a child of a parent node.
    pub fn as_child_node(mut self, node: Option<String>) -> Conference {
        self.child_node = node;
        self
    }

    /// On a child node, the rooms it serves for meeting `m`: those bound in
    /// its registered unit's subtree on the meeting's date (`None`: a
    /// standalone or top node, or a child registered without a unit).
    pub async fn local_rooms(
        &self,
        m: &Meeting,
    ) -> Result<Option<std::collections::HashSet<String>>, ConferenceError> {
        let Some(node) = &self.child_node else {
            return Ok(None);
        };
        let unit: Option<Option<String>> =
            sqlx::query_scalar("SELECT unit_id FROM cascade_nodes WHERE id = $1")
                .bind(node)
                .fetch_optional(self.store.pool())
                .await
                .ctx("reading this node's unit")?;
        let Some(Some(unit)) = unit else {
            return Ok(None);
        };
        Ok(Some(
            crate::control::cascade::placement::rooms_in_subtree(&self.store, &unit, m.local_date)
                .await?,
        ))
    }

    pub(crate) fn meetings(&self) -> Meetings {
        Meetings::new(self.store.clone())
    }

    pub fn live(&self) -> &Arc<LiveRooms> {
        &self.live
    }

    /// What `who` is to meeting `m`.
    pub async fn standing(&self, who: &Who, m: &Meeting) -> Result<Standing, ConferenceError> {
        let mut s = Standing::default();
        match &who.identity {
            Identity::Person(u) => {
                if u.disabled {
                    return Ok(s);
                }
                let roles = &u.details.roles;
                s.operator = roles.contains(&Role::Admin) || roles.contains(&Role::Operator);
                s.auditor = roles.contains(&Role::Auditor);
                if !s.operator
                    && roles.contains(&Role::SubOperator)
                    && let Some(scope) = &u.details.scope_unit_id
                {
                    s.sub_operator_in_scope = self.meetings().units_in_scope(m, scope).await?;
                }
                s.person = self.person_standing(m, &u.id).await?;
            }
            Identity::Room(e) => {
                let planned = m.hub_endpoint_id.as_deref() == Some(e.id.as_str())
                    || self
                        .meetings()
                        .participants_of(m)
                        .await?
                        .iter()
                        .any(|p| p.endpoint_id == e.id);
                s.planned_room = planned;
                s.unplanned_room = !planned;
            }
        }
        Ok(s)
    }

    async fn person_standing(
        &self,
        m: &Meeting,
        user: &str,
    ) -> Result<PersonStanding, ConferenceError> {
        Ok(members::people_of(&self.store, m).await?.of(user))
    }

    /// The meeting `action` is about, if `who` may do it there; refusals
    /// that concern a real meeting are audited (rate-limited).
    pub async fn authorize(
        &self,
        who: &Who,
        meeting: &str,
        action: Action,
    ) -> Result<(Meeting, Standing), ConferenceError> {
        let m = self.meetings().get(meeting).await?;
        let s = self.standing(who, &m).await?;
        let decided = if who.permits(action) {
            access::decide(&s, action, m.access_policy)
        } else if s.visible() {
            Err(Refusal::Forbidden("forbidden"))
        } else {
            Err(Refusal::Hidden)
        };
        match decided {
            Ok(()) => Ok((m, s)),
            Err(r) => {
                self.audit_refusal(who, &m.id, action.as_str(), r.code())
                    .await;
                Err(ConferenceError::refused(&m.id, r))
            }
        }
    }

    /// May `who` prepare a draft motion in `meeting` (its chair, its
    /// secretary, its operators)?
    pub async fn authorize_draft_motion(
        &self,
        who: &Who,
        meeting: &str,
    ) -> Result<(Meeting, Standing), ConferenceError> {
        let m = self.meetings().get(meeting).await?;
        let s = self.standing(who, &m).await?;
        if who.permits(Action::VoteManage) && access::may_draft_motion(&s) {
            return Ok((m, s));
        }
        let r = if s.visible() {
            Refusal::Forbidden("not_the_chair")
        } else {
            Refusal::Hidden
        };
        self.audit_refusal(who, &m.id, "motion_draft", r.code())
            .await;
        Err(ConferenceError::refused(&m.id, r))
    }

    /// What a child cascade node may carry of meeting `m` — a meeting
    /// placed on it (by an operator, or because one of its rooms is bound
    /// in the node's subtree) and the rooms it may speak for — the cascade
    /// routes' side of the one rule (`control::cascade::placement`).
    pub async fn node_reach(
        &self,
        m: &Meeting,
        node: &crate::control::cascade::Node,
    ) -> Result<crate::control::cascade::Reach, crate::control::cascade::CascadeError> {
        crate::control::cascade::Cascade::new(self.store.clone())
            .reach(m, node)
            .await
    }

    /// Only the meetings `who` may see, in the order given.
    pub async fn visible(
        &self,
        who: &Who,
        meetings: Vec<Meeting>,
    ) -> Result<Vec<Meeting>, ConferenceError> {
        let mut out = Vec::with_capacity(meetings.len());
        for m in meetings {
            if self.standing(who, &m).await?.visible() {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The people a meeting names, as of its date (its electorate, chair
    /// and secretary).
    pub async fn people(
        &self,
        m: &Meeting,
    ) -> Result<crate::control::meetings::MeetingPeople, ConferenceError> {
        Ok(members::people_of(&self.store, m).await?)
    }

    /// A meeting's live room, opened from its participants when it is not
    /// yet (first use after opening, or after a restart while it was open).
    pub async fn live_room(&self, m: &Meeting) -> Result<Arc<LiveRoom>, ConferenceError> {
        if !matches!(m.state, MeetingState::Open | MeetingState::Live) {
            return Err(ConferenceError::NotOpen {
                id: m.id.clone(),
                state: m.state.as_str(),
            });
        }
        if let Some(room) = self.live.get(&m.id) {
            return Ok(room);
        }
        let expected: Vec<ExpectedSite> = self
            .meetings()
            .participants_of(m)
            .await?
            .into_iter()
            .map(|p| ExpectedSite {
                endpoint_id: p.endpoint_id,
                name: p.endpoint_name,
                unit_name: p.unit_name,
            })
            .collect();
        let live = LiveMeeting::new(
            expected,
            m.hub_endpoint_id.clone(),
            m.expected_people,
            m.quorum_percent,
        )
        .map_err(|e| ConferenceError::BadPlan {
            code: e.code(),
            message: e.to_string(),
        })?
        .with_mute_on_entry(m.mute_on_entry);
        let room = self.live.open_with(&m.id, move || live);
        // The meeting opened (or this server restarted while it was open):
        // like an MCU's auto-connect, call its SIP rooms that are not in.
        if let Some(d) = self.live.dialer() {
            d.order(crate::sip::dialout::DialOrder::Meeting(m.id.clone()));
        }
        Ok(room)
    }

    /// Carry out a live action on an authorised meeting's room: decide on
    /// the live state, write the audit record (`live.<what>`, with the
    /// request's details and the effects), then send the effects. If the
    /// record cannot be written, nothing changes and the action is refused.
    pub async fn act<T>(
        &self,
        who: &Who,
        room: &LiveRoom,
        what: &str,
        details: serde_json::Value,
        f: impl FnOnce(&mut LiveMeeting, u64) -> Result<(T, Vec<Effect>), LiveError>,
    ) -> Result<T, ConferenceError> {
        self.act_by(who.actor.clone(), room, what, details, f).await
    }

    /// [`Conference::act`] for an action nobody asked for over the API —
    /// the server itself (a meeting going live starts its stream) or the
    /// demo's seeding —, audited under `actor`.
    pub async fn act_by<T>(
        &self,
        actor: crate::store::Actor,
        room: &LiveRoom,
        what: &str,
        details: serde_json::Value,
        f: impl FnOnce(&mut LiveMeeting, u64) -> Result<(T, Vec<Effect>), LiveError>,
    ) -> Result<T, ConferenceError> {
        let store = self.store.clone();
        let meeting = room.meeting.clone();
        let action = format!("live.{what}");
        self.live
            .apply_audited(room, f, move |effects: &[Effect]| {
                let mut details = details;
                details["effects"] = effects_summary(effects);
                async move { write_audit(&store, &actor, &action, &meeting, &details).await }
            })
            .await?
            .map_err(ConferenceError::NotAudited)
    }

    /// A raw engine command on a join-token (demo) meeting, by its token:
    /// the demo's `/rooms/…` controls. Audited like a live action, before
    /// it reaches the engine; a planned meeting is never commanded this way.
    pub async fn demo_command(
        &self,
        meeting: &str,
        token: Option<&str>,
        actor: &Actor,
        action: DemoAction,
    ) -> Result<(), ConferenceError> {
        let (what, command) = match action {
            DemoAction::Stage(participants) => (
                "stage",
                crate::media::Command::SetStage {
                    room: meeting.to_string(),
                    participants,
                },
            ),
            DemoAction::Mute {
                participant,
                audio,
                video,
            } => (
                "mute",
                crate::media::Command::Mute {
                    participant,
                    audio,
                    video,
                    by_operator: true,
                },
            ),
        };
        self.demo.authorize(meeting, token).map_err(|e| match e {
            crate::control::AccessError::UnknownMeeting(m) => ConferenceError::Hidden(m),
            other => ConferenceError::Unauthorized(other.to_string()),
        })?;
        let details = serde_json::json!({"command": format!("{command:?}")});
        write_audit(
            &self.store,
            actor,
            &format!("demo.{what}"),
            meeting,
            &details,
        )
        .await
        .map_err(ConferenceError::NotAudited)?;
        let result = match &command {
            crate::media::Command::SetStage { .. } => {
                self.media.room_command(meeting, command).await
            }
            crate::media::Command::Mute { participant, .. } => {
                let p = *participant;
                if self.media.room_of(p).as_deref() != Some(meeting) {
                    return Err(ConferenceError::Live(LiveError::UnknownConnection(p)));
                }
                self.media.participant_command(p, command).await
            }
            _ => {
                return Err(ConferenceError::Forbidden {
                    code: "forbidden",
                    message: "the demo controls stage and mute only".into(),
                });
            }
        };
        result.map(|_| ()).map_err(ConferenceError::Media)
    }

    /// The demo's join-token meetings (no plan, no members).
    pub fn demo(&self) -> &JoinTokens {
        &self.demo
    }

    /// WHIP/WHEP sessions by their unguessable resource id.
    pub fn resources(&self) -> &resources::Resources {
        &self.resources
    }

    pub fn media(&self) -> &Media {
        &self.media
    }

    /// The composite's thread, when this server runs one.
    pub fn composer(&self) -> Option<&crate::compose::Composer> {
        self.live.composer()
    }

    /// The meeting's composite for a live consumer — its SIP rooms
    /// (`OutputKind::Rooms`: what an MCU sends a hardware codec) or its
    /// hall screens (`OutputKind::Screen`) —, in the layouts the operators
    /// chose, started if it is not running and kept running while the
    /// subscriptions are held. The consumer was admitted (and audited) by
    /// `admit`; the composite is not the live stream: it neither starts
    /// nor stops the meeting's HLS. `None`: no composer, or no live room.
    pub async fn composite_for(
        &self,
        meeting: &str,
        kind: crate::compose::layout::OutputKind,
    ) -> Option<(
        crate::compose::service::Pictures,
        crate::compose::service::Sounds,
    )> {
        let composer = self.live.composer()?.clone();
        let room = self.live.get(meeting)?;
        let (layouts, sites) = room.read(|l| (l.layouts(), l.connected_sites())).await;
        if !composer.wants(meeting) {
            // Its room's taps go to the composer from now on.
            tracing::info!(%meeting, for_ = kind.as_str(), "the composite starts for a live consumer");
        }
        Some(composer.attach(meeting, kind, layouts, sites))
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Write one record for a conference event (an admission, a closed
    /// room, the end of a meeting).
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        meeting: &str,
        details: &serde_json::Value,
    ) -> Result<(), StoreError> {
        write_audit(&self.store, actor, action, meeting, details).await
    }

    /// Audit a refusal on a meeting, at most once per caller, meeting and
    /// action in a window (a flood cannot grow the log without bound);
    /// a failure to write is logged, never turned into another error.
    pub async fn audit_refusal(&self, who: &Who, meeting: &str, action: &str, code: &str) {
        if !self.refusals.admit(&who.actor.id, meeting, action) {
            return;
        }
        let details = serde_json::json!({"action": action, "code": code});
        if let Err(e) =
            write_audit(&self.store, &who.actor, "access.refused", meeting, &details).await
        {
            tracing::warn!(meeting, error = %e, "refusal not written to the audit log");
        }
    }

    /// How many refusals were not written because of the rate limit.
    pub fn refusals_suppressed(&self) -> u64 {
        self.refusals.suppressed()
    }
}

async fn write_audit(
    store: &Store,
    actor: &Actor,
    action: &str,
    meeting: &str,
    details: &serde_json::Value,
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    audit::append(
        &mut tx,
        actor,
        action,
        &format!("meeting:{meeting}"),
        details,
    )
    .await?;
    tx.commit().await.ctx("recording a conference action")
}

/// The engine commands an action caused, for its audit record (events are
/// consequences of the same, and are left out).
fn effects_summary(effects: &[Effect]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Media(MediaAction::SetStage(p)) => {
                Some(serde_json::json!({"set_stage": p}))
            }
            Effect::Media(MediaAction::StageVoice(on)) => {
                Some(serde_json::json!({"stage_voice": on}))
            }
            Effect::Media(MediaAction::Mute {
                participant,
                audio,
                video,
            }) => Some(
                serde_json::json!({"mute": {"participant": participant, "audio": audio, "video": video}}),
            ),
            Effect::Media(MediaAction::Remove { participant }) => {
                Some(serde_json::json!({"remove": participant}))
            }
            Effect::Media(MediaAction::PinThumbs { relay, sources }) => {
                // As consoles see the sources: their wire numbers.
                let sources: Vec<Option<u64>> =
                    sources.iter().map(|s| s.map(|s| s.wire())).collect();
                Some(serde_json::json!({"pin_thumbs": {"relay": relay, "sources": sources}}))
            }
            Effect::Stream(Some(o)) => Some(serde_json::json!({"live_stream": {
                "layout": o.layouts.meeting.map(|l| l.as_str()),
                "sites": o.sites.len(),
            }})),
            Effect::Stream(None) => Some(serde_json::json!({"live_stream": "stop"})),
            Effect::Layouts(l) => Some(serde_json::json!({"composite_layouts": {
                "meeting": l.meeting.map(|l| l.as_str()),
                "outputs": crate::compose::layout::OutputKind::ALL
                    .into_iter()
                    .filter_map(|k| Some((k.as_str(), l.chosen(k)?.as_str())))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            }})),
            Effect::SipCall(endpoint) => Some(serde_json::json!({"sip_call": endpoint})),
            Effect::Event(_) => None,
        })
        .collect();
    serde_json::Value::Array(list)
}
