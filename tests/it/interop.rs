//! Interop with an independent WebRTC stack (webrtc-rs 0.21) over real UDP
//! on loopback: simulcast publish, layer switching, loss recovery,
//! WebSocket rooms and bad signalling.
//!
//! Every test enters its own loopback-only network namespace first
//! (`run_in_loopback_netns`), then boots the real server on port 0.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::rtc_client::{
    ClientConfig, LayerSpec, LossConfig, LossRelay, PublishConfig, RtcClient, WsClient,
    default_layers, first_udp_candidate, post_sdp, rewrite_candidates, run_in_loopback_netns,
    unwrap_seqs, wait_for, whep_subscriber, whip_publisher, ws_join,
};
use crate::support::server::{self, DEMO_TOKEN};

const MEETING: &str = "demo";

// ---------------------------------------------------------------------------
// The client checked against itself (no server)
// ---------------------------------------------------------------------------

/// Two webrtc-rs peers, offer/answer in-process over loopback: simulcast
/// rids, keyframes first, audio level, layer pause/resume and
/// keyframe-on-PLI all work before our server is involved.
#[test]
fn webrtc_rs_client_peer_to_peer_self_check() {
    run_in_loopback_netns(async {
        let mut publisher = RtcClient::new(ClientConfig {
            name: "pub".into(),
            publish: Some(PublishConfig {
                audio_level: 30,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("publisher peer");
        let subscriber = RtcClient::new(ClientConfig {
            name: "sub".into(),
            ..Default::default()
        })
        .await
        .expect("subscriber peer");

        let offer = publisher.create_offer().await.expect("offer");
        assert!(
            offer.contains("a=simulcast:send q;h;f"),
            "offer lacks simulcast:\n{offer}"
        );
        assert!(
            offer.contains("a=rid:f send"),
            "offer lacks rid f:\n{offer}"
        );
        assert!(
            offer.contains("urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            "offer lacks the audio level extension:\n{offer}"
        );
        let candidates: Vec<&str> = offer
            .lines()
            .filter(|l| l.starts_with("a=candidate"))
            .collect();
        assert!(!candidates.is_empty(), "offer has no candidate:\n{offer}");
        for line in candidates {
            assert!(
                line.contains(" 127.0.0.1 "),
                "non-loopback candidate: {line}"
            );
        }
        let answer = subscriber.accept_offer(&offer).await.expect("answer");
        publisher.set_answer(&answer).await.expect("set answer");
        publisher
            .wait_connected(Duration::from_secs(15))
            .await
            .unwrap();
        subscriber
            .wait_connected(Duration::from_secs(15))
            .await
            .unwrap();

        let p = publisher.publisher();
        let ssrc = |rid: &str| p.layer(rid).ssrc;
        let ok = subscriber
            .wait_until(Duration::from_secs(10), |tracks| {
                let v = tracks.iter().find(|t| t.kind == "video");
                let a = tracks.iter().find(|t| t.kind == "audio");
                matches!((v, a), (Some(v), Some(a))
                    if ["q", "h", "f"].iter().all(|r| v.of_ssrc(ssrc(r)).len() >= 20)
                        && a.packet_count() >= 20)
            })
            .await;
        assert!(
            ok,
            "media did not arrive on all layers:\n{}\n{}",
            subscriber.describe(),
            publisher.describe()
        );

        let video = subscriber.video(0).unwrap();
        for rid in ["q", "h", "f"] {
            let pkts = video.of_ssrc(ssrc(rid));
            assert!(
                pkts[0].keyframe,
                "layer {rid} did not start with a keyframe"
            );
            assert_eq!(pkts[0].layer, Some(rid.as_bytes()[0]), "layer tag of {rid}");
            assert_eq!(pkts[0].source, Some(p.source_tag), "source tag of {rid}");
            assert_eq!(
                video.rids.get(&ssrc(rid)).map(String::as_str),
                Some(rid),
                "rid map {:?}",
                video.rids
            );
            let ext = unwrap_seqs(pkts.iter().map(|p| p.seq));
            assert!(
                ext.windows(2).all(|w| w[1] == w[0] + 1),
                "layer {rid} has seq gaps on a clean link"
            );
        }
        // A frame of the high layer spans several packets, marker on the last.
        let f = video.of_ssrc(ssrc("f"));
        assert!(f.iter().any(|p| p.marker) && f.iter().filter(|p| p.marker).count() < f.len());
        let audio = subscriber.audio(0).unwrap();
        assert_eq!(
            audio.packets.last().unwrap().audio_level,
            Some(30),
            "{}",
            audio.summary()
        );
        assert_eq!(audio.sources(), vec![p.source_tag]);
        let ts: Vec<u32> = audio.packets.iter().map(|p| p.ts).collect();
        assert!(
            ts.windows(2).all(|w| w[1].wrapping_sub(w[0]) == 960),
            "opus timestamps step by 960"
        );

        publisher.set_audio_level(10);
        let ok = wait_for(Duration::from_secs(5), || {
            subscriber
                .audio(0)
                .unwrap()
                .packets
                .last()
                .unwrap()
                .audio_level
                == Some(10)
        })
        .await;
        assert!(ok, "audio level change did not reach the peer");

        publisher.pause_layer("f");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = subscriber.video(0).unwrap().of_ssrc(ssrc("f")).len();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = subscriber.video(0).unwrap().of_ssrc(ssrc("f")).len();
        assert_eq!(before, after, "paused layer f kept sending");
        let resumed_at = Instant::now();
        publisher.resume_layer("f");
        let ok = wait_for(Duration::from_secs(5), || {
            subscriber
                .video(0)
                .unwrap()
                .of_ssrc(ssrc("f"))
                .iter()
                .any(|p| p.at >= resumed_at)
        })
        .await;
        assert!(ok, "layer f did not resume");
        let v = subscriber.video(0).unwrap();
        let first_after = v
            .of_ssrc(ssrc("f"))
            .into_iter()
            .find(|p| p.at >= resumed_at)
            .unwrap();
        assert!(
            first_after.keyframe,
            "resumed layer did not restart with a keyframe"
        );

        let h = p.layer("h");
        let on_request = h.counters.keyframes_on_request.load(Ordering::Relaxed);
        subscriber.request_keyframe(h.ssrc).await.expect("send PLI");
        let ok = wait_for(Duration::from_secs(5), || {
            h.counters.keyframes_on_request.load(Ordering::Relaxed) > on_request
        })
        .await;
        assert!(
            ok,
            "publisher did not answer a PLI with a keyframe (requests seen: {:?})",
            publisher.tap().keyframe_requests
        );

        publisher.close().await;
        subscriber.close().await;
    });
}

/// The lossy relay and NACK/RTX recovery, peer to peer: 5% seeded loss on
/// the publisher -> subscriber path is repaired by retransmission.
#[test]
fn webrtc_rs_client_peer_to_peer_loss_recovery_self_check() {
    run_in_loopback_netns(async {
        let mut publisher = RtcClient::new(ClientConfig {
            name: "pub".into(),
            // One plain layer: webrtc-rs maps RTX to its primary stream only
            // through `a=ssrc-group:FID`, which rid simulcast offers lack.
            publish: Some(PublishConfig {
                layers: vec![LayerSpec {
                    rid: "",
                    kbps: 1200,
                    width: 1280,
                    height: 720,
                }],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
        let subscriber = RtcClient::new(ClientConfig {
            name: "sub".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let offer = publisher.create_offer().await.unwrap();
        let answer = subscriber.accept_offer(&offer).await.unwrap();
        let target = first_udp_candidate(&answer).expect("answer candidate");
        // The publisher is the relay's "client": drop what it sends.
        let relay = LossRelay::start_with(
            target,
            LossConfig {
                rate: 0.05,
                seed: 7,
            },
            false,
        )
        .await
        .unwrap();
        publisher
            .set_answer(&rewrite_candidates(&answer, target, relay.addr))
            .await
            .unwrap();
        publisher
            .wait_connected(Duration::from_secs(15))
            .await
            .unwrap();
        subscriber
            .wait_connected(Duration::from_secs(15))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(6)).await;

        let ssrc = publisher.publisher().layer("").ssrc;
        let video = subscriber.video(0).expect("video track");
        let dropped = relay.stats.lock().unwrap().dropped.len();
        let (expected, missing) = video.settled_delivery(Some(ssrc), Duration::from_secs(1));
        let tap = subscriber.tap();
        assert!(dropped > 20, "relay dropped only {dropped} packets");
        assert!(tap.nacks_sent > 0, "subscriber sent no NACK");
        assert!(
            tap.rtx_received() > 0 && tap.rtx_repaired > 0,
            "subscriber received/repaired no RTX: {tap:?}"
        );
        assert!(
            missing.len() * 100 <= expected,
            "{} of {expected} packets never recovered: {missing:?}",
            missing.len()
        );
    });
}

// ---------------------------------------------------------------------------
// Against the server
// ---------------------------------------------------------------------------

/// The default publisher config with a chosen audio level.
fn publish(level: u8) -> PublishConfig {
    PublishConfig {
        audio_level: level,
        ..Default::default()
    }
}

#[test]
fn simulcast_publish_reaches_subscriber() {
    run_in_loopback_netns(simulcast_publish_reaches(0));
}

/// The same with the room forced across both workers (a room splits after
/// one session on its home): the publisher's packets are handed to the
/// subscriber's worker.
#[test]
fn simulcast_publish_reaches_a_subscriber_on_another_worker() {
    run_in_loopback_netns(simulcast_publish_reaches(1));
}

async fn simulcast_publish_reaches(room_split_sessions: usize) {
    {
        let srv = server::start_with(|c| c.media.room_split_sessions = room_split_sessions).await;
        let base = srv.base_url();
        let (publisher, _) = whip_publisher(&base, MEETING, DEMO_TOKEN, "pub", publish(20)).await;
        let (sub, _) = whep_subscriber(&base, MEETING, DEMO_TOKEN, "sub", 1, 1, None).await;
        let connected_at = Instant::now();

        let ok = sub
            .wait_until(Duration::from_secs(20), |_| {
                sub.video(0).is_some_and(|v| v.packet_count() >= 90)
                    && sub.audio(0).is_some_and(|a| a.packet_count() >= 100)
            })
            .await;
        assert!(
            ok,
            "video and audio did not both reach the WHEP subscriber within 20 s:\n{}\n{}",
            sub.describe(),
            publisher.describe()
        );

        let video = sub.video(0).unwrap();
        let first = &video.packets[0];
        assert!(
            first.keyframe,
            "the first video packet forwarded was not the start of a keyframe: {}",
            video.summary()
        );
        // Spec: within 2 s — measured on virtual time in `engine.rs`, where
        // no scheduler can stretch it. Here, on real sockets sharing two
        // cores with the rest of the suite, only a keyframe that never
        // comes on its own (no PLI at connect, waiting for the publisher's
        // periodic one) is caught.
        assert!(
            first.at.saturating_duration_since(connected_at) <= Duration::from_secs(8),
            "first keyframe arrived {:?} after the subscriber connected",
            first.at.saturating_duration_since(connected_at)
        );
        assert_eq!(
            video.sources(),
            vec![publisher.publisher().source_tag],
            "video came from an unexpected publisher"
        );
        assert!(
            video.missing_seqs().is_empty() && video.seq_discontinuities().is_empty(),
            "video sequence numbers are not continuous on a clean link: missing {:?}, jumps {:?}",
            video.missing_seqs(),
            video.seq_discontinuities()
        );
        assert!(
            video.timestamp_regressions().is_empty(),
            "video RTP timestamps went backwards: {:?}",
            video.timestamp_regressions()
        );
        let audio = sub.audio(0).unwrap();
        assert!(
            audio.missing_seqs().is_empty() && audio.seq_discontinuities().is_empty(),
            "audio sequence numbers are not continuous: missing {:?}, jumps {:?}",
            audio.missing_seqs(),
            audio.seq_discontinuities()
        );
        assert_eq!(audio.sources(), vec![publisher.publisher().source_tag]);
        // Split or not, as the workers' counters say (one room either way).
        let stats = srv.server.state().media.stats().await;
        let rooms: Vec<_> = stats.iter().flat_map(|s| &s.rooms).collect();
        assert_eq!(rooms.len(), 1, "{rooms:?}");
        let handed = rooms[0].handoff_packets_out;
        if room_split_sessions == 1 {
            assert!(handed >= 100, "packets handed across: {handed}");
            assert_eq!(rooms[0].participants, 2);
        } else {
            assert_eq!(handed, 0);
        }

        sub.close().await;
        publisher.close().await;
    }
}

#[test]
fn stage_stream_stays_continuous_across_forced_layer_switch() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();
        // The usual 100/300/1200 kbit/s layers: the subscriber must first
        // climb to `f` (the server probes its bandwidth upwards), then follow
        // the publisher down when `f` stops and back up when it resumes.
        let layers = default_layers();
        let config = PublishConfig {
            layers,
            ..publish(20)
        };
        let (publisher, _) = whip_publisher(&base, MEETING, DEMO_TOKEN, "pub", config).await;
        let (sub, _) = whep_subscriber(&base, MEETING, DEMO_TOKEN, "sub", 1, 1, None).await;

        // The server may start low and climb as its estimate grows; on a
        // loaded machine the estimate climbs slower (both stacks share two
        // cores with the rest of the suite), so the wait is generous: this
        // test proves the switches are clean, not how fast they come.
        let ok = wait_for(Duration::from_secs(60), || {
            sub.video(0).is_some_and(|v| v.current_layer() == Some('f'))
        })
        .await;
        assert!(
            ok,
            "the subscriber never received the high layer (f) within 60 s:\n{}",
            sub.describe()
        );

        let paused_at = Instant::now();
        publisher.pause_layer("f");
        let ok = wait_for(Duration::from_secs(30), || {
            sub.video(0).is_some_and(|v| {
                v.frames_of_layer_since('h', paused_at) + v.frames_of_layer_since('q', paused_at)
                    >= 10
            })
        })
        .await;
        assert!(
            ok,
            "after layer f stopped, the server did not switch the subscriber to a lower \
             layer within 30 s:\n{}",
            sub.describe()
        );

        let v = sub.video(0).unwrap();
        // The first frame start of a lower layer after f stopped.
        let switch = v
            .packets
            .iter()
            .position(|p| p.at >= paused_at && matches!(p.layer, Some(b'h') | Some(b'q')))
            .unwrap();
        // Compare with the previous packet that advanced the stream (the
        // server's bandwidth probes resend old packets as RTX padding).
        let firsts = v.first_arrivals();
        let k = firsts
            .iter()
            .position(|(i, _)| *i == switch)
            .expect("the first lower-layer packet advanced the stream");
        let prev = &v.packets[firsts[k - 1].0];
        let at = &v.packets[switch];
        assert!(
            at.keyframe,
            "the switch to layer {} did not begin with a keyframe",
            at.layer.map(char::from).unwrap_or('?')
        );
        assert_eq!(
            at.seq,
            prev.seq.wrapping_add(1),
            "sequence discontinuity at the layer switch: {} then {}",
            prev.seq,
            at.seq
        );
        assert!(
            (at.ts.wrapping_sub(prev.ts) as i32) > 0,
            "RTP timestamp did not advance at the switch: {} then {}",
            prev.ts,
            at.ts
        );
        assert!(
            v.seq_discontinuities().is_empty(),
            "sequence jumps: {:?}",
            v.seq_discontinuities()
        );
        assert!(
            v.timestamp_regressions().is_empty(),
            "timestamps went backwards: {:?}",
            v.timestamp_regressions()
        );

        let resumed_at = Instant::now();
        publisher.resume_layer("f");
        let ok = wait_for(Duration::from_secs(20), || {
            sub.video(0).is_some_and(|v| v.since(resumed_at) >= 60)
        })
        .await;
        assert!(
            ok,
            "video stopped flowing after layer f resumed:\n{}",
            sub.describe()
        );
        let v = sub.video(0).unwrap();
        assert!(
            v.seq_discontinuities().is_empty() && v.timestamp_regressions().is_empty(),
            "stream broke after resume: jumps {:?}, ts regressions {:?}",
            v.seq_discontinuities(),
            v.timestamp_regressions()
        );
        // Every layer entry, including a switch back up, starts on a keyframe.
        let mut last_layer = None;
        for p in &v.packets {
            if let Some(l) = p.layer {
                if last_layer.is_some_and(|x| x != l) {
                    assert!(p.keyframe, "layer change to {} without keyframe", l as char);
                }
                last_layer = Some(l);
            }
        }

        sub.close().await;
        publisher.close().await;
    });
}

#[test]
fn subscriber_recovers_from_five_percent_loss() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();
        let (publisher, _) = whip_publisher(&base, MEETING, DEMO_TOKEN, "pub", publish(20)).await;
        let loss = LossConfig {
            rate: 0.05,
            seed: 42,
        };
        let (sub, _) = whep_subscriber(&base, MEETING, DEMO_TOKEN, "sub", 1, 1, Some(loss)).await;

        let ok = wait_for(Duration::from_secs(20), || {
            sub.video(0).is_some_and(|v| v.packet_count() >= 300)
        })
        .await;
        assert!(
            ok,
            "video did not flow through the lossy path:\n{}",
            sub.describe()
        );
        tokio::time::sleep(Duration::from_secs(4)).await;

        let video = sub.video(0).unwrap();
        let relay = sub.relay.as_ref().unwrap();
        let (dropped, by_pt) = {
            let s = relay.stats.lock().unwrap();
            (s.dropped.clone(), s.rtp_by_pt.clone())
        };
        let video_ssrcs = video.ssrcs();
        let dropped_video: Vec<u16> = dropped
            .iter()
            .filter(|(ssrc, _, _)| video_ssrcs.contains(ssrc))
            .map(|(_, seq, _)| *seq)
            .collect();
        assert!(
            dropped_video.len() >= 5,
            "the relay dropped only {} video packets (by pt forwarded {by_pt:?})",
            dropped_video.len()
        );
        let (expected, missing) = video.settled_delivery(None, Duration::from_secs(1));
        let tap = sub.tap();
        let detail = format!(
            "expected {expected}, missing {:?}, relay dropped {} video packets, nacks sent {}, \
             seqs nacked {}, rtx received {}, forwarded by pt {by_pt:?}",
            missing,
            dropped_video.len(),
            tap.nacks_sent,
            tap.nacked_seqs_sent,
            tap.rtx_received()
        );
        assert!(
            tap.nacks_sent > 0,
            "the subscriber never sent a NACK: {detail}"
        );
        let retransmissions = tap.rtx_received()
            + by_pt
                .iter()
                .filter(|(pt, _)| **pt != 96 && **pt != 111)
                .map(|(_, n)| n)
                .sum::<u64>();
        assert!(
            retransmissions > 0,
            "no retransmission reached the subscriber: {detail}"
        );
        assert!(
            missing.len() * 100 <= expected,
            "fewer than 99% of the video packets were delivered after NACK/RTX: {detail}"
        );
        // Video keeps flowing after the loss.
        let t = Instant::now();
        let ok = wait_for(Duration::from_secs(5), || {
            sub.video(0).is_some_and(|v| v.since(t) >= 30)
        })
        .await;
        assert!(ok, "video stopped under loss: {detail}");

        sub.close().await;
        publisher.close().await;
    });
}

/// `slots` (or the slots in `joined`) name `who` in some slot.
fn slots_name(ws: &WsClient, who: &str) -> bool {
    ws.received().iter().any(|m| {
        matches!(
            m["type"].as_str(),
            Some("slots") | Some("joined") | Some("answer")
        ) && m["slots"]
            .as_array()
            .is_some_and(|s| s.iter().any(|slot| slot["participant"] == who))
    })
}

#[test]
fn two_websocket_participants_receive_each_other() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();
        let cfg = |name: &str, level: u8| ClientConfig {
            name: name.into(),
            publish: Some(publish(level)),
            recv_video: 2,
            recv_audio: 3,
            loss: None,
            ..Default::default()
        };
        let mut a = RtcClient::new(cfg("Đảng ủy xã A", 10)).await.unwrap();
        let mut b = RtcClient::new(cfg("Đảng ủy xã B", 40)).await.unwrap();
        let (ws_a, joined_a) = ws_join(&mut a, &base, MEETING, DEMO_TOKEN).await.unwrap();
        let (ws_b, joined_b) = ws_join(&mut b, &base, MEETING, DEMO_TOKEN).await.unwrap();
        let id_a = joined_a["participant"]
            .as_str()
            .expect("joined.participant")
            .to_string();
        let id_b = joined_b["participant"]
            .as_str()
            .expect("joined.participant")
            .to_string();
        assert_ne!(id_a, id_b);
        a.wait_connected(Duration::from_secs(20)).await.unwrap();
        b.wait_connected(Duration::from_secs(20)).await.unwrap();

        let tag_a = a.publisher().source_tag;
        let tag_b = b.publisher().source_tag;
        for (me, other_tag, other) in [(&a, tag_b, "B"), (&b, tag_a, "A")] {
            let ok = wait_for(Duration::from_secs(20), || {
                me.video_tracks()
                    .iter()
                    .any(|v| v.packets_from(other_tag) >= 30)
                    && me
                        .audio_tracks()
                        .iter()
                        .any(|t| t.packets_from(other_tag) >= 50)
            })
            .await;
            assert!(
                ok,
                "{} did not receive {other}'s video and audio within 20 s:\n{}",
                me.name,
                me.describe()
            );
        }
        for (ws, other, me) in [(&ws_a, &id_b, "A"), (&ws_b, &id_a, "B")] {
            let ok = wait_for(Duration::from_secs(10), || slots_name(ws, other)).await;
            assert!(
                ok,
                "{me}'s slots never named the other participant {other}: {:#?}",
                ws.received()
            );
        }
        // The joined reply lists every slot the answer set up.
        for joined in [&joined_a, &joined_b] {
            let slots = joined["slots"].as_array().expect("joined.slots");
            let roles: Vec<&str> = slots.iter().filter_map(|s| s["role"].as_str()).collect();
            assert_eq!(
                roles.iter().filter(|r| **r == "audio").count(),
                3,
                "joined.slots should list the 2 video + 3 audio slots the answer set up; got \
                 roles {roles:?} (joined.slots = {}, answer m-lines: {:?})",
                joined["slots"],
                joined["answer"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.starts_with("m=")
                        || l.starts_with("a=mid")
                        || l.starts_with("a=sendonly")
                        || l.starts_with("a=recvonly"))
                    .collect::<Vec<_>>()
            );
            assert!(
                roles.contains(&"stage") && roles.contains(&"speaker"),
                "roles {roles:?}"
            );
        }
        // Nobody is sent their own media back.
        for (me, own) in [(&a, tag_a), (&b, tag_b)] {
            for t in me.stats() {
                assert_eq!(
                    t.packets_from(own),
                    0,
                    "{} received its own media: {}",
                    me.name,
                    t.summary()
                );
            }
        }

        let _ = ws_a.send_json(&json!({"type": "leave"})).await;
        let _ = ws_b.send_json(&json!({"type": "leave"})).await;
        a.close().await;
        b.close().await;
    });
}

/// The error object of a WS `error` message: (code, message).
fn ws_error(v: &Value) -> Option<(String, String)> {
    (v["type"] == "error").then(|| {
        (
            v["code"].as_str().unwrap_or_default().to_string(),
            v["message"].as_str().unwrap_or_default().to_string(),
        )
    })
}

/// Send `text` on a fresh socket and expect an `error` with a code and message.
async fn expect_ws_error(base: &str, what: &str, text: &str) -> (String, String) {
    let ws = WsClient::connect(base).await.unwrap();
    ws.send_text(text).await.unwrap();
    let reply = ws
        .wait_message(0, Duration::from_secs(10), |v| {
            v["type"] == "error" || v["type"] == "joined"
        })
        .await
        .unwrap_or_else(|| panic!("{what}: no reply within 10 s (got {:?})", ws.received()));
    let (code, message) =
        ws_error(&reply).unwrap_or_else(|| panic!("{what}: expected an error, got {reply}"));
    assert!(
        !code.is_empty() && !message.is_empty(),
        "{what}: error lacks code/message: {reply}"
    );
    (code, message)
}

/// An SDP whose every codec is made up.
fn offer_with_no_usable_codec(offer: &str) -> String {
    offer
        .replace("VP8/90000", "X-NOPE/90000")
        .replace("opus/48000/2", "X-NADA/48000/2")
        .replace("rtx/90000", "X-REPAIR/90000")
}

#[test]
fn bad_signalling_gets_clear_errors_and_room_keeps_working() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();

        // -- WebSocket --
        let ws = WsClient::connect(&base).await.unwrap();
        ws.send_text("{this is not json").await.unwrap();
        let reply = ws.wait_type(0, "error", Duration::from_secs(10)).await;
        let reply =
            reply.unwrap_or_else(|| panic!("malformed JSON: no error ({:?})", ws.received()));
        assert!(
            ws_error(&reply).is_some_and(|(c, m)| !c.is_empty() && !m.is_empty()),
            "{reply}"
        );
        // ... and the socket still works.
        let n = ws.count();
        ws.send_json(&json!({"type": "ping"})).await.unwrap();
        assert!(
            ws.wait_type(n, "pong", Duration::from_secs(10))
                .await
                .is_some(),
            "after malformed JSON the socket no longer answers ping: {:?}",
            ws.received()
        );

        expect_ws_error(&base, "unknown type", r#"{"type":"frobnicate","v":1}"#).await;

        let client = RtcClient::new(ClientConfig {
            name: "probe".into(),
            publish: Some(publish(50)),
            recv_video: 1,
            recv_audio: 1,
            loss: None,
            ..Default::default()
        })
        .await
        .unwrap();
        let offer = client.create_offer().await.unwrap();
        let join = |meeting: &str, token: &str, offer: &str| {
            json!({"type": "join", "v": 1, "meeting": meeting, "token": token, "offer": offer})
                .to_string()
        };
        expect_ws_error(
            &base,
            "wrong token",
            &join(MEETING, "not-the-token", &offer),
        )
        .await;
        expect_ws_error(
            &base,
            "unknown meeting",
            &join("no-such-meeting", DEMO_TOKEN, &offer),
        )
        .await;
        expect_ws_error(
            &base,
            "offer with no usable codec",
            &join(MEETING, DEMO_TOKEN, &offer_with_no_usable_codec(&offer)),
        )
        .await;
        client.close().await;

        // -- WHIP --
        let check_http = |what: &str, r: &crate::support::rtc_client::HttpReply| {
            assert!(
                (400..500).contains(&r.status),
                "{what}: expected a 4xx, got {} {}",
                r.status,
                r.body
            );
            let (code, message) = r.error().unwrap_or_else(|| {
                panic!(
                    "{what}: body is not {{\"error\":{{code,message}}}}: {}",
                    r.body
                )
            });
            assert!(
                !code.is_empty() && !message.is_empty(),
                "{what}: {}",
                r.body
            );
        };
        let r = post_sdp(&base, &format!("whip/{MEETING}"), None, &offer).await;
        check_http("missing bearer", &r);
        assert_eq!(r.status, 401, "missing bearer: {}", r.body);
        let r = post_sdp(
            &base,
            &format!("whip/{MEETING}"),
            Some("not-the-token"),
            &offer,
        )
        .await;
        check_http("wrong token", &r);
        assert!(
            r.status == 401 || r.status == 403,
            "wrong token: {} {}",
            r.status,
            r.body
        );
        let r = post_sdp(&base, "whip/no-such-meeting", Some(DEMO_TOKEN), &offer).await;
        check_http("unknown meeting", &r);
        let r = post_sdp(
            &base,
            &format!("whip/{MEETING}"),
            Some(DEMO_TOKEN),
            &offer_with_no_usable_codec(&offer),
        )
        .await;
        check_http("no usable codec", &r);
        let r = post_sdp(
            &base,
            &format!("whip/{MEETING}"),
            Some(DEMO_TOKEN),
            "hello, not sdp",
        )
        .await;
        check_http("garbage SDP", &r);

        // -- The room still works --
        let (publisher, _) = whip_publisher(&base, MEETING, DEMO_TOKEN, "pub", publish(20)).await;
        let (sub, _) = whep_subscriber(&base, MEETING, DEMO_TOKEN, "sub", 1, 1, None).await;
        let ok = wait_for(Duration::from_secs(20), || {
            sub.video(0)
                .is_some_and(|v| v.packets_from(publisher.publisher().source_tag) >= 30)
                && sub.audio(0).is_some_and(|a| a.packet_count() >= 50)
        })
        .await;
        assert!(
            ok,
            "after the bad requests, media no longer flows:\n{}",
            sub.describe()
        );
        sub.close().await;
        publisher.close().await;
    });
}
