//! The client checked against itself, no server: two webrtc-rs peers
//! offer and answer in-process over loopback.

use super::*;

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
