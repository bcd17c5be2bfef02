//! "Gọi lại" on a SIP room's wall tile: the server calls the room (dial-out)
//! as a live action — checked by live control (planned, not connected,
//! not sent away), audited with its effect, then carried out by the SIP
//! listener. How the call goes arrives on the event stream as `sip_call`.

use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::endpoints::Endpoints;
use crate::control::live::LiveSnapshot;

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    api.add(
        Op::post(
            "/api/v1/meetings/{id}/live/sip-call",
            Action::LiveControl,
            "live",
        )
        .summary("Call a planned SIP room into the meeting (\"Gọi lại\"); its progress comes as sip_call events")
        .body::<SipCallBody>()
        .returns::<LiveSnapshot>(),
        post(sip_call),
    )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SipCallBody {
    endpoint_id: String,
}

async fn sip_call(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<SipCallBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let m = super::meetings::acting_on(&state, &caller, &id, Action::LiveControl).await?;
    let room = state.conference.live_room(&m).await?;
    let Some(dialer) = state.conference.live().dialer() else {
        return Err(ApiError::conflict(
            "sip_off",
            "this server does not run SIP ([sip] udp_listen is not set)",
        ));
    };
    let account = Endpoints::new(state.store.clone())
        .sip_account_of(&b.endpoint_id)
        .await
        .map_err(crate::api::auth::store_error)?;
    let Some(account) = account else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_sip_room",
            format!(
                "endpoint {:?} is not a SIP room: issue its SIP password first",
                b.endpoint_id
            ),
        )
        .with_field("endpoint_id"));
    };
    let reachable = dialer.registered(&b.endpoint_id, Instant::now()).is_some()
        || account
            .fixed_addr
            .as_deref()
            .and_then(|a| crate::sip::dialout::fixed_target(a, &account.user))
            .is_some();
    if !reachable {
        return Err(ApiError::conflict(
            "sip_unreachable",
            format!(
                "SIP room {:?} has not registered and has no fixed address to call",
                b.endpoint_id
            ),
        ));
    }
    let details = json!({"endpoint_id": b.endpoint_id});
    let snapshot = state
        .conference
        .act(&caller.who(), &room, "sip_call", details, |live, now| {
            let effects = live.call_sip_room(&b.endpoint_id)?;
            Ok((live.snapshot(now), effects))
        })
        .await?;
    Ok(Json(snapshot))
}
