//! The hub: turns engine events into messages for connected clients and
//! keeps the per-room participant lists signalling shows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use super::wire::{ParticipantInfo, ServerMessage, SlotInfo};
use crate::media::{Event, ParticipantId, SlotState};
use crate::net::Media;

/// Messages buffered per client; a client that cannot keep up is dropped
/// rather than slow the hub for everyone.
pub const CLIENT_QUEUE: usize = 256;

#[derive(Default)]
pub struct Hub {
    inner: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    clients: HashMap<ParticipantId, mpsc::Sender<ServerMessage>>,
    rooms: HashMap<String, Vec<ParticipantInfo>>,
    /// Each room's participant list as its `participants` message, encoded
    /// once per change. A client is sent the latest when it can take it:
    /// 150 rooms joining used to queue 150 × 150 copies of growing lists
    /// (40 MiB at the peak, each encoded again per client).
    rosters: HashMap<String, watch::Sender<Arc<str>>>,
    /// Each room's active speaker now (a recording that starts names them).
    speakers: HashMap<String, String>,
}

pub fn slot_info(s: &SlotState) -> SlotInfo {
    SlotInfo {
        mid: s.mid.clone(),
        kind: if s.video { "video" } else { "audio" }.into(),
        role: s.role.as_str().into(),
        participant: s.source.map(|p| p.wire().to_string()),
        name: s.name.clone(),
    }
}

/// What a connected client is sent: its own messages and the room's
/// participant list (latest only, already encoded).
pub struct Registration {
    pub messages: mpsc::Receiver<ServerMessage>,
    pub roster: watch::Receiver<Arc<str>>,
}

fn roster_message(list: &[ParticipantInfo]) -> Arc<str> {
    let msg = ServerMessage::Participants {
        list: list.to_vec(),
    };
    serde_json::to_string(&msg)
        .expect("server messages serialize")
        .into()
}

impl Hub {
    pub fn register(&self, id: ParticipantId, room: &str) -> Registration {
        let (tx, messages) = mpsc::channel(CLIENT_QUEUE);
        let mut st = self.inner.lock().expect("hub lock");
        st.clients.insert(id, tx);
        let roster = match st.rosters.get(room) {
            Some(r) => r.subscribe(),
            None => {
                let list = st.rooms.get(room).map(Vec::as_slice).unwrap_or_default();
                let (tx, rx) = watch::channel(roster_message(list));
                st.rosters.insert(room.to_string(), tx);
                rx
            }
        };
        Registration { messages, roster }
    }

    /// A room's list changed: encode it once for every client of the room
    /// (a room no WebSocket client has registered in has no list to keep).
    fn publish_roster(st: &HubState, room: &str) {
        if let Some(tx) = st.rosters.get(room) {
            let list = st.rooms.get(room).map(Vec::as_slice).unwrap_or_default();
            tx.send_replace(roster_message(list));
        }
    }

    /// Send one message to one connected client (dropped if it is gone or
    /// cannot keep up, like every other message).
    pub fn tell(&self, to: ParticipantId, msg: ServerMessage) {
        let st = self.inner.lock().expect("hub lock");
        Self::send(&st, to, msg);
    }

    pub fn unregister(&self, id: ParticipantId) {
        let mut st = self.inner.lock().expect("hub lock");
        st.clients.remove(&id);
        Self::drop_unused_rosters(&mut st);
    }

    /// An emptied room's list goes once its last client has gone.
    fn drop_unused_rosters(st: &mut HubState) {
        let HubState { rooms, rosters, .. } = st;
        rosters.retain(|room, tx| rooms.contains_key(room) || tx.receiver_count() > 0);
    }

    /// The room's active speaker now, by display name.
    pub fn speaker(&self, room: &str) -> Option<String> {
        self.inner
            .lock()
            .expect("hub lock")
            .speakers
            .get(room)
            .cloned()
    }

    pub fn participants(&self, room: &str) -> Vec<ParticipantInfo> {
        self.inner
            .lock()
            .expect("hub lock")
            .rooms
            .get(room)
            .cloned()
            .unwrap_or_default()
    }

    fn send(st: &HubState, to: ParticipantId, msg: ServerMessage) {
        if let Some(tx) = st.clients.get(&to) {
            let _ = tx.try_send(msg);
        }
    }

    fn broadcast(st: &HubState, room: &str, msg: &ServerMessage) {
        if let Some(list) = st.rooms.get(room) {
            for p in list {
                if let Ok(id) = p.id.parse() {
                    Self::send(st, id, msg.clone());
                }
            }
        }
    }

    fn handle(&self, media: &Media, ev: Event) {
        let mut st = self.inner.lock().expect("hub lock");
        match ev {
            Event::Joined {
                room,
                participant,
                name,
                role,
            } => {
                let list = st.rooms.entry(room.clone()).or_default();
                list.push(ParticipantInfo {
                    id: participant.to_string(),
                    name,
                    role: role.as_str().into(),
                    audio_muted: false,
                    video_muted: false,
                });
                Self::publish_roster(&st, &room);
            }
            Event::Left {
                room, participant, ..
            } => {
                media.forget(participant);
                if let Some(list) = st.rooms.get_mut(&room) {
                    list.retain(|p| p.id != participant.to_string());
                    if list.is_empty() {
                        st.rooms.remove(&room);
                    }
                    Self::publish_roster(&st, &room);
                    Self::drop_unused_rosters(&mut st);
                }
                // Dropping the sender ends that client's connection.
                st.clients.remove(&participant);
            }
            Event::SlotsChanged { participant, slots } => {
                let slots = slots.iter().map(slot_info).collect();
                Self::send(&st, participant, ServerMessage::Slots { slots });
            }
            Event::SpeakerChanged {
                room,
                participant,
                name,
            } => {
                match &name {
                    Some(n) => st.speakers.insert(room.clone(), n.clone()),
                    None => st.speakers.remove(&room),
                };
                let msg = ServerMessage::Speaker {
                    participant: participant.map(|p| p.to_string()),
                    name,
                };
                Self::broadcast(&st, &room, &msg);
            }
            Event::StageChanged { room, participants } => {
                let msg = ServerMessage::Stage {
                    participants: participants.iter().map(|p| p.to_string()).collect(),
                };
                Self::broadcast(&st, &room, &msg);
            }
            Event::MuteChanged {
                room,
                participant,
                mute,
            } => {
                let (audio, video) = (mute.audio(), mute.video());
                let msg = ServerMessage::Muted {
                    audio,
                    video,
                    operator_audio: mute.operator_audio,
                    operator_video: mute.operator_video,
                };
                Self::send(&st, participant, msg);
                if let Some(list) = st.rooms.get_mut(&room) {
                    for p in list.iter_mut().filter(|p| p.id == participant.to_string()) {
                        p.audio_muted = audio;
                        p.video_muted = video;
                    }
                    Self::publish_roster(&st, &room);
                }
            }
            Event::Connected { .. }
            | Event::TrackPublished { .. }
            | Event::CompositeKeyframe { .. } => {}
        }
    }

    /// Pump engine events until the media driver stops. A participant
    /// leaving is also told to live control (roll call, floor, scan).
    pub async fn run(
        self: Arc<Self>,
        media: Media,
        mut events: mpsc::Receiver<Event>,
        live: Arc<super::live::LiveRooms>,
        recorder: crate::recorder::Recorder,
        composer: crate::compose::Composer,
        relays: Arc<crate::relay::Relays>,
    ) {
        while let Some(ev) = events.recv().await {
            // The live stream's sites and speaker.
            composer.event(&ev);
            let left = match &ev {
                Event::Left {
                    room, participant, ..
                } => Some((room.clone(), *participant)),
                _ => None,
            };
            // A recording's index follows who speaks.
            if let Event::SpeakerChanged {
                room,
                name: Some(name),
                ..
            } = &ev
                && recorder.running(room).is_some()
            {
                recorder.chapter(room, "speaker", name, None);
            }
            self.handle(&media, ev);
            if let Some((room, participant)) = left {
                relays.closed(&room, participant);
                live.disconnected(&room, participant).await;
            }
        }
    }
}
