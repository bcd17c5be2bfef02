//! Minutes (biên bản) over real HTTP on SQLite and PostgreSQL: the draft
//! generated from the record (agenda times, floor, published motions,
//! attendance), saving conclusions, finalising, immutability of a final
//! version, and refusals that change nothing.

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, fingerprint, world};
use crate::support::db::{both_backends, operator};

fn hour_from_now() -> i64 {
    diemcau::store::now_ms() + 3_600_000
}

/// A meeting for the hub, the communes and ward W, opened.
async fn open_meeting(w: &ApiWorld) -> String {
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ Tỉnh ủy",
                "kind": "btv",
                "starts_at_ms": hour_from_now(),
                "ends_at_ms": hour_from_now() + 2 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("w")],
                "unit_queries": [{"unit_id": w.unit("P"), "kinds": ["commune"]}],
                "chair_user_id": w.users["chair"],
                "secretary_user_id": w.users["secretary"],
                "members": [{"user_id": w.users["delegate"], "role": "voting"}],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    let r = w
        .as_role("operator")
        .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

/// Run a small meeting: two agenda items advanced, a floor turn, an open
/// motion voted and published, an attendance snapshot.
async fn run_meeting(w: &ApiWorld, id: &str) -> String {
    let sec = w.as_role("secretary");
    let chair = w.as_role("chair");
    for (title, presenter) in [
        ("Khai mạc hội nghị", "Đồng chí Bí thư Tỉnh ủy"),
        ("Thảo luận và biểu quyết", "Các đồng chí Ủy viên"),
    ] {
        let r = sec
            .post(
                &format!("/api/v1/meetings/{id}/agenda"),
                json!({"title": title, "presenter": presenter, "planned_minutes": 15}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    for _ in 0..2 {
        let r = chair
            .post(&format!("/api/v1/meetings/{id}/agenda/next"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    // The floor: granting needs a connected room (WebRTC); the floor
    // timeline is read from the audit records the live endpoints write, so
    // those records are written here as `/live/floor/*` writes them.
    let store = &w.db.store;
    for (action, details) in [
        (
            "live.floor_grant",
            json!({"endpoint_id": w.endpoint("w"), "limit_ms": 120000}),
        ),
        ("live.floor_revoke", json!({})),
    ] {
        let mut tx = store.begin_write().await.unwrap();
        diemcau::store::audit::append(
            &mut tx,
            &operator(),
            action,
            &format!("meeting:{id}"),
            &details,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    let base = format!("/api/v1/meetings/{id}/motions");
    let r = chair
        .post(
            &base,
            json!({"title": "Thông qua Nghị quyết", "mode": "open", "electorate": "delegates"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let m = format!("{base}/{}", r.body["id"].as_str().unwrap());
    assert_eq!(
        chair.post(&format!("{m}/open"), json!({})).await.status,
        200
    );
    let r = w
        .as_role("delegate")
        .post(&format!("{m}/vote"), json!({"option": 0}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        chair.post(&format!("{m}/close"), json!({})).await.status,
        200
    );
    // A second motion stays unpublished: it must not reach the minutes.
    let r = chair
        .post(
            &base,
            json!({"title": "Chưa công bố", "mode": "open", "electorate": "delegates"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        chair.post(&format!("{m}/publish"), json!({})).await.status,
        200
    );

    let r = sec
        .post(
            &format!("/api/v1/meetings/{id}/minutes/attendance"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    m
}

both_backends! {
    async fn minutes_draft_save_finalise_and_versions(db) {
        let w = world(db).await;
        let id = open_meeting(&w).await;
        run_meeting(&w, &id).await;
        let path = format!("/api/v1/meetings/{id}/minutes");
        let sec = w.as_role("secretary");

        // The draft generated from the record.
        let r = w.as_role("delegate").get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "generated");
        assert_eq!(r.body["version"], Value::Null);
        let d = &r.body["minutes"];
        assert_eq!(d["header"]["title"], "Hội nghị Ban Thường vụ Tỉnh ủy");
        assert_eq!(d["header"]["kind_label"], "Hội nghị Ban Thường vụ");
        assert!(d["header"]["chair"].is_string(), "{}", r.text);
        assert!(d["header"]["secretary"].is_string(), "{}", r.text);
        let agenda = d["agenda"].as_array().unwrap();
        assert_eq!(agenda.len(), 2);
        // The first item ran and ended; the second is current.
        assert_eq!(agenda[0]["periods"].as_array().unwrap().len(), 1, "{}", r.text);
        assert!(agenda[0]["periods"][0]["ended_at_ms"].is_i64(), "{}", r.text);
        assert!(agenda[1]["periods"][0]["started_at_ms"].is_i64(), "{}", r.text);
        let floor = d["floor"].as_array().unwrap();
        assert_eq!(floor.len(), 1, "{}", r.text);
        assert_eq!(floor[0]["endpoint_id"], w.endpoint("w"));
        assert_ne!(floor[0]["name"], w.endpoint("w"), "the room's name: {}", r.text);
        assert!(floor[0]["spoke_for_ms"].as_i64().unwrap() >= 0);
        let motions = d["motions"].as_array().unwrap();
        assert_eq!(motions.len(), 1, "only published motions: {}", r.text);
        assert_eq!(motions[0]["title"], "Thông qua Nghị quyết");
        assert_eq!(motions[0]["options"][0]["votes"], 1, "{}", r.text);
        assert_eq!(motions[0]["total_votes"], 1);
        let att = &d["attendance"];
        assert!(att["quorum"]["met"].is_boolean(), "{}", r.text);
        assert!(!att["sites"].as_array().unwrap().is_empty(), "{}", r.text);
        assert_eq!(d["conclusions"], "");

        // A delegate cannot write; bad bodies name the field; nothing changes.
        let before = fingerprint(&w.db.store).await;
        let r = w.as_role("delegate").call(reqwest::Method::PUT, &path, Some(&json!({"conclusions": "x"}))).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = w.as_role("delegate").post(&format!("{path}/finalise"), json!({})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = sec.call(reqwest::Method::PUT, &path, Some(&json!({"conclusions": 5}))).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "conclusions"), "{}", r.text);
        let long = "a".repeat(50_001);
        let r = sec.call(reqwest::Method::PUT, &path, Some(&json!({"conclusions": long}))).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "conclusions"), "{}", r.text);
        let r = sec.call(reqwest::Method::PUT, &path, Some(&json!({"conclusions": "x", "item_summaries": {"nope": "y"}}))).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "item_summaries.nope"), "{}", r.text);
        let r = sec.call(reqwest::Method::PUT, &path, Some(&json!({"notes": "x"}))).await;
        assert_eq!(r.status, 422, "{}", r.text);
        let r = w.as_role("delegate").post(&format!("{path}/attendance"), json!({})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = sec.post(&format!("{path}/finalise"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "nothing_saved"), "{}", r.text);
        assert_eq!(fingerprint(&w.db.store).await, before);

        // Save, save again (same draft version), finalise.
        let r = sec.call(reqwest::Method::PUT, &path, Some(&json!({"conclusions": "Hội nghị thống nhất"}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["version"].as_u64(), r.body["status"].as_str()), (Some(1), Some("draft")));
        let item = agenda[1]["item_id"].as_str().unwrap();
        let r = sec.call(reqwest::Method::PUT, &path, Some(&json!({
            "conclusions": "Hội nghị thống nhất thông qua Nghị quyết.",
            "notes": "Hội nghị khai mạc lúc 8 giờ.",
            "item_summaries": {item: "Các đại biểu thảo luận sôi nổi."},
        }))).await;
        assert_eq!((r.body["version"].as_u64(), r.body["status"].as_str()), (Some(1), Some("draft")), "{}", r.text);
        assert_eq!(r.body["minutes"]["agenda"][1]["summary"], "Các đại biểu thảo luận sôi nổi.");
        assert_eq!(r.body["minutes"]["notes"], "Hội nghị khai mạc lúc 8 giờ.");
        let r = sec.post(&format!("{path}/finalise"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "final");
        let v1 = r.body.clone();
        let sha1 = v1["sha256"].as_str().unwrap().to_string();
        assert_eq!(sha1.len(), 64);
        let r = sec.post(&format!("{path}/finalise"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "already_final"), "{}", r.text);

        let r = w.as_role("auditor").get(&path).await;
        assert_eq!(r.body["minutes"]["conclusions"], "Hội nghị thống nhất thông qua Nghị quyết.");
        assert_eq!(r.body["version"], 1);

        // A later change is version 2; version 1 stays as it was.
        let r = sec.call(reqwest::Method::PUT, &path, Some(&json!({"conclusions": "Sửa đổi"}))).await;
        assert_eq!((r.body["version"].as_u64(), r.body["status"].as_str()), (Some(2), Some("draft")), "{}", r.text);
        let r = w.as_role("delegate").get(&format!("{path}/versions/1")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["sha256"], sha1.as_str());
        assert_eq!(r.body["minutes"], v1["minutes"]);
        assert_eq!(r.body["status"], "final");
        // The stored body still hashes to its SHA-256.
        let body: String = sqlx::query_scalar(
            "SELECT body FROM minutes_versions WHERE meeting_id = $1 AND version = 1",
        )
        .bind(&id)
        .fetch_one(w.db.store.pool())
        .await
        .unwrap();
        assert_eq!(diemcau::control::minutes::sha256_hex(&body), sha1);
        let r = w.as_role("delegate").get(&format!("{path}/versions")).await;
        let vs = r.body["versions"].as_array().unwrap();
        assert_eq!(vs.len(), 2, "{}", r.text);
        assert_eq!((vs[0]["status"].as_str(), vs[1]["status"].as_str()), (Some("final"), Some("draft")));
        let r = w.as_role("delegate").get(&format!("{path}/versions/9")).await;
        assert_eq!(r.status, 404, "{}", r.text);

        // Export formats.
        assert_eq!(w.as_role("delegate").get(&format!("{path}?format=json")).await.status, 200);
        let r = w.as_role("delegate").get(&format!("{path}?format=xml")).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "format"), "{}", r.text);
        for url in [format!("{path}?format=pdf"), format!("{path}/versions/1?format=pdf")] {
            let c = w.as_role("delegate");
            let r = c.http.get(format!("{}{url}", c.base)).bearer_auth(c.bearer.as_ref().unwrap()).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "application/pdf");
            let bytes = r.bytes().await.unwrap();
            let text = crate::documents::pdf_text(&bytes);
            for want in ["BIÊN BẢN", "ĐIỂM DANH", "KẾT LUẬN", "Trang 1/"] {
                assert!(text.contains(want), "{want} in {url}: {text}");
            }
        }

        // Every change is audited.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE target = $1")
            .bind(format!("minutes:{id}"))
            .fetch_one(w.db.store.pool())
            .await
            .unwrap();
        assert_eq!(n, 5, "attendance, 2 saves, finalise, save");
    }
}
