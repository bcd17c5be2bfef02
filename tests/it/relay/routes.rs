//! The relay routes refuse a wrong node, a closed meeting, a bad offer and a
//! foreign relay, changing nothing.

use super::*;

crate::support::db::both_backends! {
    async fn relay_routes_refuse_a_wrong_node_a_closed_meeting_a_bad_offer_and_a_foreign_relay_changing_nothing(db) {
        let store = db.store.clone();
        let w = world_with(db, |c| {
            c.cascade.node_id = Some("top".into());
        })
        .await;
        let base = w.srv.base_url();
        let credential = register(w.admin(), "xa", "Đảng ủy xã An Phú", w.unit("A")).await;
        let start = diemcau::store::now_ms() + 3_600_000;
        let made = w
            .as_role("operator")
            .post(
                "/api/v1/meetings",
                json!({
                    "title": "Giao ban trực tuyến",
                    "kind": "giao_ban",
                    "starts_at_ms": start,
                    "ends_at_ms": start + 3_600_000,
                    "hub_endpoint_id": w.endpoint("hub"),
                    "endpoint_ids": [w.endpoint("a")],
                }),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.text);
        let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
        let open = format!("/api/v1/cascade/relay/{id}");
        let offer = json!({"node_id": "xa", "offer": "v=0\r\n"});

        // A wrong credential, a person's token, another node's id: 401,
        // and the refusal with a node's form is audited.
        let (status, body) = relay_call(&base, &open, "dcn_not-the-credential", offer.clone()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("node_unauthorized")), "{body}");
        let audited: String = sqlx::query("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(audited, "cascade.auth_failed");
        let person = w.as_role("operator").bearer.clone().unwrap();
        let (status, _) = relay_call(&base, &open, &person, offer.clone()).await;
        assert_eq!(status, 401);
        let (status, _) = relay_call(&base, &open, &credential, json!({"node_id": "xb", "offer": "v=0\r\n"})).await;
        assert_eq!(status, 401);

        // The right node, but nothing it asks can be done: refused with
        // the field or the reason, and nothing changes.
        let before = fingerprint(&store).await;
        let (status, body) = relay_call(&base, &open, &credential, offer.clone()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("meeting_not_open")), "{body}");
        let r = w
            .as_role("operator")
            .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let before_open = fingerprint(&store).await;
        for (body, field) in [
            (json!({"node_id": "xa", "offer": "hello"}), "offer"),
            (json!({"node_id": "xa", "offer": "v=0\r\n", "budget_kbps": 10}), "budget_kbps"),
        ] {
            let (status, answer) = relay_call(&base, &open, &credential, body).await;
            assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{answer}");
        }
        let (status, answer) = relay_call(&base, &open, &credential, json!({"node_id": "xa", "offer": "v=0\r\nnot an offer\r\n"})).await;
        assert!((400..500).contains(&status), "{status} {answer}");
        let sync = format!("/api/v1/cascade/relay/{id}/sync");
        let (status, answer) = relay_call(&base, &sync, &credential, json!({"node_id": "xa", "participant": 424242, "sites": []})).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (404, Some("unknown_relay")), "{answer}");
        let many: Vec<Value> = (0..5001).map(|i| json!({"endpoint_id": format!("ep_{i}"), "name": "x"})).collect();
        let (status, answer) = relay_call(&base, &sync, &credential, json!({"node_id": "xa", "participant": 1, "sites": many})).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some("sites")), "{answer}");
        let (status, answer) = relay_call(&base, &format!("{sync}x"), &credential, json!({})).await;
        assert!((400..500).contains(&status), "{status} {answer}");
        let leave = format!("/api/v1/cascade/relay/{id}/leave");
        let (status, _) = relay_call(&base, &leave, &credential, json!({"node_id": "xa", "participant": 424242})).await;
        assert_eq!(status, 404);
        assert_eq!(fingerprint(&store).await, before_open);
        assert_ne!(before, before_open, "opening the meeting is a change of its own");
        let live = w.as_role("operator").get(&format!("/api/v1/meetings/{id}/live")).await;
        assert_eq!(live.status, 200, "{}", live.text);
        assert!(live.body["roll_call"]["sites"].as_array().unwrap().iter().all(|s| s["connected"] == false), "{}", live.text);
    }
}
