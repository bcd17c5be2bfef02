//! Agenda and page-sync presentation over HTTP.
//!
//! The agenda of a meeting (items, their order, the current item and the
//! timeline) and the document page every room's viewer shows. Each change
//! is announced on the meeting's live room (`signal::live`), so consoles
//! and rooms watching `…/live/events` follow without polling:
//! `agenda_changed` (the full list), `agenda_current` and `presentation`
//! — a few bytes instead of a screen share on a thin link. The presentation
//! is kept in the database, so a room that reconnects (or a restarted
//! server) gets it with `GET …/presentation`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meetings::visible_meeting;
use super::{AppState, check_len, present};
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::agenda::{
    Agenda, AgendaError, AgendaItem, Agendas, CurrentItem, ItemDraft, Presentation,
};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{AgendaWrite, MeetingsRead, Present};
    const T: &str = "agenda";
    api.add(
        Op::get("/api/v1/meetings/{id}/agenda", MeetingsRead, T)
            .summary("The agenda: items in order, the current item and the timeline")
            .returns::<Agenda>(),
        get(list),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/agenda", AgendaWrite, T)
            .summary("Add an agenda item at the end (not once the meeting has ended)")
            .body::<ItemDraft>()
            .returns_with::<AgendaItem>(StatusCode::CREATED),
        post(create),
    )
    .add(
        Op::patch("/api/v1/meetings/{id}/agenda/{item}", AgendaWrite, T)
            .summary("Change an agenda item; only the fields sent change")
            .body::<ItemPatch>()
            .returns::<AgendaItem>(),
        patch(update),
    )
    .add(
        Op::delete("/api/v1/meetings/{id}/agenda/{item}", AgendaWrite, T)
            .summary("Remove an agenda item that has not been taken up"),
        axum::routing::delete(remove),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/agenda/order", AgendaWrite, T)
            .summary("Reorder the agenda: every item id once, in the new order")
            .body::<OrderBody>()
            .returns::<Agenda>(),
        post(reorder),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/agenda/current", Present, T)
            .summary("Take up an agenda item: the previous one ends, this one starts (open or live meetings)")
            .body::<CurrentBody>()
            .returns::<Agenda>(),
        post(set_current),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/agenda/next", Present, T)
            .summary("Move on to the next agenda item (after the last one: end it)")
            .returns::<Agenda>(),
        post(next),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/presentation", MeetingsRead, T)
            .summary("The document page every room shows now (null: none)")
            .returns::<PresentationState>(),
        get(presentation),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/presentation", Present, T)
            .summary("Show a document page in every room (page-sync presentation)")
            .body::<PresentBody>()
            .returns::<Presentation>(),
        post(set_presentation),
    )
    .add(
        Op::delete("/api/v1/meetings/{id}/presentation", Present, T)
            .summary("Stop the presentation"),
        axum::routing::delete(stop_presentation),
    )
}

/// Only the fields sent change; `null` clears the presenter user.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPatch {
    title: Option<String>,
    presenter: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<String>")]
    presenter_user_id: Option<Option<String>>,
    planned_minutes: Option<u32>,
    notes: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// Every item id of the agenda exactly once.
    order: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CurrentBody {
    item_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PresentBody {
    /// 1 to 100 characters.
    document_id: String,
    /// 1 to 100000.
    page: u32,
}

#[derive(Serialize, JsonSchema)]
pub struct PresentationState {
    presentation: Option<Presentation>,
}

impl From<AgendaError> for ApiError {
    fn from(e: AgendaError) -> Self {
        match e {
            AgendaError::Store(s) => crate::api::auth::store_error(s),
            AgendaError::UnknownMeeting(_) => ApiError::not_found("unknown_meeting", e.to_string()),
            AgendaError::UnknownItem(_) => ApiError::not_found("unknown_item", e.to_string()),
            AgendaError::Invalid { ref field, .. } => {
                let field = field.clone();
                ApiError::invalid(field, e.to_string())
            }
            AgendaError::NotEditable { .. } => ApiError::conflict("not_editable", e.to_string()),
            AgendaError::NotOpen { .. } => ApiError::conflict("meeting_not_open", e.to_string()),
            AgendaError::InTimeline(_) => ApiError::conflict("item_in_timeline", e.to_string()),
            AgendaError::Empty => ApiError::conflict("agenda_empty", e.to_string()),
            AgendaError::Finished => ApiError::conflict("agenda_finished", e.to_string()),
        }
    }
}

fn agendas(state: &AppState) -> Agendas {
    Agendas::new(state.store.clone())
}

/// Tell every console and room of the meeting (no-op when its live room is
/// not open).
async fn announce(state: &AppState, meeting: &str, event: crate::signal::event::ServerEvent) {
    state.live.announce(meeting, event).await;
}

async fn announce_list(state: &AppState, meeting: &str) -> Result<Agenda, ApiError> {
    let agenda = agendas(state).agenda(meeting).await?;
    announce(
        state,
        meeting,
        crate::signal::event::ServerEvent::AgendaChanged {
            items: agenda.items.clone(),
        },
    )
    .await;
    Ok(agenda)
}

fn current_event(current: Option<&CurrentItem>, by: &str) -> crate::signal::event::ServerEvent {
    crate::signal::event::ServerEvent::AgendaCurrent {
        item_id: current.map(|c| c.item_id.clone()),
        title: current.map(|c| c.title.clone()),
        position: current.map(|c| c.position),
        started_at_ms: current.map(|c| c.started_at_ms),
        by: by.to_string(),
    }
}

/// String lengths checked before anything reaches the domain.
fn check_draft_lengths(
    title: Option<&str>,
    presenter: Option<&str>,
    notes: Option<&str>,
) -> Result<(), ApiError> {
    use crate::control::agenda::{NOTES_MAX_CHARS, PRESENTER_MAX_CHARS, TITLE_MAX_CHARS};
    // Surrounding spaces are trimmed later; bound the raw text generously.
    if let Some(t) = title {
        check_len("title", t, TITLE_MAX_CHARS + 100)?;
    }
    if let Some(p) = presenter {
        check_len("presenter", p, PRESENTER_MAX_CHARS + 100)?;
    }
    if let Some(n) = notes {
        check_len("notes", n, NOTES_MAX_CHARS + 100)?;
    }
    Ok(())
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Agenda>, ApiError> {
    visible_meeting(&state, &caller, &id).await?;
    Ok(Json(agendas(&state).agenda(&id).await?))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<ItemDraft>,
) -> Result<Response, ApiError> {
    check_draft_lengths(Some(&d.title), Some(&d.presenter), Some(&d.notes))?;
    super::meetings::acting_on(&state, &caller, &id, Action::AgendaWrite).await?;
    let item = agendas(&state).create(&caller.actor(), &id, &d).await?;
    announce_list(&state, &id).await?;
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, item)): Path<(String, String)>,
    JsonBody(p): JsonBody<ItemPatch>,
) -> Result<Json<AgendaItem>, ApiError> {
    check_draft_lengths(
        p.title.as_deref(),
        p.presenter.as_deref(),
        p.notes.as_deref(),
    )?;
    super::meetings::acting_on(&state, &caller, &id, Action::AgendaWrite).await?;
    let agenda = agendas(&state).agenda(&id).await?;
    let old = agenda
        .items
        .iter()
        .find(|i| i.id == item)
        .ok_or_else(|| ApiError::from(AgendaError::UnknownItem(item.clone())))?;
    let d = ItemDraft {
        title: p.title.unwrap_or_else(|| old.title.clone()),
        presenter: p.presenter.unwrap_or_else(|| old.presenter.clone()),
        presenter_user_id: p
            .presenter_user_id
            .unwrap_or_else(|| old.presenter_user_id.clone()),
        planned_minutes: p.planned_minutes.unwrap_or(old.planned_minutes),
        notes: p.notes.unwrap_or_else(|| old.notes.clone()),
    };
    let new = agendas(&state)
        .update(&caller.actor(), &id, &item, &d)
        .await?;
    announce_list(&state, &id).await?;
    Ok(Json(new))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, item)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    super::meetings::acting_on(&state, &caller, &id, Action::AgendaWrite).await?;
    agendas(&state).delete(&caller.actor(), &id, &item).await?;
    announce_list(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reorder(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<OrderBody>,
) -> Result<Json<Agenda>, ApiError> {
    if b.order.len() > crate::control::agenda::MAX_ITEMS {
        return Err(ApiError::invalid(
            "order",
            "longer than any agenda; name every item once",
        ));
    }
    super::meetings::acting_on(&state, &caller, &id, Action::AgendaWrite).await?;
    agendas(&state)
        .reorder(&caller.actor(), &id, &b.order)
        .await?;
    Ok(Json(announce_list(&state, &id).await?))
}

async fn set_current(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CurrentBody>,
) -> Result<Json<Agenda>, ApiError> {
    check_len("item_id", &b.item_id, 100)?;
    super::meetings::acting_on(&state, &caller, &id, Action::Present).await?;
    let (agenda, changed) = agendas(&state)
        .set_current(&caller.actor(), &id, &b.item_id)
        .await?;
    if changed {
        announce(
            &state,
            &id,
            current_event(agenda.current.as_ref(), &caller.label()),
        )
        .await;
    }
    Ok(Json(agenda))
}

async fn next(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Agenda>, ApiError> {
    super::meetings::acting_on(&state, &caller, &id, Action::Present).await?;
    let agenda = agendas(&state).next(&caller.actor(), &id).await?;
    announce(
        &state,
        &id,
        current_event(agenda.current.as_ref(), &caller.label()),
    )
    .await;
    Ok(Json(agenda))
}

async fn presentation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PresentationState>, ApiError> {
    visible_meeting(&state, &caller, &id).await?;
    Ok(Json(PresentationState {
        presentation: agendas(&state).presentation(&id).await?,
    }))
}

async fn set_presentation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<PresentBody>,
) -> Result<Json<Presentation>, ApiError> {
    crate::control::agenda::check_page(&b.document_id, b.page)?;
    super::meetings::acting_on(&state, &caller, &id, Action::Present).await?;
    let by = caller.label();
    let p = agendas(&state)
        .present(&caller.actor(), &by, &id, &b.document_id, b.page)
        .await?;
    announce(
        &state,
        &id,
        crate::signal::event::ServerEvent::Presentation {
            document_id: Some(p.document_id.clone()),
            page: Some(p.page),
            by: p.by.clone(),
        },
    )
    .await;
    super::composite_page::refresh(&state, &id);
    Ok(Json(p))
}

async fn stop_presentation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    super::meetings::acting_on(&state, &caller, &id, Action::Present).await?;
    if agendas(&state).stop(&caller.actor(), &id).await? {
        announce(
            &state,
            &id,
            crate::signal::event::ServerEvent::Presentation {
                document_id: None,
                page: None,
                by: caller.label(),
            },
        )
        .await;
        super::composite_page::refresh(&state, &id);
    }
    Ok(StatusCode::NO_CONTENT)
}
