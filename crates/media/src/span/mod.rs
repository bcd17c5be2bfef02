//! One room across several engines (worker threads): a large room keeps a
//! **home** engine (its speaker detector, stage, room commands, events,
//! taps) and **parts** on other engines, each holding some of its
//! sessions. Sans-IO like the rest: engines hand each other [`Handoff`]
//! values, which the driver carries (`net::shard`, over the workers'
//! bounded queues: a full queue drops, never blocks).
//!
//! - Each engine tells the others which of the room's members it holds
//!   (their names, mutes, tracks and layer activity) and which of their
//!   tracks its subscribers need (`Part`): on a change, and every tick.
//!   Every engine so keeps a mirror of the whole room (`RemoteMember`s,
//!   mirror tracks with `remote` set) and runs the stage policy for its
//!   own subscribers from the same view.
//! - A published packet is routed where it arrives; then handed, with
//!   the payload as the same `Arc<[u8]>`, to each engine whose
//!   subscribers need its track (`Media`), which forwards it to them with
//!   their own forwarders (seq/ts rewriting, keyframe switching stay
//!   local).
//! - Room-wide decisions are the home's: a part sends it the audio levels
//!   it hears (`Levels`); the home's tick sends stage, voice-stage, active
//!   speaker and loudness ranking to every part (`Decision`).
//! - A keyframe a part's subscriber needs goes to the publisher's engine
//!   (`Keyframe`), merged and throttled there like a local one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use str0m::format::Codec;
use str0m::rtp::ExtensionValues;

use super::audio::AudioUnit;
use super::engine::Engine;
use super::room::{MAX_LAYERS, Room};
use super::{Event, MuteState, ParticipantId, Role, SourceId, TrackId, TrackRef};

mod mirror;

/// A worker (engine) of the driver, by index.
pub type WorkerId = usize;

/// Bits of a track id above which the engine's worker index is written:
/// track ids stay unique across engines, so a mirror never collides with a
/// local track (16 million tracks per engine before wrapping).
pub const TRACK_WORKER_SHIFT: u32 = 24;

/// What one engine hands another about a room they share.
#[derive(Debug, Clone)]
pub enum Handoff {
    /// Packets of tracks published on the sender, for the receiver's
    /// subscribers.
    Media(Vec<RemotePacket>),
    /// The sender's members of `room` (all of them: an empty list means it
    /// holds none now) and the tracks of other engines its subscribers or
    /// taps need.
    Part {
        room: String,
        members: Vec<Member>,
        wants: Vec<TrackId>,
    },
    /// The home's room-wide decisions, for its parts.
    Decision {
        room: String,
        stage: Vec<ParticipantId>,
        voice_stage: bool,
        active_speaker: Option<SourceId>,
        loudest: Vec<SourceId>,
    },
    /// Audio levels (-dBov) a part heard, for the home's speaker detector.
    Levels {
        room: String,
        levels: Vec<(SourceId, u8)>,
    },
    /// A subscriber on the sender needs a keyframe of a track published on
    /// the receiver (`fresh` as in `Engine::request_keyframe`).
    Keyframe { src: TrackRef, fresh: bool },
}

/// One packet (or frame recovered from RED) crossing to another engine:
/// what the publisher's engine decided about it, and its payload shared.
#[derive(Debug, Clone)]
pub struct RemotePacket {
    pub room: Arc<str>,
    pub from: ParticipantId,
    pub src: TrackRef,
    pub codec: Codec,
    pub video: bool,
    pub keyframe: bool,
    pub marker: bool,
    pub ext: ExtensionValues,
    pub wallclock: Instant,
    pub unit: AudioUnit,
}

/// A member of a shared room as its engine describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: ParticipantId,
    pub name: String,
    pub role: Role,
    pub mute: MuteState,
    /// In the order published (the first of a kind is its own camera or
    /// microphone; a relay's others are sources of their own).
    pub tracks: Vec<TrackInfo>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrackInfo {
    pub id: TrackId,
    pub video: bool,
    pub codec: Option<Codec>,
    /// Per layer: sending now (`Layer::is_active`), and its bitrate.
    pub active: [bool; MAX_LAYERS],
    pub bitrate_bps: [u64; MAX_LAYERS],
}

/// A member whose session runs on another engine.
#[derive(Debug, Clone)]
pub struct RemoteMember {
    pub room: String,
    pub worker: WorkerId,
    pub member: Member,
}

/// A room's share of the span, on each engine holding it.
#[derive(Debug, Default)]
pub struct Span {
    pub home: WorkerId,
    /// The other engines holding a part (or the home) of the room.
    pub peers: Vec<WorkerId>,
    /// Local track -> engines whose subscribers (or taps) need it.
    pub wanted_by: HashMap<TrackId, Vec<WorkerId>>,
    /// The home's loudness ranking (on a part).
    pub loudest: Vec<SourceId>,
    /// Levels heard here since the last hand-off (on a part).
    pub levels: Vec<(SourceId, u8)>,
    /// Members or wants changed: tell the peers now, not at the tick.
    pub changed: bool,
    /// The home's decision must go out now (a stage command).
    pub decided: bool,
    /// A part has heard from the home: until then it knows only its own
    /// members, and a slot filled from that would stick (the policy keeps
    /// what a slot shows), so its policy waits.
    pub synced: bool,
}

impl Engine {
    pub(crate) fn worker(&self) -> WorkerId {
        self.cfg.worker
    }

    /// Whether this engine makes the room-wide decisions of `room`.
    pub(crate) fn is_home(room: &Room, me: WorkerId) -> bool {
        room.span.as_ref().is_none_or(|s| s.home == me)
    }

    /// The driver's word on who holds `room`: its home and every engine
    /// with a part (this one included). One engine: the room is whole here.
    pub fn set_span(&mut self, now: Instant, room: &str, home: WorkerId, workers: &[WorkerId]) {
        self.fan_out_now();
        let me = self.worker();
        if !workers.contains(&me) {
            // Not ours any more (its sessions left, or the join that made
            // this part failed): a room with nobody here goes.
            if self
                .rooms
                .get(room)
                .is_some_and(|r| r.participants.is_empty())
            {
                self.remove_room(room);
            }
            return;
        }
        let peers: Vec<WorkerId> = workers.iter().copied().filter(|&w| w != me).collect();
        if peers.is_empty() && home == me {
            if let Some(r) = self.rooms.get_mut(room)
                && r.span.take().is_some()
            {
                r.dirty = true;
            }
            self.spanned = self.rooms.values().filter(|r| r.span.is_some()).count();
            self.forget_remote(room, |_| true);
            // Whole again, and nobody in it: gone.
            if self
                .rooms
                .get(room)
                .is_some_and(|r| r.participants.is_empty())
            {
                self.remove_room(room);
            }
            return;
        }
        let r = self
            .rooms
            .entry(room.to_string())
            .or_insert_with(|| Room::new(room.to_string()));
        let span = r.span.get_or_insert_with(Span::default);
        span.home = home;
        span.peers = peers.clone();
        span.wanted_by.retain(|_, ws| {
            ws.retain(|w| peers.contains(w));
            !ws.is_empty()
        });
        span.changed = true;
        span.decided = true;
        r.dirty = true;
        self.spanned = self.rooms.values().filter(|r| r.span.is_some()).count();
        self.forget_remote(room, |w| !peers.contains(&w));
        self.process(now);
    }

    /// Members of `room` on engines `gone` says left: dropped from the
    /// mirror, the stage and the speaker detector.
    fn forget_remote(&mut self, room: &str, gone: impl Fn(WorkerId) -> bool) {
        let ids: Vec<ParticipantId> = self
            .remote
            .iter()
            .filter(|(_, m)| m.room == room && gone(m.worker))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.drop_remote(id);
        }
    }

    pub(crate) fn drop_remote(&mut self, id: ParticipantId) {
        let Some(m) = self.remote.remove(&id) else {
            return;
        };
        for t in &m.member.tracks {
            self.tracks.remove(&t.id);
        }
        let me = self.worker();
        let Some(r) = self.rooms.get_mut(&m.room) else {
            return;
        };
        r.dirty = true;
        let was_on_stage = r.stage.contains(&id);
        r.stage.retain(|p| *p != id);
        r.speaker.remove_where(|s| s.owner() == id);
        if r.active_speaker.is_some_and(|a| a.owner() == id) {
            r.active_speaker = None;
        }
        if Engine::is_home(r, me) && was_on_stage {
            self.events.push_back(Event::StageChanged {
                room: m.room.clone(),
                participants: r.stage.clone(),
            });
            if let Some(s) = &mut r.span {
                s.decided = true;
            }
        }
    }

    /// A room with nobody left here: gone, with its mirror tracks.
    pub(crate) fn remove_room(&mut self, room: &str) {
        let Some(r) = self.rooms.remove(room) else {
            return;
        };
        self.spanned = self.rooms.values().filter(|r| r.span.is_some()).count();
        if r.span.is_some() {
            let ids: Vec<ParticipantId> = self
                .remote
                .iter()
                .filter(|(_, m)| m.room == room)
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                if let Some(m) = self.remote.remove(&id) {
                    for t in &m.member.tracks {
                        self.tracks.remove(&t.id);
                    }
                }
            }
        }
    }

    /// Queue a hand-off for engine `to`.
    pub(crate) fn hand(&mut self, to: WorkerId, h: Handoff) {
        if let Some(q) = self.handoffs.get_mut(to) {
            q.push(h);
        }
    }

    /// Hand-offs to other engines since the last call, per engine (the
    /// driver sends each list as one message).
    pub fn drain_handoffs(&mut self, now: Instant) -> Vec<(WorkerId, Vec<Handoff>)> {
        if self.spanned == 0 && self.handoffs.iter().all(|q| q.is_empty()) {
            return Vec::new();
        }
        self.publish_spans(now, false);
        // Levels heard on parts, one message per room.
        let me = self.worker();
        let mut levels = Vec::new();
        for r in self.rooms.values_mut() {
            if let Some(s) = &mut r.span
                && s.home != me
                && !s.levels.is_empty()
            {
                levels.push((
                    s.home,
                    Handoff::Levels {
                        room: r.id.clone(),
                        levels: std::mem::take(&mut s.levels),
                    },
                ));
            }
        }
        for (to, h) in levels {
            self.hand(to, h);
        }
        for (to, q) in self.media_out.iter_mut().enumerate() {
            if !q.is_empty() {
                let packets = std::mem::take(q);
                self.handoffs[to].push(Handoff::Media(packets));
            }
        }
        self.keyframes_out.clear();
        self.handoffs
            .iter_mut()
            .enumerate()
            .filter(|(_, q)| !q.is_empty())
            .map(|(w, q)| (w, std::mem::take(q)))
            .collect()
    }

    /// Only the packets for other engines since the last call, each
    /// engine's behind whatever else it has waiting (so a part hears of a
    /// track before its packets): the driver calls this after each
    /// datagram, so the other workers of a shared room fan a frame out
    /// while this one does, not after its whole batch.
    pub fn drain_media_handoffs(&mut self) -> Vec<(WorkerId, Vec<Handoff>)> {
        if self.media_out.iter().all(|q| q.is_empty()) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (to, q) in self.media_out.iter_mut().enumerate() {
            if q.is_empty() {
                continue;
            }
            let mut list = std::mem::take(&mut self.handoffs[to]);
            list.push(Handoff::Media(std::mem::take(q)));
            out.push((to, list));
        }
        out
    }

    /// Take another engine's hand-offs.
    pub fn handle_handoff(&mut self, now: Instant, from: WorkerId, handoffs: Vec<Handoff>) {
        for h in handoffs {
            match h {
                Handoff::Media(packets) => {
                    for p in &packets {
                        self.deliver_remote(now, p);
                    }
                }
                Handoff::Part {
                    room,
                    members,
                    wants,
                } => {
                    // The packets before it go to the members as they were.
                    self.fan_out_now();
                    self.on_part(now, from, &room, members, wants);
                }
                Handoff::Decision {
                    room,
                    stage,
                    voice_stage,
                    active_speaker,
                    loudest,
                } => {
                    self.fan_out_now();
                    let me = self.worker();
                    let Some(r) = self.rooms.get_mut(&room) else {
                        continue;
                    };
                    if Engine::is_home(r, me) {
                        continue;
                    }
                    if r.stage != stage
                        || r.voice_stage != voice_stage
                        || r.active_speaker != active_speaker
                    {
                        r.dirty = true;
                    }
                    r.stage = stage;
                    r.voice_stage = voice_stage;
                    r.active_speaker = active_speaker;
                    if let Some(s) = &mut r.span {
                        s.loudest = loudest;
                        if !s.synced {
                            s.synced = true;
                            r.dirty = true;
                        }
                    }
                }
                Handoff::Levels { room, levels } => {
                    if let Some(r) = self.rooms.get_mut(&room) {
                        for (who, level) in levels {
                            r.speaker.handle_level(now, who, level);
                        }
                    }
                }
                Handoff::Keyframe { src, fresh } => {
                    if self
                        .tracks
                        .get(&src.track)
                        .is_some_and(|t| t.remote.is_none())
                    {
                        self.request_keyframe(now, src, fresh);
                    }
                }
            }
        }
        self.process(now);
    }

    /// A packet of a track published on another engine: to this engine's
    /// subscribers of it (and its taps), never handed on.
    fn deliver_remote(&mut self, now: Instant, p: &RemotePacket) {
        if !self.rooms.contains_key(&*p.room) {
            return;
        }
        if let Some(r) = self.rooms.get_mut(&*p.room) {
            r.stats.remote_packets_in += 1;
        }
        let ctx = crate::route::Outgoing {
            room: &p.room,
            from: p.from,
            src: p.src,
            codec: p.codec,
            video: p.video,
            keyframe: p.keyframe,
            marker: p.marker,
            ext: p.ext.clone(),
            wallclock: p.wallclock,
            local: false,
        };
        self.deliver(now, &ctx, &p.unit);
    }

    /// A remote member's published tracks, in order.
    pub(crate) fn remote_member(&self, id: ParticipantId) -> Option<&Member> {
        self.remote.get(&id).map(|m| &m.member)
    }
}
