//! The scheduler: an operator plans a meeting by picking rooms from the
//! org tree, and opens it.

use serde_json::json;

use super::{POLL_INTERVAL, STEP_TIMEOUT, local_input, log_in, script_errors};
use crate::support::api::world;
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

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
