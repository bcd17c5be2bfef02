//! WebSocket rooms: two participants receive each other; bad signalling
//! gets clear errors and the room keeps working.

use super::*;

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

/// The ids in the newest `participants` message `ws` received, with each
/// one's audio mute.
fn last_roster(ws: &WsClient) -> Option<Vec<(String, bool)>> {
    let msgs = ws.received();
    let last = msgs.iter().rev().find(|m| m["type"] == "participants")?;
    let mut list: Vec<(String, bool)> = last["list"]
        .as_array()?
        .iter()
        .map(|p| {
            let id = p["id"].as_str().unwrap_or_default().to_string();
            (id, p["audio_muted"].as_bool().unwrap_or_default())
        })
        .collect();
    list.sort();
    Some(list)
}

/// The hub encodes a room's list once per change and sends each client the
/// newest when it can take it (no per-client backlog of old lists): every
/// client still ends on the room as it is, after joins, a mute and a leave.
#[test]
fn every_client_ends_on_the_current_participant_list() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();
        let mut clients = Vec::new();
        for name in ["Phường A", "Xã B", "Xã C"] {
            let cfg = ClientConfig {
                name: name.into(),
                publish: Some(publish(10)),
                recv_video: 1,
                recv_audio: 1,
                loss: None,
                ..Default::default()
            };
            let mut c = RtcClient::new(cfg).await.unwrap();
            let (ws, joined) = ws_join(&mut c, &base, MEETING, DEMO_TOKEN).await.unwrap();
            let id = joined["participant"].as_str().unwrap().to_string();
            clients.push((c, ws, id));
        }
        let ids: Vec<String> = clients.iter().map(|(_, _, id)| id.clone()).collect();
        let expect = |muted: &[&str], present: &[&String]| {
            let mut v: Vec<(String, bool)> = present
                .iter()
                .map(|id| ((*id).clone(), muted.contains(&id.as_str())))
                .collect();
            v.sort();
            v
        };
        let all = expect(&[], &ids.iter().collect::<Vec<_>>());
        for (_, ws, id) in &clients {
            let ok = wait_for(Duration::from_secs(10), || {
                last_roster(ws) == Some(all.clone())
            })
            .await;
            assert!(ok, "{id} ended on {:?}, not {all:?}", last_roster(ws));
        }
        // A self-mute shows in everyone's list.
        clients[0]
            .1
            .send_json(&json!({"type": "mute", "audio": true}))
            .await
            .unwrap();
        let muted = expect(&[&ids[0]], &ids.iter().collect::<Vec<_>>());
        for (_, ws, id) in &clients {
            let ok = wait_for(Duration::from_secs(10), || {
                last_roster(ws) == Some(muted.clone())
            })
            .await;
            assert!(ok, "{id} ended on {:?}, not {muted:?}", last_roster(ws));
        }
        // The third leaves: the other two end on a list without it.
        let (c, ws, _) = clients.pop().unwrap();
        ws.leave().await;
        c.close().await;
        let two = expect(&[&ids[0]], &[&ids[0], &ids[1]]);
        for (_, ws, id) in &clients {
            let ok = wait_for(Duration::from_secs(10), || {
                last_roster(ws) == Some(two.clone())
            })
            .await;
            assert!(ok, "{id} ended on {:?}, not {two:?}", last_roster(ws));
        }
        for (c, ws, _) in clients {
            ws.leave().await;
            c.close().await;
        }
    });
}
