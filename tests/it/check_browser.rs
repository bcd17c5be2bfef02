//! The technical check in real Chromium (issue 21, items 3 and 4): a room
//! page joining within the hour before its meeting runs the check by itself
//! with the fake camera and microphone, the room answers, and the readiness
//! board turns green; with its camera unplugged, the operator runs the check
//! again and the board turns red, naming the camera in Vietnamese. A room
//! whose network drops UDP is told so in Vietnamese instead of waiting.
//!
//! Runs in a loopback-only network namespace. Screenshots land in
//! `target/test-artifacts/browser/check-*.png`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, world};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

/// ICE, DTLS and the SFU on a loaded 2-core machine, then the check's own
/// 10 s of measuring.
const CHECK_TIMEOUT: Duration = Duration::from_secs(45);
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A briefing half an hour from now (inside the check's hour) for the hub
/// and commune A, opened so that rooms may connect.
async fn plan_and_open(w: &ApiWorld) -> String {
    let start = diemcau::store::now_ms() + 30 * 60_000;
    let op = w.as_role("operator");
    let made = op
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Giao ban trực tuyến — kiểm tra kỹ thuật",
                "kind": "giao_ban",
                "starts_at_ms": start,
                "ends_at_ms": start + 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a")],
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

async fn board_row(w: &ApiWorld, id: &str) -> Value {
    let b = w
        .as_role("operator")
        .get(&format!("/api/v1/meetings/{id}/readiness"))
        .await;
    assert_eq!(b.status, 200, "{}", b.text);
    b.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["endpoint_id"] == w.endpoint("a"))
        .cloned()
        .expect("A on the board")
}

/// Answer the page's questions: the tone was heard, the technician confirms.
const ANSWER: &str = "const a = document.getElementById('check-answers');\
     if (a.hidden) return false;\
     document.getElementById('check-heard').click();\
     document.getElementById('check-confirm').click(); return true;";

#[test]
fn a_room_page_runs_the_technical_check_and_the_board_turns_green_then_red_without_a_camera() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = plan_and_open(&w).await;
        let url = reqwest::Url::parse_with_params(
            &format!("{}/room/{id}", w.srv.base_url()),
            &[("token", w.province.endpoint_tokens["a"].as_str())],
        )
        .unwrap()
        .to_string();
        assert_eq!(board_row(&w, &id).await["status"], "not_checked");

        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "check", POLL_INTERVAL);
        page.navigate(&url).await;

        // 1. Joined within the hour before the start: the check runs by
        // itself, measures, plays the tone and asks.
        steps
            .until(
                "01-measuring",
                "const p = document.getElementById('check-panel');\
                 return !p.hidden && document.getElementById('check-title').textContent === 'Kiểm tra kỹ thuật';",
                CHECK_TIMEOUT,
            )
            .await;
        steps.shot("01-measuring").await;
        steps.until("02-answered", ANSWER, CHECK_TIMEOUT).await;
        steps
            .until(
                "03-sent",
                "const p = document.getElementById('check-panel');\
                 return p.dataset.state === 'done' && !!p.dataset.status\
                   && !document.getElementById('check-result').textContent.startsWith('Đang gửi');",
                STEP_TIMEOUT,
            )
            .await;
        let shown = steps
            .run("return [document.getElementById('check-panel').dataset.status, document.getElementById('check-result').textContent, document.getElementById('check-figures').textContent];")
            .await;
        assert_eq!(
            shown[0],
            "ready",
            "the page says: {shown}\nboard: {}",
            board_row(&w, &id).await
        );
        assert!(
            shown[1].as_str().unwrap().starts_with("Kết quả: Sẵn sàng"),
            "{shown}"
        );
        steps.shot("03-green").await;
        let a = board_row(&w, &id).await;
        assert_eq!(a["status"], "ready", "{a}");
        let f = &a["figures"];
        assert!(f["rtt_ms"].as_u64().is_some(), "RTT measured: {f}");
        assert!(f["camera_frames"].as_u64().unwrap_or(0) > 0, "frames: {f}");
        assert!(
            f["camera_height"].as_u64().unwrap_or(0) >= 360,
            "resolution: {f}"
        );
        assert!(f["mic_level"].as_f64().unwrap_or(0.0) > 0.0, "level: {f}");
        assert_eq!(f["speaker_heard"], true);
        assert_eq!(a["technician_phone"], "0912 345 678");

        // 2. The camera is unplugged; the operator runs the check again.
        steps
            .run("window.diemcau.unplugCamera(); return true;")
            .await;
        let r = w
            .as_role("operator")
            .post(&format!("/api/v1/meetings/{id}/checks/start"), json!({}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.body["rooms_told"].as_u64()),
            (200, Some(1)),
            "{}",
            r.text
        );
        steps.until("04-answered", ANSWER, CHECK_TIMEOUT).await;
        steps
            .until(
                "05-red",
                "const p = document.getElementById('check-panel');\
                 return p.dataset.state === 'done' && p.dataset.status === 'failed'\
                   && document.getElementById('check-result').textContent.includes('Không có hình từ camera');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("05-red").await;
        let a = board_row(&w, &id).await;
        assert_eq!(a["status"], "failed", "{a}");
        assert_eq!(a["failing"][0]["check"], "camera");
        assert_eq!(a["failing"][0]["reason"], "Không có hình từ camera");

        // 3. The operator's console shows the board: A's tile red with the
        // reason and the technician's number, the hub grey; filtered by unit.
        let console = driver.new_session().await;
        let cs = Steps::new(&console, "check-console", POLL_INTERVAL);
        crate::console::log_in(&cs, &w.srv.base_url(), "test_operator").await;
        // The meetings list offers the monthly report per unit.
        cs.until(
            "06-monthly-report",
            "const a = document.getElementById('rp-xlsx');\
             return !!a && /\\/api\\/v1\\/reports\\/units\\?month=\\d{4}-\\d{2}&format=xlsx$/.test(a.getAttribute('href'));",
            STEP_TIMEOUT,
        )
        .await;
        cs.until(
            "06-open-board",
            &format!(
                "const b = document.querySelector('[data-action=readiness][data-meeting={}]');\
                 if (!b) return false; b.click(); return true;",
                json!(id)
            ),
            STEP_TIMEOUT,
        )
        .await;
        let tile = |e: &str| {
            format!(
                "document.querySelector('#rd-grid [data-endpoint={}]')",
                json!(e)
            )
        };
        cs.until(
            "07-board",
            &format!(
                "const a = {a}; const h = {h};\
                 return !!a && !!h && a.dataset.status === 'failed'\
                   && a.querySelector('.rd-status').textContent === 'Không đạt'\
                   && a.querySelector('.rd-reasons').textContent.includes('Camera: Không có hình từ camera')\
                   && a.querySelector('.rd-call').getAttribute('href') === 'tel:0912345678'\
                   && a.querySelector('.rd-call').textContent.startsWith('Gọi kỹ thuật viên')\
                   && h.dataset.status === 'not_checked'\
                   && getComputedStyle(a).backgroundColor !== getComputedStyle(h).backgroundColor\
                   && document.getElementById('rd-xlsx').getAttribute('href').endsWith('/readiness?format=xlsx');",
                a = tile(w.endpoint("a")),
                h = tile(w.endpoint("hub"))
            ),
            STEP_TIMEOUT,
        )
        .await;
        // Under the tiles, the link quality of the meeting so far (the
        // room has been connected for a while: its bars are there).
        cs.until(
            "07b-quality",
            &format!(
                "const q = document.getElementById('rd-quality');\
                 return !!q && q.querySelector('h3').textContent === 'Chất lượng kết nối trong hội nghị'\
                   && !!q.querySelector('.rq-row[data-endpoint={0}] .rq-loss')\
                   && q.querySelector('.rq-row[data-endpoint={0}] .rq-audio').parentElement.textContent.startsWith('Âm thanh đến đủ')\
                   && !!q.querySelector('.rq-row[data-endpoint={0}] .rq-layers');",
                json!(w.endpoint("a"))
            ),
            STEP_TIMEOUT,
        )
        .await;
        cs.shot("07-board").await;
        cs.run(&format!(
            "const s = document.getElementById('rd-unit'); s.value = {}; s.dispatchEvent(new Event('change')); return true;",
            json!(w.unit("A"))
        ))
        .await;
        cs.until(
            "08-filtered",
            &format!(
                "return document.querySelectorAll('#rd-grid .rd-tile').length === 1 && !!{};",
                tile(w.endpoint("a"))
            ),
            STEP_TIMEOUT,
        )
        .await;
        console.close().await;
        page.close().await;
    }));
}

/// Drop every UDP packet in this test's own network namespace (the test
/// runs in one made for it: nothing else is touched).
fn block_udp() {
    for cmd in [
        "add table inet diemcau_test",
        "add chain inet diemcau_test input { type filter hook input priority 0 ; }",
        "add rule inet diemcau_test input meta l4proto udp drop",
    ] {
        let out = std::process::Command::new("nft")
            .args(cmd.split(' '))
            .output()
            .expect("nft runs");
        assert!(
            out.status.success(),
            "nft {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_check_from_a_network_that_blocks_udp_says_so_in_vietnamese_instead_of_hanging() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = plan_and_open(&w).await;
        block_udp();
        let url = reqwest::Url::parse_with_params(
            &format!("{}/room/{id}", w.srv.base_url()),
            &[("token", w.province.endpoint_tokens["a"].as_str())],
        )
        .unwrap()
        .to_string();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "check-udp", POLL_INTERVAL);
        page.navigate(&url).await;
        // The page joins over the WebSocket (TCP), its media cannot use UDP:
        // the check gives up waiting and reports what it could not reach
        // (failed), or — where the server offers ICE-TCP — that the room
        // only got through over TCP (a warning). Either way it says UDP.
        steps
            .until(
                "01-no-link",
                "const p = document.getElementById('check-panel');\
                 return !p.hidden && (p.dataset.status === 'failed' || p.dataset.status === 'warning')\
                   && document.getElementById('check-result').textContent.includes('UDP');",
                Duration::from_secs(60),
            )
            .await;
        steps.shot("01-no-link").await;
        let a = board_row(&w, &id).await;
        let reasons: Vec<&str> = a["failing"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["reason"].as_str())
            .collect();
        let over_tcp = a["figures"]["tcp"] == true;
        if over_tcp {
            assert_eq!(a["status"], "warning", "{a}");
            assert!(
                reasons.contains(&"Kết nối qua TCP (mạng chặn UDP)"),
                "{reasons:?}"
            );
        } else {
            assert_eq!(a["status"], "failed", "{a}");
            assert!(
                reasons.contains(&"Không kết nối được máy chủ: mạng chặn UDP"),
                "{reasons:?}"
            );
        }
        page.close().await;
    }));
}
