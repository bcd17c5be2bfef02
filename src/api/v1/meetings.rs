//! Meetings over HTTP: plan (one-off or a series), edit, cancel, the
//! lifecycle scheduled → open → live → ended (illegal moves are 409), the
//! rooms a meeting reaches as of its date, and its iCalendar file.
//!
//! Opening a meeting opens its live room (`signal::live`); ending or
//! cancelling one sends every connection away.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppState, QueryParams, present};
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::meetings::{
    Meeting, MeetingDraft, MeetingError, MeetingFilter, MeetingKind, MeetingState, Meetings,
    Recurrence, ResolvedParticipant, UnitQuery,
};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{MeetingLifecycle, MeetingsRead, MeetingsWrite};
    api.add(
        Op::get("/api/v1/meetings", MeetingsRead, "meetings")
            .summary("Meetings by start time (a room sees only its own)")
            .query::<MeetingFilter>()
            .returns::<MeetingList>(),
        get(list),
    )
    .add(
        Op::post("/api/v1/meetings", MeetingsWrite, "meetings")
            .summary("Plan a meeting; with a recurrence, a series (one meeting per occurrence)")
            .body::<MeetingDraft>()
            .returns_with::<MeetingList>(StatusCode::CREATED),
        post(create),
    )
    .add(
        Op::get("/api/v1/meetings/{id}", MeetingsRead, "meetings")
            .summary("One meeting")
            .returns::<Meeting>(),
        get(one),
    )
    .add(
        Op::patch("/api/v1/meetings/{id}", MeetingsWrite, "meetings")
            .summary("Change a scheduled or open meeting; only the fields sent change")
            .body::<MeetingPatch>()
            .returns::<Meeting>(),
        axum::routing::patch(update),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/cancel", MeetingsWrite, "meetings")
            .summary("Cancel a scheduled or open meeting (and optionally the rest of its series)")
            .body::<CancelBody>()
            .returns::<MeetingList>(),
        post(cancel),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/open", MeetingLifecycle, "meetings")
            .summary("Open the lobby: rooms may connect (scheduled → open)")
            .returns::<Meeting>(),
        post(open),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/start", MeetingLifecycle, "meetings")
            .summary("Start the meeting (open → live)")
            .returns::<Meeting>(),
        post(start),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/end", MeetingLifecycle, "meetings")
            .summary("End the meeting (live → ended); every connection is closed")
            .returns::<Meeting>(),
        post(end),
    )
    .add(
        Op::get(
            "/api/v1/meetings/{id}/participants",
            MeetingsRead,
            "meetings",
        )
        .summary("The rooms the meeting reaches, resolved as of its date")
        .returns::<ParticipantList>(),
        get(participants),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/ics", MeetingsRead, "meetings")
            .summary("iCalendar (RFC 5545) file of the meeting, or of its whole series")
            .query::<IcsQuery>()
            .returns_raw("text/calendar"),
        get(ics),
    )
}

#[derive(Serialize, JsonSchema)]
pub struct MeetingList {
    meetings: Vec<Meeting>,
}

#[derive(Serialize, JsonSchema)]
pub struct ParticipantList {
    #[schemars(with = "String")]
    on: time::Date,
    participants: Vec<ResolvedParticipant>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Also cancel every later occurrence still scheduled or open.
    #[serde(default)]
    whole_series: bool,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IcsQuery {
    /// `true`: every occurrence of the meeting's series.
    series: Option<bool>,
}

/// Only the fields sent change; `null` clears an optional one.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingPatch {
    title: Option<String>,
    kind: Option<MeetingKind>,
    description: Option<String>,
    starts_at_ms: Option<i64>,
    ends_at_ms: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<Recurrence>")]
    recurrence: Option<Option<Recurrence>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<String>")]
    hub_endpoint_id: Option<Option<String>>,
    endpoint_ids: Option<Vec<String>>,
    unit_queries: Option<Vec<UnitQuery>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<String>")]
    chair_user_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<String>")]
    secretary_user_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<u32>")]
    expected_people: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<u8>")]
    quorum_percent: Option<Option<u8>>,
    access_policy: Option<crate::control::meetings::AccessPolicy>,
    /// Rooms other than the hub join muted.
    mute_on_entry: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<String>")]
    body_id: Option<Option<String>>,
    members: Option<Vec<crate::control::meetings::MeetingMember>>,
}

impl From<MeetingError> for ApiError {
    fn from(e: MeetingError) -> Self {
        match e {
            MeetingError::Store(s) => crate::api::auth::store_error(s),
            MeetingError::Org(o) => o.into(),
            MeetingError::Endpoint(x) => x.into(),
            MeetingError::Unknown(_) => ApiError::not_found("unknown_meeting", e.to_string()),
            MeetingError::Invalid { ref field, .. } => {
                let field = field.clone();
                ApiError::invalid(field, e.to_string())
            }
            MeetingError::IllegalTransition { .. } => {
                ApiError::conflict("illegal_transition", e.to_string())
            }
            MeetingError::NotEditable { .. } => ApiError::conflict("not_editable", e.to_string()),
        }
    }
}

pub fn meetings(state: &AppState) -> Meetings {
    Meetings::new(state.store.clone())
}

/// A sub-operator may only plan meetings wholly inside their subtree (a
/// meeting not yet saved has no standing to ask the conference layer about).
pub(super) async fn check_scope(
    state: &AppState,
    caller: &Caller,
    action: Action,
    subject: crate::control::meetings::ScopeSubject<'_>,
) -> Result<(), ApiError> {
    if let Some(scope) = caller.scope_unit(action)
        && !meetings(state).units_in_scope(subject, scope).await?
    {
        return Err(ApiError::forbidden(
            "out_of_scope",
            "the meeting reaches rooms or units outside your part of the province",
        ));
    }
    Ok(())
}

/// The meeting, if this caller may read it (see `conference::access` for
/// the rule: a caller with no standing in it gets 404, as if it did not
/// exist).
pub async fn visible_meeting(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Meeting, ApiError> {
    acting_on(state, caller, id, Action::MeetingsRead).await
}

/// The meeting `action` is about, if this caller may do it there: the one
/// check every meeting-scoped route goes through, decided by the
/// conference layer.
pub async fn acting_on(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
) -> Result<Meeting, ApiError> {
    Ok(acting_on_standing(state, caller, id, action).await?.0)
}

/// [`acting_on`], with the caller's standing in the meeting, for a handler
/// that shapes its answer by it (no second look-up).
pub async fn acting_on_standing(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
) -> Result<(Meeting, crate::conference::Standing), ApiError> {
    Ok(state
        .conference
        .authorize(&caller.who(), id, action)
        .await?)
}

/// Close the live rooms of meetings that ended or were cancelled, keeping
/// each room's link quality over the meeting (`control::quality`).
async fn close_rooms(state: &AppState, ms: &[Meeting], reason: &str) {
    for m in ms {
        let ids: Vec<u64> = state
            .hub
            .participants(&m.id)
            .iter()
            .filter_map(|p| p.id.parse().ok())
            .collect();
        let quality = state.live.close(&m.id, &ids, reason).await;
        if let Err(e) = crate::control::quality::Quality::new(state.store.clone())
            .record(&m.id, &quality)
            .await
        {
            // The meeting has ended either way; only its report lacks it.
            tracing::error!(meeting = %m.id, error = %e, "meeting quality not stored");
        }
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(filter): QueryParams<MeetingFilter>,
) -> Result<Json<MeetingList>, ApiError> {
    let found = meetings(&state).list(&filter).await?;
    let meetings = state.conference.visible(&caller.who(), found).await?;
    Ok(Json(MeetingList { meetings }))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(mut draft): JsonBody<MeetingDraft>,
) -> Result<Response, ApiError> {
    // A secretary plans the meetings they keep the record of: unless the
    // plan names another, they are its secretary (and so may edit it).
    if let Some(p) = caller.person()
        && draft.secretary_user_id.is_none()
        && p.user.has(crate::control::people::Role::Secretary)
        && !crate::api::access::role_permits_any(&p.user.details.roles, Action::LiveControl)
    {
        draft.secretary_user_id = Some(p.user.id.clone());
    }
    check_scope(&state, &caller, Action::MeetingsWrite, (&draft).into()).await?;
    let made = meetings(&state).create(&caller.actor(), draft).await?;
    Ok((StatusCode::CREATED, Json(MeetingList { meetings: made })).into_response())
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(visible_meeting(&state, &caller, &id).await?))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(p): JsonBody<MeetingPatch>,
) -> Result<Json<Meeting>, ApiError> {
    let current = acting_on(&state, &caller, &id, Action::MeetingsWrite).await?;
    let mut d = current.draft();
    d.recurrence = current.recurrence.clone();
    if let Some(v) = p.title {
        d.title = v;
    }
    if let Some(v) = p.kind {
        // A new kind brings its own default policy unless one is sent:
        // turning a briefing into a BTV meeting closes it.
        if v != d.kind && p.access_policy.is_none() {
            d.access_policy = None;
        }
        // Likewise whether rooms join muted.
        if v != d.kind && p.mute_on_entry.is_none() {
            d.mute_on_entry = None;
        }
        d.kind = v;
    }
    if let Some(v) = p.description {
        d.description = v;
    }
    if let Some(v) = p.starts_at_ms {
        d.starts_at_ms = v;
    }
    if let Some(v) = p.ends_at_ms {
        d.ends_at_ms = v;
    }
    if let Some(v) = p.recurrence {
        d.recurrence = v;
    }
    if let Some(v) = p.hub_endpoint_id {
        d.hub_endpoint_id = v;
    }
    if let Some(v) = p.endpoint_ids {
        d.endpoint_ids = v;
    }
    if let Some(v) = p.unit_queries {
        d.unit_queries = v;
    }
    if let Some(v) = p.chair_user_id {
        d.chair_user_id = v;
    }
    if let Some(v) = p.secretary_user_id {
        d.secretary_user_id = v;
    }
    if let Some(v) = p.expected_people {
        d.expected_people = v;
    }
    if let Some(v) = p.quorum_percent {
        d.quorum_percent = v;
    }
    if let Some(v) = p.access_policy {
        d.access_policy = Some(v);
    }
    if let Some(v) = p.mute_on_entry {
        d.mute_on_entry = Some(v);
    }
    if let Some(v) = p.body_id {
        d.body_id = v;
    }
    if let Some(v) = p.members {
        d.members = v;
    }
    // An edit changes this occurrence only: its scope is checked at its
    // own date, not over the rest of the series.
    let this_one = MeetingDraft {
        recurrence: None,
        ..d.clone()
    };
    check_scope(&state, &caller, Action::MeetingsWrite, (&this_one).into()).await?;
    Ok(Json(
        meetings(&state).update(&caller.actor(), &id, d).await?,
    ))
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CancelBody>,
) -> Result<Json<MeetingList>, ApiError> {
    acting_on(&state, &caller, &id, Action::MeetingsWrite).await?;
    let cancelled = meetings(&state)
        .cancel(&caller.actor(), &id, b.whole_series)
        .await?;
    close_rooms(&state, &cancelled, "cancelled").await;
    Ok(Json(MeetingList {
        meetings: cancelled,
    }))
}

async fn transition(
    state: &AppState,
    caller: &Caller,
    id: &str,
    to: MeetingState,
) -> Result<Meeting, ApiError> {
    acting_on(state, caller, id, Action::MeetingLifecycle).await?;
    let actor = caller.actor();
    let done = match to {
        MeetingState::Open => meetings(state).open(&actor, id).await?,
        MeetingState::Live => meetings(state).start(&actor, id).await?,
        _ => meetings(state).end(&actor, id).await?,
    };
    match done.state {
        MeetingState::Open | MeetingState::Live => {
            state.conference.live_room(&done).await?;
            state
                .live
                .announce(
                    &done.id,
                    crate::signal::event::ServerEvent::MeetingState {
                        state: done.state,
                        by: caller.label(),
                    },
                )
                .await;
            if done.state == MeetingState::Live
                && let Some(d) = state.conference.live().dialer()
            {
                // Going live calls again the SIP rooms still missing.
                d.order(crate::sip::dialout::DialOrder::Meeting(done.id.clone()));
            }
            if done.state == MeetingState::Live && state.live_stream.automatic {
                super::live_stream::start_automatically(state, caller, &done).await;
            }
            if done.state == MeetingState::Live
                && state.recording.records_automatically(done.kind)
                && let Err(e) = super::recordings::start_recording(state, &actor, &done.id).await
            {
                // The meeting goes live anyway; the consoles hear why it is
                // not recorded.
                tracing::error!(meeting = %done.id, error = ?e, "automatic recording did not start");
                state
                    .live
                    .announce(
                        &done.id,
                        crate::signal::event::ServerEvent::RecordingFailed {
                            recording_id: None,
                            reason: e.code.to_string(),
                            message: e.message.to_string(),
                        },
                    )
                    .await;
            }
        }
        _ => {
            state
                .live
                .announce(
                    &done.id,
                    crate::signal::event::ServerEvent::MeetingState {
                        state: done.state,
                        by: caller.label(),
                    },
                )
                .await;
            if let Err(e) = super::recordings::stop_recording(state, &actor, &done.id).await
                && e.code != "not_recording"
            {
                tracing::error!(meeting = %done.id, error = ?e, "recording did not stop cleanly");
            }
            // The roll call lives in memory: keep it for the minutes before
            // the room closes.
            if let Err(e) = super::minutes::record_attendance(state, &done.id).await {
                tracing::warn!(meeting = %done.id, error = ?e, "attendance not recorded for the minutes");
            }
            crate::store::audit::anchor_head(&state.store, &format!("meeting.end {}", done.id))
                .await;
            close_rooms(state, std::slice::from_ref(&done), "ended").await
        }
    }
    Ok(done)
}

async fn open(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(
        transition(&state, &caller, &id, MeetingState::Open).await?,
    ))
}

async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(
        transition(&state, &caller, &id, MeetingState::Live).await?,
    ))
}

async fn end(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(
        transition(&state, &caller, &id, MeetingState::Ended).await?,
    ))
}

async fn participants(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ParticipantList>, ApiError> {
    let m = visible_meeting(&state, &caller, &id).await?;
    Ok(Json(ParticipantList {
        on: m.local_date,
        participants: meetings(&state).participants(&id).await?,
    }))
}

async fn ics(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<IcsQuery>,
) -> Result<Response, ApiError> {
    let m = visible_meeting(&state, &caller, &id).await?;
    let all = match (&m.series_id, q.series.unwrap_or(false)) {
        (Some(series), true) => {
            meetings(&state)
                .list(&MeetingFilter {
                    series_id: Some(series.clone()),
                    ..MeetingFilter::default()
                })
                .await?
        }
        _ => vec![m],
    };
    let text = meetings(&state).ics(&all).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"cuoc-hop-{id}.ics\""),
            ),
        ],
        text,
    )
        .into_response())
}
