//! Scenario S1, fan-out: one publisher (VP8 simulcast q/h/f + Opus) → N
//! subscribers (viewers, one stage video slot + one audio slot each), N
//! stepped up; per step a measurement window after everyone receives media.
//! Stops at the first N that breaks the criterion (loss < 0.5 % and p99
//! one-way delay < 50 ms, every subscriber receiving) or at the last step.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::client::{CONNECT_TIMEOUT, Endpoint, EndpointConfig};
use crate::machine::MachineMeter;
use crate::media::{self, default_layers};
use crate::p2p::{P2pBaseline, P2pDelay};
use crate::server::{self, CpuMeter};
use crate::stats::{KindAcc, KindResult, histogram_buckets, histogram_quantile_ms, percentile_ms};

/// The criterion for "N subscribers are served".
pub const MAX_LOSS_PCT: f64 = 0.5;
pub const MAX_P99_DELAY_MS: f64 = 50.0;
/// Subscribers joined at once (each join is an offer, a WS round trip, ICE
/// and DTLS; all at once would measure a join storm, which is S3).
const JOIN_BATCH: usize = 10;
/// After the window, wait this long for late and repaired packets.
const GRACE: Duration = Duration::from_millis(1000);
/// Period of the generator's own scheduling-lag probe.
const LAG_PROBE_PERIOD: Duration = Duration::from_millis(5);
/// diemcau's histograms of a media packet's time inside the server.
pub(crate) const TRANSIT: &str = "diemcau_media_transit_seconds";
pub(crate) const TRANSIT_WAIT: &str = "diemcau_media_transit_wait_seconds";

#[derive(Debug, Clone, Serialize)]
pub struct S1Options {
    pub steps: Vec<usize>,
    pub window_secs: f64,
    pub settle_secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub n: usize,
    pub subscribers_receiving: usize,
    /// Join (offer → first media packet) of the subscribers added in this step.
    pub join_p50_ms: f64,
    pub join_max_ms: f64,
    pub window_s: f64,
    pub video: KindResult,
    pub audio: KindResult,
    /// Share of received video packets per publisher layer (rid → %).
    pub video_layers_pct: HashMap<String, f64>,
    pub loss_pct: f64,
    pub delay_p50_ms: f64,
    pub delay_p99_ms: f64,
    /// The same client stack peer to peer in the same window (`p2p`): the
    /// delay the clients themselves add under this step's load.
    pub p2p: Option<P2pDelay>,
    /// The delay the server adds: this step's percentile minus the
    /// peer-to-peer baseline's (0 when the baseline was slower).
    pub added_delay_p50_ms: Option<f64>,
    pub added_delay_p99_ms: Option<f64>,
    /// The server's own count of a media packet's time inside it (from
    /// the kernel's receipt to its copies sent,
    /// `diemcau_media_transit_seconds`), read between scrapes just before
    /// and after the step's window (diemcau only): the added delay without
    /// the clients' or the generator's share of the machine.
    pub server_transit_p50_ms: Option<f64>,
    pub server_transit_p99_ms: Option<f64>,
    /// Its first part (`…_transit_wait_seconds`): until a worker took it.
    pub server_transit_wait_p99_ms: Option<f64>,
    /// Packets per run of the fan-out in the window
    /// (`diemcau_media_fanout_run_packets_total` over `…_runs_total`): how
    /// many packets a subscriber's session was read once for.
    pub server_packets_per_fanout_run: Option<f64>,
    /// Whole session timeouts the engines ran in the window
    /// (`diemcau_media_session_timeouts_total`) per subscriber and second:
    /// what keeps a subscriber's session busy besides its media (str0m's
    /// estimator, reports, pacer).
    pub server_session_timeouts_per_subscriber_s: Option<f64>,
    /// Packets the subscribers received in the window (first arrivals).
    pub forwarded_packets: u64,
    pub forwarded_pps: f64,
    pub server_cpu_cores: f64,
    pub server_ns_per_forwarded_packet: f64,
    pub server_rss_mib: f64,
    /// The server's heap in use at the end of the window (diemcau's
    /// `diemcau_heap_in_use_bytes`; Janus exports none).
    pub server_heap_mib: Option<f64>,
    /// The server's busiest threads over the window (a media worker each:
    /// whether one room's fan-out uses one core or all of them).
    pub server_threads: Vec<crate::s2::ThreadLoad>,
    pub generator_cpu_cores: f64,
    /// How late a 5 ms timer of the generator's runtime fired during the
    /// window (p99, ms): when this is large, delays are the generator's.
    pub generator_lag_p99_ms: f64,
    pub machine_busy_cores: f64,
    /// RTCP the subscribers sent in the window, by kind (their stacks'
    /// feedback, processed by the server: part of its cost per packet).
    pub rtcp_sent: diemcau_testkit::rtc_client::RtcpSent,
    pub pass: bool,
    pub verdict: String,
}

/// See `S1Result::rss_per_subscriber_kib`: `mib` of a step, and with only
/// the publisher.
fn per_subscriber_kib(
    steps: &[StepResult],
    mib: impl Fn(&StepResult) -> Option<f64>,
    with_publisher_mib: Option<f64>,
) -> Option<f64> {
    let passing: Vec<&StepResult> = steps.iter().filter(|s| s.pass).collect();
    let first = passing.iter().min_by_key(|s| s.n)?;
    let last = passing.iter().max_by_key(|s| s.n)?;
    if last.n > first.n {
        Some((mib(last)? - mib(first)?) * 1024.0 / (last.n - first.n) as f64)
    } else {
        Some((mib(last)? - with_publisher_mib?) * 1024.0 / last.n as f64)
    }
}

/// diemcau's `/metrics` page (on its metrics listener); None for Janus.
pub(crate) async fn metrics_page(target: &Target) -> Option<String> {
    let Target::Diemcau { base } = target else {
        return None;
    };
    let url = server::metrics_base(base);
    let r = crate::http::request(&url, "GET", "/metrics", &[], None)
        .await
        .ok()?;
    Some(r.body)
}

/// diemcau's heap in use.
async fn heap_bytes(target: &Target) -> Option<u64> {
    let page = metrics_page(target).await?;
    server::metric_value(&page, "diemcau_heap_in_use_bytes").map(|b| b as u64)
}

#[derive(Debug, Clone, Serialize)]
pub struct S1Result {
    pub server_pid: u32,
    pub server_rss_idle_mib: f64,
    pub publisher_rss_with_publisher_mib: f64,
    pub steps: Vec<StepResult>,
    /// Largest N that met the criterion (0: none).
    pub max_n_passing: usize,
    /// What one more subscriber costs in server RSS: the slope between the
    /// smallest and the largest passing step (RSS difference / subscriber
    /// difference). With one passing step: (RSS there − RSS with only the
    /// publisher) / N — which also counts what the first subscribers
    /// warm up once (thread caches, allocator arenas, buffers grown at the
    /// first packet), so it varied ±100 KiB from run to run at N = 150.
    pub rss_per_subscriber_kib: Option<f64>,
    /// What one more subscriber adds to the heap in use, measured as
    /// `rss_per_subscriber_kib` is (diemcau only): the state a subscriber
    /// holds, without the allocator's keeping.
    pub heap_per_subscriber_kib: Option<f64>,
    /// Forwarded packets per second one fully used server core could do at
    /// the largest passing N (pps / server cores used): the "per core" figure.
    pub forwarded_pps_per_server_core: Option<f64>,
    pub max_subscribers_per_core: Option<f64>,
    /// The "half load": the passing step nearest half the largest
    /// passing N (the larger of two equally near), with its added delay.
    pub half_load: Option<HalfLoad>,
    /// What the publisher handed to its stack over the whole scenario.
    pub publisher_sent_video_packets: u64,
    /// Layer frames the publisher made keyframes because the server asked.
    pub publisher_keyframes_on_request: u64,
    pub publisher_sent_audio_packets: u64,
    pub publisher_write_errors: u64,
}

/// One step's delays at half load (see `S1Result::half_load`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HalfLoad {
    pub n: usize,
    pub delay_p99_ms: f64,
    pub p2p_delay_p99_ms: Option<f64>,
    pub added_delay_p99_ms: Option<f64>,
    /// The server's own p99 of a packet's time inside it
    /// (`StepResult::server_transit_p99_ms`).
    pub server_transit_p99_ms: Option<f64>,
}

fn half_load(steps: &[StepResult], max_n_passing: usize) -> Option<HalfLoad> {
    let half = max_n_passing as f64 / 2.0;
    let step = steps.iter().filter(|s| s.pass).min_by(|a, b| {
        let (da, db) = ((a.n as f64 - half).abs(), (b.n as f64 - half).abs());
        da.total_cmp(&db).then(b.n.cmp(&a.n))
    })?;
    Some(HalfLoad {
        n: step.n,
        delay_p99_ms: step.delay_p99_ms,
        p2p_delay_p99_ms: step.p2p.map(|p| p.delay_p99_ms),
        added_delay_p99_ms: step.added_delay_p99_ms,
        server_transit_p99_ms: step.server_transit_p99_ms,
    })
}

/// The server under test and how endpoints reach it.
#[derive(Clone, Debug)]
pub enum Target {
    /// diemcau's `/ws` signalling at `base` (`http://127.0.0.1:port`).
    Diemcau { base: String },
    /// Janus VideoRoom over its WebSocket API; endpoints bind `bind_ip`.
    Janus {
        ws_url: String,
        room: u64,
        bind_ip: String,
    },
}

/// One viewer joins: offer → connected → media on both slots.
/// Where a join's time went: signalling (offer out → answer applied), ICE
/// and DTLS (→ the peer connection is connected), the first media (→ both
/// slots flowing: for video, a keyframe).
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinPhases {
    pub signal: Duration,
    pub connect: Duration,
    pub media: Duration,
}

impl JoinPhases {
    pub fn total(&self) -> Duration {
        self.signal + self.connect + self.media
    }
}

pub(crate) async fn join_subscriber(
    target: &Target,
    feed: u64,
    i: usize,
) -> anyhow::Result<(Endpoint, JoinPhases)> {
    let t = Instant::now();
    let ep = match target {
        Target::Diemcau { base } => {
            let mut ep = Endpoint::new(&EndpointConfig {
                name: format!("sub-{i}"),
                recv_video: 1,
                recv_audio: 1,
                role: "viewer".into(),
                ..Default::default()
            })
            .await?;
            ep.join_ws(base, server::MEETING, server::DEMO_TOKEN)
                .await?;
            ep
        }
        Target::Janus {
            ws_url,
            room,
            bind_ip,
        } => {
            // Janus offers: the answer takes its video + audio m-lines.
            let mut ep = Endpoint::new(&EndpointConfig {
                name: format!("sub-{i}"),
                bind_ip: Some(bind_ip.clone()),
                ..Default::default()
            })
            .await?;
            ep.subscribe_janus(ws_url, *room, feed).await?;
            ep
        }
    };
    let signalled = Instant::now();
    ep.wait_connected(CONNECT_TIMEOUT).await?;
    let connected = Instant::now();
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    while ep.tracks_flowing() < 2 {
        if Instant::now() > deadline {
            anyhow::bail!(
                "sub-{i}: connected but no media on both slots within {CONNECT_TIMEOUT:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok((
        ep,
        JoinPhases {
            signal: signalled - t,
            connect: connected - signalled,
            media: connected.elapsed(),
        },
    ))
}

/// The hub: VP8 simulcast q/h/f + Opus, joined and connected; returns it
/// and its Janus feed id (0 for diemcau).
pub(crate) async fn start_publisher(target: &Target) -> anyhow::Result<(Endpoint, u64)> {
    let mut publisher = Endpoint::new(&EndpointConfig {
        name: "publisher".into(),
        // Janus maps rids to substreams assuming the janus.js order, highest
        // first (h;m;l); diemcau reads the rids. Both then serve the top layer.
        publish: Some(match target {
            Target::Janus { .. } => default_layers().into_iter().rev().collect(),
            Target::Diemcau { .. } => default_layers(),
        }),
        role: "room".into(),
        bind_ip: match target {
            Target::Janus { bind_ip, .. } => Some(bind_ip.clone()),
            Target::Diemcau { .. } => None,
        },
        ..Default::default()
    })
    .await?;
    let feed = match target {
        Target::Diemcau { base } => {
            publisher
                .join_ws(base, server::MEETING, server::DEMO_TOKEN)
                .await
                .context("publisher join")?;
            0
        }
        Target::Janus { ws_url, room, .. } => publisher
            .publish_janus(ws_url, *room)
            .await
            .context("publisher join (janus)")?,
    };
    publisher.wait_connected(CONNECT_TIMEOUT).await?;
    Ok((publisher, feed))
}

pub async fn run(target: &Target, server_pid: u32, opts: &S1Options) -> anyhow::Result<S1Result> {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let rss_idle = server::rss_bytes(server_pid).unwrap_or(0);
    let (publisher, feed) = start_publisher(target).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_pub = server::rss_bytes(server_pid).unwrap_or(0);
    let heap_pub = heap_bytes(target).await;
    let rid_of: HashMap<u32, &str> = publisher.layers.iter().map(|&(r, s)| (s, r)).collect();
    let p2p = match P2pBaseline::start().await {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("S1 {}: no peer-to-peer baseline: {e:#}", target.name());
            None
        }
    };
    let mut subs: Vec<Endpoint> = Vec::new();
    let mut steps = Vec::new();
    for &n in &opts.steps {
        let mut joins = Vec::new();
        while subs.len() < n {
            let batch: Vec<usize> = (subs.len()..n.min(subs.len() + JOIN_BATCH)).collect();
            let futs = batch.iter().map(|&i| join_subscriber(target, feed, i));
            for r in futures_util::future::join_all(futs).await {
                let (ep, d) = r?;
                subs.push(ep);
                joins.push(d.total().as_nanos() as u64);
            }
        }
        eprintln!(
            "S1 {}: {n} subscribers receiving; settling {:.0} s",
            target.name(),
            opts.settle_secs
        );
        tokio::time::sleep(Duration::from_secs_f64(opts.settle_secs)).await;
        let page0 = metrics_page(target).await;
        let scraped = std::time::Instant::now();
        let mut step = measure(
            &subs,
            n,
            server_pid,
            opts,
            &rid_of,
            &mut joins,
            p2p.as_ref(),
        )
        .await;
        let page1 = metrics_page(target).await;
        let between_s = scraped.elapsed().as_secs_f64();
        if let (Some(a), Some(b)) = (&page0, &page1) {
            let quantile = |name: &str, q: f64| {
                let (a, b) = (histogram_buckets(a, name), histogram_buckets(b, name));
                histogram_quantile_ms(&a, &b, q)
            };
            step.server_transit_p50_ms = quantile(TRANSIT, 0.5);
            step.server_transit_p99_ms = quantile(TRANSIT, 0.99);
            step.server_transit_wait_p99_ms = quantile(TRANSIT_WAIT, 0.99);
            let delta =
                |name: &str| Some(server::metric_value(b, name)? - server::metric_value(a, name)?);
            step.server_packets_per_fanout_run = delta("diemcau_media_fanout_run_packets_total")
                .zip(delta("diemcau_media_fanout_runs_total"))
                .filter(|&(_, runs)| runs > 0.0)
                .map(|(packets, runs)| packets / runs);
            step.server_session_timeouts_per_subscriber_s =
                delta("diemcau_media_session_timeouts_total")
                    .filter(|_| n > 0 && between_s > 0.0)
                    .map(|t| t / (n as f64 * between_s));
        }
        step.server_heap_mib = page1
            .as_deref()
            .and_then(|p| server::metric_value(p, "diemcau_heap_in_use_bytes"))
            .map(|b| mib(b as u64));
        eprintln!(
            "S1 {} N={n}: loss {:.3}% p50 {:.2} ms p99 {:.2} ms, server {:.2} cores, {:.0} ns/pkt, rss {:.1} MiB, generator {:.2} cores (lag p99 {:.1} ms) → {}",
            target.name(),
            step.loss_pct,
            step.delay_p50_ms,
            step.delay_p99_ms,
            step.server_cpu_cores,
            step.server_ns_per_forwarded_packet,
            step.server_rss_mib,
            step.generator_cpu_cores,
            step.generator_lag_p99_ms,
            step.verdict
        );
        if let (Some(b), Some(added)) = (step.p2p, step.added_delay_p99_ms) {
            eprintln!(
                "S1 {} N={n}: peer-to-peer baseline p50 {:.2} ms p99 {:.2} ms → the server adds p99 {added:.2} ms",
                target.name(),
                b.delay_p50_ms,
                b.delay_p99_ms,
            );
        }
        if let (Some(p50), Some(p99)) = (step.server_transit_p50_ms, step.server_transit_p99_ms) {
            eprintln!(
                "S1 {} N={n}: in the server (kernel receipt → copies sent) p50 {p50:.2} ms p99 {p99:.2} ms (until a worker took it: p99 {:.2} ms; {:.2} packets per fan-out run; {:.1} session timeouts per subscriber per second)",
                target.name(),
                step.server_transit_wait_p99_ms.unwrap_or(0.0),
                step.server_packets_per_fanout_run.unwrap_or(0.0),
                step.server_session_timeouts_per_subscriber_s.unwrap_or(0.0),
            );
        }
        let threads: Vec<String> = step
            .server_threads
            .iter()
            .map(|t| format!("{} {:.2}", t.thread, t.cores))
            .collect();
        eprintln!(
            "S1 {} N={n}: server threads {}",
            target.name(),
            threads.join(", ")
        );
        let pass = step.pass;
        steps.push(step);
        if !pass {
            break;
        }
    }
    for s in subs {
        s.close().await;
    }
    if let Some(p) = p2p {
        p.close().await;
    }
    let sent = publisher.sent.clone();
    publisher.close().await;
    let best = steps.iter().filter(|s| s.pass).max_by_key(|s| s.n).cloned();
    let max_n_passing = best.as_ref().map_or(0, |s| s.n);
    Ok(S1Result {
        half_load: half_load(&steps, max_n_passing),
        server_pid,
        server_rss_idle_mib: mib(rss_idle),
        publisher_rss_with_publisher_mib: mib(rss_pub),
        max_n_passing,
        rss_per_subscriber_kib: per_subscriber_kib(
            &steps,
            |s| Some(s.server_rss_mib),
            Some(mib(rss_pub)),
        ),
        heap_per_subscriber_kib: per_subscriber_kib(
            &steps,
            |s| s.server_heap_mib,
            heap_pub.map(mib),
        ),
        forwarded_pps_per_server_core: best
            .as_ref()
            .filter(|s| s.server_cpu_cores > 0.0)
            .map(|s| s.forwarded_pps / s.server_cpu_cores),
        max_subscribers_per_core: best
            .as_ref()
            .filter(|s| s.server_cpu_cores > 0.0)
            .map(|s| s.n as f64 / s.server_cpu_cores),
        publisher_sent_video_packets: sent.video_packets.load(Ordering::Relaxed),
        publisher_keyframes_on_request: sent.keyframes_on_request.load(Ordering::Relaxed),
        publisher_sent_audio_packets: sent.audio_packets.load(Ordering::Relaxed),
        publisher_write_errors: sent.write_errors.load(Ordering::Relaxed),
        steps,
    })
}

async fn measure(
    subs: &[Endpoint],
    n: usize,
    server_pid: u32,
    opts: &S1Options,
    rid_of: &HashMap<u32, &str>,
    joins: &mut [u64],
    p2p: Option<&P2pBaseline>,
) -> StepResult {
    for s in subs {
        for t in s.tracks.lock().unwrap().iter() {
            t.lock().unwrap().take();
        }
    }
    if let Some(p) = p2p {
        p.reset();
    }
    let rtcp_sum = || {
        let mut sum = diemcau_testkit::rtc_client::RtcpSent::default();
        for s in subs {
            sum.add(&s.rtcp_sent());
        }
        sum
    };
    let rtcp0 = rtcp_sum();
    let t0 = media::now_ns();
    let cpu = CpuMeter::start(server_pid);
    let threads0 = crate::s2::thread_ticks(server_pid);
    let me = CpuMeter::start(std::process::id());
    let machine = MachineMeter::start();
    let window = Duration::from_secs_f64(opts.window_secs);
    let lag_probe = tokio::spawn(async move {
        let end = Instant::now() + window;
        let mut lags = Vec::new();
        while Instant::now() < end {
            let due = Instant::now() + LAG_PROBE_PERIOD;
            tokio::time::sleep(LAG_PROBE_PERIOD).await;
            lags.push(Instant::now().saturating_duration_since(due).as_nanos() as u64);
        }
        lags
    });
    tokio::time::sleep(window).await;
    let t1 = media::now_ns();
    let (server_cpu_s, wall_s) = cpu.read();
    let rtcp1 = rtcp_sum();
    let rtcp_sent = rtcp1.since(&rtcp0);
    let server_threads =
        crate::s2::busiest_threads(&threads0, &crate::s2::thread_ticks(server_pid), wall_s);
    let (gen_cpu_s, _) = me.read();
    let busy = machine.busy_cores();
    let rss = server::rss_bytes(server_pid).unwrap_or(0);
    let mut lags = lag_probe.await.unwrap_or_default();
    tokio::time::sleep(GRACE).await;
    let p2p = p2p.map(|p| p.delay(t0, t1)).filter(|d| d.packets > 0);
    let (mut video, mut audio) = (KindAcc::default(), KindAcc::default());
    let mut layer_pkts: HashMap<String, u64> = HashMap::new();
    let mut receiving = 0;
    for s in subs {
        let tracks: Vec<_> = s.tracks.lock().unwrap().clone();
        let mut got = 0;
        for t in tracks {
            let (is_video, recs) = {
                let mut g = t.lock().unwrap();
                (g.video, g.take())
            };
            let in_window = recs.iter().filter(|r| r.sent_ns >= t0 && r.sent_ns <= t1);
            if in_window.clone().next().is_some() {
                got += 1;
            }
            if is_video {
                for r in in_window {
                    let rid = rid_of.get(&r.tag).copied().unwrap_or("?");
                    *layer_pkts.entry(rid.to_string()).or_default() += 1;
                }
                video.add_track(&recs, true, t0, t1, 90_000.0);
            } else {
                audio.add_track(&recs, false, t0, t1, 48_000.0);
            }
        }
        if got >= 2 {
            receiving += 1;
        }
    }
    let mut all: Vec<u64> = video
        .delays()
        .iter()
        .chain(audio.delays())
        .copied()
        .collect();
    let (video, audio) = (video.finish(), audio.finish());
    let expected = video.expected + audio.expected;
    let lost = video.lost + audio.lost;
    let loss_pct = if expected > 0 {
        100.0 * lost as f64 / expected as f64
    } else {
        100.0
    };
    let forwarded = video.received + audio.received;
    let vsum: u64 = layer_pkts.values().sum();
    let video_layers_pct = layer_pkts
        .into_iter()
        .map(|(k, v)| (k, 100.0 * v as f64 / vsum.max(1) as f64))
        .collect();
    let p50 = percentile_ms(&mut all, 0.50);
    let p99 = percentile_ms(&mut all, 0.99);
    let mut reasons = Vec::new();
    if receiving < n {
        reasons.push(format!(
            "{} of {n} subscribers received nothing",
            n - receiving
        ));
    }
    if loss_pct >= MAX_LOSS_PCT {
        reasons.push(format!("loss {loss_pct:.3}% ≥ {MAX_LOSS_PCT}%"));
    }
    if p99 >= MAX_P99_DELAY_MS {
        reasons.push(format!("p99 delay {p99:.1} ms ≥ {MAX_P99_DELAY_MS} ms"));
    }
    let pass = reasons.is_empty();
    let join_p50 = percentile_ms(joins, 0.5);
    let join_max = percentile_ms(joins, 1.0);
    StepResult {
        n,
        subscribers_receiving: receiving,
        join_p50_ms: join_p50,
        join_max_ms: join_max,
        window_s: wall_s,
        video,
        audio,
        video_layers_pct,
        loss_pct,
        delay_p50_ms: p50,
        delay_p99_ms: p99,
        p2p,
        added_delay_p50_ms: p2p.map(|b| (p50 - b.delay_p50_ms).max(0.0)),
        added_delay_p99_ms: p2p.map(|b| (p99 - b.delay_p99_ms).max(0.0)),
        server_transit_p50_ms: None,
        server_transit_p99_ms: None,
        server_transit_wait_p99_ms: None,
        server_packets_per_fanout_run: None,
        server_session_timeouts_per_subscriber_s: None,
        forwarded_packets: forwarded,
        forwarded_pps: forwarded as f64 / wall_s,
        server_cpu_cores: server_cpu_s / wall_s,
        server_ns_per_forwarded_packet: if forwarded > 0 {
            server_cpu_s * 1e9 / forwarded as f64
        } else {
            0.0
        },
        server_rss_mib: rss as f64 / (1024.0 * 1024.0),
        server_heap_mib: None,
        server_threads,
        generator_cpu_cores: gen_cpu_s / wall_s,
        generator_lag_p99_ms: percentile_ms(&mut lags, 0.99),
        machine_busy_cores: busy,
        rtcp_sent,
        pass,
        verdict: if pass {
            "pass".into()
        } else {
            reasons.join("; ")
        },
    }
}

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Target::Diemcau { .. } => "diemcau",
            Target::Janus { .. } => "janus",
        }
    }
}
