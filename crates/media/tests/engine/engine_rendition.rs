//! A room's alternative rendition on virtual time (issue 17): a SIP room's
//! H.264 reaches a subscriber that negotiated no H.264 as the VP8 rendition
//! the room publishes beside it — which the engine asks for only while such
//! a subscriber shows it (`Engine::drain_renditions`), so a meeting of
//! H.264-capable subscribers never costs a transcode.

use std::time::Duration;

use diemcau_media::Command;

use diemcau_testkit::vt::World;

/// Origin layer the vt publisher writes on its alternative's packets.
const ALT_LAYER: u8 = 9;

#[test]
fn a_vp8_only_subscriber_is_shown_the_vp8_alternative_of_an_h264_room_only_while_it_watches() {
    let mut w = World::new();
    w.h264_publishers = true;
    w.alt_publishers = true;
    let a = w.join(true, 0, 0);
    w.alt_publishers = false;
    w.run(Duration::from_secs(1));
    let room = w.clients[a].id;
    assert_eq!(w.clients[a].publisher.as_ref().unwrap().alt_sent, 0);
    w.vp8_only_clients = true;
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    assert_eq!(
        w.rendition_changes,
        vec![(room, true)],
        "wanted once b watches"
    );
    let stage = w.clients[b].recv_mids[0];
    let got = w.clients[b].on_mid(stage);
    assert!(
        got.len() > 30,
        "the alternative flows: {} packets",
        got.len()
    );
    assert!(
        got.iter().all(|g| g.origin() == (a as u8, ALT_LAYER)),
        "only the VP8 alternative reaches it, never the H.264"
    );
    assert!(
        got[0].payload[0] & 0x10 != 0 && got[0].payload[1] & 0x01 == 0,
        "starting with a VP8 keyframe"
    );
    // The subscriber leaves: the rendition is no longer wanted, and stops.
    let id = w.clients[b].id;
    w.cmd(Command::Leave { participant: id });
    w.run(Duration::from_millis(500));
    assert_eq!(
        w.rendition_changes,
        vec![(room, true), (room, false)],
        "unwanted when nobody without H.264 watches"
    );
    let sent = w.clients[a].publisher.as_ref().unwrap().alt_sent;
    w.run(Duration::from_secs(1));
    assert_eq!(
        w.clients[a].publisher.as_ref().unwrap().alt_sent,
        sent,
        "nothing more is sent on it"
    );
}

#[test]
fn an_h264_room_watched_only_by_h264_capable_subscribers_is_never_asked_for_its_rendition() {
    let mut w = World::new();
    w.h264_publishers = true;
    w.alt_publishers = true;
    let a = w.join(true, 0, 0);
    w.alt_publishers = false;
    let b = w.join(false, 2, 0);
    let c = w.join(false, 1, 0);
    w.run(Duration::from_secs(3));
    assert!(w.rendition_changes.is_empty(), "{:?}", w.rendition_changes);
    assert_eq!(w.clients[a].publisher.as_ref().unwrap().alt_sent, 0);
    for sub in [b, c] {
        let stage = w.clients[sub].recv_mids[0];
        let got = w.clients[sub].on_mid(stage);
        assert!(got.len() > 100, "the H.264 itself: {} packets", got.len());
        assert_eq!(got[0].payload[0], 0x65, "from an IDR");
        assert!(got.iter().all(|g| g.origin().1 != ALT_LAYER));
    }
}

#[test]
fn the_alternative_is_wanted_through_a_subscriber_on_another_engine_of_the_room() {
    let mut w = World::with_workers(2);
    w.h264_publishers = true;
    w.alt_publishers = true;
    let a = w.join(true, 0, 0);
    w.alt_publishers = false;
    w.run(Duration::from_secs(1));
    w.join_worker = 1;
    w.vp8_only_clients = true;
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(3));
    let room = w.clients[a].id;
    assert_eq!(w.rendition_changes, vec![(room, true)]);
    let stage = w.clients[b].recv_mids[0];
    let got = w.clients[b].on_mid(stage);
    assert!(got.len() > 30, "across engines: {} packets", got.len());
    assert!(got.iter().all(|g| g.origin() == (a as u8, ALT_LAYER)));
}
