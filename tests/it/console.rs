//! The operator console (`web/console.*`) in real Chromium against the real
//! server: log in, run a meeting's lifecycle from the list, watch its live
//! wall while a real WebRTC room (webrtc-rs, its own endpoint token) joins,
//! and mute that room from its tile.
//!
//! Runs in a loopback-only network namespace. Screenshots of every step land
//! in `target/test-artifacts/browser/console-*.png`.

use std::time::Duration;

use serde_json::json;

use crate::support::api::{ApiWorld, PASSWORD, world};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{
    ClientConfig, PublishConfig, RtcClient, run_in_loopback_netns, ws_join,
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

        // 4. A real room joins with its own token: its tile turns green.
        let mut room = RtcClient::new(ClientConfig {
            name: "Điểm cầu xã An Phú".into(),
            publish: Some(PublishConfig::default()),
            recv_video: 2,
            recv_audio: 2,
            loss: None,
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
