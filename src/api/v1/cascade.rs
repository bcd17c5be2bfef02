//! Cascading over HTTP: this node's place in the tree and its child nodes
//! (registered by an admin, each with a credential shown once), and the
//! hello a child node says with that credential — answered with this
//! node's id and ancestors, or refused as a loop.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AppState, check_len};
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::config::valid_node_id;
use crate::control::cascade::{
    CREDENTIAL_PREFIX, Cascade, CascadeError, HelloAnswer, MAX_PATH, NewNode, Node, ParentLink,
};

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{CascadeRead, CascadeWrite, Node as NodeAction};
    api.add(
        Op::get("/api/v1/cascade", CascadeRead, "cascade")
            .summary("This node: its id, its parent link and ancestors, its child nodes and their links")
            .returns::<CascadeView>(),
        get(overview),
    )
    .add(
        Op::get("/api/v1/cascade/nodes", CascadeRead, "cascade")
            .summary("The child nodes registered at this node, with their links")
            .returns::<NodeList>(),
        get(list),
    )
    .add(
        Op::post("/api/v1/cascade/nodes", CascadeWrite, "cascade")
            .summary("Register a child node; its credential is in this answer only")
            .body::<NewNodeBody>()
            .returns_with::<NodeCreated>(StatusCode::CREATED),
        post(register),
    )
    .add(
        Op::get("/api/v1/cascade/nodes/{id}", CascadeRead, "cascade")
            .summary("One child node and its link")
            .returns::<Node>(),
        get(one),
    )
    .add(
        Op::delete("/api/v1/cascade/nodes/{id}", CascadeWrite, "cascade")
            .summary("Revoke a child node: its credential stops working, its link goes down"),
        axum::routing::delete(revoke),
    )
    .add(
        Op::post(
            "/api/v1/cascade/nodes/{id}/credential",
            CascadeWrite,
            "cascade",
        )
        .summary("Issue a new credential for a child node (the old one stops working); shown once")
        .returns::<CredentialIssued>(),
        post(rotate),
    )
    .add(
        Op::post("/api/v1/cascade/hello", NodeAction, "cascade")
            .summary("A child node says hello with its credential; the answer names this node and its ancestors")
            .body::<HelloBody>()
            .returns::<HelloAnswer>(),
        post(hello),
    )
}

#[derive(Serialize, JsonSchema)]
pub struct CascadeView {
    /// This node's id (`[cascade] node_id`); none on a standalone node.
    node_id: Option<String>,
    name: String,
    /// Relay budget towards the parent, kbit/s.
    uplink_kbps: u32,
    /// The link to the parent, when `[cascade] parent` is set.
    parent: Option<ParentLink>,
    /// This node's ancestors, nearest first, as the parent last told them.
    ancestors: Vec<String>,
    children: Vec<Node>,
    /// This node's relay links to its parent, one per open meeting.
    relay_links: Vec<RelayLinkView>,
    /// Child nodes' relay links into this node's meetings.
    child_relays: Vec<ChildRelayView>,
}

#[derive(Serialize, JsonSchema)]
pub struct RelayLinkView {
    meeting_id: String,
    up: bool,
    /// Bit/s over the last quarter second, towards the parent and from it.
    bitrate_up_bps: u64,
    bitrate_down_bps: u64,
    bytes_up: u64,
    bytes_down: u64,
    budget_kbps: u32,
    /// Times the link was made again after a loss.
    relinks: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct ChildRelayView {
    meeting_id: String,
    node_id: String,
    /// Its participant in this node's room.
    participant: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct NodeList {
    nodes: Vec<Node>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNodeBody {
    /// The child's `[cascade] node_id`: lowercase letters, digits, `-`; 1 to 64.
    id: String,
    name: String,
    /// The org unit the child node serves.
    unit_id: Option<String>,
    /// Relay budget from the child, kbit/s (100 to 1000000; default 20000).
    uplink_kbps: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
pub struct NodeCreated {
    node: Node,
    /// The child's credential (its `[cascade] credential`); shown in this answer only.
    credential: String,
}

#[derive(Serialize, JsonSchema)]
pub struct CredentialIssued {
    credential: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HelloBody {
    /// The child's own id; must be the node whose credential this is.
    node_id: String,
    /// The child's display name (the registered name is what counts).
    name: String,
    /// The child's ancestors as it knows them, nearest first (may be empty).
    #[serde(default)]
    path: Vec<String>,
    /// The round trip of the child's previous hello, ms.
    rtt_ms: Option<u32>,
}

impl From<CascadeError> for ApiError {
    fn from(e: CascadeError) -> Self {
        match e {
            CascadeError::Store(s) => crate::api::auth::store_error(s),
            CascadeError::Unknown(_) => ApiError::not_found("unknown_node", e.to_string()),
            CascadeError::Duplicate(_) => ApiError::conflict("duplicate_node", e.to_string()),
            CascadeError::UnknownUnit(_) => {
                ApiError::not_found("unknown_unit", e.to_string()).with_field("unit_id")
            }
            CascadeError::UnknownMeeting(_) => {
                ApiError::not_found("unknown_meeting", e.to_string())
            }
            CascadeError::Invalid { field, .. } => ApiError::invalid(field, e.to_string()),
            CascadeError::Meeting(m) => m.into(),
        }
    }
}

fn cascade(state: &AppState) -> Cascade {
    Cascade::for_node(state.store.clone(), state.cascade.node_id.clone())
}

async fn overview(State(state): State<AppState>) -> Result<Json<CascadeView>, ApiError> {
    let c = &state.cascade;
    Ok(Json(CascadeView {
        node_id: c.node_id.clone(),
        name: c.name.clone(),
        uplink_kbps: c.uplink_kbps,
        parent: c.parent(),
        ancestors: c.ancestors(),
        children: cascade(&state).list().await?,
        relay_links: state
            .relays
            .links()
            .into_iter()
            .map(|(meeting_id, l)| RelayLinkView {
                meeting_id,
                up: l.up,
                bitrate_up_bps: l.bitrate_up_bps,
                bitrate_down_bps: l.bitrate_down_bps,
                bytes_up: l.bytes_up,
                bytes_down: l.bytes_down,
                budget_kbps: l.budget_kbps,
                relinks: l.relinks,
            })
            .collect(),
        child_relays: state
            .relays
            .children()
            .into_iter()
            .map(|(meeting_id, participant, node_id)| ChildRelayView {
                meeting_id,
                node_id,
                participant,
            })
            .collect(),
    }))
}

async fn list(State(state): State<AppState>) -> Result<Json<NodeList>, ApiError> {
    Ok(Json(NodeList {
        nodes: cascade(&state).list().await?,
    }))
}

async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Node>, ApiError> {
    Ok(Json(cascade(&state).get(&id).await?))
}

async fn register(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<NewNodeBody>,
) -> Result<Response, ApiError> {
    check_len("name", &b.name, 200)?;
    if let Some(u) = &b.unit_id {
        check_len("unit_id", u, 100)?;
    }
    let (node, credential) = cascade(&state)
        .register(
            &caller.actor(),
            NewNode {
                id: b.id,
                name: b.name,
                unit_id: b.unit_id,
                uplink_kbps: b.uplink_kbps,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NodeCreated {
            node,
            credential: credential.expose().to_string(),
        }),
    )
        .into_response())
}

async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CredentialIssued>, ApiError> {
    let credential = cascade(&state).rotate(&caller.actor(), &id).await?;
    Ok(Json(CredentialIssued {
        credential: credential.expose().to_string(),
    }))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    cascade(&state).revoke(&caller.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The node whose credential `secret` is, if it is `node_id`'s: refusals
/// are audited and counted per (node id, address) and per address —
/// someone elsewhere failing with a node's id cannot lock that node out —
/// and past the limiter's counts answered 429 without a check. Shared by
/// the hello and the relay routes.
pub(super) async fn authenticate_node(
    state: &AppState,
    address: Option<std::net::IpAddr>,
    secret: &str,
    node_id: &str,
) -> Result<Node, Response> {
    let limiter = &state.cascade.limiter;
    let key = format!(
        "{}@{}",
        node_id,
        address.map(|a| a.to_string()).unwrap_or_default()
    );
    if let Err(retry_after_secs) = limiter.check(&key, address, Instant::now()) {
        tracing::warn!(node = %node_id, address = ?address, "cascade node refused: too many failures");
        return Err((
            [(header::RETRY_AFTER, retry_after_secs.to_string())],
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many refused node credentials; retry after {retry_after_secs} s"),
            ),
        )
            .into_response());
    }
    match cascade(state).authenticate(node_id, secret, address).await {
        Ok(node) => {
            limiter.record_success(&key);
            Ok(node)
        }
        Err(crate::control::cascade::NodeAuthError::Store(s)) => {
            Err(crate::api::auth::store_error(s).into_response())
        }
        Err(_) => {
            limiter.record_failure(&key, address, Instant::now());
            Err(node_unauthorized().into_response())
        }
    }
}

/// The node credential of a request, checked for its form only.
pub(super) fn node_secret(headers: &HeaderMap) -> Option<String> {
    crate::api::bearer(headers).filter(|t| t.starts_with(CREDENTIAL_PREFIX) && t.len() <= 128)
}

pub(super) fn node_unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "node_unauthorized",
        "not a valid cascade node credential for this node id",
    )
}

/// A child's hello. The credential is checked for its form before the body
/// is read (a person's token or a room's is refused at once, unaudited);
/// then the node id in the body must be the node whose credential it is —
/// a refusal there is audited and counted (5 per node id and address, 20
/// per address in 5 minutes, then 429 unaudited). Only then the loop check
/// and the link.
async fn hello(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let address = connect.map(|Extension(ConnectInfo(a))| a.ip());
    let Some(secret) =
        crate::api::bearer(&headers).filter(|t| t.starts_with(CREDENTIAL_PREFIX) && t.len() <= 128)
    else {
        tracing::warn!(address = ?address, "cascade hello without a node credential refused");
        return Err(node_unauthorized());
    };
    let JsonBody(b) = JsonBody::<HelloBody>::from_request(request, &()).await?;
    check_len("node_id", &b.node_id, 64)?;
    check_len("name", &b.name, 200)?;
    if b.path.len() > MAX_PATH {
        return Err(ApiError::invalid(
            "path",
            format!("at most {MAX_PATH} ancestors"),
        ));
    }
    if let Some((i, bad)) = b.path.iter().enumerate().find(|(_, a)| !valid_node_id(a)) {
        return Err(ApiError::invalid(
            format!("path[{i}]"),
            format!("{bad:?} is not a node id"),
        ));
    }
    // A node saying hello to itself (its parent URL is its own address):
    // refused as the trivial loop, whatever it is registered as here.
    if state.cascade.node_id.as_deref() == Some(b.node_id.as_str()) {
        let found = crate::control::cascade::Loop(vec![b.node_id.clone(), b.node_id.clone()]);
        tracing::warn!(address = ?address, "cascade hello refused: {found}");
        return Err(ApiError::conflict("cascade_loop", found.to_string()));
    }
    let node = match authenticate_node(&state, address, &secret, &b.node_id).await {
        Ok(node) => node,
        Err(refused) => return Ok(refused),
    };
    let registry = cascade(&state);
    let answer = match state.cascade.answer(&node.id, &b.path) {
        None => {
            return Err(ApiError::conflict(
                "cascade_not_configured",
                "this node has no [cascade] node_id, so it cannot be a parent",
            ));
        }
        Some(Err(found)) => {
            tracing::warn!(node = %node.id, address = ?address, "cascade hello refused: {found}");
            return Err(ApiError::conflict("cascade_loop", found.to_string()));
        }
        Some(Ok(answer)) => answer,
    };
    registry
        .hello(&node.id, address, b.rtt_ms.map(i64::from))
        .await?;
    Ok(Json(answer).into_response())
}
