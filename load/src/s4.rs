//! Scenario S4, thin links: the hub publishes over a clean link; `endpoints`
//! communes receive the stage and its audio over emulated thin links
//! (default 1 Mbit/s each way, 3 % loss each way, 150 ms RTT, 10 ms jitter;
//! `impair`), each declaring its link cap when it joins, as a registered
//! 4G/3G endpoint does. Measured over the window at the communes: audio
//! continuity (share of 20 ms frames that arrived, gaps of ≥ 60 ms),
//! video freezes (no new frame for > 500 ms) and frozen time, the video
//! layer received, loss after repair, one-way delay.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::client::{CONNECT_TIMEOUT, Endpoint, EndpointConfig};
use crate::impair::{CounterSnapshot, Direction, Link, Relay};
use crate::media::{self, default_layers};
use crate::server;
use crate::stats::{KindAcc, KindResult, Rec};

/// The link emulator's address: the server advertises it as a port forward
/// (`media.advertise = ["127.0.0.2:50001"]`) in front of its media port.
pub const RELAY_FRONT: &str = "127.0.0.2:50001";
/// The hub binds here; the relay gives this address a clean link.
pub const HUB_IP: &str = "127.0.0.3";
/// This many lost audio frames in a row are an audible gap.
const AUDIO_GAP_FRAMES: i64 = 3;

#[derive(Debug, Clone, Serialize)]
pub struct S4Options {
    pub endpoints: usize,
    pub link: Link,
    pub window_secs: f64,
    pub settle_secs: f64,
    pub seed: u64,
    /// Every endpoint offers RED as Chromium does (the hub sends each Opus
    /// packet with the one before it; the server adds more for lossy
    /// communes).
    pub red: bool,
}

impl S4Options {
    pub fn thin_link(kbps: u32, loss: f64, rtt_ms: u32) -> Link {
        let d = Direction {
            kbps: Some(kbps),
            queue_ms: 150,
            loss,
            delay_ms: rtt_ms / 2,
            jitter_ms: 10,
        };
        Link { up: d, down: d }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct S4Result {
    pub endpoints: usize,
    pub receiving: usize,
    /// Communes that did not connect (over the impaired link), and why.
    pub failures: Vec<String>,
    /// Audio frames that arrived / frames sent in the window, all communes.
    pub audio_continuity_pct: f64,
    /// Runs of ≥ 3 missing audio frames (≥ 60 ms of silence or concealment).
    pub audio_gaps: u64,
    pub audio_gaps_per_endpoint_minute: f64,
    pub audio: KindResult,
    pub video: KindResult,
    pub video_freezes_per_endpoint_minute: f64,
    /// Share of the window the communes' video was frozen.
    pub video_frozen_pct: f64,
    /// Share of received video packets per publisher layer (rid → %).
    pub video_layers_pct: HashMap<String, f64>,
    /// Audio frames refilled from RED redundancy at the communes (whole
    /// run, not only the window).
    pub audio_red_recovered: u64,
    /// RED's cost: audio bytes received per commune, kbit/s over the
    /// window (RTP payload), and the share of it that is redundancy.
    pub audio_payload_kbps_per_commune: f64,
    pub audio_redundancy_pct: f64,
    pub relay: CounterSnapshot,
}

pub async fn run(base: &str, relay_back: SocketAddr, opts: &S4Options) -> anyhow::Result<S4Result> {
    let link = opts.link;
    let relay = Relay::start(
        RELAY_FRONT.parse()?,
        relay_back,
        opts.seed,
        move |ip: IpAddr| {
            if ip.to_string() == HUB_IP {
                Link {
                    up: Direction::CLEAN,
                    down: Direction::CLEAN,
                }
            } else {
                link
            }
        },
    )
    .await
    .context("start the link emulator")?;
    let r = scenario(base, opts).await;
    let counters = relay.counters.snapshot();
    relay.stop();
    let mut res = r?;
    res.relay = counters;
    Ok(res)
}

async fn scenario(base: &str, opts: &S4Options) -> anyhow::Result<S4Result> {
    let mut hub = Endpoint::new(&EndpointConfig {
        name: "hub".into(),
        publish: Some(default_layers()),
        role: "room".into(),
        bind_ip: Some(HUB_IP.into()),
        red: opts.red,
        ..Default::default()
    })
    .await?;
    hub.join_ws(base, server::MEETING, server::DEMO_TOKEN)
        .await
        .context("hub join")?;
    hub.wait_connected(CONNECT_TIMEOUT).await?;
    let rid_of: HashMap<u32, &str> = hub.layers.iter().map(|&(r, s)| (s, r)).collect();
    let cap = opts.link.down.kbps;
    let red = opts.red;
    let joins = (0..opts.endpoints).map(|i| async move {
        let mut ep = Endpoint::new(&EndpointConfig {
            name: format!("commune-{i}"),
            recv_video: 1,
            recv_audio: 1,
            role: "viewer".into(),
            max_kbps: cap,
            red,
            ..Default::default()
        })
        .await?;
        ep.join_ws(base, server::MEETING, server::DEMO_TOKEN)
            .await?;
        ep.wait_connected(CONNECT_TIMEOUT).await?;
        anyhow::Ok(ep)
    });
    // A commune that cannot connect over its link (a handshake lost to
    // the loss three times over) is a result, not the end of the run.
    let mut communes = Vec::new();
    let mut failures = Vec::new();
    for r in futures_util::future::join_all(joins).await {
        match r {
            Ok(ep) => communes.push(ep),
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    if communes.is_empty() {
        anyhow::bail!("no commune connected over its thin link: {failures:?}");
    }
    eprintln!(
        "S4: {} communes on thin links; settling {:.0} s",
        communes.len(),
        opts.settle_secs
    );
    tokio::time::sleep(Duration::from_secs_f64(opts.settle_secs)).await;
    for c in &communes {
        for t in c.tracks.lock().unwrap().iter() {
            t.lock().unwrap().take();
        }
    }
    let audio_bytes = |communes: &[Endpoint]| {
        let (mut all, mut red, mut recovered) = (0u64, 0u64, 0u64);
        for c in communes {
            for t in c.tracks.lock().unwrap().iter() {
                let g = t.lock().unwrap();
                if !g.video {
                    all += g.bytes;
                    red += g.redundancy_bytes;
                    recovered += g.recovered;
                }
            }
        }
        (all, red, recovered)
    };
    let before = audio_bytes(&communes);
    let t0 = media::now_ns();
    tokio::time::sleep(Duration::from_secs_f64(opts.window_secs)).await;
    let t1 = media::now_ns();
    let after = audio_bytes(&communes);
    // Late and repaired packets still count.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (mut video, mut audio) = (KindAcc::default(), KindAcc::default());
    let mut layer_pkts: HashMap<String, u64> = HashMap::new();
    let mut receiving = 0;
    let mut gaps = 0u64;
    for c in &communes {
        let tracks: Vec<_> = c.tracks.lock().unwrap().clone();
        let mut got = 0;
        for t in tracks {
            let (is_video, recs) = {
                let mut g = t.lock().unwrap();
                (g.video, g.take())
            };
            let window: Vec<Rec> = recs
                .iter()
                .filter(|r| r.sent_ns >= t0 && r.sent_ns <= t1)
                .copied()
                .collect();
            if !window.is_empty() {
                got += 1;
            }
            if is_video {
                for r in &window {
                    let rid = rid_of.get(&r.tag).copied().unwrap_or("?");
                    *layer_pkts.entry(rid.to_string()).or_default() += 1;
                }
                video.add_track(&recs, true, t0, t1, 90_000.0);
            } else {
                gaps += audio_gaps(&window);
                audio.add_track(&recs, false, t0, t1, 48_000.0);
            }
        }
        if got >= 2 {
            receiving += 1;
        }
    }
    for c in communes {
        c.close().await;
    }
    hub.close().await;
    let (video, audio) = (video.finish(), audio.finish());
    let minutes = opts.window_secs / 60.0 * opts.endpoints.max(1) as f64;
    let vsum: u64 = layer_pkts.values().sum();
    let audio_continuity_pct = if audio.expected > 0 {
        100.0 * audio.received as f64 / audio.expected as f64
    } else {
        0.0
    };
    let video_frozen_pct =
        100.0 * video.frozen_ms / (opts.window_secs * 1e3 * opts.endpoints.max(1) as f64);
    Ok(S4Result {
        endpoints: opts.endpoints,
        receiving,
        failures,
        audio_continuity_pct,
        audio_gaps: gaps,
        audio_gaps_per_endpoint_minute: gaps as f64 / minutes,
        video_freezes_per_endpoint_minute: video.freezes as f64 / minutes,
        video_frozen_pct,
        video_layers_pct: layer_pkts
            .into_iter()
            .map(|(k, v)| (k, 100.0 * v as f64 / vsum.max(1) as f64))
            .collect(),
        audio_red_recovered: after.2,
        audio_payload_kbps_per_commune: (after.0 - before.0) as f64 * 8.0
            / 1e3
            / opts.window_secs
            / receiving.max(1) as f64,
        audio_redundancy_pct: 100.0 * (after.1 - before.1) as f64
            / (after.0 - before.0).max(1) as f64,
        audio,
        video,
        relay: CounterSnapshot {
            up_in: 0,
            up_lost: 0,
            up_queue_drops: 0,
            down_in: 0,
            down_lost: 0,
            down_queue_drops: 0,
        },
    })
}

/// Runs of at least [`AUDIO_GAP_FRAMES`] missing packets in one audio
/// track's window (sequence numbers, duplicates ignored).
fn audio_gaps(recs: &[Rec]) -> u64 {
    let seqs: BTreeSet<i64> = recs.iter().map(|r| r.ext_seq).collect();
    seqs.iter()
        .zip(seqs.iter().skip(1))
        .filter(|(a, b)| **b - **a > AUDIO_GAP_FRAMES)
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: i64) -> Rec {
        Rec {
            ext_seq: seq,
            seq: seq as u16,
            tag: 0,
            rtp_ts: 0,
            arrival_ns: 0,
            sent_ns: 0,
            frame_start: false,
        }
    }

    #[test]
    fn only_runs_of_three_missing_frames_are_gaps() {
        let recs: Vec<Rec> = [1, 2, 4, 5, 9, 10, 10, 14].into_iter().map(rec).collect();
        // 3 missing (6,7,8) and 3 missing (11,12,13): two gaps; 3 alone is not.
        assert_eq!(audio_gaps(&recs), 2);
    }
}
