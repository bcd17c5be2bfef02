//! Memory per subscribed track in steady state: live heap bytes of the
//! engine (counted by a global allocator) with 1 publisher and N = 10 and
//! N = 150 subscribers (a stage video slot + an audio slot each), after 5 s
//! of media. The clients' str0m peers are dropped before the engine is
//! measured, so only the server's memory is left.
//!
//! Run: `cargo bench --bench memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

#[path = "support/forwarding.rs"]
mod forwarding;
use diemcau_testkit::vt;

use forwarding::Forwarding;

struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as i64 - l.size() as i64, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

fn rss() -> i64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// (engine heap bytes, whole-world heap bytes, process RSS) in steady state.
fn measure(n: usize) -> (i64, i64, i64) {
    let base = live();
    let mut f = Forwarding::new(n);
    f.run(Duration::from_secs(5));
    let m = f.run_packets(1000);
    m.report(&format!("memory/{n}"));
    let world = live() - base;
    let rss_now = rss();
    // Drop the clients: what remains is the engine (and the harness's maps).
    drop(std::mem::take(&mut f.w.clients));
    let engine = live() - base;
    drop(f);
    (engine, world, rss_now)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo bench -- --list` style discovery: nothing to list.
        return;
    }
    const SMALL: usize = 10;
    const LARGE: usize = 150;
    let (e_small, w_small, r_small) = measure(SMALL);
    let (e_large, w_large, r_large) = measure(LARGE);
    let mib = |b: i64| b as f64 / (1 << 20) as f64;
    println!(
        "engine heap: N={SMALL}: {:.2} MiB, N={LARGE}: {:.2} MiB",
        mib(e_small),
        mib(e_large)
    );
    println!(
        "world heap (engine + client peers): N={SMALL}: {:.2} MiB, N={LARGE}: {:.2} MiB",
        mib(w_small),
        mib(w_large)
    );
    println!(
        "process RSS at steady state: N={SMALL}: {:.1} MiB, N={LARGE}: {:.1} MiB",
        mib(r_small),
        mib(r_large)
    );
    let per_sub = (e_large - e_small) as f64 / (LARGE - SMALL) as f64;
    println!(
        "engine heap per subscriber (2 subscribed tracks: stage video + audio): {:.1} KiB; per subscribed track: {:.1} KiB",
        per_sub / 1024.0,
        per_sub / 2048.0
    );
    let per_peer = ((w_large - e_large) - (w_small - e_small)) as f64 / (LARGE - SMALL) as f64;
    println!(
        "for comparison, a client str0m peer (receiving) costs {:.1} KiB of heap",
        per_peer / 1024.0
    );
}
