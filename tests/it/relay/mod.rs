//! One logical meeting across three diemcau nodes (top ← middle ← bottom)
//! sharing one store: webrtc-rs rooms on the top and the bottom node, the
//! relay links between the nodes carrying the stage both ways, the top's
//! operator reaching a room two levels down, and the tree re-merging by
//! itself after the middle node restarts.
//!
//! The in-process nodes share a SQLite file (WAL: several pools on one
//! file); the three-process test shares the real PostgreSQL, reached from
//! inside the test's loopback-only namespace through a [`PgBridge`].
//!
//! One file per scenario: `tree` (three nodes in one process), `processes`
//! (three `diemcau serve` processes on PostgreSQL), `routes` (bad relay
//! calls); the steps they share are here.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use sqlx::Row;

use crate::support::api::{ApiWorld, Client, fingerprint, world_with};
use crate::support::db::{PgBridge, run_postgres_at, run_sqlite};
use crate::support::rtc_client::{
    ClientConfig, PublishConfig, RtcClient, run_in_loopback_netns, whep_subscriber, whip_publisher,
    ws_join_as,
};
use crate::support::server::{TestServer, free_tcp_port, start_with};

mod processes;
mod routes;
mod tree;

/// How long a relay link may take to form (two ICE/DTLS handshakes and a
/// supervisor pass) or a change to cross two levels.
const LINK: Duration = Duration::from_secs(20);

/// A node below `parent` on the same store, listening on `http` (0: any).
async fn node(
    db_url: &str,
    id: &str,
    parent: &str,
    credential: &str,
    http_port: u16,
) -> TestServer {
    let (db_url, id, parent, credential) = (
        db_url.to_string(),
        id.to_string(),
        parent.to_string(),
        credential.to_string(),
    );
    start_with(move |c| {
        c.demo.token = None;
        c.database.url = db_url;
        c.http.http_listen = Some(format!("127.0.0.1:{http_port}").parse().unwrap());
        c.cascade.node_id = Some(id);
        c.cascade.parent = Some(parent);
        c.cascade.credential = Some(credential);
        c.cascade.uplink_kbps = 4000;
    })
    .await
}

/// The admin's API client, pointed at another node (the store is shared,
/// so the same token works there).
fn at(c: &Client, srv: &TestServer) -> Client {
    Client {
        base: srv.base_url(),
        ..c.clone()
    }
}

/// Register child node `id` serving `unit` (its subtree: the meetings it
/// carries, the rooms it speaks for); its credential.
pub(crate) async fn register(admin: &Client, id: &str, name: &str, unit: &str) -> String {
    let made = admin
        .post(
            "/api/v1/cascade/nodes",
            json!({"id": id, "name": name, "unit_id": unit}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    made.body["credential"].as_str().unwrap().to_string()
}

/// A live meeting with the hub and communes A and B.
pub(crate) async fn live_meeting(w: &ApiWorld) -> String {
    start_meeting(
        w.as_role("operator"),
        w.endpoint("hub"),
        &[w.endpoint("a"), w.endpoint("b")],
    )
    .await
}

/// Schedule, open and start a meeting of `hub` and `others` as `op`.
async fn start_meeting(op: &Client, hub: &str, others: &[&str]) -> String {
    let start = diemcau::store::now_ms() + 60_000;
    let made = op
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị trực tuyến toàn tỉnh (liên kết tầng)",
                "kind": "giao_ban",
                "starts_at_ms": start,
                "ends_at_ms": start + 3_600_000,
                "hub_endpoint_id": hub,
                "endpoint_ids": others,
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    for step in ["open", "start"] {
        let r = op
            .post(&format!("/api/v1/meetings/{id}/{step}"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{step}: {}", r.text);
    }
    id
}

/// Packets of `tag`'s media on the stage (video) or on any audio slot.
fn from(c: &RtcClient, video: bool, tag: u32) -> usize {
    if video {
        c.video(0).map(|t| t.packets_from(tag)).unwrap_or(0)
    } else {
        c.audio_tracks().iter().map(|t| t.packets_from(tag)).sum()
    }
}

/// Wait until `cond` holds, else fail naming `what` and the clients.
async fn until(what: &str, clients: &[&RtcClient], mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + LINK;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen: Vec<String> = clients.iter().map(|c| c.describe()).collect();
    panic!("{what}: not within {LINK:?}\n{}", seen.join("\n"));
}

async fn roll_call_row(c: &Client, meeting: &str, key: &str) -> Value {
    let live = c.get(&format!("/api/v1/meetings/{meeting}/live")).await;
    assert_eq!(live.status, 200, "{}", live.text);
    live.body["roll_call"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["endpoint_id"] == key)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn wait_row(
    c: &Client,
    meeting: &str,
    key: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + LINK;
    loop {
        let row = roll_call_row(c, meeting, key).await;
        if check(&row) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {row}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A room publishing (WHIP, default camera and microphone) at `base`.
async fn room(base: &str, id: &str, token: &str, name: &str) -> RtcClient {
    whip_publisher(base, id, token, name, PublishConfig::default())
        .await
        .0
}

/// An operator action that must succeed.
async fn act(op: &Client, path: &str, body: Value) {
    let r = op.post(path, body).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
}

/// B, two levels down, is on the top's roll call (through the middle).
async fn b_present_at_the_top(op: &Client, id: &str, b_key: &str) {
    wait_row(op, id, b_key, "B present at the top", |r| {
        r["connected"] == true && r["via_node"] == "middle"
    })
    .await;
}

/// The operator puts one room on stage.
async fn stage(op: &Client, id: &str, endpoint: &str) {
    act(
        op,
        &format!("/api/v1/meetings/{id}/live/stage"),
        json!({"endpoint_ids": [endpoint]}),
    )
    .await;
}

/// The top gives B the floor: the top's viewer sees and hears B.
async fn top_gives_b_the_floor(
    op: &Client,
    id: &str,
    b_key: &str,
    b_tag: u32,
    top_view: &RtcClient,
) {
    act(
        op,
        &format!("/api/v1/meetings/{id}/live/floor/grant"),
        json!({"endpoint_id": b_key}),
    )
    .await;
    until("B's video and audio at the top", &[top_view], || {
        from(top_view, true, b_tag) > 60 && from(top_view, false, b_tag) > 50
    })
    .await;
}

/// The top mutes B's microphone: the bottom node (`at_bottom`) enforces it
/// and B's audio stops arriving at the top.
async fn top_mutes_b_and_the_bottom_silences_it(
    op: &Client,
    at_bottom: &Client,
    id: &str,
    b_key: &str,
    b_tag: u32,
    top_view: &RtcClient,
) {
    act(
        op,
        &format!("/api/v1/meetings/{id}/live/mute"),
        json!({"endpoint_id": b_key, "audio": true}),
    )
    .await;
    wait_row(at_bottom, id, b_key, "B muted at the bottom", |r| {
        r["muted_audio"] == true && r["participant"].is_u64()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let heard = from(top_view, false, b_tag);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        from(top_view, false, b_tag),
        heard,
        "B's audio still reaches the top after the top muted it\n{}",
        top_view.describe()
    );
}

/// Called as the middle node is back: B's video reaches the top again
/// within 5 s, and B is on the top's roll call through the middle.
async fn b_back_at_the_top_within_5_s(
    op: &Client,
    id: &str,
    b_key: &str,
    b_tag: u32,
    top_view: &RtcClient,
) {
    let back = Instant::now();
    let seen = from(top_view, true, b_tag);
    until(
        "B's video at the top after the middle's return",
        &[top_view],
        || from(top_view, true, b_tag) > seen + 30,
    )
    .await;
    let took = back.elapsed();
    eprintln!("relay: re-merged {took:?} after the middle node returned");
    assert!(
        // The figure (2.0-2.3 s, target 5 s) is measured in BENCHMARKS on a
        // quiet machine; here three processes share two cores with the
        // suite, so only a link that does not come back by itself fails.
        took < Duration::from_secs(15),
        "the meeting re-merged {took:?} after the middle node returned (15 s allowed)"
    );
    b_present_at_the_top(op, id, b_key).await;
}

/// A child's call to a relay route, as the relay link makes it.
pub(crate) async fn relay_call(
    base: &str,
    path: &str,
    credential: &str,
    body: Value,
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(credential)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
