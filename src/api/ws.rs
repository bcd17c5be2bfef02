//! WebSocket signalling at `/ws`: `join` with an offer, then slot/speaker/
//! mute updates pushed as they happen, client re-offers, self mute, leave.
//! Bad messages get an `error` message and change nothing.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;

use crate::api::{ApiError, AppState};
use crate::conference::Credential;
use crate::media::{Command, JoinRequest, ParticipantId, Reply, Role};
use crate::signal::hub::{Registration, slot_info};
use crate::signal::wire::{ClientMessage, PROTOCOL_VERSION, ServerMessage};

/// A client must send `join` this soon after connecting.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest signalling message accepted (an SDP offer with many slots).
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// A WebSocket's read buffer is allocated whole when it opens (the
/// library's default is 128 KiB): with one per room, 150 communes cost
/// 20 MiB of buffers that only ever hold a few-KiB offer. Larger messages
/// still arrive whole; they are read in more steps.
pub const WS_READ_BUFFER_BYTES: usize = 8 * 1024;
/// Frames are flushed once this much is queued (they are small and few).
pub const WS_WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// Display names are cut to this many characters.
const MAX_NAME_CHARS: usize = 80;

pub async fn upgrade(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    crate::api::auth::ClientAddr(address): crate::api::auth::ClientAddr,
    ws: WebSocketUpgrade,
) -> Response {
    // A logged-in console joins with its session cookie (HttpOnly: the page
    // cannot read it, the upgrade request carries it; SameSite=Strict keeps
    // other sites from riding on it).
    let cookie = crate::api::auth::session_cookie(&headers);
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .write_buffer_size(WS_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| session(state, socket, cookie, address))
}

fn error(code: &str, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        code: code.into(),
        message: message.into(),
    }
}

async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> bool {
    let text = serde_json::to_string(msg).expect("server messages serialize");
    socket.send(Message::Text(text.into())).await.is_ok()
}

fn parse(text: &str) -> Result<ClientMessage, ServerMessage> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| error("bad_json", format!("message is not valid JSON: {e}")))?;
    let typ = value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("")
        .to_string();
    serde_json::from_value(value).map_err(|e| {
        if matches!(typ.as_str(), "join" | "offer" | "mute" | "ping" | "leave") {
            error("bad_message", format!("invalid {typ:?} message: {e}"))
        } else {
            error("unknown_type", format!("unknown message type {typ:?}"))
        }
    })
}

async fn session(
    state: AppState,
    mut socket: WebSocket,
    cookie: Option<String>,
    address: Option<std::net::IpAddr>,
) {
    // Phase 1: wait for a valid join; errors are answered, the socket stays open.
    let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
    let (id, room, endpoint) = loop {
        let msg = match tokio::time::timeout_at(deadline, socket.recv()).await {
            Ok(Some(Ok(m))) => m,
            Ok(_) => return,
            Err(_) => {
                let _ = send(
                    &mut socket,
                    &error("join_timeout", "send a join message first"),
                )
                .await;
                return;
            }
        };
        let Message::Text(text) = msg else { continue };
        match parse(&text) {
            Ok(ClientMessage::Join {
                v,
                meeting,
                token,
                name,
                role,
                max_kbps,
                offer,
            }) => match join(
                &state,
                v,
                meeting,
                token,
                cookie.as_deref(),
                address,
                name,
                role,
                max_kbps,
                offer,
            )
            .await
            {
                Ok((id, room, endpoint, reply)) => {
                    if !send(&mut socket, &reply).await {
                        leave(&state, id).await;
                        return;
                    }
                    break (id, room, endpoint);
                }
                Err(e) => {
                    if !send(&mut socket, &e).await {
                        return;
                    }
                }
            },
            Ok(ClientMessage::Ping) => {
                let _ = send(&mut socket, &ServerMessage::Pong).await;
            }
            Ok(_) => {
                let _ = send(&mut socket, &error("not_joined", "join the meeting first")).await;
            }
            Err(e) => {
                let _ = send(&mut socket, &e).await;
            }
        }
    };
    let Registration {
        messages: mut rx,
        mut roster,
    } = state.hub.register(id, &room);
    let list = roster.borrow_and_update().clone();
    let _ = socket.send(Message::Text(list.as_ref().into())).await;
    // A planned room joining while its meeting's technical check is open,
    // and not checked yet, runs it now.
    if let Some(e) = &endpoint
        && state.conference.check_due(&room, e).await
    {
        let _ = send(&mut socket, &crate::conference::checks::check_message()).await;
    }
    // Phase 2: joined.
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(msg) => if !send(&mut socket, &msg).await { break },
                None => break, // the engine dropped this participant
            },
            // The hub keeps the list while this client holds `roster`.
            Ok(()) = roster.changed() => {
                let list = roster.borrow_and_update().clone();
                if socket.send(Message::Text(list.as_ref().into())).await.is_err() {
                    break;
                }
            }
            inc = socket.recv() => {
                let Some(Ok(msg)) = inc else { break };
                let text = match msg {
                    Message::Text(t) => t,
                    Message::Close(_) => break,
                    _ => continue,
                };
                let reply = match parse(&text) {
                    Ok(ClientMessage::Leave) => break,
                    Ok(ClientMessage::Ping) => Some(ServerMessage::Pong),
                    Ok(ClientMessage::Offer { sdp }) => Some(
                        match state.media.participant_command(id, Command::Renegotiate { participant: id, offer: sdp }).await {
                            Ok(Reply::Answer { answer, slots }) => ServerMessage::Answer { sdp: answer, slots: slots.iter().map(slot_info).collect() },
                            Ok(_) => error("internal", "unexpected engine reply"),
                            Err(e) => { let e = ApiError::from(e); error(e.code, e.message) }
                        }),
                    Ok(ClientMessage::Mute { audio, video }) => {
                        match state.media.participant_command(id, Command::Mute { participant: id, audio, video, by_operator: false }).await {
                            Ok(_) => None,
                            Err(e) => { let e = ApiError::from(e); Some(error(e.code, e.message)) }
                        }
                    }
                    Ok(ClientMessage::Join { .. }) => Some(error("already_joined", "this connection already joined")),
                    Err(e) => Some(e),
                };
                if let Some(r) = reply && !send(&mut socket, &r).await {
                    break;
                }
            }
        }
    }
    state.hub.unregister(id);
    leave(&state, id).await;
}

async fn leave(state: &AppState, id: ParticipantId) {
    let _ = state
        .media
        .participant_command(id, Command::Leave { participant: id })
        .await;
}

#[allow(clippy::too_many_arguments)]
async fn join(
    state: &AppState,
    v: u32,
    meeting: String,
    token: String,
    cookie: Option<&str>,
    address: Option<std::net::IpAddr>,
    name: Option<String>,
    role: Option<String>,
    max_kbps: Option<u32>,
    offer: String,
) -> Result<(ParticipantId, String, Option<String>, ServerMessage), ServerMessage> {
    if v != PROTOCOL_VERSION {
        return Err(error(
            "unsupported_version",
            format!("protocol version {v} is not supported; this server speaks {PROTOCOL_VERSION}"),
        ));
    }
    let role = match role.as_deref() {
        None => Role::Room,
        Some(r) => Role::parse(r).ok_or_else(|| {
            error(
                "bad_role",
                format!("unknown role {r:?}; use room, console or viewer"),
            )
        })?,
    };
    let to_message = |e: ApiError| error(e.code, e.message);
    // No token but a console session: the logged-in person. A demo
    // (join-token) meeting always goes by its token.
    let credential = match cookie {
        Some(session) if token.is_empty() && !state.meetings.exists(&meeting) => {
            Credential::Session(session)
        }
        _ => Credential::Token(&token),
    };
    let admission = state
        .conference
        .admit(&meeting, credential, role, address)
        .await
        .map_err(|e| to_message(e.into()))?;
    let name: String = name
        .or_else(|| admission.name.clone())
        .unwrap_or_else(|| "Điểm cầu".into())
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    // The endpoint's link profile caps what it receives, whatever it asks.
    let max_kbps = match (max_kbps, admission.max_kbps) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let req = JoinRequest {
        participant: 0,
        room: meeting.clone(),
        name: name.clone(),
        role,
        max_kbps,
        offer,
    };
    match state.media.join(req).await {
        Ok((id, Reply::Joined { answer, slots, .. })) => {
            state
                .conference
                .connected(&meeting, &admission, id, &name, role)
                .await
                .map_err(|e| to_message(e.into()))?;
            Ok((
                id,
                meeting,
                admission.endpoint.clone().filter(|_| role == Role::Room),
                ServerMessage::Joined {
                    v: PROTOCOL_VERSION,
                    participant: id.to_string(),
                    answer,
                    slots: slots.iter().map(slot_info).collect(),
                },
            ))
        }
        Ok(_) => Err(error("internal", "unexpected engine reply")),
        Err(e) => {
            let e = ApiError::from(e);
            Err(error(e.code, e.message))
        }
    }
}
