//! The peer server: Janus 1.1.2 (Debian's `/usr/bin/janus`) with its
//! VideoRoom plugin and WebSocket transport only, configured from files the
//! harness writes into its temp dir, running in its own namespace
//! `dl-<pid>-j` joined to the load's namespace by a veth pair (Janus never
//! gathers ICE candidates on loopback):
//!
//! ```text
//! dl-<pid> (load, diemcau)  dlv<pid>b 10.213.0.2/24 ══ veth ══ dlv<pid>a 10.213.0.1/24  dl-<pid>-j (Janus)
//! ```
//!
//! Both namespaces are the harness's own; load never leaves them.

use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cleanup;

pub const JANUS_BIN: &str = "/usr/bin/janus";
const JANUS_LIBS: &str = "/usr/lib/x86_64-linux-gnu/janus";
pub const JANUS_IP: &str = "10.213.0.1";
/// The load's address on the veth (its endpoints bind here to reach Janus).
pub const LOAD_IP: &str = "10.213.0.2";
pub const WS_PORT: u16 = 8188;
pub const ROOM: u64 = 1234;
/// The room's publisher limit: S2 has 1 + sectors + communes publishers.
const MAX_PUBLISHERS: usize = 400;
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Names of the namespace and the veth ends for harness `pid`.
pub struct JanusNet {
    pub netns: String,
    pub veth_janus: String,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Create `dl-<pid>-j` and the veth pair into `load_ns`. Call before the
/// main thread enters `load_ns` (the veth is made in the host namespace
/// and moved; deleting a namespace deletes its end).
pub fn setup_net(load_ns: &str) -> anyhow::Result<JanusNet> {
    let netns = cleanup::create_netns("-j")?;
    let pid = std::process::id();
    let (a, b) = (format!("dlv{pid}a"), format!("dlv{pid}b"));
    ip(&["link", "add", &a, "type", "veth", "peer", "name", &b])?;
    ip(&["link", "set", &a, "netns", &netns])?;
    ip(&["link", "set", &b, "netns", load_ns])?;
    let in_ns = |ns: &str, args: &[&str]| {
        let mut v = vec!["netns", "exec", ns, "ip"];
        v.extend_from_slice(args);
        ip(&v)
    };
    in_ns(
        &netns,
        &["addr", "add", &format!("{JANUS_IP}/24"), "dev", &a],
    )?;
    in_ns(&netns, &["link", "set", &a, "up"])?;
    in_ns(
        load_ns,
        &["addr", "add", &format!("{LOAD_IP}/24"), "dev", &b],
    )?;
    in_ns(load_ns, &["link", "set", &b, "up"])?;
    Ok(JanusNet {
        netns,
        veth_janus: a,
    })
}

pub struct Janus {
    pub pid: u32,
    pub ws_url: String,
    pub log: PathBuf,
}

/// Janus as its documentation says to run it at scale: a fixed pool of
/// event loops, one per core (`event_loops`), instead of a thread per
/// handle (≈ 300 threads at 250 subscribers, which starve the load
/// generator); ICE-lite like diemcau (the clients are full ICE agents); only
/// the VideoRoom plugin and the WebSocket transport loaded.
pub fn event_loops() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// What the report records beside Janus's figures.
pub fn config_summary() -> String {
    format!(
        "Janus: event_loops = {} (cores), ice_lite = true, plugins = videoroom, transports = websockets",
        event_loops()
    )
}

/// `janus.jcfg`; `folders`: configs, plugins, transports, events, loggers.
fn core_config(folders: &[String], veth: &str, loops: usize) -> String {
    let [c, p, t, e, l] = folders else {
        return String::new();
    };
    format!(
        "general: {{\n configs_folder = \"{c}\"\n plugins_folder = \"{p}\"\n transports_folder = \"{t}\"\n \
         events_folder = \"{e}\"\n loggers_folder = \"{l}\"\n debug_level = 3\n log_to_stdout = true\n \
         session_timeout = 120\n event_loops = {loops}\n}}\n\
         media: {{\n rtp_port_range = \"20000-60000\"\n}}\n\
         nat: {{\n ice_lite = true\n ice_enforce_list = \"{veth}\"\n}}\n"
    )
}

fn write_configs(dir: &Path, veth: &str) -> anyhow::Result<PathBuf> {
    let conf = dir.join("conf");
    for sub in ["conf", "plugins", "transports", "events", "loggers"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    // Only the two modules we use are visible to Janus.
    symlink(
        format!("{JANUS_LIBS}/plugins/libjanus_videoroom.so"),
        dir.join("plugins/libjanus_videoroom.so"),
    )?;
    symlink(
        format!("{JANUS_LIBS}/transports/libjanus_websockets.so"),
        dir.join("transports/libjanus_websockets.so"),
    )?;
    let d = |s: &str| dir.join(s).display().to_string();
    std::fs::write(
        conf.join("janus.jcfg"),
        core_config(
            &[
                d("conf"),
                d("plugins"),
                d("transports"),
                d("events"),
                d("loggers"),
            ],
            veth,
            event_loops(),
        ),
    )?;
    std::fs::write(
        conf.join("janus.transport.websockets.jcfg"),
        format!(
            "general: {{\n json = \"compact\"\n ws = true\n ws_port = {WS_PORT}\n ws_ip = \"{JANUS_IP}\"\n wss = false\n}}\n\
             admin: {{\n admin_ws = false\n admin_wss = false\n}}\n"
        ),
    )?;
    std::fs::write(
        conf.join("janus.plugin.videoroom.jcfg"),
        format!(
            "general: {{\n}}\n\
             room-{ROOM}: {{\n description = \"diemcau-load\"\n publishers = {MAX_PUBLISHERS}\n bitrate = 2000000\n \
             fir_freq = 10\n audiocodec = \"opus\"\n videocodec = \"vp8\"\n audiolevel_ext = true\n}}\n"
        ),
    )?;
    Ok(conf.join("janus.jcfg"))
}

impl Janus {
    pub fn start(net: &JanusNet, dir: &Path) -> anyhow::Result<Self> {
        if !Path::new(JANUS_BIN).exists() {
            bail!("{JANUS_BIN} not found (Debian package `janus`)");
        }
        std::fs::create_dir_all(dir)?;
        let cfg = write_configs(dir, &net.veth_janus)?;
        let log = dir.join("janus.log");
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new("ip");
        // `ip netns exec` execs Janus in place: the PID we get is Janus's.
        cmd.args(["netns", "exec", &net.netns, JANUS_BIN, "-o", "-C"])
            .arg(&cfg)
            .arg("-F")
            .arg(dir.join("conf"))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        // SAFETY: child_pre_exec only makes async-signal-safe calls.
        unsafe { cmd.pre_exec(cleanup::child_pre_exec) };
        let child = cmd.spawn().context("start janus")?;
        let pid = child.id();
        cleanup::register_child(pid);
        drop(child);
        let j = Janus {
            pid,
            ws_url: format!("ws://{JANUS_IP}:{WS_PORT}"),
            log,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = std::net::SocketAddr::from((JANUS_IP.parse::<std::net::Ipv4Addr>()?, WS_PORT));
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err() {
            if crate::server::cpu_ticks(pid).is_none() || Instant::now() > deadline {
                bail!(
                    "janus did not open its WebSocket port; log {}:\n{}",
                    j.log.display(),
                    std::fs::read_to_string(&j.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(j)
    }

    pub fn stop(self) {
        cleanup::stop_child(self.pid as i32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn janus_runs_one_event_loop_per_core_and_ice_lite() {
        let folders: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let cfg = core_config(&folders, "vj0", 2);
        assert!(cfg.contains("event_loops = 2\n"), "{cfg}");
        assert!(cfg.contains("ice_lite = true\n"), "{cfg}");
        assert!(cfg.contains("ice_enforce_list = \"vj0\""), "{cfg}");
        assert!(cfg.contains("plugins_folder = \"b\""), "{cfg}");
    }
}
