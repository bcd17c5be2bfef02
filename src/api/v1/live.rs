//! Live meeting control over HTTP, and the consoles' event stream.
//!
//! Every action goes through `signal::live::LiveRooms::apply`: the pure
//! `control::live` state decides, the media engine and the consoles are
//! told, and the answer is the new snapshot. Consoles watch
//! `GET …/live/events` (WebSocket): a snapshot first, then one JSON event
//! per change, each with a `seq`, within the tick (200 ms) of the change;
//! every 2 s `link_stats` (each connected room's link as the server
//! measures it), and `link_degraded` / `link_recovered`. `GET …/live/links`
//! gives the last 5 minutes of those samples to a console that opens late
//! (a room endpoint's own stream leaves the link events out).

use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::live::{Effect, LinksView, LiveError, LiveMeeting, LiveSnapshot, Scene};
use crate::control::meetings::Meeting;
use crate::signal::live::LiveRoom;

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{FloorChair, FloorSelf, Headcount, LiveControl, LiveRead};
    const T: &str = "live";
    let p = |s: &'static str| s;
    api.add(
        Op::get(p("/api/v1/meetings/{id}/live"), LiveRead, T)
            .summary("The live state: roll call, quorum, stage, scan, floor queue, lock, scene")
            .returns::<LiveSnapshot>(),
        get(snapshot),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/live/links", LiveRead, T)
            .summary("Each room's link quality over the last 5 minutes, as the server measured it every 2 s: received kbit/s, loss in and out (%), RTT, bandwidth estimate; and whether it is degraded now")
            .returns::<LinksView>(),
        get(links),
    )
    .add(
        Op::get("/api/v1/meetings/{id}/live/events", LiveRead, T)
            .summary("WebSocket: a snapshot, then every change as a JSON event with a sequence number")
            .websocket_of::<crate::signal::event::MeetingEvent>(),
        get(events),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/mute", LiveControl, T)
            .summary("Mute or unmute one room's audio and/or video (an operator mute holds)")
            .body::<MuteBody>()
            .returns::<LiveSnapshot>(),
        post(mute),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/mute-all", LiveControl, T)
            .summary("Mute every room except those on stage")
            .body::<MuteAllBody>()
            .returns::<LiveSnapshot>(),
        post(mute_all),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/unmute-all", LiveControl, T)
            .summary("Lift every operator mute")
            .returns::<LiveSnapshot>(),
        post(unmute_all),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/mute-on-entry", LiveControl, T)
            .summary("Whether rooms other than the hub join muted (rooms still to join; those in keep their mute)")
            .body::<MuteOnEntryBody>()
            .returns::<LiveSnapshot>(),
        post(mute_on_entry),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/stage", LiveControl, T)
            .summary("Set the stage everyone sees, in order (empty: the active speaker)")
            .body::<StageBody>()
            .returns::<LiveSnapshot>(),
        post(stage),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/scan", LiveControl, T)
            .summary("Lecture mode: the hub sees the rooms in turn, in this order")
            .body::<ScanBody>()
            .returns::<LiveSnapshot>(),
        post(scan),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/scan/stop", LiveControl, T)
            .summary("Stop the lecture scan; the stage before it comes back")
            .returns::<LiveSnapshot>(),
        post(scan_stop),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/lock", LiveControl, T)
            .summary("Lock the meeting: no new rooms (a room that just dropped may come back)")
            .returns::<LiveSnapshot>(),
        post(lock),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/unlock", LiveControl, T)
            .summary("Unlock the meeting")
            .returns::<LiveSnapshot>(),
        post(unlock),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/remove", LiveControl, T)
            .summary("Send a room away; it is refused until re-admitted")
            .body::<EndpointBody>()
            .returns::<LiveSnapshot>(),
        post(remove),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/readmit", LiveControl, T)
            .summary("Let a removed room back in")
            .body::<EndpointBody>()
            .returns::<LiveSnapshot>(),
        post(readmit),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/lobby/admit", LiveControl, T)
            .summary("Let a room waiting in an open meeting's lobby in")
            .body::<EndpointBody>()
            .returns::<LiveSnapshot>(),
        post(lobby_admit),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/lobby/deny", LiveControl, T)
            .summary("Turn a room waiting in the lobby away")
            .body::<EndpointBody>()
            .returns::<LiveSnapshot>(),
        post(lobby_deny),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/connections/remove", LiveControl, T)
            .summary("Send a console, player or publisher away (its person is refused until re-admitted)")
            .body::<ConnectionBody>()
            .returns::<LiveSnapshot>(),
        post(remove_connection),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/connections/readmit", LiveControl, T)
            .summary("Let a person sent away watch again")
            .body::<UserBody>()
            .returns::<LiveSnapshot>(),
        post(readmit_user),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/scene", LiveControl, T)
            .summary("Apply a scene (Khai mạc, Chủ trì phát biểu, Thảo luận, Biểu quyết, Bế mạc): stage and mutes in one action")
            .body::<SceneBody>()
            .returns::<LiveSnapshot>(),
        post(scene),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/headcount", Headcount, T)
            .summary("Confirm how many people sit in a room (a room reports its own)")
            .body::<HeadcountBody>()
            .returns::<LiveSnapshot>(),
        post(headcount),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/floor/request", FloorSelf, T)
            .summary("Register to speak (a room for itself; a delegate or an operator for a room)")
            .body::<MaybeEndpointBody>()
            .returns::<LiveSnapshot>(),
        post(floor_request),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/floor/withdraw", FloorSelf, T)
            .summary("Withdraw a request to speak")
            .body::<MaybeEndpointBody>()
            .returns::<LiveSnapshot>(),
        post(floor_withdraw),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/floor/order", FloorChair, T)
            .summary("Reorder the floor queue (the same rooms, a new order)")
            .body::<OrderBody>()
            .returns::<LiveSnapshot>(),
        post(floor_order),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/floor/grant", FloorChair, T)
            .summary("Give a room the floor: unmuted, on stage after the hub, timer started")
            .body::<GrantBody>()
            .returns::<LiveSnapshot>(),
        post(floor_grant),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/live/floor/revoke", FloorChair, T)
            .summary("Take the floor back: muted again, the stage before it returns")
            .returns::<LiveSnapshot>(),
        post(floor_revoke),
    )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteBody {
    endpoint_id: String,
    audio: Option<bool>,
    video: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteAllBody {
    /// Mute audio (default true).
    audio: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteOnEntryBody {
    /// Rooms other than the hub join muted.
    on: bool,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageBody {
    endpoint_ids: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    order: Vec<String>,
    /// How long each room stays, 5 000 to 600 000 ms.
    dwell_ms: u64,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    endpoint_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionBody {
    /// The connection's participant id, as the roll call lists it.
    participant: u64,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    user_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaybeEndpointBody {
    /// Required for a person; a room acts for itself.
    endpoint_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SceneBody {
    scene: Scene,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadcountBody {
    /// Required for a person; a room reports its own.
    endpoint_id: Option<String>,
    headcount: u32,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    order: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    endpoint_id: String,
    /// Speaking limit; none for no limit.
    limit_ms: Option<u64>,
}

impl From<LiveError> for ApiError {
    fn from(e: LiveError) -> Self {
        let code = e.code();
        let message = e.to_string();
        match e {
            LiveError::UnknownEndpoint(_)
            | LiveError::NotARelay(_)
            | LiveError::NotInLobby(_)
            | LiveError::UnknownConnection(_) => ApiError::not_found(code, message),
            LiveError::NotConnected(_)
            | LiveError::NotInQueue(_)
            | LiveError::NoFloorHolder
            | LiveError::NotRemoved(_)
            | LiveError::AlreadyConnected(_)
            | LiveError::Barred(_) => ApiError::conflict(code, message),
            LiveError::BadDwell(_) => ApiError::invalid("dwell_ms", message),
            LiveError::HeadcountTooLarge(_) => ApiError::invalid("headcount", message),
            LiveError::NotAPermutation(_) | LiveError::EmptyScan => {
                ApiError::invalid("order", message)
            }
            LiveError::BadLimit(_) => ApiError::invalid("limit_ms", message),
            LiveError::BadQuorumPercent(_) => ApiError::invalid("quorum_percent", message),
            LiveError::DuplicateEndpoint(_) | LiveError::IsHub(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
        }
    }
}

/// The meeting (the caller may do `action` in it, as the conference layer
/// decides) and its open live room.
async fn room_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
) -> Result<(Meeting, Arc<LiveRoom>), ApiError> {
    let m = super::meetings::acting_on(state, caller, id, action).await?;
    let room = state.conference.live_room(&m).await?;
    Ok((m, room))
}

/// The room an action is about: a room endpoint acts only for itself; a
/// person must name one.
fn subject(caller: &Caller, named: Option<String>) -> Result<String, ApiError> {
    match (caller.endpoint_id(), named) {
        (Some(me), Some(other)) if other != me => Err(ApiError::forbidden(
            "not_yourself",
            "a room acts only for itself",
        )),
        (Some(me), _) => Ok(me.to_string()),
        (None, Some(e)) => Ok(e),
        (None, None) => Err(ApiError::invalid(
            "endpoint_id",
            "name the room (endpoint_id)",
        )),
    }
}

/// Apply `f` to the meeting's live state and answer the new snapshot.
///
/// Every action is written to the audit log as `live.<what>` on the
/// meeting, with the request's details and the engine commands it caused,
/// before those commands go out: who muted whom and when is part of the
/// meeting's record, and an action that cannot be recorded is not done.
async fn act(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
    what: &'static str,
    details: serde_json::Value,
    f: impl FnOnce(&mut LiveMeeting, u64) -> Result<Vec<Effect>, LiveError>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let (_, room) = room_for(state, caller, id, action).await?;
    let snapshot = state
        .conference
        .act(&caller.who(), &room, what, details, |live, now| {
            let effects = f(live, now)?;
            Ok((live.snapshot(now), effects))
        })
        .await?;
    Ok(Json(snapshot))
}

async fn snapshot(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let (_, room) = room_for(&state, &caller, &id, Action::LiveRead).await?;
    let now = state.live.now_ms();
    Ok(Json(room.read(|l| l.snapshot(now)).await))
}

async fn links(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LinksView>, ApiError> {
    let (_, room) = room_for(&state, &caller, &id, Action::LiveRead).await?;
    Ok(Json(room.links(state.live.now_ms())))
}

async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (_, room) = room_for(&state, &caller, &id, Action::LiveRead).await?;
    let ws = ws.map_err(|e| {
        ApiError::new(
            e.status(),
            "websocket_expected",
            format!("open this as a WebSocket ({})", e.body_text()),
        )
    })?;
    // Link samples are for the people watching the wall: a room's own page
    // has no use for every room's link every 2 s.
    let links = caller.endpoint_id().is_none();
    // A page that sent its token as a subprotocol gets `diemcau` back (a
    // browser refuses a connection whose offered protocols were all ignored).
    Ok(ws
        .protocols(["diemcau"])
        .max_message_size(4096)
        .read_buffer_size(crate::api::ws::WS_READ_BUFFER_BYTES)
        .write_buffer_size(crate::api::ws::WS_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| stream(state, room, socket, links)))
}

async fn stream(state: AppState, room: Arc<LiveRoom>, mut socket: WebSocket, links: bool) {
    let (snapshot, mut rx) = room.subscribe(state.live.now_ms()).await;
    if socket
        .send(Message::Text(snapshot.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if !links && ev.link {
                        continue;
                    }
                    if socket.send(Message::Text(ev.text.as_ref().into())).await.is_err() {
                        return;
                    }
                    // The room closed (meeting ended or cancelled): this
                    // stream holds the room, so its channel never closes by
                    // itself — end it here, after the last event.
                    if ev.closes {
                        let _ = socket
                            .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                                code: 1000,
                                reason: "meeting closed".into(),
                            })))
                            .await;
                        return;
                    }
                }
                // Fell behind: start over from a fresh snapshot rather than
                // show a console a state with holes in it.
                Err(RecvError::Lagged(_)) => {
                    let (snapshot, fresh) = room.subscribe(state.live.now_ms()).await;
                    rx = fresh;
                    let mut v = snapshot;
                    v["resync"] = true.into();
                    if socket.send(Message::Text(v.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            inc = socket.recv() => match inc {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                // The stream is one way; pings are answered by axum.
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn mute(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MuteBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    if b.audio.is_none() && b.video.is_none() {
        return Err(ApiError::invalid("audio", "say audio and/or video"));
    }
    let details = json!({"endpoint_id": b.endpoint_id, "audio": b.audio, "video": b.video});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "mute",
        details,
        |l, _| l.mute(&b.endpoint_id, b.audio, b.video),
    )
    .await
}

async fn mute_all(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MuteAllBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"audio": b.audio.unwrap_or(true)});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "mute_all",
        details,
        |l, _| Ok(l.mute_all_except_stage(b.audio.unwrap_or(true))),
    )
    .await
}

async fn unmute_all(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "unmute_all",
        details,
        |l, _| Ok(l.unmute_all()),
    )
    .await
}

async fn mute_on_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MuteOnEntryBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"on": b.on});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "mute_on_entry",
        details,
        |l, _| Ok(l.set_mute_on_entry(b.on)),
    )
    .await
}

async fn stage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<StageBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"endpoint_ids": b.endpoint_ids});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "stage",
        details,
        |l, _| l.set_stage(b.endpoint_ids),
    )
    .await
}

async fn scan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ScanBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"order": b.order, "dwell_ms": b.dwell_ms});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "scan",
        details,
        |l, now| l.start_scan(b.order, b.dwell_ms, now),
    )
    .await
}

async fn scan_stop(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "scan_stop",
        details,
        |l, _| Ok(l.stop_scan()),
    )
    .await
}

async fn lock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "lock",
        details,
        |l, _| Ok(l.lock()),
    )
    .await
}

async fn unlock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "unlock",
        details,
        |l, _| Ok(l.unlock()),
    )
    .await
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<EndpointBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"endpoint_id": b.endpoint_id});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "remove",
        details,
        |l, _| l.remove(&b.endpoint_id),
    )
    .await
}

async fn readmit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<EndpointBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"endpoint_id": b.endpoint_id});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "readmit",
        details,
        |l, _| l.readmit(&b.endpoint_id),
    )
    .await
}

async fn scene(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<SceneBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"scene": b.scene});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "scene",
        details,
        |l, now| Ok(l.apply_scene(b.scene, now)),
    )
    .await
}

async fn headcount(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<HeadcountBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let endpoint = subject(&caller, b.endpoint_id)?;
    let by = caller.label();
    let self_report = caller.endpoint_id().is_some();
    let details = json!({"endpoint_id": endpoint, "headcount": b.headcount});
    act(
        &state,
        &caller,
        &id,
        Action::Headcount,
        "headcount",
        details,
        |l, _| {
            // A room's own figure is on the roll call; only someone else's
            // confirmation makes it what the room's vote weighs.
            if self_report {
                l.report_own_headcount(&endpoint, b.headcount, &by)
            } else {
                l.confirm_headcount(&endpoint, b.headcount, &by)
            }
        },
    )
    .await
}

async fn floor_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MaybeEndpointBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let endpoint = subject(&caller, b.endpoint_id)?;
    // A delegate registers from their tablet for the room they sit in: the
    // queue holds rooms (one microphone each), the console also learns who.
    let delegate = caller.person().map(|p| p.user.details.display_name.clone());
    let details = json!({"endpoint_id": endpoint, "delegate": delegate});
    let answer = act(
        &state,
        &caller,
        &id,
        Action::FloorSelf,
        "floor_request",
        details,
        |l, now| l.request_floor(&endpoint, now),
    )
    .await?;
    if let Some(name) = delegate {
        state
            .live
            .announce(
                &id,
                crate::signal::event::ServerEvent::FloorRegistration {
                    endpoint_id: endpoint.clone(),
                    delegate: name,
                },
            )
            .await;
    }
    Ok(answer)
}

async fn floor_withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MaybeEndpointBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let endpoint = subject(&caller, b.endpoint_id)?;
    let details = json!({"endpoint_id": endpoint});
    act(
        &state,
        &caller,
        &id,
        Action::FloorSelf,
        "floor_withdraw",
        details,
        |l, _| l.withdraw_floor(&endpoint),
    )
    .await
}

async fn floor_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<OrderBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"order": b.order});
    act(
        &state,
        &caller,
        &id,
        Action::FloorChair,
        "floor_order",
        details,
        |l, _| l.reorder_floor(b.order),
    )
    .await
}

async fn floor_grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<GrantBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"endpoint_id": b.endpoint_id, "limit_ms": b.limit_ms});
    act(
        &state,
        &caller,
        &id,
        Action::FloorChair,
        "floor_grant",
        details,
        |l, now| l.grant_floor(&b.endpoint_id, b.limit_ms, now),
    )
    .await
}

async fn floor_revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({});
    act(
        &state,
        &caller,
        &id,
        Action::FloorChair,
        "floor_revoke",
        details,
        |l, now| l.revoke_floor(now),
    )
    .await
}

async fn lobby_admit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<EndpointBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"endpoint_id": b.endpoint_id});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "lobby_admit",
        details,
        |l, _| l.admit_from_lobby(&b.endpoint_id),
    )
    .await
}

async fn lobby_deny(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<EndpointBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"endpoint_id": b.endpoint_id});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "lobby_deny",
        details,
        |l, _| l.deny_from_lobby(&b.endpoint_id),
    )
    .await
}

async fn remove_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ConnectionBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"participant": b.participant});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "connection_remove",
        details,
        |l, _| l.remove_connection(b.participant),
    )
    .await
}

async fn readmit_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<UserBody>,
) -> Result<Json<LiveSnapshot>, ApiError> {
    let details = json!({"user_id": b.user_id});
    act(
        &state,
        &caller,
        &id,
        Action::LiveControl,
        "connection_readmit",
        details,
        |l, _| l.readmit_user(&b.user_id),
    )
    .await
}
