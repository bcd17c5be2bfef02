//! diemcau-load: scenario load generator (issue 6).
//!
//! One process is the harness and the load: it creates a loopback-only
//! network namespace `dl-<pid>`, moves its main thread there before any
//! other thread or child exists (so the async runtime, every webrtc-rs
//! endpoint and the server under test live there), starts the server, runs
//! the scenarios, writes `load/runs/<time>-<kind>.json` and prints a
//! summary. Everything it made is removed on exit, error or signal
//! (`cleanup`). See load/README.md.

mod bare;
mod chromium;
mod cleanup;
mod client;
mod hog;
mod http;
mod impair;
mod janus;
mod janus_api;
mod machine;
mod media;
mod p2p;
mod report;
mod s1;
mod s2;
mod s3;
mod s4;
mod s5;
mod s6;
mod server;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "diemcau-load",
    about = "Scenario load generator: diemcau vs Janus vs the bare relay"
)]
struct Cli {
    /// S1 with 5 subscribers for 10 s; exit 0 only if media flowed to all
    /// with < 0.5 % loss.
    #[arg(long, global = true)]
    smoke: bool,
    /// Subscriber counts S1 steps through (stops at the first failing one).
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "5,10,20,40,60,80,100,130,160,200"
    )]
    steps: Vec<usize>,
    /// Measurement window per step, seconds.
    #[arg(long, global = true, default_value_t = 8.0)]
    window_secs: f64,
    /// Wait after the last subscriber of a step receives media, seconds
    /// (the server's bandwidth estimate ramps layers up).
    #[arg(long, global = true, default_value_t = 4.0)]
    settle_secs: f64,
    /// The diemcau binary under test.
    #[arg(long, global = true)]
    server_bin: Option<PathBuf>,
    /// Server media worker threads (0: one per core).
    #[arg(long, global = true, default_value_t = 0)]
    workers: usize,
    /// Server `[media] room_split_sessions` (0: a room never spreads over
    /// workers); unset: the server's default.
    #[arg(long, global = true)]
    room_split_sessions: Option<usize>,
    /// diemcau records its meetings (per-track files and the encoded
    /// composite) and keeps the demo meeting's live stream, as a province's
    /// server does by default; off: Janus and the bare relay record and
    /// encode nothing, so S1–S6 compare the forward path.
    #[arg(long, global = true)]
    record: bool,
    /// Where the JSON file of the run goes.
    #[arg(long, global = true)]
    out_dir: Option<PathBuf>,
    /// Bare relay: subscribers each packet is sealed and sent to.
    #[arg(long, global = true, default_value_t = 50)]
    bare_fanout: usize,
    /// Bare relay: incoming packets per second (1200-byte payloads).
    #[arg(long, global = true, default_value_t = 2000)]
    bare_in_pps: u64,
    /// S3 join storm: endpoints that join.
    #[arg(long, global = true, default_value_t = 150)]
    storm_endpoints: usize,
    /// S3 join storm: within this many seconds, evenly spread.
    #[arg(long, global = true, default_value_t = 5.0)]
    storm_secs: f64,
    /// `joins`: Chromium viewer joins per server, one after another.
    #[arg(long, global = true, default_value_t = 20)]
    chromium_joins: usize,
    /// `joins`: Chromium sends its offer to diemcau at once, without
    /// waiting for ICE gathering (the room page waits).
    #[arg(long, global = true)]
    chromium_no_gather_wait: bool,
    /// `joins`: milliseconds between two Chromium joins.
    #[arg(long, global = true, default_value_t = 1000)]
    chromium_gap_ms: u64,
    /// S4 thin links: communes.
    #[arg(long, global = true, default_value_t = 20)]
    thin_endpoints: usize,
    /// S4: link rate each way, kbit/s.
    #[arg(long, global = true, default_value_t = 1000)]
    thin_kbps: u32,
    /// S4: random loss each way, percent.
    #[arg(long, global = true, default_value_t = 3.0)]
    thin_loss_pct: f64,
    /// S4: every endpoint offers RED (RFC 2198) as Chromium does.
    #[arg(long, global = true)]
    thin_red: bool,
    /// S4: round-trip time added by the link, ms.
    #[arg(long, global = true, default_value_t = 150)]
    thin_rtt_ms: u32,
    /// S5 cascade: communes of the province node.
    #[arg(long, global = true, default_value_t = 150)]
    cascade_communes: usize,
    /// S5: measurement window per topology, seconds.
    #[arg(long, global = true, default_value_t = 30.0)]
    cascade_window_secs: f64,
    /// S5: the communes' registered link profile (fibre, 4g, 3g, vsat).
    #[arg(long, global = true, default_value = "4g")]
    cascade_link: String,
    /// S5: the one VP8 stream each commune publishes, kbit/s.
    #[arg(long, global = true, default_value_t = 100)]
    cascade_video_kbps: u32,
    /// S5: the province node's relay budget, kbit/s.
    #[arg(long, global = true, default_value_t = 20_000)]
    cascade_uplink_kbps: u32,
    /// S2 province meeting: communes.
    #[arg(long, global = true, default_value_t = 150)]
    s2_communes: usize,
    /// S2: sector committees.
    #[arg(long, global = true, default_value_t = 2)]
    s2_sectors: usize,
    /// S2: endpoints that talk in turns (the sectors first, then communes).
    #[arg(long, global = true, default_value_t = 4)]
    s2_talkers: usize,
    /// S2: measurement window, seconds.
    #[arg(long, global = true, default_value_t = 20.0)]
    s2_window_secs: f64,
    /// S2: the sectors' and communes' VP8 simulcast layers, kbit/s, lowest
    /// first (1 to 3 layers; rids q, h, f; 30 fps).
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "30,100,300"
    )]
    s2_commune_layers_kbps: Vec<u32>,
    /// S2: silent endpoints send Opus at the full 50 packets/s instead of
    /// DTX (one packet per 400 ms).
    #[arg(long, global = true)]
    s2_no_dtx: bool,
    /// S2: before each server's part, wait up to this many seconds for the
    /// machine to be quiet (< 0.5 cores busy over 3 s; other work on a
    /// shared machine); 0: do not wait.
    #[arg(long, global = true, default_value_t = 180)]
    s2_wait_quiet_secs: u64,
    /// S2: keep this CPU busy (a pinned busy loop at the default priority)
    /// through the settle time and the window: a starved core on purpose.
    #[arg(long, global = true)]
    s2_hog_cpu: Option<usize>,
    /// S2: diemcau only (skip Janus).
    #[arg(long, global = true)]
    s2_no_janus: bool,
    /// S6 endurance: minutes held (the 60; 120 for the long run).
    #[arg(long, global = true, default_value_t = 60.0)]
    s6_minutes: f64,
    /// S6: minutes of warm-up before RSS and the maps are compared.
    #[arg(long, global = true, default_value_t = 5.0)]
    s6_warmup_minutes: f64,
    /// S6: seconds between churns (a tenth of the communes drop and rejoin).
    #[arg(long, global = true, default_value_t = 600.0)]
    s6_churn_every_secs: f64,
    /// S6: seconds between samples of RSS, fds, CPU and the maps.
    #[arg(long, global = true, default_value_t = 60.0)]
    s6_sample_every_secs: f64,
    /// S6: hog a core on purpose from this minute (after the warm-up, and
    /// 10 minutes before the end): whether memory comes back after a stall.
    #[arg(long, global = true)]
    s6_hog_at_minutes: Option<f64>,
    /// S6: how long the hog lasts, in seconds.
    #[arg(long, global = true, default_value_t = 60.0)]
    s6_hog_secs: f64,
    /// S6: the CPU the hog takes.
    #[arg(long, global = true, default_value_t = 0)]
    s6_hog_cpu: usize,
    /// Seed of the link emulator's loss and jitter.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Clone, Copy, PartialEq)]
enum Cmd {
    /// Everything implemented, in one run (default): bare relay, S1, S3 and
    /// S4 on diemcau, S2 on diemcau and Janus, S1 and S3 on Janus (S5 is
    /// separate).
    Run,
    /// S1 fan-out on diemcau only.
    S1,
    /// S3 join storm on diemcau only.
    S3,
    /// S4 thin links on diemcau (through the user-space link emulator).
    S4,
    /// S5 cascade: a province node's uplink, tree relay vs star, and the
    /// delay a relay hop adds (two diemcau nodes on one store; not in `run`).
    S5,
    /// S2 province meeting (hub + sectors + communes + a console) on
    /// diemcau and on Janus only.
    S2,
    /// S6 endurance on diemcau: the S2 meeting held for `--s6-minutes` with
    /// churn and a moving stage; RSS, fds, CPU and map sizes over time.
    S6,
    /// S1 fan-out and S3 join storm on Janus only.
    Janus,
    /// The bare relay, S1 on diemcau and S1 on Janus, in one invocation
    /// (with the RTCP each subscriber's stack sends, per step).
    Compare,
    /// Joins: the bare relay, S3 on diemcau and on Janus, then Chromium
    /// joins (offer → first decoded frame) on both, in one invocation.
    Joins,
    /// The bare relay only.
    Bare,
}

fn main() -> ExitCode {
    cleanup::install_signal_thread();
    let guard = cleanup::Guard;
    let code = match real_main() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("diemcau-load: {e:#}");
            ExitCode::from(1)
        }
    };
    drop(guard);
    code
}

fn real_main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // Off unless asked: the client stacks log per packet at trace level.
    if let Ok(filter) = std::env::var("DIEMCAU_LOAD_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
    let cmd = cli.command.unwrap_or(Cmd::Run);
    cleanup::sweep_stale();
    let (started, stamp) = machine::utc_now();
    let machine = machine::MachineInfo::read();
    let tmp = cleanup::temp_dir_of(std::process::id());
    cleanup::register_dir(tmp.clone());
    std::fs::create_dir_all(&tmp)?;
    let ns = cleanup::create_netns("")?;
    let with_janus = matches!(cmd, Cmd::Run | Cmd::Janus | Cmd::Joins | Cmd::Compare)
        || (cmd == Cmd::S2 && !cli.s2_no_janus);
    let janus_net = if !cli.smoke && with_janus {
        Some(janus::setup_net(&ns)?)
    } else {
        None
    };
    cleanup::enter_netns(&ns)?;
    eprintln!("diemcau-load: namespace {ns}, temp dir {}", tmp.display());

    let mut run = report::RunReport {
        kind: if cli.smoke {
            "smoke"
        } else if cmd == Cmd::S2 {
            "s2"
        } else if cmd == Cmd::S6 {
            "s6"
        } else if cmd == Cmd::Joins {
            "joins"
        } else if cmd == Cmd::Compare {
            "compare"
        } else {
            "run"
        }
        .into(),
        started_utc: started,
        machine,
        bare: None,
        s1_diemcau: None,
        s1_janus: None,
        s3_diemcau: None,
        s3_janus: None,
        s4_diemcau: None,
        s5_diemcau: None,
        s2_diemcau: None,
        s2_janus: None,
        s6_diemcau: None,
        chromium_diemcau: None,
        chromium_janus: None,
        s2_comparison: None,
        comparison: None,
        janus_config: janus_net.as_ref().map(|_| janus::config_summary()),
        notes: vec![],
    };
    let _ = server::RECORD.set(cli.record);
    if cli.record {
        run.notes
            .push("server records its meetings and streams the demo's composite".into());
    }
    if let Some(n) = cli.room_split_sessions {
        let _ = server::ROOM_SPLIT_SESSIONS.set(n);
        run.notes
            .push(format!("server [media] room_split_sessions = {n}"));
    }

    if !cli.smoke && matches!(cmd, Cmd::Run | Cmd::Bare | Cmd::Joins | Cmd::Compare) {
        let r = bare::run(&bare::BareOptions {
            fanout: cli.bare_fanout,
            in_pps: cli.bare_in_pps,
            secs: cli.window_secs,
        })
        .context("bare relay")?;
        eprintln!(
            "bare relay: {:.0} ns CPU per forwarded packet ({} packets out)",
            r.relay_ns_per_packet, r.packets_out
        );
        run.bare = Some(r);
    }

    let s1_opts = if cli.smoke {
        s1::S1Options {
            steps: vec![5],
            window_secs: 10.0,
            settle_secs: 2.0,
        }
    } else {
        s1::S1Options {
            steps: cli.steps.clone(),
            window_secs: cli.window_secs,
            settle_secs: cli.settle_secs,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let mut smoke_ok = true;
    if cli.smoke || matches!(cmd, Cmd::Run | Cmd::S1 | Cmd::Compare) {
        let bin = cli
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let srv = server::Server::start(&bin, &tmp.join("diemcau"), cli.workers)?;
        eprintln!("diemcau-load: diemcau pid {} at {}", srv.pid, srv.base);
        let target = s1::Target::Diemcau {
            base: srv.base.clone(),
        };
        let res = rt.block_on(s1::run(&target, srv.pid, &s1_opts));
        srv.stop();
        let res = res?;
        smoke_ok = res.steps.first().is_some_and(|s| s.pass);
        run.s1_diemcau = Some(report::S1Report {
            options: s1_opts.clone(),
            result: res,
        });
    }
    let s3_opts = s3::S3Options {
        endpoints: cli.storm_endpoints,
        spread_secs: cli.storm_secs,
    };
    if !cli.smoke && matches!(cmd, Cmd::Run | Cmd::S3 | Cmd::Joins) {
        let bin = cli
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let srv = server::Server::start(&bin, &tmp.join("diemcau-s3"), cli.workers)?;
        eprintln!("diemcau-load: diemcau pid {} at {} (S3)", srv.pid, srv.base);
        let target = s1::Target::Diemcau {
            base: srv.base.clone(),
        };
        let res = rt.block_on(s3::run(&target, srv.pid, &s3_opts));
        srv.stop();
        run.s3_diemcau = Some(report::S3Report {
            options: s3_opts.clone(),
            result: res.context("S3 on diemcau")?,
        });
    }
    if !cli.smoke && matches!(cmd, Cmd::Run | Cmd::S4) {
        let bin = cli
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let srv = server::Server::start_advertising(
            &bin,
            &tmp.join("diemcau-s4"),
            cli.workers,
            s4::RELAY_FRONT,
        )?;
        eprintln!("diemcau-load: diemcau pid {} at {} (S4)", srv.pid, srv.base);
        let opts = s4::S4Options {
            endpoints: cli.thin_endpoints,
            link: s4::S4Options::thin_link(
                cli.thin_kbps,
                cli.thin_loss_pct / 100.0,
                cli.thin_rtt_ms,
            ),
            window_secs: (cli.window_secs * 2.0).max(20.0),
            settle_secs: cli.settle_secs.max(8.0),
            seed: cli.seed,
            red: cli.thin_red,
        };
        let back = std::net::SocketAddr::from(([127, 0, 0, 1], server::MEDIA_PORT));
        let res = rt.block_on(s4::run(&srv.base, back, &opts));
        srv.stop();
        run.s4_diemcau = Some(report::S4Report {
            options: opts,
            result: res.context("S4 on diemcau")?,
        });
    }
    if !cli.smoke && cmd == Cmd::S5 {
        let bin = cli
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let opts = s5::S5Options {
            communes: cli.cascade_communes,
            window_secs: cli.cascade_window_secs,
            settle_secs: cli.settle_secs.max(8.0),
            commune_link: cli.cascade_link.clone(),
            commune_video_kbps: cli.cascade_video_kbps,
            uplink_kbps: cli.cascade_uplink_kbps,
            workers: cli.workers,
        };
        let res = rt.block_on(s5::run(&bin, &tmp, &opts));
        run.s5_diemcau = Some(report::S5Report {
            options: opts,
            result: res.context("S5 on diemcau")?,
        });
    }
    let s2_opts = s2::S2Options {
        communes: cli.s2_communes,
        sectors: cli.s2_sectors,
        talkers: cli.s2_talkers,
        window_secs: cli.s2_window_secs,
        settle_secs: cli.settle_secs.max(8.0),
        commune_layers_kbps: cli.s2_commune_layers_kbps.iter().copied().take(3).collect(),
        dtx: !cli.s2_no_dtx,
        hog_cpu: cli.s2_hog_cpu,
    };
    let wait_quiet = |what: &str, notes: &mut Vec<String>| {
        if cli.s2_wait_quiet_secs == 0 {
            return;
        }
        let t = std::time::Instant::now();
        loop {
            let m = machine::MachineMeter::start();
            std::thread::sleep(std::time::Duration::from_secs(3));
            let busy = m.busy_cores();
            let waited = t.elapsed().as_secs();
            if busy < 0.5 || waited >= cli.s2_wait_quiet_secs {
                let n = format!(
                    "S2 {what}: machine {busy:.2} cores busy before the start (waited {waited} s for < 0.5)"
                );
                eprintln!("diemcau-load: {n}");
                notes.push(n);
                return;
            }
        }
    };
    if !cli.smoke && matches!(cmd, Cmd::Run | Cmd::S2) {
        wait_quiet("diemcau", &mut run.notes);
        let bin = cli
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let srv = server::Server::start(&bin, &tmp.join("diemcau-s2"), cli.workers)?;
        eprintln!("diemcau-load: diemcau pid {} at {} (S2)", srv.pid, srv.base);
        let target = s1::Target::Diemcau {
            base: srv.base.clone(),
        };
        let res = rt.block_on(s2::run(&target, srv.pid, &s2_opts));
        srv.stop();
        match res {
            Ok(result) => {
                run.s2_diemcau = Some(report::S2Report {
                    options: s2_opts.clone(),
                    result,
                })
            }
            Err(e) => {
                eprintln!("diemcau-load: S2 on diemcau failed: {e:#}");
                run.notes.push(format!("S2 on diemcau failed: {e:#}"));
            }
        }
        if let Some(net) = &janus_net {
            wait_quiet("Janus", &mut run.notes);
            let j = janus::Janus::start(net, &tmp.join("janus-s2"))?;
            eprintln!("diemcau-load: janus pid {} at {} (S2)", j.pid, j.ws_url);
            let target = s1::Target::Janus {
                ws_url: j.ws_url.clone(),
                room: janus::ROOM,
                bind_ip: janus::LOAD_IP.into(),
            };
            let res = rt.block_on(s2::run(&target, j.pid, &s2_opts));
            j.stop();
            match res {
                Ok(result) => {
                    run.s2_janus = Some(report::S2Report {
                        options: s2_opts.clone(),
                        result,
                    })
                }
                Err(e) => {
                    eprintln!("diemcau-load: S2 on Janus failed: {e:#}");
                    run.notes.push(format!("S2 on Janus failed: {e:#}"));
                }
            }
        }
    }
    if !cli.smoke && cmd == Cmd::S6 {
        let bin = cli
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let srv = server::Server::start(&bin, &tmp.join("diemcau-s6"), cli.workers)?;
        eprintln!("diemcau-load: diemcau pid {} at {} (S6)", srv.pid, srv.base);
        let opts = s6::S6Options {
            communes: cli.s2_communes,
            sectors: cli.s2_sectors,
            minutes: cli.s6_minutes,
            warmup_minutes: cli.s6_warmup_minutes,
            churn_every_secs: cli.s6_churn_every_secs,
            churn_fraction: 0.10,
            stage_every_secs: 30.0,
            sample_every_secs: cli.s6_sample_every_secs,
            commune_layers_kbps: cli.s2_commune_layers_kbps.clone(),
            hog: cli.s6_hog_at_minutes.map(|at_minutes| s6::S6Hog {
                at_minutes,
                secs: cli.s6_hog_secs,
                cpu: cli.s6_hog_cpu,
            }),
        };
        let res = rt.block_on(s6::run(&srv.base, srv.pid, &opts));
        srv.stop();
        match res {
            Ok(result) => {
                run.s6_diemcau = Some(report::S6Report {
                    options: opts,
                    result,
                })
            }
            Err(e) => {
                eprintln!("diemcau-load: S6 failed: {e:#}");
                run.notes.push(format!("S6 failed: {e:#}"));
            }
        }
    }
    if let Some(net) = janus_net
        .as_ref()
        .filter(|_| cmd != Cmd::S2 && cmd != Cmd::S6)
    {
        if cmd != Cmd::Joins {
            let j = janus::Janus::start(net, &tmp.join("janus"))?;
            eprintln!("diemcau-load: janus pid {} at {}", j.pid, j.ws_url);
            let target = s1::Target::Janus {
                ws_url: j.ws_url.clone(),
                room: janus::ROOM,
                bind_ip: janus::LOAD_IP.into(),
            };
            let res = rt.block_on(s1::run(&target, j.pid, &s1_opts));
            j.stop();
            match res {
                Ok(res) => {
                    run.s1_janus = Some(report::S1Report {
                        options: s1_opts.clone(),
                        result: res,
                    })
                }
                Err(e) => {
                    eprintln!("diemcau-load: S1 on Janus failed: {e:#}");
                    run.notes.push(format!("S1 on Janus failed: {e:#}"));
                }
            }
        }
        if matches!(cmd, Cmd::Run | Cmd::Janus | Cmd::Joins) {
            // A fresh Janus for the storm, as diemcau got a fresh server.
            let j = janus::Janus::start(net, &tmp.join("janus-s3"))?;
            eprintln!("diemcau-load: janus pid {} at {} (S3)", j.pid, j.ws_url);
            let target = s1::Target::Janus {
                ws_url: j.ws_url.clone(),
                room: janus::ROOM,
                bind_ip: janus::LOAD_IP.into(),
            };
            let res = rt.block_on(s3::run(&target, j.pid, &s3_opts));
            j.stop();
            match res {
                Ok(result) => {
                    run.s3_janus = Some(report::S3Report {
                        options: s3_opts.clone(),
                        result,
                    })
                }
                Err(e) => {
                    eprintln!("diemcau-load: S3 on Janus failed: {e:#}");
                    run.notes.push(format!("S3 on Janus failed: {e:#}"));
                }
            }
        }
    }
    if !cli.smoke && cmd == Cmd::Joins {
        let bin = cli
            .server_bin
            .clone()
            .unwrap_or_else(server::default_binary);
        let srv = server::Server::start(&bin, &tmp.join("diemcau-chromium"), cli.workers)?;
        eprintln!(
            "diemcau-load: diemcau pid {} at {} (Chromium joins)",
            srv.pid, srv.base
        );
        let sig = chromium::Signalling::Diemcau {
            http_base: srv.base.clone(),
            meeting: server::MEETING.into(),
            token: server::DEMO_TOKEN.into(),
            gather: !cli.chromium_no_gather_wait,
        };
        let res = chromium::run(
            &tmp.join("chromium-diemcau"),
            &sig,
            cli.chromium_joins,
            cli.chromium_gap_ms,
        );
        srv.stop();
        match res {
            Ok(r) => run.chromium_diemcau = Some(r),
            Err(e) => {
                eprintln!("diemcau-load: Chromium joins on diemcau failed: {e:#}");
                run.notes
                    .push(format!("Chromium joins on diemcau failed: {e:#}"));
            }
        }
        if let Some(net) = &janus_net {
            let j = janus::Janus::start(net, &tmp.join("janus-chromium"))?;
            eprintln!(
                "diemcau-load: janus pid {} at {} (Chromium joins)",
                j.pid, j.ws_url
            );
            let sig = chromium::Signalling::Janus {
                ws_url: j.ws_url.clone(),
                room: janus::ROOM,
            };
            let res = chromium::run(
                &tmp.join("chromium-janus"),
                &sig,
                cli.chromium_joins,
                cli.chromium_gap_ms,
            );
            j.stop();
            match res {
                Ok(r) => run.chromium_janus = Some(r),
                Err(e) => {
                    eprintln!("diemcau-load: Chromium joins on Janus failed: {e:#}");
                    run.notes
                        .push(format!("Chromium joins on Janus failed: {e:#}"));
                }
            }
        }
    }
    rt.shutdown_timeout(std::time::Duration::from_secs(2));

    run.comparison = report::compare(&run);
    run.s2_comparison = report::compare_s2(&run);
    let out_dir = cli
        .out_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("runs"));
    std::fs::create_dir_all(&out_dir)?;
    let path = out_dir.join(format!("{stamp}-{}.json", run.kind));
    std::fs::write(&path, serde_json::to_string_pretty(&run)?)?;
    report::print_summary(&run);
    println!("JSON: {}", path.display());
    if cli.smoke && !smoke_ok {
        println!("SMOKE FAILED");
        return Ok(ExitCode::from(1));
    }
    if cli.smoke {
        println!("SMOKE OK");
    }
    Ok(ExitCode::SUCCESS)
}
