//! The media driver: the one UDP port, worker threads, demultiplexing.
//!
//! Moves bytes, timers, commands and events between the OS and
//! `media::Engine`s; makes no protocol decisions. Threads:
//! - one receive thread per socket: `recvmmsg`, then routes each datagram to
//!   the worker owning its session — by remote address (hash map), or for a
//!   STUN request from a new address by its ICE username (hash map);
//! - one worker per core, each owning an `Engine` with a share of the rooms
//!   (a room lives on one worker, so its fan-out needs no locks — until
//!   it outgrows `room_split_sessions`, then it spans several: see
//!   `media::span`, the hand-offs travel on these queues); a worker
//!   sends its own output with `sendmmsg`;
//! - with ICE-TCP on, one thread for the TCP listener (`tcp`): RFC 4571
//!   frames to and from the same workers, routed by the first STUN
//!   request's ufrag.
//!
//! Control talks to workers through bounded channels; workers never wait on
//! control, storage or disk.

mod framing;
pub mod histogram;
mod queue;
mod routes;
mod shard;
pub mod tcp;
pub mod udp;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, TrySendError};
use tokio::sync::{mpsc, oneshot};

use crate::media::tap::Tapped;
use crate::media::{
    Command, CommandError, EngineConfig, EngineStats, Event, JoinRequest, ParticipantId, Reply,
};

/// Commands queued per worker before callers get "busy". Commands are rare
/// (joins, mutes); a full queue means the worker is overloaded.
const COMMAND_QUEUE: usize = 1024;
/// Datagram batches queued per worker; beyond this the receive thread drops
/// (and counts) rather than let latency grow without bound.
const DATAGRAM_QUEUE: usize = 4096;
/// A worker this many datagram batches behind, or a quarter of its byte
/// bound (`queue::WorkerTx::backlog`; a few hundred milliseconds of a large
/// meeting's input), is overloaded: the receive thread sheds the
/// top simulcast layer at the door (twice as far behind, the middle one
/// too), so viewers move down a layer, the fan-out shrinks and the worker
/// catches up — degrading instead of collapsing (a full queue drops
/// everything alike, and the losses bring NACK and keyframe storms that
/// keep the worker behind). Audio, feedback and handshakes always pass.
const SHED_DEPTH: usize = DATAGRAM_QUEUE / 4;
/// Shedding lasts at least this long once it starts: a shed layer stops, the
/// engine moves its viewers down a layer (after `LAYER_IDLE`, on a
/// keyframe), and the picture must not bounce back up at once.
const SHED_HOLD: std::time::Duration = std::time::Duration::from_secs(10);
/// Engine events buffered towards signalling.
pub const EVENT_QUEUE: usize = 16_384;
/// Who wants a room's packets tapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TapUser {
    Recording,
    LiveStream,
    /// The composite's live consumers (SIP rooms, hall screens).
    Composite,
}

/// Recorder queue, in packets: about 3 s of a 150-room meeting's recorded
/// streams; a recorder slower than that loses packets, never the meeting.
const TAP_QUEUE: usize = 65_536;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("cannot bind media UDP port {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen on ICE-TCP port {addr} (media.tcp_port): {source}")]
    BindTcp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("media worker is busy; try again")]
    Busy,
    #[error("media worker stopped")]
    Stopped,
}

pub(crate) enum ShardInput {
    Datagrams(DatagramBatch),
    /// RFC 4571 frames from ICE-TCP connections (source: the peer's end,
    /// destination: our candidate's address).
    TcpFrames(DatagramBatch),
    Command(Command, oneshot::Sender<Result<Reply, CommandError>>),
    /// RTP payloads of a room's composite, for its hall screens
    /// (`media::composite`): sent without a reply, dropped when full.
    Composite(String, Vec<crate::media::composite::CompositePacket>),
    /// Another worker's hand-offs about rooms they share (`media::span`):
    /// packets for our subscribers, members, decisions, keyframe requests;
    /// with the kernel's receive stamps of the datagrams whose packets it
    /// carries (`DriverCounters::transit`: this worker's sends count too).
    Handoff(usize, Vec<crate::media::span::Handoff>, Vec<u64>),
    /// Who holds a room now: its home and every worker with a part.
    Span {
        room: String,
        home: usize,
        workers: Vec<usize>,
    },
}

/// Datagrams for one worker from one receive batch, in one allocation
/// (not one per datagram): bytes back to back, plus where each one is.
#[derive(Default)]
pub(crate) struct DatagramBatch {
    pub bytes: Vec<u8>,
    /// (source, destination, start, len) into `bytes`.
    pub items: Vec<(SocketAddr, SocketAddr, usize, usize)>,
    /// Per item: when the kernel received it if it is RTP (ns,
    /// `udp::realtime_ns`'s clock), for the transit histograms; else 0.
    pub stamps: Vec<u64>,
}

impl DatagramBatch {
    pub fn push(&mut self, src: SocketAddr, dst: SocketAddr, data: &[u8]) {
        self.push_timed(src, dst, data, 0);
    }

    /// `stamp`: the kernel's receive time of a media datagram, 0 for one
    /// not timed.
    pub fn push_timed(&mut self, src: SocketAddr, dst: SocketAddr, data: &[u8], stamp: u64) {
        self.items.push((src, dst, self.bytes.len(), data.len()));
        self.stamps.push(stamp);
        self.bytes.extend_from_slice(data);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Datagrams the driver dropped before any engine saw them.
#[derive(Debug, Default)]
pub struct DriverCounters {
    pub dropped_unknown: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    /// Upper-layer video datagrams shed for an overloaded worker
    /// ([`SHED_DEPTH`]).
    pub dropped_overload: AtomicU64,
    pub datagrams_in: AtomicU64,
    /// Packets for the recorder dropped because it fell behind (disk):
    /// media never waits for a recording.
    pub tap_dropped: AtomicU64,
    /// Composite pictures or sound frames for hall screens dropped
    /// because their room's worker was busy (the screen asks for a
    /// keyframe and heals).
    pub composite_dropped: AtomicU64,
    /// Demux routes (remote address -> worker) dropped by a cap, for
    /// silence or because their session left (`routes`); a steady climb
    /// with few sessions is a STUN flood.
    pub routes_evicted: AtomicU64,
    /// Demux routes held now, over every receive thread (each adds the
    /// change of its own at every sweep).
    pub routes_held: AtomicU64,
    /// ICE-TCP connections: accepted, refused, closed, frames.
    pub tcp: Arc<tcp::TcpCounters>,
    /// Hand-offs between workers of a shared room dropped because the
    /// receiving worker's queue was full (its share of the room lost them;
    /// the sender never waits).
    pub handoffs_dropped: AtomicU64,
    /// Span changes (a room's holders) that could not be queued to a
    /// worker: that worker's view of the room is stale until the next.
    pub span_dropped: AtomicU64,
    /// Worker wake-ups: [for input (datagrams, commands, hand-offs), for
    /// timers alone]. Each costs a futex wait and a context switch.
    pub worker_wakeups: [AtomicU64; 2],
    /// From a join reaching the driver to the engine's reply (its worker's
    /// queue, the session, the SDP answer): what a join waits on the media
    /// side, under load too.
    pub join_answer: histogram::Histogram,
    /// A media (RTP) datagram's time in the server: from the kernel's
    /// receipt (its socket timestamp) to the end of the sends of the
    /// worker's wake-up that handled it — when its copies are all out
    /// (unless a subscriber's pacer held one back). A room shared by
    /// workers counts it once per worker that sent copies (the others' by
    /// hand-off). What the server adds to a packet's delay, measured where
    /// only the server counts.
    pub transit: histogram::TransitHistogram,
    /// Its first part: from the kernel's receipt to the worker taking the
    /// datagram (the socket's queue, the receive thread, the worker's
    /// queue and its wake-up).
    pub transit_wait: histogram::TransitHistogram,
}

struct Shared {
    /// ICE ufrag -> worker; written on join, read for STUN from new addresses.
    ufrags: RwLock<HashMap<String, usize>>,
    /// Incoming SSRC -> simulcast layer (1 or 2), from the workers' engines:
    /// read by the receive thread only while it sheds.
    upper_layers: RwLock<HashMap<u32, u8>>,
    /// Participants whose alternative video track some subscriber shows
    /// (`Engine::drain_renditions`): a SIP room's gateway reads it.
    renditions: RwLock<std::collections::HashSet<ParticipantId>>,
    counters: DriverCounters,
    /// Open ICE-TCP connections, for the workers' TCP transmits.
    tcp_conns: tcp::TcpConns,
    /// Datagram batches the workers hand back to the receive threads.
    batches: queue::BatchPool,
    stop: AtomicBool,
}

/// Handle to the running media driver (cheap to clone).
#[derive(Clone)]
pub struct Media {
    inner: Arc<MediaInner>,
}

struct MediaInner {
    shards: Vec<queue::WorkerTx>,
    shared: Arc<Shared>,
    /// Meeting -> worker, while the room has participants or is recorded
    /// (then pruned: a server that runs for months hosts many meetings).
    rooms: Mutex<HashMap<String, usize>>,
    /// Rooms being tapped, and for whom: they keep their worker with
    /// nobody in them.
    recorded: Mutex<HashMap<String, std::collections::HashSet<TapUser>>>,
    /// Participant -> (worker, room, ufrag).
    participants: Mutex<HashMap<ParticipantId, (usize, String, String)>>,
    next_participant: AtomicU64,
    local_addrs: Vec<SocketAddr>,
    tcp_addrs: Vec<SocketAddr>,
    room_split_sessions: usize,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Packets of recorded rooms, until the recorder takes the receiver.
    tap_rx: Mutex<Option<Receiver<Tapped>>>,
}

pub struct MediaSettings {
    pub bind: IpAddr,
    pub port: u16,
    /// Candidate addresses: an IP, with the outside port when a port
    /// forward maps another port to ours.
    pub advertise: Vec<(IpAddr, Option<u16>)>,
    pub workers: usize,
    pub audio_slots_max: usize,
    pub socket_buffer_bytes: usize,
    /// ICE-TCP: the port to listen on at `bind` (0: any free one); `None`
    /// offers no TCP candidate.
    pub tcp_port: Option<u16>,
    /// Sessions a room holds on its home worker before joins spread over
    /// the others (`[media] room_split_sessions`; 0: never).
    pub room_split_sessions: usize,
}

impl Media {
    /// Bind the media port and start the threads. Engine events arrive on the
    /// returned receiver.
    pub fn start(settings: MediaSettings) -> Result<(Media, mpsc::Receiver<Event>), MediaError> {
        let advertise = if settings.advertise.is_empty() {
            udp::local_ipv4_addrs()
                .into_iter()
                .map(|ip| (ip, None))
                .collect()
        } else {
            settings.advertise.clone()
        };
        let (sockets, local_addrs) = bind_sockets(&settings, &advertise)?;
        // ICE-TCP: one listener; a passive candidate at each advertised IP.
        let tcp_listener = match settings.tcp_port {
            Some(port) => {
                let addr = SocketAddr::new(settings.bind, port);
                let l = tcp::bind(addr).map_err(|source| MediaError::BindTcp { addr, source })?;
                let port = l
                    .local_addr()
                    .map_err(|source| MediaError::BindTcp { addr, source })?
                    .port();
                // An IPv4 listener cannot take IPv6 connections (an
                // unspecified IPv6 one takes both).
                let reachable = |ip: &IpAddr| {
                    ip.is_ipv4() == settings.bind.is_ipv4()
                        || settings.bind == IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED)
                };
                let mut ips: Vec<IpAddr> = Vec::new();
                for (ip, _) in &advertise {
                    if reachable(ip) && !ips.contains(ip) {
                        ips.push(*ip);
                    }
                }
                let cands: Vec<SocketAddr> = ips
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect();
                Some((l, cands))
            }
            None => None,
        };
        let tcp_addrs: Vec<SocketAddr> = tcp_listener
            .as_ref()
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        let shared = Arc::new(Shared {
            ufrags: RwLock::new(HashMap::new()),
            upper_layers: RwLock::new(HashMap::new()),
            renditions: RwLock::new(Default::default()),
            counters: DriverCounters::default(),
            tcp_conns: tcp::TcpConns::default(),
            batches: queue::BatchPool::default(),
            stop: AtomicBool::new(false),
        });
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let (tap_tx, tap_rx) = crossbeam_channel::bounded(TAP_QUEUE);
        let mut shards = Vec::new();
        let mut threads = Vec::new();
        let sockets: Vec<(Arc<UdpSocket>, SocketAddr)> = sockets
            .into_iter()
            .zip(local_addrs.iter().copied())
            .map(|(s, a)| (Arc::new(s), a))
            .collect();
        let mut receivers = Vec::new();
        for _ in 0..settings.workers.max(1) {
            let (tx, rx) = queue::worker_queue(COMMAND_QUEUE + DATAGRAM_QUEUE);
            shards.push(tx);
            receivers.push(rx);
        }
        for (i, rx) in receivers.into_iter().enumerate() {
            let peers = shards.clone();
            let cfg = EngineConfig {
                local_addrs: local_addrs.clone(),
                tcp_addrs: tcp_addrs.clone(),
                audio_slots_max: settings.audio_slots_max,
                worker: i,
                workers: settings.workers.max(1),
            };
            let socks = sockets.clone();
            let ev = ev_tx.clone();
            let tap = tap_tx.clone();
            let sh = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("media-{i}"))
                    .spawn(move || shard::run(i, cfg, (rx, peers), socks, ev, tap, sh))
                    .expect("spawn media worker"),
            );
        }
        for (sock, local) in &sockets {
            let sock = sock.clone();
            let local = *local;
            let shards = shards.clone();
            let sh = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("media-rx".into())
                    .spawn(move || shard::receive_loop(sock, local, shards, sh))
                    .expect("spawn media receiver"),
            );
        }
        if let Some((listener, cands)) = tcp_listener {
            let shards = shards.clone();
            let sh = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("media-tcp".into())
                    .spawn(move || tcp::run(listener, cands, shards, sh))
                    .expect("spawn ICE-TCP listener"),
            );
        }
        let inner = MediaInner {
            shards,
            shared,
            rooms: Mutex::new(HashMap::new()),
            recorded: Mutex::new(Default::default()),
            participants: Mutex::new(HashMap::new()),
            next_participant: AtomicU64::new(1),
            local_addrs,
            tcp_addrs,
            room_split_sessions: settings.room_split_sessions,
            threads: Mutex::new(threads),
            tap_rx: Mutex::new(Some(tap_rx)),
        };
        Ok((
            Media {
                inner: Arc::new(inner),
            },
            ev_rx,
        ))
    }

    /// Addresses peers send media to (one per advertised address).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.inner.local_addrs
    }

    /// ICE-TCP candidate addresses (empty when ICE-TCP is off).
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.inner.tcp_addrs
    }

    pub fn counters(&self) -> &DriverCounters {
        &self.inner.shared.counters
    }

    /// Join a room: picks (or reuses) the room's worker and returns the new
    /// participant's id with the engine's reply.
    pub async fn join(&self, mut req: JoinRequest) -> Result<(ParticipantId, Reply), MediaError> {
        let started = std::time::Instant::now();
        let id = self.inner.next_participant.fetch_add(1, Ordering::Relaxed);
        req.participant = id;
        let shard = self.place(&req.room, req.role);
        let room = req.room.clone();
        let reply = match self.send(shard, Command::Join(req)).await {
            Ok(r) => r,
            Err(e) => {
                self.release_part(&room, shard);
                return Err(e);
            }
        };
        // Refusals too: the engine's time is spent either way.
        self.inner
            .shared
            .counters
            .join_answer
            .observe(started.elapsed());
        if let Reply::Joined { ice_ufrag, .. } = &reply {
            self.inner
                .shared
                .ufrags
                .write()
                .expect("ufrags lock")
                .insert(ice_ufrag.clone(), shard);
            self.inner
                .participants
                .lock()
                .expect("participants lock")
                .insert(id, (shard, room, ice_ufrag.clone()));
        }
        Ok((id, reply))
    }

    /// The worker of `room`: its own if it has one, else the worker with
    /// the fewest rooms (so pruned rooms leave no gaps in the balance).
    fn shard_for(&self, room: &str) -> usize {
        let mut rooms = self.inner.rooms.lock().expect("rooms lock");
        if let Some(&s) = rooms.get(room) {
            return s;
        }
        let mut load = vec![0usize; self.inner.shards.len()];
        for &s in rooms.values() {
            load[s] += 1;
        }
        let pick = (0..load.len()).min_by_key(|&i| load[i]).unwrap_or(0);
        rooms.insert(room.to_string(), pick);
        pick
    }

    /// The worker a new session of `room` joins: the room's home while it
    /// holds at most `room_split_sessions` sessions of the room (or the
    /// room may not split); beyond, the worker with the fewest sessions in
    /// all, so the meeting's fan-out spreads over every core. A worker
    /// that gets its first share of the room is told who holds it (before
    /// the join, on the same queue), and so are the others. Screens and
    /// relays stay home: the composite and the cascade's pins arrive there.
    fn place(&self, room: &str, role: crate::media::Role) -> usize {
        let home = self.shard_for(room);
        let workers = self.inner.shards.len();
        let split = self.inner.room_split_sessions;
        if split == 0
            || workers < 2
            || matches!(role, crate::media::Role::Screen | crate::media::Role::Relay)
        {
            return home;
        }
        let (pick, holders) = {
            let participants = self.inner.participants.lock().expect("participants lock");
            let mut load = vec![0usize; workers];
            let mut at_home = 0;
            let mut holders = vec![home];
            for (w, r, _) in participants.values() {
                load[*w] += 1;
                if r == room {
                    at_home += usize::from(*w == home);
                    if !holders.contains(w) {
                        holders.push(*w);
                    }
                }
            }
            if at_home < split {
                return home;
            }
            let pick = (0..workers)
                .min_by_key(|&w| (load[w], w != home))
                .unwrap_or(home);
            (pick, holders)
        };
        if !holders.contains(&pick) {
            let mut all = holders;
            all.push(pick);
            all.sort_unstable();
            // The new part first: its engine must know the room is shared
            // before the join lands on the same queue.
            self.send_span(room, home, &all, &[pick]);
            let others: Vec<usize> = all.iter().copied().filter(|&w| w != pick).collect();
            self.send_span(room, home, &all, &others);
        }
        pick
    }

    /// Worker `w` may have got its share of `room` for a join that failed:
    /// without a session of the room there it holds no part any more.
    fn release_part(&self, room: &str, w: usize) {
        let participants = self.inner.participants.lock().expect("participants lock");
        self.release_part_locked(&participants, room, w);
    }

    fn release_part_locked(
        &self,
        participants: &HashMap<ParticipantId, (usize, String, String)>,
        room: &str,
        w: usize,
    ) {
        let Some(&home) = self.inner.rooms.lock().expect("rooms lock").get(room) else {
            return;
        };
        if w == home || participants.values().any(|p| p.1 == room && p.0 == w) {
            return;
        }
        let mut holders = vec![home];
        for (pw, r, _) in participants.values() {
            if r == room && !holders.contains(pw) {
                holders.push(*pw);
            }
        }
        holders.sort_unstable();
        let mut to = holders.clone();
        to.push(w);
        self.send_span(room, home, &holders, &to);
    }

    /// Tell `to` who holds `room` (never waits; a full queue is counted).
    fn send_span(&self, room: &str, home: usize, workers: &[usize], to: &[usize]) {
        for &w in to {
            let sent = self.inner.shards[w].try_send(ShardInput::Span {
                room: room.to_string(),
                home,
                workers: workers.to_vec(),
            });
            if sent.is_err() {
                self.inner
                    .shared
                    .counters
                    .span_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How many rooms have a worker now (a gauge; and proof of pruning).
    pub fn rooms_mapped(&self) -> usize {
        self.inner.rooms.lock().expect("rooms lock").len()
    }

    /// Send a command about an existing participant to its worker.
    pub async fn participant_command(
        &self,
        id: ParticipantId,
        cmd: Command,
    ) -> Result<Reply, MediaError> {
        let shard = self
            .inner
            .participants
            .lock()
            .expect("participants lock")
            .get(&id)
            .map(|p| p.0)
            .ok_or(CommandError::UnknownParticipant(id))?;
        self.send(shard, cmd).await
    }

    /// The packets of recorded rooms, for the one recorder (taken once).
    pub fn take_tap_receiver(&self) -> Option<Receiver<Tapped>> {
        self.inner.tap_rx.lock().expect("tap lock").take()
    }

    /// Start or stop recording a room. The room gets its worker now if it
    /// has none yet, so its first participant joins the recorded engine.
    pub async fn record(&self, room: &str, on: bool) -> Result<(), MediaError> {
        self.tap(room, TapUser::Recording, on).await
    }

    /// Start or stop one user of a room's taps (the recording, the live
    /// stream): the engine taps the room while either wants it.
    pub async fn tap(&self, room: &str, user: TapUser, on: bool) -> Result<(), MediaError> {
        let shard = self.shard_for(room);
        let engine_on = {
            let mut recorded = self.inner.recorded.lock().expect("recorded lock");
            let users = recorded.entry(room.to_string()).or_default();
            if on {
                users.insert(user);
            } else {
                users.remove(&user);
            }
            let any = !users.is_empty();
            if !any {
                recorded.remove(room);
            }
            any
        };
        self.send(
            shard,
            Command::Record {
                room: room.to_string(),
                on: engine_on,
            },
        )
        .await?;
        Ok(())
    }

    /// Send a command about a room to its worker.
    pub async fn room_command(&self, room: &str, cmd: Command) -> Result<Reply, MediaError> {
        let shard = *self
            .inner
            .rooms
            .lock()
            .expect("rooms lock")
            .get(room)
            .ok_or_else(|| CommandError::UnknownRoom(room.to_string()))?;
        self.send(shard, cmd).await
    }

    /// A batch of the room's composite (one picture or one sound frame)
    /// for its hall screens. Never waits: a worker whose queue is full
    /// drops it and counts it (`false`).
    pub fn composite(
        &self,
        room: &str,
        packets: Vec<crate::media::composite::CompositePacket>,
    ) -> bool {
        let Some(shard) = self
            .inner
            .rooms
            .lock()
            .expect("rooms lock")
            .get(room)
            .copied()
        else {
            return false;
        };
        let sent = self.inner.shards[shard]
            .try_send(ShardInput::Composite(room.to_string(), packets))
            .is_ok();
        if !sent {
            self.inner
                .shared
                .counters
                .composite_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Room of a participant, if it is connected.
    pub fn room_of(&self, id: ParticipantId) -> Option<String> {
        self.inner
            .participants
            .lock()
            .expect("participants lock")
            .get(&id)
            .map(|p| p.1.clone())
    }

    /// Whether some subscriber shows `id`'s alternative video track (a
    /// SIP room's VP8 rendition of its H.264): its gateway encodes it only
    /// while this holds.
    pub fn rendition_wanted(&self, id: ParticipantId) -> bool {
        self.inner
            .shared
            .renditions
            .read()
            .expect("renditions lock")
            .contains(&id)
    }

    /// Forget a participant that left (called from the event pump).
    pub fn forget(&self, id: ParticipantId) {
        self.inner
            .shared
            .renditions
            .write()
            .expect("renditions lock")
            .remove(&id);
        let gone = {
            let mut participants = self.inner.participants.lock().expect("participants lock");
            let gone = participants.remove(&id);
            // The last of a room's sessions on a part: that worker no
            // longer holds the room; the others are told.
            if let Some((w, room, _)) = &gone {
                self.release_part_locked(&participants, room, *w);
            }
            // The room's last participant: its worker mapping goes too,
            // unless it is being recorded.
            if let Some((_, room, _)) = &gone
                && !participants.values().any(|p| &p.1 == room)
                && !self
                    .inner
                    .recorded
                    .lock()
                    .expect("recorded lock")
                    .contains_key(room)
            {
                self.inner.rooms.lock().expect("rooms lock").remove(room);
            }
            gone
        };
        if let Some((_, _, ufrag)) = gone {
            self.inner
                .shared
                .ufrags
                .write()
                .expect("ufrags lock")
                .remove(&ufrag);
        }
    }

    /// Counters of every worker.
    pub async fn stats(&self) -> Vec<EngineStats> {
        let mut out: Vec<EngineStats> = Vec::new();
        for i in 0..self.inner.shards.len() {
            if let Ok(Reply::Stats(s)) = self.send(i, Command::Stats).await {
                out.push(s);
            }
        }
        merge_shared_rooms(&mut out);
        out
    }

    /// How many worker threads (engines) there are.
    pub fn workers(&self) -> usize {
        self.inner.shards.len()
    }

    /// True while every worker answers.
    pub async fn healthy(&self) -> bool {
        self.stats().await.len() == self.inner.shards.len()
    }

    async fn send(&self, shard: usize, cmd: Command) -> Result<Reply, MediaError> {
        let (tx, rx) = oneshot::channel();
        match self.inner.shards[shard].try_send(ShardInput::Command(cmd, tx)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(MediaError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(MediaError::Stopped),
        }
        match tokio::time::timeout(Duration::from_secs(10), rx).await {
            Ok(Ok(r)) => r.map_err(MediaError::from),
            Ok(Err(_)) => Err(MediaError::Stopped),
            Err(_) => Err(MediaError::Busy),
        }
    }

    /// Stop the threads (receive loops notice within their read timeout).
    pub fn shutdown(&self) {
        self.inner.shared.stop.store(true, Ordering::SeqCst);
        let threads: Vec<JoinHandle<()>> = self
            .inner
            .threads
            .lock()
            .expect("threads lock")
            .drain(..)
            .collect();
        // Workers exit when their channel closes; receivers on the stop flag.
        for t in threads {
            let _ = t.join();
        }
    }
}

/// A room held by several workers is reported once (under the first
/// worker holding it), its counters summed: callers see rooms, not shares.
fn merge_shared_rooms(stats: &mut [EngineStats]) {
    let mut first: HashMap<String, usize> = HashMap::new();
    for i in 0..stats.len() {
        let rooms = std::mem::take(&mut stats[i].rooms);
        for r in rooms {
            match first.get(&r.room) {
                Some(&j) => {
                    if let Some(into) = stats[j].rooms.iter_mut().find(|x| x.room == r.room) {
                        add_room_stats(into, &r);
                    }
                }
                None => {
                    first.insert(r.room.clone(), i);
                    stats[i].rooms.push(r);
                }
            }
        }
    }
}

fn add_room_stats(a: &mut crate::media::RoomStats, b: &crate::media::RoomStats) {
    a.participants += b.participants;
    a.tracks += b.tracks;
    // A packet is counted in where it arrived (handed-off copies are in
    // `remote_packets_in`), out where it was sent.
    a.packets_in += b.packets_in;
    a.bytes_in += b.bytes_in;
    a.packets_out += b.packets_out;
    a.bytes_out += b.bytes_out;
    a.nacks_received += b.nacks_received;
    a.plis_sent += b.plis_sent;
    a.keyframe_requests_received += b.keyframe_requests_received;
    a.dropped_muted += b.dropped_muted;
    a.dropped_over_budget += b.dropped_over_budget;
    a.red_packets_in += b.red_packets_in;
    a.red_recovered += b.red_recovered;
    a.red_malformed += b.red_malformed;
    a.red_packets_out += b.red_packets_out;
    a.red_generated += b.red_generated;
    a.red_bytes_out += b.red_bytes_out;
    a.handoff_packets_out += b.handoff_packets_out;
    a.remote_packets_in += b.remote_packets_in;
}

/// One socket per advertised address that is local to this machine (so the
/// datagram's destination is known without IP_PKTINFO); a non-local one
/// (1:1 NAT) or one with its own outside port (a port forward) shares a
/// socket on the bind address.
fn bind_sockets(
    s: &MediaSettings,
    advertise: &[(IpAddr, Option<u16>)],
) -> Result<(Vec<UdpSocket>, Vec<SocketAddr>), MediaError> {
    let mut sockets = Vec::new();
    let mut addrs = Vec::new();
    let mut port = s.port;
    let mut nat_bound = false;
    for &(ip, outside) in advertise {
        if let Some(outside) = outside {
            if nat_bound {
                continue;
            }
            nat_bound = true;
            let addr = SocketAddr::new(s.bind, port);
            let sock = bind_one(addr, s.socket_buffer_bytes)
                .map_err(|source| MediaError::Bind { addr, source })?;
            if port == 0 {
                port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
            }
            addrs.push(SocketAddr::new(ip, outside));
            sockets.push(sock);
            continue;
        }
        let try_local = SocketAddr::new(ip, port);
        let sock = match bind_one(try_local, s.socket_buffer_bytes) {
            Ok(sock) => sock,
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {
                if nat_bound {
                    continue;
                }
                nat_bound = true;
                let addr = SocketAddr::new(s.bind, port);
                bind_one(addr, s.socket_buffer_bytes)
                    .map_err(|source| MediaError::Bind { addr, source })?
            }
            Err(source) => {
                return Err(MediaError::Bind {
                    addr: try_local,
                    source,
                });
            }
        };
        if port == 0 {
            port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
        }
        addrs.push(SocketAddr::new(ip, port));
        sockets.push(sock);
    }
    Ok((sockets, addrs))
}

fn bind_one(addr: SocketAddr, buffer: usize) -> std::io::Result<UdpSocket> {
    let domain = if addr.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let sock = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Large buffers absorb keyframe bursts fanned out to hundreds of peers;
    // the kernel caps them at net.core.{r,w}mem_max, which is fine.
    let _ = sock.set_recv_buffer_size(buffer);
    let _ = sock.set_send_buffer_size(buffer);
    sock.bind(&addr.into())?;
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    if let Err(e) = udp::enable_receive_timestamps(&sock) {
        tracing::warn!(error = %e, "no receive timestamps: media transit is not timed");
    }
    Ok(sock)
}
