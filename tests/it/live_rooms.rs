//! Live control of real rooms: webrtc-rs rooms join a BCH meeting with their
//! own endpoint tokens while a console watches its event stream. Each test
//! starts from the same fixture — a meeting open with rooms A and B joined
//! (mute on entry off) and a console subscribed — and proves one behaviour.
//! The 1 s budget for a console to see a change is met on virtual time
//! (`control::live` and the ticker's tests); here a missing event is what
//! fails.

use std::time::Duration;

use serde_json::{Value, json};

use crate::live::plan;
use crate::support::api::{ApiWorld, world};
use crate::support::db::{TestDb, run_sqlite};
use crate::support::metrics::metric;
use crate::support::rtc_client::{
    ClientConfig, PublishConfig, RtcClient, WsClient, run_in_loopback_netns, wait_for, ws_join,
};

const SECOND: Duration = Duration::from_secs(1);

/// A live meeting with two rooms in and a console watching.
struct LiveMeeting {
    w: ApiWorld,
    id: String,
    console: WsClient,
    /// The console's first message.
    snapshot: Value,
    /// Rooms A and B: their media clients and signalling.
    _a: RtcClient,
    _b: RtcClient,
    ws_a: WsClient,
    ws_b: WsClient,
    pid_b: String,
}

fn room(name: &str) -> ClientConfig {
    ClientConfig {
        name: name.into(),
        publish: Some(PublishConfig::default()),
        recv_video: 2,
        recv_audio: 2,
        loss: None,
        ..Default::default()
    }
}

/// Wait for a console event of `ty` after index `from`.
async fn event(c: &WsClient, from: usize, ty: &str, within: Duration) -> Value {
    c.wait_type(from, ty, within)
        .await
        .unwrap_or_else(|| panic!("no {ty} event within {within:?}; got {:?}", c.received()))
}

impl LiveMeeting {
    async fn start(db: TestDb) -> LiveMeeting {
        let w = world(db).await;
        let id = plan(&w).await["id"].as_str().unwrap().to_string();
        let op = w.as_role("operator").clone();
        let opened = op
            .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
            .await;
        assert_eq!(opened.status, 200, "{}", opened.text);
        let url = format!(
            "{}/api/v1/meetings/{id}/live/events",
            w.srv.base_url().replacen("http", "ws", 1)
        );
        let console = WsClient::connect_url(&url, op.bearer.as_deref())
            .await
            .expect("console connects");
        let snapshot = event(&console, 0, "snapshot", Duration::from_secs(2)).await;
        // A BCH conference would have the rooms join muted; this operator
        // lets them join open.
        let n = console.count();
        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/mute-on-entry"),
                json!({"on": false}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        event(&console, n, "mute_on_entry", SECOND).await;
        let base = w.srv.base_url();
        let mut a = RtcClient::new(room("Điểm cầu xã An Phú")).await.unwrap();
        let mut b = RtcClient::new(room("Điểm cầu xã Bình Minh")).await.unwrap();
        let (ws_a, _) = ws_join(&mut a, &base, &id, &w.province.endpoint_tokens["a"])
            .await
            .unwrap();
        let (ws_b, joined_b) = ws_join(&mut b, &base, &id, &w.province.endpoint_tokens["b"])
            .await
            .unwrap();
        a.wait_connected(Duration::from_secs(20)).await.unwrap();
        b.wait_connected(Duration::from_secs(20)).await.unwrap();
        let pid_b = joined_b["participant"].as_str().unwrap().to_string();
        LiveMeeting {
            w,
            id,
            console,
            snapshot,
            _a: a,
            _b: b,
            ws_a,
            ws_b,
            pid_b,
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v1/meetings/{}/{rest}", self.id)
    }

    /// A delegate registers room B; the chair grants it the floor.
    async fn give_b_the_floor(&self) {
        let reg = self
            .w
            .as_role("delegate")
            .post(
                &self.path("live/floor/request"),
                json!({"endpoint_id": self.w.endpoint("b")}),
            )
            .await;
        assert_eq!(reg.status, 200, "{}", reg.text);
        let granted = self
            .w
            .as_role("chair")
            .post(
                &self.path("live/floor/grant"),
                json!({"endpoint_id": self.w.endpoint("b"), "limit_ms": 120000}),
            )
            .await;
        assert_eq!(granted.status, 200, "{}", granted.text);
    }
}

fn live_test<F, Fut>(body: F)
where
    F: FnOnce(LiveMeeting) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    run_in_loopback_netns(run_sqlite(|db| async move {
        body(LiveMeeting::start(db).await).await
    }));
}

#[test]
fn rooms_joining_with_their_tokens_are_on_the_roll_and_the_console_sees_them() {
    live_test(|m| async move {
        let sites = m.snapshot["state"]["roll_call"]["sites"]
            .as_array()
            .unwrap();
        assert_eq!(sites.len(), 4);
        assert_eq!(m.snapshot["state"]["stage"], json!([m.w.endpoint("hub")]));
        assert_eq!(m.snapshot["state"]["mute_on_entry"], true);
        let connected: Vec<Value> = m
            .console
            .received()
            .into_iter()
            .filter(|v| v["type"] == "site_connected")
            .map(|v| v["endpoint_id"].clone())
            .collect();
        assert_eq!(
            connected,
            [json!(m.w.endpoint("a")), json!(m.w.endpoint("b"))]
        );
    });
}

#[test]
fn an_operator_mute_reaches_the_room_and_the_console() {
    live_test(|m| async move {
        let n = m.console.count();
        let r =
            m.w.as_role("operator")
                .post(
                    &m.path("live/mute"),
                    json!({"endpoint_id": m.w.endpoint("a"), "audio": true}),
                )
                .await;
        assert_eq!(r.status, 200, "{}", r.text);
        event(&m.console, n, "muted", SECOND).await;
        let told = m
            .ws_a
            .wait_message(0, SECOND, |v| {
                v["type"] == "muted" && v["operator_audio"] == true
            })
            .await;
        assert!(told.is_some(), "room a told: {:?}", m.ws_a.received());
    });
}

#[test]
fn a_delegate_registers_the_floor_for_their_room_and_the_chair_grants_it_the_stage() {
    live_test(|m| async move {
        let n = m.console.count();
        m.give_b_the_floor().await;
        let who = event(&m.console, n, "floor_registration", SECOND).await;
        assert_eq!(who["delegate"], "Người dùng delegate");
        event(&m.console, n, "floor_requested", SECOND).await;
        event(&m.console, n, "floor_granted", SECOND).await;
        event(&m.console, n, "stage_changed", SECOND).await;
        // The engine put b on stage: room a's stage slot shows b.
        let pid_b = json!(m.pid_b);
        let staged = m
            .ws_a
            .wait_message(0, Duration::from_secs(3), |v| {
                v["type"] == "stage"
                    && v["participants"]
                        .as_array()
                        .is_some_and(|p| p.contains(&pid_b))
            })
            .await;
        assert!(
            staged.is_some(),
            "stage reached the engine: {:?}",
            m.ws_a.received()
        );
    });
}

#[test]
fn a_room_asks_for_the_floor_only_for_itself() {
    live_test(|m| async move {
        let b = m.w.as_endpoint("b");
        let asked = b.post(&m.path("live/floor/request"), json!({})).await;
        assert_eq!(asked.status, 200, "{}", asked.text);
        let again = b.post(&m.path("live/floor/request"), json!({})).await;
        assert_eq!(
            again.body["floor"]["queue"].as_array().unwrap().len(),
            1,
            "asking twice queues once: {}",
            again.text
        );
        let for_a = b
            .post(
                &m.path("live/floor/request"),
                json!({"endpoint_id": m.w.endpoint("a")}),
            )
            .await;
        assert_eq!(for_a.status, 403, "{}", for_a.text);
    });
}

#[test]
fn a_locked_meeting_refuses_a_new_room() {
    live_test(|m| async move {
        let r =
            m.w.as_role("operator")
                .post(&m.path("live/lock"), json!({}))
                .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut late = RtcClient::new(room("Điểm cầu phường Hòa Bình"))
            .await
            .unwrap();
        let refused = ws_join(
            &mut late,
            &m.w.srv.base_url(),
            &m.id,
            &m.w.province.endpoint_tokens["w"],
        )
        .await;
        let err = refused.err().expect("locked meeting refuses a new room");
        assert!(err.contains("meeting_locked"), "{err}");
    });
}

#[test]
fn a_removed_room_is_sent_away_and_cannot_come_back() {
    live_test(|m| async move {
        let n = m.console.count();
        let r =
            m.w.as_role("operator")
                .post(
                    &m.path("live/remove"),
                    json!({"endpoint_id": m.w.endpoint("a")}),
                )
                .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let removed = event(&m.console, n, "removed", SECOND).await;
        assert_eq!(removed["endpoint_id"], m.w.endpoint("a"));
        let ws_a = &m.ws_a;
        assert!(
            wait_for(Duration::from_secs(3), || ws_a.is_closed()).await,
            "the removed room's signalling was closed"
        );
        let mut again = RtcClient::new(room("Điểm cầu xã An Phú")).await.unwrap();
        let back = ws_join(
            &mut again,
            &m.w.srv.base_url(),
            &m.id,
            &m.w.province.endpoint_tokens["a"],
        )
        .await;
        let err = back.err().expect("removed room refused");
        assert!(err.contains("endpoint_removed"), "{err}");
    });
}

#[test]
fn confirmed_headcounts_make_the_quorum_by_people() {
    live_test(|m| async move {
        let hc =
            m.w.as_endpoint("b")
                .post(&m.path("live/headcount"), json!({"headcount": 30}))
                .await;
        assert_eq!(hc.status, 200, "{}", hc.text);
        let q = &hc.body["roll_call"]["quorum"];
        assert_eq!(
            (
                q["basis"].as_str(),
                q["present"].as_u64(),
                q["met"].as_bool()
            ),
            (Some("people"), Some(30), Some(true)),
            "{q}"
        );
    });
}

#[test]
fn ending_the_meeting_closes_the_console_stream_and_sends_the_rooms_away() {
    live_test(|m| async move {
        let op = m.w.as_role("operator");
        let n = m.console.count();
        assert_eq!(op.post(&m.path("start"), json!({})).await.status, 200);
        assert_eq!(op.post(&m.path("end"), json!({})).await.status, 200);
        let ended = m
            .console
            .wait_message(n, SECOND, |v| {
                v["type"] == "meeting_state" && v["state"] == "ended"
            })
            .await;
        assert!(ended.is_some(), "{:?}", m.console.received());
        event(&m.console, n, "meeting_closed", SECOND).await;
        let (c, b) = (&m.console, &m.ws_b);
        assert!(
            wait_for(Duration::from_secs(5), || c.is_closed()).await,
            "the console event stream closed after meeting_closed"
        );
        assert!(
            wait_for(Duration::from_secs(5), || b.is_closed()).await,
            "room b's signalling closed when the meeting ended"
        );
    });
}

#[test]
fn the_roll_and_the_floor_at_the_end_are_kept_for_the_minutes() {
    live_test(|m| async move {
        let hc =
            m.w.as_endpoint("b")
                .post(&m.path("live/headcount"), json!({"headcount": 30}))
                .await;
        assert_eq!(hc.status, 200, "{}", hc.text);
        m.give_b_the_floor().await;
        let op = m.w.as_role("operator");
        assert_eq!(op.post(&m.path("start"), json!({})).await.status, 200);
        assert_eq!(op.post(&m.path("end"), json!({})).await.status, 200);
        let minutes = m.w.as_role("secretary").get(&m.path("minutes")).await;
        assert_eq!(minutes.status, 200, "{}", minutes.text);
        let sites = minutes.body["minutes"]["attendance"]["sites"]
            .as_array()
            .expect("attendance snapshot at the end")
            .clone();
        let b_row = sites
            .iter()
            .find(|s| s["endpoint_id"] == m.w.endpoint("b"))
            .expect("room b on the roll");
        assert_eq!(
            (b_row["present"].clone(), b_row["headcount"].clone()),
            (json!(true), json!(30))
        );
        let floor = minutes.body["minutes"]["floor"].as_array().unwrap();
        assert!(!floor.is_empty(), "{}", minutes.text);
    });
}

#[test]
fn the_media_maps_hold_the_rooms_connected_and_let_a_removed_one_go() {
    live_test(|m| async move {
        let base = m.w.srv.metrics_url();
        let entries = |map: &str| format!("diemcau_media_map_entries{{map=\"{map}\"}}");
        assert_eq!(metric(&base, &entries("sessions")).await, 2.0);
        // One series per map, whatever the number of participants.
        let page = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let series = page
            .lines()
            .filter(|l| l.starts_with("diemcau_media_map_entries{"))
            .count();
        assert_eq!(series, 10, "{page}");
        assert_eq!(metric(&base, &entries("ufrags")).await, 2.0);
        assert!(
            metric(&base, &entries("slots")).await >= 8.0,
            "2 rooms × 4 slots"
        );
        let r =
            m.w.as_role("operator")
                .post(
                    &m.path("live/remove"),
                    json!({"endpoint_id": m.w.endpoint("a")}),
                )
                .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while metric(&base, &entries("sessions")).await != 1.0 {
            assert!(std::time::Instant::now() < deadline, "session a still held");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(metric(&base, &entries("ufrags")).await, 1.0);
        let addresses = metric(&base, &entries("addresses")).await;
        assert!((1.0..=8.0).contains(&addresses), "{addresses}");
    });
}
