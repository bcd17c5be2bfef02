//! Voting over HTTP: a meeting's motions, their lifecycle draft → open →
//! closed → published (VoteManage: the chair, operator, sub-operator in
//! scope, secretary, admin), and casting (VoteCast: a delegate or chair for
//! themselves, a room for itself with its headcount).
//!
//! Who sees counts:
//! - voters and every other reader: only once a motion is published;
//! - managers: live counts of an open (named) vote; of a secret vote only
//!   the number of ballots until it is closed. A manager at the console
//!   watches who presses the button (and the room's video), so counts that
//!   move ballot by ballot would tell them each voter's choice; the ballot
//!   count is all they need to know that everyone has voted.
//!
//! Handlers never log a choice; see `control::voting` for how a secret
//! ballot is stored.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::meetings::acting_on_standing;
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::conference::Standing;
use crate::control::meetings::Meeting;
use crate::control::people::Role;
use crate::control::voting::{
    Choice, Motion, MotionDraft, MotionMode, MotionState, Voter, Voting, VotingError,
};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{MeetingsRead, VoteCast, VoteManage};
    const T: &str = "voting";
    api.add(
        Op::get("/api/v1/meetings/{id}/motions", MeetingsRead, T)
            .summary("The meeting's motions; counts once published (managers: see the module doc)")
            .returns::<MotionList>(),
        get(list),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/motions", VoteManage, T)
            .summary("Create a draft motion (options default to Tán thành / Không tán thành / Không biểu quyết)")
            .body::<MotionDraft>()
            .returns_with::<Motion>(StatusCode::CREATED),
        post(create),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/motions/{motion}", MeetingsRead, T)
            .summary("One motion")
            .returns::<Motion>(),
        get(one),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/motions/{motion}/open", VoteManage, T)
            .summary("Open the vote (draft → open; the meeting must be open or live)")
            .returns::<Motion>(),
        post(open),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/motions/{motion}/close", VoteManage, T)
            .summary("Close the vote (open → closed)")
            .returns::<Motion>(),
        post(close),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/motions/{motion}/publish", VoteManage, T)
            .summary("Publish the results to everyone (closed → published)")
            .returns::<Motion>(),
        post(publish),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/motions/{motion}/vote", VoteCast, T)
            .summary("Vote once: a delegate for themselves, a room for itself with its headcount")
            .body::<VoteBody>()
            .returns::<VoteReceipt>(),
        post(vote),
    )
}

#[derive(Serialize, JsonSchema)]
pub struct MotionList {
    motions: Vec<Motion>,
}

/// A room's vote weighs the headcount confirmed for it at roll call, never
/// a number it sends.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    /// The option's 0-based index, or its label.
    option: Choice,
}

/// The answer to a vote: that it was counted, never what was chosen.
#[derive(Serialize, JsonSchema)]
pub struct VoteReceipt {
    motion_id: String,
    counted: bool,
    ballots_cast: u64,
}

impl From<VotingError> for ApiError {
    fn from(e: VotingError) -> Self {
        let msg = e.to_string();
        match e {
            VotingError::Store(s) => crate::api::auth::store_error(s),
            VotingError::UnknownMeeting(_) => ApiError::not_found("unknown_meeting", msg),
            VotingError::UnknownMotion(_) => ApiError::not_found("unknown_motion", msg),
            VotingError::Invalid { field, .. } => ApiError::invalid(field, msg),
            VotingError::IllegalTransition { .. } => ApiError::conflict("illegal_transition", msg),
            VotingError::MeetingNotOpen { .. } => ApiError::conflict("meeting_not_open", msg),
            VotingError::NotOpen(_) => ApiError::conflict("vote_not_open", msg),
            VotingError::Closed(_) => ApiError::conflict("vote_closed", msg),
            VotingError::AlreadyVoted(_) => ApiError::conflict("already_voted", msg),
            VotingError::NotEligible(_) => ApiError::forbidden("not_eligible", msg),
            VotingError::Ballot(_) => ApiError::conflict("ballots_not_countable", msg),
        }
    }
}

fn voting(state: &AppState) -> Voting {
    Voting::with_ballot_box(state.store.clone(), state.ballots.clone())
}

/// The meeting, if the caller may see it and (for managing) it is in a
/// sub-operator's part of the province.
async fn managed_meeting(state: &AppState, caller: &Caller, id: &str) -> Result<Meeting, ApiError> {
    super::meetings::acting_on(state, caller, id, Action::VoteManage).await
}

/// The voter id of a caller who may vote: a room, or a delegate or chair.
fn voter_id(caller: &Caller) -> Option<&str> {
    match caller {
        Caller::Endpoint { endpoint, .. } => Some(&endpoint.id),
        Caller::Person(p) => p
            .user
            .details
            .roles
            .iter()
            .any(|r| matches!(r, Role::Delegate | Role::Chair))
            .then_some(p.user.id.as_str()),
    }
}

/// Hide what this caller may not see yet (see the module doc), and say
/// whether a voter has voted. `manages`: the caller runs this meeting's
/// votes (its chair or operators).
async fn for_caller(
    state: &AppState,
    caller: &Caller,
    manages: bool,
    m: Motion,
) -> Result<Motion, ApiError> {
    let mut m = redact(manages, m);
    if let Some(voter) = voter_id(caller) {
        m.you_voted = Some(voting(state).has_voted(&m.id, voter).await?);
    }
    Ok(m)
}

/// Does the caller see a vote's counts before they are published: the one
/// who runs the meeting's votes (its chair, its operators) or keeps its
/// record (its secretary)?
fn manages(caller: &Caller, s: &Standing, m: &Meeting) -> bool {
    let who = caller.who();
    who.may_in(s, m.access_policy, Action::VoteManage)
        || who.may_in(s, m.access_policy, Action::MinutesWrite)
}

fn redact(manages: bool, mut m: Motion) -> Motion {
    let visible = match m.state {
        MotionState::Published => true,
        _ if !manages => false,
        MotionState::Draft | MotionState::Closed => true,
        MotionState::Open => m.mode == MotionMode::Open,
    };
    if !visible {
        m.results = None;
    }
    m
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MotionList>, ApiError> {
    let (meeting, standing) =
        acting_on_standing(&state, &caller, &id, Action::MeetingsRead).await?;
    let manages = manages(&caller, &standing, &meeting);
    let mut motions = Vec::new();
    for m in voting(&state).list(&id).await? {
        motions.push(for_caller(&state, &caller, manages, m).await?);
    }
    Ok(Json(MotionList { motions }))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(draft): JsonBody<MotionDraft>,
) -> Result<(StatusCode, Json<Motion>), ApiError> {
    // The vote paper is the secretariat's work too; opening, closing and
    // publishing are the chair's.
    let (meeting, standing) = state
        .conference
        .authorize_draft_motion(&caller.who(), &id)
        .await?;
    let manages = manages(&caller, &standing, &meeting);
    let m = voting(&state).create(&caller.actor(), &id, &draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(for_caller(&state, &caller, manages, m).await?),
    ))
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, motion)): Path<(String, String)>,
) -> Result<Json<Motion>, ApiError> {
    let (meeting, standing) =
        acting_on_standing(&state, &caller, &id, Action::MeetingsRead).await?;
    let manages = manages(&caller, &standing, &meeting);
    let m = voting(&state).get(&id, &motion).await?;
    Ok(Json(for_caller(&state, &caller, manages, m).await?))
}

async fn step(
    state: &AppState,
    caller: &Caller,
    id: &str,
    motion: &str,
    to: MotionState,
) -> Result<Json<Motion>, ApiError> {
    managed_meeting(state, caller, id).await?;
    let manages = true;
    let v = voting(state);
    let actor = caller.actor();
    let m = match to {
        MotionState::Open => v.open(&actor, id, motion).await?,
        MotionState::Closed => v.close(&actor, id, motion).await?,
        MotionState::Published => v.publish(&actor, id, motion).await?,
        MotionState::Draft => unreachable!("nothing moves back to draft"),
    };
    announce(state, &m).await;
    Ok(Json(for_caller(state, caller, manages, m).await?))
}

/// Tell the meeting's consoles where a motion stands: its state and how
/// many have voted; the counts only once the chair has published them
/// (what anyone watching may know, so one event serves every console).
async fn announce(state: &AppState, m: &Motion) {
    let mut public = m.clone();
    if public.state != MotionState::Published {
        public.results = None;
    }
    public.you_voted = None;
    state
        .live
        .announce(
            &m.meeting_id,
            crate::signal::event::ServerEvent::Motion { motion: public },
        )
        .await;
}

async fn open(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, motion)): Path<(String, String)>,
) -> Result<Json<Motion>, ApiError> {
    step(&state, &caller, &id, &motion, MotionState::Open).await
}

async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, motion)): Path<(String, String)>,
) -> Result<Json<Motion>, ApiError> {
    step(&state, &caller, &id, &motion, MotionState::Closed).await
}

async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, motion)): Path<(String, String)>,
) -> Result<Json<Motion>, ApiError> {
    let published = step(&state, &caller, &id, &motion, MotionState::Published).await?;
    // The sealed results PDF is made now; if the seal cannot sign, the
    // publication stands and the first download tries again.
    if let Err(e) = super::results_pdf::ensure(&state, &id, &motion).await {
        tracing::warn!(meeting = %id, motion = %motion, error = ?e, "results PDF not made at publish");
    }
    Ok(published)
}

async fn vote(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, motion)): Path<(String, String)>,
    JsonBody(b): JsonBody<VoteBody>,
) -> Result<Json<VoteReceipt>, ApiError> {
    // The electorate: the meeting's voting members, or its planned rooms.
    let m = super::meetings::acting_on(&state, &caller, &id, Action::VoteCast).await?;
    let voter = match &caller {
        Caller::Endpoint { endpoint, .. } => {
            let room = state.conference.live_room(&m).await?;
            let headcount = room.read(|l| l.headcount(&endpoint.id)).await;
            let Some(headcount) = headcount.filter(|n| *n > 0) else {
                return Err(ApiError::conflict(
                    "headcount_unconfirmed",
                    "the room's headcount has not been confirmed at roll call; \
                     the secretary or the operator confirms it first",
                ));
            };
            Voter::Room {
                endpoint_id: endpoint.id.clone(),
                headcount,
            }
        }
        Caller::Person(p) => {
            // Admin may do everything, but only delegates and chairs are
            // members with a vote.
            if voter_id(&caller).is_none() {
                return Err(ApiError::forbidden(
                    "not_eligible",
                    "only delegates and the chair vote on motions",
                ));
            }
            Voter::Person {
                user_id: p.user.id.clone(),
            }
        }
    };
    let v = voting(&state);
    v.cast(&caller.actor(), &id, &motion, &voter, &b.option)
        .await?;
    let m = v.get(&id, &motion).await?;
    announce(&state, &m).await;
    Ok(Json(VoteReceipt {
        motion_id: m.id,
        counted: true,
        ballots_cast: m.ballots_cast,
    }))
}
