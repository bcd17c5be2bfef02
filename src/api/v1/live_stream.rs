//! The composite live stream as a live action: `POST …/live/stream` starts
//! it (with a layout, or automatic), changes its layout or stops it,
//! through the conference layer like every live action (audited, consoles
//! told); the stream itself is served at `/live/{meeting}/…` (`api::hls`).

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::post;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::compose::layout::{Layout, OutputKind};
use crate::control::live::LiveSnapshot;

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    api.add(
        Op::post(
            "/api/v1/meetings/{id}/live/stream",
            Action::LiveControl,
            "live",
        )
        .summary("Start, re-lay or stop the composite live stream (HLS at /live/{id}/index.m3u8)")
        .body::<StreamBody>()
        .returns::<LiveSnapshot>(),
        post(stream),
    )
    .add(
        Op::post(
            "/api/v1/meetings/{id}/live/output-layout",
            Action::LiveControl,
            "live",
        )
        .summary("Give one composite output (stream, recording, sip, screen) its own layout, or let it follow the meeting's")
        .body::<OutputLayoutBody>()
        .returns::<LiveSnapshot>(),
        post(output_layout),
    )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputLayoutBody {
    /// `stream` (the internal live stream), `recording` (the program
    /// recording's composite), `sip` (what SIP room systems receive) or
    /// `screen` (the hall screens).
    output: String,
    /// A layout (`stage`, `one_plus5`, `one_plus7`, `grid2x2`, `grid3x3`,
    /// `grid4x4`, `presenter`); null: the meeting's layout.
    layout: Option<String>,
}

async fn output_layout(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<OutputLayoutBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let output = b
        .output
        .parse::<OutputKind>()
        .map_err(|e| ApiError::invalid("output", &e))?;
    let layout = match &b.layout {
        Some(l) => Some(
            l.parse::<Layout>()
                .map_err(|e| ApiError::invalid("layout", &e))?,
        ),
        None => None,
    };
    let m = super::meetings::acting_on(&state, &caller, &id, Action::LiveControl).await?;
    let room = state.conference.live_room(&m).await?;
    let details = json!({"output": output.as_str(), "layout": layout.map(|l| l.as_str())});
    let snapshot = state
        .conference
        .act(
            &caller.who(),
            &room,
            "composite_layout",
            details,
            |live, now| {
                let effects = live.set_output_layout(output, layout);
                Ok((live.snapshot(now), effects))
            },
        )
        .await?;
    if layout == Some(Layout::Presenter) {
        super::composite_page::refresh(&state, &id);
    }
    Ok(Json(snapshot))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamBody {
    /// Run the stream (false: stop it).
    on: bool,
    /// `stage`, `one_plus5`, `one_plus7`, `grid2x2`, `grid3x3`, `grid4x4`
    /// or `presenter` (the page-sync document page beside the stage);
    /// absent or null: automatic (the stage alone while one room sends
    /// video, else 1+7).
    #[serde(default)]
    layout: Option<String>,
}

async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<StreamBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let layout = match (&b.layout, b.on) {
        (Some(l), true) => Some(
            l.parse::<Layout>()
                .map_err(|e| ApiError::invalid("layout", &e))?,
        ),
        (Some(_), false) => {
            return Err(ApiError::invalid(
                "layout",
                "a layout goes with on: true (stopping takes none)",
            ));
        }
        (None, _) => None,
    };
    let m = super::meetings::acting_on(&state, &caller, &id, Action::LiveControl).await?;
    let room = state.conference.live_room(&m).await?;
    let what = if b.on {
        "live_stream_start"
    } else {
        "live_stream_stop"
    };
    let details = json!({"layout": layout.map(|l| l.as_str())});
    let snapshot = state
        .conference
        .act(&caller.who(), &room, what, details, |live, now| {
            let effects = if b.on {
                live.start_stream(layout)
            } else {
                live.stop_stream()
            };
            Ok((live.snapshot(now), effects))
        })
        .await?;
    if layout == Some(Layout::Presenter) {
        super::composite_page::refresh(&state, &id);
    }
    Ok(Json(snapshot))
}

/// `[live_stream] automatic`: the stream starts as the meeting goes live,
/// as the operator who started it (audited like a hand-started one). A
/// failure is logged; the meeting goes live anyway.
pub async fn start_automatically(
    state: &AppState,
    caller: &Caller,
    m: &crate::control::meetings::Meeting,
) {
    let started = async {
        let room = state.conference.live_room(m).await?;
        state
            .conference
            .act_by(
                caller.actor(),
                &room,
                "live_stream_start",
                json!({"layout": null, "automatic": true}),
                |live, _| Ok(((), live.start_stream(None))),
            )
            .await?;
        Ok::<(), ApiError>(())
    };
    if let Err(e) = started.await {
        tracing::error!(meeting = %m.id, error = ?e, "the live stream did not start");
    }
}
