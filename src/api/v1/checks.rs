//! The technical check (kiểm tra kỹ thuật) and the readiness board over
//! HTTP. A room's page reports its own check with its token; an operator
//! starts the check for every connected room; the board (JSON, XLSX or PDF)
//! is for the meeting's operators and auditors. Every decision is the
//! conference layer's (`conference::checks`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppState, QueryParams};
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::checks::{CheckReport, CheckRun, CheckStatus, Failing, ReadinessBoard};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    const T: &str = "checks";
    api.add(
        Op::post("/api/v1/meetings/{id}/checks", Action::CheckReport, T)
            .summary("A planned room reports its technical check (its own token); figures out of range are refused")
            .body::<CheckReport>()
            .returns_with::<CheckAnswer>(StatusCode::CREATED),
        post(report),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/checks/start", Action::MeetingLifecycle, T)
            .summary("Start the technical check: every planned room connected now runs it (it also runs by itself for rooms joining from an hour before the start)")
            .returns::<StartAnswer>(),
        post(start),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/readiness", Action::ReadinessRead, T)
            .summary("The readiness board: one row per planned room (ready, warning, failed, not_checked, connected_unchecked), its figures and technician (`?format=xlsx` or `pdf`: the export)")
            .query::<BoardFormat>()
            .returns::<ReadinessBoard>(),
        get(readiness),
    )
}

/// What a room is told after reporting.
#[derive(Serialize, JsonSchema)]
pub struct CheckAnswer {
    pub endpoint_id: String,
    pub checked_at_ms: i64,
    pub status: CheckStatus,
    pub status_label: &'static str,
    pub failing: Vec<Failing>,
}

#[derive(Serialize, JsonSchema)]
pub struct StartAnswer {
    pub started: CheckRun,
    /// Rooms connected now and told to run it.
    pub rooms_told: usize,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardFormat {
    /// `json` (the default), `xlsx` or `pdf`.
    #[serde(default)]
    format: Option<String>,
}

async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CheckReport>,
) -> Result<(StatusCode, Json<CheckAnswer>), ApiError> {
    let stored = state
        .conference
        .report_check(&caller.who(), &id, &b)
        .await?;
    let (status, failing) = crate::control::checks::judge(&stored.report);
    Ok((
        StatusCode::CREATED,
        Json(CheckAnswer {
            endpoint_id: stored.endpoint_id,
            checked_at_ms: stored.checked_at_ms,
            status,
            status_label: status.label_vi(),
            failing,
        }),
    ))
}

async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StartAnswer>, ApiError> {
    let (started, rooms_told) = state.conference.start_check(&caller.who(), &id).await?;
    Ok(Json(StartAnswer {
        started,
        rooms_told,
    }))
}

async fn readiness(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<BoardFormat>,
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
    let board = state.conference.readiness(&caller.who(), &id).await?;
    if format == "json" {
        return Ok(Json(board).into_response());
    }
    let failed = |e: String| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "export_failed",
            format!("the {format} export could not be made: {e}"),
        )
    };
    let name = format!("san-sang-{}.{format}", board.meeting_id);
    // Laying out a PDF and zipping a workbook are CPU work: on the
    // blocking pool, never on an async worker thread.
    let bytes = tokio::task::spawn_blocking(move || match format {
        "xlsx" => crate::control::checks::export::xlsx(&board).map_err(|e| e.to_string()),
        _ => crate::control::checks::export::pdf(&board),
    })
    .await
    .map_err(|e| failed(e.to_string()))?
    .map_err(failed)?;
    Ok(download(bytes, &name, format))
}

/// A file to download, with its type and name.
pub fn download(bytes: Vec<u8>, name: &str, format: &str) -> Response {
    let mime = match format {
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/pdf",
    };
    super::file_answer(bytes, mime, false, name)
}
