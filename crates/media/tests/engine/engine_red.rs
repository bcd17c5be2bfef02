//! Audio that survives loss (RED, RFC 2198) on virtual time (see
//! `support::vt`): forwarded to subscribers that negotiated it, unwrapped
//! for those that did not, added by the engine for a lossy subscriber, and
//! used to refill frames lost on a publisher's uplink.

use std::collections::BTreeSet;
use std::time::Duration;

use diemcau_media::red::RedPacket;
use diemcau_media::tap::TapStream;
use diemcau_media::{Command, Reply, RoomStats};
use str0m::format::Codec;

use diemcau_testkit::vt::{Got, World};

/// (Opus, RED) payload types a client negotiated.
fn pts(w: &World, c: usize) -> (u8, Option<u8>) {
    let p = w.clients[c]
        .rtc
        .codec_config()
        .params()
        .iter()
        .find(|p| p.spec().codec == Codec::Opus)
        .unwrap();
    (*p.pt(), p.red().map(|r| *r))
}

/// The publisher's packet number written into an Opus frame by `vt`.
fn frame_no(frame: &[u8]) -> u64 {
    u64::from(frame[1]) << 8 | u64::from(frame[2])
}

fn audio(w: &World, c: usize) -> Vec<&Got> {
    let mid = *w.clients[c].recv_mids.last().unwrap();
    w.clients[c].on_mid(mid)
}

fn room_stats(w: &mut World) -> RoomStats {
    let Reply::Stats(st) = w.cmd(Command::Stats) else {
        panic!("stats reply")
    };
    st.rooms.into_iter().next().expect("one room")
}

#[test]
fn red_is_forwarded_to_a_red_subscriber_and_unwrapped_for_a_plain_one() {
    let mut w = World::new();
    w.red_clients = true;
    let a = w.join(true, 0, 0);
    let r = w.join(false, 0, 1);
    w.red_clients = false;
    let p = w.join(false, 0, 1);
    w.run(Duration::from_secs(2));
    let number = w.clients[a].publisher.as_ref().unwrap().number;

    let (r_opus, r_red) = pts(&w, r);
    let r_red = r_red.expect("the RED client negotiated RED");
    let got = audio(&w, r);
    assert!(
        got.len() > 50,
        "RED subscriber's audio packets: {}",
        got.len()
    );
    for g in &got {
        assert_eq!(g.pt, r_red, "a RED subscriber gets the publisher's RED");
        let red = RedPacket::parse(&g.payload).expect("a RED payload");
        assert_eq!(red.primary_pt, r_opus);
        assert_eq!((red.primary[0], red.primary[3]), (0xf8, number));
    }
    // The publisher's redundancy came through: each packet but the first
    // carries the frame before it.
    let with_redundancy = got
        .iter()
        .filter(|g| {
            let red = RedPacket::parse(&g.payload).unwrap();
            red.redundant()
                .last()
                .is_some_and(|b| frame_no(b.payload) + 1 == frame_no(red.primary))
        })
        .count();
    assert!(with_redundancy >= got.len() - 1, "{with_redundancy}");

    let (p_opus, p_red) = pts(&w, p);
    assert_eq!(p_red, None, "the plain client did not negotiate RED");
    let got = audio(&w, p);
    assert!(
        got.len() > 50,
        "plain subscriber's audio packets: {}",
        got.len()
    );
    for g in &got {
        assert_eq!(g.pt, p_opus, "a plain subscriber gets Opus");
        assert_eq!(g.payload.len(), 5, "only the primary frame");
        assert_eq!(g.origin(), (number, 0));
    }
}

#[test]
fn redundancy_is_added_for_a_lossy_subscriber() {
    let mut w = World::new();
    let _a = w.join(true, 0, 0);
    w.red_clients = true;
    let r = w.join(false, 0, 1);
    w.run(Duration::from_secs(3));
    let (opus, red) = pts(&w, r);
    let red = red.expect("RED negotiated");
    let clean = audio(&w, r).len();
    assert!(
        audio(&w, r).iter().all(|g| g.pt == opus),
        "no redundancy on a clean link"
    );

    w.loss_to_clients = 0.10;
    // An audio stream's receiver reports come every 5 s.
    w.run(Duration::from_secs(15));
    let got: Vec<&Got> = audio(&w, r).into_iter().skip(clean).collect();
    let first_red = got
        .iter()
        .position(|g| g.pt == red)
        .expect("the engine starts sending RED once the subscriber reports loss");
    let after = &got[first_red..];
    assert!(
        after.iter().all(|g| g.pt == red),
        "redundancy stays on while the loss lasts"
    );
    // 10 % loss: two levels, the two frames before each one.
    let deep = after
        .iter()
        .filter(|g| RedPacket::parse(&g.payload).unwrap().redundant().len() == 2)
        .count();
    assert!(
        deep > after.len() / 2,
        "two-level packets: {deep}/{}",
        after.len()
    );

    let (direct, playable) = continuity(after, red);
    assert!(direct < 0.95, "the link did lose packets: {direct}");
    assert!(playable >= 0.99, "continuity with redundancy: {playable}");
}

/// Over the audio packets received: the share of frames that arrived as a
/// primary, and the share the subscriber can play — directly or from the
/// redundancy of a later packet.
fn continuity(got: &[&Got], red: u8) -> (f64, f64) {
    let mut frames = BTreeSet::new();
    let mut primaries = BTreeSet::new();
    for g in got {
        if g.pt != red {
            // A frame the server refilled from the publisher's redundancy
            // goes out as it is.
            primaries.insert(frame_no(&g.payload));
            frames.insert(frame_no(&g.payload));
            continue;
        }
        let p = RedPacket::parse(&g.payload).unwrap();
        primaries.insert(frame_no(p.primary));
        frames.insert(frame_no(p.primary));
        for b in p.redundant() {
            frames.insert(frame_no(b.payload));
        }
    }
    let (lo, hi) = (*primaries.first().unwrap(), *primaries.last().unwrap());
    let span = (hi - lo + 1) as f64;
    (
        primaries.len() as f64 / span,
        frames.range(lo..=hi).count() as f64 / span,
    )
}

#[test]
fn a_lossy_subscriber_of_a_one_level_red_publisher_gets_two_levels() {
    let mut w = World::new();
    w.red_clients = true;
    let a = w.join(true, 0, 0);
    // Every 10th packet is lost on the way in as well.
    w.clients[a].publisher.as_mut().unwrap().drop_audio_every = Some(10);
    let r = w.join(false, 0, 1);
    w.run(Duration::from_secs(2));
    let clean = audio(&w, r).len();
    w.loss_to_clients = 0.10;
    w.run(Duration::from_secs(15));
    let red = pts(&w, r).1.expect("RED negotiated");
    let got: Vec<&Got> = audio(&w, r).into_iter().skip(clean).collect();
    let levels =
        |g: &Got| (g.pt == red).then(|| RedPacket::parse(&g.payload).unwrap().redundant().len());
    let deep = got
        .iter()
        .position(|g| levels(g) == Some(2))
        .expect("two levels once the subscriber reports 10 % loss");
    let after = &got[deep..];
    assert!(
        after.iter().all(|g| levels(g).is_none_or(|l| l == 2)),
        "two levels while the loss lasts"
    );
    let (direct, playable) = continuity(after, red);
    assert!(direct < 0.90, "both links lost packets: {direct}");
    assert!(playable >= 0.99, "continuity with redundancy: {playable}");
}

#[test]
fn frames_lost_on_the_uplink_are_recovered_from_red_and_counted() {
    let mut w = World::new();
    w.red_clients = true;
    let a = w.join(true, 0, 0);
    w.clients[a].publisher.as_mut().unwrap().drop_audio_every = Some(10);
    w.red_clients = false;
    let p = w.join(false, 0, 1);
    w.cmd(Command::Record {
        room: "r".into(),
        on: true,
    });
    w.run(Duration::from_secs(3));

    let got = audio(&w, p);
    assert!(got.len() > 100, "audio packets: {}", got.len());
    for pair in got.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "no hole in the sequence");
        assert_eq!(
            frame_no(&pair[1].payload),
            frame_no(&pair[0].payload) + 1,
            "every frame, the lost ones refilled"
        );
    }
    let lost = (frame_no(&got[0].payload)..=frame_no(&got[got.len() - 1].payload))
        .filter(|n| n % 10 == 0)
        .count() as u64;
    assert!(lost >= 10);
    let st = room_stats(&mut w);
    assert!(
        st.red_recovered >= lost && st.red_recovered <= lost + 2,
        "recovered {} of {lost} lost",
        st.red_recovered
    );

    // The recording gets the same gap-free Opus stream.
    let track = w
        .engine
        .drain_tapped()
        .filter(|t| !t.video && matches!(t.stream, TapStream::Track(_)))
        .collect::<Vec<_>>();
    assert!(track.len() > 100, "recorded audio packets: {}", track.len());
    for pair in track.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        assert_eq!(frame_no(&pair[1].payload), frame_no(&pair[0].payload) + 1);
        assert_eq!(pair[1].payload.len(), 5, "plain Opus, never RED");
    }
}

#[test]
fn a_publisher_hears_of_its_audio_uplink_loss_within_seconds() {
    // Its Opus encoder raises in-band FEC from the loss our receiver
    // reports carry (str0m would report audio every 5 s).
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let _b = w.join(false, 0, 1);
    w.run(Duration::from_secs(1));
    w.clients[a].publisher.as_mut().unwrap().drop_audio_every = Some(10);
    w.run(Duration::from_secs(3));
    let mid = w.clients[a].publisher.as_ref().unwrap().audio_mid.unwrap();
    let loss = w.clients[a].egress_loss.get(&mid).copied();
    assert!(
        loss.is_some_and(|l| (0.05..0.2).contains(&l)),
        "audio loss reported to the publisher after 3 s: {loss:?}"
    );
}

/// The issue's target at 3 % random loss (the S4 figure, here on virtual
/// time with the world's seeded link emulator): a subscriber plays at least
/// 99.5 % of the frames, directly or from the redundancy the engine adds.
#[test]
fn at_three_percent_loss_a_red_subscriber_plays_at_least_99_5_percent_of_frames() {
    let mut w = World::new();
    let _a = w.join(true, 0, 0);
    w.red_clients = true;
    let r = w.join(false, 0, 1);
    w.run(Duration::from_secs(3));
    let (_, red) = pts(&w, r);
    let red = red.expect("RED negotiated");
    let clean = audio(&w, r).len();
    w.loss_to_clients = 0.03;
    // Receiver reports decide when redundancy starts; measure after it has.
    w.run(Duration::from_secs(30));
    let got: Vec<&Got> = audio(&w, r).into_iter().skip(clean).collect();
    let first_red = got
        .iter()
        .position(|g| g.pt == red)
        .expect("the engine adds redundancy at 3 % loss");
    let (direct, playable) = continuity(&got[first_red..], red);
    assert!(direct < 0.995, "the link did lose packets: {direct}");
    assert!(
        playable >= 0.995,
        "continuity with redundancy at 3 % loss: {playable}"
    );
}
