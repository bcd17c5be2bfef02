//! The engine: owns rooms and sessions, takes commands, datagrams and time,
//! and produces datagrams and events. One engine per media worker thread.

use core::net::SocketAddr;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use str0m::config::DtlsCert;
use str0m::net::{Protocol, Receive};
use str0m::{Event as RtcEvent, IceConnectionState, Input};

use super::room::{PublishedTrack, Room};
use super::session::{CONNECT_TIMEOUT, Session};
use super::{
    Command, CommandError, Datagram, EngineStats, Event, JoinRequest, LeaveReason, ParticipantId,
    Reply, SlotState, SourceId, TrackId, stun,
};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Addresses written into ICE host candidates (ip:port of the media socket).
    pub local_addrs: Vec<SocketAddr>,
    /// Addresses written into passive ICE-TCP host candidates (ip:port of
    /// the TCP listener); empty: no ICE-TCP.
    pub tcp_addrs: Vec<SocketAddr>,
    /// Loudest audio streams forwarded to each participant.
    pub audio_slots_max: usize,
    /// This engine's index among the driver's workers, and how many there
    /// are: a room may span several (`span`).
    pub worker: usize,
    pub workers: usize,
}

/// Spare send buffers an engine keeps: a batch's fan-out (150 viewers ×
/// a frame of a few packets) without holding a backlog's worth.
const SPARE_MAX: usize = 1024;
/// A spare must take a forwarded video packet without growing (str0m
/// allocates its sealed datagrams at 1 500 bytes at least) and not hold
/// more than a datagram.
const SPARE_MIN_BYTES: usize = 1200;
const SPARE_MAX_BYTES: usize = 4096;

pub struct Engine {
    pub(super) cfg: EngineConfig,
    pub(super) cert: DtlsCert,
    pub(super) sessions: HashMap<ParticipantId, Session>,
    pub(super) rooms: HashMap<String, Room>,
    pub(super) tracks: HashMap<TrackId, PublishedTrack>,
    next_track: TrackId,
    ufrags: HashMap<String, ParticipantId>,
    /// Remote address -> session, bounded (`super::addrs`).
    addrs: super::addrs::AddrBook,
    /// The same for ICE-TCP connections' remote addresses (a TCP port and
    /// a UDP port of one number are different peers).
    tcp_addrs: super::addrs::AddrBook,
    pub(super) out: Vec<Datagram>,
    /// Buffers of datagrams the driver has sent, given back
    /// (`recycle`): a forwarded packet is sealed into one of them (str0m
    /// patch "reuse"), not into a new allocation.
    pub(super) spare: Vec<Vec<u8>>,
    pub(super) events: VecDeque<Event>,
    /// str0m events waiting to be handled with the whole engine in reach.
    pub(super) pending: VecDeque<(ParticipantId, RtcEvent)>,
    pub(super) stats: EngineStats,
    pub(super) last_tick: Option<Instant>,
    /// Session deadlines (min-heap); stale entries are skipped on pop.
    timers: BinaryHeap<Reverse<(Instant, ParticipantId)>>,
    /// Sessions marked dead since the last `process`.
    pub(super) dead: Vec<ParticipantId>,
    /// Rooms being recorded, and their packets for the recorder.
    pub(super) taps: HashMap<String, super::tap::RoomTap>,
    pub(super) tapped: Vec<super::tap::Tapped>,
    /// Incoming SSRCs of simulcast layers above the lowest, learned (`Some`)
    /// or gone (`None`), for the driver: what it may shed first when this
    /// engine falls behind.
    pub(super) upper_layers: Vec<(u32, Option<u8>)>,
    /// Participants whose alternative video track became wanted (true) or
    /// unwanted (false) since the last drain (`drain_renditions`).
    pub(super) renditions: Vec<(ParticipantId, bool)>,
    created: Instant,
    /// Members of shared rooms whose sessions run on other engines.
    pub(super) remote: HashMap<ParticipantId, super::span::RemoteMember>,
    /// Rooms held with other engines (0: `drain_handoffs` has nothing).
    pub(super) spanned: usize,
    /// Per engine: hand-offs and packets waiting for `drain_handoffs`.
    pub(super) handoffs: Vec<Vec<super::span::Handoff>>,
    pub(super) media_out: Vec<Vec<super::span::RemotePacket>>,
    /// Keyframe requests handed off since the last drain (merged).
    pub(super) keyframes_out: std::collections::HashSet<(TrackId, u8)>,
    /// Subscribers written to since the last flush (each once), and the
    /// latest time of those writes: see [`Engine::defer`].
    deferred: Vec<ParticipantId>,
    deferred_at: Instant,
    /// Packets whose copies wait for the end of the batch of input
    /// (`Engine::fan_out_pending`); their time is in `deferred_at`.
    pub(super) fanout_pending: Vec<super::span::RemotePacket>,
    /// `fan_out_pending`'s order of the packets, kept between batches.
    pub(super) fanout_order: Vec<usize>,
}

impl Engine {
    pub fn new(cfg: EngineConfig, now: Instant) -> Engine {
        // One DTLS certificate for every session: generating a key per peer
        // would make a join storm of 150 rooms pay 150 key generations.
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .expect("the aws-lc-rs provider generates DTLS certificates");
        let workers = cfg.workers.max(cfg.worker + 1);
        let next_track = ((cfg.worker as TrackId) << super::span::TRACK_WORKER_SHIFT) + 1;
        Engine {
            cfg,
            cert,
            sessions: HashMap::new(),
            rooms: HashMap::new(),
            tracks: HashMap::new(),
            next_track,
            ufrags: HashMap::new(),
            addrs: super::addrs::AddrBook::default(),
            tcp_addrs: super::addrs::AddrBook::default(),
            out: Vec::new(),
            spare: Vec::new(),
            events: VecDeque::new(),
            pending: VecDeque::new(),
            stats: EngineStats::default(),
            last_tick: Some(now),
            timers: BinaryHeap::new(),
            dead: Vec::new(),
            taps: HashMap::new(),
            tapped: Vec::new(),
            upper_layers: Vec::new(),
            renditions: Vec::new(),
            created: now,
            remote: HashMap::new(),
            spanned: 0,
            handoffs: (0..workers).map(|_| Vec::new()).collect(),
            media_out: (0..workers).map(|_| Vec::new()).collect(),
            keyframes_out: Default::default(),
            deferred: Vec::new(),
            deferred_at: now,
            fanout_pending: Vec::new(),
            fanout_order: Vec::new(),
        }
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Next time [`Engine::handle_timeout`] must be called.
    pub fn poll_timeout(&mut self) -> Instant {
        // Subscribers written to wait for the flush in `handle_timeout` or
        // `drain_transmits`: now.
        if !self.deferred.is_empty() || !self.fanout_pending.is_empty() {
            return self.deferred_at;
        }
        let tick = self
            .last_tick
            .map_or(self.created, |t| t + super::tick::TICK);
        // Discard entries superseded by a later drain of the same session.
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if self.sessions.get(&id).is_some_and(|s| s.next_timeout == t) {
                return t.min(tick);
            }
            self.timers.pop();
        }
        tick
    }

    /// Datagrams to send, in order.
    pub fn drain_transmits(&mut self) -> std::vec::Drain<'_, Datagram> {
        self.flush();
        self.stats.datagrams_out += self.out.len() as u64;
        self.stats.bytes_out += self
            .out
            .iter()
            .map(|d| d.contents.len() as u64)
            .sum::<u64>();
        self.out.drain(..)
    }

    /// Give back the buffer of a datagram `drain_transmits` handed out,
    /// once it is sent. A batch's worth is kept (`SPARE_MAX`, of a
    /// datagram's size: what a forwarded packet needs), the rest freed.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        // Kept with its old bytes: the seal overwrites what it keeps, and
        // clearing it would make the next seal zero it again.
        if self.spare.len() < SPARE_MAX
            && (SPARE_MIN_BYTES..=SPARE_MAX_BYTES).contains(&buf.capacity())
        {
            self.spare.push(buf);
        }
    }

    /// Packets for the recorder, in order.
    pub fn drain_tapped(&mut self) -> std::vec::Drain<'_, super::tap::Tapped> {
        self.tapped.drain(..)
    }

    /// SSRCs of upper simulcast layers learned or gone since the last call:
    /// `(ssrc, Some(layer))` or `(ssrc, None)`.
    pub fn drain_upper_layers(&mut self) -> std::vec::Drain<'_, (u32, Option<u8>)> {
        self.upper_layers.drain(..)
    }

    /// Changes of whose alternative video track some subscriber shows:
    /// (participant, wanted). A SIP room's gateway encodes its VP8
    /// rendition only while it is wanted (`sip::gateway`).
    pub fn drain_renditions(&mut self) -> std::vec::Drain<'_, (ParticipantId, bool)> {
        self.renditions.drain(..)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn handle_command(&mut self, now: Instant, cmd: Command) -> Result<Reply, CommandError> {
        // What was received before the command goes out as it found the
        // room (a mute, a leave or a stage change applies from here on).
        self.fan_out_now();
        let r = match cmd {
            Command::Join(req) => self.join(now, req),
            Command::Renegotiate { participant, offer } => {
                self.renegotiate(now, participant, &offer)
            }
            Command::Leave { participant } => {
                if !self.sessions.contains_key(&participant) {
                    return Err(CommandError::UnknownParticipant(participant));
                }
                self.remove_session(participant, LeaveReason::Requested);
                Ok(Reply::Done)
            }
            Command::SetStage { room, participants } => {
                let r = self
                    .rooms
                    .get_mut(&room)
                    .ok_or_else(|| CommandError::UnknownRoom(room.clone()))?;
                let remote = &self.remote;
                if let Some(p) = participants.iter().find(|p| {
                    !r.participants.contains(p) && remote.get(p).is_none_or(|m| m.room != room)
                }) {
                    return Err(CommandError::NotInRoom(*p, room));
                }
                r.stage = participants.clone();
                r.dirty = true;
                if let Some(s) = &mut r.span {
                    s.decided = true;
                }
                self.events
                    .push_back(Event::StageChanged { room, participants });
                Ok(Reply::Done)
            }
            Command::StageVoice { room, on } => {
                let r = self
                    .rooms
                    .get_mut(&room)
                    .ok_or_else(|| CommandError::UnknownRoom(room.clone()))?;
                if r.voice_stage != on {
                    r.voice_stage = on;
                    r.dirty = true;
                    if let Some(s) = &mut r.span {
                        s.decided = true;
                    }
                }
                Ok(Reply::Done)
            }
            Command::Mute {
                participant,
                audio,
                video,
                by_operator,
            } => {
                let s = self
                    .sessions
                    .get_mut(&participant)
                    .ok_or(CommandError::UnknownParticipant(participant))?;
                let m = &mut s.mute;
                let (a, v) = if by_operator {
                    (&mut m.operator_audio, &mut m.operator_video)
                } else {
                    (&mut m.own_audio, &mut m.own_video)
                };
                if let Some(x) = audio {
                    *a = x;
                }
                if let Some(x) = video {
                    *v = x;
                }
                let (room, mute) = (s.room.clone(), s.mute);
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.dirty = true;
                    if let Some(s) = &mut r.span {
                        s.changed = true;
                    }
                }
                self.events.push_back(Event::MuteChanged {
                    room,
                    participant,
                    mute,
                });
                Ok(Reply::Done)
            }
            Command::SetMaxBitrate { participant, kbps } => {
                let s = self
                    .sessions
                    .get_mut(&participant)
                    .ok_or(CommandError::UnknownParticipant(participant))?;
                s.max_kbps = kbps;
                Ok(Reply::Done)
            }
            Command::PinThumbs {
                participant,
                mut sources,
            } => {
                let s = self
                    .sessions
                    .get_mut(&participant)
                    .ok_or(CommandError::UnknownParticipant(participant))?;
                if s.role != super::Role::Relay {
                    return Err(CommandError::NotARelay(participant));
                }
                sources.truncate(super::RELAY_THUMBS);
                if s.pinned != sources {
                    s.pinned = sources;
                    if let Some(r) = self.rooms.get_mut(&s.room) {
                        r.dirty = true;
                    }
                }
                Ok(Reply::Done)
            }
            Command::Record { room, on } => {
                if on {
                    self.taps.entry(room.clone()).or_default();
                    // Targets are set now, not at the next tick, so the
                    // first keyframe requests go out at once.
                    self.retarget_taps(now);
                } else {
                    self.taps.remove(&room);
                }
                Ok(Reply::Done)
            }
            Command::TapKeyframe { room, track } => {
                if let Some(src) = self.taps.get(&room).and_then(|t| t.source_of(track)) {
                    self.request_keyframe(now, src, true);
                }
                Ok(Reply::Done)
            }
            Command::TapLayers { room, layers } => {
                if let Some(tap) = self.taps.get_mut(&room) {
                    tap.composite_wants = layers.into_iter().collect();
                    self.retarget_taps(now);
                }
                Ok(Reply::Done)
            }
            Command::Stats => Ok(Reply::Stats(self.snapshot())),
        };
        self.process(now);
        r
    }

    fn join(&mut self, now: Instant, req: JoinRequest) -> Result<Reply, CommandError> {
        if self.sessions.contains_key(&req.participant) {
            return Err(CommandError::DuplicateParticipant(req.participant));
        }
        let id = req.participant;
        let mut s = Session::new(
            now,
            &req,
            &self.cert,
            &self.cfg.local_addrs,
            &self.cfg.tcp_addrs,
        );
        let (answer, lines) = match guarded(|| s.accept_offer(&req.offer)) {
            Some(Ok(a)) => a,
            Some(Err(e)) => return Err(e),
            None => return Err(CommandError::SessionFailed),
        };
        if lines.is_empty() {
            return Err(CommandError::NoUsableCodec);
        }
        let ufrag = s.ice_ufrag.clone();
        self.ufrags.insert(ufrag.clone(), id);
        self.sessions.insert(id, s);
        for (mid, kind, dir) in lines {
            self.on_media_added(id, mid, kind, dir);
        }
        self.attach_screen(id);
        let room = self
            .rooms
            .entry(req.room.clone())
            .or_insert_with(|| Room::new(req.room.clone()));
        room.participants.push(id);
        room.dirty = true;
        if let Some(s) = &mut room.span {
            s.changed = true;
        }
        self.events.push_back(Event::Joined {
            room: req.room,
            participant: id,
            name: req.name,
            role: req.role,
        });
        // First drain: arm the session's timer whatever its deadline.
        self.drive_timer(id, true);
        self.process(now);
        let slots = self.slot_states(id);
        Ok(Reply::Joined {
            answer,
            ice_ufrag: ufrag,
            slots,
        })
    }

    fn renegotiate(
        &mut self,
        now: Instant,
        id: ParticipantId,
        offer: &str,
    ) -> Result<Reply, CommandError> {
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or(CommandError::UnknownParticipant(id))?;
        let (answer, lines) = match guarded(|| s.accept_offer(offer)) {
            Some(r) => r?,
            None => {
                self.remove_session(id, LeaveReason::Failed);
                return Err(CommandError::SessionFailed);
            }
        };
        for (mid, kind, dir) in lines {
            self.on_media_added(id, mid, kind, dir);
        }
        self.attach_screen(id);
        self.drive(id);
        self.process(now);
        Ok(Reply::Answer {
            answer,
            slots: self.slot_states(id),
        })
    }

    /// The participant behind a source, while it is in one of our rooms
    /// (here or on another engine).
    pub(super) fn source_owner(&self, id: SourceId) -> Option<ParticipantId> {
        let owner = id.owner();
        self.is_member(owner).then_some(owner)
    }

    /// The source a slot names to its subscriber: the participant, except a
    /// relay's thumbnail, which names itself (the roll call's
    /// `thumb_participant` says which room below it is).
    fn slot_source(&self, id: SourceId) -> Option<SourceId> {
        let owner = self.source_owner(id)?;
        Some(if id.is_thumb() {
            id
        } else {
            SourceId::Participant(owner)
        })
    }

    /// A source's display name: its participant's.
    pub(super) fn source_name(&self, id: SourceId) -> Option<String> {
        let owner = self.source_owner(id)?;
        match self.sessions.get(&owner) {
            Some(s) => Some(s.name.clone()),
            None => self.remote_member(owner).map(|m| m.name.clone()),
        }
    }

    /// A participant of one of our rooms, here or on another engine.
    pub(super) fn is_member(&self, id: ParticipantId) -> bool {
        self.sessions.contains_key(&id) || self.remote.contains_key(&id)
    }

    /// A member's published tracks of one kind, in order, wherever its
    /// session runs (no allocation: the policy asks per slot).
    pub(super) fn tracks_of(
        &self,
        id: ParticipantId,
        video: bool,
    ) -> impl Iterator<Item = TrackId> + '_ {
        let local = self
            .sessions
            .get(&id)
            .map(|s| s.published.iter().map(|(_, t)| *t));
        let remote = local
            .is_none()
            .then(|| self.remote_member(id))
            .flatten()
            .map(|m| m.tracks.iter().map(|t| t.id));
        local
            .into_iter()
            .flatten()
            .chain(remote.into_iter().flatten())
            .filter(move |t| self.tracks.get(t).is_some_and(|x| x.video == video))
    }

    /// A member's first track of one kind (its camera or microphone).
    pub(super) fn track_of(&self, id: ParticipantId, video: bool) -> Option<TrackId> {
        self.tracks_of(id, video).next()
    }

    /// The video track of member `p` that slot `slot` of subscriber `s`
    /// shows, and whether it is the alternative: its first (its camera) —
    /// unless `s` negotiated no codec for it on that slot (a browser
    /// without H.264) and `p`, not a relay, publishes a second video track,
    /// the same picture in another codec (a SIP room's VP8 rendition of its
    /// H.264, `sip::gateway`), which it sends only while wanted. Its codec
    /// is unknown until it flows: taken as the one `s` can receive.
    pub(super) fn video_for(
        &self,
        s: &super::session::Session,
        slot: usize,
        p: ParticipantId,
    ) -> Option<(TrackId, bool)> {
        let mut tracks = self.tracks_of(p, true);
        let first = tracks.next()?;
        let sendable = |t: &TrackId| {
            self.tracks
                .get(t)
                .is_some_and(|x| x.codec.is_none_or(|c| s.can_send(slot, c)))
        };
        if sendable(&first) || self.role_of(p) == Some(super::Role::Relay) {
            return Some((first, false));
        }
        match tracks.next() {
            Some(alt) if sendable(&alt) => Some((alt, true)),
            _ => Some((first, false)),
        }
    }

    /// Whether `t` is its owner's alternative video track (`video_for`).
    pub(super) fn is_alternative(&self, t: &super::room::PublishedTrack) -> bool {
        t.video
            && self.role_of(t.owner) != Some(super::Role::Relay)
            && self.tracks_of(t.owner, true).nth(1) == Some(t.id)
    }

    /// Tell the driver whose alternative video track is wanted now, here
    /// or by another engine of the room (a change only; each tick).
    pub(super) fn update_renditions(&mut self) {
        let mut changes = Vec::new();
        for (id, s) in &self.sessions {
            if s.role == super::Role::Relay {
                continue;
            }
            let Some(alt) = s
                .published
                .iter()
                .map(|(_, t)| *t)
                .filter(|t| self.tracks.get(t).is_some_and(|x| x.video))
                .nth(1)
            else {
                continue;
            };
            let wanted = self.rooms.get(&s.room).is_some_and(|r| {
                r.fanout.get(&alt).is_some_and(|v| !v.is_empty())
                    || r.span
                        .as_ref()
                        .is_some_and(|sp| sp.wanted_by.get(&alt).is_some_and(|w| !w.is_empty()))
            });
            if wanted != s.rendition_wanted {
                changes.push((*id, wanted));
            }
        }
        for (id, wanted) in changes {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.rendition_wanted = wanted;
            }
            self.renditions.push((id, wanted));
        }
    }

    /// A relay member's further tracks of one kind (sources of their own).
    pub(super) fn extra_tracks_of(
        &self,
        id: ParticipantId,
        video: bool,
    ) -> impl Iterator<Item = TrackId> + '_ {
        let relay = self.role_of(id) == Some(super::Role::Relay);
        self.tracks_of(id, video).skip(1).filter(move |_| relay)
    }

    pub(super) fn role_of(&self, id: ParticipantId) -> Option<super::Role> {
        match self.sessions.get(&id) {
            Some(s) => Some(s.role),
            None => self.remote_member(id).map(|m| m.role),
        }
    }

    pub(super) fn mute_of(&self, id: ParticipantId) -> Option<super::MuteState> {
        match self.sessions.get(&id) {
            Some(s) => Some(s.mute),
            None => self.remote_member(id).map(|m| m.mute),
        }
    }

    pub(super) fn slot_states(&self, id: ParticipantId) -> Vec<SlotState> {
        let Some(s) = self.sessions.get(&id) else {
            return vec![];
        };
        s.slots
            .iter()
            .map(|sl| SlotState {
                mid: sl.mid.to_string(),
                video: sl.video,
                role: sl.role,
                source: sl.shows.and_then(|p| self.slot_source(p)),
                name: sl.shows.and_then(|p| self.source_name(p)),
            })
            .collect()
    }

    /// Feed one received datagram. Unknown or malformed input is dropped and
    /// counted, never an error.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        buf: &[u8],
    ) {
        self.receive(now, Protocol::Udp, source, destination, buf);
    }

    /// Feed one RFC 4571 frame from an ICE-TCP connection (`source` the
    /// peer's end, `destination` our candidate's address); as a datagram.
    pub fn handle_tcp_frame(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        buf: &[u8],
    ) {
        self.receive(now, Protocol::Tcp, source, destination, buf);
    }

    #[inline]
    fn receive(
        &mut self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        buf: &[u8],
    ) {
        self.stats.datagrams_in += 1;
        let book = match proto {
            Protocol::Tcp => &mut self.tcp_addrs,
            _ => &mut self.addrs,
        };
        let id = match book.lookup(now, source) {
            Some(id) => id,
            None => match stun::local_ufrag(buf).and_then(|u| self.ufrags.get(u)) {
                Some(id) => *id,
                None => {
                    self.stats.dropped_unknown_source += 1;
                    return;
                }
            },
        };
        let Ok(contents) = buf.try_into() else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto,
                source,
                destination,
                contents,
            },
        );
        let Some(s) = self.sessions.get_mut(&id) else {
            self.stats.dropped_unknown_source += 1;
            return;
        };
        if !s.rtc.accepts(&input) {
            self.stats.dropped_malformed += 1;
            return;
        }
        let accepted = match guarded(|| s.rtc.handle_input(input)) {
            Some(Ok(())) => true,
            Some(Err(e)) => {
                tracing::debug!(participant = id, error = %e, "datagram refused");
                self.stats.dropped_malformed += 1;
                false
            }
            None => {
                s.dead = true;
                false
            }
        };
        // Only a STUN request the session took teaches an address (bounded
        // per session: a flood from new ports replaces, never grows).
        if accepted && stun::is_stun(buf) {
            match proto {
                Protocol::Tcp => self.tcp_addrs.learn(now, source, id),
                _ => self.addrs.learn(now, source, id),
            }
        }
        self.drive(id);
        self.process(now);
    }

    /// Advance time: session timers, then the periodic room work.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.flush();
        // Due sessions from the timer heap: O(due · log n), not a scan of
        // every session per call (150 endpoints, thousands of calls a second).
        let mut due: Vec<ParticipantId> = Vec::new();
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            if self.sessions.get(&id).is_some_and(|s| s.next_timeout == t) && !due.contains(&id) {
                due.push(id);
            }
        }
        for id in due {
            // Direct sends since its last drain moved str0m's deadline later
            // (the pacer's periodic handle counts from the last send): ask it
            // again — a poll that only recomputes the timeout — rather than
            // run a whole timeout that is no longer due. Media every 20 ms
            // (audio) so never wakes a subscriber for the pacer alone.
            if self.sessions.get(&id).is_some_and(|s| s.sent_direct) {
                self.drive_timer(id, true);
                if self
                    .sessions
                    .get(&id)
                    .is_some_and(|s| !s.dead && s.next_timeout > now)
                {
                    self.stats.timeouts_deferred += 1;
                    continue;
                }
            }
            if let Some(s) = self.sessions.get_mut(&id) {
                self.stats.session_timeouts += 1;
                if guarded(|| s.rtc.handle_input(Input::Timeout(now))).is_none() {
                    s.dead = true;
                }
                if !s.connected && now.saturating_duration_since(s.created_at) > CONNECT_TIMEOUT {
                    self.remove_session(id, LeaveReason::IceTimeout);
                    continue;
                }
            }
            // Its heap entry was consumed: re-arm even if str0m's deadline
            // did not move.
            self.drive_timer(id, true);
        }
        self.process(now);
        if self
            .last_tick
            .is_none_or(|t| now.saturating_duration_since(t) >= super::tick::TICK)
        {
            self.last_tick = Some(now);
            self.addrs.sweep(now);
            self.tcp_addrs.sweep(now);
            self.tick(now);
            self.process(now);
        }
    }

    /// Drain one session's output after a mutation, containing panics.
    pub(super) fn drive(&mut self, id: ParticipantId) {
        self.drive_timer(id, false);
    }

    /// Packets were queued for `fan_out_pending` at `now`.
    pub(super) fn mark_pending(&mut self, now: Instant) {
        self.deferred_at = self.deferred_at.max(now);
    }

    /// Send the copies queued so far (before the input that may change
    /// who takes them); their subscribers' flush stays for the batch's end.
    pub(super) fn fan_out_now(&mut self) {
        if !self.fanout_pending.is_empty() {
            self.fan_out_pending(self.deferred_at);
            self.process(self.deferred_at);
        }
    }

    /// A subscriber was written media at `now`: drive it once the batch of
    /// input is handled (the next [`Engine::drain_transmits`] or
    /// [`Engine::handle_timeout`]; until then [`Engine::poll_timeout`] says
    /// now), not after each packet. str0m's pacer
    /// takes a snapshot of its queues on a timeout, so one timeout then
    /// sends a whole frame (`vendor/str0m/PATCHES.md`, "burst"): driving
    /// after every packet cost two timeouts of the whole session per
    /// packet and subscriber.
    pub(super) fn defer(&mut self, now: Instant, id: ParticipantId) {
        if let Some(s) = self.sessions.get_mut(&id)
            && !s.deferred
        {
            s.deferred = true;
            self.deferred.push(id);
        }
        self.deferred_at = self.deferred_at.max(now);
    }

    /// Drive every deferred subscriber: its send queues and pacer see what
    /// was queued (a light flush, else a whole timeout) and a drain each. What the drains raise is handled at
    /// once and may defer more: a room's session both subscribes and
    /// publishes, and its timeout may release media its reorder buffer
    /// held. Each round only forwards what was already received, so this
    /// ends; the bound is a guard (what is left waits for the next call,
    /// and `poll_timeout` says now).
    fn flush(&mut self) {
        for _ in 0..32 {
            // The batch's copies first: they defer the subscribers written.
            self.fan_out_pending(self.deferred_at);
            if self.deferred.is_empty() {
                if !self.dead.is_empty() {
                    self.process(self.deferred_at);
                }
                return;
            }
            let now = self.deferred_at;
            for id in std::mem::take(&mut self.deferred) {
                let Some(s) = self.sessions.get_mut(&id) else {
                    continue;
                };
                s.deferred = false;
                // Only the send queues and the pacer's snapshot (str0m patch
                // "light-flush"): the session's other timers keep their own
                // deadlines in the timer heap.
                let flushed = guarded(|| {
                    if s.rtc.flush_media(now)? {
                        Ok(true)
                    } else {
                        s.rtc.handle_input(Input::Timeout(now)).map(|_| false)
                    }
                });
                match flushed {
                    None => s.dead = true,
                    Some(Ok(true)) => self.stats.light_flushes += 1,
                    Some(_) => self.stats.flush_timeouts += 1,
                }
                self.drive_timer(id, false);
            }
            self.process(now);
        }
    }

    /// Drain, then keep the timer heap and the dead list current. A new heap
    /// entry only when the deadline moved (or `rearm`), so fan-out of one
    /// packet to N subscribers does not grow the heap by N stale entries.
    fn drive_timer(&mut self, id: ParticipantId, rearm: bool) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let before = s.next_timeout;
        s.sent_direct = false;
        let (out, pending) = (&mut self.out, &mut self.pending);
        if guarded(|| s.drain(out, pending)).is_none() {
            s.dead = true;
        }
        if rearm || s.next_timeout != before {
            self.timers.push(Reverse((s.next_timeout, id)));
        }
        if s.dead {
            self.dead.push(id);
        }
    }

    /// Handle queued str0m events (which may queue more), then reap dead sessions.
    pub(super) fn process(&mut self, now: Instant) {
        while let Some((id, ev)) = self.pending.pop_front() {
            self.on_rtc_event(now, id, ev);
        }
        let dead = std::mem::take(&mut self.dead);
        for id in dead {
            if self.sessions.get(&id).is_some_and(|s| s.dead) {
                self.stats.sessions_failed += 1;
                self.remove_session(id, LeaveReason::Failed);
            }
        }
        let dirty: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.dirty)
            .map(|(k, _)| k.clone())
            .collect();
        for room in dirty {
            self.apply_policy(now, &room);
        }
        while let Some((id, ev)) = self.pending.pop_front() {
            self.on_rtc_event(now, id, ev);
        }
    }

    /// ICE and DTLS are done: the subscriber can take media now, so ask
    /// for the keyframes its slots wait for (not earlier: a keyframe sent
    /// before this moment could not reach it).
    fn on_connected(&mut self, now: Instant, id: ParticipantId) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        s.connected = true;
        let waiting: Vec<_> = s
            .slots
            .iter()
            .filter(|sl| sl.video)
            .filter_map(|sl| sl.fwd.target())
            .collect();
        for src in waiting {
            self.request_keyframe(now, src, true);
        }
        self.screen_wants_keyframe(id);
        self.events.push_back(Event::Connected { participant: id });
    }

    fn on_rtc_event(&mut self, now: Instant, id: ParticipantId, ev: RtcEvent) {
        match ev {
            RtcEvent::RtpPacket(pkt) => self.route_packet(now, id, pkt),
            RtcEvent::KeyframeRequest(req) => self.on_keyframe_request(now, id, req.mid),
            RtcEvent::Connected => self.on_connected(now, id),
            RtcEvent::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.remove_session(id, LeaveReason::Disconnected);
            }
            RtcEvent::MediaAdded(m) => self.on_media_added(id, m.mid, m.kind, m.direction),
            RtcEvent::MediaChanged(m) => {
                if let Some(s) = self.sessions.get(&id) {
                    let kind = s.rtc.media(m.mid).map(|x| x.kind());
                    if let Some(kind) = kind {
                        self.on_media_added(id, m.mid, kind, m.direction);
                    }
                }
            }
            RtcEvent::EgressBitrateEstimate(b) => {
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                // Our own send-side (TWCC) estimate is authoritative; a
                // receiver's REMB only counts for peers without TWCC (its
                // receive-side estimate ramps slowly and would pin layers low).
                match b {
                    str0m::bwe::BweKind::Twcc { estimate, .. } => {
                        s.bwe_twcc = true;
                        s.bwe_bps = Some(estimate.as_u64());
                    }
                    str0m::bwe::BweKind::Remb { estimate, .. } if !s.bwe_twcc => {
                        s.bwe_bps = Some(estimate.as_u64());
                    }
                    _ => {}
                }
            }
            RtcEvent::MediaEgressStats(st) => {
                // str0m's counters are cumulative per m-line: keep the latest.
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.link.nacks_in.insert((st.mid, st.rid), st.nacks);
                    if let Some(l) = st.loss {
                        s.link.loss_out = l;
                        s.on_loss_report(now, l, super::audio::LossReport::Receiver);
                    }
                    if let Some(rtt) = st.rtt {
                        s.link.rtt_ms = rtt.as_millis() as u32;
                    }
                }
            }
            RtcEvent::PeerStats(st) => {
                // Loss towards the peer from its transport-wide feedback,
                // each second: an audio stream's own receiver reports come
                // only every five.
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                if let Some(pair) = &st.selected_candidate_pair {
                    s.link.tcp = pair.protocol == Protocol::Tcp;
                }
                if let Some(l) = st.egress_loss_fraction {
                    s.on_loss_report(now, l, super::audio::LossReport::Transport);
                }
            }
            RtcEvent::MediaIngressStats(st) => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.link.loss_in = st.loss.unwrap_or(0.0);
                    // Jitter in RTP clock units: audio's (48 kHz) is the
                    // figure a listener hears; video's would read tenfold.
                    if s.published
                        .iter()
                        .any(|(m, t)| *m == st.mid && self.tracks.get(t).is_some_and(|t| !t.video))
                    {
                        s.link.jitter_ms = st.jitter / 48;
                    }
                    s.link.nacks_out.insert((st.mid, st.rid), st.nacks);
                }
            }
            _ => {}
        }
    }

    fn on_media_added(
        &mut self,
        id: ParticipantId,
        mid: str0m::media::Mid,
        kind: str0m::media::MediaKind,
        dir: str0m::media::Direction,
    ) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let publishes = s.classify_media(mid, kind, dir);
        let room = s.room.clone();
        if let Some(video) = publishes
            && !s.published.iter().any(|(m, _)| *m == mid)
        {
            let tid = self.next_track;
            self.next_track += 1;
            s.published.push((mid, tid));
            self.tracks
                .insert(tid, PublishedTrack::new(tid, id, mid, video));
            if let Some(s) = self.rooms.get_mut(&room).and_then(|r| r.span.as_mut()) {
                s.changed = true;
            }
            self.events.push_back(Event::TrackPublished {
                room: room.clone(),
                participant: id,
                video,
            });
        }
        if let Some(r) = self.rooms.get_mut(&room) {
            r.dirty = true;
        }
    }

    pub(super) fn remove_session(&mut self, id: ParticipantId, reason: LeaveReason) {
        let Some(s) = self.sessions.remove(&id) else {
            return;
        };
        self.ufrags.remove(&s.ice_ufrag);
        self.addrs.forget_session(id);
        self.tcp_addrs.forget_session(id);
        for (ssrc, r) in &s.rx_ssrc {
            if r.layer > 0 {
                self.upper_layers.push((**ssrc, None));
            }
        }
        for (_, t) in &s.published {
            self.tracks.remove(t);
        }
        let mut rtc = s.rtc;
        rtc.disconnect();
        let me = self.cfg.worker;
        if let Some(r) = self.rooms.get_mut(&s.room) {
            r.participants.retain(|p| *p != id);
            // On a part the stage is the home's: it tells the room.
            let was_on_stage = r.stage.contains(&id) && Engine::is_home(r, me);
            r.stage.retain(|p| *p != id);
            r.speaker.remove_where(|s| s.owner() == id);
            if r.active_speaker.is_some_and(|a| a.owner() == id) {
                r.active_speaker = None;
            }
            r.dirty = true;
            if was_on_stage {
                self.events.push_back(Event::StageChanged {
                    room: s.room.clone(),
                    participants: r.stage.clone(),
                });
            }
            if let Some(sp) = &mut r.span {
                sp.changed = true;
                sp.decided |= was_on_stage;
            }
            if r.participants.is_empty() {
                let spanned = r.span.is_some();
                let peers = r.span.as_ref().map(|s| s.peers.clone()).unwrap_or_default();
                // Tell the peers its members are gone before it goes.
                for p in peers {
                    self.hand(
                        p,
                        super::span::Handoff::Part {
                            room: s.room.clone(),
                            members: Vec::new(),
                            wants: Vec::new(),
                        },
                    );
                }
                // A shared room stays until the driver says this engine no
                // longer holds it (`set_span`): a join may already be on its
                // way here.
                if !spanned {
                    self.remove_room(&s.room);
                }
            }
        }
        self.events.push_back(Event::Left {
            room: s.room,
            participant: id,
            reason,
        });
    }

    fn snapshot(&self) -> EngineStats {
        let mut st = self.stats.clone();
        st.addrs_evicted = self.addrs.evicted + self.tcp_addrs.evicted;
        st.maps = super::MapSizes {
            sessions: self.sessions.len(),
            rooms: self.rooms.len(),
            tracks: self.tracks.len(),
            ufrags: self.ufrags.len(),
            addresses: self.addrs.len() + self.tcp_addrs.len(),
            slots: self.sessions.values().map(|s| s.slots.len()).sum(),
            remote_members: self.remote.len(),
            timers: self.timers.len(),
            taps: self.taps.len(),
        };
        st.rooms = self
            .rooms
            .values()
            .map(|r| {
                let mut rs = r.stats.clone();
                rs.nacks_received = r
                    .participants
                    .iter()
                    .filter_map(|p| self.sessions.get(p))
                    .map(|s| s.link.nacks_in.values().sum::<u64>())
                    .sum();
                rs.participants = r.participants.len() as u64;
                rs.tracks = self
                    .tracks
                    .values()
                    .filter(|t| r.participants.contains(&t.owner))
                    .count() as u64;
                rs
            })
            .collect();
        st.participants = self
            .sessions
            .values()
            .map(|s| {
                // Its first audio and first video track (a relay's others
                // are rooms of the other side, reported there).
                let own = |video: bool| {
                    s.track_of_kind(video, &self.tracks)
                        .and_then(|t| self.tracks.get(&t))
                };
                super::ParticipantStats {
                    room: s.room.clone(),
                    participant: s.id,
                    name: s.name.clone(),
                    connected: s.connected,
                    loss_in_permille: (s.link.loss_in.clamp(0.0, 1.0) * 1000.0) as u32,
                    loss_out_permille: (s.link.loss_out.clamp(0.0, 1.0) * 1000.0) as u32,
                    rtt_ms: s.link.rtt_ms,
                    bwe_bps: s.bwe_bps.unwrap_or(0),
                    bitrate_in_bps: s
                        .published
                        .iter()
                        .filter_map(|(_, t)| self.tracks.get(t))
                        .flat_map(|t| t.layers.iter())
                        .map(|l| l.bitrate_bps)
                        .sum(),
                    tcp: s.link.tcp,
                    jitter_ms: s.link.jitter_ms,
                    audio_frames_expected: own(false).map_or(0, |t| t.continuity.expected()),
                    audio_frames_received: own(false).map_or(0, |t| t.continuity.received()),
                    video_freezes: own(true).map_or(0, |t| t.freezes.freezes),
                    video_freeze_ms: own(true).map_or(0, |t| t.freezes.freeze_ms),
                    stage_layer_ms: s.stage_layer_ms,
                }
            })
            .collect();
        st
    }
}

/// Run `f`, turning a panic into `None`: a bug in one session's protocol
/// state must not take down its room or the worker thread.
pub(super) fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(_) => {
            tracing::error!("panic contained in a media session; closing it");
            None
        }
    }
}

/// How long a stats window lasts for layer bitrates.
pub(super) const BITRATE_WINDOW: Duration = Duration::from_secs(1);
