//! A user-space link emulator (this kernel has no `netem`): a UDP relay
//! between the endpoints and the server that gives each endpoint's flow a
//! link — rate with a FIFO queue (tail drop), random loss, one-way delay and
//! jitter — in each direction, from a seed, so a run can be repeated.
//!
//! The server advertises the relay's address as its ICE candidate (config
//! `media.advertise`); an endpoint's datagrams reach the relay, which sends
//! them on from a socket of its own per endpoint (the server sees one
//! 5-tuple per endpoint, as through a NAT) and returns the server's answers
//! the same way. Which link an endpoint gets is chosen by its source IP.
//!
//! Everything stays on 127.0.0.0/8 inside the harness's namespace.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// One direction of a link.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Direction {
    /// Link rate, kbit/s (None: unlimited).
    pub kbps: Option<u32>,
    /// The queue in front of the rate: a packet that would wait longer is dropped.
    pub queue_ms: u32,
    /// Random loss, 0.0 ..= 1.0.
    pub loss: f64,
    pub delay_ms: u32,
    /// Extra delay, uniform in 0 ..= jitter_ms (order is kept, like most links).
    pub jitter_ms: u32,
}

impl Direction {
    pub const CLEAN: Direction = Direction {
        kbps: None,
        queue_ms: 0,
        loss: 0.0,
        delay_ms: 0,
        jitter_ms: 0,
    };
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Link {
    /// Endpoint → server.
    pub up: Direction,
    /// Server → endpoint.
    pub down: Direction,
}

/// What the relay did, per direction.
#[derive(Debug, Default)]
pub struct Counters {
    pub up_in: AtomicU64,
    pub up_lost: AtomicU64,
    pub up_queue_drops: AtomicU64,
    pub down_in: AtomicU64,
    pub down_lost: AtomicU64,
    pub down_queue_drops: AtomicU64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CounterSnapshot {
    pub up_in: u64,
    pub up_lost: u64,
    pub up_queue_drops: u64,
    pub down_in: u64,
    pub down_lost: u64,
    pub down_queue_drops: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CounterSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CounterSnapshot {
            up_in: g(&self.up_in),
            up_lost: g(&self.up_lost),
            up_queue_drops: g(&self.up_queue_drops),
            down_in: g(&self.down_in),
            down_lost: g(&self.down_lost),
            down_queue_drops: g(&self.down_queue_drops),
        }
    }
}

/// splitmix64: a small seeded generator (the harness has no `rand`).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The state of one direction of one flow.
struct Shaper {
    dir: Direction,
    rng: Rng,
    /// When the link finishes sending what is queued.
    link_free: Instant,
    /// Release time of the last packet (kept in order).
    last_release: Instant,
}

enum Verdict {
    Lost,
    QueueFull,
    At(Instant),
}

impl Shaper {
    fn new(dir: Direction, seed: u64) -> Self {
        let now = Instant::now();
        Shaper {
            dir,
            rng: Rng(seed),
            link_free: now,
            last_release: now,
        }
    }

    fn admit(&mut self, now: Instant, bytes: usize) -> Verdict {
        // Loss is drawn first and always, so the sequence of draws (and so
        // the run) does not depend on timing.
        let lost = self.rng.unit() < self.dir.loss;
        let jitter = if self.dir.jitter_ms > 0 {
            (self.rng.unit() * f64::from(self.dir.jitter_ms)) as u64
        } else {
            0
        };
        let mut out = now;
        if let Some(kbps) = self.dir.kbps {
            // IP + UDP headers go over the link too.
            let bits = (bytes as u64 + 28) * 8;
            let tx = Duration::from_nanos(bits * 1_000_000 / u64::from(kbps.max(1)));
            let start = self.link_free.max(now);
            if start - now > Duration::from_millis(u64::from(self.dir.queue_ms)) {
                return Verdict::QueueFull;
            }
            self.link_free = start + tx;
            out = self.link_free;
        }
        if lost {
            return Verdict::Lost;
        }
        let release = (out
            + Duration::from_millis(u64::from(self.dir.delay_ms))
            + Duration::from_millis(jitter))
        .max(self.last_release);
        self.last_release = release;
        Verdict::At(release)
    }
}

struct Pending {
    at: Instant,
    n: u64,
    sock: Arc<UdpSocket>,
    to: SocketAddr,
    bytes: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.n) == (o.at, o.n)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.n).cmp(&(o.at, o.n))
    }
}

/// Sends each datagram at its release time.
async fn scheduler(mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut heap: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
    loop {
        let next = heap.peek().map(|Reverse(p)| p.at);
        tokio::select! {
            p = rx.recv() => match p {
                Some(p) => heap.push(Reverse(p)),
                None => return,
            },
            _ = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let now = Instant::now();
                while heap.peek().is_some_and(|Reverse(p)| p.at <= now) {
                    let Reverse(p) = heap.pop().expect("peeked");
                    let _ = p.sock.send_to(&p.bytes, p.to).await;
                }
            }
        }
    }
}

pub struct Relay {
    pub counters: Arc<Counters>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Relay {
    /// Listen on `front`, relay to `back`; `link_for(source ip)` gives each
    /// new endpoint its link; `seed` makes the losses and jitter repeatable.
    pub async fn start(
        front: SocketAddr,
        back: SocketAddr,
        seed: u64,
        link_for: impl Fn(IpAddr) -> Link + Send + Sync + 'static,
    ) -> anyhow::Result<Relay> {
        let front_sock = Arc::new(UdpSocket::bind(front).await?);
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tasks = vec![tokio::spawn(scheduler(rx))];
        let c = counters.clone();
        let fs = front_sock.clone();
        tasks.push(tokio::spawn(async move {
            let mut flows: HashMap<SocketAddr, (Arc<UdpSocket>, Shaper)> = HashMap::new();
            let mut n: u64 = 0;
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((len, from)) = fs.recv_from(&mut buf).await else {
                    return;
                };
                c.up_in.fetch_add(1, Ordering::Relaxed);
                if !flows.contains_key(&from) {
                    let Ok(up) = UdpSocket::bind(SocketAddr::new(front.ip(), 0)).await else {
                        continue;
                    };
                    let up = Arc::new(up);
                    let link = link_for(from.ip());
                    // Each flow and direction draws from its own stream,
                    // numbered in order of arrival.
                    let k = flows.len() as u64;
                    let up_shaper = Shaper::new(link.up, seed ^ (k * 2 + 1).wrapping_mul(0x9E37));
                    let mut down = Shaper::new(link.down, seed ^ (k * 2 + 2).wrapping_mul(0x9E37));
                    let (up2, fs2, tx2, c2) = (up.clone(), fs.clone(), tx.clone(), c.clone());
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 65_536];
                        let mut m: u64 = 1 << 62;
                        while let Ok((len, _)) = up2.recv_from(&mut buf).await {
                            c2.down_in.fetch_add(1, Ordering::Relaxed);
                            match down.admit(Instant::now(), len) {
                                Verdict::Lost => {
                                    c2.down_lost.fetch_add(1, Ordering::Relaxed);
                                }
                                Verdict::QueueFull => {
                                    c2.down_queue_drops.fetch_add(1, Ordering::Relaxed);
                                }
                                Verdict::At(at) => {
                                    m += 1;
                                    let _ = tx2.send(Pending {
                                        at,
                                        n: m,
                                        sock: fs2.clone(),
                                        to: from,
                                        bytes: buf[..len].to_vec(),
                                    });
                                }
                            }
                        }
                    });
                    flows.insert(from, (up, up_shaper));
                }
                let Some((up, shaper)) = flows.get_mut(&from) else {
                    continue;
                };
                match shaper.admit(Instant::now(), len) {
                    Verdict::Lost => {
                        c.up_lost.fetch_add(1, Ordering::Relaxed);
                    }
                    Verdict::QueueFull => {
                        c.up_queue_drops.fetch_add(1, Ordering::Relaxed);
                    }
                    Verdict::At(at) => {
                        n += 1;
                        let _ = tx.send(Pending {
                            at,
                            n,
                            sock: up.clone(),
                            to: back,
                            bytes: buf[..len].to_vec(),
                        });
                    }
                }
            }
        }));
        Ok(Relay { counters, tasks })
    }

    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thin() -> Direction {
        Direction {
            kbps: Some(1_000),
            queue_ms: 100,
            loss: 0.03,
            delay_ms: 75,
            jitter_ms: 10,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_losses() {
        let run = |seed| {
            let mut s = Shaper::new(thin(), seed);
            let t0 = Instant::now();
            (0..2_000)
                .map(|i| {
                    matches!(
                        s.admit(t0 + Duration::from_millis(i * 20), 200),
                        Verdict::Lost
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let lost = run(7).iter().filter(|l| **l).count();
        assert!((30..=90).contains(&lost), "≈3 % of 2000: {lost}");
    }

    #[test]
    fn a_full_queue_drops_and_the_rate_spaces_packets() {
        let mut s = Shaper::new(
            Direction {
                loss: 0.0,
                jitter_ms: 0,
                ..thin()
            },
            1,
        );
        let t0 = Instant::now();
        // 1200-byte packets at 1 Mbit/s take 9.8 ms each; a burst of 30 at
        // once fills the 100 ms queue after about 11.
        let verdicts: Vec<Verdict> = (0..30).map(|_| s.admit(t0, 1_200)).collect();
        let kept: Vec<Instant> = verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::At(t) => Some(*t),
                _ => None,
            })
            .collect();
        assert!((10..=12).contains(&kept.len()), "{}", kept.len());
        let gap = kept[1] - kept[0];
        assert!(gap >= Duration::from_micros(9_500) && gap <= Duration::from_micros(10_200));
        assert!(kept[0] - t0 >= Duration::from_millis(75));
    }
}
