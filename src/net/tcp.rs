//! ICE-TCP (RFC 6544, passive): the TCP listener beside the UDP port, for
//! rooms whose firewall passes only TCP.
//!
//! One thread runs a small tokio runtime: it accepts connections, reads
//! RFC 4571 frames (a 2-byte length before each STUN, DTLS, RTP or RTCP
//! packet) and hands them to the worker owning the session named by the
//! connection's first frame — a STUN binding request whose USERNAME names
//! a session's ICE ufrag (the demux's ufrag map). Workers send back through
//! [`TcpConns`]: a bounded queue per connection, written framed by the
//! connection's writer task. The UDP path never touches any of this.
//!
//! Bounded: [`MAX_CONNS`] in all and [`MAX_CONNS_PER_IP`] per source
//! address (more are refused at accept), [`MAX_FRAME_BYTES`] a frame, a
//! first frame within [`AUTH_TIMEOUT`] that names a live session or the
//! connection is closed, [`IDLE_TIMEOUT`] of silence closes it, as does its
//! session leaving. Every refusal and close is counted ([`TcpCounters`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crossbeam_channel::TrySendError;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::framing::{Close, Reader, write_frames};
use super::{DatagramBatch, ShardInput, Shared};
use crate::media::stun;

/// Connections open at once: a province meeting is ~200 rooms, a room page
/// opens one or two (one per TCP candidate pair it tries); far above that
/// is a flood, refused at accept.
pub const MAX_CONNS: usize = 4096;
/// Connections open at once from one source IP: several rooms behind one
/// NAT (a district's network) fit, one host cannot take the table.
pub const MAX_CONNS_PER_IP: usize = 32;
/// Largest frame taken: WebRTC packets stay under ~1500 bytes (DTLS
/// flights are split to the path MTU); RFC 4571 allows 65 535, which only
/// a hostile peer would send. A larger frame closes the connection.
pub const MAX_FRAME_BYTES: usize = 8192;
/// A connection must name a live session (its first frame, a STUN binding
/// request) this soon: a browser sends its first check at once.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection silent this long is closed: ICE consent checks (RFC 7675)
/// come every few seconds on a path in use, and a pair the browser did not
/// choose stops being checked.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Frames queued towards one peer; beyond, new frames are dropped (as a
/// full UDP socket would) rather than let its delay grow without bound.
const OUT_QUEUE_FRAMES: usize = 1024;
/// How often the accept loop looks at the stop flag, and a quiet
/// connection at whether its session is still there.
const POLL: Duration = Duration::from_millis(200);
pub const SESSION_CHECK: Duration = Duration::from_secs(5);

/// ICE-TCP counters, for /metrics.
#[derive(Debug, Default)]
pub struct TcpCounters {
    pub accepted: AtomicU64,
    /// Open now (a gauge).
    pub open: AtomicU64,
    pub refused_total_cap: AtomicU64,
    pub refused_per_source_cap: AtomicU64,
    /// Closed before naming a live session in time (or naming none).
    pub refused_unauthenticated: AtomicU64,
    /// Closed for a frame above [`MAX_FRAME_BYTES`].
    pub closed_oversize_frame: AtomicU64,
    /// Closed for silence, a peer that stopped reading, or its session leaving.
    pub closed_idle: AtomicU64,
    /// Frames dropped: the worker's queue or the peer's was full.
    pub frames_dropped: AtomicU64,
    pub frames_in: AtomicU64,
}

/// A connection: (our candidate address, the peer's address).
type ConnKey = (SocketAddr, SocketAddr);

/// Open connections: where a worker's TCP transmits go.
#[derive(Default)]
pub(crate) struct TcpConns {
    map: RwLock<HashMap<ConnKey, mpsc::Sender<Vec<u8>>>>,
}

impl TcpConns {
    /// Queue `frames` (our address, the peer's, bytes); returns how many
    /// were dropped (no such connection, or its queue full).
    pub fn send(&self, frames: impl Iterator<Item = (SocketAddr, SocketAddr, Vec<u8>)>) -> u64 {
        let map = self.map.read().expect("tcp conns lock");
        let mut dropped = 0;
        for (src, dst, bytes) in frames {
            match map.get(&(src, dst)) {
                Some(tx) if tx.try_send(bytes).is_ok() => {}
                _ => dropped += 1,
            }
        }
        dropped
    }
}

/// Bind the listener now, so a taken port fails the start.
pub(super) fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// The listener's thread: accepts until the driver stops.
pub(super) fn run(
    listener: std::net::TcpListener,
    candidates: Vec<SocketAddr>,
    shards: Vec<super::queue::WorkerTx>,
    shared: Arc<Shared>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "ICE-TCP runtime failed to start; TCP candidates unusable");
            return;
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "ICE-TCP listener unusable");
                return;
            }
        };
        let per_ip: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
        let ctx = Arc::new(Ctx {
            candidates,
            shards,
            shared,
        });
        while !ctx.shared.stop.load(Ordering::Relaxed) {
            let (stream, peer) = match tokio::time::timeout(POLL, listener.accept()).await {
                Err(_) => continue,
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    // Out of descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "ICE-TCP accept failed");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            let c = &ctx.shared.counters.tcp;
            let Some(slot) = Slot::take(&per_ip, peer.ip(), c) else {
                continue;
            };
            c.accepted.fetch_add(1, Ordering::Relaxed);
            let ctx = ctx.clone();
            tokio::spawn(async move {
                serve(&ctx, stream, peer).await;
                drop(slot);
            });
        }
    });
}

struct Ctx {
    candidates: Vec<SocketAddr>,
    shards: Vec<super::queue::WorkerTx>,
    shared: Arc<Shared>,
}

/// One open connection's place under the caps; given back on drop.
struct Slot {
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
    counters: Arc<TcpCounters>,
}

impl Slot {
    fn take(
        per_ip: &Arc<Mutex<HashMap<IpAddr, usize>>>,
        ip: IpAddr,
        c: &Arc<TcpCounters>,
    ) -> Option<Slot> {
        let mut map = per_ip.lock().expect("tcp per-ip lock");
        if c.open.load(Ordering::Relaxed) as usize >= MAX_CONNS {
            c.refused_total_cap.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let n = map.entry(ip).or_default();
        if *n >= MAX_CONNS_PER_IP {
            c.refused_per_source_cap.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *n += 1;
        c.open.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            per_ip: per_ip.clone(),
            ip,
            counters: c.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.per_ip.lock().expect("tcp per-ip lock");
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
        self.counters.open.fetch_sub(1, Ordering::Relaxed);
    }
}
/// One connection: authenticate by its first frame, then pump frames to
/// the session's worker until it closes, idles or its session leaves.
async fn serve(ctx: &Ctx, stream: TcpStream, peer: SocketAddr) {
    let c = &ctx.shared.counters.tcp;
    let _ = stream.set_nodelay(true);
    let local = match stream.local_addr() {
        Ok(a) => candidate_for(&ctx.candidates, a),
        Err(_) => return,
    };
    let (mut rd, wr) = stream.into_split();
    let mut reader = Reader::new();
    let mut batch = DatagramBatch::default();

    // The first frame must name a live session, in time.
    let deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
    let (ufrag, shard) = loop {
        if let Err(close) = reader.frames(&mut batch, peer, local) {
            count_close(c, close);
            return;
        }
        if let Some(&(_, _, start, len)) = batch.items.first() {
            let first = &batch.bytes[start..start + len];
            let named = stun::local_ufrag(first).and_then(|u| {
                let shard = ctx
                    .shared
                    .ufrags
                    .read()
                    .expect("ufrags lock")
                    .get(u)
                    .copied();
                shard.map(|s| (u.to_string(), s))
            });
            match named {
                Some(found) => break found,
                None => {
                    c.refused_unauthenticated.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match reader.fill(&mut rd, left).await {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                c.refused_unauthenticated.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    };

    let (tx, rx) = mpsc::channel(OUT_QUEUE_FRAMES);
    ctx.shared
        .tcp_conns
        .map
        .write()
        .expect("tcp conns lock")
        .insert((local, peer), tx);
    let writer = tokio::spawn(write_frames(wr, rx));

    // Silence is measured from the last frame; whether the session is
    // still there is asked every few seconds even while frames flow (a
    // removed room's browser may keep sending).
    let mut heard = tokio::time::Instant::now();
    let mut checked = heard;
    let close = loop {
        if !batch.is_empty() {
            heard = tokio::time::Instant::now();
            deliver(ctx, shard, std::mem::take(&mut batch));
        }
        if writer.is_finished() {
            break Close::Idle;
        }
        let now = tokio::time::Instant::now();
        if now - checked >= SESSION_CHECK {
            checked = now;
            let live = ctx
                .shared
                .ufrags
                .read()
                .expect("ufrags lock")
                .contains_key(&ufrag);
            if !live {
                break Close::Idle;
            }
        }
        if now - heard >= IDLE_TIMEOUT {
            break Close::Idle;
        }
        match reader.fill(&mut rd, SESSION_CHECK).await {
            Ok(true) => {
                if let Err(close) = reader.frames(&mut batch, peer, local) {
                    break close;
                }
            }
            Ok(false) => {}
            Err(close) => break close,
        }
    };
    count_close(c, close);
    ctx.shared
        .tcp_conns
        .map
        .write()
        .expect("tcp conns lock")
        .remove(&(local, peer));
    writer.abort();
}

fn count_close(c: &TcpCounters, close: Close) {
    match close {
        Close::Gone => {}
        Close::Oversize => {
            c.closed_oversize_frame.fetch_add(1, Ordering::Relaxed);
        }
        Close::Idle => {
            c.closed_idle.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Frames go to the session's worker as the UDP path's batches do, tagged
/// TCP; a full worker queue drops them (and counts), never waits.
fn deliver(ctx: &Ctx, shard: usize, batch: DatagramBatch) {
    let c = &ctx.shared.counters.tcp;
    let n = batch.len() as u64;
    c.frames_in.fetch_add(n, Ordering::Relaxed);
    match ctx.shards[shard].try_send(ShardInput::TcpFrames(batch)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            c.frames_dropped.fetch_add(n, Ordering::Relaxed);
        }
    }
}
/// The candidate address a connection arrived on: the advertised one with
/// its local IP, else (1:1 NAT, the advertised IP is not ours) the first.
fn candidate_for(candidates: &[SocketAddr], local: SocketAddr) -> SocketAddr {
    candidates
        .iter()
        .copied()
        .find(|c| c.ip() == local.ip())
        .or_else(|| candidates.first().copied())
        .unwrap_or(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn a_connection_takes_the_candidate_of_its_local_ip_else_the_advertised_one() {
        let lan: SocketAddr = "10.1.2.3:443".parse().unwrap();
        let cands = [addr(443), lan];
        assert_eq!(candidate_for(&cands, "10.1.2.3:443".parse().unwrap()), lan);
        assert_eq!(candidate_for(&cands, addr(443)), addr(443));
        // 1:1 NAT: the public address is not ours; the first candidate.
        let public: SocketAddr = "203.0.113.5:443".parse().unwrap();
        assert_eq!(
            candidate_for(&[public], "192.168.1.5:443".parse().unwrap()),
            public
        );
    }

    #[test]
    fn connections_beyond_the_per_source_cap_are_refused_and_counted() {
        let per_ip = Arc::default();
        let c = Arc::new(TcpCounters::default());
        let ip: IpAddr = [10, 0, 0, 1].into();
        let slots: Vec<Slot> = (0..MAX_CONNS_PER_IP)
            .map(|_| Slot::take(&per_ip, ip, &c).expect("under the cap"))
            .collect();
        assert!(Slot::take(&per_ip, ip, &c).is_none());
        assert_eq!(c.refused_per_source_cap.load(Ordering::Relaxed), 1);
        // Another source still gets in; a closed connection frees its place.
        let other = Slot::take(&per_ip, [10, 0, 0, 2].into(), &c);
        assert!(other.is_some());
        drop(slots);
        drop(other);
        assert_eq!(c.open.load(Ordering::Relaxed), 0);
        assert!(per_ip.lock().unwrap().is_empty());
        assert!(Slot::take(&per_ip, ip, &c).is_some());
    }
}
