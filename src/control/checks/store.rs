//! Checks as rows: the latest report of each room per meeting, and when an
//! operator started a meeting's check. Both are audited (a check decides
//! whether a room is called before the chair opens).

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::CheckReport;
use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, now_ms};

/// A room's latest check, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StoredCheck {
    pub endpoint_id: String,
    pub checked_at_ms: i64,
    pub report: CheckReport,
}

/// An operator's start of a meeting's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CheckRun {
    pub started_at_ms: i64,
    pub started_by: String,
}

#[derive(Clone)]
pub struct Checks {
    store: Store,
}

impl Checks {
    pub fn new(store: Store) -> Checks {
        Checks { store }
    }

    /// Keep `report` as the room's latest check for the meeting (validated
    /// by the caller), audited as the room's own act.
    pub async fn record(
        &self,
        actor: &Actor,
        meeting: &str,
        endpoint: &str,
        report: &CheckReport,
    ) -> Result<StoredCheck, StoreError> {
        const DOING: &str = "recording a technical check";
        let at = now_ms();
        let figures = serde_json::to_string(report).unwrap_or_else(|_| "{}".into());
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO technical_checks (meeting_id, endpoint_id, checked_at, figures) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (meeting_id, endpoint_id) \
             DO UPDATE SET checked_at = excluded.checked_at, figures = excluded.figures",
        )
        .bind(meeting)
        .bind(endpoint)
        .bind(at)
        .bind(&figures)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        let (status, _) = super::judge(report);
        audit::append(
            &mut tx,
            actor,
            "check.report",
            &format!("meeting:{meeting}"),
            &json!({"endpoint_id": endpoint, "status": status.as_str()}),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(StoredCheck {
            endpoint_id: endpoint.to_string(),
            checked_at_ms: at,
            report: report.clone(),
        })
    }

    /// An operator starts (or starts again) a meeting's check.
    pub async fn start(&self, actor: &Actor, meeting: &str) -> Result<CheckRun, StoreError> {
        const DOING: &str = "starting a technical check";
        let run = CheckRun {
            started_at_ms: now_ms(),
            started_by: actor.name.clone(),
        };
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO technical_check_runs (meeting_id, started_at, started_by) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (meeting_id) \
             DO UPDATE SET started_at = excluded.started_at, started_by = excluded.started_by",
        )
        .bind(meeting)
        .bind(run.started_at_ms)
        .bind(&run.started_by)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        audit::append(
            &mut tx,
            actor,
            "check.start",
            &format!("meeting:{meeting}"),
            &json!({}),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(run)
    }

    /// When the meeting's check was started by hand, if it was.
    pub async fn run_of(&self, meeting: &str) -> Result<Option<CheckRun>, StoreError> {
        let row = sqlx::query(
            "SELECT started_at, started_by FROM technical_check_runs WHERE meeting_id = $1",
        )
        .bind(meeting)
        .fetch_optional(self.store.pool())
        .await
        .ctx("reading a technical check")?;
        row.map(|r| {
            Ok(CheckRun {
                started_at_ms: r.try_get(0).ctx("reading a technical check")?,
                started_by: r.try_get(1).ctx("reading a technical check")?,
            })
        })
        .transpose()
    }

    /// Every room's latest check for the meeting, by endpoint. A row whose
    /// figures no longer read (a field renamed) counts as not checked.
    pub async fn of_meeting(
        &self,
        meeting: &str,
    ) -> Result<HashMap<String, StoredCheck>, StoreError> {
        let rows = sqlx::query(
            "SELECT endpoint_id, checked_at, figures FROM technical_checks WHERE meeting_id = $1",
        )
        .bind(meeting)
        .fetch_all(self.store.pool())
        .await
        .ctx("reading technical checks")?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in rows {
            let endpoint_id: String = r.try_get(0).ctx("reading technical checks")?;
            let checked_at_ms: i64 = r.try_get(1).ctx("reading technical checks")?;
            let figures: String = r.try_get(2).ctx("reading technical checks")?;
            let Ok(report) = serde_json::from_str::<CheckReport>(&figures) else {
                tracing::warn!(
                    meeting,
                    endpoint_id,
                    "a stored check does not read; ignored"
                );
                continue;
            };
            out.insert(
                endpoint_id.clone(),
                StoredCheck {
                    endpoint_id,
                    checked_at_ms,
                    report,
                },
            );
        }
        Ok(out)
    }
}
