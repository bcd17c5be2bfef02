//! Deterministic engine tests on virtual time (see `support::vt`).

use core::net::SocketAddr;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use diemcau_media::{Command, Event, JoinRequest, ParticipantId, Reply, Role, SlotRole, SourceId};

use diemcau_testkit::vt::{Got, PACKETS_PER_FRAME, SERVER, World};

/// Sequence numbers strictly +1 and timestamps never going back.
fn assert_continuous(pkts: &[&Got]) {
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

fn slot_events(
    events: &[Event],
    who: ParticipantId,
) -> Vec<Vec<(SlotRole, Option<ParticipantId>)>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SlotsChanged { participant, slots } if *participant == who => Some(
                slots
                    .iter()
                    .map(|s| (s.role, s.source.map(SourceId::wire)))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[test]
fn publisher_reaches_subscriber_stage_starting_with_a_keyframe() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let b = w.join(false, 1, 1);
    w.run(Duration::from_secs(2));
    let (stage, audio) = (w.clients[b].recv_mids[0], w.clients[b].recv_mids[1]);
    let video = w.clients[b].on_mid(stage);
    assert!(video.len() > 100, "stage video packets: {}", video.len());
    assert!(
        video[0].is_keyframe_start(),
        "first forwarded packet must start a keyframe"
    );
    assert_eq!(
        video[0].origin().0,
        w.clients[a].publisher.as_ref().unwrap().number
    );
    assert_continuous(&video);
    assert!(w.clients[b].on_mid(audio).len() > 50, "audio packets");
    let slots = slot_events(&w.events, w.clients[b].id);
    assert_eq!(
        slots.last().unwrap()[0],
        (SlotRole::Stage, Some(w.clients[a].id))
    );
}

#[test]
fn layer_switch_waits_for_keyframe_and_keeps_seq_ts_continuous() {
    let mut w = World::new();
    let _a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    let stage = w.clients[b].recv_mids[0];
    let before = w.clients[b].on_mid(stage).len();
    let top = w.clients[b].on_mid(stage).last().unwrap().origin().1;
    assert_eq!(top, 2, "an unconstrained subscriber gets the high layer");
    // The room's link drops to 100 kbit/s: only the low layer fits.
    let id = w.clients[b].id;
    w.cmd(Command::SetMaxBitrate {
        participant: id,
        kbps: Some(100),
    });
    w.run(Duration::from_secs(2));
    let pkts = w.clients[b].on_mid(stage);
    assert!(pkts.len() > before + 30);
    assert_continuous(&pkts);
    let layers: Vec<u8> = pkts.iter().map(|g| g.origin().1).collect();
    let first_low = pkts
        .iter()
        .position(|g| g.origin().1 == 0)
        .unwrap_or_else(|| {
            panic!(
                "never switched to the low layer: kf requests {}, layers tail {:?}",
                w.clients[0].keyframe_requests,
                &layers[layers.len() - 10..]
            )
        });
    assert!(
        pkts[first_low].is_keyframe_start(),
        "switch happens on a keyframe"
    );
    assert!(
        pkts[first_low..].iter().all(|g| g.origin().1 == 0),
        "no high-layer packet after the switch"
    );
    // The publisher was asked for a keyframe on the low layer.
    assert!(w.clients[0].keyframe_requests > 0);
}

#[test]
fn stopped_layer_moves_subscriber_down_without_a_gap() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    w.clients[a].publisher.as_mut().unwrap().active[2] = false;
    w.run(Duration::from_secs(3));
    let stage = w.clients[b].recv_mids[0];
    let pkts = w.clients[b].on_mid(stage);
    assert_continuous(&pkts);
    let last = pkts.last().unwrap();
    assert_eq!(last.origin().1, 1, "falls back to the mid layer");
}

/// A publisher and one viewer of its stage; after `warm_up`, 4 s with
/// `loss` on every datagram to the clients, then 1 s clean for the last
/// repairs. Returns the world, the viewer and the last stage seq it had
/// received before the loss.
fn stage_through_loss(warm_up: Duration, loss: f64) -> (World, usize, u64) {
    let mut w = World::new();
    let _a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(warm_up);
    let stage = w.clients[b].recv_mids[0];
    let before = w.clients[b].on_mid(stage).last().map_or(0, |g| g.seq);
    w.loss_to_clients = loss;
    w.run(Duration::from_secs(4));
    w.loss_to_clients = 0.0;
    w.run(Duration::from_secs(1));
    assert!(
        w.dropped > 20,
        "the impairment dropped {} packets",
        w.dropped
    );
    (w, b, before)
}

#[test]
fn lost_packets_are_recovered_from_the_nack_cache() {
    let (w, b, _) = stage_through_loss(Duration::from_secs(1), 0.05);
    let stage = w.clients[b].recv_mids[0];
    let mut seqs: Vec<u64> = w.clients[b].on_mid(stage).iter().map(|g| g.seq).collect();
    seqs.sort();
    seqs.dedup();
    let span = seqs.last().unwrap() - seqs.first().unwrap() + 1;
    let missing = span - seqs.len() as u64;
    assert!(
        missing * 100 <= span,
        "{missing} of {span} packets never recovered"
    );
}

/// A retransmission is the packet that was lost, header included: str0m's
/// cache keeps a slim copy of each sent packet and rebuilds it for a resend
/// (`vendor/str0m/PATCHES.md`, "rtx-slim"). Each frame of the stage layer is
/// `PACKETS_PER_FRAME` packets, the first starting the VP8 descriptor and
/// only the last marked, so a resend that lost its marker, its RTP time or
/// its payload breaks a frame here.
#[test]
fn a_retransmitted_packet_keeps_its_frame_timestamp_and_marker() {
    let (w, b, settled) = stage_through_loss(Duration::from_secs(2), 0.1);
    let stage = w.clients[b].recv_mids[0];
    let mut pkts: Vec<&Got> = w.clients[b]
        .on_mid(stage)
        .into_iter()
        .filter(|g| g.seq > settled)
        .collect();
    pkts.sort_by_key(|g| g.seq);
    pkts.dedup_by_key(|g| g.seq);
    let mut frames: BTreeMap<u32, Vec<&Got>> = BTreeMap::new();
    for g in &pkts {
        frames.entry(g.ts).or_default().push(g);
    }
    let mut whole = 0;
    for (ts, f) in &frames {
        let layer = f[0].origin().1;
        let n = PACKETS_PER_FRAME[usize::from(layer)];
        let contiguous = f.windows(2).all(|p| p[1].seq == p[0].seq + 1);
        if f.len() != n || !contiguous {
            continue; // a frame that lost a packet for good, or cut by a switch
        }
        whole += 1;
        for (i, g) in f.iter().enumerate() {
            assert_eq!(g.origin().1, layer, "frame ts {ts}: layers mixed");
            assert_eq!(
                g.marker,
                i == n - 1,
                "frame ts {ts}: marker on packet {i} of {n}"
            );
            assert_eq!(
                g.payload[0] & 0x10 != 0,
                i == 0,
                "frame ts {ts}: VP8 partition start on packet {i} of {n}"
            );
        }
    }
    assert!(whole >= 100, "only {whole} whole frames in 5 s");
}

#[test]
fn operator_mute_is_enforced_until_the_operator_lifts_it() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let b = w.join(false, 0, 1);
    w.run(Duration::from_secs(1));
    let audio = w.clients[b].recv_mids[0];
    assert!(!w.clients[b].on_mid(audio).is_empty());
    let id = w.clients[a].id;
    w.cmd(Command::Mute {
        participant: id,
        audio: Some(true),
        video: None,
        by_operator: true,
    });
    w.run(Duration::from_millis(200));
    let n = w.clients[b].on_mid(audio).len();
    w.run(Duration::from_secs(1));
    assert_eq!(
        w.clients[b].on_mid(audio).len(),
        n,
        "muted audio still forwarded"
    );
    assert!(w.events.iter().any(
        |e| matches!(e, Event::MuteChanged { participant, mute, .. } if *participant == id && mute.operator_audio)
    ));
    // The room tries to unmute itself: an operator's mute holds.
    w.cmd(Command::Mute {
        participant: id,
        audio: Some(false),
        video: None,
        by_operator: false,
    });
    w.run(Duration::from_secs(1));
    assert_eq!(
        w.clients[b].on_mid(audio).len(),
        n,
        "self-unmute lifted an operator mute"
    );
    w.cmd(Command::Mute {
        participant: id,
        audio: Some(false),
        video: None,
        by_operator: true,
    });
    w.run(Duration::from_secs(1));
    assert!(
        w.clients[b].on_mid(audio).len() > n + 20,
        "unmuted audio resumes"
    );
}

#[test]
fn operator_stage_choice_is_what_everyone_sees() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let c = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    let stage = w.clients[b].recv_mids[0];
    let (ida, idc) = (w.clients[a].id, w.clients[c].id);
    let first = w.clients[b].on_mid(stage).last().unwrap().origin().0;
    let (want, want_id) = if first == a as u8 {
        (c as u8, idc)
    } else {
        (a as u8, ida)
    };
    w.cmd(Command::SetStage {
        room: "r".into(),
        participants: vec![want_id],
    });
    w.run(Duration::from_secs(2));
    let pkts = w.clients[b].on_mid(stage);
    assert_continuous(&pkts);
    assert_eq!(
        pkts.last().unwrap().origin().0,
        want,
        "stage shows the operator's choice"
    );
    let slots = slot_events(&w.events, w.clients[b].id);
    assert_eq!(slots.last().unwrap()[0], (SlotRole::Stage, Some(want_id)));
    assert!(w.events.iter().any(
        |e| matches!(e, Event::StageChanged { participants, .. } if participants == &vec![want_id])
    ));
}

#[test]
fn loudest_speaker_becomes_active_and_fills_the_speaker_slot() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let c = w.join(true, 0, 0);
    let b = w.join(false, 2, 1);
    w.clients[c].publisher.as_mut().unwrap().audio_level = -15;
    w.clients[a].publisher.as_mut().unwrap().audio_level = -80;
    // The room's stage follows the voice (Thảo luận): see stage_voice.rs
    // for a room that does not.
    w.run(Duration::from_millis(100));
    w.cmd(Command::StageVoice {
        room: "r".into(),
        on: true,
    });
    w.run(Duration::from_secs(3));
    let idc = w.clients[c].id;
    assert!(
        w.events
            .iter()
            .any(|e| matches!(e, Event::SpeakerChanged { participant: Some(p), .. } if *p == idc))
    );
    let slots = slot_events(&w.events, w.clients[b].id);
    let last: HashMap<SlotRole, Option<ParticipantId>> =
        slots.last().unwrap().iter().copied().collect();
    assert_eq!(
        last[&SlotRole::Stage],
        Some(idc),
        "no operator stage, following the voice: the active speaker is on stage"
    );
    assert_eq!(last[&SlotRole::Audio], Some(idc), "the loudest is heard");
    assert_eq!(
        last[&SlotRole::Speaker],
        Some(w.clients[a].id),
        "speaker slot does not repeat the stage"
    );
}

#[test]
fn garbage_datagrams_are_dropped_and_counted() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    w.run(Duration::from_millis(500));
    let now = w.now;
    let server: SocketAddr = SERVER.parse().unwrap();
    let known = w.clients[a].addr;
    let mut junk = vec![];
    for i in 0..200u32 {
        let len = (i as usize * 7) % 1300;
        junk.push(
            (0..len)
                .map(|j| (i as usize * 31 + j * 17) as u8)
                .collect::<Vec<u8>>(),
        );
    }
    for (i, j) in junk.iter().enumerate() {
        let src = if i % 2 == 0 {
            known
        } else {
            "127.0.0.99:9".parse().unwrap()
        };
        w.engine.handle_datagram(now, src, server, j);
    }
    let Reply::Stats(st) = w.cmd(Command::Stats) else {
        panic!()
    };
    assert!(st.dropped_unknown_source >= 100, "{st:?}");
    assert!(st.dropped_malformed > 0, "{st:?}");
    // The session still works.
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(1));
    assert!(!w.clients[b].received.is_empty());
}

#[test]
fn leaving_publisher_frees_the_stage_and_room_keeps_working() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let c = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    let stage = w.clients[b].recv_mids[0];
    let shown = w.clients[b].on_mid(stage).last().unwrap().origin().0;
    let (leaver, other) = if shown == a as u8 { (a, c) } else { (c, a) };
    let id = w.clients[leaver].id;
    w.cmd(Command::Leave { participant: id });
    w.run(Duration::from_secs(2));
    let pkts = w.clients[b].on_mid(stage);
    assert_continuous(&pkts);
    assert_eq!(pkts.last().unwrap().origin().0, other as u8);
    assert!(
        w.events
            .iter()
            .any(|e| matches!(e, Event::Left { participant, .. } if *participant == id))
    );
}

#[test]
fn offer_without_usable_codec_is_refused() {
    let mut w = World::new();
    let offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=video 9 UDP/TLS/RTP/SAVPF 120\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\na=setup:actpass\r\na=rtpmap:120 MADEUP/90000\r\n";
    let r = w.engine.handle_command(
        w.now,
        Command::Join(JoinRequest {
            participant: 77,
            room: "r".into(),
            name: "x".into(),
            role: Role::Room,
            max_kbps: None,
            offer: offer.into(),
        }),
    );
    assert!(
        r.is_err(),
        "an offer with only an unknown codec must be refused: {r:?}"
    );
    assert_eq!(w.engine.session_count(), 0, "nothing changed");
}

#[test]
fn h264_publisher_reaches_subscriber_starting_with_an_idr() {
    let mut w = World::new();
    w.h264_publishers = true;
    let a = w.join(true, 0, 0);
    let b = w.join(false, 1, 0);
    w.run(Duration::from_secs(2));
    let stage = w.clients[b].recv_mids[0];
    let video = w.clients[b].on_mid(stage);
    assert!(video.len() > 100, "stage video packets: {}", video.len());
    assert_eq!(
        video[0].payload[0], 0x65,
        "first forwarded packet is an IDR slice"
    );
    assert_eq!(
        video[0].origin().0,
        w.clients[a].publisher.as_ref().unwrap().number
    );
    assert_continuous(&video);
}

#[test]
fn console_sees_every_endpoint_as_a_low_layer_thumbnail() {
    let mut w = World::new();
    let pubs: Vec<usize> = (0..3).map(|_| w.join(true, 0, 0)).collect();
    let console = w.join_as(Role::Console, false, 4, 0);
    w.run(Duration::from_secs(3));
    let slots = slot_events(&w.events, w.clients[console].id);
    let last = slots.last().unwrap();
    assert_eq!(last[0].0, SlotRole::Stage);
    let mut thumbs: Vec<ParticipantId> = last[1..].iter().filter_map(|s| s.1).collect();
    thumbs.sort();
    let mut want: Vec<ParticipantId> = pubs.iter().map(|&p| w.clients[p].id).collect();
    want.sort();
    assert_eq!(thumbs, want, "one thumbnail per endpoint");
    for mid in &w.clients[console].recv_mids[1..] {
        let pkts = w.clients[console].on_mid(*mid);
        assert!(!pkts.is_empty(), "thumbnail {mid} receives video");
        assert_eq!(
            pkts.last().unwrap().origin().1,
            0,
            "thumbnails use the low layer"
        );
        assert_continuous(&pkts);
    }
}

/// Run until client `c` receives its first stage packet; returns (joined →
/// connected, connected → first picture).
fn first_picture(w: &mut World, c: usize) -> (Duration, Duration) {
    let id = w.clients[c].id;
    let stage = w.clients[c].recv_mids[0];
    let step = Duration::from_millis(2);
    let mut t = Duration::ZERO;
    let mut connected_at = None;
    while w.clients[c].on_mid(stage).is_empty() {
        assert!(t < Duration::from_secs(3), "no picture {t:?} after joining");
        w.run(step);
        t += step;
        if connected_at.is_none()
            && w.events
                .iter()
                .any(|e| matches!(e, Event::Connected { participant } if *participant == id))
        {
            connected_at = Some(t);
        }
    }
    assert!(
        w.clients[c].on_mid(stage)[0].is_keyframe_start(),
        "the first packet starts a keyframe"
    );
    let connected_at = connected_at.expect("connected before receiving");
    (connected_at, t - connected_at)
}

/// A new subscriber's keyframe is asked for when it can receive one: a
/// request sent at join time is answered before its ICE and DTLS are done,
/// that keyframe cannot reach it, and the next request used to wait out
/// the whole PLI interval (the S3 join storm's 0.67 s joins). A second
/// subscriber connecting just after the first's keyframe passed does not
/// wait out the interval (nor, since the keyframe budget, any gap:
/// `engine_keyframe.rs`).
#[test]
fn a_new_subscriber_sees_the_stage_soon_after_it_connects_even_just_after_another() {
    let mut w = World::new();
    w.join(true, 0, 0);
    // Past the publisher's first keyframes, well before its periodic one.
    w.run(Duration::from_secs(2));
    // Handshakes that take longer than the publisher's answer to a request.
    w.slow_handshake = Some(Duration::from_millis(80));
    let b = w.join(false, 1, 1);
    let (connect, after) = first_picture(&mut w, b);
    eprintln!("first: joined → connected {connect:?}, connected → first picture {after:?}");
    // One frame interval (33 ms) plus the engine's tick.
    assert!(
        after < Duration::from_millis(120),
        "first picture {after:?} after connecting"
    );
    let c = w.join(false, 1, 1);
    let (connect, after) = first_picture(&mut w, c);
    eprintln!("second: joined → connected {connect:?}, connected → first picture {after:?}");
    // Well under the unanswered-request interval (500 ms).
    assert!(
        after < Duration::from_millis(250),
        "second subscriber's first picture {after:?} after connecting"
    );
}
