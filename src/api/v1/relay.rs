//! The parent side of a relay link: a child node opens it with its node
//! credential (an SDP offer in, the answer out: a `relay` participant of
//! this node's room for the meeting), keeps it in step (`…/sync`: the rooms
//! present below it up, this node's stage, mutes and lock down) and closes
//! it (`…/leave`).
//!
//! A child relays only meetings placed on it and speaks only for the rooms
//! of its subtree (`control::cascade::placement`): a relay for a meeting
//! not placed on the child is answered exactly like one for a meeting that
//! does not exist (`404 unknown_meeting`: the meeting is not revealed) and
//! audited as `cascade.relay_refused` (at most once a minute per node and
//! meeting; every refusal is counted in /metrics); rooms outside its
//! subtree in a sync are left out, counted and logged.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cascade::{authenticate_node, node_secret, node_unauthorized};
use super::{AppState, check_len};
use crate::api::access::Action;
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::cascade::Cascade;
use crate::control::live::relay::{MAX_REPORTED_SITES, PresentSite, UpperView};
use crate::control::meetings::{MeetingError, Meetings};
use crate::media::{JoinRequest, ParticipantId, Reply, Role};
use crate::relay::book::ChildRelay;

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    api.add(
        Op::post("/api/v1/cascade/relay/{meeting}", Action::Node, "cascade")
            .summary("A child node opens its relay link for a meeting: its SDP offer, this node's answer")
            .body::<RelayOpen>()
            .returns_with::<RelayOpened>(StatusCode::CREATED),
        post(open),
    )
    .add(
        Op::post("/api/v1/cascade/relay/{meeting}/sync", Action::Node, "cascade")
            .summary("A child relay reports the rooms present below it; the answer is this node's stage, mutes and lock")
            .body::<RelaySync>()
            .returns::<UpperView>(),
        post(sync),
    )
    .add(
        Op::post("/api/v1/cascade/relay/{meeting}/leave", Action::Node, "cascade")
            .summary("A child node closes its relay link"),
        post(leave),
    )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelayOpen {
    node_id: String,
    /// The SDP offer: one video and three audio tracks it sends, as many it receives.
    offer: String,
    /// What the child's link to this node carries, kbit/s: what this node
    /// sends down the link is held under it.
    #[serde(default)]
    budget_kbps: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
pub struct RelayOpened {
    /// The relay's participant id in this node's room.
    participant: ParticipantId,
    answer: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelaySync {
    node_id: String,
    participant: ParticipantId,
    /// The rooms present on the child node and below it; left out when
    /// unchanged since the last sync this node accepted.
    #[serde(default)]
    sites: Option<Vec<PresentSite>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelayLeave {
    node_id: String,
    participant: ParticipantId,
}

/// A relay route's body: it names the node that sends it.
trait FromNode: serde::de::DeserializeOwned {
    fn node_id(&self) -> &str;
}

impl FromNode for RelayOpen {
    fn node_id(&self) -> &str {
        &self.node_id
    }
}

impl FromNode for RelaySync {
    fn node_id(&self) -> &str {
        &self.node_id
    }
}

impl FromNode for RelayLeave {
    fn node_id(&self) -> &str {
        &self.node_id
    }
}

/// A relay route's body and the node it comes from, as an extractor (the
/// last one: it reads the body). The credential's form is checked before
/// the body is read, then the credential against the node id in the body;
/// a refusal is answered as it is.
struct NodeCall<T> {
    body: T,
    node: crate::control::cascade::Node,
    address: Option<IpAddr>,
}

impl<T: FromNode + Send> FromRequest<AppState> for NodeCall<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let Some(secret) = node_secret(request.headers()) else {
            return Err(node_unauthorized().into_response());
        };
        let address = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip());
        let JsonBody(body) = JsonBody::<T>::from_request(request, &())
            .await
            .map_err(IntoResponse::into_response)?;
        check_len("node_id", body.node_id(), 64).map_err(IntoResponse::into_response)?;
        let node = authenticate_node(state, address, &secret, body.node_id()).await?;
        Ok(NodeCall {
            body,
            node,
            address,
        })
    }
}

/// The answer to a meeting not placed on the asking node: the same as for
/// a meeting that does not exist.
fn hidden(meeting: &str) -> ApiError {
    MeetingError::Unknown(meeting.to_string()).into()
}

/// A node asked for a relay of `meeting`, not placed on it: counted,
/// logged, audited (bounded) — the answer is the caller's to give.
async fn refuse(
    state: &AppState,
    node: &str,
    address: Option<IpAddr>,
    meeting: &str,
    route: &str,
) -> Result<(), ApiError> {
    tracing::warn!(
        node,
        meeting,
        route,
        "cascade: relay refused: the meeting is not placed on this child node"
    );
    if state
        .cascade
        .relay_refusals
        .refused(node, meeting, Instant::now())
    {
        Cascade::new(state.store.clone())
            .relay_refused(node, address, meeting, route)
            .await?;
    }
    Ok(())
}

/// The relay participant `participant` must be this node's child `node`'s:
/// its book entry (what the node may speak for). A node asking about a
/// relay it does not own in a meeting not placed on it is refused as such.
async fn owned_by(
    state: &AppState,
    meeting: &str,
    participant: ParticipantId,
    node: &crate::control::cascade::Node,
    address: Option<IpAddr>,
    route: &str,
) -> Result<ChildRelay, ApiError> {
    match state.relays.owner(meeting, participant) {
        Some(relay) if relay.node == node.id => Ok(relay),
        _ => {
            // Only on this path (a stale relay after a restart, or a
            // probe): is the meeting placed on the node at all?
            let placed = match Meetings::new(state.store.clone()).get(meeting).await {
                Ok(m) => state.conference.node_reach(&m, node).await?.is_placed(),
                Err(MeetingError::Unknown(_)) => true,
                Err(e) => return Err(e.into()),
            };
            if !placed {
                refuse(state, &node.id, address, meeting, route).await?;
            }
            Err(ApiError::not_found(
                "unknown_relay",
                format!(
                    "no relay {participant} of node {:?} in meeting {meeting}",
                    node.id
                ),
            ))
        }
    }
}

async fn open(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    NodeCall {
        body: b,
        node,
        address,
    }: NodeCall<RelayOpen>,
) -> Result<Response, ApiError> {
    if let Some(k) = b.budget_kbps
        && !(64..=1_000_000).contains(&k)
    {
        return Err(ApiError::invalid(
            "budget_kbps",
            "between 64 and 1000000 kbit/s",
        ));
    }
    if !b.offer.starts_with("v=0") || b.offer.len() > crate::api::whip::MAX_SDP_BYTES {
        return Err(ApiError::invalid("offer", "an SDP offer of at most 64 KiB"));
    }
    let m = Meetings::new(state.store.clone()).get(&meeting).await?;
    let reach = state.conference.node_reach(&m, &node).await?;
    if !reach.is_placed() {
        refuse(&state, &node.id, address, &meeting, "open").await?;
        return Err(hidden(&meeting));
    }
    let room = state.conference.live_room(&m).await?;
    let name = format!("Liên kết tầng: {}", node.name);
    let req = JoinRequest {
        participant: 0,
        room: meeting.clone(),
        name: name.clone(),
        role: Role::Relay,
        // What this node sends down is budgeted by the child's uplink.
        max_kbps: b.budget_kbps,
        offer: b.offer,
    };
    let (id, reply) = state.media.join(req).await?;
    let Reply::Joined { answer, .. } = reply else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "unexpected engine reply",
        ));
    };
    state.relays.opened(&meeting, id, &node.id, reach);
    let node_id = node.id.clone();
    state
        .live
        .apply(&room, |live, _| {
            live.child_relay_connected(id, &node_id);
            Ok(((), Vec::new()))
        })
        .await
        .map_err(ApiError::from)?;
    tracing::info!(meeting, node = %node.id, participant = id, "cascade: child relay opened");
    Ok((
        StatusCode::CREATED,
        Json(RelayOpened {
            participant: id,
            answer,
        }),
    )
        .into_response())
}

async fn sync(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    NodeCall {
        body: b,
        node,
        address,
    }: NodeCall<RelaySync>,
) -> Result<Response, ApiError> {
    let sites = b.sites.as_deref().unwrap_or_default();
    if sites.len() > MAX_REPORTED_SITES {
        return Err(ApiError::invalid(
            "sites",
            format!("at most {MAX_REPORTED_SITES} rooms"),
        ));
    }
    for (i, s) in sites.iter().enumerate() {
        check_len(&format!("sites[{i}].endpoint_id"), &s.endpoint_id, 64)?;
        check_len(&format!("sites[{i}].name"), &s.name, 200)?;
    }
    let relay = owned_by(&state, &meeting, b.participant, &node, address, "sync").await?;
    // Only the rooms of the node's subtree: a child cannot make another
    // room appear present here (and so on the roll call above).
    let sites = b.sites.map(|sites| {
        let (kept, ignored) = relay.reach.keep_own(sites);
        if !ignored.is_empty() {
            state.cascade.relay_refusals.presence_ignored(ignored.len());
            tracing::warn!(
                node = %node.id,
                meeting,
                ignored = ignored.len(),
                first = ?ignored.iter().take(5).collect::<Vec<_>>(),
                "cascade: presence ignored for rooms outside the child node's subtree"
            );
        }
        kept
    });
    let room = state.live.get(&meeting).ok_or_else(|| {
        ApiError::conflict(
            "meeting_not_open",
            format!("meeting {meeting} is not open here"),
        )
    })?;
    let view = state
        .live
        .apply(&room, |live, _| {
            let fx = match &sites {
                Some(sites) => live.relay_sites(b.participant, sites)?,
                None => {
                    // Unchanged below; still, only a child relay may ask.
                    live.relay_sites_unchanged(b.participant)?;
                    Vec::new()
                }
            };
            Ok((live.upper_view(), fx))
        })
        .await
        .map_err(ApiError::from)?;
    Ok(Json(view).into_response())
}

async fn leave(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    NodeCall {
        body: b,
        node,
        address,
    }: NodeCall<RelayLeave>,
) -> Result<Response, ApiError> {
    owned_by(&state, &meeting, b.participant, &node, address, "leave").await?;
    let id = b.participant;
    let _ = state
        .media
        .participant_command(id, crate::media::Command::Leave { participant: id })
        .await;
    state.media.forget(id);
    state.relays.closed(&meeting, id);
    state.live.disconnected(&meeting, id).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
