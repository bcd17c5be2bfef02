//! What the report after a meeting says of each room's media, measured by
//! the engine on virtual time (`support::vt`): audio continuity with and
//! without RED, muted rooms measured too, video freezes, and the layers a
//! subscriber's stage showed.

use std::time::Duration;

use diemcau_media::{Command, ParticipantStats, Reply};

use diemcau_testkit::vt::World;

fn stats_of(w: &mut World, c: usize) -> ParticipantStats {
    let id = w.clients[c].id;
    let Reply::Stats(st) = w.cmd(Command::Stats) else {
        panic!("stats reply")
    };
    st.participants
        .into_iter()
        .find(|p| p.participant == id)
        .expect("the client's stats")
}

fn continuity(p: &ParticipantStats) -> f64 {
    assert!(p.audio_frames_expected > 100, "frames: {p:?}");
    p.audio_frames_received as f64 / p.audio_frames_expected as f64
}

#[test]
fn audio_continuity_counts_frames_red_refilled_and_misses_those_a_plain_uplink_lost() {
    let mut w = World::new();
    w.red_clients = true;
    let red = w.join(true, 0, 0);
    w.clients[red].publisher.as_mut().unwrap().drop_audio_every = Some(10);
    w.red_clients = false;
    let plain = w.join(true, 0, 0);
    w.clients[plain]
        .publisher
        .as_mut()
        .unwrap()
        .drop_audio_every = Some(10);
    let _listener = w.join(false, 0, 2);
    w.run(Duration::from_secs(4));

    let r = continuity(&stats_of(&mut w, red));
    assert!(r > 0.995, "RED refilled every lost frame: {r}");
    let p = continuity(&stats_of(&mut w, plain));
    assert!((0.88..0.92).contains(&p), "a tenth lost: {p}");
}

#[test]
fn a_room_muted_by_the_operator_still_has_its_audio_measured() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    w.clients[a].publisher.as_mut().unwrap().drop_audio_every = Some(5);
    let id = w.clients[a].id;
    w.cmd(Command::Mute {
        participant: id,
        audio: Some(true),
        video: None,
        by_operator: true,
    });
    w.run(Duration::from_secs(3));
    let c = continuity(&stats_of(&mut w, a));
    assert!((0.78..0.82).contains(&c), "a fifth lost, muted or not: {c}");
}

#[test]
fn a_publisher_whose_video_stops_for_half_a_second_counts_one_freeze() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    w.run(Duration::from_secs(2));
    assert_eq!(stats_of(&mut w, a).video_freezes, 0, "steady video");
    w.clients[a].publisher.as_mut().unwrap().active = [false; 3];
    w.run(Duration::from_millis(600));
    w.clients[a].publisher.as_mut().unwrap().active = [true; 3];
    w.run(Duration::from_secs(1));
    let s = stats_of(&mut w, a);
    assert_eq!(s.video_freezes, 1, "{s:?}");
    assert!((500..=800).contains(&s.video_freeze_ms), "{s:?}");
    // A camera off for longer than a pause is not a freeze.
    w.clients[a].publisher.as_mut().unwrap().active = [false; 3];
    w.run(Duration::from_secs(6));
    w.clients[a].publisher.as_mut().unwrap().active = [true; 3];
    w.run(Duration::from_secs(1));
    assert_eq!(stats_of(&mut w, a).video_freezes, 1);
}

#[test]
fn a_subscribers_stage_time_is_counted_at_the_layer_it_showed() {
    let mut w = World::new();
    let hub = w.join(true, 0, 0);
    // Only the low layer at first (a publisher on a thin uplink), then all.
    w.clients[hub].publisher.as_mut().unwrap().active = [true, false, false];
    let sub = w.join(false, 1, 0);
    w.run(Duration::from_secs(3));
    let low = stats_of(&mut w, sub).stage_layer_ms;
    assert!(low[0] >= 2_000 && low[1] + low[2] == 0, "{low:?}");
    w.clients[hub].publisher.as_mut().unwrap().active = [true; 3];
    w.run(Duration::from_secs(4));
    let all = stats_of(&mut w, sub).stage_layer_ms;
    assert!(all[2] >= 2_000, "the top layer once it came: {all:?}");
    assert!(all[0] >= low[0], "{all:?}");
}
