//! WHIP (RFC 9725) and WHEP: one HTTP POST of an SDP offer, a 201 with the
//! answer and a Location to DELETE. Any WHIP encoder (OBS, GStreamer) can be
//! an endpoint; any WHEP player receives the stage and the selected audio.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{ApiError, AppState, bearer};
use crate::media::{Command, JoinRequest, Reply, Role};

/// Largest SDP we parse: real offers are a few KiB; this bounds memory per request.
pub const MAX_SDP_BYTES: usize = 64 * 1024;

fn read_offer(headers: &HeaderMap, body: &Bytes) -> Result<String, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/sdp") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("content-type must be application/sdp, got {ct:?}"),
        ));
    }
    if body.len() > MAX_SDP_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "sdp offer over 64 KiB",
        ));
    }
    let sdp = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("bad_sdp", "sdp is not utf-8"))?;
    if !sdp.starts_with("v=0") {
        return Err(ApiError::bad_request(
            "bad_sdp",
            "body is not an sdp offer (must start with v=0)",
        ));
    }
    Ok(sdp.to_string())
}

async fn create(
    state: AppState,
    meeting: String,
    headers: HeaderMap,
    body: Bytes,
    role: Role,
    kind: &str,
) -> Result<Response, ApiError> {
    let admission = super::gate::admit(&state, &meeting, bearer(&headers).as_deref(), role).await?;
    let offer = read_offer(&headers, &body)?;
    let name: String = headers
        .get("x-diemcau-name")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| admission.name.clone())
        .unwrap_or_else(|| format!("{kind} client"))
        .chars()
        .take(80)
        .collect();
    let req = JoinRequest {
        participant: 0,
        room: meeting.clone(),
        name: name.clone(),
        role,
        max_kbps: admission.max_kbps,
        offer,
    };
    let (id, reply) = state.media.join(req).await?;
    super::gate::connected(&state, &meeting, &admission, id, &name, role).await?;
    let Reply::Joined { answer, .. } = reply else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "unexpected engine reply",
        ));
    };
    let location = format!("/{kind}/{meeting}/{id}");
    Ok((
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_string()),
            (header::LOCATION, location),
            (header::ETAG, format!("\"{id}\"")),
        ],
        answer,
    )
        .into_response())
}

pub async fn whip_post(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    create(state, meeting, headers, body, Role::Publisher, "whip").await
}

pub async fn whep_post(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    create(state, meeting, headers, body, Role::Viewer, "whep").await
}

pub async fn delete(
    State(state): State<AppState>,
    Path((meeting, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Whoever may join may hang up their own session (the Location is
    // only known to the one who created it).
    super::gate::admit(&state, &meeting, bearer(&headers).as_deref(), Role::Viewer).await?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::not_found("unknown_session", format!("no session {id:?}")))?;
    if state.media.room_of(id).as_deref() != Some(meeting.as_str()) {
        return Err(ApiError::not_found(
            "unknown_session",
            format!("no session {id} in meeting {meeting:?}"),
        ));
    }
    state
        .media
        .participant_command(id, Command::Leave { participant: id })
        .await?;
    state.media.forget(id);
    Ok(StatusCode::OK.into_response())
}

/// Trickle ICE and ICE restarts by PATCH are not needed: the server is
/// ICE-lite with its one candidate in the answer (RFC 9725 allows 405).
pub async fn patch() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "no_trickle",
        "trickle ICE is not used; the answer has the server's candidate",
    )
    .into_response()
}
