//! The scheduler: an operator plans a meeting by picking rooms from the
//! org tree (units, their rooms, a unit query), edits it, plans a weekly
//! series and cancels it from the list. [`Scheduler`] opens the form for a
//! logged-in operator; each test fills it for its own behaviour.

use serde_json::json;

use super::{POLL_INTERVAL, STEP_TIMEOUT, local_input, log_in, plan, script_errors};
use crate::support::api::{ApiWorld, world};
use crate::support::browser::{ChromeDriver, Session, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

/// `#sch-tree` checkbox of room `id`.
fn ep_box(id: &str) -> String {
    format!("document.querySelector('#sch-tree input[data-endpoint=\"{id}\"]')")
}

/// An operator's console in Chromium, on the scheduler's empty form.
struct Scheduler {
    w: ApiWorld,
    page: Session,
    _driver: ChromeDriver,
}

impl Scheduler {
    async fn open(w: ApiWorld) -> Self {
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let s = Self {
            w,
            page,
            _driver: driver,
        };
        let steps = s.steps();
        log_in(&steps, &s.w.srv.base_url(), "test_operator").await;
        steps
            .run("document.getElementById('btn-schedule').click(); return true;")
            .await;
        steps
            .until(
                "01-scheduler",
                &format!(
                    "const s = window.diemcau.state().schedule;\
                     return location.pathname === '/console/schedule' && !!s && s.ready && {} !== null;",
                    ep_box(s.w.endpoint("a"))
                ),
                STEP_TIMEOUT,
            )
            .await;
        s
    }

    fn steps(&self) -> Steps<'_> {
        Steps::new(&self.page, "console-schedule", POLL_INTERVAL)
    }

    /// Fill a BTV conference from the hub with rooms A and B ticked,
    /// `start` to `end`, and send it.
    async fn fill_and_send(&self, title: &str, start: i64, end: i64) {
        let w = &self.w;
        self.steps()
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
                json!(w.endpoint("hub")),
                json!(local_input(start)),
                json!(local_input(end)),
                ep_box(w.endpoint("a")),
                ep_box(w.endpoint("b")),
            ))
            .await;
    }

    /// How many meetings the server has.
    async fn meetings(&self) -> usize {
        let all = self.w.as_role("operator").get("/api/v1/meetings").await;
        assert_eq!(all.status, 200, "{}", all.text);
        all.body["meetings"].as_array().map_or(0, Vec::len)
    }

    async fn close(self) {
        let errors = script_errors(&self.page).await;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
        self.page.close().await;
    }
}

/// A start tomorrow, on the minute (what `datetime-local` holds).
fn tomorrow() -> i64 {
    (diemcau::store::now_ms() + 26 * 3_600_000) / 60_000 * 60_000
}

const TITLE: &str = "Hội nghị Ban Thường vụ Tỉnh ủy – lịch thử";

#[test]
fn the_scheduler_shows_each_units_rooms_in_the_org_tree_and_the_kinds_in_vietnamese() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let s = Scheduler::open(world(db).await).await;
        let steps = s.steps();
        let a = s.w.endpoint("a").to_string();
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
        s.close().await;
    }));
}

#[test]
fn the_org_tree_filter_finds_a_commune_without_its_accents() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let s = Scheduler::open(world(db).await).await;
        let steps = s.steps();
        let a = s.w.endpoint("a").to_string();
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
        s.close().await;
    }));
}

#[test]
fn an_end_before_the_start_is_refused_next_to_the_field_and_nothing_is_sent() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let s = Scheduler::open(world(db).await).await;
        let steps = s.steps();
        let start = tomorrow();
        s.fill_and_send(TITLE, start, start - 3_600_000).await;
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
        assert_eq!(s.meetings().await, 0, "nothing planned");
        s.close().await;
    }));
}

/// More than two years ahead: the server refuses, and its words land next
/// to the field they name, in Vietnamese (the server's own kept as detail).
#[test]
fn the_servers_refusal_of_a_start_too_far_ahead_lands_next_to_the_field_it_names() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let s = Scheduler::open(world(db).await).await;
        let steps = s.steps();
        let far = tomorrow() + 3 * 365 * 86_400_000;
        s.fill_and_send(TITLE, far, far + 3_600_000).await;
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
        assert_eq!(s.meetings().await, 0, "nothing planned");
        s.close().await;
    }));
}

#[test]
fn a_meeting_planned_with_ticked_rooms_and_a_unit_query_is_listed_and_kept_as_planned() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let s = Scheduler::open(world(db).await).await;
        let (steps, w) = (s.steps(), &s.w);
        let (hub, a, b, wd) = (
            w.endpoint("hub").to_string(),
            w.endpoint("a").to_string(),
            w.endpoint("b").to_string(),
            w.endpoint("w").to_string(),
        );
        let (start, title) = (tomorrow(), TITLE);
        // The rooms ticked, the times wrong (refused on the page), then
        // fixed below.
        s.fill_and_send(title, start, start - 3_600_000).await;
        // Fixed, plus a unit query (every ward of the province): sent,
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
        s.close().await;
    }));
}

#[test]
fn editing_a_planned_meeting_brings_its_form_back_filled_and_saves_a_new_title() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = plan(&w).await;
        let s = Scheduler::open(w).await;
        let (steps, w) = (s.steps(), &s.w);
        let (a, b) = (w.endpoint("a").to_string(), w.endpoint("b").to_string());
        let m = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}"))
            .await;
        let title = m.body["title"].as_str().expect("a title").to_string();
        let start = m.body["starts_at_ms"].as_i64().expect("a start");
        steps
            .run("document.getElementById('nav-meetings').click(); return true;")
            .await;
        let row_of = format!("document.querySelector('#meetings-body tr[data-meeting=\"{id}\"]')");
        steps
            .until(
                "05-list",
                &format!("return location.pathname === '/console' && !!{row_of};"),
                STEP_TIMEOUT,
            )
            .await;
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
        s.close().await;
    }));
}

#[test]
fn a_weekly_series_is_planned_from_one_form_and_cancelled_from_the_list_with_its_later_meetings() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let s = Scheduler::open(world(db).await).await;
        let (steps, w) = (s.steps(), &s.w);
        let (hub, a) = (w.endpoint("hub").to_string(), w.endpoint("a").to_string());
        let start = tomorrow();
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
            assert_eq!(m["state"], "cancelled", "{m}");
        }
        s.close().await;
    }));
}
