//! str0m patch 11 "estimate-cadence" (vendor/str0m/PATCHES.md): between
//! two transport-wide feedbacks the delay-based estimate is updated every
//! 100 ms, not every 25 ms — the timer that woke each viewer's whole
//! session most often. Its increase is proportional to the time since its
//! last update, so it climbs as fast.

use std::time::Duration;

use diemcau_testkit::vt::World;

/// Four viewers climb to the top layer as before the patch (in 1.2 s of
/// virtual time; their estimates move the same, 1.7 Mbit/s, then 0.7 once
/// settled) and stay there — fewer timeouts must not come from an
/// estimator that stopped —, and each session of the room takes about 12
/// whole timeouts a second (43 with the 25 ms update).
#[test]
fn a_settled_viewer_takes_about_a_dozen_whole_session_timeouts_a_second() {
    let mut w = World::new();
    w.join(true, 0, 0);
    let viewers: Vec<usize> = (0..4).map(|_| w.join(false, 1, 1)).collect();
    let mut top_at = vec![None; viewers.len()];
    for step in 1..=20 {
        w.run(Duration::from_millis(100));
        for (i, &v) in viewers.iter().enumerate() {
            let stage = w.clients[v].recv_mids[0];
            let top = w.clients[v].on_mid(stage).last().map(|g| g.origin().1) == Some(2);
            if top && top_at[i].is_none() {
                top_at[i] = Some(step * 100);
            }
        }
    }
    assert!(
        top_at.iter().all(|t| t.is_some_and(|ms| ms <= 1500)),
        "top layer reached at (ms) {top_at:?}"
    );
    w.run(Duration::from_secs(3));
    let before = w.stats();
    w.run(Duration::from_secs(10));
    let after = w.stats();
    for &v in &viewers {
        let stage = w.clients[v].recv_mids[0];
        let layer = w.clients[v].on_mid(stage).last().map(|g| g.origin().1);
        assert_eq!(layer, Some(2), "viewer {v} left the top layer");
    }
    let sessions = (1 + viewers.len()) as f64;
    let per_session_s = (after.session_timeouts - before.session_timeouts) as f64 / sessions / 10.0;
    assert!(
        per_session_s < 20.0,
        "{per_session_s:.1} whole timeouts per session and second"
    );
}
