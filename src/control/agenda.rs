//! The agenda (chương trình nghị sự) of a meeting: its items in order, the
//! current item and the timeline of which item ran when — what minutes and
//! recordings are indexed by — and the page-sync presentation: which
//! document page every room's viewer shows.
//!
//! Owns the `agenda_items`, `agenda_timeline` and `presentations` tables.
//! Every change runs in one write transaction that reads the meeting's
//! state under the writers' lock, refuses before writing anything, and
//! appends one audit record. Telling the rooms is the caller's business
//! (`api/v1/agenda` announces each change on the meeting's live room).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::control::meetings::MeetingState;
use crate::control::org::decode_err;
use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, new_id, now_ms};

/// Longest item title, in characters.
pub const TITLE_MAX_CHARS: usize = 500;
/// Longest presenter text, in characters.
pub const PRESENTER_MAX_CHARS: usize = 200;
/// Longest notes, in characters.
pub const NOTES_MAX_CHARS: usize = 5000;
/// Longest planned duration, in minutes (a conference day is 600).
pub const MAX_PLANNED_MINUTES: u32 = 600;
/// The most items one agenda holds.
pub const MAX_ITEMS: usize = 200;
/// Longest document id, in characters.
pub const DOCUMENT_ID_MAX_CHARS: usize = 100;
/// Highest page number.
pub const MAX_PAGE: u32 = 100_000;

/// What a client sends to add or replace an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDraft {
    /// 1 to 500 characters; surrounding spaces are dropped.
    pub title: String,
    /// Who presents it, as free text (at most 200 characters).
    #[serde(default)]
    pub presenter: String,
    /// The presenter as a user, when they have one.
    #[serde(default)]
    pub presenter_user_id: Option<String>,
    /// 1 to 600.
    pub planned_minutes: u32,
    /// At most 5000 characters.
    #[serde(default)]
    pub notes: String,
}

/// One item of an agenda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgendaItem {
    pub id: String,
    pub meeting_id: String,
    /// 1-based place in the agenda.
    pub position: u32,
    pub title: String,
    pub presenter: String,
    pub presenter_user_id: Option<String>,
    pub planned_minutes: u32,
    pub notes: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One stretch of the meeting spent on one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelineEntry {
    pub item_id: String,
    pub started_at_ms: i64,
    /// `None` while it is the current item.
    pub ended_at_ms: Option<i64>,
}

/// The item under discussion now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CurrentItem {
    pub item_id: String,
    pub title: String,
    pub position: u32,
    pub started_at_ms: i64,
}

/// A meeting's whole agenda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Agenda {
    pub meeting_id: String,
    pub items: Vec<AgendaItem>,
    pub current: Option<CurrentItem>,
    /// In the order the items were taken up. Once the meeting is over, an
    /// item still current then ends when the meeting did.
    pub timeline: Vec<TimelineEntry>,
}

/// What every room's document viewer shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Presentation {
    pub meeting_id: String,
    pub document_id: String,
    pub page: u32,
    /// Who turned to this page.
    pub by: String,
    pub updated_at_ms: i64,
}

/// Why an agenda operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AgendaError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no meeting {0:?}")]
    UnknownMeeting(String),
    #[error("no agenda item {0:?} in this meeting")]
    UnknownItem(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("meeting {id} is {state}; the agenda of an ended or cancelled meeting is final")]
    NotEditable { id: String, state: MeetingState },
    #[error("meeting {id} is {state}; the current item and the presentation work once it is open")]
    NotOpen { id: String, state: MeetingState },
    #[error("agenda item {0:?} has been taken up; the timeline keeps it")]
    InTimeline(String),
    #[error("the agenda has no items")]
    Empty,
    #[error("the last agenda item is over; there is no next one")]
    Finished,
}

fn invalid<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, AgendaError> {
    Err(AgendaError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

fn target(meeting: &str) -> String {
    format!("meeting:{meeting}")
}

/// Trimmed and within bounds, or `Invalid`.
fn check_draft(draft: &ItemDraft) -> Result<ItemDraft, AgendaError> {
    let mut d = draft.clone();
    d.title = d.title.trim().to_string();
    d.presenter = d.presenter.trim().to_string();
    d.notes = d.notes.trim().to_string();
    let n = d.title.chars().count();
    if n == 0 || n > TITLE_MAX_CHARS {
        return invalid(
            "title",
            format!("a title is 1 to {TITLE_MAX_CHARS} characters (this one has {n})"),
        );
    }
    if d.presenter.chars().count() > PRESENTER_MAX_CHARS {
        return invalid(
            "presenter",
            format!("at most {PRESENTER_MAX_CHARS} characters"),
        );
    }
    if !(1..=MAX_PLANNED_MINUTES).contains(&d.planned_minutes) {
        return invalid(
            "planned_minutes",
            format!(
                "{} is not a duration; use 1 to {MAX_PLANNED_MINUTES} minutes",
                d.planned_minutes
            ),
        );
    }
    if d.notes.chars().count() > NOTES_MAX_CHARS {
        return invalid("notes", format!("at most {NOTES_MAX_CHARS} characters"));
    }
    if let Some(u) = &d.presenter_user_id
        && (u.is_empty() || u.chars().count() > 100)
    {
        return invalid("presenter_user_id", format!("no user {u:?}"));
    }
    Ok(d)
}

/// A document page to show, or `Invalid`.
pub fn check_page(document_id: &str, page: u32) -> Result<(), AgendaError> {
    let n = document_id.chars().count();
    if document_id.trim().is_empty() || n > DOCUMENT_ID_MAX_CHARS {
        return invalid(
            "document_id",
            format!("a document id is 1 to {DOCUMENT_ID_MAX_CHARS} characters"),
        );
    }
    if !(1..=MAX_PAGE).contains(&page) {
        return invalid(
            "page",
            format!("{page} is not a page; pages run from 1 to {MAX_PAGE}"),
        );
    }
    Ok(())
}

/// The state of meeting `id` as the transaction sees it.
async fn meeting_state(conn: &mut AnyConnection, id: &str) -> Result<MeetingState, AgendaError> {
    const DOING: &str = "reading a meeting's state";
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM meetings WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .ctx(DOING)?;
    Ok(state
        .ok_or_else(|| AgendaError::UnknownMeeting(id.to_string()))?
        .parse()
        .map_err(decode_err(DOING))?)
}

/// The meeting's agenda may change: it exists and is not over.
async fn check_editable(conn: &mut AnyConnection, id: &str) -> Result<(), AgendaError> {
    let state = meeting_state(conn, id).await?;
    if matches!(state, MeetingState::Ended | MeetingState::Cancelled) {
        return Err(AgendaError::NotEditable {
            id: id.to_string(),
            state,
        });
    }
    Ok(())
}

/// The meeting is open or live.
async fn check_running(conn: &mut AnyConnection, id: &str) -> Result<(), AgendaError> {
    let state = meeting_state(conn, id).await?;
    if !matches!(state, MeetingState::Open | MeetingState::Live) {
        return Err(AgendaError::NotOpen {
            id: id.to_string(),
            state,
        });
    }
    Ok(())
}

const SELECT_ITEM: &str = "SELECT id, meeting_id, position, title, presenter, presenter_user_id, \
     planned_minutes, notes, created_at, updated_at FROM agenda_items";

fn item_from_row(row: &sqlx::any::AnyRow) -> Result<AgendaItem, StoreError> {
    const DOING: &str = "reading an agenda item";
    let bad = decode_err(DOING);
    let position: i64 = row.try_get(2).ctx(DOING)?;
    let minutes: i64 = row.try_get(6).ctx(DOING)?;
    Ok(AgendaItem {
        id: row.try_get(0).ctx(DOING)?,
        meeting_id: row.try_get(1).ctx(DOING)?,
        position: u32::try_from(position)
            .map_err(|_| bad(format!("position {position} is out of range")))?,
        title: row.try_get(3).ctx(DOING)?,
        presenter: row.try_get(4).ctx(DOING)?,
        presenter_user_id: row.try_get(5).ctx(DOING)?,
        planned_minutes: u32::try_from(minutes)
            .map_err(|_| bad(format!("planned minutes {minutes} is out of range")))?,
        notes: row.try_get(7).ctx(DOING)?,
        created_at_ms: row.try_get(8).ctx(DOING)?,
        updated_at_ms: row.try_get(9).ctx(DOING)?,
    })
}

async fn items_of(conn: &mut AnyConnection, meeting: &str) -> Result<Vec<AgendaItem>, StoreError> {
    sqlx::query(&format!(
        "{SELECT_ITEM} WHERE meeting_id = $1 ORDER BY position, id"
    ))
    .bind(meeting)
    .fetch_all(&mut *conn)
    .await
    .ctx("reading an agenda")?
    .iter()
    .map(item_from_row)
    .collect()
}

async fn item_of(
    conn: &mut AnyConnection,
    meeting: &str,
    item: &str,
) -> Result<AgendaItem, AgendaError> {
    let row = sqlx::query(&format!("{SELECT_ITEM} WHERE meeting_id = $1 AND id = $2"))
        .bind(meeting)
        .bind(item)
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading an agenda item")?;
    match row {
        Some(r) => Ok(item_from_row(&r)?),
        None => Err(AgendaError::UnknownItem(item.to_string())),
    }
}

async fn timeline_of(
    conn: &mut AnyConnection,
    meeting: &str,
) -> Result<Vec<TimelineEntry>, StoreError> {
    const DOING: &str = "reading an agenda timeline";
    sqlx::query(
        "SELECT item_id, started_at, ended_at FROM agenda_timeline
         WHERE meeting_id = $1 ORDER BY seq",
    )
    .bind(meeting)
    .fetch_all(&mut *conn)
    .await
    .ctx(DOING)?
    .iter()
    .map(|r| {
        Ok(TimelineEntry {
            item_id: r.try_get(0).ctx(DOING)?,
            started_at_ms: r.try_get(1).ctx(DOING)?,
            ended_at_ms: r.try_get(2).ctx(DOING)?,
        })
    })
    .collect()
}

/// The presenter user must exist.
async fn check_presenter(conn: &mut AnyConnection, d: &ItemDraft) -> Result<(), AgendaError> {
    if let Some(u) = &d.presenter_user_id {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(u)
            .fetch_optional(&mut *conn)
            .await
            .ctx("checking an agenda item's presenter")?;
        if found.is_none() {
            return invalid("presenter_user_id", format!("no user {u:?}"));
        }
    }
    Ok(())
}

fn item_details(item: &AgendaItem) -> serde_json::Value {
    json!({
        "item_id": item.id,
        "position": item.position,
        "title": item.title,
        "presenter": item.presenter,
        "presenter_user_id": item.presenter_user_id,
        "planned_minutes": item.planned_minutes,
    })
}

/// Agendas and presentations over a store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Agendas {
    store: Store,
}

impl Agendas {
    pub fn new(store: Store) -> Agendas {
        Agendas { store }
    }

    /// The agenda of `meeting`: items in order, current item and timeline.
    pub async fn agenda(&self, meeting: &str) -> Result<Agenda, AgendaError> {
        let mut conn = self.store.pool().acquire().await.ctx("reading an agenda")?;
        let state = meeting_state(&mut conn, meeting).await?;
        let items = items_of(&mut conn, meeting).await?;
        let mut timeline = timeline_of(&mut conn, meeting).await?;
        if matches!(state, MeetingState::Ended | MeetingState::Cancelled) {
            // The item under discussion when the meeting ended ended with it.
            let ended: Option<i64> = sqlx::query_scalar(
                "SELECT COALESCE(ended_at, cancelled_at) FROM meetings WHERE id = $1",
            )
            .bind(meeting)
            .fetch_one(&mut *conn)
            .await
            .ctx("reading an agenda")?;
            for t in timeline.iter_mut().filter(|t| t.ended_at_ms.is_none()) {
                t.ended_at_ms = Some(ended.unwrap_or(t.started_at_ms).max(t.started_at_ms));
            }
        }
        let current = timeline
            .iter()
            .rev()
            .find(|t| t.ended_at_ms.is_none())
            .and_then(|t| {
                items
                    .iter()
                    .find(|i| i.id == t.item_id)
                    .map(|i| CurrentItem {
                        item_id: i.id.clone(),
                        title: i.title.clone(),
                        position: i.position,
                        started_at_ms: t.started_at_ms,
                    })
            });
        Ok(Agenda {
            meeting_id: meeting.to_string(),
            items,
            current,
            timeline,
        })
    }

    /// Add an item at the end.
    pub async fn create(
        &self,
        actor: &Actor,
        meeting: &str,
        draft: &ItemDraft,
    ) -> Result<AgendaItem, AgendaError> {
        let d = check_draft(draft)?;
        let mut tx = self.store.begin_write().await?;
        check_editable(&mut tx, meeting).await?;
        let count = items_of(&mut tx, meeting).await?.len();
        if count >= MAX_ITEMS {
            return invalid("title", format!("an agenda has at most {MAX_ITEMS} items"));
        }
        check_presenter(&mut tx, &d).await?;
        let now = now_ms();
        let item = AgendaItem {
            id: new_id("ag_"),
            meeting_id: meeting.to_string(),
            position: count as u32 + 1,
            title: d.title,
            presenter: d.presenter,
            presenter_user_id: d.presenter_user_id,
            planned_minutes: d.planned_minutes,
            notes: d.notes,
            created_at_ms: now,
            updated_at_ms: now,
        };
        sqlx::query(
            "INSERT INTO agenda_items (id, meeting_id, position, title, presenter,
                 presenter_user_id, planned_minutes, notes, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&item.id)
        .bind(&item.meeting_id)
        .bind(i64::from(item.position))
        .bind(&item.title)
        .bind(&item.presenter)
        .bind(item.presenter_user_id.as_deref())
        .bind(i64::from(item.planned_minutes))
        .bind(&item.notes)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx("adding an agenda item")?;
        audit::append(
            &mut tx,
            actor,
            "agenda.create",
            &target(meeting),
            &item_details(&item),
        )
        .await?;
        tx.commit().await.ctx("adding an agenda item")?;
        Ok(item)
    }

    /// Replace an item's fields (its place stays).
    pub async fn update(
        &self,
        actor: &Actor,
        meeting: &str,
        item: &str,
        draft: &ItemDraft,
    ) -> Result<AgendaItem, AgendaError> {
        let d = check_draft(draft)?;
        let mut tx = self.store.begin_write().await?;
        check_editable(&mut tx, meeting).await?;
        let old = item_of(&mut tx, meeting, item).await?;
        check_presenter(&mut tx, &d).await?;
        let now = now_ms();
        sqlx::query(
            "UPDATE agenda_items SET title = $1, presenter = $2, presenter_user_id = $3,
                 planned_minutes = $4, notes = $5, updated_at = $6
             WHERE id = $7 AND meeting_id = $8",
        )
        .bind(&d.title)
        .bind(&d.presenter)
        .bind(d.presenter_user_id.as_deref())
        .bind(i64::from(d.planned_minutes))
        .bind(&d.notes)
        .bind(now)
        .bind(item)
        .bind(meeting)
        .execute(&mut *tx)
        .await
        .ctx("changing an agenda item")?;
        let new = AgendaItem {
            title: d.title,
            presenter: d.presenter,
            presenter_user_id: d.presenter_user_id,
            planned_minutes: d.planned_minutes,
            notes: d.notes,
            updated_at_ms: now,
            ..old.clone()
        };
        let details = json!({"before": item_details(&old), "after": item_details(&new)});
        audit::append(&mut tx, actor, "agenda.update", &target(meeting), &details).await?;
        tx.commit().await.ctx("changing an agenda item")?;
        Ok(new)
    }

    /// Remove an item that has not been taken up; the later ones move up.
    pub async fn delete(
        &self,
        actor: &Actor,
        meeting: &str,
        item: &str,
    ) -> Result<(), AgendaError> {
        const DOING: &str = "removing an agenda item";
        let mut tx = self.store.begin_write().await?;
        check_editable(&mut tx, meeting).await?;
        let old = item_of(&mut tx, meeting, item).await?;
        let used: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM agenda_timeline WHERE item_id = $1 LIMIT 1")
                .bind(item)
                .fetch_optional(&mut *tx)
                .await
                .ctx(DOING)?;
        if used.is_some() {
            return Err(AgendaError::InTimeline(item.to_string()));
        }
        sqlx::query("DELETE FROM agenda_items WHERE id = $1 AND meeting_id = $2")
            .bind(item)
            .bind(meeting)
            .execute(&mut *tx)
            .await
            .ctx(DOING)?;
        sqlx::query(
            "UPDATE agenda_items SET position = position - 1
             WHERE meeting_id = $1 AND position > $2",
        )
        .bind(meeting)
        .bind(i64::from(old.position))
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        audit::append(
            &mut tx,
            actor,
            "agenda.delete",
            &target(meeting),
            &item_details(&old),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(())
    }

    /// Put the items in `order`, which must name every item exactly once.
    pub async fn reorder(
        &self,
        actor: &Actor,
        meeting: &str,
        order: &[String],
    ) -> Result<Vec<AgendaItem>, AgendaError> {
        const DOING: &str = "reordering an agenda";
        let mut tx = self.store.begin_write().await?;
        check_editable(&mut tx, meeting).await?;
        let items = items_of(&mut tx, meeting).await?;
        let have: HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let mut seen = HashSet::with_capacity(order.len());
        for (i, id) in order.iter().enumerate() {
            if !have.contains(id.as_str()) {
                return invalid(
                    "order",
                    format!("order[{i}]: {id:?} is not an item of this agenda"),
                );
            }
            if !seen.insert(id.as_str()) {
                return invalid("order", format!("order[{i}]: {id:?} is listed twice"));
            }
        }
        if order.len() != items.len() {
            return invalid(
                "order",
                format!(
                    "the order names {} of the agenda's {} items; name every item once",
                    order.len(),
                    items.len()
                ),
            );
        }
        let before: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        if before != order.iter().map(String::as_str).collect::<Vec<_>>() {
            let now = now_ms();
            for (pos, id) in order.iter().enumerate() {
                sqlx::query(
                    "UPDATE agenda_items SET position = $1, updated_at = $2
                     WHERE id = $3 AND meeting_id = $4",
                )
                .bind(pos as i64 + 1)
                .bind(now)
                .bind(id)
                .bind(meeting)
                .execute(&mut *tx)
                .await
                .ctx(DOING)?;
            }
            let details = json!({"before": before, "after": order});
            audit::append(&mut tx, actor, "agenda.reorder", &target(meeting), &details).await?;
        }
        let after = items_of(&mut tx, meeting).await?;
        tx.commit().await.ctx(DOING)?;
        Ok(after)
    }

    /// Make `item` the current one: the previous current item ends now and
    /// this one starts. Whether anything changed (re-setting the current
    /// item does nothing).
    pub async fn set_current(
        &self,
        actor: &Actor,
        meeting: &str,
        item: &str,
    ) -> Result<(Agenda, bool), AgendaError> {
        let mut tx = self.store.begin_write().await?;
        check_running(&mut tx, meeting).await?;
        let it = item_of(&mut tx, meeting, item).await?;
        let changed = Self::switch(&mut tx, actor, meeting, Some(&it)).await?;
        tx.commit().await.ctx("changing the current agenda item")?;
        Ok((self.agenda(meeting).await?, changed))
    }

    /// Move on to the item after the one taken up last (the first if none
    /// was); after the last item, end it. `Empty` or `Finished` otherwise.
    pub async fn next(&self, actor: &Actor, meeting: &str) -> Result<Agenda, AgendaError> {
        let mut tx = self.store.begin_write().await?;
        check_running(&mut tx, meeting).await?;
        let items = items_of(&mut tx, meeting).await?;
        if items.is_empty() {
            return Err(AgendaError::Empty);
        }
        let timeline = timeline_of(&mut tx, meeting).await?;
        let last = timeline.last();
        let next = match last {
            None => Some(&items[0]),
            Some(t) => {
                let at = items.iter().position(|i| i.id == t.item_id);
                match at {
                    Some(k) if k + 1 < items.len() => Some(&items[k + 1]),
                    None => Some(&items[0]),
                    Some(_) if t.ended_at_ms.is_none() => None,
                    Some(_) => return Err(AgendaError::Finished),
                }
            }
        };
        Self::switch(&mut tx, actor, meeting, next).await?;
        tx.commit().await.ctx("moving to the next agenda item")?;
        self.agenda(meeting).await
    }

    /// End the open timeline row and start `to` (or nothing); whether it changed.
    async fn switch(
        conn: &mut AnyConnection,
        actor: &Actor,
        meeting: &str,
        to: Option<&AgendaItem>,
    ) -> Result<bool, AgendaError> {
        const DOING: &str = "changing the current agenda item";
        let open: Option<String> = sqlx::query_scalar(
            "SELECT item_id FROM agenda_timeline WHERE meeting_id = $1 AND ended_at IS NULL",
        )
        .bind(meeting)
        .fetch_optional(&mut *conn)
        .await
        .ctx(DOING)?;
        if open.as_deref() == to.map(|i| i.id.as_str()) {
            return Ok(false);
        }
        let now = now_ms();
        sqlx::query(
            "UPDATE agenda_timeline SET ended_at = $1 WHERE meeting_id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(meeting)
        .execute(&mut *conn)
        .await
        .ctx(DOING)?;
        if let Some(item) = to {
            let seq: Option<i64> =
                sqlx::query_scalar("SELECT MAX(seq) FROM agenda_timeline WHERE meeting_id = $1")
                    .bind(meeting)
                    .fetch_one(&mut *conn)
                    .await
                    .ctx(DOING)?;
            sqlx::query(
                "INSERT INTO agenda_timeline (meeting_id, seq, item_id, started_at, ended_at)
                 VALUES ($1, $2, $3, $4, NULL)",
            )
            .bind(meeting)
            .bind(seq.unwrap_or(0) + 1)
            .bind(&item.id)
            .bind(now)
            .execute(&mut *conn)
            .await
            .ctx(DOING)?;
        }
        let details = json!({
            "from": open,
            "to": to.map(|i| i.id.as_str()),
            "position": to.map(|i| i.position),
            "at_ms": now,
        });
        audit::append(conn, actor, "agenda.current", &target(meeting), &details).await?;
        Ok(true)
    }

    /// The page every room shows now, if any.
    pub async fn presentation(&self, meeting: &str) -> Result<Option<Presentation>, AgendaError> {
        const DOING: &str = "reading a presentation";
        let mut conn = self.store.pool().acquire().await.ctx(DOING)?;
        meeting_state(&mut conn, meeting).await?;
        Ok(presentation_of(&mut conn, meeting).await?)
    }

    /// Show `page` of `document_id` in every room.
    pub async fn present(
        &self,
        actor: &Actor,
        by: &str,
        meeting: &str,
        document_id: &str,
        page: u32,
    ) -> Result<Presentation, AgendaError> {
        const DOING: &str = "setting a presentation";
        check_page(document_id, page)?;
        let mut tx = self.store.begin_write().await?;
        check_running(&mut tx, meeting).await?;
        let now = now_ms();
        sqlx::query("DELETE FROM presentations WHERE meeting_id = $1")
            .bind(meeting)
            .execute(&mut *tx)
            .await
            .ctx(DOING)?;
        sqlx::query(
            "INSERT INTO presentations (meeting_id, document_id, page, set_by, updated_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(meeting)
        .bind(document_id)
        .bind(i64::from(page))
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        let details = json!({"document_id": document_id, "page": page});
        audit::append(
            &mut tx,
            actor,
            "presentation.set",
            &target(meeting),
            &details,
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(Presentation {
            meeting_id: meeting.to_string(),
            document_id: document_id.to_string(),
            page,
            by: by.to_string(),
            updated_at_ms: now,
        })
    }

    /// Stop presenting; whether something was being shown.
    pub async fn stop(&self, actor: &Actor, meeting: &str) -> Result<bool, AgendaError> {
        const DOING: &str = "stopping a presentation";
        let mut tx = self.store.begin_write().await?;
        meeting_state(&mut tx, meeting).await?;
        let Some(old) = presentation_of(&mut tx, meeting).await? else {
            return Ok(false);
        };
        sqlx::query("DELETE FROM presentations WHERE meeting_id = $1")
            .bind(meeting)
            .execute(&mut *tx)
            .await
            .ctx(DOING)?;
        let details = json!({"document_id": old.document_id, "page": old.page});
        audit::append(
            &mut tx,
            actor,
            "presentation.stop",
            &target(meeting),
            &details,
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(true)
    }
}

async fn presentation_of(
    conn: &mut AnyConnection,
    meeting: &str,
) -> Result<Option<Presentation>, StoreError> {
    const DOING: &str = "reading a presentation";
    let row = sqlx::query(
        "SELECT document_id, page, set_by, updated_at FROM presentations WHERE meeting_id = $1",
    )
    .bind(meeting)
    .fetch_optional(&mut *conn)
    .await
    .ctx(DOING)?;
    let Some(r) = row else { return Ok(None) };
    let page: i64 = r.try_get(1).ctx(DOING)?;
    Ok(Some(Presentation {
        meeting_id: meeting.to_string(),
        document_id: r.try_get(0).ctx(DOING)?,
        page: u32::try_from(page)
            .map_err(|_| decode_err(DOING)(format!("page {page} is out of range")))?,
        by: r.try_get(2).ctx(DOING)?,
        updated_at_ms: r.try_get(3).ctx(DOING)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(title: &str, minutes: u32) -> ItemDraft {
        ItemDraft {
            title: title.into(),
            presenter: String::new(),
            presenter_user_id: None,
            planned_minutes: minutes,
            notes: String::new(),
        }
    }

    #[test]
    fn agenda_drafts_name_the_refused_field() {
        assert_eq!(
            check_draft(&draft("  Khai mạc  ", 10)).unwrap().title,
            "Khai mạc"
        );
        for (d, field) in [
            (draft("   ", 10), "title"),
            (draft(&"x".repeat(501), 10), "title"),
            (draft("Bế mạc", 0), "planned_minutes"),
            (draft("Bế mạc", 601), "planned_minutes"),
        ] {
            match check_draft(&d) {
                Err(AgendaError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn agenda_pages_are_bounded() {
        assert!(check_page("doc_1", 1).is_ok());
        assert!(check_page("doc_1", 100_000).is_ok());
        assert!(check_page("", 1).is_err());
        assert!(check_page(&"d".repeat(101), 1).is_err());
        assert!(check_page("doc_1", 0).is_err());
        assert!(check_page("doc_1", 100_001).is_err());
    }
}
