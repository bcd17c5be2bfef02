//! Guaranteed cleanup: every network namespace, child process and temp dir
//! the harness makes is registered here, and removed on normal exit (the
//! [`Guard`]'s drop), on error (same drop, as `main` unwinds its frames) and
//! on SIGINT/SIGTERM/SIGHUP (a dedicated thread waits for them with
//! `sigwait`, cleans up, exits 128+signal).
//!
//! Only what was registered is touched: children are killed by their PID
//! — with their process group when they lead one, as every child started
//! here does, so what a child started itself (a wrapper's server under
//! `--server-bin`, Chromium's helpers) ends with it —, namespaces by the
//! name this process gave them (`dl-<pid>`). A namespace
//! left by a harness that was SIGKILLed (its PID no longer exists) is swept
//! at the next start.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Prefix of every namespace this harness creates: `dl-<harness pid>[-suffix]`.
pub const NETNS_PREFIX: &str = "dl-";
/// How long a child gets to exit after SIGINT before SIGKILL.
const CHILD_GRACE: Duration = Duration::from_secs(3);
/// After SIGKILL, how long a process may take to be gone (it must be
/// scheduled once to die: a busy machine delays it, never this long).
const KILLED_GONE_WITHIN: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Registry {
    children: Vec<i32>,
    namespaces: Vec<String>,
    dirs: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    children: Vec::new(),
    namespaces: Vec::new(),
    dirs: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn register_child(pid: u32) {
    registry().children.push(pid as i32);
}

/// The child exited and was reaped: never signal its PID again.
pub fn forget_child(pid: u32) {
    registry().children.retain(|&p| p != pid as i32);
}

pub fn register_dir(dir: PathBuf) {
    registry().dirs.push(dir);
}

/// Blocks the termination signals in the calling thread (and so in every
/// thread spawned afterwards) and starts the thread that waits for them.
/// Call first thing in `main`, before any other thread exists.
pub fn install_signal_thread() {
    // SAFETY: sigset_t is plain data initialised by sigemptyset/sigaddset;
    // pthread_sigmask only changes this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let set_copy = set;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut sig: libc::c_int = 0;
                if libc::sigwait(&set_copy, &mut sig) == 0 {
                    eprintln!("diemcau-load: signal {sig}, cleaning up");
                    run_all();
                    libc::_exit(128 + sig);
                }
            })
            .expect("spawn the signal thread");
    }
}

/// Run in a child between fork and exec: termination signals unblocked
/// (the mask is inherited across exec), and SIGTERM when the harness dies
/// even by SIGKILL.
pub fn child_pre_exec() -> std::io::Result<()> {
    // SAFETY: async-signal-safe calls only, in the forked child.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        // Its own process group, which `stop_child` signals whole.
        libc::setpgid(0, 0);
    }
    Ok(())
}

/// Whether a process of group `pgid` still runs. Zombies do not count:
/// they hold nothing and wait only for their reaper (an orphan's is
/// whatever reaps for PID 1, which may be slow or never).
fn group_runs(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // After the command's name: state, parent, group.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let group = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        group == Some(pgid) && state != Some("Z")
    })
}

fn alive(pid: i32) -> bool {
    // A zombie still "exists" for kill(0); look at its state instead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Stop one child we started: SIGINT (diemcau and Janus shut down cleanly
/// on it), SIGKILL after a grace period, then reap it.
pub fn stop_child(pid: i32) {
    // SAFETY: signalling and reaping a PID this process spawned.
    unsafe {
        // The group it leads (a wrapper's children too), else the PID alone.
        let target = if libc::getpgid(pid) == pid { -pid } else { pid };
        libc::kill(target, libc::SIGINT);
        let deadline = Instant::now() + CHILD_GRACE;
        let mut status = 0;
        loop {
            let r = libc::waitpid(pid, &mut status, libc::WNOHANG);
            if r == pid || r < 0 {
                break;
            }
            if Instant::now() >= deadline || !alive(pid) {
                libc::kill(target, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Members that outlived their leader (the server a wrapper
        // started): the rest of the same grace, then SIGKILL, and wait
        // until they are gone — a kill is delivered when the process next
        // runs, which on a busy machine is not at once, and the caller
        // counts on the ports being free.
        if target < 0 {
            while group_runs(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if group_runs(pid) {
                libc::kill(target, libc::SIGKILL);
                let until = Instant::now() + KILLED_GONE_WITHIN;
                while group_runs(pid) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    forget_child(pid as u32);
}

/// Remove everything registered. Idempotent; safe from any thread.
pub fn run_all() {
    let (children, namespaces, dirs) = {
        let mut r = registry();
        (
            std::mem::take(&mut r.children),
            std::mem::take(&mut r.namespaces),
            std::mem::take(&mut r.dirs),
        )
    };
    for pid in children {
        stop_child(pid);
    }
    for ns in namespaces {
        delete_netns(&ns);
    }
    for d in dirs {
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// Cleans up when dropped (normal return and unwinding alike).
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        run_all();
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| anyhow::anyhow!("run `ip {}`: {e} (package iproute2)", args.join(" ")))?;
    if !out.status.success() {
        anyhow::bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn delete_netns(name: &str) {
    if let Err(e) = ip(&["netns", "del", name]) {
        eprintln!("diemcau-load: {e}");
    }
}

/// Create namespace `dl-<pid><suffix>` with only `lo`, up. Registered
/// before it exists, so a signal in between still removes it.
pub fn create_netns(suffix: &str) -> anyhow::Result<String> {
    let name = format!("{NETNS_PREFIX}{}{suffix}", std::process::id());
    registry().namespaces.push(name.clone());
    ip(&["netns", "add", &name])?;
    ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"])?;
    Ok(name)
}

/// Move the calling thread into namespace `name`; threads and processes it
/// creates afterwards live there too. Call on the main thread before the
/// async runtime starts.
pub fn enter_netns(name: &str) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{name}");
    let f = std::fs::File::open(&path).map_err(|e| anyhow::anyhow!("open {path}: {e}"))?;
    // SAFETY: setns on a namespace fd we just opened; affects this thread only.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        anyhow::bail!(
            "setns({path}): {} (the harness needs root)",
            std::io::Error::last_os_error()
        );
    }
    let out = Command::new("ip").args(["-o", "addr", "show"]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // Besides lo, only our own veth end (to the Janus namespace) may exist.
    let veth = format!(" dlv{}", std::process::id());
    if !text
        .lines()
        .all(|l| l.contains(" lo ") || l.contains(&veth))
    {
        anyhow::bail!("namespace {name} has interfaces besides lo and ours: {text}");
    }
    Ok(())
}

/// Where a harness keeps its files: `<tmp>/diemcau-load-<pid>`.
pub fn temp_dir_of(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("{TEMP_PREFIX}{pid}"))
}

const TEMP_PREFIX: &str = "diemcau-load-";

/// Delete `dl-<pid>*` namespaces and `diemcau-load-<pid>` temp dirs whose
/// harness process no longer exists (it was SIGKILLed before it could
/// clean up).
pub fn sweep_stale() {
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = name
                .strip_prefix(TEMP_PREFIX)
                .and_then(|p| p.parse::<i32>().ok())
                && !alive(pid)
            {
                eprintln!("diemcau-load: removing stale temp dir {name} (harness {pid} is gone)");
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix(NETNS_PREFIX) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(pid) = pid.parse::<i32>()
            && !alive(pid)
        {
            eprintln!("diemcau-load: removing stale namespace {name} (harness {pid} is gone)");
            delete_netns(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;

    /// `--server-bin` may be a wrapper (a script, `heaptrack`, `perf
    /// record`) whose server is its child: stopping the wrapper by its PID
    /// alone left the server running, holding its ports.
    #[test]
    fn stopping_a_child_ends_what_it_started_too() {
        let mut cmd = Command::new("sh");
        // A wrapper that ignores SIGINT, around a child that would outlive it.
        cmd.args(["-c", "trap '' INT; sleep 60 & echo $!; wait"])
            .stdout(std::process::Stdio::piped());
        // SAFETY: child_pre_exec only makes async-signal-safe calls.
        unsafe { cmd.pre_exec(child_pre_exec) };
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        register_child(pid);
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let grandchild: i32 = line.trim().parse().unwrap();
        drop(child);
        assert!(alive(grandchild), "the wrapper's child runs");
        stop_child(pid as i32);
        assert!(!alive(pid as i32), "the wrapper ended");
        assert!(!alive(grandchild), "the wrapper's child ended with it");
    }
}
