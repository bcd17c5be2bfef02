//! Scenario S2, the province meeting (issue 6): 1 hub + `sectors` sector
//! committees + `communes` communes; every endpoint publishes a camera
//! (VP8 simulcast) and Opus with RFC 6464 levels and receives the stage +
//! the active speaker + the 3 loudest audio streams; one console receives
//! every thumbnail.
//!
//! - **hub**: VP8 simulcast q/h/f 100/300/1200 kbit/s + Opus, voice active
//!   at -30 dBov all the time (the chair speaks), put on stage.
//! - **sectors and communes**: a lighter simulcast (`commune_layers_kbps`,
//!   default q/h/f 30/100/300 kbit/s, 30 fps) so the generator can carry
//!   150 of them, and Opus. `talkers` of them (the sectors first, then the
//!   first communes) talk in turns: every [`TURN`] one of them speaks at
//!   -18 dBov, the next one murmurs at -35 dBov, the other talkers are
//!   silent; everyone else sends silence (level 127), with Opus DTX (one
//!   packet per 400 ms) unless `dtx` is off.
//! - **console**: receives the stage and every publisher's thumbnail
//!   (diemcau: role `console` with 1 + publishers video slots; Janus: one
//!   subscription to every feed's video at substream 0).
//!
//! diemcau picks the active speaker and the loudest three itself (the
//! stage pinned to the hub with `POST /rooms/demo/stage`). Janus's
//! VideoRoom has no such selection in the SFU: each endpoint subscribes to
//! fixed feeds — the hub's video and audio, the first talker's video (the
//! "speaker") and audio, and the second talker's audio — with a publisher
//! and a subscriber peer connection per endpoint, as janus.js does.
//!
//! Measured over one window at the subscribers (sectors and communes; the
//! hub cannot see itself on stage): loss and one-way delay of the stage
//! video and audio (the hub's packets), of the speaker slot and of all
//! audio slots, per subscriber and pooled; the console's thumbnails that
//! flow; server CPU and RSS (sampled), the generator's CPU and timer lag
//! and the machine's load.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use serde_json::{Value, json};

pub(crate) use crate::client::CONNECT_TIMEOUT;
use crate::client::{Endpoint, EndpointConfig, LEVEL_SILENT};
use crate::machine::MachineMeter;
use crate::media::{self, LayerSpec, default_layers};
use crate::s1::Target;
use crate::s5::{SockQueue, sample_udp, socket_owners};
use crate::server::{self, CpuMeter};
use crate::stats::{
    KindAcc, KindResult, Rec, histogram_buckets, histogram_quantile_ms, percentile_ms,
};

/// Endpoints join this many at a time.
pub(crate) const JOIN_BATCH: usize = 25;
/// One talker's turn.
const TURN: Duration = Duration::from_secs(5);
const LEVEL_SPEAKS: u8 = 0x80 | 18;
const LEVEL_MURMURS: u8 = 0x80 | 35;
/// The target for S2.
pub const TARGET_CPU_CORES: f64 = 1.0;
pub const TARGET_RSS_MIB: f64 = 512.0;
const LAG_PROBE_PERIOD: Duration = Duration::from_millis(5);
const GRACE: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Serialize)]
pub struct S2Options {
    pub communes: usize,
    pub sectors: usize,
    pub talkers: usize,
    pub window_secs: f64,
    pub settle_secs: f64,
    /// Simulcast layers of sectors and communes, kbit/s, lowest first.
    pub commune_layers_kbps: Vec<u32>,
    pub dtx: bool,
    /// Hog this CPU during the settle time and the window (`hog`).
    pub hog_cpu: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct S2Result {
    pub server: String,
    /// Publishers: hub + sectors + communes.
    pub endpoints: usize,
    pub joined: usize,
    pub failures: Vec<String>,
    pub failed: usize,
    pub join_secs: f64,
    /// Sectors and communes measured.
    pub subscribers: usize,
    pub receiving_stage: usize,
    pub receiving_speaker: usize,
    /// Subscribers with 3 audio slots flowing in the window.
    pub receiving_3_audio: usize,
    /// The hub's video at the subscribers (the stage slot).
    pub stage_video: KindResult,
    /// The speaker slot (whoever it shows).
    pub speaker_video: KindResult,
    /// Every audio slot (loss over the slot, delay over all sources).
    pub audio: KindResult,
    /// The hub's audio only, one-way delay.
    pub stage_audio_delay_p50_ms: f64,
    pub stage_audio_delay_p99_ms: f64,
    /// Stage video + audio pooled.
    pub stage_delay_p50_ms: f64,
    pub stage_delay_p99_ms: f64,
    /// Everything the subscribers received (stage, speaker, audio), pooled.
    pub loss_pct: f64,
    pub delay_p50_ms: f64,
    pub delay_p99_ms: f64,
    /// Per subscriber: its loss over all slots and its stage p99.
    pub worst_subscriber_loss_pct: f64,
    pub worst_subscriber_stage_p99_ms: f64,
    pub median_subscriber_stage_p99_ms: f64,
    pub stage_layers_pct: Vec<(String, f64)>,
    pub speaker_layers_pct: Vec<(String, f64)>,
    /// Distinct publishers seen in speaker slots / audio slots in the window.
    pub speaker_sources_seen: usize,
    pub audio_sources_seen: usize,
    pub console_video_slots: usize,
    /// Console slots with video in the window.
    pub console_thumbnails_flowing: usize,
    /// Distinct publishers the console saw in the window.
    pub console_publishers_seen: usize,
    pub console_layers_pct: Vec<(String, f64)>,
    pub console_video: KindResult,
    /// Packets the subscribers and the console received per second.
    pub forwarded_pps: f64,
    pub window_s: f64,
    pub server_cpu_cores: f64,
    pub server_rss_idle_mib: f64,
    pub server_rss_mib: f64,
    pub server_rss_max_mib: f64,
    pub generator_cpu_cores: f64,
    pub generator_lag_p99_ms: f64,
    pub machine_busy_cores: f64,
    /// Packets the hub and all publishers handed to their stacks per second
    /// over the window (below nominal: the generator's publishers starved).
    pub hub_sent_pps: f64,
    pub publishers_sent_pps: f64,
    pub publisher_keyframes_on_request: u64,
    pub publisher_write_errors: u64,
    pub meets_cpu_target: bool,
    pub meets_rss_target: bool,
    /// The server's busiest threads over the window.
    pub server_threads: Vec<ThreadLoad>,
    /// diemcau's /metrics over the window: datagrams received and dropped
    /// because a worker's queue was full.
    pub server_datagrams_in: Option<f64>,
    pub server_dropped_queue_full: Option<f64>,
    /// diemcau's own count of a media packet's time inside it over the
    /// window (`diemcau_media_transit_seconds`, every publisher's packets):
    /// what of the subscribers' delay is the server's.
    pub server_transit_p50_ms: Option<f64>,
    pub server_transit_p99_ms: Option<f64>,
    /// Its first part, until a worker took the datagram.
    pub server_transit_wait_p99_ms: Option<f64>,
    /// Server CPU per packet the subscribers and the console received
    /// (the whole server: ingest, feedback, timers), µs: comparable when
    /// the generator could not offer both servers the same load.
    pub server_us_per_forwarded_packet: f64,
    /// UDP sockets of the load's namespace (the generator's; diemcau's too)
    /// with a receive queue or drops during the window, deepest first.
    pub udp_queues: Vec<SockQueue>,
    pub udp_rcvbuf_drops: u64,
    /// The core hogged on purpose over the settle time and the window.
    pub hog: Option<crate::hog::HogResult>,
    pub notes: Vec<String>,
}

/// One server thread over the window.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadLoad {
    pub thread: String,
    /// CPU used (utime + stime), cores.
    pub cores: f64,
    /// Time it was runnable but waiting for a CPU (`/proc/.../schedstat`),
    /// as a share of the window: high = starved by the machine.
    pub runqueue_wait_share: f64,
}

/// Ns a thread waited on a run queue so far (`schedstat` field 2).
fn runqueue_wait_ns(pid: u32, tid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// (thread name, utime + stime ticks, run-queue wait ns) of every thread of `pid`.
pub(crate) fn thread_ticks(pid: u32) -> HashMap<u32, (String, u64, u64)> {
    let mut m = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return m;
    };
    for e in dir.flatten() {
        let Ok(tid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(s) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (s.find('('), s.rfind(')')) else {
            continue;
        };
        let name = s[open + 1..close].to_string();
        let f: Vec<&str> = s[close + 1..].split_whitespace().collect();
        let t = f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        m.insert(tid, (name, t, runqueue_wait_ns(pid, tid)));
    }
    m
}

/// The busiest threads between two [`thread_ticks`] readings, as cores.
pub(crate) fn busiest_threads(
    a: &HashMap<u32, (String, u64, u64)>,
    b: &HashMap<u32, (String, u64, u64)>,
    secs: f64,
) -> Vec<ThreadLoad> {
    let secs = secs.max(1e-9);
    let mut v: Vec<ThreadLoad> = b
        .iter()
        .map(|(tid, (name, t, w))| {
            let (t0, w0) = a.get(tid).map_or((0, 0), |x| (x.1, x.2));
            ThreadLoad {
                thread: format!("{name} ({tid})"),
                cores: t.saturating_sub(t0) as f64 / server::ticks_per_sec() / secs,
                runqueue_wait_share: w.saturating_sub(w0) as f64 / 1e9 / secs,
            }
        })
        .filter(|t| t.cores > 0.005)
        .collect();
    v.sort_by(|x, y| y.cores.total_cmp(&x.cores));
    v.truncate(8);
    v
}

/// diemcau's datagram counters (in, dropped for a full worker queue).
fn datagram_counters(page: &str) -> Option<(f64, f64)> {
    let m = |k: &str| crate::http::metric(page, k);
    Some((
        m("diemcau_datagrams_received_total")?,
        m("diemcau_datagrams_dropped_queue_full_total")?,
    ))
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Hub,
    Sector,
    Commune,
}

/// One endpoint of the meeting: its publishing peer connection, and for
/// Janus a second one that subscribes.
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) publisher: Endpoint,
    receiver: Option<Endpoint>,
    /// Janus: the feed id and the (video, audio) mids of its publisher.
    feed: u64,
    mids: (String, String),
}

impl Member {
    pub(crate) fn rx(&self) -> &Endpoint {
        self.receiver.as_ref().unwrap_or(&self.publisher)
    }
}

fn commune_layers(kbps: &[u32]) -> Vec<LayerSpec> {
    const RIDS: [(&str, u16, u16); 3] = [("q", 320, 180), ("h", 480, 270), ("f", 640, 360)];
    kbps.iter()
        .zip(RIDS)
        .map(|(&k, (rid, width, height))| LayerSpec {
            rid,
            kbps: k,
            width,
            height,
        })
        .collect()
}

fn name_of(i: usize, sectors: usize) -> (String, Kind) {
    if i == 0 {
        ("hub".into(), Kind::Hub)
    } else if i <= sectors {
        (format!("sector-{i}"), Kind::Sector)
    } else {
        (format!("commune-{:03}", i - sectors - 1), Kind::Commune)
    }
}

/// Turn the talkers' levels: talker `k` speaks in turn `k`, the next one
/// murmurs, the rest are silent.
fn spawn_talk(levels: Vec<Arc<AtomicU8>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let t0 = Instant::now();
        loop {
            let n = levels.len().max(1);
            let turn = (t0.elapsed().as_secs_f64() / TURN.as_secs_f64()) as usize;
            for (k, l) in levels.iter().enumerate() {
                let v = if k == turn % n {
                    LEVEL_SPEAKS
                } else if n > 1 && k == (turn + 1) % n {
                    LEVEL_MURMURS
                } else {
                    LEVEL_SILENT
                };
                l.store(v, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

fn config(
    i: usize,
    opts: &S2Options,
    target: &Target,
    talk: Option<Arc<AtomicU8>>,
) -> EndpointConfig {
    let (name, kind) = name_of(i, opts.sectors);
    let janus = matches!(target, Target::Janus { .. });
    let mut layers = if kind == Kind::Hub {
        default_layers()
    } else {
        commune_layers(&opts.commune_layers_kbps)
    };
    if janus {
        // The janus.js order (highest first), as in S1.
        layers.reverse();
    }
    let silent = kind != Kind::Hub && talk.is_none();
    EndpointConfig {
        name,
        publish: Some(layers),
        recv_video: if janus { 0 } else { 2 },
        recv_audio: if janus { 0 } else { 3 },
        role: "room".into(),
        bind_ip: match target {
            Target::Janus { bind_ip, .. } => Some(bind_ip.clone()),
            Target::Diemcau { .. } => None,
        },
        audio_level: silent.then_some(LEVEL_SILENT),
        audio_level_shared: talk,
        dtx: silent && opts.dtx,
        ..Default::default()
    }
}

/// Join endpoint `i` as a publisher (diemcau: also its receive slots).
pub(crate) async fn join_publisher(
    target: &Target,
    i: usize,
    opts: &S2Options,
    talk: Option<Arc<AtomicU8>>,
) -> anyhow::Result<Member> {
    let cfg = config(i, opts, target, talk);
    let name = cfg.name.clone();
    let mut ep = Endpoint::new(&cfg).await?;
    let mut feed = 0;
    match target {
        Target::Diemcau { base } => {
            ep.join_ws(base, server::MEETING, server::DEMO_TOKEN)
                .await?
        }
        Target::Janus { ws_url, room, .. } => feed = ep.publish_janus(ws_url, *room).await?,
    }
    ep.wait_connected(CONNECT_TIMEOUT).await?;
    let mids = if feed != 0 {
        let m = ep.send_mids().await;
        let find = |k: &str| {
            m.iter()
                .find(|(kind, _)| kind == k)
                .map(|(_, mid)| mid.clone())
                .ok_or_else(|| anyhow!("{name}: no {k} m-line in its offer"))
        };
        (find("video")?, find("audio")?)
    } else {
        Default::default()
    };
    Ok(Member {
        name,
        publisher: ep,
        receiver: None,
        feed,
        mids,
    })
}

/// Janus: the fixed feeds endpoint `me` subscribes to: the hub's video and
/// audio, the first talker's video and audio, the second talker's audio
/// (never its own).
fn janus_streams(me: usize, members: &[Member], talkers: &[usize]) -> Vec<Value> {
    let others: Vec<usize> = talkers.iter().copied().filter(|&t| t != me).collect();
    let v = |m: &Member| json!({"feed": m.feed, "mid": m.mids.0});
    let a = |m: &Member| json!({"feed": m.feed, "mid": m.mids.1});
    let mut s = Vec::new();
    if me != 0 {
        s.push(v(&members[0]));
        if let Some(&t) = others.first() {
            s.push(v(&members[t]));
        }
        s.push(a(&members[0]));
        for &t in others.iter().take(2) {
            s.push(a(&members[t]));
        }
    } else {
        for &t in others.iter().take(2) {
            s.push(v(&members[t]));
        }
        for &t in others.iter().take(3) {
            s.push(a(&members[t]));
        }
    }
    s
}

async fn janus_subscribe(
    ws_url: &str,
    room: u64,
    bind_ip: &str,
    name: &str,
    streams: Vec<Value>,
    substream: Option<u8>,
) -> anyhow::Result<Endpoint> {
    let mut ep = Endpoint::new(&EndpointConfig {
        name: format!("{name}-sub"),
        bind_ip: Some(bind_ip.to_string()),
        ..Default::default()
    })
    .await?;
    ep.subscribe_janus_streams(ws_url, room, streams, substream)
        .await?;
    ep.wait_connected(CONNECT_TIMEOUT).await?;
    Ok(ep)
}

/// Put the hub on diemcau's stage: its participant id from the room's
/// list, then `POST /rooms/demo/stage`.
async fn stage_hub(base: &str) -> anyhow::Result<()> {
    let auth = format!("Bearer {}", server::DEMO_TOKEN);
    let path = format!("/rooms/{}/participants", server::MEETING);
    let r = crate::http::request(base, "GET", &path, &[("Authorization", &auth)], None).await?;
    if r.status != 200 {
        bail!("{path}: {} {}", r.status, r.body);
    }
    let v = r.json()?;
    let id = v["participants"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["name"] == "hub"))
        .and_then(|p| p["id"].as_str())
        .ok_or_else(|| anyhow!("the hub is not in {v}"))?
        .to_string();
    let path = format!("/rooms/{}/stage", server::MEETING);
    let r = crate::http::request(
        base,
        "POST",
        &path,
        &[("Authorization", &auth)],
        Some(&json!({"participants": [id]})),
    )
    .await?;
    if !(200..300).contains(&r.status) {
        bail!("{path}: {} {}", r.status, r.body);
    }
    Ok(())
}

pub(crate) fn trim(eps: &[&Endpoint]) {
    for e in eps {
        for t in e.tracks.lock().unwrap().iter() {
            let mut t = t.lock().unwrap();
            let n = t.records.len();
            if n > 2_000 {
                t.records.drain(..n - 200);
            }
        }
    }
}

fn pct_map(m: BTreeMap<String, u64>) -> Vec<(String, f64)> {
    let total: u64 = m.values().sum();
    m.into_iter()
        .map(|(k, v)| (k, 100.0 * v as f64 / total.max(1) as f64))
        .collect()
}

pub async fn run(target: &Target, server_pid: u32, opts: &S2Options) -> anyhow::Result<S2Result> {
    let name = target.name();
    let n = 1 + opts.sectors + opts.communes;
    let mut res = S2Result {
        server: name.into(),
        endpoints: n,
        server_rss_idle_mib: server::rss_bytes(server_pid).unwrap_or(0) as f64 / 1048576.0,
        ..Default::default()
    };
    // Talkers: the sectors, then the first communes.
    let talkers: Vec<usize> = (1..n).take(opts.talkers).collect();
    let levels: Vec<Arc<AtomicU8>> = talkers
        .iter()
        .map(|_| Arc::new(AtomicU8::new(LEVEL_SILENT)))
        .collect();
    let talk = spawn_talk(levels.clone());
    let level_of = |i: usize| {
        talkers
            .iter()
            .position(|&t| t == i)
            .map(|k| levels[k].clone())
    };
    let t = Instant::now();
    let hub = join_publisher(target, 0, opts, None)
        .await
        .context("the hub")?;
    if let Target::Diemcau { base } = target {
        stage_hub(base).await.context("put the hub on stage")?;
    }
    let mut members = vec![hub];
    let mut idx: Vec<usize> = vec![0];
    let mut i = 1;
    while i < n {
        let batch: Vec<usize> = (i..n.min(i + JOIN_BATCH)).collect();
        i += batch.len();
        let joins = batch
            .iter()
            .map(|&k| join_publisher(target, k, opts, level_of(k)));
        for (k, r) in batch
            .iter()
            .zip(futures_util::future::join_all(joins).await)
        {
            match r {
                Ok(m) => {
                    members.push(m);
                    idx.push(*k);
                }
                Err(e) => res.failures.push(format!("{e:#}")),
            }
        }
        trim(&members.iter().map(Member::rx).collect::<Vec<_>>());
        eprintln!(
            "S2 {name}: {}/{} publishers in ({:.0} s)",
            members.len(),
            i,
            t.elapsed().as_secs_f64()
        );
    }
    // Janus: the subscriptions, once every feed exists.
    let mut console: Option<Endpoint> = None;
    match target {
        Target::Janus {
            ws_url,
            room,
            bind_ip,
        } => {
            let talker_pos: Vec<usize> = talkers
                .iter()
                .filter_map(|t| idx.iter().position(|x| x == t))
                .collect();
            for start in (0..members.len()).step_by(JOIN_BATCH) {
                let end = members.len().min(start + JOIN_BATCH);
                let subs = (start..end).map(|m| {
                    let streams = janus_streams(m, &members, &talker_pos);
                    janus_subscribe(ws_url, *room, bind_ip, &members[m].name, streams, None)
                });
                let got = futures_util::future::join_all(subs).await;
                for (m, r) in (start..end).zip(got) {
                    match r {
                        Ok(ep) => members[m].receiver = Some(ep),
                        Err(e) => res
                            .failures
                            .push(format!("{} subscribe: {e:#}", members[m].name)),
                    }
                }
                eprintln!(
                    "S2 {name}: {end}/{} subscriptions ({:.0} s)",
                    members.len(),
                    t.elapsed().as_secs_f64()
                );
            }
            let all: Vec<Value> = members
                .iter()
                .map(|m| json!({"feed": m.feed, "mid": m.mids.0}))
                .collect();
            res.console_video_slots = all.len();
            match janus_subscribe(ws_url, *room, bind_ip, "console", all, Some(0)).await {
                Ok(ep) => console = Some(ep),
                Err(e) => res.failures.push(format!("console: {e:#}")),
            }
        }
        Target::Diemcau { base } => {
            res.console_video_slots = 1 + members.len();
            let r = async {
                let mut ep = Endpoint::new(&EndpointConfig {
                    name: "console".into(),
                    recv_video: 1 + members.len(),
                    role: "console".into(),
                    ..Default::default()
                })
                .await?;
                ep.join_ws(base, server::MEETING, server::DEMO_TOKEN)
                    .await?;
                ep.wait_connected(CONNECT_TIMEOUT).await?;
                anyhow::Ok(ep)
            }
            .await;
            match r {
                Ok(ep) => console = Some(ep),
                Err(e) => res.failures.push(format!("console: {e:#}")),
            }
        }
    }
    res.failed = res.failures.len();
    res.failures.truncate(5);
    res.joined = members.len();
    res.join_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "S2 {name}: {}/{n} endpoints in after {:.1} s, console {}{}",
        res.joined,
        res.join_secs,
        if console.is_some() { "in" } else { "FAILED" },
        res.failures
            .first()
            .map_or(String::new(), |f| format!("; first failure: {f}"))
    );

    let hub_video: HashSet<u32> = members[0]
        .publisher
        .layers
        .iter()
        .map(|&(_, s)| s)
        .collect();
    let hub_audio = members[0].publisher.audio_ssrc.unwrap_or(0);
    // tag → (member index, rid)
    let mut tag_of: HashMap<u32, (usize, &'static str)> = HashMap::new();
    for (m, mem) in members.iter().enumerate() {
        for &(rid, ssrc) in &mem.publisher.layers {
            tag_of.insert(ssrc, (m, rid));
        }
        if let Some(a) = mem.publisher.audio_ssrc {
            tag_of.insert(a, (m, "audio"));
        }
    }
    // Until every subscriber gets the hub's video (or 60 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = members[1..]
            .iter()
            .filter(|m| {
                m.rx().tracks.lock().unwrap().iter().any(|t| {
                    let t = t.lock().unwrap();
                    t.video && t.records.iter().any(|r| hub_video.contains(&r.tag))
                })
            })
            .count();
        if got == members.len() - 1 || Instant::now() > deadline {
            eprintln!(
                "S2 {name}: {got}/{} subscribers get the stage; settling {:.0} s",
                members.len() - 1,
                opts.settle_secs
            );
            break;
        }
        let mut eps: Vec<&Endpoint> = members.iter().map(Member::rx).collect();
        eps.extend(console.iter());
        trim(&eps);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let hog = opts.hog_cpu.map(crate::hog::Hog::start).transpose()?;
    tokio::time::sleep(Duration::from_secs_f64(opts.settle_secs)).await;

    // The window.
    let mut eps: Vec<&Endpoint> = members.iter().map(Member::rx).collect();
    eps.extend(console.iter());
    for e in &eps {
        for t in e.tracks.lock().unwrap().iter() {
            t.lock().unwrap().take();
        }
    }
    let window = Duration::from_secs_f64(opts.window_secs);
    let page0 = crate::s1::metrics_page(target).await;
    let owners = socket_owners(&[("server", server_pid), ("generator", std::process::id())]);
    let sampler = tokio::spawn(sample_udp(window));
    let threads0 = thread_ticks(server_pid);
    let sent_now = |m: &Member| {
        m.publisher.sent.video_packets.load(Ordering::Relaxed)
            + m.publisher.sent.audio_packets.load(Ordering::Relaxed)
    };
    let hub_sent0 = sent_now(&members[0]);
    let all_sent0: u64 = members.iter().map(sent_now).sum();
    let t0 = media::now_ns();
    let cpu = CpuMeter::start(server_pid);
    let me = CpuMeter::start(std::process::id());
    let machine = MachineMeter::start();
    let probe = tokio::spawn(async move {
        let end = Instant::now() + window;
        let (mut lags, mut rss_max) = (Vec::new(), 0u64);
        let mut k = 0u64;
        while Instant::now() < end {
            let due = Instant::now() + LAG_PROBE_PERIOD;
            tokio::time::sleep(LAG_PROBE_PERIOD).await;
            lags.push(Instant::now().saturating_duration_since(due).as_nanos() as u64);
            k += 1;
            if k.is_multiple_of(100) {
                rss_max = rss_max.max(server::rss_bytes(server_pid).unwrap_or(0));
            }
        }
        (lags, rss_max)
    });
    tokio::time::sleep(window).await;
    let t1 = media::now_ns();
    let (server_cpu_s, wall_s) = cpu.read();
    let (gen_cpu_s, _) = me.read();
    res.machine_busy_cores = machine.busy_cores();
    let rss = server::rss_bytes(server_pid).unwrap_or(0);
    res.hub_sent_pps = (sent_now(&members[0]) - hub_sent0) as f64 / wall_s;
    res.publishers_sent_pps =
        (members.iter().map(sent_now).sum::<u64>() - all_sent0) as f64 / wall_s;
    res.server_threads = busiest_threads(&threads0, &thread_ticks(server_pid), wall_s);
    let page1 = crate::s1::metrics_page(target).await;
    if let (Some(p0), Some(p1)) = (&page0, &page1) {
        if let (Some(a), Some(b)) = (datagram_counters(p0), datagram_counters(p1)) {
            res.server_datagrams_in = Some(b.0 - a.0);
            res.server_dropped_queue_full = Some(b.1 - a.1);
        }
        let quantile = |name: &str, q: f64| {
            let (a, b) = (histogram_buckets(p0, name), histogram_buckets(p1, name));
            histogram_quantile_ms(&a, &b, q)
        };
        res.server_transit_p50_ms = quantile(crate::s1::TRANSIT, 0.5);
        res.server_transit_p99_ms = quantile(crate::s1::TRANSIT, 0.99);
        res.server_transit_wait_p99_ms = quantile(crate::s1::TRANSIT_WAIT, 0.99);
    }
    let (mut lags, rss_max) = probe.await.unwrap_or_default();
    res.hog = hog.map(crate::hog::Hog::stop);
    if let Ok((queues, drops)) = sampler.await {
        res.udp_rcvbuf_drops = drops;
        res.udp_queues = queues
            .into_iter()
            .map(|(inode, mut q)| {
                q.owner = owners.get(&inode).cloned().unwrap_or_else(|| "?".into());
                q
            })
            .collect();
    }
    tokio::time::sleep(GRACE).await;
    let mib = |b: u64| b as f64 / 1048576.0;
    res.window_s = wall_s;
    res.server_cpu_cores = server_cpu_s / wall_s;
    res.server_rss_mib = mib(rss);
    res.server_rss_max_mib = mib(rss_max.max(rss));
    res.generator_cpu_cores = gen_cpu_s / wall_s;
    res.generator_lag_p99_ms = percentile_ms(&mut lags, 0.99);
    res.meets_cpu_target = res.server_cpu_cores <= TARGET_CPU_CORES;
    res.meets_rss_target = res.server_rss_max_mib <= TARGET_RSS_MIB;

    let in_win = |r: &Rec| r.sent_ns >= t0 && r.sent_ns <= t1;
    let rid = |tag: u32| tag_of.get(&tag).map_or("?", |x| x.1).to_string();
    let (mut stage_v, mut speaker_v, mut audio) =
        (KindAcc::default(), KindAcc::default(), KindAcc::default());
    let mut stage_audio_delays: Vec<u64> = Vec::new();
    let (mut stage_layers, mut speaker_layers) = (BTreeMap::new(), BTreeMap::new());
    let (mut speaker_src, mut audio_src) = (HashSet::new(), HashSet::new());
    let mut per_sub_p99: Vec<u64> = Vec::new();
    let mut received: u64 = 0;
    for m in &members[1..] {
        res.subscribers += 1;
        let tracks: Vec<_> = m.rx().tracks.lock().unwrap().clone();
        let (mut got_stage, mut got_speaker, mut audio_flowing) = (false, false, 0);
        let mut mine = KindAcc::default();
        let mut my_stage: Vec<u64> = Vec::new();
        for t in tracks {
            let (is_video, recs) = {
                let mut g = t.lock().unwrap();
                (g.video, g.take())
            };
            let win: Vec<Rec> = recs.iter().copied().filter(|r| in_win(r)).collect();
            if win.is_empty() {
                continue;
            }
            mine.add_track(
                &win,
                is_video,
                t0,
                t1,
                if is_video { 90_000.0 } else { 48_000.0 },
            );
            if is_video {
                let (hub_recs, other): (Vec<Rec>, Vec<Rec>) =
                    win.into_iter().partition(|r| hub_video.contains(&r.tag));
                if !hub_recs.is_empty() {
                    got_stage = true;
                    for r in &hub_recs {
                        *stage_layers.entry(rid(r.tag)).or_insert(0u64) += 1;
                        my_stage.push(r.arrival_ns.saturating_sub(r.sent_ns));
                    }
                    stage_v.add_track(&hub_recs, true, t0, t1, 90_000.0);
                } else {
                    got_speaker = true;
                    for r in &other {
                        *speaker_layers.entry(rid(r.tag)).or_insert(0u64) += 1;
                        if let Some(&(src, _)) = tag_of.get(&r.tag) {
                            speaker_src.insert(src);
                        }
                    }
                    speaker_v.add_track(&other, true, t0, t1, 90_000.0);
                }
            } else {
                audio_flowing += 1;
                for r in &win {
                    if let Some(&(src, _)) = tag_of.get(&r.tag) {
                        audio_src.insert(src);
                    }
                    if r.tag == hub_audio {
                        let d = r.arrival_ns.saturating_sub(r.sent_ns);
                        stage_audio_delays.push(d);
                        my_stage.push(d);
                    }
                }
                audio.add_track(&win, false, t0, t1, 48_000.0);
            }
        }
        let mine = mine.finish();
        received += mine.received;
        res.worst_subscriber_loss_pct = res.worst_subscriber_loss_pct.max(mine.loss_pct);
        if !my_stage.is_empty() {
            per_sub_p99.push((percentile_ms(&mut my_stage, 0.99) * 1e6) as u64);
        }
        res.receiving_stage += usize::from(got_stage);
        res.receiving_speaker += usize::from(got_speaker);
        res.receiving_3_audio += usize::from(audio_flowing >= 3);
    }
    res.worst_subscriber_stage_p99_ms = percentile_ms(&mut per_sub_p99, 1.0);
    res.median_subscriber_stage_p99_ms = percentile_ms(&mut per_sub_p99, 0.5);
    let mut stage_all: Vec<u64> = stage_v.delays().to_vec();
    stage_all.extend_from_slice(&stage_audio_delays);
    res.stage_delay_p50_ms = percentile_ms(&mut stage_all, 0.5);
    res.stage_delay_p99_ms = percentile_ms(&mut stage_all, 0.99);
    res.stage_audio_delay_p50_ms = percentile_ms(&mut stage_audio_delays, 0.5);
    res.stage_audio_delay_p99_ms = percentile_ms(&mut stage_audio_delays, 0.99);
    let mut all: Vec<u64> = stage_v.delays().to_vec();
    all.extend_from_slice(speaker_v.delays());
    all.extend_from_slice(audio.delays());
    res.delay_p50_ms = percentile_ms(&mut all, 0.5);
    res.delay_p99_ms = percentile_ms(&mut all, 0.99);
    res.stage_video = stage_v.finish();
    res.speaker_video = speaker_v.finish();
    res.audio = audio.finish();
    let (exp, lost) = [&res.stage_video, &res.speaker_video, &res.audio]
        .iter()
        .fold((0, 0), |(e, l), k| (e + k.expected, l + k.lost));
    res.loss_pct = if exp > 0 {
        100.0 * lost as f64 / exp as f64
    } else {
        100.0
    };
    res.stage_layers_pct = pct_map(stage_layers);
    res.speaker_layers_pct = pct_map(speaker_layers);
    res.speaker_sources_seen = speaker_src.len();
    res.audio_sources_seen = audio_src.len();

    if let Some(c) = &console {
        let tracks: Vec<_> = c.tracks.lock().unwrap().clone();
        let mut acc = KindAcc::default();
        let mut layers = BTreeMap::new();
        let mut seen = HashSet::new();
        for t in tracks {
            let recs = t.lock().unwrap().take();
            let win: Vec<Rec> = recs.into_iter().filter(|r| in_win(r)).collect();
            if !win.is_empty() {
                res.console_thumbnails_flowing += 1;
            }
            for r in &win {
                if let Some(&(src, rid)) = tag_of.get(&r.tag) {
                    seen.insert(src);
                    *layers.entry(rid.to_string()).or_insert(0u64) += 1;
                }
            }
            acc.add_track(&win, true, t0, t1, 90_000.0);
        }
        res.console_video = acc.finish();
        received += res.console_video.received;
        res.console_publishers_seen = seen.len();
        res.console_layers_pct = pct_map(layers);
    }
    res.forwarded_pps = received as f64 / wall_s.max(1e-9);
    if received > 0 {
        res.server_us_per_forwarded_packet = server_cpu_s * 1e6 / received as f64;
    }
    for m in &members {
        res.publisher_keyframes_on_request += m
            .publisher
            .sent
            .keyframes_on_request
            .load(Ordering::Relaxed);
        res.publisher_write_errors += m.publisher.sent.write_errors.load(Ordering::Relaxed);
    }
    if matches!(target, Target::Janus { .. }) {
        res.notes.push(
            "Janus has no active-speaker or loudest-N selection: fixed subscriptions (hub video+audio, first talker video+audio, second talker audio)".into(),
        );
    }
    if res.generator_cpu_cores > 0.8 * res.machine_busy_cores.max(1.0)
        || res.generator_lag_p99_ms > 10.0
    {
        res.notes.push(format!(
            "generator busy ({:.2} cores, timer lag p99 {:.1} ms, machine {:.2} cores busy): delays are partly the generator's",
            res.generator_cpu_cores, res.generator_lag_p99_ms, res.machine_busy_cores
        ));
    }
    if let (Some(p50), Some(p99)) = (res.server_transit_p50_ms, res.server_transit_p99_ms) {
        eprintln!(
            "S2 {name}: in the server (kernel receipt → copies sent) p50 {p50:.2} ms p99 {p99:.2} ms (until a worker took it: p99 {:.2} ms)",
            res.server_transit_wait_p99_ms.unwrap_or(0.0)
        );
    }
    eprintln!(
        "S2 {name}: server threads {:?}; datagrams in/queue-full drops {:?}/{:?}; namespace UDP rcvbuf drops {}",
        res.server_threads,
        res.server_datagrams_in,
        res.server_dropped_queue_full,
        res.udp_rcvbuf_drops
    );
    eprintln!(
        "S2 {name}: stage {}/{} (p50 {:.1} p99 {:.1} ms, video loss {:.3}%), speaker {} (sources {}), 3 audio {} (sources {}), loss {:.3}%; console {}/{} thumbnails ({} publishers, {:?}); server {:.2} cores, RSS {:.0} MiB (max {:.0}); generator {:.2} cores, lag p99 {:.1} ms; machine {:.2} cores",
        res.receiving_stage,
        res.subscribers,
        res.stage_delay_p50_ms,
        res.stage_delay_p99_ms,
        res.stage_video.loss_pct,
        res.receiving_speaker,
        res.speaker_sources_seen,
        res.receiving_3_audio,
        res.audio_sources_seen,
        res.loss_pct,
        res.console_thumbnails_flowing,
        res.console_video_slots,
        res.console_publishers_seen,
        res.console_layers_pct,
        res.server_cpu_cores,
        res.server_rss_mib,
        res.server_rss_max_mib,
        res.generator_cpu_cores,
        res.generator_lag_p99_ms,
        res.machine_busy_cores
    );

    talk.abort();
    if let Some(c) = console {
        c.close().await;
    }
    for m in members {
        if let Some(r) = m.receiver {
            r.close().await;
        }
        m.publisher.close().await;
    }
    Ok(res)
}
