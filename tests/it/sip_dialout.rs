//! Dial-out (issue 17): as a meeting goes live the server calls its SIP
//! rooms — a baresip that registered and answers by itself, a sipp codec
//! at a fixed address that is busy first —, retries what failed, and the
//! console's "Gọi lại" (`POST …/live/sip-call`) calls a room again. Each
//! test runs in its own loopback-only namespace.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, world_with};
use crate::support::baresip::{Baresip, Options};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

/// How long a dialled room may take to show on the roll call (a first
/// attempt, and a retry 5 s later for the busy codec).
const JOIN_TIMEOUT: Duration = Duration::from_secs(25);

async fn sip_world(db: crate::support::db::TestDb) -> ApiWorld {
    world_with(db, |c| {
        c.sip.udp_listen = Some("127.0.0.1:0".parse().unwrap());
        c.sip.tls_listen = Some("127.0.0.1:0".parse().unwrap());
        c.sip.rtp_port_min = 32000;
        c.sip.rtp_port_max = 32999;
    })
    .await
}

/// An open meeting of the hub and communes A and B (not live yet).
async fn open_meeting(w: &ApiWorld) -> String {
    let start = diemcau::store::now_ms() + 3_600_000;
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Giao ban trực tuyến", "kind": "bch",
                "starts_at_ms": start, "ends_at_ms": start + 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a"), w.endpoint("b")],
                "chair_user_id": w.users["chair"],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    let op = w.as_role("operator");
    let r = op
        .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

/// The SIP user and password of endpoint `key`.
async fn sip_password(w: &ApiWorld, key: &str) -> (String, String) {
    let ep = w.endpoint(key);
    let r = w
        .as_role("operator")
        .post(&format!("/api/v1/endpoints/{ep}/sip-password"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    (
        r.body["sip_user"].as_str().unwrap().into(),
        r.body["password"].as_str().unwrap().into(),
    )
}

async fn live(w: &ApiWorld, id: &str) -> Value {
    let r = w
        .as_role("operator")
        .get(&format!("/api/v1/meetings/{id}/live"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn connected(snapshot: &Value, endpoint: &str) -> bool {
    snapshot["roll_call"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["endpoint_id"] == endpoint && s["connected"] == true)
}

async fn wait_connected(w: &ApiWorld, id: &str, endpoint: &str, want: bool) {
    let deadline = Instant::now() + JOIN_TIMEOUT;
    while connected(&live(w, id).await, endpoint) != want {
        assert!(
            Instant::now() < deadline,
            "{endpoint} never became connected={want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_registered(w: &ApiWorld, endpoint: &str) {
    let dialer = w.srv.server.state().live.dialer().expect("sip dial-out");
    let deadline = Instant::now() + Duration::from_secs(10);
    while dialer.registered(endpoint, Instant::now()).is_none() {
        assert!(Instant::now() < deadline, "{endpoint} did not register");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The snapshot's `sip_calls` reaches `state` for `endpoint`.
async fn wait_sip_state(w: &ApiWorld, id: &str, endpoint: &str, state: &str) -> Value {
    let deadline = Instant::now() + JOIN_TIMEOUT;
    loop {
        let snap = live(w, id).await;
        if snap["sip_calls"][endpoint]["state"] == state {
            return snap;
        }
        assert!(
            Instant::now() < deadline,
            "{endpoint} never {state} in the snapshot: {}",
            snap["sip_calls"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A codec registered over TLS that insists on SRTP is called over its
/// TLS connection with an RTP/SAVP offer carrying our keys, answers with
/// its own, and joins; every packet it seals opens.
#[test]
fn a_codec_registered_over_tls_is_called_with_srtp_keys_and_joins() {
    let tmp = tempfile::tempdir().unwrap();
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = sip_world(db).await;
        let id = open_meeting(&w).await;
        let ea = w.endpoint("a").to_string();
        let (user, password) = sip_password(&w, "a").await;
        let tls = w.srv.server.sip_tls_addr().unwrap().to_string();
        let ca = w.srv.server.state().ca_pem.as_deref().unwrap().to_owned();
        let opts = Options {
            ca_pem: Some(ca),
            srtp: true,
            ..Default::default()
        };
        let mut codec = Baresip::start_registered_opts(
            &tmp.path().join("a"),
            &user,
            &password,
            &tls,
            5200,
            &opts,
        );
        wait_registered(&w, &ea).await;
        let op = w.as_role("operator");
        let r = op
            .post(&format!("/api/v1/meetings/{id}/start"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        wait_connected(&w, &id, &ea, true).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let log = codec.stop();
        assert!(
            log.contains("SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)"),
            "{log}"
        );
        let m = w.srv.server.sip_metrics().unwrap();
        use std::sync::atomic::Ordering;
        assert_eq!(m.srtp_auth_failed.load(Ordering::Relaxed), 0);
        w.srv.server.shutdown().await;
    }));
}

/// A console that opens after the call was placed reads each SIP room's
/// call state from the snapshot (REST and the events' first message),
/// not only from the `sip_call` events it was not there for.
/// The wall tile's SIP badge of room `endpoint`: `[state, text]`, or null.
fn sip_badge(endpoint: &str) -> String {
    format!(
        "const b = document.querySelector('#grid [data-endpoint=\"{endpoint}\"] .tb-sip');\
         const got = b ? [b.dataset.sip, b.textContent] : null;"
    )
}

/// A console (the snapshot, and the live wall in Chromium) opening while
/// room A is in its dialled call sees it in the call with its codecs; room
/// B, a codec busy on another call, failed and why; A hanging up, ended.
#[test]
fn a_console_opening_mid_call_sees_each_sip_room_s_call_state_in_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = sip_world(db).await;
        let id = open_meeting(&w).await;
        let (ea, eb) = (w.endpoint("a").to_string(), w.endpoint("b").to_string());
        // B: a room codec at a fixed address, busy on another call.
        sip_password(&w, "b").await;
        let r = w
            .as_role("operator")
            .patch(
                &format!("/api/v1/endpoints/{eb}"),
                json!({"sip_address": "sip:codec@127.0.0.1:5191"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let busy = tmp.path().join("busy.xml");
        std::fs::write(&busy, BUSY).unwrap();
        // Busy for every retry the test may see (5, 15, 40 s apart): B's
        // tile says "failed" all along, not "calling" between two.
        let mut busy_codec = Sipp::uas_calls(&busy, 5191, 5);
        let (user, password) = sip_password(&w, "a").await;
        let sip = w.srv.server.sip_udp_addr().unwrap().to_string();
        let mut codec =
            Baresip::start_registered(&tmp.path().join("a"), &user, &password, &sip, 5190);
        wait_registered(&w, &ea).await;
        let op = w.as_role("operator");
        let r = op
            .post(&format!("/api/v1/meetings/{id}/start"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        wait_connected(&w, &id, &ea, true).await;
        let snap = wait_sip_state(&w, &id, &ea, "connected").await;
        assert_eq!(snap["sip_calls"][&ea]["codec"], "G.711 µ", "{snap}");
        let snap = wait_sip_state(&w, &id, &eb, "failed").await;
        assert_eq!(
            snap["sip_calls"].as_object().map(|o| o.len()),
            Some(2),
            "only the SIP rooms, not the hub: {}",
            snap["sip_calls"]
        );
        // The live wall in Chromium: A in the call with its codec, B failed
        // and why.
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "sip-wall", Duration::from_millis(250));
        crate::console::log_in(&steps, &base, "test_operator").await;
        page.navigate(&format!("{base}/console/meetings/{id}"))
            .await;
        let in_call = steps
            .until(
                "01-a-in-call",
                &format!(
                    "{} return got && got[0] === 'connected' ? got[1] : null;",
                    sip_badge(&ea)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        assert_eq!(in_call, "SIP · G.711 µ");
        let failed = steps
            .until(
                "02-b-failed",
                &format!(
                    "{} return got && got[0] === 'failed' ? got[1] : null;",
                    sip_badge(&eb)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        assert!(
            failed
                .as_str()
                .is_some_and(|t| t.starts_with("Máy bận (486) · gọi lại sau")),
            "why, in Vietnamese, and when it is called again: {failed}"
        );
        busy_codec.stop();
        steps.shot("02-wall").await;
        // A hangs up: the snapshot and the wall say so.
        codec.command("/hangup");
        wait_connected(&w, &id, &ea, false).await;
        wait_sip_state(&w, &id, &ea, "ended").await;
        let ended = steps
            .until(
                "03-a-ended",
                &format!(
                    "{} return got && got[0] === 'ended' ? got[1] : null;",
                    sip_badge(&ea)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        assert_eq!(ended, "Đã gác máy");
        steps.shot("03-wall").await;
        page.close().await;
        codec.stop();
        w.srv.server.shutdown().await;
    }));
}

#[test]
fn a_registered_baresip_is_called_as_its_meeting_goes_live_and_called_again_after_it_hangs_up() {
    let tmp = tempfile::tempdir().unwrap();
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = sip_world(db).await;
        let id = open_meeting(&w).await;
        let (ea, eb) = (w.endpoint("a").to_string(), w.endpoint("b").to_string());
        let (user, password) = sip_password(&w, "a").await;
        let sip = w
            .srv
            .server
            .sip_udp_addr()
            .expect("sip listener")
            .to_string();
        let mut codec =
            Baresip::start_registered(&tmp.path().join("a"), &user, &password, &sip, 5170);
        wait_registered(&w, &ea).await;
        let op = w.as_role("operator");
        let r = op
            .post(&format!("/api/v1/meetings/{id}/start"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        wait_connected(&w, &id, &ea, true).await;

        // Bad calls change nothing: connected already, not a SIP room,
        // not planned, not a person allowed to.
        let call = |e: &str| json!({"endpoint_id": e});
        let path = format!("/api/v1/meetings/{id}/live/sip-call");
        let r = op.post(&path, call(&ea)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "already_connected"),
            "{}",
            r.text
        );
        let r = op.post(&path, call(&eb)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "not_sip_room"),
            "{}",
            r.text
        );
        sip_password(&w, "w").await;
        let ew = w.endpoint("w").to_string();
        let r = op
            .patch(
                &format!("/api/v1/endpoints/{ew}"),
                json!({"sip_address": "127.0.0.1:5999"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = op.post(&path, call(&ew)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "unknown_endpoint"),
            "{}",
            r.text
        );
        let r = op.post(&path, json!({"endpoint": ea})).await;
        assert_eq!(r.status, 422, "{}", r.text);
        let r = w.as_role("delegate").post(&path, call(&ea)).await;
        assert_eq!(r.status, 403, "{}", r.text);

        // The codec hangs up; "Gọi lại" calls it back.
        codec.command("/hangup");
        wait_connected(&w, &id, &ea, false).await;
        let r = op.post(&path, call(&ea)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        wait_connected(&w, &id, &ea, true).await;
        let audit = w.admin().get("/api/v1/audit?limit=500").await;
        assert!(audit.text.contains("live.sip_call"), "{}", audit.text);
        // The effect is in the record's details (a JSON string in the list).
        let effect = format!(r#"{{\"sip_call\":\"{ea}\"}}"#);
        assert!(audit.text.contains(&effect), "{}", audit.text);
        codec.stop();
    }));
}

/// A sipp codec busy on its only call (486).
const BUSY: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="busy">
  <recv request="INVITE" />
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK" />
</scenario>
"#;

/// A sipp codec that rings, then answers with PCMU.
const ANSWER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer">
  <recv request="INVITE" />
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag02[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag02[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:codec@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=codec 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv request="ACK" />
  <recv request="BYE" timeout="60000" />
</scenario>
"#;

#[test]
fn a_busy_codec_at_a_fixed_address_is_called_again_and_joins_on_the_retry() {
    let tmp = tempfile::tempdir().unwrap();
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = sip_world(db).await;
        let id = open_meeting(&w).await;
        let ea = w.endpoint("a").to_string();
        sip_password(&w, "a").await;
        let op = w.as_role("operator");
        // A bad fixed address is refused and changes nothing.
        let r = op
            .patch(
                &format!("/api/v1/endpoints/{ea}"),
                json!({"sip_address": "codec.example.vn"}),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), r.field()),
            (422, "sip_address"),
            "{}",
            r.text
        );
        let acct = diemcau::control::endpoints::Endpoints::new(w.db.store.clone())
            .sip_account_of(&ea)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(acct.fixed_addr, None);
        let r = op
            .patch(
                &format!("/api/v1/endpoints/{ea}"),
                json!({"sip_address": "sip:codec@127.0.0.1:5190"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let busy = tmp.path().join("busy.xml");
        let answer = tmp.path().join("answer.xml");
        std::fs::write(&busy, BUSY).unwrap();
        std::fs::write(&answer, ANSWER).unwrap();
        // What the consoles' wall hears about the call.
        let room = w.srv.server.state().live.get(&id).expect("the live room");
        let (_, mut events) = room.subscribe(0).await;
        let mut sipp = Sipp::uas(&busy, 5190);
        std::thread::sleep(Duration::from_millis(300));
        let r = op
            .post(&format!("/api/v1/meetings/{id}/start"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // The busy codec took its one call and left; the same address
        // answers the retry.
        assert!(
            sipp.wait_exit(Duration::from_secs(4)),
            "the busy codec was not called"
        );
        assert!(!connected(&live(&w, &id).await, &ea));
        let mut sipp = Sipp::uas(&answer, 5190);
        wait_connected(&w, &id, &ea, true).await;
        sipp.stop();
        let mut states = Vec::new();
        while let Ok(ev) = events.try_recv() {
            let v: Value = serde_json::from_str(&ev.text).unwrap();
            if v["type"] == "sip_call" && v["endpoint_id"] == ea.as_str() {
                states.push(v);
            }
        }
        let names: Vec<&str> = states
            .iter()
            .map(|v| v["state"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["calling", "failed", "calling", "ringing", "connected"],
            "{states:?}"
        );
        assert_eq!(states[1]["status"], 486);
        assert_eq!(states[1]["reason"], "Máy bận (486)");
        assert_eq!(states[1]["retry_in_s"], 5);
        assert_eq!(states[2]["attempt"], 2);
    }));
}

/// sipp as a codec (Debian `sip-tester`), killed by its pid when done.
struct Sipp(Child);

impl Sipp {
    fn uas(scenario: &std::path::Path, port: u16) -> Sipp {
        Self::uas_calls(scenario, port, 1)
    }

    /// A codec that takes `calls` calls, then exits.
    fn uas_calls(scenario: &std::path::Path, port: u16, calls: u32) -> Sipp {
        let child = Command::new("sipp")
            .args(["-sf"])
            .arg(scenario)
            .args([
                "-i",
                "127.0.0.1",
                "-mi",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .args(["-m", &calls.to_string(), "-nostdin"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run sipp (apt: sip-tester)");
        Sipp(child)
    }

    /// Whether it finished its call and exited within `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        self.stop();
    }
}
