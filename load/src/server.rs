//! The diemcau server under test: a generated config in a fresh temp data
//! dir, `diemcau --config <it> demo --token <t>` started as a child of the
//! harness (inside the harness's namespace, which the main thread entered
//! before spawning), readiness by `/healthz`, CPU and RSS from `/proc`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use serde_json::json;

use crate::{cleanup, http};

/// Fixed ports are fine: the namespace is ours alone.
pub const HTTP_PORT: u16 = 18080;
const HTTPS_PORT: u16 = 18443;
pub const MEDIA_PORT: u16 = 50000;
pub const DEMO_TOKEN: &str = "load-demo-token";
pub const MEETING: &str = "demo";
/// diemcau serves /metrics on a listener of its own: each node's sits at
/// its HTTP port plus this (18080 → 19464), so nodes never share one.
pub const METRICS_PORT_OFFSET: u16 = 1384;

/// The metrics listener's base URL of the node whose API is at `base`
/// (`http://127.0.0.1:PORT`).
/// The value of an unlabelled metric `name` in a `/metrics` body.
pub fn metric_value(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

pub fn metrics_base(base: &str) -> String {
    match base.rsplit_once(':') {
        Some((head, port)) => match port.parse::<u16>() {
            Ok(p) => format!("{head}:{}", p.wrapping_add(METRICS_PORT_OFFSET)),
            Err(_) => base.to_string(),
        },
        None => base.to_string(),
    }
}

/// First start creates the database and a local CA.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Server {
    pub pid: u32,
    pub base: String,
    pub http_port: u16,
    pub log: PathBuf,
}

/// `<workspace>/target/release/diemcau`.
pub fn default_binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/diemcau")
}

/// `[media] room_split_sessions` for every server of the run, when the
/// command line sets it (`--room-split-sessions`); else the server's default.
pub static ROOM_SPLIT_SESSIONS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// `--record`: the server records its meetings as a province's does (the
/// default of `[recording] automatic`: per-track files and the composite
/// picture, encoded) and keeps the live stream `diemcau demo` starts. Off
/// unless asked: Janus and the bare relay record and encode nothing, so the
/// forward path is compared like with like; the recording's and the
/// composite's own costs are measured apart (BENCHMARKS.md §8, §14).
pub static RECORD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// The operator who stops the demo's live stream (see `RECORD`).
const OPERATOR: &str = "loadoperator";
const OPERATOR_PASSWORD: &str = "diemcau-load-operator";

/// One server process: its ports, the media address it advertises, the
/// TOML appended to the generated config (sections of its own: `[cascade]`,
/// `[database]`) and the command after `--config <file>`.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub http_port: u16,
    /// None: `https_listen = "off"`.
    pub https_port: Option<u16>,
    pub media_port: u16,
    pub advertise: String,
    pub workers: usize,
    pub extra_config: String,
    pub args: Vec<String>,
}

impl NodeSpec {
    /// The single server of S1–S4: `demo --token DEMO_TOKEN` on the fixed ports.
    pub fn demo(workers: usize, advertise: &str) -> Self {
        Self {
            http_port: HTTP_PORT,
            https_port: Some(HTTPS_PORT),
            media_port: MEDIA_PORT,
            advertise: advertise.to_string(),
            workers,
            extra_config: String::new(),
            args: vec!["demo".into(), "--token".into(), DEMO_TOKEN.into()],
        }
    }

    /// Write `<dir>/diemcau.toml` (data in `<dir>/data`); returns its path.
    pub fn write_config(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        let config = dir.join("diemcau.toml");
        let https = match self.https_port {
            Some(p) => format!("127.0.0.1:{p}"),
            None => "off".into(),
        };
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n\
                 [http]\nhttp_listen = \"127.0.0.1:{}\"\nhttps_listen = \"{https}\"\n\
                 metrics_listen = \"127.0.0.1:{}\"\n\
                 [media]\nbind = \"127.0.0.1\"\nudp_port = {}\ntcp_port = 0\nadvertise = [\"{}\"]\nworkers = {}\n{}\
                 [recording]\nautomatic = {}\n\
                 [log]\nfilter = \"warn\"\n{}",
                data.display(),
                self.http_port,
                self.http_port.wrapping_add(METRICS_PORT_OFFSET),
                self.media_port,
                self.advertise,
                self.workers,
                ROOM_SPLIT_SESSIONS
                    .get()
                    .map(|n| format!("room_split_sessions = {n}\n"))
                    .unwrap_or_default(),
                RECORD.get().copied().unwrap_or(false),
                self.extra_config,
            ),
        )?;
        Ok(config)
    }
}

fn check_binary(binary: &Path) -> anyhow::Result<()> {
    if !binary.exists() {
        bail!(
            "server binary {} not found; build it with `cargo build --release -p diemcau` or pass --server-bin",
            binary.display()
        );
    }
    Ok(())
}

/// A `diemcau` command with only our environment (a stray DIEMCAU_* of the
/// caller must not change the run), dying with the harness.
fn command(binary: &Path, config: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.arg("--config")
        .arg(config)
        .current_dir(dir)
        .stdin(Stdio::null());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("DIEMCAU_")) {
        cmd.env_remove(k);
    }
    // SAFETY: child_pre_exec only makes async-signal-safe calls.
    unsafe { cmd.pre_exec(cleanup::child_pre_exec) };
    cmd
}

/// `diemcau --config <spec's config> admin create --name <name>`, the
/// password through `DIEMCAU_ADMIN_PASSWORD` (before the server starts).
pub fn admin_create(
    binary: &Path,
    dir: &Path,
    spec: &NodeSpec,
    name: &str,
    password: &str,
) -> anyhow::Result<()> {
    check_binary(binary)?;
    let config = spec.write_config(dir)?;
    let out = command(binary, &config, dir)
        .args(["admin", "create", "--name", name])
        .env("DIEMCAU_ADMIN_PASSWORD", password)
        .output()
        .with_context(|| format!("run {} admin create", binary.display()))?;
    if !out.status.success() {
        bail!(
            "admin create failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Server {
    /// Start the server with its data in `dir` (created, then removed by cleanup).
    pub fn start(binary: &Path, dir: &Path, workers: usize) -> anyhow::Result<Self> {
        Self::start_advertising(binary, dir, workers, "127.0.0.1")
    }

    /// Like [`start`](Self::start), with `advertise` as the media address
    /// the server tells endpoints (S4: the link emulator's address).
    pub fn start_advertising(
        binary: &Path,
        dir: &Path,
        workers: usize,
        advertise: &str,
    ) -> anyhow::Result<Self> {
        let spec = NodeSpec::demo(workers, advertise);
        let record = RECORD.get().copied().unwrap_or(false);
        if !record {
            admin_create(binary, dir, &spec, OPERATOR, OPERATOR_PASSWORD)?;
        }
        let server = Self::start_node(binary, dir, &spec)?;
        if !record {
            // Started from the harness's sync code (S1–S4, S6) or from S5's
            // runtime.
            match tokio::runtime::Handle::try_current() {
                Ok(h) => tokio::task::block_in_place(|| h.block_on(server.stop_demo_stream()))?,
                Err(_) => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(server.stop_demo_stream())?,
            }
        }
        Ok(server)
    }

    /// `diemcau demo` starts its meeting's live stream (the encoded
    /// composite, for a newcomer to find at `/live/demo`); an operator stops
    /// it here through the API, as in the console, unless `--record`.
    async fn stop_demo_stream(&self) -> anyhow::Result<()> {
        let session = http::login(&self.base, OPERATOR, OPERATOR_PASSWORD).await?;
        let auth = session.headers();
        // The demo seeds its meeting after the API answers: a server
        // started slowly (under heaptrack, on a busy machine) has none yet.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let list = loop {
            let list = http::request(&self.base, "GET", "/api/v1/meetings", &auth, None).await?;
            if list.status != 200 {
                bail!("meetings: {} {}", list.status, list.body);
            }
            let list = list.json()?;
            let seeded = list
                .pointer("/meetings")
                .and_then(|m| m.as_array())
                .is_some_and(|m| !m.is_empty());
            if seeded || std::time::Instant::now() > deadline {
                break list;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        let live: Vec<&str> = list
            .pointer("/meetings")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
            .filter(|m| {
                matches!(
                    m.get("state").and_then(|s| s.as_str()),
                    Some("open" | "live")
                )
            })
            .filter_map(|m| m.get("id").and_then(|i| i.as_str()))
            .collect();
        if live.is_empty() {
            bail!("the demo has no open meeting: {list}");
        }
        for id in live {
            let stop = http::request(
                &self.base,
                "POST",
                &format!("/api/v1/meetings/{id}/live/stream"),
                &auth,
                Some(&json!({"on": false})),
            )
            .await?;
            if stop.status != 200 {
                bail!("stop the demo's live stream: {} {}", stop.status, stop.body);
            }
        }
        Ok(())
    }

    /// Start one server as `spec` says, its data in `dir`.
    pub fn start_node(binary: &Path, dir: &Path, spec: &NodeSpec) -> anyhow::Result<Self> {
        check_binary(binary)?;
        let config = spec.write_config(dir)?;
        let log = dir.join("diemcau.log");
        let out = std::fs::File::create(&log)?;
        let mut cmd = command(binary, &config, dir);
        cmd.args(&spec.args).stdout(out.try_clone()?).stderr(out);
        let child = cmd
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let pid = child.id();
        cleanup::register_child(pid);
        // The Child handle is dropped; cleanup reaps the PID.
        drop(child);
        let server = Server {
            pid,
            base: format!("http://127.0.0.1:{}", spec.http_port),
            http_port: spec.http_port,
            log,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if http_get_ok(self.http_port, "/healthz") {
                return Ok(());
            }
            if cpu_ticks(self.pid).is_none() {
                bail!(
                    "diemcau exited during start; its log {}:\n{}",
                    self.log.display(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "diemcau not ready within {READY_TIMEOUT:?}; log {}",
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop(self) {
        cleanup::stop_child(self.pid as i32);
    }
}

fn http_get_ok(port: u16, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
}

/// utime + stime of a process, in clock ticks (None: it is gone or a zombie).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = s.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    if f.first() == Some(&"Z") {
        return None;
    }
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Resident set size, bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// CPU time of a process over an interval, as cores used.
pub struct CpuMeter {
    pid: u32,
    ticks: u64,
    at: Instant,
}

impl CpuMeter {
    pub fn start(pid: u32) -> Self {
        Self {
            pid,
            ticks: cpu_ticks(pid).unwrap_or(0),
            at: Instant::now(),
        }
    }

    /// Cores used since the last lap (or the start), and start a new lap.
    pub fn lap(&mut self) -> f64 {
        let (cpu, wall) = self.read();
        *self = CpuMeter::start(self.pid);
        if wall > 0.0 { cpu / wall } else { 0.0 }
    }

    /// (CPU seconds used, wall seconds) since start.
    pub fn read(&self) -> (f64, f64) {
        let now = cpu_ticks(self.pid).unwrap_or(self.ticks);
        (
            (now - self.ticks) as f64 / ticks_per_sec(),
            self.at.elapsed().as_secs_f64(),
        )
    }
}
