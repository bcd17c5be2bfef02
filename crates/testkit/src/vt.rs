//! A virtual-time world for the engine: str0m peers (as the str0m project
//! tests itself) exchange datagrams with `media::Engine` in memory — no
//! sockets, no clock, seeded loss. Used by the engine tests and the
//! forward-path benchmark (`benches/forward.rs` includes this file).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diemcau_media::{
    Command, Engine, EngineConfig, Event, JoinRequest, ParticipantId, Reply, Role,
};
use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::{Candidate, Event as RtcEvent, Input, Output, Rtc};

pub const SERVER: &str = "127.0.0.1:50000";
pub const RIDS: [&str; 3] = ["q", "h", "f"];
/// Packets per frame on layers q/h/f (bigger layers span more packets).
pub const PACKETS_PER_FRAME: [usize; 3] = [1, 2, 4];
pub const FRAME: Duration = Duration::from_millis(33);
pub const AUDIO_FRAME: Duration = Duration::from_millis(20);

/// One packet a client received.
#[derive(Debug, Clone)]
pub struct Got {
    pub mid: Mid,
    pub pt: u8,
    pub seq: u64,
    pub ts: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

impl Got {
    /// Publisher number and layer, written by `Publisher` at the payload's end.
    pub fn origin(&self) -> (u8, u8) {
        let n = self.payload.len();
        (self.payload[n - 2], self.payload[n - 1])
    }
    pub fn is_keyframe_start(&self) -> bool {
        let vp8_key = self.payload[0] & 0x10 != 0 && self.payload[1] & 0x01 == 0;
        vp8_key || self.payload[0] == 0x65
    }
}

/// What a client publishes.
pub struct Publisher {
    pub number: u8,
    pub video_mid: Option<Mid>,
    pub audio_mid: Option<Mid>,
    /// Layers currently sent (a test may stop one).
    pub active: [bool; 3],
    pub seq: [u64; 3],
    pub audio_seq: u64,
    pub frame_no: u32,
    pub keyframe_wanted: [bool; 3],
    pub next_frame: Instant,
    pub next_audio: Instant,
    pub audio_level: i8,
    /// Filler bytes per video packet (the benchmark raises it to ~1100).
    pub payload_len: usize,
    /// Send H.264 (single NAL units) instead of VP8.
    pub h264: bool,
    /// Redundant Opus frames per audio packet when the session negotiated
    /// RED (0: plain Opus), as a browser sends them.
    pub red_levels: usize,
    /// Every n-th audio packet is lost on the uplink (never sent; the next
    /// packets' redundancy still carries it).
    pub drop_audio_every: Option<u64>,
    /// The last Opus frames sent (ts, payload), newest last.
    pub audio_history: Vec<(u32, Vec<u8>)>,
    /// A second video track, VP8, the same picture for subscribers that
    /// cannot take the first's codec (a SIP room's rendition): sent only
    /// while the engine wants it (`alt_on`, from `World::renditions`).
    pub alt_mid: Option<Mid>,
    pub alt_on: bool,
    pub alt_seq: u64,
    pub alt_keyframe_wanted: bool,
    /// Packets sent on it.
    pub alt_sent: usize,
}

pub struct Client {
    pub id: ParticipantId,
    pub addr: SocketAddr,
    pub rtc: Rtc,
    pub publisher: Option<Publisher>,
    pub received: Vec<Got>,
    pub keyframe_requests: usize,
    /// Mids of receive slots, in offer order.
    pub recv_mids: Vec<Mid>,
    pub outbox: Vec<(SocketAddr, Vec<u8>)>,
    /// Until then nothing moves between this client and the server (its
    /// datagrams wait, both ways): a slow ICE and DTLS handshake.
    pub held_until: Option<Instant>,
    pub held_in: Vec<diemcau_media::Datagram>,
    /// Loss the server reported on each of our send streams (its receiver
    /// reports), latest.
    pub egress_loss: std::collections::HashMap<Mid, f32>,
    /// Packets the server said it sent on each of our receive slots, by
    /// its sender reports (str0m's ingress stats, once a second), in order.
    pub sender_reported: std::collections::HashMap<Mid, Vec<u64>>,
    /// The engine (worker) its session runs on: 0 is `World::engine`.
    pub worker: usize,
    /// RTP datagrams from the server by payload type, as they arrive
    /// (before SRTP; the header is in the clear): resends and padding
    /// come on a repair type that `received` never shows.
    pub rtp_in_by_pt: std::collections::HashMap<u8, u64>,
    /// STUN binding requests (ICE checks) the server sent this client, and
    /// those it sent the server.
    pub stun_requests_in: u64,
    pub stun_requests_out: u64,
    /// The handshake type of the first DTLS handshake record the server
    /// sent (1: ClientHello, the server as DTLS client; 2: ServerHello).
    pub first_dtls_handshake_in: Option<u8>,
}

pub struct World {
    pub now: Instant,
    pub engine: Engine,
    pub clients: Vec<Client>,
    pub events: Vec<Event>,
    pub next_id: ParticipantId,
    /// Drop this fraction of server->client packets (seeded LCG).
    pub loss_to_clients: f64,
    /// Fill each sent datagram's buffer with other bytes, up to its
    /// capacity, before giving it back to its engine (`Engine::recycle`):
    /// the worst a reused buffer can hold.
    pub dirty_spares: bool,
    pub rng: u64,
    pub dropped: usize,
    /// Publishers joined from now on send H.264.
    pub h264_publishers: bool,
    /// Clients joined from now on reach the server only after this long.
    pub slow_handshake: Option<Duration>,
    /// Clients joined from now on offer RED (`red/48000/2`) with Opus.
    pub red_clients: bool,
    /// Engines of workers 1.. (`with_workers`): room "r" spans them, its
    /// home on `engine` (worker 0), as the driver would do it.
    pub parts: Vec<Engine>,
    /// Clients joined from now on join this worker's engine.
    pub join_worker: usize,
    /// Clients joined from now on receive VP8 only (no H.264).
    pub vp8_only_clients: bool,
    /// Publishers joined from now on also offer a VP8 alternative track.
    pub alt_publishers: bool,
    /// Participants whose alternative track some subscriber shows, as the
    /// driver keeps them (`Engine::drain_renditions`).
    pub renditions: std::collections::HashSet<ParticipantId>,
    /// Every (participant, wanted) change the engines reported, in order.
    pub rendition_changes: Vec<(ParticipantId, bool)>,
    /// When set, each engine's drain of datagrams, in the order it gave
    /// them: (destination, length).
    pub drains: Option<Vec<Vec<(SocketAddr, usize)>>>,
    /// Workers holding room "r".
    pub holders: Vec<usize>,
    /// Workers whose engine is not driven (a starved core): its
    /// datagrams and hand-offs wait.
    pub starved: Vec<usize>,
    pub handoffs_held: Vec<(usize, usize, Vec<diemcau_media::span::Handoff>)>,
}

impl Default for World {
    fn default() -> World {
        World::new()
    }
}

impl World {
    pub fn new() -> World {
        Self::with_workers(1)
    }

    /// A world whose server has `n` engines (workers), as the driver runs
    /// them; clients join the one `join_worker` names.
    pub fn with_workers(n: usize) -> World {
        let now = Instant::now();
        let config = |worker| EngineConfig {
            local_addrs: vec![SERVER.parse().unwrap()],
            tcp_addrs: vec![],
            audio_slots_max: 3,
            worker,
            workers: n,
        };
        let engine = Engine::new(config(0), now);
        let parts = (1..n).map(|w| Engine::new(config(w), now)).collect();
        World {
            now,
            engine,
            clients: vec![],
            events: vec![],
            next_id: 1,
            loss_to_clients: 0.0,
            dirty_spares: false,
            rng: 42,
            dropped: 0,
            h264_publishers: false,
            slow_handshake: None,
            red_clients: false,
            parts,
            join_worker: 0,
            vp8_only_clients: false,
            alt_publishers: false,
            renditions: Default::default(),
            rendition_changes: vec![],
            drains: None,
            holders: vec![0],
            starved: vec![],
            handoffs_held: vec![],
        }
    }

    pub fn engine_of(&mut self, worker: usize) -> &mut Engine {
        if worker == 0 {
            &mut self.engine
        } else {
            &mut self.parts[worker - 1]
        }
    }

    fn workers(&self) -> usize {
        self.parts.len() + 1
    }

    pub fn rand(&mut self) -> f64 {
        self.rng = self
            .rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.rng >> 33) as f64 / (1u64 << 31) as f64
    }

    /// Join a client that publishes (simulcast video + audio) when `publish`
    /// and receives `video_slots` video and `audio_slots` audio slots.
    pub fn join(&mut self, publish: bool, video_slots: usize, audio_slots: usize) -> usize {
        self.join_as(Role::Room, publish, video_slots, audio_slots)
    }

    pub fn join_as(
        &mut self,
        role: Role,
        publish: bool,
        video_slots: usize,
        audio_slots: usize,
    ) -> usize {
        let idx = self.clients.len();
        let addr: SocketAddr = format!("127.0.0.{}:{}", 10 + idx, 40000 + idx)
            .parse()
            .unwrap();
        let mut builder = Rtc::builder()
            .set_rtp_mode(true)
            .enable_opus(true, self.red_clients)
            .set_stats_interval(Some(Duration::from_secs(1)));
        if self.vp8_only_clients {
            builder = builder
                .clear_codecs()
                .enable_opus(true, self.red_clients)
                .enable_vp8(true);
        }
        let mut rtc = builder.build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mut publisher = None;
        if publish {
            let mut sim = Simulcast::new();
            for r in RIDS {
                sim.add_send_layer(SimulcastLayer::new(r));
            }
            let v = change.add_media(
                MediaKind::Video,
                Direction::SendOnly,
                Some("cam".into()),
                None,
                Some(sim),
            );
            let a = change.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                Some("cam".into()),
                None,
                None,
            );
            let alt = self.alt_publishers.then(|| {
                change.add_media(
                    MediaKind::Video,
                    Direction::SendOnly,
                    Some("cam".into()),
                    None,
                    None,
                )
            });
            publisher = Some(Publisher {
                number: idx as u8,
                video_mid: Some(v),
                audio_mid: Some(a),
                active: [true; 3],
                seq: [100, 20_000, 40_000],
                audio_seq: 5_000,
                frame_no: 0,
                keyframe_wanted: [true; 3],
                next_frame: self.now,
                next_audio: self.now,
                audio_level: -90,
                h264: self.h264_publishers,
                payload_len: 300,
                red_levels: usize::from(self.red_clients),
                drop_audio_every: None,
                audio_history: vec![],
                alt_mid: alt,
                alt_on: false,
                alt_seq: 7_000,
                alt_keyframe_wanted: true,
                alt_sent: 0,
            });
        }
        let mut recv_mids = vec![];
        for _ in 0..video_slots {
            recv_mids.push(change.add_media(
                MediaKind::Video,
                Direction::RecvOnly,
                None,
                None,
                None,
            ));
        }
        for _ in 0..audio_slots {
            recv_mids.push(change.add_media(
                MediaKind::Audio,
                Direction::RecvOnly,
                None,
                None,
                None,
            ));
        }
        let (offer, pending) = change.apply().expect("offer");
        let id = self.next_id;
        self.next_id += 1;
        let worker = self.join_worker;
        if !self.holders.contains(&worker) {
            // A new part: every holder is told, the new one first.
            self.holders.push(worker);
            self.holders.sort_unstable();
            let (now, holders) = (self.now, self.holders.clone());
            self.engine_of(worker).set_span(now, "r", 0, &holders);
            for w in holders.iter().copied().filter(|&w| w != worker) {
                self.engine_of(w).set_span(now, "r", 0, &holders);
            }
        }
        let now = self.now;
        let reply = self
            .engine_of(worker)
            .handle_command(
                now,
                Command::Join(JoinRequest {
                    participant: id,
                    room: "r".into(),
                    name: format!("client {idx}"),
                    role,
                    max_kbps: None,
                    offer: offer.to_sdp_string(),
                }),
            )
            .expect("join");
        let _ = now;
        self.move_handoffs();
        let Reply::Joined { answer, .. } = reply else {
            panic!("unexpected reply {reply:?}")
        };
        rtc.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .expect("answer");
        self.clients.push(Client {
            id,
            addr,
            rtc,
            publisher,
            received: vec![],
            keyframe_requests: 0,
            recv_mids,
            outbox: vec![],
            held_until: self.slow_handshake.map(|d| self.now + d),
            held_in: vec![],
            egress_loss: Default::default(),
            sender_reported: Default::default(),
            worker,
            rtp_in_by_pt: Default::default(),
            stun_requests_in: 0,
            stun_requests_out: 0,
            first_dtls_handshake_in: None,
        });
        idx
    }

    /// Run the world for `d` of virtual time in 1 ms steps.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(1);
            let now = self.now;
            for c in &mut self.clients {
                c.rtc.handle_input(Input::Timeout(now)).unwrap();
                c.drain();
                if let Some(p) = &mut c.publisher {
                    let on = self.renditions.contains(&c.id);
                    if on && !p.alt_on {
                        p.alt_keyframe_wanted = true;
                    }
                    p.alt_on = on;
                }
                c.publish(now);
                if c.held_until.is_some_and(|t| t <= now) {
                    c.held_until = None;
                    for d in std::mem::take(&mut c.held_in) {
                        c.deliver(now, &d);
                    }
                }
            }
            for w in 0..self.workers() {
                if !self.starved.contains(&w) {
                    self.engine_of(w).handle_timeout(now);
                }
            }
            self.exchange();
        }
    }

    /// Move datagrams both ways until nothing is left in flight.
    pub fn exchange(&mut self) {
        let server: SocketAddr = SERVER.parse().unwrap();
        for _ in 0..50 {
            let mut to_server: VecDeque<(usize, SocketAddr, Vec<u8>)> = VecDeque::new();
            for c in &mut self.clients {
                c.drain();
                if c.held_until.is_none() && !self.starved.contains(&c.worker) {
                    to_server.extend(c.outbox.drain(..).map(|(a, b)| (c.worker, a, b)));
                }
            }
            let now = self.now;
            let mut handed = false;
            for (w, src, bytes) in &to_server {
                self.engine_of(*w).handle_datagram(now, *src, server, bytes);
                // As the driver: a packet for another engine leaves after
                // each datagram, not after the batch.
                for (to, h) in self.engine_of(*w).drain_media_handoffs() {
                    handed = true;
                    if self.starved.contains(&to) {
                        self.handoffs_held.push((*w, to, h));
                    } else {
                        self.engine_of(to).handle_handoff(now, *w, h);
                    }
                }
            }
            let moved = self.move_handoffs() || handed;
            let mut out = Vec::new();
            for w in 0..self.workers() {
                if self.starved.contains(&w) {
                    continue;
                }
                let e = self.engine_of(w);
                let before = out.len();
                out.extend(e.drain_transmits().map(|d| (w, d)).collect::<Vec<_>>());
                let mut evs = Vec::new();
                while let Some(ev) = e.poll_event() {
                    evs.push(ev);
                }
                let changes: Vec<_> = e.drain_renditions().collect();
                if let Some(log) = &mut self.drains {
                    log.push(
                        out[before..]
                            .iter()
                            .map(|(_, d)| (d.destination, d.contents.len()))
                            .collect(),
                    );
                }
                self.events.extend(evs);
                for (id, wanted) in changes {
                    if wanted {
                        self.renditions.insert(id);
                    } else {
                        self.renditions.remove(&id);
                    }
                    self.rendition_changes.push((id, wanted));
                }
            }
            if to_server.is_empty() && out.is_empty() && !moved {
                return;
            }
            for (w, d) in out {
                let lossy = self.loss_to_clients > 0.0 && self.rand() < self.loss_to_clients;
                if lossy && !str0m_is_stun(&d.contents) {
                    self.dropped += 1;
                    continue;
                }
                let Some(c) = self.clients.iter_mut().find(|c| c.addr == d.destination) else {
                    continue;
                };
                if c.held_until.is_some() {
                    c.held_in.push(d);
                    continue;
                }
                c.deliver(now, &d);
                // Sent: the driver gives the buffer back, and so do we (the
                // forward bench then measures what the server does).
                let mut buf = d.contents;
                if self.dirty_spares {
                    buf.resize(buf.capacity(), 0x5a);
                }
                self.engine_of(w).recycle(buf);
            }
        }
    }

    pub fn cmd(&mut self, c: Command) -> Reply {
        self.cmd_on(0, c)
    }

    /// Worker 0's engine statistics (`Command::Stats`).
    pub fn stats(&mut self) -> diemcau_media::EngineStats {
        match self.cmd(Command::Stats) {
            Reply::Stats(st) => st,
            other => panic!("stats: {other:?}"),
        }
    }

    /// A command to one worker's engine (a participant's commands go to
    /// the worker of its session, a room's to its home, worker 0).
    pub fn cmd_on(&mut self, worker: usize, c: Command) -> Reply {
        let now = self.now;
        let r = self
            .engine_of(worker)
            .handle_command(now, c)
            .expect("command");
        self.move_handoffs();
        self.exchange();
        r
    }

    /// What the driver does when a worker's last session of the room left:
    /// every holder, and that worker, hear who holds the room now.
    pub fn release(&mut self, worker: usize) {
        self.holders.retain(|&w| w != worker);
        let (now, holders) = (self.now, self.holders.clone());
        for w in holders.iter().copied().chain([worker]) {
            self.engine_of(w).set_span(now, "r", 0, &holders);
        }
        self.move_handoffs();
    }

    /// Carry every engine's hand-offs to their engines, as the driver does
    /// after each batch (a starved engine's wait). True if any moved.
    pub fn move_handoffs(&mut self) -> bool {
        let mut moved = false;
        for _ in 0..10 {
            let now = self.now;
            let mut batch = Vec::new();
            for w in 0..self.workers() {
                if self.starved.contains(&w) {
                    continue;
                }
                for (to, h) in self.engine_of(w).drain_handoffs(now) {
                    batch.push((w, to, h));
                }
            }
            let held = std::mem::take(&mut self.handoffs_held);
            batch.extend(held);
            if batch.is_empty() {
                break;
            }
            let mut any = false;
            for (from, to, h) in batch {
                if self.starved.contains(&to) {
                    self.handoffs_held.push((from, to, h));
                    continue;
                }
                any = true;
                self.engine_of(to).handle_handoff(now, from, h);
            }
            if !any {
                break;
            }
            moved = true;
        }
        moved
    }
}

pub fn str0m_is_stun(b: &[u8]) -> bool {
    diemcau_media::stun::is_stun(b)
}

/// A STUN Binding request (RFC 5389 message type 0x0001).
fn is_binding_request(b: &[u8]) -> bool {
    str0m_is_stun(b) && b[..2] == [0, 1]
}

impl Client {
    /// Hand one datagram from the server to this client, then drain.
    pub fn deliver(&mut self, now: Instant, d: &diemcau_media::Datagram) {
        // RTP, not RTCP (RFC 5761: RTCP packet types 192..=223 in byte 1).
        if let [b0, b1, ..] = d.contents[..]
            && (128..192).contains(&b0)
            && !(192..224).contains(&b1)
        {
            *self.rtp_in_by_pt.entry(b1 & 0x7f).or_default() += 1;
        }
        if is_binding_request(&d.contents) {
            self.stun_requests_in += 1;
        }
        // A DTLS record (RFC 6347 §4.1): content type 22 is a handshake, its
        // first message's type at byte 13, after the 13-byte record header.
        if self.first_dtls_handshake_in.is_none() && d.contents.len() > 13 && d.contents[0] == 22 {
            self.first_dtls_handshake_in = Some(d.contents[13]);
        }
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: d.source,
                destination: d.destination,
                contents: d.contents.as_slice().try_into().unwrap(),
            },
        );
        self.rtc.handle_input(input).unwrap();
        self.drain();
    }

    /// str0m's rule: drain after every mutation. Transmits are kept for the server.
    pub fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(_) => break,
                Output::Transmit(t) => {
                    if is_binding_request(&t.contents) {
                        self.stun_requests_out += 1;
                    }
                    self.outbox.push((self.addr, t.contents.into()))
                }
                Output::Event(e) => self.on_event(e),
            }
        }
    }

    pub fn on_event(&mut self, e: RtcEvent) {
        match e {
            RtcEvent::RtpPacket(p) => {
                let mid = self
                    .rtc
                    .direct_api()
                    .stream_rx(&p.header.ssrc)
                    .map(|s| s.mid());
                if let Some(mid) = mid {
                    self.received.push(Got {
                        mid,
                        pt: *p.header.payload_type,
                        seq: *p.seq_no,
                        ts: p.header.timestamp,
                        marker: p.header.marker,
                        payload: p.payload.to_vec(),
                    });
                }
            }
            RtcEvent::MediaIngressStats(st) => {
                if let Some(r) = st.remote {
                    self.sender_reported
                        .entry(st.mid)
                        .or_default()
                        .push(r.packets);
                }
            }
            RtcEvent::MediaEgressStats(st) => {
                if let Some(l) = st.loss {
                    self.egress_loss.insert(st.mid, l);
                }
            }
            RtcEvent::KeyframeRequest(r) => {
                self.keyframe_requests += 1;
                if let Some(p) = &mut self.publisher
                    && p.alt_mid == Some(r.mid)
                {
                    p.alt_keyframe_wanted = true;
                } else if let Some(p) = &mut self.publisher {
                    let layer = r
                        .rid
                        .and_then(|rid| RIDS.iter().position(|x| *x == &*rid))
                        .unwrap_or(0);
                    p.keyframe_wanted[layer] = true;
                }
            }
            _ => {}
        }
    }

    /// Write due video frames (every layer) and audio frames, draining after
    /// each write as str0m requires.
    pub fn publish(&mut self, now: Instant) {
        if !self.rtc.is_connected() {
            return;
        }
        let h264 = self.publisher.as_ref().is_some_and(|p| p.h264);
        let video_codec = if h264 { Codec::H264 } else { Codec::Vp8 };
        let vp8 = self
            .rtc
            .codec_config()
            .params()
            .iter()
            .find(|x| x.spec().codec == video_codec)
            .unwrap()
            .pt();
        let opus_param = self
            .rtc
            .codec_config()
            .params()
            .iter()
            .find(|x| x.spec().codec == Codec::Opus)
            .unwrap();
        let (opus, red_pt) = (opus_param.pt(), opus_param.red());
        let alt_pt = self
            .rtc
            .codec_config()
            .params()
            .iter()
            .find(|x| x.spec().codec == Codec::Vp8)
            .map(|x| x.pt());
        let Some(p) = &mut self.publisher else { return };
        let mut writes: Vec<(Mid, Option<Rid>, RtpWrite)> = vec![];
        if now >= p.next_frame {
            p.next_frame = now + FRAME;
            p.frame_no += 1;
            let ts = p.frame_no.wrapping_mul(2970);
            let vmid = p.video_mid.unwrap();
            for layer in 0..3 {
                if !p.active[layer] {
                    continue;
                }
                let key = std::mem::take(&mut p.keyframe_wanted[layer]) || p.frame_no % 90 == 1;
                let n = PACKETS_PER_FRAME[layer];
                for i in 0..n {
                    let mut payload = if h264 {
                        // Single NAL units: an IDR slice starts a keyframe.
                        if i == 0 && key {
                            vec![0x65, 0x88]
                        } else {
                            vec![0x41, 0x9a]
                        }
                    } else if i == 0 {
                        if key {
                            vec![
                                0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01,
                            ]
                        } else {
                            vec![0x10, 0x01, 0x00, 0x00]
                        }
                    } else {
                        vec![0x00]
                    };
                    payload.resize(payload.len() + p.payload_len, 0xab);
                    payload.extend_from_slice(&[p.number, layer as u8]);
                    let seq = p.seq[layer];
                    p.seq[layer] += 1;
                    let w = RtpWrite::new(vp8, seq.into(), ts, now, payload)
                        .marker(i == n - 1)
                        .nackable(true);
                    writes.push((vmid, Some(RIDS[layer].into()), w));
                }
            }
            // The alternative: one VP8 packet a frame, origin layer 9.
            if let (Some(amid), Some(pt), true) = (p.alt_mid, alt_pt, p.alt_on) {
                let key = std::mem::take(&mut p.alt_keyframe_wanted) || p.frame_no % 90 == 1;
                let mut payload = if key {
                    vec![
                        0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01,
                    ]
                } else {
                    vec![0x10, 0x01, 0x00, 0x00]
                };
                payload.resize(payload.len() + p.payload_len, 0xab);
                payload.extend_from_slice(&[p.number, 9]);
                let seq = p.alt_seq;
                p.alt_seq += 1;
                p.alt_sent += 1;
                let w = RtpWrite::new(pt, seq.into(), ts, now, payload)
                    .marker(true)
                    .nackable(true);
                writes.push((amid, None, w));
            }
        }
        if now >= p.next_audio {
            p.next_audio = now + AUDIO_FRAME;
            let seq = p.audio_seq;
            p.audio_seq += 1;
            let ts = (seq as u32).wrapping_mul(960);
            let ext = ExtensionValues {
                audio_level: Some(p.audio_level),
                voice_activity: Some(true),
                ..Default::default()
            };
            // An Opus TOC, the packet's number, then origin (publisher, 0).
            let frame = vec![0xf8, (seq >> 8) as u8, seq as u8, p.number, 0];
            let (pt, payload) = match red_pt.filter(|_| p.red_levels > 0) {
                Some(red) => {
                    let from = p.audio_history.len().saturating_sub(p.red_levels);
                    let blocks: Vec<(u32, &[u8])> = p.audio_history[from..]
                        .iter()
                        .map(|(t, f)| (ts.wrapping_sub(*t), &f[..]))
                        .collect();
                    let mut wire = vec![];
                    diemcau_media::red::build(*opus, &frame, &blocks, &mut wire);
                    (red, wire)
                }
                None => (opus, frame.clone()),
            };
            p.audio_history.push((ts, frame));
            if p.audio_history.len() > 2 {
                p.audio_history.remove(0);
            }
            let lost = p.drop_audio_every.is_some_and(|n| seq % n == 0);
            if !lost {
                writes.push((
                    p.audio_mid.unwrap(),
                    None,
                    RtpWrite::new(pt, seq.into(), ts, now, payload).ext_vals(ext),
                ));
            }
        }
        for (mid, rid, w) in writes {
            let mut api = self.rtc.direct_api();
            let stream = api
                .stream_tx_by_mid(mid, rid)
                .expect("a send stream per mid/rid");
            stream.write_rtp(w);
            self.drain();
        }
    }

    pub fn on_mid(&self, mid: Mid) -> Vec<&Got> {
        self.received.iter().filter(|g| g.mid == mid).collect()
    }
}
