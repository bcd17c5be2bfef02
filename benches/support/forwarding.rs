//! Shared by the forward and memory benchmarks: 1 publisher (VP8 simulcast
//! and Opus) and N subscribers (stage video + audio slot) in the virtual-time
//! world, driven in 1 ms steps with the engine's calls timed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diemcau::media::Datagram;
use str0m::Input;

use crate::vt;

/// Video payload bytes per packet: with RTP header, extensions and the GCM
/// tag the forwarded datagram is ~1150 bytes, close to the baseline's 1200.
const VIDEO_PAYLOAD: usize = 1100;

/// Counters of the timed engine work.
#[derive(Debug, Default, Clone, Copy)]
pub struct Meter {
    /// ns in `handle_datagram` of publisher datagrams (+ drain).
    pub fwd_ns: u64,
    /// ns in `handle_timeout` and subscriber datagrams (RTCP, STUN) (+ drain).
    pub other_ns: u64,
    pub pub_in: u64,
    pub sub_in: u64,
    /// RTP datagrams to subscribers produced by the publisher datagrams.
    pub rtp_out_fwd: u64,
    /// RTP datagrams to subscribers produced by timeouts or feedback
    /// (pacer releases, retransmissions).
    pub rtp_out_other: u64,
    /// Other datagrams out (RTCP, STUN), to anyone.
    pub ctl_out: u64,
    pub rtp_bytes_out: u64,
    /// Video packets subscribers received, by simulcast layer (q, h, f).
    pub video_layers: [u64; 3],
}

impl Meter {
    pub fn forwarded(&self) -> u64 {
        self.rtp_out_fwd + self.rtp_out_other
    }
    pub fn since(&self, before: &Meter) -> Meter {
        Meter {
            fwd_ns: self.fwd_ns - before.fwd_ns,
            other_ns: self.other_ns - before.other_ns,
            pub_in: self.pub_in - before.pub_in,
            sub_in: self.sub_in - before.sub_in,
            rtp_out_fwd: self.rtp_out_fwd - before.rtp_out_fwd,
            rtp_out_other: self.rtp_out_other - before.rtp_out_other,
            ctl_out: self.ctl_out - before.ctl_out,
            rtp_bytes_out: self.rtp_bytes_out - before.rtp_bytes_out,
            video_layers: std::array::from_fn(|i| self.video_layers[i] - before.video_layers[i]),
        }
    }
    pub fn report(&self, label: &str) {
        let fwd = self.forwarded().max(1) as f64;
        println!(
            "{label}: forwarded {} pkts ({} B avg), in {} publisher pkts, out/in {:.2}; \
             ns/forwarded pkt: forward calls {:.0}, all engine work {:.0}; \
             ns/incoming pkt {:.0}; {:.1}% of forwarded pkts left via timeouts/feedback; \
             video pkts received by layer q/h/f {:?}",
            self.forwarded(),
            self.rtp_bytes_out / self.forwarded().max(1),
            self.pub_in,
            self.forwarded() as f64 / self.pub_in.max(1) as f64,
            self.fwd_ns as f64 / fwd,
            (self.fwd_ns + self.other_ns) as f64 / fwd,
            self.fwd_ns as f64 / self.pub_in.max(1) as f64,
            100.0 * self.rtp_out_other as f64 / fwd,
            self.video_layers,
        );
    }
}

/// A world of 1 publisher + `n` subscribers in steady state, driven in 1 ms
/// steps with the engine calls timed.
pub struct Forwarding {
    pub w: vt::World,
    by_addr: HashMap<SocketAddr, usize>,
    publisher: SocketAddr,
    pub m: Meter,
    out: Vec<Datagram>,
    to_pub: Vec<(SocketAddr, Vec<u8>)>,
    to_sub: Vec<(SocketAddr, Vec<u8>)>,
    recording: bool,
    /// Packets the recording taps produced.
    pub tapped: u64,
    /// Every n-th RTP datagram to a subscriber is lost on its link (their
    /// receiver reports then show the loss, as a thin link's would).
    pub drop_to_subs_every: Option<u64>,
    to_subs: u64,
}

fn is_rtp(b: &[u8]) -> bool {
    b.len() >= 12 && b[0] >> 6 == 2 && !(192..=223).contains(&b[1])
}

impl Forwarding {
    pub fn new(n: usize) -> Forwarding {
        Self::with(n, None)
    }

    /// `n` subscribers of the publisher's audio only (its video stopped),
    /// each having negotiated RED when `red_subscribers`: the world of the
    /// server-built redundancy's cost.
    #[allow(dead_code)] // used by the red bench only
    pub fn audio_only(n: usize, red_subscribers: bool) -> Forwarding {
        Self::with(n, Some(red_subscribers))
    }

    fn with(n: usize, audio_only: impl Into<Option<bool>>) -> Forwarding {
        let audio_only = audio_only.into();
        let mut w = vt::World::new();
        let p = w.join(true, 0, 0);
        let publisher = w.clients[p].publisher.as_mut().unwrap();
        publisher.payload_len = VIDEO_PAYLOAD;
        if audio_only.is_some() {
            publisher.active = [false; 3];
        }
        w.red_clients = audio_only == Some(true);
        for _ in 0..n {
            if audio_only.is_some() {
                w.join(false, 0, 1);
            } else {
                w.join(false, 1, 1);
            }
        }
        let by_addr = w
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| (c.addr, i))
            .collect();
        let publisher = w.clients[p].addr;
        let mut f = Forwarding {
            w,
            by_addr,
            publisher,
            m: Meter::default(),
            out: vec![],
            to_pub: vec![],
            to_sub: vec![],
            recording: false,
            tapped: 0,
            drop_to_subs_every: None,
            to_subs: 0,
        };
        // Connect, let BWE and layer selection settle.
        f.run(Duration::from_secs(4));
        let connected = f.w.clients.iter().filter(|c| c.rtc.is_connected()).count();
        assert_eq!(connected, n + 1, "every client connected");
        f
    }

    /// Record the room (as `POST …/recordings` does): from now on every
    /// publisher packet also goes through the recording taps, and the
    /// tapped packets are drained inside the timed forward region, where
    /// the worker hands them to the recorder thread's queue.
    #[allow(dead_code)] // used by the forward bench, not by memory
    pub fn record(&mut self) {
        let now = self.w.now;
        self.w
            .engine
            .handle_command(
                now,
                diemcau::media::Command::Record {
                    room: "r".into(),
                    on: true,
                },
            )
            .unwrap();
        self.recording = true;
        self.run(Duration::from_secs(2));
    }

    pub fn run(&mut self, d: Duration) {
        let end = self.w.now + d;
        while self.w.now < end {
            self.step();
        }
    }

    /// Run until at least `packets` more packets were forwarded.
    pub fn run_packets(&mut self, packets: u64) -> Meter {
        let before = self.m;
        while self.m.forwarded() - before.forwarded() < packets {
            self.step();
        }
        self.m.since(&before)
    }

    fn step(&mut self) {
        let w = &mut self.w;
        w.now += Duration::from_millis(1);
        let now = w.now;
        for c in &mut w.clients {
            c.rtc.handle_input(Input::Timeout(now)).unwrap();
            c.drain();
            c.publish(now);
        }
        let t = Instant::now();
        w.engine.handle_timeout(now);
        self.out.extend(w.engine.drain_transmits());
        self.m.other_ns += t.elapsed().as_nanos() as u64;
        self.deliver(false);
        for _ in 0..50 {
            let server: SocketAddr = vt::SERVER.parse().unwrap();
            for c in &mut self.w.clients {
                c.drain();
                let to = if c.addr == self.publisher {
                    &mut self.to_pub
                } else {
                    &mut self.to_sub
                };
                to.append(&mut c.outbox);
            }
            if self.to_pub.is_empty() && self.to_sub.is_empty() {
                break;
            }
            let engine = &mut self.w.engine;
            // Publisher datagrams: the forward path.
            let t = Instant::now();
            for (src, bytes) in &self.to_pub {
                engine.handle_datagram(now, *src, server, bytes);
            }
            self.out.extend(engine.drain_transmits());
            if self.recording {
                // The driver moves each tapped packet into the recorder's
                // queue; here it is dropped after the same move.
                for t in engine.drain_tapped() {
                    self.tapped += 1;
                    drop(std::hint::black_box(t));
                }
            }
            self.m.fwd_ns += t.elapsed().as_nanos() as u64;
            self.m.pub_in += self.to_pub.len() as u64;
            self.deliver(true);
            // Subscriber datagrams: STUN, receiver reports, TWCC feedback.
            let engine = &mut self.w.engine;
            let t = Instant::now();
            for (src, bytes) in &self.to_sub {
                engine.handle_datagram(now, *src, server, bytes);
            }
            self.out.extend(engine.drain_transmits());
            self.m.other_ns += t.elapsed().as_nanos() as u64;
            self.m.sub_in += self.to_sub.len() as u64;
            self.deliver(false);
            self.to_pub.clear();
            self.to_sub.clear();
        }
        while self.w.engine.poll_event().is_some() {}
    }

    /// Count and hand the engine's datagrams to their clients (untimed).
    fn deliver(&mut self, forward_phase: bool) {
        let now = self.w.now;
        for d in self.out.drain(..) {
            if d.destination != self.publisher && is_rtp(&d.contents) {
                if forward_phase {
                    self.m.rtp_out_fwd += 1;
                } else {
                    self.m.rtp_out_other += 1;
                }
                self.m.rtp_bytes_out += d.contents.len() as u64;
            } else {
                self.m.ctl_out += 1;
            }
            let Some(&i) = self.by_addr.get(&d.destination) else {
                continue;
            };
            if d.destination != self.publisher
                && is_rtp(&d.contents)
                && let Some(k) = self.drop_to_subs_every
            {
                self.to_subs += 1;
                if self.to_subs.is_multiple_of(k) {
                    continue;
                }
            }
            let c = &mut self.w.clients[i];
            c.deliver(now, &d);
            for g in c.received.drain(..) {
                if g.payload.len() > 100 {
                    self.m.video_layers[g.origin().1 as usize % 3] += 1;
                }
            }
        }
    }
}
