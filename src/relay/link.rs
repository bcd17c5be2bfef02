//! The child side of relay links: one per open meeting placed on this
//! node, to the parent node.
//!
//! `supervise` keeps a link task per meeting that is open or live and
//! placed on this node (the nodes share the store, so the meeting and this
//! node's registration at its parent are the same everywhere; the rule is
//! `control::cascade::placement`'s, which the parent applies again). A link:
//! 1. builds the bridge's two offers; sends the up offer to the parent
//!    (`POST …/cascade/relay/{meeting}`, node credential) and joins the
//!    local one to this node's engine as a `relay` participant;
//! 2. binds one UDP socket per leg, connected to the candidate of its
//!    answer (its local address becomes the leg's host candidate);
//! 3. moves datagrams between sockets and bridge, and every
//!    [`SYNC_INTERVAL`] tells the parent which rooms are present here and
//!    below, taking back the parent's stage, mutes and lock;
//! 4. when a leg fails, the parent stops answering, or ICE says
//!    disconnected for [`DISCONNECTED_GRACE`], it closes both sides and the
//!    supervisor starts a new link after [`RELINK_DELAY`]: the meeting
//!    re-merges without anyone acting.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::book::Relays;
use super::bridge::{Bridge, BridgeEvent, Side, answer_address};
use crate::api::AppState;
use crate::control::live::relay::{PresentSite, UpperView};
use crate::control::meetings::{MeetingState, Meetings};
use crate::media::{Command, JoinRequest, ParticipantId, Reply, Role};

/// How often a link reports presence and takes the parent's view: what an
/// operator's stage or mute change waits at most, per level.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(250);
/// ICE said disconnected this long (no consent answers): the link is gone.
pub const DISCONNECTED_GRACE: Duration = Duration::from_secs(3);
/// A link that is not connected this long after its offers is started over.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Parent syncs failing in a row before the link is given up.
const SYNC_FAILURES: u32 = 8;
/// Between a lost link and the next try.
pub const RELINK_DELAY: Duration = Duration::from_millis(500);
/// The longest wait between tries (doubling from [`RELINK_DELAY`]): what a
/// returning parent may wait at most before its children link again.
pub const RELINK_DELAY_MAX: Duration = Duration::from_secs(1);
/// How often the supervisor looks for meetings to link.
const SUPERVISE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a meeting's placement on this node is taken as known before it
/// is read again: an operator's placement (or a room added) is followed
/// within this, without reading every open meeting's rooms every second.
const PLACEMENT_RECHECK: Duration = Duration::from_secs(10);
/// The parent refused a relay as not placed on this node (its view of the
/// rule differs from ours, e.g. a store not shared): ask again only after
/// this long, so a refused child does not knock every second.
pub const NOT_PLACED_RETRY: Duration = Duration::from_secs(30);

/// Where the parent is and how to prove who this node is.
#[derive(Debug, Clone)]
pub struct Uplink {
    /// The client towards the parent (its URL, pinned CA, this node's credential).
    pub parent: crate::api::uplink::Parent,
    pub node_id: String,
    /// This node's link budget, kbit/s: the cap on what crosses it each way.
    pub budget_kbps: u32,
}

#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("parent: {0}")]
    Parent(String),
    #[error("this node: {0}")]
    Local(String),
    #[error("relay: {0}")]
    Bridge(#[from] super::bridge::BridgeError),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("not connected within {0:?}")]
    ConnectTimeout(Duration),
    #[error("{0:?} side disconnected")]
    Disconnected(Side),
    #[error("the parent stopped answering syncs: {0}")]
    SyncFailed(String),
    /// The parent answers but no longer knows this relay (it restarted).
    #[error("the parent forgot this relay: {0}")]
    ParentForgot(String),
    /// The parent does not relay this meeting for this node.
    #[error("the parent does not place this meeting on this node: {0}")]
    NotPlaced(String),
    #[error("the meeting closed")]
    MeetingClosed,
}

/// A link task that ends with its owner: when the supervisor stops (the
/// server shuts down), every link goes with it instead of relaying on
/// for a node that is gone.
struct LinkTask(tokio::task::JoinHandle<()>);

impl Drop for LinkTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keep one link per open meeting placed on this node while this node runs.
pub async fn supervise(state: AppState, uplink: Uplink) {
    let mut links: HashMap<String, LinkTask> = HashMap::new();
    // Per open meeting: placed on this node or not, and when that was read.
    let mut placed: HashMap<String, (bool, Instant)> = HashMap::new();
    loop {
        let open = open_meetings(&state).await;
        match open {
            Ok(ids) => {
                placed.retain(|id, _| ids.contains(id));
                for id in &ids {
                    let stale = placed
                        .get(id)
                        .is_none_or(|(_, at)| at.elapsed() >= PLACEMENT_RECHECK);
                    if stale {
                        let here = placed_here(&state, &uplink.node_id, id).await;
                        placed.insert(id.clone(), (here, Instant::now()));
                    }
                }
                let here = |id: &String| placed.get(id).is_some_and(|(p, _)| *p);
                links.retain(|id, task| ids.contains(id) && here(id) && !task.0.is_finished());
                for id in ids.into_iter().filter(|id| here(id)) {
                    links.entry(id.clone()).or_insert_with(|| {
                        LinkTask(tokio::spawn(keep_linked(state.clone(), uplink.clone(), id)))
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cascade: listing open meetings failed"),
        }
        tokio::time::sleep(SUPERVISE_INTERVAL).await;
    }
}

/// Is `meeting` placed on this node (`node_id`, as its parent registered
/// it in the shared store)? When that cannot be read, the parent decides:
/// the link is tried, and a refusal waits [`NOT_PLACED_RETRY`].
async fn placed_here(state: &AppState, node_id: &str, meeting: &str) -> bool {
    let registry = crate::control::cascade::Cascade::new(state.store.clone());
    let reach = async {
        let node = registry.get(node_id).await?;
        let m = Meetings::new(state.store.clone()).get(meeting).await?;
        registry.reach(&m, &node).await
    };
    match reach.await {
        Ok(r) => r.is_placed(),
        Err(e) => {
            tracing::debug!(meeting, error = %e, "cascade: placement unknown here; the parent decides");
            true
        }
    }
}

/// The ids of the meetings open or live now.
async fn open_meetings(
    state: &AppState,
) -> Result<Vec<String>, crate::control::meetings::MeetingError> {
    let meetings = Meetings::new(state.store.clone());
    let mut ids = Vec::new();
    for s in [MeetingState::Open, MeetingState::Live] {
        let filter = crate::control::meetings::MeetingFilter {
            state: Some(s),
            ..Default::default()
        };
        ids.extend(meetings.list(&filter).await?.into_iter().map(|m| m.id));
    }
    Ok(ids)
}

/// Link `meeting` again and again until it closes.
async fn keep_linked(state: AppState, uplink: Uplink, meeting: String) {
    let mut was_up = false;
    state
        .relays
        .update_link(&meeting, |l| l.budget_kbps = uplink.budget_kbps);
    let _forget = ForgetLink {
        relays: state.relays.clone(),
        meeting: meeting.clone(),
    };
    // Failed tries back off from RELINK_DELAY to RELINK_DELAY_MAX: a parent
    // that does not hold the meeting is not asked twice a second for
    // hours, and a parent that comes back is found within a few seconds.
    let mut delay = RELINK_DELAY;
    loop {
        let outcome = link_once(&state, &uplink, &meeting, &mut was_up).await;
        state.relays.update_link(&meeting, |l| {
            l.up = false;
            l.bitrate_up_bps = 0;
            l.bitrate_down_bps = 0;
            if was_up {
                l.relinks += 1;
            }
        });
        // A parent that restarted is there now: link again at once.
        let again_now = matches!(outcome, Err(LinkError::ParentForgot(_)));
        match outcome {
            Err(LinkError::MeetingClosed) => return,
            Err(LinkError::NotPlaced(why)) => {
                tracing::warn!(meeting, %why, "cascade: the parent refused this meeting's relay; asking again in {} s", NOT_PLACED_RETRY.as_secs());
                was_up = false;
                delay = RELINK_DELAY;
                tokio::time::sleep(NOT_PLACED_RETRY).await;
                continue;
            }
            Err(e) if was_up => {
                tracing::warn!(meeting, error = %e, "cascade: relay link lost; linking again");
            }
            Err(e) => tracing::debug!(meeting, error = %e, "cascade: relay link not made"),
            Ok(()) => return,
        }
        if was_up {
            delay = RELINK_DELAY;
        }
        was_up = false;
        if !again_now {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RELINK_DELAY_MAX);
        }
    }
}

async fn post(
    uplink: &Uplink,
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, Vec<u8>), String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    uplink
        .parent
        .post_json(path, body)
        .await
        .map_err(|e| e.to_string())
}

fn error_text(status: u16, body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    format!(
        "{status} {} {}",
        v["error"]["code"].as_str().unwrap_or(""),
        v["error"]["message"].as_str().unwrap_or("")
    )
}

/// A UDP socket for one leg, connected to the server's candidate.
async fn leg_socket(to: SocketAddr) -> std::io::Result<(UdpSocket, SocketAddr)> {
    let any: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().expect("an address")
    } else {
        "[::]:0".parse().expect("an address")
    };
    let sock = UdpSocket::bind(any).await?;
    sock.connect(to).await?;
    let local = sock.local_addr()?;
    Ok((sock, local))
}

/// One relay link, from offers to loss.
async fn link_once(
    state: &AppState,
    uplink: &Uplink,
    meeting: &str,
    was_up: &mut bool,
) -> Result<(), LinkError> {
    let m = Meetings::new(state.store.clone())
        .get(meeting)
        .await
        .map_err(|e| LinkError::Local(e.to_string()))?;
    if !matches!(m.state, MeetingState::Open | MeetingState::Live) {
        return Err(LinkError::MeetingClosed);
    }
    let room = state
        .conference
        .live_room(&m)
        .await
        .map_err(|e| LinkError::Local(e.to_string()))?;
    let t0 = Instant::now();
    let (mut bridge, up_offer, local_offer) = Bridge::new(t0)?;

    // The parent's side first: without it there is nothing to bridge.
    let path = format!("/api/v1/cascade/relay/{meeting}");
    let (status, body) = post(
        uplink,
        &path,
        &serde_json::json!({
            "node_id": uplink.node_id,
            "offer": up_offer,
            "budget_kbps": uplink.budget_kbps,
        }),
    )
    .await
    .map_err(LinkError::Parent)?;
    if status == 404 {
        // The parent answers a meeting not placed on this node as unknown.
        return Err(LinkError::NotPlaced(error_text(status, &body)));
    }
    if status != 201 {
        return Err(LinkError::Parent(error_text(status, &body)));
    }
    let opened: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| LinkError::Parent(e.to_string()))?;
    let (Some(up_id), Some(up_answer)) =
        (opened["participant"].as_u64(), opened["answer"].as_str())
    else {
        return Err(LinkError::Parent(
            "the answer has no participant or SDP".into(),
        ));
    };
    let up = UpGuard {
        uplink: uplink.clone(),
        meeting: meeting.to_string(),
        participant: up_id,
    };

    let name = "Liên kết tầng trên".to_string();
    let (local_id, reply) = state
        .media
        .join(JoinRequest {
            participant: 0,
            room: meeting.to_string(),
            name,
            role: Role::Relay,
            max_kbps: Some(uplink.budget_kbps),
            offer: local_offer,
        })
        .await
        .map_err(|e| LinkError::Local(e.to_string()))?;
    let local = LocalGuard {
        state: state.clone(),
        meeting: meeting.to_string(),
        participant: local_id,
    };
    let Reply::Joined {
        answer: local_answer,
        ..
    } = reply
    else {
        return Err(LinkError::Local("unexpected engine reply".into()));
    };

    let up_to =
        answer_address(up_answer).ok_or(super::bridge::BridgeError::NoCandidate(Side::Up))?;
    let local_to = answer_address(&local_answer)
        .ok_or(super::bridge::BridgeError::NoCandidate(Side::Local))?;
    let (up_sock, up_local) = leg_socket(up_to).await?;
    let (local_sock, local_local) = leg_socket(local_to).await?;
    bridge.accept_answer(Side::Up, up_answer, up_local)?;
    bridge.accept_answer(Side::Local, &local_answer, local_local)?;

    let mut up_buf = vec![0u8; 2048];
    let mut local_buf = vec![0u8; 2048];
    let mut next_stats = tokio::time::Instant::now();
    // The sync runs beside the media loop, never inside it: an HTTP round
    // trip to a busy parent must not hold a single datagram back.
    let (sync_tx, mut sync_rx) = tokio::sync::mpsc::channel::<LinkError>(1);
    let _sync = SyncTask(tokio::spawn(sync_loop(
        state.clone(),
        uplink.clone(),
        meeting.to_string(),
        up_id,
        room.clone(),
        sync_tx,
    )));
    let mut disconnected_since: Option<Instant> = None;
    let mut told_live = false;
    // Bytes to and from the parent since the last sync (the bitrate).
    let (mut sent_up, mut got_down) = (0u64, 0u64);
    let mut window = Instant::now();
    loop {
        for t in bridge.poll_transmit() {
            let sock = match t.side {
                Side::Up => {
                    sent_up += t.contents.len() as u64;
                    &up_sock
                }
                Side::Local => &local_sock,
            };
            // A full socket buffer drops the datagram, as the network would.
            let _ = sock.try_send_to(&t.contents, t.destination);
        }
        while let Some(e) = bridge.poll_event() {
            match e {
                BridgeEvent::Connected(side) => {
                    if side == Side::Local && !told_live {
                        // This node's room: stage entries from above route
                        // to this participant.
                        told_live = true;
                        let _ = state
                            .live
                            .apply(&room, |live, _| {
                                Ok(((), live.parent_relay_connected(local_id)))
                            })
                            .await;
                    }
                    if bridge.is_connected(Side::Up) && bridge.is_connected(Side::Local) {
                        disconnected_since = None;
                        if !*was_up {
                            *was_up = true;
                            tracing::info!(meeting, "cascade: relay link to the parent is up");
                        }
                    }
                }
                BridgeEvent::Disconnected(_) => {
                    disconnected_since.get_or_insert_with(Instant::now);
                }
            }
        }
        if bridge.is_dead() {
            return Err(LinkError::Disconnected(if bridge.is_connected(Side::Up) {
                Side::Local
            } else {
                Side::Up
            }));
        }
        let now = Instant::now();
        if let Some(t) = disconnected_since
            && now.duration_since(t) > DISCONNECTED_GRACE
        {
            let side = if bridge.is_connected(Side::Up) {
                Side::Local
            } else {
                Side::Up
            };
            return Err(LinkError::Disconnected(side));
        }
        if !*was_up && now.duration_since(t0) > CONNECT_TIMEOUT {
            return Err(LinkError::ConnectTimeout(CONNECT_TIMEOUT));
        }
        let wake = tokio::time::Instant::from_std(bridge.next_timeout().max(now))
            .min(next_stats)
            .min(tokio::time::Instant::now() + Duration::from_millis(100));
        // Each wake-up takes every datagram already queued on the socket
        // (bounded), so a burst costs one pass, not one pass per packet.
        tokio::select! {
            r = up_sock.recv_from(&mut up_buf) => {
                if let Ok((n, from)) = r {
                    let now = Instant::now();
                    got_down += n as u64;
                    bridge.handle_receive(now, Side::Up, from, &up_buf[..n]);
                    for _ in 0..BURST {
                        let Ok((n, from)) = up_sock.try_recv_from(&mut up_buf) else { break };
                        got_down += n as u64;
                        bridge.handle_receive(now, Side::Up, from, &up_buf[..n]);
                    }
                }
            }
            r = local_sock.recv_from(&mut local_buf) => {
                if let Ok((n, from)) = r {
                    let now = Instant::now();
                    bridge.handle_receive(now, Side::Local, from, &local_buf[..n]);
                    for _ in 0..BURST {
                        let Ok((n, from)) = local_sock.try_recv_from(&mut local_buf) else { break };
                        bridge.handle_receive(now, Side::Local, from, &local_buf[..n]);
                    }
                }
            }
            e = sync_rx.recv() => {
                if let Some(e) = e {
                    return Err(e);
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                bridge.handle_timeout(Instant::now());
            }
        }
        if tokio::time::Instant::now() >= next_stats {
            next_stats = tokio::time::Instant::now() + SYNC_INTERVAL;
            let secs = window.elapsed().as_secs_f64().max(0.001);
            window = Instant::now();
            let up_now = *was_up;
            let (s_up, g_down) = (std::mem::take(&mut sent_up), std::mem::take(&mut got_down));
            state.relays.update_link(meeting, |l| {
                l.up = up_now;
                l.bytes_up += s_up;
                l.bytes_down += g_down;
                l.bitrate_up_bps = (s_up as f64 * 8.0 / secs) as u64;
                l.bitrate_down_bps = (g_down as f64 * 8.0 / secs) as u64;
            });
        }
        // Keep the guards alive for the loop's life.
        let _ = (&up, &local);
    }
}

/// Datagrams taken from a socket per wake-up beyond the first.
const BURST: usize = 64;

/// The sync task of one link; ends with it.
struct SyncTask(tokio::task::JoinHandle<()>);

impl Drop for SyncTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every [`SYNC_INTERVAL`]: report presence, take the parent's view. The
/// link is told (and ends) when the meeting closed, the parent forgot the
/// relay, or [`SYNC_FAILURES`] syncs in a row failed.
async fn sync_loop(
    state: AppState,
    uplink: Uplink,
    meeting: String,
    up_id: ParticipantId,
    room: std::sync::Arc<crate::signal::live::LiveRoom>,
    tell: tokio::sync::mpsc::Sender<LinkError>,
) {
    let mut failures = 0u32;
    // What the parent last accepted: an unchanged list is not sent again
    // (at 150 rooms it was twice the relay's upward media).
    let mut reported: Option<Vec<PresentSite>> = None;
    let mut every = tokio::time::interval(SYNC_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let end = match sync(&state, &uplink, &meeting, up_id, &room, &mut reported).await {
            Ok(()) => {
                failures = 0;
                None
            }
            Err(SyncError::Closed) => Some(LinkError::MeetingClosed),
            Err(SyncError::Gone(why)) => Some(LinkError::ParentForgot(why)),
            Err(SyncError::Failed(why)) => {
                failures += 1;
                (failures >= SYNC_FAILURES).then_some(LinkError::SyncFailed(why))
            }
        };
        if let Some(e) = end {
            let _ = tell.send(e).await;
            return;
        }
    }
}

enum SyncError {
    /// The meeting is no longer open at the parent.
    Closed,
    /// The parent no longer knows this relay (it restarted): link again.
    Gone(String),
    /// Could not reach it this time.
    Failed(String),
}

/// Report presence, take the parent's view.
async fn sync(
    state: &AppState,
    uplink: &Uplink,
    meeting: &str,
    up_id: ParticipantId,
    room: &crate::signal::live::LiveRoom,
    reported: &mut Option<Vec<PresentSite>>,
) -> Result<(), SyncError> {
    let sites: Vec<PresentSite> = room.read(|live| live.present_sites()).await;
    let changed = reported.as_ref() != Some(&sites);
    let mut body = serde_json::json!({
        "node_id": uplink.node_id,
        "participant": up_id,
    });
    if changed {
        body["sites"] = serde_json::json!(sites);
    }
    let (status, body) = post(
        uplink,
        &format!("/api/v1/cascade/relay/{meeting}/sync"),
        &body,
    )
    .await
    .map_err(SyncError::Failed)?;
    if status == 200 && changed {
        *reported = Some(sites);
    }
    match status {
        200 => {}
        404 => return Err(SyncError::Gone(error_text(status, &body))),
        409 => return Err(SyncError::Closed),
        _ => return Err(SyncError::Failed(error_text(status, &body))),
    }
    let view: UpperView =
        serde_json::from_slice(&body).map_err(|e| SyncError::Failed(e.to_string()))?;
    let _ = state
        .live
        .apply(room, |live, _| Ok(((), live.apply_upper(&view))))
        .await;
    Ok(())
}

/// Takes a meeting's link out of /metrics when its task ends (closed
/// meeting, server stopping).
struct ForgetLink {
    relays: std::sync::Arc<Relays>,
    meeting: String,
}

impl Drop for ForgetLink {
    fn drop(&mut self) {
        self.relays.drop_link(&self.meeting);
    }
}

/// Closes the parent's side of a link when the link ends, however it ends.
struct UpGuard {
    uplink: Uplink,
    meeting: String,
    participant: ParticipantId,
}

impl Drop for UpGuard {
    fn drop(&mut self) {
        let uplink = self.uplink.clone();
        let path = format!("/api/v1/cascade/relay/{}/leave", self.meeting);
        let body = serde_json::json!({"node_id": uplink.node_id, "participant": self.participant});
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = post(&uplink, &path, &body).await;
            });
        }
    }
}

/// Takes this node's relay participant out of its room when the link ends.
struct LocalGuard {
    state: AppState,
    meeting: String,
    participant: ParticipantId,
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        let state = self.state.clone();
        let id = self.participant;
        let meeting = self.meeting.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = state
                    .media
                    .participant_command(id, Command::Leave { participant: id })
                    .await;
                state.media.forget(id);
                state.live.disconnected(&meeting, id).await;
            });
        }
    }
}
