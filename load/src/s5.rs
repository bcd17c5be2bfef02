//! Scenario S5, cascading (issue 8): the uplink of a province node with N
//! communes in a central meeting, tree relay versus every commune straight
//! to the top, and the delay one relay hop adds.
//!
//! Two diemcau processes in the harness's namespace share one SQLite store
//! (WAL): the top (`node_id = "top"`) and the province node (`"tinh"`, its
//! parent the top). The data is made through the top's API like an
//! operator would: an admin from `diemcau admin create`, a login, an API
//! token, the province node registered (its credential goes into the
//! province's config), a province unit with the hub endpoint, N commune
//! units with one endpoint each, a meeting with all of them, opened,
//! started, the hub on stage.
//!
//! The hub publishes at the top (VP8 simulcast q/h/f 100/300/1200 kbit/s +
//! Opus, voice active). Each commune joins with its own endpoint token,
//! publishes one small VP8 stream (one layer, `commune_video_kbps`) and
//! Opus marked silent (so the hub stays the loudest), and receives one
//! stage slot and one audio slot.
//!
//! - **star**: the communes join the top directly (the province node is not
//!   running yet). Uplink = every UDP payload byte between the communes and
//!   the top (webrtc-rs transport counters of the communes: sent = up,
//!   received = down). One hop: hub → top → commune.
//! - **tree**: the province node starts, its relay link comes up, the
//!   communes join the province node. Uplink = the province's relay link
//!   (`diemcau_relay_link_bytes_total` of its /metrics, UDP payload bytes,
//!   up and down). Two hops: hub → top → relay → province → commune.
//!
//! Delay is the hub's stage (video and audio) at the communes, one-way,
//! from the send time in each payload (the relay passes payloads unchanged).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{CONNECT_TIMEOUT, Endpoint, EndpointConfig};
use crate::http::{self, Api, metric};
use crate::media::{self, LayerSpec, default_layers};
use crate::server::{self, CpuMeter, NodeSpec, Server};
use crate::stats::{KindAcc, KindResult, Rec, percentile_ms};

const TOP_HTTP: u16 = 18080;
const TOP_MEDIA: u16 = 50000;
const TINH_HTTP: u16 = 18081;
/// A counting TCP forwarder in front of the top's HTTP port: the control
/// traffic that crosses the province's uplink goes through it (the
/// communes' WebSocket signalling in the star, the province node's hello
/// and 250 ms relay sync in the tree).
const TOP_FRONT: u16 = 18090;
const TINH_MEDIA: u16 = 50010;
const ADMIN: &str = "loadadmin";
/// Only for this run's throw-away store (≥ 10 characters).
const ADMIN_PASSWORD: &str = "diemcau-load-s5-admin";
/// Communes join this many at a time.
const JOIN_BATCH: usize = 25;
/// RFC 6464: V bit clear, -127 dBov: silence.
const SILENT: u8 = 127;

#[derive(Debug, Clone, Serialize)]
pub struct S5Options {
    pub communes: usize,
    pub window_secs: f64,
    pub settle_secs: f64,
    /// The communes' registered link profile (`fibre`, `4g`, `3g`, `vsat`).
    pub commune_link: String,
    /// The one VP8 stream each commune publishes, kbit/s (30 fps).
    pub commune_video_kbps: u32,
    /// The province node's relay budget (`cascade.uplink_kbps`).
    pub uplink_kbps: u32,
    pub workers: usize,
}

/// One topology over the window.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TopologyResult {
    pub topology: String,
    pub communes: usize,
    pub joined: usize,
    /// Communes that got the hub's stage video in the window.
    pub receiving_stage: usize,
    pub join_secs: f64,
    /// What crosses the province's uplink, Mbit/s of UDP payload: the relay
    /// link (tree) or every commune's traffic with the top (star).
    pub uplink_up_mbps: f64,
    pub uplink_down_mbps: f64,
    /// Tree only: the communes' traffic with the province node (stays in
    /// the province), Mbit/s.
    pub local_up_mbps: Option<f64>,
    pub local_down_mbps: Option<f64>,
    /// TCP (HTTP, WebSocket) bytes over the uplink, through the counting
    /// forwarder in front of the top, Mbit/s: up = towards the top.
    pub control_up_mbps: f64,
    pub control_down_mbps: f64,
    /// The hub's stage at the communes.
    pub stage_video: KindResult,
    pub stage_audio: KindResult,
    /// Video and audio together.
    pub delay_p50_ms: f64,
    pub delay_p99_ms: f64,
    /// Per stage video packet, its earliest arrival at any commune: the
    /// delay up to the fan-out towards the communes (top → relay → province
    /// room in the tree), without the fan-out's own queueing, ms.
    pub first_commune_video_p50_ms: f64,
    pub first_commune_video_p99_ms: f64,
    /// Share of the hub's stage video packets per layer (rid → %).
    pub stage_layers_pct: Vec<(String, f64)>,
    pub top_cpu_cores: f64,
    pub province_cpu_cores: Option<f64>,
    /// The harness itself (every webrtc-rs endpoint), cores.
    pub generator_cpu_cores: f64,
    /// The whole machine over the window (all processes, a CI run
    /// included), % of all cores busy.
    pub machine_busy_pct: f64,
    /// UDP sockets of the namespace with a receive queue or drops during
    /// the window, deepest first (at most 8): whose, port, deepest and mean
    /// receive queue (bytes, sampled every 100 ms) and drops (buffer full).
    pub udp_queues: Vec<SockQueue>,
    /// Every socket of the namespace: datagrams dropped for a full receive
    /// buffer during the window.
    pub udp_rcvbuf_drops: u64,
    /// Tree only: the province's uplink while an operator at the top
    /// watches the meeting on a console (thumbnails of the rooms below go
    /// up, at most 8 per link), Mbit/s, and the console's video streams
    /// that flowed (its stage, the hub and the thumbnails from below).
    pub watched_uplink_up_mbps: Option<f64>,
    pub watched_uplink_down_mbps: Option<f64>,
    pub watched_console_videos: Option<usize>,
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SockQueue {
    pub owner: String,
    pub port: u16,
    pub max_rx_queue_bytes: u64,
    pub mean_rx_queue_bytes: f64,
    pub drops: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct S5Result {
    pub star: Option<TopologyResult>,
    pub tree: Option<TopologyResult>,
    /// Star over tree, uplink Mbit/s each way.
    pub up_ratio_star_over_tree: Option<f64>,
    pub down_ratio_star_over_tree: Option<f64>,
    /// The same with the control traffic (TCP) added on both sides.
    pub total_up_ratio_star_over_tree: Option<f64>,
    pub total_down_ratio_star_over_tree: Option<f64>,
    /// Tree minus star: what the relay hop adds, ms.
    pub added_delay_p50_ms: Option<f64>,
    pub added_delay_p99_ms: Option<f64>,
    pub added_video_delay_p50_ms: Option<f64>,
    pub added_video_delay_p99_ms: Option<f64>,
    pub notes: Vec<String>,
}

/// What the set-up made.
struct World {
    meeting: String,
    hub_id: String,
    hub_token: String,
    communes: Vec<(String, String)>,
    api: Api,
    credential: String,
}

fn shared_db(tmp: &Path) -> String {
    format!("sqlite://{}?mode=rwc", tmp.join("s5-shared.db").display())
}

fn top_spec(tmp: &Path, workers: usize) -> NodeSpec {
    NodeSpec {
        http_port: TOP_HTTP,
        https_port: None,
        media_port: TOP_MEDIA,
        advertise: "127.0.0.1".into(),
        workers,
        extra_config: format!(
            "[cascade]\nnode_id = \"top\"\nname = \"Trung ương\"\n[database]\nurl = \"{}\"\n",
            shared_db(tmp)
        ),
        args: vec!["serve".into()],
    }
}

fn province_spec(tmp: &Path, opts: &S5Options, credential: &str) -> NodeSpec {
    NodeSpec {
        http_port: TINH_HTTP,
        https_port: None,
        media_port: TINH_MEDIA,
        advertise: "127.0.0.1".into(),
        workers: opts.workers,
        extra_config: format!(
            "[cascade]\nnode_id = \"tinh\"\nname = \"Tỉnh ủy\"\nparent = \"http://127.0.0.1:{TOP_FRONT}\"\n\
             credential = \"{credential}\"\nuplink_kbps = {}\n[database]\nurl = \"{}\"\n",
            opts.uplink_kbps,
            shared_db(tmp)
        ),
        args: vec!["serve".into()],
    }
}

/// Run S5: star first (the province node not running), then tree.
pub async fn run(bin: &Path, tmp: &Path, opts: &S5Options) -> anyhow::Result<S5Result> {
    let top_dir = tmp.join("s5-top");
    let spec = top_spec(tmp, opts.workers);
    tokio::task::block_in_place(|| {
        server::admin_create(bin, &top_dir, &spec, ADMIN, ADMIN_PASSWORD)
    })?;
    let top = tokio::task::block_in_place(|| Server::start_node(bin, &top_dir, &spec))?;
    eprintln!("S5: top pid {} at {}", top.pid, top.base);
    let res = with_top(bin, tmp, opts, &top).await;
    top.stop();
    res
}

async fn with_top(
    bin: &Path,
    tmp: &Path,
    opts: &S5Options,
    top: &Server,
) -> anyhow::Result<S5Result> {
    let t = Instant::now();
    let w = set_up(&top.base, opts).await.context("S5 set-up")?;
    eprintln!(
        "S5: meeting {} with {} communes set up in {:.1} s",
        w.meeting,
        w.communes.len(),
        t.elapsed().as_secs_f64()
    );
    let mut hub = Endpoint::new(&EndpointConfig {
        name: "hub".into(),
        publish: Some(default_layers()),
        role: "room".into(),
        ..Default::default()
    })
    .await?;
    hub.join_ws(&top.base, &w.meeting, &w.hub_token)
        .await
        .context("hub join")?;
    hub.wait_connected(CONNECT_TIMEOUT).await?;
    w.api
        .post(
            &format!("/api/v1/meetings/{}/live/stage", w.meeting),
            json!({"endpoint_ids": [w.hub_id]}),
        )
        .await
        .context("put the hub on stage")?;
    let mut out = S5Result::default();
    let front = TcpCounter::start(TOP_FRONT, ([127, 0, 0, 1], TOP_HTTP).into()).await?;
    let front_base = format!("http://127.0.0.1:{TOP_FRONT}");

    eprintln!("S5 star: {} communes join the top", w.communes.len());
    let nodes = |province| Nodes {
        top_pid: top.pid,
        province,
        front: &front,
    };
    let star = topology("star", &front_base, &w, &hub, opts, nodes(None)).await;
    match star {
        Ok(s) => out.star = Some(s),
        Err(e) => {
            eprintln!("S5 star failed: {e:#}");
            out.notes.push(format!("star failed: {e:#}"));
        }
    }

    let dir = tmp.join("s5-tinh");
    let spec = province_spec(tmp, opts, &w.credential);
    let tinh = tokio::task::block_in_place(|| Server::start_node(bin, &dir, &spec))?;
    eprintln!("S5: province node pid {} at {}", tinh.pid, tinh.base);
    let tree = async {
        wait_link_up(&tinh.base, &w.meeting).await?;
        eprintln!(
            "S5 tree: relay link up; {} communes join the province",
            w.communes.len()
        );
        topology("tree", &tinh.base, &w, &hub, opts, nodes(Some(tinh.pid))).await
    }
    .await;
    tinh.stop();
    match tree {
        Ok(t) => out.tree = Some(t),
        Err(e) => {
            eprintln!("S5 tree failed: {e:#}");
            out.notes.push(format!("tree failed: {e:#}"));
        }
    }
    hub.close().await;
    if let (Some(s), Some(t)) = (&out.star, &out.tree) {
        let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        out.up_ratio_star_over_tree = ratio(s.uplink_up_mbps, t.uplink_up_mbps);
        out.down_ratio_star_over_tree = ratio(s.uplink_down_mbps, t.uplink_down_mbps);
        out.total_up_ratio_star_over_tree = ratio(
            s.uplink_up_mbps + s.control_up_mbps,
            t.uplink_up_mbps + t.control_up_mbps,
        );
        out.total_down_ratio_star_over_tree = ratio(
            s.uplink_down_mbps + s.control_down_mbps,
            t.uplink_down_mbps + t.control_down_mbps,
        );
        out.added_delay_p50_ms = Some(t.delay_p50_ms - s.delay_p50_ms);
        out.added_delay_p99_ms = Some(t.delay_p99_ms - s.delay_p99_ms);
        out.added_video_delay_p50_ms =
            Some(t.stage_video.delay_p50_ms - s.stage_video.delay_p50_ms);
        out.added_video_delay_p99_ms =
            Some(t.stage_video.delay_p99_ms - s.stage_video.delay_p99_ms);
    }
    Ok(out)
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> anyhow::Result<&'a str> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("no {ptr} in {v}"))
}

/// Admin login → API token → the province node, units, endpoints and a
/// live meeting, all through the top's API.
async fn set_up(base: &str, opts: &S5Options) -> anyhow::Result<World> {
    let session = http::login(base, ADMIN, ADMIN_PASSWORD).await?;
    let made = http::request(
        base,
        "POST",
        "/api/v1/auth/tokens",
        &session.headers(),
        Some(&json!({"label": "diemcau-load S5"})),
    )
    .await?;
    if made.status != 201 {
        bail!("API token: {} {}", made.status, made.body);
    }
    let api = Api {
        base: base.to_string(),
        bearer: str_at(&made.json()?, "/secret")?.to_string(),
    };
    let node = api
        .post(
            "/api/v1/cascade/nodes",
            json!({"id": "tinh", "name": "Tỉnh ủy (nút tỉnh)"}),
        )
        .await?;
    let credential = str_at(&node, "/credential")?.to_string();
    let on = "2020-01-01";
    let province = api
        .post(
            "/api/v1/org/units",
            json!({"code": "P", "name": "Tỉnh Thử Tải", "kind": "province", "parent_id": null, "on": on}),
        )
        .await?;
    let province = str_at(&province, "/id")?.to_string();
    let hub = api
        .post(
            "/api/v1/endpoints",
            json!({"name": "Hội trường Tỉnh ủy", "link": "fibre", "unit_id": province}),
        )
        .await?;
    let hub_id = str_at(&hub, "/endpoint/id")?.to_string();
    let hub_token = str_at(&hub, "/token")?.to_string();
    let mut communes = Vec::with_capacity(opts.communes);
    for i in 0..opts.communes {
        let unit = api
            .post(
                "/api/v1/org/units",
                json!({"code": format!("X{i:03}"), "name": format!("Xã Thử {i:03}"),
                       "kind": "commune", "parent_id": province, "on": on}),
            )
            .await?;
        let ep = api
            .post(
                "/api/v1/endpoints",
                json!({"name": format!("Điểm cầu xã Thử {i:03}"), "link": opts.commune_link,
                       "unit_id": str_at(&unit, "/id")?}),
            )
            .await?;
        communes.push((
            str_at(&ep, "/endpoint/id")?.to_string(),
            str_at(&ep, "/token")?.to_string(),
        ));
    }
    let start = unix_ms() + 60_000;
    let ids: Vec<&str> = communes.iter().map(|(id, _)| id.as_str()).collect();
    let m = api
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị trực tuyến toàn quốc (tải thử liên kết tầng)",
                "kind": "quan_triet",
                "starts_at_ms": start,
                "ends_at_ms": start + 3_600_000,
                "hub_endpoint_id": hub_id,
                "endpoint_ids": ids,
            }),
        )
        .await?;
    let meeting = str_at(&m, "/meetings/0/id")?.to_string();
    for step in ["open", "start"] {
        api.post(&format!("/api/v1/meetings/{meeting}/{step}"), json!({}))
            .await?;
    }
    Ok(World {
        meeting,
        hub_id,
        hub_token,
        communes,
        api,
        credential,
    })
}

async fn metrics(base: &str) -> anyhow::Result<String> {
    let r = http::request(
        &crate::server::metrics_base(base),
        "GET",
        "/metrics",
        &[],
        None,
    )
    .await?;
    if r.status != 200 {
        bail!("/metrics: {} {}", r.status, r.body);
    }
    Ok(r.body)
}

/// (bytes up, bytes down) of the province's relay link for `meeting`.
async fn relay_bytes(base: &str, meeting: &str) -> anyhow::Result<(f64, f64)> {
    let m = metrics(base).await?;
    let get = |dir: &str| {
        metric(
            &m,
            &format!("diemcau_relay_link_bytes_total{{meeting=\"{meeting}\",direction=\"{dir}\"}}"),
        )
        .ok_or_else(|| anyhow!("no relay link bytes ({dir}) for {meeting} in /metrics"))
    };
    Ok((get("up")?, get("down")?))
}

async fn wait_link_up(base: &str, meeting: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let key = format!("diemcau_relay_link_up{{meeting=\"{meeting}\"}}");
    loop {
        if let Ok(m) = metrics(base).await
            && metric(&m, &key) == Some(1.0)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the province's relay link for {meeting} not up within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn commune_layer(kbps: u32) -> LayerSpec {
    LayerSpec {
        rid: "q",
        kbps,
        width: 320,
        height: 180,
    }
}

async fn join_commune(
    base: &str,
    meeting: &str,
    i: usize,
    token: &str,
    opts: &S5Options,
) -> anyhow::Result<Endpoint> {
    let mut ep = Endpoint::new(&EndpointConfig {
        name: format!("commune-{i:03}"),
        publish: Some(vec![commune_layer(opts.commune_video_kbps)]),
        recv_video: 1,
        recv_audio: 1,
        role: "room".into(),
        audio_level: Some(SILENT),
        ..Default::default()
    })
    .await?;
    ep.join_ws(base, meeting, token).await?;
    ep.wait_connected(CONNECT_TIMEOUT).await?;
    Ok(ep)
}

async fn sum_bytes(eps: &[Endpoint]) -> (u64, u64) {
    let mut s = (0, 0);
    for e in eps {
        let (a, b) = e.transport_bytes().await;
        s.0 += a;
        s.1 += b;
    }
    s
}

fn mbps(bytes: f64, secs: f64) -> f64 {
    bytes * 8.0 / secs / 1e6
}

/// The communes join `base`, settle, and one window is measured.
async fn topology(
    name: &str,
    base: &str,
    w: &World,
    hub: &Endpoint,
    opts: &S5Options,
    nodes: Nodes<'_>,
) -> anyhow::Result<TopologyResult> {
    let Nodes {
        top_pid,
        province,
        front,
    } = nodes;
    let mut res = TopologyResult {
        topology: name.into(),
        communes: w.communes.len(),
        ..Default::default()
    };
    let t = Instant::now();
    let mut communes = Vec::new();
    for (b, batch) in w.communes.chunks(JOIN_BATCH).enumerate() {
        let joins = batch
            .iter()
            .enumerate()
            .map(|(k, (_, token))| join_commune(base, &w.meeting, b * JOIN_BATCH + k, token, opts));
        for r in futures_util::future::join_all(joins).await {
            match r {
                Ok(ep) => communes.push(ep),
                Err(e) => res.failures.push(format!("{e:#}")),
            }
        }
    }
    res.joined = communes.len();
    res.join_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "S5 {name}: {}/{} communes in after {:.1} s{}",
        res.joined,
        res.communes,
        res.join_secs,
        if res.failures.is_empty() {
            String::new()
        } else {
            format!("; first failure: {}", res.failures[0])
        }
    );
    let hub_video: HashSet<u32> = hub.layers.iter().map(|&(_, s)| s).collect();
    let hub_audio = hub.audio_ssrc.unwrap_or(0);
    // Until every commune gets the hub's stage (or 30 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = communes
            .iter()
            .filter(|c| {
                c.tracks.lock().unwrap().iter().any(|t| {
                    let t = t.lock().unwrap();
                    t.video && t.records.iter().any(|r| hub_video.contains(&r.tag))
                })
            })
            .count();
        if n == communes.len() || Instant::now() > deadline {
            eprintln!(
                "S5 {name}: {n}/{} communes get the hub's stage; settling {:.0} s",
                communes.len(),
                opts.settle_secs
            );
            break;
        }
        for c in &communes {
            for t in c.tracks.lock().unwrap().iter() {
                let mut t = t.lock().unwrap();
                // Keep the last arrivals only: enough to see the stage.
                let n = t.records.len();
                if n > 2_000 {
                    t.records.drain(..n - 200);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs_f64(opts.settle_secs)).await;

    let relay0 = match province {
        Some(_) => Some(relay_bytes(base, &w.meeting).await?),
        None => None,
    };
    let local0 = sum_bytes(&communes).await;
    let tcp0 = front.bytes();
    let top_cpu = CpuMeter::start(top_pid);
    let prov_cpu = province.map(CpuMeter::start);
    let gen_cpu = CpuMeter::start(std::process::id());
    let busy0 = machine_ticks();
    for c in &communes {
        for t in c.tracks.lock().unwrap().iter() {
            t.lock().unwrap().take();
        }
    }
    let owners = socket_owners(&[
        ("top", top_pid),
        ("province", province.unwrap_or(0)),
        ("generator", std::process::id()),
    ]);
    let t0 = media::now_ns();
    let w0 = Instant::now();
    let sampler = tokio::spawn(sample_udp(Duration::from_secs_f64(opts.window_secs)));
    tokio::time::sleep(Duration::from_secs_f64(opts.window_secs)).await;
    let t1 = media::now_ns();
    if let Ok((queues, drops)) = sampler.await {
        res.udp_rcvbuf_drops = drops;
        res.udp_queues = queues
            .into_iter()
            .map(|(inode, mut q)| {
                q.owner = owners
                    .get(&inode)
                    .cloned()
                    .unwrap_or_else(|| "?".to_string());
                q
            })
            .collect();
    }
    let local1 = sum_bytes(&communes).await;
    let tcp1 = front.bytes();
    let relay1 = match province {
        Some(_) => Some(relay_bytes(base, &w.meeting).await?),
        None => None,
    };
    let secs = w0.elapsed().as_secs_f64();
    res.top_cpu_cores = {
        let (c, wall) = top_cpu.read();
        c / wall
    };
    res.generator_cpu_cores = {
        let (c, wall) = gen_cpu.read();
        c / wall
    };
    if let (Some((b0, t0)), Some((b1, t1))) = (busy0, machine_ticks()) {
        res.machine_busy_pct = 100.0 * (b1 - b0) as f64 / (t1 - t0).max(1) as f64;
    }
    res.province_cpu_cores = prov_cpu.map(|m| {
        let (c, wall) = m.read();
        c / wall
    });
    res.control_up_mbps = mbps((tcp1.0 - tcp0.0) as f64, secs);
    res.control_down_mbps = mbps((tcp1.1 - tcp0.1) as f64, secs);
    let local_up = mbps((local1.0 - local0.0) as f64, secs);
    let local_down = mbps((local1.1 - local0.1) as f64, secs);
    match (relay0, relay1) {
        (Some(a), Some(b)) => {
            res.uplink_up_mbps = mbps(b.0 - a.0, secs);
            res.uplink_down_mbps = mbps(b.1 - a.1, secs);
            res.local_up_mbps = Some(local_up);
            res.local_down_mbps = Some(local_down);
        }
        _ => {
            res.uplink_up_mbps = local_up;
            res.uplink_down_mbps = local_down;
        }
    }
    // Late and repaired packets still count.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let rid_of: std::collections::HashMap<u32, &str> =
        hub.layers.iter().map(|&(r, s)| (s, r)).collect();
    let mut layer_pkts: std::collections::BTreeMap<String, u64> = Default::default();
    let (mut video, mut audio) = (KindAcc::default(), KindAcc::default());
    let mut earliest: std::collections::HashMap<(u32, u64), u64> = Default::default();
    for c in &communes {
        let tracks: Vec<_> = c.tracks.lock().unwrap().clone();
        let mut got_stage = false;
        for t in tracks {
            let (is_video, recs) = {
                let mut g = t.lock().unwrap();
                (g.video, g.take())
            };
            let hub_recs: Vec<Rec> = recs
                .into_iter()
                .filter(|r| {
                    if is_video {
                        hub_video.contains(&r.tag)
                    } else {
                        r.tag == hub_audio
                    }
                })
                .collect();
            if is_video {
                let in_window: Vec<&Rec> = hub_recs
                    .iter()
                    .filter(|r| r.sent_ns >= t0 && r.sent_ns <= t1)
                    .collect();
                got_stage |= !in_window.is_empty();
                for r in in_window {
                    let d = r.arrival_ns.saturating_sub(r.sent_ns);
                    earliest
                        .entry((r.tag, r.sent_ns))
                        .and_modify(|e| *e = (*e).min(d))
                        .or_insert(d);
                    let rid = rid_of.get(&r.tag).copied().unwrap_or("?");
                    *layer_pkts.entry(rid.to_string()).or_default() += 1;
                }
                video.add_track(&hub_recs, true, t0, t1, 90_000.0);
            } else {
                audio.add_track(&hub_recs, false, t0, t1, 48_000.0);
            }
        }
        if got_stage {
            res.receiving_stage += 1;
        }
    }
    let mut first: Vec<u64> = earliest.into_values().collect();
    res.first_commune_video_p50_ms = percentile_ms(&mut first, 0.50);
    res.first_commune_video_p99_ms = percentile_ms(&mut first, 0.99);
    let mut all: Vec<u64> = video.delays().to_vec();
    all.extend_from_slice(audio.delays());
    res.delay_p50_ms = percentile_ms(&mut all, 0.50);
    res.delay_p99_ms = percentile_ms(&mut all, 0.99);
    res.stage_video = video.finish();
    res.stage_audio = audio.finish();
    let total: u64 = layer_pkts.values().sum();
    res.stage_layers_pct = layer_pkts
        .into_iter()
        .map(|(k, v)| (k, 100.0 * v as f64 / total.max(1) as f64))
        .collect();
    eprintln!(
        "S5 {name}: uplink {:.2} Mbit/s up, {:.2} down; stage delay p50 {:.1} ms, p99 {:.1} ms",
        res.uplink_up_mbps, res.uplink_down_mbps, res.delay_p50_ms, res.delay_p99_ms
    );
    if province.is_some() {
        watched(w, base, opts, &mut res).await?;
    }
    for c in communes {
        c.close().await;
    }
    Ok(res)
}

/// Tree: an operator at the top opens the meeting on a console; the
/// province's uplink while thumbnails of its rooms go up to it.
async fn watched(
    w: &World,
    province_base: &str,
    opts: &S5Options,
    res: &mut TopologyResult,
) -> anyhow::Result<()> {
    let mut console = Endpoint::new(&EndpointConfig {
        name: "console".into(),
        publish: None,
        // The stage, the hub's thumbnail and up to 8 from the link, spare.
        recv_video: 12,
        recv_audio: 1,
        role: "console".into(),
        ..Default::default()
    })
    .await?;
    console
        .join_ws(&w.api.base, &w.meeting, &w.api.bearer)
        .await
        .context("the console at the top")?;
    console.wait_connected(CONNECT_TIMEOUT).await?;
    tokio::time::sleep(Duration::from_secs_f64(opts.settle_secs)).await;
    let a = relay_bytes(province_base, &w.meeting).await?;
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(opts.window_secs / 2.0)).await;
    let b = relay_bytes(province_base, &w.meeting).await?;
    let secs = t.elapsed().as_secs_f64();
    res.watched_uplink_up_mbps = Some(mbps(b.0 - a.0, secs));
    res.watched_uplink_down_mbps = Some(mbps(b.1 - a.1, secs));
    let videos = console
        .tracks
        .lock()
        .unwrap()
        .iter()
        .filter(|t| {
            let t = t.lock().unwrap();
            t.video && !t.records.is_empty()
        })
        .count();
    res.watched_console_videos = Some(videos);
    eprintln!(
        "S5 tree, a console watching at the top: uplink {:.2} Mbit/s up, {:.2} down; console receives {videos} videos",
        mbps(b.0 - a.0, secs),
        mbps(b.1 - a.1, secs)
    );
    console.close().await;
    Ok(())
}

/// (busy, total) clock ticks of all cores from `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// (inode, local port, rx_queue bytes, drops) of every UDP socket in this
/// namespace (`/proc/net/udp`).
fn udp_sockets() -> Vec<(u64, u16, u64, u64)> {
    let Ok(text) = std::fs::read_to_string("/proc/net/udp") else {
        return vec![];
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            let rx = u64::from_str_radix(f.get(4)?.split(':').nth(1)?, 16).ok()?;
            let inode = f.get(9)?.parse().ok()?;
            let drops = f.get(12)?.parse().ok()?;
            Some((inode, port, rx, drops))
        })
        .collect()
}

/// Socket inode → the name of the process that holds it.
pub(crate) fn socket_owners(procs: &[(&str, u32)]) -> std::collections::HashMap<u64, String> {
    let mut m = std::collections::HashMap::new();
    for &(name, pid) in procs {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && let Some(inode) = target
                    .to_str()
                    .and_then(|t| t.strip_prefix("socket:["))
                    .and_then(|t| t.strip_suffix(']'))
                    .and_then(|t| t.parse::<u64>().ok())
            {
                m.insert(inode, name.to_string());
            }
        }
    }
    m
}

/// Sample the namespace's UDP receive queues every 100 ms for `span`:
/// the deepest sockets (by inode) and the drops of all sockets.
pub(crate) async fn sample_udp(span: Duration) -> (Vec<(u64, SockQueue)>, u64) {
    let first = udp_sockets();
    let mut acc: std::collections::HashMap<u64, (SockQueue, u64, u64)> = first
        .iter()
        .map(|&(inode, port, _, drops)| {
            let q = SockQueue {
                owner: String::new(),
                port,
                max_rx_queue_bytes: 0,
                mean_rx_queue_bytes: 0.0,
                drops: 0,
            };
            (inode, (q, drops, 0))
        })
        .collect();
    let end = Instant::now() + span;
    let mut samples = 0u64;
    while Instant::now() < end {
        samples += 1;
        for (inode, port, rx, drops) in udp_sockets() {
            let e = acc.entry(inode).or_insert_with(|| {
                (
                    SockQueue {
                        owner: String::new(),
                        port,
                        max_rx_queue_bytes: 0,
                        mean_rx_queue_bytes: 0.0,
                        drops: 0,
                    },
                    drops,
                    0,
                )
            });
            e.0.max_rx_queue_bytes = e.0.max_rx_queue_bytes.max(rx);
            e.0.drops = drops.saturating_sub(e.1);
            e.2 += rx;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total_drops = acc.values().map(|e| e.0.drops).sum();
    let mut v: Vec<(u64, SockQueue)> = acc
        .into_iter()
        .map(|(inode, (mut q, _, sum))| {
            q.mean_rx_queue_bytes = sum as f64 / samples.max(1) as f64;
            (inode, q)
        })
        .filter(|(_, q)| q.max_rx_queue_bytes > 0 || q.drops > 0)
        .collect();
    v.sort_by_key(|b| std::cmp::Reverse(b.1.max_rx_queue_bytes));
    v.truncate(8);
    (v, total_drops)
}

/// The processes a topology runs on and the counter of the uplink's TCP.
#[derive(Clone, Copy)]
struct Nodes<'a> {
    top_pid: u32,
    province: Option<u32>,
    front: &'a TcpCounter,
}

/// A TCP forwarder on 127.0.0.1:`port` to `target` that counts the bytes
/// each way (up: client → target). Its task ends with the runtime.
pub struct TcpCounter {
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl TcpCounter {
    async fn start(port: u16, target: SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("bind the counting forwarder on {port}"))?;
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (u, d) = (up.clone(), down.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (u, d) = (u.clone(), d.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, u), pump(sr, cw, d));
                });
            }
        });
        Ok(Self { up, down })
    }

    /// (up, down) bytes so far.
    fn bytes(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
        )
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Arc<AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n as u64, Ordering::Relaxed);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}
