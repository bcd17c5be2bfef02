//! A published motion's results as a sealed one-page PDF
//! (`crate::pdf::results`): made once, when the chair publishes (or at the
//! first download if the seal could not sign then), kept in the documents
//! store, served to everyone who may read the meeting.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use sqlx::Row;

use super::AppState;
use super::meetings::{meetings, visible_meeting};
use crate::api::ApiError;
use crate::api::access::{Action, Caller};
use crate::api::auth::store_error;
use crate::api::openapi::{Api, Op};
use crate::control::minutes_pdf::sha256_hex;
use crate::control::voting::{MotionMode, MotionState, Voting};
use crate::sign::appearance::local_time;
use crate::store::{SqlxResultExt, new_id, now_ms};

/// One maker at a time on this node: a results PDF is sealed once.
static MAKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    api.add(
        Op::get(
            "/api/v1/meetings/{id}/motions/{motion}/results.pdf",
            Action::MeetingsRead,
            "voting",
        )
        .summary("A published motion's results as a one-page PDF, sealed by the organisation when a seal is configured"),
        get(download),
    )
}

fn failed(code: &'static str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        code,
        e.to_string(),
    )
}

async fn stored(state: &AppState, meeting: &str, motion: &str) -> Result<Option<String>, ApiError> {
    let row = sqlx::query(
        "SELECT object_key FROM motion_results_pdfs WHERE meeting_id = $1 AND motion_id = $2",
    )
    .bind(meeting)
    .bind(motion)
    .fetch_optional(state.store.pool())
    .await
    .ctx("reading a results PDF")
    .map_err(store_error)?;
    Ok(match row {
        Some(r) => Some(
            r.try_get(0)
                .ctx("reading a results PDF")
                .map_err(store_error)?,
        ),
        None => None,
    })
}

/// The results PDF of a published motion, made (and sealed) if it is not
/// yet; its object key.
pub async fn ensure(
    state: &AppState,
    meeting_id: &str,
    motion_id: &str,
) -> Result<String, ApiError> {
    if let Some(k) = stored(state, meeting_id, motion_id).await? {
        return Ok(k);
    }
    let _one = MAKING.lock().await;
    if let Some(k) = stored(state, meeting_id, motion_id).await? {
        return Ok(k);
    }
    let m = meetings(state).get(meeting_id).await?;
    let motion = Voting::with_ballot_box(state.store.clone(), state.ballots.clone())
        .get(meeting_id, motion_id)
        .await?;
    if motion.state != MotionState::Published {
        return Err(ApiError::conflict(
            "not_published",
            format!("the results of motion {motion_id} are not published"),
        ));
    }
    let results = motion
        .results
        .clone()
        .unwrap_or(crate::control::voting::Results {
            options: Vec::new(),
            total_votes: 0,
            votes: Vec::new(),
        });
    let page = crate::pdf::results::ResultsPage {
        meeting_title: m.title.clone(),
        kind_label: m.kind.label_vi().into(),
        local_date: crate::control::minutes::local_date(m.starts_at_ms),
        position: motion.position,
        title: motion.title.clone(),
        description: motion.description.clone(),
        mode_label: match motion.mode {
            MotionMode::Open => "Biểu quyết công khai".into(),
            MotionMode::Secret => "Bỏ phiếu kín".into(),
        },
        options: results
            .options
            .iter()
            .map(|o| (o.label.clone(), o.votes, o.ballots))
            .collect(),
        total_votes: results.total_votes,
        published_local: local_time(motion.published_at_ms.unwrap_or_else(now_ms)),
    };
    let mut pdf = tokio::task::spawn_blocking(move || crate::pdf::results::render(&page))
        .await
        .map_err(|e| failed("pdf_failed", e))?
        .map_err(|e| failed("pdf_failed", e))?;
    let mut sealed = false;
    if state.seal.configured() {
        pdf = match super::minutes_seal::seal_pdf(state, pdf, "Đóng dấu kết quả biểu quyết").await
        {
            Ok((signed, _)) => signed,
            Err(e) => {
                tracing::error!(meeting_id, motion_id, error = %e, "the results could not be sealed");
                return Err(ApiError::unavailable(
                    "seal_unavailable",
                    format!("the organisation's seal could not sign: {e}"),
                ));
            }
        };
        sealed = true;
    }
    let key = format!("results/{meeting_id}/{motion_id}-{}.pdf", new_id("r_"));
    let sha = sha256_hex(&pdf);
    let size = pdf.len() as i64;
    state
        .objects
        .documents
        .put(&ObjectPath::from(key.as_str()), pdf.into())
        .await
        .map_err(|e| ApiError::unavailable("objects_unavailable", e.to_string()))?;
    let mut tx = state.store.begin_write().await.map_err(store_error)?;
    sqlx::query(
        "INSERT INTO motion_results_pdfs (meeting_id, motion_id, object_key, sha256, size, sealed, made_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(meeting_id)
    .bind(motion_id)
    .bind(&key)
    .bind(&sha)
    .bind(size)
    .bind(i64::from(sealed))
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .ctx("keeping a results PDF").map_err(store_error)?;
    let system = crate::store::Actor {
        id: "system".into(),
        name: "diemcau".into(),
        address: None,
    };
    let details = serde_json::json!({
        "meeting_id": meeting_id, "motion_id": motion_id, "sha256": sha, "sealed": sealed,
    });
    crate::store::audit::append(
        &mut tx,
        &system,
        "voting.results_pdf",
        &format!("meeting:{meeting_id}"),
        &details,
    )
    .await
    .map_err(store_error)?;
    tx.commit()
        .await
        .ctx("keeping a results PDF")
        .map_err(store_error)?;
    Ok(key)
}

async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, motion)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    visible_meeting(&state, &caller, &id).await?;
    let key = ensure(&state, &id, &motion).await?;
    let got = state
        .objects
        .documents
        .get(&ObjectPath::from(key.as_str()))
        .await
        .map_err(|e| ApiError::unavailable("objects_unavailable", e.to_string()))?;
    let bytes = got
        .bytes()
        .await
        .map_err(|e| ApiError::unavailable("objects_unavailable", e.to_string()))?;
    let name = format!("ket-qua-{motion}.pdf");
    Ok(super::file_answer(bytes, "application/pdf", true, &name))
}
