//! A core hogged on purpose: a busy loop (`/bin/sh`, nothing but `:` in a
//! loop) pinned to one CPU at the default priority, as another program
//! gone wrong on the server would be. The scheduler then shares that core
//! between the hog and whatever media worker runs there, so a scenario shows
//! what a starved core does to the meeting (S2: the audio must stay ≥ 99 %).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use serde::Serialize;

use crate::server::CpuMeter;

/// What the hog did over a window.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct HogResult {
    pub cpu: usize,
    /// Cores it used (≈ 1.0 when it kept its core busy).
    pub cores: f64,
}

pub struct Hog {
    cpu: usize,
    child: Child,
    meter: CpuMeter,
}

impl Hog {
    pub fn start(cpu: usize) -> anyhow::Result<Self> {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "while :; do :; done"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls:
        // sched_setaffinity on the child itself with a set on its stack.
        unsafe {
            cmd.pre_exec(move || {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("hog on CPU {cpu}: {e}"))?;
        let meter = CpuMeter::start(child.id());
        Ok(Self { cpu, child, meter })
    }

    /// Stop it (by the PID it was started with) and report its use.
    pub fn stop(mut self) -> HogResult {
        let (cpu_s, wall_s) = self.meter.read();
        let _ = self.child.kill();
        let _ = self.child.wait();
        HogResult {
            cpu: self.cpu,
            cores: if wall_s > 0.0 { cpu_s / wall_s } else { 0.0 },
        }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        // A scenario that fails midway must not leave a core spinning.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
