//! HTTP surface: the axum router, auth extraction, the one error mapping,
//! health, metrics, the room page and the live room controls.

pub mod access;
pub mod assets;
pub mod auth;
pub mod error;
pub mod harden;
pub mod hls;
pub mod jsdoc;
pub(crate) mod metrics;
pub mod openapi;
pub mod uplink;
pub mod v1;
pub mod whep_screen;
pub mod whip;
pub mod ws;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub use error::{ApiError, JsonBody};

use crate::conference::ConferenceError;
use crate::control::{AccessError, JoinTokens};
use crate::net::Media;
use crate::signal::hub::Hub;

#[derive(Clone)]
pub struct AppState {
    pub media: Media,
    pub hub: Arc<Hub>,
    pub meetings: Arc<JoinTokens>,
    /// The database (org tree, endpoints, audit log).
    pub store: crate::store::Store,
    /// Live control of open meetings.
    pub live: Arc<crate::signal::live::LiveRooms>,
    /// The server's data directory (documents, recordings live under it).
    pub data_dir: std::path::PathBuf,
    /// Meeting documents (object store, upload limit from the config).
    pub documents: crate::control::documents::Documents,
    /// Where recordings (and documents) are kept: local or S3 (`[objects]`).
    pub objects: crate::objects::Objects,
    /// The recorder thread, and when and how much it may record.
    pub recorder: crate::recorder::Recorder,
    pub recording: crate::config::RecordingConfig,
    /// The composite's thread (its HLS streams) and when it starts.
    pub composer: crate::compose::Composer,
    pub live_stream: crate::config::LiveStreamConfig,
    /// PEM of the generated local CA, offered at /ca.pem for rooms to trust.
    pub ca_pem: Option<Arc<str>>,
    /// This node's place in the cascade: its id, its parent link, its ancestors.
    pub cascade: Arc<crate::control::cascade::CascadeState>,
    /// Relay participants of child nodes in this node's rooms.
    pub relays: Arc<crate::relay::Relays>,
    /// Who may do what on a meeting; live rooms; audited live actions.
    pub conference: crate::conference::Conference,
    /// Console users, their sessions and API tokens: one per server, as it
    /// holds the login throttle and the password verification slots.
    pub people: crate::control::people::People,
    /// The keys of the secret votes this node opened (memory only).
    pub ballots: Arc<crate::control::ballot_box::BallotBox>,
    /// The organisation's seal (`[signatures]`), opened at first use.
    pub seal: Arc<crate::sign::keys::Seal>,
    /// The anchors and CRLs signed PDFs are checked against.
    pub trust: crate::control::trust::TrustStore,
    /// The one re-check of every signed document that may run at a time.
    pub recheck: Arc<crate::control::documents::signatures::RecheckProgress>,
    /// The SIP listener's counters, when `[sip]` is on.
    pub sip: Option<Arc<crate::sip::metrics::SipMetrics>>,
    /// The SIP digest realm room passwords are issued under (`[sip] realm`).
    pub sip_realm: String,
}

impl From<ConferenceError> for ApiError {
    fn from(e: ConferenceError) -> Self {
        let message = e.to_string();
        match e {
            ConferenceError::Hidden(_) => ApiError::not_found("unknown_meeting", message),
            ConferenceError::Forbidden { code, .. } => ApiError::forbidden(code, message),
            ConferenceError::Unauthorized(m) => ApiError::unauthorized(m),
            ConferenceError::NotOpen { .. } => ApiError::conflict("meeting_not_open", message),
            ConferenceError::InLobby => ApiError::forbidden("in_lobby", message),
            ConferenceError::Live(l) => l.into(),
            ConferenceError::Meeting(m) => m.into(),
            ConferenceError::Store(s) => auth::store_error(s),
            ConferenceError::NotAudited(s) => {
                tracing::error!(error = %s, "an action was refused: its audit record could not be written");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_audited", message)
            }
            ConferenceError::Media(m) => m.into(),
            ConferenceError::BadPlan { code, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            ConferenceError::Conflict { code, .. } => ApiError::conflict(code, message),
            ConferenceError::Invalid { field, .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "out_of_range", message).with_field(field)
            }
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::UnknownMeeting(_) => ApiError::not_found("unknown_meeting", e.to_string()),
            AccessError::MissingToken | AccessError::WrongToken(_) => {
                ApiError::unauthorized(e.to_string())
            }
        }
    }
}

/// `Authorization: Bearer <token>`; on a WebSocket upgrade also the
/// subprotocol `diemcau.bearer.<token>`, because a browser's WebSocket
/// cannot set headers (a room page following its meeting's events). The
/// server answers with the plain `diemcau` subprotocol, never echoing the
/// token.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(WS_BEARER_PREFIX))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The WebSocket subprotocol prefix that carries a bearer token.
pub const WS_BEARER_PREFIX: &str = "diemcau.bearer.";

/// The OpenAPI document, built once with the router.
#[derive(Clone)]
pub struct OpenApiDoc(pub Arc<serde_json::Value>);

/// The demo meeting's raw room controls, by its join token: only where a
/// join-token meeting exists (`diemcau demo`, or `[demo] token`); planned
/// meetings are run through `/api/v1/meetings/{id}/live/…`.
fn demo_routes(state: &AppState) -> Router<AppState> {
    if !state.meetings.exists(crate::DEMO_MEETING) {
        return Router::new();
    }
    Router::new()
        .route("/rooms/{meeting}/participants", get(participants))
        .route("/rooms/{meeting}/stage", post(set_stage))
        .route("/rooms/{meeting}/participants/{id}/mute", post(mute))
}

pub fn router(state: AppState) -> Router {
    let people = state.people.clone();
    let endpoints = crate::control::endpoints::Endpoints::new(state.store.clone());
    let api = v1::api().add(
        openapi::Op::get("/api/v1/openapi.json", access::Action::Public, "meta")
            .summary("This API's OpenAPI 3.1 description")
            .returns::<serde_json::Value>(),
        get(
            |axum::Extension(doc): axum::Extension<OpenApiDoc>| async move {
                Json(doc.0.as_ref().clone())
            },
        ),
    );
    let (api_router, ops) = api.into_parts();
    let doc = OpenApiDoc(Arc::new(openapi::document(&ops)));
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/ca.pem", get(ca_pem))
        .route("/room/{meeting}", get(room_page))
        // Every script, style and image of the pages (build.rs's table of web/).
        .route("/assets/{*path}", get(assets::serve))
        // The operator console and secretariat portal: one page, routed in
        // the browser (`/console/...`), all of it embedded.
        .route("/console", get(console_page))
        .route("/console/{*rest}", get(console_page))
        // The secretariat portal: agenda, documents, votes, minutes.
        .route("/portal", get(portal_page))
        .route("/portal/{*rest}", get(portal_page))
        // The delegate's tablet view: documents, private notes, votes.
        .route("/delegate", get(delegate_page))
        .route("/delegate/{*rest}", get(delegate_page))
        .route("/ws", get(ws::upgrade))
        .route("/whip/{meeting}", post(whip::whip_post))
        .route("/whep/{meeting}", post(whip::whep_post))
        // The composite for a hall screen (a static segment: `{id}` below
        // takes only DELETE and PATCH).
        .route("/whep/{meeting}/composite", post(whep_screen::post))
        .route(
            "/whip/{meeting}/{id}",
            axum::routing::delete(whip::delete).patch(whip::patch),
        )
        .route(
            "/whep/{meeting}/{id}",
            axum::routing::delete(whip::delete).patch(whip::patch),
        )
        .merge(hls::routes())
        .merge(demo_routes(&state))
        .merge(api_router)
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .layer(axum::Extension(people))
        .layer(axum::Extension(endpoints))
        .layer(axum::Extension(doc))
        // Outermost: every answer gets the security headers, and a
        // WebSocket upgrade from another site's page is refused before any
        // route sees it.
        .layer(axum::middleware::from_fn(harden::harden))
        .with_state(state)
}

/// The metrics listener's router: `/metrics` only. Not on the public
/// listeners: it names meetings and rooms, and Prometheus scrapes from the
/// inside anyway, so a listener of its own (loopback by default) needs no
/// credential that a scraper would have to keep.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { ApiError::not_found("not_found", "only /metrics is served here") })
        .with_state(state)
}

/// The landing page: who are you (operator, secretary, delegate, room),
/// each to its page, and the local CA to download; Vietnamese first.
async fn index() -> Html<&'static str> {
    Html(assets::page("index.html"))
}

/// Up or not, nothing more: anyone can ask, so it tells no one what is
/// wrong (the server log does).
async fn healthz(State(state): State<AppState>) -> Response {
    if state.media.healthy().await {
        (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response()
    } else {
        tracing::warn!("healthz: a media worker does not answer");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "not_ok"})),
        )
            .into_response()
    }
}

async fn ca_pem(State(state): State<AppState>) -> Response {
    match state.ca_pem {
        Some(pem) => (
            [
                (header::CONTENT_TYPE, "application/x-pem-file"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"diemcau-ca.pem\"",
                ),
            ],
            pem.to_string(),
        )
            .into_response(),
        None => ApiError::not_found(
            "no_local_ca",
            "this server uses an operator-supplied certificate",
        )
        .into_response(),
    }
}

async fn portal_page() -> Response {
    Html(assets::page("portal.html")).into_response()
}

async fn delegate_page() -> Response {
    Html(assets::page("delegate.html")).into_response()
}

async fn console_page() -> Response {
    Html(assets::page("console.html")).into_response()
}

async fn room_page(State(state): State<AppState>, Path(meeting): Path<String>) -> Response {
    let page = assets::page("room.html");
    let known = state.meetings.exists(&meeting)
        || crate::control::meetings::Meetings::new(state.store.clone())
            .get(&meeting)
            .await
            .is_ok();
    if !known {
        // The page itself reports the error in Vietnamese after joining fails;
        // still answer 404 so scripts and monitors see it.
        return (StatusCode::NOT_FOUND, Html(page)).into_response();
    }
    Html(page).into_response()
}

async fn participants(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .conference
        .demo()
        .authorize(&meeting, bearer(&headers).as_deref())?;
    Ok(Json(serde_json::json!({"participants": state.hub.participants(&meeting)})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageBody {
    participants: Vec<String>,
}

fn parse_ids(ids: &[String]) -> Result<Vec<u64>, ApiError> {
    ids.iter()
        .map(|s| {
            s.parse().map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_participant",
                    format!("{s:?} is not a participant id"),
                )
            })
        })
        .collect()
}

/// Who acted through a demo control, for the audit log.
fn demo_actor(address: Option<std::net::IpAddr>) -> crate::store::Actor {
    crate::store::Actor {
        id: "demo".into(),
        name: "demo join token".into(),
        address,
    }
}

async fn set_stage(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    headers: HeaderMap,
    auth::ClientAddr(address): auth::ClientAddr,
    JsonBody(body): JsonBody<StageBody>,
) -> Result<Response, ApiError> {
    let participants = parse_ids(&body.participants)?;
    state
        .conference
        .demo_command(
            &meeting,
            bearer(&headers).as_deref(),
            &demo_actor(address),
            crate::conference::DemoAction::Stage(participants),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MuteBody {
    audio: Option<bool>,
    video: Option<bool>,
}

async fn mute(
    State(state): State<AppState>,
    Path((meeting, id)): Path<(String, String)>,
    headers: HeaderMap,
    auth::ClientAddr(address): auth::ClientAddr,
    JsonBody(body): JsonBody<MuteBody>,
) -> Result<Response, ApiError> {
    let id = parse_ids(&[id])?[0];
    state
        .conference
        .demo_command(
            &meeting,
            bearer(&headers).as_deref(),
            &demo_actor(address),
            crate::conference::DemoAction::Mute {
                participant: id,
                audio: body.audio,
                video: body.video,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
