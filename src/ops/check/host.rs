//! The machine: listen ports free, the data directory writable with disk
//! to spare, the clock plausible and synchronised.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

use super::Report;
use crate::config::Config;

/// The clock is certainly wrong before this instant (2026-01-01 00:00 UTC,
/// older than this release): a board without an RTC battery, or a VM
/// image, wakes up in 1970 or on the day it was built.
const CLOCK_FLOOR_UNIX_SECS: i64 = 1_767_225_600;

const MIB: u64 = 1024 * 1024;

/// One socket the server will open.
struct Listener {
    key: &'static str,
    addr: SocketAddr,
    udp: bool,
}

fn listeners(c: &Config) -> Vec<Listener> {
    let mut out = Vec::new();
    for (key, addr) in [
        ("http.https_listen", c.http.https_listen),
        ("http.http_listen", c.http.http_listen),
        ("http.metrics_listen", c.http.metrics_listen),
    ] {
        if let Some(addr) = addr {
            out.push(Listener {
                key,
                addr,
                udp: false,
            });
        }
    }
    out.push(Listener {
        key: "media.udp_port",
        addr: SocketAddr::new(c.media.bind, c.media.udp_port),
        udp: true,
    });
    if c.media.ice_tcp {
        out.push(Listener {
            key: "media.tcp_port",
            addr: SocketAddr::new(c.media.bind, c.media.tcp_port),
            udp: false,
        });
    }
    // Port 0: the kernel picks one at start (tests); nothing to check.
    out.retain(|l| l.addr.port() != 0);
    out
}

pub fn ports(r: &mut Report, c: &Config) {
    let all = listeners(c);
    for (i, l) in all.iter().enumerate() {
        let proto = if l.udp { "UDP" } else { "TCP" };
        let clash = all[..i].iter().find(|o| {
            o.udp == l.udp
                && o.addr.port() == l.addr.port()
                && (o.addr.ip() == l.addr.ip()
                    || o.addr.ip().is_unspecified()
                    || l.addr.ip().is_unspecified())
        });
        if let Some(o) = clash {
            r.fail(
                format!("Cổng {proto} {} ({}) trùng với {}", l.addr, l.key, o.key),
                format!(
                    "{proto} port {} ({}) is also {}: give each its own port",
                    l.addr, l.key, o.key
                ),
            );
            continue;
        }
        let bound = if l.udp {
            UdpSocket::bind(l.addr).map(drop)
        } else {
            TcpListener::bind(l.addr).map(drop)
        };
        match bound {
            Ok(()) => r.ok(
                format!("Cổng {proto} {} ({}) còn trống", l.addr, l.key),
                format!("{proto} port {} ({}) is free", l.addr, l.key),
            ),
            Err(e) if e.kind() == ErrorKind::AddrInUse => r.fail(
                format!(
                    "Cổng {proto} {} ({}) đang bị chương trình khác chiếm (hoặc diemcau đang chạy)",
                    l.addr, l.key
                ),
                format!(
                    "{proto} port {} ({}) is taken by another program (or diemcau is running: systemctl stop diemcau)",
                    l.addr, l.key
                ),
            ),
            Err(e) if e.kind() == ErrorKind::PermissionDenied && l.addr.port() < 1024 => r.fail(
                format!(
                    "Cổng {proto} {} ({}) dưới 1024 cần quyền CAP_NET_BIND_SERVICE",
                    l.addr, l.key
                ),
                format!(
                    "{proto} port {} ({}) is below 1024: the service needs CAP_NET_BIND_SERVICE \
                     (AmbientCapabilities in a systemd drop-in)",
                    l.addr, l.key
                ),
            ),
            Err(e) => r.fail(
                format!("Không mở được cổng {proto} {} ({})", l.addr, l.key),
                format!("cannot open {proto} {} ({}): {e}", l.addr, l.key),
            ),
        }
    }
}

pub fn data_dir(r: &mut Report, c: &Config) {
    let dir = &c.data_dir;
    let shown = dir.display();
    let existing = if dir.is_dir() {
        let probe = dir.join(format!(".diemcau-check-{}", std::process::id()));
        let wrote = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe);
        let _ = std::fs::remove_file(&probe);
        match wrote {
            Ok(_) => r.ok(
                format!("Thư mục dữ liệu {shown} ghi được"),
                format!("the data directory {shown} is writable"),
            ),
            Err(e) => r.fail(
                format!("Không ghi được vào thư mục dữ liệu {shown}"),
                format!("cannot write in the data directory {shown}: {e}"),
            ),
        }
        dir.clone()
    } else if dir.exists() {
        r.fail(
            format!("{shown} (data_dir) không phải thư mục"),
            format!("{shown} (data_dir) is not a directory"),
        );
        return;
    } else {
        let parent = nearest_existing(dir);
        r.ok(
            format!("Thư mục dữ liệu {shown} sẽ được tạo khi khởi động lần đầu"),
            format!(
                "the data directory {shown} will be made at first start (under {})",
                parent.display()
            ),
        );
        parent
    };
    disk(r, c, &existing);
}

fn nearest_existing(dir: &Path) -> PathBuf {
    let mut p = dir.to_path_buf();
    while !p.exists() {
        match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => p = parent.to_path_buf(),
            _ => return PathBuf::from("."),
        }
    }
    p
}

/// Free space where the data directory lives, against the floor below
/// which recordings are refused.
fn disk(r: &mut Report, c: &Config, dir: &Path) {
    let Some(free) = free_bytes(dir) else {
        r.warn(
            format!("Không đo được dung lượng trống ở {}", dir.display()),
            format!("cannot measure the free disk at {}", dir.display()),
        );
        return;
    };
    let floor = c.recording.min_free_mib.saturating_mul(MIB);
    let gib = free as f64 / (1024.0 * MIB as f64);
    if free < floor {
        r.fail(
            format!(
                "Ổ đĩa chỉ còn {gib:.1} GiB trống, dưới mức recording.min_free_mib ({} MiB): không ghi hình được",
                c.recording.min_free_mib
            ),
            format!(
                "only {gib:.1} GiB free on the data directory's disk, below recording.min_free_mib ({} MiB): recordings would be refused",
                c.recording.min_free_mib
            ),
        );
    } else if free < floor.saturating_mul(2) {
        r.warn(
            format!("Ổ đĩa còn {gib:.1} GiB trống, gần mức tối thiểu ghi hình"),
            format!(
                "{gib:.1} GiB free on the data directory's disk, close to recording.min_free_mib"
            ),
        );
    } else {
        r.ok(
            format!("Ổ đĩa còn {gib:.1} GiB trống"),
            format!("{gib:.1} GiB free on the data directory's disk"),
        );
    }
}

fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data filled by the call; `c` is a valid C string.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(s.f_bavail as u64 * s.f_frsize as u64)
}

pub fn clock(r: &mut Report) {
    let now = time::OffsetDateTime::now_utc();
    if now.unix_timestamp() < CLOCK_FLOOR_UNIX_SECS {
        r.fail(
            format!("Đồng hồ hệ thống sai: {now}"),
            format!("the system clock is wrong: it says {now}; set it (and NTP) before starting"),
        );
        return;
    }
    // SAFETY: timex is plain data; modes = 0 only reads the kernel's state.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state == libc::TIME_ERROR || tx.status & libc::STA_UNSYNC != 0 {
        r.warn(
            "Đồng hồ chưa được đồng bộ (NTP): thời gian trong nhật ký và biên bản theo nó",
            "the clock is not synchronised (NTP): the audit log and minutes carry its times; \
             set up chrony or systemd-timesyncd with the province's time server",
        );
    } else {
        r.ok(
            format!("Đồng hồ đã đồng bộ: {now}"),
            format!("the clock is synchronised: {now}"),
        );
    }
}
