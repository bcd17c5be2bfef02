//! Loopback-only network namespace for media tests.
//!
//! `unshare(CLONE_NEWNET)` moves the calling thread (and every thread and
//! process it creates afterwards) into a new namespace whose only interface
//! is `lo`. Call it first thing in a test, before starting a runtime, so the
//! server, webrtc-rs clients and Chromium all live there. Needs root (CI and
//! these machines run as root); the namespace disappears with the test.

use std::process::Command;

/// Enter a fresh network namespace with only loopback up.
///
/// Panics with a clear message when the namespace cannot be made: a media
/// test must never fall back to the host's real interfaces.
pub fn enter_loopback_only() {
    // SAFETY: unshare only changes the calling thread's namespace membership.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET) failed: {} (media tests need root)",
        std::io::Error::last_os_error()
    );
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("run `ip link set lo up` (package iproute2)");
    assert!(status.success(), "ip link set lo up failed");
    let out = Command::new("ip")
        .args(["-o", "addr", "show"])
        .output()
        .expect("ip addr");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().all(|l| l.contains(" lo ")),
        "namespace has interfaces besides lo: {text}"
    );
}
