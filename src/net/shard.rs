//! Worker and receive-thread loops.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender, TrySendError};
use tokio::sync::mpsc;

use super::queue::{WorkerRx, WorkerTx};
use super::udp::{RecvBatch, group_by_destination, realtime_ns, send_batch};
use super::{ShardInput, Shared};
use crate::media::tap::Tapped;
use crate::media::{Engine, EngineConfig, Event, stun};

/// A worker: owns one engine; sleeps until a datagram, a command or the
/// engine's next timer.
pub(super) fn run(
    index: usize,
    cfg: EngineConfig,
    // Its own queue, and every worker's (for the hand-offs of rooms they
    // share).
    (rx, peers): (WorkerRx, Vec<WorkerTx>),
    sockets: Vec<(Arc<UdpSocket>, SocketAddr)>,
    events: mpsc::Sender<Event>,
    tap: Sender<Tapped>,
    shared: Arc<Shared>,
) {
    let mut engine = Engine::new(cfg, Instant::now());
    let mut by_source: HashMap<SocketAddr, usize> = HashMap::new();
    for (i, (_, a)) in sockets.iter().enumerate() {
        by_source.insert(*a, i);
    }
    let mut outq: Vec<Vec<(SocketAddr, Vec<u8>)>> = vec![Vec::new(); sockets.len()];
    // ICE-TCP frames (our address, the peer's, bytes), sent after each batch.
    let mut tcp_out: Vec<(SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
    let epoch = Instant::now();
    // Kernel receive times of the RTP datagrams handled in this wake-up,
    // timed again once their copies are sent (`DriverCounters::transit`).
    let mut stamps: Vec<u64> = Vec::new();
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        let deadline = coalesce(engine.poll_timeout(), now, epoch, TIMER_QUANTUM);
        let first = match rx.recv_deadline(deadline.max(now)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let wakeups = &shared.counters.worker_wakeups;
        wakeups[usize::from(first.is_none())].fetch_add(1, Ordering::Relaxed);
        // Take what is already queued too, so one wake-up serves a burst.
        let mut inputs: Vec<ShardInput> = first.into_iter().collect();
        while inputs.len() < 64 {
            match rx.try_recv() {
                Ok(m) => inputs.push(m),
                Err(_) => break,
            }
        }
        for input in inputs {
            let now = Instant::now();
            match input {
                ShardInput::Datagrams(batch) => {
                    let taken = realtime_ns();
                    let timed = batch.stamps.iter().filter(|&&s| s != 0);
                    let waited = timed.clone().map(|&s| taken.saturating_sub(s));
                    shared.counters.transit_wait.observe_nanos(waited);
                    stamps.extend(timed);
                    for (&(src, dst, start, len), &stamp) in batch.items.iter().zip(&batch.stamps) {
                        engine.handle_datagram(now, src, dst, &batch.bytes[start..start + len]);
                        hand_off_media(index, &mut engine, stamp, &peers, &shared);
                    }
                    shared.batches.give(batch);
                }
                ShardInput::TcpFrames(batch) => {
                    for &(src, dst, start, len) in &batch.items {
                        engine.handle_tcp_frame(now, src, dst, &batch.bytes[start..start + len]);
                    }
                    shared.batches.give(batch);
                }
                ShardInput::Command(cmd, reply) => {
                    let r = engine.handle_command(now, cmd);
                    // What the command changed in a shared room reaches the
                    // other workers before the caller hears back (a stage
                    // set on the home right after a join on a part finds
                    // the newcomer there).
                    hand_off(index, &mut engine, now, &peers, &shared);
                    let _ = reply.send(r);
                }
                ShardInput::Composite(room, packets) => {
                    engine.composite_media(now, &room, &packets);
                }
                ShardInput::Handoff(from, handoffs, timed) => {
                    engine.handle_handoff(now, from, handoffs);
                    stamps.extend(timed);
                }
                ShardInput::Span {
                    room,
                    home,
                    workers,
                } => {
                    engine.set_span(now, &room, home, &workers);
                }
            }
        }
        let now = Instant::now();
        if engine.poll_timeout() <= now {
            engine.handle_timeout(now);
        }
        hand_off(index, &mut engine, now, &peers, &shared);
        for d in engine.drain_transmits() {
            if d.tcp {
                tcp_out.push((d.source, d.destination, d.contents));
                continue;
            }
            let i = by_source.get(&d.source).copied().unwrap_or(0);
            outq[i].push((d.destination, d.contents));
        }
        if !tcp_out.is_empty() {
            let dropped = shared.tcp_conns.send(tcp_out.drain(..));
            shared
                .counters
                .tcp
                .frames_dropped
                .fetch_add(dropped, Ordering::Relaxed);
        }
        for (i, q) in outq.iter_mut().enumerate() {
            if q.is_empty() {
                continue;
            }
            let mut items: Vec<(SocketAddr, &[u8])> =
                q.iter().map(|(a, b)| (*a, b.as_slice())).collect();
            group_by_destination(&mut items);
            send_batch(&sockets[i].0, &items);
            drop(items);
            // Sent: their buffers take the next batch's packets.
            for (_, buf) in q.drain(..) {
                engine.recycle(buf);
            }
        }
        if !stamps.is_empty() {
            let sent = realtime_ns();
            let transit = stamps.drain(..).map(|s| sent.saturating_sub(s));
            shared.counters.transit.observe_nanos(transit);
        }
        {
            let mut layers = engine.drain_upper_layers().peekable();
            if layers.peek().is_some() {
                let mut map = shared.upper_layers.write().expect("layers lock");
                for (ssrc, layer) in layers {
                    match layer {
                        Some(l) => map.insert(ssrc, l),
                        None => map.remove(&ssrc),
                    };
                }
            }
        }
        {
            let mut changes = engine.drain_renditions().peekable();
            if changes.peek().is_some() {
                let mut set = shared.renditions.write().expect("renditions lock");
                for (id, wanted) in changes {
                    if wanted {
                        set.insert(id);
                    } else {
                        set.remove(&id);
                    }
                }
            }
        }
        for t in engine.drain_tapped() {
            if tap.try_send(t).is_err() {
                shared.counters.tap_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        while let Some(ev) = engine.poll_event() {
            if let Err(mpsc::error::TrySendError::Full(ev)) = events.try_send(ev) {
                tracing::warn!(worker = index, ?ev, "event queue full; event dropped");
            }
        }
    }
}

/// Timers within one quantum share a wake-up. Each subscriber's session
/// runs its own timers (str0m's estimator update every 25 ms, reports,
/// the pacer) on its own phase: 150 viewers are some 6 000 deadlines a
/// second, and each one no input came before woke the worker for one
/// session — a futex wait and a context switch (dearer in a VM) for a
/// timeout that costs less. A deadline in the future moves to the next
/// boundary of the quantum, counted from the worker's start so every
/// session's timers line up: at most one quantum late, never early. Work
/// already due (a flush after a batch, `poll_timeout` saying now) is never
/// held.
fn coalesce(deadline: Instant, now: Instant, epoch: Instant, quantum: Duration) -> Instant {
    if deadline <= now || quantum.is_zero() {
        return deadline;
    }
    let since = deadline.saturating_duration_since(epoch).as_nanos();
    let q = quantum.as_nanos();
    u64::try_from(since.div_ceil(q) * q)
        .ok()
        .and_then(|n| epoch.checked_add(Duration::from_nanos(n)))
        .unwrap_or(deadline)
}

/// 2 ms: a fraction of the 25 ms estimator period and of a frame; the
/// timers that pace queued media are at most this late. Measured
/// (BENCHMARKS §23): the server's context switches −22 % in S1.
const TIMER_QUANTUM: Duration = Duration::from_millis(2);

/// Send the engine's hand-offs to the other workers of its shared rooms:
/// one message per worker, never waiting (a full queue drops and counts:
/// that worker's share of the room loses them, ours goes on).
fn hand_off(index: usize, engine: &mut Engine, now: Instant, peers: &[WorkerTx], shared: &Shared) {
    for (to, handoffs) in engine.drain_handoffs(now) {
        send_handoff(index, to, handoffs, Vec::new(), peers, shared);
    }
}

/// After each datagram, its packets for the other workers of a shared
/// room (`Engine::drain_media_handoffs`): they fan a frame out to their
/// subscribers while this worker does, instead of after this worker's
/// whole batch (BENCHMARKS §28). `stamp` goes with them (0: not timed).
fn hand_off_media(
    index: usize,
    engine: &mut Engine,
    stamp: u64,
    peers: &[WorkerTx],
    shared: &Shared,
) {
    for (to, handoffs) in engine.drain_media_handoffs() {
        let timed = if stamp != 0 { vec![stamp] } else { Vec::new() };
        send_handoff(index, to, handoffs, timed, peers, shared);
    }
}

fn send_handoff(
    index: usize,
    to: usize,
    handoffs: Vec<crate::media::span::Handoff>,
    timed: Vec<u64>,
    peers: &[WorkerTx],
    shared: &Shared,
) {
    let Some(tx) = peers.get(to) else { return };
    if tx
        .try_send(ShardInput::Handoff(index, handoffs, timed))
        .is_err()
    {
        shared
            .counters
            .handoffs_dropped
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// Receive thread of one socket: batch-receive and route to workers.
pub(super) fn receive_loop(
    sock: Arc<UdpSocket>,
    local: SocketAddr,
    shards: Vec<WorkerTx>,
    shared: Arc<Shared>,
) {
    let mut batch = RecvBatch::default();
    // Remote address -> worker, learned from STUN with a known ufrag;
    // bounded, swept (`routes`).
    let mut routes = super::routes::Routes::default();
    let mut routes_reported = 0u64;
    let mut per_shard: Vec<super::DatagramBatch> =
        (0..shards.len()).map(|_| Default::default()).collect();
    let mut shedding: Vec<Shed> = vec![Shed::default(); shards.len()];
    while !shared.stop.load(Ordering::Relaxed) {
        let n = match batch.recv(&sock) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "media socket receive failed");
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        shared
            .counters
            .datagrams_in
            .fetch_add(n as u64, Ordering::Relaxed);
        let now = Instant::now();
        if routes.sweep_due(now) {
            let ufrags = shared.ufrags.read().expect("ufrags lock");
            let gone = routes.sweep(now, |u| ufrags.contains_key(u));
            shared
                .counters
                .routes_evicted
                .fetch_add(gone, Ordering::Relaxed);
            let held = routes.len() as u64;
            let counter = &shared.counters.routes_held;
            if held >= routes_reported {
                counter.fetch_add(held - routes_reported, Ordering::Relaxed);
            } else {
                counter.fetch_sub(routes_reported - held, Ordering::Relaxed);
            }
            routes_reported = held;
        }
        for (shed, tx) in shedding.iter_mut().zip(&shards) {
            shed.update(now, tx.backlog());
        }
        let layers = shedding
            .iter()
            .any(|s| s.level > 0)
            .then(|| shared.upper_layers.read().expect("layers lock"));
        for i in 0..n {
            let Some((src, bytes)) = batch.get(i) else {
                continue;
            };
            // STUN is re-routed by ufrag every time: the same remote address
            // may come back as a new session on another worker.
            let shard = match stun::local_ufrag(bytes) {
                Some(u) => {
                    let s = shared.ufrags.read().expect("ufrags lock").get(u).copied();
                    if let Some(s) = s {
                        let evicted = routes.learn(now, src, u, s);
                        shared
                            .counters
                            .routes_evicted
                            .fetch_add(evicted, Ordering::Relaxed);
                    }
                    s
                }
                None => routes.lookup(now, src),
            };
            match shard {
                Some(s)
                    if shedding[s].level > 0
                        && layers.as_ref().is_some_and(|l| shedding[s].sheds(l, bytes)) =>
                {
                    shared
                        .counters
                        .dropped_overload
                        .fetch_add(1, Ordering::Relaxed);
                }
                Some(s) => {
                    let stamp = match rtp_ssrc(bytes) {
                        Some(_) => batch.stamp(i),
                        None => 0,
                    };
                    per_shard[s].push_timed(src, local, bytes, stamp);
                }
                None => {
                    shared
                        .counters
                        .dropped_unknown
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for (s, q) in per_shard.iter_mut().enumerate() {
            if q.is_empty() {
                continue;
            }
            let batch = std::mem::replace(q, shared.batches.take());
            if let Err(TrySendError::Full(ShardInput::Datagrams(b))) =
                shards[s].try_send(ShardInput::Datagrams(batch))
            {
                shared
                    .counters
                    .dropped_queue_full
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
                // Its buffer is still good: a worker behind must not make
                // the receive thread allocate for every batch it drops.
                shared.batches.give(b);
            }
        }
    }
}

/// A worker's shedding: level 1 sheds the top simulcast layer (2), level
/// 2 the middle one too; audio, the lowest layers, unlayered video, RTX,
/// RTCP, STUN and DTLS always pass. Viewers of a shed layer move down one
/// (the engine sees it stop), which cuts the worker's fan-out most.
#[derive(Debug, Clone, Copy, Default)]
struct Shed {
    level: u8,
    until: Option<Instant>,
}

impl Shed {
    fn update(&mut self, now: Instant, depth: usize) {
        let want = if depth > 2 * super::SHED_DEPTH {
            2
        } else if depth > super::SHED_DEPTH {
            1
        } else {
            0
        };
        if want >= self.level {
            if want > 0 {
                self.until = Some(now + super::SHED_HOLD);
            }
            self.level = want;
        } else if self.until.is_none_or(|t| now >= t) {
            self.level = want;
        }
    }

    fn sheds(&self, layers: &HashMap<u32, u8>, b: &[u8]) -> bool {
        rtp_ssrc(b)
            .and_then(|ssrc| layers.get(&ssrc))
            .is_some_and(|&layer| layer + self.level >= 3)
    }
}

/// The SSRC of an RTP packet (RFC 7983: first byte 128–191, and not RTCP's
/// payload types 192–223); `None` for anything else.
fn rtp_ssrc(b: &[u8]) -> Option<u32> {
    if b.len() < 12 || !(128..=191).contains(&b[0]) || (192..=223).contains(&b[1]) {
        return None;
    }
    Some(u32::from_be_bytes([b[8], b[9], b[10], b[11]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt: u8, ssrc: u32) -> Vec<u8> {
        let mut b = vec![0x90, pt, 0, 1, 0, 0, 0, 0];
        b.extend_from_slice(&ssrc.to_be_bytes());
        b.resize(1000, 0);
        b
    }

    #[test]
    fn a_timer_deadline_waits_for_the_next_quantum_boundary_never_earlier_and_due_work_not_at_all()
    {
        let epoch = Instant::now();
        let q = Duration::from_millis(2);
        let at = |us: u64| epoch + Duration::from_micros(us);
        let now = at(10_100);
        // Two sessions' deadlines in one quantum wake the worker once.
        assert_eq!(coalesce(at(10_300), now, epoch, q), at(12_000));
        assert_eq!(coalesce(at(11_900), now, epoch, q), at(12_000));
        // On a boundary it stays; just past one, the next.
        assert_eq!(coalesce(at(12_000), now, epoch, q), at(12_000));
        assert_eq!(coalesce(at(12_001), now, epoch, q), at(14_000));
        // Due now or overdue: untouched.
        assert_eq!(coalesce(now, now, epoch, q), now);
        assert_eq!(coalesce(at(9_000), now, epoch, q), at(9_000));
        // No quantum: exact. Far away: never earlier, never a panic.
        assert_eq!(coalesce(at(10_300), now, epoch, Duration::ZERO), at(10_300));
        let far = epoch + Duration::from_secs(10 * 365 * 86_400);
        assert!(coalesce(far, now, epoch, q) >= far);
    }

    #[test]
    fn an_overloaded_worker_sheds_the_top_layer_then_the_middle_never_audio_or_the_lowest() {
        let layers: HashMap<u32, u8> = [(7, 2), (8, 1)].into_iter().collect();
        let (top, mid, low) = (rtp(96, 7), rtp(96 | 0x80, 8), rtp(96, 9));
        let mut shed = Shed::default();
        let t0 = Instant::now();
        shed.update(t0, super::super::SHED_DEPTH + 1);
        assert_eq!(shed.level, 1);
        assert!(shed.sheds(&layers, &top));
        assert!(!shed.sheds(&layers, &mid) && !shed.sheds(&layers, &low));
        shed.update(t0, 2 * super::super::SHED_DEPTH + 1);
        assert!(shed.sheds(&layers, &top) && shed.sheds(&layers, &mid));
        assert!(!shed.sheds(&layers, &low));
        // The queue drains: the level holds, then eases.
        shed.update(t0 + std::time::Duration::from_secs(1), 0);
        assert_eq!(shed.level, 2);
        shed.update(t0 + super::super::SHED_HOLD, 0);
        assert_eq!(shed.level, 0);
        assert!(!shed.sheds(&layers, &top));
        // Never RTCP, STUN or DTLS, whatever the SSRC bytes say.
        shed.update(
            t0 + super::super::SHED_HOLD,
            2 * super::super::SHED_DEPTH + 1,
        );
        let mut rtcp = rtp(205, 7);
        rtcp[0] = 0x81;
        let mut dtls = rtp(0xfe, 7);
        dtls[0] = 22;
        let mut stun = rtp(1, 7);
        stun[0] = 0;
        for b in [rtcp, dtls, stun] {
            assert!(!shed.sheds(&layers, &b), "{:?}", &b[..2]);
        }
    }
}
