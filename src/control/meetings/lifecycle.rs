//! A meeting's life: scheduled → open (the lobby) → live → ended, and
//! scheduled or open → cancelled. Each step runs in one write transaction
//! that reads the state under the writers' lock, refuses an illegal step
//! before writing anything, records when it happened and appends one audit
//! record.

use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::{Meeting, MeetingError, MeetingState, Meetings, target};
use crate::control::org::decode_err;
use crate::store::{Actor, SqlxResultExt, StoreError, audit, now_ms};

/// The column recording when a meeting entered `state`.
fn stamp_column(state: MeetingState) -> &'static str {
    match state {
        MeetingState::Open => "opened_at",
        MeetingState::Live => "started_at",
        MeetingState::Ended => "ended_at",
        MeetingState::Cancelled => "cancelled_at",
        // Nothing moves back to scheduled.
        MeetingState::Scheduled => "updated_at",
    }
}

fn action(state: MeetingState) -> &'static str {
    match state {
        MeetingState::Open => "meeting.open",
        MeetingState::Live => "meeting.start",
        MeetingState::Ended => "meeting.end",
        MeetingState::Cancelled => "meeting.cancel",
        MeetingState::Scheduled => "meeting.schedule",
    }
}

/// The state of `id` as the transaction sees it.
async fn state_of(conn: &mut AnyConnection, id: &str) -> Result<MeetingState, MeetingError> {
    const DOING: &str = "reading a meeting's state";
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM meetings WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .ctx(DOING)?;
    Ok(state
        .ok_or_else(|| MeetingError::Unknown(id.to_string()))?
        .parse()
        .map_err(decode_err(DOING))?)
}

/// Move `id` from `from` to `to` at `at`, only if it is still in `from`;
/// whether it moved. Cancelling also bumps the calendar sequence, so
/// calendars that imported the meeting replace it with the cancelled one.
async fn set_state(
    conn: &mut AnyConnection,
    id: &str,
    from: MeetingState,
    to: MeetingState,
    at: i64,
) -> Result<bool, StoreError> {
    let bump = if to == MeetingState::Cancelled {
        ", sequence = sequence + 1"
    } else {
        ""
    };
    let column = stamp_column(to);
    let done = sqlx::query(&format!(
        "UPDATE meetings SET state = $1, {column} = $2, updated_at = $2{bump}
         WHERE id = $3 AND state = $4"
    ))
    .bind(to.as_str())
    .bind(at)
    .bind(id)
    .bind(from.as_str())
    .execute(&mut *conn)
    .await
    .ctx("changing a meeting's state")?;
    Ok(done.rows_affected() == 1)
}

impl Meetings {
    /// One step of one meeting, or `IllegalTransition` and nothing changed.
    async fn transition(
        &self,
        actor: &Actor,
        id: &str,
        to: MeetingState,
    ) -> Result<Meeting, MeetingError> {
        let mut tx = self.store.begin_write().await?;
        let from = state_of(&mut tx, id).await?;
        if !from.can_become(to) {
            return Err(MeetingError::IllegalTransition {
                id: id.to_string(),
                from,
                to,
            });
        }
        set_state(&mut tx, id, from, to, now_ms()).await?;
        let details = json!({"from": from.as_str(), "to": to.as_str()});
        audit::append(&mut tx, actor, action(to), &target(id), &details).await?;
        tx.commit().await.ctx("changing a meeting's state")?;
        self.get(id).await
    }

    /// Open the lobby: rooms may connect.
    pub async fn open(&self, actor: &Actor, id: &str) -> Result<Meeting, MeetingError> {
        self.transition(actor, id, MeetingState::Open).await
    }

    /// Start the meeting proper (it must be open).
    pub async fn start(&self, actor: &Actor, id: &str) -> Result<Meeting, MeetingError> {
        self.transition(actor, id, MeetingState::Live).await
    }

    /// End a live meeting.
    pub async fn end(&self, actor: &Actor, id: &str) -> Result<Meeting, MeetingError> {
        self.transition(actor, id, MeetingState::Ended).await
    }

    /// Cancel a scheduled or open meeting; with `whole_series`, also every
    /// later occurrence of its series that is still scheduled or open
    /// (earlier ones, and later ones already live or over, stay as they
    /// are). Returns the cancelled meetings, this one first.
    pub async fn cancel(
        &self,
        actor: &Actor,
        id: &str,
        whole_series: bool,
    ) -> Result<Vec<Meeting>, MeetingError> {
        const DOING: &str = "cancelling a meeting";
        let to = MeetingState::Cancelled;
        let mut tx = self.store.begin_write().await?;
        let from = state_of(&mut tx, id).await?;
        if !from.can_become(to) {
            return Err(MeetingError::IllegalTransition {
                id: id.to_string(),
                from,
                to,
            });
        }
        let mut victims = vec![(id.to_string(), from)];
        if whole_series {
            let row = sqlx::query("SELECT series_id, occurrence FROM meetings WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .ctx(DOING)?;
            let series: Option<String> = row.try_get(0).ctx(DOING)?;
            let occurrence: i64 = row.try_get(1).ctx(DOING)?;
            if let Some(series) = series {
                let rows = sqlx::query(
                    "SELECT id, state FROM meetings
                     WHERE series_id = $1 AND occurrence > $2 AND state IN ('scheduled', 'open')
                     ORDER BY occurrence",
                )
                .bind(&series)
                .bind(occurrence)
                .fetch_all(&mut *tx)
                .await
                .ctx(DOING)?;
                for row in rows {
                    let later: String = row.try_get(0).ctx(DOING)?;
                    let state: String = row.try_get(1).ctx(DOING)?;
                    victims.push((later, state.parse().map_err(decode_err(DOING))?));
                }
            }
        }
        let now = now_ms();
        for (victim, from) in &victims {
            set_state(&mut tx, victim, *from, to, now).await?;
            let details = json!({
                "from": from.as_str(), "to": to.as_str(),
                "whole_series": whole_series, "requested_on": id,
            });
            audit::append(&mut tx, actor, action(to), &target(victim), &details).await?;
        }
        tx.commit().await.ctx(DOING)?;
        let ids: Vec<String> = victims.into_iter().map(|(v, _)| v).collect();
        self.get_many(&ids).await
    }

    /// Open every scheduled meeting that is due: it starts within `lead_ms`
    /// of `now_ms` and has not ended yet (a meeting whose time passed while
    /// nobody opened it stays scheduled for an operator to deal with).
    /// Returns the meetings this call opened.
    ///
    /// The server calls this every few seconds, possibly on two nodes at
    /// once. It is idempotent and safe: the common "nothing due" case is a
    /// plain read that takes no lock, and each open is a conditional
    /// `UPDATE … WHERE state = 'scheduled'` under the writers' lock, so a
    /// meeting is opened (and audited) exactly once.
    pub async fn open_due(
        &self,
        actor: &Actor,
        now_ms: i64,
        lead_ms: i64,
    ) -> Result<Vec<Meeting>, MeetingError> {
        const DOING: &str = "opening due meetings";
        if lead_ms < 0 {
            return Err(MeetingError::Invalid {
                field: "lead_ms".into(),
                message: "how long before the start to open is not negative".into(),
            });
        }
        let horizon = now_ms.saturating_add(lead_ms);
        let due_sql = "SELECT id FROM meetings
             WHERE state = 'scheduled' AND starts_at <= $1 AND ends_at > $2
             ORDER BY starts_at, id";
        let due: Vec<String> = sqlx::query_scalar(due_sql)
            .bind(horizon)
            .bind(now_ms)
            .fetch_all(self.store.pool())
            .await
            .ctx(DOING)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.store.begin_write().await?;
        // Again under the lock: another node may have opened some meanwhile.
        let due: Vec<String> = sqlx::query_scalar(due_sql)
            .bind(horizon)
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await
            .ctx(DOING)?;
        let mut opened = Vec::with_capacity(due.len());
        for id in due {
            let from = MeetingState::Scheduled;
            if set_state(&mut tx, &id, from, MeetingState::Open, now_ms).await? {
                let details = json!({
                    "from": from.as_str(), "to": "open", "automatic": true, "lead_ms": lead_ms,
                });
                audit::append(&mut tx, actor, "meeting.open", &target(&id), &details).await?;
                opened.push(id);
            }
        }
        tx.commit().await.ctx(DOING)?;
        self.get_many(&opened).await
    }
}
