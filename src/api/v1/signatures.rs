//! The trust material signed PDFs are checked against, over HTTP: the
//! anchors (from the config), the CRLs (a folder and uploads: the network is
//! isolated, so an admin brings each new list), and the re-check of every
//! signed document after a change.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;

use super::AppState;
use crate::api::ApiError;
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::control::documents::signatures::RecheckState;
use crate::control::trust::{MAX_CRL_BYTES, TrustStoreError, TrustView};
use crate::sign::trust::{CrlInfo, TrustError};
use crate::store::{SqlxResultExt, audit, now_ms};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{TrustRead, TrustWrite};
    const T: &str = "signatures";
    api.add(
        Op::get("/api/v1/signatures/trust", TrustRead, T)
            .summary("Trust anchors and CRLs signed PDFs are checked against, and the re-check's progress")
            .returns::<TrustState>(),
        get(state_of),
    )
    .add(
        Op::post("/api/v1/signatures/crls", TrustWrite, T)
            .summary("Upload a CRL (DER or PEM) signed by a trust anchor; every signed document is re-checked")
            .raw_body("application/pkix-crl")
            .returns_with::<CrlAdded>(StatusCode::CREATED),
        post(add_crl).layer(DefaultBodyLimit::max(MAX_CRL_BYTES)),
    )
    .add(
        Op::delete("/api/v1/signatures/crls/{sha256}", TrustWrite, T)
            .summary("Remove an uploaded CRL; every signed document is re-checked")
            .returns::<CrlInfo>(),
        delete(remove_crl),
    )
    .add(
        Op::post("/api/v1/signatures/recheck", TrustWrite, T)
            .summary("Check every signed document again (after anchors or CRL files changed by hand)")
            .returns_with::<RecheckState>(StatusCode::ACCEPTED),
        post(recheck),
    )
}

#[derive(Serialize, JsonSchema)]
pub struct TrustState {
    #[serde(flatten)]
    trust: TrustView,
    recheck: RecheckState,
}

#[derive(Serialize, JsonSchema)]
pub struct CrlAdded {
    #[serde(flatten)]
    crl: CrlInfo,
    /// False when the same list was already held.
    new: bool,
    recheck: RecheckState,
}

impl From<TrustStoreError> for ApiError {
    fn from(e: TrustStoreError) -> Self {
        let msg = e.to_string();
        match e {
            TrustStoreError::Refused(TrustError::CrlUnverified(_)) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "crl_unverified", msg)
            }
            TrustStoreError::Refused(_) => ApiError::bad_request("crl_unreadable", msg),
            TrustStoreError::TooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "crl_too_large", msg)
            }
            TrustStoreError::Unknown(_) => ApiError::not_found("unknown_crl", msg),
            TrustStoreError::Io { .. } | TrustStoreError::Bad { .. } => {
                tracing::error!(error = %msg, "trust store");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "trust_store_failed",
                    "the trust store could not be written; see the server log",
                )
            }
        }
    }
}

async fn state_of(State(state): State<AppState>) -> Json<TrustState> {
    Json(TrustState {
        trust: state.trust.view(now_ms()),
        recheck: state.recheck.state(),
    })
}

/// Start the re-check in the background, unless one runs (it then reads
/// the trust set as it is when it reaches each document).
fn start_recheck(state: &AppState, caller: &Caller) -> RecheckState {
    if state.recheck.start() {
        let (docs, progress, actor) = (
            state.documents.clone(),
            state.recheck.clone(),
            caller.actor(),
        );
        tokio::spawn(async move { docs.recheck_until_settled(&actor, progress).await });
    }
    state.recheck.state()
}

async fn audit_change(
    state: &AppState,
    caller: &Caller,
    action: &str,
    crl: &CrlInfo,
) -> Result<(), ApiError> {
    write_audit(state, caller, action, crl)
        .await
        .map_err(crate::api::auth::store_error)
}

async fn write_audit(
    state: &AppState,
    caller: &Caller,
    action: &str,
    crl: &CrlInfo,
) -> Result<(), crate::store::StoreError> {
    let mut tx = state.store.begin_write().await?;
    let details = json!({
        "issuer": crl.issuer, "sha256": crl.sha256,
        "this_update_ms": crl.this_update_ms, "next_update_ms": crl.next_update_ms,
        "revoked": crl.revoked,
    });
    audit::append(
        &mut tx,
        &caller.actor(),
        action,
        &format!("crl:{}", crl.sha256),
        &details,
    )
    .await?;
    tx.commit().await.ctx("auditing a CRL change")?;
    Ok(())
}

async fn add_crl(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<CrlAdded>), ApiError> {
    let trust = state.trust.clone();
    let (crl, new) = tokio::task::spawn_blocking(move || trust.add_crl(&body))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "trust_store_failed",
                e.to_string(),
            )
        })??;
    audit_change(&state, &caller, "signatures.crl_added", &crl).await?;
    let recheck = start_recheck(&state, &caller);
    Ok((StatusCode::CREATED, Json(CrlAdded { crl, new, recheck })))
}

async fn remove_crl(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Json<CrlInfo>, ApiError> {
    let crl = state.trust.remove_crl(&sha256)?;
    audit_change(&state, &caller, "signatures.crl_removed", &crl).await?;
    start_recheck(&state, &caller);
    Ok(Json(crl))
}

async fn recheck(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<RecheckState>), ApiError> {
    state.trust.reload()?;
    Ok((StatusCode::ACCEPTED, Json(start_recheck(&state, &caller))))
}
