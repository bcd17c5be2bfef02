//! What server-built RED costs the engine, per subscriber: one publisher
//! sending plain Opus (its video stopped) and 50 audio subscribers in the
//! virtual-time world of the engine tests, timed as `forward` times it
//! (only the engine's calls). Four worlds in one invocation, interleaved
//! round by round so a busy machine weighs on all of them alike:
//!
//! - `plain`: subscribers that did not negotiate RED (the baseline);
//! - `red, 0 % loss`: they negotiated RED, their links are clean — the
//!   engine sends them the primary Opus;
//! - `red, 4 % loss`: every 25th packet to them is lost, their receiver
//!   reports say so — the engine builds one level of redundancy;
//! - `red, 12.5 % loss`: every 8th — two levels.
//!
//! Figures are engine time per audio packet sent to a subscriber (what
//! one more subscriber costs per packet), the best of the rounds, and the
//! ratio to `plain` in the same invocation.
//!
//! Run: `cargo bench --bench red`

use std::time::Duration;

use diemcau::media::{Command, Reply};

// Shared with `forward` and `memory`: not every helper is used here.
#[allow(dead_code)]
#[path = "support/forwarding.rs"]
mod forwarding;
use diemcau_testkit::vt;

use forwarding::Forwarding;

const SUBSCRIBERS: usize = 50;
const ROUNDS: usize = 7;
/// Audio packets forwarded per round (50 subscribers × 50 packets/s: 20 s).
const PACKETS: u64 = 50_000;

struct World {
    label: &'static str,
    f: Forwarding,
    best_ns: f64,
    redundancy_before: (u64, u64),
}

/// (RED packets the engine built, bytes of redundancy sent) so far.
fn redundancy(f: &mut Forwarding) -> (u64, u64) {
    let now = f.w.now;
    match f.w.engine.handle_command(now, Command::Stats) {
        Ok(Reply::Stats(st)) => st.rooms.iter().fold((0, 0), |(g, b), r| {
            (g + r.red_generated, b + r.red_bytes_out)
        }),
        _ => (0, 0),
    }
}

fn main() {
    let mut worlds: Vec<World> = [
        ("plain", false, None),
        ("red, 0 % loss", true, None),
        ("red, 4 % loss", true, Some(25)),
        ("red, 12.5 % loss", true, Some(8)),
    ]
    .into_iter()
    .map(|(label, red, drop)| {
        let mut f = Forwarding::audio_only(SUBSCRIBERS, red);
        f.drop_to_subs_every = drop;
        // Long enough for receiver reports to show the loss and the
        // smoothed figure to cross the thresholds.
        f.run(Duration::from_secs(8));
        let before = redundancy(&mut f);
        World {
            label,
            f,
            best_ns: f64::MAX,
            redundancy_before: before,
        }
    })
    .collect();
    for _ in 0..ROUNDS {
        for w in &mut worlds {
            let m = w.f.run_packets(PACKETS);
            let ns = (m.fwd_ns + m.other_ns) as f64 / m.forwarded() as f64;
            w.best_ns = w.best_ns.min(ns);
        }
    }
    let base = worlds[0].best_ns;
    println!("{SUBSCRIBERS} audio subscribers, best of {ROUNDS} rounds of {PACKETS} packets");
    println!(
        "{:<18} {:>10} {:>8} {:>14} {:>16}",
        "world", "ns/packet", "× plain", "built by us %", "redundancy B/pkt"
    );
    let sent = ROUNDS as f64 * PACKETS as f64;
    for w in &mut worlds {
        let (g, b) = redundancy(&mut w.f);
        let (g0, b0) = w.redundancy_before;
        println!(
            "{:<18} {:>10.0} {:>8.2} {:>14.1} {:>16.1}",
            w.label,
            w.best_ns,
            w.best_ns / base,
            100.0 * (g - g0) as f64 / sent,
            (b - b0) as f64 / sent
        );
    }
}
