//! The peer-to-peer baseline: the same client stack with no server between.
//! A sender publishes what S1's subscribers receive (the VP8 top layer `f`
//! and Opus, the probe trailer stamped at write) straight to one receiver over
//! loopback, and keeps doing so through every step of a scenario. Its
//! one-way delay in a step's window is what the generator's own clients add
//! under that step's load (their runtime, timers, receive pipeline and the
//! kernel's loopback), so `server path − p2p` at the same percentile is the
//! delay the server adds.

use anyhow::Context;
use serde::Serialize;

use crate::client::{CONNECT_TIMEOUT, Endpoint, EndpointConfig};
use crate::media::default_layers;
use crate::stats::KindAcc;

/// The baseline's delay over one window.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct P2pDelay {
    /// Packets the receiver got in the window (first arrivals).
    pub packets: u64,
    pub delay_p50_ms: f64,
    pub delay_p99_ms: f64,
}

pub struct P2pBaseline {
    sender: Endpoint,
    receiver: Endpoint,
}

impl P2pBaseline {
    /// Offer, answer, connect; returns once media flows on the receiver.
    pub async fn start() -> anyhow::Result<Self> {
        let mut sender = Endpoint::new(&EndpointConfig {
            name: "p2p-sender".into(),
            // One layer: the receiver's track then holds one SSRC, as a
            // subscriber's video slot does (sequence numbers of one stream).
            publish: Some(
                default_layers()
                    .into_iter()
                    .filter(|l| l.rid == "f")
                    .collect(),
            ),
            role: "room".into(),
            ..Default::default()
        })
        .await?;
        let receiver = Endpoint::new(&EndpointConfig {
            name: "p2p-receiver".into(),
            ..Default::default()
        })
        .await?;
        let offer = sender.create_offer().await.context("p2p offer")?;
        let answer = receiver.accept_offer(&offer).await.context("p2p answer")?;
        sender.set_answer(&answer).await.context("p2p set answer")?;
        sender.wait_connected(CONNECT_TIMEOUT).await?;
        receiver.wait_connected(CONNECT_TIMEOUT).await?;
        let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
        while receiver.tracks_flowing() < 2 {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "p2p baseline: video and audio did not reach the receiver within {CONNECT_TIMEOUT:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(Self { sender, receiver })
    }

    /// Forget what arrived so far (a window starts).
    pub fn reset(&self) {
        for t in self.receiver.tracks.lock().unwrap().iter() {
            t.lock().unwrap().take();
        }
    }

    /// The delay of what was sent within `[t0, t1]` (ns, `media::now_ns`),
    /// video and audio pooled, as S1 pools its slots.
    pub fn delay(&self, t0: u64, t1: u64) -> P2pDelay {
        let mut acc = KindAcc::default();
        for t in self.receiver.tracks.lock().unwrap().iter() {
            let mut g = t.lock().unwrap();
            let (video, recs) = (g.video, g.take());
            acc.add_track(
                &recs,
                video,
                t0,
                t1,
                if video { 90_000.0 } else { 48_000.0 },
            );
        }
        let r = acc.finish();
        P2pDelay {
            packets: r.received,
            delay_p50_ms: r.delay_p50_ms,
            delay_p99_ms: r.delay_p99_ms,
        }
    }

    pub async fn close(self) {
        self.receiver.close().await;
        self.sender.close().await;
    }
}
