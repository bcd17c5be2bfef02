//! Biên bản (minutes) over HTTP. Reading (MeetingsRead) gives the latest
//! saved version, or while none is saved a draft generated from the record;
//! writing (MinutesWrite: admin, secretary) saves the secretary's
//! conclusions, proceedings notes and per-item summaries (over the record
//! regenerated at that moment) as a draft version, finalises it, and snapshots attendance
//! from the live roll call. A final version is immutable: the next save
//! creates version n+1, and every version stays readable.
//!
//! Export: `?format=json` (the default) or `?format=pdf` (A4, Vietnamese,
//! `crate::pdf::minutes`), for the current minutes and for any version.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meetings::{acting_on, meetings, visible_meeting};
use super::{AppState, QueryParams, check_len};
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::agenda::Agendas;
use crate::control::meetings::{Meeting, MeetingState};
use crate::control::minutes::{
    Attendance, MAX_CONCLUSIONS, Minutes, MinutesAgendaItem, MinutesError, MinutesHeader,
    MinutesMotion, MinutesOption, MinutesPeriod, MinutesStore, StoredVersion, VersionInfo,
    VersionStatus, local_date, local_hm,
};
use crate::control::voting::{MotionState, Voting};
use crate::store::{Actor, now_ms};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{MeetingsRead, MinutesWrite};
    const T: &str = "minutes";
    api.add(
        Op::get("/api/v1/meetings/{id}/minutes", MeetingsRead, T)
            .summary("The current minutes: the latest saved version, or a draft generated from the record (`?format=pdf`: as a PDF)")
            .query::<FormatQuery>()
            .returns::<MinutesView>(),
        get(current),
    )
    .add(
        Op::new(Method::PUT, "/api/v1/meetings/{id}/minutes", MinutesWrite, T)
            .summary("Save the conclusions as a draft version (after a final one: the next version)")
            .body::<MinutesBody>()
            .returns::<MinutesView>(),
        put(save),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/minutes/finalise", MinutesWrite, T)
            .summary("Make the current version final (immutable)")
            .returns::<MinutesView>(),
        post(finalise),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/minutes/versions", MeetingsRead, T)
            .summary("Every saved version, oldest first")
            .returns::<VersionList>(),
        get(versions),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/minutes/versions/{n}", MeetingsRead, T)
            .summary("One saved version, exactly as stored (`?format=pdf`: as a PDF)")
            .query::<FormatQuery>()
            .returns::<MinutesView>(),
        get(version),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/minutes/attendance", MinutesWrite, T)
            .summary("Snapshot the live roll call for the minutes (the meeting must be open or live)")
            .returns::<Attendance>(),
        post(attendance),
    )
}

/// The export format.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `json` (the default) or `pdf`.
    #[serde(default)]
    format: Option<String>,
}

impl FormatQuery {
    /// Whether PDF was asked for; refuses anything but json and pdf.
    fn pdf(&self) -> Result<bool, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("pdf") => Ok(true),
            Some(other) => Err(ApiError::invalid(
                "format",
                format!("{other:?} is not a format; use json or pdf"),
            )),
        }
    }
}

/// The minutes as served: JSON, or the PDF export of the same view.
async fn answer(v: MinutesView, pdf: bool) -> Result<Response, ApiError> {
    if !pdf {
        return Ok(Json(v).into_response());
    }
    // Laying out and subsetting fonts is CPU work (tens of ms for long
    // minutes): on the blocking pool, never on an async worker thread.
    let failed = |e: String| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "pdf_failed",
            format!("the PDF could not be made: {e}"),
        )
    };
    let (bytes, v) = tokio::task::spawn_blocking(move || {
        (crate::pdf::minutes::render(&v.minutes, v.saved.as_ref()), v)
    })
    .await
    .map_err(|e| failed(e.to_string()))?;
    let bytes = bytes.map_err(failed)?;
    let name = match v.version {
        Some(n) => format!("bien-ban-{}-v{n}.pdf", v.minutes.header.meeting_id),
        None => format!("bien-ban-{}-du-thao.pdf", v.minutes.header.meeting_id),
    };
    Ok(super::file_answer(bytes, "application/pdf", true, &name))
}

/// What the secretary saves.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinutesBody {
    /// The conclusions (kết luận), at most 50000 characters.
    conclusions: String,
    /// The account of the proceedings (diễn biến), at most 50000 characters.
    #[serde(default)]
    notes: String,
    /// A summary per agenda item, by item id (each at most 50000 characters).
    #[serde(default)]
    item_summaries: BTreeMap<String, String>,
}

/// The secretary's text that goes into the generated record.
#[derive(Default)]
struct Edits {
    conclusions: String,
    notes: String,
    item_summaries: BTreeMap<String, String>,
}

/// Minutes as served.
#[derive(Serialize, JsonSchema)]
pub struct MinutesView {
    /// `None` for a draft generated from the record and not saved yet.
    version: Option<u32>,
    /// `generated`, `draft` or `final`.
    status: String,
    /// SHA-256 (hex) of the stored JSON body; `None` when not saved.
    sha256: Option<String>,
    saved: Option<VersionInfo>,
    minutes: Minutes,
}

#[derive(Serialize, JsonSchema)]
pub struct VersionList {
    versions: Vec<VersionInfo>,
}

impl From<MinutesError> for ApiError {
    fn from(e: MinutesError) -> Self {
        let msg = e.to_string();
        match e {
            MinutesError::Store(s) => crate::api::auth::store_error(s),
            MinutesError::UnknownVersion(..) => ApiError::not_found("unknown_version", msg),
            MinutesError::AlreadyFinal(_) => ApiError::conflict("already_final", msg),
            MinutesError::NothingSaved(_) => ApiError::conflict("nothing_saved", msg),
            MinutesError::AlreadySigned(..) => ApiError::conflict("already_signed", msg),
            MinutesError::PdfChanged(..) => ApiError::conflict("pdf_changed", msg),
            MinutesError::Objects(_) => ApiError::unavailable("objects_unavailable", msg),
        }
    }
}

fn minutes_store(state: &AppState) -> MinutesStore {
    MinutesStore::new(state.store.clone())
}

fn view(v: StoredVersion) -> Result<MinutesView, ApiError> {
    let minutes: Minutes = serde_json::from_str(&v.body).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_minutes",
            format!("stored minutes version {} unreadable: {e}", v.info.version),
        )
    })?;
    Ok(MinutesView {
        version: Some(v.info.version),
        status: match v.info.status {
            VersionStatus::Draft => "draft".into(),
            VersionStatus::Final => "final".into(),
        },
        sha256: Some(v.info.sha256.clone()),
        saved: Some(v.info),
        minutes,
    })
}

/// The minutes generated from the record now, with `conclusions`.
async fn generate(state: &AppState, m: &Meeting, edits: Edits) -> Result<Minutes, ApiError> {
    let store = minutes_store(state);
    let name = |id: Option<String>| {
        let store = &store;
        async move {
            match id {
                Some(id) => store.user_name(&id).await.map(|n| n.or(Some(id))),
                None => Ok(None),
            }
        }
    };
    let chair = name(m.chair_user_id.clone()).await?;
    let secretary = name(m.secretary_user_id.clone()).await?;
    let header = MinutesHeader {
        meeting_id: m.id.clone(),
        title: m.title.clone(),
        kind: m.kind.as_str().into(),
        kind_label: m.kind.label_vi().into(),
        starts_at_ms: m.starts_at_ms,
        ends_at_ms: m.ends_at_ms,
        started_at_ms: m.started_at_ms.or(m.opened_at_ms),
        ended_at_ms: m.ended_at_ms,
        local_date: local_date(m.starts_at_ms),
        local_start: local_hm(m.started_at_ms.or(m.opened_at_ms).unwrap_or(m.starts_at_ms)),
        local_end: local_hm(m.ended_at_ms.unwrap_or(m.ends_at_ms)),
        chair,
        secretary,
    };
    let agenda = Agendas::new(state.store.clone()).agenda(&m.id).await?;
    if let Some(unknown) = edits
        .item_summaries
        .keys()
        .find(|k| !agenda.items.iter().any(|it| &it.id == *k))
    {
        return Err(ApiError::invalid(
            format!("item_summaries.{unknown}"),
            format!("{unknown:?} is not an item of this meeting's agenda"),
        ));
    }
    let items = agenda
        .items
        .iter()
        .map(|it| MinutesAgendaItem {
            item_id: it.id.clone(),
            position: it.position,
            title: it.title.clone(),
            presenter: it.presenter.clone(),
            planned_minutes: it.planned_minutes,
            periods: agenda
                .timeline
                .iter()
                .filter(|t| t.item_id == it.id)
                .map(|t| MinutesPeriod {
                    started_at_ms: t.started_at_ms,
                    ended_at_ms: t.ended_at_ms,
                    local_start: local_hm(t.started_at_ms),
                    local_end: t.ended_at_ms.map(local_hm),
                })
                .collect(),
            summary: edits
                .item_summaries
                .get(&it.id)
                .map(|t| t.trim().to_string())
                .unwrap_or_default(),
        })
        .collect();
    let motions = Voting::with_ballot_box(state.store.clone(), state.ballots.clone())
        .list(&m.id)
        .await?
        .into_iter()
        .filter(|mo| mo.state == MotionState::Published)
        .map(|mo| {
            let (total_votes, options) = mo.results.map_or((0, Vec::new()), |r| {
                (
                    r.total_votes,
                    r.options
                        .into_iter()
                        .map(|o| MinutesOption {
                            label: o.label,
                            votes: o.votes,
                            ballots: o.ballots,
                        })
                        .collect(),
                )
            });
            MinutesMotion {
                motion_id: mo.id,
                position: mo.position,
                title: mo.title,
                mode: mo.mode.as_str().into(),
                published_at_ms: mo.published_at_ms,
                total_votes,
                options,
            }
        })
        .collect();
    Ok(Minutes {
        header,
        attendance: store.latest_attendance(&m.id).await?,
        agenda: items,
        floor: store.floor(&m.id, m.ended_at_ms).await?,
        motions,
        notes: edits.notes.trim().to_string(),
        conclusions: edits.conclusions.trim().to_string(),
        generated_at_ms: now_ms(),
    })
}

async fn current(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<FormatQuery>,
) -> Result<Response, ApiError> {
    let pdf = q.pdf()?;
    let m = visible_meeting(&state, &caller, &id).await?;
    if let Some(v) = minutes_store(&state).latest(&id).await? {
        if pdf && let Some(r) = signed_pdf(&state, &id, &v).await? {
            return Ok(r);
        }
        return answer(view(v)?, pdf).await;
    }
    answer(
        MinutesView {
            version: None,
            status: "generated".into(),
            sha256: None,
            saved: None,
            minutes: generate(&state, &m, Edits::default()).await?,
        },
        pdf,
    )
    .await
}

async fn save(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MinutesBody>,
) -> Result<Json<MinutesView>, ApiError> {
    check_len("conclusions", &b.conclusions, MAX_CONCLUSIONS)?;
    check_len("notes", &b.notes, MAX_CONCLUSIONS)?;
    for (item, text) in &b.item_summaries {
        check_len(&format!("item_summaries.{item}"), text, MAX_CONCLUSIONS)?;
    }
    let m = acting_on(&state, &caller, &id, Action::MinutesWrite).await?;
    let edits = Edits {
        conclusions: b.conclusions,
        notes: b.notes,
        item_summaries: b.item_summaries,
    };
    let minutes = generate(&state, &m, edits).await?;
    let v = minutes_store(&state)
        .save(&caller.actor(), &id, &minutes)
        .await?;
    Ok(Json(view(v)?))
}

async fn finalise(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MinutesView>, ApiError> {
    let m = acting_on(&state, &caller, &id, Action::MinutesWrite).await?;
    let store = minutes_store(&state);
    // Refuse early what the store would refuse, before rendering and sealing.
    let latest = store
        .latest(&id)
        .await?
        .ok_or_else(|| MinutesError::NothingSaved(id.clone()))?;
    if latest.info.status == VersionStatus::Final {
        return Err(MinutesError::AlreadyFinal(id.clone()).into());
    }
    let minutes = view(latest.clone())?.minutes;
    let pdf = super::minutes_seal::final_pdf(&state, &m, &latest, minutes).await?;
    let v = store
        .finalise(&caller.actor(), &id, Some((latest.info.version, &pdf)))
        .await?;
    Ok(Json(view(v)?))
}

async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<VersionList>, ApiError> {
    visible_meeting(&state, &caller, &id).await?;
    Ok(Json(VersionList {
        versions: minutes_store(&state).versions(&id).await?,
    }))
}

async fn version(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, n)): Path<(String, String)>,
    QueryParams(q): QueryParams<FormatQuery>,
) -> Result<Response, ApiError> {
    let pdf = q.pdf()?;
    visible_meeting(&state, &caller, &id).await?;
    let n: u32 = n
        .parse()
        .map_err(|_| ApiError::invalid("n", format!("{n:?} is not a version number")))?;
    let v = minutes_store(&state).version(&id, n).await?;
    if pdf && let Some(r) = signed_pdf(&state, &id, &v).await? {
        return Ok(r);
    }
    answer(view(v)?, pdf).await
}

/// A final version's stored PDF (signed as far as it is), as served.
async fn signed_pdf(
    state: &AppState,
    meeting: &str,
    v: &StoredVersion,
) -> Result<Option<Response>, ApiError> {
    if v.info.status != VersionStatus::Final {
        return Ok(None);
    }
    let Some(bytes) = super::minutes_seal::stored_pdf(state, meeting, v.info.version).await? else {
        return Ok(None);
    };
    let name = format!("bien-ban-{meeting}-v{}.pdf", v.info.version);
    Ok(Some(super::file_answer(
        bytes,
        "application/pdf",
        true,
        &name,
    )))
}

async fn attendance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Attendance>, ApiError> {
    acting_on(&state, &caller, &id, Action::MinutesWrite).await?;
    Ok(Json(snapshot(&state, &caller.actor(), &id).await?))
}

/// Take and keep an attendance snapshot of an open or live meeting.
async fn snapshot(state: &AppState, actor: &Actor, id: &str) -> Result<Attendance, ApiError> {
    let m = meetings(state).get(id).await?;
    let room = match state.live.get(id) {
        Some(room) => room,
        None => state.conference.live_room(&m).await?,
    };
    if !matches!(
        m.state,
        MeetingState::Open | MeetingState::Live | MeetingState::Ended
    ) {
        return Err(ApiError::conflict(
            "meeting_not_open",
            format!(
                "meeting {id} is {}; there is no roll call",
                m.state.as_str()
            ),
        ));
    }
    let now = state.live.now_ms();
    let rc = room.read(|l| l.roll_call(now)).await;
    let a = Attendance::from_roll_call(&rc, now_ms());
    minutes_store(state)
        .record_attendance(actor, id, &a)
        .await?;
    Ok(a)
}

/// Snapshot the roll call of `meeting_id` into the minutes' attendance
/// (called when a meeting ends; audited as the system).
// Until the meeting-end hook calls it.
pub async fn record_attendance(state: &AppState, meeting_id: &str) -> Result<(), ApiError> {
    let actor = Actor {
        id: "system".into(),
        name: "diemcau".into(),
        address: None,
    };
    snapshot(state, &actor, meeting_id).await.map(|_| ())
}
