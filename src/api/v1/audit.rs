//! The audit log for auditors: page through it, and verify the chain.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppState, QueryParams};
use crate::api::ApiError;
use crate::api::access::Action;
use crate::api::auth::store_error;
use crate::api::openapi::{Api, Op};
use crate::store::audit::{self, AuditRecord, Verification};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    api.add(
        Op::get("/api/v1/audit", Action::AuditRead, "audit")
            .summary("Audit records after a sequence number, oldest first")
            .query::<Page>()
            .returns::<AuditPage>(),
        get(page),
    )
    .add(
        Op::get("/api/v1/audit/verify", Action::AuditRead, "audit")
            .summary(
                "Walk the keyed hash chain and this node's anchors; report the first broken link",
            )
            .returns::<VerifyAnswer>(),
        get(verify),
    )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Records with a sequence number above this (default 0: from the start).
    after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct AuditPage {
    records: Vec<AuditRecord>,
    /// Pass as `after` for the next page; absent at the end.
    next_after: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct VerifyAnswer {
    intact: bool,
    /// Records checked (when intact).
    records: Option<u64>,
    /// The first record that fails, and why (when broken).
    broken_at: Option<i64>,
    message: String,
}

async fn page(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<Page>,
) -> Result<Json<AuditPage>, ApiError> {
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 1000"));
    }
    if after < 0 {
        return Err(ApiError::invalid(
            "after",
            "a sequence number is not negative",
        ));
    }
    let records = audit::list(&state.store, after, limit)
        .await
        .map_err(store_error)?;
    let next_after = (records.len() as i64 == limit)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    Ok(Json(AuditPage {
        records,
        next_after,
    }))
}

async fn verify(State(state): State<AppState>) -> Result<Json<VerifyAnswer>, ApiError> {
    Ok(Json(
        match audit::verify(&state.store).await.map_err(store_error)? {
            Verification::Intact { records } => VerifyAnswer {
                intact: true,
                records: Some(records),
                broken_at: None,
                message: format!("the audit chain is intact ({records} records)"),
            },
            Verification::Broken(link) => VerifyAnswer {
                intact: false,
                records: None,
                broken_at: Some(link.record),
                message: link.to_string(),
            },
            // Not reachable in a running server (it loaded the key at
            // start), but a store opened without it says so.
            Verification::KeyNeeded { keyed_from } => VerifyAnswer {
                intact: false,
                records: None,
                broken_at: None,
                message: format!(
                    "the audit log is sealed from record {keyed_from}; its key was not loaded"
                ),
            },
        },
    ))
}
