//! One room across two engines (workers) on virtual time (`media::span`):
//! the home on worker 0, a part on worker 1, hand-offs carried between
//! them as the driver does (`support::vt::World::move_handoffs`).

use core::net::SocketAddr;
use std::collections::HashMap;
use std::time::Duration;

use diemcau_media::{Command, EngineStats, Event, ParticipantId, Reply, SlotRole, SourceId};

use diemcau_testkit::vt::{Got, SERVER, World};

/// Sequence numbers strictly +1 and timestamps never going back.
fn assert_continuous(pkts: &[&Got]) {
    assert!(!pkts.is_empty(), "no packets");
    for w in pkts.windows(2) {
        assert_eq!(
            w[1].seq,
            w[0].seq + 1,
            "seq discontinuity between {:?} and {:?}",
            (w[0].seq, w[0].origin()),
            (w[1].seq, w[1].origin())
        );
        assert!(
            w[1].ts.wrapping_sub(w[0].ts) < u32::MAX / 2,
            "timestamp went back at seq {}",
            w[1].seq
        );
    }
}

fn last_slots(events: &[Event], who: ParticipantId) -> HashMap<SlotRole, Option<ParticipantId>> {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::SlotsChanged { participant, slots } if *participant == who => Some(
                slots
                    .iter()
                    .map(|s| (s.role, s.source.map(SourceId::wire)))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

fn stats(w: &mut World, worker: usize) -> EngineStats {
    let Reply::Stats(st) = w.cmd_on(worker, Command::Stats) else {
        panic!("stats")
    };
    st
}

#[test]
fn a_subscriber_on_another_engine_gets_the_publishers_packets_in_order_and_continuous() {
    let mut w = World::with_workers(2);
    let a = w.join(true, 0, 0);
    let b = w.join(false, 1, 1);
    w.join_worker = 1;
    let c = w.join(false, 1, 1);
    w.run(Duration::from_secs(3));
    let (bs, cs) = (w.clients[b].recv_mids[0], w.clients[c].recv_mids[0]);
    let (home, part) = (w.clients[b].on_mid(bs), w.clients[c].on_mid(cs));
    assert!(part.len() > 100, "stage video on the part: {}", part.len());
    assert!(
        part[0].is_keyframe_start(),
        "a part's viewer starts on a keyframe"
    );
    assert_continuous(&part);
    assert_continuous(&home);
    let number = w.clients[a].publisher.as_ref().unwrap().number;
    assert_eq!(part.last().unwrap().origin(), (number, 2));
    // Once both show the top layer, the same packets in the same order as
    // the home's viewer got them: the publisher's payloads, untouched, and
    // the same timestamp steps (each viewer's own offset aside).
    let steps = |g: &[&Got]| -> Vec<(Vec<u8>, u32)> {
        g.windows(2)
            .map(|p| (p[1].payload.clone(), p[1].ts.wrapping_sub(p[0].ts)))
            .collect()
    };
    let (hs, ps) = (steps(&home), steps(&part));
    let tail = &ps[ps.len() - 100..];
    let found = hs.windows(tail.len()).any(|w| w == tail);
    assert!(
        found,
        "the part's last 100 packets are not a run of the home's"
    );
    assert!(
        w.clients[c].on_mid(w.clients[c].recv_mids[1]).len() > 50,
        "audio crosses too"
    );
    let (home_st, part_st) = (stats(&mut w, 0), stats(&mut w, 1));
    assert!(home_st.rooms[0].handoff_packets_out > 100, "{home_st:?}");
    assert!(part_st.rooms[0].remote_packets_in > 100, "{part_st:?}");
    assert_eq!(
        part_st.rooms[0].packets_in, 0,
        "nothing published on the part"
    );
}

#[test]
fn a_publisher_on_a_part_reaches_the_homes_subscribers() {
    let mut w = World::with_workers(2);
    let b = w.join(false, 1, 1);
    w.join_worker = 1;
    let p = w.join(true, 0, 0);
    w.run(Duration::from_secs(3));
    let got = w.clients[b].on_mid(w.clients[b].recv_mids[0]);
    assert!(got.len() > 100, "stage video at home: {}", got.len());
    assert!(got[0].is_keyframe_start());
    assert_continuous(&got);
    let number = w.clients[p].publisher.as_ref().unwrap().number;
    assert_eq!(got.last().unwrap().origin().0, number);
    let slots = last_slots(&w.events, w.clients[b].id);
    assert_eq!(slots[&SlotRole::Stage], Some(w.clients[p].id));
}

#[test]
fn each_subscriber_on_a_part_switches_layers_on_a_keyframe_of_its_own() {
    let mut w = World::with_workers(2);
    let _a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.join_worker = 1;
    let c = w.join(false, 1, 0);
    let d = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    let cs = w.clients[c].recv_mids[0];
    assert_eq!(w.clients[c].on_mid(cs).last().unwrap().origin().1, 2);
    // One part viewer's link drops to 100 kbit/s (a command to its worker).
    let id = w.clients[c].id;
    w.cmd_on(
        1,
        Command::SetMaxBitrate {
            participant: id,
            kbps: Some(100),
        },
    );
    w.run(Duration::from_secs(2));
    let pkts = w.clients[c].on_mid(cs);
    assert_continuous(&pkts);
    let first_low = pkts
        .iter()
        .position(|g| g.origin().1 == 0)
        .expect("switched to the low layer");
    assert!(pkts[first_low].is_keyframe_start(), "on a keyframe");
    assert!(pkts[first_low..].iter().all(|g| g.origin().1 == 0));
    // The other viewers, here and at home, keep the top layer.
    for v in [b, d] {
        let m = w.clients[v].recv_mids[0];
        let got = w.clients[v].on_mid(m);
        assert_continuous(&got);
        assert_eq!(got.last().unwrap().origin().1, 2, "viewer {v}");
    }
}

#[test]
fn a_stage_set_on_the_home_moves_every_part() {
    let mut w = World::with_workers(2);
    let a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.join_worker = 1;
    let p = w.join(true, 0, 0);
    let c = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    for (who, number) in [(p, p as u8), (a, a as u8), (p, p as u8)] {
        let id = w.clients[who].id;
        w.cmd(Command::SetStage {
            room: "r".into(),
            participants: vec![id],
        });
        w.run(Duration::from_secs(2));
        for v in [b, c] {
            let m = w.clients[v].recv_mids[0];
            let got = w.clients[v].on_mid(m);
            assert_continuous(&got);
            assert_eq!(got.last().unwrap().origin().0, number, "viewer {v}");
            assert_eq!(
                last_slots(&w.events, w.clients[v].id)[&SlotRole::Stage],
                Some(id)
            );
        }
    }
    // The home tells the room; a part does not repeat it.
    let changes = w
        .events
        .iter()
        .filter(|e| matches!(e, Event::StageChanged { .. }))
        .count();
    assert_eq!(changes, 3);
}

#[test]
fn a_speaker_on_a_part_is_the_rooms_active_speaker() {
    let mut w = World::with_workers(2);
    let a = w.join(true, 0, 0);
    let b = w.join(false, 2, 1);
    w.join_worker = 1;
    let p = w.join(true, 0, 0);
    let c = w.join(false, 2, 1);
    w.clients[a].publisher.as_mut().unwrap().audio_level = -80;
    w.clients[p].publisher.as_mut().unwrap().audio_level = -15;
    // The stage follows the voice (a command to the home, for the room).
    w.run(Duration::from_millis(100));
    w.cmd(Command::StageVoice {
        room: "r".into(),
        on: true,
    });
    w.run(Duration::from_secs(3));
    let idp = w.clients[p].id;
    let speakers: Vec<_> = w
        .events
        .iter()
        .filter_map(|e| match e {
            Event::SpeakerChanged { participant, .. } => Some(*participant),
            _ => None,
        })
        .collect();
    assert_eq!(speakers, vec![Some(idp)], "one event, from the home");
    for v in [b, c] {
        let slots = last_slots(&w.events, w.clients[v].id);
        assert_eq!(slots[&SlotRole::Stage], Some(idp), "viewer {v}");
        assert_eq!(slots[&SlotRole::Audio], Some(idp), "viewer {v}");
        assert_eq!(slots[&SlotRole::Speaker], Some(w.clients[a].id));
    }
}

#[test]
fn a_misbehaving_or_starved_part_leaves_the_homes_viewers_receiving() {
    let mut w = World::with_workers(2);
    let _a = w.join(true, 0, 0);
    let b = w.join(false, 1, 1);
    w.join_worker = 1;
    let c = w.join(false, 1, 1);
    w.run(Duration::from_secs(2));
    // Garbage at the part, from its session's address and from nowhere.
    let (now, server): (_, SocketAddr) = (w.now, SERVER.parse().unwrap());
    let known = w.clients[c].addr;
    for i in 0..200u32 {
        let junk: Vec<u8> = (0..(i as usize * 7) % 1300)
            .map(|j| (i as usize * 31 + j * 17) as u8)
            .collect();
        let src = if i % 2 == 0 {
            known
        } else {
            "127.0.0.99:9".parse().unwrap()
        };
        w.parts[0].handle_datagram(now, src, server, &junk);
    }
    let st = stats(&mut w, 1);
    assert!(
        st.dropped_unknown_source >= 100 && st.dropped_malformed > 0,
        "{st:?}"
    );
    // The part's worker is starved for two seconds.
    let bs = w.clients[b].recv_mids[0];
    let before = w.clients[b].on_mid(bs).len();
    w.starved = vec![1];
    w.run(Duration::from_secs(2));
    let during = w.clients[b].on_mid(bs);
    assert!(
        during.len() > before + 100,
        "home viewer kept receiving: {} -> {}",
        before,
        during.len()
    );
    assert_continuous(&during);
    // It recovers: the part's viewer gets pictures again.
    w.starved.clear();
    let cs = w.clients[c].recv_mids[0];
    let c_before = w.clients[c].on_mid(cs).len();
    w.run(Duration::from_secs(3));
    assert!(w.clients[c].on_mid(cs).len() > c_before + 50);
}

#[test]
fn a_part_whose_sessions_left_is_forgotten_and_the_room_goes_on() {
    let mut w = World::with_workers(2);
    let _a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.join_worker = 1;
    let c = w.join(true, 1, 0);
    w.run(Duration::from_secs(2));
    let id = w.clients[c].id;
    w.cmd_on(1, Command::Leave { participant: id });
    w.run(Duration::from_millis(500));
    // The part's room waits for the driver's word (a join may be on its
    // way), which follows the session's Left event.
    assert_eq!(stats(&mut w, 1).rooms.len(), 1);
    w.release(1);
    w.run(Duration::from_millis(500));
    assert!(stats(&mut w, 1).rooms.is_empty(), "the part's room is gone");
    let home = stats(&mut w, 0);
    assert_eq!(home.rooms[0].participants, 2);
    // Its tracks are gone from the home's mirror: the stage is not it.
    let err = w
        .engine
        .handle_command(
            w.now,
            Command::SetStage {
                room: "r".into(),
                participants: vec![id],
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("not in room"), "{err}");
    let bs = w.clients[b].recv_mids[0];
    let n = w.clients[b].on_mid(bs).len();
    w.run(Duration::from_secs(1));
    assert!(w.clients[b].on_mid(bs).len() > n + 20);
}

/// The driver hands a publisher's packet to the other engines of its room
/// after each datagram (`Engine::drain_media_handoffs`), so they fan a
/// frame out while the home does: one packet per media datagram, nothing
/// left for the batch's full drain, and whatever that engine was already
/// waiting for goes ahead of it.
#[test]
fn a_packet_for_another_engine_is_handed_off_after_its_own_datagram() {
    let mut w = World::with_workers(2);
    let a = w.join(true, 0, 0);
    w.join_worker = 1;
    let _c = w.join(false, 1, 1);
    w.run(Duration::from_secs(3));
    let server: SocketAddr = SERVER.parse().unwrap();
    let mut media = 0;
    for _ in 0..400 {
        w.now += Duration::from_millis(1);
        let now = w.now;
        let c = &mut w.clients[a];
        c.rtc.handle_input(str0m::Input::Timeout(now)).unwrap();
        c.publish(now);
        c.rtc.handle_input(str0m::Input::Timeout(now)).unwrap();
        c.drain();
        let out: Vec<_> = w.clients[a].outbox.drain(..).collect();
        for (src, bytes) in out {
            let rtp = (128..192).contains(&bytes[0]) && !(192..224).contains(&bytes[1]);
            w.engine_of(0).handle_datagram(now, src, server, &bytes);
            let handed = w.engine_of(0).drain_media_handoffs();
            let packets: Vec<usize> = handed
                .iter()
                .flat_map(|(to, hs)| {
                    assert_eq!(*to, 1, "only the part needs the packets");
                    let Some(diemcau_media::span::Handoff::Media(p)) = hs.last() else {
                        panic!("media is what comes last");
                    };
                    assert!(
                        hs[..hs.len() - 1]
                            .iter()
                            .all(|h| !matches!(h, diemcau_media::span::Handoff::Media(_))),
                        "one media hand-off"
                    );
                    [p.len()]
                })
                .collect();
            if rtp {
                assert_eq!(packets, vec![1], "one packet for the part, at once");
                media += 1;
            } else {
                assert!(packets.is_empty(), "RTCP or STUN hands nothing off");
            }
            for (to, hs) in handed {
                w.engine_of(to).handle_handoff(now, 0, hs);
            }
            let rest = w.engine_of(0).drain_handoffs(now);
            assert!(
                rest.iter()
                    .flat_map(|(_, hs)| hs)
                    .all(|h| !matches!(h, diemcau_media::span::Handoff::Media(_))),
                "no packet waits for the full drain"
            );
            for (to, hs) in rest {
                w.engine_of(to).handle_handoff(now, 0, hs);
            }
        }
    }
    assert!(media > 50, "{media} media datagrams");
}
