//! Logging in, the meetings list and the console's language: what an
//! operator does before and after a meeting's wall.

use serde_json::json;

use super::{LiveWall, POLL_INTERVAL, STEP_TIMEOUT, log_in, plan, script_errors, tile};
use crate::support::api::world;
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

#[test]
fn a_wrong_password_shows_the_servers_refusal_in_vietnamese() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console-login", POLL_INTERVAL);
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
        steps
            .run(&format!(
                "document.getElementById('login-name').value = 'test_operator';\
                 document.getElementById('login-password').value = {};\
                 document.getElementById('login-submit').click(); return true;",
                json!("sai mật khẩu rồi")
            ))
            .await;
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
        let errors = script_errors(&page).await;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
        page.close().await;
    }));
}

#[test]
fn the_meetings_list_opens_a_scheduled_meetings_lobby_then_starts_it() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = plan(&w).await;
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console-meetings", POLL_INTERVAL);
        log_in(&steps, &base, "test_operator").await;
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
        // Its wall is one click away, at the meeting's own address.
        steps
            .run(&format!(
                "{row}.querySelector('[data-action=wall]').click(); return true;"
            ))
            .await;
        steps
            .until(
                "06-wall",
                &format!(
                    "return location.pathname === '/console/meetings/{id}'\
                       && document.querySelectorAll('#grid .tile').length === 3;"
                ),
                STEP_TIMEOUT,
            )
            .await;
        let errors = script_errors(&page).await;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
        page.close().await;
    }));
}

#[test]
fn the_english_switch_relabels_the_wall_and_holds_after_logging_out() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-lang");
        let a = wall.w.endpoint("a").to_string();
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "12-english",
                &format!(
                    "return {}.querySelector('[data-action=mute-audio]').textContent === 'Mute'\
                   && localStorage.getItem('diemcau.lang') === 'en';",
                    tile(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("12-english").await;
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
        steps.shot("13-logged-out").await;
        wall.close().await;
    }));
}

/// An administrator (who may read the audit log) opening a wall finds the
/// meeting's audit records, the operator's mute among them.
#[test]
fn an_administrator_reads_the_operators_mute_in_the_walls_audit_card() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open_as(world(db).await, "test_admin").await;
        let steps = wall.steps("console-audit");
        let (room, ws) = wall.join("a").await;
        let muted = wall
            .w
            .as_role("operator")
            .post(
                &format!("/api/v1/meetings/{}/live/mute", wall.id),
                json!({"endpoint_id": wall.w.endpoint("a"), "audio": true}),
            )
            .await;
        assert_eq!(muted.status, 200, "{}", muted.text);
        // The card reads the log when the wall opens.
        wall.page
            .navigate(&format!("{}/console/meetings/{}", wall.base, wall.id))
            .await;
        steps
            .until(
                "13-audit",
                "const c = document.getElementById('audit-card');\
             return !c.hidden && document.getElementById('audit-log').textContent.includes('live.mute');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("13-audit").await;
        room.close().await;
        drop(ws);
        wall.close().await;
    }));
}
