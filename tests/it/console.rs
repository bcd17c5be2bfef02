//! The operator console (`web/console.*`) in real Chromium against the real
//! server: log in, run a meeting's lifecycle from the list, watch its live
//! wall while a real WebRTC room (webrtc-rs, its own endpoint token) joins,
//! and mute that room from its tile.
//!
//! The scheduler (plan a meeting by picking rooms from the org tree) and the
//! endpoint registry (create a room, its token shown once, rotate, revoke,
//! import units from CSV) are driven the same way.
//!
//! Runs in a loopback-only network namespace. Screenshots of every step land
//! in `target/test-artifacts/browser/console-*.png`.

use std::time::Duration;

use serde_json::json;

use crate::support::api::{ApiWorld, Client, PASSWORD, fingerprint, world};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{
    ClientConfig, LossConfig, PublishConfig, RtcClient, WsClient, run_in_loopback_netns, ws_join,
};

/// Page steps are one or two HTTP round trips; a loaded 2-core machine
/// still answers within seconds, so 20 s only trips on a real failure.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// A webrtc-rs room joining through the SFU, then the console's event.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A meeting for the hub and communes A and B, starting in three hours:
/// beyond the automatic lobby opening (30 min before), so the page, not
/// the server's timer, opens it.
async fn plan(w: &ApiWorld) -> String {
    let start = diemcau::store::now_ms() + 3 * 3_600_000;
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ Tỉnh ủy tháng 11",
                "kind": "btv",
                "starts_at_ms": start,
                "ends_at_ms": start + 2 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a"), w.endpoint("b")],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    made.body["meetings"][0]["id"]
        .as_str()
        .expect("meeting id")
        .to_string()
}

/// `[data-endpoint=…]` tile selector for a live-wall tile.
fn tile(endpoint: &str) -> String {
    format!("document.querySelector('#grid [data-endpoint=\"{endpoint}\"]')")
}

#[test]
fn operator_console_runs_a_meeting_and_its_live_wall_follows_a_real_room_joining_muted_and_dropping()
 {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = plan(&w).await;
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console", POLL_INTERVAL);

        // 1. Login, in Vietnamese; a wrong password shows the server's refusal.
        page.navigate(&format!("{base}/console")).await;
        steps
            .until(
                "01-login",
                "const f = document.getElementById('view-login'); return !!f && !f.hidden;",
                STEP_TIMEOUT,
            )
            .await;
        let label = steps
            .run("return document.querySelector('label[for=login-name]').textContent;")
            .await;
        assert_eq!(label, "Tên đăng nhập");
        steps.shot("01-login").await;
        let fill = |password: &str| {
            format!(
                "document.getElementById('login-name').value = 'test_operator';\
                 document.getElementById('login-password').value = {};\
                 document.getElementById('login-submit').click(); return true;",
                json!(password)
            )
        };
        steps.run(&fill("sai mật khẩu rồi")).await;
        let refusal = steps.until("02-login-refused",
            "const e = document.getElementById('login-error'); return e.hidden ? null : e.textContent;",
            STEP_TIMEOUT,
        )
        .await;
        assert!(
            refusal
                .as_str()
                .unwrap_or_default()
                .contains("sai thông tin đăng nhập"),
            "refusal in Vietnamese: {refusal}"
        );
        steps.shot("02-login-refused").await;
        steps.run(&fill(PASSWORD)).await;

        // 2. The meetings list: open the lobby, then start.
        let row = format!("document.querySelector('#meetings-body tr[data-meeting=\"{id}\"]')");
        steps
            .until(
                "03-meetings",
                &format!("const r = {row}; return !!r && r.dataset.state === 'scheduled';"),
                STEP_TIMEOUT,
            )
            .await;
        let badge = steps
            .run(&format!(
                "return {row}.querySelector('.badge').textContent;"
            ))
            .await;
        assert_eq!(badge, "Đã lên lịch");
        steps.shot("03-meetings").await;
        steps
            .run(&format!(
                "{row}.querySelector('[data-action=open]').click(); return true;"
            ))
            .await;
        steps.until("04-opened",
            &format!("const r = {row}; return r.dataset.state === 'open' && r.querySelector('.badge').textContent === 'Mở phòng chờ';"),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("04-opened").await;
        steps
            .run(&format!(
                "{row}.querySelector('[data-action=start]').click(); return true;"
            ))
            .await;
        steps.until("05-started",
            &format!("const r = {row}; return r.dataset.state === 'live' && r.querySelector('.badge').textContent === 'Đang họp';"),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("05-started").await;
        let state = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}"))
            .await;
        assert_eq!(state.body["state"], "live", "{}", state.text);

        // 3. The live wall: one grey tile per site of the roll call.
        steps
            .run(&format!(
                "{row}.querySelector('[data-action=wall]').click(); return true;"
            ))
            .await;
        let a = w.endpoint("a").to_string();
        steps.until("06-wall",
            &format!(
                "const t = document.querySelectorAll('#grid .tile');\
                 const fig = document.getElementById('fig-rollcall').textContent;\
                 return t.length === 3 && fig.startsWith('Điểm danh: 0/') && window.diemcau.state().ws === 1\
                   && {} !== null && {}.dataset.state === 'waiting';",
                tile(&a),
                tile(&a)
            ),
            STEP_TIMEOUT,
        )
        .await;
        assert_eq!(
            steps
                .run(&format!(
                    "return {}.querySelector('.tile-name').textContent;",
                    tile(&a)
                ))
                .await,
            "Điểm cầu xã An Phú"
        );
        assert_eq!(
            steps.run("return location.pathname;").await,
            format!("/console/meetings/{id}")
        );
        steps.shot("06-wall").await;

        // A BTV conference is run from the hub: rooms would join muted. This
        // operator lets them join open, from the toolbar.
        steps
            .until(
                "06b-mute-on-entry",
                "const c = document.getElementById('chk-mute-entry');\
                 if (!c.checked) return false; c.click(); return true;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .until(
                "06c-mute-on-entry-off",
                "return !document.getElementById('chk-mute-entry').checked\
                   && window.diemcau.state().snapshot.mute_on_entry === false;",
                STEP_TIMEOUT,
            )
            .await;
        let live = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}/live"))
            .await;
        assert_eq!(live.body["mute_on_entry"], false, "{}", live.text);

        // 4. A real room joins with its own token: its tile turns green.
        let mut room = RtcClient::new(ClientConfig {
            name: "Điểm cầu xã An Phú".into(),
            publish: Some(PublishConfig::default()),
            recv_video: 2,
            recv_audio: 2,
            loss: None,
            ..Default::default()
        })
        .await
        .expect("webrtc-rs client");
        let (room_ws, _joined) = ws_join(&mut room, &base, &id, &w.province.endpoint_tokens["a"])
            .await
            .expect("room a joins");
        steps.until("07-connected",
            &format!(
                "return {}.dataset.state === 'connected'\
                   && document.getElementById('fig-rollcall').textContent.startsWith('Điểm danh: 1/');",
                tile(&a)
            ),
            JOIN_TIMEOUT,
        )
        .await;
        steps.shot("07-connected").await;

        // The console's own media session (session cookie, role console)
        // gets a thumbnail slot for the room: bytes arrive on its tile.
        steps
            .until(
                "07b-thumbnail",
                &format!(
                    "const t = {}; return !!t.dataset.mid && Number(t.dataset.kbps) > 0\
                   && !!t.querySelector('.thumb video');",
                    tile(&a)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        steps.shot("07b-thumbnail").await;

        // 5. Mute from the tile: the tile shows it, and so does the server.
        steps
            .run(&format!(
                "{}.querySelector('[data-action=mute-audio]').click(); return true;",
                tile(&a)
            ))
            .await;
        steps
            .until(
                "08-muted",
                &format!(
                    "const t = {}; return t.dataset.mutedAudio === 'true'\
                   && !t.querySelector('.flag-mic').hidden\
                   && t.querySelector('[data-action=mute-audio]').textContent === 'Bật micrô';",
                    tile(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        let live = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}/live"))
            .await;
        let site = live.body["roll_call"]["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .find(|s| s["endpoint_id"] == a.as_str())
            .cloned()
            .expect("site a in the roll call");
        assert_eq!(site["muted_audio"], true, "{}", live.text);
        assert_eq!(site["connected"], true, "{}", live.text);
        steps.shot("08-muted").await;

        // Floor: the room registers to speak (its own token); the queue shows
        // it; a bad limit is refused before sending; the grant puts the room
        // on stage with a timer; the revoke takes it back.
        let asked = w
            .as_endpoint("a")
            .post(
                &format!("/api/v1/meetings/{id}/live/floor/request"),
                json!({}),
            )
            .await;
        assert_eq!(asked.status, 200, "{}", asked.text);
        let queued = format!("document.querySelector('#floor-queue li[data-endpoint=\"{a}\"]')");
        steps
            .until(
                "08b-floor-queue",
                &format!(
                    "return {queued} !== null && {}.dataset.floor === 'requested';",
                    tile(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(&format!(
                "document.getElementById('floor-limit').value = '0';\
                 {queued}.querySelector('[data-action=grant]').click(); return true;"
            ))
            .await;
        steps.until("08b-floor-limit-refused",
            "return [...document.querySelectorAll('.toast-error')].some(t => t.textContent.includes('Thời lượng phát biểu phải từ 1 đến 120 phút'))\
               && document.getElementById('floor-limit').getAttribute('aria-invalid') === 'true';",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("08b-floor-queue").await;
        steps
            .run(&format!(
                "document.getElementById('floor-limit').value = '2';\
                 {queued}.querySelector('[data-action=grant]').click(); return true;"
            ))
            .await;
        steps.until("08c-floor-granted",
            &format!(
                "const t = {}; return t.dataset.floor === 'speaking' && t.dataset.onStage === 'true'\
                   && document.getElementById('floor-speaker').textContent.includes('Đang phát biểu: Điểm cầu xã An Phú')\
                   && document.querySelector('#floor-speaker [data-action=revoke]') !== null;",
                tile(&a)
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("08c-floor-granted").await;
        steps.run("document.querySelector('#floor-speaker [data-action=revoke]').click(); return true;",
        )
        .await;
        steps.until("08d-floor-revoked",
            &format!(
                "return {}.dataset.floor === 'none' && document.getElementById('floor-speaker').textContent.includes('Không có ai đang phát biểu');",
                tile(&a)
            ),
            STEP_TIMEOUT,
        )
        .await;

        // Lock and a scene from the toolbar: the page and the server agree.
        steps
            .run("document.getElementById('btn-lock').click(); return true;")
            .await;
        steps
            .until(
                "08e-locked",
                "const b = document.getElementById('btn-lock');\
             return b.dataset.locked === 'true' && b.textContent === 'Mở khóa';",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(
                "document.getElementById('scene-select').value = 'thao_luan';\
             document.getElementById('btn-scene').click(); return true;",
            )
            .await;
        steps
            .until(
                "08e-scene",
                "return window.diemcau.state().snapshot.scene === 'thao_luan'\
               && document.getElementById('event-log').textContent.includes('Cảnh: Thảo luận');",
                STEP_TIMEOUT,
            )
            .await;
        let live = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}/live"))
            .await;
        assert_eq!(live.body["locked"], true, "{}", live.text);
        assert_eq!(live.body["scene"], "thao_luan", "{}", live.text);
        steps.shot("08e-locked-scene").await;
        // The hall screens get a layout of their own from the toolbar's
        // "Bố cục từng đầu ra": the server keeps it, the log says it.
        steps
            .run(
                "document.getElementById('output-layouts').open = true;\
             const s = document.getElementById('output-layout-screen');\
             s.value = 'grid3x3'; s.dispatchEvent(new Event('change')); return true;",
            )
            .await;
        steps
            .until(
                "08e-output-layout",
                "return window.diemcau.state().snapshot.output_layouts.screen === 'grid3x3'\
               && document.getElementById('event-log').textContent.includes('Màn hình hội trường: Lưới 3×3');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("08e-output-layouts").await;
        let live = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}/live"))
            .await;
        assert_eq!(
            live.body["output_layouts"]["screen"], "grid3x3",
            "{}",
            live.text
        );
        assert_eq!(
            live.body["output_layouts"]["stream"],
            serde_json::Value::Null
        );
        steps
            .run("document.getElementById('btn-lock').click(); return true;")
            .await;
        steps
            .until(
                "08f-unlocked",
                "return document.getElementById('btn-lock').dataset.locked === 'false';",
                STEP_TIMEOUT,
            )
            .await;

        // The room drops: its tile turns red with a drop counter, and the
        // alert strip says so in red.
        room.close().await;
        drop(room_ws);
        steps.until("09-dropped",
            &format!(
                "const t = {};\
                 const alerts = [...document.querySelectorAll('#alerts .alert-red')].map(a => a.textContent).join(' ');\
                 return t.dataset.state === 'dropped' && t.textContent.includes('Rớt 1 lần')\
                   && alerts.includes('Điểm cầu xã An Phú') && alerts.includes('mất kết nối');",
                tile(&a)
            ),
            JOIN_TIMEOUT,
        )
        .await;
        steps.shot("09-dropped").await;

        // 6. End the meeting from the wall, after a confirmation.
        steps
            .run("document.getElementById('btn-lifecycle').click(); return true;")
            .await;
        steps.until("10-confirm-end",
            "const d = document.getElementById('confirm');\
             return d.open && document.getElementById('confirm-text').textContent.startsWith('Kết thúc hội nghị');",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("10-confirm-end").await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "11-ended",
                "return document.getElementById('live-state').textContent === 'Đã kết thúc'\
               && document.getElementById('btn-lifecycle').hidden;",
                STEP_TIMEOUT,
            )
            .await;
        let state = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}"))
            .await;
        assert_eq!(state.body["state"], "ended", "{}", state.text);
        // The ended meeting's room closes: the wall says so and stops retrying.
        steps.until("11-ended",
            "return document.getElementById('live-conn-text').textContent === 'Hội nghị không còn trực tiếp'\
               && document.getElementById('fig-recording').textContent === 'Không ghi hình';",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("11-ended").await;

        // 7. The English switch relabels the wall and is remembered.
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "12-english",
                &format!(
                    "return {}.querySelector('[data-action=mute-audio]').textContent === 'Unmute'\
                   && localStorage.getItem('diemcau.lang') === 'en';",
                    tile(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("12-english").await;

        // 8. Log out; an administrator (who may read the audit log) opens the
        // same wall after a reload: the language choice held, and the
        // meeting's audit records list the operator's mute.
        steps
            .run("document.getElementById('btn-logout').click(); return true;")
            .await;
        steps
            .until(
                "13-logged-out",
                "const f = document.getElementById('view-login');\
             return !f.hidden && location.pathname === '/console'\
               && document.querySelector('label[for=login-name]').textContent === 'User name';",
                STEP_TIMEOUT,
            )
            .await;
        let me = w.srv.base_url();
        let refused = reqwest::Client::new()
            .get(format!("{me}/api/v1/auth/me"))
            .send()
            .await
            .expect("me");
        assert_eq!(refused.status(), 401);
        steps
            .run(&format!(
                "document.getElementById('login-name').value = 'test_admin';\
                 document.getElementById('login-password').value = {};\
                 document.getElementById('login-submit').click(); return true;",
                json!(PASSWORD)
            ))
            .await;
        steps
            .until(
                "13-admin-meetings",
                &format!(
                    "return window.diemcau.state().user === 'test_admin'\
                   && !document.getElementById('view-meetings').hidden && {row} !== null;"
                ),
                STEP_TIMEOUT,
            )
            .await;
        page.navigate(&format!("{base}/console/meetings/{id}"))
            .await;
        steps.until("13-audit",
            "const c = document.getElementById('audit-card');\
             return !c.hidden && document.getElementById('audit-log').textContent.includes('live.mute')\
               && document.getElementById('btn-lang').textContent === 'Tiếng Việt';",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("13-audit").await;

        // No script error anywhere along the way.
        let errors: Vec<String> = page
            .console_log()
            .await
            .into_iter()
            .filter(|l| {
                l.contains("Uncaught") || l.contains("TypeError") || l.contains("ReferenceError")
            })
            .collect();
        assert!(errors.is_empty(), "script errors: {errors:#?}");

        page.close().await;
        drop(driver);
    }));
}

/// Link quality on the live wall comes from the server's own measurements:
/// two real rooms publish and watch each other, room B through a relay that
/// drops a quarter of what the server sends it. Room A's tile shows rate,
/// loss and RTT meters with numbers from `link_stats` and a sparkline that
/// grows; `GET …/live/links` holds A's samples; B's receiver reports make it
/// lossy: its tile turns amber/red and the alert strip names it. A's chart
/// opens with Vietnamese axes, and relabels in English.
#[test]
fn live_wall_meters_and_charts_show_each_rooms_link_as_the_server_measures_it_and_a_lossy_room_raises_an_alert()
 {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = plan(&w).await;
        let op = w.as_role("operator");
        let r = op
            .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = op
            .post(&format!("/api/v1/meetings/{id}/start"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console-links", POLL_INTERVAL);
        log_in(&steps, &base, "test_operator").await;
        page.navigate(&format!("{base}/console/meetings/{id}"))
            .await;
        let a = w.endpoint("a").to_string();
        let b = w.endpoint("b").to_string();
        steps
            .until(
                "01-wall",
                &format!(
                    "return window.diemcau.state().ws === 1 && {} !== null && {} !== null;",
                    tile(&a),
                    tile(&b)
                ),
                STEP_TIMEOUT,
            )
            .await;

        // The event stream as an operator's tool and as room A's own page
        // see it: only the former gets link events.
        let stream_url = format!(
            "{}/api/v1/meetings/{id}/live/events",
            base.replacen("http", "ws", 1)
        );
        let op_stream = WsClient::connect_url(&stream_url, op.bearer.as_deref())
            .await
            .expect("operator's event stream");
        let room_stream =
            WsClient::connect_url(&stream_url, Some(w.province.endpoint_tokens["a"].as_str()))
                .await
                .expect("room a's event stream");

        // Two rooms, each publishing and receiving the other; B's receive
        // path loses 25 % of the server's RTP.
        let mut room_a = RtcClient::new(ClientConfig {
            name: "A".into(),
            publish: Some(PublishConfig::default()),
            recv_video: 2,
            recv_audio: 2,
            loss: None,
            ..Default::default()
        })
        .await
        .expect("webrtc-rs client a");
        let (ws_a, _) = ws_join(&mut room_a, &base, &id, &w.province.endpoint_tokens["a"])
            .await
            .expect("room a joins");
        let mut room_b = RtcClient::new(ClientConfig {
            name: "B".into(),
            publish: Some(PublishConfig::default()),
            recv_video: 2,
            recv_audio: 2,
            loss: Some(LossConfig {
                rate: 0.25,
                seed: 7,
            }),
            ..Default::default()
        })
        .await
        .expect("webrtc-rs client b");
        let (ws_b, _) = ws_join(&mut room_b, &base, &id, &w.province.endpoint_tokens["b"])
            .await
            .expect("room b joins");

        // A's tile: three meters with the server's numbers, and a sparkline
        // with a few samples (one every 2 s).
        let meters = steps
            .until(
                "02-meters",
                &format!(
                    "const t = {}; const rtt = t.querySelector('.lm-rtt'); const kb = t.querySelector('.lm-kbps');\
                     const loss = t.querySelector('.lm-loss'); const sp = t.querySelector('.spark');\
                     return t.dataset.state === 'connected' && rtt.dataset.value !== undefined\
                       && / ms$/.test(rtt.textContent) && / kbit\\/s$/.test(kb.textContent) && Number(kb.dataset.value) > 0\
                       && / %$/.test(loss.textContent) && ['good', 'warn', 'bad'].includes(rtt.dataset.level)\
                       && Number(sp.dataset.points) >= 3\
                       && sp.querySelector('.spark-kbps').getAttribute('points').trim().split(' ').length >= 3\
                       && {{rtt: rtt.textContent, kbps: kb.textContent, loss: loss.textContent}};",
                    tile(&a)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        eprintln!("room a meters: {meters}");
        steps.shot("02-meters").await;

        // The same samples over HTTP, for a console that opens late.
        let links = op.get(&format!("/api/v1/meetings/{id}/live/links")).await;
        assert_eq!(links.status, 200, "{}", links.text);
        assert_eq!(links.body["interval_ms"], 2000, "{}", links.text);
        assert_eq!(links.body["window_ms"], 300_000, "{}", links.text);
        let ring = links.body["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .find(|e| e["endpoint_id"] == a.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no ring for room a: {}", links.text));
        let samples = ring["samples"].as_array().expect("samples");
        assert!(samples.len() >= 3, "{}", links.text);
        assert!(
            samples.iter().any(|s| s["kbps_in"].as_u64() > Some(0)),
            "room a publishes: {}",
            links.text
        );
        assert!(
            samples
                .windows(2)
                .all(|p| p[0]["t_ms"].as_u64() < p[1]["t_ms"].as_u64()),
            "{}",
            links.text
        );
        for key in ["loss_in_pct", "loss_out_pct", "rtt_ms", "bwe_kbps"] {
            assert!(samples[0].get(key).is_some(), "{key}: {}", links.text);
        }
        // A room endpoint may read it too (as the live snapshot); anonymous not.
        let anon = w
            .as_role("anonymous")
            .get(&format!("/api/v1/meetings/{id}/live/links"))
            .await;
        assert_eq!(anon.status, 401, "{}", anon.text);

        // B's link: its receiver reports say a quarter is lost; after three
        // samples in a row the server says so, and the wall shows it.
        let b_name = steps
            .run(&format!(
                "return {}.querySelector('.tile-name').textContent;",
                tile(&b)
            ))
            .await;
        let b_name = b_name.as_str().expect("b's name").to_string();
        let alert = steps
            .until(
                "03-lossy",
                &format!(
                    "const t = {}; const al = [...document.querySelectorAll('#alerts .alert')]\
                       .find(x => x.dataset.key === 'link:{b}');\
                     return ['warn', 'bad'].includes(t.dataset.link)\
                       && t.querySelector('.lm-loss').dataset.level !== 'good'\
                       && window.diemcau.state().links[{b:?}].degraded\
                       && !!al && al.textContent;",
                    tile(&b),
                ),
                Duration::from_secs(60),
            )
            .await;
        let alert = alert.as_str().unwrap_or_default().to_string();
        assert!(
            alert.contains(&b_name) && alert.contains("đường truyền kém (mất gói"),
            "alert in Vietnamese naming room b: {alert}"
        );
        assert!(
            steps
                .run("return document.getElementById('event-log').textContent;")
                .await
                .as_str()
                .unwrap_or_default()
                .contains("đường truyền kém"),
            "the event log notes it"
        );
        let degraded = op.get(&format!("/api/v1/meetings/{id}/live/links")).await;
        assert!(
            degraded.body["endpoints"]
                .as_array()
                .expect("endpoints")
                .iter()
                .any(|e| e["endpoint_id"] == b.as_str() && e["degraded"] == true),
            "{}",
            degraded.text
        );
        steps.shot("03-lossy").await;
        let got = op_stream.received();
        let stats = got
            .iter()
            .filter(|v| v["type"] == "link_stats")
            .collect::<Vec<_>>();
        assert!(stats.len() >= 3, "link_stats every 2 s: {got:?}");
        assert!(
            stats.iter().all(|v| v["seq"].as_u64().is_some()
                && v["links"].as_array().is_some_and(|l| l.len() <= 2)),
            "{stats:?}"
        );
        assert!(
            got.iter().any(|v| v["type"] == "link_degraded"
                && v["endpoint_id"] == b.as_str()
                && v["loss_pct"].as_f64() > Some(5.0)),
            "{got:?}"
        );
        let theirs = room_stream.received();
        assert!(
            theirs.iter().any(|v| v["type"] == "site_connected"),
            "room a's stream works: {theirs:?}"
        );
        assert!(
            !theirs
                .iter()
                .any(|v| v["type"].as_str().is_some_and(|t| t.starts_with("link_"))),
            "a room's own stream has no link events: {theirs:?}"
        );

        // A's chart: loss, RTT and rate over the last minutes, axes named.
        steps
            .run(&format!(
                "{}.querySelector('[data-action=link-chart]').click(); return true;",
                tile(&a)
            ))
            .await;
        steps
            .until(
                "04-chart",
                "const d = document.getElementById('link-dialog'); const txt = d.textContent;\
                 const pts = [...d.querySelectorAll('polyline.series')].map(p => Number(p.dataset.points));\
                 return d.open && txt.includes('Mất gói (%)') && txt.includes('Độ trễ khứ hồi (ms)')\
                   && txt.includes('Tốc độ (kbit/s)') && txt.includes('bây giờ')\
                   && pts.length === 5 && pts.every(n => n >= 3);",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("04-chart").await;
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "05-chart-english",
                "const d = document.getElementById('link-dialog');\
                 return d.open && d.textContent.includes('Packet loss (%)') && d.textContent.includes('Round-trip time (ms)')\
                   && d.textContent.includes('Bitrate (kbit/s)') && document.getElementById('link-close').textContent === 'Close';",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("05-chart-english").await;
        steps
            .run("document.getElementById('link-close').click(); return true;")
            .await;
        steps
            .until(
                "06-closed",
                "return !document.getElementById('link-dialog').open;",
                STEP_TIMEOUT,
            )
            .await;

        // B hangs up: its poor-link alert gives way to the drop alert, and
        // its meters go blank (a dropped room has no link to measure).
        let from = op_stream.received().len();
        room_b.close().await;
        drop(ws_b);
        steps
            .until(
                "07-lossy-room-gone",
                &format!(
                    "const t = {}; const keys = [...document.querySelectorAll('#alerts .alert')].map(a => a.dataset.key);                     return t.dataset.state === 'dropped' && t.dataset.link === 'none'                       && t.querySelector('.lm-loss').textContent === ''                       && !keys.includes('link:{b}') && keys.includes('drop:{b}')                       && !window.diemcau.state().links[{b:?}].degraded;",
                    tile(&b)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        let recovered = op_stream
            .wait_message(from, Duration::from_secs(5), |v| {
                v["type"] == "link_recovered" && v["endpoint_id"] == b.as_str()
            })
            .await
            .unwrap_or_else(|| panic!("no link_recovered for b: {:?}", op_stream.received()));
        assert_eq!(recovered["connected"], false, "{recovered}");
        steps.shot("07-lossy-room-gone").await;

        let errors = script_errors(&page).await;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
        room_a.close().await;
        drop((ws_a, op_stream, room_stream));
        page.close().await;
        drop(driver);
    }));
}

/// Open the console and log in as `login`; returns once the meetings list shows.
pub(crate) async fn log_in(steps: &Steps<'_>, base: &str, login: &str) {
    steps.page.navigate(&format!("{base}/console")).await;
    steps
        .until(
            "00-login",
            "const f = document.getElementById('view-login'); return !!f && !f.hidden;",
            STEP_TIMEOUT,
        )
        .await;
    steps
        .run(&format!(
            "document.getElementById('login-name').value = {};\
             document.getElementById('login-password').value = {};\
             document.getElementById('login-submit').click(); return true;",
            json!(login),
            json!(PASSWORD)
        ))
        .await;
    steps
        .until(
            "00-meetings",
            &format!(
                "return window.diemcau.state().user === {} && !document.getElementById('view-meetings').hidden;",
                json!(login)
            ),
            STEP_TIMEOUT,
        )
        .await;
}

/// `ms` as a `datetime-local` value in province time (UTC+07:00).
fn local_input(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .expect("an instant")
        .to_offset(time::macros::offset!(+7));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// Uncaught script errors the page logged since the last look.
async fn script_errors(page: &crate::support::browser::Session) -> Vec<String> {
    page.console_log()
        .await
        .into_iter()
        .filter(|l| {
            l.contains("Uncaught") || l.contains("TypeError") || l.contains("ReferenceError")
        })
        .collect()
}

/// A client calling the API with `token` as its bearer (a room's token).
fn bearer(w: &ApiWorld, token: &str) -> Client {
    Client {
        bearer: Some(token.to_string()),
        ..w.as_role("anonymous").clone()
    }
}

#[test]
fn operator_schedules_a_meeting_in_the_console_picking_rooms_from_the_org_tree_and_opens_it() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console-schedule", POLL_INTERVAL);
        let (hub, a, b, wd) = (
            w.endpoint("hub").to_string(),
            w.endpoint("a").to_string(),
            w.endpoint("b").to_string(),
            w.endpoint("w").to_string(),
        );
        log_in(&steps, &base, "test_operator").await;

        // 1. The scheduler: the org tree with each unit's rooms, kinds in Vietnamese.
        steps
            .run("document.getElementById('btn-schedule').click(); return true;")
            .await;
        let ep_box =
            |id: &str| format!("document.querySelector('#sch-tree input[data-endpoint=\"{id}\"]')");
        steps
            .until(
                "01-scheduler",
                &format!(
                    "const s = window.diemcau.state().schedule;\
                     return location.pathname === '/console/schedule' && !!s && s.ready && {} !== null;",
                    ep_box(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            steps
                .run("return document.getElementById('sch-heading').textContent;")
                .await,
            "Lên lịch hội nghị"
        );
        let kinds = steps
            .run("return [...document.getElementById('sch-kind').options].map(o => o.textContent);")
            .await;
        for k in [
            "Hội nghị Ban Chấp hành",
            "Hội nghị Ban Thường vụ",
            "Giao ban",
            "Hội nghị quán triệt, triển khai nghị quyết",
        ] {
            assert!(
                kinds.as_array().unwrap().iter().any(|o| o == k),
                "{k} in {kinds}"
            );
        }
        // Room a sits under its commune in the tree.
        let under = steps
            .run(&format!(
                "return {}.closest('li[data-unit-node]').querySelector('.unit-name').textContent;",
                ep_box(&a)
            ))
            .await;
        assert_eq!(under, "Xã An Phú");
        steps.shot("01-scheduler").await;
        // Among many communes, the filter finds one without its accents.
        let visible = steps
            .run(
                "const f = document.getElementById('sch-tree-filter'); f.value = 'an phu';\
                 f.dispatchEvent(new Event('input', {bubbles: true}));\
                 const v = [...document.querySelectorAll('#sch-tree input[data-endpoint]')]\
                   .filter(i => i.offsetParent !== null).map(i => i.dataset.endpoint);\
                 f.value = ''; f.dispatchEvent(new Event('input', {bubbles: true})); return v;",
            )
            .await;
        assert_eq!(visible, json!([a]));

        // 2. The end before the start: refused next to the field, in
        // Vietnamese, before anything is sent.
        let start = (diemcau::store::now_ms() + 26 * 3_600_000) / 60_000 * 60_000;
        let title = "Hội nghị Ban Thường vụ Tỉnh ủy – lịch thử";
        steps
            .run(&format!(
                "document.getElementById('sch-title').value = {};\
                 document.getElementById('sch-kind').value = 'btv';\
                 const hub = document.getElementById('sch-hub');\
                 hub.value = {}; hub.dispatchEvent(new Event('change', {{bubbles: true}}));\
                 document.getElementById('sch-start').value = {};\
                 document.getElementById('sch-end').value = {};\
                 {}.click(); {}.click();\
                 document.getElementById('sch-submit').click(); return true;",
                json!(title),
                json!(hub),
                json!(local_input(start)),
                json!(local_input(start - 3_600_000)),
                ep_box(&a),
                ep_box(&b),
            ))
            .await;
        steps
            .until(
                "02-end-before-start",
                "const e = document.getElementById('sch-end-error');\
                 return !e.hidden && e.textContent === 'Thời điểm kết thúc phải sau thời điểm bắt đầu.'\
                   && document.getElementById('sch-end').getAttribute('aria-invalid') === 'true'\
                   && location.pathname === '/console/schedule';",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("02-end-before-start").await;
        let none = w.as_role("operator").get("/api/v1/meetings").await;
        assert_eq!(none.status, 200, "{}", none.text);
        assert_eq!(
            none.body["meetings"].as_array().map(Vec::len),
            Some(0),
            "nothing planned: {}",
            none.text
        );

        // The server's own refusal (more than two years ahead) lands next
        // to the field it names, in Vietnamese; still nothing is planned.
        let far = start + 3 * 365 * 86_400_000;
        steps
            .run(&format!(
                "document.getElementById('sch-start').value = {};\
                 document.getElementById('sch-end').value = {};\
                 document.getElementById('sch-submit').click(); return true;",
                json!(local_input(far)),
                json!(local_input(far + 3_600_000)),
            ))
            .await;
        let detail = steps
            .until(
                "02b-too-far",
                "const e = document.getElementById('sch-start-error');\
                 return !e.hidden && e.textContent === 'Thời điểm bắt đầu không hợp lệ: phải sau năm 2000 và không quá hai năm tới.'\
                   && document.getElementById('sch-start').getAttribute('aria-invalid') === 'true'\
                   && document.getElementById('sch-end-error').hidden ? e.title : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert!(
            detail
                .as_str()
                .unwrap_or_default()
                .contains("two years ahead"),
            "the server's words kept as detail: {detail}"
        );
        steps.shot("02b-too-far").await;
        let none = w.as_role("operator").get("/api/v1/meetings").await;
        assert_eq!(
            none.body["meetings"].as_array().map(Vec::len),
            Some(0),
            "nothing planned: {}",
            none.text
        );

        // 3. Fixed, plus a unit query (every ward of the province): sent,
        // and the meeting is in the list.
        steps
            .run(&format!(
                "document.getElementById('sch-start').value = {};\
                 const end = document.getElementById('sch-end'); end.value = {};\
                 end.dispatchEvent(new Event('input', {{bubbles: true}}));\
                 document.getElementById('sch-q-unit').value = {};\
                 for (const k of document.querySelectorAll('#sch-q-kinds input')) k.checked = k.value === 'ward';\
                 document.getElementById('sch-q-add').click();\
                 return document.getElementById('sch-queries').textContent;",
                json!(local_input(start)),
                json!(local_input(start + 2 * 3_600_000)),
                json!(w.unit("P")),
            ))
            .await;
        let query = steps
            .run("return document.getElementById('sch-queries').textContent;")
            .await;
        assert!(
            query
                .as_str()
                .unwrap_or_default()
                .contains("Tất cả phường thuộc Tỉnh Thử Nghiệm"),
            "{query}"
        );
        assert_eq!(
            steps
                .run("return document.getElementById('sch-count').textContent;")
                .await,
            "Đã chọn 3 điểm cầu"
        );
        // Fixed, the refusal is gone and the times are said in full.
        let hint = steps
            .run(
                "return document.getElementById('sch-end-error').hidden\
                   ? document.getElementById('sch-end-hint').textContent : null;",
            )
            .await;
        assert!(
            hint.as_str()
                .unwrap_or_default()
                .ends_with(" · kéo dài 2 giờ 0 phút"),
            "{hint}"
        );
        steps
            .run("document.getElementById('sch-tree').scrollIntoView(); return true;")
            .await;
        steps.shot("03-filled").await;
        steps
            .run("document.getElementById('sch-submit').click(); return true;")
            .await;
        let row_of = format!(
            "[...document.querySelectorAll('#meetings-body tr')].find(r => r.querySelector('.m-title').textContent === {})",
            json!(title)
        );
        let id = steps
            .until(
                "04-listed",
                &format!(
                    "const r = {row_of}; return location.pathname === '/console' && r && r.dataset.state === 'scheduled'\
                       && r.querySelector('.badge').textContent === 'Đã lên lịch'\
                       && r.querySelector('.m-kind').textContent === 'Hội nghị Ban Thường vụ' ? r.dataset.meeting : null;"
                ),
                STEP_TIMEOUT,
            )
            .await
            .as_str()
            .expect("meeting id")
            .to_string();
        steps.shot("04-listed").await;

        // The API has the plan: times in ms, the rooms ticked, the query.
        let m = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}"))
            .await;
        assert_eq!(m.status, 200, "{}", m.text);
        assert_eq!(m.body["kind"], "btv", "{}", m.text);
        assert_eq!(
            m.body["mute_on_entry"], true,
            "a BTV conference mutes rooms on entry: {}",
            m.text
        );
        assert_eq!(m.body["starts_at_ms"], start, "{}", m.text);
        assert_eq!(m.body["ends_at_ms"], start + 2 * 3_600_000, "{}", m.text);
        assert_eq!(m.body["hub_endpoint_id"], hub.as_str(), "{}", m.text);
        assert_eq!(m.body["endpoint_ids"], json!([a, b]), "{}", m.text);
        assert_eq!(
            m.body["unit_queries"],
            json!([{"unit_id": w.unit("P"), "kinds": ["ward"], "include_self": false}]),
            "{}",
            m.text
        );
        let ps = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}/participants"))
            .await;
        assert_eq!(ps.status, 200, "{}", ps.text);
        let mut got: Vec<(String, String)> = ps.body["participants"]
            .as_array()
            .expect("participants")
            .iter()
            .map(|p| {
                (
                    p["endpoint_id"].as_str().unwrap_or_default().to_string(),
                    p["via"]["kind"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        got.sort();
        let mut want = vec![
            (hub.clone(), "hub".to_string()),
            (a.clone(), "explicit".to_string()),
            (b.clone(), "explicit".to_string()),
            (wd.clone(), "unit_query".to_string()),
        ];
        want.sort();
        assert_eq!(got, want, "{}", ps.text);

        // 4. Edit it: the form comes back filled; a new title is saved.
        steps
            .run(&format!(
                "{row_of}.querySelector('[data-action=edit]').click(); return true;"
            ))
            .await;
        steps
            .until(
                "05-edit",
                &format!(
                    "const s = window.diemcau.state().schedule;\
                     return !!s && s.ready && s.id === {} && document.getElementById('sch-heading').textContent === 'Sửa lịch hội nghị'\
                       && document.getElementById('sch-title').value === {} && {}.checked && {}.checked\
                       && document.getElementById('sch-start').value === {};",
                    json!(id),
                    json!(title),
                    ep_box(&a),
                    ep_box(&b),
                    json!(local_input(start))
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("05-edit").await;
        let title = "Hội nghị Ban Thường vụ Tỉnh ủy – đã sửa";
        steps
            .run(&format!(
                "document.getElementById('sch-title').value = {};\
                 document.getElementById('sch-submit').click(); return true;",
                json!(title)
            ))
            .await;
        let row_of = format!("document.querySelector('#meetings-body tr[data-meeting=\"{id}\"]')");
        steps
            .until(
                "06-edited",
                &format!(
                    "const r = {row_of}; return location.pathname === '/console' && !!r && r.querySelector('.m-title').textContent === {};",
                    json!(title)
                ),
                STEP_TIMEOUT,
            )
            .await;
        let m = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}"))
            .await;
        assert_eq!(m.body["title"], title, "{}", m.text);
        assert_eq!(m.body["endpoint_ids"], json!([a, b]), "{}", m.text);

        // 5. Open it from the list: the lobby is open, says the server too.
        steps
            .run(&format!(
                "{row_of}.querySelector('[data-action=open]').click(); return true;"
            ))
            .await;
        steps
            .until(
                "07-opened",
                &format!(
                    "const r = {row_of}; return r.dataset.state === 'open' && r.querySelector('.badge').textContent === 'Mở phòng chờ';"
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("07-opened").await;
        let m = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}"))
            .await;
        assert_eq!(m.body["state"], "open", "{}", m.text);

        // 6. A weekly series of three from the same form, then cancelled
        // ("Hủy") from the list, the later meetings of the series with it.
        steps
            .run("document.getElementById('btn-schedule').click(); return true;")
            .await;
        steps
            .until(
                "08-series-form",
                &format!(
                    "const s = window.diemcau.state().schedule;\
                     return !!s && s.ready && s.id === null && document.getElementById('sch-title').value === ''\
                       && {} !== null && !{}.checked;",
                    ep_box(&a),
                    ep_box(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        let series_title = "Giao ban Thường trực Tỉnh ủy hằng tuần";
        let first = start + 24 * 3_600_000;
        steps
            .run(&format!(
                "document.getElementById('sch-title').value = {};\
                 document.getElementById('sch-kind').value = 'giao_ban';\
                 const hub = document.getElementById('sch-hub');\
                 hub.value = {}; hub.dispatchEvent(new Event('change', {{bubbles: true}}));\
                 document.getElementById('sch-start').value = {};\
                 document.getElementById('sch-end').value = {};\
                 {}.click();\
                 document.getElementById('sch-repeat').click();\
                 document.getElementById('sch-freq').value = 'weekly';\
                 document.getElementById('sch-count').value = '3';\
                 return !document.getElementById('sch-rec').hidden;",
                json!(series_title),
                json!(hub),
                json!(local_input(first)),
                json!(local_input(first + 3_600_000)),
                ep_box(&a),
            ))
            .await;
        steps
            .run("document.getElementById('sch-rec').scrollIntoView(); return true;")
            .await;
        steps.shot("08-series-form").await;
        steps
            .run("document.getElementById('sch-submit').click(); return true;")
            .await;
        let series_rows = format!(
            "[...document.querySelectorAll('#meetings-body tr')].filter(r => r.querySelector('.m-title').textContent === {})",
            json!(series_title)
        );
        steps
            .until(
                "09-series-listed",
                &format!(
                    "const rs = {series_rows}; return location.pathname === '/console' && rs.length === 3\
                       && rs.every(r => r.dataset.state === 'scheduled')\
                       && rs.map(r => r.querySelector('.m-kind').textContent).join('|')\
                          === 'Giao ban · buổi 1|Giao ban · buổi 2|Giao ban · buổi 3';"
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("09-series-listed").await;
        let all = w.as_role("operator").get("/api/v1/meetings").await;
        let series: Vec<&serde_json::Value> = all.body["meetings"]
            .as_array()
            .expect("meetings")
            .iter()
            .filter(|m| m["title"] == series_title)
            .collect();
        assert_eq!(series.len(), 3, "{}", all.text);
        let week = 7 * 24 * 3_600_000_i64;
        for (i, m) in series.iter().enumerate() {
            assert_eq!(m["starts_at_ms"], first + i as i64 * week, "{m}");
            assert_eq!(m["kind"], "giao_ban", "{m}");
            assert_eq!(m["series_id"], series[0]["series_id"], "{m}");
            assert_eq!(m["endpoint_ids"], json!([a]), "{m}");
        }
        steps
            .run(&format!(
                "{series_rows}[0].querySelector('[data-action=cancel]').click(); return true;"
            ))
            .await;
        steps
            .until(
                "10-confirm-cancel",
                &format!(
                    "return document.getElementById('confirm').open\
                       && document.getElementById('confirm-text').textContent === {};",
                    json!(format!(
                        "Hủy hội nghị “{series_title}”? Các điểm cầu sẽ không vào họp được nữa."
                    ))
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("10-confirm-cancel").await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "10-confirm-series",
                "return document.getElementById('confirm').open\
                   && document.getElementById('confirm-text').textContent.startsWith('Đây là một buổi của hội nghị định kỳ.');",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "11-series-cancelled",
                &format!(
                    "const rs = {series_rows}; return rs.length === 3 && rs.every(r => r.dataset.state === 'cancelled'\
                       && r.querySelector('.badge').textContent === 'Đã hủy' && !r.querySelector('[data-action]'));"
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("11-series-cancelled").await;
        let all = w.as_role("operator").get("/api/v1/meetings").await;
        for m in all.body["meetings"].as_array().expect("meetings") {
            let want = if m["title"] == series_title {
                "cancelled"
            } else {
                "open"
            };
            assert_eq!(m["state"], want, "{m}");
        }

        let errors = script_errors(&page).await;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
        page.close().await;
        drop(driver);
    }));
}

#[test]
fn operator_registers_an_endpoint_whose_token_is_shown_once_rotates_and_revokes_it_and_a_bad_csv_row_imports_nothing()
 {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console-registry", POLL_INTERVAL);
        log_in(&steps, &base, "test_operator").await;

        // 1. The registry: the org tree with each unit's rooms, their
        // technician, link and state, in Vietnamese.
        steps
            .run("document.getElementById('nav-endpoints').click(); return true;")
            .await;
        let a = w.endpoint("a").to_string();
        let row =
            |id: &str| format!("document.querySelector('#reg-tree tr[data-endpoint=\"{id}\"]')");
        steps
            .until(
                "01-registry",
                &format!(
                    "return location.pathname === '/console/endpoints' && {} !== null\
                       && document.getElementById('nav-endpoints').getAttribute('aria-current') === 'page';",
                    row(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        let cells = steps
            .run(&format!(
                "const r = {}; return {{unit: r.closest('section.reg-unit').querySelector('.unit-name').textContent,\
                   cells: [...r.cells].slice(0, 5).map(c => c.textContent)}};",
                row(&a)
            ))
            .await;
        assert_eq!(cells["unit"], "Xã An Phú", "{cells}");
        assert_eq!(
            cells["cells"],
            json!([
                "Điểm cầu xã An Phú",
                "Phòng họp trực tuyến",
                "Trần Văn Kỹ0912 345 678",
                "4G",
                "Hoạt động"
            ]),
            "{cells}"
        );
        steps.shot("01-registry").await;

        // 2. A new room for commune B: a missing name is refused beside the
        // field; then it is made and its token shown once, with a warning.
        steps
            .run(&format!(
                "document.querySelector('#reg-tree section[data-unit=\"{}\"] [data-action=add-endpoint]').click(); return true;",
                w.unit("B")
            ))
            .await;
        steps
            .until(
                "02-new-endpoint",
                &format!(
                    "return document.getElementById('ep-dialog').open && document.getElementById('ep-unit').value === {};",
                    json!(w.unit("B"))
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('ep-submit').click(); return true;")
            .await;
        steps
            .until(
                "02-name-missing",
                "const e = document.getElementById('ep-name-error');\
                 return !e.hidden && e.textContent === 'Vui lòng nhập tên điểm cầu.';",
                STEP_TIMEOUT,
            )
            .await;
        let name = "Điểm cầu xã Bình Minh – phòng 2";
        steps
            .run(&format!(
                "document.getElementById('ep-name').value = {};\
                 document.getElementById('ep-room').value = 'Nhà văn hóa xã, tầng 2';\
                 document.getElementById('ep-tech').value = 'Lê Thị Hạnh';\
                 document.getElementById('ep-phone').value = '0987 654 321';\
                 document.getElementById('ep-link').value = 'vsat';\
                 document.getElementById('ep-submit').click(); return true;",
                json!(name)
            ))
            .await;
        let token = steps
            .until(
                "03-token",
                "const d = document.getElementById('token-dialog');\
                 const v = document.getElementById('token-value').value;\
                 return d.open && !document.getElementById('ep-dialog').open && v.length > 20\
                   && document.querySelector('#token-dialog .token-warning').textContent.includes('chỉ hiển thị MỘT LẦN') ? v : null;",
                STEP_TIMEOUT,
            )
            .await
            .as_str()
            .expect("token")
            .to_string();
        assert!(
            steps
                .run("return document.getElementById('token-heading').textContent;")
                .await
                .as_str()
                .unwrap_or_default()
                .contains(name)
        );
        steps.shot("03-token").await;
        // The token read off the dialog is the room's: it reads the room's meetings.
        let as_room = bearer(&w, &token);
        let own = as_room.get("/api/v1/meetings").await;
        assert_eq!(own.status, 200, "{}", own.text);
        let list = w.as_role("operator").get("/api/v1/endpoints").await;
        let made = list.body["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} registered: {}", list.text));
        assert_eq!(made["unit"]["id"], w.unit("B"), "{made}");
        assert_eq!(made["link"], "vsat", "{made}");
        assert_eq!(made["technician_phone"], "0987 654 321", "{made}");
        let id = made["id"].as_str().expect("id").to_string();
        // Closed, the token is gone from the page; the room is listed under B.
        steps
            .run("document.getElementById('token-close').click(); return true;")
            .await;
        steps
            .until(
                "04-listed",
                &format!(
                    "const r = {}; return !document.getElementById('token-dialog').open\
                       && document.getElementById('token-value').value === '' && r !== null\
                       && r.closest('section.reg-unit').dataset.unit === {} && r.dataset.state === 'active'\
                       && !document.body.innerHTML.includes({});",
                    row(&id),
                    json!(w.unit("B")),
                    json!(token)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("04-listed").await;
        // Its details are edited in the same dialog (the unit stays: bindings are dated).
        steps
            .run(&format!(
                "{}.querySelector('[data-action=edit-endpoint]').click(); return true;",
                row(&id)
            ))
            .await;
        steps
            .until(
                "04-edit",
                &format!(
                    "return document.getElementById('ep-dialog').open && document.getElementById('ep-name').value === {}\
                       && document.getElementById('ep-link').value === 'vsat' && document.getElementById('ep-unit').disabled\
                       && document.getElementById('ep-heading').textContent === 'Sửa thông tin điểm cầu';",
                    json!(name)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(
                "document.getElementById('ep-tech').value = 'Nguyễn Văn Toàn';\
                 document.getElementById('ep-phone').value = '0911 222 333';\
                 document.getElementById('ep-link').value = '4g';\
                 document.getElementById('ep-submit').click(); return true;",
            )
            .await;
        steps
            .until(
                "04-edited",
                &format!(
                    "const r = {}; return !document.getElementById('ep-dialog').open && r !== null\
                       && r.cells[2].textContent === 'Nguyễn Văn Toàn0911 222 333' && r.cells[3].textContent === '4G';",
                    row(&id)
                ),
                STEP_TIMEOUT,
            )
            .await;
        let edited = w
            .as_role("operator")
            .get(&format!("/api/v1/endpoints/{id}"))
            .await;
        assert_eq!(
            edited.body["endpoint"]["technician_name"], "Nguyễn Văn Toàn",
            "{}",
            edited.text
        );
        assert_eq!(edited.body["endpoint"]["link"], "4g", "{}", edited.text);
        assert_eq!(edited.body["max_kbps"], 1500, "{}", edited.text);
        // The token still works: editing details does not touch it.
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 200);

        // The filter finds a room without its accents; other units fold away.
        steps
            .run(
                "const f = document.getElementById('reg-filter'); f.value = 'binh minh – phong 2';\
                 f.dispatchEvent(new Event('input', {bubbles: true})); return true;",
            )
            .await;
        let shown = steps
            .run(
                "return [...document.querySelectorAll('#reg-tree tr[data-endpoint]')]\
                   .filter(r => r.offsetParent !== null).map(r => r.dataset.endpoint);",
            )
            .await;
        assert_eq!(shown, json!([id]), "only the new room matches");
        steps.shot("04-filtered").await;
        steps
            .run(
                "const f = document.getElementById('reg-filter'); f.value = '';\
                 f.dispatchEvent(new Event('input', {bubbles: true})); return true;",
            )
            .await;

        // 3. Rotate, after a confirmation: a new token; the old one fails.
        steps
            .run(&format!(
                "{}.querySelector('[data-action=rotate]').click(); return true;",
                row(&id)
            ))
            .await;
        steps
            .until(
                "05-confirm-rotate",
                "return document.getElementById('confirm').open\
                   && document.getElementById('confirm-text').textContent.startsWith('Cấp mã truy cập mới cho');",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        let rotated = steps
            .until(
                "06-rotated",
                &format!(
                    "const v = document.getElementById('token-value').value;\
                     return document.getElementById('token-dialog').open && v.length > 20 && v !== {} ? v : null;",
                    json!(token)
                ),
                STEP_TIMEOUT,
            )
            .await
            .as_str()
            .expect("rotated token")
            .to_string();
        steps.shot("06-rotated").await;
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 401);
        let as_room = bearer(&w, &rotated);
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 200);
        steps
            .run("document.getElementById('token-close').click(); return true;")
            .await;

        // 4. Revoke: the row says so and the token stops working.
        steps
            .until(
                "07-before-revoke",
                &format!(
                    "return !document.getElementById('token-dialog').open && {} !== null;",
                    row(&id)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(&format!(
                "{}.querySelector('[data-action=revoke]').click(); return true;",
                row(&id)
            ))
            .await;
        steps
            .until(
                "07-confirm-revoke",
                "return document.getElementById('confirm').open;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "07-revoked",
                &format!(
                    "const r = {}; return r !== null && r.dataset.state === 'revoked'\
                       && r.querySelector('.badge').textContent === 'Đã thu hồi mã'\
                       && r.querySelector('[data-action=revoke]') === null;",
                    row(&id)
                ),
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 401);
        steps.shot("07-revoked").await;

        // 5. CSV import with one bad row (an unknown kind on row 3): the
        // row and column are named in Vietnamese, and nothing changes.
        let before = fingerprint(&w.db.store).await;
        let units_before = w.as_role("operator").get("/api/v1/org/units").await;
        let csv = "code,name,kind,parent_code,valid_from\n\
                   X1,Xã Tân Lập,commune,P,2025-07-01\n\
                   X2,Phường Đông Hòa,phuong,P,2025-07-01\n";
        // A real file through the file input, as a picked file arrives.
        steps
            .run(&format!(
                "const dt = new DataTransfer();\
                 dt.items.add(new File([{}], 'don-vi.csv', {{type: 'text/csv'}}));\
                 const input = document.getElementById('import-file');\
                 input.files = dt.files; input.dispatchEvent(new Event('change', {{bubbles: true}}));\
                 document.getElementById('import-submit').click(); return true;",
                json!(csv)
            ))
            .await;
        let refusal = steps
            .until(
                "08-import-refused",
                "const e = document.getElementById('import-error');\
                 return e.hidden ? null : e.querySelector('.import-reason').textContent;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            refusal,
            "Dòng 3, cột “kind” (Loại): loại đơn vị không hợp lệ; dùng province, commune, ward, special_zone, sector hoặc central"
        );
        assert!(
            steps
                .run("return document.getElementById('import-error').textContent;")
                .await
                .as_str()
                .unwrap_or_default()
                .contains("Không có thay đổi nào được ghi."),
        );
        steps.shot("08-import-refused").await;
        assert_eq!(
            fingerprint(&w.db.store).await,
            before,
            "a refused import changes nothing"
        );
        let units_after = w.as_role("operator").get("/api/v1/org/units").await;
        assert_eq!(units_after.body["units"], units_before.body["units"]);

        // Fixed, the same file imports whole and the tree shows the units.
        steps
            .run(&format!(
                "const dt = new DataTransfer();\
                 dt.items.add(new File([{}], 'don-vi.csv', {{type: 'text/csv'}}));\
                 document.getElementById('import-file').files = dt.files;\
                 document.getElementById('import-submit').click(); return true;",
                json!(csv.replace("phuong", "ward"))
            ))
            .await;
        steps
            .until(
                "09-imported",
                "const ok = document.getElementById('import-ok');\
                 const names = [...document.querySelectorAll('#reg-tree .unit-name')].map(n => n.textContent);\
                 return !ok.hidden && ok.textContent === 'Đã nhập 2 đơn vị.'\
                   && names.includes('Xã Tân Lập') && names.includes('Phường Đông Hòa');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("09-imported").await;

        // 6. An auditor sees the registry but none of its write actions.
        steps
            .run("document.getElementById('btn-logout').click(); return true;")
            .await;
        log_in(&steps, &base, "test_auditor").await;
        assert_eq!(
            steps
                .run("return document.getElementById('btn-schedule').hidden;")
                .await,
            true
        );
        steps
            .run("document.getElementById('nav-endpoints').click(); return true;")
            .await;
        steps
            .until(
                "10-auditor",
                &format!(
                    "return {} !== null && document.getElementById('btn-ep-new').hidden\
                       && document.getElementById('import-card').hidden\
                       && document.querySelector('#reg-tree [data-action]') === null;",
                    row(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("10-auditor").await;
        // The English switch relabels the registry.
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "11-english",
                &format!(
                    "const r = {}; return document.querySelector('#view-endpoints h1').textContent === 'Endpoints'\
                       && document.getElementById('nav-endpoints').textContent === 'Endpoints'\
                       && r !== null && r.cells[3].textContent === '4G'\
                       && r.closest('section.reg-unit').querySelector('.kind-tag').textContent === 'Commune'\
                       && r.querySelector('.badge').textContent === 'Active';",
                    row(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("11-english").await;

        let errors = script_errors(&page).await;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
        page.close().await;
        drop(driver);
    }));
}
