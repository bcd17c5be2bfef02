//! Meetings end to end over HTTP (SQLite and PostgreSQL): the lifecycle,
//! scoping, the scheduler; the console's session joining the media room.
//! Live control of real rooms is `live_rooms.rs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, world};
use crate::support::db::{both_backends, run_sqlite};
use crate::support::rtc_client::{ClientConfig, RtcClient, WsClient, run_in_loopback_netns};

fn hour_from_now() -> i64 {
    diemcau::store::now_ms() + 3_600_000
}

/// A meeting for the hub, all communes of the province (A, B) and ward W.
pub(crate) async fn plan(w: &ApiWorld) -> Value {
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ 5",
                "kind": "bch",
                "starts_at_ms": hour_from_now(),
                "ends_at_ms": hour_from_now() + 3 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("w")],
                "unit_queries": [{"unit_id": w.unit("P"), "kinds": ["commune"]}],
                "chair_user_id": w.users["chair"],
                "members": [{"user_id": w.users["delegate"], "role": "voting"}],
                "expected_people": 40,
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    made.body["meetings"][0].clone()
}

both_backends! {
    async fn meeting_lifecycle_over_http_refuses_illegal_moves_with_409(db) {
        let w = world(db).await;
        let m = plan(&w).await;
        let id = m["id"].as_str().unwrap();
        assert_eq!(m["state"], "scheduled");
        let op = w.as_role("operator");
        let parts = op.get(&format!("/api/v1/meetings/{id}/participants")).await;
        let eps: Vec<&str> = parts.body["participants"].as_array().unwrap().iter().map(|p| p["endpoint_id"].as_str().unwrap()).collect();
        assert_eq!(eps.len(), 4, "{}", parts.text);
        for k in ["hub", "a", "b", "w"] {
            assert!(eps.contains(&w.endpoint(k)), "{k} in {eps:?}");
        }
        assert!(!eps.contains(&w.endpoint("s")), "the sector is not a commune");

        let r = op.post(&format!("/api/v1/meetings/{id}/start"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "illegal_transition"), "{}", r.text);
        let r = op.post(&format!("/api/v1/meetings/{id}/end"), json!({})).await;
        assert_eq!(r.status, 409);
        let r = op.get(&format!("/api/v1/meetings/{id}/live")).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "meeting_not_open"));
        assert_eq!(op.post(&format!("/api/v1/meetings/{id}/open"), json!({})).await.body["state"], "open");
        assert_eq!(op.post(&format!("/api/v1/meetings/{id}/open"), json!({})).await.status, 409);
        let live = op.get(&format!("/api/v1/meetings/{id}/live")).await;
        assert_eq!(live.status, 200, "{}", live.text);
        assert_eq!(live.body["roll_call"]["sites"].as_array().unwrap().len(), 4);
        assert_eq!(op.post(&format!("/api/v1/meetings/{id}/start"), json!({})).await.body["state"], "live");
        let edit = w.as_role("secretary").patch(&format!("/api/v1/meetings/{id}"), json!({"title": "Đổi tên"})).await;
        assert_eq!((edit.status.as_u16(), edit.code()), (409, "not_editable"), "{}", edit.text);
        assert_eq!(op.post(&format!("/api/v1/meetings/{id}/end"), json!({})).await.body["state"], "ended");
        let cancel = op.post(&format!("/api/v1/meetings/{id}/cancel"), json!({})).await;
        assert_eq!(cancel.status, 409);

        // The calendar file is RFC 5545 with CRLF lines.
        let ics = op.get(&format!("/api/v1/meetings/{id}/ics")).await;
        assert_eq!(ics.status, 200);
        assert!(ics.text.starts_with("BEGIN:VCALENDAR\r\n"), "{}", ics.text);
        assert!(ics.text.contains("UID:"));

        // A room sees the meetings it is in, and nothing of the others.
        let mine = w.as_endpoint("a").get("/api/v1/meetings").await;
        assert_eq!(mine.body["meetings"].as_array().unwrap().len(), 1, "{}", mine.text);
        let not_mine = w.as_endpoint("s").get(&format!("/api/v1/meetings/{id}")).await;
        assert_eq!(not_mine.status, 404);
    }
}

both_backends! {
    async fn sub_operator_plans_only_inside_their_subtree_and_bad_drafts_name_the_field(db) {
        let w = world(db).await;
        let sub = w.as_role("sub_operator");
        let start = hour_from_now();
        let base = json!({
            "title": "Giao ban xã", "kind": "giao_ban",
            "starts_at_ms": start, "ends_at_ms": start + 3_600_000,
        });
        let mut inside = base.clone();
        inside["endpoint_ids"] = json!([w.endpoint("a")]);
        assert_eq!(sub.post("/api/v1/meetings", inside).await.status, 201);
        let mut outside = base.clone();
        outside["endpoint_ids"] = json!([w.endpoint("a"), w.endpoint("b")]);
        let r = sub.post("/api/v1/meetings", outside).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "out_of_scope"));
        let mut bad = base.clone();
        bad["ends_at_ms"] = json!(start - 1);
        let r = w.as_role("operator").post("/api/v1/meetings", bad).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "ends_at_ms"), "{}", r.text);
        let mut bad = base.clone();
        bad["unit_queries"] = json!([{"unit_id": "ou_none"}]);
        let r = w.as_role("operator").post("/api/v1/meetings", bad).await;
        assert_eq!(r.status.as_u16() / 100, 4, "{}", r.text);
        assert!(r.field().starts_with("unit_queries"), "{}", r.text);
    }
}

both_backends! {
    async fn meetings_before_and_after_a_merge_reach_the_rooms_of_their_own_date(db) {
        let w = world(db).await;
        let op = w.as_role("operator");
        // A and B merge into a new commune AB on 2025-07-01 (the 2025 reorganisation).
        let merged = op.post("/api/v1/org/merge", json!({
            "sources": [w.unit("A"), w.unit("B")],
            "into": {"new": {"code": "AB", "name": "Xã An Bình", "kind": "commune", "parent_id": w.unit("P")}},
            "on": "2025-07-01"
        })).await;
        assert_eq!(merged.status, 200, "{}", merged.text);
        let ab = merged.body["id"].as_str().unwrap().to_string();
        // A room registered for the new commune after the merge.
        let new_room = op.post("/api/v1/endpoints", json!({
            "name": "Điểm cầu xã An Bình (mới)", "link": "4g", "unit_id": ab, "bound_from": "2025-07-01"
        })).await;
        assert_eq!(new_room.status, 201, "{}", new_room.text);
        let new_id = new_room.body["endpoint"]["id"].as_str().unwrap().to_string();
        let at = |date: &str| {
            // 08:00 in the province (UTC+7) on `date`.
            let d = diemcau::store::date::parse(date).unwrap();
            let t = d.with_hms(1, 0, 0).unwrap().assume_utc();
            (t.unix_timestamp() * 1000) as i64
        };
        let mut reached = Vec::new();
        for date in ["2025-06-20", "2025-07-10"] {
            let start = at(date);
            let m = op.post("/api/v1/meetings", json!({
                "title": format!("Hội nghị ngày {date}"), "kind": "quan_triet",
                "starts_at_ms": start, "ends_at_ms": start + 2 * 3_600_000,
                "unit_queries": [{"unit_id": w.unit("P"), "kinds": ["commune"]}],
            })).await;
            assert_eq!(m.status, 201, "{}", m.text);
            let id = m.body["meetings"][0]["id"].as_str().unwrap().to_string();
            let p = op.get(&format!("/api/v1/meetings/{id}/participants")).await;
            let mut rows: Vec<(String, String)> = p.body["participants"].as_array().unwrap().iter()
                .map(|r| (r["endpoint_id"].as_str().unwrap().to_string(), r["unit_code"].as_str().unwrap_or("").to_string()))
                .collect();
            rows.sort();
            reached.push(rows);
        }
        let mut before = vec![(w.endpoint("a").to_string(), "A".to_string()), (w.endpoint("b").to_string(), "B".to_string())];
        before.sort();
        assert_eq!(reached[0], before, "before the merge: the two old communes' rooms");
        let mut after = vec![
            (w.endpoint("a").to_string(), "AB".to_string()),
            (w.endpoint("b").to_string(), "AB".to_string()),
            (new_id, "AB".to_string()),
        ];
        after.sort();
        assert_eq!(reached[1], after, "after: the merged commune's rooms, old ones followed the merge");
    }
}

both_backends! {
    async fn a_meeting_opens_by_itself_when_its_lobby_time_comes(db) {
        let w = world(db).await;
        // Starts in ten minutes: inside the default 30-minute lobby lead.
        let start = diemcau::store::now_ms() + 10 * 60_000;
        let m = w.as_role("operator").post("/api/v1/meetings", json!({
            "title": "Giao ban sáng thứ Hai", "kind": "giao_ban",
            "starts_at_ms": start, "ends_at_ms": start + 3_600_000,
            "endpoint_ids": [w.endpoint("a")],
        })).await;
        assert_eq!(m.status, 201, "{}", m.text);
        let id = m.body["meetings"][0]["id"].as_str().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let now = w.as_role("operator").get(&format!("/api/v1/meetings/{id}")).await;
            if now.body["state"] == "open" {
                break;
            }
            assert!(Instant::now() < deadline, "still {} after 15 s", now.body["state"]);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // Its live room is there for rooms to join.
        let live = w.as_role("operator").get(&format!("/api/v1/meetings/{id}/live")).await;
        assert_eq!(live.status, 200, "{}", live.text);
        // The audit log says the scheduler opened it.
        let audit = w.as_role("auditor").get("/api/v1/audit?limit=1000").await;
        let opened = audit.body["records"].as_array().unwrap().iter()
            .any(|r| r["actor_id"] == "system" && r["target"] == format!("meeting:{id}"));
        assert!(opened, "the scheduler's open is audited");
    }
}

/// A console page logged in with its session cookie joins the meeting's
/// media as a console (no API token in the page); without a session, or
/// asking to publish without live-control rights, it is refused.
#[test]
fn rooms_console_session_cookie_joins_the_media_room() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let m = plan(&w).await;
        let id = m["id"].as_str().unwrap().to_string();
        let op = w.as_role("operator").clone();
        assert_eq!(
            op.post(&format!("/api/v1/meetings/{id}/open"), json!({}))
                .await
                .status,
            200
        );
        let base = w.srv.base_url();
        let ws_url = format!("{}/ws", base.replacen("http", "ws", 1));
        let login = |name: &'static str| {
            let base = base.clone();
            async move {
                let r = reqwest::Client::new()
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&json!({"name": name, "password": crate::support::api::PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let cookie = r.headers()["set-cookie"]
                    .to_str()
                    .unwrap()
                    .split(';')
                    .next()
                    .unwrap()
                    .to_string();
                assert!(cookie.starts_with("diemcau_session="), "{cookie}");
                cookie
            }
        };
        let join = |cookie: Option<String>, role: &'static str| {
            let (url, id) = (ws_url.clone(), id.clone());
            async move {
                let headers: Vec<(&str, String)> =
                    cookie.map(|c| ("cookie", c)).into_iter().collect();
                let ws = WsClient::connect_with(&url, &headers).await.unwrap();
                let viewer = RtcClient::new(ClientConfig {
                    name: "Bàn điều hành".into(),
                    publish: None,
                    recv_video: 4,
                    recv_audio: 2,
                    loss: None,
                    ..Default::default()
                })
                .await
                .unwrap();
                let offer = viewer.create_offer().await.unwrap();
                ws.send_json(&json!({"type": "join", "v": 1, "meeting": id, "token": "", "role": role, "offer": offer}))
                    .await
                    .unwrap();
                let reply = ws
                    .wait_message(0, Duration::from_secs(15), |v| {
                        v["type"] == "joined" || v["type"] == "error"
                    })
                    .await
                    .expect("a reply to join");
                (ws, viewer, reply)
            }
        };
        let (_ws, mut viewer, reply) = join(Some(login("test_operator").await), "console").await;
        assert_eq!(reply["type"], "joined", "{reply}");
        viewer
            .set_answer(reply["answer"].as_str().unwrap())
            .await
            .unwrap();
        viewer
            .wait_connected(Duration::from_secs(20))
            .await
            .unwrap();
        let (_, _, reply) = join(None, "console").await;
        assert_eq!(
            (reply["type"].as_str(), reply["code"].as_str()),
            (Some("error"), Some("unauthorized")),
            "{reply}"
        );
        let (_, _, reply) = join(Some(login("test_delegate").await), "room").await;
        assert_eq!(
            (reply["type"].as_str(), reply["code"].as_str()),
            (Some("error"), Some("forbidden")),
            "{reply}"
        );
        viewer.close().await;
    }));
}
