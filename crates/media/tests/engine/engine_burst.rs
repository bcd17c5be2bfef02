//! A subscriber is driven once per batch of input, and str0m's pacer sends
//! what it queued in that batch on one timeout (`vendor/str0m/PATCHES.md`,
//! "burst"): a frame leaves whole, in the step its packets arrived.

use std::collections::HashMap;
use std::time::Duration;

use diemcau_media::{Command, EngineStats, Reply};
use diemcau_testkit::vt::{PACKETS_PER_FRAME, World};

/// Stage packets of client `c`, counted per RTP timestamp (one frame each),
/// with the layer they came from.
fn frames(w: &World, c: usize) -> HashMap<u32, (usize, u8)> {
    let stage = w.clients[c].recv_mids[0];
    let mut by_ts: HashMap<u32, (usize, u8)> = HashMap::new();
    for g in w.clients[c].on_mid(stage) {
        let e = by_ts.entry(g.ts).or_insert((0, g.origin().1));
        e.0 += 1;
    }
    by_ts
}

/// Before, the pacer released one packet per timeout of the whole session
/// and the engine drove each subscriber after every packet: a 4-packet
/// frame reached a viewer over four wake-ups (four 1 ms steps here).
#[test]
fn a_frame_reaches_every_viewer_whole_in_the_step_it_arrives() {
    let mut w = World::new();
    w.join(true, 0, 0);
    let viewers: Vec<usize> = (0..4).map(|_| w.join(false, 1, 1)).collect();
    // Connected, on the top layer, past the first keyframes.
    w.run(Duration::from_secs(3));
    // (A layer switch during the warm-up may cut a frame of the old layer
    // short: only frames that arrive from now on are judged.)
    let before: Vec<HashMap<u32, (usize, u8)>> = viewers.iter().map(|&c| frames(&w, c)).collect();
    for _ in 0..200 {
        w.run(Duration::from_millis(1));
        for (i, &c) in viewers.iter().enumerate() {
            for (ts, (got, layer)) in frames(&w, c) {
                if before[i].contains_key(&ts) {
                    continue;
                }
                let whole = PACKETS_PER_FRAME[usize::from(layer)];
                assert_eq!(
                    got, whole,
                    "viewer {c}: frame ts {ts} (layer {layer}) had {got} of {whole} packets at the end of the step it arrived in"
                );
            }
        }
    }
    for (i, &c) in viewers.iter().enumerate() {
        let new = frames(&w, c).len() - before[i].len();
        assert!(new >= 5, "viewer {c} received {new} frames in 200 ms");
    }
}

fn stats(w: &mut World) -> EngineStats {
    let Reply::Stats(st) = w.cmd(Command::Stats) else {
        panic!("stats")
    };
    st
}

/// Once media flows, a viewer is driven after each batch by a light flush
/// (str0m patch "light-flush": its send queues and pacer only), not a
/// whole session timeout, and its media still leaves whole. Its session's
/// other timers keep their own deadlines: the sender reports the viewer
/// gets keep coming, each counting more packets than the last.
#[test]
fn viewers_are_flushed_lightly_and_keep_their_sender_reports() {
    let mut w = World::new();
    w.join(true, 0, 0);
    let viewer = w.join(false, 1, 1);
    w.run(Duration::from_secs(3));
    let stage = w.clients[viewer].recv_mids[0];
    let got = |w: &World| w.clients[viewer].on_mid(stage).len();
    let (stats0, got0) = (stats(&mut w), got(&w));
    let reported0 = w.clients[viewer]
        .sender_reported
        .get(&stage)
        .map_or(0, Vec::len);
    w.run(Duration::from_secs(10));
    let stats1 = stats(&mut w);
    let light = stats1.light_flushes - stats0.light_flushes;
    let whole = stats1.flush_timeouts - stats0.flush_timeouts;
    assert!(
        got(&w) - got0 > 500,
        "the viewer got {} packets",
        got(&w) - got0
    );
    assert!(
        light > 100 * whole.max(1),
        "{light} light flushes against {whole} whole timeouts"
    );
    let reports = w.clients[viewer].sender_reported[&stage].clone();
    let mut counts = reports[reported0.saturating_sub(1)..].to_vec();
    counts.dedup();
    assert!(
        counts.len() >= 5 && counts.windows(2).all(|p| p[1] > p[0]),
        "the sender reports in 10 s of media did not keep counting up: {reports:?}"
    );
}
