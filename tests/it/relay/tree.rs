//! Relay links between three nodes in one process carry the top's stage
//! down and a floor holder two levels down up, and the top mutes it.

use super::*;

#[test]
fn relay_links_carry_the_tops_stage_down_and_a_floor_holder_two_levels_down_up_and_the_top_mutes_it()
 {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let url = db.url.clone();
        let w = world_with(db, |c| {
            c.cascade.node_id = Some("top".into());
            c.cascade.name = Some("Tỉnh ủy".into());
        })
        .await;
        let admin = w.admin().clone();
        // Rooms A and B connect at the bottom: both nodes below the top
        // serve the province's subtree.
        let p = w.unit("P").to_string();
        let middle_credential = register(&admin, "middle", "Đảng ủy phường trung tâm", &p).await;
        let middle = node(&url, "middle", &w.srv.base_url(), &middle_credential, 0).await;
        let credential = register(&at(&admin, &middle), "bottom", "Đảng ủy xã Bình Minh", &p).await;
        let bottom = node(&url, "bottom", &middle.base_url(), &credential, 0).await;
        // One store, but each node sees the children registered at it.
        let children = |v: &Value| -> Vec<String> {
            v["children"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            children(&admin.get("/api/v1/cascade").await.body),
            ["middle"]
        );
        assert_eq!(
            children(&at(&admin, &middle).get("/api/v1/cascade").await.body),
            ["bottom"]
        );
        let id = live_meeting(&w).await;
        let op = w.as_role("operator").clone();
        let op_token = op.bearer.clone().unwrap();
        let (hub_key, b_key) = (w.endpoint("hub").to_string(), w.endpoint("b").to_string());

        // The hub publishes at the top, commune B at the bottom.
        let hub = room(
            &w.srv.base_url(),
            &id,
            &w.province.endpoint_tokens["hub"],
            "hub",
        )
        .await;
        let b = room(
            &bottom.base_url(),
            &id,
            &w.province.endpoint_tokens["b"],
            "b",
        )
        .await;
        // A second commune at the bottom: a voice that is not on stage.
        let a = room(
            &bottom.base_url(),
            &id,
            &w.province.endpoint_tokens["a"],
            "a",
        )
        .await;
        let hub_tag = hub.publisher().source_tag;
        let b_tag = b.publisher().source_tag;
        let a_tag = a.publisher().source_tag;
        // Watchers: one at each end.
        let (top_view, _) =
            whep_subscriber(&w.srv.base_url(), &id, &op_token, "top viewer", 1, 3, None).await;
        let (bottom_view, _) = whep_subscriber(
            &bottom.base_url(),
            &id,
            &op_token,
            "bottom viewer",
            1,
            1,
            None,
        )
        .await;

        // B, two levels down, is on the top's roll call (through middle).
        b_present_at_the_top(&op, &id, &b_key).await;

        // 1. The top puts the hub on stage: the bottom node's viewer sees it.
        stage(&op, &id, &hub_key).await;
        until("the hub's video at the bottom", &[&bottom_view], || {
            from(&bottom_view, true, hub_tag) > 60
        })
        .await;

        // 2. The top gives B the floor: the top's viewer sees and hears B.
        top_gives_b_the_floor(&op, &id, &b_key, b_tag, &top_view).await;
        // The link carries the loudest voices of its side, not only the
        // stage's: A, also at the bottom, is heard at the top.
        until("A's audio at the top", &[&top_view], || {
            from(&top_view, false, a_tag) > 50
        })
        .await;

        // The middle node's uplink in /metrics: up, carrying media both
        // ways, under its budget.
        let metrics = reqwest::get(format!("{}/metrics", middle.metrics_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let value = |name: &str| -> f64 {
            metrics
                .lines()
                .find(|l| l.starts_with(name) && l.contains(&id))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} for {id} not in /metrics:\n{metrics}"))
        };
        assert_eq!(value("diemcau_relay_link_up{"), 1.0);
        assert_eq!(value("diemcau_relay_link_budget_kbps{"), 4000.0);
        let up_bps = value("diemcau_relay_link_bitrate_bps{meeting=\"");
        assert!(
            up_bps > 50_000.0 && up_bps < 4_400_000.0,
            "uplink {up_bps} bit/s\n{metrics}"
        );

        // The operators' view of the links: the middle's relay link to the
        // top for this meeting, and at the top the middle's relay.
        let view = at(&admin, &middle).get("/api/v1/cascade").await;
        let link = view.body["relay_links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["meeting_id"] == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no relay link for the meeting: {}", view.text));
        assert_eq!(
            (link["up"].clone(), link["budget_kbps"].clone()),
            (json!(true), json!(4000)),
            "{link}"
        );
        let top = admin.get("/api/v1/cascade").await;
        assert!(
            top.body["child_relays"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["meeting_id"] == id.as_str() && r["node_id"] == "middle"),
            "{}",
            top.text
        );

        // A well-behaved relay stays within its budget at the parent.
        let top_metrics = reqwest::get(format!("{}/metrics", w.srv.metrics_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            top_metrics.contains(&format!(
                "diemcau_room_dropped_over_budget_total{{room=\"{id}\"}} 0"
            )),
            "{top_metrics}"
        );

        // 3. The top mutes B's microphone: the bottom node enforces it and
        //    B's audio stops arriving at the top.
        top_mutes_b_and_the_bottom_silences_it(
            &op,
            &at(&op, &bottom),
            &id,
            &b_key,
            b_tag,
            &top_view,
        )
        .await;
        // Its video still does (only the microphone was muted).
        let seen = from(&top_view, true, b_tag);
        until("B's video still at the top", &[&top_view], || {
            from(&top_view, true, b_tag) > seen + 30
        })
        .await;

        // 4. Thumbnails of rooms below go up only while an operator above
        //    watches: none before a console joins at the top; with one, A's
        //    (two levels down, not on stage) reaches its thumbnail slot
        //    under the source id the roll call names; none after it leaves.
        let a_key = w.endpoint("a").to_string();
        wait_row(
            &op,
            &id,
            &a_key,
            "A present at the top, no thumbnail",
            |r| r["connected"] == true && r["thumb_participant"].is_null(),
        )
        .await;
        let mut console = RtcClient::new(ClientConfig {
            name: "Bàn điều hành tỉnh".into(),
            publish: None,
            // The stage, then a thumbnail each: the hub, the middle's relay
            // and the rooms below (as the console page opens them).
            recv_video: 6,
            recv_audio: 1,
            loss: None,
            ..Default::default()
        })
        .await
        .unwrap();
        let (console_ws, _) =
            ws_join_as(&mut console, &w.srv.base_url(), &id, &op_token, "console")
                .await
                .unwrap();
        console.wait_connected(LINK).await.unwrap();
        let mut thumb = 0u64;
        let deadline = Instant::now() + LINK;
        while thumb == 0 {
            let row = roll_call_row(&op, &id, &a_key).await;
            thumb = row["thumb_participant"].as_u64().unwrap_or(0);
            assert!(
                Instant::now() < deadline,
                "A's thumbnail never named at the top: {row}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let slot = console_ws
            .wait_message(0, LINK, |v| {
                v["type"] == "slots"
                    && v["slots"].as_array().is_some_and(|s| {
                        s.iter()
                            .any(|x| x["participant"].as_str().and_then(|p| p.parse().ok()) == Some(thumb)
                                && x["role"] == "thumbnail")
                    })
            })
            .await
            .unwrap_or_else(|| {
                panic!(
                    "no console slot shows A's thumbnail source {thumb} (b {b_tag} a {a_tag} hub {hub_tag}): {:?}\n{}",
                    console_ws
                        .received()
                        .iter()
                        .filter(|m| m["type"] == "slots" || m["type"] == "joined")
                        .map(|m| m["slots"].to_string())
                        .collect::<Vec<_>>(),
                    console.describe()
                )
            });
        eprintln!("relay: A's thumbnail at the top console: {slot}");
        let thumbs_from_a = |c: &RtcClient| -> usize {
            (1..6)
                .filter_map(|i| c.video(i))
                .map(|t| t.packets_from(a_tag))
                .sum()
        };
        until(
            "A's thumbnail video at the top's console",
            &[&console],
            || thumbs_from_a(&console) > 30,
        )
        .await;
        console.close().await;
        drop(console_ws);
        wait_row(
            &op,
            &id,
            &a_key,
            "A's thumbnail stops with the console",
            |r| r["thumb_participant"].is_null(),
        )
        .await;

        // 5. The middle node stops and comes back on the same address: the
        //    tree re-merges by itself — B on the top's roll call again and
        //    its video back at the top within 5 s of the middle's return.
        let middle_port = middle.http.port();
        middle.server.shutdown().await;
        wait_row(
            &op,
            &id,
            &b_key,
            "B gone from the top with the middle node",
            |r| r["connected"] == false,
        )
        .await;
        let middle = node(
            &url,
            "middle",
            &w.srv.base_url(),
            &middle_credential,
            middle_port,
        )
        .await;
        b_back_at_the_top_within_5_s(&op, &id, &b_key, b_tag, &top_view).await;

        for c in [&hub, &a, &b, &top_view, &bottom_view] {
            c.close().await;
        }
        bottom.server.shutdown().await;
        middle.server.shutdown().await;
    }));
}
