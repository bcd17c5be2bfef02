//! What a child node may reach at its parent: only meetings placed on it
//! (by an operator, or because one of the meeting's rooms is bound inside
//! its subtree), presence only for the rooms of its subtree, and the
//! parent itself only over HTTPS with the parent's CA pinned.

use std::time::{Duration, Instant};

use diemcau::control::cascade::Cascade;
use serde_json::{Value, json};
use sqlx::Row;

use crate::relay::{register, relay_call};
use crate::support::api::{ApiWorld, Client, media_probe, world_with};
use crate::support::db::{both_backends, operator, run_sqlite};
use crate::support::metrics::metric;
use crate::support::server::{TestServer, start_with};

/// Plan and open a meeting of the hub and `rooms` (endpoint keys); its id.
async fn open_meeting(w: &ApiWorld, rooms: &[&str]) -> String {
    let op = w.as_role("operator");
    let start = diemcau::store::now_ms() + 600_000;
    let ids: Vec<&str> = rooms.iter().map(|k| w.endpoint(k)).collect();
    let made = op
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ",
                "kind": "giao_ban",
                "starts_at_ms": start,
                "ends_at_ms": start + 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": ids,
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    let r = op
        .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

/// A real relay offer, as a child node makes it.
fn offer() -> String {
    let (_bridge, up_offer, _local) = diemcau::relay::bridge::Bridge::new(Instant::now()).unwrap();
    up_offer
}

/// `cascade.relay_refused` records for `meeting`, as (actor, details).
async fn refusals(store: &diemcau::store::Store, meeting: &str) -> Vec<(String, String)> {
    sqlx::query(
        "SELECT actor_id, details FROM audit_log WHERE action = 'cascade.relay_refused' AND target = $1 ORDER BY seq",
    )
    .bind(format!("meeting:{meeting}"))
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

both_backends! {
    async fn relay_for_a_meeting_not_placed_on_the_child_is_refused_404_like_an_unknown_one_and_audited(db) {
        let store = db.store.clone();
        let w = world_with(db, |c| c.cascade.node_id = Some("top".into())).await;
        let base = w.srv.base_url();
        // Commune A's node, and a node registered without a unit.
        let xa = register(w.admin(), "xa", "Đảng ủy xã An Phú", w.unit("A")).await;
        let made = w
            .admin()
            .post("/api/v1/cascade/nodes", json!({"id": "xn", "name": "Nút chưa gắn đơn vị"}))
            .await;
        assert_eq!(made.status, 201, "{}", made.text);
        let xn = made.body["credential"].as_str().unwrap().to_string();
        // A closed meeting of the hub and ward W only, and one with commune A.
        let closed = open_meeting(&w, &["w"]).await;
        let with_a = open_meeting(&w, &["a"]).await;

        let open = |m: &str| format!("/api/v1/cascade/relay/{m}");
        let body = |node: &str| json!({"node_id": node, "offer": offer()});
        let (status, unknown) = relay_call(&base, &open("mt_khong_co"), &xa, body("xa")).await;
        assert_eq!((status, unknown["error"]["code"].as_str()), (404, Some("unknown_meeting")), "{unknown}");
        let (status, refused) = relay_call(&base, &open(&closed), &xa, body("xa")).await;
        assert_eq!(status, 404, "{refused}");
        // Not revealed: the same answer as for a meeting that does not exist.
        assert_eq!(
            refused["error"]["message"].as_str().unwrap().replace(&closed, "mt_khong_co"),
            unknown["error"]["message"].as_str().unwrap(),
        );
        assert_eq!(refused["error"]["code"], unknown["error"]["code"]);
        // Audited as a refusal by that node, naming the meeting.
        let audited = refusals(&store, &closed).await;
        assert_eq!(audited.len(), 1, "{audited:?}");
        assert_eq!(audited[0].0, "node:xa");
        let details: Value = serde_json::from_str(&audited[0].1).unwrap();
        assert_eq!(details, json!({"reason": "not_placed", "route": "open"}));
        // Asking again is refused again, counted, but not audited again
        // within the minute: a child that keeps asking cannot flood the log.
        let (status, _) = relay_call(&base, &open(&closed), &xa, body("xa")).await;
        assert_eq!(status, 404);
        assert_eq!(refusals(&store, &closed).await.len(), 1);
        assert_eq!(metric(&w.srv.metrics_url(), "diemcau_cascade_relays_refused_total").await, 2.0);
        // Nor may it sync or close a relay there: refused and audited too.
        let (status, answer) = relay_call(
            &base,
            &format!("{}/sync", open(&closed)),
            &xn,
            json!({"node_id": "xn", "participant": 1, "sites": []}),
        )
        .await;
        assert_eq!((status, answer["error"]["code"].as_str()), (404, Some("unknown_relay")), "{answer}");
        let audited = refusals(&store, &closed).await;
        assert_eq!(audited.last().unwrap().0, "node:xn", "{audited:?}");

        // A meeting with a room of A's subtree is placed on A's node.
        let (status, opened) = relay_call(&base, &open(&with_a), &xa, body("xa")).await;
        assert_eq!(status, 201, "{opened}");
        // A node without a unit carries only what an operator placed on it.
        let (status, _) = relay_call(&base, &open(&with_a), &xn, body("xn")).await;
        assert_eq!(status, 404);
        Cascade::new(store.clone())
            .place(&operator(), &with_a, &["xn".into()])
            .await
            .unwrap();
        let (status, opened) = relay_call(&base, &open(&with_a), &xn, body("xn")).await;
        assert_eq!(status, 201, "{opened}");
        // Placed explicitly, the closed meeting opens to A's node too.
        Cascade::new(store.clone())
            .place(&operator(), &closed, &["xa".into()])
            .await
            .unwrap();
        let (status, opened) = relay_call(&base, &open(&closed), &xa, body("xa")).await;
        assert_eq!(status, 201, "{opened}");
    }
}

both_backends! {
    async fn relay_presence_for_rooms_outside_the_childs_subtree_is_ignored(db) {
        let w = world_with(db, |c| c.cascade.node_id = Some("top".into())).await;
        let base = w.srv.base_url();
        let xa = register(w.admin(), "xa", "Đảng ủy xã An Phú", w.unit("A")).await;
        let id = open_meeting(&w, &["a", "b"]).await;
        let (status, opened) = relay_call(
            &base,
            &format!("/api/v1/cascade/relay/{id}"),
            &xa,
            json!({"node_id": "xa", "offer": offer()}),
        )
        .await;
        assert_eq!(status, 201, "{opened}");
        let participant = opened["participant"].as_u64().unwrap();
        // A's node claims its own room, commune B's and the hub.
        let site = |k: &str| json!({"endpoint_id": w.endpoint(k), "name": k});
        let (status, view) = relay_call(
            &base,
            &format!("/api/v1/cascade/relay/{id}/sync"),
            &xa,
            json!({"node_id": "xa", "participant": participant,
                   "sites": [site("a"), site("b"), site("hub")]}),
        )
        .await;
        assert_eq!(status, 200, "{view}");
        let live = w.as_role("operator").get(&format!("/api/v1/meetings/{id}/live")).await;
        assert_eq!(live.status, 200, "{}", live.text);
        let row = |k: &str| {
            live.body["roll_call"]["sites"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["endpoint_id"] == w.endpoint(k))
                .cloned()
                .unwrap_or_else(|| panic!("{k} not on the roll call: {}", live.text))
        };
        assert_eq!((row("a")["connected"].clone(), row("a")["via_node"].clone()), (json!(true), json!("xa")));
        for k in ["b", "hub"] {
            assert_eq!(row(k)["connected"], json!(false), "{k}: {}", row(k));
        }
        assert_eq!(metric(&w.srv.metrics_url(), "diemcau_cascade_presence_ignored_total").await, 2.0);
    }
}

/// A child node `id` under the parent at `parent`, trusting `parent_ca`.
async fn child(
    db_url: &str,
    id: &str,
    parent: &str,
    ca: &std::path::Path,
    credential: &str,
) -> TestServer {
    let (db_url, id, parent, ca, credential) = (
        db_url.to_string(),
        id.to_string(),
        parent.to_string(),
        ca.to_path_buf(),
        credential.to_string(),
    );
    start_with(move |c| {
        c.demo.token = None;
        c.database.url = db_url;
        c.cascade.node_id = Some(id);
        c.cascade.parent = Some(parent);
        c.cascade.parent_ca = Some(ca);
        c.cascade.credential = Some(credential);
    })
    .await
}

/// The child's own view of its parent link.
async fn parent_link(admin: &Client, node: &TestServer) -> Value {
    let c = Client {
        base: node.base_url(),
        ..admin.clone()
    };
    let view = c.get("/api/v1/cascade").await;
    assert_eq!(view.status, 200, "{}", view.text);
    view.body["parent"].clone()
}

#[tokio::test]
async fn cascade_hello_over_https_works_with_the_parents_ca_pinned_and_fails_with_another_ca() {
    run_sqlite(|db| async move {
        let url = db.url.clone();
        let w = world_with(db, |c| {
            c.cascade.node_id = Some("top".into());
            c.http.https_listen = Some("127.0.0.1:0".parse().unwrap());
        })
        .await;
        let https = w.srv.server.https_addr().expect("an https listener");
        let parent = format!("https://127.0.0.1:{}", https.port());
        // The parent's generated CA, as its operator hands it out: /ca.pem.
        let ca_pem = reqwest::get(format!("{}/ca.pem", w.srv.base_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(ca_pem.contains("BEGIN CERTIFICATE"), "{ca_pem}");
        let dir = tempfile::tempdir().unwrap();
        let right = dir.path().join("parent-ca.pem");
        std::fs::write(&right, &ca_pem).unwrap();
        // Another diemcau's CA: a parent that is not ours to trust.
        let other = diemcau::tls::load_or_generate(None, None, &[], &dir.path().join("other"))
            .unwrap()
            .ca_pem
            .unwrap();
        assert_ne!(other, ca_pem);
        let wrong = dir.path().join("other-ca.pem");
        std::fs::write(&wrong, &other).unwrap();

        let xa = register(w.admin(), "xa", "Đảng ủy xã An Phú", w.unit("A")).await;
        let xb = register(w.admin(), "xb", "Đảng ủy xã Bình Minh", w.unit("B")).await;
        let good = child(&url, "xa", &parent, &right, &xa).await;
        let link = parent_link(w.admin(), &good).await;
        assert_eq!(
            (link["state"].as_str(), link["parent_id"].as_str()),
            (Some("up"), Some("top")),
            "{link}"
        );

        // Pinned to the wrong CA, the child refuses the parent's
        // certificate: no hello reaches the parent.
        let bad = child(&url, "xb", &parent, &wrong, &xb).await;
        let link = parent_link(w.admin(), &bad).await;
        assert_eq!(link["state"], "down", "{link}");
        let why = link["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(why.contains("certificate"), "{link}");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let node = w.admin().get("/api/v1/cascade/nodes/xb").await;
            assert_eq!(node.status, 200, "{}", node.text);
            assert!(node.body["last_seen_at_ms"].is_null(), "{}", node.text);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let node = w.admin().get("/api/v1/cascade/nodes/xa").await;
        assert_eq!(node.body["link"]["state"], "up", "{}", node.text);
    })
    .await;
}

#[tokio::test]
async fn a_child_node_admits_only_the_rooms_of_its_own_subtree() {
    run_sqlite(|db| async move {
        let url = db.url.clone();
        let w = world_with(db, |c| c.cascade.node_id = Some("top".into())).await;
        let credential = register(w.admin(), "xa-a", "Nút xã An Phú", w.unit("A")).await;
        let parent = w.srv.base_url();
        let child = start_with(move |c| {
            c.demo.token = None;
            c.database.url = url;
            c.cascade.node_id = Some("xa-a".into());
            c.cascade.parent = Some(parent);
            c.cascade.credential = Some(credential);
        })
        .await;
        let id = open_meeting(&w, &["a", "b"]).await;
        let base = child.base_url();
        // Room B is planned, but belongs to another part of the tree.
        let b = w.province.endpoint_tokens["b"].clone();
        assert_eq!(
            media_probe(&base, "whip", &id, &b).await,
            (403, "wrong_node".into())
        );
        // Room A is this node's.
        let a = w.province.endpoint_tokens["a"].clone();
        assert_eq!(media_probe(&base, "whip", &id, &a).await.0, 400);
        // At the top, B is welcome.
        assert_eq!(media_probe(&w.srv.base_url(), "whip", &id, &b).await.0, 400);
        child.server.shutdown().await;
    })
    .await;
}
