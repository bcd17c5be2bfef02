//! Room endpoints (điểm cầu) over HTTP: the registry, dated unit bindings,
//! and the credential (shown once, rotatable, revocable). A sub-operator
//! works only on endpoints bound inside their subtree.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppState, QueryParams, date_or_today, parse_date, today};
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::endpoints::{Binding, Endpoint, EndpointDetails, Endpoints, LinkProfile};
use crate::control::org::{OrgTree, UnitAt};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{EndpointsRead, EndpointsWrite};
    api.add(
        Op::get("/api/v1/endpoints", EndpointsRead, "endpoints")
            .summary("Every endpoint with its unit as of a date (default today)")
            .query::<super::org::OnQueryDoc>()
            .returns::<EndpointList>(),
        get(list),
    )
    .add(
        Op::post("/api/v1/endpoints", EndpointsWrite, "endpoints")
            .summary("Register an endpoint bound to a unit; its token is in this answer only")
            .body::<NewEndpoint>()
            .returns_with::<EndpointCreated>(StatusCode::CREATED),
        post(create),
    )
    .add(
        Op::get("/api/v1/endpoints/{id}", EndpointsRead, "endpoints")
            .summary("One endpoint and its unit bindings over time")
            .returns::<EndpointView>(),
        get(one),
    )
    .add(
        Op::patch("/api/v1/endpoints/{id}", EndpointsWrite, "endpoints")
            .summary("Change an endpoint's name, room, technician or link profile")
            .body::<EndpointPatch>()
            .returns::<Endpoint>(),
        axum::routing::patch(update),
    )
    .add(
        Op::post(
            "/api/v1/endpoints/{id}/bindings",
            EndpointsWrite,
            "endpoints",
        )
        .summary("Bind the endpoint to another unit from a date")
        .body::<BindBody>(),
        post(bind),
    )
    .add(
        Op::post("/api/v1/endpoints/{id}/token", EndpointsWrite, "endpoints")
            .summary("Issue a new token (the old one stops working); shown once")
            .returns::<TokenIssued>(),
        post(rotate),
    )
    .add(
        Op::post("/api/v1/endpoints/{id}/sip-password", EndpointsWrite, "endpoints")
            .summary("Issue the room codec's SIP user and password (the old password stops working); shown once")
            .returns::<SipIssued>(),
        post(sip_password),
    )
    .add(
        Op::delete("/api/v1/endpoints/{id}/token", EndpointsWrite, "endpoints")
            .summary("Revoke the endpoint's token"),
        axum::routing::delete(revoke),
    )
}

#[derive(Serialize, JsonSchema)]
pub struct EndpointWithUnit {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// The unit it is bound to on the date asked (none if unbound then).
    unit: Option<UnitAt>,
    /// The bandwidth cap the media engine applies, kbit/s.
    max_kbps: u32,
}

#[derive(Serialize, JsonSchema)]
pub struct EndpointList {
    #[schemars(with = "String")]
    on: time::Date,
    endpoints: Vec<EndpointWithUnit>,
}

#[derive(Serialize, JsonSchema)]
pub struct EndpointView {
    endpoint: Endpoint,
    bindings: Vec<Binding>,
    max_kbps: u32,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    name: String,
    #[serde(default)]
    room: String,
    #[serde(default)]
    technician_name: String,
    #[serde(default)]
    technician_phone: String,
    link: LinkProfile,
    unit_id: String,
    /// First day of the binding, `YYYY-MM-DD`; default today.
    bound_from: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct EndpointCreated {
    endpoint: Endpoint,
    /// The endpoint's bearer token; shown in this answer only.
    token: String,
}

#[derive(Serialize, JsonSchema)]
pub struct TokenIssued {
    token: String,
}

/// What a technician types into the room codec's SIP account settings.
#[derive(Serialize, JsonSchema)]
pub struct SipIssued {
    sip_user: String,
    /// Shown this once; only its digest hashes are kept.
    password: String,
    /// The digest realm the codec will be challenged with.
    realm: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    name: Option<String>,
    room: Option<String>,
    technician_name: Option<String>,
    technician_phone: Option<String>,
    link: Option<LinkProfile>,
    /// A SIP room's fixed address, called when it has not registered:
    /// `sip:user@ip:port`, `ip:port` or an IP; empty clears it.
    sip_address: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BindBody {
    unit_id: String,
    on: String,
}

fn endpoints(state: &AppState) -> Endpoints {
    Endpoints::new(state.store.clone())
}

/// Units as of `on`, by id.
async fn units_at(
    state: &AppState,
    on: time::Date,
) -> Result<std::collections::HashMap<String, UnitAt>, ApiError> {
    Ok(OrgTree::new(state.store.clone())
        .tree_at(on)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect())
}

async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<super::org::OnQueryDoc>,
) -> Result<Json<EndpointList>, ApiError> {
    let on = date_or_today("on", q.on.as_deref())?;
    let eps = endpoints(&state);
    let units = units_at(&state, on).await?;
    // One query for the bindings and one for the tree, not one per endpoint:
    // this list is what the console polls.
    let bound = eps.bindings_on(on).await?;
    let mut out = Vec::new();
    for endpoint in eps.list().await? {
        let unit = match bound.get(&endpoint.id) {
            Some(u) => match units.get(u) {
                Some(alive) => Some(alive.clone()),
                // Bound to a unit merged away since: follow it (rare).
                None => eps
                    .unit_at(&endpoint.id, on)
                    .await?
                    .and_then(|u| units.get(&u.id).cloned()),
            },
            None => None,
        };
        let max_kbps = endpoint.details.link.max_kbps();
        out.push(EndpointWithUnit {
            endpoint,
            unit,
            max_kbps,
        });
    }
    Ok(Json(EndpointList { on, endpoints: out }))
}

/// A sub-operator may only touch units inside their subtree.
pub async fn check_unit_scope(
    state: &AppState,
    caller: &Caller,
    action: Action,
    unit: &str,
    on: time::Date,
) -> Result<(), ApiError> {
    if let Some(scope) = caller.scope_unit(action) {
        let tree = OrgTree::new(state.store.clone());
        let inside = scope == unit
            || tree
                .descendants(scope, on, &[])
                .await?
                .iter()
                .any(|u| u.id == unit);
        if !inside {
            return Err(ApiError::forbidden(
                "out_of_scope",
                format!("unit {unit:?} is outside your part of the province"),
            ));
        }
    }
    Ok(())
}

/// The endpoint must exist, and for a sub-operator be bound inside their
/// subtree today.
async fn check_endpoint_scope(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Endpoint, ApiError> {
    let eps = endpoints(state);
    let endpoint = eps.get(id).await?;
    if caller.scope_unit(Action::EndpointsWrite).is_some() {
        let on = today();
        match eps.unit_at(id, on).await? {
            Some(unit) => {
                check_unit_scope(state, caller, Action::EndpointsWrite, &unit.id, on).await?
            }
            None => {
                return Err(ApiError::forbidden(
                    "out_of_scope",
                    format!("endpoint {id:?} is not bound to a unit in your part of the province"),
                ));
            }
        }
    }
    Ok(endpoint)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<NewEndpoint>,
) -> Result<Response, ApiError> {
    let from = date_or_today("bound_from", b.bound_from.as_deref())?;
    check_unit_scope(&state, &caller, Action::EndpointsWrite, &b.unit_id, from).await?;
    let (endpoint, token) = endpoints(&state)
        .create(
            &caller.actor(),
            EndpointDetails {
                name: b.name,
                room: b.room,
                technician_name: b.technician_name,
                technician_phone: b.technician_phone,
                link: b.link,
            },
            &b.unit_id,
            from,
        )
        .await
        .map_err(|e| match e {
            crate::control::endpoints::EndpointError::Org(_) => {
                ApiError::from(e).with_field("unit_id")
            }
            other => other.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointCreated {
            endpoint,
            token: token.expose().to_string(),
        }),
    )
        .into_response())
}

async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    let eps = endpoints(&state);
    let endpoint = eps.get(&id).await?;
    let bindings = eps.bindings(&id).await?;
    let max_kbps = endpoint.details.link.max_kbps();
    Ok(Json(EndpointView {
        endpoint,
        bindings,
        max_kbps,
    }))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(p): JsonBody<EndpointPatch>,
) -> Result<Json<Endpoint>, ApiError> {
    let current = check_endpoint_scope(&state, &caller, &id).await?.details;
    if let Some(a) = &p.sip_address {
        // Checked before anything is written: a bad address changes nothing.
        let a = a.trim();
        if !a.is_empty() && crate::sip::dialout::fixed_target(a, "x").is_none() {
            return Err(ApiError::invalid(
                "sip_address",
                format!("sip address {a:?} is not sip:user@ip:port, ip:port or an ip address"),
            ));
        }
        if endpoints(&state)
            .sip_account_of(&id)
            .await
            .map_err(crate::api::auth::store_error)?
            .is_none()
        {
            return Err(crate::control::endpoints::EndpointError::NotSip(id).into());
        }
    }
    let details = EndpointDetails {
        name: p.name.unwrap_or(current.name),
        room: p.room.unwrap_or(current.room),
        technician_name: p.technician_name.unwrap_or(current.technician_name),
        technician_phone: p.technician_phone.unwrap_or(current.technician_phone),
        link: p.link.unwrap_or(current.link),
    };
    let updated = endpoints(&state)
        .update(&caller.actor(), &id, details)
        .await?;
    if let Some(a) = &p.sip_address {
        let a = Some(a.as_str()).filter(|a| !a.trim().is_empty());
        endpoints(&state)
            .set_sip_address(&caller.actor(), &id, a)
            .await?;
    }
    Ok(Json(updated))
}

async fn bind(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<BindBody>,
) -> Result<StatusCode, ApiError> {
    let on = parse_date("on", &b.on)?;
    check_endpoint_scope(&state, &caller, &id).await?;
    check_unit_scope(&state, &caller, Action::EndpointsWrite, &b.unit_id, on).await?;
    endpoints(&state)
        .bind(&caller.actor(), &id, &b.unit_id, on)
        .await
        .map_err(|e| match e {
            crate::control::endpoints::EndpointError::Org(_) => {
                ApiError::from(e).with_field("unit_id")
            }
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenIssued>, ApiError> {
    check_endpoint_scope(&state, &caller, &id).await?;
    let token = endpoints(&state).rotate_token(&caller.actor(), &id).await?;
    Ok(Json(TokenIssued {
        token: token.expose().to_string(),
    }))
}

async fn sip_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SipIssued>, ApiError> {
    check_endpoint_scope(&state, &caller, &id).await?;
    let (sip_user, password) = endpoints(&state)
        .issue_sip_password(&caller.actor(), &id, &state.sip_realm)
        .await?;
    Ok(Json(SipIssued {
        sip_user,
        password: password.expose().to_string(),
        realm: state.sip_realm.clone(),
    }))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_endpoint_scope(&state, &caller, &id).await?;
    endpoints(&state).revoke(&caller.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
