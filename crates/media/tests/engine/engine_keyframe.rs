//! The publisher's keyframe budget (`room::KeyframeBudget`): a viewer that
//! starts now has its keyframe asked for at once while the budget allows,
//! and a join storm is merged into a few requests.

use std::time::Duration;

use diemcau_media::Event;
use diemcau_media::room::{KEYFRAME_BURST, KEYFRAME_RATE_MAX_PER_S};
use diemcau_testkit::vt::World;

const STEP: Duration = Duration::from_millis(1);

fn connected(w: &World, c: usize) -> bool {
    let id = w.clients[c].id;
    w.events
        .iter()
        .any(|e| matches!(e, Event::Connected { participant } if *participant == id))
}

/// Run in 1 ms steps until `done`, at most `limit`; returns the time taken.
fn run_until(w: &mut World, limit: Duration, done: impl Fn(&World) -> bool) -> Duration {
    let mut t = Duration::ZERO;
    while !done(w) {
        assert!(t < limit, "not done within {limit:?}");
        w.run(STEP);
        t += STEP;
    }
    t
}

fn has_picture(w: &World, c: usize) -> bool {
    let stage = w.clients[c].recv_mids[0];
    !w.clients[c].on_mid(stage).is_empty()
}

/// The fixed gap this replaced held a request for 250 ms after the last
/// keyframe: a viewer connecting just after another's keyframe waited for
/// it. Now the publisher hears the request in the step the viewer connects.
#[test]
fn a_lone_joiner_just_after_another_keyframe_has_its_request_sent_at_once() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    // Past the publisher's first keyframes, well before its periodic one
    // (every 90 frames, 3 s).
    w.run(Duration::from_millis(1500));
    let b = w.join(false, 1, 1);
    run_until(&mut w, Duration::from_secs(2), |w| has_picture(w, b));
    // b's keyframe just passed; c joins now.
    let c = w.join(false, 1, 1);
    let before = w.clients[a].keyframe_requests;
    let to_connect = run_until(&mut w, Duration::from_secs(2), |w| connected(w, c));
    assert!(
        to_connect < Duration::from_millis(200),
        "c connected {to_connect:?} after b's keyframe: the old gap would have held its request"
    );
    let mut k = Duration::ZERO;
    while w.clients[a].keyframe_requests == before && k < Duration::from_millis(400) {
        w.run(STEP);
        k += STEP;
    }
    eprintln!("c connected {to_connect:?} after b's picture; the publisher was asked {k:?} later");
    // Sent with the connection; the publisher reads it in the next step.
    assert!(
        w.clients[a].keyframe_requests > before && k <= Duration::from_millis(2),
        "the publisher was asked for c's keyframe {k:?} after c connected"
    );
    let to_picture = run_until(&mut w, Duration::from_secs(1), |w| has_picture(w, c));
    let stage = w.clients[c].recv_mids[0];
    assert!(w.clients[c].on_mid(stage)[0].is_keyframe_start());
    // One frame interval (33 ms) and the way back, not a gap.
    assert!(
        to_picture < Duration::from_millis(80),
        "c's first picture {to_picture:?} after connecting"
    );
}

/// 50 viewers join within half a second: every one starts on a keyframe,
/// and the publisher is asked for no more than the budget allows (its burst
/// plus its fastest refill over the storm), far fewer than one each.
#[test]
fn a_burst_of_fifty_joins_is_served_by_a_few_keyframe_requests() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    w.run(Duration::from_millis(1500));
    let before = w.clients[a].keyframe_requests;
    let mut subs = Vec::new();
    let mut storm = Duration::ZERO;
    for _ in 0..50 {
        subs.push(w.join(false, 1, 0));
        w.run(Duration::from_millis(10));
        storm += Duration::from_millis(10);
    }
    let all = |w: &World| subs.iter().all(|&s| has_picture(w, s));
    storm += run_until(&mut w, Duration::from_secs(3), all);
    for &s in &subs {
        let stage = w.clients[s].recv_mids[0];
        assert!(
            w.clients[s].on_mid(stage)[0].is_keyframe_start(),
            "subscriber {s} starts on a keyframe"
        );
    }
    let asked = w.clients[a].keyframe_requests - before;
    let allowed = KEYFRAME_BURST + KEYFRAME_RATE_MAX_PER_S * storm.as_secs_f64();
    eprintln!("50 joins over {storm:?}: {asked} keyframe requests (budget {allowed:.1})");
    assert!(asked >= 1, "the joiners' keyframe was asked for");
    assert!(
        (asked as f64) <= allowed,
        "{asked} requests over {storm:?}: more than the budget's {allowed:.1}"
    );
    assert!(asked < 25, "{asked} requests for 50 joins: not merged");
}
