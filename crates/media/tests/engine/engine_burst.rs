//! A subscriber is driven once per batch of input, and str0m's pacer sends
//! what it queued in that batch on one timeout (`vendor/str0m/PATCHES.md`,
//! "burst"): a frame leaves whole, in the step its packets arrived.

use std::collections::HashMap;
use std::time::Duration;

use diemcau_media::Command;
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

/// Once media flows, a packet forwarded to a viewer leaves in the call
/// that forwards it (str0m patch "direct-send"): nothing is queued before
/// it and the pacer is within its burst, so no flush, poll or timeout of
/// the viewer's session is needed for it. Its session's other timers keep
/// their own deadlines: the sender reports the viewer gets keep coming,
/// each counting more packets than the last (the direct path counts its
/// packets as the poll did).
#[test]
fn a_viewers_media_leaves_in_the_call_that_forwards_it_and_its_sender_reports_count_it() {
    let mut w = World::new();
    w.join(true, 0, 0);
    let viewer = w.join(false, 1, 1);
    w.run(Duration::from_secs(3));
    let stage = w.clients[viewer].recv_mids[0];
    let got = |w: &World| w.clients[viewer].on_mid(stage).len();
    let (stats0, got0) = (w.stats(), got(&w));
    let reported0 = w.clients[viewer]
        .sender_reported
        .get(&stage)
        .map_or(0, Vec::len);
    w.run(Duration::from_secs(10));
    let stats1 = w.stats();
    let direct = stats1.direct_sends - stats0.direct_sends;
    let queued = stats1.queued_writes - stats0.queued_writes;
    assert!(
        got(&w) - got0 > 500,
        "the viewer got {} packets",
        got(&w) - got0
    );
    assert!(
        direct > 100 * queued.max(1),
        "{direct} packets sent directly against {queued} queued"
    );
    let reports = w.clients[viewer].sender_reported[&stage].clone();
    let mut counts = reports[reported0.saturating_sub(1)..].to_vec();
    counts.dedup();
    assert!(
        counts.len() >= 5 && counts.windows(2).all(|p| p[1] > p[0]),
        "the sender reports in 10 s of media did not keep counting up: {reports:?}"
    );
}

/// A packet sent directly is sealed into a buffer the driver gave back
/// after an earlier send (str0m patch "reuse"), whatever that buffer held:
/// once media flows nearly every direct send reuses one, and the viewer
/// gets each packet whole — none of a buffer's old bytes reaches it
/// (here each buffer comes back filled with other bytes to its capacity,
/// longer than any packet).
#[test]
fn a_direct_send_is_sealed_into_a_buffer_given_back_and_nothing_old_reaches_the_viewer() {
    let mut w = World::new();
    w.dirty_spares = true;
    w.join(true, 0, 0);
    let viewer = w.join(false, 1, 1);
    w.run(Duration::from_secs(3));
    let stage = w.clients[viewer].recv_mids[0];
    let got0 = w.clients[viewer].on_mid(stage).len();
    let stats0 = w.stats();
    w.run(Duration::from_secs(5));
    let stats1 = w.stats();
    let direct = stats1.direct_sends - stats0.direct_sends;
    let reused = stats1.direct_sends_reused - stats0.direct_sends_reused;
    assert!(direct > 300, "{direct} packets sent directly in 5 s");
    assert!(
        reused * 100 >= direct * 99,
        "{reused} of {direct} direct sends were sealed into a buffer given back"
    );
    let got = w.clients[viewer].on_mid(stage);
    let new = &got[got0..];
    assert!(new.len() > 300, "the viewer got {} packets", new.len());
    // The test publisher's packet: a VP8 descriptor (at most 11 bytes),
    // 300 bytes of 0xab, its number and layer.
    for g in new {
        let n = g.payload.len();
        assert!(
            (302..=313).contains(&n) && g.payload[n - 302..n - 2].iter().all(|&b| b == 0xab),
            "seq {}: a payload of {n} bytes that is not the one sent: {:02x?}",
            g.seq,
            &g.payload[n.saturating_sub(8)..]
        );
    }
}

/// A publisher and one viewer whose link is capped at 200 kbit/s after a
/// second: 2 s later it shows a layer below the top.
fn capped_viewer() -> (World, usize) {
    let mut w = World::new();
    w.join(true, 0, 0);
    let viewer = w.join(false, 1, 1);
    w.run(Duration::from_secs(1));
    let id = w.clients[viewer].id;
    w.cmd(Command::SetMaxBitrate {
        participant: id,
        kbps: Some(200),
    });
    w.run(Duration::from_secs(2));
    (w, viewer)
}

/// A viewer fed by direct sends is not woken for its pacer alone: each
/// send moves the pacer's periodic handle (40 ms) later, so when the old
/// deadline comes up in the engine's timer heap the session is asked
/// again and re-armed, not run through a whole timeout. Its other timers
/// still run: sender reports keep arriving. (The pacer's handle matters
/// while it pads: below the top layer, held there by its link's cap.)
#[test]
fn a_viewer_fed_directly_is_not_woken_for_its_pacer_alone() {
    let (mut w, viewer) = capped_viewer();
    let stage = w.clients[viewer].recv_mids[0];
    let reports0 = w.clients[viewer].sender_reported[&stage].len();
    let before = w.stats();
    w.run(Duration::from_secs(10));
    let after = w.stats();
    let deferred = after.timeouts_deferred - before.timeouts_deferred;
    assert!(
        deferred >= 100,
        "only {deferred} timeouts re-armed in 10 s of direct sends"
    );
    let reports = w.clients[viewer].sender_reported[&stage].len() - reports0;
    assert!(reports >= 5, "{reports} sender reports in 10 s");
}

/// Right after joining, a viewer's estimate is low and its pacer holds
/// part of each frame: a packet written behind a held one is queued
/// (never sent ahead of it), and the viewer is driven by light flushes
/// (str0m patch "light-flush"), not whole timeouts. Once the estimate has
/// grown, writes leave directly. Through both, the viewer gets every
/// packet of its stage, in order, none twice.
#[test]
fn writes_behind_a_paced_backlog_are_queued_then_flushed_lightly() {
    let mut w = World::new();
    w.join(true, 0, 0);
    let viewer = w.join(false, 1, 0);
    w.run(Duration::from_secs(1));
    let early = w.stats();
    assert!(early.queued_writes > 0, "no write was queued while paced");
    assert!(
        early.light_flushes > 0 && early.light_flushes >= 10 * early.flush_timeouts,
        "{} light flushes against {} whole timeouts",
        early.light_flushes,
        early.flush_timeouts
    );
    w.run(Duration::from_secs(2));
    let settled = w.stats();
    w.run(Duration::from_secs(1));
    let late = w.stats();
    let (direct, queued) = (
        late.direct_sends - settled.direct_sends,
        late.queued_writes - settled.queued_writes,
    );
    assert!(
        direct > 20 * queued.max(1),
        "once settled: {direct} sent directly, {queued} queued"
    );
    let stage = w.clients[viewer].recv_mids[0];
    let seqs: Vec<u64> = w.clients[viewer]
        .on_mid(stage)
        .iter()
        .map(|g| g.seq)
        .collect();
    assert!(seqs.len() > 100, "the viewer got {} packets", seqs.len());
    assert!(
        seqs.windows(2).all(|p| p[1] == p[0] + 1),
        "the stage's packets arrived out of order, twice or with a gap"
    );
}

/// Below its top layer, held there by its link's cap, a viewer is padded
/// towards the next layer (up to the cap): that is how its estimate shows
/// the next layer fits when the cap lifts.
#[test]
fn a_viewer_held_below_its_top_layer_is_padded_towards_the_next() {
    let (mut w, viewer) = capped_viewer();
    let stage = w.clients[viewer].recv_mids[0];
    let layer = w.clients[viewer].on_mid(stage).last().map(|g| g.origin().1);
    assert!(
        layer.is_some_and(|l| l < 2),
        "on layer {layer:?} under a 200 kbit/s cap"
    );
    let repairs0 = repairs(&w, viewer);
    w.run(Duration::from_secs(10));
    let padded = repairs(&w, viewer) - repairs0;
    assert!(
        padded >= 50,
        "{padded} repair packets in 10 s below the top layer"
    );
}

/// Repair packets (resends, padding) client `c` got: RTP on a payload type
/// its received media never shows.
fn repairs(w: &World, c: usize) -> u64 {
    let primary: std::collections::HashSet<u8> =
        w.clients[c].received.iter().map(|g| g.pt).collect();
    w.clients[c]
        .rtp_in_by_pt
        .iter()
        .filter(|(pt, _)| !primary.contains(pt))
        .map(|(_, n)| n)
        .sum()
}

/// str0m pads a subscriber up to the minimum rate the engine sets on its
/// estimator, filling the gaps between frames with resends of packets the
/// viewer already has. Climbing to the next layer needs that; a viewer on
/// the top layer of all it shows has nothing to climb to, so its minimum
/// is not its own media rate (BENCHMARKS §22: the extra duplicates).
#[test]
fn a_viewer_on_its_top_layer_gets_no_padding_while_media_flows() {
    let mut w = World::new();
    w.join(true, 0, 0);
    let viewer = w.join(false, 1, 1);
    w.run(Duration::from_secs(3));
    let newest_layer = |w: &World| {
        let stage = w.clients[viewer].recv_mids[0];
        w.clients[viewer].on_mid(stage).last().map(|g| g.origin().1)
    };
    assert_eq!(newest_layer(&w), Some(2), "not on the top layer after 3 s");
    let (repairs0, got0) = (repairs(&w, viewer), w.clients[viewer].received.len());
    w.run(Duration::from_secs(10));
    assert_eq!(newest_layer(&w), Some(2), "left the top layer");
    let (padded, got) = (
        repairs(&w, viewer) - repairs0,
        w.clients[viewer].received.len() - got0,
    );
    assert!(got > 1000, "{got} media packets in 10 s");
    assert!(
        padded * 100 <= got as u64,
        "{padded} repair packets beside {got} media packets in 10 s on the top layer"
    );
}

/// The copies of a batch's packets go out viewer by viewer
/// (`Engine::fan_out_pending`): a viewer is written all of a frame's
/// packets before the next viewer is touched, so its session is read once
/// per frame, not once per packet. Each viewer's video packets of a batch
/// are one run in the engine's output; the viewers get every packet, in
/// order.
#[test]
fn a_viewer_is_written_all_of_a_frame_before_the_next_viewer() {
    let mut w = World::new();
    w.join(true, 0, 0);
    let viewers: Vec<usize> = (0..4).map(|_| w.join(false, 1, 0)).collect();
    w.run(Duration::from_secs(3));
    let addrs: Vec<std::net::SocketAddr> = viewers.iter().map(|&c| w.clients[c].addr).collect();
    let got0: Vec<usize> = viewers
        .iter()
        .map(|&c| w.clients[c].received.len())
        .collect();
    w.drains = Some(vec![]);
    w.run(Duration::from_millis(500));
    let mut frames = 0;
    for drain in w.drains.as_ref().unwrap() {
        // Video: the test publisher's 300-byte payloads (audio and RTCP
        // are far shorter).
        let video: Vec<std::net::SocketAddr> = drain
            .iter()
            .filter(|(a, len)| *len > 250 && addrs.contains(a))
            .map(|(a, _)| *a)
            .collect();
        let mut runs = video.clone();
        runs.dedup();
        let mut seen = runs.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(
            runs.len(),
            seen.len(),
            "a viewer's packets of one batch were split by another's: {video:?}"
        );
        if video.len() >= 2 * addrs.len() {
            frames += 1;
        }
    }
    assert!(
        frames >= 10,
        "{frames} batches of a frame to every viewer in 500 ms"
    );
    for (i, &c) in viewers.iter().enumerate() {
        let stage = w.clients[c].recv_mids[0];
        let seqs: Vec<u64> = w.clients[c].received[got0[i]..]
            .iter()
            .filter(|g| g.mid == stage)
            .map(|g| g.seq)
            .collect();
        assert!(seqs.len() > 40, "viewer {c} got {} packets", seqs.len());
        assert!(
            seqs.windows(2).all(|p| p[1] == p[0] + 1),
            "viewer {c}: out of order, twice or with a gap: {seqs:?}"
        );
    }
}
