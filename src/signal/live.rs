//! The running side of live meeting control: one [`LiveMeeting`] per open
//! meeting, its effects carried out (media commands to the engine, events
//! to the consoles' WebSocket stream), and the ticker that drives lecture
//! scans and speaking timers.
//!
//! `control::live` decides; this module only applies. Each room's state
//! sits behind an async mutex held while its effects are sent, so two
//! operator actions reach the engine in the order they were decided (a
//! stage set after a scan started must not be overtaken by it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::broadcast;

use crate::control::live::{Effect, LiveError, LiveEvent, LiveMeeting, MediaAction};
use crate::media::{Command, ParticipantId};
use crate::net::Media;

/// Events buffered per console; one that falls further behind gets a
/// `resync` and the snapshot again rather than slowing anyone.
const CONSOLE_QUEUE: usize = 1024;
/// How often scans and speaking timers are checked: well inside the 1 s
/// budget for a console to see a change.
const TICK: Duration = Duration::from_millis(200);

/// One open meeting's live state and its event stream.
pub struct LiveRoom {
    pub meeting: String,
    state: tokio::sync::Mutex<LiveMeeting>,
    events: broadcast::Sender<Arc<str>>,
    seq: AtomicU64,
}

impl LiveRoom {
    /// Subscribe to the event stream; the snapshot is taken under the same
    /// lock, so no event falls between it and the first one received.
    pub async fn subscribe(
        &self,
        now_ms: u64,
    ) -> (serde_json::Value, broadcast::Receiver<Arc<str>>) {
        let state = self.state.lock().await;
        let rx = self.events.subscribe();
        let snapshot = json!({
            "type": "snapshot",
            "seq": self.seq.load(Ordering::Relaxed),
            "meeting": self.meeting,
            "state": state.snapshot(now_ms),
        });
        (snapshot, rx)
    }

    /// Read the state without changing it.
    pub async fn read<T>(&self, f: impl FnOnce(&LiveMeeting) -> T) -> T {
        f(&*self.state.lock().await)
    }
}

/// Every open meeting's live room.
pub struct LiveRooms {
    rooms: Mutex<HashMap<String, Arc<LiveRoom>>>,
    media: Media,
    epoch: Instant,
}

impl LiveRooms {
    pub fn new(media: Media) -> Arc<LiveRooms> {
        Arc::new(LiveRooms {
            rooms: Mutex::new(HashMap::new()),
            media,
            epoch: Instant::now(),
        })
    }

    /// Milliseconds on this process's monotonic clock (live state's time).
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn get(&self, meeting: &str) -> Option<Arc<LiveRoom>> {
        self.rooms.lock().expect("live rooms").get(meeting).cloned()
    }

    /// The room of `meeting`, made from `make` when it is not open yet.
    pub fn open_with(&self, meeting: &str, make: impl FnOnce() -> LiveMeeting) -> Arc<LiveRoom> {
        self.rooms
            .lock()
            .expect("live rooms")
            .entry(meeting.to_string())
            .or_insert_with(|| {
                Arc::new(LiveRoom {
                    meeting: meeting.to_string(),
                    state: tokio::sync::Mutex::new(make()),
                    events: broadcast::channel(CONSOLE_QUEUE).0,
                    seq: AtomicU64::new(0),
                })
            })
            .clone()
    }

    /// Close a meeting's room: every participant is sent away and consoles
    /// get `meeting_closed`.
    pub async fn close(&self, meeting: &str, participants: &[ParticipantId], reason: &str) {
        let room = self.rooms.lock().expect("live rooms").remove(meeting);
        for &p in participants {
            let _ = self
                .media
                .participant_command(p, Command::Leave { participant: p })
                .await;
        }
        if let Some(room) = room {
            let _state = room.state.lock().await;
            publish(&room, &json!({"type": "meeting_closed", "reason": reason}));
        }
    }

    /// Run `f` on the meeting's live state and carry out its effects, in
    /// order, before the next action on the same room may start.
    pub async fn apply<T>(
        &self,
        room: &LiveRoom,
        f: impl FnOnce(&mut LiveMeeting, u64) -> Result<(T, Vec<Effect>), LiveError>,
    ) -> Result<T, LiveError> {
        let mut state = room.state.lock().await;
        let (out, effects) = f(&mut state, self.now_ms())?;
        self.carry_out(room, effects).await;
        drop(state);
        Ok(out)
    }

    async fn carry_out(&self, room: &LiveRoom, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Event(ev) => publish_event(room, &ev),
                Effect::Media(action) => {
                    let result = match action {
                        MediaAction::SetStage(participants) => {
                            self.media
                                .room_command(
                                    &room.meeting,
                                    Command::SetStage {
                                        room: room.meeting.clone(),
                                        participants,
                                    },
                                )
                                .await
                        }
                        MediaAction::Mute {
                            participant,
                            audio,
                            video,
                        } => {
                            self.media
                                .participant_command(
                                    participant,
                                    Command::Mute {
                                        participant,
                                        audio,
                                        video,
                                        by_operator: true,
                                    },
                                )
                                .await
                        }
                        MediaAction::Remove { participant } => {
                            self.media
                                .participant_command(participant, Command::Leave { participant })
                                .await
                        }
                    };
                    // A participant that left a moment ago is not an error
                    // worth failing the operator's action for: its
                    // `disconnected` is already on its way.
                    if let Err(e) = result {
                        tracing::debug!(meeting = %room.meeting, error = %e, "live effect not applied");
                    }
                }
            }
        }
    }

    /// Tell a meeting's consoles something that is not live state (the
    /// meeting started, its plan changed), in order with its events.
    pub async fn announce(&self, meeting: &str, event: serde_json::Value) {
        if let Some(room) = self.get(meeting) {
            let _state = room.state.lock().await;
            publish(&room, &event);
        }
    }

    /// A participant left the engine (hangup, timeout, removal).
    pub async fn disconnected(&self, meeting: &str, participant: ParticipantId) {
        if let Some(room) = self.get(meeting) {
            let _ = self
                .apply(&room, |live, now| {
                    Ok(((), live.disconnected(participant, now)))
                })
                .await;
        }
    }

    /// Drive scans and speaking timers until the process ends.
    pub async fn run_ticker(self: Arc<Self>) {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            let rooms: Vec<Arc<LiveRoom>> = self
                .rooms
                .lock()
                .expect("live rooms")
                .values()
                .cloned()
                .collect();
            for room in rooms {
                let _ = self
                    .apply(&room, |live, now| Ok(((), live.tick(now))))
                    .await;
            }
        }
    }
}

fn publish_event(room: &LiveRoom, ev: &LiveEvent) {
    match serde_json::to_value(ev) {
        Ok(v) => publish(room, &v),
        Err(e) => tracing::error!(error = %e, "live event does not serialize"),
    }
}

/// Stamp an event with its sequence number and hand it to every console.
fn publish(room: &LiveRoom, event: &serde_json::Value) {
    let seq = room.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let mut v = event.clone();
    v["seq"] = seq.into();
    v["meeting"] = room.meeting.clone().into();
    // No console listening is fine: the snapshot carries the state.
    let _ = room.events.send(Arc::from(v.to_string()));
}
