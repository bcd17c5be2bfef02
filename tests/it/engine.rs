//! Deterministic engine tests on virtual time: str0m peers (as the str0m
//! project tests itself) exchange datagrams with `media::Engine` in memory —
//! no sockets, no clock, seeded loss — so every run is the same.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diemcau::media::{Command, Engine, EngineConfig, Event, JoinRequest, ParticipantId, Reply, Role, SlotRole};
use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::{Candidate, Event as RtcEvent, Input, Output, Rtc};

const SERVER: &str = "127.0.0.1:50000";
const RIDS: [&str; 3] = ["q", "h", "f"];
/// Packets per frame on layers q/h/f (bigger layers span more packets).
const PACKETS_PER_FRAME: [usize; 3] = [1, 2, 4];
const FRAME: Duration = Duration::from_millis(33);
const AUDIO_FRAME: Duration = Duration::from_millis(20);

/// One packet a client received.
#[derive(Debug, Clone)]
struct Got {
    mid: Mid,
    seq: u64,
    ts: u32,
    payload: Vec<u8>,
}

impl Got {
    /// Publisher number and layer, written by `Publisher` at the payload's end.
    fn origin(&self) -> (u8, u8) {
        let n = self.payload.len();
        (self.payload[n - 2], self.payload[n - 1])
    }
    fn is_keyframe_start(&self) -> bool {
        self.payload[0] & 0x10 != 0 && self.payload[1] & 0x01 == 0
    }
}

/// What a client publishes.
struct Publisher {
    number: u8,
    video_mid: Option<Mid>,
    audio_mid: Option<Mid>,
    /// Layers currently sent (a test may stop one).
    active: [bool; 3],
    seq: [u64; 3],
    audio_seq: u64,
    frame_no: u32,
    keyframe_wanted: [bool; 3],
    next_frame: Instant,
    next_audio: Instant,
    audio_level: i8,
}

struct Client {
    id: ParticipantId,
    addr: SocketAddr,
    rtc: Rtc,
    publisher: Option<Publisher>,
    received: Vec<Got>,
    keyframe_requests: usize,
    /// Mids of receive slots, in offer order.
    recv_mids: Vec<Mid>,
    raw_seqs: Vec<(u16, u8, usize)>,
    outbox: Vec<(SocketAddr, Vec<u8>)>,
}

struct World {
    now: Instant,
    engine: Engine,
    clients: Vec<Client>,
    events: Vec<Event>,
    next_id: ParticipantId,
    /// Drop this fraction of server->client packets (seeded LCG).
    loss_to_clients: f64,
    rng: u64,
    dropped: usize,
}

impl World {
    fn new() -> World {
        let now = Instant::now();
        let engine = Engine::new(
            EngineConfig { local_addrs: vec![SERVER.parse().unwrap()], audio_slots_max: 3 },
            now,
        );
        World { now, engine, clients: vec![], events: vec![], next_id: 1, loss_to_clients: 0.0, rng: 42, dropped: 0 }
    }

    fn rand(&mut self) -> f64 {
        self.rng = self.rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.rng >> 33) as f64 / (1u64 << 31) as f64
    }

    /// Join a client that publishes (simulcast video + audio) when `publish`
    /// and receives `video_slots` video and `audio_slots` audio slots.
    fn join(&mut self, publish: bool, video_slots: usize, audio_slots: usize) -> usize {
        let idx = self.clients.len();
        let addr: SocketAddr = format!("127.0.0.{}:{}", 10 + idx, 40000 + idx).parse().unwrap();
        let mut rtc = Rtc::builder().set_rtp_mode(true).enable_raw_packets(std::env::var("DUMP").is_ok()).build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mut publisher = None;
        if publish {
            let mut sim = Simulcast::new();
            for r in RIDS {
                sim.add_send_layer(SimulcastLayer::new(r));
            }
            let v = change.add_media(MediaKind::Video, Direction::SendOnly, Some("cam".into()), None, Some(sim));
            let a = change.add_media(MediaKind::Audio, Direction::SendOnly, Some("cam".into()), None, None);
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
            });
        }
        let mut recv_mids = vec![];
        for _ in 0..video_slots {
            recv_mids.push(change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None));
        }
        for _ in 0..audio_slots {
            recv_mids.push(change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None));
        }
        let (offer, pending) = change.apply().expect("offer");
        let id = self.next_id;
        self.next_id += 1;
        let reply = self
            .engine
            .handle_command(
                self.now,
                Command::Join(JoinRequest {
                    participant: id,
                    room: "r".into(),
                    name: format!("client {idx}"),
                    role: Role::Room,
                    max_kbps: None,
                    offer: offer.to_sdp_string(),
                }),
            )
            .expect("join");
        let Reply::Joined { answer, .. } = reply else { panic!("unexpected reply {reply:?}") };
        rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).expect("answer");
        self.clients.push(Client { id, addr, rtc, publisher, received: vec![], keyframe_requests: 0, recv_mids, raw_seqs: vec![], outbox: vec![] });
        idx
    }

    /// Run the world for `d` of virtual time in 1 ms steps.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(1);
            let now = self.now;
            for c in &mut self.clients {
                c.rtc.handle_input(Input::Timeout(now)).unwrap();
                c.drain();
                c.publish(now);
            }
            self.engine.handle_timeout(now);
            self.exchange();
        }
    }

    /// Move datagrams both ways until nothing is left in flight.
    fn exchange(&mut self) {
        let server: SocketAddr = SERVER.parse().unwrap();
        for _ in 0..50 {
            let mut to_server: VecDeque<(SocketAddr, Vec<u8>)> = VecDeque::new();
            for c in &mut self.clients {
                c.drain();
                to_server.extend(c.outbox.drain(..));
            }
            let now = self.now;
            for (src, bytes) in &to_server {
                self.engine.handle_datagram(now, *src, server, bytes);
            }
            let out: Vec<_> = self.engine.drain_transmits().collect();
            while let Some(e) = self.engine.poll_event() {
                self.events.push(e);
            }
            if to_server.is_empty() && out.is_empty() {
                return;
            }
            for d in out {
                let lossy = self.loss_to_clients > 0.0 && self.rand() < self.loss_to_clients;
                if lossy && !str0m_is_stun(&d.contents) {
                    self.dropped += 1;
                    continue;
                }
                let Some(c) = self.clients.iter_mut().find(|c| c.addr == d.destination) else { continue };
                let input = Input::Receive(
                    now,
                    Receive { proto: Protocol::Udp, source: d.source, destination: d.destination, contents: d.contents.as_slice().try_into().unwrap() },
                );
                c.rtc.handle_input(input).unwrap();
                c.drain();
            }
        }
    }

    fn cmd(&mut self, c: Command) -> Reply {
        let r = self.engine.handle_command(self.now, c).expect("command");
        self.exchange();
        r
    }
}

fn str0m_is_stun(b: &[u8]) -> bool {
    diemcau::media::stun::is_stun(b)
}

impl Client {
    /// str0m's rule: drain after every mutation. Transmits are kept for the server.
    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(_) => break,
                Output::Transmit(t) => self.outbox.push((self.addr, t.contents.into())),
                Output::Event(e) => self.on_event(e),
            }
        }
    }

    fn on_event(&mut self, e: RtcEvent) {
        match e {
            RtcEvent::RtpPacket(p) => {
                let mid = self.rtc.direct_api().stream_rx(&p.header.ssrc).map(|s| s.mid());
                if let Some(mid) = mid {
                    self.received.push(Got { mid, seq: *p.seq_no, ts: p.header.timestamp, payload: p.payload.to_vec() });
                }
            }
            RtcEvent::RawPacket(p) => {
                if let str0m::rtp::RawPacket::RtpRx(h, d) = &*p {
                    self.raw_seqs.push((h.sequence_number, *h.payload_type, d.len()));
                }
            }
            RtcEvent::KeyframeRequest(r) => {
                self.keyframe_requests += 1;
                if let Some(p) = &mut self.publisher {
                    let layer = r.rid.and_then(|rid| RIDS.iter().position(|x| *x == &*rid)).unwrap_or(0);
                    p.keyframe_wanted[layer] = true;
                }
            }
            _ => {}
        }
    }

    /// Write due video frames (every layer) and audio frames, draining after
    /// each write as str0m requires.
    fn publish(&mut self, now: Instant) {
        if !self.rtc.is_connected() {
            return;
        }
        let vp8 = self.rtc.codec_config().params().iter().find(|x| x.spec().codec == Codec::Vp8).unwrap().pt();
        let opus = self.rtc.codec_config().params().iter().find(|x| x.spec().codec == Codec::Opus).unwrap().pt();
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
                    let mut payload = if i == 0 {
                        if key { vec![0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01] } else { vec![0x10, 0x01, 0x00, 0x00] }
                    } else {
                        vec![0x00]
                    };
                    payload.resize(payload.len() + 300, 0xab);
                    payload.extend_from_slice(&[p.number, layer as u8]);
                    let seq = p.seq[layer];
                    p.seq[layer] += 1;
                    let w = RtpWrite::new(vp8, seq.into(), ts, now, payload).marker(i == n - 1).nackable(true);
                    writes.push((vmid, Some(RIDS[layer].into()), w));
                }
            }
        }
        if now >= p.next_audio {
            p.next_audio = now + AUDIO_FRAME;
            let seq = p.audio_seq;
            p.audio_seq += 1;
            let ts = (seq as u32).wrapping_mul(960);
            let ext = ExtensionValues { audio_level: Some(p.audio_level), voice_activity: Some(true), ..Default::default() };
            let payload = vec![0xf8, 0xff, 0xfe, p.number, 0];
            writes.push((p.audio_mid.unwrap(), None, RtpWrite::new(opus, seq.into(), ts, now, payload).ext_vals(ext)));
        }
        for (mid, rid, w) in writes {
            let mut api = self.rtc.direct_api();
            let stream = api.stream_tx_by_mid(mid, rid).expect("a send stream per mid/rid");
            stream.write_rtp(w);
            self.drain();
        }
    }

    fn on_mid(&self, mid: Mid) -> Vec<&Got> {
        self.received.iter().filter(|g| g.mid == mid).collect()
    }
}

/// Sequence numbers strictly +1 and timestamps never going back.
fn assert_continuous(pkts: &[&Got]) {
    if std::env::var("DUMP").is_ok() { let v: Vec<_> = pkts.iter().map(|g| (g.seq, g.origin().1, g.payload.len(), g.ts)).collect(); if let Some(i) = v.windows(2).position(|w| w[1].0 != w[0].0 + 1) { eprintln!("{:?}", &v[i.saturating_sub(10)..(i + 10).min(v.len())]); } }
    for w in pkts.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1, "seq discontinuity between {:?} and {:?}", (w[0].seq, w[0].origin()), (w[1].seq, w[1].origin()));
        assert!(w[1].ts.wrapping_sub(w[0].ts) < u32::MAX / 2, "timestamp went back at seq {}", w[1].seq);
    }
}

fn slot_events(events: &[Event], who: ParticipantId) -> Vec<Vec<(SlotRole, Option<ParticipantId>)>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SlotsChanged { participant, slots } if *participant == who => {
                Some(slots.iter().map(|s| (s.role, s.participant)).collect())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn publisher_reaches_subscriber_stage_starting_with_a_keyframe() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let b = w.join(false, 1, 1);
    w.run(Duration::from_secs(2));
    let (stage, audio) = (w.clients[b].recv_mids[0], w.clients[b].recv_mids[1]);
    let video = w.clients[b].on_mid(stage);
    if std::env::var("DUMP").is_ok() {
        if let Some(i) = video.windows(2).position(|x| x[1].seq != x[0].seq + 1) {
            let miss = (video[i].seq + 1) as u16;
            eprintln!("missing {miss}: raw {:?}", w.clients[b].raw_seqs.iter().filter(|r| r.0.abs_diff(miss) < 3).collect::<Vec<_>>());
        }
    }
    assert!(video.len() > 100, "stage video packets: {}", video.len());
    assert!(video[0].is_keyframe_start(), "first forwarded packet must start a keyframe");
    assert_eq!(video[0].origin().0, w.clients[a].publisher.as_ref().unwrap().number);
    assert_continuous(&video);
    assert!(w.clients[b].on_mid(audio).len() > 50, "audio packets");
    let slots = slot_events(&w.events, w.clients[b].id);
    assert_eq!(slots.last().unwrap()[0], (SlotRole::Stage, Some(w.clients[a].id)));
}

#[test]
fn layer_switch_waits_for_keyframe_and_keeps_seq_ts_continuous() {
    let mut w = World::new();
    let _a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    let stage = w.clients[b].recv_mids[0];
    let before = w.clients[b].on_mid(stage).len();
    let top = w.clients[b].on_mid(stage).last().unwrap().origin().1;
    assert_eq!(top, 2, "an unconstrained subscriber gets the high layer");
    // The room's link drops to 100 kbit/s: only the low layer fits.
    let id = w.clients[b].id;
    w.cmd(Command::SetMaxBitrate { participant: id, kbps: Some(100) });
    w.run(Duration::from_secs(2));
    let pkts = w.clients[b].on_mid(stage);
    assert!(pkts.len() > before + 30);
    assert_continuous(&pkts);
    let layers: Vec<u8> = pkts.iter().map(|g| g.origin().1).collect();
    let first_low = pkts.iter().position(|g| g.origin().1 == 0).unwrap_or_else(|| {
        panic!("never switched to the low layer: kf requests {}, layers tail {:?}", w.clients[0].keyframe_requests, &layers[layers.len() - 10..])
    });
    assert!(pkts[first_low].is_keyframe_start(), "switch happens on a keyframe");
    assert!(pkts[first_low..].iter().all(|g| g.origin().1 == 0), "no high-layer packet after the switch");
    // The publisher was asked for a keyframe on the low layer.
    assert!(w.clients[0].keyframe_requests > 0);
}

#[test]
fn stopped_layer_moves_subscriber_down_without_a_gap() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    w.clients[a].publisher.as_mut().unwrap().active[2] = false;
    w.run(Duration::from_secs(3));
    let stage = w.clients[b].recv_mids[0];
    let pkts = w.clients[b].on_mid(stage);
    assert_continuous(&pkts);
    let last = pkts.last().unwrap();
    assert_eq!(last.origin().1, 1, "falls back to the mid layer");
}

#[test]
fn lost_packets_are_recovered_from_the_nack_cache() {
    let mut w = World::new();
    let _a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(1));
    w.loss_to_clients = 0.05;
    w.run(Duration::from_secs(4));
    w.loss_to_clients = 0.0;
    w.run(Duration::from_secs(1));
    assert!(w.dropped > 20, "the impairment dropped {} packets", w.dropped);
    let stage = w.clients[b].recv_mids[0];
    let mut seqs: Vec<u64> = w.clients[b].on_mid(stage).iter().map(|g| g.seq).collect();
    seqs.sort();
    seqs.dedup();
    let span = seqs.last().unwrap() - seqs.first().unwrap() + 1;
    let missing = span - seqs.len() as u64;
    assert!(missing * 100 <= span, "{missing} of {span} packets never recovered");
}

#[test]
fn muted_audio_is_not_forwarded_until_unmuted() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let b = w.join(false, 0, 1);
    w.run(Duration::from_secs(1));
    let audio = w.clients[b].recv_mids[0];
    assert!(!w.clients[b].on_mid(audio).is_empty());
    let id = w.clients[a].id;
    w.cmd(Command::Mute { participant: id, audio: Some(true), video: None });
    w.run(Duration::from_millis(200));
    let n = w.clients[b].on_mid(audio).len();
    w.run(Duration::from_secs(1));
    assert_eq!(w.clients[b].on_mid(audio).len(), n, "muted audio still forwarded");
    assert!(w.events.iter().any(|e| matches!(e, Event::MuteChanged { participant, audio: true, .. } if *participant == id)));
    w.cmd(Command::Mute { participant: id, audio: Some(false), video: None });
    w.run(Duration::from_secs(1));
    assert!(w.clients[b].on_mid(audio).len() > n + 20, "unmuted audio resumes");
}

#[test]
fn operator_stage_choice_is_what_everyone_sees() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let c = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    let stage = w.clients[b].recv_mids[0];
    let (ida, idc) = (w.clients[a].id, w.clients[c].id);
    let first = w.clients[b].on_mid(stage).last().unwrap().origin().0;
    let (want, want_id) = if first == a as u8 { (c as u8, idc) } else { (a as u8, ida) };
    w.cmd(Command::SetStage { room: "r".into(), participants: vec![want_id] });
    w.run(Duration::from_secs(2));
    let pkts = w.clients[b].on_mid(stage);
    assert_continuous(&pkts);
    assert_eq!(pkts.last().unwrap().origin().0, want, "stage shows the operator's choice");
    let slots = slot_events(&w.events, w.clients[b].id);
    assert_eq!(slots.last().unwrap()[0], (SlotRole::Stage, Some(want_id)));
    assert!(w.events.iter().any(|e| matches!(e, Event::StageChanged { participants, .. } if participants == &vec![want_id])));
}

#[test]
fn loudest_speaker_becomes_active_and_fills_the_speaker_slot() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let c = w.join(true, 0, 0);
    let b = w.join(false, 2, 1);
    w.clients[c].publisher.as_mut().unwrap().audio_level = -15;
    w.clients[a].publisher.as_mut().unwrap().audio_level = -80;
    w.run(Duration::from_secs(3));
    let idc = w.clients[c].id;
    assert!(w.events.iter().any(|e| matches!(e, Event::SpeakerChanged { participant: Some(p), .. } if *p == idc)));
    let slots = slot_events(&w.events, w.clients[b].id);
    let last: HashMap<SlotRole, Option<ParticipantId>> = slots.last().unwrap().iter().copied().collect();
    assert_eq!(last[&SlotRole::Stage], Some(idc), "no operator stage: the active speaker is on stage");
    assert_eq!(last[&SlotRole::Audio], Some(idc), "the loudest is heard");
    assert_eq!(last[&SlotRole::Speaker], Some(w.clients[a].id), "speaker slot does not repeat the stage");
}

#[test]
fn garbage_datagrams_are_dropped_and_counted() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    w.run(Duration::from_millis(500));
    let now = w.now;
    let server: SocketAddr = SERVER.parse().unwrap();
    let known = w.clients[a].addr;
    let mut junk = vec![];
    for i in 0..200u32 {
        let len = (i as usize * 7) % 1300;
        junk.push((0..len).map(|j| (i as usize * 31 + j * 17) as u8).collect::<Vec<u8>>());
    }
    for (i, j) in junk.iter().enumerate() {
        let src = if i % 2 == 0 { known } else { "127.0.0.99:9".parse().unwrap() };
        w.engine.handle_datagram(now, src, server, j);
    }
    let Reply::Stats(st) = w.cmd(Command::Stats) else { panic!() };
    assert!(st.dropped_unknown_source >= 100, "{st:?}");
    assert!(st.dropped_malformed > 0, "{st:?}");
    // The session still works.
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(1));
    assert!(!w.clients[b].received.is_empty());
}

#[test]
fn leaving_publisher_frees_the_stage_and_room_keeps_working() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let c = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    let stage = w.clients[b].recv_mids[0];
    let shown = w.clients[b].on_mid(stage).last().unwrap().origin().0;
    let (leaver, other) = if shown == a as u8 { (a, c) } else { (c, a) };
    let id = w.clients[leaver].id;
    w.cmd(Command::Leave { participant: id });
    w.run(Duration::from_secs(2));
    let pkts = w.clients[b].on_mid(stage);
    assert_continuous(&pkts);
    assert_eq!(pkts.last().unwrap().origin().0, other as u8);
    assert!(w.events.iter().any(|e| matches!(e, Event::Left { participant, .. } if *participant == id)));
}

#[test]
fn offer_without_usable_codec_is_refused() {
    let mut w = World::new();
    let offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=video 9 UDP/TLS/RTP/SAVPF 120\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\na=setup:actpass\r\na=rtpmap:120 MADEUP/90000\r\n";
    let r = w.engine.handle_command(
        w.now,
        Command::Join(JoinRequest { participant: 77, room: "r".into(), name: "x".into(), role: Role::Room, max_kbps: None, offer: offer.into() }),
    );
    assert!(r.is_err(), "an offer with only an unknown codec must be refused: {r:?}");
    assert_eq!(w.engine.session_count(), 0, "nothing changed");
}
