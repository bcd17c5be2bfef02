//! Recordings of meetings, as rows: which recording ran when, who started
//! it, how it ended. The files and their index are the recorder's
//! (`crate::recorder`); every change here is audited.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, new_id, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    Recording,
    Stopped,
    /// Stopped by itself (disk full, a write error); the meeting went on.
    Failed,
    /// The server stopped while it ran (found at the next start).
    Interrupted,
    /// Its files were deleted by the retention policy; the row stays.
    Expired,
}

impl RecordingState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::Recording => "recording",
            RecordingState::Stopped => "stopped",
            RecordingState::Failed => "failed",
            RecordingState::Interrupted => "interrupted",
            RecordingState::Expired => "expired",
        }
    }
    fn parse(s: &str) -> RecordingState {
        match s {
            "recording" => RecordingState::Recording,
            "failed" => RecordingState::Failed,
            "interrupted" => RecordingState::Interrupted,
            "expired" => RecordingState::Expired,
            _ => RecordingState::Stopped,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RecordingRow {
    pub id: String,
    pub meeting_id: String,
    pub state: RecordingState,
    /// `<meeting>/<rec>`, under the recordings store (`<data_dir>/recordings/`,
    /// or the spool and then `<prefix>recordings/` of an S3 store: `crate::objects`).
    pub dir: String,
    pub started_at_ms: i64,
    pub started_by: String,
    pub stopped_at_ms: Option<i64>,
    pub failure: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("meeting {0} is already being recorded")]
    AlreadyRecording(String),
    #[error("meeting {0} is not being recorded")]
    NotRecording(String),
    #[error("no recording {0:?} of this meeting")]
    Unknown(String),
}

const SELECT: &str = "SELECT id, meeting_id, state, dir, started_at, started_by, stopped_at, failure FROM recordings";

fn row(r: &AnyRow) -> Result<RecordingRow, StoreError> {
    const DOING: &str = "reading a recording";
    let state: String = r.try_get(2).ctx(DOING)?;
    Ok(RecordingRow {
        id: r.try_get(0).ctx(DOING)?,
        meeting_id: r.try_get(1).ctx(DOING)?,
        state: RecordingState::parse(&state),
        dir: r.try_get(3).ctx(DOING)?,
        started_at_ms: r.try_get(4).ctx(DOING)?,
        started_by: r.try_get(5).ctx(DOING)?,
        stopped_at_ms: r.try_get(6).ctx(DOING)?,
        failure: r.try_get(7).ctx(DOING)?,
    })
}

#[derive(Clone)]
pub struct Recordings {
    store: Store,
}

impl Recordings {
    pub fn new(store: Store) -> Self {
        Recordings { store }
    }

    /// A new running recording of `meeting`; refused while one runs.
    pub async fn create(
        &self,
        actor: &Actor,
        meeting: &str,
    ) -> Result<RecordingRow, RecordingError> {
        const DOING: &str = "starting a recording";
        let mut tx = self.store.begin_write().await?;
        let running: i64 = sqlx::query(
            "SELECT COUNT(*) FROM recordings WHERE meeting_id = $1 AND state = 'recording'",
        )
        .bind(meeting)
        .fetch_one(&mut *tx)
        .await
        .ctx(DOING)?
        .try_get(0)
        .ctx(DOING)?;
        if running > 0 {
            return Err(RecordingError::AlreadyRecording(meeting.to_string()));
        }
        let id = new_id("rec_");
        let r = RecordingRow {
            dir: format!("{meeting}/{id}"),
            id,
            meeting_id: meeting.to_string(),
            state: RecordingState::Recording,
            started_at_ms: now_ms(),
            started_by: actor.name.clone(),
            stopped_at_ms: None,
            failure: None,
        };
        sqlx::query(
            "INSERT INTO recordings (id, meeting_id, state, dir, started_at, started_by) \
             VALUES ($1, $2, 'recording', $3, $4, $5)",
        )
        .bind(&r.id)
        .bind(&r.meeting_id)
        .bind(&r.dir)
        .bind(r.started_at_ms)
        .bind(&r.started_by)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        audit::append(
            &mut tx,
            actor,
            "recording.start",
            &format!("recording:{}", r.id),
            &json!({"meeting_id": meeting}),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(r)
    }

    /// End the running recording of `meeting` as `state`.
    pub async fn finish(
        &self,
        actor: &Actor,
        meeting: &str,
        state: RecordingState,
        failure: Option<&str>,
    ) -> Result<RecordingRow, RecordingError> {
        const DOING: &str = "stopping a recording";
        let mut tx = self.store.begin_write().await?;
        let found = sqlx::query(&format!(
            "{SELECT} WHERE meeting_id = $1 AND state = 'recording'"
        ))
        .bind(meeting)
        .fetch_optional(&mut *tx)
        .await
        .ctx(DOING)?;
        let Some(found) = found else {
            return Err(RecordingError::NotRecording(meeting.to_string()));
        };
        let mut r = row(&found)?;
        r.state = state;
        r.stopped_at_ms = Some(now_ms());
        r.failure = failure.map(str::to_string);
        sqlx::query(
            "UPDATE recordings SET state = $1, stopped_at = $2, failure = $3 WHERE id = $4",
        )
        .bind(state.as_str())
        .bind(r.stopped_at_ms)
        .bind(&r.failure)
        .bind(&r.id)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        audit::append(
            &mut tx,
            actor,
            "recording.stop",
            &format!("recording:{}", r.id),
            &json!({"meeting_id": meeting, "state": state.as_str(), "failure": failure}),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(r)
    }

    /// Recordings left running by a server that stopped: interrupted.
    pub async fn interrupt_leftovers(
        &self,
        actor: &Actor,
    ) -> Result<Vec<RecordingRow>, RecordingError> {
        let rows = sqlx::query(&format!("{SELECT} WHERE state = 'recording'"))
            .fetch_all(self.store.pool())
            .await
            .ctx("reading running recordings")?;
        let mut out = Vec::new();
        for r in &rows {
            let r = row(r)?;
            out.push(
                self.finish(
                    actor,
                    &r.meeting_id,
                    RecordingState::Interrupted,
                    Some("server_stopped"),
                )
                .await?,
            );
        }
        Ok(out)
    }

    /// Finished recordings that ended before `before_ms` and still have
    /// their files.
    pub async fn due_for_expiry(
        &self,
        before_ms: i64,
    ) -> Result<Vec<RecordingRow>, RecordingError> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE state IN ('stopped', 'failed', 'interrupted') AND stopped_at < $1 ORDER BY stopped_at"
        ))
        .bind(before_ms)
        .fetch_all(self.store.pool())
        .await
        .ctx("reading old recordings")?;
        rows.iter().map(|r| row(r).map_err(Into::into)).collect()
    }

    /// The files of `id` were deleted: the row says so (audited).
    pub async fn expire(&self, actor: &Actor, id: &str) -> Result<(), RecordingError> {
        const DOING: &str = "expiring a recording";
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query(
            "UPDATE recordings SET state = 'expired' WHERE id = $1 AND state IN ('stopped', 'failed', 'interrupted')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        if done.rows_affected() != 1 {
            return Err(RecordingError::Unknown(id.to_string()));
        }
        audit::append(
            &mut tx,
            actor,
            "recording.expire",
            &format!("recording:{id}"),
            &json!({}),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(())
    }

    pub async fn list(&self, meeting: &str) -> Result<Vec<RecordingRow>, RecordingError> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE meeting_id = $1 ORDER BY started_at, id"
        ))
        .bind(meeting)
        .fetch_all(self.store.pool())
        .await
        .ctx("listing recordings")?;
        rows.iter().map(|r| row(r).map_err(Into::into)).collect()
    }

    pub async fn get(&self, meeting: &str, id: &str) -> Result<RecordingRow, RecordingError> {
        let r = sqlx::query(&format!("{SELECT} WHERE meeting_id = $1 AND id = $2"))
            .bind(meeting)
            .bind(id)
            .fetch_optional(self.store.pool())
            .await
            .ctx("reading a recording")?
            .ok_or_else(|| RecordingError::Unknown(id.to_string()))?;
        Ok(row(&r)?)
    }
}
