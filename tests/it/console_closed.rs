//! Closed and open meetings in the operator console, in real Chromium: a
//! body's members kept in the Cơ quan view (one by one and from CSV), and an
//! open meeting's lobby on the live wall — a room that is not planned waits
//! there until the operator lets it in — beside the list of who watches.
//!
//! Screenshots land in `target/test-artifacts/browser/console-closed-*.png`.

use std::time::Duration;

use serde_json::json;

use crate::console::log_in;
use crate::support::api::{media_probe, world};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(200);

#[test]
fn operator_keeps_a_bodys_members_and_lets_a_waiting_room_into_an_open_meeting() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console-closed", POLL_INTERVAL);
        log_in(&steps, &base, "test_operator").await;

        // 1. Cơ quan: a Standing Committee for its term, a member added in
        // the form, another imported from CSV.
        steps
            .run("document.getElementById('nav-bodies').click(); return true;")
            .await;
        steps
            .until(
                "01-bodies",
                "return location.pathname === '/console/bodies' && !!document.getElementById('body-form');",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(
                "document.getElementById('body-name').value = 'Ban Thường vụ Tỉnh ủy';\
                 document.getElementById('body-kind').value = 'btv';\
                 document.getElementById('body-term').value = 'khóa XV, nhiệm kỳ 2025–2030';\
                 document.querySelector('#body-form button[type=submit]').click(); return true;",
            )
            .await;
        steps
            .until(
                "02-body-made",
                "return !!document.getElementById('bm-form');",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(&format!(
                "document.getElementById('bm-user').value = {};\
                 document.getElementById('bm-position').value = 'Phó Bí thư';\
                 document.getElementById('bm-from').value = '2025-10-01';\
                 document.querySelector('#bm-form button[type=submit]').click(); return true;",
                json!(w.users["delegate"])
            ))
            .await;
        steps
            .until(
                "03-member-added",
                "return document.querySelectorAll('#body-members tbody tr').length === 1;",
                STEP_TIMEOUT,
            )
            .await;
        // The CSV import goes through the same file input a person uses.
        steps
            .run(
                "const f = new File(['login,position,voting,valid_from,valid_to\\ntest_chair,Bí thư,1,2025-10-01,\\n'], 'btv.csv', {type: 'text/csv'});\
                 const dt = new DataTransfer(); dt.items.add(f);\
                 const i = document.getElementById('bm-csv'); i.files = dt.files;\
                 i.dispatchEvent(new Event('change')); return true;",
            )
            .await;
        let rows = steps
            .until(
                "04-imported",
                "const r = [...document.querySelectorAll('#body-members tbody tr')]; return r.length === 2 ? r.map(x => x.cells[1].textContent).sort() : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(rows, json!(["Bí thư", "Phó Bí thư"]));
        steps.shot("04-imported").await;
        let bodies = w.as_role("auditor").get("/api/v1/bodies").await;
        let body = bodies.body["bodies"][0]["id"].as_str().unwrap().to_string();
        let listed = w
            .as_role("auditor")
            .get(&format!("/api/v1/bodies/{body}?on=2025-12-01"))
            .await;
        assert_eq!(
            listed.body["members"].as_array().unwrap().len(),
            2,
            "{}",
            listed.text
        );

        // 2. An open briefing for room A; room B is not planned.
        let made = w
            .as_role("operator")
            .post(
                "/api/v1/meetings",
                json!({
                    "title": "Giao ban trực tuyến tháng 12",
                    "kind": "giao_ban",
                    "starts_at_ms": diemcau::store::now_ms() + 3_600_000,
                    "ends_at_ms": diemcau::store::now_ms() + 2 * 3_600_000,
                    "endpoint_ids": [w.endpoint("a")],
                }),
            )
            .await;
        assert_eq!(
            made.body["meetings"][0]["access_policy"], "open",
            "{}",
            made.text
        );
        let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
        let r = w
            .as_role("operator")
            .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token_b = w.province.endpoint_tokens["b"].clone();
        assert_eq!(
            media_probe(&base, "whip", &id, &token_b).await,
            (403, "in_lobby".into())
        );

        // 3. The live wall: B waits in Phòng chờ; the console itself is
        // listed among those watching; the operator lets B in.
        page.navigate(&format!("{base}/console/meetings/{id}"))
            .await;
        steps
            .until(
                "05-lobby",
                &format!(
                    "return !!document.querySelector('#lobby li[data-endpoint={}] [data-action=admit]');",
                    json!(w.endpoint("b"))
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .until(
                "05-watching",
                "return !!document.querySelector('#others li[data-kind=console] [data-action=send-away]');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("05-lobby").await;
        steps
            .run(&format!(
                "document.querySelector('#lobby li[data-endpoint={}] [data-action=admit]').click(); return true;",
                json!(w.endpoint("b"))
            ))
            .await;
        steps
            .until(
                "06-admitted",
                "return !document.querySelector('#lobby li[data-endpoint]');",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            media_probe(&base, "whip", &id, &token_b).await.0,
            400,
            "let in: its offer is read"
        );
        steps.shot("06-admitted").await;
        let audit = w.as_role("auditor").get("/api/v1/audit?limit=500").await;
        assert!(audit.text.contains("live.lobby_admit"), "{}", audit.text);
        page.close().await;
    }));
}
