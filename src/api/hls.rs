//! The internal live stream over HTTP: `/live/{meeting}/index.m3u8`, its
//! `init.mp4` and numbered `.m4s` segments (fMP4, H.264 + Opus), and the
//! player page `/live/{meeting}`. Only callers the meeting's access rules
//! let read it (a session cookie — Chromium plays HLS natively and sends
//! it — or a bearer token) get the playlist or any segment; anyone else
//! gets the answer for a meeting that does not exist. A meeting that is
//! not streaming answers 404 `not_streaming`.
//!
//! Every viewer is served the same shared `Bytes` of a segment: a slow
//! viewer holds one segment, never a copy or a queue of its own.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::access::{Action, Caller};
use super::{ApiError, AppState};
use crate::compose::hls::Stream;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/live/{meeting}", get(player))
        .route("/live/{meeting}/index.m3u8", get(playlist))
        .route("/live/{meeting}/init.mp4", get(init))
        // The hall's big screen: the composite over WHEP (`whep_screen`).
        .route("/live/{meeting}/screen", get(screen))
        .route("/live/{meeting}/{segment}", get(segment))
}

async fn player() -> Html<&'static str> {
    Html(super::assets::page("live.html"))
}

/// "Màn hình hội trường": the composite full screen, sub-second (WHEP).
async fn screen() -> Html<&'static str> {
    Html(super::assets::page("screen.html"))
}

/// The meeting's stream, once the caller may read the meeting.
async fn stream_of(
    state: &AppState,
    caller: &Caller,
    meeting: &str,
) -> Result<std::sync::Arc<std::sync::Mutex<Stream>>, ApiError> {
    super::v1::meetings::acting_on(state, caller, meeting, Action::MeetingsRead).await?;
    state
        .composer
        .live(meeting)
        .map(|l| l.stream)
        .ok_or_else(|| ApiError::not_found("not_streaming", "this meeting is not streaming now"))
}

fn answer(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Playlists change every segment; segments never change but
            // are private to the meeting's readers.
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn playlist(
    State(state): State<AppState>,
    caller: Caller,
    Path(meeting): Path<String>,
) -> Result<Response, ApiError> {
    let s = stream_of(&state, &caller, &meeting).await?;
    let s = s.lock().expect("hls lock");
    if s.init.is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stream_starting",
            "the stream is starting; try again in a few seconds",
        ));
    }
    Ok(answer("application/vnd.apple.mpegurl", s.playlist()))
}

async fn init(
    State(state): State<AppState>,
    caller: Caller,
    Path(meeting): Path<String>,
) -> Result<Response, ApiError> {
    let s = stream_of(&state, &caller, &meeting).await?;
    let init = s.lock().expect("hls lock").init.clone();
    init.map(|b| answer("video/mp4", b))
        .ok_or_else(|| ApiError::not_found("not_yet", "the stream has no picture yet"))
}

async fn segment(
    State(state): State<AppState>,
    caller: Caller,
    Path((meeting, segment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let n: u64 = segment
        .strip_suffix(".m4s")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ApiError::not_found("not_found", "no such segment"))?;
    let s = stream_of(&state, &caller, &meeting).await?;
    let data = s.lock().expect("hls lock").segment(n);
    data.map(|b| answer("video/iso.segment", b)).ok_or_else(|| {
        ApiError::not_found(
            "segment_gone",
            format!("segment {n} is not in the live window"),
        )
    })
}
