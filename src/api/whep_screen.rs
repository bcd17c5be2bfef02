//! WHEP of the meeting's composite for the hall's big screen:
//! `POST /whep/{meeting}/composite` (an SDP offer, as any WHEP player) is
//! answered with the composite picture in H.264 and the program mix in
//! Opus, sub-second behind the rooms — the same encoding the HLS stream,
//! the recording and the SIP rooms get, sent through the room's engine as
//! a `Role::Screen` participant (`media::composite`). `DELETE` of the
//! Location ends it, as for any WHEP session (`whip::delete`).
//!
//! Who may watch: exactly whom the HLS player lets in (`MeetingsRead` on
//! the meeting, by a session cookie with its CSRF token or a bearer token;
//! a stranger gets a missing meeting's 404), then the media admission
//! (`conference::admit`, a screen is a player: listed, never on the roll
//! call). The composite starts if the meeting is not streaming yet — an
//! audited live action, as for a SIP room — and the screen's feed runs
//! while any screen watches (`compose::screen`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::access::{Action, Caller};
use super::auth::ClientAddr;
use super::{ApiError, AppState, bearer};
use crate::conference::Credential;
use crate::media::Role;

/// Whether an offer can take the composite: H.264 video (Chromium offers
/// constrained baseline with packetization mode 1, which is what the
/// composer's OpenH264 encodes).
fn offers_h264(sdp: &str) -> bool {
    sdp.lines().any(|l| {
        l.strip_prefix("a=rtpmap:")
            .and_then(|r| r.split_whitespace().nth(1))
            .is_some_and(|c| c.to_ascii_uppercase().starts_with("H264/"))
    })
}

pub async fn post(
    State(state): State<AppState>,
    Path(meeting): Path<String>,
    headers: HeaderMap,
    ClientAddr(address): ClientAddr,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    // The HLS player's right, and its refusals, first.
    super::v1::meetings::acting_on(&state, &caller, &meeting, Action::MeetingsRead).await?;
    let token = bearer(&headers);
    let cookie = super::auth::session_cookie(&headers);
    let credential = match (&token, &cookie) {
        (Some(t), _) => Credential::Token(t),
        (None, Some(c)) => Credential::Session(c),
        // The extractor let neither through otherwise.
        (None, None) => return Err(ApiError::unauthorized("log in first")),
    };
    let admission = state
        .conference
        .admit(&meeting, credential, Role::Screen, address)
        .await?;
    let offer = super::whip::read_offer(&headers, &body)?;
    if !offers_h264(&offer) {
        return Err(ApiError::bad_request(
            "no_h264",
            "the offer has no H.264 video; the composite is sent as H.264 (constrained baseline)",
        ));
    }
    let feed = state
        .conference
        .composite_for(&meeting, crate::compose::layout::OutputKind::Screen)
        .await
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no_composite",
                "the meeting's composite cannot run now (is the meeting live?)",
            )
        })?;
    let (response, participant) = super::whip::join(
        &state,
        &meeting,
        &headers,
        &admission,
        offer,
        Role::Screen,
        "whep",
    )
    .await?;
    if let Some(composer) = state.conference.composer() {
        composer.feed_screen(&meeting, participant, state.media.clone(), feed);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_offer_with_h264_takes_the_composite() {
        let chromium = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n";
        assert!(offers_h264(chromium));
        let vp8 = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert!(!offers_h264(vp8));
        assert!(offers_h264("a=rtpmap:100 h264/90000"));
    }
}
