//! Quality after the meeting over HTTP: each room's link over one meeting
//! (stored when it ended; while it runs, so far), and the monthly report
//! per unit as JSON, XLSX or PDF — an empty month is an empty report.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppState, QueryParams};
use crate::api::ApiError;
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::control::live::QualitySummary;
use crate::control::quality::report::{self, UnitReport};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    const T: &str = "quality";
    api.add(
        Op::get("/api/v1/meetings/{id}/quality", Action::ReadinessRead, T)
            .summary("Each room's link over the meeting: time connected, drops, loss and RTT p50/p95 (stored when it ended; while it runs, so far)")
            .returns::<MeetingQuality>(),
        get(meeting_quality),
    )
    .add(
        Op::get("/api/v1/reports/units", Action::ReportsRead, T)
            .summary("The monthly report per unit: attendance, connection on time, link quality, technical checks (`?month=YYYY-MM`, `&format=xlsx` or `pdf`)")
            .query::<ReportQuery>()
            .returns::<UnitReport>(),
        get(unit_report),
    )
}

/// One room's row, named.
#[derive(Serialize, JsonSchema)]
pub struct QualityRow {
    pub name: String,
    pub unit_name: Option<String>,
    #[serde(flatten)]
    pub summary: QualitySummary,
}

#[derive(Serialize, JsonSchema)]
pub struct MeetingQuality {
    pub meeting_id: String,
    /// Stored at the end (`false`: the meeting still runs, figures so far).
    #[serde(rename = "final")]
    pub final_: bool,
    pub rows: Vec<QualityRow>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `YYYY-MM`, in province time.
    month: String,
    /// `json` (the default), `xlsx` or `pdf`.
    #[serde(default)]
    format: Option<String>,
}

async fn meeting_quality(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MeetingQuality>, ApiError> {
    let (m, _) = state
        .conference
        .authorize(&caller.who(), &id, Action::ReadinessRead)
        .await?;
    let mut stored = crate::control::quality::Quality::new(state.store.clone())
        .of_meeting(&m.id)
        .await
        .map_err(crate::api::auth::store_error)?;
    let final_ = !stored.is_empty();
    if !final_ && let Some(room) = state.live.get(&m.id) {
        stored = room.quality_now().await;
    }
    let names: std::collections::HashMap<String, (String, Option<String>)> = state
        .conference
        .meetings()
        .participants_of(&m)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|p| (p.endpoint_id, (p.endpoint_name, p.unit_name)))
        .collect();
    let rows = stored
        .into_iter()
        .map(|s| {
            let (name, unit_name) = names
                .get(&s.endpoint_id)
                .cloned()
                .unwrap_or_else(|| (s.endpoint_id.clone(), None));
            QualityRow {
                name,
                unit_name,
                summary: s,
            }
        })
        .collect();
    Ok(Json(MeetingQuality {
        meeting_id: m.id,
        final_,
        rows,
    }))
}

async fn unit_report(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ReportQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref() {
        None | Some("json") => "json",
        Some("xlsx") => "xlsx",
        Some("pdf") => "pdf",
        Some(other) => {
            return Err(ApiError::invalid(
                "format",
                format!("{other:?} is not a format; use json, xlsx or pdf"),
            ));
        }
    };
    let r = report::build(&state.store, &q.month)
        .await
        .map_err(ApiError::from)?
        .map_err(|e| ApiError::invalid("month", e))?;
    if format == "json" {
        return Ok(Json(r).into_response());
    }
    let name = format!("bao-cao-don-vi-{}.{format}", r.month);
    let bytes = tokio::task::spawn_blocking(move || match format {
        "xlsx" => report::xlsx(&r).map_err(|e| e.to_string()),
        _ => report::pdf(&r),
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "export_failed",
            format!("the {format} export could not be made: {e}"),
        )
    })?;
    Ok(super::checks::download(bytes, &name, format))
}
