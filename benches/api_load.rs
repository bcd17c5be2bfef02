//! API latency under load: p50/p99 at a fixed request rate of mixed reads and
//! writes, on SQLite and on PostgreSQL, in one invocation.
//!
//! Open loop: requests leave on a fixed schedule whatever the server does,
//! and latency counts from the *scheduled* send time, so a stalled server
//! shows up as latency instead of quietly lowering the rate (coordinated
//! omission). The server runs in this process on its own runtime; the
//! load generator has another. Both share the machine's cores.
//!
//! `cargo bench --bench api_load -- [--rate 500] [--seconds 20] [--backend sqlite|postgres|both]`
//! PostgreSQL: `DIEMCAU_BENCH_PG_URL` (default the test role `.ci/setup` makes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use diemcau::config::Config;
use sqlx::Connection;

// Each bench reads only part of the seeded province.
#[allow(dead_code)]
#[path = "support/province.rs"]
mod province;

const DEFAULT_PG: &str = "postgres://diemcau:diemcau@127.0.0.1:5432/diemcau_test";

struct Args {
    rate: u32,
    seconds: u64,
    backends: Vec<&'static str>,
}

fn args() -> Args {
    let mut a = Args {
        rate: 500,
        seconds: 20,
        backends: vec!["sqlite", "postgres"],
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        match v[i].as_str() {
            "--rate" => {
                a.rate = v[i + 1].parse().expect("--rate N");
                i += 1;
            }
            "--seconds" => {
                a.seconds = v[i + 1].parse().expect("--seconds N");
                i += 1;
            }
            "--backend" => {
                a.backends = match v[i + 1].as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    _ => vec!["sqlite", "postgres"],
                };
                i += 1;
            }
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    a
}

/// A fresh PostgreSQL database for this run, dropped at the end.
async fn pg_database() -> (String, String) {
    let admin = std::env::var("DIEMCAU_BENCH_PG_URL").unwrap_or_else(|_| DEFAULT_PG.into());
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .expect("PostgreSQL reachable (run .ci/setup)");
    let name = format!("diemcau_bench_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create bench database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    (format!("{base}/{name}"), name)
}

async fn drop_pg(name: &str) {
    let admin = std::env::var("DIEMCAU_BENCH_PG_URL").unwrap_or_else(|_| DEFAULT_PG.into());
    if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

#[derive(Default)]
struct Tally {
    read: Vec<Duration>,
    write: Vec<Duration>,
    errors: usize,
    by_route: std::collections::BTreeMap<&'static str, Vec<Duration>>,
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

fn run_backend(backend: &str, a: &Args) {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let (url, pg_name) = if backend == "postgres" {
        let (u, n) = server_rt.block_on(pg_database());
        (u, Some(n))
    } else {
        (String::new(), None)
    };
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    config.database.url = url;
    config.http.http_listen = Some("127.0.0.1:0".parse().unwrap());
    config.http.https_listen = None;
    config.media.bind = "127.0.0.1".parse().unwrap();
    config.media.udp_port = 0;
    config.media.advertise = vec!["127.0.0.1".parse().unwrap()];
    config.media.workers = 1;
    let server = server_rt.block_on(diemcau::Server::start(config)).unwrap();
    let base = format!("http://{}", server.http_addr().unwrap());
    let store = server.state().store.clone();
    let province::Province {
        admin_token: token,
        units,
        endpoints,
        meeting,
        ..
    } = server_rt.block_on(province::seed(&store, 100, "Giao ban đo tải"));

    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let tally = load_rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .unwrap();
        let tally = Arc::new(std::sync::Mutex::new(Tally::default()));
        let start = tokio::time::Instant::now();
        let period = Duration::from_secs_f64(1.0 / a.rate as f64);
        let total = a.rate as u64 * a.seconds;
        let mut handles = Vec::with_capacity(total as usize);
        for n in 0..total {
            let at = start + period * n as u32;
            tokio::time::sleep_until(at).await;
            let http = http.clone();
            let base = base.clone();
            let token = token.clone();
            let tally = tally.clone();
            let meeting = meeting.clone();
            // The mix, per 20 requests: 16 reads (org tree ×3, one
            // endpoint ×2, endpoint list, who-am-I ×2, meetings ×3, the
            // meeting's live state ×3, its participants ×2) and 4 writes
            // (edit an endpoint, rename a unit, two live mutes — audited).
            let kind = n % 20;
            let ep = endpoints[(n as usize * 7) % endpoints.len()].clone();
            let unit = units[(n as usize * 13) % units.len()].clone();
            handles.push(tokio::spawn(async move {
                let route: &'static str = match kind {
                    0..=2 => "GET org/units",
                    3..=4 => "GET endpoints/{id}",
                    5 => "GET endpoints",
                    6..=7 => "GET auth/me",
                    8..=10 => "GET meetings",
                    11..=13 => "GET meetings/{id}/live",
                    14..=15 => "GET meetings/{id}/participants",
                    16 => "PATCH endpoints/{id}",
                    17 => "POST org/units/{id}/rename",
                    _ => "POST meetings/{id}/live/mute",
                };
                let (req, write) = match kind {
                    0..=2 => (http.get(format!("{base}/api/v1/org/units")), false),
                    3..=4 => (http.get(format!("{base}/api/v1/endpoints/{ep}")), false),
                    5 => (http.get(format!("{base}/api/v1/endpoints")), false),
                    6..=7 => (http.get(format!("{base}/api/v1/auth/me")), false),
                    8..=10 => (http.get(format!("{base}/api/v1/meetings")), false),
                    11..=13 => (http.get(format!("{base}/api/v1/meetings/{meeting}/live")), false),
                    14..=15 => (
                        http.get(format!("{base}/api/v1/meetings/{meeting}/participants")),
                        false,
                    ),
                    16 => (
                        http.patch(format!("{base}/api/v1/endpoints/{ep}"))
                            .json(&serde_json::json!({"technician_phone": format!("0912 {:06}", n % 1_000_000)})),
                        true,
                    ),
                    17 => (
                        http.post(format!("{base}/api/v1/org/units/{unit}/rename"))
                            .json(&serde_json::json!({"name": format!("Xã Đổi Tên {n}"), "on": "2024-01-01"})),
                        true,
                    ),
                    _ => (
                        http.post(format!("{base}/api/v1/meetings/{meeting}/live/mute"))
                            .json(&serde_json::json!({"endpoint_id": ep, "audio": n % 2 == 0})),
                        true,
                    ),
                };
                let ok = req
                    .bearer_auth(&token)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                let latency = at.elapsed();
                let mut t = tally.lock().unwrap();
                if !ok {
                    t.errors += 1;
                }
                if write {
                    t.write.push(latency);
                } else {
                    t.read.push(latency);
                }
                t.by_route.entry(route).or_default().push(latency);
            }));
        }
        for h in handles {
            let _ = h.await;
        }
        let _ = Instant::now();
        Arc::try_unwrap(tally).ok().unwrap().into_inner().unwrap()
    });
    let Tally {
        mut read,
        mut write,
        errors,
        by_route,
    } = tally;
    let mut all: Vec<Duration> = read.iter().chain(write.iter()).copied().collect();
    println!(
        "{backend:>9}: {} req at {}/s for {} s, errors {errors} | all p50 {:.2} ms p99 {:.2} ms max {:.1} ms | reads p50 {:.2} p99 {:.2} | writes p50 {:.2} p99 {:.2}",
        all.len(),
        a.rate,
        a.seconds,
        pct(&mut all, 0.50),
        pct(&mut all, 0.99),
        pct(&mut all, 1.0),
        pct(&mut read, 0.50),
        pct(&mut read, 0.99),
        pct(&mut write, 0.50),
        pct(&mut write, 0.99),
    );
    for (route, mut v) in by_route {
        println!(
            "{:>13} {route:<34} p50 {:>6.2} ms  p99 {:>6.2} ms",
            "",
            pct(&mut v, 0.50),
            pct(&mut v, 0.99)
        );
    }
    server_rt.block_on(server.shutdown());
    if let Some(n) = pg_name {
        server_rt.block_on(drop_pg(&n));
    }
}

fn main() {
    let a = args();
    println!(
        "API latency, open loop at {} req/s for {} s, mix 80 % reads / 20 % writes (org, endpoints, meetings, live state; endpoint edits, unit renames, live mutes), server and load in one process on {} cores",
        a.rate,
        a.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for b in a.backends.clone() {
        run_backend(b, &a);
    }
}
