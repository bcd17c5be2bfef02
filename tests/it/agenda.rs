//! Agenda, current item and page-sync presentation over real HTTP (SQLite
//! and PostgreSQL): building and reordering an agenda, refusals that change
//! nothing, the timeline walked with `next`, and the console's event stream
//! seeing `agenda_current` and `presentation` within a second.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, fingerprint, world};
use crate::support::db::both_backends;
use crate::support::rtc_client::WsClient;

fn hour_from_now() -> i64 {
    diemcau::store::now_ms() + 3_600_000
}

/// A meeting for the hub and the communes A and B, chaired by the fixture's chair.
async fn plan(w: &ApiWorld) -> String {
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ Tỉnh ủy tháng 11",
                "kind": "btv",
                "starts_at_ms": hour_from_now(),
                "ends_at_ms": hour_from_now() + 3 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a"), w.endpoint("b")],
                "chair_user_id": w.users["chair"],
                "members": [{"user_id": w.users["delegate"], "role": "voting"}],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    made.body["meetings"][0]["id"].as_str().unwrap().to_string()
}

const ITEMS: [(&str, &str, u32); 4] = [
    ("Khai mạc hội nghị", "Đồng chí Bí thư Tỉnh ủy", 10),
    (
        "Báo cáo tình hình kinh tế - xã hội 10 tháng năm 2025",
        "Đồng chí Chủ tịch UBND tỉnh",
        45,
    ),
    (
        "Thảo luận về công tác xây dựng Đảng",
        "Các đồng chí Ủy viên Ban Thường vụ",
        60,
    ),
    ("Bế mạc hội nghị", "Đồng chí Bí thư Tỉnh ủy", 5),
];

/// Add the four items as the secretary; their ids in order.
async fn build(w: &ApiWorld, id: &str) -> Vec<String> {
    let sec = w.as_role("secretary");
    let mut ids = Vec::new();
    for (i, (title, presenter, minutes)) in ITEMS.iter().enumerate() {
        let r = sec
            .post(
                &format!("/api/v1/meetings/{id}/agenda"),
                json!({"title": title, "presenter": presenter, "planned_minutes": minutes,
                       "notes": "Tài liệu kèm theo"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["position"], i + 1);
        assert_eq!(r.body["title"], *title);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    ids
}

fn ids_of(agenda: &Value) -> Vec<String> {
    agenda["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

both_backends! {
    async fn agenda_is_built_reordered_and_refusals_change_nothing(db) {
        let w = world(db).await;
        let id = plan(&w).await;
        let ids = build(&w, &id).await;
        let sec = w.as_role("secretary");
        let path = format!("/api/v1/meetings/{id}/agenda");

        let got = sec.get(&path).await;
        assert_eq!(got.status, 200, "{}", got.text);
        assert_eq!(ids_of(&got.body), ids);
        assert_eq!(got.body["current"], Value::Null);

        // Reorder: the discussion before the report.
        let order = vec![ids[0].clone(), ids[2].clone(), ids[1].clone(), ids[3].clone()];
        let r = sec.post(&format!("{path}/order"), json!({"order": order})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(ids_of(&r.body), order);
        let positions: Vec<u64> = r.body["items"].as_array().unwrap().iter().map(|i| i["position"].as_u64().unwrap()).collect();
        assert_eq!(positions, [1, 2, 3, 4]);

        // Not a permutation: refused naming `order`, nothing changed.
        let before = fingerprint(&w.db.store).await;
        for bad in [
            json!([ids[0], ids[1], ids[2]]),
            json!([ids[0], ids[0], ids[1], ids[2]]),
            json!([ids[0], ids[1], ids[2], ids[3], "ag_none"]),
            json!([ids[0], ids[1], ids[2], "ag_none"]),
        ] {
            let r = sec.post(&format!("{path}/order"), json!({"order": bad})).await;
            assert_eq!((r.status.as_u16(), r.field()), (422, "order"), "{}", r.text);
        }
        // Bad drafts name their field.
        for (body, field) in [
            (json!({"title": "  ", "planned_minutes": 5}), "title"),
            (json!({"title": "x".repeat(501), "planned_minutes": 5}), "title"),
            (json!({"title": "Bầu cử", "planned_minutes": 0}), "planned_minutes"),
            (json!({"title": "Bầu cử", "planned_minutes": 601}), "planned_minutes"),
            (json!({"title": "Bầu cử", "planned_minutes": 5, "presenter": "p".repeat(201)}), "presenter"),
            (json!({"title": "Bầu cử", "planned_minutes": 5, "presenter_user_id": "u_none"}), "presenter_user_id"),
        ] {
            let r = sec.post(&path, body).await;
            assert_eq!((r.status.as_u16(), r.field()), (422, field), "{}", r.text);
        }
        // A delegate reads but cannot change the agenda; an auditor neither.
        let del = w.as_role("delegate");
        assert_eq!(del.get(&path).await.status, 200);
        let r = del.post(&path, json!({"title": "Chen ngang", "planned_minutes": 5})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(del.post(&format!("{path}/order"), json!({"order": order})).await.status, 403);
        assert_eq!(del.delete(&format!("{path}/{}", ids[0])).await.status, 403);
        assert_eq!(w.as_role("auditor").patch(&format!("{path}/{}", ids[0]), json!({"title": "x"})).await.status, 403);
        // Unknown item: 404.
        let r = sec.patch(&format!("{path}/ag_none"), json!({"title": "x"})).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "unknown_item"), "{}", r.text);
        // The current item and the presentation need an open meeting.
        let r = sec.post(&format!("{path}/current"), json!({"item_id": ids[0]})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "meeting_not_open"), "{}", r.text);
        let r = sec.post(&format!("/api/v1/meetings/{id}/presentation"), json!({"document_id": "doc_1", "page": 1})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "meeting_not_open"), "{}", r.text);
        assert_eq!(fingerprint(&w.db.store).await, before);

        // Edit: only the fields sent change.
        let r = sec.patch(&format!("{path}/{}", ids[1]), json!({"planned_minutes": 30, "presenter_user_id": w.users["chair"]})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["planned_minutes"], 30);
        assert_eq!(r.body["title"], ITEMS[1].0);
        assert_eq!(r.body["presenter_user_id"], w.users["chair"].as_str());

        // Delete: the later items move up.
        let r = sec.delete(&format!("{path}/{}", ids[2])).await;
        assert_eq!(r.status, 204, "{}", r.text);
        let got = sec.get(&path).await;
        assert_eq!(ids_of(&got.body), vec![ids[0].clone(), ids[1].clone(), ids[3].clone()]);
        let positions: Vec<u64> = got.body["items"].as_array().unwrap().iter().map(|i| i["position"].as_u64().unwrap()).collect();
        assert_eq!(positions, [1, 2, 3]);

        // Every change is in the audit log.
        let audit = w.admin().get("/api/v1/audit?limit=500").await;
        let text = audit.text;
        for action in ["agenda.create", "agenda.reorder", "agenda.update", "agenda.delete"] {
            assert!(text.contains(action), "{action} audited");
        }

        // A cancelled meeting's agenda is final.
        assert_eq!(sec.post(&format!("/api/v1/meetings/{id}/cancel"), json!({})).await.status, 200);
        let r = sec.post(&path, json!({"title": "Muộn", "planned_minutes": 5})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "not_editable"), "{}", r.text);
    }
}

/// The console's event stream, as the operator.
async fn console(w: &ApiWorld, id: &str) -> WsClient {
    let url = format!(
        "{}/api/v1/meetings/{id}/live/events",
        w.srv.base_url().replacen("http", "ws", 1)
    );
    WsClient::connect_url(&url, w.as_role("operator").bearer.as_deref())
        .await
        .expect("console connects")
}

async fn event(c: &WsClient, from: usize, ty: &str, within: Duration) -> Value {
    c.wait_type(from, ty, within)
        .await
        .unwrap_or_else(|| panic!("no {ty} event within {within:?}; got {:?}", c.received()))
}

both_backends! {
    async fn agenda_current_and_presentation_reach_the_console_and_rooms(db) {
        let w = world(db).await;
        let id = plan(&w).await;
        let ids = build(&w, &id).await;
        let op = w.as_role("operator");
        let chair = w.as_role("chair");
        let path = format!("/api/v1/meetings/{id}/agenda");
        assert_eq!(op.post(&format!("/api/v1/meetings/{id}/open"), json!({})).await.status, 200);
        let c = console(&w, &id).await;
        event(&c, 0, "snapshot", Duration::from_secs(2)).await;
        let second = Duration::from_secs(1);

        // The chair takes up the second item.
        let n = c.count();
        let r = chair.post(&format!("{path}/current"), json!({"item_id": ids[1]})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["current"]["item_id"], ids[1].as_str());
        let ev = event(&c, n, "agenda_current", second).await;
        assert_eq!(ev["item_id"], ids[1].as_str());
        assert_eq!(ev["title"], ITEMS[1].0);
        assert_eq!(ev["position"], 2);
        assert!(ev["seq"].is_u64());

        // Page-sync: a few bytes to every room.
        let n = c.count();
        let r = chair.post(&format!("/api/v1/meetings/{id}/presentation"), json!({"document_id": "doc_bao_cao", "page": 7})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let ev = event(&c, n, "presentation", second).await;
        assert_eq!((ev["document_id"].as_str(), ev["page"].as_u64(), ev["by"].as_str()), (Some("doc_bao_cao"), Some(7), Some("test_chair")));
        // Bad pages name the field and change nothing.
        let before = fingerprint(&w.db.store).await;
        for (body, field) in [
            (json!({"document_id": "", "page": 1}), "document_id"),
            (json!({"document_id": "d".repeat(101), "page": 1}), "document_id"),
            (json!({"document_id": "doc", "page": 0}), "page"),
            (json!({"document_id": "doc", "page": 100_001}), "page"),
        ] {
            let r = op.post(&format!("/api/v1/meetings/{id}/presentation"), body).await;
            assert_eq!((r.status.as_u16(), r.field()), (422, field), "{}", r.text);
        }
        // A delegate can neither present nor move the agenda.
        let del = w.as_role("delegate");
        assert_eq!(del.post(&format!("/api/v1/meetings/{id}/presentation"), json!({"document_id": "x", "page": 1})).await.status, 403);
        assert_eq!(del.post(&format!("{path}/next"), json!({})).await.status, 403);
        assert_eq!(del.post(&format!("{path}/current"), json!({"item_id": ids[0]})).await.status, 403);
        // A room cannot either.
        assert_eq!(w.as_endpoint("a").post(&format!("{path}/next"), json!({})).await.status, 403);
        assert_eq!(fingerprint(&w.db.store).await, before);

        // A room (reconnecting, say) reads the agenda and the current page.
        let room = w.as_endpoint("a");
        let p = room.get(&format!("/api/v1/meetings/{id}/presentation")).await;
        assert_eq!(p.status, 200, "{}", p.text);
        assert_eq!(p.body["presentation"]["document_id"], "doc_bao_cao");
        assert_eq!(p.body["presentation"]["page"], 7);
        let a = room.get(&path).await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(ids_of(&a.body), ids);
        assert_eq!(a.body["current"]["item_id"], ids[1].as_str());
        // A room outside the meeting sees nothing of it.
        assert_eq!(w.as_endpoint("s").get(&path).await.status, 404);

        // `next` walks the rest of the agenda; the timeline records it.
        assert_eq!(op.post(&format!("/api/v1/meetings/{id}/start"), json!({})).await.status, 200);
        for k in [2, 3] {
            let n = c.count();
            let r = op.post(&format!("{path}/next"), json!({})).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["current"]["item_id"], ids[k].as_str());
            let ev = event(&c, n, "agenda_current", second).await;
            assert_eq!(ev["position"], k + 1);
        }
        // After the last item, `next` ends it; once more is a conflict.
        let r = op.post(&format!("{path}/next"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["current"], Value::Null);
        let r = op.post(&format!("{path}/next"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "agenda_finished"), "{}", r.text);
        let got = op.get(&path).await;
        let timeline = got.body["timeline"].as_array().unwrap().clone();
        let walked: Vec<&str> = timeline.iter().map(|t| t["item_id"].as_str().unwrap()).collect();
        assert_eq!(walked, [ids[1].as_str(), ids[2].as_str(), ids[3].as_str()]);
        for (i, t) in timeline.iter().enumerate() {
            let start = t["started_at_ms"].as_i64().unwrap();
            let end = t["ended_at_ms"].as_i64().expect("every item ended");
            assert!(start <= end, "{t}");
            if i > 0 {
                assert_eq!(timeline[i - 1]["ended_at_ms"].as_i64().unwrap(), start, "one ends as the next starts");
            }
        }
        // An item taken up stays in the timeline: it cannot be deleted.
        let r = w.as_role("secretary").delete(&format!("{path}/{}", ids[1])).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "item_in_timeline"), "{}", r.text);

        // Stopping the presentation tells every room too.
        let n = c.count();
        let r = op.delete(&format!("/api/v1/meetings/{id}/presentation")).await;
        assert_eq!(r.status, 204, "{}", r.text);
        let ev = event(&c, n, "presentation", second).await;
        assert_eq!(ev["document_id"], Value::Null);
        assert_eq!(room.get(&format!("/api/v1/meetings/{id}/presentation")).await.body["presentation"], Value::Null);

        // Agenda edits are announced with the full list.
        let n = c.count();
        let r = w.as_role("secretary").post(&path, json!({"title": "Kiến nghị, đề xuất", "planned_minutes": 15})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let ev = event(&c, n, "agenda_changed", second).await;
        assert_eq!(ev["items"].as_array().unwrap().len(), 5);
    }
}

both_backends! {
    async fn agenda_present_is_only_for_this_meetings_chair(db) {
        let w = world(db).await;
        // A meeting without a chair: the chair role, invited to it, may
        // not present in it.
        let made = w.as_role("secretary").post("/api/v1/meetings", json!({
            "title": "Giao ban khối Đảng", "kind": "giao_ban",
            "starts_at_ms": hour_from_now(), "ends_at_ms": hour_from_now() + 3_600_000,
            "endpoint_ids": [w.endpoint("a")],
            "members": [{"user_id": w.users["chair"], "role": "invited"}],
        })).await;
        assert_eq!(made.status, 201, "{}", made.text);
        let id = made.body["meetings"][0]["id"].as_str().unwrap();
        assert_eq!(w.as_role("operator").post(&format!("/api/v1/meetings/{id}/open"), json!({})).await.status, 200);
        let r = w.as_role("chair").post(&format!("/api/v1/meetings/{id}/presentation"), json!({"document_id": "doc", "page": 1})).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "not_the_chair"), "{}", r.text);
        let r = w.as_role("secretary").post(&format!("/api/v1/meetings/{id}/presentation"), json!({"document_id": "doc", "page": 2})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = w.as_role("operator").post(&format!("/api/v1/meetings/{id}/agenda/next"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "agenda_empty"), "{}", r.text);

        // The item current when the meeting ends ends with it.
        let path = format!("/api/v1/meetings/{id}/agenda");
        let sec = w.as_role("secretary");
        let item = sec.post(&path, json!({"title": "Tổng kết", "planned_minutes": 20})).await;
        assert_eq!(item.status, 201, "{}", item.text);
        let r = sec.post(&format!("{path}/current"), json!({"item_id": item.body["id"]})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let op = w.as_role("operator");
        assert_eq!(op.post(&format!("/api/v1/meetings/{id}/start"), json!({})).await.status, 200);
        let ended = op.post(&format!("/api/v1/meetings/{id}/end"), json!({})).await;
        assert_eq!(ended.status, 200, "{}", ended.text);
        let got = op.get(&path).await;
        assert_eq!(got.body["current"], Value::Null, "{}", got.text);
        assert_eq!(got.body["timeline"][0]["ended_at_ms"], ended.body["ended_at_ms"], "{}", got.text);
        let r = sec.patch(&format!("{path}/{}", item.body["id"].as_str().unwrap()), json!({"title": "Muộn"})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "not_editable"), "{}", r.text);
    }
}
