//! The JSON document of one run and its human summary.

use serde::Serialize;

use crate::bare::BareResult;
use crate::machine::MachineInfo;
use crate::s1::{S1Options, S1Result};
use crate::s2::{S2Options, S2Result};
use crate::s3::{S3Options, S3Result};
use crate::s4::{S4Options, S4Result};
use crate::s5::{S5Options, S5Result};

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub kind: String,
    pub started_utc: String,
    pub machine: MachineInfo,
    pub bare: Option<BareResult>,
    pub s1_diemcau: Option<S1Report>,
    pub s1_janus: Option<S1Report>,
    pub s3_diemcau: Option<S3Report>,
    pub s3_janus: Option<S3Report>,
    pub s4_diemcau: Option<S4Report>,
    pub s5_diemcau: Option<S5Report>,
    pub s2_diemcau: Option<S2Report>,
    pub s2_janus: Option<S2Report>,
    pub s6_diemcau: Option<S6Report>,
    /// Chromium viewer joins, one after another (`diemcau-load joins`).
    pub chromium_diemcau: Option<crate::chromium::ChromiumJoinResult>,
    pub chromium_janus: Option<crate::chromium::ChromiumJoinResult>,
    /// S2 diemcau / Janus.
    pub s2_comparison: Option<S2Comparison>,
    /// The ratios, from the figures above (None: a side is missing).
    pub comparison: Option<Comparison>,
    /// How Janus was configured, recorded beside its figures.
    pub janus_config: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct S4Report {
    pub options: S4Options,
    pub result: S4Result,
}

#[derive(Debug, Serialize)]
pub struct S2Report {
    pub options: S2Options,
    pub result: S2Result,
}

/// S2, diemcau over Janus (< 1: diemcau uses less / is faster).
#[derive(Debug, Serialize)]
pub struct S2Comparison {
    pub server_cpu_diemcau_over_janus: Option<f64>,
    pub server_rss_max_diemcau_over_janus: Option<f64>,
    pub stage_delay_p50_diemcau_over_janus: Option<f64>,
    pub stage_delay_p99_diemcau_over_janus: Option<f64>,
    pub delay_p99_diemcau_over_janus: Option<f64>,
    pub cpu_per_packet_diemcau_over_janus: Option<f64>,
}

pub fn compare_s2(run: &RunReport) -> Option<S2Comparison> {
    let d = &run.s2_diemcau.as_ref()?.result;
    let j = &run.s2_janus.as_ref()?.result;
    let r = |a: f64, b: f64| ratio(Some(a), Some(b));
    Some(S2Comparison {
        server_cpu_diemcau_over_janus: r(d.server_cpu_cores, j.server_cpu_cores),
        server_rss_max_diemcau_over_janus: r(d.server_rss_max_mib, j.server_rss_max_mib),
        stage_delay_p50_diemcau_over_janus: r(d.stage_delay_p50_ms, j.stage_delay_p50_ms),
        stage_delay_p99_diemcau_over_janus: r(d.stage_delay_p99_ms, j.stage_delay_p99_ms),
        delay_p99_diemcau_over_janus: r(d.delay_p99_ms, j.delay_p99_ms),
        cpu_per_packet_diemcau_over_janus: r(
            d.server_us_per_forwarded_packet,
            j.server_us_per_forwarded_packet,
        ),
    })
}

#[derive(Debug, Serialize)]
pub struct S5Report {
    pub options: S5Options,
    pub result: S5Result,
}

#[derive(Debug, Serialize)]
pub struct S3Report {
    pub options: S3Options,
    pub result: S3Result,
}

#[derive(Debug, Serialize, Default)]
pub struct Comparison {
    pub diemcau_max_n_passing: usize,
    pub janus_max_n_passing: Option<usize>,
    pub diemcau_subscribers_per_core: Option<f64>,
    pub janus_subscribers_per_core: Option<f64>,
    pub subscribers_per_core_diemcau_over_janus: Option<f64>,
    pub diemcau_ns_per_forwarded_packet: Option<f64>,
    pub janus_ns_per_forwarded_packet: Option<f64>,
    pub bare_ns_per_forwarded_packet: Option<f64>,
    pub cost_per_packet_diemcau_over_bare: Option<f64>,
    pub cost_per_packet_diemcau_over_janus: Option<f64>,
    pub cost_per_packet_janus_over_bare: Option<f64>,
    pub rss_per_subscriber_kib_diemcau: Option<f64>,
    pub rss_per_subscriber_kib_janus: Option<f64>,
    pub rss_per_subscriber_diemcau_over_janus: Option<f64>,
    pub p99_delay_ms_diemcau_at_best: Option<f64>,
    pub p99_delay_ms_janus_at_best: Option<f64>,
    pub join_p50_ms_diemcau: Option<f64>,
    pub join_p50_ms_janus: Option<f64>,
    /// p99 delay each server adds at its half load (`S1Result::half_load`,
    /// the peer-to-peer baseline subtracted).
    pub half_load_added_delay_p99_ms_diemcau: Option<f64>,
    pub half_load_added_delay_p99_ms_janus: Option<f64>,
    /// diemcau's own count of a packet's time inside it at its half load
    /// (p99): what of the added delay is the server's.
    pub half_load_server_transit_p99_ms_diemcau: Option<f64>,
}

fn best(s: &S1Result) -> Option<&crate::s1::StepResult> {
    s.steps.iter().filter(|x| x.pass).max_by_key(|x| x.n)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// The ratios the issue asks for, at each server's largest passing N.
pub fn compare(run: &RunReport) -> Option<Comparison> {
    let d = &run.s1_diemcau.as_ref()?.result;
    let j = run.s1_janus.as_ref().map(|j| &j.result);
    let (db, jb) = (best(d), j.and_then(best));
    let bare = run.bare.as_ref().map(|b| b.relay_ns_per_packet);
    let dns = db.map(|s| s.server_ns_per_forwarded_packet);
    let jns = jb.map(|s| s.server_ns_per_forwarded_packet);
    let jspc = j.and_then(|j| j.max_subscribers_per_core);
    let jrss = j.and_then(|j| j.rss_per_subscriber_kib);
    Some(Comparison {
        diemcau_max_n_passing: d.max_n_passing,
        janus_max_n_passing: j.map(|j| j.max_n_passing),
        diemcau_subscribers_per_core: d.max_subscribers_per_core,
        janus_subscribers_per_core: jspc,
        subscribers_per_core_diemcau_over_janus: ratio(d.max_subscribers_per_core, jspc),
        diemcau_ns_per_forwarded_packet: dns,
        janus_ns_per_forwarded_packet: jns,
        bare_ns_per_forwarded_packet: bare,
        cost_per_packet_diemcau_over_bare: ratio(dns, bare),
        cost_per_packet_diemcau_over_janus: ratio(dns, jns),
        cost_per_packet_janus_over_bare: ratio(jns, bare),
        rss_per_subscriber_kib_diemcau: d.rss_per_subscriber_kib,
        rss_per_subscriber_kib_janus: jrss,
        rss_per_subscriber_diemcau_over_janus: ratio(d.rss_per_subscriber_kib, jrss),
        p99_delay_ms_diemcau_at_best: db.map(|s| s.delay_p99_ms),
        p99_delay_ms_janus_at_best: jb.map(|s| s.delay_p99_ms),
        join_p50_ms_diemcau: db.map(|s| s.join_p50_ms),
        join_p50_ms_janus: jb.map(|s| s.join_p50_ms),
        half_load_added_delay_p99_ms_diemcau: d.half_load.and_then(|h| h.added_delay_p99_ms),
        half_load_added_delay_p99_ms_janus: j
            .and_then(|j| j.half_load)
            .and_then(|h| h.added_delay_p99_ms),
        half_load_server_transit_p99_ms_diemcau: d.half_load.and_then(|h| h.server_transit_p99_ms),
    })
}

#[derive(Debug, Serialize)]
pub struct S6Report {
    pub options: crate::s6::S6Options,
    pub result: crate::s6::S6Result,
}

#[derive(Debug, Serialize)]
pub struct S1Report {
    pub options: S1Options,
    pub result: S1Result,
}

pub fn print_summary(run: &RunReport) {
    println!(
        "diemcau-load {} — {} — {} × {} (load {})",
        run.kind,
        run.started_utc,
        run.machine.nproc,
        run.machine.cpu_model,
        run.machine.loadavg_at_start
    );
    if let Some(c) = &run.janus_config {
        println!("{c}");
    }
    if let Some(s6) = &run.s6_diemcau {
        let r = &s6.result;
        println!(
            "S6 endurance: {} endpoints, {:.0} min, {} rejoins ({} failed), {} stage moves; after the warm-up RSS {:+.1} % (max 5 %), heap in use {}, maps growing: {}; {}",
            r.endpoints,
            s6.options.minutes,
            r.rejoins,
            r.rejoin_failures,
            r.stage_moves,
            r.rss_growth_pct,
            r.heap_in_use_growth_pct
                .map_or("n/a".to_string(), |h| format!("{h:+.1} %")),
            if r.maps_growing.is_empty() {
                "none".to_string()
            } else {
                r.maps_growing.join(", ")
            },
            if r.pass { "PASS" } else { "FAIL" }
        );
        for s in &r.samples {
            println!(
                "  {:>6.0} s  RSS {:>7.1} MiB  heap {:>6.1}  fds {:>5}  cpu {:.2}  rejoins {:>4}  sessions {:>4}  addresses {:>4}  slots {:>5}  routes {:>4}  dropped {:>7.0}{}",
                s.t_s,
                s.rss_mib,
                s.heap_in_use_mib.unwrap_or(0.0),
                s.fds,
                s.cpu_cores,
                s.rejoins,
                s.maps.get("sessions").copied().unwrap_or(0.0),
                s.maps.get("addresses").copied().unwrap_or(0.0),
                s.maps.get("slots").copied().unwrap_or(0.0),
                s.maps.get("demux_routes").copied().unwrap_or(0.0),
                s.dropped_behind.unwrap_or(0.0),
                if s.hogged { "  hogged" } else { "" },
            );
        }
        if let Some(h) = &r.hog {
            println!("  core {} hogged on purpose: {:.2} cores", h.cpu, h.cores);
        }
    }
    if let Some(b) = &run.bare {
        println!(
            "bare relay (recvmmsg → AES-128-GCM seal → sendmmsg, fan-out {}): {:.0} ns CPU per forwarded packet, {} out, relay {:.2} cores",
            b.fanout, b.relay_ns_per_packet, b.packets_out, b.relay_cpu_cores
        );
    }
    for (name, s1) in [("diemcau", &run.s1_diemcau), ("Janus", &run.s1_janus)] {
        if let Some(s1) = s1 {
            print_s1(name, s1, run);
        }
    }
    for (name, s3) in [("diemcau", &run.s3_diemcau), ("Janus", &run.s3_janus)] {
        if let Some(s3) = s3 {
            let r = &s3.result;
            println!(
                "S3 join storm on {name}: {}/{} endpoints in within {:.1} s of spread; all receiving media after {}; join p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; server {:.2} cores over the storm, RSS {:.1} → {:.1} MiB{}",
                r.joined,
                r.endpoints,
                r.spread_secs,
                r.all_receiving_ms
                    .map_or("— (not all got in)".to_string(), |v| format!("{v:.0} ms")),
                r.join_p50_ms,
                r.join_p99_ms,
                r.join_max_ms,
                r.server_cpu_cores,
                r.server_rss_mib_before,
                r.server_rss_mib_after,
                if r.failures.is_empty() {
                    String::new()
                } else {
                    format!("; failures: {}", r.failures.join(" | "))
                }
            );
            if let Some(a) = &r.server_join_answer {
                println!(
                    "  diemcau's own part of those joins (driver → answer, diemcau_join_answer_seconds): mean {:.2} ms, p50 ≤ {} over {} joins",
                    a.mean_ms,
                    a.p50_at_most_ms
                        .map_or("—".to_string(), |v| format!("{v} ms")),
                    a.joins,
                );
            }
        }
    }
    for (name, c) in [
        ("diemcau", &run.chromium_diemcau),
        ("Janus", &run.chromium_janus),
    ] {
        if let Some(c) = c {
            println!(
                "Chromium joins on {name}: {}/{} in; offer → first decoded frame p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; phases p50: signalling {:.0} ms (ICE gathering {:.0} ms), ICE + DTLS {:.0} ms, first frame {:.0} ms; server SDP ice-lite: {:?}{}",
                c.ok,
                c.joins,
                c.join_p50_ms,
                c.join_p99_ms,
                c.join_max_ms,
                c.signal_p50_ms,
                c.gather_p50_ms,
                c.connect_p50_ms,
                c.media_p50_ms,
                c.remote_ice_lite,
                if c.failures.is_empty() {
                    String::new()
                } else {
                    format!("; failures: {}", c.failures.join(" | "))
                }
            );
            println!(
                "  first frame after connecting, p50: first video packet {:.0} ms, first whole frame {:.0} ms (both to 50 ms), decoded {:.0} ms; {:.0} px wide; within 60 ms of it {:.0} PLIs and {:.0} NACKs sent, {:.0} RTX packets received",
                c.first_packet_p50_ms,
                c.first_frame_received_p50_ms,
                c.media_p50_ms,
                c.width_at_first_frame_p50,
                c.plis_at_first_frame_p50,
                c.nacks_at_first_frame_p50,
                c.rtx_at_first_frame_p50,
            );
        }
    }
    if let Some(s4) = &run.s4_diemcau {
        let (o, r) = (&s4.options, &s4.result);
        let mut layers: Vec<_> = r.video_layers_pct.iter().collect();
        layers.sort_by(|a, b| a.0.cmp(b.0));
        println!(
            "S4 thin links on diemcau: {}/{} communes receiving over {} kbit/s, {:.1} % loss, {} ms RTT (seed {}); audio continuity {:.2} % ({} gaps ≥ 60 ms, {:.2} per commune-minute), audio loss after repair {:.2} %; video freezes {:.2} per commune-minute, frozen {:.2} % of the time, video loss after repair {:.2} %, layers {:?}; delay p50 {:.0} ms p99 {:.0} ms (audio); emulator dropped {} + {} queue of {} down; RED {}: {} frames refilled, audio {:.1} kbit/s per commune, {:.1} % of it redundancy",
            r.receiving,
            r.endpoints,
            o.link.down.kbps.unwrap_or(0),
            o.link.down.loss * 100.0,
            o.link.down.delay_ms + o.link.up.delay_ms,
            o.seed,
            r.audio_continuity_pct,
            r.audio_gaps,
            r.audio_gaps_per_endpoint_minute,
            r.audio.loss_pct,
            r.video_freezes_per_endpoint_minute,
            r.video_frozen_pct,
            r.video.loss_pct,
            layers,
            r.audio.delay_p50_ms,
            r.audio.delay_p99_ms,
            r.relay.down_lost,
            r.relay.down_queue_drops,
            r.relay.down_in,
            if o.red { "on" } else { "off" },
            r.audio_red_recovered,
            r.audio_payload_kbps_per_commune,
            r.audio_redundancy_pct
        );
    }
    if let Some(s5) = &run.s5_diemcau {
        print_s5(s5);
    }
    print_s2(run);
    if let (Some(d), Some(j)) = (&run.s3_diemcau, &run.s3_janus)
        && let (Some(a), Some(b)) = (d.result.all_receiving_ms, j.result.all_receiving_ms)
    {
        println!(
            "S3 ratio: time until all receive media diemcau/Janus {:.2}×; join p50 diemcau/Janus {:.2}×; join p99 diemcau/Janus {:.2}×",
            a / b,
            d.result.join_p50_ms / j.result.join_p50_ms.max(1e-9),
            d.result.join_p99_ms / j.result.join_p99_ms.max(1e-9)
        );
    }
    if let Some(c) = run
        .comparison
        .as_ref()
        .filter(|c| c.bare_ns_per_forwarded_packet.is_some() || c.janus_max_n_passing.is_some())
    {
        let f = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.2}"));
        println!(
            "ratios: cost per forwarded packet diemcau/bare {}×, Janus/bare {}×, diemcau/Janus {}×; \
             subscribers per server core diemcau/Janus {}×; RSS per subscriber diemcau/Janus {}×",
            f(c.cost_per_packet_diemcau_over_bare),
            f(c.cost_per_packet_janus_over_bare),
            f(c.cost_per_packet_diemcau_over_janus),
            f(c.subscribers_per_core_diemcau_over_janus),
            f(c.rss_per_subscriber_diemcau_over_janus),
        );
        println!(
            "p99 delay the server adds at half load (peer-to-peer baseline subtracted): diemcau {} ms, Janus {} ms; diemcau's own count of a packet's time inside it: p99 {} ms",
            f(c.half_load_added_delay_p99_ms_diemcau),
            f(c.half_load_added_delay_p99_ms_janus),
            f(c.half_load_server_transit_p99_ms_diemcau),
        );
    }
    for n in &run.notes {
        println!("note: {n}");
    }
}

fn print_s1(name: &str, s1: &S1Report, run: &RunReport) {
    println!(
        "S1 fan-out on {name} (1 publisher q/h/f + Opus → N viewers, 1 video + 1 audio slot):"
    );
    println!(
        "{:>5} {:>5} {:>8} {:>8} {:>8} {:>7} {:>9} {:>8} {:>9} {:>8} {:>7} {:>7} {:>7}  verdict",
        "N",
        "recv",
        "loss%",
        "p50 ms",
        "p99 ms",
        "jit ms",
        "fwd pps",
        "srv cpu",
        "ns/pkt",
        "RSS MiB",
        "gen cpu",
        "gen lag",
        "machine"
    );
    for s in &s1.result.steps {
        println!(
            "{:>5} {:>5} {:>8.3} {:>8.2} {:>8.2} {:>7.2} {:>9.0} {:>8.2} {:>9.0} {:>8.1} {:>7.2} {:>7.1} {:>7.2}  {}",
            s.n,
            s.subscribers_receiving,
            s.loss_pct,
            s.delay_p50_ms,
            s.delay_p99_ms,
            s.video.jitter_mean_ms,
            s.forwarded_pps,
            s.server_cpu_cores,
            s.server_ns_per_forwarded_packet,
            s.server_rss_mib,
            s.generator_cpu_cores,
            s.generator_lag_p99_ms,
            s.machine_busy_cores,
            s.verdict
        );
    }
    for s in &s1.result.steps {
        let f = &s.rtcp_sent;
        let per = |x: u64| x as f64 / (s.n.max(1) as f64 * s.window_s.max(1e-9));
        println!(
            "  N={}: RTCP sent per subscriber per second (the server processes it): TWCC {:.1}, receiver reports {:.2}, REMB {:.2}, NACK {:.2}, PLI/FIR {:.2}, other {:.2}",
            s.n,
            per(f.twcc),
            per(f.receiver_reports),
            per(f.remb),
            per(f.nack),
            per(f.keyframe_requests),
            per(f.other)
        );
    }
    let r = &s1.result;
    println!(
        "largest N passing: {} (publisher keyframes on request: {})",
        r.max_n_passing, r.publisher_keyframes_on_request
    );
    if let Some(best) = r.steps.iter().filter(|s| s.pass).max_by_key(|s| s.n) {
        let ratio = run
            .bare
            .as_ref()
            .filter(|b| b.relay_ns_per_packet > 0.0)
            .map(|b| best.server_ns_per_forwarded_packet / b.relay_ns_per_packet);
        println!(
            "  at N={}: server {:.0} ns CPU per forwarded packet{}; {:.1} subscribers per server core used; RSS {:.0} KiB per subscriber{}",
            best.n,
            best.server_ns_per_forwarded_packet,
            ratio.map_or(String::new(), |x| format!(" ({x:.2}× the bare relay)")),
            r.max_subscribers_per_core.unwrap_or(0.0),
            r.rss_per_subscriber_kib.unwrap_or(0.0),
            r.heap_per_subscriber_kib
                .map_or(String::new(), |h| format!(", heap in use {h:.0} KiB"))
        );
        if let Some(h) = r.half_load {
            let f = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.2}"));
            println!(
                "  half load (N={}): p99 delay {:.2} ms, peer-to-peer baseline {} ms → the server adds {} ms; its own count of a packet's time inside it: p99 {} ms",
                h.n,
                h.delay_p99_ms,
                f(h.p2p_delay_p99_ms),
                f(h.added_delay_p99_ms),
                f(h.server_transit_p99_ms)
            );
        }
        println!(
            "  video layers received: {:?}; freezes {} ({:.0} ms); join p50 {:.0} ms",
            best.video_layers_pct, best.video.freezes, best.video.frozen_ms, best.join_p50_ms
        );
        if best.machine_busy_cores > 0.9 * run.machine.nproc as f64 {
            println!(
                "  note: the machine was {:.2} of {} cores busy: the limit found may be the machine's (the generator's), not the server's",
                best.machine_busy_cores, run.machine.nproc
            );
        }
    }
}

fn print_s5(s5: &S5Report) {
    let (o, r) = (&s5.options, &s5.result);
    println!(
        "S5 cascade on diemcau: {} communes ({} link, {} kbit/s VP8 + Opus each), window {:.0} s",
        o.communes, o.commune_link, o.commune_video_kbps, o.window_secs
    );
    for t in [&r.star, &r.tree].into_iter().flatten() {
        println!(
            "  {}: {}/{} joined in {:.1} s, {} receiving the stage (layers {:?}); uplink {:.2} Mbit/s up, {:.2} Mbit/s down + control (TCP) {:.3} up, {:.3} down{}; stage delay p50 {:.1} ms p99 {:.1} ms (video p50 {:.1} p99 {:.1}, audio p50 {:.1} p99 {:.1}; video loss {:.2} %; first commune p50 {:.1} p99 {:.1}); CPU top {:.2} cores{}, generator {:.2} cores, machine {:.0} % busy{}",
            t.topology,
            t.joined,
            t.communes,
            t.join_secs,
            t.receiving_stage,
            t.stage_layers_pct,
            t.uplink_up_mbps,
            t.uplink_down_mbps,
            t.control_up_mbps,
            t.control_down_mbps,
            match (t.local_up_mbps, t.local_down_mbps) {
                (Some(u), Some(d)) => format!(" (communes ↔ province {u:.2} up, {d:.2} down)"),
                _ => String::new(),
            },
            t.delay_p50_ms,
            t.delay_p99_ms,
            t.stage_video.delay_p50_ms,
            t.stage_video.delay_p99_ms,
            t.stage_audio.delay_p50_ms,
            t.stage_audio.delay_p99_ms,
            t.stage_video.loss_pct,
            t.first_commune_video_p50_ms,
            t.first_commune_video_p99_ms,
            t.top_cpu_cores,
            t.province_cpu_cores
                .map_or(String::new(), |c| format!(", province {c:.2} cores")),
            t.generator_cpu_cores,
            t.machine_busy_pct,
            if t.failures.is_empty() {
                String::new()
            } else {
                format!("; {} failures, first: {}", t.failures.len(), t.failures[0])
            }
        );
    }
    for t in [&r.star, &r.tree].into_iter().flatten() {
        let q: Vec<String> = t
            .udp_queues
            .iter()
            .map(|q| {
                format!(
                    "{}:{} max {} B mean {:.0} B drops {}",
                    q.owner, q.port, q.max_rx_queue_bytes, q.mean_rx_queue_bytes, q.drops
                )
            })
            .collect();
        println!(
            "  {} UDP receive queues (rcvbuf drops {}): {}",
            t.topology,
            t.udp_rcvbuf_drops,
            q.join("; ")
        );
    }
    let f = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.2}"));
    println!(
        "  star/tree uplink (media): up {}×, down {}×; with control (TCP): up {}×, down {}×; added by the relay hop: p50 {} ms, p99 {} ms (video p50 {} ms, p99 {} ms){}",
        f(r.up_ratio_star_over_tree),
        f(r.down_ratio_star_over_tree),
        f(r.total_up_ratio_star_over_tree),
        f(r.total_down_ratio_star_over_tree),
        f(r.added_delay_p50_ms),
        f(r.added_delay_p99_ms),
        f(r.added_video_delay_p50_ms),
        f(r.added_video_delay_p99_ms),
        if r.notes.is_empty() {
            String::new()
        } else {
            format!("; notes: {}", r.notes.join(" | "))
        }
    );
}

/// A row of the S2 table: its label and how to print one server's cell.
type S2Row = (&'static str, Box<dyn Fn(&S2Result) -> String>);

fn print_s2(run: &RunReport) {
    let sides = [("diemcau", &run.s2_diemcau), ("Janus", &run.s2_janus)];
    let Some(o) = sides
        .iter()
        .find_map(|(_, s)| s.as_ref().map(|s| &s.options))
    else {
        return;
    };
    println!(
        "S2 province meeting: 1 hub (q/h/f 100/300/1200) + {} sectors + {} communes (layers {:?} kbit/s), {} talkers, {} silent audio, console with every thumbnail; window {:.0} s",
        o.sectors,
        o.communes,
        o.commune_layers_kbps,
        o.talkers,
        if o.dtx { "DTX" } else { "full-rate" },
        o.window_secs
    );
    let f = |v: f64| format!("{v:.2}");
    let rows: Vec<S2Row> = vec![
        (
            "endpoints in / publishers",
            Box::new(|r: &S2Result| format!("{}/{}", r.joined, r.endpoints)),
        ),
        (
            "subscribers with stage / speaker / 3 audio",
            Box::new(|r: &S2Result| {
                format!(
                    "{}/{}/{} of {}",
                    r.receiving_stage, r.receiving_speaker, r.receiving_3_audio, r.subscribers
                )
            }),
        ),
        (
            "stage delay p50 / p99 ms",
            Box::new(|r: &S2Result| {
                format!("{:.1} / {:.1}", r.stage_delay_p50_ms, r.stage_delay_p99_ms)
            }),
        ),
        (
            "stage video p50 / p99 ms, loss %",
            Box::new(|r: &S2Result| {
                format!(
                    "{:.1} / {:.1}, {:.3}",
                    r.stage_video.delay_p50_ms, r.stage_video.delay_p99_ms, r.stage_video.loss_pct
                )
            }),
        ),
        (
            "stage audio p50 / p99 ms",
            Box::new(|r: &S2Result| {
                format!(
                    "{:.1} / {:.1}",
                    r.stage_audio_delay_p50_ms, r.stage_audio_delay_p99_ms
                )
            }),
        ),
        (
            "audio slots delivered % (target ≥ 99)",
            Box::new(|r: &S2Result| format!("{:.3}", 100.0 - r.audio.loss_pct)),
        ),
        (
            "core hogged on purpose: CPU, cores it used",
            Box::new(|r: &S2Result| {
                r.hog.map_or("none".to_string(), |h| {
                    format!("CPU {}, {:.2}", h.cpu, h.cores)
                })
            }),
        ),
        (
            "all slots p50 / p99 ms, loss %",
            Box::new(|r: &S2Result| {
                format!(
                    "{:.1} / {:.1}, {:.3}",
                    r.delay_p50_ms, r.delay_p99_ms, r.loss_pct
                )
            }),
        ),
        (
            "worst subscriber loss % / stage p99 ms",
            Box::new(|r: &S2Result| {
                format!(
                    "{:.3} / {:.1}",
                    r.worst_subscriber_loss_pct, r.worst_subscriber_stage_p99_ms
                )
            }),
        ),
        (
            "speaker / audio sources seen",
            Box::new(|r: &S2Result| {
                format!("{} / {}", r.speaker_sources_seen, r.audio_sources_seen)
            }),
        ),
        (
            "console thumbnails flowing",
            Box::new(|r: &S2Result| {
                format!(
                    "{}/{} ({} publishers)",
                    r.console_thumbnails_flowing, r.console_video_slots, r.console_publishers_seen
                )
            }),
        ),
        (
            "forwarded pps",
            Box::new(|r: &S2Result| format!("{:.0}", r.forwarded_pps)),
        ),
        (
            "server CPU cores",
            Box::new(move |r: &S2Result| f(r.server_cpu_cores)),
        ),
        (
            "server CPU per forwarded packet µs",
            Box::new(|r: &S2Result| format!("{:.1}", r.server_us_per_forwarded_packet)),
        ),
        (
            "server RSS end / max MiB",
            Box::new(|r: &S2Result| {
                format!("{:.0} / {:.0}", r.server_rss_mib, r.server_rss_max_mib)
            }),
        ),
        (
            "generator CPU / lag p99 ms",
            Box::new(|r: &S2Result| {
                format!(
                    "{:.2} / {:.1}",
                    r.generator_cpu_cores, r.generator_lag_p99_ms
                )
            }),
        ),
        (
            "machine busy cores",
            Box::new(|r: &S2Result| format!("{:.2}", r.machine_busy_cores)),
        ),
        (
            "server datagrams in / queue-full drops",
            Box::new(|r: &S2Result| {
                let g = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.0}"));
                format!(
                    "{} / {}",
                    g(r.server_datagrams_in),
                    g(r.server_dropped_queue_full)
                )
            }),
        ),
        (
            "load namespace UDP rcvbuf drops",
            Box::new(|r: &S2Result| format!("{}", r.udp_rcvbuf_drops)),
        ),
        (
            "target ≤ 1 core, ≤ 512 MiB",
            Box::new(|r: &S2Result| {
                format!(
                    "{} / {}",
                    if r.meets_cpu_target { "met" } else { "MISSED" },
                    if r.meets_rss_target { "met" } else { "MISSED" }
                )
            }),
        ),
    ];
    for (label, get) in &rows {
        let cells: Vec<String> = sides
            .iter()
            .map(|(n, s)| {
                s.as_ref()
                    .map_or(format!("{n}: —"), |s| format!("{n}: {}", get(&s.result)))
            })
            .collect();
        println!("  {label:<44} {}", cells.join("   "));
    }
    if let Some(c) = &run.s2_comparison {
        let g = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.2}"));
        println!(
            "  diemcau/Janus: server CPU {}× (per forwarded packet {}×), RSS {}×, stage delay p50 {}× p99 {}×, all-slot p99 {}×",
            g(c.server_cpu_diemcau_over_janus),
            g(c.cpu_per_packet_diemcau_over_janus),
            g(c.server_rss_max_diemcau_over_janus),
            g(c.stage_delay_p50_diemcau_over_janus),
            g(c.stage_delay_p99_diemcau_over_janus),
            g(c.delay_p99_diemcau_over_janus)
        );
    }
    for (n, s) in sides {
        if let Some(s) = s {
            let t: Vec<String> = s
                .result
                .server_threads
                .iter()
                .map(|t| {
                    format!(
                        "{} {:.2} (waiting for a CPU {:.0} %)",
                        t.thread,
                        t.cores,
                        100.0 * t.runqueue_wait_share
                    )
                })
                .collect();
            println!("  {n} busiest server threads (cores): {}", t.join(", "));
            let q: Vec<String> = s
                .result
                .udp_queues
                .iter()
                .map(|q| {
                    format!(
                        "{}:{} max {} B drops {}",
                        q.owner, q.port, q.max_rx_queue_bytes, q.drops
                    )
                })
                .collect();
            println!(
                "  {n} deepest UDP receive queues (load namespace): {}",
                q.join("; ")
            );
        }
        for note in s.iter().flat_map(|s| &s.result.notes) {
            println!("  {n}: {note}");
        }
    }
}
