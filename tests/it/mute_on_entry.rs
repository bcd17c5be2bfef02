//! Mute on entry per meeting (issue 21, item 5): by kind unless the plan
//! says otherwise, kept with the meeting, and the rule its live room opens
//! with (an operator changes it live: `live.rs`, `console.rs`).

use serde_json::json;

use crate::support::api::world;
use crate::support::db::both_backends;

both_backends! {
    async fn a_meeting_mutes_rooms_on_entry_by_its_kind_unless_its_plan_says_otherwise(db) {
        let w = world(db).await;
        let op = w.as_role("operator");
        let start = diemcau::store::now_ms() + 3_600_000;
        let plan = |kind: &str, mute: Option<bool>| {
            let mut b = json!({
                "title": "Hội nghị", "kind": kind,
                "starts_at_ms": start, "ends_at_ms": start + 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"), "endpoint_ids": [w.endpoint("a")],
            });
            if let Some(m) = mute {
                b["mute_on_entry"] = json!(m);
            }
            b
        };
        let made = |r: &crate::support::api::Answer| r.body["meetings"][0].clone();
        let bch = made(&op.post("/api/v1/meetings", plan("bch", None)).await);
        assert_eq!(bch["mute_on_entry"], true);
        let briefing = made(&op.post("/api/v1/meetings", plan("giao_ban", None)).await);
        assert_eq!(briefing["mute_on_entry"], false);
        let open_bch = made(&op.post("/api/v1/meetings", plan("bch", Some(false))).await);
        assert_eq!(open_bch["mute_on_entry"], false);
        // A new kind brings its own default unless one is sent.
        let id = briefing["id"].as_str().unwrap();
        let r = op.patch(&format!("/api/v1/meetings/{id}"), json!({"kind": "btv"})).await;
        assert_eq!((r.status.as_u16(), &r.body["mute_on_entry"]), (200, &json!(true)), "{}", r.text);
        let r = op.patch(&format!("/api/v1/meetings/{id}"), json!({"mute_on_entry": false})).await;
        assert_eq!(r.body["mute_on_entry"], false, "{}", r.text);
        assert_eq!(op.get(&format!("/api/v1/meetings/{id}")).await.body["mute_on_entry"], false);
        // The live room opens with the meeting's rule.
        for (m, want) in [(&bch, true), (&open_bch, false)] {
            let id = m["id"].as_str().unwrap();
            assert_eq!(op.post(&format!("/api/v1/meetings/{id}/open"), json!({})).await.status, 200);
            let live = op.get(&format!("/api/v1/meetings/{id}/live")).await;
            assert_eq!(live.body["mute_on_entry"], want, "{}", live.text);
            let a = live.body["roll_call"]["sites"].as_array().unwrap().iter().find(|s| s["endpoint_id"] == w.endpoint("a")).unwrap().clone();
            assert_eq!(a["muted_audio"], want, "a room still to join: {a}");
        }
    }
}
