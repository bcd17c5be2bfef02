//! WHIP (RFC 9725) and WHEP: one HTTP POST of an SDP offer, a 201 with the
//! answer and a Location to DELETE. Any WHIP encoder (OBS, GStreamer) can be
//! an endpoint; any WHEP player receives the stage and the selected audio.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{ApiError, AppState, bearer};
use crate::conference::resources::Resource;
use crate::conference::{Action, Credential};
use crate::media::{Command, JoinRequest, Reply, Role};

use crate::api::auth::ClientAddr;

/// Largest SDP we parse: real offers are a few KiB; this bounds memory per request.
pub const MAX_SDP_BYTES: usize = 64 * 1024;

pub(super) fn read_offer(headers: &HeaderMap, body: &Bytes) -> Result<String, ApiError> {
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
    address: Option<std::net::IpAddr>,
    body: Bytes,
    role: Role,
    kind: &str,
) -> Result<Response, ApiError> {
    let token = bearer(&headers).unwrap_or_default();
    let admission = state
        .conference
        .admit(&meeting, Credential::Token(&token), role, address)
        .await?;
    let offer = read_offer(&headers, &body)?;
    Ok(
        join(&state, &meeting, &headers, &admission, offer, role, kind)
            .await?
            .0,
    )
}

/// Join an admitted client to the meeting's room with its offer: the 201
/// with the answer and the resource to DELETE, and its participant id.
pub(super) async fn join(
    state: &AppState,
    meeting: &str,
    headers: &HeaderMap,
    admission: &crate::conference::Admission,
    offer: String,
    role: Role,
    kind: &str,
) -> Result<(Response, crate::media::ParticipantId), ApiError> {
    let meeting = meeting.to_string();
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
    state
        .conference
        .connected(&meeting, admission, id, &name, role)
        .await?;
    let Reply::Joined { answer, .. } = reply else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "unexpected engine reply",
        ));
    };
    let owner = admission
        .endpoint
        .clone()
        .or_else(|| admission.user.clone())
        .unwrap_or_else(|| "demo".into());
    let media = state.media.clone();
    let resource = state.conference.resources().insert(
        Resource {
            participant: id,
            meeting: meeting.clone(),
            owner,
        },
        |p| media.room_of(p).is_some(),
    );
    let location = format!("/{kind}/{meeting}/{resource}");
    let response = (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_string()),
            (header::LOCATION, location),
            (header::ETAG, format!("\"{resource}\"")),
            // The participant id the roll call and live events name it by
            // (not a capability: the Location is).
            (
                header::HeaderName::from_static("x-diemcau-participant"),
                id.to_string(),
            ),
        ],
        answer,
    )
        .into_response();
    Ok((response, id))
}

pub async fn whip_post(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    headers: HeaderMap,
    ClientAddr(address): ClientAddr,
    body: Bytes,
) -> Result<Response, ApiError> {
    create(
        state,
        meeting,
        headers,
        address,
        body,
        Role::Publisher,
        "whip",
    )
    .await
}

pub async fn whep_post(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    headers: HeaderMap,
    ClientAddr(address): ClientAddr,
    body: Bytes,
) -> Result<Response, ApiError> {
    create(state, meeting, headers, address, body, Role::Viewer, "whep").await
}

pub async fn delete(
    State(state): State<AppState>,
    Path((meeting, id)): Path<(String, String)>,
    headers: HeaderMap,
    ClientAddr(address): ClientAddr,
) -> Result<Response, ApiError> {
    let unknown = || ApiError::not_found("unknown_session", format!("no session {id:?}"));
    let token = bearer(&headers).unwrap_or_default();
    let cookie = crate::api::auth::session_cookie(&headers).filter(|_| token.is_empty());
    let conference = &state.conference;
    // Its creator hangs up (the same credential), or an operator of the
    // meeting throws it out; anyone else learns nothing, not even that it
    // exists.
    let resource = conference
        .resources()
        .get(&meeting, &id)
        .ok_or_else(unknown)?;
    if conference.demo().exists(&meeting) {
        if conference.demo().authorize(&meeting, Some(&token)).is_err() || resource.owner != "demo"
        {
            return Err(unknown());
        }
    } else {
        // A page (the hall screen's) hangs up with its session cookie and
        // the CSRF token that goes with it; anything else by its token.
        let credential = match &cookie {
            Some(c) => {
                let sent = headers
                    .get(crate::api::auth::CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !crate::control::people::csrf_matches(c, sent) {
                    return Err(unknown());
                }
                Credential::Session(c)
            }
            None => Credential::Token(&token),
        };
        let who = conference.authenticate(credential, address).await?;
        let mine = who.endpoint_id().or(who.user().map(|u| u.id.as_str()))
            == Some(resource.owner.as_str());
        if !mine
            && conference
                .authorize(&who, &meeting, Action::LiveControl)
                .await
                .is_err()
        {
            return Err(unknown());
        }
        // Throwing out someone else's session is a live action: on the
        // record before it happens, or not at all.
        let details = serde_json::json!({
            "participant": resource.participant,
            "owner": resource.owner,
            "by_owner": mine,
        });
        conference
            .audit(&who.actor, "media.hung_up", &meeting, &details)
            .await
            .map_err(crate::conference::ConferenceError::NotAudited)?;
    }
    conference.resources().remove(&id);
    let participant = resource.participant;
    if state.media.room_of(participant).as_deref() == Some(meeting.as_str()) {
        state
            .media
            .participant_command(participant, Command::Leave { participant })
            .await?;
        state.media.forget(participant);
    }
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
