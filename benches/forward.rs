//! Forward-path benchmark: one publisher (VP8 simulcast q/h/f + Opus) and N
//! subscribers (a stage video slot and an audio slot each), all connected
//! over ICE/DTLS/SRTP in the virtual-time world of the engine tests, in
//! steady state. Only the server side is timed: `Engine::handle_datagram`,
//! `Engine::handle_timeout` and `Engine::drain_transmits`. The clients
//! (encrypting the publisher's packets, decrypting what subscribers get,
//! their RTCP) run outside the timed regions, and every publisher datagram is
//! fresh (SRTP replay protection).
//!
//! Figures are per forwarded packet: an SRTP datagram the engine emits
//! towards a subscriber. The seal of that packet (str0m, aws-lc-rs
//! AES-GCM, the key size DTLS negotiated) is inside the engine call, so it
//! is included.
//!
//! The same invocation runs the bare-relay baseline: AES-128-GCM seal of a
//! 1200-byte packet + `sendmmsg` in batches of 32 on loopback to a socket a
//! receiver thread drains with `recvmmsg` — the physical limit per packet.
//!
//! Run: `cargo bench --bench forward -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use criterion::{Criterion, criterion_group, criterion_main};
use diemcau::net::udp::{BATCH, RecvBatch, send_batch};

#[path = "support/forwarding.rs"]
mod forwarding;
use diemcau_testkit::vt;

use forwarding::Forwarding;

const SUBSCRIBERS: [usize; 4] = [1, 10, 50, 150];

fn forward(c: &mut Criterion) {
    let mut g = c.benchmark_group("forward");
    g.sample_size(10);
    // DIEMCAU_BENCH_N=150 restricts the run to one size (for profiling).
    let only: Option<usize> = std::env::var("DIEMCAU_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok());
    for n in SUBSCRIBERS
        .into_iter()
        .filter(|n| only.is_none_or(|o| o == *n))
    {
        let mut f = Forwarding::new(n);
        let m = f.run_packets(20_000);
        m.report(&format!("forward/{n} sanity (20k pkts)"));
        let start = f.m;
        // One criterion iteration = one forwarded packet; the timed engine
        // time of the steps is scaled to exactly `iters` packets.
        g.bench_function(format!("all_engine_work_per_forwarded_pkt/{n}"), |b| {
            b.iter_custom(|iters| {
                let m = f.run_packets(iters);
                let ns = (m.fwd_ns + m.other_ns) as f64 * iters as f64 / m.forwarded() as f64;
                Duration::from_nanos(ns as u64)
            })
        });
        f.m.since(&start)
            .report(&format!("forward/{n} over the criterion run"));
    }
    // The same world with the room recorded: what the taps add on the
    // media worker (the recorder thread's own cost is `record_cpu`).
    for n in [10usize]
        .into_iter()
        .filter(|n| only.is_none_or(|o| o == *n))
    {
        let mut f = Forwarding::new(n);
        f.record();
        let m = f.run_packets(20_000);
        assert!(f.tapped > 0, "the recording taps produced packets");
        m.report(&format!("forward/{n}+recording sanity (20k pkts)"));
        g.bench_function(
            format!("all_engine_work_per_forwarded_pkt/{n}+recording"),
            |b| {
                b.iter_custom(|iters| {
                    let m = f.run_packets(iters);
                    let ns = (m.fwd_ns + m.other_ns) as f64 * iters as f64 / m.forwarded() as f64;
                    Duration::from_nanos(ns as u64)
                })
            },
        );
    }
    g.finish();
}

/// The bare relay: per packet, an AES-128-GCM seal of 1200 bytes (aws-lc-rs,
/// as str0m's SRTP uses it) and its share of a 32-datagram `sendmmsg` on
/// loopback; a receiver thread drains the socket with `recvmmsg`.
struct BareRelay {
    tx: UdpSocket,
    dst: SocketAddr,
    key: LessSafeKey,
    bufs: Vec<Vec<u8>>,
    counter: u64,
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    rx_thread: Option<std::thread::JoinHandle<()>>,
}

const BARE_LEN: usize = 1200;
const TAG: usize = 16;

impl BareRelay {
    fn new() -> BareRelay {
        let rx = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        rx.set_recv_buffer_size(4 << 20).unwrap();
        rx.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let rx: UdpSocket = rx.into();
        rx.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let dst = rx.local_addr().unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let (s, r) = (stop.clone(), received.clone());
        let rx_thread = std::thread::spawn(move || {
            let mut batch = RecvBatch::default();
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = batch.recv(&rx) {
                    r.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        });
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7u8; 16]).unwrap());
        BareRelay {
            tx,
            dst,
            key,
            bufs: vec![vec![0u8; BARE_LEN]; BATCH],
            counter: 0,
            stop,
            received,
            rx_thread: Some(rx_thread),
        }
    }

    /// Seal the next packet into `buf` as SRTP does: 12-byte header as AAD,
    /// the rest encrypted, 16-byte tag appended (1200 bytes in all).
    fn seal(key: &LessSafeKey, counter: u64, buf: &mut Vec<u8>) {
        buf.clear();
        buf.extend_from_slice(&[0x80, 0x60]);
        buf.extend_from_slice(&(counter as u16).to_be_bytes());
        buf.extend_from_slice(&(counter as u32).to_be_bytes());
        buf.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        buf.resize(BARE_LEN - TAG, 0xab);
        let mut iv = [0u8; 12];
        iv[4..12].copy_from_slice(&counter.to_be_bytes());
        let (aad, body) = buf.split_at_mut(12);
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(&aad[..]), body)
            .unwrap();
        buf.extend_from_slice(tag.as_ref());
    }

    /// Seal and send `packets` packets in batches of [`BATCH`].
    fn relay(&mut self, packets: u64, send: bool) {
        let mut left = packets;
        while left > 0 {
            let k = left.min(BATCH as u64) as usize;
            for buf in &mut self.bufs[..k] {
                self.counter += 1;
                Self::seal(&self.key, self.counter, buf);
            }
            if send {
                let items: [(SocketAddr, &[u8]); BATCH] =
                    std::array::from_fn(|i| (self.dst, self.bufs[i].as_slice()));
                black_box(send_batch(&self.tx, &items[..k]));
            } else {
                black_box(&self.bufs);
            }
            left -= k as u64;
        }
    }

    /// Send only (no seal): the syscall share of the baseline.
    fn send_only(&mut self, packets: u64) {
        let items: [(SocketAddr, &[u8]); BATCH] =
            std::array::from_fn(|i| (self.dst, self.bufs[i].as_slice()));
        let mut left = packets;
        while left > 0 {
            let k = left.min(BATCH as u64) as usize;
            black_box(send_batch(&self.tx, &items[..k]));
            left -= k as u64;
        }
    }
}

impl Drop for BareRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.rx_thread.take() {
            let _ = t.join();
        }
    }
}

fn bare_relay(c: &mut Criterion) {
    let mut g = c.benchmark_group("bare_relay");
    g.sample_size(20);
    let mut r = BareRelay::new();
    let sent_before = r.counter;
    g.bench_function("seal_and_sendmmsg_per_pkt", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            r.relay(iters, true);
            t.elapsed()
        })
    });
    let sent = r.counter - sent_before;
    g.bench_function("seal_only_per_pkt", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            r.relay(iters, false);
            t.elapsed()
        })
    });
    g.bench_function("sendmmsg_only_per_pkt", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            r.send_only(iters);
            t.elapsed()
        })
    });
    g.finish();
    std::thread::sleep(Duration::from_millis(100));
    println!(
        "bare_relay: the receiver thread drained {} datagrams (sealed and sent in the first bench: {sent})",
        r.received.load(Ordering::Relaxed)
    );
}

criterion_group!(benches, bare_relay, forward);
criterion_main!(benches);
