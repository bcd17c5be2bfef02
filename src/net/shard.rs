//! Worker and receive-thread loops.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use tokio::sync::mpsc;

use super::udp::{RecvBatch, send_batch};
use super::{ShardInput, Shared};
use crate::media::tap::Tapped;
use crate::media::{Engine, EngineConfig, Event, stun};

/// A worker: owns one engine; sleeps until a datagram, a command or the
/// engine's next timer.
pub(super) fn run(
    index: usize,
    cfg: EngineConfig,
    rx: Receiver<ShardInput>,
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
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let deadline = engine.poll_timeout();
        let first = match rx.recv_deadline(deadline.max(Instant::now())) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
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
                    for &(src, dst, start, len) in &batch.items {
                        engine.handle_datagram(now, src, dst, &batch.bytes[start..start + len]);
                    }
                }
                ShardInput::Command(cmd, reply) => {
                    let _ = reply.send(engine.handle_command(now, cmd));
                }
            }
        }
        let now = Instant::now();
        if engine.poll_timeout() <= now {
            engine.handle_timeout(now);
        }
        for d in engine.drain_transmits() {
            let i = by_source.get(&d.source).copied().unwrap_or(0);
            outq[i].push((d.destination, d.contents));
        }
        for (i, q) in outq.iter_mut().enumerate() {
            if q.is_empty() {
                continue;
            }
            let items: Vec<(SocketAddr, &[u8])> =
                q.iter().map(|(a, b)| (*a, b.as_slice())).collect();
            send_batch(&sockets[i].0, &items);
            q.clear();
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

/// Receive thread of one socket: batch-receive and route to workers.
pub(super) fn receive_loop(
    sock: Arc<UdpSocket>,
    local: SocketAddr,
    shards: Vec<Sender<super::ShardInput>>,
    shared: Arc<Shared>,
) {
    let mut batch = RecvBatch::default();
    // Remote address -> worker, learned from STUN with a known ufrag.
    let mut routes: HashMap<SocketAddr, usize> = HashMap::new();
    let mut per_shard: Vec<super::DatagramBatch> =
        (0..shards.len()).map(|_| Default::default()).collect();
    let mut shedding: Vec<bool> = vec![false; shards.len()];
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
        for (shed, tx) in shedding.iter_mut().zip(&shards) {
            *shed = tx.len() > super::SHED_DEPTH;
        }
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
                        routes.insert(src, s);
                    }
                    s
                }
                None => routes.get(&src).copied(),
            };
            match shard {
                Some(s) if shedding[s] && is_bulk_rtp(bytes) => {
                    shared
                        .counters
                        .dropped_overload
                        .fetch_add(1, Ordering::Relaxed);
                }
                Some(s) => per_shard[s].push(src, local, bytes),
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
            let batch = std::mem::take(q);
            if let Err(TrySendError::Full(ShardInput::Datagrams(b))) =
                shards[s].try_send(ShardInput::Datagrams(batch))
            {
                shared
                    .counters
                    .dropped_queue_full
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
            }
        }
    }
}

/// An RTP packet (RFC 7983: first byte 128–191, and not RTCP's payload
/// types 192–223) too big for audio: what an overloaded worker can lose
/// first. Opus packets, RTCP feedback, STUN and DTLS all pass.
fn is_bulk_rtp(b: &[u8]) -> bool {
    b.len() > 300 && (128..=191).contains(&b[0]) && !(192..=223).contains(&b[1])
}

#[cfg(test)]
mod tests {
    use super::is_bulk_rtp;

    #[test]
    fn only_large_rtp_is_shed_never_audio_rtcp_stun_or_dtls() {
        let mut video = vec![0x90, 96];
        video.resize(1200, 0);
        assert!(is_bulk_rtp(&video));
        let mut marker = vec![0x80, 96 | 0x80];
        marker.resize(900, 0);
        assert!(is_bulk_rtp(&marker), "marker bit set on a video packet");
        let mut opus = vec![0x90, 111];
        opus.resize(180, 0);
        assert!(!is_bulk_rtp(&opus));
        let mut rtcp = vec![0x81, 205];
        rtcp.resize(400, 0);
        assert!(!is_bulk_rtp(&rtcp), "a compound RTCP report");
        let mut dtls = vec![22, 0xfe];
        dtls.resize(1100, 0);
        assert!(!is_bulk_rtp(&dtls), "a DTLS handshake flight");
        let mut stun = vec![0, 1];
        stun.resize(400, 0);
        assert!(!is_bulk_rtp(&stun));
    }
}
