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

use crate::cleanup;

/// Fixed ports are fine: the namespace is ours alone.
pub const HTTP_PORT: u16 = 18080;
const HTTPS_PORT: u16 = 18443;
pub const MEDIA_PORT: u16 = 50000;
pub const DEMO_TOKEN: &str = "load-demo-token";
pub const MEETING: &str = "demo";
/// First start creates the database and a local CA.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Server {
    pub pid: u32,
    pub base: String,
    pub log: PathBuf,
}

/// `<workspace>/target/release/diemcau`.
pub fn default_binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/diemcau")
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
        if !binary.exists() {
            bail!(
                "server binary {} not found; build it with `cargo build --release -p diemcau` or pass --server-bin",
                binary.display()
            );
        }
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        let config = dir.join("diemcau.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n\
                 [http]\nhttp_listen = \"127.0.0.1:{HTTP_PORT}\"\nhttps_listen = \"127.0.0.1:{HTTPS_PORT}\"\n\
                 [media]\nbind = \"127.0.0.1\"\nudp_port = {MEDIA_PORT}\nadvertise = [\"{advertise}\"]\nworkers = {workers}\n\
                 [log]\nfilter = \"warn\"\n",
                data.display()
            ),
        )?;
        let log = dir.join("diemcau.log");
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new(binary);
        cmd.arg("--config")
            .arg(&config)
            .args(["demo", "--token", DEMO_TOKEN])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        // Only our env: a stray DIEMCAU_* of the caller must not change the run.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("DIEMCAU_")) {
            cmd.env_remove(k);
        }
        // SAFETY: child_pre_exec only makes async-signal-safe calls.
        unsafe { cmd.pre_exec(cleanup::child_pre_exec) };
        let child = cmd
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let pid = child.id();
        cleanup::register_child(pid);
        // The Child handle is dropped; cleanup reaps the PID.
        drop(child);
        let server = Server {
            pid,
            base: format!("http://127.0.0.1:{HTTP_PORT}"),
            log,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if http_get_ok(HTTP_PORT, "/healthz") {
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

    /// (CPU seconds used, wall seconds) since start.
    pub fn read(&self) -> (f64, f64) {
        let now = cpu_ticks(self.pid).unwrap_or(self.ticks);
        (
            (now - self.ticks) as f64 / ticks_per_sec(),
            self.at.elapsed().as_secs_f64(),
        )
    }
}
